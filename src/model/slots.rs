//! `Slots<T>`: a world's vector of folios, inodes, blocks, handles or tasks, with a cached value
//! per element that every mutable access to the element forgets.
//!
//! The cache exists for one user, the fingerprint (`check::fingerprint`): a world's fingerprint
//! is a sum of one hash per element, and a step changes a few elements, so an explorer that
//! copies a world, steps the copy and fingerprints it rehashes only what the step touched
//! (incremental hashing, as Nguyen and Ruys did for SPIN). The model never reads the cache.
//!
//! Why the cache cannot go stale: the elements are private, and every way to reach one mutably
//! (`IndexMut`, `DerefMut` to the slice, `iter_mut`, `push`, `remove`, `swap`, ...) first marks
//! the elements it exposes as unknown (cached value 0). Shared access (`Index`, `Deref`, `iter`)
//! leaves the cache alone, and the elements have no interior mutability. So a cached value that
//! is not 0 was computed from the element as it still is. Debug builds (the tests) also check
//! every fingerprint computed from the cache against one computed afresh
//! (`check::fingerprint::fingerprint_mut`).

use std::ops::{Deref, DerefMut, Index, IndexMut};
use std::slice::SliceIndex;

/// A vector of `T` with a cached `u128` per element (0: not known), and their sum.
pub struct Slots<T> {
    items: Vec<T>,
    cached: Vec<u128>,
    /// The sum of `cached`, modulo 2^128, kept up to date as values are forgotten and found.
    sum: u128,
    /// The places whose cached values may be 0 (not known), `lo..hi` (empty: none): what
    /// `refresh` must look at. Every 0 lies within.
    unknown: (u32, u32),
}

/// No place unknown.
const KNOWN: (u32, u32) = (0, 0);

impl<T> Slots<T> {
    pub fn new() -> Slots<T> {
        Slots { items: Vec::new(), cached: Vec::new(), sum: 0, unknown: KNOWN }
    }

    /// Places `range` may hold unknown values from now on.
    fn note(&mut self, range: std::ops::Range<usize>) {
        if range.is_empty() {
            return;
        }
        let (lo, hi) = self.unknown;
        let (start, end) = (range.start as u32, range.end as u32);
        self.unknown = if lo < hi { (lo.min(start), hi.max(end)) } else { (start, end) };
    }

    pub fn push(&mut self, item: T) {
        self.note(self.items.len()..self.items.len() + 1);
        self.items.push(item);
        self.cached.push(0);
    }

    /// Removes element `i`; the elements after it move down and lose their cached values.
    pub fn remove(&mut self, i: usize) -> T {
        self.forget(i..self.items.len());
        self.cached.remove(i);
        self.items.remove(i)
    }

    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.forget(0..self.items.len());
        self.items.iter_mut()
    }

    pub fn resize(&mut self, n: usize, item: T)
    where
        T: Clone,
    {
        self.forget(n.min(self.items.len())..self.items.len());
        self.note(self.items.len()..n);
        self.items.resize(n, item);
        self.cached.resize(n, 0);
    }

    /// Forgets the cached values of elements `range`, which the caller reaches mutably.
    fn forget(&mut self, range: std::ops::Range<usize>) {
        for c in &mut self.cached[range.clone()] {
            self.sum = self.sum.wrapping_sub(std::mem::take(c));
        }
        self.note(range);
    }

    /// The sum (modulo 2^128) of the cached values, with every unknown one computed first by
    /// `value(index, element)`, which must never return 0 (it would stay unknown) and must be a
    /// function of its arguments only. Without unknown values, no element is read; with some,
    /// only the places between the first and the last that may be unknown.
    pub fn refresh(&mut self, mut value: impl FnMut(usize, &T) -> u128) -> u128 {
        let (lo, hi) = std::mem::replace(&mut self.unknown, KNOWN);
        let hi = (hi as usize).min(self.items.len());
        let lo = (lo as usize).min(hi);
        for (i, (c, item)) in self.cached[lo..hi].iter_mut().zip(&self.items[lo..hi]).enumerate() {
            if *c == 0 {
                *c = value(lo + i, item);
                self.sum = self.sum.wrapping_add(*c);
            }
        }
        self.sum
    }

    /// Whether an element may have changed since every cached value was last known: false
    /// means no element was reached mutably (or added) since then.
    pub fn touched(&self) -> bool {
        self.unknown.0 < self.unknown.1
    }

    /// The cached values as they are (0: unknown).
    pub fn cached(&self) -> &[u128] {
        &self.cached
    }

    /// Makes the elements the `n` given by `item(i)` (an element and its cached value, 0:
    /// unknown), copying each into the memory of the element at its place (`clone_from`), so
    /// a world decoded into another allocates little (`check::collapse`). The caller vouches
    /// that each value that is not 0 is what `refresh`'s `value` returns for that element at
    /// that place; debug builds check every fingerprint computed from such values against one
    /// computed afresh (`check::fingerprint::fingerprint_mut`).
    ///
    /// An element whose place already holds one with the same known value is not copied: the
    /// value is a hash of the element at its place, so the two are equal unless that hash
    /// collides (the event `check::collapse` already rests on: its tables name an element by
    /// that hash). A world decoded into a recycled world, most of whose elements it shares,
    /// so copies a few elements instead of all.
    pub fn refill<'a>(&mut self, n: usize, mut item: impl FnMut(usize) -> (&'a T, u128))
    where
        T: Clone + 'a,
    {
        self.items.truncate(n);
        self.cached.truncate(n);
        let (mut sum, mut unknown) = (0u128, KNOWN);
        for i in 0..n {
            let (x, c) = item(i);
            match (self.items.get_mut(i), self.cached.get_mut(i)) {
                (Some(to), Some(known)) => {
                    if c == 0 || *known != c {
                        to.clone_from(x);
                        *known = c;
                    }
                }
                _ => {
                    self.items.push(x.clone());
                    self.cached.push(c);
                }
            }
            sum = sum.wrapping_add(c);
            if c == 0 {
                unknown = if unknown.0 < unknown.1 {
                    (unknown.0, i as u32 + 1)
                } else {
                    (i as u32, i as u32 + 1)
                };
            }
        }
        debug_assert_eq!((self.items.len(), self.cached.len()), (n, n));
        (self.sum, self.unknown) = (sum, unknown);
    }

    /// `clone_from`, without copying an element whose place holds one with the same known
    /// cached value in both (equal, unless that hash collides: see `refill`). For vectors of
    /// elements that own vectors or are enums (tasks, handles, inodes), whose `clone_from`
    /// costs more than comparing two values; a recycled world copied into is mostly like
    /// its source (`World::clone_from`).
    pub fn clone_from_known(&mut self, source: &Slots<T>)
    where
        T: Clone,
    {
        let common = self.items.len().min(source.items.len());
        self.items.truncate(source.items.len());
        for ((to, &known), (from, &c)) in
            self.items.iter_mut().zip(&self.cached).zip(source.items.iter().zip(&source.cached))
        {
            if c == 0 || known != c {
                to.clone_from(from);
            }
        }
        self.items.extend_from_slice(&source.items[common..]);
        self.cached.clone_from(&source.cached);
        self.sum = source.sum;
        self.unknown = source.unknown;
    }

    /// Swaps elements `i` and `j`: both places forget their cached values (a value is the
    /// hash of an element at its place), no other does.
    pub fn swap(&mut self, i: usize, j: usize) {
        if i != j {
            self.forget(i..i + 1);
            self.forget(j..j + 1);
            self.items.swap(i, j);
        }
    }
}

impl<T> Default for Slots<T> {
    fn default() -> Slots<T> {
        Slots::new()
    }
}

impl<T> From<Vec<T>> for Slots<T> {
    fn from(items: Vec<T>) -> Slots<T> {
        let cached = vec![0; items.len()];
        let unknown = (0, items.len() as u32);
        Slots { items, cached, sum: 0, unknown }
    }
}

impl<T> FromIterator<T> for Slots<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Slots<T> {
        Slots::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T> Deref for Slots<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.items
    }
}

/// The whole slice, mutably: every cached value is forgotten.
impl<T> DerefMut for Slots<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        self.forget(0..self.items.len());
        &mut self.items
    }
}

impl<T, I: SliceIndex<[T]>> Index<I> for Slots<T> {
    type Output = I::Output;
    fn index(&self, i: I) -> &I::Output {
        &self.items[i]
    }
}

/// Elements, mutably: their cached values are forgotten.
impl<T, I: SliceIndex<[T]> + Exposes> IndexMut<I> for Slots<T> {
    fn index_mut(&mut self, i: I) -> &mut I::Output {
        self.forget(i.exposed(self.items.len()));
        &mut self.items[i]
    }
}

/// An index of `Slots`: the elements it reaches, in a vector of `len` (out of bounds: the
/// indexing that follows panics as a slice's would).
pub trait Exposes {
    fn exposed(&self, len: usize) -> std::ops::Range<usize>;
}

impl Exposes for usize {
    fn exposed(&self, len: usize) -> std::ops::Range<usize> {
        (*self).min(len)..self.saturating_add(1).min(len)
    }
}

impl Exposes for std::ops::Range<usize> {
    fn exposed(&self, len: usize) -> std::ops::Range<usize> {
        self.start.min(len)..self.end.min(len)
    }
}

impl Exposes for std::ops::RangeFrom<usize> {
    fn exposed(&self, len: usize) -> std::ops::Range<usize> {
        self.start.min(len)..len
    }
}

impl Exposes for std::ops::RangeTo<usize> {
    fn exposed(&self, len: usize) -> std::ops::Range<usize> {
        0..self.end.min(len)
    }
}

impl Exposes for std::ops::RangeFull {
    fn exposed(&self, len: usize) -> std::ops::Range<usize> {
        0..len
    }
}

impl<'a, T> IntoIterator for &'a Slots<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Slots<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter_mut()
    }
}

impl<T: Clone> Clone for Slots<T> {
    fn clone(&self) -> Slots<T> {
        let Slots { items, cached, sum, unknown } = self;
        Slots { items: items.clone(), cached: cached.clone(), sum: *sum, unknown: *unknown }
    }

    fn clone_from(&mut self, source: &Slots<T>) {
        let Slots { items, cached, sum, unknown } = self;
        items.clone_from(&source.items);
        cached.clone_from(&source.cached);
        *sum = source.sum;
        *unknown = source.unknown;
    }
}

/// Equal elements; the caches do not matter.
impl<T: PartialEq> PartialEq for Slots<T> {
    fn eq(&self, other: &Slots<T>) -> bool {
        self.items == other.items
    }
}

impl<T: Eq> Eq for Slots<T> {}

/// The elements, as a vector's.
impl<T: std::fmt::Debug> std::fmt::Debug for Slots<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.items.fmt(f)
    }
}

/// The elements, as a vector's: an encoded world carries no cache.
impl<T: serde::Serialize> serde::Serialize for Slots<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Slots<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Slots<T>, D::Error> {
        Vec::<T>::deserialize(d).map(Slots::from)
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    fn known(s: &mut Slots<u32>) -> Vec<u128> {
        let sum = s.refresh(|i, &x| (i as u128) << 64 | x as u128 | 1 << 100);
        assert_eq!(sum, s.cached().iter().fold(0u128, |a, &c| a.wrapping_add(c)));
        s.cached().to_vec()
    }

    /// `swap` forgets only the two places: the sum stays the sum of what is known, and a
    /// refresh then agrees with every value computed afresh.
    #[test]
    fn swap_forgets_only_the_places_it_changes() {
        let mut s: Slots<u32> = vec![1, 2, 3, 4].into();
        known(&mut s);
        s[1] = 5;
        known(&mut s);
        let before = s.cached().to_vec();
        s.swap(2, 2);
        assert_eq!(s.cached(), &before[..], "a place swapped with itself keeps its hash");
        s.swap(0, 3);
        assert_eq!(s.cached(), &[0, before[1], before[2], 0]);
        assert_eq!(&s[..], &[4, 5, 3, 1]);
        let after = known(&mut s);
        let mut fresh: Slots<u32> = s.to_vec().into();
        assert_eq!(after, known(&mut fresh), "refreshed values are the values afresh");
    }

    #[test]
    fn every_mutable_access_forgets_what_it_exposes() {
        let mut s: Slots<u32> = vec![1, 2, 3, 4].into();
        assert_eq!(s.cached(), &[0, 0, 0, 0]);
        let all = known(&mut s);
        assert!(s.cached().iter().all(|&c| c != 0));
        let _ = (s[1], s.iter().count(), s.len(), &s[1..]);
        assert_eq!(s.cached(), &all[..], "shared access keeps the cache");
        s[2] += 1;
        assert_eq!(s.cached(), &[all[0], all[1], 0, all[3]]);
        known(&mut s);
        s.remove(1);
        assert_eq!((s.cached()[0], s.cached()[1], s.cached()[2]), (all[0], 0, 0));
        known(&mut s);
        s.push(9);
        assert_eq!(s.cached()[3], 0);
        known(&mut s);
        s.iter_mut().count();
        assert!(s.cached().iter().all(|&c| c == 0));
        known(&mut s);
        s[1..].sort();
        assert!(s.cached()[0] != 0 && s.cached()[1..].iter().all(|&c| c == 0));
        known(&mut s);
        s.sort();
        assert!(s.cached().iter().all(|&c| c == 0));
        known(&mut s);
        for x in &mut s {
            *x += 1;
        }
        assert!(s.cached().iter().all(|&c| c == 0));
        known(&mut s);
        s.resize(2, 7);
        assert_eq!(known(&mut s).len(), 2, "a shrunk vector's sum leaves the dropped values out");
        s.resize(4, 7);
        let fresh = known(&mut s);
        let mut copy: Slots<u32> = Slots::new();
        copy.clone_from(&s);
        assert_eq!(copy.cached(), &fresh[..]);
        assert_eq!(copy, s);
    }

    #[test]
    fn refresh_recomputes_every_place_forgotten_since() {
        let mut s: Slots<u32> = (0..10).collect();
        known(&mut s);
        s[3] += 1;
        s[6] += 1;
        let mut read = Vec::new();
        s.refresh(|i, &x| {
            read.push(i);
            (i as u128) << 64 | x as u128 | 1 << 100
        });
        assert_eq!(read, [3, 6], "both places forgotten, and only they, are recomputed");
        assert!(!s.touched());
        s.push(7);
        s.remove(0);
        assert!(s.touched());
        assert_eq!(known(&mut s).iter().filter(|&&c| c == 0).count(), 0);
    }

    #[test]
    fn copies_skip_only_the_elements_known_equal() {
        let mut s: Slots<u32> = vec![1, 2, 3, 4].into();
        known(&mut s);
        // Place 1 differs, known; place 2 differs, unknown; place 3 is missing.
        let mut t: Slots<u32> = vec![1, 9, 3].into();
        known(&mut t);
        t[2] = 8;
        t.clone_from_known(&s);
        assert_eq!((&t, t.cached()), (&s, s.cached()));
        // Longer, and equal only at place 1.
        let mut u: Slots<u32> = vec![5, 2, 7, 4, 6].into();
        known(&mut u);
        u[3] = 0;
        let items: Vec<(u32, u128)> = s.iter().copied().zip(s.cached().iter().copied()).collect();
        u.refill(items.len(), |i| (&items[i].0, items[i].1));
        assert_eq!((&u, u.cached()), (&s, s.cached()));
        assert_eq!(known(&mut u), s.cached(), "the sum and the values agree");
    }
}
