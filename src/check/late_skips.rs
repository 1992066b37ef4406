//! The `late-skips` reduction: a thread that may still do nothing but repeat one optional
//! statement skips it only at the end.
//!
//! Deferred statements. Statement k of a thread is *deferred* when it and every statement
//! after it are `maybe` statements that define no handle and have the same operation as
//! statement k: the flusher's `maybe writeback` / `maybe writeback`, kswapd's `maybe reclaim`
//! twice. Skipping a statement (`ops::thread_skip`) then changes nothing but the thread's
//! position: no handle is marked failed, no label is added, and no other task reads a thread's
//! position. The reduction explores the skip of a deferred statement only at the end: when
//! every task that has a move is a thread at a deferred statement (each may still run it or
//! skip it). Everywhere else the skip is left out.
//!
//! Soundness. Take any interleaving E of the unreduced search to an end state. Move the skip
//! of each deferred statement k of thread t later, past the steps of other tasks (a skip
//! commutes with every step of another task: it touches only t's position, and takes no
//! lease-break time, `model::step`) up to t's next step. That step is statement k+1,
//! which has the same operation as k: if E runs it, E' runs statement k there instead (the
//! same operation on the same world does the same thing; a statement's position is read only
//! by traces) and skips k+1 in its place; if E skips it too, the two skips travel on together.
//! By induction every skip of a deferred statement ends up after every other step of E, in
//! E' with the same length, the same worlds at each step up to the threads' positions, hence
//! the same labels, the same end state and the same power-failure outcomes (`--crash` reads
//! only blocks). At the point where E''s skips begin, no other task can move: skips change no
//! task's readiness, and after them E has ended. So E' is a path of the reduced search. (If a
//! step of E stopped the machine, a modeled `BUG()`, nothing moves after it: E' leaves the skips
//! it moved past that step out, and ends in the same world up to threads' positions, with the
//! same labels.)
//! Witnesses keep their length, so shortest witnesses stay shortest, and they are paths of the
//! unreduced model from the real initial world: they replay.
//!
//! With the persistent-set reductions (`invisible`, `signals`, `independence`). Where one of
//! them finds a persistent set smaller than every move, it is explored as it is, skips of
//! deferred statements included; late-skips filters only where none did. Sound together, by
//! induction on the longest path from a state s, for every path E from s to an end state z
//! (taken, as above, with its deferred skips at the end: E'): if a persistent set P was taken
//! and E' has a move of P, its first one commutes to the front of E' and is explored (P is kept
//! whole); if E' has none, P's moves are still enabled at z, which then is no end state (or a
//! step stopped the machine, the case every persistent-set reduction covers). If no persistent
//! set was taken, the first move of E' is explored unless it is a deferred skip; and if it is,
//! E' is deferred skips only, which change no task's readiness, so at s only threads at
//! deferred statements can move: the end, where every move is explored.
//!
//! Off where a step counts as lease-break time (a lease, a truncate, a punch, a fallocate or an
//! `on break` block in the program). A skip no longer ticks the lease-break clock (fuzzing
//! round 3, regressions 35 and 36), but a waiting layout change's time also runs out when no
//! other task can move (`truncate::wait_times_out`), and a skip changes that: a thread at a
//! deferred statement can move, one past its last cannot. Moving the skip later could so
//! remove a time-out, and the argument above does not cover it.

use crate::model::program::CStmt;
use crate::model::task::{Cont, TaskKind};
use crate::model::{Cx, Move, World};

/// Per thread, per statement, whether the statement is deferred.
pub struct LateSkips {
    deferred: Vec<Vec<bool>>,
}

impl LateSkips {
    /// The deferred statements of `cx`'s program, or `None` when the reduction is off (no
    /// deferred statement, or lease-break time in the program).
    pub fn new(cx: &Cx) -> Option<LateSkips> {
        let prog = cx.prog;
        let times = |s: &CStmt| s.op.is_layout_op();
        if prog.threads.iter().any(|t| t.on_break.is_some() || t.body.iter().any(times)) {
            return None;
        }
        let deferred: Vec<Vec<bool>> = prog
            .threads
            .iter()
            .map(|t| {
                (0..t.body.len())
                    .map(|k| {
                        let s = &t.body[k];
                        t.body[k..].iter().all(|n| n.maybe && n.def.is_none() && n.op == s.op)
                    })
                    .collect()
            })
            .collect();
        deferred.iter().flatten().any(|&d| d).then_some(LateSkips { deferred })
    }

    /// Whether task `t` of `w` is a thread at the start of a deferred statement.
    fn at_deferred(&self, w: &World, t: usize) -> bool {
        let task = &w.tasks[t];
        let TaskKind::Thread { thread } = task.kind else { return false };
        !task.done && task.cont == Cont::Start && self.deferred[thread as usize][task.pc as usize]
    }

    /// Leaves the skips of deferred statements out of `moves` (every move of the state, where no
    /// persistent set was found) unless every move is a deferred thread's: the end.
    pub fn filter(&self, w: &World, moves: &mut Vec<Move>) {
        if moves.iter().all(|m| self.at_deferred(w, m.task as usize)) {
            return;
        }
        moves.retain(|m| !(m.skip && self.at_deferred(w, m.task as usize)));
    }
}
