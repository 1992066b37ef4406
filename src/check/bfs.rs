//! Exhaustive exploration, breadth-first and level by level, on as many threads as asked, with
//! results that do not depend on the thread count.
//!
//! Each level's states are expanded in parallel (successors computed and fingerprinted by the
//! workers); the successors are then merged in the order of the level, so the visited set, the
//! state ids and the witnesses are those of a sequential breadth-first search. A level's only
//! worker (one thread, or a level too small to share) inserts into the visited set itself, one
//! probe per successor, where workers that share a level look up the set and then their own
//! (`Lookup`), and the merge inserts. A state is
//! expanded once (fingerprints, see `fingerprint`). Breadth-first order makes every witness a
//! shortest schedule to its label. The state graph is acyclic and labels are part of the state,
//! so pruning a state seen before loses no label.
//!
//! Memory per state: a 16-byte fingerprint and a parent link (8 bytes); worlds are kept for one
//! level only, live while a level is small, otherwise encoded (`collapse`: an index per element
//! into tables of the distinct elements, and the world's scalars) into fixed-size chunks
//! that each worker fills and that become the next level as they are: no encoded world is
//! copied from buffer to buffer, no buffer is reallocated as it grows, and a position is a
//! (chunk, offset) pair, so no level size can overflow it. Chunks are recycled from level to
//! level. The memory bound (`budget`) is checked while a level grows; past it the search stops
//! and says so (`Stop::Memory`), and `check::explore` may go on depth-first (`dfs`).

use super::budget::{self, Budget};
use super::collapse::{self, Bases, Refs, Tables};
use super::reduce::Reducer;
use super::{
    crash,
    fingerprint::{fingerprint, fingerprint_mut},
    interrupted,
    visited::FingerprintSet,
    Exploration, ExploreOptions, Findings,
};
use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

/// Levels up to this many states produce live successors; wider ones encode them (an encoded
/// world takes a hundred-odd bytes where a live one takes kilobytes, but decoding costs more
/// than cloning).
const LIVE_LEVEL_MAX: usize = if cfg!(test) { 8 } else { 4096 };

/// How many successors ahead of its insertion into the visited set a successor's slot is
/// prefetched.
const AHEAD: usize = 8;

/// Bytes of one storage chunk.
/// (Small in unit tests, so that levels span many chunks and many are encoded.)
const CHUNK_BYTES: usize = if cfg!(test) { 4096 } else { 1 << 20 };

/// Uncompressed bytes of one frame: encoded worlds are gathered into frames of about this size,
/// and each frame is compressed (LZ4, whose window is 64 KiB) into a chunk. Worlds of one level
/// differ in a few fields, so a frame compresses several times over.
const FRAME_BYTES: usize = if cfg!(test) { 1024 } else { 64 << 10 };

/// Where an encoded world is: its frame (in the level's list) and its bytes in that frame,
/// uncompressed.
#[derive(Clone, Copy, Debug)]
struct Loc {
    frame: u32,
    start: u32,
    len: u32,
}

/// A frame: its bytes in a chunk, LZ4-compressed (`raw` bytes uncompressed) or, for the last
/// frame of a worker's part, as they are (`packed` false).
#[derive(Clone, Copy, Debug)]
struct Frame {
    chunk: u32,
    start: u32,
    len: u32,
    raw: u32,
    packed: bool,
}

/// Chunks handed back by an expanded level, for the next ones to fill.
#[derive(Default)]
struct Pool(Mutex<Vec<Vec<u8>>>);

impl Pool {
    fn take(&self, at_least: usize) -> Vec<u8> {
        let reused = self.0.lock().ok().and_then(|mut p| p.pop());
        match reused {
            Some(c) if c.capacity() >= at_least => c,
            _ => Vec::with_capacity(CHUNK_BYTES.max(at_least)),
        }
    }

    /// Takes back chunks for reuse; a worker's last, uncompressed frame (smaller than a chunk)
    /// is freed instead.
    fn give(&self, chunks: impl IntoIterator<Item = Vec<u8>>) {
        if let Ok(mut p) = self.0.lock() {
            p.extend(chunks.into_iter().filter(|c| c.capacity() >= CHUNK_BYTES).map(|mut c| {
                c.clear();
                c
            }));
        }
    }

    /// Keeps at most `n` spare chunks.
    fn trim(&self, n: usize) {
        if let Ok(mut p) = self.0.lock() {
            p.truncate(n);
        }
    }
}

/// Encoded worlds in compressed frames, in chunks that never reallocate.
#[derive(Default)]
struct Arena {
    chunks: Vec<Vec<u8>>,
    frames: Vec<Frame>,
    /// The frame being filled, uncompressed (a worker's only).
    open: Vec<u8>,
    /// Where a frame is compressed before it is copied into a chunk.
    packed: Vec<u8>,
}

impl Arena {
    /// Appends `bytes`; `None` when a new chunk would not fit under the memory bound.
    fn push(&mut self, bytes: &[u8], pool: &Pool, budget: &Budget) -> Option<Loc> {
        if !self.open.is_empty() && self.open.len() + bytes.len() > FRAME_BYTES {
            self.seal(pool, budget)?;
        }
        let start = self.open.len();
        self.open.extend_from_slice(bytes);
        // A frame holds at most max(FRAME_BYTES, one world's encoding) bytes: far below 4 GiB.
        Some(Loc { frame: self.frames.len() as u32, start: start as u32, len: bytes.len() as u32 })
    }

    /// Compresses the open frame into a chunk; `None` when a new chunk would not fit under the
    /// memory bound.
    fn seal(&mut self, pool: &Pool, budget: &Budget) -> Option<()> {
        let raw = self.open.len();
        self.packed.resize(lz4_flex::block::get_maximum_output_size(raw), 0);
        let len = lz4_flex::block::compress_into(&self.open, &mut self.packed)
            .expect("the output holds the largest compression of the frame");
        let (chunk, start) = self.room(len, pool, budget)?;
        self.chunks[chunk].extend_from_slice(&self.packed[..len]);
        self.frames.push(Frame {
            chunk: chunk as u32,
            start: start as u32,
            len: len as u32,
            raw: raw as u32,
            packed: true,
        });
        self.open.clear();
        Some(())
    }

    /// A chunk with `len` bytes free, and where they start.
    fn room(&mut self, len: usize, pool: &Pool, budget: &Budget) -> Option<(usize, usize)> {
        let fits = self.chunks.last().is_some_and(|c| c.capacity() - c.len() >= len);
        if !fits {
            if !budget.fits(CHUNK_BYTES as u64) {
                return None;
            }
            self.chunks.push(pool.take(len));
        }
        let chunk = self.chunks.len() - 1;
        Some((chunk, self.chunks[chunk].len()))
    }

    /// Ends the worker's filling: the open frame becomes a chunk of its own, uncompressed
    /// (its memory is already held, so this needs none more).
    fn close(&mut self) {
        if self.open.is_empty() {
            return;
        }
        let open = std::mem::take(&mut self.open);
        self.frames.push(Frame {
            chunk: self.chunks.len() as u32,
            start: 0,
            len: open.len() as u32,
            raw: open.len() as u32,
            packed: false,
        });
        self.chunks.push(open);
    }

    /// The bytes of `l`, decompressing its frame into `un` unless it is there already.
    fn get<'a>(&'a self, l: Loc, un: &'a mut Unpacked) -> &'a [u8] {
        let f = self.frames[l.frame as usize];
        let stored = &self.chunks[f.chunk as usize][f.start as usize..(f.start + f.len) as usize];
        let bytes = if !f.packed {
            stored
        } else {
            if un.frame != Some(l.frame) {
                un.bytes.resize(f.raw as usize, 0);
                let n = lz4_flex::block::decompress_into(stored, &mut un.bytes)
                    .expect("a frame decompresses from its own compression");
                debug_assert_eq!(n, f.raw as usize);
                un.frame = Some(l.frame);
            }
            &un.bytes[..]
        };
        &bytes[l.start as usize..(l.start + l.len) as usize]
    }

    /// Appends `other`'s frames (and their chunks) after this arena's; returns the number of
    /// frames before them, to add to `other`'s frame numbers.
    fn append(&mut self, other: &mut Arena) -> u32 {
        let (chunks, frames) = (self.chunks.len() as u32, self.frames.len() as u32);
        self.chunks.append(&mut other.chunks);
        self.frames.extend(other.frames.drain(..).map(|f| Frame { chunk: f.chunk + chunks, ..f }));
        frames
    }
}

/// The frame a worker decompressed last: the states of a part are read in order, so each
/// frame is decompressed about once.
#[derive(Default)]
struct Unpacked {
    frame: Option<u32>,
    bytes: Vec<u8>,
}

/// A level of the search: its states' ids and their worlds, live (`live`) or encoded (`locs`
/// into `arena`, by `collapse`).
#[derive(Default)]
struct Level {
    ids: Vec<u32>,
    live: Vec<World>,
    locs: Vec<Loc>,
    arena: Arena,
    /// Per worker part of the expansion that stored the encoded worlds, in order: the index of
    /// its first world in `locs`, and where the fresh elements it named went in the tables.
    parts: Vec<(usize, Bases)>,
}

impl Level {
    fn len(&self) -> usize {
        self.ids.len()
    }

    /// Makes `into` world `i` (reusing its memory), and `refs` its elements' table indices
    /// (none for a live world).
    fn world(
        &self,
        i: usize,
        un: &mut Unpacked,
        tables: &Tables,
        refs: &mut Refs,
        into: &mut World,
    ) {
        if self.live.is_empty() {
            let part = self.parts.partition_point(|p| p.0 <= i) - 1;
            let bytes = self.arena.get(self.locs[i], un);
            collapse::decode_into(bytes, tables, &self.parts[part].1, refs, into);
        } else {
            refs.clear();
            into.clone_from(&self.live[i]);
        }
    }

    /// Empties the level, handing its chunks to `pool`.
    fn clear(&mut self, pool: &Pool) {
        self.ids.clear();
        self.live.clear();
        self.locs.clear();
        self.parts.clear();
        self.arena.frames.clear();
        pool.give(self.arena.chunks.drain(..));
    }
}

/// A new successor, live (its index in the worker's `live`) or encoded.
#[derive(Clone, Copy)]
enum New {
    Live,
    Encoded(Loc),
}

/// A move, the fingerprint of the state it leads to, and that state, which the worker stored
/// (it was in no earlier level and not stored before by this worker in this level). Moves to
/// states seen before are only counted: most moves are, and the level's memory is what bounds
/// the search.
struct Succ {
    fp: u128,
    m: Move,
    new: New,
}

/// One worker's expansion of a contiguous part of a level.
#[derive(Default)]
struct Part {
    /// States of the level given to this worker.
    len: usize,
    /// States of the part expanded (all of them unless the memory bound or an interrupt
    /// stopped the worker).
    done: usize,
    /// Per expanded state, in order: its moves, and how many of them lead to a state stored
    /// (in `succs`).
    counts: Vec<(u32, u32)>,
    succs: Vec<Succ>,
    /// Labels of interleavings ending at state `i` of the part.
    ends: Vec<(usize, LabelSet)>,
    /// Power failures after state `i`: the schedule suffix and the labels.
    crashes: Vec<(usize, String, LabelSet)>,
    live: Vec<World>,
    arena: Arena,
    /// The elements of the worlds in `arena` that were in no table (`collapse`).
    fresh: Tables,
    /// The fingerprints of the successors stored in this part (one worker of several).
    mine: FingerprintSet,
    /// The stored successors are in the visited set already: the level's only worker inserted
    /// them itself (`Lookup::Own`).
    owned: bool,
}

/// What the worker of one part needs.
struct Job<'a> {
    prog: &'a Program,
    policy: &'a Policy,
    opts: &'a ExploreOptions,
    level: &'a Level,
    tables: &'a Tables,
    live: bool,
    pool: &'a Pool,
    budget: &'a Budget,
}

impl Part {
    /// Empties the part for another level, keeping its vectors' memory: a level's successors
    /// fill vectors of tens of megabytes, and growing them afresh each level (copies and fresh
    /// pages) was a fifth of the search's time.
    fn recycle(&mut self) {
        let Part { len, done, counts, succs, ends, crashes, live, arena, fresh, mine, owned } =
            self;
        (*len, *done, *owned) = (0, 0, false);
        counts.clear();
        succs.clear();
        ends.clear();
        crashes.clear();
        live.clear();
        arena.chunks.clear();
        arena.frames.clear();
        arena.open.clear();
        *fresh = Tables::default();
        mine.clear();
    }
}

/// Where a worker looks its successors up.
enum Lookup<'a> {
    /// The level's only worker: the visited set itself, which it inserts each successor into
    /// (one probe per successor; the merge then inserts nothing).
    Own(&'a mut FingerprintSet),
    /// One of several workers: the visited set of the earlier levels, shared and read only,
    /// and the part's own set of the successors it stored (`Part::mine`). The merge inserts
    /// them into the visited set in the level's order, so that a state two parts both reached
    /// is the earlier part's, as in a sequential search.
    Shared(&'a FingerprintSet, FingerprintSet),
}

impl Lookup<'_> {
    /// Starts loading the slots `insert` will probe for `fp` (see `FingerprintSet::prefetch`).
    fn prefetch(&self, fp: u128) {
        match self {
            Lookup::Own(visited) => visited.prefetch(fp),
            Lookup::Shared(seen, mine) => {
                seen.prefetch(fp);
                mine.prefetch(fp);
            }
        }
    }

    /// Whether `fp` is new (in no earlier level and not stored before in this level), which
    /// it is from now on; None when the set it goes into would grow past the memory bound.
    /// Either way the set of successors found new is the same: those of a sequential search.
    fn insert(&mut self, fp: u128, budget: &Budget) -> Option<bool> {
        match self {
            Lookup::Own(visited) => {
                if visited.len() >= visited.capacity() && !budget.fits(visited.growth_bytes()) {
                    return None;
                }
                Some(visited.insert(fp))
            }
            Lookup::Shared(seen, mine) => Some(!seen.contains(fp) && mine.insert(fp)),
        }
    }

    /// Whether the part's own set is about to grow past the memory bound (checked every
    /// `budget::CHECK_EVERY` states; `insert` checks the visited set's growth itself).
    fn growth_refused(&self, budget: &Budget) -> bool {
        match self {
            Lookup::Own(_) => false,
            Lookup::Shared(_, mine) => {
                mine.len() == mine.capacity() && !budget.fits(mine.growth_bytes())
            }
        }
    }
}

/// A successor waiting for its lookup (`Worker::settle`): its fingerprint, move and world.
type Pending = (u128, Move, Box<World>);

/// What one worker of a level holds while it expands its states: the part it fills, where it
/// looks successors up, the worlds it decodes and copies into, and the bytes of the successor
/// being encoded.
struct Worker<'j, 'v> {
    job: &'j Job<'j>,
    part: Part,
    mine: Lookup<'v>,
    /// Worlds left by states and successors, to decode or copy into. Boxed: a world is some
    /// 500 bytes, and a successor moves several times (into the lookup queue, out of it, back
    /// here).
    #[allow(clippy::vec_box, reason = "boxed worlds move as pointers")]
    spares: Vec<Box<World>>,
    scratch: Vec<u8>,
}

/// Expands states `from..to` of the level into `part` (empty, recycled), looking successors up
/// in `mine`.
fn expand_part(job: &Job, from: usize, to: usize, mut part: Part, mine: Lookup) -> Part {
    let mut cx = Cx::new(job.prog, job.policy);
    let reducer = Reducer::new(&cx, job.opts.reduce, job.opts.crash);
    part.len = to - from;
    part.owned = matches!(mine, Lookup::Own(_));
    let mut me = Worker { job, part, mine, spares: Vec::new(), scratch: Vec::new() };
    let mut un = Unpacked::default();
    // The element indices of the state being expanded, and of the one before it, whose last
    // successor may still wait for its lookup (`carried`).
    let (mut refs, mut prev_refs) = (Refs::default(), Refs::default());
    // The last successor of the state expanded before, looked up only once the next state is
    // decoded and its moves computed, so that its slot of the visited set (prefetched when it
    // was fingerprinted) has arrived; with where that state's successors start in `succs`.
    let mut carried: Option<(usize, Pending)> = None;
    // The moves of the state being expanded (one vector for all).
    let mut moves = Vec::new();
    for i in from..to {
        let k = i - from;
        if k as u64 % budget::CHECK_EVERY == 0
            && k > 0
            && (interrupted() || !job.budget.fits(0) || me.mine.growth_refused(job.budget))
        {
            break;
        }
        // Decoded into a world a successor left.
        let mut w = me.spares.pop().unwrap_or_else(|| Box::new(job.prog.initial.clone()));
        std::mem::swap(&mut refs, &mut prev_refs);
        job.level.world(i, &mut un, job.tables, &mut refs, &mut w);
        if job.opts.crash {
            for (suffix, labels) in crash::outcomes(&w, &mut cx) {
                me.part.crashes.push((k, suffix, labels));
            }
        }
        reducer.moves_into(&w, &cx, &mut moves);
        if let Some(c) = carried.take() {
            if !me.settle_carried(&prev_refs, c) {
                break;
            }
        }
        if moves.is_empty() {
            model::finish(&mut w, &mut cx);
            me.part.ends.push((k, w.labels));
            me.keep_spare(w);
            me.part.counts.push((0, 0));
            me.part.done = k + 1;
            continue;
        }
        let before = me.part.succs.len();
        // Its element hashes first (a decoded world has them all, a live one may not): each
        // successor, a copy of it stepped once, then rehashes only what its step touched
        // (`fingerprint_mut`).
        fingerprint_mut(&mut w);
        let mut w = Some(w);
        let mut full = false;
        // Each successor is looked up in the visited set one successor later: its slot is
        // loaded (`prefetch`) while the next one is computed, since the set is far larger than
        // the caches. The order of the lookups, and so of the stored successors, is unchanged.
        let mut pending: Option<Pending> = None;
        for (j, &m) in moves.iter().enumerate() {
            // The last move takes the world itself: one copy fewer per state. The others copy
            // it into a world a successor left (`spares`), reusing its vectors.
            let mut next = if j + 1 == moves.len() {
                w.take().expect("taken once")
            } else {
                let w = w.as_ref().expect("not taken yet");
                match me.spares.pop() {
                    Some(mut s) => {
                        s.clone_from(w);
                        s
                    }
                    None => Box::new(World::clone(w)),
                }
            };
            model::step(&mut next, &mut cx, m);
            reducer.canonicalize(&mut next);
            let fp = fingerprint_mut(&mut next);
            me.mine.prefetch(fp);
            if let Some(p) = pending.replace((fp, m, next)) {
                if me.settle(&refs, p).is_none() {
                    full = true;
                    break;
                }
            }
        }
        if full {
            // This state's successors are not all stored: it counts as not expanded.
            me.part.succs.truncate(before);
            me.part.crashes.retain(|c| c.0 < k);
            break;
        }
        // Its last successor is looked up after the next state's decoding (`carried`), and
        // counted then.
        carried = pending.take().map(|p| (before, p));
        me.part.counts.push((moves.len() as u32, (me.part.succs.len() - before) as u32));
        me.part.done = k + 1;
    }
    if let Some(c) = carried.take() {
        // The state expanded last: `refs` are its elements' indices still.
        me.settle_carried(&refs, c);
    }
    let Worker { mut part, mine, .. } = me;
    part.arena.close();
    if let Lookup::Shared(_, mine) = mine {
        part.mine = mine;
    }
    part
}

impl Worker<'_, '_> {
    /// Settles the last successor of the part's last expanded state (whose elements' indices
    /// are `refs` and whose successors start at `from` in `part.succs`) and counts it with that
    /// state. False when the memory bound refused it: that state's expansion is then taken
    /// back, and it counts as not expanded (as a state whose successor is refused during its
    /// own expansion).
    fn settle_carried(&mut self, refs: &Refs, (from, pending): (usize, Pending)) -> bool {
        let stored = self.part.succs.len();
        if self.settle(refs, pending).is_none() {
            let part = &mut self.part;
            part.succs.truncate(from);
            part.counts.pop();
            part.done -= 1;
            let k = part.done;
            part.crashes.retain(|c| c.0 < k);
            return false;
        }
        let part = &mut self.part;
        part.counts.last_mut().expect("the state the successor came from").1 +=
            (part.succs.len() - stored) as u32;
        true
    }

    /// Stores successor `(fp, m, next)` of the state being expanded (whose elements' table
    /// indices are `refs`) unless it is in an earlier level or this worker stored it already; a
    /// world not kept goes back to `spares`. None when the memory bound refused its bytes or
    /// its slot.
    fn settle(&mut self, refs: &Refs, (fp, m, mut next): Pending) -> Option<()> {
        let job = self.job;
        if !self.mine.insert(fp, job.budget)? {
            self.keep_spare(next);
            return Some(());
        }
        let new = if job.live {
            self.part.live.push(*next);
            New::Live
        } else {
            collapse::encode_into(
                &mut next,
                refs,
                job.tables,
                &mut self.part.fresh,
                &mut self.scratch,
            );
            self.keep_spare(next);
            New::Encoded(self.part.arena.push(&self.scratch, job.pool, job.budget)?)
        };
        self.part.succs.push(Succ { fp, m, new });
        Some(())
    }

    /// Keeps `w` for a later state or successor to be copied into, unless three are kept
    /// already (a state, a successor being computed and one waiting for its lookup need no
    /// more).
    fn keep_spare(&mut self, w: Box<World>) {
        if self.spares.len() < 3 {
            self.spares.push(w);
        }
    }
}

/// Expands a level, in parallel when it is large enough to pay for the threads; the parts come
/// back in the level's order.
fn expand_level(
    job: &Job,
    visited: &mut FingerprintSet,
    recycled: &mut Vec<Part>,
) -> Vec<(usize, Part)> {
    let n = job.level.len();
    let threads = job.opts.threads.max(1);
    if threads == 1 || n < 64 {
        let part = recycled.pop().unwrap_or_default();
        return vec![(0, expand_part(job, 0, n, part, Lookup::Own(visited)))];
    }
    let seen = &*visited;
    let chunk = n.div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .step_by(chunk)
            .map(|from| {
                let to = (from + chunk).min(n);
                let mut part: Part = recycled.pop().unwrap_or_default();
                let mine = Lookup::Shared(seen, std::mem::take(&mut part.mine));
                (from, s.spawn(move || expand_part(job, from, to, part, mine)))
            })
            .collect();
        handles
            .into_iter()
            .map(|(from, h)| (from, h.join().expect("an explorer thread panicked")))
            .collect()
    })
}

/// The moves from the initial world to state `id`.
pub(super) fn path(parents: &[(u32, Move)], mut id: u32) -> Vec<Move> {
    let mut moves = Vec::new();
    while id != 0 {
        let (parent, m) = parents[id as usize];
        moves.push(m);
        id = parent;
    }
    moves.reverse();
    moves
}

pub(super) struct Progress {
    start: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    pub fn new(enabled: bool) -> Progress {
        Progress {
            start: Instant::now(),
            shown: false,
            enabled: enabled && std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&mut self, states: u64, depth: usize) {
        let secs = self.start.elapsed().as_secs_f64();
        if !self.enabled || secs < 1.0 {
            return;
        }
        self.shown = true;
        let mut e = std::io::stderr().lock();
        let _ =
            write!(e, "\r{states} states, {:.0} states/s, depth {depth}   ", states as f64 / secs);
        let _ = e.flush();
    }

    pub fn done(&self) {
        if self.shown {
            let _ = write!(std::io::stderr().lock(), "\r{:60}\r", "");
        }
    }
}

/// Why a breadth-first search stopped early, when it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Stop {
    Complete,
    /// The memory bound: a depth-first search needs far less.
    Memory,
    /// Any other limit (states, steps, an interrupt).
    Other,
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &Budget,
    found: &mut Findings,
) -> (Exploration, Stop) {
    let mut out = Exploration::new("exhaustive");
    let mut stop = Stop::Complete;
    let root = prog.initial.clone();
    let mut visited = FingerprintSet::default();
    visited.insert(fingerprint(&root));
    let mut parents: Vec<(u32, Move)> = vec![(0, Move { task: 0, skip: false })];
    let pool = Pool::default();
    let mut level = Level::default();
    level.ids.push(0);
    level.live.push(root);
    let mut next = Level::default();
    let mut tables = Tables::default();
    let mut recycled: Vec<Part> = Vec::new();
    out.states = 1;
    let mut progress = Progress::new(opts.progress);
    let mut depth = 0;
    let halt = |out: &mut Exploration, stop: &mut Stop, kind: Stop, why: String| {
        out.stop(why);
        *stop = kind;
    };
    'levels: while level.len() > 0 {
        if interrupted() {
            halt(&mut out, &mut stop, Stop::Other, "interrupted".to_string());
            break;
        }
        if depth >= limits::STEPS_MAX {
            let why = format!("a schedule longer than {} steps", limits::STEPS_MAX);
            halt(&mut out, &mut stop, Stop::Other, why);
            break;
        }
        let live = level.len() <= LIVE_LEVEL_MAX;
        let job =
            Job { prog, policy, opts, level: &level, tables: &tables, live, pool: &pool, budget };
        let parts = expand_level(&job, &mut visited, &mut recycled);
        next.clear(&pool);
        for (from, mut part) in parts {
            let base = next.arena.append(&mut part.arena);
            next.parts.push((next.locs.len(), tables.absorb(std::mem::take(&mut part.fresh))));
            let mut live_worlds = part.live.drain(..);
            let mut ends = part.ends.iter().peekable();
            let mut crashes = part.crashes.iter().peekable();
            // The successors are inserted in order, each one's slot of the visited set
            // prefetched `AHEAD` successors before (the set is far larger than the caches).
            let all = std::mem::take(&mut part.succs);
            for s in all.iter().take(AHEAD) {
                visited.prefetch(s.fp);
            }
            let mut succs = all.iter().enumerate();
            for (k, &(moves, stored)) in part.counts.iter().enumerate() {
                let id = level.ids[from + k];
                while let Some((_, suffix, labels)) = crashes.next_if(|c| c.0 == k) {
                    found.record(labels, || path(&parents, id), Some(suffix));
                }
                if let Some((_, labels)) = ends.next_if(|e| e.0 == k) {
                    found.record(labels, || path(&parents, id), None);
                }
                out.transitions += moves as u64;
                for (si, s) in succs.by_ref().take(stored as usize) {
                    if let Some(ahead) = all.get(si + AHEAD) {
                        visited.prefetch(ahead.fp);
                    }
                    let new = s.new;
                    let world = match new {
                        New::Live => Some(live_worlds.next().expect("one world per New::Live")),
                        New::Encoded(_) => None,
                    };
                    if !part.owned {
                        if visited.len() == visited.capacity()
                            && !budget.fits(visited.growth_bytes())
                        {
                            halt(&mut out, &mut stop, Stop::Memory, budget.reason());
                            break 'levels;
                        }
                        if !visited.insert(s.fp) {
                            continue;
                        }
                    }
                    out.states += 1;
                    if out.states % budget::CHECK_EVERY == 0 && !budget.fits(0) {
                        halt(&mut out, &mut stop, Stop::Memory, budget.reason());
                        break 'levels;
                    }
                    if out.states > opts.max_states as u64 {
                        let why = format!("--max-states {} reached", opts.max_states);
                        halt(&mut out, &mut stop, Stop::Other, why);
                        break 'levels;
                    }
                    if parents.len() == parents.capacity()
                        && !budget
                            .fits((parents.capacity() * std::mem::size_of::<(u32, Move)>()) as u64)
                    {
                        halt(&mut out, &mut stop, Stop::Memory, budget.reason());
                        break 'levels;
                    }
                    parents.push((id, s.m));
                    next.ids.push((parents.len() - 1) as u32);
                    match (new, world) {
                        (New::Encoded(loc), _) => {
                            next.locs.push(Loc { frame: loc.frame + base, ..loc })
                        }
                        (New::Live, Some(w)) => next.live.push(w),
                        (New::Live, None) => unreachable!("a live successor has its world"),
                    }
                }
            }
            if part.done < part.len {
                // A worker stopped early: this level is not fully expanded.
                if budget.over() {
                    halt(&mut out, &mut stop, Stop::Memory, budget.reason());
                } else {
                    halt(&mut out, &mut stop, Stop::Other, "interrupted".to_string());
                }
                break 'levels;
            }
            drop((live_worlds, succs));
            part.succs = all;
            part.recycle();
            recycled.push(part);
        }
        if !budget.fits(0) {
            halt(&mut out, &mut stop, Stop::Memory, budget.reason());
            break;
        }
        pool.trim(next.arena.chunks.len());
        depth += 1;
        progress.show(out.states, depth);
        std::mem::swap(&mut level, &mut next);
    }
    progress.done();
    (out, stop)
}

#[cfg(test)]
mod tests {
    use super::super::{explore, ExploreMode, ExploreOptions};
    use crate::policy::Policy;
    use crate::run::{self, Source};

    /// Encoded levels over many small chunks (the test constants), on one and two threads, give
    /// the results of the depth-first search, which stores no world.
    #[test]
    fn encoded_levels_in_chunks_give_what_depth_first_gives() {
        let text = "scenario big\nabout \"t\"\nfs ext4\ndisk 16\nmemory 8\nfile f 2 synced\n\
            thread a:\n  m = mmap f shared\n  signal go\n  store m[0] A\n  fsync f\n\
            thread b:\n  wait go\n  p = pin m[1] write\n  dma-write p[0] B\n  unpin p dirty\n\
            thread c:\n  wait go\n  maybe writeback f\n  maybe reclaim\n  maybe writeback f\n";
        let l = run::load(&Source { path: "big.pin".into(), text: text.into() }).unwrap();
        let p = Policy::by_name("linux-5.18").unwrap();
        let one = ExploreOptions { threads: 1, ..Default::default() };
        let a = explore(&l.program, &p, &one);
        let b = explore(&l.program, &p, &ExploreOptions { threads: 2, ..one.clone() });
        let d = explore(&l.program, &p, &ExploreOptions { mode: ExploreMode::DepthFirst, ..one });
        assert!(a.complete && a.states > 500, "{} states", a.states);
        assert_eq!(a, b);
        assert_eq!((a.states, a.transitions, &a.labels), (d.states, d.transitions, &d.labels));
        assert!(d.complete);
    }
}
