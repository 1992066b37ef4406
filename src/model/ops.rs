//! The scenario's operations, each as the kernel entry point it models: system calls
//! (`mm/mmap.c`, `mm/filemap.c`, `fs/sync.c`, `mm/truncate.c`), GUP users
//! (`drivers/infiniband/core/umem.c`, `fs/direct-io.c`, `fs/iomap/direct-io.c`,
//! `mm/process_vm_access.c`), device actions and kernel threads (`mm/vmscan.c`,
//! `fs/drop_caches.c`).
//!
//! Each statement runs as one or more steps (docs/design.md lists them); a step runs to its end
//! without another task in between. Readiness (`thread_ready`) is the sleeping side: a step that
//! would sleep in the kernel is not offered to the explorer until its condition holds.

use super::fs;
use super::gup::{get_user_pages, release_pages, GupFlags};
use super::label::Errno;
use super::memory::{filemap_get_folio, handle_mm_fault, unmap_mapping_range, zap_pte};
use super::oracle;
use super::program::{COp, CStmt};
use super::task::{Cont, Task, TaskKind};
use super::vmscan;
use super::world::*;
use super::writeback::{self, Wb, WbStep};
use super::Cx;
use crate::policy::{DioPath, GupKind};
use crate::scenario::FsKind;

fn gup_ref(k: GupKind) -> GupRef {
    match k {
        GupKind::FollGet => GupRef::Get,
        GupKind::FollPin => GupRef::Pin,
    }
}

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
    cx.prog.fs.stable_writes
        && w.inodes[file.0 as usize]
            .pages
            .get(index as usize)
            .and_then(|p| p.folio)
            .is_some_and(|f| w.folio(f).writeback)
}

/// A write fault through mapping `map` on pages `[start, end)` would wait for stable pages.
fn fault_waits(w: &World, cx: &Cx, map: HandleId, start: u8, end: u8) -> bool {
    let Some(vma) = w.vma(map).filter(|v| v.mapped && v.shared) else { return false };
    (start..end).any(|p| {
        let pte = vma.ptes.get(p as usize).copied().unwrap_or_default();
        !pte.writable && stable_wait(w, cx, vma.file, vma.pgoff + p)
    })
}

fn range_under_writeback(w: &World, file: FileId, start: u8, end: u8) -> bool {
    let pages = &w.inodes[file.0 as usize].pages;
    (start as usize..(end as usize).min(pages.len()))
        .any(|i| pages[i].folio.is_some_and(|f| w.folio(f).writeback))
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
        COp::Truncate { file, pages } => !range_under_writeback(w, file, pages, u8::MAX),
        COp::Punch { file, start, end } => !range_under_writeback(w, file, start, end),
        COp::Store { map, page, .. } | COp::RemoteWrite { map, page, .. } => {
            !fault_waits(w, cx, map, page, page + 1)
        }
        COp::DioRead { map, map_page, .. } => !fault_waits(w, cx, map, map_page, map_page + 1),
        COp::Pin { map, start, end, write: true, .. } | COp::RegMr { map, start, end, .. } => {
            !fault_waits(w, cx, map, start, end)
        }
        COp::Write { file, page, .. } => !stable_wait(w, cx, file, page),
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

/// A `maybe` statement that does not happen.
pub fn thread_skip(w: &mut World, cx: &mut Cx, t: usize) {
    let s = stmt(w, cx, t);
    cx.note(|_| format!("`{}` (line {}) does not happen", s.text, s.span.line));
    finish(w, cx, t);
}

/// One step of thread task `t`.
pub fn thread_step(w: &mut World, cx: &mut Cx, t: usize) {
    let cont = w.tasks[t].cont.clone();
    match cont {
        Cont::Start => start_stmt(w, cx, t),
        Cont::Writeback(mut wb) => writeback_step(w, cx, t, &mut wb),
        Cont::DioWait { release, .. } => {
            if let Some(mut pinned) = release {
                // fs/direct-io.c dio_bio_complete(): set_page_dirty_lock() + put_page().
                release_pages(w, cx, &mut pinned, true);
            }
            cx.note(|_| "O_DIRECT call returns".to_string());
            finish(w, cx, t);
        }
        Cont::RemoteWrite { mut pinned, tag } => {
            let (f, _) = pinned.pages[0];
            let data = oracle::accept_into_folio(w, f, tag);
            cx.note(|n| {
                format!("process_vm_rw_pages: copy {} into frame {}", n.tag_name(data.tag), f.0)
            });
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
                let data = oracle::accept_into_folio(w, f, tag);
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
        COp::Write { file, page, tag } => buffered_write(w, cx, t, file, page, tag),
        COp::Read { file, page } => {
            if page < w.inodes[file.0 as usize].size {
                if let Err(e) = filemap_get_folio(w, cx, file, page) {
                    return fail(w, cx, t, e);
                }
            }
            finish(w, cx, t);
        }
        COp::Fsync { file } => begin_writeback(w, cx, t, Some(file), true),
        COp::Msync { map } => match w.vma(map).filter(|v| v.mapped).map(|v| v.file) {
            Some(file) => begin_writeback(w, cx, t, Some(file), true),
            None => fail(w, cx, t, Errno::Enomem),
        },
        COp::Sync => begin_writeback(w, cx, t, None, true),
        COp::Writeback { file } => begin_writeback(w, cx, t, file, false),
        COp::Truncate { file, pages } => {
            truncate(w, cx, file, pages);
            finish(w, cx, t);
        }
        COp::Punch { file, start, end } => {
            punch(w, cx, file, start, end);
            finish(w, cx, t);
        }
        COp::Fallocate { file, start, end } => match fallocate(w, cx, file, start, end) {
            Ok(()) => finish(w, cx, t),
            Err(e) => fail(w, cx, t, e),
        },
        COp::Pin { map, start, end, write, longterm, get } => {
            let how = if get { GupRef::Get } else { gup_ref(cx.policy.gup_pin) };
            let flags = GupFlags { how, write, longterm, force: false };
            match get_user_pages(w, cx, map, start, end, flags) {
                Ok(p) => {
                    define(w, cx, t, Handle::Pin(p));
                    finish(w, cx, t);
                }
                Err(e) => fail(w, cx, t, e),
            }
        }
        COp::RegMr { map, start, end, write } => ib_umem_get(w, cx, t, map, start, end, write),
        COp::Unpin { pin: h, .. } | COp::DeregMr { mr: h } => {
            if let Handle::Pin(mut p) = w.handles[h.0 as usize].clone() {
                if p.live {
                    let make_dirty = match s.op {
                        COp::Unpin { dirty, .. } => dirty,
                        _ => p.write, // ib_umem_release(): dirty if the MR was writable
                    };
                    release_pages(w, cx, &mut p, make_dirty);
                    w.handles[h.0 as usize] = Handle::Pin(p);
                }
            }
            finish(w, cx, t);
        }
        COp::DioRead { file, page, map, map_page } => {
            dio_submit(w, cx, t, true, file, page, map, map_page)
        }
        COp::DioWrite { file, page, map, map_page } => {
            dio_submit(w, cx, t, false, file, page, map, map_page)
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
            dma(w, cx, t, handle, page, Some(tag));
        }
        COp::DmaRead { handle, page } => dma(w, cx, t, handle, page, None),
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
fn buffered_write(w: &mut World, cx: &mut Cx, t: usize, file: FileId, page: u8, tag: Tag) {
    extend_to(w, file, page + 1);
    let f = match filemap_get_folio(w, cx, file, page) {
        Ok(f) => f,
        Err(e) => return fail(w, cx, t, e),
    };
    if let Err(e) = fs::write_begin(w, cx, file, page, f) {
        return fail(w, cx, t, e);
    }
    let data = oracle::accept_into_folio(w, f, tag);
    fs::folio_mark_dirty(w, cx, f);
    cx.note(|n| {
        format!("write(2): {} into page {page} of {}", n.tag_name(data.tag), n.file_name(file))
    });
    finish(w, cx, t);
}

/// Grows i_size to `pages` (a write or fallocate beyond EOF); new pages are holes.
fn extend_to(w: &mut World, file: FileId, pages: u8) {
    let inode = &mut w.inodes[file.0 as usize];
    if pages > inode.size {
        inode.size = pages;
        inode.pages.resize(pages as usize, FilePage::default());
    }
}

fn begin_writeback(w: &mut World, cx: &mut Cx, t: usize, scope: Option<FileId>, sync: bool) {
    let mut wb = Wb::new(w, scope, sync);
    writeback_step(w, cx, t, &mut wb);
}

fn writeback_step(w: &mut World, cx: &mut Cx, t: usize, wb: &mut Wb) {
    match wb.step(w, cx) {
        Err(writeback::KernelBug) => {} // BUG: the machine is down
        Ok(WbStep::Continue) => w.tasks[t].cont = Cont::Writeback(wb.clone()),
        Ok(WbStep::Done(err)) => {
            let keyword = stmt(w, cx, t).keyword;
            match err {
                // sync(2) returns void: errors stay recorded for a later fsync.
                Some(e) if keyword != "sync" => {
                    oracle::excuse(w, wb.scope);
                    fail(w, cx, t, e);
                }
                _ => {
                    if let Some(e) = err {
                        w.inodes.iter_mut().for_each(|i| i.wb_err = i.wb_err.or(Some(e)));
                    }
                    if wb.sync {
                        oracle::check_synced(w, cx, &wb.snapshot);
                    }
                    finish(w, cx, t);
                }
            }
        }
    }
}

/// `truncate_setsize()` + `truncate_inode_pages_range()` + the filesystem freeing blocks:
/// unmap, drop each page from the cache even if referenced (`mapping = NULL`), free blocks.
fn truncate(w: &mut World, cx: &mut Cx, file: FileId, pages: u8) {
    let size = w.inodes[file.0 as usize].size;
    if pages < size {
        unmap_mapping_range(w, cx, file, pages, size);
        for index in pages..size {
            remove_page(w, cx, file, index);
        }
        let inode = &mut w.inodes[file.0 as usize];
        inode.pages.truncate(pages as usize);
        inode.size = pages;
    } else {
        extend_to(w, file, pages);
    }
    cx.note(|n| format!("truncate: {} is now {pages} pages", n.file_name(file)));
}

/// `fallocate(FALLOC_FL_PUNCH_HOLE)`: like truncate over the range, and the pages read zeroes.
fn punch(w: &mut World, cx: &mut Cx, file: FileId, start: u8, end: u8) {
    let end = end.min(w.inodes[file.0 as usize].size);
    unmap_mapping_range(w, cx, file, start, end);
    for index in start..end {
        remove_page(w, cx, file, index);
        oracle::accept_zeroes(w, file, index);
    }
    cx.note(|n| format!("punch: pages {start}..{end} of {} are holes", n.file_name(file)));
}

/// `truncate_inode_folio()` then the block's release: the folio leaves the page cache
/// (`filemap_remove_folio()`), keeping only the references others hold.
fn remove_page(w: &mut World, cx: &mut Cx, file: FileId, index: u8) {
    if let Some(f) = w.page(file, index).folio {
        fs::invalidate_folio(w, file, index, f);
        w.folio_mut(f).owner = Owner::Orphan;
        w.page_mut(file, index).folio = None;
        let left = w.folio(f).refcount - 1;
        cx.note(|_| {
            format!(
                "truncate_inode_folio: frame {} leaves the page cache ({left} references left)",
                f.0
            )
        });
        w.folio_put(f);
    }
    if let Some(b) = w.page_mut(file, index).block.take() {
        w.free_block(b);
    }
}

/// `fallocate(0)`: allocate blocks for the holes of the range (all or nothing), extending i_size.
fn fallocate(w: &mut World, cx: &mut Cx, file: FileId, start: u8, end: u8) -> Result<(), Errno> {
    let size = w.inodes[file.0 as usize].size;
    let needed = (start..end)
        .filter(|&i| i >= size || (w.page(file, i).block.is_none() && !w.page(file, i).reserved))
        .count() as u32;
    if needed > w.free_blocks() {
        return Err(Errno::Enospc);
    }
    extend_to(w, file, end);
    for i in start..end {
        if w.page(file, i).block.is_none() && !w.page(file, i).reserved {
            let b = w.alloc_block(file, i).expect("counted");
            w.page_mut(file, i).block = Some(b);
        }
    }
    cx.note(|n| format!("fallocate: pages {start}..{end} of {} have blocks", n.file_name(file)));
    Ok(())
}

/// `ib_umem_get()`: a FOLL_LONGTERM GUP, FOLL_WRITE for writable MRs. Before 6.2 a read-only MR
/// still asked for FOLL_WRITE|FOLL_FORCE (to break COW); the MR stays read-only either way.
fn ib_umem_get(
    w: &mut World,
    cx: &mut Cx,
    t: usize,
    map: HandleId,
    start: u8,
    end: u8,
    writable: bool,
) {
    let force = !writable && cx.policy.umem_readonly_force;
    let flags = GupFlags {
        how: gup_ref(cx.policy.gup_pin),
        write: writable || force,
        longterm: true,
        force,
    };
    match get_user_pages(w, cx, map, start, end, flags) {
        Ok(mut p) => {
            p.write = writable;
            define(w, cx, t, Handle::Pin(p));
            finish(w, cx, t);
        }
        Err(e) => fail(w, cx, t, e),
    }
}

/// Which O_DIRECT implementation serves this filesystem under this policy.
fn dio_path(cx: &Cx) -> DioPath {
    match cx.prog.fs.kind {
        FsKind::Ext4 => cx.policy.ext4_dio,
        FsKind::Ext3 => DioPath::Legacy,
        _ => DioPath::Iomap,
    }
}

/// The submission half of an O_DIRECT read or write: flush the file page if it is dirty in the
/// cache, allocate (write into a hole), pin the user buffer (FOLL_WRITE for a read), and for an
/// iomap read `bio_set_pages_dirty()`; then the device task is queued and the caller sleeps.
#[allow(clippy::too_many_arguments)]
fn dio_submit(
    w: &mut World,
    cx: &mut Cx,
    t: usize,
    read: bool,
    file: FileId,
    index: u8,
    map: HandleId,
    map_page: u8,
) {
    if index >= w.inodes[file.0 as usize].size {
        cx.note(|_| "O_DIRECT beyond EOF: nothing to do".to_string());
        return finish(w, cx, t);
    }
    if writeback::write_and_wait_page(w, cx, file, index).is_err() {
        return; // BUG
    }
    if !read && w.page(file, index).block.is_none() {
        match w.alloc_block(file, index) {
            Some(b) => w.page_mut(file, index).block = Some(b),
            None => return fail(w, cx, t, Errno::Enospc),
        }
    }
    let flags =
        GupFlags { how: gup_ref(cx.policy.gup_dio), write: read, longterm: false, force: false };
    let buffer = match get_user_pages(w, cx, map, map_page, map_page + 1, flags) {
        Ok(p) => p,
        Err(e) => return fail(w, cx, t, e),
    };
    let path = dio_path(cx);
    if read && path == DioPath::Iomap {
        // bio_set_pages_dirty(): dirty the buffer before the device writes into it.
        for &(f, _) in &buffer.pages {
            if !w.folio(f).dirty {
                fs::folio_mark_dirty(w, cx, f);
            }
        }
    }
    let thread = thread_of(w, t);
    let pc = w.tasks[t].pc;
    w.tasks.push(Task::new(TaskKind::Dio { thread, pc, read, file, index, buffer, path }));
    w.tasks[t].cont = Cont::DioWait { done: false, release: None };
    cx.note(|_| format!("O_DIRECT {}: bio submitted", if read { "read" } else { "write" }));
}

/// The device side of O_DIRECT: the DMA, then the bio's completion (`dio_bio_end_io()` or
/// `iomap_dio_bio_end_io()`).
fn dio_device(w: &mut World, cx: &mut Cx, task: Task) {
    let TaskKind::Dio { thread, pc, read, file, index, mut buffer, path } = task.kind else {
        panic!("model bug: not a dio task")
    };
    let (f, generation) = buffer.pages[0];
    let waiter =
        w.tasks.iter().position(|x| x.kind == TaskKind::Thread { thread }).expect("thread exists");
    if read {
        let src = w
            .page(file, index)
            .block
            .map(|b| w.blocks[b.0 as usize].current().data)
            .unwrap_or_default();
        if oracle::device_access_ok(w, cx, f, generation) {
            let data = oracle::accept_into_folio(w, f, src.tag);
            cx.note(|n| format!("device DMA-writes {} into frame {}", n.tag_name(data.tag), f.0));
        }
        match path {
            DioPath::Legacy => {
                w.tasks[waiter].cont = Cont::DioWait { done: true, release: Some(buffer) };
            }
            DioPath::Iomap => {
                // bio_check_pages_dirty(): release now if every page is still dirty, else defer
                // the re-dirtying and the release to bio_dirty_work.
                if buffer.pages.iter().all(|(f, _)| w.folio(*f).dirty) {
                    release_pages(w, cx, &mut buffer, false);
                } else {
                    cx.note(|_| "bio_check_pages_dirty: a page was cleaned during the I/O: deferred to bio_dirty_work".into());
                    w.tasks.push(Task::new(TaskKind::DirtyWork { thread, pc, pages: buffer }));
                }
                w.tasks[waiter].cont = Cont::DioWait { done: true, release: None };
            }
        }
    } else {
        if oracle::device_access_ok(w, cx, f, generation) {
            let tag = w.folio(f).data.tag;
            let data = oracle::accept_at(w, file, index, tag);
            if let Some(b) = w.page(file, index).block {
                w.blocks[b.0 as usize].cached = Some(BlockContent { data, csum_ok: true });
            }
            cx.note(|n| {
                format!(
                    "device DMA-reads {} from frame {} and writes it to page {index} of {}",
                    n.tag_name(tag),
                    f.0,
                    n.file_name(file)
                )
            });
            invalidate_after_direct_write(w, cx, file, index, data);
        }
        release_pages(w, cx, &mut buffer, false);
        w.tasks[waiter].cont = Cont::DioWait { done: true, release: None };
    }
}

/// `kiocb_invalidate_post_direct_write()`: drop the now stale cached page; a page that cannot be
/// dropped (mapped, pinned, dirty) stays, as in the kernel, and keeps the old data.
fn invalidate_after_direct_write(w: &mut World, cx: &mut Cx, file: FileId, index: u8, data: Data) {
    let Some(f) = w.page(file, index).folio else { return };
    unmap_mapping_range(w, cx, file, index, index + 1);
    let folio = w.folio(f);
    if folio.refcount == 1 && !folio.dirty && !folio.writeback {
        fs::invalidate_folio(w, file, index, f);
        w.page_mut(file, index).folio = None;
        w.folio_mut(f).owner = Owner::Orphan;
        w.folio_put(f);
    } else {
        cx.note(|n| {
            format!(
                "page cache invalidation failure on direct I/O: frame {} keeps stale data (not {})",
                f.0,
                n.tag_name(data.tag)
            )
        });
    }
}

/// A device access through pin or MR `handle`: `dma-write` when `tag` is given, else `dma-read`.
fn dma(w: &mut World, cx: &mut Cx, t: usize, handle: HandleId, page: u8, tag: Option<Tag>) {
    let Handle::Pin(p) = w.handles[handle.0 as usize].clone() else {
        panic!("model bug: parser checks handle kinds")
    };
    if !p.live {
        return fail(w, cx, t, Errno::Eio);
    }
    if tag.is_some() && !p.write {
        return fail(w, cx, t, Errno::Eacces); // a read-only registration: the device refuses
    }
    let (f, generation) = p.pages[page as usize];
    if oracle::device_access_ok(w, cx, f, generation) {
        if let Some(tag) = tag {
            let data = oracle::accept_into_folio(w, f, tag);
            cx.note(|n| {
                format!(
                    "device DMA-writes {} into frame {} (no fault, no ->page_mkwrite)",
                    n.tag_name(data.tag),
                    f.0
                )
            });
        } else {
            cx.note(|n| {
                format!("device DMA-reads {} from frame {}", n.tag_name(w.folio(f).data.tag), f.0)
            });
        }
    }
    finish(w, cx, t);
}

/// One step of an asynchronous task; it finishes in that step.
pub fn async_step(w: &mut World, cx: &mut Cx, t: usize) {
    let task = w.tasks.remove(t);
    match task.kind {
        TaskKind::Bio { .. } => writeback::bio_complete(w, cx, &task.kind),
        TaskKind::Dio { .. } => dio_device(w, cx, task),
        TaskKind::DirtyWork { mut pages, .. } => {
            cx.note(|_| "bio_dirty_work: re-dirty and release the pages".to_string());
            release_pages(w, cx, &mut pages, true);
        }
        TaskKind::Thread { .. } => panic!("model bug: async_step on a thread"),
    }
}
