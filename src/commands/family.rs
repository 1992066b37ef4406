//! `pincheck family THREADS PAGES` and `pincheck family pairs N`: members of the scaling
//! families of docs/performance.md.

use pincheck::run::InputError;

#[derive(clap::Args)]
pub struct Args {
    /// `THREADS PAGES` (pinning threads over a shared mapping) or `pairs N` (N app/NIC pairs).
    #[arg(required = true, num_args = 2, value_names = ["THREADS|pairs", "PAGES|N"])]
    pub args: Vec<String>,
}

/// Prints the family member the arguments name.
pub fn run(a: &Args) -> Result<u8, InputError> {
    let number = |s: &str, what: &str| {
        s.parse::<u8>()
            .map_err(|_| InputError::Usage(format!("{what}: expected a number, found `{s}`")))
    };
    let text = match a.args.as_slice() {
        [family, n] if family == "pairs" => pincheck::family::pairs(number(n, "N")?),
        [threads, pages] => {
            pincheck::family::pins(number(threads, "THREADS")?, number(pages, "PAGES")?)
        }
        _ => unreachable!("clap takes exactly two arguments"),
    }
    .map_err(InputError::Usage)?;
    print!("{text}");
    Ok(0)
}
