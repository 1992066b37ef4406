//! The memory bound of an exploration (`--max-memory`), enforced while the explorer's
//! structures grow, not after a level: explorers ask `fits(extra)` before a growth they can
//! predict (a visited set or a parent table about to double, a new storage chunk) and every few
//! thousand states otherwise. The measure is the process's resident set (`/proc/self/statm`),
//! which counts everything the explorer holds — visited set, parent links, level buffers,
//! worker buffers — as it grows; a predicted growth is added to it, so a doubling that would
//! cross the bound is refused before it is allocated.
//!
//! Without `--max-memory` the bound is three quarters of the machine's memory (`MemTotal`), so
//! an exhaustive search stops (or switches to the depth-first explorer, see `dfs`) instead of
//! being killed.

use std::sync::atomic::{AtomicBool, Ordering};

/// How often, in states, an explorer with no predictable growth ahead reads its resident set.
pub(super) const CHECK_EVERY: u64 = 4096;

pub(super) struct Budget {
    /// The bound, in bytes.
    pub max: u64,
    /// The bound was given (`--max-memory`) rather than derived from the machine.
    pub given: bool,
    over: AtomicBool,
}

impl Budget {
    pub fn new(max_memory: Option<u64>) -> Budget {
        match max_memory {
            Some(max) => Budget { max, given: true, over: AtomicBool::new(false) },
            None => Budget {
                max: machine_bytes().map_or(u64::MAX, |m| m / 4 * 3),
                given: false,
                over: AtomicBool::new(false),
            },
        }
    }

    /// Whether `extra` more bytes fit under the bound now. Once it answered no, it stays no
    /// (every thread of the explorer sees it and stops).
    pub fn fits(&self, extra: u64) -> bool {
        if self.over.load(Ordering::Relaxed) {
            return false;
        }
        let Some(rss) = resident_bytes() else { return true };
        if rss.saturating_add(extra) > self.max {
            self.over.store(true, Ordering::Relaxed);
            return false;
        }
        true
    }

    pub fn over(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// The `limit` an exploration stopped by this bound reports.
    pub fn reason(&self) -> String {
        if self.given {
            format!("--max-memory {} reached", self.max)
        } else {
            format!(
                "memory bound reached ({} bytes, 3/4 of this machine's; see --max-memory)",
                self.max
            )
        }
    }
}

/// Hands memory freed by the process back to the kernel (the binary's allocator is mimalloc,
/// which otherwise keeps it resident for a while), so that a search started after a larger one
/// is measured by what it holds itself.
pub(super) fn release_freed_memory() {
    // SAFETY: mi_collect has no preconditions; with another global allocator it only collects
    // mimalloc's own (empty) heaps.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// Resident memory of this process, in bytes, where /proc tells it.
pub(super) fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if n > 0 {
        n as u64
    } else {
        4096
    }
}

/// The machine's memory (`MemTotal`), where /proc tells it.
fn machine_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bound_below_the_resident_set_refuses_and_stays_refused() {
        let b = Budget::new(Some(1));
        assert!(!b.fits(0) && b.over() && !b.fits(0));
        assert!(b.reason().contains("--max-memory 1"));
        let roomy = Budget::new(Some(u64::MAX));
        assert!(roomy.fits(1 << 20) && !roomy.over());
    }
}
