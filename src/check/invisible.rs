//! The `invisible` reduction: partial-order reduction by invisible steps.
//!
//! Soundness. A thread step is invisible (`model::ops::invisible_step`) when it changes nothing
//! but the thread's own position: a `wait` on an event already signalled (events are never
//! cleared), or the silent skip of a statement whose handle failed (and which defines none).
//! Such a step commutes with every other move, no other move can disable it (the event stays
//! set, the handle stays failed), it enables no move of another task, it adds no label, and
//! `model::step` does not count it as lease-break time. So `{it}` is a persistent set, and since
//! the state graph is acyclic, exploring only it reaches the same end states, with the same
//! labels, by schedules of the same lengths (the step is only moved earlier): witnesses stay
//! shortest. One exception: a modeled `BUG()` of another task, or its `crash` statement (a
//! power failure), stops the machine and so disables the step; an end state where the stop
//! came before the step is not reached itself; the one where the step came first is, with the
//! same labels (the step adds none), by a schedule one step longer per such step. Stopped end
//! states may so merge, which only lowers their "how often" counts (docs/design.md, "How
//! often"), and a witness ending in one may be longer than the unreduced search's (regression
//! 36 under linux-4.14: `lease:EINVAL` in 7 steps against 6). Power failures (`--crash`) see
//! the same disks: the step touches no block.

use crate::model::{ops, Cx, Move, World};

/// An invisible thread move among `moves`, if any.
pub fn persistent(w: &World, cx: &Cx, moves: &[Move]) -> Option<Move> {
    moves.iter().copied().find(|m| {
        !m.skip
            && w.tasks[m.task as usize].is_thread()
            && ops::invisible_step(w, cx, m.task as usize)
    })
}
