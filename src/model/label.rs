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
    /// "Structure needs cleaning": btrfs writeback of a folio dirtied behind its back, under
    /// `CONFIG_BTRFS_EXPERIMENTAL` (7ca3e84980ef) or after the fix-up worker's removal.
    Euclean,
    /// "Text file busy": under the writable-pins design (`dax-busy-wait-etxtbsy`), a truncate or
    /// punch of DAX pages that stay pinned past the lease-break time.
    Etxtbsy,
}

impl Errno {
    pub const ALL: [Errno; 13] = [
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
        Errno::Euclean,
        Errno::Etxtbsy,
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
            Errno::Euclean => "EUCLEAN",
            Errno::Etxtbsy => "ETXTBSY",
        }
    }
}

/// The operation keywords, in a fixed order, for packing `OP:ERRNO` labels.
pub use crate::scenario::ast::OP_KEYWORDS;

const ERRNO_BITS: usize = 16;

/// What a design paid along one interleaving (issue 11): counters that only grow, kept with
/// the labels so that, like labels, they are part of the state and pruning a state seen before
/// never loses a cost. Each saturates at 255. The union of two sets takes each counter's
/// maximum, so an exploration reports, per counter, its worst interleaving (different counters
/// may come from different interleavings). Steps and time are not counted: a counter of steps
/// would make every path length a distinct state.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Costs {
    /// Bounce copies written (integrity writeback of a pinned folio under a bounce design).
    pub bounce_copies: u8,
    /// Times periodic writeback left a pinned folio dirty (skipped it).
    pub kept_dirty: u8,
    /// The most delalloc/COW blocks reserved at once (`World::reserved_blocks`).
    pub reserved_peak: u8,
    /// The most blocks reserved at once for long-term pins (writable-pins).
    pub pin_reserved_peak: u8,
    /// Integrity writeback passes that ended while a pin's reservation was held: how long, in
    /// fsyncs, the design kept space from other files.
    pub pin_reserved_syncs: u8,
    /// Layout leases broken by truncate, punch or fallocate.
    pub lease_breaks: u8,
    /// Layout leases revoked after the break time.
    pub revocations: u8,
    /// Steps a truncate, punch or fallocate spent waiting for pins or leases to go.
    pub waits: u8,
}

impl Costs {
    /// The worst of two interleavings, counter by counter.
    pub fn max(&mut self, o: &Costs) {
        self.combine(o, u8::max);
    }

    /// Each counter set to `f(self's, o's)`.
    pub fn combine(&mut self, o: &Costs, f: fn(u8, u8) -> u8) {
        self.bounce_copies = f(self.bounce_copies, o.bounce_copies);
        self.kept_dirty = f(self.kept_dirty, o.kept_dirty);
        self.reserved_peak = f(self.reserved_peak, o.reserved_peak);
        self.pin_reserved_peak = f(self.pin_reserved_peak, o.pin_reserved_peak);
        self.pin_reserved_syncs = f(self.pin_reserved_syncs, o.pin_reserved_syncs);
        self.lease_breaks = f(self.lease_breaks, o.lease_breaks);
        self.revocations = f(self.revocations, o.revocations);
        self.waits = f(self.waits, o.waits);
    }

    /// Adds one to a counter, saturating.
    pub fn bump(c: &mut u8) {
        *c = c.saturating_add(1);
    }

    /// The counters as (name, value), in JSON and table order.
    pub fn fields(&self) -> [(&'static str, u8); 8] {
        let values = self.values();
        std::array::from_fn(|i| (COST_NAMES[i], values[i]))
    }

    /// The counters' values, in `fields` order.
    pub fn values(&self) -> [u8; 8] {
        let mut c = *self;
        c.fields_mut().map(|v| *v)
    }

    /// The counters whose values `fields` lists, in its order.
    pub fn from_fields(values: [u8; 8]) -> Costs {
        let mut c = Costs::default();
        for (to, v) in c.fields_mut().into_iter().zip(values) {
            *to = v;
        }
        c
    }

    /// The counters in `fields` order (the fingerprint of a label set and a stored world read
    /// them from this list). A counter added to the struct must be added here and to
    /// `COST_NAMES`: the struct's size is checked against the list's length.
    fn fields_mut(&mut self) -> [&mut u8; 8] {
        const _: () = assert!(std::mem::size_of::<Costs>() == 8, "every counter is listed");
        [
            &mut self.bounce_copies,
            &mut self.kept_dirty,
            &mut self.reserved_peak,
            &mut self.pin_reserved_peak,
            &mut self.pin_reserved_syncs,
            &mut self.lease_breaks,
            &mut self.revocations,
            &mut self.waits,
        ]
    }
}

/// The names of the counters, in `Costs::fields_mut` order.
const COST_NAMES: [&str; 8] = [
    "bounce_copies",
    "kept_dirty",
    "reserved_peak",
    "pin_reserved_peak",
    "pin_reserved_syncs",
    "lease_breaks",
    "revocations",
    "waits",
];

/// The labels one interleaving has reached so far, and what it cost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabelSet {
    outcomes: u8,
    /// Bit `op * ERRNO_BITS + errno`.
    errors: [u64; 8],
    /// Not a label: `minus`, `is_empty` and `names` ignore it; `union` takes the maxima.
    pub costs: Costs,
}

// Hand-written: every world's fingerprint hashes its labels after every step; the derived
// `Hash` writes the 8 error words and the 8 counters one by one. Here: the outcomes, the
// counters, a bit per error word that is not 0, then those words only (most are 0): the bits
// say which words follow, so equal bytes mean equal label sets.
impl std::hash::Hash for LabelSet {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let mut bytes = [0u8; LabelSet::BYTES_MAX];
        let n = self.bytes(&mut bytes);
        h.write(&bytes[..n]);
    }
}

impl LabelSet {
    /// The most bytes `bytes` writes.
    pub const BYTES_MAX: usize = 8 + 2 + 8 * 8;

    /// The bytes `Hash` writes, in `out`; returns how many. The counters (in `fields` order),
    /// the outcomes, a bit per error word that is not 0, then those words only (little-endian).
    pub fn bytes(&self, out: &mut [u8; LabelSet::BYTES_MAX]) -> usize {
        let LabelSet { outcomes, errors, costs } = self;
        // `values` lists every counter (a counter added to `Costs` must be added there).
        out[..8].copy_from_slice(&costs.values());
        out[8] = *outcomes;
        let mut mask = 0u8;
        let mut n = 10;
        // Every word is written, and the next one written over it when it is 0 (the buffer
        // has room for all eight): no branch per word.
        for (i, &e) in errors.iter().enumerate() {
            out[n..n + 8].copy_from_slice(&e.to_le_bytes());
            mask |= ((e != 0) as u8) << i;
            n += 8 * (e != 0) as usize;
        }
        out[9] = mask;
        n
    }
}

impl LabelSet {
    /// The set as numbers, for a stored world (`check::collapse`): the outcomes, a bit per
    /// error word that is not 0, those words, then the counters (a byte each, in `fields`
    /// order). `unpack` reads them back.
    pub fn pack(&self, mut put: impl FnMut(u64)) {
        let LabelSet { outcomes, errors, costs } = self;
        put(*outcomes as u64);
        let mask = errors.iter().enumerate().fold(0u64, |m, (i, &w)| m | ((w != 0) as u64) << i);
        put(mask);
        for &w in errors.iter().filter(|&&w| w != 0) {
            put(w);
        }
        put(u64::from_le_bytes(costs.values()));
    }

    /// The set `pack` gave the numbers of, read with `get`.
    pub fn unpack(mut get: impl FnMut() -> u64) -> LabelSet {
        let outcomes = get() as u8;
        let mask = get();
        let mut errors = [0u64; 8];
        for (i, w) in errors.iter_mut().enumerate() {
            if mask & 1 << i != 0 {
                *w = get();
            }
        }
        let costs = Costs::from_fields(get().to_le_bytes());
        LabelSet { outcomes, errors, costs }
    }

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
        self.costs.max(&other.costs);
        self.outcomes |= other.outcomes;
        for (a, b) in self.errors.iter_mut().zip(other.errors.iter()) {
            *a |= b;
        }
    }

    /// Labels in `self` that `other` lacks.
    pub fn minus(&self, other: &LabelSet) -> LabelSet {
        let mut out = LabelSet {
            outcomes: self.outcomes & !other.outcomes,
            errors: [0; 8],
            costs: Costs::default(),
        };
        for i in 0..8 {
            out.errors[i] = self.errors[i] & !other.errors[i];
        }
        out
    }

    /// The number of `OP:ERRNO` labels: operations refused.
    pub fn errno_count(&self) -> u32 {
        self.errors.iter().map(|w| w.count_ones()).sum()
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
