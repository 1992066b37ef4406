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
