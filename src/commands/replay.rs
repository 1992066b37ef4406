//! `pincheck replay FILE --policy P --schedule S`: one interleaving, step by step; `--state`
//! adds the machine after each step, `--json` prints the same as one JSON object, `--svg`
//! writes the interleaving as a sequence diagram.

use super::step_table;
use pincheck::check::replay;
use pincheck::policy::{Mutation, Policy};
use pincheck::run::{self, InputError};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// A scenario file or a catalogue name.
    pub path: String,
    /// The policy: a preset, a design (`PRESET+KNOB=VALUE...`), optionally `~MUTATION`.
    #[arg(long, required_unless_present = "policy_file", conflicts_with = "policy_file")]
    pub policy: Option<String>,
    /// A policy file instead of --policy.
    #[arg(long)]
    pub policy_file: Option<String>,
    /// Switch off one protective mechanism, as `check --mutate` (the same as `--policy P~NAME`).
    #[arg(long, value_parser = Mutation::by_name)]
    pub mutate: Option<Mutation>,
    #[arg(long)]
    pub schedule: String,
    /// Print the machine after each step: folios, PTEs, file pages, disk blocks, handles.
    #[arg(long)]
    pub state: bool,
    /// One JSON object: the steps, each with what the kernel did and the machine after it.
    #[arg(long)]
    pub json: bool,
    /// Also write the interleaving as an SVG sequence diagram to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub svg: Option<String>,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let (path, schedule) = (&a.path, &a.schedule);
    let p = match (&a.policy, &a.policy_file) {
        (Some(name), _) => Policy::by_name(name).map_err(InputError::Usage)?,
        (None, Some(file)) => {
            let text = run::read_text(file)?;
            pincheck::policy::parse_file(file, &text).map_err(InputError::Scenario)?
        }
        (None, None) => return Err(InputError::Usage("--policy or --policy-file".into())),
    };
    let p = match a.mutate {
        Some(m) => p.with_mutation(m),
        None => p,
    };
    let src = run::load_paths(std::slice::from_ref(path))?.remove(0);
    let l = run::load(&src)?;
    let r = replay::replay(&l.program, &p, schedule).map_err(InputError::Usage)?;
    let name = match p.mutation {
        Some(m) => format!("{}~{}", p.name, m.name()),
        None => p.name.clone(),
    };
    if let Some(file) = &a.svg {
        let title = format!("{} under {name}", l.program.name);
        let svg = pincheck::report::svg::sequence(&r, &title, None);
        std::fs::write(file, svg).map_err(|e| InputError::Usage(format!("{file}: {e}")))?;
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        let v = serde_json::json!({
            "scenario": l.program.name,
            "file": l.ast.path,
            "policy": name,
            "schedule": schedule,
            "replay": r,
        });
        let _ = writeln!(out, "{v}");
    } else {
        let _ = writeln!(out, "{} under {name}", l.program.name);
        let _ = write!(out, "{}", step_table(&r, "", a.state));
    }
    Ok(0)
}
