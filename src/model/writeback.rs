//! `mm/page-writeback.c` and the filesystems' `->writepages`: `write_cache_pages()` with
//! WB_SYNC_NONE (periodic, skips folios under writeback) and WB_SYNC_ALL (integrity, waits),
//! `folio_clear_dirty_for_io()`, submission of one bio per folio, the device's read of the page
//! at the bio's execution, `folio_end_writeback()`, `filemap_fdatawait_range()` and the cache
//! flush of fsync (`blkdev_issue_flush()`).
//!
//! The `bounce` policy adds Jan Kara's design here: a pinned folio is skipped by periodic
//! writeback, written from a copy by integrity writeback, and stays dirty while pinned.
//! Left out: dirty throttling, the flusher's own scheduling (a `writeback` operation is one
//! flusher pass), writeback from reclaim (`pageout()`), `range_cyclic`.

use super::few::Few;
use super::fs::{self, MapOutcome};
use super::label::{Costs, Errno, Outcome};
use super::memory::folio_mkclean;
use super::task::{Task, TaskKind};
use super::world::*;
use super::Cx;
use crate::limits::FILES_MAX;
use crate::policy::{Mutation, PinnedWriteback};
use crate::scenario::FsKind;

/// A writeback pass in progress: its scope, mode, cursor and, for integrity writeback, the
/// accepted data of every page when it began (what the fsync oracle holds it to).
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Wb {
    /// One file, or every file (`sync`, `writeback` without a file).
    pub scope: Option<FileId>,
    /// Pages `a..b` of the file only: msync(2) is `vfs_fsync_range()` over the mapped range.
    pub range: Option<(u8, u8)>,
    /// WB_SYNC_ALL.
    pub sync: bool,
    /// The file the pass is in ([`Wb::NO_FILE`] before its first folio) and the next page
    /// index there.
    pub file: u8,
    pub index: u8,
    /// Files the pass has finished with, a bit per file: it never goes back to them.
    pub visited: u8,
    /// All folios are submitted; waiting for their writeback to end.
    pub waiting: bool,
    pub snapshot: Vec<(FileId, u8, Data)>,
    /// fsync and msync report (and clear) the mapping's error; sync(2) returns void and leaves
    /// errors for a later fsync (`filemap_fdatawait_keep_errors()`).
    pub reports_errors: bool,
}

// Hand-written so that `clone_from` (the explorers copy worlds into recycled ones) reuses the
// snapshot's vector.
impl Clone for Wb {
    fn clone(&self) -> Wb {
        let Wb { scope, range, sync, file, index, visited, waiting, snapshot, reports_errors } =
            self;
        Wb {
            scope: *scope,
            range: *range,
            sync: *sync,
            file: *file,
            index: *index,
            visited: *visited,
            waiting: *waiting,
            snapshot: snapshot.clone(),
            reports_errors: *reports_errors,
        }
    }

    fn clone_from(&mut self, source: &Wb) {
        let Wb { scope, range, sync, file, index, visited, waiting, snapshot, reports_errors } =
            self;
        *scope = source.scope;
        *range = source.range;
        *sync = source.sync;
        *file = source.file;
        *index = source.index;
        *visited = source.visited;
        *waiting = source.waiting;
        snapshot.clone_from(&source.snapshot);
        *reports_errors = source.reports_errors;
    }
}

/// A modeled `BUG()` fired during writeback: the machine is down (the world records it).
#[derive(Debug, PartialEq, Eq)]
pub struct KernelBug;

/// The result of one step of a writeback pass.
pub enum WbStep {
    Continue,
    /// The pass is over; for integrity writeback, the error the mapping reported.
    Done(Option<Errno>),
}

impl Wb {
    pub fn new(w: &World, scope: Option<FileId>, sync: bool, reports_errors: bool) -> Wb {
        Wb::over(w, scope, None, sync, reports_errors)
    }

    /// A pass over pages `range` of `scope` only (msync).
    pub fn over(
        w: &World,
        scope: Option<FileId>,
        range: Option<(u8, u8)>,
        sync: bool,
        reports_errors: bool,
    ) -> Wb {
        let mut wb = Wb {
            scope,
            range,
            sync,
            file: Wb::NO_FILE,
            index: 0,
            visited: 0,
            waiting: false,
            snapshot: Vec::new(),
            reports_errors,
        };
        if sync {
            for (fi, inode) in w.inodes.iter().enumerate() {
                if !wb.in_scope(fi) {
                    continue;
                }
                for (i, p) in inode.pages.iter().enumerate() {
                    if wb.in_range(i) {
                        wb.snapshot.push((FileId(fi as u8), i as u8, p.accepted));
                    }
                }
            }
        }
        wb
    }

    fn in_scope(&self, file: usize) -> bool {
        self.scope.is_none_or(|s| s.0 as usize == file)
    }

    fn in_range(&self, index: usize) -> bool {
        self.range.is_none_or(|(a, b)| (a as usize..b as usize).contains(&index))
    }

    /// No file yet.
    pub const NO_FILE: u8 = u8::MAX;
    const _VISITED_FITS: () =
        assert!(crate::limits::FILES_MAX <= 8, "`visited` has a bit per file");

    /// The next dirty cached folio of the pass: in its current file at or after the cursor,
    /// then in the files it has not visited yet, in `wb->b_dirty` order ([`dirty_order`]).
    fn next_dirty(&self, w: &World, cx: &Cx) -> Option<(FileId, u8, FolioId)> {
        if cx.prog.fs.kind == FsKind::Tmpfs {
            return None; // no writeback: mapping_can_writeback() is false for shmem.
        }
        let in_file = |fi: usize, from: usize| {
            w.inodes[fi].pages.iter().enumerate().skip(from).find_map(|(i, p)| {
                let f = p.folio.filter(|f| self.in_range(i) && w.folio(*f).dirty)?;
                Some((FileId(fi as u8), i as u8, f))
            })
        };
        if self.file != Wb::NO_FILE {
            if let Some(found) = in_file(self.file as usize, self.index as usize) {
                return Some(found);
            }
        }
        dirty_order(w)
            .iter()
            .map(|f| f.0)
            .filter(|&fi| fi != self.file && self.visited & (1 << fi) == 0)
            .filter(|&fi| self.in_scope(fi as usize))
            .find_map(|fi| in_file(fi as usize, 0))
    }

    /// Files the pass may still visit, with the first page index in each: its current file
    /// from the cursor, every other file in scope it has not finished.
    pub fn remaining(&self, w: &World) -> Vec<(FileId, u8)> {
        (0..w.inodes.len() as u8)
            .filter(|&fi| self.in_scope(fi as usize) && self.visited & (1 << fi) == 0)
            .map(|fi| (FileId(fi), if fi == self.file { self.index } else { 0 }))
            .collect()
    }

    fn any_under_writeback(&self, w: &World) -> bool {
        w.inodes.iter().enumerate().filter(|(fi, _)| self.in_scope(*fi)).any(|(_, inode)| {
            inode
                .pages
                .iter()
                .enumerate()
                .any(|(i, p)| self.in_range(i) && p.folio.is_some_and(|f| w.folio(f).writeback))
        })
    }

    /// Whether the pass can take a step: integrity writeback sleeps in
    /// `folio_wait_writeback()` on a dirty folio under writeback, and in
    /// `filemap_fdatawait_range()` until every folio's writeback ended.
    pub fn ready(&self, w: &World, cx: &Cx) -> bool {
        if self.waiting {
            return !self.any_under_writeback(w);
        }
        match self.next_dirty(w, cx) {
            Some((_, _, f)) if self.sync => !w.folio(f).writeback,
            _ => true,
        }
    }

    /// One step: write one dirty folio, or finish.
    pub fn step(&mut self, w: &mut World, cx: &mut Cx) -> Result<WbStep, KernelBug> {
        if !self.waiting {
            while let Some((file, index, f)) = self.next_dirty(w, cx) {
                if self.file != file.0 && self.file != Wb::NO_FILE {
                    self.visited |= 1 << self.file;
                }
                self.file = file.0;
                self.index = index + 1;
                if w.folio(f).writeback {
                    // WB_SYNC_NONE skips it; WB_SYNC_ALL waited in ready().
                    continue;
                }
                writepage(w, cx, file, index, f, self.sync)?;
                if self.next_dirty(w, cx).is_some() {
                    return Ok(WbStep::Continue);
                }
                break;
            }
            if !self.sync {
                return Ok(WbStep::Done(None));
            }
            self.waiting = true;
            // The cursor is dead from here on: a waiting pass reads only its scope, range,
            // snapshot and error flag (`ready`, the flush below, `take_error`,
            // `oracle::check_synced`). Clearing it makes two passes that wait on the same
            // folios one state, however far their cursors got (a dead-variable reset, as for a
            // free frame's generation).
            (self.file, self.index, self.visited) = (Wb::NO_FILE, 0, 0);
            // The wait (`filemap_fdatawait_range()`) and the flush are a step of their own,
            // even when nothing is under writeback: this step then reads only the pages it
            // submits, not the writeback flags of the whole scope, so it commutes with the
            // completion of a bio of another page (the `independence` reduction relies on
            // it, docs/design.md §9).
            return Ok(WbStep::Continue);
        }
        cx.note(|_| "filemap_fdatawait_range: no folio of the range under writeback".to_string());
        // An error recorded on the file by the time of the wait: fsync returns it without a
        // commit or a flush, on every filesystem the model has (a helper read ext4, XFS and
        // btrfs in 4.14, 4.19, 5.10, 5.15, 6.1, 6.6, 6.12, 6.18 and 7.0):
        // - `file_write_and_wait_range()` ends with `file_check_and_advance_wb_err()`, so it
        //   returns an error recorded since the file's last check even when its own writeback
        //   succeeded; `ext4_sync_file()` (`return ret` to 4.19, `goto out` from 5.10) and
        //   `xfs_file_fsync()` (`return error`) then leave before the journal commit or log
        //   force and `blkdev_issue_flush()`.
        // - btrfs: `start_ordered_ops()` returns `->writepages`' error (7.0's -EUCLEAN from
        //   `extent_writepage()`), and the `filemap_fdatawait_range()` check before the log
        //   sync or commit returns an `AS_EIO`/`AS_ENOSPC` set earlier (the fix-up worker's
        //   -ENOSPC): `goto out`/`out_release_extents`, no commit (whose barrier this flush
        //   stands for).
        // Not modeled: ext4 without a journal in 4.14 and 4.19 flushes on its error path too
        // (`goto issue_flush`); and btrfs's fix-up worker recording its error after that check
        // and before fsync's last `file_check_and_advance_wb_err()`, where btrfs commits and
        // then reports the error: the model's wait, check and flush are one step.
        let err = if self.reports_errors { self.take_error(w) } else { None };
        match err {
            Some(e) => cx.note(|_| {
                format!(
                    "file_write_and_wait_range: the mapping's error {}: fsync returns it, no commit and no flush",
                    e.name()
                )
            }),
            _ => blkdev_issue_flush(w, cx),
        }
        if w.inodes.iter().any(|i| i.pages.iter().any(|p| p.pin_resv > 0)) {
            Costs::bump(&mut w.labels.costs.pin_reserved_syncs);
        }
        Ok(WbStep::Done(err))
    }

    /// `file_check_and_advance_wb_err()`: the first error recorded on a file in scope.
    fn take_error(&self, w: &mut World) -> Option<Errno> {
        let mut err = None;
        for (fi, inode) in w.inodes.iter_mut().enumerate() {
            if self.scope.is_none_or(|s| s.0 as usize == fi) {
                err = err.or(inode.wb_err.take());
            }
        }
        err
    }
}

/// Whether file `fi` has a dirty cached folio.
fn has_dirty(w: &World, fi: usize) -> bool {
    w.inodes[fi].pages.iter().any(|p| p.folio.is_some_and(|f| w.folio(f).dirty))
}

/// The lowest frame caching a dirty page of file `fi`.
fn lowest_dirty_frame(w: &World, fi: usize) -> u16 {
    w.inodes[fi]
        .pages
        .iter()
        .filter_map(|p| p.folio.filter(|f| w.folio(*f).dirty))
        .map(|f| f.0)
        .min()
        .unwrap_or(u16::MAX)
}

/// The files with dirty pages in the order writeback takes them: `wb->b_dirty`, oldest
/// dirtied first. `__mark_inode_dirty()` (fs/fs-writeback.c) stamps `dirtied_when` and moves
/// an inode onto `b_dirty` only when it was clean ("If the inode was already on
/// b_dirty/b_io/b_more_io, don't reposition it (that would break b_dirty time-ordering)");
/// `queue_io()` moves the expired ones to `b_io` and `writeback_sb_inodes()` takes them
/// oldest first; `writeback_single_inode()`/`requeue_inode()` take a clean inode off the
/// lists. So: the files of [`World::dirtied`] that still have a dirty page, in that order, then
/// files dirtied since it was last brought up to date ([`note_dirtied`]), by their lowest
/// dirty frame (files first dirtied in the same step: reclaim, the only step that can dirty
/// pages of several files, visits frames in order). Nothing here depends on file numbers,
/// which is what lets the `symmetry` reduction rename files (docs/design.md §9).
pub fn dirty_order(w: &World) -> DirtyOrder {
    let mut out = DirtyOrder::default();
    let mut listed = 0u32;
    for &f in &w.dirtied {
        listed |= 1 << f.0;
        if has_dirty(w, f.0 as usize) {
            out.push(f);
        }
    }
    // The others with a dirty page, by lowest dirty frame (a stable insertion: equal frames,
    // which cannot happen, would keep file order).
    let first_new = out.len();
    for fi in (0..w.inodes.len()).filter(|&fi| listed & (1 << fi) == 0 && has_dirty(w, fi)) {
        let key = lowest_dirty_frame(w, fi);
        out.push(FileId(fi as u8));
        let mut i = out.len() - 1;
        while i > first_new && lowest_dirty_frame(w, out[i - 1].0 as usize) > key {
            out.swap(i - 1, i);
            i -= 1;
        }
    }
    out
}

/// The files of [`dirty_order`], without allocating (it runs at every step of a writeback
/// pass).
pub type DirtyOrder = Few<FileId, FILES_MAX>;

/// Brings [`World::dirtied`] up to date after a step: files cleaned leave it, files dirtied
/// join its end.
pub fn note_dirtied(w: &mut World) {
    // Which files have a dirty page depends on the files' pages and the folios only: a step
    // that reached neither mutably (their `Slots` saw no change since their hashes were last
    // complete, as after each step the explorers fingerprint) changes nothing here.
    if !w.folios.touched() && !w.inodes.touched() {
        #[cfg(debug_assertions)]
        {
            let (dirty, listed) = dirty_and_listed(w);
            assert_eq!(dirty, listed, "model bug: the dirty files changed unseen by `Slots`");
        }
        return;
    }
    // Most steps clean no listed file and dirty no unlisted one: then the order stands, and
    // no list is built.
    let (dirty, listed) = dirty_and_listed(w);
    if dirty != listed {
        let order = dirty_order(w);
        w.dirtied.clear();
        w.dirtied.extend_from_slice(&order);
    }
}

/// The files with a dirty page and the files `w.dirtied` lists, a bit per file (FILES_MAX is
/// 8): one pass over the files.
fn dirty_and_listed(w: &World) -> (u32, u32) {
    let dirty = (0..w.inodes.len()).fold(0u32, |m, fi| m | (has_dirty(w, fi) as u32) << fi);
    let listed = w.dirtied.iter().fold(0u32, |m, f| m | 1 << f.0);
    (dirty, listed)
}

/// Writes one locked dirty folio: the pinned-folio policy, the filesystem's private-data check,
/// `folio_clear_dirty_for_io()`, block mapping, and submission of a bio task.
pub fn writepage(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    f: FolioId,
    sync: bool,
) -> Result<(), KernelBug> {
    // `write-pins-counted`: a folio pinned only for reading is written as if unpinned.
    let pinned = w.folio(f).maybe_dma_pinned()
        && (!cx.policy.write_pins_counted || super::gup::writably_pinned(w, f));
    let design = cx.policy.pinned_writeback;
    if design != PinnedWriteback::Normal && pinned {
        // Kara's RFC, patch 3/5: `folio_clear_dirty_for_io(wbc, folio)` runs `folio_mkclean()`
        // (re-dirtying from dirty PTEs) before it looks at the pin, so the folio is
        // write-protected whatever happens next: a later CPU store faults and `->page_mkwrite`
        // runs again (btrfs reserves again). Then WB_SYNC_NONE skips a pinned folio.
        folio_mkclean(w, cx, f);
        if !sync && !cx.policy.mutated(Mutation::PeriodicSkip) {
            Costs::bump(&mut w.labels.costs.kept_dirty);
            cx.note(|n| {
                format!(
                    "write_cache_pages: page {index} of {} is pinned: write-protected, periodic writeback skips it",
                    n.file_name(file)
                )
            });
            return Ok(());
        }
    }
    // The designs bounce at integrity writeback only: a periodic pass that does not skip the
    // pinned folio (the `periodic-skip` mutation) writes it like any other, cleaning it.
    let bounce = pinned
        && sync
        && match design {
            PinnedWriteback::Normal => false,
            PinnedWriteback::Bounce => true,
            // `BIO_NEED_PIN_BOUNCE` is set by iomap's writeback on `SB_I_STABLE_WRITES` only.
            PinnedWriteback::Kara2023 => cx.prog.fs.stable_writes && cx.prog.fs.kind == FsKind::Xfs,
        };
    // Only the 2018 design keeps the folio dirty while pinned.
    let keep_dirty = bounce && design == PinnedWriteback::Bounce;
    match fs::check_private(w, cx, file, index, f) {
        Some(MapOutcome::Bug) => {
            w.labels.add(Outcome::Bug);
            w.crashed = true;
            return Err(KernelBug);
        }
        Some(MapOutcome::Fixup) if cx.policy.btrfs_oob_dirty_euclean => {
            // btrfs_writepage_cow_fixup() under CONFIG_BTRFS_EXPERIMENTAL (7ca3e84980ef): "is
            // marked dirty without notifying the fs", -EUCLEAN; extent_writepage() records it
            // with mapping_set_error() and the folio is left clean: the data is dropped.
            folio_clear_dirty_for_io(w, cx, f);
            w.inodes[file.0 as usize].wb_err = Some(Errno::Euclean);
            cx.note(|n| {
                format!(
                    "btrfs: page {index} of {} is marked dirty without notifying the fs: \
                     -EUCLEAN, cleaned without being written",
                    n.file_name(file)
                )
            });
            return Ok(());
        }
        Some(MapOutcome::Fixup) if !cx.policy.btrfs_fixup_redirties => {
            // Before 5.6: the folio is left clean; the worker finds nothing to do.
            folio_clear_dirty_for_io(w, cx, f);
            cx.note(|_| "btrfs (before 5.6): the folio is cleaned without being written".into());
            return Ok(());
        }
        Some(MapOutcome::Fixup) => {
            let queued = w
                .tasks
                .iter()
                .any(|t| matches!(t.kind, TaskKind::Fixup { folio, .. } if folio == f));
            if !queued {
                w.folio_get(f);
                w.tasks.push(Task::new(TaskKind::Fixup { file, index, folio: f }));
            }
            cx.note(|_| "btrfs: redirtied and left to the fix-up worker".into());
            return Ok(());
        }
        Some(_) => return Ok(()),
        None => {}
    }
    let rereserve = keep_dirty && cx.policy.pinned_rereserve;
    let next_held = if rereserve { fs::rereserve_pinned(w, cx, file, index) } else { Ok(true) };
    if next_held.is_err() {
        w.inodes[file.0 as usize].wb_err = Some(Errno::Enospc);
        cx.note(|n| {
            format!(
                "writeback: page {index} of {} is pinned and no reservation for its next write can be had: not written, stays dirty, mapping_set_error(-ENOSPC)",
                n.file_name(file)
            )
        });
        return Ok(());
    }
    if bounce {
        Costs::bump(&mut w.labels.costs.bounce_copies);
    }
    let copy = if keep_dirty {
        // The folio stays dirty and mapped: it can change at any time while pinned.
        cx.note(|n| {
            format!(
                "writeback: page {index} of {} is pinned: bounce copy, stays dirty",
                n.file_name(file)
            )
        });
        if cx.policy.mutated(Mutation::KeepDirty) {
            folio_clear_dirty_for_io(w, cx, f);
        }
        // The `bounce-copy` mutation writes the live page, as if there were no copy.
        (!cx.policy.mutated(Mutation::BounceCopy)).then(|| w.folio(f).data)
    } else if bounce {
        folio_clear_dirty_for_io(w, cx, f);
        cx.note(|n| {
            format!(
                "writeback: page {index} of {} is pinned on a stable-writes filesystem: cleaned, written from a bounce page (BIO_NEED_PIN_BOUNCE)",
                n.file_name(file)
            )
        });
        (!cx.policy.mutated(Mutation::BounceCopy)).then(|| w.folio(f).data)
    } else {
        folio_clear_dirty_for_io(w, cx, f);
        None
    };
    let (block, cow) = match fs::map_blocks(w, cx, file, index) {
        MapOutcome::Write(b) => (b, false),
        MapOutcome::Cow { new, .. } => (new, true),
        _ => return Ok(()),
    };
    if rereserve {
        fs::rereserved(w, cx, file, index, f, next_held == Ok(true));
    } else {
        // The write consumed what the filesystem knew of the folio (its reservation, its
        // delalloc state): a dirtying from now on needs ->page_mkwrite again.
        w.folio_mut(f).fs_knows = false;
    }
    let csum = fs::stable_pages(cx.prog.fs).then(|| copy.unwrap_or(w.folio(f).data));
    w.folio_mut(f).writeback = true;
    w.tasks.push(Task::new(TaskKind::Bio {
        file,
        index,
        folio: f,
        block,
        csum,
        bounce: copy,
        cow,
    }));
    cx.note(|n| {
        format!(
            "submit_bio: page {index} of {} (frame {}) to block {}{}",
            n.file_name(file),
            f.0,
            block.0,
            if csum.is_some() { ", integrity data computed now" } else { "" }
        )
    });
    Ok(())
}

/// `folio_clear_dirty_for_io()`: `folio_mkclean()` write-protects every PTE (a later CPU store
/// faults and goes through `->page_mkwrite`; a device write does not), then the dirty bit is
/// cleared.
fn folio_clear_dirty_for_io(w: &mut World, cx: &mut Cx, f: FolioId) {
    folio_mkclean(w, cx, f);
    w.folio_mut(f).dirty = false;
    w.folio_mut(f).fs_knows = false;
}

/// The bio executes: the device reads the page (or its bounce copy) now, the block lands in the
/// device's volatile cache, and `folio_end_writeback()` runs.
pub fn bio_complete(w: &mut World, cx: &mut Cx, t: &TaskKind) {
    let TaskKind::Bio { file, index, folio, block, csum, bounce, cow } = *t else {
        panic!("model bug: bio_complete on a non-bio task")
    };
    let data = bounce.unwrap_or(w.folio(folio).data);
    let csum_ok = csum.is_none_or(|c| c == data);
    w.folio_mut(folio).writeback = false;
    if !csum_ok && !fs::cow(cx.prog.fs) {
        // A stable-writes device (T10-PI/DIX) checks the integrity data generated at submission
        // (bio_integrity_prep()) against the data it reads: the write fails with
        // BLK_STS_PROTECTION, the block keeps its old content, and the end_io path records the
        // error on the mapping for the next fsync: ext4_finish_bio() records -EIO before 6.4
        // and blk_status_to_errno(), -EILSEQ, from 6.4 (knob). Other filesystems: -EIO
        // (not checked against their end_io paths).
        let errno = if cx.prog.fs.kind == FsKind::Ext4 && cx.policy.ext4_wb_bio_errno {
            Errno::Eilseq
        } else {
            Errno::Eio
        };
        w.inodes[file.0 as usize].wb_err = Some(errno);
        cx.note(|n| format!("bio fails: the device's integrity check rejects page {index} of {} (the page changed after submission): {}", n.file_name(file), errno.name()));
        return;
    }
    w.blocks[block.0 as usize].cached = Some(BlockContent { data, csum_ok });
    if cow {
        fs::finish_ordered_extent(w, file, index, block);
    }
    cx.note(|n| {
        format!(
            "bio completes: the device read {} from frame {} into block {} (page {index} of {}){}{}",
            n.tag_name(data.tag),
            folio.0,
            block.0,
            n.file_name(file),
            if csum_ok { "" } else { "; integrity data does not match the data written" },
            if cow { "; the page's extent moves to the new block, the old one is freed at the next commit" } else { "" }
        )
    });
}

/// `blkdev_issue_flush()`: every completed write in the device cache becomes durable. On DAX,
/// fsync's `dax_writeback_mapping_range()` flushes the CPU cache lines of the file's pages:
/// the pages' content becomes the blocks' durable content.
pub fn blkdev_issue_flush(w: &mut World, cx: &mut Cx) {
    if cx.policy.mutated(Mutation::FsyncFlush) {
        return;
    }
    // Blocks and inodes are reached mutably only where something changes: the others keep
    // their fingerprint hashes (`model::slots`).
    for i in 0..w.blocks.len() {
        if let Some(c) = w.blocks[i].cached {
            let b = &mut w.blocks[i];
            b.durable = c;
            b.cached = None;
        }
    }
    for i in 0..w.blocks.len() {
        let b = BlockId(i as u16);
        if let (Some(f), Some(_)) = (w.dax_frame(b), w.blocks[i].owner) {
            let durable = BlockContent { data: w.folio(f).data, csum_ok: true };
            if w.blocks[i].durable != durable {
                w.blocks[i].durable = durable;
            }
        }
    }
    // fsync and sync commit the metadata with the flush: the mapping is durable too.
    for i in 0..w.inodes.len() {
        if w.inodes[i].pages.iter().all(|p| p.durable_block == p.block) {
            continue;
        }
        for p in &mut w.inodes[i].pages {
            p.durable_block = p.block;
        }
    }
    fs::commit_freed_blocks(w, cx);
    cx.note(|_| "blkdev_issue_flush: the device cache is durable".to_string());
}

/// `filemap_write_and_wait_range()` for one page, as O_DIRECT does before touching the disk:
/// integrity writeback of that page run to completion at once. A page already under writeback
/// is not waited for (simplification: its bio is queued and runs as its own task).
pub fn write_and_wait_page(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
) -> Result<(), KernelBug> {
    let Some(f) = w.page(file, index).folio.filter(|f| w.folio(*f).dirty && !w.folio(*f).writeback)
    else {
        return Ok(());
    };
    writepage(w, cx, file, index, f, true)?;
    run_bios(w, cx, Some(f));
    Ok(())
}

/// Runs queued bios now, those of folio `only` or all (used where the model waits for I/O
/// inside one step: O_DIRECT's flush of one page, and the final sync).
pub fn run_bios(w: &mut World, cx: &mut Cx, only: Option<FolioId>) {
    let wanted = |t: &Task| match t.kind {
        TaskKind::Bio { folio, .. } => only.is_none_or(|f| f == folio),
        _ => false,
    };
    while let Some(i) = w.tasks.iter().position(wanted) {
        let t = w.tasks.remove(i);
        bio_complete(w, cx, &t.kind);
    }
}
