//! Scenario files (shared/SCENARIOS.md): the syntax tree, the parser and its diagnostics.
//!
//! [`parse`] turns the text of a `.pin` file into a [`Scenario`] or the first [`Diag`], a
//! `file:line:col: message` error. The tree keeps names as written, with their spans; resolving
//! them to ids and refusing what the model cannot run is left to the model's compiler.

pub mod ast;
pub mod diag;
pub mod parse;

pub use ast::*;
pub use diag::Diag;
pub use parse::parse;
