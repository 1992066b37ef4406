//! Exhaustive exploration, breadth-first and level by level, on as many threads as asked, with
//! results that do not depend on the thread count.
//!
//! Each level's states are expanded in parallel (successors computed and fingerprinted by the
//! workers); the successors are then merged in the order of the level, so the visited set, the
//! state ids and the witnesses are those of a sequential breadth-first search. A state is
//! expanded once (fingerprints, see `fingerprint`). Breadth-first order makes every witness a
//! shortest schedule to its label. The state graph is acyclic and labels are part of the state,
//! so pruning a state seen before loses no label.
//!
//! Memory per state: a 16-byte fingerprint and a parent link (8 bytes); worlds are kept, encoded,
//! for one level only.

use super::{crash, fingerprint::fingerprint, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;
use rustc_hash::FxHashSet;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// Levels up to this many states keep their worlds live; wider ones keep them encoded (an
/// encoded world takes a few hundred bytes where a live one takes kilobytes, but decoding costs
/// more than cloning).
const LIVE_LEVEL_MAX: usize = 4096;

/// A state of a level: its world, live or encoded (bincode) in the level's buffer.
enum Stored {
    Live(World),
    Encoded(u32, u32),
}

/// A level of the search: its states' ids and their worlds.
#[derive(Default)]
struct Level {
    ids: Vec<u32>,
    items: Vec<Stored>,
    bytes: Vec<u8>,
}

impl Level {
    fn push(&mut self, id: u32, world: Stored, from: &[u8]) {
        let item = match world {
            Stored::Live(w) => Stored::Live(w),
            Stored::Encoded(start, len) => {
                let at = self.bytes.len() as u32;
                self.bytes.extend_from_slice(&from[start as usize..(start + len) as usize]);
                Stored::Encoded(at, len)
            }
        };
        self.ids.push(id);
        self.items.push(item);
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.items.clear();
        self.bytes.clear();
    }
}

/// A move, the fingerprint of the state it leads to, and that state (live, or where its
/// encoding is in the worker's buffer); `None` when the state was seen before.
type Successor = (Move, u128, Option<Stored>);

/// What expanding one state gave.
struct Expansion {
    /// The labels of the interleaving's end, when no move is left.
    terminal: Option<LabelSet>,
    /// Power failures after this state (`--crash`): the schedule suffix and the labels.
    crashes: Vec<(String, LabelSet)>,
    /// Each move's fingerprint, and where its encoded world is in the worker's buffer, unless
    /// the state was seen on an earlier level.
    successors: Vec<Successor>,
}

/// Expands `w`, appending new successors' encodings to `out`. Successors already in `seen`
/// (states of earlier levels) or in `mine` (encoded earlier by this worker in this level) are
/// not encoded again.
fn expand(
    w: World,
    cx: &mut Cx,
    opts: &ExploreOptions,
    seen: &FxHashSet<u128>,
    mine: &mut FxHashSet<u128>,
    live: bool,
    out: &mut Vec<u8>,
) -> Expansion {
    let crashes = if opts.crash { crash::outcomes(&w, cx) } else { Vec::new() };
    let moves = if opts.reduction { model::reduced_moves(&w, cx) } else { model::moves(&w, cx) };
    if moves.is_empty() {
        let mut end = w;
        model::finish(&mut end, cx);
        return Expansion { terminal: Some(end.labels), crashes, successors: Vec::new() };
    }
    let mut successors = Vec::with_capacity(moves.len());
    let mut w = Some(w);
    for (i, &m) in moves.iter().enumerate() {
        // The last move takes the world itself: one clone fewer per state.
        let mut next = if i + 1 == moves.len() {
            w.take().expect("taken once")
        } else {
            w.as_ref().expect("not taken yet").clone()
        };
        model::step(&mut next, cx, m);
        let fp = fingerprint(&next);
        let stored = (!seen.contains(&fp) && mine.insert(fp)).then(|| {
            if live {
                return Stored::Live(next);
            }
            let start = out.len();
            bincode::serialize_into(&mut *out, &next).expect("a world encodes");
            Stored::Encoded(start as u32, (out.len() - start) as u32)
        });
        successors.push((m, fp, stored));
    }
    Expansion { terminal: None, crashes, successors }
}

/// Expands the states `items` (taken out of their level; encoded ones point into `bytes`) into
/// one worker's results. `live`: keep new states live rather than encoded.
#[allow(clippy::too_many_arguments)]
fn expand_items(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    items: Vec<Stored>,
    bytes: &[u8],
    live: bool,
    seen: &FxHashSet<u128>,
    mut out: Vec<u8>,
) -> (Vec<u8>, Vec<Expansion>) {
    let mut cx = Cx::new(prog, policy);
    out.clear();
    let mut mine = FxHashSet::default();
    let expansions = items
        .into_iter()
        .map(|item| {
            let w = match item {
                Stored::Live(w) => w,
                Stored::Encoded(start, len) => {
                    let b = &bytes[start as usize..(start + len) as usize];
                    bincode::deserialize(b).expect("a world decodes from its own encoding")
                }
            };
            expand(w, &mut cx, opts, seen, &mut mine, live, &mut out)
        })
        .collect();
    (out, expansions)
}

/// Expands a level (taking its worlds), in parallel when it is large enough to pay for the
/// threads; the chunks come back in the level's order. Encoding buffers come from `pool` (reused
/// from level to level, so memory is not handed back to the kernel and zeroed again).
fn expand_level(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    level: &mut Level,
    seen: &FxHashSet<u128>,
    pool: &mut Vec<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<Expansion>)> {
    let threads = opts.threads.max(1);
    let live = level.len() <= LIVE_LEVEL_MAX;
    let mut items = std::mem::take(&mut level.items);
    let bytes = &level.bytes;
    if threads == 1 || items.len() < 64 {
        let buf = pool.pop().unwrap_or_default();
        return vec![expand_items(prog, policy, opts, items, bytes, live, seen, buf)];
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks = Vec::new();
    while !items.is_empty() {
        let rest = items.split_off(chunk.min(items.len()));
        chunks.push(std::mem::replace(&mut items, rest));
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| {
                let buf = pool.pop().unwrap_or_default();
                s.spawn(move || expand_items(prog, policy, opts, c, bytes, live, seen, buf))
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("an explorer thread panicked")).collect()
    })
}

/// The moves from the initial world to state `id`.
fn path(parents: &[(u32, Move)], mut id: u32) -> Vec<Move> {
    let mut moves = Vec::new();
    while id != 0 {
        let (parent, m) = parents[id as usize];
        moves.push(m);
        id = parent;
    }
    moves.reverse();
    moves
}

/// Resident memory of this process, in bytes, where /proc tells it.
fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

struct Progress {
    start: Instant,
    shown: bool,
    enabled: bool,
}

impl Progress {
    fn new(enabled: bool) -> Progress {
        Progress {
            start: Instant::now(),
            shown: false,
            enabled: enabled && std::io::stderr().is_terminal(),
        }
    }

    fn show(&mut self, states: u64, depth: usize) {
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

    fn done(&self) {
        if self.shown {
            let _ = write!(std::io::stderr().lock(), "\r{:60}\r", "");
        }
    }
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut out = Exploration::new("exhaustive");
    let root = prog.initial.clone();
    let mut visited: FxHashSet<u128> = FxHashSet::default();
    visited.insert(fingerprint(&root));
    let mut parents: Vec<(u32, Move)> = vec![(0, Move { task: 0, skip: false })];
    let mut level = Level::default();
    level.push(0, Stored::Live(root), &[]);
    let mut next = Level::default();
    let mut pool: Vec<Vec<u8>> = Vec::new();
    out.states = 1;
    let mut progress = Progress::new(opts.progress);
    let mut depth = 0;
    'levels: while level.len() > 0 {
        if interrupted() {
            out.stop("interrupted".to_string());
            break;
        }
        if depth >= limits::STEPS_MAX {
            out.stop(format!("a schedule longer than {} steps", limits::STEPS_MAX));
            break;
        }
        let mut chunks = expand_level(prog, policy, opts, &mut level, &visited, &mut pool);
        next.clear();
        let mut ids = level.ids.iter();
        for (bytes, expansions) in chunks.iter_mut() {
            for e in expansions.iter_mut() {
                let id = *ids.next().expect("one expansion per state");
                for (suffix, labels) in &e.crashes {
                    found.record(labels, || path(&parents, id), Some(suffix));
                }
                if let Some(labels) = &e.terminal {
                    found.record(labels, || path(&parents, id), None);
                }
                for (m, fp, stored) in e.successors.drain(..) {
                    out.transitions += 1;
                    let Some(stored) = stored.filter(|_| visited.insert(fp)) else { continue };
                    out.states += 1;
                    if visited.len() > opts.max_states {
                        out.stop(format!("--max-states {} reached", opts.max_states));
                        break 'levels;
                    }
                    parents.push((id, m));
                    next.push((parents.len() - 1) as u32, stored, bytes);
                }
            }
        }
        pool.extend(chunks.into_iter().map(|(bytes, _)| bytes));
        if let Some(max) = opts.max_memory {
            if resident_bytes().is_some_and(|rss| rss > max) {
                out.stop(format!("--max-memory {max} reached"));
                break;
            }
        }
        depth += 1;
        progress.show(out.states, depth);
        std::mem::swap(&mut level, &mut next);
    }
    progress.done();
    out
}
