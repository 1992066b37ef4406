//! World fingerprints: 128-bit hashes of worlds. Visited states are kept as fingerprints only
//! (16 bytes each); a collision would prune one state, with a probability below 10^-20 for the
//! state counts pincheck reaches.
//!
//! A fingerprint is a sum (modulo 2^128) of XXH3-128 hashes: one of the world's own fields
//! (`World::header_bytes`: the scalars, the lengths of its vectors, the labels) and one per
//! element of each vector (folio, inode, block, handle, task), of the bytes the element's
//! `Hash` writes after a 4-byte prefix naming its kind and place. A step changes a few
//! elements, and every element remembers its hash until something reaches it mutably
//! (`model::slots`), so an explorer that copies a world, steps the copy and fingerprints it
//! (`fingerprint_mut`) hashes only the header and the elements the step touched: incremental
//! hashing, as Nguyen and Ruys did for SPIN ("Incremental Hashing for SPIN", SPIN 2008). It was
//! 38% of the depth-first search's time when the fingerprint hashed the whole world's bytes in
//! one pass.
//!
//! Why a sum is as good as one hash of everything: two different worlds differ in the header
//! or in an element at some place (the header holds the lengths), so their fingerprints are
//! equal only if two different sums of XXH3 outputs, over inputs that are not all the same, are
//! equal modulo 2^128: for hashes that behave as random functions, a 2^-128 chance per pair of
//! worlds, as for one hash. An element hash of 0 is made 1 (0 marks an unknown cached hash);
//! that changes the chance by nothing measurable.
//!
//! Why the place is in the bytes and not in XXH3's seed: on inputs of 16 bytes or less, XXH3
//! XORs the seed into the input before a fixed mixing, so `h(seed_i, x) == h(seed_j, x ^ d)`
//! exactly, with `d` fixed by the two seeds. A block writes 16 bytes: with the place as seed,
//! two worlds whose blocks at places `i` and `j` differ by `d` and the same `d` the other way
//! round (file bits, a checksum flag, tag bits) had equal fingerprints (a review built such a
//! pair). One seed for all, and the place in the bytes, leaves only XXH3 on different inputs.

use crate::model::slots::Slots;
use crate::model::World;
use std::hash::{Hash, Hasher};
use std::mem::MaybeUninit;
use xxhash_rust::xxh3::xxh3_128;

/// Collects the bytes `Hash` feeds a hasher, to hash them in one pass: on the stack while they
/// fit (an element writes a few dozen bytes), in `spill` past that (an inode of many pages).
/// The stack buffer is not zeroed first: it is a fifth of a small element's hashing time.
struct Bytes {
    stack: [MaybeUninit<u8>; STACK],
    /// Bytes written to `stack` (all of them, from the start); `SPILLED` once they no longer
    /// fit, and everything is in `spill`: one comparison per write tells the two apart.
    len: usize,
    spill: Vec<u8>,
}

/// `Bytes::len` once the bytes are in `spill`: past the stack buffer, so that every later
/// write goes to `spill` too.
const SPILLED: usize = usize::MAX / 2;

const STACK: usize = 256;

impl Bytes {
    fn new() -> Bytes {
        Bytes { stack: [const { MaybeUninit::uninit() }; STACK], len: 0, spill: Vec::new() }
    }

    fn bytes(&self) -> &[u8] {
        if self.len == SPILLED {
            return &self.spill;
        }
        // SAFETY: the first `len` bytes of `stack` were written (`write`), and
        // `MaybeUninit<u8>` has `u8`'s layout.
        unsafe { std::slice::from_raw_parts(self.stack.as_ptr().cast::<u8>(), self.len) }
    }

    /// Past the stack buffer: everything from here on goes to `spill`.
    #[cold]
    fn write_spilled(&mut self, b: &[u8]) {
        if self.len != SPILLED {
            let written = self.bytes().to_vec();
            self.spill = written;
            self.len = SPILLED;
        }
        self.spill.extend_from_slice(b);
    }
}

impl Hasher for Bytes {
    #[inline(always)]
    fn write(&mut self, bytes: &[u8]) {
        // `len` is at most STACK or SPILLED, and a write a few bytes: no overflow.
        match self.stack.get_mut(self.len..self.len + bytes.len()) {
            Some(to) => {
                for (to, &b) in to.iter_mut().zip(bytes) {
                    to.write(b);
                }
                self.len += bytes.len();
            }
            None => self.write_spilled(bytes),
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.write(&[i]);
    }
    fn write_u16(&mut self, i: u16) {
        self.write(&i.to_le_bytes());
    }
    fn write_u32(&mut self, i: u32) {
        self.write(&i.to_le_bytes());
    }
    fn write_u64(&mut self, i: u64) {
        self.write(&i.to_le_bytes());
    }
    fn write_u128(&mut self, i: u128) {
        self.write(&i.to_le_bytes());
    }
    fn write_usize(&mut self, i: usize) {
        // Lengths and discriminants: never above u32 in a world.
        self.write(&(i as u32).to_le_bytes());
    }
    fn finish(&self) -> u64 {
        unreachable!("fingerprints hash the collected bytes themselves")
    }
}

/// XXH3-128 of the bytes `write` feeds a hasher after `prefix`; never 0.
#[inline]
fn hash_with(prefix: u32, write: impl FnOnce(&mut Bytes)) -> u128 {
    let mut bytes = Bytes::new();
    bytes.write_u32(prefix);
    write(&mut bytes);
    xxh3_128(bytes.bytes()).max(1)
}

/// The prefixes of the hashes: the kind in the high byte, an element's place below (places
/// are below 2^16: `limits.rs`); the header's is 0.
const FOLIO: u32 = 1 << 24;
const INODE: u32 = 2 << 24;
const BLOCK: u32 = 3 << 24;
const HANDLE: u32 = 4 << 24;
const TASK: u32 = 5 << 24;

/// The hash of the element at place `i` of a vector of kind `kind`.
fn element<T: Hash>(kind: u32, i: usize, x: &T) -> u128 {
    hash_with(kind | i as u32, |h| x.hash(h))
}

/// The header's hash: `hash_with(0, |h| w.hash_header(h))`, from one buffer written at fixed
/// offsets (`World::header_bytes`), without a `Hasher`'s writes: the header is hashed after
/// every step.
fn header(w: &World) -> u128 {
    let mut bytes = [0u8; 4 + World::HEADER_MAX];
    let (prefix, rest) = bytes.split_at_mut(4);
    prefix.copy_from_slice(&0u32.to_le_bytes());
    let rest: &mut [u8; World::HEADER_MAX] = rest.try_into().expect("the buffer's tail");
    let n = 4 + w.header_bytes(rest);
    xxh3_128(&bytes[..n]).max(1)
}

/// The sum of the element hashes of `v`: those it remembers (when `remembered`), the others
/// computed.
fn sum<T: Hash>(kind: u32, v: &Slots<T>, remembered: bool) -> u128 {
    let mut s = 0u128;
    for (i, (&c, x)) in v.cached().iter().zip(v.iter()).enumerate() {
        s = s.wrapping_add(if remembered && c != 0 { c } else { element(kind, i, x) });
    }
    s
}

/// The sum of the element hashes of `v`, computing and remembering those it does not know.
fn refresh<T: Hash>(kind: u32, v: &mut Slots<T>) -> u128 {
    v.refresh(|i, x| element(kind, i, x))
}

/// The fingerprint of a world.
pub fn fingerprint(w: &World) -> u128 {
    total(w, true)
}

/// The fingerprint of `w` from every element's hash computed again.
pub fn afresh(w: &World) -> u128 {
    total(w, false)
}

fn total(w: &World, remembered: bool) -> u128 {
    header(w)
        .wrapping_add(sum(FOLIO, &w.folios, remembered))
        .wrapping_add(sum(INODE, &w.inodes, remembered))
        .wrapping_add(sum(BLOCK, &w.blocks, remembered))
        .wrapping_add(sum(HANDLE, &w.handles, remembered))
        .wrapping_add(sum(TASK, &w.tasks, remembered))
}

/// `fingerprint`, remembering every element's hash in `w`, so that a copy of `w` stepped once
/// rehashes only the elements the step reached.
///
/// Debug builds (the tests) check every such fingerprint against one computed from every
/// element afresh: a remembered hash that went stale (a way to reach an element mutably that
/// `Slots` does not see) fails there, naming the rule.
pub fn fingerprint_mut(w: &mut World) -> u128 {
    let fp = header(w)
        .wrapping_add(refresh(FOLIO, &mut w.folios))
        .wrapping_add(refresh(INODE, &mut w.inodes))
        .wrapping_add(refresh(BLOCK, &mut w.blocks))
        .wrapping_add(refresh(HANDLE, &mut w.handles))
        .wrapping_add(refresh(TASK, &mut w.tasks));
    debug_assert_eq!(fp, afresh(w), "model::slots: a remembered element hash went stale");
    fp
}

/// Computes and remembers the hash of every element of `w` it does not remember (the header's
/// is not kept): what a stored world carries (`collapse`).
pub fn remember(w: &mut World) {
    refresh(FOLIO, &mut w.folios);
    refresh(INODE, &mut w.inodes);
    refresh(BLOCK, &mut w.blocks);
    refresh(HANDLE, &mut w.handles);
    refresh(TASK, &mut w.tasks);
}

#[cfg(test)]
mod tests {
    use super::{afresh, fingerprint, fingerprint_mut};
    use crate::model::world::{Folio, World};
    use std::hash::{Hash, Hasher};

    /// The bytes `write` feeds a hasher, collected the plain way (lengths as u32).
    fn plain(write: impl FnOnce(&mut Plain)) -> Vec<u8> {
        let mut p = Plain(Vec::new());
        write(&mut p);
        p.0
    }

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

    /// The fingerprint as the module doc defines it, computed the plain way: the header's
    /// XXH3-128 plus each element's, after a prefix of its kind and place, modulo 2^128.
    fn reference(w: &World) -> u128 {
        use xxhash_rust::xxh3::xxh3_128 as xxh3;
        fn prefixed(prefix: u32, write: impl FnOnce(&mut Plain)) -> Vec<u8> {
            plain(|p| {
                p.write(&prefix.to_le_bytes());
                write(p)
            })
        }
        fn elements<T: Hash>(kind: u32, v: &[T]) -> u128 {
            v.iter().enumerate().fold(0u128, |s, (i, x)| {
                let h = xxh3(&prefixed(kind << 24 | i as u32, |p| x.hash(p))).max(1);
                s.wrapping_add(h)
            })
        }
        xxh3(&prefixed(0, |p| w.hash_header(p)))
            .max(1)
            .wrapping_add(elements(1, &w.folios))
            .wrapping_add(elements(2, &w.inodes))
            .wrapping_add(elements(3, &w.blocks))
            .wrapping_add(elements(4, &w.handles))
            .wrapping_add(elements(5, &w.tasks))
    }

    fn pairs2() -> World {
        let source = crate::family::pairs(2).expect("two pairs");
        let sc = crate::scenario::parse::parse("pairs2.pin", &source).expect("parses");
        crate::model::program::compile(&sc).expect("compiles").initial
    }

    #[test]
    fn fingerprints_are_the_sum_the_module_doc_defines() {
        let small = pairs2();
        let mut big = small.clone();
        // Past the buffer's first 4 KiB: it grows, then serves a small world again.
        big.folios.resize(big.folios.len() + 400, Folio::free());
        for w in [&small, &big, &small] {
            assert_eq!(fingerprint(w), reference(w));
            let mut copy = w.clone();
            assert_eq!(fingerprint_mut(&mut copy), reference(w));
            assert_eq!(fingerprint(&copy), reference(w), "from the remembered hashes");
        }
        assert_ne!(fingerprint(&small), fingerprint(&big));
    }

    #[test]
    fn a_changed_element_changes_the_fingerprint_and_only_its_hash_is_redone() {
        let mut w = pairs2();
        let before = fingerprint_mut(&mut w);
        let mut copy = w.clone();
        copy.folios[3].dirty = !copy.folios[3].dirty;
        assert!(copy.folios.cached()[3] == 0 && copy.folios.cached()[2] != 0);
        let after = fingerprint_mut(&mut copy);
        assert_ne!(after, before);
        assert_eq!(after, reference(&copy));
        assert_eq!(afresh(&copy), after);
        // Elements that swap places change the fingerprint: a place is part of its hash.
        let mut swapped = w.clone();
        swapped.tasks.swap(0, 1);
        assert_ne!(fingerprint_mut(&mut swapped), before);
        assert_eq!(fingerprint(&swapped), reference(&swapped));
    }

    /// A review found exact collisions when an element's place was XXH3's seed: on 16-byte
    /// inputs (a block) the seed is XORed into the input, so the block at place 0 hashed as the
    /// block at place 2 with a few low bits flipped, and these two worlds had one fingerprint.
    #[test]
    fn blocks_that_trade_fields_across_places_stay_apart() {
        use crate::model::world::{Block, BlockContent, Data, FileId, Tag};
        let content = |tag, ver, origin, csum_ok| BlockContent {
            data: Data { tag: Tag(tag), ver, origin },
            csum_ok,
        };
        let block = |file, durable| Block { owner: Some((FileId(file), 3)), durable, cached: None };
        let mut a = pairs2();
        assert!(a.blocks.len() >= 3);
        let mut b = a.clone();
        a.blocks[0] = block(0, content(5, 1, 4, true));
        a.blocks[2] = block(6, content(7, 2, 388, true));
        b.blocks[0] = block(0, content(7, 2, 388, false));
        b.blocks[2] = block(6, content(5, 1, 4, false));
        assert_ne!(fingerprint(&a), fingerprint(&b));
    }

    /// Bytes past the stack buffer (an inode of many pages) move to the heap, and every write
    /// after that goes there too: the collected bytes are the bytes written, in order.
    #[test]
    fn bytes_past_the_stack_buffer_are_kept_in_order() {
        use super::{Bytes, STACK};
        for chunk in [1usize, 7, 8, 16, 100] {
            let mut bytes = Bytes::new();
            let mut want = Vec::new();
            let mut n = 0u8;
            while want.len() < 3 * STACK {
                let piece: Vec<u8> = (0..chunk)
                    .map(|_| {
                        n = n.wrapping_add(1);
                        n
                    })
                    .collect();
                bytes.write(&piece);
                want.extend_from_slice(&piece);
                assert_eq!(
                    bytes.bytes(),
                    &want[..],
                    "after {} bytes in chunks of {chunk}",
                    want.len()
                );
            }
        }
    }
}
