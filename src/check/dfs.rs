//! Exhaustive exploration, depth-first, keeping only a 16-byte fingerprint per visited state
//! and the live worlds of the current path: what `check::explore` runs when the breadth-first
//! search would exceed the memory bound (its levels hold worlds, this holds one world per step
//! of the current schedule).
//!
//! Why it finds every label the breadth-first search finds: both expand every state reachable
//! from the initial world through the same move function (`reduce::Reducer::moves`, a function
//! of the state alone, and the same canonical form, `Reducer::canonicalize`), each state once (a state is pruned only when its
//! fingerprint was visited before, and a visited state is always expanded fully before the
//! search ends: it is pushed on the stack when first seen and popped only after its last
//! move). Labels are part of the state and are read at every visited state (`--crash`) and
//! at every end state, so the two searches visit the same state set and record the same label
//! set, with the same state and transition counts. Order does not matter: the state graph is
//! acyclic and pruning depends on the state only.
//!
//! Witnesses: the schedule on the stack when a label was first reached. It replays exactly
//! (`replay`), but is not the shortest; labels the breadth-first search found before it
//! stopped keep their shortest witnesses. `witnesses` runs this search until given labels
//! have theirs: how the several-thread search (`parallel_dfs`) gives the same witnesses.

use super::bfs::Progress;
use super::budget::{self, Budget};
use super::fingerprint::{fingerprint, FingerprintSet};
use super::reduce::Reducer;
use super::{crash, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;

/// A state on the current path and the moves out of it still to take (also a state on one
/// thread's path in `parallel_dfs`).
pub(super) struct Frame {
    /// Taken by the last move.
    pub(super) world: Option<World>,
    pub(super) moves: Vec<Move>,
    pub(super) next: usize,
}

impl Frame {
    /// The next move out of this state and the world to take it in: a copy of the state (into
    /// a world recycled from `pool` when there is one), or the state itself for the last move.
    /// `None` once every move is taken.
    pub(super) fn take_move(&mut self, pool: &mut Vec<World>) -> Option<(Move, World)> {
        let m = *self.moves.get(self.next)?;
        self.next += 1;
        let w = if self.next == self.moves.len() {
            self.world.take().expect("the last move takes the world once")
        } else {
            let from = self.world.as_ref().expect("the world is there until its last move");
            match pool.pop() {
                Some(mut w) => {
                    w.clone_from(from);
                    w
                }
                None => from.clone(),
            }
        };
        Some((m, w))
    }
}

/// Records what state `w` (reached by `path`) shows, and returns its frame, or `None` when
/// the interleaving ends there (`w` then goes back to `pool`).
fn enter(
    w: World,
    cx: &mut Cx,
    opts: &ExploreOptions,
    reducer: &Reducer,
    path: &[Move],
    found: &mut Findings,
    pool: &mut Vec<World>,
) -> Option<Frame> {
    if opts.crash {
        for (suffix, labels) in crash::outcomes(&w, cx) {
            found.record(&labels, || path.to_vec(), Some(&suffix));
        }
    }
    let moves = reducer.moves(&w, cx);
    if moves.is_empty() {
        let mut end = w;
        model::finish(&mut end, cx);
        found.record(&end.labels, || path.to_vec(), None);
        pool.push(end);
        return None;
    }
    Some(Frame { world: Some(w), moves, next: 0 })
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &Budget,
    found: &mut Findings,
) -> Exploration {
    search(prog, policy, opts, budget, found, None)
}

/// The witnesses this search gives the labels of `want` (a label set reached by a complete
/// exploration, the several-thread one of `parallel_dfs`): the same search, stopped as soon as
/// every label of `want` has one. `found` starts with the labels known before the depth-first
/// search (those of an earlier breadth-first search), as `explore`'s does, so each label gets the
/// witness `explore` would give it. False when the search stopped short of one (a limit, Ctrl-C).
pub(super) fn witnesses(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &Budget,
    found: &mut Findings,
    want: &LabelSet,
) -> bool {
    search(prog, policy, opts, budget, found, Some(want));
    want.minus(&found.labels).is_empty()
}

/// `explore`, stopping early once `until`'s labels are all found.
fn search(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &Budget,
    found: &mut Findings,
    until: Option<&LabelSet>,
) -> Exploration {
    let mut out = Exploration::new("exhaustive");
    let mut cx = Cx::new(prog, policy);
    let mut progress = Progress::new(opts.progress);
    let root = prog.initial.clone();
    let mut visited = FingerprintSet::default();
    visited.insert(fingerprint(&root));
    out.states = 1;
    // `path[i]` leads from `stack[i]` to `stack[i + 1]`.
    let mut path: Vec<Move> = Vec::new();
    let mut stack: Vec<Frame> = Vec::new();
    let reducer = Reducer::new(&cx, opts.reduce, opts.crash);
    // Worlds no longer needed (a successor visited before, an end state), reused by
    // `clone_from` for the next successor: no allocation per move once the pool is warm.
    let mut pool: Vec<World> = Vec::new();
    stack.extend(enter(root, &mut cx, opts, &reducer, &path, found, &mut pool));
    // Labels are only ever added: `until` is met once the witnesses recorded cover it.
    let mut witnessed = found.witnesses.len();
    let met = |found: &Findings| until.is_some_and(|want| want.minus(&found.labels).is_empty());
    if met(found) {
        stack.clear();
    }
    while let Some(top) = stack.last_mut() {
        let Some((m, mut w)) = top.take_move(&mut pool) else {
            stack.pop();
            path.pop();
            continue;
        };
        model::step(&mut w, &mut cx, m);
        let known = reducer.canonicalize(&mut w);
        out.transitions += 1;
        let fp = known.unwrap_or_else(|| fingerprint(&w));
        if visited.len() == visited.capacity() && !budget.fits(visited.growth_bytes()) {
            out.stop(budget.reason());
            break;
        }
        if !visited.insert(fp) {
            pool.push(w);
            continue;
        }
        out.states += 1;
        if visited.len() > opts.max_states {
            out.stop(format!("--max-states {} reached", opts.max_states));
            break;
        }
        if out.states % budget::CHECK_EVERY == 0 {
            if interrupted() {
                out.stop("interrupted".to_string());
                break;
            }
            if !budget.fits(0) {
                out.stop(budget.reason());
                break;
            }
            progress.show(out.states, path.len());
        }
        if path.len() >= limits::STEPS_MAX {
            out.stop(format!("a schedule longer than {} steps", limits::STEPS_MAX));
            break;
        }
        path.push(m);
        match enter(w, &mut cx, opts, &reducer, &path, found, &mut pool) {
            Some(frame) => stack.push(frame),
            None => {
                path.pop();
            }
        }
        if found.witnesses.len() != witnessed {
            witnessed = found.witnesses.len();
            if met(found) {
                break;
            }
        }
    }
    progress.done();
    out
}
