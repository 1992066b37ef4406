//! pincheck: an executable model of the Linux page cache, filesystems and
//! `get_user_pages()`/`pin_user_pages()`, and a model checker that explores every interleaving
//! of a small scenario and reports what each kernel release and each proposed design reaches.
//!
//! Layers, each using only the ones before it: `limits`, `scenario` (the language), `policy`
//! (kernel releases and designs as knobs), `model` (the kernel), `check` (the explorers),
//! `catalogue` (the built-in scenarios), `run` (checking files against their expectations).
//! The binary (`src/main.rs`) is a thin command line over `run`.

pub mod catalogue;
pub mod check;
pub mod export;
pub mod family;
pub mod host;
pub mod limits;
pub mod model;
pub mod policy;
pub mod report;
pub mod run;
pub mod scenario;
pub mod search;
