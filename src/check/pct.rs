//! PCT (probabilistic concurrency testing, Burckhardt et al. 2010), seeded: each run gives every
//! task a random priority and picks `pct_depth` random change points among the first steps;
//! at each step the highest-priority runnable task moves, and at a change point the task that
//! just ran drops below all others. A bug of depth d is found with probability at least
//! 1/(n k^(d-1)) per run (n tasks, k steps). Tasks are told apart by name; tasks queued during
//! the run get their priority when they first appear. The same seed gives the same runs.

use super::random::{Run, SplitMix64};
use super::{interrupted, move_name, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Program};
use crate::policy::Policy;
use std::collections::HashMap;

/// Steps over which change points are drawn (runs are rarely longer in small scenarios).
const CHANGE_POINT_HORIZON: u64 = 64;

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut run = Run::new(prog, policy, opts, "pct");
    let mut rng = SplitMix64(opts.seed);
    for _ in 0..opts.runs {
        if interrupted() {
            run.out.limit = Some("interrupted".to_string());
            break;
        }
        let change_points: Vec<u64> =
            (0..opts.pct_depth).map(|_| rng.next_u64() % CHANGE_POINT_HORIZON).collect();
        let mut priority: HashMap<String, u64> = HashMap::new();
        let mut lowest = 0u64;
        let mut w = prog.initial.clone();
        let mut path = Vec::new();
        loop {
            run.visit(&w, &path, found);
            let moves = model::moves(&w, &run.cx);
            if moves.is_empty() || path.len() >= limits::STEPS_MAX {
                break;
            }
            let named: Vec<(model::Move, String)> =
                moves.iter().map(|m| (*m, move_name(&w, &run.cx, *m))).collect();
            for (_, name) in &named {
                priority.entry(name.clone()).or_insert_with(|| rng.next_u64() | (1 << 63));
            }
            let (m, name) =
                named.iter().max_by_key(|(_, n)| priority[n]).expect("moves is not empty").clone();
            if change_points.contains(&(path.len() as u64)) {
                lowest = lowest.wrapping_add(1);
                priority.insert(name, lowest);
            }
            model::step(&mut w, &mut run.cx, m);
            run.out.transitions += 1;
            path.push(m);
        }
        run.end(w, path, found);
    }
    run.out
}
