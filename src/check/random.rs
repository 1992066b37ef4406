//! Seeded random exploration, for state spaces too large to finish: `runs` interleavings, each
//! picking uniformly among the available moves with a SplitMix64 generator seeded by `--seed`.
//! The same binary, scenario, policy and seed give the same runs.

use super::{dfs::fingerprint, named_moves, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, Program};
use crate::policy::Policy;
use rustc_hash::FxHashSet;

/// SplitMix64: tiny, deterministic, good enough to pick moves.
pub struct SplitMix64(pub u64);

impl SplitMix64 {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut cx = Cx::new(prog, policy);
    let mut rng = SplitMix64(opts.seed);
    let mut seen: FxHashSet<u128> = FxHashSet::default();
    let mut out = Exploration {
        explorer: "random",
        complete: false,
        states: 0,
        transitions: 0,
        schedules: 0,
        labels: vec![],
        witnesses: Default::default(),
        limit: None,
    };
    for _ in 0..opts.runs {
        let mut w = prog.initial.clone();
        let mut names = Vec::new();
        loop {
            if seen.len() < opts.max_states && seen.insert(fingerprint(&w)) {
                out.states += 1;
            }
            let moves = named_moves(&w, &cx);
            if moves.is_empty() || names.len() >= limits::STEPS_MAX {
                break;
            }
            let (m, name) = moves[rng.below(moves.len())].clone();
            model::step(&mut w, &mut cx, m);
            out.transitions += 1;
            names.push(name);
        }
        if names.len() < limits::STEPS_MAX {
            model::finish(&mut w, &mut cx);
            found.record(&w, || super::schedule::format(&names));
        }
    }
    out
}
