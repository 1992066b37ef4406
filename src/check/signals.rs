//! The `signals` reduction: a thread's next step that is a `signal` is, alone, a persistent set.
//!
//! Soundness. Take a state s where thread t is at the start of a `signal e` statement that is
//! not `maybe` (so its only move is the signal; a `signal` defines and uses no handle, so it is
//! always ready). The step sets bit e of `World::events` and advances t (`ops::thread_step`,
//! `COp::Signal`); it adds no label, touches no page, folio, block, handle or other task, and
//! events are never cleared. The only step that reads an event is a `wait` (`ops::thread_ready`,
//! `ops::thread_step`). So for a move b of another task enabled at a state x where the signal is
//! enabled too:
//! - the signal does not disable b (it only sets a bit, which can only enable a `wait`), and b
//!   does not disable the signal (only t's own steps move t);
//! - they commute: `x·signal·b = x·b·signal`. If b is a `wait e`, it is enabled at x, so e is
//!   already set and the signal changes no event; if b is another `signal e`, both set the same
//!   bit; any other step reads no event.
//!
//! Every move outside {signal} on a path from s is a move of another task (t's next move is the
//! signal), so {signal} is a persistent set (Godefroid's definition). The state graph is finite
//! and acyclic and the choice depends on the state alone, so by induction on the longest path
//! from a state: for each path from s to an end state z, the reduced search from s reaches an
//! end state with z's labels. If the path takes the signal, it commutes back to the front, step
//! by step, to the same z. If it does not, the signal is still enabled at z, so z is not an end
//! state, unless a step stopped the machine (a modeled `BUG()`, `World::crashed`, or a `crash`
//! statement, `World::powered_off`): then the signal first and the same path after it stop the
//! machine the same way, at an end state that differs from z only by e and t's position, with
//! the same labels. Labels are part of the state and only grow: the union of labels is kept.
//! Witnesses are real schedules from the real initial world (they replay); they keep their
//! length, since the signal only moves earlier, so a breadth-first search keeps them shortest,
//! except a witness to a stopped end state, which may be one step longer (the signal, which
//! the stop cut off in the shorter schedule). Power failures (`--crash`) read the blocks and the
//! oracle's page records, which the signal does not touch: every state of the unreduced graph has
//! a state of the reduced one with the same disk (the same state, with the signal taken).
//!
//! Off where a step counts as lease-break time (a truncate, punch or fallocate, a lease, or an
//! `on break` block in the program): `model::step` counts a signal as time passing for a layout
//! change waiting on a lease (`truncate::tick`), so moving the signal earlier would move a tick
//! of that clock, which the layout change reads.
//!
//! What it saves: a signal no longer interleaves with the steps of the other tasks. In the
//! N-pair family (`pincheck family pairs N`) each pair signals twice (`reg`, `done`): the
//! reduction takes 31% of the states off two pairs and 43% off three (docs/performance.md).

use crate::model::program::{COp, CStmt};
use crate::model::task::Cont;
use crate::model::{Cx, Move, World};

/// Whether the reduction applies to `cx`'s program: it has a signal, and nothing in it counts
/// steps as lease-break time.
pub fn applies(cx: &Cx) -> bool {
    let prog = cx.prog;
    let times = |s: &CStmt| s.op.is_layout_op();
    let stmts = || prog.threads.iter().flat_map(|t| &t.body);
    !prog.threads.iter().any(|t| t.on_break.is_some())
        && !stmts().any(times)
        && stmts().any(|s| matches!(s.op, COp::Signal { .. }))
}

/// The first move among `moves` that is a thread starting a signal that is not `maybe`.
pub fn persistent(w: &World, cx: &Cx, moves: &[Move]) -> Option<Move> {
    moves.iter().copied().find(|m| {
        let task = &w.tasks[m.task as usize];
        if m.skip || task.done || task.cont != Cont::Start {
            return false;
        }
        let crate::model::task::TaskKind::Thread { thread } = task.kind else { return false };
        let s = &cx.prog.threads[thread as usize].body[task.pc as usize];
        !s.maybe && s.def.is_none() && matches!(s.op, COp::Signal { .. })
    })
}
