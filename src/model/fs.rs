//! The filesystem kinds of shared/KERNEL.md §4: what each does at `->page_mkwrite`,
//! `->write_begin`, `->dirty_folio`, `->release_folio`, `->invalidate_folio` and `->writepages`.
//!
//! One function per address-space operation, each dispatching on the kind, so the differences
//! between ext3, ext4, xfs-bh, xfs, btrfs and tmpfs read side by side. DAX kinds have no page
//! cache: their faults and I/O are in `memory.rs` and `ops.rs`.
//!
//! btrfs (`fs/btrfs/inode.c`): copy-on-write data, so every writeback needs a new block, paid for
//! by the reservation taken at `btrfs_page_mkwrite()`/write_begin (`btrfs_delalloc_reserve_space()`);
//! the folio's private flag stands for that delalloc state, cleared once written. A folio
//! dirtied without it goes to the fix-up worker (`btrfs_writepage_cow_fixup()`). Data checksums
//! are computed at bio submission, and btrfs waits for writeback before letting a CPU writer in. ext3 is the historical
//! `fs/ext3` (removed in 4.3), xfs-bh is XFS before 4.19: the fs kind fixes the filesystem's
//! code, the policy fixes mm/GUP, so those kinds run unchanged under every preset.

use super::label::{Errno, Outcome};
use super::program::FsConfig;
use super::task::TaskKind;
use super::world::*;
use super::Cx;
use crate::policy::NoBuffersWriteback;
use crate::scenario::FsKind;

/// Filesystem-DAX: no page cache, the mapping maps the storage itself.
pub fn is_dax(fs: FsConfig) -> bool {
    matches!(fs.kind, FsKind::Ext4Dax | FsKind::XfsDax)
}

/// The mapping does dirty accounting and so wants write notification
/// (`vma_needs_dirty_tracking()`: `mapping_can_writeback()`); tmpfs does not.
pub fn dirty_tracked(fs: FsConfig) -> bool {
    fs.kind != FsKind::Tmpfs
}

/// Delayed allocation: space is reserved at `->page_mkwrite`/`->write_begin` and allocated at
/// writeback (ext4 without `nodelalloc`, XFS, XFS with bufferheads).
fn delalloc(fs: FsConfig) -> bool {
    matches!(fs.kind, FsKind::Ext4 | FsKind::Xfs | FsKind::XfsBh | FsKind::Btrfs) && !fs.nodelalloc
}

/// Copy-on-write data: every write of a page goes to a new block (btrfs).
pub fn cow(fs: FsConfig) -> bool {
    fs.kind == FsKind::Btrfs
}

/// Integrity data is computed when a bio is submitted and CPU writers wait for writeback
/// (`folio_wait_stable()`): a `stable-writes` device, or btrfs data checksums.
pub fn stable_pages(fs: FsConfig) -> bool {
    fs.stable_writes || fs.kind == FsKind::Btrfs
}

/// The filesystem keeps private data (buffer heads, iomap state) on its page-cache folios.
fn has_private(fs: FsConfig) -> bool {
    fs.kind != FsKind::Tmpfs
}

/// Makes sure page `index` of `file` has a block or a reservation; ENOSPC when the disk is full.
/// `ext4_da_reserve_space()` (delalloc) or `ext4_get_block()`/`ext3_get_block()` (allocate).
fn reserve_or_allocate(w: &mut World, fs: FsConfig, file: FileId, index: u8) -> Result<(), Errno> {
    let page = w.page(file, index);
    if page.reserved || (page.block.is_some() && !cow(fs)) {
        return Ok(());
    }
    if w.free_blocks() == 0 {
        return Err(Errno::Enospc);
    }
    if delalloc(fs) {
        w.reserved_blocks += 1;
        w.page_mut(file, index).reserved = true;
    } else {
        let b = w.alloc_block(file, index).expect("free_blocks() said a block is free");
        w.page_mut(file, index).block = Some(b);
    }
    Ok(())
}

/// The writable-pins design's ext3 `->page_mkwrite` (`ext3-page-mkwrite-reserves`, Jan Kara's
/// unmerged 2009 patch): reserve a block for a page that has none (delayed allocation at fault
/// time); `map_blocks` allocates from the reservation at writeback. ENOSPC when none is free.
fn ext3_reserve(w: &mut World, file: FileId, index: u8) -> Result<(), Errno> {
    let page = w.page(file, index);
    if page.reserved || page.block.is_some() {
        return Ok(());
    }
    if w.free_blocks() == 0 {
        return Err(Errno::Enospc);
    }
    w.reserved_blocks += 1;
    w.page_mut(file, index).reserved = true;
    Ok(())
}

/// `->page_mkwrite`: `ext4_page_mkwrite()` (reserve or allocate, attach buffers, dirty),
/// `iomap_page_mkwrite()` (xfs), `block_page_mkwrite()` (xfs-bh). ext3 (unless the design's
/// [`ext3_reserve`]) and tmpfs have none: the fault path's `fault_dirty_shared_page()` just dirties the folio. ENOSPC becomes SIGBUS in the
/// caller. The stable-page wait (`folio_wait_stable()`) is a readiness condition of the caller.
pub fn page_mkwrite(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    f: FolioId,
) -> Result<(), Errno> {
    let fs = cx.prog.fs;
    match fs.kind {
        FsKind::Ext3 if cx.policy.ext3_mkwrite_reserves => {
            ext3_reserve(w, file, index)?;
            w.folio_mut(f).private = true;
            w.folio_mut(f).fs_knows = true;
        }
        FsKind::Ext3 | FsKind::Tmpfs => {}
        _ => {
            reserve_or_allocate(w, fs, file, index)?;
            w.folio_mut(f).private = true;
            w.folio_mut(f).fs_knows = true;
        }
    }
    folio_mark_dirty(w, cx, f);
    cx.note(|n| {
        format!("->page_mkwrite: page {} of {} ready for writing", index, n.file_name(file))
    });
    Ok(())
}

/// `->write_begin` for a whole-page write(2): ext3 allocates here (ENOSPC from write), ext4 and
/// XFS reserve (delalloc) or allocate, all attach their private data.
pub fn write_begin(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    f: FolioId,
) -> Result<(), Errno> {
    let fs = cx.prog.fs;
    if fs.kind == FsKind::Tmpfs {
        return Ok(());
    }
    if fs.kind == FsKind::Ext3 {
        if w.page(file, index).block.is_none() {
            if std::mem::take(&mut w.page_mut(file, index).reserved) {
                w.reserved_blocks -= 1; // the design's page_mkwrite reservation, used now
            }
            let b = w.alloc_block(file, index).ok_or(Errno::Enospc)?;
            w.page_mut(file, index).block = Some(b);
        }
    } else {
        reserve_or_allocate(w, fs, file, index)?;
    }
    w.folio_mut(f).private = true;
    w.folio_mut(f).fs_knows = true;
    Ok(())
}

/// `folio_mark_dirty()` → `->dirty_folio`. ext4's `ext4_dirty_folio()` (`ext4_set_page_dirty()`
/// since 4.10, commit 6dcc693bc57f) has `WARN_ON_ONCE(!folio_buffers(folio))`, then
/// `block_dirty_folio()`, which never attaches buffers. A folio with no mapping (truncated)
/// only gets PG_dirty (`set_page_dirty()` with `mapping == NULL`).
pub fn folio_mark_dirty(w: &mut World, cx: &mut Cx, f: FolioId) {
    let folio = w.folio(f);
    if matches!(folio.owner, Owner::File { .. })
        && cx.prog.fs.kind == FsKind::Ext4
        && has_private(cx.prog.fs)
        && !folio.private
    {
        w.labels.add(Outcome::Warn);
        cx.note(|_| "ext4_dirty_folio (ext4_set_page_dirty before 5.18): WARN_ON_ONCE(!folio_buffers(folio))".to_string());
    }
    if !w.folio(f).dirty {
        super::oracle::fs_unaware(w, cx, f, "dirtied");
    }
    w.folio_mut(f).dirty = true;
}

/// `->release_folio` (`try_to_release_page()`/`filemap_release_folio()`): frees the buffers of
/// a clean folio (`try_to_free_buffers()` fails on dirty buffers). Returns whether the folio
/// has no private data left.
pub fn release_folio(w: &mut World, f: FolioId) -> bool {
    let folio = w.folio_mut(f);
    if folio.private && (folio.dirty || folio.writeback) {
        return false;
    }
    folio.private = false;
    true
}

/// `->invalidate_folio` at truncate/punch: drops private data and any delalloc reservation.
pub fn invalidate_folio(w: &mut World, file: FileId, index: u8, f: FolioId) {
    w.folio_mut(f).private = false;
    w.folio_mut(f).dirty = false;
    w.folio_mut(f).fs_knows = false;
    let page = w.page_mut(file, index);
    // The writable-pins design: the page is gone, its pins' reservations with it.
    let resv = std::mem::take(&mut page.pin_resv) as u16;
    let own = std::mem::take(&mut page.reserved) as u16;
    w.reserved_blocks -= resv + own;
}

/// The writable-pins design (`pinned-writeback-rereserves`): before integrity writeback writes
/// a pinned folio that stays dirty, the filesystem makes sure of the reservation for the folio's
/// next write, as `->page_mkwrite` would for a CPU writer. On a copy-on-write filesystem that is
/// a block: the block this write frees, if the page has one (at the commit after it completes
/// it goes to the folio's reservation instead of the free pool: [`commit_freed_blocks`]), else
/// the pin's own
/// reservation (`longterm-pin-reserves-cow-space`), else a free block. Elsewhere the block the
/// write allocates serves every later overwrite in place. `Ok(true)`: the next write's
/// reservation is held now; `Ok(false)`: it comes with the write's completion. `Err(ENOSPC)`:
/// none to be had, and the caller leaves the folio unwritten.
pub fn rereserve_pinned(w: &mut World, cx: &Cx, file: FileId, index: u8) -> Result<bool, Errno> {
    if !cow(cx.prog.fs) {
        return Ok(true);
    }
    // A block for the write about to happen unless the page holds one (map_blocks consumes
    // `reserved`), and one for the next unless the old block will pay for it.
    let page = w.page(file, index);
    let next_now = page.block.is_none();
    let need = u32::from(!page.reserved) + u32::from(next_now);
    let from_pin = (page.pin_resv as u32).min(need);
    if w.free_blocks() + from_pin < need {
        return Err(Errno::Enospc);
    }
    let page = w.page_mut(file, index);
    page.pin_resv -= from_pin as u8;
    page.reserved = true;
    w.reserved_blocks += (need - from_pin) as u16;
    Ok(next_now)
}

/// After `map_blocks` consumed the reservation of a write that [`rereserve_pinned`] prepared:
/// the block held for the next write (if `held`; else the old block, at the commit) becomes the
/// page's reservation, and the folio keeps its delalloc state: the filesystem knows the folio
/// may be dirtied again.
pub fn rereserved(w: &mut World, cx: &Cx, file: FileId, index: u8, f: FolioId, held: bool) {
    if cow(cx.prog.fs) {
        w.page_mut(file, index).reserved = held;
        w.folio_mut(f).private = true;
    }
    w.folio_mut(f).fs_knows = true;
}

/// What `->writepages` decided for one dirty folio.
pub enum MapOutcome {
    /// Write the folio to this block.
    Write(BlockId),
    /// Write the folio to a new block; the page moves there (and `old` is freed) when the write
    /// completes.
    Cow { new: BlockId, old: Option<BlockId> },
    /// The folio was cleaned without being written (the data is lost).
    Dropped,
    /// A modeled `BUG()` fired.
    Bug,
    /// btrfs: the folio was dirtied behind the filesystem's back; it stays dirty and goes to the
    /// fix-up worker (`btrfs_writepage_cow_fixup()`).
    Fixup,
}

/// The part of `->writepages` that looks at one locked dirty folio before
/// `folio_clear_dirty_for_io()`: the private-data check. ext4 `mpage_prepare_extent_to_map()`
/// (`page_buffers()` BUG before 5.18; `ext4_warning_inode()` and `folio_clear_dirty()` since
/// cc5095747edf), XFS with bufferheads (`BUG` in `xfs_aops.c`). `None`: go on and write.
pub fn check_private(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    f: FolioId,
) -> Option<MapOutcome> {
    if w.folio(f).private {
        return None;
    }
    match cx.prog.fs.kind {
        FsKind::Ext4 => {
            match cx.policy.ext4_no_buffers {
                NoBuffersWriteback::Bug => {
                    cx.note(|_| "mpage_prepare_extent_to_map: page_buffers() on a folio without buffers: BUG".into());
                    Some(MapOutcome::Bug)
                }
                NoBuffersWriteback::WarnDrop => {
                    w.labels.add(Outcome::Warn);
                    w.folio_mut(f).dirty = false;
                    cx.note(|n| format!("ext4_warning_inode: page {index} of {} does not have buffers attached; dirty bit cleared, data dropped", n.file_name(file)));
                    Some(MapOutcome::Dropped)
                }
            }
        }
        FsKind::XfsBh => {
            cx.note(|_| "xfs_do_writepage: page without buffer heads: BUG".into());
            Some(MapOutcome::Bug)
        }
        FsKind::Btrfs => {
            cx.note(|n| format!("btrfs_writepage_cow_fixup: page {index} of {} was dirtied without a reservation", n.file_name(file)));
            Some(MapOutcome::Fixup)
        }
        // ext3 creates buffers on demand (`create_empty_buffers()`); iomap writes a folio without
        // `iomap_folio_state` since 5.14 (8e1bcef8e18d) and needs none when block size = page size.
        _ => {
            w.folio_mut(f).private = true;
            None
        }
    }
}

/// The allocation step of `->writepages` after the folio was cleaned for I/O: use the page's
/// block, turn a delalloc reservation into a block (a new one at every write on btrfs, whose old
/// block is freed when the write completes), or allocate now (ext3). On ENOSPC,
/// `mapping_set_error()`: the folio stays clean, the error waits for the next fsync.
pub fn map_blocks(w: &mut World, cx: &mut Cx, file: FileId, index: u8) -> MapOutcome {
    let page = *w.page(file, index);
    if cow(cx.prog.fs) {
        w.folio_mut(page.folio.expect("writeback of a cached page")).private = false;
        if page.reserved {
            w.reserved_blocks -= 1;
            w.page_mut(file, index).reserved = false;
            let b = w.alloc_block(file, index).expect("a reservation guarantees a free block");
            return MapOutcome::Cow { new: b, old: page.block };
        }
    }
    if let Some(b) = page.block {
        return MapOutcome::Write(b);
    }
    if page.reserved {
        w.reserved_blocks -= 1;
        w.page_mut(file, index).reserved = false;
        let b = w.alloc_block(file, index).expect("a reservation guarantees a free block");
        w.page_mut(file, index).block = Some(b);
        return MapOutcome::Write(b);
    }
    if cx.prog.fs.kind == FsKind::Xfs {
        // xfs_map_blocks() finds a hole with no delalloc extent: the iomap is IOMAP_HOLE and
        // the folio is not written (uncertain: modeled from iomap_writepage_map(), no warning).
        cx.note(|n| format!("xfs_map_blocks: page {index} of {} is over a hole with no reservation: not written", n.file_name(file)));
        return MapOutcome::Dropped;
    }
    match w.alloc_block(file, index) {
        Some(b) => {
            w.page_mut(file, index).block = Some(b);
            MapOutcome::Write(b)
        }
        None => {
            w.inodes[file.0 as usize].wb_err = Some(Errno::Enospc);
            cx.note(|n| format!("get_block: ENOSPC for page {index} of {}: mapping_set_error(-ENOSPC), page cleaned", n.file_name(file)));
            MapOutcome::Dropped
        }
    }
}

/// btrfs `btrfs_finish_ordered_io()`: the write to `new` completed and the page's extent is now
/// `new`. The old block is freed, but a freed extent stays pinned until the transaction commits
/// (`do_free_extent_accounting()` → `btrfs_update_block_group(.., alloc = false)` marks it in
/// the transaction's `pinned_extents`; `unpin_extent_range()` from `btrfs_finish_extent_commit()`
/// returns it): until then the committed tree still maps the page to it and a
/// power failure finds it there. Modeled by leaving the old block owned by the page until the
/// commit, [`commit_freed_blocks`].
pub fn finish_ordered_extent(w: &mut World, file: FileId, index: u8, new: BlockId) {
    w.page_mut(file, index).block = Some(new);
}

/// The transaction commit that a cache flush stands for (`btrfs_commit_transaction()` at sync;
/// the model also lets fsync's flush commit, where btrfs would write its log tree): the blocks a
/// copy-on-write replaced since the last commit are unpinned and free again. Under the
/// writable-pins design (`pinned-writeback-rereserves`) a page whose folio is still dirty (a
/// pinned folio kept dirty) and holds no reservation takes the freed space as the reservation
/// for its next write, which [`rereserve_pinned`] counted on.
///
/// A block a write is still going to (a bio or an O_DIRECT write in flight, `cow`) is no
/// replaced block: its ordered extent holds it (`btrfs_reserve_extent()` at submission, the
/// file's extent moved to it by `btrfs_finish_ordered_io()` only at completion), and a commit
/// does not free it.
pub fn commit_freed_blocks(w: &mut World, cx: &Cx) {
    let in_flight = |w: &World, b: BlockId| {
        w.tasks.iter().any(|t| {
            !t.done
                && match t.kind {
                    TaskKind::Bio { block, cow: true, .. } => block == b,
                    TaskKind::Dio { target: Some(target), cow: true, .. } => target == b,
                    _ => false,
                }
        })
    };
    for i in 0..w.blocks.len() {
        let Some((file, index)) = w.blocks[i].owner else { continue };
        let b = BlockId(i as u16);
        // The page may be gone (truncated since): its replaced block is freed all the same.
        let page = w.inodes[file.0 as usize].pages.get(index as usize).copied();
        if page.is_some_and(|p| p.block == Some(b)) || in_flight(w, b) {
            continue;
        }
        w.free_block(b);
        if cx.policy.pinned_rereserve
            && page.is_some_and(|p| !p.reserved && p.folio.is_some_and(|f| w.folio(f).dirty))
        {
            w.page_mut(file, index).reserved = true;
            w.reserved_blocks += 1;
        }
    }
}
