//! `pincheck report [FILE...] --out DIR`: the scenario × policy matrix as one self-contained
//! HTML page, `DIR/index.html`, every cell linking to its witnesses drawn as sequence diagrams
//! (`pincheck::report`). No files: the built-in catalogue under every preset. Exit codes as
//! `matrix`: 0, 1 when an `expect` line does not hold, 3 when an exploration is incomplete
//! (and none failed), 2 on bad input.

use super::{options, sources, ExploreArgs};
use pincheck::policy::Policy;
use pincheck::run::InputError;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files or directories; none, or `catalogue`: the built-in catalogue.
    pub paths: Vec<String>,
    /// The directory to write `index.html` into (created if missing).
    #[arg(long)]
    pub out: String,
    #[command(flatten)]
    pub args: ExploreArgs,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    if a.args.json {
        return Err(InputError::Usage(
            "report writes HTML; --json is for check, matrix and replay".into(),
        ));
    }
    let given = super::given_policies(&a.args)?.unwrap_or_else(Policy::presets);
    let given: Vec<Policy> = match a.args.mutate {
        Some(m) => given.iter().map(|p| p.with_mutation(m)).collect(),
        None => given,
    };
    let paths: Vec<String> = a.paths.iter().filter(|p| *p != "catalogue").cloned().collect();
    let srcs = sources(&paths)?;
    let mut opts = options(&a.args);
    opts.progress = false;
    let reports = pincheck::report::build(&srcs, Some(&given), &opts)?;
    let title = if a.paths.is_empty() || a.paths.iter().all(|p| p == "catalogue") {
        "pincheck: the catalogue".to_string()
    } else {
        format!("pincheck: {}", a.paths.join(" "))
    };
    let html = pincheck::report::html::page(&reports, &title);
    let dir = std::path::Path::new(&a.out);
    std::fs::create_dir_all(dir).map_err(|e| InputError::Usage(format!("{}: {e}", a.out)))?;
    let file = dir.join("index.html");
    std::fs::write(&file, html)
        .map_err(|e| InputError::Usage(format!("{}: {e}", file.display())))?;
    let cells: Vec<_> = reports.iter().flat_map(|r| &r.cells).collect();
    let failed = cells.iter().filter(|c| c.row.pass == Some(false)).count();
    let witnesses: usize = cells.iter().map(|c| c.witnesses.len()).sum();
    eprintln!(
        "wrote {} ({} scenarios, {} cells, {} diagrams, {} expectations failed)",
        file.display(),
        reports.len(),
        cells.len(),
        witnesses,
        failed
    );
    Ok(pincheck::run::exit_code(cells.iter().map(|c| &c.row)))
}
