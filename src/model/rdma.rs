//! RDMA memory registrations and device accesses: `drivers/infiniband/core/umem.c`
//! (`ib_umem_get()`, `ib_umem_release()`), on-demand paging (`umem_odp.c`,
//! `mlx5_ib_invalidate_range()`, `hmm_range_fault()`), and the device's DMA through a pin or a
//! registration.
//!
//! An ODP registration pins nothing: the device keeps its own mapping of each page, dropped by
//! the MMU notifiers whenever the CPU mapping changes (`memory::mmu_notifier_invalidate`); the
//! device's next access takes a device page fault, which runs the normal fault path
//! (`->page_mkwrite` included). Left out: the notifier sequence-count retry (a fault and an
//! invalidation never overlap here: each is inside one step).

use super::gup::{get_user_pages, release_pages, GupFlags};
use super::label::Errno;
use super::memory::handle_mm_fault;
use super::oracle;
use super::world::*;
use super::Cx;
use crate::policy::GupKind;

pub fn gup_ref(k: GupKind) -> GupRef {
    match k {
        GupKind::FollGet => GupRef::Get,
        GupKind::FollPin => GupRef::Pin,
    }
}

/// `ib_umem_get()`: a FOLL_LONGTERM GUP, FOLL_WRITE for writable MRs. Before 6.2 a read-only MR
/// still asked for FOLL_WRITE|FOLL_FORCE (to break COW); the MR stays read-only either way.
/// With `odp`, `ib_umem_odp_get()`: an `mmu_interval_notifier` over the range, no pages.
pub fn reg_mr(
    w: &mut World,
    cx: &mut Cx,
    map: HandleId,
    start: u8,
    end: u8,
    writable: bool,
    odp: bool,
) -> Result<Handle, Errno> {
    if odp {
        w.vma(map).filter(|v| v.mapped).ok_or(Errno::Efault)?;
        cx.note(|_| {
            "ib_umem_odp_get: mmu_interval_notifier_insert over the range, nothing pinned"
                .to_string()
        });
        let dev = vec![None; (end - start) as usize];
        return Ok(Handle::Odp(OdpMr { map, start, write: writable, dev, live: true }));
    }
    let force = !writable && cx.policy.umem_readonly_force;
    let flags = GupFlags {
        how: gup_ref(cx.policy.gup_pin),
        write: writable || force,
        longterm: true,
        force,
    };
    let mut p = get_user_pages(w, cx, map, start, end, flags)?;
    p.write = writable;
    Ok(Handle::Pin(p))
}

/// `ib_umem_release()`: release the pages, dirtying them if the MR was writable; for ODP,
/// remove the notifier and unmap the device's pages (dirtying the writable ones).
pub fn dereg_mr(w: &mut World, cx: &mut Cx, h: HandleId) {
    match w.handles[h.0 as usize].clone() {
        Handle::Pin(mut p) if p.live => {
            let dirty = p.write;
            release_pages(w, cx, &mut p, dirty);
            w.handles[h.0 as usize] = Handle::Pin(p);
        }
        Handle::Odp(mut mr) if mr.live => {
            for (f, writable) in mr.dev.iter_mut().filter_map(|d| d.take()) {
                if writable {
                    super::fs::folio_mark_dirty(w, cx, f);
                }
            }
            mr.live = false;
            cx.note(|_| {
                "ib_umem_odp_release: notifier removed, device mappings dropped".to_string()
            });
            w.handles[h.0 as usize] = Handle::Odp(mr);
        }
        _ => {}
    }
}

/// The frame an access through `handle` page `page` reaches, faulting an ODP registration's
/// device mapping in if needed (`hmm_range_fault()` → `handle_mm_fault()`).
fn device_frame(
    w: &mut World,
    cx: &mut Cx,
    handle: HandleId,
    page: u8,
    write: bool,
) -> Result<(FolioId, Option<u16>), Errno> {
    match w.handles[handle.0 as usize].clone() {
        Handle::Pin(p) => {
            if !p.live {
                return Err(Errno::Eio);
            }
            if write && !p.write {
                return Err(Errno::Eacces); // a read-only registration: the device refuses
            }
            let (f, generation) = p.pages[page as usize];
            Ok((f, Some(generation)))
        }
        Handle::Odp(mr) => {
            if !mr.live {
                return Err(Errno::Eio);
            }
            if write && !mr.write {
                return Err(Errno::Eacces);
            }
            if let Some((f, writable)) = mr.dev[page as usize] {
                if writable || !write {
                    return Ok((f, None));
                }
            }
            let vpage = mr.start + page;
            cx.note(|_| "device page fault: hmm_range_fault() runs the CPU fault path".to_string());
            let f = handle_mm_fault(w, cx, mr.map, vpage, write).map_err(|e| match e {
                Errno::Enomem => Errno::Enomem,
                _ => Errno::Efault,
            })?;
            let writable = w.vma(mr.map).is_some_and(|v| v.ptes[vpage as usize].writable);
            if let Handle::Odp(mr) = &mut w.handles[handle.0 as usize] {
                mr.dev[page as usize] = Some((f, writable));
            }
            Ok((f, None))
        }
        _ => panic!("model bug: the parser checks that device operations use pins or MRs"),
    }
}

/// A device access through pin or MR `handle`: `dma-write` when `tag` is given, else `dma-read`.
/// A DMA write needs no fault and calls no `->page_mkwrite`; through a reference to a DAX page
/// whose block the file gave up it still lands, in storage that is no longer the file's.
pub fn dma(
    w: &mut World,
    cx: &mut Cx,
    handle: HandleId,
    page: u8,
    tag: Option<Tag>,
) -> Result<(), Errno> {
    let pinned = matches!(w.handles[handle.0 as usize], Handle::Pin(_));
    let (f, generation) = device_frame(w, cx, handle, page, tag.is_some())?;
    if let Some(generation) = generation {
        if !oracle::device_access_ok(w, cx, f, generation) {
            if let (Some(tag), true) = (tag, w.is_dax_frame(f)) {
                w.folio_mut(f).data = Data { tag, ver: 0, origin: Data::STALE };
            }
            return Ok(());
        }
    }
    match tag {
        Some(tag) => {
            let data = oracle::accept_into_folio(w, cx, f, tag);
            let how = if pinned { " (through a pin: no fault, no ->page_mkwrite)" } else { "" };
            cx.note(|n| {
                format!("device DMA-writes {} into frame {}{how}", n.tag_name(data.tag), f.0)
            });
        }
        None => {
            let tag = w.folio(f).data.tag;
            cx.note(|n| format!("device DMA-reads {} from frame {}", n.tag_name(tag), f.0));
        }
    }
    Ok(())
}
