//! The checker: explores the interleavings of a compiled scenario under one policy and reports
//! every label reached, each with a witness schedule that `replay` reproduces exactly.
//!
//! One file per strategy (loom/shuttle style): `bfs` (exhaustive, breadth-first, parallel,
//! shortest witnesses; its wide levels in `collapse` form), `dfs` (exhaustive, depth-first,
//! fingerprints only: past the memory bound of `budget`), `parallel_dfs` (`dfs` on several
//! threads sharing one visited set), `random` (seeded uniform runs), `pct` (seeded PCT runs), `replay` (one
//! schedule, step by step); `crash` adds a power failure after every step (`--crash`);
//! `fingerprint` hashes worlds; `schedule` writes and reads schedule strings.
//!
//! The explorers work on moves; names are given to the moves of a witness only, by replaying it
//! from the initial world (`schedule_of`), so the hot loop never builds a string.

pub mod bfs;
mod budget;
mod collapse;
pub mod crash;
mod dfs;
mod distributed;
pub mod fingerprint;
pub mod generations;
pub mod independence;
pub mod invisible;
pub mod late_skips;
mod parallel_dfs;
pub mod pct;
pub mod random;
pub mod reduce;
pub mod replay;
pub mod schedule;
pub mod signals;
pub mod sleep;
mod stored;
pub mod symmetry;
pub mod visited;

use crate::limits;
use crate::model::{self, Cx, LabelSet, Move, Program, World};
use crate::policy::Policy;
pub use distributed::{Cluster, Session};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the command line's Ctrl-C handler: explorers stop at the next check and report what
/// they have, marked incomplete.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::Relaxed)
}

/// `--explore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExploreMode {
    /// Exhaustive, falling back to random runs when the state space exceeds `max_states`.
    Auto,
    Exhaustive,
    /// Exhaustive, depth-first, fingerprints only (`dfs`): what `Exhaustive` switches to past
    /// the memory bound.
    DepthFirst,
    Random,
    Pct,
}

#[derive(Clone, Debug)]
pub struct ExploreOptions {
    pub mode: ExploreMode,
    pub seed: u64,
    pub runs: usize,
    pub max_states: usize,
    /// Bound on the explorer's resident memory, in bytes (`--max-memory`).
    pub max_memory: Option<u64>,
    /// Worker threads of the exhaustive explorer; results do not depend on it.
    pub threads: usize,
    /// Explore a power failure after every step (`--crash`).
    pub crash: bool,
    /// Priority change points of a PCT run (its bug depth minus one).
    pub pct_depth: usize,
    /// Show progress on stderr for explorations longer than about a second.
    pub progress: bool,
    /// The reductions of the exhaustive search (`--reduce`, `--no-reduction`; `reduce.rs`).
    pub reduce: reduce::Reductions,
    /// Run the exhaustive search on this distributed session (`--processes`, `--hostfile`;
    /// `distributed`); `None`: in this process alone.
    pub cluster: Option<std::sync::Arc<Session>>,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            mode: ExploreMode::Auto,
            seed: 0,
            runs: limits::RANDOM_RUNS_DEFAULT,
            max_states: limits::STATES_MAX_DEFAULT,
            max_memory: None,
            threads: 1,
            crash: false,
            pct_depth: 3,
            progress: false,
            reduce: reduce::Reductions::default(),
            cluster: None,
        }
    }
}

/// The result of exploring one scenario under one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exploration {
    /// `exhaustive`, `random` or `pct`.
    pub explorer: &'static str,
    /// Every interleaving was explored.
    pub complete: bool,
    /// Distinct states reached.
    pub states: u64,
    /// Steps taken (edges of the state graph followed).
    pub transitions: u64,
    /// Interleavings run to their end.
    pub schedules: u64,
    /// Labels reached, sorted.
    pub labels: Vec<String>,
    /// For each label, a schedule that reaches it (the shortest, when exhaustive without the
    /// `independence` reduction).
    pub witnesses: BTreeMap<String, String>,
    /// Why the exploration is incomplete, if it is.
    pub limit: Option<String>,
    /// How often (herd-style): for a complete exhaustive exploration (breadth- or depth-first:
    /// both expand each state once) without `--crash`, each
    /// label set that ends an interleaving with the number of distinct end states (terminal
    /// states) that carry it. End states, not interleavings: the partial-order reduction keeps
    /// the set of end states but not the number of paths to them, so these counts are the
    /// same with `--no-reduction`, but for end states where a modeled `BUG()` stopped the
    /// machine, which may merge (same label sets, counts possibly lower; docs/design.md, "How
    /// often"). `None` otherwise.
    pub outcomes: Option<Vec<Outcome>>,
    /// What the design paid: each counter's maximum over the interleavings explored.
    pub costs: model::label::Costs,
}

/// One label set ending interleavings, and in how many distinct end states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    pub labels: Vec<String>,
    pub end_states: u64,
}

/// Per label, herd's words over the end states: `always` (every end state carries it),
/// `sometimes` (some do), `never` (none does).
pub fn how_often(outcomes: &[Outcome], label: &str) -> &'static str {
    let with = outcomes.iter().filter(|o| o.labels.iter().any(|l| l == label)).count();
    if with == 0 {
        "never"
    } else if with == outcomes.len() {
        "always"
    } else {
        "sometimes"
    }
}

impl Exploration {
    fn new(explorer: &'static str) -> Exploration {
        Exploration {
            explorer,
            complete: true,
            states: 0,
            transitions: 0,
            schedules: 0,
            labels: vec![],
            witnesses: BTreeMap::new(),
            limit: None,
            outcomes: None,
            costs: Default::default(),
        }
    }

    fn stop(&mut self, why: String) {
        self.complete = false;
        self.limit.get_or_insert(why);
    }
}

/// Labels and witnesses gathered while exploring.
struct Findings<'a> {
    prog: &'a Program,
    policy: &'a Policy,
    labels: LabelSet,
    witnesses: BTreeMap<String, String>,
    schedules: u64,
    /// Each label set ending an interleaving (no power failure), with how many times it was
    /// recorded: once per end state in the exhaustive search, which expands each state once.
    ends: BTreeMap<Vec<String>, u64>,
    /// The paths recorded are between canonical worlds of these reductions, with `--crash` or
    /// not (the exhaustive explorers; the reducer is built from both: `--crash` switches the
    /// symmetry reduction off), not real ones (the sampling explorers): `symmetry` must map
    /// them back.
    canonical: Option<(reduce::Reductions, bool)>,
}

impl<'a> Findings<'a> {
    fn new(prog: &'a Program, policy: &'a Policy) -> Findings<'a> {
        Findings {
            prog,
            policy,
            labels: LabelSet::default(),
            witnesses: BTreeMap::new(),
            schedules: 0,
            ends: BTreeMap::new(),
            canonical: None,
        }
    }

    /// An interleaving ended with `labels` after `path` (and `suffix`, a power failure).
    fn record(
        &mut self,
        labels: &LabelSet,
        path: impl FnOnce() -> Vec<Move>,
        suffix: Option<&str>,
    ) {
        self.schedules += 1;
        if suffix.is_none() {
            *self.ends.entry(labels.names()).or_insert(0) += 1;
        }
        self.labels.costs.max(&labels.costs);
        let new = labels.minus(&self.labels);
        if new.is_empty() {
            return;
        }
        let mut s = schedule_of(self.prog, self.policy, &self.real_path(path()));
        if let Some(x) = suffix {
            if !s.is_empty() {
                s.push(',');
            }
            s.push_str(x);
        }
        for name in new.names() {
            self.witnesses.insert(name, s.clone());
        }
        self.labels.union(labels);
    }
}

impl Findings<'_> {
    /// The real path behind a path recorded by an explorer.
    fn real_path(&self, path: Vec<Move>) -> Vec<Move> {
        let Some((on, crash)) = self.canonical.filter(|(r, _)| r.symmetry) else { return path };
        let cx = Cx::new(self.prog, self.policy);
        // The reducer the explorer ran: under `--crash` it renames nothing.
        let reducer = reduce::Reducer::new(&cx, on, crash);
        if !reducer.renames() {
            return path;
        }
        symmetry::concrete_path(self.prog, self.policy, &path, &|w| reducer.canonical_tasks(w))
    }
}

/// Explores `prog` under `policy`.
pub fn explore(prog: &Program, policy: &Policy, opts: &ExploreOptions) -> Exploration {
    let mut findings = Findings::new(prog, policy);
    findings.canonical = Some((opts.reduce, opts.crash));
    let mut out = match opts.mode {
        ExploreMode::Random => {
            findings.canonical = None;
            random::explore(prog, policy, opts, &mut findings)
        }
        ExploreMode::Pct => {
            findings.canonical = None;
            pct::explore(prog, policy, opts, &mut findings)
        }
        ExploreMode::DepthFirst => {
            let budget = budget::Budget::new(opts.max_memory);
            depth_first(prog, policy, opts, &budget, &mut findings)
        }
        ExploreMode::Exhaustive | ExploreMode::Auto if opts.cluster.is_some() => {
            let session = opts.cluster.as_ref().expect("matched");
            let exhaustive = match distributed::explore(session, prog, policy, opts, &mut findings)
            {
                Ok(Some(x)) => Some(x),
                Ok(None) => None,
                Err(why) => {
                    let mut x = Exploration::new("exhaustive");
                    x.stop(format!("the distributed exploration failed: {why}"));
                    Some(x)
                }
            };
            match exhaustive {
                // Process 0 reports; the others stop here (their row is not printed).
                None => {
                    let mut x = Exploration::new("exhaustive");
                    x.stop("explored by the distributed run, which process 0 reports".into());
                    x
                }
                Some(x) => {
                    let fall_back = !x.complete
                        && opts.mode == ExploreMode::Auto
                        && !interrupted()
                        && session.failure().is_none();
                    if fall_back {
                        random_after(prog, policy, opts, &mut findings, x)
                    } else {
                        x
                    }
                }
            }
        }
        ExploreMode::Exhaustive | ExploreMode::Auto => {
            let budget = budget::Budget::new(opts.max_memory);
            let (bfs, stop) = bfs::explore(prog, policy, opts, &budget, &mut findings);
            // Past the memory bound, start again depth-first: fingerprints only (the labels
            // found so far keep their shortest witnesses).
            let exhaustive = if stop == bfs::Stop::Memory && !interrupted() {
                budget::release_freed_memory();
                let budget = budget::Budget::new(opts.max_memory);
                // The depth-first search visits every end state again: count them once.
                findings.ends.clear();
                let mut dfs = depth_first(prog, policy, opts, &budget, &mut findings);
                if let Some(why) = dfs.limit.take() {
                    dfs.limit =
                        Some(format!("{}; then depth-first: {why}", bfs.limit.unwrap_or_default()));
                }
                dfs
            } else {
                bfs
            };
            let fall_back =
                !exhaustive.complete && opts.mode == ExploreMode::Auto && !interrupted();
            if !fall_back {
                exhaustive
            } else {
                random_after(prog, policy, opts, &mut findings, exhaustive)
            }
        }
    };
    out.schedules = findings.schedules;
    // `generations` and `symmetry` merge end states and `independence` keeps only some: no
    // counts then.
    // Sleep sets on top of `invisible` or `signals` keep every end state where no modeled
    // `BUG()` stopped the machine, but may merge those where one did (`sleep.rs`).
    let merged_by_sleep = opts.reduce.sleep && (opts.reduce.invisible || opts.reduce.signals);
    let counted = !opts.reduce.generations
        && !opts.reduce.independence
        && !opts.reduce.symmetry
        && !merged_by_sleep;
    if out.explorer == "exhaustive" && out.complete && !opts.crash && counted {
        out.outcomes = Some(
            findings
                .ends
                .into_iter()
                .map(|(labels, end_states)| Outcome { labels, end_states })
                .collect(),
        );
    }
    out.labels = findings.labels.names();
    out.costs = findings.labels.costs;
    out.witnesses = findings.witnesses;
    out
}

/// The depth-first search on `opts.threads` threads (`parallel_dfs` on several): a complete
/// exploration gives the same states, transitions, labels and witnesses on any number. With
/// sleep sets (`sleep.rs`), whose pruning depends on the order of the search, on one thread
/// whatever the number.
fn depth_first(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    budget: &budget::Budget,
    findings: &mut Findings,
) -> Exploration {
    if opts.threads > 1 && !opts.reduce.sleep {
        parallel_dfs::explore(prog, policy, opts, budget, findings)
    } else {
        dfs::explore(prog, policy, opts, budget, findings)
    }
}

/// `--explore auto` past the exhaustive search's limit: random runs, counted with it.
fn random_after(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    findings: &mut Findings,
    exhaustive: Exploration,
) -> Exploration {
    findings.canonical = None; // random runs record real paths
    let mut r = random::explore(prog, policy, opts, findings);
    r.states += exhaustive.states;
    r.transitions += exhaustive.transitions;
    r.limit = exhaustive.limit;
    r
}

/// The name of move `m` in `w`: the task's name, `NAME#2` for a second task of the same name,
/// `NAME(skip)` for a `maybe` statement that does not happen.
pub fn move_name(w: &World, cx: &Cx, m: Move) -> String {
    name_among(&model::task_names(w, cx), m)
}

/// `move_name` given the names of all tasks.
fn name_among(names: &[String], m: Move) -> String {
    let t = m.task as usize;
    let mut name = names[t].clone();
    let earlier = names[..t].iter().filter(|u| **u == name).count();
    if earlier > 0 {
        name = format!("{name}#{}", earlier + 1);
    }
    if m.skip {
        name.push_str("(skip)");
    }
    name
}

/// The moves of `w` with their schedule names.
pub fn named_moves(w: &World, cx: &Cx) -> Vec<(Move, String)> {
    let names = model::task_names(w, cx);
    model::moves(w, cx).into_iter().map(|m| (m, name_among(&names, m))).collect()
}

/// The schedule string of a path of moves from the initial world.
pub fn schedule_of(prog: &Program, policy: &Policy, path: &[Move]) -> String {
    let mut cx = Cx::new(prog, policy);
    let mut w = prog.initial.clone();
    let mut names = Vec::with_capacity(path.len());
    for &m in path {
        names.push(move_name(&w, &cx, m));
        model::step(&mut w, &mut cx, m);
    }
    schedule::format(&names)
}
