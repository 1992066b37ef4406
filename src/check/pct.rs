//! PCT (probabilistic concurrency testing, Burckhardt et al. 2010), seeded: each run gives every
//! task a random priority and picks `pct_depth` random change points among the first steps;
//! at each step the highest-priority runnable task moves, and at a change point the task that
//! just ran drops below all others. A bug of depth d is found with probability at least
//! 1/(n k^(d-1)) per run (n tasks, k steps). Tasks are told apart by name; tasks queued during
//! the run get their priority when they first appear. The same seed gives the same runs.

use super::random::{drive, SplitMix64, Strategy};
use super::{move_name, Exploration, ExploreOptions, Findings};
use crate::model::{Cx, Move, Program, World};
use crate::policy::Policy;
use std::collections::HashMap;

/// Steps over which change points are drawn (runs are rarely longer in small scenarios).
const CHANGE_POINT_HORIZON: u64 = 64;

struct Pct {
    rng: SplitMix64,
    depth: usize,
    change_points: Vec<u64>,
    /// Looked up by name only: the map's order never matters.
    priority: HashMap<String, u64>,
    lowest: u64,
}

impl Strategy for Pct {
    fn begin(&mut self) {
        self.change_points =
            (0..self.depth).map(|_| self.rng.next_u64() % CHANGE_POINT_HORIZON).collect();
        self.priority.clear();
        self.lowest = 0;
    }

    fn pick(&mut self, w: &World, cx: &Cx, moves: &[Move], step: usize) -> Move {
        let named: Vec<(Move, String)> = moves.iter().map(|m| (*m, move_name(w, cx, *m))).collect();
        for (_, name) in &named {
            let rng = &mut self.rng;
            self.priority.entry(name.clone()).or_insert_with(|| rng.next_u64() | (1 << 63));
        }
        let (m, name) =
            named.iter().max_by_key(|(_, n)| self.priority[n]).expect("moves is not empty").clone();
        if self.change_points.contains(&(step as u64)) {
            self.lowest = self.lowest.wrapping_add(1);
            self.priority.insert(name, self.lowest);
        }
        m
    }
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut pct = Pct {
        rng: SplitMix64(opts.seed),
        depth: opts.pct_depth.min(crate::limits::PCT_DEPTH_MAX),
        change_points: Vec::new(),
        priority: HashMap::new(),
        lowest: 0,
    };
    drive(prog, policy, opts, found, "pct", &mut pct)
}
