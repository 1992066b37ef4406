//! `pincheck export FILE --policy P [--schedule S] --c OUT.c`: the scenario as a standalone C
//! program (src/export/), judged against the model's labels under P.

use pincheck::check::{replay, ExploreOptions};
use pincheck::policy::Policy;
use pincheck::run::{self, InputError};

#[derive(clap::Args)]
pub struct Args {
    pub path: String,
    /// The policy whose labels the program's runs are judged against (usually the preset of
    /// the kernel the program will run on).
    #[arg(long)]
    pub policy: String,
    /// A witness to follow at statement granularity (`check` prints one per label).
    #[arg(long)]
    pub schedule: Option<String>,
    /// Where to write the C program.
    #[arg(long = "c", value_name = "OUT.c")]
    pub c: String,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let p = Policy::by_name(&a.policy).map_err(InputError::Usage)?;
    let src = run::load_paths(std::slice::from_ref(&a.path))?.remove(0);
    let l = run::load(&src)?;
    // What needs no exploration is refused before the exploration runs.
    if let Some(why) = pincheck::export::not_exportable(&l.ast) {
        return Err(InputError::Usage(format!("{}: cannot export: {why}", l.ast.name.text)));
    }
    let order = match &a.schedule {
        Some(s) => Some(
            replay::statement_order(&l.program, &p, s)
                .map_err(|e| InputError::Usage(format!("{}: --schedule: {e}", l.ast.path)))?,
        ),
        None => None,
    };
    let opts = ExploreOptions { progress: false, ..ExploreOptions::default() };
    let row = run::check_one(&l, &p, &opts);
    let info = pincheck::export::ExportInfo {
        policy: p.name.clone(),
        model_labels: row.labels.clone(),
        schedule: a.schedule.clone(),
        order,
        expects: l
            .ast
            .expects
            .iter()
            .map(|e| (e.policy.text.clone(), e.labels.iter().map(|n| n.text.clone()).collect()))
            .collect(),
    };
    let c = pincheck::export::to_c(&l.ast, &info).map_err(InputError::Usage)?;
    std::fs::write(&a.c, c).map_err(|e| InputError::Usage(format!("{}: {e}", a.c)))?;
    eprintln!("{}: wrote {} (judged against {})", l.ast.name.text, a.c, p.name);
    Ok(0)
}
