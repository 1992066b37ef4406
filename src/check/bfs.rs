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
//! Memory per state: a 16-byte fingerprint and a parent link (8 bytes); full worlds are kept for
//! one level only.

use super::{crash, fingerprint::fingerprint, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;
use rustc_hash::FxHashSet;
use std::io::{IsTerminal, Write};
use std::time::Instant;

/// What expanding one state gave.
struct Expansion {
    /// The labels of the interleaving's end, when no move is left.
    terminal: Option<LabelSet>,
    /// Power failures after this state (`--crash`): the schedule suffix and the labels.
    crashes: Vec<(String, LabelSet)>,
    /// Each move's fingerprint, and its world unless the state was seen on an earlier level.
    successors: Vec<(Move, u128, Option<World>)>,
}

/// Expands `w`. Successors already in `seen` (states of earlier levels) are dropped at once, so
/// only new worlds travel back to the merge.
fn expand(w: World, cx: &mut Cx, opts: &ExploreOptions, seen: &FxHashSet<u128>) -> Expansion {
    let crashes = if opts.crash { crash::outcomes(&w, cx) } else { Vec::new() };
    let moves = model::moves(&w, cx);
    if moves.is_empty() {
        let mut end = w;
        model::finish(&mut end, cx);
        return Expansion { terminal: Some(end.labels), crashes, successors: Vec::new() };
    }
    let mut successors = Vec::with_capacity(moves.len());
    let (&last, rest) = moves.split_last().expect("moves is not empty");
    for &m in rest {
        let mut next = w.clone();
        model::step(&mut next, cx, m);
        successors.push((m, fingerprint(&next), Some(next)));
    }
    let mut next = w;
    model::step(&mut next, cx, last);
    successors.push((last, fingerprint(&next), Some(next)));
    for s in &mut successors {
        if seen.contains(&s.1) {
            s.2 = None;
        }
    }
    Expansion { terminal: None, crashes, successors }
}

/// Expands a level, in parallel when it is large enough to pay for the threads.
fn expand_level(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    level: Vec<World>,
    seen: &FxHashSet<u128>,
) -> Vec<Expansion> {
    let threads = opts.threads.max(1);
    if threads == 1 || level.len() < 64 {
        let mut cx = Cx::new(prog, policy);
        return level.into_iter().map(|w| expand(w, &mut cx, opts, seen)).collect();
    }
    let chunk = level.len().div_ceil(threads);
    let mut chunks: Vec<Vec<World>> = Vec::new();
    let mut rest = level;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        chunks.push(rest);
        rest = tail;
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|c| {
                s.spawn(move || {
                    let mut cx = Cx::new(prog, policy);
                    c.into_iter().map(|w| expand(w, &mut cx, opts, seen)).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().expect("an explorer thread panicked")).collect()
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
    let mut level: Vec<(u32, World)> = vec![(0, root)];
    out.states = 1;
    let mut progress = Progress::new(opts.progress);
    let mut depth = 0;
    'levels: while !level.is_empty() {
        if interrupted() {
            out.stop("interrupted".to_string());
            break;
        }
        if depth >= limits::STEPS_MAX {
            out.stop(format!("a schedule longer than {} steps", limits::STEPS_MAX));
            break;
        }
        let (ids, worlds): (Vec<u32>, Vec<World>) = level.into_iter().unzip();
        let expansions = expand_level(prog, policy, opts, worlds, &visited);
        let mut next = Vec::new();
        for (id, e) in ids.into_iter().zip(expansions) {
            for (suffix, labels) in &e.crashes {
                found.record(labels, || path(&parents, id), Some(suffix));
            }
            if let Some(labels) = &e.terminal {
                found.record(labels, || path(&parents, id), None);
            }
            for (m, fp, w) in e.successors {
                out.transitions += 1;
                let Some(w) = w.filter(|_| visited.insert(fp)) else { continue };
                out.states += 1;
                if visited.len() > opts.max_states {
                    out.stop(format!("--max-states {} reached", opts.max_states));
                    break 'levels;
                }
                parents.push((id, m));
                next.push(((parents.len() - 1) as u32, w));
            }
        }
        if let (Some(max), Some(rss)) = (opts.max_memory, resident_bytes()) {
            if rss > max {
                out.stop(format!("--max-memory {max} reached"));
                break;
            }
        }
        depth += 1;
        progress.show(out.states, depth);
        level = next;
    }
    progress.done();
    out
}
