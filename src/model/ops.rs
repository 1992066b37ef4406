//! The scenario's operations, each as the kernel entry point it models, and the dispatch of
//! tasks' steps. System calls live here (`mm/mmap.c`, `mm/filemap.c`, `fs/sync.c`,
//! `mm/process_vm_access.c`, `pin_user_pages()` users); bigger mechanisms have their own
//! modules: `truncate` (layout changes and leases), `direct_io`, `rdma` (registrations and
//! device accesses), `vmscan`, `writeback`.
//!
//! Each statement runs as one or more steps (docs/design.md lists them); a step runs to its end
//! without another task in between. Readiness (`thread_ready`) is the sleeping side: a step that
//! would sleep in the kernel is not offered to the explorer until its condition holds.

use super::direct_io::{self, Submitted};
use super::fs;
use super::gup::{get_user_pages, release_pages, GupFlags};
use super::label::Errno;
use super::memory::{filemap_get_folio, handle_mm_fault, zap_pte};
use super::oracle;
use super::program::{COp, CStmt};
use super::rdma::{self, gup_ref};
use super::task::{Cont, TaskKind};
use super::truncate::{self, Progress};
use super::vmscan;
use super::world::*;
use super::writeback::{self, Wb, WbStep};
use super::Cx;

fn stmt<'a>(w: &World, cx: &Cx<'a>, t: usize) -> &'a CStmt {
    let TaskKind::Thread { thread } = w.tasks[t].kind else { panic!("model bug: not a thread") };
    &cx.prog.threads[thread as usize].body[w.tasks[t].pc as usize]
}

fn thread_of(w: &World, t: usize) -> u8 {
    match w.tasks[t].kind {
        TaskKind::Thread { thread } => thread,
        _ => panic!("model bug: not a thread"),
    }
}

/// A write fault on `file` page `index` would sleep in `folio_wait_stable()`: the device needs
/// stable pages and the folio is under writeback. CPU writers wait; devices never do.
fn stable_wait(w: &World, cx: &Cx, file: FileId, index: u8) -> bool {
    !cx.policy.mutated(crate::policy::Mutation::StableWait)
        && fs::stable_pages(cx.prog.fs)
        && w.inodes[file.0 as usize]
            .pages
            .get(index as usize)
            .and_then(|p| p.folio)
            .is_some_and(|f| w.folio(f).writeback)
}

/// A write fault through mapping `map` on pages `[start, end)` would sleep in the stable-pages
/// wait. (A layout change waiting for leases or pinned DAX pages drops the file's locks while it
/// sleeps, `xfs_wait_dax_page()`, `ext4_wait_dax_page()`, `xfs_break_leased_layouts()`, so faults
/// never wait for it.)
fn fault_waits(w: &World, cx: &Cx, map: HandleId, start: u8, end: u8, write: bool) -> bool {
    let Some(vma) = w.vma(map).filter(|v| v.mapped) else { return false };
    write
        && vma.shared
        && (start..end).any(|p| {
            let pte = vma.ptes.get(p as usize).copied().unwrap_or_default();
            !pte.writable && stable_wait(w, cx, vma.file, vma.pgoff + p)
        })
}

/// An O_DIRECT call on `file` page `index` would sleep before submitting, in
/// `filemap_write_and_wait_range()` for writeback already in flight on the page.
fn dio_blocked(w: &World, file: FileId, index: u8) -> bool {
    let page = w.inodes[file.0 as usize].pages.get(index as usize).and_then(|p| p.folio);
    page.is_some_and(|f| w.folio(f).writeback)
}

/// Whether a device access through an ODP registration would fault and sleep.
fn odp_fault_waits(w: &World, cx: &Cx, handle: HandleId, page: u8, write: bool) -> bool {
    let Handle::Odp(mr) = &w.handles[handle.0 as usize] else { return false };
    let mapped = mr.dev.get(page as usize).copied().flatten().is_some_and(|(_, wr)| wr || !write);
    mr.live && !mapped && fault_waits(w, cx, mr.map, mr.start + page, mr.start + page + 1, write)
}

/// Whether the next step of thread task `t` is invisible: it changes nothing but the thread's
/// own position, so it commutes with every other step, cannot be disabled by one, enables
/// none and reaches no label (and `model::step` does not count it as lease-break time). Such
/// steps: a `wait` on an event already signalled, and skipping a statement whose handle failed
/// when it defines no handle itself (neither under `maybe`).
pub fn invisible_step(w: &World, cx: &Cx, t: usize) -> bool {
    let task = &w.tasks[t];
    if task.done || task.cont != Cont::Start {
        return false;
    }
    let s = stmt(w, cx, t);
    if s.maybe || s.def.is_some() {
        return false;
    }
    let failed = s.op.uses().iter().any(|h| w.handles[h.0 as usize] == Handle::Failed);
    match s.op {
        COp::Wait { event } => w.events & (1 << event) != 0,
        _ => failed,
    }
}

/// Whether thread task `t` can take its next step.
pub fn thread_ready(w: &World, cx: &Cx, t: usize) -> bool {
    let task = &w.tasks[t];
    if task.done {
        return false;
    }
    match &task.cont {
        Cont::Writeback(wb) => return wb.ready(w, cx),
        Cont::DioWait { done, .. } => return *done,
        Cont::RemoteWrite { .. } => return true,
        Cont::LayoutWait { .. } => return truncate::ready(w, cx, &stmt(w, cx, t).op, &task.cont),
        Cont::Start => {}
    }
    let s = stmt(w, cx, t);
    let uses = s.op.uses();
    if uses.iter().any(|h| w.handles[h.0 as usize] == Handle::Undefined) {
        return false; // a data dependency: wait for the handle's definition
    }
    if uses.iter().any(|h| w.handles[h.0 as usize] == Handle::Failed) {
        return true; // skipped silently
    }
    match s.op {
        COp::Wait { event } => w.events & (1 << event) != 0,
        COp::Truncate { .. } | COp::Punch { .. } | COp::Fallocate { .. } => {
            truncate::ready(w, cx, &s.op, &Cont::Start)
        }
        COp::Store { map, page, .. } | COp::RemoteWrite { map, page, .. } => {
            !fault_waits(w, cx, map, page, page + 1, true)
        }
        COp::Load { map, page } => !fault_waits(w, cx, map, page, page + 1, false),
        COp::DioRead { map, map_page, file, page } => {
            !fault_waits(w, cx, map, map_page, map_page + 1, true) && !dio_blocked(w, file, page)
        }
        COp::DioWrite { map, map_page, file, page } => {
            !fault_waits(w, cx, map, map_page, map_page + 1, false) && !dio_blocked(w, file, page)
        }
        COp::Pin { map, start, end, write, .. } => !fault_waits(w, cx, map, start, end, write),
        COp::RegMr { map, start, end, write, odp: false } => {
            !fault_waits(w, cx, map, start, end, write || cx.policy.umem_readonly_force)
        }
        COp::DmaWrite { handle, page, .. } => !odp_fault_waits(w, cx, handle, page, true),
        COp::DmaRead { handle, page } => !odp_fault_waits(w, cx, handle, page, false),
        COp::Write { file, page, .. } => {
            let inode = &w.inodes[file.0 as usize];
            !stable_wait(w, cx, file, page) && inode.dio_in_flight == 0
        }
        _ => true,
    }
}

/// Ends the current statement of thread task `t`.
fn finish(w: &mut World, cx: &Cx, t: usize) {
    let th = thread_of(w, t);
    let task = &mut w.tasks[t];
    task.pc += 1;
    task.cont = Cont::Start;
    task.done = task.pc as usize >= cx.prog.threads[th as usize].body.len();
}

/// The statement failed with `errno`: record `OP:ERRNO`, mark its handle failed, go on.
fn fail(w: &mut World, cx: &mut Cx, t: usize, errno: Errno) {
    let s = stmt(w, cx, t);
    w.labels.add_error(s.keyword, errno);
    if let Some(h) = s.def {
        w.handles[h.0 as usize] = Handle::Failed;
    }
    cx.note(|_| format!("{} fails: {}", s.keyword, errno.name()));
    finish(w, cx, t);
}

fn define(w: &mut World, cx: &Cx, t: usize, handle: Handle) {
    let h = stmt(w, cx, t).def.expect("parser requires a handle");
    w.handles[h.0 as usize] = handle;
}

/// Ends a statement that defines a handle: defined on success, failed with its errno otherwise.
fn define_or_fail(w: &mut World, cx: &mut Cx, t: usize, r: Result<Handle, Errno>) {
    match r {
        Ok(h) => {
            define(w, cx, t, h);
            finish(w, cx, t);
        }
        Err(e) => fail(w, cx, t, e),
    }
}

/// A `maybe` statement that does not happen.
pub fn thread_skip(w: &mut World, cx: &mut Cx, t: usize) {
    let s = stmt(w, cx, t);
    cx.note(|_| format!("`{}` (line {}) does not happen", s.text, s.span.line));
    if let Some(h) = s.def {
        // Its handle will never be defined: users skip, as after a failure (no label).
        w.handles[h.0 as usize] = Handle::Failed;
    }
    finish(w, cx, t);
}

/// One step of thread task `t`.
pub fn thread_step(w: &mut World, cx: &mut Cx, t: usize) {
    let cont = w.tasks[t].cont.clone();
    match cont {
        Cont::Start => start_stmt(w, cx, t),
        Cont::Writeback(wb) => writeback_step(w, cx, t, wb),
        Cont::DioWait { release, error, .. } => {
            if let Some(mut pinned) = release {
                // fs/direct-io.c dio_bio_complete(): set_page_dirty_lock() + put_page().
                release_pages(w, cx, &mut pinned, true);
            }
            if let Some(e) = error {
                if let COp::DioRead { file, .. } | COp::DioWrite { file, .. } = stmt(w, cx, t).op {
                    w.inodes[file.0 as usize].dio_in_flight -= 1;
                }
                return fail(w, cx, t, e);
            }
            if let COp::DioRead { file, .. } | COp::DioWrite { file, .. } = stmt(w, cx, t).op {
                w.inodes[file.0 as usize].dio_in_flight -= 1; // inode_dio_end()
            }
            cx.note(|_| "O_DIRECT call returns".to_string());
            finish(w, cx, t);
        }
        Cont::LayoutWait { .. } => {
            let op = stmt(w, cx, t).op.clone();
            let progress = truncate::resume(w, cx, &op);
            layout_progress(w, cx, t, progress);
        }
        Cont::RemoteWrite { mut pinned, tag } => {
            let (f, generation) = pinned.pages[0];
            if oracle::device_access_ok(w, cx, f, generation) {
                let data = oracle::accept_into_folio(w, cx, f, tag);
                cx.note(|n| {
                    format!("process_vm_rw_pages: copy {} into frame {}", n.tag_name(data.tag), f.0)
                });
            } else if w.is_dax_frame(f) {
                // The copy still lands, in storage the file gave up.
                w.folio_mut(f).data = Data { tag, ver: 0, origin: Data::STALE };
            }
            release_pages(w, cx, &mut pinned, true);
            finish(w, cx, t);
        }
    }
}

fn start_stmt(w: &mut World, cx: &mut Cx, t: usize) {
    let s = stmt(w, cx, t);
    cx.note(|_| format!("`{}` (line {})", s.text, s.span.line));
    if s.op.uses().iter().any(|h| w.handles[h.0 as usize] == Handle::Failed) {
        cx.note(|_| format!("{}: skipped, its handle failed", s.keyword));
        if let Some(h) = s.def {
            w.handles[h.0 as usize] = Handle::Failed; // its own users skip in turn
        }
        finish(w, cx, t);
        return;
    }
    match s.op {
        COp::Mmap { file, start, len, shared, ro } => {
            let ptes = vec![Pte::default(); len as usize];
            define(
                w,
                cx,
                t,
                Handle::Map(Vma { file, pgoff: start, shared, read_only: ro, mapped: true, ptes }),
            );
            finish(w, cx, t);
        }
        COp::Munmap { map } => {
            let len = w.vma(map).map_or(0, |v| v.ptes.len());
            for i in 0..len {
                zap_pte(w, cx, map, i as u8);
            }
            if let Some(v) = w.vma_mut(map) {
                v.mapped = false;
            }
            finish(w, cx, t);
        }
        COp::Store { map, page, tag } => match handle_mm_fault(w, cx, map, page, true) {
            Ok(f) => {
                let data = oracle::accept_into_folio(w, cx, f, tag);
                w.vma_mut(map).expect("faulted").ptes[page as usize].dirty = true;
                cx.note(|n| format!("store {} into frame {}", n.tag_name(data.tag), f.0));
                finish(w, cx, t);
            }
            Err(e) => fail(w, cx, t, e),
        },
        COp::Load { map, page } => match handle_mm_fault(w, cx, map, page, false) {
            Ok(_) => finish(w, cx, t),
            Err(e) => fail(w, cx, t, e),
        },
        COp::Write { file, page, tag } => {
            let written = if fs::is_dax(cx.prog.fs) {
                truncate::extend_to(w, file, page + 1);
                direct_io::dax_write(w, cx, file, page, tag)
            } else {
                buffered_write(w, cx, file, page, tag)
            };
            done(w, cx, t, written)
        }
        COp::Read { file, page } => {
            let dax = fs::is_dax(cx.prog.fs);
            if page < w.inodes[file.0 as usize].size && !dax {
                if let Err(e) = filemap_get_folio(w, cx, file, page) {
                    return fail(w, cx, t, e);
                }
            }
            finish(w, cx, t);
        }
        COp::Fsync { file } => begin_writeback(w, cx, t, Some(file), true),
        COp::Msync { map } => match w.vma(map).filter(|v| v.mapped) {
            // sys_msync() → vfs_fsync_range() over the mapped pages only.
            Some(v) if v.shared => {
                // btrfs_sync_file() widens every range to the whole file (`start = 0;
                // end = LLONG_MAX`).
                let whole = cx.prog.fs.kind == crate::scenario::FsKind::Btrfs
                    && cx.policy.btrfs_fsync_whole_file;
                let range = (!whole).then(|| (v.pgoff, v.pgoff + v.ptes.len() as u8));
                let file = v.file;
                begin_writeback_over(w, cx, t, Some(file), range, true)
            }
            // sys_msync() syncs only VM_SHARED mappings.
            Some(_) => finish(w, cx, t),
            None => fail(w, cx, t, Errno::Enomem),
        },
        COp::Sync => begin_writeback(w, cx, t, None, true),
        COp::Writeback { file } => begin_writeback(w, cx, t, file, false),
        COp::Truncate { .. } | COp::Punch { .. } | COp::Fallocate { .. } => {
            let progress = truncate::start(w, cx, &s.op);
            layout_progress(w, cx, t, progress);
        }
        COp::Pin { longterm: true, get: true, .. } if cx.policy.longterm_requires_pin => {
            // 5.10-6.2 is_valid_gup_flags(): `if (WARN_ON_ONCE(gup_flags & FOLL_LONGTERM)) return
            // false;` → -EINVAL (447f3e45c18a); 6.3+ is_valid_gup_args(): `WARN_ON_ONCE(!(gup_flags
            // & FOLL_PIN) && (gup_flags & FOLL_LONGTERM))`. Same outcome in both.
            w.labels.add(super::label::Outcome::Warn);
            fail(w, cx, t, Errno::Einval);
        }
        COp::Pin { map, start, end, write, longterm, get } => {
            let how = if get { GupRef::Get } else { gup_ref(cx.policy.gup_pin) };
            let flags = GupFlags { how, write, longterm, force: false };
            let r = get_user_pages(w, cx, map, start, end, flags).map(Handle::Pin);
            define_or_fail(w, cx, t, r);
        }
        COp::RegMr { map, start, end, write, odp } => {
            let r = rdma::reg_mr(w, cx, map, start, end, write, odp);
            define_or_fail(w, cx, t, r);
        }
        COp::DeregMr { mr } => {
            rdma::dereg_mr(w, cx, mr);
            finish(w, cx, t);
        }
        COp::Unpin { pin, dirty } => {
            if let Handle::Pin(mut p) = w.handles[pin.0 as usize].clone() {
                if p.live {
                    release_pages(w, cx, &mut p, dirty);
                    w.handles[pin.0 as usize] = Handle::Pin(p);
                }
            }
            finish(w, cx, t);
        }
        COp::Lease { file } => {
            let r = truncate::take_lease(w, cx, file);
            define_or_fail(w, cx, t, r);
        }
        COp::Unlease { lease } => {
            truncate::revoke(w, cx, lease);
            finish(w, cx, t);
        }
        COp::DioRead { file, page, map, map_page }
        | COp::DioWrite { file, page, map, map_page } => {
            let read = matches!(s.op, COp::DioRead { .. });
            let thread = thread_of(w, t);
            let pc = w.tasks[t].pc;
            match direct_io::submit(w, cx, thread, pc, read, file, page, map, map_page) {
                Ok(Submitted::Done) => finish(w, cx, t),
                Ok(Submitted::Sleeping) => {
                    w.tasks[t].cont = Cont::DioWait { done: false, release: None, error: None }
                }
                Ok(Submitted::Bug) => {}
                Err(e) => fail(w, cx, t, e),
            }
        }
        COp::RemoteWrite { map, page, tag } => {
            // process_vm_rw_pages(): pin_user_pages_remote(FOLL_WRITE) (get_user_pages_remote()
            // before FOLL_PIN), copy, unpin_user_pages_dirty_lock(true).
            let flags = GupFlags {
                how: gup_ref(cx.policy.gup_pin),
                write: true,
                longterm: false,
                force: false,
            };
            match get_user_pages(w, cx, map, page, page + 1, flags) {
                Ok(pinned) => w.tasks[t].cont = Cont::RemoteWrite { pinned, tag },
                Err(e) => fail(w, cx, t, e),
            }
        }
        COp::Signal { event } => {
            w.events |= 1 << event;
            finish(w, cx, t);
        }
        COp::Wait { .. } => finish(w, cx, t),
        COp::DmaWrite { handle, page, tag } => {
            let r = rdma::dma(w, cx, handle, page, Some(tag));
            done(w, cx, t, r)
        }
        COp::DmaRead { handle, page } => {
            let r = rdma::dma(w, cx, handle, page, None);
            done(w, cx, t, r)
        }
        COp::Reclaim { max } => {
            vmscan::shrink_folio_list(w, cx, max);
            finish(w, cx, t);
        }
        COp::ReclaimActive => {
            vmscan::shrink_active_list(w, cx);
            finish(w, cx, t);
        }
        COp::DropCaches => {
            vmscan::drop_caches(w, cx);
            finish(w, cx, t);
        }
        COp::Crash => {
            cx.note(|_| "power failure: the device cache and all memory are lost".to_string());
            oracle::check_after_crash(w, cx);
            w.powered_off = true;
            finish(w, cx, t);
        }
    }
}

/// write(2) of one whole page: `->write_begin` (ENOSPC here), copy, `->write_end` dirties.
pub(super) fn buffered_write(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    page: u8,
    tag: Tag,
) -> Result<(), Errno> {
    truncate::extend_to(w, file, page + 1);
    let f = super::memory::grab_cache_folio(w, cx, file, page)?;
    fs::write_begin(w, cx, file, page, f)?;
    let data = oracle::accept_into_folio(w, cx, f, tag);
    fs::folio_mark_dirty(w, cx, f);
    cx.note(|n| {
        format!("write(2): {} into page {page} of {}", n.tag_name(data.tag), n.file_name(file))
    });
    Ok(())
}

/// Ends the statement with its result.
fn done(w: &mut World, cx: &mut Cx, t: usize, r: Result<(), Errno>) {
    match r {
        Ok(()) => finish(w, cx, t),
        Err(e) => fail(w, cx, t, e),
    }
}

fn layout_progress(w: &mut World, cx: &mut Cx, t: usize, p: Progress) {
    match p {
        Progress::Done(r) => done(w, cx, t, r),
        Progress::Waiting => {
            if !matches!(w.tasks[t].cont, Cont::LayoutWait { .. }) {
                w.tasks[t].cont = Cont::LayoutWait { waited: 0 };
            }
        }
    }
}

fn begin_writeback(w: &mut World, cx: &mut Cx, t: usize, scope: Option<FileId>, sync: bool) {
    begin_writeback_over(w, cx, t, scope, None, sync)
}

fn begin_writeback_over(
    w: &mut World,
    cx: &mut Cx,
    t: usize,
    scope: Option<FileId>,
    range: Option<(u8, u8)>,
    sync: bool,
) {
    let reports = matches!(stmt(w, cx, t).keyword, "fsync" | "msync");
    let wb = Wb::over(w, scope, range, sync, reports);
    if !wb.ready(w, cx) {
        // WB_SYNC_ALL meets a dirty folio under writeback first: `folio_wait_writeback()`
        // sleeps until that bio ends, then writes the folio again.
        w.tasks[t].cont = Cont::Writeback(wb);
        return;
    }
    writeback_step(w, cx, t, wb);
}

fn writeback_step(w: &mut World, cx: &mut Cx, t: usize, mut wb: Wb) {
    match wb.step(w, cx) {
        Err(writeback::KernelBug) => {} // BUG: the machine is down
        Ok(WbStep::Continue) => w.tasks[t].cont = Cont::Writeback(wb),
        Ok(WbStep::Done(err)) => match err {
            Some(e) => {
                oracle::excuse(w, wb.scope);
                fail(w, cx, t, e);
            }
            None => {
                if wb.sync {
                    oracle::check_synced(w, cx, &wb.snapshot);
                }
                finish(w, cx, t);
            }
        },
    }
}

/// One step of an asynchronous task; it finishes in that step.
pub fn async_step(w: &mut World, cx: &mut Cx, t: usize) {
    let task = w.tasks.remove(t);
    match task.kind {
        TaskKind::Bio { .. } => writeback::bio_complete(w, cx, &task.kind),
        TaskKind::Dio { .. } => direct_io::device(w, cx, task),
        TaskKind::Fixup { file, index, folio } => btrfs_writepage_fixup(w, cx, file, index, folio),
        TaskKind::DirtyWork { mut pages, .. } => {
            cx.note(|_| "bio_dirty_work: re-dirty and release the pages".to_string());
            release_pages(w, cx, &mut pages, true);
        }
        TaskKind::Thread { .. } => panic!("model bug: async_step on a thread"),
    }
}

/// `btrfs_writepage_fixup_worker()`: reserve space for a folio dirtied behind btrfs's back and
/// leave it dirty for the next writeback; without space, `mapping_set_error(-ENOSPC)` and the
/// folio is cleaned (its data is lost, reported to the next fsync).
fn btrfs_writepage_fixup(w: &mut World, cx: &mut Cx, file: FileId, index: u8, f: FolioId) {
    let still_ours = w.folio(f).owner == Owner::File { file, index };
    if still_ours && w.folio(f).dirty && !w.folio(f).private {
        if w.free_blocks() > 0 && !w.page(file, index).reserved {
            w.reserved_blocks += 1;
            w.page_mut(file, index).reserved = true;
            w.folio_mut(f).private = true;
            // The filesystem caught up: the page has its reservation now.
            w.folio_mut(f).fs_knows = true;
            cx.note(|_| "btrfs fix-up worker: space reserved, the page stays dirty".to_string());
        } else if w.page(file, index).reserved {
            w.folio_mut(f).private = true;
            w.folio_mut(f).fs_knows = true;
        } else {
            w.inodes[file.0 as usize].wb_err = Some(Errno::Enospc);
            w.folio_mut(f).dirty = false;
            cx.note(|_| {
                "btrfs fix-up worker: no space: mapping_set_error(-ENOSPC), the page is cleaned"
                    .to_string()
            });
        }
    }
    w.folio_put(f);
}
