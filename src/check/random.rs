//! Seeded random exploration, for state spaces too large to finish: `runs` interleavings, each
//! picking uniformly among the available moves with a SplitMix64 generator seeded by `--seed`.
//! The same binary, scenario, policy and seed give the same runs.

use super::{crash, fingerprint::fingerprint, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, Move, Program};
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

/// One run's bookkeeping shared by the random and PCT explorers: counts distinct states (up
/// to the state bound), records power failures (`--crash`) and the run's end.
pub(super) struct Run<'a, 'b> {
    pub cx: Cx<'a>,
    pub seen: FxHashSet<u128>,
    pub out: Exploration,
    pub opts: &'b ExploreOptions,
}

impl<'a, 'b> Run<'a, 'b> {
    pub fn new(
        prog: &'a Program,
        policy: &'a Policy,
        opts: &'b ExploreOptions,
        name: &'static str,
    ) -> Self {
        let mut out = Exploration::new(name);
        out.complete = false;
        Run { cx: Cx::new(prog, policy), seen: FxHashSet::default(), out, opts }
    }

    /// Called at every state of a run, before the next move.
    pub fn visit(&mut self, w: &model::World, path: &[Move], found: &mut Findings) {
        if self.seen.len() < self.opts.max_states && self.seen.insert(fingerprint(w)) {
            self.out.states += 1;
        }
        if self.opts.crash {
            for (suffix, labels) in crash::outcomes(w, &mut self.cx) {
                found.record(&labels, || path.to_vec(), Some(&suffix));
            }
        }
    }

    /// A run ended in `w` (no move left) after `path`.
    pub fn end(&mut self, mut w: model::World, path: Vec<Move>, found: &mut Findings) {
        if path.len() >= limits::STEPS_MAX {
            self.out
                .limit
                .get_or_insert(format!("a run longer than {} steps was cut", limits::STEPS_MAX));
            return;
        }
        model::finish(&mut w, &mut self.cx);
        found.record(&w.labels, || path, None);
    }
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut run = Run::new(prog, policy, opts, "random");
    let mut rng = SplitMix64(opts.seed);
    for _ in 0..opts.runs {
        if interrupted() {
            run.out.limit = Some("interrupted".to_string());
            break;
        }
        let mut w = prog.initial.clone();
        let mut path = Vec::new();
        loop {
            run.visit(&w, &path, found);
            let moves = model::moves(&w, &run.cx);
            if moves.is_empty() || path.len() >= limits::STEPS_MAX {
                break;
            }
            let m = moves[rng.below(moves.len())];
            model::step(&mut w, &mut run.cx, m);
            run.out.transitions += 1;
            path.push(m);
        }
        run.end(w, path, found);
    }
    run.out
}
