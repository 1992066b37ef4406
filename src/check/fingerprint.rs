//! World fingerprints: the bytes a world's `Hash` implementation writes, hashed with XXH3-128.
//! Visited states are kept as fingerprints only (16 bytes each); a collision would prune one
//! state, with a probability below 10^-20 for the state counts pincheck reaches.

use crate::model::World;
use std::cell::Cell;
use std::hash::{Hash, Hasher};

/// Collects the bytes `Hash` feeds a hasher, to hash them in one pass. It owns its buffer
/// (taken from the thread's and given back), so a write reaches the vector's fields directly.
struct Bytes(Vec<u8>);

impl Hasher for Bytes {
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
    fn write_u8(&mut self, i: u8) {
        self.0.push(i);
    }
    fn write_u16(&mut self, i: u16) {
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.0.extend_from_slice(&i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        // Lengths and discriminants: never above u32 in a world.
        self.0.extend_from_slice(&(i as u32).to_le_bytes());
    }
    fn finish(&self) -> u64 {
        unreachable!("fingerprint() hashes the collected bytes itself")
    }
}

thread_local! {
    static BUFFER: Cell<Vec<u8>> = Cell::new(Vec::with_capacity(4096));
}

/// The fingerprint of a world.
pub fn fingerprint(w: &World) -> u128 {
    BUFFER.with(|b| {
        let mut bytes = Bytes(b.take());
        bytes.0.clear();
        w.hash(&mut bytes);
        let fp = xxhash_rust::xxh3::xxh3_128(&bytes.0);
        b.set(bytes.0);
        fp
    })
}

/// The set of visited fingerprints of the depth-first search: open addressing with linear
/// probing in one array of fingerprints, indexed by a fingerprint's low bits (fingerprints are
/// already uniformly random). A lookup reads one slot, usually in one cache line, where a
/// hashbrown set reads a control group and then the slot: the set is far larger than the
/// caches and was a tenth of the search's time. Slot value 0 means empty; the fingerprint 0
/// is kept apart. The table doubles when three quarters full.
pub struct FingerprintSet {
    slots: Vec<u128>,
    len: usize,
    zero: bool,
}

impl Default for FingerprintSet {
    /// Empty, without a table: the first insertion allocates it (and is checked against the
    /// memory bound, as the growths after it).
    fn default() -> Self {
        FingerprintSet { slots: Vec::new(), len: 0, zero: false }
    }
}

impl FingerprintSet {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many fingerprints fit before the table grows (the fingerprint 0 takes no slot).
    pub fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3 + self.zero as usize
    }

    /// Bytes the next growth allocates (the old table is still held while the new one fills).
    pub fn growth_bytes(&self) -> u64 {
        (Self::grown(self.slots.len()) * std::mem::size_of::<u128>()) as u64
    }

    /// The table size after growing from `slots`.
    fn grown(slots: usize) -> usize {
        (2 * slots).max(16)
    }

    /// Adds `fp`; false when it was there already.
    pub fn insert(&mut self, fp: u128) -> bool {
        if fp == 0 {
            let new = !std::mem::replace(&mut self.zero, true);
            self.len += new as usize;
            return new;
        }
        if self.len >= self.capacity() {
            self.grow();
        }
        if Self::place(&mut self.slots, fp) {
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Starts loading the slot `fp` probes first into the cache, so that an `insert` or
    /// `contains` a few hundred nanoseconds later does not wait for memory: the table is far
    /// larger than the caches and probed at random, and that wait was most of the depth-first
    /// search's own time. A hint only (a growth in between makes it useless, not wrong).
    #[inline]
    pub fn prefetch(&self, fp: u128) {
        if self.slots.is_empty() {
            return;
        }
        let slot = &self.slots[fp as usize & (self.slots.len() - 1)];
        prefetch_address(slot as *const u128 as usize);
    }

    /// Where the table is and the mask of its index (`0, 0` before the first insertion): for a
    /// shared set's `prefetch` without its lock (`parallel_dfs`).
    pub fn table(&self) -> (usize, usize) {
        match self.slots.len() {
            0 => (0, 0),
            n => (self.slots.as_ptr() as usize, n - 1),
        }
    }

    pub fn contains(&self, fp: u128) -> bool {
        if fp == 0 {
            return self.zero;
        }
        if self.slots.is_empty() {
            return false;
        }
        let mask = self.slots.len() - 1;
        let mut i = fp as usize & mask;
        loop {
            match self.slots[i] {
                0 => return false,
                s if s == fp => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    /// Puts `fp` (not 0) in the first free slot of its probe sequence; false when it is there.
    #[inline]
    fn place(slots: &mut [u128], fp: u128) -> bool {
        let mask = slots.len() - 1;
        let mut i = fp as usize & mask;
        loop {
            match slots[i] {
                0 => {
                    slots[i] = fp;
                    return true;
                }
                s if s == fp => return false,
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[cold]
    fn grow(&mut self) {
        let n = Self::grown(self.slots.len());
        let mut slots = Vec::with_capacity(n);
        advise_huge_pages(slots.spare_capacity_mut());
        slots.resize(n, 0u128);
        for &fp in self.slots.iter().filter(|&&fp| fp != 0) {
            Self::place(&mut slots, fp);
        }
        self.slots = slots;
    }
}

/// Asks the kernel to back a large table with transparent huge pages, before it is first
/// written (`madvise(MADV_HUGEPAGE)`; THP is often in `madvise` mode, as on this project's
/// machines). The visited set is probed at random: with 4 KiB pages nearly every probe of a
/// table of hundreds of megabytes also misses the TLB. Advice only: nothing the table holds
/// depends on it, and a refusal (no THP, another OS) changes nothing but the speed.
fn advise_huge_pages<T>(table: &mut [T]) {
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = table.as_mut_ptr() as usize;
        let first = start.next_multiple_of(HUGE);
        let end = (start + std::mem::size_of_val(table)) / HUGE * HUGE;
        if end > first {
            // SAFETY: advice on whole pages of an allocation this table owns; it does not
            // change their contents or validity.
            unsafe { libc::madvise(first as *mut libc::c_void, end - first, libc::MADV_HUGEPAGE) };
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = table;
}

#[cfg(test)]
mod tests {
    use super::{fingerprint, FingerprintSet};
    use crate::model::world::{Folio, World};
    use std::hash::{Hash, Hasher};

    /// XXH3-128 of the bytes a world's `Hash` writes, collected the plain way (lengths as u32).
    fn reference(w: &World) -> u128 {
        struct Plain(Vec<u8>);
        impl Hasher for Plain {
            fn write(&mut self, bytes: &[u8]) {
                self.0.extend_from_slice(bytes);
            }
            fn write_usize(&mut self, i: usize) {
                self.0.extend_from_slice(&(i as u32).to_le_bytes());
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let mut p = Plain(Vec::new());
        w.hash(&mut p);
        xxhash_rust::xxh3::xxh3_128(&p.0)
    }

    #[test]
    fn fingerprints_hash_exactly_the_bytes_hash_writes() {
        let source = crate::family::pairs(2).expect("two pairs");
        let sc = crate::scenario::parse::parse("pairs2.pin", &source).expect("parses");
        let prog = crate::model::program::compile(&sc).expect("compiles");
        let small = prog.initial.clone();
        let mut big = small.clone();
        // Past the buffer's first 4 KiB: it grows, then serves a small world again.
        big.folios.resize(big.folios.len() + 400, Folio::free());
        for w in [&small, &big, &small] {
            assert_eq!(fingerprint(w), reference(w));
        }
        assert_ne!(fingerprint(&small), fingerprint(&big));
    }

    #[test]
    fn the_set_keeps_every_fingerprint_once_across_growth() {
        let mut set = FingerprintSet::default();
        assert!(set.capacity() == 0 && !set.contains(5) && set.growth_bytes() == 16 * 16);
        // Fingerprints sharing their low bits probe past each other; 0 is kept apart.
        let fps: Vec<u128> =
            (0..1000u128).map(|i| (i * 0x9e37_79b9_7f4a_7c15) << 64 | (i % 7) << 3).collect();
        for &fp in &fps {
            assert!(!set.contains(fp));
            assert!(set.insert(fp));
            assert!(set.len() <= set.capacity() || set.len() == 1);
        }
        for &fp in &fps {
            assert!(set.contains(fp) && !set.insert(fp));
        }
        assert_eq!(set.len(), fps.len());
        assert!(set.capacity() >= fps.len() && set.growth_bytes() >= 2 * 16 * 1024);
        assert!(!set.contains(1) && set.insert(1) && set.contains(1));
    }
}

/// Starts loading the cache line at `address` (`FingerprintSet::prefetch`). A hint only: a
/// prefetch reads nothing the program sees and cannot fault, so any address will do, even one
/// no longer allocated.
#[inline]
pub fn prefetch_address(address: usize) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `_mm_prefetch` does not dereference its argument as far as the program can tell:
    // it cannot fault (on an invalid address it does nothing) and its result is not observable.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(address as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = address;
}
