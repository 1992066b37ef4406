//! The stored form of a world in a wide breadth-first level (`bfs`): collapse compression.
//!
//! A world is five vectors of elements (folios, inodes, blocks, handles, tasks) and a few
//! scalars, and the states of one exploration share most of their elements: a step changes one
//! to three of them. So each distinct element is kept once, in a table of its kind (`Tables`),
//! and a stored world is, per vector, its length and the table index of each element, then its
//! scalars (variable-length integers). This is SPIN's COLLAPSE mode (Holzmann, "State
//! Compression in SPIN", 1997), with a world's vectors as SPIN's processes and channels.
//!
//! Tables are keyed by an element's hash at its place: the hash the fingerprint sums
//! (`fingerprint`), which a world remembers for each element (`model::slots`). So:
//! - encoding a successor looks up only the elements its step reached: an element whose hash is
//!   the one its parent had at the same place takes the parent's index (`Refs`);
//! - decoding hands each element back with its hash, so the decoded world's fingerprint hashes
//!   its header only. The bincode form (`stored`) carries no hashes: a decoded world was rehashed
//!   whole, a tenth of the breadth-first search's time.
//!
//! Why a decoded world equals the one encoded. An index names the element whose hash at that
//! place the encoded world's element had. Two different elements of one kind at one place with
//! one hash would be an XXH3-128 collision, the event whose chance the fingerprint already
//! bounds (`fingerprint`: two different worlds share a fingerprint only through one). The
//! scalars are taken from a destructuring of the world, so a field added to `World` does not
//! compile until it is stored here. A test decodes every state of generated explorations and
//! compares it, and its remembered hashes, with the world encoded.
//!
//! Threads. During a level the tables are read-only and shared by the workers. An element a
//! worker meets that is in no table goes into the worker's own table of fresh elements, and its
//! stored worlds name it by a flagged index. Between levels one thread appends each worker's
//! fresh elements to the tables (`Tables::absorb`), in the level's order, which says where they
//! went (`Bases`); a world of the next level decodes its flagged indices by its part's bases.
//! The tables only grow: they hold each distinct element once (twice when two workers meet it
//! in the same level), far fewer than the states (measured in docs/performance.md).

use super::fingerprint;
use crate::model::slots::Slots;
use crate::model::task::Task;
use crate::model::world::{Block, FileId, Folio, Handle, Inode};
use crate::model::{LabelSet, World};
use rustc_hash::FxHashMap;

/// The distinct elements of one kind met so far, each with its hash at its place.
pub(super) struct Table<T> {
    items: Vec<T>,
    hashes: Vec<u128>,
    index: FxHashMap<u128, usize>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { items: Vec::new(), hashes: Vec::new(), index: FxHashMap::default() }
    }
}

impl<T: Clone> Table<T> {
    fn find(&self, hash: u128) -> Option<usize> {
        self.index.get(&hash).copied()
    }

    fn add(&mut self, hash: u128, x: &T) -> usize {
        let i = self.items.len();
        self.items.push(x.clone());
        self.hashes.push(hash);
        self.index.insert(hash, i);
        i
    }

    /// Appends `fresh`'s elements; returns the index its first one took.
    fn absorb(&mut self, fresh: Table<T>) -> usize {
        let base = self.items.len();
        for (j, &h) in fresh.hashes.iter().enumerate() {
            self.index.entry(h).or_insert(base + j);
        }
        self.items.extend(fresh.items);
        self.hashes.extend(fresh.hashes);
        base
    }
}

/// A table per kind of element.
#[derive(Default)]
pub(super) struct Tables {
    folios: Table<Folio>,
    inodes: Table<Inode>,
    blocks: Table<Block>,
    handles: Table<Handle>,
    tasks: Table<Task>,
}

/// Where a worker's fresh elements went in the tables, per kind (folios, inodes, blocks,
/// handles, tasks): the index its fresh element 0 took.
pub(super) type Bases = [usize; 5];

impl Tables {
    /// Appends a worker's fresh elements (`fresh`), and says where they went.
    pub(super) fn absorb(&mut self, fresh: Tables) -> Bases {
        [
            self.folios.absorb(fresh.folios),
            self.inodes.absorb(fresh.inodes),
            self.blocks.absorb(fresh.blocks),
            self.handles.absorb(fresh.handles),
            self.tasks.absorb(fresh.tasks),
        ]
    }

    /// Elements held, of every kind.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.folios.items.len()
            + self.inodes.items.len()
            + self.blocks.items.len()
            + self.handles.items.len()
            + self.tasks.items.len()
    }
}

/// The elements of the world decoded last, per kind: each one's hash and its table index. An
/// element of a successor with the same hash at the same place has the same index. Empty for a
/// world that was not decoded (a live one): its successors' elements are all looked up.
#[derive(Default)]
pub(super) struct Refs {
    kinds: [Vec<(u128, usize)>; 5],
}

impl Refs {
    pub(super) fn clear(&mut self) {
        for k in &mut self.kinds {
            k.clear();
        }
    }
}

/// Encodes `w` into `out` (replacing its contents): elements found in `tables` by index,
/// others added to `fresh` and named by a flagged index. `parent`: the world `w` was stepped
/// from, if it was decoded. Computes the element hashes `w` does not remember.
pub(super) fn encode_into(
    w: &mut World,
    parent: &Refs,
    tables: &Tables,
    fresh: &mut Tables,
    out: &mut Vec<u8>,
) {
    out.clear();
    fingerprint::remember(w);
    let World {
        folios,
        inodes,
        blocks,
        reserved_blocks,
        handles,
        tasks,
        events,
        pins_acquired,
        pins_released,
        labels,
        crashed,
        powered_off,
        ram_frames,
        dirtied,
    } = w;
    let [f, i, b, h, t] = &parent.kinds;
    put(folios, f, &tables.folios, &mut fresh.folios, out);
    put(inodes, i, &tables.inodes, &mut fresh.inodes, out);
    put(blocks, b, &tables.blocks, &mut fresh.blocks, out);
    put(handles, h, &tables.handles, &mut fresh.handles, out);
    put(tasks, t, &tables.tasks, &mut fresh.tasks, out);
    // The scalars, each a variable-length integer (serde's walk through them took as long as
    // the rest of the encoding).
    for v in [
        *reserved_blocks as u64,
        *events as u64,
        *pins_acquired as u64,
        *pins_released as u64,
        *crashed as u64 | (*powered_off as u64) << 1,
        *ram_frames as u64,
        dirtied.len() as u64,
    ] {
        put_varint(out, v);
    }
    out.extend(dirtied.iter().map(|f| f.0));
    labels.pack(|v| put_varint(out, v));
}

/// Makes `into` the world `bytes` encode (`bytes` from `encode_into`, with `tables` holding
/// every fresh element it named, at `bases`), reusing `into`'s memory; its elements' indices go
/// to `refs`.
pub(super) fn decode_into(
    bytes: &[u8],
    tables: &Tables,
    bases: &Bases,
    refs: &mut Refs,
    into: &mut World,
) {
    let mut r = bytes;
    let World {
        folios,
        inodes,
        blocks,
        reserved_blocks,
        handles,
        tasks,
        events,
        pins_acquired,
        pins_released,
        labels,
        crashed,
        powered_off,
        ram_frames,
        dirtied,
    } = into;
    let [f, i, b, h, t] = &mut refs.kinds;
    take(&mut r, &tables.folios, bases[0], f, folios);
    take(&mut r, &tables.inodes, bases[1], i, inodes);
    take(&mut r, &tables.blocks, bases[2], b, blocks);
    take(&mut r, &tables.handles, bases[3], h, handles);
    take(&mut r, &tables.tasks, bases[4], t, tasks);
    *reserved_blocks = get_varint(&mut r) as u16;
    *events = get_varint(&mut r) as u32;
    *pins_acquired = get_varint(&mut r) as u16;
    *pins_released = get_varint(&mut r) as u16;
    let flags = get_varint(&mut r);
    (*crashed, *powered_off) = (flags & 1 != 0, flags & 2 != 0);
    *ram_frames = get_varint(&mut r) as u8;
    let n = get_varint(&mut r) as usize;
    let (files, rest) = r.split_at(n);
    dirtied.clear();
    dirtied.extend(files.iter().map(|&f| FileId(f)));
    r = rest;
    *labels = LabelSet::unpack(|| get_varint(&mut r));
    debug_assert!(r.is_empty(), "a world's bytes end with its labels");
}

/// Writes the length of `v` and an index per element: `index << 1` in `table`, or
/// `index << 1 | 1` in `fresh`.
fn put<T: Clone>(
    v: &Slots<T>,
    parent: &[(u128, usize)],
    table: &Table<T>,
    fresh: &mut Table<T>,
    out: &mut Vec<u8>,
) {
    put_varint(out, v.len() as u64);
    for (i, (&hash, x)) in v.cached().iter().zip(v.iter()).enumerate() {
        debug_assert_ne!(hash, 0, "`remember` computed every element hash");
        let r = match parent.get(i) {
            Some(&(h, r)) if h == hash => r << 1,
            _ => match table.find(hash) {
                Some(r) => r << 1,
                None => fresh.find(hash).unwrap_or_else(|| fresh.add(hash, x)) << 1 | 1,
            },
        };
        put_varint(out, r as u64);
    }
}

/// Reads what `put` wrote into `v`: the elements, from `table`, with their hashes.
fn take<T: Clone>(
    r: &mut &[u8],
    table: &Table<T>,
    base: usize,
    refs: &mut Vec<(u128, usize)>,
    v: &mut Slots<T>,
) {
    let n = get_varint(r) as usize;
    refs.clear();
    v.refill(n, |_| {
        let x = get_varint(r) as usize;
        let i = (x >> 1) + if x & 1 == 1 { base } else { 0 };
        refs.push((table.hashes[i], i));
        (&table.items[i], table.hashes[i])
    });
}

/// LEB128: seven bits a byte, low first, the high bit set on every byte but the last.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(r: &mut &[u8]) -> u64 {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let (&b, rest) = r.split_first().expect("an index ends within its world's bytes");
        *r = rest;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return v;
        }
        shift += 7;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::fingerprint::{afresh, fingerprint_mut};
    use crate::model::{self, Cx};
    use crate::policy::Policy;

    /// Breadth-first over a scenario's states, two "workers" a level (the states split in
    /// halves, each with its own fresh table, absorbed in order), every state stored and
    /// decoded: each decoded world equals the world encoded, remembers exactly its elements'
    /// hashes, and has its fingerprint.
    fn round_trips(text: &str, policy: &str, max: usize) -> (usize, usize) {
        let sc = crate::scenario::parse::parse("t.pin", text).expect("parses");
        let prog = model::program::compile(&sc).expect("compiles");
        let policy = Policy::by_name(policy).expect("a preset");
        let mut cx = Cx::new(&prog, &policy);
        let mut tables = Tables::default();
        let mut seen = rustc_hash::FxHashSet::default();
        let mut root = prog.initial.clone();
        seen.insert(fingerprint_mut(&mut root));
        // A level: (bytes, part) with the parts' bases.
        let mut level: Vec<(Vec<u8>, usize)> = Vec::new();
        let mut bases: Vec<Bases> = Vec::new();
        let mut fresh = Tables::default();
        let mut out = Vec::new();
        encode_into(&mut root.clone(), &Refs::default(), &tables, &mut fresh, &mut out);
        level.push((out.clone(), 0));
        bases.push(tables.absorb(fresh));
        let mut states = 1;
        while !level.is_empty() && states < max {
            let mut parts = [Tables::default(), Tables::default()];
            let mut next = Vec::new();
            let half = level.len() / 2;
            let mut refs = Refs::default();
            for (k, (bytes, part)) in level.iter().enumerate() {
                let mut w = prog.initial.clone();
                decode_into(bytes, &tables, &bases[*part], &mut refs, &mut w);
                let fp = afresh(&w);
                assert_eq!(fingerprint_mut(&mut w), fp, "decoded hashes are the elements'");
                let worker = (k >= half) as usize;
                for m in model::moves(&w, &cx) {
                    let mut s = w.clone();
                    model::step(&mut s, &mut cx, m);
                    let fp = fingerprint_mut(&mut s);
                    if !seen.insert(fp) {
                        continue;
                    }
                    encode_into(&mut s, &refs, &tables, &mut parts[worker], &mut out);
                    next.push((out.clone(), worker, s));
                    states += 1;
                }
            }
            let [p0, p1] = parts;
            let b0 = tables.absorb(p0);
            let b1 = tables.absorb(p1);
            bases = vec![b0, b1];
            level = Vec::new();
            let mut refs = Refs::default();
            // Decoded into one world again and again: what was there before must not show.
            let mut d = prog.initial.clone();
            for (bytes, worker, s) in next {
                decode_into(&bytes, &tables, &bases[worker], &mut refs, &mut d);
                assert_eq!(d, s);
                let mut whole = Vec::new();
                crate::check::stored::encode_into(&s, &mut whole);
                assert_eq!(crate::check::stored::decode(&whole), s, "the bincode form too");
                assert_eq!(afresh(&d), afresh(&s));
                level.push((bytes, worker));
            }
        }
        (states, tables.len())
    }

    #[test]
    fn decoded_worlds_are_the_worlds_encoded() {
        let pairs = crate::family::pairs(2).expect("two pairs");
        let (states, elements) = round_trips(&pairs, "linux-5.18", 20_000);
        assert!(states >= 20_000, "{states} states");
        // 261 distinct elements for 25,033 states when this was written.
        assert!(elements * 10 < states, "{elements} elements for {states} states");
        let family = crate::family::pins(3, 2).expect("3x2");
        round_trips(&family, "linux-4.14", 20_000);
    }
}
