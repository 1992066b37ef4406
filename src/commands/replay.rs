//! `pincheck replay FILE --policy P --schedule S`: one interleaving, step by step.

use super::step_table;
use pincheck::check::replay;
use pincheck::policy::Policy;
use pincheck::run::{self, InputError};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    pub path: String,
    #[arg(long)]
    pub policy: String,
    #[arg(long)]
    pub schedule: String,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let (path, policy_name, schedule) = (&a.path, &a.policy, &a.schedule);
    let p = Policy::by_name(policy_name).map_err(InputError::Usage)?;
    let src = run::load_paths(std::slice::from_ref(path))?.remove(0);
    let l = run::load(&src)?;
    let r = replay::replay(&l.program, &p, schedule).map_err(InputError::Usage)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} under {}", l.program.name, p.name);
    let _ = write!(out, "{}", step_table(&r, ""));
    Ok(0)
}
