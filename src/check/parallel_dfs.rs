//! Exhaustive exploration, depth-first, on several threads (`--explore depth-first --threads
//! N`, N > 1): the one-thread search of `dfs` with a visited set shared by all threads and the
//! states of a thread's stack not yet entered handed to threads that have none left.
//!
//! Why it visits the same state set, counts the same states and transitions and reaches the
//! same labels as the one-thread depth-first (`dfs`) and breadth-first (`bfs`) searches:
//!
//! - Moves depend on the state alone (`Reducer::moves` and `Reducer::canonicalize` are
//!   functions of the world; each thread builds its own `Cx` and `Reducer` from the same
//!   program, policy and reductions), and so do the labels recorded at a state (`--crash`
//!   outcomes at every state, the finished labels at an end state).
//! - One visited set of fingerprints for all threads (`Visited`); inserting a fingerprint is
//!   atomic (its shard's lock), so exactly one thread inserts each reached state. That thread
//!   keeps the state on its stack (a state is expanded at once, as in `dfs`: all its moves
//!   taken, the successors' visited-set slots prefetched, then the successors inserted in move
//!   order, and the new ones kept) until it enters it, or hands it to exactly one other thread
//!   (with the rest of its list) and drops it; whoever enters it records its labels and takes
//!   each of its moves once.
//! - Every reachable state is inserted: a state is inserted when first reached, and a state
//!   inserted is expanded before the search ends (the search ends when every thread is idle and
//!   no work is queued, and a thread is idle only after its stack is empty), so by induction
//!   on the path from the initial world every successor of an inserted state is reached.
//! - Hence the visited set is the set of reachable states, each expanded once: the states are
//!   the visited set's size, the transitions the sum of the moves of the visited states, the
//!   recorded end states and labels those of the visited states, whatever the thread timing and
//!   the order (the state graph is acyclic; pruning depends on the state only). Counts of end
//!   states per label set ("how often") are summed over the threads: each end state is
//!   recorded by its one inserter.
//!
//! Witnesses: those of the one-thread search (`dfs`), so that they too do not depend on the
//! thread count. The one-thread search gives each label the path by which it first reached
//! the first state, in the order it enters states (moves in `Reducer::moves` order), that
//! records the label (not necessarily the first path to that state in depth-first order: a
//! state is reached, and its path fixed, when its parent is expanded). Which path a shared search reaches a state by first
//! depends on thread timing, so the threads cannot give that path; instead, once a complete
//! search has found the labels, `dfs::witnesses` runs the one-thread search again, alone, and
//! stops it as soon as every new label has its witness. That pass costs the states the
//! one-thread search visits before it has found the last label: about 2% of them on `pincheck
//! family pairs 3` (docs/performance.md), all of them when a label is reached only by the
//! last interleavings explored.
//!
//! When the exploration is incomplete (a limit, Ctrl-C), or the witness pass is stopped by the
//! memory bound, each label's witness is the least path the threads recorded it with (shortest
//! first, then the smaller sequence of (task, skip) moves, then the smaller crash suffix),
//! named by replaying it from the initial world (mapped back from canonical worlds under
//! `symmetry`), so it replays exactly (`replay`); which paths the threads saw depends on their
//! timing, so such witnesses (and an incomplete exploration's labels and counts) can differ from
//! run to run. Ctrl-C during the witness pass marks the exploration incomplete.
//!
//! Limits: `--max-states` counts inserted fingerprints across threads; the memory bound is
//! asked before a shard of the visited set doubles and every `CHECK_EVERY` states, as is Ctrl-C
//! (`interrupted`); the first thread to reach a limit stops all of them, and the exploration is
//! reported incomplete with that reason. A thread that panics stops them too (`StopOnPanic`).

use super::bfs::Progress;
use super::budget::{self, Budget};
use super::reduce::Reducer;
use super::visited::FingerprintSet;
use super::{
    crash, dfs, fingerprint::fingerprint_mut, interrupted, Exploration, ExploreOptions, Findings,
};
use crate::model::label::Costs;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;
use rustc_hash::FxHashMap;
use std::cmp::Ordering as Order;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Shards of the visited set, each behind its own lock (a power of two, well above the
/// thread counts of a machine, so two threads rarely wait for the same shard).
const SHARDS: usize = 64;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A value alone on its cache lines (two 64-byte lines: x86 prefetches them in pairs), so that
/// two threads writing neighbouring values do not take the line from each other at every write.
#[repr(align(128))]
struct Padded<T>(T);

/// The fingerprints of the states reached, shared by all threads.
struct Visited {
    shards: Vec<Padded<Shard>>,
    len: Padded<AtomicU64>,
}

/// A shard of the visited set, and where its table is (`FingerprintSet::table`), published
/// after each insertion for `Visited::prefetch` to read without the lock.
#[derive(Default)]
struct Shard {
    set: Mutex<FingerprintSet>,
    table: AtomicUsize,
    mask: AtomicUsize,
}

enum Insert {
    /// First reached: the caller expands it; the visited set's size after the insertion.
    New(u64),
    Seen,
    /// The shard would grow past the memory bound.
    Full,
}

impl Visited {
    fn new() -> Visited {
        Visited {
            shards: (0..SHARDS).map(|_| Padded(Shard::default())).collect(),
            len: Padded(AtomicU64::new(0)),
        }
    }

    /// The top bits choose the shard; the set indexes by the low bits.
    fn shard(&self, fp: u128) -> &Shard {
        &self.shards[(fp >> 122) as usize % SHARDS].0
    }

    fn insert(&self, fp: u128, budget: &Budget) -> Insert {
        let shard = self.shard(fp);
        let mut set = lock(&shard.set);
        if set.len() == set.capacity() && !budget.fits(set.growth_bytes()) {
            return Insert::Full;
        }
        let new = set.insert(fp);
        let (table, mask) = set.table();
        shard.table.store(table, Ordering::Relaxed);
        shard.mask.store(mask, Ordering::Relaxed);
        if !new {
            return Insert::Seen;
        }
        Insert::New(self.len.0.fetch_add(1, Ordering::Relaxed) + 1)
    }

    /// `FingerprintSet::prefetch` without the shard's lock: the table's address and mask are
    /// those last published, possibly of a table another thread has since replaced (or the two
    /// read from different tables): the prefetch is then useless, never wrong (it cannot fault
    /// and nothing reads what it loads).
    fn prefetch(&self, fp: u128) {
        let shard = self.shard(fp);
        let table = shard.table.load(Ordering::Relaxed);
        if table != 0 {
            let mask = shard.mask.load(Ordering::Relaxed);
            let slot = table.wrapping_add((fp as usize & mask) * std::mem::size_of::<u128>());
            super::visited::prefetch_address(slot);
        }
    }
}

/// States to enter, handed from one thread to another: successors of one state, each with the
/// move that reached it, the next to enter last. The thread that inserted them into the
/// visited set gave them up with this.
struct Work {
    /// From the initial world to the state these succeed.
    path: Vec<Move>,
    fresh: Vec<(Move, World)>,
}

#[derive(Default)]
struct Queue {
    work: Vec<Work>,
    idle: usize,
    done: bool,
}

/// What the threads share besides the program.
struct Shared<'a> {
    visited: Visited,
    queue: Mutex<Queue>,
    wake: Condvar,
    /// Threads waiting for work (a copy of `queue.idle` that busy threads read without the lock,
    /// at every step: on its own lines, which change only when a thread waits or wakes).
    hungry: Padded<AtomicUsize>,
    threads: usize,
    stopped: AtomicBool,
    limit: Mutex<Option<String>>,
    progress: Mutex<Progress>,
    opts: &'a ExploreOptions,
    budget: &'a Budget,
}

impl Shared<'_> {
    /// Stops every thread; the first reason given is the one reported.
    fn stop(&self, why: String) {
        lock(&self.limit).get_or_insert(why);
        self.stopped.store(true, Ordering::Relaxed);
        let mut q = lock(&self.queue);
        q.done = true;
        q.work.clear();
        self.wake.notify_all();
    }

    fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }

    /// The next work, waiting for it while other threads are busy; `None` when the search is
    /// over (every thread idle and nothing queued, or stopped).
    fn take(&self) -> Option<Work> {
        let mut q = lock(&self.queue);
        loop {
            if q.done {
                return None;
            }
            if let Some(w) = q.work.pop() {
                return Some(w);
            }
            q.idle += 1;
            if q.idle == self.threads {
                q.done = true;
                self.wake.notify_all();
                return None;
            }
            self.hungry.0.store(q.idle, Ordering::Relaxed);
            q = self.wake.wait(q).unwrap_or_else(PoisonError::into_inner);
            q.idle -= 1;
            self.hungry.0.store(q.idle, Ordering::Relaxed);
        }
    }

    /// Hands the states not yet entered of the lowest list that has some (the largest subtree
    /// left) to an idle thread, when one waits and no work is queued for it yet.
    fn share(&self, stack: &mut [Vec<(Move, World)>], path: &[Move], base: usize) {
        let Some(i) = stack.iter().position(|fresh| !fresh.is_empty()) else { return };
        let mut q = lock(&self.queue);
        if q.done || q.work.len() >= q.idle {
            return;
        }
        let fresh = std::mem::take(&mut stack[i]);
        q.work.push(Work { path: path[..base + i].to_vec(), fresh });
        self.wake.notify_one();
    }
}

/// The least path that recorded a label set (see the module's witness rule).
#[derive(Clone)]
struct Candidate {
    path: Vec<Move>,
    suffix: Option<String>,
}

impl Candidate {
    /// The schedule string: the path named by replaying it from the initial world (mapped back
    /// from canonical worlds first), then the power failure.
    fn schedule(&self, findings: &Findings) -> String {
        let real = findings.real_path(self.path.clone());
        let mut s = super::schedule_of(findings.prog, findings.policy, &real);
        if let Some(x) = &self.suffix {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(x);
        }
        s
    }

    fn cmp_to(&self, path: &[Move], suffix: Option<&str>) -> Order {
        let key = |m: &Move| (m.task, m.skip);
        self.path
            .len()
            .cmp(&path.len())
            .then_with(|| self.path.iter().map(key).cmp(path.iter().map(key)))
            .then_with(|| self.suffix.as_deref().cmp(&suffix))
    }
}

/// What one thread recorded.
#[derive(Default)]
struct Found {
    schedules: u64,
    transitions: u64,
    costs: Costs,
    /// End states per label set (costs cleared).
    ends: FxHashMap<LabelSet, u64>,
    /// Per label set recorded (costs cleared), its least path.
    best: FxHashMap<LabelSet, Candidate>,
}

impl Found {
    /// An interleaving ended with `labels` after `path` (and `suffix`, a power failure).
    fn record(&mut self, labels: &LabelSet, path: &[Move], suffix: Option<&str>) {
        self.schedules += 1;
        self.costs.max(&labels.costs);
        let key = labels.minus(&LabelSet::default());
        if suffix.is_none() {
            *self.ends.entry(key).or_insert(0) += 1;
        }
        if key.is_empty() {
            return;
        }
        let better = self.best.get(&key).is_none_or(|c| c.cmp_to(path, suffix) == Order::Greater);
        if better {
            let c = Candidate { path: path.to_vec(), suffix: suffix.map(str::to_string) };
            self.best.insert(key, c);
        }
    }
}

/// Records what state `w` (reached by `path`) shows, and returns it with its moves, or `None`
/// when the interleaving ends there (`w` then goes back to `pool`).
fn enter(
    w: World,
    cx: &mut Cx,
    opts: &ExploreOptions,
    reducer: &Reducer,
    path: &[Move],
    found: &mut Found,
    pool: &mut Vec<World>,
) -> Option<(World, Vec<Move>)> {
    if opts.crash {
        for (suffix, labels) in crash::outcomes(&w, cx) {
            found.record(&labels, path, Some(&suffix));
        }
    }
    let moves = reducer.moves(&w, cx);
    if moves.is_empty() {
        let mut end = w;
        model::finish(&mut end, cx);
        found.record(&end.labels, path, None);
        pool.push(end);
        return None;
    }
    Some((w, moves))
}

/// One thread's own means.
struct Local<'a> {
    cx: Cx<'a>,
    reducer: Reducer,
    found: Found,
    /// Worlds no longer needed (successors visited before, end states), reused by
    /// `clone_from`: no allocation per move once the pool is warm.
    pool: Vec<World>,
    /// Scratch: the successors of the state being expanded, with their fingerprints.
    reached: Vec<(Move, World, u128)>,
    /// Emptied successor lists, reused (no more than the path is deep).
    spare: Vec<Vec<(Move, World)>>,
}

impl<'a> Local<'a> {
    fn new(prog: &'a Program, policy: &'a Policy, opts: &ExploreOptions) -> Local<'a> {
        let cx = Cx::new(prog, policy);
        let reducer = Reducer::new(&cx, opts.reduce, opts.crash);
        Local {
            cx,
            reducer,
            found: Found::default(),
            pool: Vec::new(),
            reached: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Takes every move of `w` (reached by `depth` moves), then inserts the successors into
    /// the visited set in move order and returns those this thread inserted, the next to
    /// enter last (as `dfs::Search::expand`, the visited-set slots prefetched). `None` when
    /// the search stops (a limit, which this stops it with, or another thread's stop).
    fn expand(
        &mut self,
        shared: &Shared,
        w: World,
        moves: &[Move],
        depth: usize,
    ) -> Option<Vec<(Move, World)>> {
        let mut fresh = self.spare.pop().unwrap_or_default();
        let Some((&last, firsts)) = moves.split_last() else { return Some(fresh) };
        for &m in firsts {
            let copy = match self.pool.pop() {
                Some(mut copy) => {
                    copy.clone_from(&w);
                    copy
                }
                None => w.clone(),
            };
            self.take(shared, copy, m);
        }
        self.take(shared, w, last);
        let mut reached = std::mem::take(&mut self.reached);
        let kept = self.keep_fresh(shared, &mut reached, depth, &mut fresh);
        reached.clear();
        self.reached = reached;
        fresh.reverse();
        kept.then_some(fresh)
    }

    fn take(&mut self, shared: &Shared, mut w: World, m: Move) {
        model::step(&mut w, &mut self.cx, m);
        self.reducer.canonicalize(&mut w);
        let fp = fingerprint_mut(&mut w);
        shared.visited.prefetch(fp);
        self.found.transitions += 1;
        self.reached.push((m, w, fp));
    }

    /// Inserts the successors in `reached` into the visited set, in order, moving those this
    /// thread inserted to `fresh` and the others to the pool. False when the search stops.
    fn keep_fresh(
        &mut self,
        shared: &Shared,
        reached: &mut Vec<(Move, World, u128)>,
        depth: usize,
        fresh: &mut Vec<(Move, World)>,
    ) -> bool {
        for (m, w, fp) in reached.drain(..) {
            let n = match shared.visited.insert(fp, shared.budget) {
                Insert::Full => {
                    shared.stop(shared.budget.reason());
                    return false;
                }
                Insert::Seen => {
                    self.pool.push(w);
                    continue;
                }
                Insert::New(n) => n,
            };
            if let Some(why) = dfs::limit_at(n, depth, shared.opts, shared.budget) {
                shared.stop(why);
                return false;
            }
            if n % budget::CHECK_EVERY == 0 {
                if let Ok(mut p) = shared.progress.try_lock() {
                    p.show(n, depth + 1);
                }
            }
            fresh.push((m, w));
        }
        !shared.stopped()
    }
}

/// Enters the states of `work` and explores everything below them not visited yet, handing
/// states to idle threads on the way.
fn search(work: Work, local: &mut Local, shared: &Shared) {
    let opts = shared.opts;
    let mut path = work.path;
    let base = path.len();
    // `stack[i]`: the successors, still to enter, of the state `path[..base + i]` reaches that
    // this thread inserted (or was handed, for `stack[0]`), the next one last.
    let mut stack = vec![work.fresh];
    while let Some(top) = stack.last_mut() {
        let Some((m, w)) = top.pop() else {
            // Kept up to the depth a thread's stack reaches; lists received from other threads
            // would otherwise pile up, one per handover.
            if local.spare.len() < stack.len() + base {
                local.spare.extend(stack.pop());
            } else {
                stack.pop();
            }
            if !stack.is_empty() {
                path.pop();
            }
            continue;
        };
        path.push(m);
        let Local { cx, reducer, found, pool, .. } = local;
        match enter(w, cx, opts, reducer, &path, found, pool) {
            Some((w, moves)) => match local.expand(shared, w, &moves, path.len()) {
                Some(fresh) => stack.push(fresh),
                None => return,
            },
            None => {
                path.pop();
            }
        }
        if shared.hungry.0.load(Ordering::Relaxed) > 0 {
            shared.share(&mut stack, &path, base);
        }
    }
}

/// Stops the search if its thread unwinds (a model bug panics), so that the other threads do
/// not wait forever for the work it held and the panic reaches the caller.
struct StopOnPanic<'a, 'b>(&'a Shared<'b>);

impl Drop for StopOnPanic<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop("a search thread panicked".to_string());
        }
    }
}

/// One thread: takes work until the search is over.
fn worker(prog: &Program, policy: &Policy, shared: &Shared) -> Found {
    let _guard = StopOnPanic(shared);
    let mut local = Local::new(prog, policy, shared.opts);
    while let Some(work) = shared.take() {
        search(work, &mut local, shared);
    }
    local.found
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &Budget,
    findings: &mut Findings,
) -> Exploration {
    assert!(opts.threads > 1, "the one-thread depth-first search is `dfs`");
    let shared = Shared {
        visited: Visited::new(),
        queue: Mutex::new(Queue::default()),
        wake: Condvar::new(),
        hungry: Padded(AtomicUsize::new(0)),
        threads: opts.threads,
        stopped: AtomicBool::new(false),
        limit: Mutex::new(None),
        progress: Mutex::new(Progress::new(opts.progress)),
        opts,
        budget,
    };
    let mut root = prog.initial.clone();
    let mut first = Local::new(prog, policy, opts);
    // The initial world is inserted whatever the bound, as `dfs` does, and expanded here.
    let roomy = Budget::new(Some(u64::MAX));
    let inserted = shared.visited.insert(fingerprint_mut(&mut root), &roomy);
    assert!(matches!(inserted, Insert::New(1)), "the first state is new");
    let Local { cx, reducer, found, pool, .. } = &mut first;
    if let Some((w, moves)) = enter(root, cx, opts, reducer, &[], found, pool) {
        if let Some(fresh) = first.expand(&shared, w, &moves, 0) {
            lock(&shared.queue).work.push(Work { path: Vec::new(), fresh });
        }
    }
    let mut found = vec![first.found];
    std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..opts.threads).map(|_| s.spawn(|| worker(prog, policy, &shared))).collect();
        for h in handles {
            match h.join() {
                Ok(f) => found.push(f),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
    });
    lock(&shared.progress).done();
    let mut out = Exploration::new("exhaustive");
    out.states = shared.visited.len.0.load(Ordering::Relaxed);
    out.transitions = found.iter().map(|f| f.transitions).sum();
    if let Some(why) = lock(&shared.limit).take() {
        out.stop(why);
    }
    // The visited set is not needed any more: free it before the witness pass builds its own.
    drop(shared);
    budget::release_freed_memory();
    let (new, candidates) = merge(found, findings);
    // The one-thread search's witnesses (see the module's witness rule); the candidates when
    // the exploration is incomplete or the witness pass cannot finish.
    let mut chosen = BTreeMap::new();
    if out.complete && !new.is_empty() {
        let mut pass = Findings::new(findings.prog, findings.policy);
        pass.labels = findings.labels;
        pass.canonical = findings.canonical;
        if dfs::witnesses(prog, policy, opts, budget, &mut pass, &new) {
            chosen = pass.witnesses;
        } else if interrupted() {
            out.stop("interrupted".to_string());
        }
    }
    for (name, c) in candidates {
        let s = match chosen.remove(&name) {
            Some(s) => s,
            None => c.schedule(findings),
        };
        findings.witnesses.insert(name, s);
    }
    findings.labels.union(&new);
    out
}

/// Adds what the threads recorded to `findings`' counts, and returns the labels not found
/// before (not yet added to `findings.labels`) with the least candidate path of each over all
/// threads.
fn merge(found: Vec<Found>, findings: &mut Findings) -> (LabelSet, BTreeMap<String, Candidate>) {
    let mut best: BTreeMap<String, Candidate> = BTreeMap::new();
    let mut seen = LabelSet::default();
    for f in found {
        findings.schedules += f.schedules;
        findings.labels.costs.max(&f.costs);
        for (labels, n) in f.ends {
            *findings.ends.entry(labels.names()).or_insert(0) += n;
        }
        for (labels, c) in f.best {
            seen.union(&labels);
            for name in labels.names() {
                let better = best
                    .get(&name)
                    .is_none_or(|b| b.cmp_to(&c.path, c.suffix.as_deref()) == Order::Greater);
                if better {
                    best.insert(name, c.clone());
                }
            }
        }
    }
    let new = seen.minus(&findings.labels);
    let names = new.names();
    best.retain(|name, _| names.contains(name));
    (new, best)
}
