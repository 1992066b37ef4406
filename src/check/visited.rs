//! The visited set of the depth-first searches (`dfs`, and each shard of `parallel_dfs`'s): the
//! fingerprints of the states reached, 16 bytes each, in one open-addressing table that grows
//! in place.
//!
//! Growing in place. The table is an anonymous memory mapping of its own (Linux), not a
//! vector: a growth extends the mapping (`mremap`, which moves page-table entries and copies
//! no data) and rehashes the fingerprints within it. The earlier growth into a fresh table of
//! twice the size held both tables at once and had the kernel zero every page of the new one
//! on first touch: at 20 M states that was 1 GiB of fresh pages for a 512 MiB table, and the
//! zeroing alone (`clear_page_erms`) was 8.5% of the search. In place, only the new half is
//! fresh, and the peak is the new table, not the new and the old together.
//!
//! Why the in-place rehash keeps every fingerprint findable: see [`rehash_doubled`]. The
//! mapping stays one VMA, which `mremap` needs: see `Table::grow_to`.

/// The set of visited fingerprints of the depth-first search: open addressing with linear
/// probing in one array of fingerprints, indexed by a fingerprint's low bits (fingerprints are
/// already uniformly random). A lookup reads one slot, usually in one cache line, where a
/// hashbrown set reads a control group and then the slot: the set is far larger than the
/// caches and was a tenth of the search's time. Slot value 0 means empty; the fingerprint 0
/// is kept apart. The table doubles, in place, when three quarters full.
pub struct FingerprintSet {
    slots: Table,
    len: usize,
    zero: bool,
    /// The sleep set of the key 0 (`insert_asleep`).
    zero_sleep: u32,
}

/// What `FingerprintSet::insert_asleep` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Asleep {
    /// The state was not there: it is now, with the sleep set given.
    New,
    /// It was there with a sleep set within the one given: nothing more to explore.
    Covered,
    /// It was there with a sleep set holding moves `wake` that the one given does not: they
    /// are to be explored from it, their children computed from `sleep`, the intersection,
    /// which the set now holds.
    Wake { wake: u32, sleep: u32 },
}

/// The fingerprint bits that name a state in a slot shared with a sleep set: the low 96.
const KEY: u128 = (1 << 96) - 1;

impl Default for FingerprintSet {
    /// Empty, without a table: the first insertion allocates it (and is checked against the
    /// memory bound, as the growths after it).
    fn default() -> Self {
        FingerprintSet { slots: Table::new(), len: 0, zero: false, zero_sleep: 0 }
    }
}

impl FingerprintSet {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Empties the set, keeping its table (zeroed) for the next fingerprints: a set filled
    /// again to about its old size then neither grows nor takes fresh pages.
    pub fn clear(&mut self) {
        self.slots.as_mut_slice().fill(0);
        self.len = 0;
        self.zero = false;
        self.zero_sleep = 0;
    }

    /// How many fingerprints fit before the table grows (the fingerprint 0 takes no slot).
    pub fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3 + self.zero as usize
    }

    /// Bytes the next growth adds: the new half of the table, or the whole first table. Where
    /// the table is a vector (not Linux) the old one is held while the new one fills: the whole
    /// new size then.
    pub fn growth_bytes(&self) -> u64 {
        let n = Self::grown(self.slots.len());
        let added = if Table::IN_PLACE { n - self.slots.len() } else { n };
        (added * std::mem::size_of::<u128>()) as u64
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
        if place(self.slots.as_mut_slice(), fp) {
            self.len += 1;
            true
        } else {
            false
        }
    }

    /// Adds the state of fingerprint `fp` with sleep set `sleep` (the `sleep` reduction,
    /// `sleep.rs`), or, if it is there, intersects its sleep set with `sleep`. The slot holds
    /// the fingerprint's low 96 bits and the sleep set above them, so a set used this way must
    /// not be used with `insert` or `contains`. 96 bits of fingerprint: the chance that two of
    /// `n` states share one is below `n² / 2^97` (3·10⁻¹³ for 200 M states).
    pub fn insert_asleep(&mut self, fp: u128, sleep: u32) -> Asleep {
        let key = fp & KEY;
        if key == 0 {
            if !std::mem::replace(&mut self.zero, true) {
                self.len += 1;
                self.zero_sleep = sleep;
                return Asleep::New;
            }
            return meet(&mut self.zero_sleep, sleep);
        }
        if self.len >= self.capacity() {
            self.grow();
        }
        let slots = self.slots.as_mut_slice();
        let mask = slots.len() - 1;
        let mut i = key as usize & mask;
        loop {
            let s = slots[i];
            if s == 0 {
                slots[i] = key | (sleep as u128) << 96;
                self.len += 1;
                return Asleep::New;
            }
            if s & KEY == key {
                let mut held = (s >> 96) as u32;
                let found = meet(&mut held, sleep);
                slots[i] = key | (held as u128) << 96;
                return found;
            }
            i = (i + 1) & mask;
        }
    }

    /// Starts loading the slot `fp` probes first into the cache, so that an `insert` or
    /// `contains` a few hundred nanoseconds later does not wait for memory: the table is far
    /// larger than the caches and probed at random, and that wait was most of the depth-first
    /// search's own time. A hint only (a growth in between makes it useless, not wrong).
    #[inline]
    pub fn prefetch(&self, fp: u128) {
        let slots = self.slots.as_slice();
        if slots.is_empty() {
            return;
        }
        let slot = &slots[fp as usize & (slots.len() - 1)];
        prefetch_address(slot as *const u128 as usize);
    }

    /// Where the table is and the mask of its index (`0, 0` before the first insertion): for a
    /// shared set's `prefetch` without its lock (`parallel_dfs`).
    pub fn table(&self) -> (usize, usize) {
        match self.slots.len() {
            0 => (0, 0),
            n => (self.slots.as_slice().as_ptr() as usize, n - 1),
        }
    }

    pub fn contains(&self, fp: u128) -> bool {
        if fp == 0 {
            return self.zero;
        }
        let slots = self.slots.as_slice();
        if slots.is_empty() {
            return false;
        }
        let mask = slots.len() - 1;
        let mut i = fp as usize & mask;
        loop {
            match slots[i] {
                0 => return false,
                s if s == fp => return true,
                _ => i = (i + 1) & mask,
            }
        }
    }

    #[cold]
    fn grow(&mut self) {
        let old = self.slots.len();
        self.slots.grow_to(Self::grown(old));
        if old > 0 {
            rehash_doubled(self.slots.as_mut_slice(), old);
        }
    }
}

/// A state held with sleep set `held` is reached with `sleep`: `held` becomes the intersection.
fn meet(held: &mut u32, sleep: u32) -> Asleep {
    let wake = *held & !sleep;
    if wake == 0 {
        return Asleep::Covered;
    }
    *held &= sleep;
    Asleep::Wake { wake, sleep: *held }
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

/// Rehashes, within `slots`, a table of `old` slots (a power of two, at most three quarters
/// full) that was just doubled: `slots[old..]` are zero.
///
/// The pass. Let `e` be an empty slot of the old table. The old slots are taken in cyclic order
/// from `e + 1`; each fingerprint is removed and placed again by the new mask, at the first
/// free slot from its new home, except that a placement which would run past the table's end
/// (and wrap to slot 0) is put aside and placed after the pass.
///
/// Why every fingerprint stays findable. A fingerprint is found when every slot from its home
/// to where it lies is full. A placement makes that so, and only a removal can undo it; the
/// pass removes only slots it has not reached yet. Take `x`, at old slot `i`, with old home
/// `h`: every old slot from `h` to `i` was full, so that run does not contain `e`, and the pass
/// has reached all of it. Its new home is `h` or `h + old`.
/// - `h + old`: the placement runs through the new half only, which nothing removes from.
/// - `h`, with `h <= i`: slot `i` was just emptied, so the placement stops at or before `i`, on
///   slots from `h` to `i`, all reached.
/// - `h`, with `h > i` (the old run wrapped past the old end): the placement runs from `h` up
///   through the old slots `h..old` (reached) and on into the new half, never back to 0.
///
/// Only a run wrapping past the new end would reach slots the pass has not reached; those
/// placements wait until the pass is over, when nothing is removed any more. Each fingerprint
/// is placed once, so none is lost or doubled (the tests check membership against a set on
/// clustered fingerprints). Returns how many placements waited (for the tests).
fn rehash_doubled(slots: &mut [u128], old: usize) -> usize {
    debug_assert!(old.is_power_of_two() && slots.len() == 2 * old);
    let Some(empty) = slots[..old].iter().position(|&fp| fp == 0) else {
        unreachable!("a table at most three quarters full has an empty slot")
    };
    let mask = slots.len() - 1;
    let mut wrapping = Vec::new();
    for k in 1..=old {
        let i = (empty + k) & (old - 1);
        let fp = std::mem::take(&mut slots[i]);
        if fp == 0 {
            continue;
        }
        let mut j = fp as usize & mask;
        loop {
            if slots[j] == 0 {
                slots[j] = fp;
                break;
            }
            if j == mask {
                wrapping.push(fp);
                break;
            }
            j += 1;
        }
    }
    for &fp in &wrapping {
        place(slots, fp);
    }
    wrapping.len()
}

/// The table's memory: zeroed slots that can grow, keeping their contents.
#[cfg(target_os = "linux")]
struct Table {
    /// An anonymous private mapping of `len` slots, or dangling when `len` is 0.
    ptr: std::ptr::NonNull<u128>,
    len: usize,
}

// SAFETY: `Table` owns its mapping as a `Vec<u128>` owns its buffer.
#[cfg(target_os = "linux")]
unsafe impl Send for Table {}
#[cfg(target_os = "linux")]
unsafe impl Sync for Table {}

#[cfg(target_os = "linux")]
impl Table {
    /// A growth keeps the old slots where they are and adds the new half only.
    const IN_PLACE: bool = true;

    fn new() -> Table {
        Table { ptr: std::ptr::NonNull::dangling(), len: 0 }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn as_slice(&self) -> &[u128] {
        // SAFETY: `ptr` maps `len` slots (fresh anonymous memory reads as zeroes), or is
        // dangling and well aligned for `len == 0`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }

    fn as_mut_slice(&mut self) -> &mut [u128] {
        // SAFETY: as `as_slice`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }

    /// Grows to `len` slots: the first ones keep their contents, the new ones are zero.
    /// Running out of address space or memory aborts, as a vector's growth does.
    ///
    /// The whole mapping is one VMA: `mremap` moves or extends only a range within one, so
    /// the huge-page advice covers all of it (advice on part of it would split it, and the
    /// next growth fail: the several-thread search's shards did). Should `mremap` fail
    /// anyway, the table is copied into a fresh mapping, as a vector's growth would.
    fn grow_to(&mut self, len: usize) {
        debug_assert!(len > self.len);
        // Unreachable: the mapping of half as many slots would have failed first (an address
        // space is far below 2^63 bytes).
        let Ok(layout) = std::alloc::Layout::array::<u128>(len) else {
            unreachable!("a visited set of {len} slots")
        };
        let bytes = layout.size();
        let old = self.len * std::mem::size_of::<u128>();
        let mut at = libc::MAP_FAILED;
        if self.len > 0 {
            // SAFETY: an extension of the mapping this table owns (`old` bytes), which may
            // move it; on success `ptr` is replaced by where it now is.
            at =
                unsafe { libc::mremap(self.ptr.as_ptr().cast(), old, bytes, libc::MREMAP_MAYMOVE) };
        }
        if at == libc::MAP_FAILED {
            // SAFETY: a fresh anonymous mapping, which nothing else refers to.
            at = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    bytes,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if at == libc::MAP_FAILED {
                std::alloc::handle_alloc_error(layout);
            }
            if self.len > 0 {
                // SAFETY: `ptr` maps `old` bytes, `at` maps more, and the two are distinct
                // mappings; the old one is then unmapped once and no longer referred to.
                unsafe {
                    std::ptr::copy_nonoverlapping(self.ptr.as_ptr(), at.cast(), self.len);
                    libc::munmap(self.ptr.as_ptr().cast(), old);
                }
            }
        }
        self.ptr = std::ptr::NonNull::new(at.cast()).unwrap_or_else(|| unreachable!());
        self.len = len;
        advise_huge_pages(self.as_mut_slice());
    }
}

#[cfg(target_os = "linux")]
impl Drop for Table {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: the mapping this table owns, unmapped once.
            unsafe {
                libc::munmap(self.ptr.as_ptr().cast(), self.len * std::mem::size_of::<u128>())
            };
        }
    }
}

/// The table's memory where there is no `mremap`: a vector, grown by copying.
#[cfg(not(target_os = "linux"))]
struct Table(Vec<u128>);

#[cfg(not(target_os = "linux"))]
impl Table {
    const IN_PLACE: bool = false;

    fn new() -> Table {
        Table(Vec::new())
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn as_slice(&self) -> &[u128] {
        &self.0
    }

    fn as_mut_slice(&mut self) -> &mut [u128] {
        &mut self.0
    }

    fn grow_to(&mut self, len: usize) {
        self.0.resize(len, 0);
    }
}

/// Asks the kernel to back a large table with transparent huge pages, before it is first
/// written (`madvise(MADV_HUGEPAGE)`; THP is often in `madvise` mode, as on this project's
/// machines). The visited set is probed at random: with 4 KiB pages nearly every probe of a
/// table of hundreds of megabytes also misses the TLB. The advice covers the whole mapping
/// (`Table::grow_to` says why); the kernel backs its aligned 2 MiB stretches with huge pages.
/// Advice only: nothing the table holds depends on it, and a refusal (no THP) changes nothing
/// but the speed.
#[cfg(target_os = "linux")]
fn advise_huge_pages(table: &mut [u128]) {
    const HUGE: usize = 2 << 20;
    if std::mem::size_of_val(table) >= HUGE {
        // SAFETY: advice on the mapping this table owns (from its page-aligned start); it
        // does not change its contents or validity.
        unsafe {
            libc::madvise(
                table.as_mut_ptr().cast(),
                std::mem::size_of_val(table),
                libc::MADV_HUGEPAGE,
            )
        };
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

#[cfg(test)]
mod tests {
    use super::{rehash_doubled, Asleep, FingerprintSet};
    use std::collections::HashSet;

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

    /// Sleep sets beside fingerprints (`insert_asleep`): a state reached again with a sleep
    /// set that misses some of the held moves wakes exactly those and keeps the intersection,
    /// through growths, for the key 0 too; fingerprints differing only above bit 96 are one.
    #[test]
    fn sleep_sets_meet_across_growth() {
        let mut set = FingerprintSet::default();
        let fps: Vec<u128> =
            (0..3000u128).map(|i| (i * 0x9e37_79b9_7f4a_7c15) % (1 << 96)).collect();
        for (i, &fp) in fps.iter().enumerate() {
            assert_eq!(set.insert_asleep(fp, 0b1111 | (i as u32) << 4), Asleep::New, "{i}");
        }
        assert_eq!(set.len(), fps.len());
        for (i, &fp) in fps.iter().enumerate() {
            let held = 0b1111 | (i as u32) << 4;
            // A superset of what is held: nothing to do.
            assert_eq!(set.insert_asleep(fp | 7 << 100, held | 1 << 31), Asleep::Covered);
            // Moves 0 and 2 awake now: they are woken, the intersection stays.
            let now = held & !0b0101;
            assert_eq!(set.insert_asleep(fp, now), Asleep::Wake { wake: 0b0101, sleep: now });
            assert_eq!(set.insert_asleep(fp, now), Asleep::Covered);
            assert_eq!(set.insert_asleep(fp, 0), Asleep::Wake { wake: now, sleep: 0 });
        }
        assert_eq!(set.len(), fps.len());
    }

    /// Several sets growing side by side well past the huge-page size, as the shards of the
    /// several-thread search do: each growth extends a mapping that others' growths surround
    /// (so `mremap` must sometimes move it), after huge-page advice on it.
    #[test]
    fn sets_growing_side_by_side_keep_every_fingerprint() {
        let mut sets: Vec<FingerprintSet> = (0..4).map(|_| FingerprintSet::default()).collect();
        let fp = |i: u128, s: u128| (i * 0x9e37_79b9_7f4a_7c15 + s) << 64 | (i * 0x2545_f491) ^ s;
        let n = 400_000u128;
        for i in 0..n {
            for (s, set) in sets.iter_mut().enumerate() {
                assert!(set.insert(fp(i, s as u128)));
            }
        }
        for (s, set) in sets.iter().enumerate() {
            assert_eq!(set.len(), n as usize);
            assert!((0..n).step_by(97).all(|i| set.contains(fp(i, s as u128))));
            assert!(!set.contains(fp(n, s as u128)));
        }
    }

    /// A table whose every fingerprint is where `place` would find it: each slot from its home
    /// to it is full.
    fn findable(slots: &[u128]) -> bool {
        let mask = slots.len() - 1;
        slots.iter().enumerate().filter(|(_, &fp)| fp != 0).all(|(at, &fp)| {
            let mut i = fp as usize & mask;
            while i != at {
                if slots[i] == 0 {
                    return false;
                }
                i = (i + 1) & mask;
            }
            true
        })
    }

    /// The in-place rehash on tables built to stress it: long runs that wrap past the old end,
    /// runs that fill the new half up to its end (the placements put aside), and every load up
    /// to three quarters, each checked against the fingerprints put in.
    #[test]
    fn the_in_place_rehash_keeps_every_fingerprint_findable() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut aside = 0;
        for round in 0..3000 {
            let old = 1usize << (2 + round % 7);
            let n = 1 + next() as usize % (old / 4 * 3);
            // Homes crowd a few slots (the last ones, half the time): runs wrap, and their
            // new homes crowd the new half's end.
            let crowd = 1 + next() as usize % 3;
            let mut put = HashSet::new();
            let mut slots = vec![0u128; 2 * old];
            while put.len() < n {
                let home = if round % 2 == 0 {
                    old - 1 - next() as usize % crowd
                } else {
                    next() as usize % old
                };
                let high = (next() as u128 | 1) << 64;
                // The bit above the old mask is random: the new home is `home` or `home + old`.
                let fp = high | (next() as u128 & !(old as u128 - 1)) | home as u128;
                if put.insert(fp) {
                    assert!(super::place(&mut slots[..old], fp));
                }
            }
            assert!(findable(&slots[..old]));
            aside += rehash_doubled(&mut slots, old);
            assert!(findable(&slots), "round {round}: a fingerprint lost its run");
            let kept: HashSet<u128> = slots.iter().copied().filter(|&fp| fp != 0).collect();
            assert_eq!(kept, put, "round {round}");
            assert_eq!(slots.iter().filter(|&&fp| fp != 0).count(), n, "round {round}");
        }
        assert!(aside > 100, "the placements put aside were tested ({aside})");
    }
}
