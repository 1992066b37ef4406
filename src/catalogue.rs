//! The built-in catalogue: every `scenarios/*.pin` file of the source tree, embedded at build
//! time (build.rs), so `pincheck matrix` with no arguments needs no files on disk, and every
//! command that takes a scenario path takes a catalogue name too, from any directory, with an
//! installed binary (`run::load_paths`).

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// The catalogue as (name, text) pairs, in name order. The name is the file's stem, which is
/// also the scenario's `scenario` line (tests/catalogue.rs checks it).
pub fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOGUE.iter().copied()
}

/// The text of the catalogue scenario `name`.
pub fn by_name(name: &str) -> Option<&'static str> {
    entries().find(|(n, _)| *n == name).map(|(_, t)| t)
}

/// The catalogue's names, in order.
pub fn names() -> Vec<&'static str> {
    entries().map(|(n, _)| n).collect()
}
