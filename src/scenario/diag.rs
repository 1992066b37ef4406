//! Errors for people: `file:line:col: message`, the offending line, and a caret under the column.
//!
//! This is the one error type of scenario input. Rendering is a few lines, so no diagnostics
//! crate: the contract's format (shared/SCENARIOS.md, "Lexical rules") is all we need.

use super::ast::Span;
use std::fmt;

/// A problem in a scenario file, positioned at a line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diag {
    pub path: String,
    pub line: u32,
    pub col: u32,
    pub message: String,
    /// The text of the offending line (empty when the line does not exist, e.g. at end of file).
    pub source_line: String,
}

impl Diag {
    /// A diagnostic at `span` of the file `path` whose text is `source`.
    pub fn at(path: &str, source: &str, span: Span, message: impl Into<String>) -> Diag {
        let source_line =
            source.lines().nth(span.line.saturating_sub(1) as usize).unwrap_or("").to_string();
        Diag {
            path: path.to_string(),
            line: span.line,
            col: span.col,
            message: message.into(),
            source_line,
        }
    }
}

impl fmt::Display for Diag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}:{}:{}: {}", self.path, self.line, self.col, self.message)?;
        if !self.source_line.is_empty() {
            writeln!(f, "  {}", self.source_line)?;
            let pad: String = self
                .source_line
                .chars()
                .take(self.col.saturating_sub(1) as usize)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "  {}^", pad)?;
        }
        Ok(())
    }
}

impl std::error::Error for Diag {}
