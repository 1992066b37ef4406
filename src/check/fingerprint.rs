//! World fingerprints: the bytes a world's `Hash` implementation writes, hashed with XXH3-128.
//! Visited states are kept as fingerprints only (16 bytes each); a collision would prune one
//! state, with a probability below 10^-20 for the state counts pincheck reaches.

use crate::model::World;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};

/// Collects the bytes `Hash` feeds a hasher, to hash them in one pass.
struct Bytes<'a>(&'a mut Vec<u8>);

impl Hasher for Bytes<'_> {
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
    static BUFFER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

/// The fingerprint of a world.
pub fn fingerprint(w: &World) -> u128 {
    BUFFER.with(|b| {
        let mut buf = b.borrow_mut();
        buf.clear();
        w.hash(&mut Bytes(&mut buf));
        xxhash_rust::xxh3::xxh3_128(&buf)
    })
}

/// A set of fingerprints. Fingerprints are already uniformly random, so the set's hash is the
/// fingerprint's low 64 bits, not a second hash of them.
pub type FingerprintSet = std::collections::HashSet<u128, std::hash::BuildHasherDefault<Low64>>;

/// The hasher of [`FingerprintSet`]: it keeps the low 64 bits of the one `u128` it is given.
#[derive(Default)]
pub struct Low64(u64);

impl Hasher for Low64 {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u128` keys reach this hasher; any other input still hashes, by folding.
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}
