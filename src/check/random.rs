//! Seeded random exploration, for state spaces too large to finish: `runs` interleavings, each
//! picking uniformly among the available moves with a SplitMix64 generator seeded by `--seed`.
//! The same binary, scenario, policy and seed give the same runs. The run loop is shared with
//! PCT (`pct.rs`) through [`Strategy`].

use super::{crash, fingerprint::fingerprint, interrupted, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, Move, Program, World};
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

/// How a sampling explorer picks the next move of a run.
pub(super) trait Strategy {
    /// A run starts.
    fn begin(&mut self);
    /// Picks one of `moves` (never empty) in `w`, at step `step` of the run.
    fn pick(&mut self, w: &World, cx: &Cx, moves: &[Move], step: usize) -> Move;
}

/// Uniform choice among the moves.
struct Uniform(SplitMix64);

impl Strategy for Uniform {
    fn begin(&mut self) {}

    fn pick(&mut self, _: &World, _: &Cx, moves: &[Move], _: usize) -> Move {
        moves[self.0.below(moves.len())]
    }
}

/// Runs `opts.runs` interleavings chosen by `strategy`: counts distinct states (up to the state
/// bound), records power failures (`--crash`) and each run's end.
pub(super) fn drive(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
    name: &'static str,
    strategy: &mut dyn Strategy,
) -> Exploration {
    let mut cx = Cx::new(prog, policy);
    let mut seen: FxHashSet<u128> = FxHashSet::default();
    let mut out = Exploration::new(name);
    out.complete = false;
    for _ in 0..opts.runs {
        if interrupted() {
            out.limit = Some("interrupted".to_string());
            break;
        }
        strategy.begin();
        let mut w = prog.initial.clone();
        let mut path = Vec::new();
        loop {
            if seen.len() < opts.max_states && seen.insert(fingerprint(&w)) {
                out.states += 1;
            }
            if opts.crash {
                for (suffix, labels) in crash::outcomes(&w, &mut cx) {
                    found.record(&labels, || path.clone(), Some(&suffix));
                }
            }
            let moves = model::moves(&w, &cx);
            if moves.is_empty() || path.len() >= limits::STEPS_MAX {
                break;
            }
            let m = strategy.pick(&w, &cx, &moves, path.len());
            model::step(&mut w, &mut cx, m);
            out.transitions += 1;
            path.push(m);
        }
        if path.len() >= limits::STEPS_MAX {
            out.limit
                .get_or_insert(format!("a run longer than {} steps was cut", limits::STEPS_MAX));
            continue;
        }
        model::finish(&mut w, &mut cx);
        found.record(&w.labels, || path, None);
    }
    out.limit.get_or_insert(format!(
        "{name} sampling ({} runs, seed {}) covers some interleavings, not all",
        opts.runs, opts.seed
    ));
    out
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    drive(prog, policy, opts, found, "random", &mut Uniform(SplitMix64(opts.seed)))
}
