//! `mm/gup.c`: `get_user_pages*()`/`pin_user_pages*()` with FOLL_WRITE, FOLL_LONGTERM and
//! FOLL_FORCE, `check_vma_flags()`/`writable_file_mapping_allowed()`, the software prefault
//! (`faultin_page()` → `handle_mm_fault()`), and the release side (`put_page()`,
//! `unpin_user_pages_dirty_lock()`).
//!
//! GUP-fast (`fast`) is not a separate path: it takes the same references when the PTEs allow
//! it and falls back to the slow path otherwise (`gup_fast_folio_allowed()` sends writable
//! long-term pins of file folios there), so the result is the same. The transient +1/+1 on the
//! pin counters of a refused fast pin (research/kernel-probe.md §1) is not modeled.
//! A multi-page GUP that fails part-way releases what it took: callers (`ib_umem_get()`,
//! O_DIRECT) do that and return the error.

use super::fs;
use super::label::Errno;
use super::memory::handle_mm_fault_forced;
use super::task::{Cont, TaskKind};
use super::world::*;
use super::Cx;
use crate::policy::{LongtermFsdax, LongtermWritableFile, Mutation};
use crate::scenario::FsKind;

#[derive(Clone, Copy, Debug)]
pub struct GupFlags {
    pub how: GupRef,
    pub write: bool,
    pub longterm: bool,
    /// FOLL_FORCE: write access to a read-only private mapping breaks COW.
    pub force: bool,
}

/// The layout lease held on `file`, if any (the lease design's condition for long-term pins).
fn layout_lease(w: &World, file: FileId) -> Option<HandleId> {
    w.handles
        .iter()
        .position(|h| matches!(h, Handle::Lease(l) if l.file == file && l.live))
        .map(|i| HandleId(i as u8))
}

/// `check_vma_flags()`: the per-VMA checks before any page is touched. Returns the layout lease
/// a long-term pin is taken under, when the policy asks for one.
fn check_vma_flags(
    w: &World,
    cx: &Cx,
    vma: &Vma,
    flags: GupFlags,
) -> Result<Option<HandleId>, Errno> {
    let fs = cx.prog.fs;
    let fsdax = matches!(fs.kind, FsKind::Ext4Dax | FsKind::XfsDax);
    let mut lease = None;
    if flags.longterm && fsdax {
        // `FOLL_LONGTERM && vma_is_fsdax(vma)` comes before the write checks.
        match cx.policy.longterm_fsdax {
            LongtermFsdax::Allowed => {}
            LongtermFsdax::Eopnotsupp => return Err(Errno::Eopnotsupp),
            LongtermFsdax::NeedLease => {
                lease = Some(layout_lease(w, vma.file).ok_or(Errno::Eperm)?)
            }
        }
    }
    if flags.write {
        // The FOLL_LONGTERM|FOLL_PIN|FOLL_WRITE check of 6.5+ (Lorenzo Stoakes):
        // !vma_anon && !writable_file_mapping_allowed() → -EFAULT. On fsdax the check above
        // already decided.
        let needs_dirty_tracking = vma.shared && !vma.read_only && fs::dirty_tracked(fs);
        if flags.longterm && flags.how == GupRef::Pin && needs_dirty_tracking && !fsdax {
            match cx.policy.longterm_writable_file {
                LongtermWritableFile::Allowed => {}
                LongtermWritableFile::Efault => return Err(Errno::Efault),
                LongtermWritableFile::NeedLease => {
                    lease = Some(layout_lease(w, vma.file).ok_or(Errno::Eperm)?)
                }
            }
        }
        if vma.read_only && (!flags.force || vma.shared) {
            return Err(Errno::Efault);
        }
    }
    Ok(lease)
}

/// `__get_user_pages()`: fault in and grab pages `[start, end)` of mapping `map`.
pub fn get_user_pages(
    w: &mut World,
    cx: &mut Cx,
    map: HandleId,
    start: u8,
    end: u8,
    flags: GupFlags,
) -> Result<Pinned, Errno> {
    let vma = w.vma(map).filter(|v| v.mapped).ok_or(Errno::Efault)?.clone();
    if end as usize > vma.ptes.len() {
        return Err(Errno::Efault);
    }
    let lease = match check_vma_flags(w, cx, &vma, flags) {
        Ok(lease) => lease,
        Err(e) => {
            cx.note(|_| format!("check_vma_flags: -{}", e.name()));
            return Err(e);
        }
    };
    let mut pinned = Pinned {
        how: flags.how,
        write: flags.write,
        pages: Vec::new(),
        live: true,
        lease,
        resv: false,
    };
    // The writable-pins design: a writable long-term pin of a copy-on-write file's pages holds
    // a block per page for its lifetime, so every writeback of a page it can dirty can be paid.
    let reserve = cx.policy.pin_reserves_space
        && flags.longterm
        && flags.write
        && flags.how == GupRef::Pin
        && vma.shared
        && fs::cow(cx.prog.fs);
    for page in start..end {
        let pte = w.vma(map).expect("checked").ptes[page as usize];
        // The `software-prefault` mutation pins whatever is mapped, faulting only for reading.
        let prefault = !cx.policy.mutated(Mutation::SoftwarePrefault);
        let write_fault = flags.write && prefault;
        let needs_fault = pte.folio.is_none() || (write_fault && !pte.writable);
        let folio = match (needs_fault, pte.folio) {
            (false, Some(f)) => Ok(f),
            _ => handle_mm_fault_forced(w, cx, map, page, write_fault, flags.force).map_err(|e| {
                match e {
                    Errno::Enomem => Errno::Enomem,
                    _ => Errno::Efault,
                }
            }),
        };
        match folio {
            Ok(f) => {
                try_grab_folio(w, cx, f, flags.how);
                pinned.pages.push((f, w.folio(f).generation));
            }
            Err(e) => {
                release_pages(w, cx, &mut pinned, false);
                cx.note(|_| format!("__get_user_pages: fault failed: -{}", e.name()));
                return Err(e);
            }
        }
    }
    // After the faults, whose `->page_mkwrite` reserved the blocks of the pages' current data:
    // the pin's blocks come on top of those (reserving first let a fault take a block the pin
    // had counted as free, and promised more blocks than there were).
    if reserve {
        let n = pinned.pages.len() as u32;
        if w.free_blocks() < n {
            release_pages(w, cx, &mut pinned, false);
            cx.note(|_| "pin: no space to reserve for the pin's pages: -ENOSPC".to_string());
            return Err(Errno::Enospc);
        }
        pinned.resv = true;
        for &(f, _) in &pinned.pages {
            if let Owner::File { file, index } = w.folio(f).owner {
                w.reserved_blocks += 1;
                w.page_mut(file, index).pin_resv += 1;
            }
        }
    }
    let what = match flags.how {
        GupRef::Get => "get_user_pages: +1 reference",
        GupRef::Pin => "pin_user_pages: +GUP_PIN_COUNTING_BIAS",
    };
    cx.note(|_| {
        format!("{what} on frames {:?}", pinned.pages.iter().map(|p| p.0 .0).collect::<Vec<_>>())
    });
    Ok(pinned)
}

/// `try_grab_folio()`: FOLL_GET adds 1, FOLL_PIN adds `GUP_PIN_COUNTING_BIAS` and counts
/// `nr_foll_pin_acquired`.
fn try_grab_folio(w: &mut World, cx: &Cx, f: FolioId, how: GupRef) {
    match how {
        GupRef::Get => w.folio_get(f),
        GupRef::Pin => {
            w.folio_mut(f).refcount += pin_bias(cx);
            w.pins_acquired += 1;
        }
    }
}

/// What a FOLL_PIN adds to the refcount (1 under the `pin-counting` mutation).
fn pin_bias(cx: &Cx) -> u32 {
    if cx.policy.mutated(Mutation::PinCounting) {
        1
    } else {
        GUP_PIN_COUNTING_BIAS
    }
}

/// Drops the references of `pinned`, dirtying first if asked: `unpin_user_pages_dirty_lock()`
/// (FOLL_PIN: `folio_mark_dirty_lock()` unless already dirty, then `gup_put_folio()`), or
/// `set_page_dirty_lock()` + `put_page()` (FOLL_GET users before 5.6). Marks `pinned` dead.
pub fn release_pages(w: &mut World, cx: &mut Cx, pinned: &mut Pinned, make_dirty: bool) {
    for &(f, generation) in &pinned.pages {
        // A memory frame cannot be freed under a reference. A DAX page can change hands under
        // one (its block freed and reused): the reference is still to the same page.
        assert!(
            w.is_dax_frame(f) || w.folio(f).generation == generation,
            "model bug: a referenced frame was freed"
        );
        if make_dirty && (pinned.how == GupRef::Get || !w.folio(f).dirty) {
            fs::folio_mark_dirty(w, cx, f);
        }
        if pinned.resv {
            release_pin_reservation(w, f);
        }
        match pinned.how {
            GupRef::Get => w.folio_put(f),
            GupRef::Pin => {
                w.pins_released += 1;
                w.folio_put_many(f, pin_bias(cx));
            }
        }
    }
    pinned.live = false;
    pinned.resv = false;
    if !pinned.pages.is_empty() {
        let how = match pinned.how {
            GupRef::Get => "put_page",
            GupRef::Pin => "unpin_user_page",
        };
        cx.note(|_| {
            format!(
                "{}{how} on frames {:?}",
                if make_dirty { "set_page_dirty_lock + " } else { "" },
                pinned.pages.iter().map(|p| p.0 .0).collect::<Vec<_>>()
            )
        });
    }
}

/// Gives back the block a writable-pins long-term pin reserved for `f`'s page, if the page still
/// holds it (truncate gives it back itself; writeback's re-reservation may have taken it, in
/// which case the page's own reservation now stands for it). A page left dirty by the release
/// keeps a reservation: the one writeback took for its next write.
fn release_pin_reservation(w: &mut World, f: FolioId) {
    if let Owner::File { file, index } = w.folio(f).owner {
        let page = w.page_mut(file, index);
        if page.pin_resv > 0 {
            page.pin_resv -= 1;
            w.reserved_blocks -= 1;
        }
    }
}

/// Whether a live FOLL_PIN reference taken with FOLL_WRITE holds `f`: a pin handle, an RDMA MR,
/// an O_DIRECT read's buffer, or the deferred dirtying of one. The writable-pins design's count
/// of writable pins (`write-pins-counted`): mainline cannot tell, `folio_maybe_dma_pinned()`
/// sees only `refcount >= GUP_PIN_COUNTING_BIAS`; a kernel patch would count FOLL_WRITE pins
/// beside it in `try_grab_folio()` and `gup_put_folio()`.
pub fn writably_pinned(w: &World, f: FolioId) -> bool {
    let holds = |p: &Pinned| {
        p.live && p.write && p.how == GupRef::Pin && p.pages.iter().any(|&(g, _)| g == f)
    };
    let handles = w.handles.iter().any(|h| matches!(h, Handle::Pin(p) if holds(p)));
    handles
        || w.tasks.iter().any(|t| {
            let kind = match &t.kind {
                TaskKind::Dio { buffer, .. } => holds(buffer),
                TaskKind::DirtyWork { pages, .. } => holds(pages),
                _ => false,
            };
            kind || match &t.cont {
                Cont::RemoteWrite { pinned, .. } => holds(pinned),
                Cont::DioWait { release: Some(p), .. } => holds(p),
                _ => false,
            }
        })
}
