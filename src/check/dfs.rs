//! Exhaustive exploration, depth-first, keeping only a 16-byte fingerprint per visited state
//! and the live worlds along the current path: what `check::explore` runs when the
//! breadth-first search would exceed the memory bound (its levels hold worlds, this holds, for
//! each step of the current schedule, the successors of that step's state still to descend
//! into).
//!
//! How a state is expanded: all its moves are taken at once, each successor fingerprinted and
//! its slot of the visited set prefetched, then the successors are looked up in move order;
//! those not visited before are marked visited and kept, and the search descends into them one
//! by one, in move order. Taking every move before the first lookup hides the cache miss a
//! lookup in a table of millions of fingerprints costs (it was most of this search's own time).
//!
//! Why it finds every label the breadth-first search finds: both expand every state reachable
//! from the initial world through the same move function (`reduce::Reducer::moves`, a function
//! of the state alone, and the same canonical form, `Reducer::canonicalize`), each state once
//! (a state is pruned only when its fingerprint was visited before, and a state marked
//! visited is kept on the stack until the search descends into it and expands it fully, so
//! every visited state is expanded before the search ends). Labels are part of the state and
//! are read at every visited state (`--crash`) and at every end state, so the two searches
//! visit the same state set and record the same label set, with the same state and transition
//! counts. Order does not matter: the state graph is acyclic and pruning depends on the state
//! only.
//!
//! With sleep sets (`--reduce sleep`, `sleep.rs`) this search also prunes transitions, and on
//! top of other reductions states too: the two searches then agree on labels, not on counts.
//!
//! Witnesses: the path by which the search first reached the state where a label was first
//! recorded, in the order the search descends (moves in `Reducer::moves` order). It replays
//! exactly (`replay`), but is not the shortest; labels the breadth-first search found before
//! it stopped keep their shortest witnesses. `witnesses` runs this search until given labels
//! have theirs: how the several-thread search (`parallel_dfs`) gives the same witnesses.

use super::bfs::Progress;
use super::budget::{self, Budget};
use super::fingerprint::fingerprint_mut;
use super::reduce::Reducer;
use super::visited::{Asleep, FingerprintSet};
use super::{crash, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;

/// Records what state `w` (reached by `path`) shows, and puts the moves to explore from it in
/// `moves` (`Reducer::moves`); `None` when the interleaving ends there (`w` is then finished:
/// no longer a state to expand), else whether they are every move of `w` (`sleep.rs`'s full).
fn enter(
    w: &mut World,
    cx: &mut Cx,
    opts: &ExploreOptions,
    reducer: &Reducer,
    path: &[Move],
    found: &mut Findings,
    moves: &mut Vec<Move>,
) -> Option<bool> {
    if opts.crash {
        for (suffix, labels) in crash::outcomes(w, cx) {
            found.record(&labels, || path.to_vec(), Some(&suffix));
        }
    }
    let full = reducer.moves_into(w, cx, moves);
    if moves.is_empty() {
        model::finish(w, cx);
        found.record(&w.labels, || path.to_vec(), None);
        return None;
    }
    Some(full)
}

/// The moves to explore from the state of `entry`, in `moves`; false when it is an end state.
/// With sleep sets (`sleep.rs`): the first time, a full state leaves out its sleeping moves;
/// reached again with moves awake that slept then (`wake`), a full state takes only those, any
/// other all its moves again (its labels were recorded the first time).
fn moves_of(
    s: &mut Search,
    entry: &Entry,
    path: &[Move],
    found: &mut Findings,
    moves: &mut Vec<Move>,
) -> bool {
    let w = s.worlds.get_mut(entry.slot);
    let full = if entry.wake != 0 {
        s.reducer.moves_into(w, &s.cx, moves)
    } else {
        match enter(w, &mut s.cx, s.opts, &s.reducer, path, found, moves) {
            Some(full) => full,
            None => return false,
        }
    };
    if let (Some(sleep), true) = (s.reducer.sleep(), full) {
        if entry.wake != 0 {
            moves.retain(|&m| sleep.bit(m) & entry.wake != 0);
        } else {
            moves.retain(|&m| sleep.bit(m) & entry.sleep == 0);
        }
    }
    true
}

/// A state to descend into: the move that reached it, where its world lies, the sleep set its
/// children are computed from (`sleep.rs`; 0 without sleep sets), and, when it was explored
/// before and is reached again with moves that slept then awake now, those moves (`wake`;
/// 0 the first time).
#[derive(Clone, Copy)]
struct Entry {
    m: Move,
    slot: Slot,
    sleep: u32,
    wake: u32,
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
    let cx = Cx::new(prog, policy);
    let reducer = Reducer::new(&cx, opts.reduce, opts.crash);
    let mut s = Search {
        cx,
        reducer,
        opts,
        budget,
        out: Exploration::new("exhaustive"),
        progress: Progress::new(opts.progress),
        visited: FingerprintSet::default(),
        worlds: Slab { worlds: Vec::new(), free: Vec::new() },
        reached: Vec::new(),
        asleep: Vec::new(),
        stopped: Vec::new(),
        footprints: Vec::new(),
    };
    let mut root = prog.initial.clone();
    let fp = fingerprint_mut(&mut root);
    // A set holding sleep sets is used only through `insert_asleep` (`visited.rs`).
    if s.reducer.sleep().is_some() {
        s.visited.insert_asleep(fp, 0);
    } else {
        s.visited.insert(fp);
    }
    s.out.states = 1;
    // `stack[i]`: the successors of the state `path[..i]` reaches that were first reached by
    // its moves and are still to be descended into (their slots), the next one last.
    let mut path: Vec<Move> = Vec::new();
    let mut stack: Vec<Vec<Entry>> = Vec::new();
    // Emptied successor lists, reused: no allocation per state once the search is deep.
    let mut spare: Vec<Vec<Entry>> = Vec::new();
    // Labels are only ever added: `until` is met once the witnesses recorded cover it.
    let mut witnessed = found.witnesses.len();
    let met = |found: &Findings| until.is_some_and(|want| want.minus(&found.labels).is_empty());
    // A state just reached for the first time, by `path`.
    let mut at = (!met(found)).then(|| Entry {
        m: Move { task: 0, skip: false },
        slot: s.worlds.add(root),
        sleep: 0,
        wake: 0,
    });
    // The moves of the state being expanded (one vector for all).
    let mut moves = Vec::new();
    loop {
        if let Some(entry) = at.take() {
            let slot = entry.slot;
            if moves_of(&mut s, &entry, &path, found, &mut moves) {
                let mut fresh = spare.pop().unwrap_or_default();
                if let Err(why) = s.expand(slot, entry.sleep, &moves, path.len(), &mut fresh) {
                    s.out.stop(why);
                    break;
                }
                stack.push(fresh);
            } else {
                s.worlds.free(slot);
                path.pop();
            }
            if found.witnesses.len() != witnessed {
                witnessed = found.witnesses.len();
                if met(found) {
                    break;
                }
            }
        }
        let Some(top) = stack.last_mut() else { break };
        match top.pop() {
            Some(entry) => {
                path.push(entry.m);
                at = Some(entry);
            }
            None => {
                spare.extend(stack.pop());
                path.pop();
            }
        }
    }
    s.progress.done();
    s.out
}

/// Where a world of the one-thread search lives in its `Slab`.
type Slot = u32;

/// The worlds of the one-thread search, in place: those on the stack, the one being expanded
/// and its successors, and free ones, reused by `clone_from` for the next successor (no
/// allocation per move once the search is warm). A move steps a world where it lies; only
/// slot numbers move through the stack, not worlds (a `World` is a few hundred bytes of
/// vector headers, and moving it in and out of the stack's lists was ~5% of the search).
struct Slab {
    worlds: Vec<World>,
    free: Vec<Slot>,
}

impl Slab {
    fn add(&mut self, w: World) -> Slot {
        self.worlds.push(w);
        (self.worlds.len() - 1) as Slot
    }

    fn get_mut(&mut self, slot: Slot) -> &mut World {
        &mut self.worlds[slot as usize]
    }

    fn free(&mut self, slot: Slot) {
        self.free.push(slot);
    }

    /// A slot holding a copy of the world in `from`.
    fn copy(&mut self, from: Slot) -> Slot {
        let Some(to) = self.free.pop() else {
            let copy = self.worlds[from as usize].clone();
            return self.add(copy);
        };
        let (from, to_index) = (from as usize, to as usize);
        debug_assert_ne!(from, to_index, "a free slot is not in use");
        let (source, target) = if from < to_index {
            let (low, high) = self.worlds.split_at_mut(to_index);
            (&low[from], &mut high[0])
        } else {
            let (low, high) = self.worlds.split_at_mut(from);
            (&high[0], &mut low[to_index])
        };
        target.clone_from(source);
        to
    }
}

/// The one-thread search's state apart from its path.
struct Search<'a> {
    cx: Cx<'a>,
    reducer: Reducer,
    opts: &'a ExploreOptions,
    budget: &'a Budget,
    out: Exploration,
    progress: Progress,
    visited: FingerprintSet,
    worlds: Slab,
    /// Scratch: the successors of the state being expanded, with their fingerprints.
    reached: Vec<(Move, Slot, u128)>,
    /// Scratch for sleep sets: the children's, whether each stopped the machine, footprints.
    asleep: Vec<u32>,
    stopped: Vec<bool>,
    footprints: Vec<Option<super::independence::Footprint>>,
}

impl Search<'_> {
    /// Takes every move of the world in `slot` (`depth` steps from the initial world), then
    /// keeps in `fresh`, the next to descend into last, the successors not visited before (and
    /// marks them visited). All the moves are taken before the first lookup: each successor's
    /// slot of the visited set is prefetched as soon as its fingerprint is known, and is in the
    /// cache when the others are stepped and fingerprinted (the lookup was a cache miss per
    /// move, most of this search's own time). `Err` when a limit stops the search.
    fn expand(
        &mut self,
        slot: Slot,
        sleep: u32,
        moves: &[Move],
        depth: usize,
        fresh: &mut Vec<Entry>,
    ) -> Result<(), String> {
        let Some((&last, firsts)) = moves.split_last() else {
            // Every move asleep: nothing to explore here (`sleep.rs`).
            self.worlds.free(slot);
            return Ok(());
        };
        if let Some(s) = self.reducer.sleep() {
            // From the state, before its world is stepped into the last successor.
            let w = &self.worlds.worlds[slot as usize];
            s.children(w, &self.cx, sleep, moves, &mut self.asleep, &mut self.footprints);
        }
        for &m in firsts {
            let copy = self.worlds.copy(slot);
            self.take(copy, m);
        }
        self.take(slot, last);
        if let Some(s) = self.reducer.sleep() {
            self.stopped.clear();
            for &(_, slot, _) in &self.reached {
                let w = &self.worlds.worlds[slot as usize];
                self.stopped.push(w.crashed || w.powered_off);
            }
            s.forget_stopped(moves, &self.stopped, &mut self.asleep);
        }
        let mut reached = std::mem::take(&mut self.reached);
        let kept = self.keep_fresh(&mut reached, depth, fresh);
        reached.clear();
        self.reached = reached;
        fresh.reverse();
        kept
    }

    /// Takes move `m` in the world in `slot` (a copy of the state it leaves), for `keep_fresh`.
    fn take(&mut self, slot: Slot, m: Move) {
        let w = self.worlds.get_mut(slot);
        model::step(w, &mut self.cx, m);
        self.reducer.canonicalize(w);
        let fp = fingerprint_mut(w);
        self.visited.prefetch(fp);
        self.out.transitions += 1;
        self.reached.push((m, slot, fp));
    }

    /// Marks the successors in `reached` visited, moving those not visited before to `fresh`
    /// in order and freeing the others' slots.
    fn keep_fresh(
        &mut self,
        reached: &mut Vec<(Move, Slot, u128)>,
        depth: usize,
        fresh: &mut Vec<Entry>,
    ) -> Result<(), String> {
        let asleep = self.reducer.sleep().is_some();
        for (i, (m, slot, fp)) in reached.drain(..).enumerate() {
            let visited = &mut self.visited;
            if visited.len() == visited.capacity() && !self.budget.fits(visited.growth_bytes()) {
                return Err(self.budget.reason());
            }
            let sleep = if asleep { self.asleep[i] } else { 0 };
            let new = if asleep {
                match visited.insert_asleep(fp, sleep) {
                    Asleep::New => true,
                    Asleep::Covered => false,
                    Asleep::Wake { wake, sleep } => {
                        // Reached before with more asleep: explore the moves awake now. No new
                        // state, so only the bounds a longer path or Ctrl-C can reach apply.
                        if depth >= limits::STEPS_MAX {
                            let why = format!("a schedule longer than {} steps", limits::STEPS_MAX);
                            return Err(why);
                        }
                        if interrupted() {
                            return Err("interrupted".to_string());
                        }
                        fresh.push(Entry { m, slot, sleep, wake });
                        continue;
                    }
                }
            } else {
                visited.insert(fp)
            };
            if !new {
                self.worlds.free(slot);
                continue;
            }
            self.out.states += 1;
            if let Some(why) = limit_at(self.out.states, depth, self.opts, self.budget) {
                return Err(why);
            }
            if self.out.states % budget::CHECK_EVERY == 0 {
                self.progress.show(self.out.states, depth + 1);
            }
            fresh.push(Entry { m, slot, sleep, wake: 0 });
        }
        Ok(())
    }
}

/// The limit a depth-first search (one thread or several) reaches on inserting its `n`th state,
/// a successor of a state `depth` steps deep: `--max-states`, then, every `CHECK_EVERY` states,
/// Ctrl-C and the memory bound, then the longest schedule.
pub(super) fn limit_at(
    n: u64,
    depth: usize,
    opts: &ExploreOptions,
    budget: &Budget,
) -> Option<String> {
    if n > opts.max_states as u64 {
        return Some(format!("--max-states {} reached", opts.max_states));
    }
    if n % budget::CHECK_EVERY == 0 {
        if interrupted() {
            return Some("interrupted".to_string());
        }
        if !budget.fits(0) {
            return Some(budget.reason());
        }
    }
    if depth >= limits::STEPS_MAX {
        return Some(format!("a schedule longer than {} steps", limits::STEPS_MAX));
    }
    None
}
