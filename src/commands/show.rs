//! `pincheck show NAME`: the source of a catalogue scenario (or of a scenario file), as
//! embedded in this binary, with the comments that defend each expectation.

use pincheck::run::{self, InputError};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// A catalogue name (`pincheck list`) or a scenario file.
    pub name: String,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let srcs = run::load_paths(std::slice::from_ref(&a.name))?;
    let mut out = std::io::stdout().lock();
    for s in srcs {
        let _ = out.write_all(s.text.as_bytes());
        if !s.text.ends_with('\n') {
            let _ = writeln!(out);
        }
    }
    Ok(0)
}
