//! The kernel model: a deterministic, pure state machine. A [`World`] is the whole machine;
//! [`moves`] lists what may happen next, [`step`] makes one move happen, and [`finish`] runs the
//! end of an interleaving (quiesce, final sync, the convergence and leak checks).
//!
//! Modules are named after the kernel files they mirror (STYLE.md practice 1): `memory`
//! (mm/memory.c, mm/filemap.c, mm/rmap.c), `gup` (mm/gup.c), `vmscan` (mm/vmscan.c),
//! `writeback` (mm/page-writeback.c), `fs` (the filesystems' address-space operations), `ops`
//! (system calls, GUP users and devices). The model has no clock, no randomness, no I/O and no
//! hash-order iteration: every choice comes from the explorer.

pub mod direct_io;
pub mod few;
pub mod fs;
pub mod gup;
pub mod invariants;
pub mod label;
pub mod memory;
pub mod ops;
pub mod oracle;
pub mod program;
pub mod rdma;
pub mod slots;
pub mod snapshot;
pub mod task;
pub mod truncate;
pub mod vmscan;
pub mod world;
pub mod writeback;

pub use label::{Errno, LabelSet, Outcome};
pub use program::{compile, Program};
pub use world::World;

use crate::policy::Policy;
use task::TaskKind;
use world::FileId;

/// What a step needs besides the world: the program text, the policy, and (when replaying) a
/// place to describe what the kernel did.
pub struct Cx<'a> {
    pub prog: &'a Program,
    pub policy: &'a Policy,
    /// Lines describing the current step, collected only when tracing.
    pub trace: Option<Vec<String>>,
    /// Some thread has a layout change (truncate, punch, fallocate): only those wait in
    /// `Cont::LayoutWait`, so without one no step counts lease-break time (`truncate::tick`).
    pub layout_waits: bool,
}

impl<'a> Cx<'a> {
    pub fn new(prog: &'a Program, policy: &'a Policy) -> Cx<'a> {
        let layout_waits = prog.threads.iter().flat_map(|th| &th.body).any(|s| {
            use program::COp::{Fallocate, Punch, Truncate};
            matches!(s.op, Truncate { .. } | Punch { .. } | Fallocate { .. })
        });
        Cx { prog, policy, trace: None, layout_waits }
    }

    /// Records a description of what the kernel just did; free when not tracing.
    pub fn note(&mut self, line: impl FnOnce(&Program) -> String) {
        if let Some(t) = &mut self.trace {
            t.push(line(self.prog));
        }
    }

    pub fn file(&self, f: FileId) -> String {
        self.prog.file_name(f).to_string()
    }

    pub fn tag(&self, t: world::Tag) -> String {
        self.prog.tag_name(t).to_string()
    }
}

/// One possible next step: task `task` runs, or (`skip`) its `maybe` statement does not happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Move {
    pub task: u8,
    pub skip: bool,
}

/// The moves available in `w`. Empty when the interleaving is over (all done, machine down, or
/// a deadlock: see [`finish`]).
pub fn moves(w: &World, cx: &Cx) -> Vec<Move> {
    let mut out = Vec::new();
    moves_into(w, cx, &mut out);
    out
}

/// `moves`, into `out` (emptied first): the depth-first search reuses one vector for every
/// state instead of allocating one each.
pub fn moves_into(w: &World, cx: &Cx, out: &mut Vec<Move>) {
    out.clear();
    if w.crashed || w.powered_off {
        return;
    }
    for (t, task) in w.tasks.iter().enumerate() {
        if task.done {
            continue;
        }
        let ready = match task.kind {
            TaskKind::Thread { .. } => ops::thread_ready(w, cx, t),
            _ => true,
        };
        if ready {
            out.push(Move { task: t as u8, skip: false });
        }
        if let TaskKind::Thread { thread } = task.kind {
            let at_maybe = task.cont == task::Cont::Start
                && cx.prog.threads[thread as usize].body[task.pc as usize].maybe;
            if at_maybe {
                out.push(Move { task: t as u8, skip: true });
            }
        }
    }
    if out.is_empty() {
        // Nothing else can run, yet time passes: a lease break (or, under
        // `dax-busy-wait-etxtbsy`, a wait for pinned DAX pages) runs out its time.
        for (t, task) in w.tasks.iter().enumerate() {
            if !task.done
                && matches!(task.cont, task::Cont::LayoutWait { .. })
                && truncate::wait_times_out(w, cx, t)
            {
                out.push(Move { task: t as u8, skip: false });
            }
        }
    }
}

/// Makes move `m` happen.
pub fn step(w: &mut World, cx: &mut Cx, m: Move) {
    let t = m.task as usize;
    let thread = w.tasks[t].is_thread();
    // An invisible step takes no time off a lease break: it stays independent of every move.
    // Nor does a `maybe` statement that does not happen: no code runs, no time passes on its
    // account, so `maybe X` reaches what X or its absence reaches, no more (a skip that
    // counted let a wait run out that neither could, fuzzing round 3, regression 35).
    let counts_as_time = cx.layout_waits && !m.skip && (!thread || !ops::invisible_step(w, cx, t));
    match (&w.tasks[t].kind, m.skip) {
        (TaskKind::Thread { .. }, true) => ops::thread_skip(w, cx, t),
        (TaskKind::Thread { .. }, false) => ops::thread_step(w, cx, t),
        _ => ops::async_step(w, cx, t),
    }
    // Queued work leaves the task list when it runs, so only a thread keeps its index.
    if counts_as_time {
        truncate::tick(w, cx, thread.then_some(t));
    }
    record_peaks(w);
    writeback::note_dirtied(w);
    canonicalize(w);
    #[cfg(debug_assertions)]
    w.check_invariants(cx);
}

/// The reservation peaks of the costs (`label::Costs`), in the initial world and after every
/// step.
pub(super) fn record_peaks(w: &mut World) {
    let c = &mut w.labels.costs;
    c.reserved_peak = c.reserved_peak.max(w.reserved_blocks.min(255) as u8);
    let pin: u32 = w.inodes.iter().flat_map(|i| i.pages.iter()).map(|p| p.pin_resv as u32).sum();
    c.pin_reserved_peak = c.pin_reserved_peak.max(pin.min(255) as u8);
}

/// Keeps equal machines equal: queued work is ordered by what it is, not when it was queued.
fn canonicalize(w: &mut World) {
    let threads = w.tasks.iter().take_while(|t| t.is_thread()).count();
    // Sorted already after most steps: leave the tasks' fingerprint hashes (`Slots`) alone.
    if !w.tasks[threads..].is_sorted_by_key(|t| t.sort_key()) {
        w.tasks[threads..].sort_by_key(|t| t.sort_key());
    }
}

/// The name of task `t` in schedules.
pub fn task_name(w: &World, cx: &Cx, t: usize) -> String {
    task_names(w, cx).swap_remove(t)
}

/// The names of all tasks of `w`, in task order.
pub fn task_names(w: &World, cx: &Cx) -> Vec<String> {
    let threads: Vec<String> = cx.prog.threads.iter().map(|th| th.name.clone()).collect();
    w.tasks.iter().map(|task| task.name(&threads, &|f| cx.file(f))).collect()
}

/// Ends an interleaving that has no move left: a `hang` if tasks remain, otherwise quiesce and
/// check convergence and leaks. A machine that hit `BUG()` or lost power is not checked
/// further.
///
/// The quiesce stands for everything the kernel would eventually write: the final sync
/// (integrity writeback of everything, run to completion, and a cache flush), then the work
/// that sync queued, then sync again, until nothing is queued. The only such work is btrfs's
/// fix-up worker (`btrfs_writepage_fixup_worker()`, 5.6+): writeback redirtied a folio dirtied
/// without a reservation and queued the worker, which reserves space and leaves the folio
/// dirty for the flusher's next pass (or, without space, records ENOSPC and cleans it). A sync
/// itself never waits for that worker (kernel-facts Part 6, 46): only the next pass writes it.
pub fn finish(w: &mut World, cx: &mut Cx) {
    if w.crashed || w.powered_off {
        return;
    }
    if w.tasks.iter().any(|t| !t.done) {
        w.labels.add(Outcome::Hang);
        cx.note(|_| "no task can run, yet some are unfinished: hang".to_string());
        return;
    }
    // The machine after each round that queued work, its labels left out.
    let mut rounds: Vec<World> = Vec::new();
    for round in 0.. {
        assert!(
            round < crate::limits::QUIESCE_ROUNDS_MAX,
            "model bug: the quiesce keeps queueing work after {round} rounds without repeating"
        );
        cx.note(|_| "quiesce: final sync".to_string());
        if final_sync(w, cx).is_err() {
            return; // BUG during the final sync
        }
        if !run_queued_work(w, cx) {
            break;
        }
        // A folio kept dirty while pinned (`pinned-writeback=bounce`) whose pin is never
        // dropped is written by every sync, and on btrfs every write leaves it dirty without
        // its delalloc reservation, so every other sync queues the fix-up worker for it: the
        // kernel would go on so for ever. Two such folios out of step queue work in every
        // round. The quiesce is deterministic, so once the machine repeats itself every later
        // round repeats the rounds since: what they could record is recorded; stop there.
        let mut now = w.clone();
        now.labels = LabelSet::default();
        if rounds.contains(&now) {
            cx.note(|_| "quiesce: the rounds repeat (work queued for ever): stop".to_string());
            break;
        }
        rounds.push(now);
    }
    oracle::check_converged(w, cx);
    oracle::check_leaks(w, cx);
}

/// One integrity writeback of every file, its bios run to completion, and the cache flush.
fn final_sync(w: &mut World, cx: &mut Cx) -> Result<(), writeback::KernelBug> {
    let mut wb = writeback::Wb::new(w, None, true, false);
    loop {
        match wb.step(w, cx)? {
            writeback::WbStep::Continue => writeback::run_bios(w, cx, None),
            writeback::WbStep::Done(_) => return Ok(()),
        }
    }
}

/// Runs the asynchronous work queued meanwhile (in task order); whether there was any.
fn run_queued_work(w: &mut World, cx: &mut Cx) -> bool {
    let mut ran = false;
    while let Some(t) = w.tasks.iter().position(|t| !t.is_thread() && !t.done) {
        cx.note(|_| "quiesce: queued work runs".to_string());
        ops::async_step(w, cx, t);
        ran = true;
    }
    ran
}
