//! O_DIRECT: `fs/direct-io.c` (ext4 before 5.5, ext3) and `fs/iomap/direct-io.c` (ext4 from
//! 5.5, XFS, btrfs), with the block layer's `bio_set_pages_dirty()`/`bio_check_pages_dirty()`;
//! on DAX, `dax_iomap_rw()`, a CPU copy with no pin; on btrfs, data checksums computed from the
//! user buffer at submission, copy-on-write blocks, and from 6.15 (likely) the fallback of writes to the
//! page cache (968f19c5b1b7); on XFS over a stable-writes device from 7.0, the bounce buffering
//! of `IOMAP_DIO_BOUNCE` (3373503df025): writes copy the buffer at submission, reads copy into
//! the pinned buffer and dirty it at completion.
//!
//! The steps (docs/design.md §3): the caller submits (flush the file page if dirty, pin the
//! buffer, pre-dirty on iomap reads) and sleeps; the device task does the DMA and the bio's
//! completion; the caller returns (and on `fs/direct-io.c` reads dirties and releases the pages
//! itself); on iomap a read whose buffer was cleaned meanwhile leaves the re-dirtying to a
//! `bio_dirty_work` task.

use super::fs;
use super::gup::{get_user_pages, release_pages, GupFlags};
use super::label::Errno;
use super::memory::{handle_mm_fault, unmap_mapping_range};
use super::oracle;
use super::rdma::gup_ref;
use super::task::{Bounce, Cont, Task, TaskKind};
use super::world::*;
use super::writeback;
use super::Cx;
use crate::policy::DioPath;
use crate::scenario::FsKind;

/// Which O_DIRECT implementation serves this filesystem under this policy.
fn dio_path(cx: &Cx) -> DioPath {
    match cx.prog.fs.kind {
        FsKind::Ext4 => cx.policy.ext4_dio,
        FsKind::Ext3 => DioPath::Legacy,
        _ => DioPath::Iomap,
    }
}

/// What submitting did.
pub enum Submitted {
    /// The call completed in this step (DAX copy, btrfs buffered fallback, nothing to do).
    Done,
    /// The device task is queued; the caller sleeps in `DioWait`.
    Sleeping,
    /// A modeled `BUG()` during the flush before the I/O.
    Bug,
}

/// An O_DIRECT read (`read`) of `file` page `index` into mapping `map` page `map_page`, or a
/// write from it, issued by statement `pc` of `thread`.
#[allow(clippy::too_many_arguments)]
pub fn submit(
    w: &mut World,
    cx: &mut Cx,
    thread: u8,
    pc: u8,
    read: bool,
    file: FileId,
    index: u8,
    map: HandleId,
    map_page: u8,
) -> Result<Submitted, Errno> {
    if index >= w.inodes[file.0 as usize].size {
        if read {
            cx.note(|_| "O_DIRECT read beyond EOF: nothing to do".to_string());
            return Ok(Submitted::Done);
        }
        super::truncate::extend_to(w, file, index + 1); // a write extends the file
    }
    if fs::is_dax(cx.prog.fs) {
        dax_iomap_rw(w, cx, read, file, index, map, map_page)?;
        return Ok(Submitted::Done);
    }
    if !read && fs::cow(cx.prog.fs) && cx.policy.btrfs_dio_buffered {
        buffered_fallback(w, cx, file, index, map, map_page)?;
        return Ok(Submitted::Done);
    }
    if writeback::write_and_wait_page(w, cx, file, index).is_err() {
        return Ok(Submitted::Bug);
    }
    if read && w.page(file, index).block.is_none() {
        read_hole(w, cx, map, map_page)?;
        return Ok(Submitted::Done);
    }
    let target = if read { None } else { Some(write_target(w, cx, file, index)?) };
    let bounce = bounces(cx);
    if let (Some(b), true) = (target, bounce) {
        return bounce_write(w, cx, thread, pc, file, index, map, map_page, b);
    }
    let flags =
        GupFlags { how: gup_ref(cx.policy.gup_dio), write: read, longterm: false, force: false };
    let buffer = match get_user_pages(w, cx, map, map_page, map_page + 1, flags) {
        Ok(p) => p,
        Err(e) => {
            if let (Some(b), true) = (target, fs::cow(cx.prog.fs)) {
                // The failed write's ordered extent is dropped: the page keeps what it had.
                w.free_block(b);
                if w.page(file, index).block == Some(b) {
                    w.page_mut(file, index).block = None;
                }
            }
            return Err(e);
        }
    };
    let path = dio_path(cx);
    if read && path == DioPath::Iomap && !bounce {
        // bio_set_pages_dirty(): dirty the buffer before the device writes into it.
        for &(f, _) in &buffer.pages {
            if !w.folio(f).dirty {
                fs::folio_mark_dirty(w, cx, f);
            }
        }
    }
    // btrfs checksums the data as the bio is submitted, from the user's pages; a stable-writes
    // (T10-PI/DIX) device's integrity data is generated from the same pages at submission
    // (`bio_integrity_prep()` → `blk_integrity_generate()`, in `blk_mq_submit_bio()`): the
    // device checks it against what it DMA-reads later.
    let csum = (!read && (fs::cow(cx.prog.fs) || cx.prog.fs.stable_writes))
        .then(|| w.folio(buffer.pages[0].0).data);
    let cow = !read && fs::cow(cx.prog.fs);
    w.tasks.push(Task::new(TaskKind::Dio {
        thread,
        pc,
        read,
        file,
        index,
        buffer,
        path,
        target,
        cow,
        csum,
        bounce: (read && bounce).then_some(Bounce::Read),
    }));
    w.inodes[file.0 as usize].dio_in_flight += 1; // inode_dio_begin()
    cx.note(|_| format!("O_DIRECT {}: bio submitted", if read { "read" } else { "write" }));
    Ok(Submitted::Sleeping)
}

/// Whether this O_DIRECT call bounces its buffer (7.0): XFS sets `IOMAP_DIO_BOUNCE` in
/// `xfs_file_dio_write_aligned()` and `xfs_file_dio_read()` when
/// `mapping_stable_writes(iocb->ki_filp->f_mapping)` (3373503df025). ext4 and the block device
/// never do in 7.0; btrfs has its own answer (the buffered fallback, 968f19c5b1b7).
fn bounces(cx: &Cx) -> bool {
    cx.policy.xfs_dio_bounce_stable_writes
        && cx.prog.fs.kind == FsKind::Xfs
        && cx.prog.fs.stable_writes
}

/// `iomap_dio_bio_iter_one()` with `IOMAP_DIO_BOUNCE`: `bio_iov_iter_bounce()` →
/// `bio_iov_iter_bounce_write()` copies the user buffer into kernel folios (`copy_from_iter()`,
/// which faults the buffer in through its mapping: no pin). The integrity data and the device
/// see only the copy, so a store into the buffer after this step changes nothing on disk.
#[allow(clippy::too_many_arguments)]
fn bounce_write(
    w: &mut World,
    cx: &mut Cx,
    thread: u8,
    pc: u8,
    file: FileId,
    index: u8,
    map: HandleId,
    map_page: u8,
    target: BlockId,
) -> Result<Submitted, Errno> {
    let fault = |e| if e == Errno::Enomem { Errno::Enomem } else { Errno::Efault };
    let src = handle_mm_fault(w, cx, map, map_page, false).map_err(fault)?;
    let data = w.folio(src).data;
    let buffer = Pinned {
        how: gup_ref(cx.policy.gup_dio),
        write: false,
        pages: Vec::new(),
        live: true,
        lease: None,
        resv: false,
    };
    w.tasks.push(Task::new(TaskKind::Dio {
        thread,
        pc,
        read: false,
        file,
        index,
        buffer,
        path: DioPath::Iomap,
        target: Some(target),
        cow: false,
        csum: None,
        bounce: Some(Bounce::Write(data)),
    }));
    w.inodes[file.0 as usize].dio_in_flight += 1; // inode_dio_begin()
    cx.note(|n| {
        format!(
            "bio_iov_iter_bounce_write: {} copied from frame {} into a kernel folio; bio submitted",
            n.tag_name(data.tag),
            src.0
        )
    });
    Ok(Submitted::Sleeping)
}

/// The device side of a bounced O_DIRECT write: the copy is written, whatever the user buffer
/// holds now; the bounce folios are freed at completion (`bio_iov_iter_unbounce()`).
fn bounce_write_complete(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    target: Option<BlockId>,
    copy: Data,
) {
    let b = target.expect("a write has a target block");
    let data = oracle::accept_at(w, file, index, copy.tag);
    w.blocks[b.0 as usize].cached = Some(BlockContent { data, csum_ok: true });
    cx.note(|n| {
        format!(
            "device DMA-reads the bounce copy ({}) and writes it to block {}",
            n.tag_name(data.tag),
            b.0
        )
    });
    invalidate_after_direct_write(w, cx, file, index, data);
}

/// An O_DIRECT read of a hole: no bio. iomap zeroes the user's page with the CPU
/// (`iomap_dio_hole_iter()` → `iov_iter_zero()`: a write fault through the user's mapping);
/// `fs/direct-io.c` zeroes the pinned page (`zero_user()`) and drops it without dirtying.
fn read_hole(w: &mut World, cx: &mut Cx, map: HandleId, map_page: u8) -> Result<(), Errno> {
    let fault = |e| if e == Errno::Enomem { Errno::Enomem } else { Errno::Efault };
    match dio_path(cx) {
        DioPath::Iomap => {
            let f = handle_mm_fault(w, cx, map, map_page, true).map_err(fault)?;
            oracle::accept_into_folio(w, cx, f, Tag::ZERO);
            cx.note(|_| format!("iomap_dio_hole_iter: the CPU zeroes frame {}", f.0));
        }
        DioPath::Legacy => {
            let flags = GupFlags {
                how: gup_ref(cx.policy.gup_dio),
                write: true,
                longterm: false,
                force: false,
            };
            let mut pinned = get_user_pages(w, cx, map, map_page, map_page + 1, flags)?;
            let f = pinned.pages[0].0;
            oracle::accept_into_folio(w, cx, f, Tag::ZERO);
            cx.note(|_| {
                format!(
                    "do_direct_IO: hole: zero_user() on frame {}, released without dirtying",
                    f.0
                )
            });
            release_pages(w, cx, &mut pinned, false);
        }
    }
    Ok(())
}

/// The block an O_DIRECT write goes to: the page's block, a new one on btrfs (COW), or a new
/// one for a hole.
fn write_target(w: &mut World, cx: &Cx, file: FileId, index: u8) -> Result<BlockId, Errno> {
    match w.page(file, index).block {
        Some(b) if !fs::cow(cx.prog.fs) => Ok(b),
        existing => {
            let b = w.alloc_block(file, index).ok_or(Errno::Enospc)?;
            if existing.is_none() {
                w.page_mut(file, index).block = Some(b);
            }
            Ok(b)
        }
    }
}

/// `dax_iomap_rw()`: the file side is the storage itself, the user side is copied by the CPU,
/// faulting through the user's mapping (`copy_to_iter()`/`copy_from_iter()`). No pin.
fn dax_iomap_rw(
    w: &mut World,
    cx: &mut Cx,
    read: bool,
    file: FileId,
    index: u8,
    map: HandleId,
    map_page: u8,
) -> Result<(), Errno> {
    let fault = |e| if e == Errno::Enomem { Errno::Enomem } else { Errno::Efault };
    if read {
        let src = w
            .page(file, index)
            .block
            .and_then(|b| w.dax_frame(b))
            .map(|f| w.folio(f).data)
            .unwrap_or_default();
        let dst = handle_mm_fault(w, cx, map, map_page, true).map_err(fault)?;
        let data = oracle::accept_into_folio(w, cx, dst, src.tag);
        cx.note(|n| {
            format!("dax_iomap_rw: CPU copy of {} into frame {}", n.tag_name(data.tag), dst.0)
        });
    } else {
        let src = handle_mm_fault(w, cx, map, map_page, false).map_err(fault)?;
        let tag = w.folio(src).data.tag;
        dax_write(w, cx, file, index, tag)?;
    }
    Ok(())
}

/// A CPU write of `tag` into DAX file page `index` (write(2), or the file side of O_DIRECT),
/// allocating the block of a hole.
pub fn dax_write(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    tag: Tag,
) -> Result<(), Errno> {
    let b = match w.page(file, index).block {
        Some(b) => b,
        None => {
            let b = w.alloc_block(file, index).ok_or(Errno::Enospc)?;
            w.page_mut(file, index).block = Some(b);
            b
        }
    };
    let f = w.dax_frame(b).expect("a DAX world has a frame per block");
    let data = oracle::accept_into_folio(w, cx, f, tag);
    cx.note(|n| format!("dax_iomap_rw: CPU copy of {} into block {}", n.tag_name(data.tag), b.0));
    Ok(())
}

/// btrfs from 6.15 (likely) (`btrfs_direct_write()` falling back): a checksummed file's O_DIRECT write
/// becomes a buffered write of the buffer's current content, written back before returning.
fn buffered_fallback(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    map: HandleId,
    map_page: u8,
) -> Result<(), Errno> {
    let src = handle_mm_fault(w, cx, map, map_page, false).map_err(|e| {
        if e == Errno::Enomem {
            e
        } else {
            Errno::Efault
        }
    })?;
    let tag = w.folio(src).data.tag;
    cx.note(|_| {
        "btrfs: O_DIRECT write of a checksummed file falls back to a buffered write".to_string()
    });
    super::ops::buffered_write(w, cx, file, index, tag)?;
    let _ = writeback::write_and_wait_page(w, cx, file, index);
    Ok(())
}

/// The device task: the DMA, then the completion. Wakes the caller.
pub fn device(w: &mut World, cx: &mut Cx, task: Task) {
    let TaskKind::Dio {
        thread,
        pc,
        read,
        file,
        index,
        mut buffer,
        path,
        target,
        cow,
        csum,
        bounce,
    } = task.kind
    else {
        panic!("model bug: not a dio task")
    };
    let waiter =
        w.tasks.iter().position(|x| x.kind == TaskKind::Thread { thread }).expect("thread exists");
    if let Some(Bounce::Write(copy)) = bounce {
        bounce_write_complete(w, cx, file, index, target, copy);
        w.tasks[waiter].cont = Cont::DioWait { done: true, release: None, error: None };
        return;
    }
    let (f, generation) = buffer.pages[0];
    if read {
        let src = w
            .page(file, index)
            .block
            .map(|b| w.blocks[b.0 as usize].current())
            .unwrap_or(BlockContent { data: Data::default(), csum_ok: true });
        if !src.csum_ok && fs::cow(cx.prog.fs) {
            // btrfs verifies the checksums of what it read at completion: the read fails.
            cx.note(|_| {
                "btrfs: the block fails its checksum: the O_DIRECT read fails with -EIO".into()
            });
            release_pages(w, cx, &mut buffer, false);
            w.tasks[waiter].cont =
                Cont::DioWait { done: true, release: None, error: Some(Errno::Eio) };
            return;
        }
        let src = src.data;
        if oracle::device_access_ok(w, cx, f, generation) {
            let data = oracle::accept_into_folio(w, cx, f, src.tag);
            cx.note(|n| format!("device DMA-writes {} into frame {}", n.tag_name(data.tag), f.0));
        }
        if bounce == Some(Bounce::Read) {
            // bio_iov_iter_unbounce(): XFS runs the completion from its ioend workqueue
            // (xfs_dio_read_bounce_submit_io() → xfs_end_bio); the copy into the user pages,
            // their dirtying and the unpin happen before the waiter wakes (likely, from the
            // patch: bio_iov_iter_unbounce(bio, !!dio->error, IOMAP_DIO_USER_BACKED)).
            release_pages(w, cx, &mut buffer, true);
            w.tasks[waiter].cont = Cont::DioWait { done: true, release: None, error: None };
            return;
        }
        let release = match path {
            DioPath::Legacy => Some(buffer),
            DioPath::Iomap => {
                // bio_check_pages_dirty(): release now if every page is still dirty, else defer
                // the re-dirtying and the release to bio_dirty_work.
                if buffer.pages.iter().all(|(f, _)| w.folio(*f).dirty) {
                    release_pages(w, cx, &mut buffer, false);
                } else {
                    cx.note(|_| "bio_check_pages_dirty: a page was cleaned during the I/O: deferred to bio_dirty_work".into());
                    w.tasks.push(Task::new(TaskKind::DirtyWork { thread, pc, pages: buffer }));
                }
                None
            }
        };
        w.tasks[waiter].cont = Cont::DioWait { done: true, release, error: None };
        return;
    }
    if oracle::device_access_ok(w, cx, f, generation) {
        let buf = w.folio(f).data;
        let b = target.expect("a write has a target block");
        let csum_ok = csum.is_none_or(|c| c == buf);
        if !csum_ok && cx.prog.fs.stable_writes {
            let errno = protection_error(w, cx, file, index, b, path, cow);
            release_pages(w, cx, &mut buffer, false);
            w.tasks[waiter].cont = Cont::DioWait { done: true, release: None, error: Some(errno) };
            return;
        }
        let data = oracle::accept_at(w, file, index, buf.tag);
        w.blocks[b.0 as usize].cached = Some(BlockContent { data, csum_ok });
        if cow {
            fs::finish_ordered_extent(w, file, index, b);
        }
        cx.note(|n| {
            format!(
                "device DMA-reads {} from frame {} and writes it to block {}{}",
                n.tag_name(buf.tag),
                f.0,
                b.0,
                if csum_ok { "" } else { "; the checksum computed at submission does not match" }
            )
        });
        // The bio's pages are released before the completion invalidates the cache.
        release_pages(w, cx, &mut buffer, false);
        invalidate_after_direct_write(w, cx, file, index, data);
    } else {
        release_pages(w, cx, &mut buffer, false);
    }
    w.tasks[waiter].cont = Cont::DioWait { done: true, release: None, error: None };
}

/// The device rejects an O_DIRECT write whose buffer changed after the integrity data was
/// generated at submission (T10-PI/DIX guard mismatch: `BLK_STS_PROTECTION`). Nothing is written:
/// the block keeps its content (a new block of a hole stays unwritten and reads as zeroes; on
/// btrfs the write's new extent is dropped). The error reaches write(2) itself, as the errno
/// of the O_DIRECT implementation: `fs/direct-io.c` `dio_bio_complete()` turns any bio error but
/// `BLK_STS_AGAIN` into `dio->io_error = -EIO`; iomap's `iomap_dio_bio_end_io()` keeps
/// `blk_status_to_errno(bio->bi_status)`, which `blk_errors[]` maps to -EILSEQ
/// (`[BLK_STS_PROTECTION] = { -EILSEQ, "protection" }`, since 4.13). No page-cache invalidation
/// follows a failed write (`dio_complete()` and `iomap_dio_complete()` invalidate only after
/// success).
fn protection_error(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    b: BlockId,
    path: DioPath,
    cow: bool,
) -> Errno {
    if cow {
        w.free_block(b);
        if w.page(file, index).block == Some(b) {
            w.page_mut(file, index).block = None;
        }
    }
    let errno = match path {
        DioPath::Legacy => Errno::Eio,
        DioPath::Iomap => Errno::Eilseq,
    };
    cx.note(|n| {
        format!(
            "the device's integrity check rejects the O_DIRECT write to page {index} of {} (the \
             buffer changed after submission): nothing written, write(2) fails with {}",
            n.file_name(file),
            errno.name()
        )
    });
    errno
}

/// `invalidate_inode_pages2_range()` after an O_DIRECT write (`kiocb_invalidate_post_direct_write()`,
/// `dio_complete()`): unmap the now stale cached page and remove it whatever its refcount
/// (`invalidate_complete_folio2()`); a pinned folio becomes an orphan. Only a dirty folio, or
/// one under writeback, stays (ext4 and XFS have no `->launder_folio`) and keeps the old data:
/// `WARN_ON_ONCE()` before 4.20, then `dio_warn_stale_pagecache()`, which records -EIO for fsync.
/// Under the writable-pins design (`dio-write-refreshes-cache`) a dirty folio not under
/// writeback takes the written data instead.
fn invalidate_after_direct_write(w: &mut World, cx: &mut Cx, file: FileId, index: u8, data: Data) {
    let Some(f) = w.page(file, index).folio else { return };
    unmap_mapping_range(w, cx, file, index, index + 1);
    if !w.folio(f).dirty && !w.folio(f).writeback {
        fs::invalidate_folio(w, file, index, f);
        w.page_mut(file, index).folio = None;
        w.folio_mut(f).owner = Owner::Orphan;
        w.folio_put(f);
        return;
    }
    if cx.policy.dio_write_refreshes_cache && !w.folio(f).writeback {
        // The writable-pins design: the dirty folio takes the data just written, as a buffered
        // write ordered after the store would have left it; it stays dirty (and known to the
        // filesystem, which was told when it was dirtied), so writeback writes it again.
        oracle::fs_unaware(w, cx, f, "written");
        w.folio_mut(f).data = data;
        cx.note(|n| {
            format!(
                "invalidate_inode_pages2_range: frame {} is dirty; the design copies {} into it",
                f.0,
                n.tag_name(data.tag)
            )
        });
        return;
    }
    cx.note(|n| {
        format!(
            "page cache invalidation failure on direct I/O: frame {} keeps stale data (not {})",
            f.0,
            n.tag_name(data.tag)
        )
    });
    // A warning either way: WARN_ON_ONCE() before 4.20, then pr_crit("Page cache invalidation
    // failure on direct I/O. Possible data corruption due to collision with buffered I/O!").
    w.labels.add(super::label::Outcome::Warn);
    if cx.policy.dio_stale_pagecache_eio {
        w.inodes[file.0 as usize].wb_err = Some(Errno::Eio);
    }
}
