//! The checker: explores the interleavings of a compiled scenario under one policy and reports
//! every label reached, each with a witness schedule that `replay` reproduces exactly.
//!
//! One file per strategy (loom/shuttle style): `dfs` (exhaustive, with visited-state hashing),
//! `random` (seeded runs for state spaces beyond `--max-states`), `replay` (one schedule, step
//! by step). Schedules are comma-separated task names (`schedule`).

pub mod dfs;
pub mod random;
pub mod replay;
pub mod schedule;

use crate::limits;
use crate::model::{self, Cx, LabelSet, Program, World};
use crate::policy::Policy;
use serde::Serialize;
use std::collections::BTreeMap;

/// `--explore`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExploreMode {
    /// Exhaustive, falling back to random runs when the state space exceeds `max_states`.
    Auto,
    Exhaustive,
    Random,
}

#[derive(Clone, Debug)]
pub struct ExploreOptions {
    pub mode: ExploreMode,
    pub seed: u64,
    pub runs: usize,
    pub max_states: usize,
}

impl Default for ExploreOptions {
    fn default() -> Self {
        ExploreOptions {
            mode: ExploreMode::Auto,
            seed: 0,
            runs: limits::RANDOM_RUNS_DEFAULT,
            max_states: limits::STATES_MAX_DEFAULT,
        }
    }
}

/// The result of exploring one scenario under one policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Exploration {
    /// `exhaustive` or `random`.
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
    /// For each label, a schedule that reaches it.
    pub witnesses: BTreeMap<String, String>,
    /// Why the exploration is incomplete, if it is.
    pub limit: Option<String>,
}

/// Labels and witnesses gathered while exploring.
#[derive(Default)]
struct Findings {
    labels: LabelSet,
    witnesses: BTreeMap<String, String>,
    schedules: u64,
}

impl Findings {
    /// An interleaving ended in `w` (already finished) after `schedule`.
    fn record(&mut self, w: &World, schedule: impl FnOnce() -> String) {
        self.schedules += 1;
        let new = w.labels.minus(&self.labels);
        if new.is_empty() {
            return;
        }
        let s = schedule();
        for name in new.names() {
            self.witnesses.insert(name, s.clone());
        }
        self.labels.union(&w.labels);
    }
}

/// Explores `prog` under `policy`.
pub fn explore(prog: &Program, policy: &Policy, opts: &ExploreOptions) -> Exploration {
    let mut findings = Findings::default();
    let mut out = match opts.mode {
        ExploreMode::Random => random::explore(prog, policy, opts, &mut findings),
        ExploreMode::Exhaustive | ExploreMode::Auto => {
            let exhaustive = dfs::explore(prog, policy, opts, &mut findings);
            if exhaustive.complete || opts.mode == ExploreMode::Exhaustive {
                exhaustive
            } else {
                let mut r = random::explore(prog, policy, opts, &mut findings);
                r.states += exhaustive.states;
                r.transitions += exhaustive.transitions;
                r.limit = exhaustive.limit;
                r
            }
        }
    };
    out.schedules = findings.schedules;
    out.labels = findings.labels.names();
    out.witnesses = findings.witnesses;
    out
}

/// The moves of `w` with their schedule names. Two tasks of the same name (work queued for
/// the same page twice, say) are told apart by their order: `NAME#2`.
fn named_moves(w: &World, cx: &Cx) -> Vec<(model::Move, String)> {
    let names: Vec<String> = (0..w.tasks.len()).map(|t| model::task_name(w, cx, t)).collect();
    model::moves(w, cx)
        .into_iter()
        .map(|m| {
            let t = m.task as usize;
            let mut name = names[t].clone();
            let earlier = names[..t].iter().filter(|n| **n == name).count();
            if earlier > 0 {
                name = format!("{name}#{}", earlier + 1);
            }
            (m, if m.skip { format!("{name}(skip)") } else { name })
        })
        .collect()
}
