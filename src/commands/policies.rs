//! `pincheck policies`: the presets, their knobs, and the mutations.

use pincheck::policy::{Mutation, Policy};
use pincheck::run::InputError;
use std::io::Write;

pub fn run() -> Result<u8, InputError> {
    let mut out = std::io::stdout().lock();
    for p in Policy::presets() {
        let _ = writeln!(out, "{}: {}", p.name, p.summary);
        for (k, v) in p.knobs() {
            let _ = writeln!(out, "    {k:<32} {v}");
        }
    }
    let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
    let _ = writeln!(out, "mutations (--mutate, a checker self-test): {}", names.join(", "));
    Ok(0)
}
