//! The built-in catalogue: every `scenarios/*.pin` file of the source tree, embedded at build
//! time (build.rs), so `pincheck matrix` with no arguments needs no files on disk.

include!(concat!(env!("OUT_DIR"), "/catalogue.rs"));

/// The catalogue as (path, text) pairs, in file-name order.
pub fn entries() -> impl Iterator<Item = (&'static str, &'static str)> {
    CATALOGUE.iter().copied()
}
