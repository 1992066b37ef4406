//! Layout changes: `mm/truncate.c` (`truncate_setsize()`, `truncate_inode_pages_range()`),
//! hole punch and fallocate, the DAX busy-page wait (`fs/dax.c` `dax_layout_busy_page()`, via
//! `ext4_break_layouts()`/`xfs_break_layouts()`), and layout leases (`fs/locks.c` `FL_LAYOUT`,
//! `break_layout()`, as the lease design exposes them to users).
//!
//! A layout change on a file with layout leases, or on DAX under a policy that waits for pinned
//! pages, takes several steps: step one breaks the leases (their `on break` blocks start), later
//! steps wait for them to go or for the lease-break time to pass (then the kernel revokes: it
//! releases the holder's long-term pins, whose later device accesses fail with EIO), then for
//! the file's DAX pages to be idle, then change the layout. While it sleeps it holds none of the
//! file's locks (`xfs_wait_dax_page()` and `ext4_wait_dax_page()` drop them around `schedule()`,
//! `xfs_break_leased_layouts()` around `break_layout()`): faults go on, and every wake-up
//! unmaps and checks again.

use super::fs;
use super::gup::release_pages;
use super::label::Errno;
use super::memory::unmap_mapping_range;
use super::oracle;
use super::program::COp;
use super::task::Cont;
use super::world::*;
use super::Cx;

/// The file and page range a layout change frees (`None` for fallocate, which frees nothing).
fn freed_range(w: &World, op: &COp) -> (FileId, Option<(u8, u8)>) {
    match *op {
        COp::Truncate { file, pages } => (file, Some((pages, w.inodes[file.0 as usize].size))),
        COp::Punch { file, start, end } => (file, Some((start, end))),
        COp::Fallocate { file, .. } => (file, None),
        _ => panic!("model bug: not a layout change"),
    }
}

fn live_leases<'a>(w: &'a World, cx: &Cx, file: FileId) -> impl Iterator<Item = HandleId> + 'a {
    // The `lease-break` mutation: layout changes ignore layout leases.
    let ignore = cx.policy.mutated(crate::policy::Mutation::LeaseBreak);
    w.handles.iter().enumerate().filter(move |_| !ignore).filter_map(
        move |(h, handle)| match handle {
            Handle::Lease(l) if l.file == file && l.live => Some(HandleId(h as u8)),
            _ => None,
        },
    )
}

/// Whether this layout change breaks DAX layouts (`xfs_break_layouts(BREAK_UNMAP)`,
/// `ext4_break_layouts()`): truncate (to any size) and punch on both; every fallocate mode on
/// XFS, none on ext4 (kernel-facts.md Q18).
fn breaks_dax_layouts(cx: &Cx, op: &COp) -> bool {
    match op {
        COp::Truncate { .. } | COp::Punch { .. } => true,
        COp::Fallocate { .. } => cx.prog.fs.kind == crate::scenario::FsKind::XfsDax,
        _ => false,
    }
}

/// `dax_layout_busy_page()` over the whole file (the callers pass the whole mapping): a DAX page
/// still referenced by anything but page tables (a GUP reference or pin). Up to 6.14 it returns
/// at once when no process maps the file (`if (!dax_mapping(mapping) ||
/// !mapping_mapped(mapping)) return NULL;`, read in 6.12): a pin that outlived its munmap() is
/// not waited for; Alistair Popple's "fs/dax: Return unmapped busy pages from
/// dax_layout_busy_page_range()" removed the shortcut (6.15, likely).
fn dax_busy(w: &World, cx: &Cx, file: FileId, op: &COp) -> bool {
    if !fs::is_dax(cx.prog.fs) || !cx.policy.dax_truncate_waits || !breaks_dax_layouts(cx, op) {
        return false;
    }
    let mapping_mapped =
        w.handles.iter().any(|h| matches!(h, Handle::Map(v) if v.file == file && v.mapped));
    if !mapping_mapped && cx.policy.dax_busy_skips_unmapped {
        return false;
    }
    w.inodes[file.0 as usize].pages.iter().any(|p| {
        p.block.and_then(|b| w.dax_frame(b)).is_some_and(|f| {
            let frame = w.folio(f);
            frame.refcount > frame.mapcount as u32
        })
    })
}

fn range_under_writeback(w: &World, file: FileId, range: Option<(u8, u8)>) -> bool {
    let Some((start, end)) = range else { return false };
    let pages = &w.inodes[file.0 as usize].pages;
    (start as usize..(end as usize).min(pages.len()))
        .any(|i| pages[i].folio.is_some_and(|f| w.folio(f).writeback))
}

/// Whether a layout change can take its next step. At the start: its folios' writeback must
/// end (`truncate_inode_pages_range()` waits, in one step here); waiting: see the module doc.
pub fn ready(w: &World, cx: &Cx, op: &COp, cont: &Cont) -> bool {
    let (file, range) = freed_range(w, op);
    if w.inodes[file.0 as usize].dio_in_flight > 0 {
        return false; // inode_dio_wait()
    }
    match cont {
        Cont::LayoutWait { waited } => {
            let leases = live_leases(w, cx, file).next().is_some();
            if leases {
                return *waited >= cx.policy.lease_break_steps; // then revoke
            }
            if cx.policy.dax_busy_etxtbsy
                && *waited >= cx.policy.lease_break_steps
                && dax_busy(w, cx, file, op)
            {
                return true; // then ETXTBSY
            }
            !dax_busy(w, cx, file, op) && !range_under_writeback(w, file, range)
        }
        _ => !range_under_writeback(w, file, range),
    }
}

/// Whether thread task `t`, waiting in a layout change, waits for something with a time limit:
/// layout leases (then revoked), or, under `dax-busy-wait-etxtbsy`, pinned DAX pages (then
/// ETXTBSY). When nothing else can run, its time runs out.
pub fn wait_times_out(w: &World, cx: &Cx, t: usize) -> bool {
    let super::task::TaskKind::Thread { thread } = w.tasks[t].kind else { return false };
    let op = &cx.prog.threads[thread as usize].body[w.tasks[t].pc as usize].op;
    let (file, _) = freed_range(w, op);
    live_leases(w, cx, file).next().is_some()
        || (cx.policy.dax_busy_etxtbsy && dax_busy(w, cx, file, op))
}

/// What a step of a layout change did.
pub enum Progress {
    Done(Result<(), Errno>),
    Waiting,
}

/// The first step of a layout change: break leases and wait, or wait for busy DAX pages, or do
/// it now.
pub fn start(w: &mut World, cx: &mut Cx, op: &COp) -> Progress {
    let (file, range) = freed_range(w, op);
    let leases: Vec<HandleId> = live_leases(w, cx, file).collect();
    if !leases.is_empty() {
        for l in leases {
            break_layout(w, cx, l);
        }
        super::label::Costs::bump(&mut w.labels.costs.waits);
        return Progress::Waiting;
    }
    if dax_busy(w, cx, file, op) {
        super::label::Costs::bump(&mut w.labels.costs.waits);
        unmap_range(w, cx, file, range);
        cx.note(|_| "dax_layout_busy_page: a page of the file is pinned: wait".to_string());
        return Progress::Waiting;
    }
    Progress::Done(apply(w, cx, op))
}

/// A waiting layout change runs again: revoke leases whose break time passed, then wait for
/// busy DAX pages, then change the layout.
pub fn resume(w: &mut World, cx: &mut Cx, op: &COp) -> Progress {
    let (file, range) = freed_range(w, op);
    let leases: Vec<HandleId> = live_leases(w, cx, file).collect();
    let revoked = !leases.is_empty();
    for l in leases {
        // The break time passed with the lease still held: the kernel revokes it.
        super::label::Costs::bump(&mut w.labels.costs.revocations);
        revoke(w, cx, l);
    }
    if dax_busy(w, cx, file, op) {
        if cx.policy.dax_busy_etxtbsy && !revoked {
            // Only a wait that ran out its time gets here (`ready()`, or nothing else could
            // run): the pins are no lease's, so nothing can take them away.
            cx.note(|_| {
                "dax_layout_busy_page: still pinned after the lease-break time: ETXTBSY".to_string()
            });
            return Progress::Done(Err(Errno::Etxtbsy));
        }
        super::label::Costs::bump(&mut w.labels.costs.waits);
        unmap_range(w, cx, file, range);
        cx.note(|_| "dax_layout_busy_page: a page of the file is pinned: wait".to_string());
        return Progress::Waiting;
    }
    if range_under_writeback(w, file, range) {
        cx.note(|_| "truncate_inode_pages_range: waiting for writeback of the range".to_string());
        return Progress::Waiting;
    }
    Progress::Done(apply(w, cx, op))
}

fn unmap_range(w: &mut World, cx: &mut Cx, file: FileId, range: Option<(u8, u8)>) {
    if let Some((start, end)) = range {
        unmap_mapping_range(w, cx, file, start, end);
    }
}

/// Counts a step of another task against every lease break in progress (the lease-break time).
pub fn tick(w: &mut World, cx: &Cx, stepped: Option<usize>) {
    for t in 0..w.tasks.len() {
        if Some(t) == stepped {
            continue;
        }
        // Only a waiting task is reached mutably: the others keep their fingerprint hashes.
        if let Cont::LayoutWait { waited } = w.tasks[t].cont {
            let next = waited.saturating_add(1).min(cx.policy.lease_break_steps);
            if next != waited {
                w.tasks[t].cont = Cont::LayoutWait { waited: next };
            }
        }
    }
}

fn apply(w: &mut World, cx: &mut Cx, op: &COp) -> Result<(), Errno> {
    match *op {
        COp::Truncate { file, pages } => truncate(w, cx, file, pages),
        COp::Punch { file, start, end } => punch(w, cx, file, start, end),
        COp::Fallocate { file, start, end } => return fallocate(w, cx, file, start, end),
        _ => unreachable!("freed_range() accepted only layout changes"),
    }
    Ok(())
}

/// `break_layout()`: mark the lease broken and start its `on break` blocks.
fn break_layout(w: &mut World, cx: &mut Cx, l: HandleId) {
    let Handle::Lease(lease) = &mut w.handles[l.0 as usize] else { return };
    if lease.broken {
        return;
    }
    lease.broken = true;
    super::label::Costs::bump(&mut w.labels.costs.lease_breaks);
    for (t, prog) in cx.prog.threads.iter().enumerate() {
        if prog.on_break == Some(l) {
            let task = w
                .tasks
                .iter_mut()
                .find(|x| x.kind == super::task::TaskKind::Thread { thread: t as u8 });
            if let Some(task) = task {
                task.done = prog.body.is_empty();
                task.pc = 0;
                task.cont = Cont::Start;
            }
        }
    }
    cx.note(|n| {
        format!(
            "break_layout: layout lease {} broken; its on-break blocks start",
            n.handles[l.0 as usize]
        )
    });
}

/// The lease-break time passed (or the holder released the lease): the lease is gone and the
/// long-term pins taken under it are released; their registrations are dead (device accesses
/// fail with EIO). A pin may not outlive the lease that allowed it.
pub fn revoke(w: &mut World, cx: &mut Cx, l: HandleId) {
    if let Handle::Lease(lease) = &mut w.handles[l.0 as usize] {
        lease.live = false;
    }
    for h in 0..w.handles.len() {
        let Handle::Pin(p) = &w.handles[h] else { continue };
        if p.lease == Some(l) && p.live {
            let mut p = p.clone();
            let dirty = p.write;
            release_pages(w, cx, &mut p, dirty);
            w.handles[h] = Handle::Pin(p);
        }
    }
    cx.note(|n| {
        format!(
            "layout lease {} gone (released, or revoked after the break time); its pins released",
            n.handles[l.0 as usize]
        )
    });
}

/// `lease FILE layout`: EINVAL where the kernel has no user layout leases.
pub fn take_lease(w: &World, cx: &Cx, file: FileId) -> Result<Handle, Errno> {
    let _ = w;
    if !cx.policy.layout_leases {
        return Err(Errno::Einval);
    }
    Ok(Handle::Lease(Lease { file, live: true, broken: false }))
}

/// Grows i_size to `pages` (a write or fallocate beyond EOF); new pages are holes.
pub fn extend_to(w: &mut World, file: FileId, pages: u8) {
    let inode = &mut w.inodes[file.0 as usize];
    if pages > inode.size {
        inode.size = pages;
        inode.pages.resize(pages as usize, FilePage::default());
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
        forget_promises(w, file, pages, size);
    } else {
        extend_to(w, file, pages);
    }
    cx.note(|n| format!("truncate: {} is now {pages} pages", n.file_name(file)));
}

/// A sync, fsync or msync in flight promises nothing for data the scenario removes before it
/// returns: the pages `from..to` of `file` leave the snapshots of the writeback passes under
/// way (`oracle::check_synced`). Without this, a page truncated or punched while a sync ran and
/// then written again was judged by the data it held when the sync began (`data-loss`, found by
/// fuzzing): the regrown page's newer version hid the removal from the oracle.
fn forget_promises(w: &mut World, file: FileId, from: u8, to: u8) {
    let gone = |e: &(FileId, u8, Data)| e.0 == file && (from..to).contains(&e.1);
    for t in 0..w.tasks.len() {
        // Tasks are reached mutably only where a snapshot changes (`model::slots`).
        if matches!(&w.tasks[t].cont, Cont::Writeback(wb) if wb.snapshot.iter().any(gone)) {
            if let Cont::Writeback(wb) = &mut w.tasks[t].cont {
                wb.snapshot.retain(|e| !gone(e));
            }
        }
    }
}

/// `fallocate(FALLOC_FL_PUNCH_HOLE)`: like truncate over the range, and the pages read zeroes.
fn punch(w: &mut World, cx: &mut Cx, file: FileId, start: u8, end: u8) {
    let end = end.min(w.inodes[file.0 as usize].size);
    // ext4_punch_hole(), xfs_flush_unmap_range(), btrfs_punch_hole() write back the range
    // first (filemap_write_and_wait_range()): the writeback checks can fire here.
    for index in start..end {
        if super::writeback::write_and_wait_page(w, cx, file, index).is_err() {
            return; // BUG: the machine is down
        }
    }
    unmap_mapping_range(w, cx, file, start, end);
    for index in start..end {
        remove_page(w, cx, file, index);
        oracle::accept_zeroes(w, file, index);
    }
    forget_promises(w, file, start, end);
    cx.note(|n| format!("punch: pages {start}..{end} of {} are holes", n.file_name(file)));
}

/// `truncate_inode_folio()` then the block's release: the folio leaves the page cache
/// (`filemap_remove_folio()`), keeping only the references others hold. On DAX the block itself
/// is given up, whoever still references its page.
pub fn remove_page(w: &mut World, cx: &mut Cx, file: FileId, index: u8) {
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
    let page = w.page_mut(file, index);
    if page.reserved {
        page.reserved = false;
        w.reserved_blocks -= 1;
    }
    if let Some(b) = w.page_mut(file, index).block.take() {
        if let Some(f) = w.dax_frame(b).filter(|f| w.folio(*f).refcount > 0) {
            let refs = w.folio(f).refcount;
            cx.note(|_| format!("block {} freed while its DAX page has {refs} references", b.0));
        }
        w.free_block(b);
    }
}

/// `fallocate(0)`: allocate blocks for the holes of the range (all or nothing), extending i_size.
fn fallocate(w: &mut World, cx: &mut Cx, file: FileId, start: u8, end: u8) -> Result<(), Errno> {
    if !fs::dirty_tracked(cx.prog.fs) {
        return shmem_fallocate(w, cx, file, start, end);
    }
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

/// `shmem_fallocate()`: tmpfs allocates memory pages, not blocks; ENOSPC when none is left.
fn shmem_fallocate(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    start: u8,
    end: u8,
) -> Result<(), Errno> {
    extend_to(w, file, end);
    for i in start..end {
        if w.page(file, i).folio.is_none() {
            let data = w.page(file, i).accepted;
            let f = w.alloc_folio(Owner::File { file, index: i }, data).ok_or(Errno::Enospc)?;
            w.page_mut(file, i).folio = Some(f);
        }
    }
    cx.note(|n| {
        format!("shmem_fallocate: pages {start}..{end} of {} are in memory", n.file_name(file))
    });
    Ok(())
}
