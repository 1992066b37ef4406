//! Exhaustive exploration: depth-first over every interleaving, never expanding a state twice.
//!
//! Visited states are kept as 128-bit fingerprints (two independent 64-bit hashes of the whole
//! world); a collision would prune one state, with a probability below 10^-20 for the state
//! counts we reach. The state graph is acyclic (every step advances a statement, a cursor or
//! retires a task), so a state seen before has been fully explored: pruning it loses no label,
//! because labels are part of the state.

use super::{named_moves, Exploration, ExploreOptions, Findings};
use crate::limits;
use crate::model::{self, Cx, Program, World};
use crate::policy::Policy;
use rustc_hash::{FxHashSet, FxHasher};
use std::hash::{DefaultHasher, Hash, Hasher};

/// The fingerprint of a world.
pub fn fingerprint(w: &World) -> u128 {
    let mut a = FxHasher::default();
    w.hash(&mut a);
    let mut b = DefaultHasher::new();
    w.hash(&mut b);
    ((a.finish() as u128) << 64) | b.finish() as u128
}

struct Frame {
    world: World,
    moves: Vec<(model::Move, String)>,
    next: usize,
    /// The move that led here (empty for the root).
    via: String,
}

pub(super) fn explore(
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Exploration {
    let mut cx = Cx::new(prog, policy);
    let mut visited: FxHashSet<u128> = FxHashSet::default();
    let mut out = Exploration {
        explorer: "exhaustive",
        complete: true,
        states: 1,
        transitions: 0,
        schedules: 0,
        labels: vec![],
        witnesses: Default::default(),
        limit: None,
    };
    let root = prog.initial.clone();
    visited.insert(fingerprint(&root));
    let mut stack =
        vec![Frame { moves: named_moves(&root, &cx), world: root, next: 0, via: String::new() }];
    if stack[0].moves.is_empty() {
        let mut w = stack[0].world.clone();
        model::finish(&mut w, &mut cx);
        found.record(&w, String::new);
        return out;
    }
    while let Some(top) = stack.last_mut() {
        let Some((m, name)) = top.moves.get(top.next).cloned() else {
            stack.pop();
            continue;
        };
        top.next += 1;
        let mut w = top.world.clone();
        model::step(&mut w, &mut cx, m);
        out.transitions += 1;
        if !visited.insert(fingerprint(&w)) {
            continue;
        }
        out.states += 1;
        if visited.len() > opts.max_states {
            out.complete = false;
            out.limit = Some(format!("--max-states {} reached", opts.max_states));
            break;
        }
        let moves = named_moves(&w, &cx);
        if moves.is_empty() {
            model::finish(&mut w, &mut cx);
            found.record(&w, || path(&stack, &name));
        } else if stack.len() >= limits::STEPS_MAX {
            out.complete = false;
            out.limit = Some(format!("a schedule longer than {} steps", limits::STEPS_MAX));
        } else {
            stack.push(Frame { world: w, moves, next: 0, via: name });
        }
    }
    out
}

/// The schedule of the current stack followed by `last`.
fn path(stack: &[Frame], last: &str) -> String {
    let mut names: Vec<String> = stack.iter().skip(1).map(|f| f.via.clone()).collect();
    names.push(last.to_string());
    super::schedule::format(&names)
}
