//! Outcome labels (shared/SCENARIOS.md, "Outcome labels") as a small bit set that lives in the
//! world, so that two states that reached different labels are different states.
//!
//! `OP:ERRNO` labels are (operation, errno) pairs packed into a fixed table of bits; the table is
//! closed: every errno the model can return is listed in [`Errno`].

use std::fmt;

/// A fixed label: one of the kernel outcomes the checker records.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Outcome {
    Bug,
    Warn,
    DataLoss,
    Corruption,
    UseAfterFree,
    Hang,
    Leak,
    /// Chinner's invariant broken: a page-cache folio became dirty, or was written, while its
    /// filesystem had not been told since writeback last took it (docs/design.md).
    FsUnawareDirty,
}

impl Outcome {
    pub const ALL: [Outcome; 8] = [
        Outcome::Bug,
        Outcome::Warn,
        Outcome::DataLoss,
        Outcome::Corruption,
        Outcome::UseAfterFree,
        Outcome::Hang,
        Outcome::Leak,
        Outcome::FsUnawareDirty,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Outcome::Bug => "bug",
            Outcome::Warn => "warn",
            Outcome::DataLoss => "data-loss",
            Outcome::Corruption => "corruption",
            Outcome::UseAfterFree => "use-after-free",
            Outcome::Hang => "hang",
            Outcome::Leak => "leak",
            Outcome::FsUnawareDirty => "fs-unaware-dirty",
        }
    }
}

/// Every errno (and signal) an operation of the model can fail with.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub enum Errno {
    Efault,
    Enospc,
    Eio,
    Sigbus,
    Sigsegv,
    Enomem,
    Eopnotsupp,
    Einval,
    Eacces,
    Eperm,
    /// `BLK_STS_PROTECTION` as `blk_status_to_errno()` maps it (`blk_errors[]`, block/blk-core.c).
    Eilseq,
}

impl Errno {
    pub const ALL: [Errno; 11] = [
        Errno::Efault,
        Errno::Enospc,
        Errno::Eio,
        Errno::Sigbus,
        Errno::Sigsegv,
        Errno::Enomem,
        Errno::Eopnotsupp,
        Errno::Einval,
        Errno::Eacces,
        Errno::Eperm,
        Errno::Eilseq,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Errno::Efault => "EFAULT",
            Errno::Enospc => "ENOSPC",
            Errno::Eio => "EIO",
            Errno::Sigbus => "SIGBUS",
            Errno::Sigsegv => "SIGSEGV",
            Errno::Enomem => "ENOMEM",
            Errno::Eopnotsupp => "EOPNOTSUPP",
            Errno::Einval => "EINVAL",
            Errno::Eacces => "EACCES",
            Errno::Eperm => "EPERM",
            Errno::Eilseq => "EILSEQ",
        }
    }
}

/// The operation keywords, in a fixed order, for packing `OP:ERRNO` labels.
pub use crate::scenario::ast::OP_KEYWORDS;

const ERRNO_BITS: usize = 16;

/// The labels one interleaving has reached so far.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct LabelSet {
    outcomes: u8,
    /// Bit `op * ERRNO_BITS + errno`.
    errors: [u64; 8],
}

impl LabelSet {
    pub fn add(&mut self, o: Outcome) {
        self.outcomes |= 1 << o as u8;
    }

    pub fn has(&self, o: Outcome) -> bool {
        self.outcomes & (1 << o as u8) != 0
    }

    /// Records `OP:ERRNO`; `op` must be one of [`OP_KEYWORDS`].
    pub fn add_error(&mut self, op: &str, errno: Errno) {
        let op_index = OP_KEYWORDS
            .iter()
            .position(|k| *k == op)
            .unwrap_or_else(|| panic!("model bug: `{op}` is not an operation keyword"));
        let bit = op_index * ERRNO_BITS + errno as usize;
        self.errors[bit / 64] |= 1 << (bit % 64);
    }

    pub fn union(&mut self, other: &LabelSet) {
        self.outcomes |= other.outcomes;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a |= b;
        }
    }

    /// Labels in `self` that `other` lacks.
    pub fn minus(&self, other: &LabelSet) -> LabelSet {
        let mut out = LabelSet { outcomes: self.outcomes & !other.outcomes, errors: [0; 8] };
        for i in 0..8 {
            out.errors[i] = self.errors[i] & !other.errors[i];
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.outcomes == 0 && self.errors.iter().all(|w| *w == 0)
    }

    /// The labels as strings, sorted (the order of `labels` in the JSON output).
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> =
            Outcome::ALL.iter().filter(|o| self.has(**o)).map(|o| o.name().to_string()).collect();
        for (op_index, op) in OP_KEYWORDS.iter().enumerate() {
            for errno in Errno::ALL {
                let bit = op_index * ERRNO_BITS + errno as usize;
                if self.errors[bit / 64] & (1 << (bit % 64)) != 0 {
                    out.push(format!("{op}:{}", errno.name()));
                }
            }
        }
        out.sort();
        out
    }
}

impl fmt::Display for LabelSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("ok")
        } else {
            f.write_str(&names.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sorted_and_ok_is_empty() {
        let mut s = LabelSet::default();
        assert_eq!(s.to_string(), "ok");
        s.add(Outcome::Warn);
        s.add_error("reg-mr", Errno::Efault);
        s.add(Outcome::Bug);
        assert_eq!(s.names(), vec!["bug", "reg-mr:EFAULT", "warn"]);
        let mut t = LabelSet::default();
        t.add(Outcome::Bug);
        assert_eq!(s.minus(&t).names(), vec!["reg-mr:EFAULT", "warn"]);
    }
}
