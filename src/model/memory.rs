//! Page faults and page-table teardown: `mm/memory.c` (`handle_mm_fault()`, `do_wp_page()`,
//! `wp_page_shared()`, `do_shared_fault()`, `zap_pte_range()`), `mm/filemap.c`
//! (`filemap_fault()`, `filemap_get_folio()`) and `mm/rmap.c` (`folio_mkclean()`,
//! `try_to_unmap()`).
//!
//! On filesystem-DAX (`fs/dax.c` `dax_iomap_fault()`) a fault maps the persistent-memory page
//! of the file's block, allocating the block first if it is a hole.
//!
//! Every change to a PTE calls the MMU notifiers (`mmu_notifier_invalidate_range_start()`),
//! which invalidate the device mappings of ODP registrations over that page.
//!
//! A DAX read fault of a hole maps the shared zero page (`dax_load_hole()`); a later write
//! fault allocates the block and replaces it.
//!
//! Left out: large folios, fault-around, the zero page of ordinary mappings, swap, mlock, and
//! the `FAULT_FLAG_UNSHARE` of read-only long-term pins of private mappings (6.2+). A pin of the
//! DAX zero page counts like any other (the kernel only pretends to pin the zero page).

use super::fs;
use super::label::Errno;
use super::world::*;
use super::Cx;

/// `dax_iomap_fault()`'s iomap step: the page of the file's block, allocated (and zeroed) if it
/// is a hole; ENOSPC becomes SIGBUS in the caller.
/// A read fault on a hole maps the shared zero page instead (`dax_load_hole()`): nothing is
/// allocated until a write fault.
fn dax_get_frame(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
    write: bool,
) -> Result<FolioId, Errno> {
    let b = match w.page(file, index).block {
        Some(b) => b,
        None if !write => {
            cx.note(|_| "dax_load_hole: the hole is mapped to the zero page".to_string());
            return Ok(w.zero_frame().expect("a DAX world has a zero page"));
        }
        None => {
            let b = w.alloc_block(file, index).ok_or(Errno::Enospc)?;
            w.page_mut(file, index).block = Some(b);
            cx.note(|n| {
                format!(
                    "dax_iomap_fault: block {} allocated for page {index} of {}",
                    b.0,
                    n.file_name(file)
                )
            });
            b
        }
    };
    Ok(w.dax_frame(b).expect("a DAX world has a frame per block"))
}

/// `filemap_get_folio()` with a read on a miss (`filemap_fault()`/`filemap_read()`): the cached
/// folio of `file` page `index`, or a new one filled from the disk (a hole reads as zeroes).
/// ENOMEM when no frame is free (the model has no direct reclaim).
pub fn filemap_get_folio(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
) -> Result<FolioId, Errno> {
    if let Some(f) = w.page(file, index).folio {
        return Ok(f);
    }
    let content = match w.page(file, index).block {
        Some(b) => w.blocks[b.0 as usize].current(),
        None => BlockContent { data: Data::default(), csum_ok: true },
    };
    if !content.csum_ok && fs::cow(cx.prog.fs) {
        // btrfs verifies data checksums on read (btrfs_data_csum_ok()): -EIO.
        cx.note(|_| "btrfs: the block fails its checksum on read: -EIO".to_string());
        return Err(Errno::Eio);
    }
    let f = alloc_folio_reclaiming(w, cx, Owner::File { file, index }, content.data)?;
    w.page_mut(file, index).folio = Some(f);
    cx.note(|n| {
        format!("filemap_get_folio: page {index} of {} read into frame {}", n.file_name(file), f.0)
    });
    Ok(f)
}

/// A frame for the page cache or a COW copy: when none is free, direct reclaim
/// (`shrink_folio_list()` over every candidate, as `reclaim` does) and one more try; then ENOMEM
/// (where the kernel would OOM-kill; the model reports the operation's ENOMEM instead).
pub fn alloc_folio_reclaiming(
    w: &mut World,
    cx: &mut Cx,
    owner: Owner,
    data: Data,
) -> Result<FolioId, Errno> {
    if let Some(f) = w.alloc_folio(owner, data) {
        return Ok(f);
    }
    cx.note(|_| "no free frame: direct reclaim".to_string());
    super::vmscan::shrink_folio_list(w, cx, None);
    w.alloc_folio(owner, data).ok_or(Errno::Enomem)
}

/// The folio a whole-page write(2) copies into (`write_begin()` of a full page does not read the
/// old content): the cached one, or a new one.
pub fn grab_cache_folio(
    w: &mut World,
    cx: &mut Cx,
    file: FileId,
    index: u8,
) -> Result<FolioId, Errno> {
    if let Some(f) = w.page(file, index).folio {
        return Ok(f);
    }
    let f = alloc_folio_reclaiming(w, cx, Owner::File { file, index }, Data::default())?;
    w.page_mut(file, index).folio = Some(f);
    Ok(f)
}

/// `handle_mm_fault()` for page `page` of mapping `map`, as a user access or a GUP fault.
/// Returns the folio the PTE now maps. SIGSEGV: no mapping or a write to a read-only one;
/// SIGBUS: beyond EOF or `->page_mkwrite` failed (ENOSPC).
pub fn handle_mm_fault(
    w: &mut World,
    cx: &mut Cx,
    map: HandleId,
    page: u8,
    write: bool,
) -> Result<FolioId, Errno> {
    handle_mm_fault_forced(w, cx, map, page, write, false)
}

/// `handle_mm_fault()` as GUP's `faultin_page()` calls it: with FOLL_FORCE a write fault on a
/// read-only private mapping breaks COW (the ptrace path) instead of failing.
pub fn handle_mm_fault_forced(
    w: &mut World,
    cx: &mut Cx,
    map: HandleId,
    page: u8,
    write: bool,
    force: bool,
) -> Result<FolioId, Errno> {
    let vma = w.vma(map).filter(|v| v.mapped).ok_or(Errno::Sigsegv)?.clone();
    let cow_allowed = force && !vma.shared;
    if write && vma.read_only && !cow_allowed {
        return Err(Errno::Sigsegv);
    }
    let index = vma.pgoff + page;
    if index >= w.inodes[vma.file.0 as usize].size {
        return Err(Errno::Sigbus);
    }
    let mut pte = vma.ptes[page as usize];
    if write && vma.shared && pte.folio.is_some() && pte.folio == w.zero_frame() {
        // A write to the zero page: the hole gets its block (dax_iomap_pte_fault()).
        zap_pte(w, cx, map, page);
        pte = Pte::default();
    }
    if let Some(f) = pte.folio {
        // can_follow_write_pte(): FOLL_FORCE writes through the read-only PTE of a private
        // mapping once COW gave it an exclusive anonymous page (dirty, not writable).
        let forced_cow_done = cow_allowed && pte.dirty && w.folio(f).owner == Owner::Anon;
        if !write || pte.writable || forced_cow_done {
            return Ok(f);
        }
        if !vma.shared {
            return do_cow(w, cx, map, page, f);
        }
        // wp_page_shared(): ->page_mkwrite (->pfn_mkwrite on DAX), then make the PTE writable.
        if !fs::is_dax(cx.prog.fs) {
            fs::page_mkwrite(w, cx, vma.file, index, f).map_err(|_| Errno::Sigbus)?;
        }
        set_pte(w, map, page, Pte { folio: Some(f), writable: true, dirty: true });
        return Ok(f);
    }
    let dax = fs::is_dax(cx.prog.fs);
    let f = if dax {
        dax_get_frame(w, cx, vma.file, index, write).map_err(|_| Errno::Sigbus)?
    } else {
        // A read error in ->fault is VM_FAULT_SIGBUS.
        filemap_get_folio(w, cx, vma.file, index).map_err(|e| {
            if e == Errno::Eio {
                Errno::Sigbus
            } else {
                e
            }
        })?
    };
    if write && !vma.shared {
        return do_cow(w, cx, map, page, f);
    }
    if write && !dax {
        // do_shared_fault(): ->fault, then do_page_mkwrite() before the PTE goes in.
        fs::page_mkwrite(w, cx, vma.file, index, f).map_err(|_| Errno::Sigbus)?;
    }
    // A read fault maps read-only wherever write notification is wanted; a shared writable
    // mapping of tmpfs has none, so its PTE is writable at once.
    let writable = write || (vma.shared && !vma.read_only && !fs::dirty_tracked(cx.prog.fs));
    w.folio_get(f);
    w.folio_mut(f).mapcount += 1;
    set_pte(w, map, page, Pte { folio: Some(f), writable, dirty: write });
    cx.note(|_| {
        format!(
            "handle_mm_fault: {} fault maps frame {} {}",
            if write { "write" } else { "read" },
            f.0,
            if writable { "writable" } else { "read-only" }
        )
    });
    Ok(f)
}

/// `do_wp_page()`/`wp_page_copy()` in a private mapping: copy into a new anonymous folio.
fn do_cow(
    w: &mut World,
    cx: &mut Cx,
    map: HandleId,
    page: u8,
    old: FolioId,
) -> Result<FolioId, Errno> {
    let data = w.folio(old).data;
    let new =
        alloc_folio_reclaiming(w, cx, Owner::Anon, Data { tag: data.tag, ver: 0, origin: 0 })?;
    w.folio_mut(new).mapcount = 1;
    w.folio_mut(new).dirty = true;
    zap_pte(w, cx, map, page);
    // wp_page_copy(): maybe_mkwrite() sets the write bit only where VM_WRITE is set; a forced
    // COW (FOLL_FORCE) of a read-only private mapping leaves the PTE read-only and dirty.
    let writable = !w.vma(map).expect("mapping exists").read_only;
    set_pte(w, map, page, Pte { folio: Some(new), writable, dirty: true });
    cx.note(|_| format!("do_wp_page: copy-on-write into anonymous frame {}", new.0));
    Ok(new)
}

fn set_pte(w: &mut World, map: HandleId, page: u8, pte: Pte) {
    w.vma_mut(map).expect("mapping exists").ptes[page as usize] = pte;
}

/// Clears one PTE as `zap_pte_range()` does: a dirty PTE dirties a file folio
/// (`folio_mark_dirty()`), then the mapping's reference goes.
pub fn zap_pte(w: &mut World, cx: &mut Cx, map: HandleId, page: u8) {
    let pte = w.vma(map).expect("mapping exists").ptes[page as usize];
    let Some(f) = pte.folio else { return };
    mmu_notifier_invalidate(w, cx, map, page);
    if pte.dirty && w.folio(f).owner != Owner::Anon {
        fs::folio_mark_dirty(w, cx, f);
    }
    w.folio_mut(f).mapcount -= 1;
    set_pte(w, map, page, Pte::default());
    w.folio_put(f);
}

/// `folio_mkclean()`: write-protect and clean every PTE mapping `f`. Returns whether any PTE
/// was dirty.
pub fn folio_mkclean(w: &mut World, cx: &mut Cx, f: FolioId) -> bool {
    let mut was_dirty = false;
    for &(h, i) in w.rmap(f).iter() {
        mmu_notifier_invalidate(w, cx, h, i);
        let pte = &mut w.vma_mut(h).expect("rmap gives mappings").ptes[i as usize];
        was_dirty |= pte.dirty;
        pte.writable = false;
        pte.dirty = false;
    }
    was_dirty
}

/// `try_to_unmap()`: remove every PTE mapping `f`, moving PTE dirty bits to the folio.
pub fn try_to_unmap(w: &mut World, cx: &mut Cx, f: FolioId) {
    for &(h, i) in w.rmap(f).iter() {
        zap_pte(w, cx, h, i);
    }
}

/// `unmap_mapping_range()` over file pages `[start, end)`: what truncate and punch do first.
pub fn unmap_mapping_range(w: &mut World, cx: &mut Cx, file: FileId, start: u8, end: u8) {
    let maps: Vec<(HandleId, Vma)> = w
        .handles
        .iter()
        .enumerate()
        .filter_map(|(h, handle)| match handle {
            Handle::Map(v) if v.file == file && v.mapped => Some((HandleId(h as u8), v.clone())),
            _ => None,
        })
        .collect();
    for (h, vma) in maps {
        for (i, pte) in vma.ptes.iter().enumerate() {
            let index = vma.pgoff + i as u8;
            let Some(f) = pte.folio else { continue };
            // Anonymous COW copies in private mappings stay (`even_cows == false`).
            if w.folio(f).owner != Owner::Anon && index >= start && index < end {
                zap_pte(w, cx, h, i as u8);
            }
        }
    }
}

/// The MMU notifiers for page `page` of mapping `map`: every live ODP registration over it drops
/// its device mapping (`mlx5_ib_invalidate_range()` → `ib_umem_odp_unmap_dma_pages()`, which
/// dirties a page the device could write). The device's next access faults.
pub fn mmu_notifier_invalidate(w: &mut World, cx: &mut Cx, map: HandleId, page: u8) {
    if cx.policy.mutated(crate::policy::Mutation::OdpInvalidate) {
        return;
    }
    for h in 0..w.handles.len() {
        // Only ODP registrations are reached mutably: the other handles keep their fingerprint
        // hashes (`model::slots`).
        if !matches!(w.handles[h], Handle::Odp(_)) {
            continue;
        }
        let Handle::Odp(mr) = &mut w.handles[h] else { continue };
        if mr.map != map || !mr.live || page < mr.start {
            continue;
        }
        let Some(slot) = mr.dev.get_mut((page - mr.start) as usize) else { continue };
        let Some((f, writable)) = slot.take() else { continue };
        if writable {
            fs::folio_mark_dirty(w, cx, f);
        }
        cx.note(|_| format!("mmu notifier: ODP device mapping of frame {} invalidated", f.0));
    }
}
