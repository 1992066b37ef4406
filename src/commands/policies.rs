//! `pincheck policies`: the knobs of the design space, the presets as values of them, and the
//! mutations.

use pincheck::policy::{Mutation, Policy, KNOBS};
use pincheck::run::InputError;
use std::io::Write;

pub fn run() -> Result<u8, InputError> {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "A policy is a preset, or a design written as a preset plus knob overrides:\n    \
         --policy 'linux-6.18+longterm-writable-file-pin=allowed+reclaim-active-strips-pinned=no'\n\
         or a policy file (--policy-file FILE: a `base PRESET` line, `KNOB = VALUE` lines, `#` comments).\n"
    );
    let _ = writeln!(out, "knobs:");
    for k in KNOBS {
        let _ = writeln!(
            out,
            "    {:<32} {}\n    {:<32}   values: {}",
            k.name,
            k.about,
            "",
            k.values.join(" | ")
        );
    }
    let _ = writeln!(out);
    for p in Policy::presets() {
        let _ = writeln!(out, "{}: {}", p.name, p.summary);
        for (k, v) in p.knobs() {
            let _ = writeln!(out, "    {k:<32} {v}");
        }
    }
    let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
    let _ = writeln!(
        out,
        "mutations (--mutate NAME, or POLICY~NAME wherever a policy is named; a checker self-test): {}",
        names.join(", ")
    );
    Ok(0)
}
