//! `pincheck family THREADS PAGES`: a member of the scaling family of docs/performance.md.

use pincheck::run::InputError;

#[derive(clap::Args)]
pub struct Args {
    pub threads: u8,
    pub pages: u8,
}

/// Prints the scenario with THREADS pinning threads over PAGES pages.
pub fn run(a: &Args) -> Result<u8, InputError> {
    let text = pincheck::family::pins(a.threads, a.pages).map_err(InputError::Usage)?;
    print!("{text}");
    Ok(0)
}
