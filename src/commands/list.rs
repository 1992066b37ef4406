//! `pincheck list [--json]`: the built-in catalogue, one scenario a line: name, filesystem,
//! `about`. Every command that takes a scenario path takes one of these names too.

use pincheck::run::{self, InputError};
use serde::Serialize;
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// One JSON object per line: `name`, `fs`, `about`.
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Entry {
    name: String,
    fs: &'static str,
    about: Option<String>,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let mut entries = Vec::new();
    for src in run::catalogue_sources() {
        let l = run::load(&src)?;
        entries.push(Entry { name: src.path, fs: l.ast.fs.kind.name(), about: l.ast.about });
    }
    let mut out = std::io::stdout().lock();
    if a.json {
        for e in &entries {
            let _ = writeln!(out, "{}", serde_json::to_string(e).expect("an entry serializes"));
        }
        return Ok(0);
    }
    let wn = entries.iter().map(|e| e.name.chars().count()).max().unwrap_or(0);
    let wf = entries.iter().map(|e| e.fs.len()).max().unwrap_or(0);
    for e in &entries {
        let about = e.about.as_deref().unwrap_or("");
        let line = format!("{}  {}  {about}", super::pad(&e.name, wn), super::pad(e.fs, wf));
        let _ = writeln!(out, "{}", line.trim_end());
    }
    Ok(0)
}
