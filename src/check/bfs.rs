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

/// A level of the search: its states' ids and their worlds, encoded (bincode) end to end in
/// one buffer. An encoded world takes a few hundred bytes where a live one takes kilobytes.
#[derive(Default)]
struct Level {
    ids: Vec<u32>,
    spans: Vec<(u32, u32)>,
    bytes: Vec<u8>,
}

impl Level {
    fn push(&mut self, id: u32, encoded: &[u8]) {
        let start = self.bytes.len() as u32;
        self.bytes.extend_from_slice(encoded);
        self.ids.push(id);
        self.spans.push((start, encoded.len() as u32));
    }

    fn world(&self, k: usize) -> World {
        let (start, len) = self.spans[k];
        let bytes = &self.bytes[start as usize..(start + len) as usize];
        bincode::deserialize(bytes).expect("a world decodes from its own encoding")
    }

    fn len(&self) -> usize {
        self.ids.len()
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.spans.clear();
        self.bytes.clear();
    }
}

/// A move, the fingerprint of the state it leads to, and where that state's encoding is in the
/// worker's buffer (`None` when the state was seen before).
type Successor = (Move, u128, Option<(u32, u32)>);

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
    for &m in &moves {
        let mut next = w.clone();
        model::step(&mut next, cx, m);
        let fp = fingerprint(&next);
        let span = (!seen.contains(&fp) && mine.insert(fp)).then(|| {
            let start = out.len();
            bincode::serialize_into(&mut *out, &next).expect("a world encodes");
            (start as u32, (out.len() - start) as u32)
        });
        successors.push((m, fp, span));
    }
    Expansion { terminal: None, crashes, successors }
}

/// Expands states `range` of `level` into one worker's results.
fn expand_range(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    level: &Level,
    range: std::ops::Range<usize>,
    seen: &FxHashSet<u128>,
    mut out: Vec<u8>,
) -> (Vec<u8>, Vec<Expansion>) {
    let mut cx = Cx::new(prog, policy);
    out.clear();
    let mut mine = FxHashSet::default();
    let expansions =
        range.map(|k| expand(level.world(k), &mut cx, opts, seen, &mut mine, &mut out)).collect();
    (out, expansions)
}

/// Expands a level, in parallel when it is large enough to pay for the threads; the chunks come
/// back in the level's order. Encoding buffers come from `pool` (reused from level to level, so
/// memory is not handed back to the kernel and zeroed again).
fn expand_level(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    level: &Level,
    seen: &FxHashSet<u128>,
    pool: &mut Vec<Vec<u8>>,
) -> Vec<(Vec<u8>, Vec<Expansion>)> {
    let threads = opts.threads.max(1);
    if threads == 1 || level.len() < 64 {
        let buf = pool.pop().unwrap_or_default();
        return vec![expand_range(prog, policy, opts, level, 0..level.len(), seen, buf)];
    }
    let chunk = level.len().div_ceil(threads);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..level.len())
            .step_by(chunk)
            .map(|start| {
                let range = start..(start + chunk).min(level.len());
                let buf = pool.pop().unwrap_or_default();
                s.spawn(move || expand_range(prog, policy, opts, level, range, seen, buf))
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
    level.push(0, &bincode::serialize(&root).expect("a world encodes"));
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
        let chunks = expand_level(prog, policy, opts, &level, &visited, &mut pool);
        next.clear();
        let mut ids = level.ids.iter();
        for (bytes, expansions) in &chunks {
            for e in expansions {
                let id = *ids.next().expect("one expansion per state");
                for (suffix, labels) in &e.crashes {
                    found.record(labels, || path(&parents, id), Some(suffix));
                }
                if let Some(labels) = &e.terminal {
                    found.record(labels, || path(&parents, id), None);
                }
                for &(m, fp, span) in &e.successors {
                    out.transitions += 1;
                    let Some((start, len)) = span.filter(|_| visited.insert(fp)) else { continue };
                    out.states += 1;
                    if visited.len() > opts.max_states {
                        out.stop(format!("--max-states {} reached", opts.max_states));
                        break 'levels;
                    }
                    parents.push((id, m));
                    let encoded = &bytes[start as usize..(start + len) as usize];
                    next.push((parents.len() - 1) as u32, encoded);
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
