//! A world's self-contained encoding: bincode with variable-length integers, so the many small
//! numbers of a world (refcounts, versions, lengths, enum tags, empty label words) take a byte
//! each instead of four or eight. What the processes of a distributed exploration exchange
//! (`distributed`); one process's breadth-first levels use `collapse`, which needs tables that
//! only that process holds. Decoding the bytes an encoding wrote gives back an equal world
//! (`collapse`'s test checks it on every state it decodes).

use crate::model::World;
use bincode::Options;

fn options() -> impl Options {
    bincode::DefaultOptions::new().with_varint_encoding().with_little_endian()
}

/// Encodes `w` into `out`, replacing its contents.
pub(super) fn encode_into(w: &World, out: &mut Vec<u8>) {
    out.clear();
    options().serialize_into(&mut *out, w).expect("a world encodes into memory");
}

/// The world `bytes` encodes; `bytes` come from `encode_into`.
pub(super) fn decode(bytes: &[u8]) -> World {
    options().deserialize(bytes).expect("a world decodes from its own encoding")
}
