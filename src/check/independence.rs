//! The `independence` reduction: persistent sets from the footprints of steps (a static
//! stubborn-set reduction in the sense of Valmari and Godefroid, task by task, without sleep
//! sets).
//!
//! Footprints. Each step declares what it may read and write, as a [`Set`]: file pages (the
//! page's cached folio and its flags, its block and what the disk holds for it, the PTEs and
//! GUP references of that page, and any anonymous copy made of it through a private mapping),
//! a file's inode-level state (size, `wb_err`, O_DIRECT count), handles (defined, failed, the
//! pin or MR itself), events, and `alloc`: the frame and block allocators and the
//! delayed-allocation reservations, which every allocation or free touches (the allocator
//! hands out the lowest free frame, so two allocations do not commute); a step that may
//! allocate a frame may find none free and run direct reclaim, which may evict or write any
//! page, so it writes every page too (`reclaiming`). Labels are a set only
//! ever added to and never read by a step, and the pin counters only grow and are read only at
//! the end: steps commute on both. A task's *future* footprint covers every step it may still
//! take, and every step of the work it may queue (a bio writes its page; other queued work and
//! unclassified operations write everything). A writeback pass is declared step by step: a
//! submission the pages from its cursor on in its scope; an integrity pass's wait and flush, a
//! step of its own (`Wb::step`), every page (the cache flush makes every completed write
//! durable).
//!
//! Persistent sets. At a state, a set T of tasks, each with a move, is chosen such that no task
//! outside T may, in any step it can still take, touch what a move of T touches (write what it
//! reads or writes, read what it writes). Then along any path of moves outside T, each is
//! independent of T's moves (they commute to the same state) and T's moves stay enabled (their
//! enabling conditions read only their own footprints). T is grown from one task by adding the
//! enabled tasks whose future conflicts; a blocked task in conflict abandons the seed, and so
//! does a task whose next step may stop the machine (`may_stop`: a modeled `BUG()` disables
//! every other move, so such a move commutes with none). The
//! smallest T over all seeds is explored (ties: the lowest task), or every move if none is
//! smaller. A blocked task's future excludes what lies behind a wait only T can end: an
//! integrity writeback pass waiting for the end of writeback of a folio whose bio is in T never
//! reaches its cache flush, nor its later statements, on a path outside T. This is what lets
//! independent bio completions run in one order (a `sync` over 64 dirty pages), item (d).
//!
//! Soundness. The state graph is acyclic and finite, and the choice depends only on the state,
//! so by induction on the longest path from a state: for every path from state s to an end
//! state z, the reduced search from s reaches an end z' whose labels include z's. If the path
//! takes a move of T, the first such move commutes back to its front (no move of T stops the
//! machine, so the moves before it still run after it); otherwise T's moves are
//! still enabled at the end, unless a move outside T stopped the machine (a modeled `BUG()`):
//! then taking a move of T first and the same path after it stops the machine the same way (the
//! crashing step touches nothing of T's) with labels that include z's. Labels are part of the
//! state and only grow, so the union of labels over end states is the same as without the
//! reduction. Witnesses are real schedules from the real initial world, so they replay; they
//! are shortest in the reduced graph only, not always shortest overall.
//!
//! Where the reduction is off (returns no footprints): under a mutation (which may break the
//! mechanisms the footprints assume), on DAX (a page changes hands under a reference when its
//! block is freed), on btrfs (fix-up work queued from writeback), with layout leases, truncate,
//! punch or fallocate (a waiting layout change counts every step as lease-break time, which
//! makes every step dependent on it), with ODP registrations (MMU notifiers reach other
//! handles), and under `--crash` (power failures are explored at every intermediate state,
//! which a persistent-set search skips). The other reductions still apply there.

use crate::limits::FILES_MAX;
use crate::model::program::{COp, CStmt};
use crate::model::task::{Cont, TaskKind};
use crate::model::world::{FileId, HandleId, World};
use crate::model::writeback::Wb;
use crate::model::{Cx, Move};
use crate::policy::NoBuffersWriteback;
use crate::scenario::FsKind;

/// Resources a step may touch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Set {
    /// Per file, a bit per page.
    pages: [u64; FILES_MAX],
    /// Per file, the inode-level state.
    inodes: u8,
    handles: u32,
    events: u32,
    alloc: bool,
}

impl Set {
    const ALL: Set = Set {
        pages: [u64::MAX; FILES_MAX],
        inodes: u8::MAX,
        handles: u32::MAX,
        events: u32::MAX,
        alloc: true,
    };

    fn union(mut self, o: &Set) -> Set {
        self.union_with(o);
        self
    }

    fn union_with(&mut self, o: &Set) {
        for (a, b) in self.pages.iter_mut().zip(&o.pages) {
            *a |= b;
        }
        self.inodes |= o.inodes;
        self.handles |= o.handles;
        self.events |= o.events;
        self.alloc |= o.alloc;
    }

    fn meets(&self, o: &Set) -> bool {
        // The scalars first: `alloc` is where most steps meet.
        (self.alloc && o.alloc)
            || self.inodes & o.inodes != 0
            || self.handles & o.handles != 0
            || self.events & o.events != 0
            || self.pages.iter().zip(&o.pages).any(|(a, b)| a & b != 0)
    }

    fn page(f: FileId, mask: u64) -> Set {
        let mut s = Set::default();
        s.pages[f.0 as usize] = mask;
        s
    }

    fn inode(f: FileId) -> Set {
        Set { inodes: 1 << f.0, ..Set::default() }
    }

    fn handle(h: HandleId) -> Set {
        Set { handles: 1 << h.0, ..Set::default() }
    }

    fn event(e: u8) -> Set {
        Set { events: 1 << e, ..Set::default() }
    }

    fn alloc() -> Set {
        Set { alloc: true, ..Set::default() }
    }

    fn all_pages() -> Set {
        Set { pages: [u64::MAX; FILES_MAX], inodes: u8::MAX, ..Set::default() }
    }
}

/// What a step (or a sequence of steps) may read and write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Footprint {
    read: Set,
    write: Set,
}

impl Footprint {
    const ALL: Footprint = Footprint { read: Set::ALL, write: Set::ALL };

    fn union(self, o: &Footprint) -> Footprint {
        Footprint { read: self.read.union(&o.read), write: self.write.union(&o.write) }
    }

    fn union_with(&mut self, o: &Footprint) {
        self.read.union_with(&o.read);
        self.write.union_with(&o.write);
    }

    /// Two footprints conflict when one writes what the other reads or writes.
    pub(super) fn conflicts(&self, o: &Footprint) -> bool {
        self.write.meets(&o.write) || self.write.meets(&o.read) || o.write.meets(&self.read)
    }

    fn reads(read: Set) -> Footprint {
        Footprint { read, write: Set::default() }
    }

    fn writes(write: Set) -> Footprint {
        Footprint { read: Set::default(), write }
    }
}

/// A handle's file and the file pages it covers, known from the statement that defines it.
#[derive(Clone, Copy, Debug, Default)]
struct HandleSpan {
    file: Option<FileId>,
    /// The first file page the handle covers (a mapping's pgoff, plus a pin's start).
    first: u8,
    pages: u64,
}

/// The static footprints of a program's statements, and of the suffixes of each thread.
pub struct Footprints {
    /// Per thread, per statement.
    stmts: Vec<Vec<Footprint>>,
    /// Per thread, the union of statements `pc..`.
    suffix: Vec<Vec<Footprint>>,
}

fn mask(start: u32, len: u32) -> u64 {
    if len >= 64 {
        u64::MAX << start.min(63)
    } else {
        ((1u64 << len) - 1) << start
    }
}

impl Footprints {
    /// The footprints of `cx`'s program, or `None` where the reduction is off (see the module
    /// documentation).
    pub fn new(cx: &Cx) -> Option<Footprints> {
        let prog = cx.prog;
        let kind = prog.fs.kind;
        let excluded_fs = matches!(kind, FsKind::Btrfs | FsKind::Ext4Dax | FsKind::XfsDax);
        let excluded_op =
            |s: &CStmt| s.op.is_layout_op() || matches!(s.op, COp::RegMr { odp: true, .. });
        let any_excluded =
            prog.threads.iter().any(|t| t.on_break.is_some() || t.body.iter().any(excluded_op));
        if cx.policy.mutation.is_some() || excluded_fs || any_excluded {
            return None;
        }
        let spans = handle_spans(prog);
        let stmts: Vec<Vec<Footprint>> = prog
            .threads
            .iter()
            .map(|t| t.body.iter().map(|s| stmt_footprint(s, &spans)).collect())
            .collect();
        let suffix = stmts
            .iter()
            .map(|body| {
                let mut acc = Footprint::default();
                let mut out: Vec<Footprint> = body
                    .iter()
                    .rev()
                    .map(|fp| {
                        acc = acc.union(fp);
                        acc
                    })
                    .collect();
                out.reverse();
                out.push(Footprint::default());
                out
            })
            .collect();
        Some(Footprints { stmts, suffix })
    }

    /// A persistent subset of `moves` smaller than all of them, if one is found.
    pub fn persistent(&self, w: &World, cx: &Cx, moves: &[Move]) -> Option<Vec<Move>> {
        let mut enabled: Vec<usize> = moves.iter().map(|m| m.task as usize).collect();
        enabled.dedup();
        if enabled.len() < 2 {
            return None;
        }
        // Only a set smaller than every enabled task, and than the best so far (ties keep the
        // first), can be chosen: a seed's growth stops as soon as it reaches that size, which
        // changes no choice (the closure only grows) and spares growing sets that pull in
        // every task (kswapd's reclaim touches every page).
        CACHE.with(|cache| {
            let cache = &mut *cache.borrow_mut();
            cache.reset(w.tasks.len());
            if enabled.iter().any(|&g| self.dominates(w, cx, g, &enabled, cache)) {
                return None;
            }
            let mut best: Option<Vec<usize>> = None;
            for &seed in &enabled {
                let bound = best.as_ref().map_or(enabled.len(), |b| b.len());
                let Some(set) = self.closure(w, cx, seed, &enabled, bound, cache) else {
                    continue;
                };
                best = Some(set);
                if best.as_ref().is_some_and(|b| b.len() == 1) {
                    break;
                }
            }
            let best = best?;
            Some(moves.iter().copied().filter(|m| best.contains(&(m.task as usize))).collect())
        })
    }

    /// Whether enabled task `g` keeps every seed from a set: its next step conflicts with what
    /// every other unfinished task may still do (`Cache::blocks_all`), and what it may still do
    /// conflicts with every other enabled task's next step (it is not an integrity writeback
    /// pass, whose future depends on the set). Then a growth from `g` stops at once, and a
    /// growth from any other enabled seed must take `g` (its whole future meets the seed's
    /// step, so it meets the set's footprint, which only grows) and stops there: no seed gives
    /// a set, which is what trying each of them finds, step by step. (The flusher or kswapd at
    /// a `maybe writeback` or `maybe reclaim`: every state of the N-pair family until both are
    /// done.)
    fn dominates(
        &self,
        w: &World,
        cx: &Cx,
        g: usize,
        enabled: &[usize],
        cache: &mut Cache,
    ) -> bool {
        if matches!(&w.tasks[g].cont, Cont::Writeback(wb) if wb.sync) {
            return false;
        }
        if !cache.blocks_all(self, w, cx, g) {
            return false;
        }
        let future = *cache.whole(self, w, cx, g);
        enabled.iter().all(|&s| s == g || future.conflicts(cache.current(self, w, cx, s)))
    }

    /// The set of tasks grown from `seed`, or `None` if a blocked task conflicts with it or it
    /// reaches `bound` tasks.
    ///
    /// A task whose next step conflicts with what every other unfinished task may still do
    /// (writeback or reclaim over every page) ends the growth at once: from there every
    /// unfinished task joins, and they are at least `bound` (every enabled task), so the
    /// growth would reach `bound` or a blocked task, step by step. Returning early gives the
    /// same answer without the steps.
    fn closure(
        &self,
        w: &World,
        cx: &Cx,
        seed: usize,
        enabled: &[usize],
        bound: usize,
        cache: &mut Cache,
    ) -> Option<Vec<usize>> {
        if bound <= 1 || may_stop(self, w, cx, seed) || cache.blocks_all(self, w, cx, seed) {
            return None;
        }
        let mut set = vec![seed];
        let mut touched = *cache.current(self, w, cx, seed);
        'grow: loop {
            for u in 0..w.tasks.len() {
                if set.contains(&u) || w.tasks[u].done {
                    continue;
                }
                if !cache.conflicts(self, w, cx, u, &set, &touched) {
                    continue;
                }
                if !enabled.contains(&u) || set.len() + 1 >= bound {
                    return None;
                }
                if may_stop(self, w, cx, u) || cache.blocks_all(self, w, cx, u) {
                    return None;
                }
                set.push(u);
                touched.union_with(cache.current(self, w, cx, u));
                continue 'grow;
            }
            return Some(set);
        }
    }

    /// What task `t`'s next step may touch (either move of it: a `maybe` statement's skip
    /// touches nothing of this); the `sleep` reduction's independence.
    pub(super) fn next_step(&self, w: &World, cx: &Cx, t: usize) -> Footprint {
        self.current(w, cx, t)
    }

    /// What task `t`'s next step may touch.
    fn current(&self, w: &World, cx: &Cx, t: usize) -> Footprint {
        let task = &w.tasks[t];
        match (&task.kind, &task.cont) {
            (TaskKind::Thread { .. }, Cont::Writeback(wb)) => pass_step(w, cx, wb),
            (TaskKind::Thread { thread }, _) => self.stmts[*thread as usize][task.pc as usize],
            (kind, _) => queued(kind),
        }
    }

    /// What task `u` may touch in any step it can take before a move of `set` is taken.
    fn future(&self, w: &World, cx: &Cx, u: usize, set: &[usize]) -> Footprint {
        let task = &w.tasks[u];
        let TaskKind::Thread { thread } = task.kind else { return queued(&task.kind) };
        let whole = self.suffix[thread as usize][task.pc as usize];
        match &task.cont {
            // The pass cannot end before a bio of `set` completes: only its submissions lie on
            // paths outside `set`.
            Cont::Writeback(wb) if wb.sync && waits_for(w, wb, set) => pass_remaining(w, cx, wb),
            _ => whole,
        }
    }
}

/// The footprints of one state's tasks, each computed once however many seeds read it: what
/// a task's next step touches, what it may touch before any move of a set (the same for every
/// set, except an integrity writeback pass's, which depends on the set through the bios it
/// waits for), and whether its next step conflicts with every other unfinished task's future.
/// Kept per explorer thread; an entry belongs to the state whose `stamp` it carries, so moving
/// on to the next state writes nothing.
#[derive(Default)]
struct Cache {
    stamp: u32,
    current: Vec<(u32, Footprint)>,
    future: Vec<(u32, Footprint)>,
    blocks_all: Vec<(u32, bool)>,
}

thread_local! {
    static CACHE: std::cell::RefCell<Cache> = std::cell::RefCell::new(Cache::default());
}

/// The entry of `slot` for state `stamp`, computed by `f` unless it is there already.
/// A reference, not a copy: a footprint is 160 bytes, and copying them was a third of this
/// reduction's time.
fn memo<T>(slot: &mut (u32, T), stamp: u32, f: impl FnOnce() -> T) -> &T {
    if slot.0 != stamp {
        *slot = (stamp, f());
    }
    &slot.1
}

impl Cache {
    /// Starts a new state with `tasks` tasks.
    fn reset(&mut self, tasks: usize) {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            // Once every 2^32 states: no entry may carry the new stamp from long ago.
            self.current.clear();
            self.future.clear();
            self.blocks_all.clear();
            self.stamp = 1;
        }
        if self.current.len() < tasks {
            self.current.resize(tasks, (0, Footprint::default()));
            self.future.resize(tasks, (0, Footprint::default()));
            self.blocks_all.resize(tasks, (0, false));
        }
    }

    fn current(&mut self, fps: &Footprints, w: &World, cx: &Cx, t: usize) -> &Footprint {
        memo(&mut self.current[t], self.stamp, || fps.current(w, cx, t))
    }

    /// What task `u` may touch in any step it can take before a move of any set, for a task
    /// that is not an integrity writeback pass.
    fn whole(&mut self, fps: &Footprints, w: &World, cx: &Cx, u: usize) -> &Footprint {
        memo(&mut self.future[u], self.stamp, || fps.future(w, cx, u, &[]))
    }

    /// Whether task `u`'s future, before a move of `set`, conflicts with `touched`.
    fn conflicts(
        &mut self,
        fps: &Footprints,
        w: &World,
        cx: &Cx,
        u: usize,
        set: &[usize],
        touched: &Footprint,
    ) -> bool {
        if matches!(&w.tasks[u].cont, Cont::Writeback(wb) if wb.sync) {
            return fps.future(w, cx, u, set).conflicts(touched);
        }
        self.whole(fps, w, cx, u).conflicts(touched)
    }

    /// Whether task `g`'s next step conflicts with everything every other unfinished task may
    /// still do, whatever set it is in: with an integrity pass's smaller future too (the one
    /// it has once it waits for a bio of the set).
    fn blocks_all(&mut self, fps: &Footprints, w: &World, cx: &Cx, g: usize) -> bool {
        if self.blocks_all[g].0 == self.stamp {
            return self.blocks_all[g].1;
        }
        let cur = *self.current(fps, w, cx, g);
        let b = (0..w.tasks.len()).filter(|&u| u != g && !w.tasks[u].done).all(|u| {
            let whole = self.whole(fps, w, cx, u);
            whole.conflicts(&cur)
                && match &w.tasks[u].cont {
                    Cont::Writeback(wb) if wb.sync => pass_remaining(w, cx, wb).conflicts(&cur),
                    _ => true,
                }
        });
        self.blocks_all[g] = (self.stamp, b);
        b
    }
}

/// Whether task `t`'s next step may stop the machine: a modeled `BUG()` of writeback meeting a
/// dirty folio without private data (ext4 before 5.18's `page_buffers()`, XFS with buffer
/// heads; `fs::check_private`). Such a step disables every other move, so it commutes with
/// none, and a set holding it is not persistent: a path outside the set may add labels (a
/// device write through a pin, behind a pass's cursor) that the crash would cut off. The test is
/// coarse (any such folio anywhere, any step that may write back: a writeback statement, a pass
/// still submitting, or an unclassified statement such as O_DIRECT's flush of a page), which
/// only makes fewer sets persistent. The other step that stops the machine, a `crash`
/// statement (power failure), is unclassified: its footprint touches everything, so a growth
/// from it takes every unfinished task and ends at the bound or at a blocked task. (The one
/// task with an empty future, an integrity pass waiting for a bio of the set, is blocked.)
/// Found 2026-12-07 by `persistent_sets_commute_with_the_paths_outside_them` on a longer walk:
/// a pass whose next folio had no buffers under linux-4.14 was a set alone, beside an
/// independent bio (regressions 27 to 29).
fn may_stop(fps: &Footprints, w: &World, cx: &Cx, t: usize) -> bool {
    let bugs = match cx.prog.fs.kind {
        FsKind::Ext4 => cx.policy.ext4_no_buffers == NoBuffersWriteback::Bug,
        FsKind::XfsBh => true,
        _ => false,
    };
    if !bugs {
        return false;
    }
    let task = &w.tasks[t];
    let TaskKind::Thread { thread } = task.kind else { return false };
    let writes_back = match &task.cont {
        Cont::Writeback(wb) => !wb.waiting,
        Cont::Start => {
            let (th, pc) = (thread as usize, task.pc as usize);
            let Some(stmt) = cx.prog.threads[th].body.get(pc) else { return false };
            matches!(
                stmt.op,
                COp::Fsync { .. } | COp::Msync { .. } | COp::Sync | COp::Writeback { .. }
            ) || fps.stmts[th][pc] == Footprint::ALL
        }
        _ => false,
    };
    writes_back
        && w.inodes.iter().any(|inode| {
            inode.pages.iter().any(|p| {
                p.folio.is_some_and(|f| {
                    let folio = w.folio(f);
                    folio.dirty && !folio.private
                })
            })
        })
}

/// Each handle's file and pages, from the statements that define them.
fn handle_spans(prog: &crate::model::Program) -> Vec<HandleSpan> {
    let mut spans = vec![HandleSpan::default(); prog.handles.len()];
    // Definitions may come in any thread order: repeat until nothing changes.
    for _ in 0..prog.handles.len() + 1 {
        for s in prog.threads.iter().flat_map(|t| &t.body) {
            let Some(h) = s.def else { continue };
            let span = match s.op {
                COp::Mmap { file, start, len, .. } => HandleSpan {
                    file: Some(file),
                    first: start,
                    pages: mask(start as u32, len as u32),
                },
                COp::Pin { map, start, end, .. } | COp::RegMr { map, start, end, .. } => {
                    let m = spans[map.0 as usize];
                    let first = m.first + start;
                    HandleSpan {
                        file: m.file,
                        first,
                        pages: mask(first as u32, (end - start) as u32),
                    }
                }
                _ => HandleSpan::default(),
            };
            spans[h.0 as usize] = span;
        }
    }
    spans
}

/// The static footprint of one statement, whole.
fn stmt_footprint(s: &CStmt, spans: &[HandleSpan]) -> Footprint {
    let def = s.def.map_or(Set::default(), Set::handle);
    // The pages of handle `h` (page `page` of it, or all), with the file's inode read.
    let span = |h: HandleId, page: Option<u8>| -> Option<(FileId, u64)> {
        let sp = spans[h.0 as usize];
        let file = sp.file?;
        Some((file, page.map_or(sp.pages, |p| 1u64 << (sp.first + p).min(63))))
    };
    let fp = match s.op {
        COp::Mmap { file, .. } => Some(Footprint { read: Set::inode(file), write: Set::default() }),
        COp::Munmap { map } => span(map, None).map(|(f, m)| {
            Footprint::writes(Set::page(f, m).union(&Set::handle(map)).union(&Set::alloc()))
        }),
        COp::Store { map, page, .. }
        | COp::Load { map, page }
        | COp::RemoteWrite { map, page, .. } => span(map, Some(page)).map(|(f, m)| Footprint {
            read: Set::handle(map).union(&Set::inode(f)),
            write: Set::page(f, m).union(&Set::alloc()),
        }),
        COp::Write { file, page, .. } => Some(Footprint::writes(
            Set::page(file, 1 << page).union(&Set::inode(file)).union(&Set::alloc()),
        )),
        COp::Read { file, page } => Some(Footprint {
            read: Set::inode(file),
            write: Set::page(file, 1 << page).union(&Set::alloc()),
        }),
        // A pass over the file, then the cache flush: every block (of any file) may become
        // durable.
        COp::Fsync { file } => {
            Some(Footprint::writes(Set::all_pages().union(&Set::inode(file)).union(&Set::alloc())))
        }
        COp::Msync { map } => span(map, None).map(|(f, _)| {
            Footprint::writes(
                Set::all_pages()
                    .union(&Set::inode(f))
                    .union(&Set::handle(map))
                    .union(&Set::alloc()),
            )
        }),
        COp::Sync | COp::Reclaim { .. } | COp::ReclaimActive | COp::DropCaches => {
            Some(Footprint::writes(Set::all_pages().union(&Set::alloc())))
        }
        COp::Writeback { file: Some(file) } => Some(Footprint::writes(
            Set::page(file, u64::MAX).union(&Set::inode(file)).union(&Set::alloc()),
        )),
        COp::Writeback { file: None } => {
            Some(Footprint::writes(Set::all_pages().union(&Set::alloc())))
        }
        COp::Pin { map, .. } | COp::RegMr { map, odp: false, .. } => {
            s.def.and_then(|h| span(h, None)).map(|(f, m)| Footprint {
                read: Set::handle(map).union(&Set::inode(f)),
                write: Set::page(f, m).union(&Set::alloc()),
            })
        }
        COp::Unpin { pin: h, .. } | COp::DeregMr { mr: h } => span(h, None).map(|(f, m)| {
            Footprint::writes(Set::page(f, m).union(&Set::handle(h)).union(&Set::alloc()))
        }),
        COp::DmaWrite { handle, page, .. } | COp::DmaRead { handle, page } => {
            span(handle, Some(page))
                .map(|(f, m)| Footprint { read: Set::handle(handle), write: Set::page(f, m) })
        }
        COp::Signal { event } => Some(Footprint::writes(Set::event(event))),
        COp::Wait { event } => Some(Footprint::reads(Set::event(event))),
        _ => None,
    };
    match fp {
        // A failed or undefined handle is read by every user.
        Some(fp) => {
            let uses =
                s.op.uses().into_iter().fold(Set::default(), |a, h| a.union(&Set::handle(h)));
            let fp = Footprint { read: fp.read.union(&uses), write: fp.write.union(&def) };
            if allocates_frames(&s.op) {
                reclaiming(fp)
            } else {
                fp
            }
        }
        None => Footprint::ALL,
    }
}

/// The statements that may allocate a frame, with direct reclaim when none is free
/// (`memory::alloc_folio_reclaiming`'s callers): a fault (user access or GUP's fault-in: a
/// page-cache fill or a COW copy), and write(2) and read(2) filling the page cache. Writeback
/// allocates blocks, not frames (a bounce copy is data in the bio); unmapping and unpinning free.
fn allocates_frames(op: &COp) -> bool {
    matches!(
        op,
        COp::Store { .. }
            | COp::Load { .. }
            | COp::RemoteWrite { .. }
            | COp::Write { .. }
            | COp::Read { .. }
            | COp::Pin { .. }
            | COp::RegMr { .. }
    )
}

/// A step that may allocate a frame finds none free and runs direct reclaim
/// (`shrink_folio_list()` over every candidate, as `reclaim` does), which may evict or write
/// any file page: such a step writes every page. (Found in issue 9's session of 2026-12-07 by
/// the sleep sets' check that they keep every state: with `memory 7`, a `reg-mr` that had to
/// reclaim evicted a page whose bio had completed in one order and not in the other, and the
/// two orders of the `reg-mr` and that bio reached different worlds.)
fn reclaiming(mut fp: Footprint) -> Footprint {
    fp.write.union_with(&Set::all_pages());
    fp
}

/// Queued work: a page-write bio touches its page (its folio's writeback flag and data, its
/// block), and its file's error state when the device checks integrity data (a mismatch fails
/// the write with `mapping_set_error()`); any other queued work everything.
fn queued(kind: &TaskKind) -> Footprint {
    match kind {
        TaskKind::Bio { file, index, cow: false, csum, .. } => {
            let error = if csum.is_some() { Set::inode(*file) } else { Set::default() };
            Footprint::writes(Set::page(*file, 1 << index).union(&error))
        }
        _ => Footprint::ALL,
    }
}

/// The pages of a writeback pass's scope it may still visit: its current file from the
/// cursor, every file in scope it has not finished.
fn pass_pages(w: &World, wb: &Wb) -> Set {
    let mut s = Set::default();
    for (file, from) in wb.remaining(w) {
        let fi = file.0 as usize;
        let mut m = if from >= 64 { 0 } else { u64::MAX << from };
        if let Some((a, b)) = wb.range {
            m &= mask(a as u32, (b - a) as u32);
        }
        s.pages[fi] = m;
        s.inodes |= 1 << fi;
    }
    s.alloc = true;
    s
}

/// The rest of a pass's submissions (block allocation included).
fn pass_remaining(w: &World, _cx: &Cx, wb: &Wb) -> Footprint {
    if wb.waiting {
        return Footprint::default();
    }
    Footprint::writes(pass_pages(w, wb))
}

/// The last step of an integrity pass, once it waits: the wait reads every page in scope, the
/// flush writes every block (and frees the blocks a commit frees), and the mapping error is
/// taken.
fn flush() -> Footprint {
    Footprint::writes(Set::all_pages().union(&Set::alloc()))
}

/// The next step of a pass: a submission (which may end a periodic pass, or turn an integrity
/// pass to its wait, reading no page outside its remaining scope), or an integrity pass's wait
/// and flush (`Wb::step`).
fn pass_step(w: &World, cx: &Cx, wb: &Wb) -> Footprint {
    if wb.waiting {
        flush()
    } else {
        pass_remaining(w, cx, wb)
    }
}

/// Whether the integrity pass `wb` must wait for a bio of `set`: one is in flight for a page
/// in the pass's scope (its folio stays under writeback until that bio runs).
fn waits_for(w: &World, wb: &Wb, set: &[usize]) -> bool {
    set.iter().any(|&t| match w.tasks[t].kind {
        TaskKind::Bio { file, index, cow: false, .. } => {
            wb.scope.is_none_or(|f| f == file)
                && wb.range.is_none_or(|(a, b)| (a..b).contains(&index))
        }
        _ => false,
    })
}
