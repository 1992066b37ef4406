//! The model's own invariants (STYLE.md practice 6): rules every reachable [`World`] obeys,
//! whatever the scenario and the policy. A violation is a bug in pincheck, never a kernel
//! outcome: [`World::check_invariants`] panics naming the rule. Modeled kernel failures (`bug`,
//! `warn`, `use-after-free`, ...) are labels and never break these rules.
//!
//! The checker calls it after every step in debug builds (`cargo test`), and the tests replay
//! every witness of the catalogue, the regressions and generated scenarios with it checked after
//! each step.

use super::task::{Cont, TaskKind};
use super::world::*;
use super::Cx;
use crate::policy::Mutation;

impl World {
    /// Panics with the rule's name and the offending frame, block or page when a rule is broken.
    /// Under a mutation (`--mutate`) nothing is checked: a mutation removes a protective
    /// mechanism on purpose, and the worlds it reaches may break these rules (without the ODP
    /// invalidation, a device writes into a freed frame and dirties it).
    pub fn check_invariants(&self, cx: &Cx) {
        if cx.policy.mutation.is_some() {
            return;
        }
        if let Err(why) = self.invariants(cx) {
            panic!("model bug: invariant broken: {why}");
        }
    }

    fn invariants(&self, cx: &Cx) -> Result<(), String> {
        let refs = self.references();
        for (i, folio) in self.folios.iter().enumerate() {
            let f = FolioId(i as u16);
            let r = &refs[i];
            folio_refcount_accounts_for_every_reference(self, cx, f, folio, r)?;
            folio_mapcount_counts_its_ptes(f, folio, r)?;
            folio_refcount_covers_its_pins(cx, f, folio, r)?;
            folio_writeback_iff_bio_in_flight(f, folio, r)?;
            free_frame_is_unreferenced(self, f, folio, r)?;
            page_cache_owner_agrees(self, f, folio)?;
        }
        file_pages_agree_with_their_folios_and_blocks(self, cx)?;
        reservations_are_counted(self)?;
        pin_counters_balance(self, &refs)?;
        ptes_respect_their_mapping(self)?;
        Ok(())
    }

    /// Every reference to every frame, gathered from where the world keeps them.
    fn references(&self) -> Vec<Refs> {
        let mut refs = vec![Refs::default(); self.folios.len()];
        for handle in &self.handles {
            match handle {
                Handle::Map(vma) => {
                    for pte in &vma.ptes {
                        if let Some(f) = pte.folio {
                            refs[f.0 as usize].ptes += 1;
                        }
                    }
                }
                Handle::Pin(p) => count_gup(&mut refs, p),
                _ => {}
            }
        }
        for task in &self.tasks {
            match &task.kind {
                TaskKind::Bio { folio, .. } => refs[folio.0 as usize].bios += 1,
                TaskKind::Fixup { folio, .. } => refs[folio.0 as usize].fixups += 1,
                TaskKind::Dio { buffer, .. } => count_gup(&mut refs, buffer),
                TaskKind::DirtyWork { pages, .. } => count_gup(&mut refs, pages),
                TaskKind::Thread { .. } => {}
            }
            match &task.cont {
                Cont::RemoteWrite { pinned, .. } => count_gup(&mut refs, pinned),
                Cont::DioWait { release: Some(p), .. } => count_gup(&mut refs, p),
                _ => {}
            }
        }
        refs
    }
}

/// The references to one frame the world holds, by kind.
#[derive(Clone, Default)]
struct Refs {
    /// PTEs mapping the frame.
    ptes: u32,
    /// FOLL_GET references (1 each).
    gets: u32,
    /// FOLL_PIN references (`GUP_PIN_COUNTING_BIAS` each).
    pins: u32,
    /// Page-write bios in flight for the frame (they hold no reference: the writeback flag
    /// keeps the folio in the cache).
    bios: u32,
    /// Queued btrfs fix-up work items (one reference each, `btrfs_writepage_cow_fixup()`).
    fixups: u32,
}

fn count_gup(refs: &mut [Refs], p: &Pinned) {
    if !p.live {
        return;
    }
    for &(f, _) in &p.pages {
        match p.how {
            GupRef::Get => refs[f.0 as usize].gets += 1,
            GupRef::Pin => refs[f.0 as usize].pins += 1,
        }
    }
}

fn pin_bias(cx: &Cx) -> u32 {
    if cx.policy.mutated(Mutation::PinCounting) {
        1
    } else {
        GUP_PIN_COUNTING_BIAS
    }
}

/// "folio_ref_count() is the page cache's reference, one per mapping PTE, GUP references, and
/// GUP_PIN_COUNTING_BIAS per FOLL_PIN" (`Folio::refcount`, include/linux/mm.h), plus one per
/// queued btrfs fix-up. A frame of memory counts exactly that; an anonymous folio's first
/// reference is its PTE's. DAX pages and the zero page have no page-cache reference.
fn folio_refcount_accounts_for_every_reference(
    w: &World,
    cx: &Cx,
    f: FolioId,
    folio: &Folio,
    r: &Refs,
) -> Result<(), String> {
    let cache = u32::from(matches!(folio.owner, Owner::File { .. }) && !w.is_dax_frame(f));
    let expected = cache + r.ptes + r.gets + r.pins * pin_bias(cx) + r.fixups;
    // A DAX page (and the zero page) may be referenced by what the model does not count
    // (its block's owner changes under it): at least the counted references.
    let ok =
        if w.is_dax_frame(f) { folio.refcount >= expected } else { folio.refcount == expected };
    if !ok {
        return Err(format!(
            "refcount = page cache + PTEs + gets + pins x bias + fix-ups: frame {} has refcount \
             {} for {cache} (cache) + {} (PTEs) + {} (gets) + {} pins + {} (fix-ups)",
            f.0, folio.refcount, r.ptes, r.gets, r.pins, r.fixups
        ));
    }
    Ok(())
}

/// "folio_mapcount(): the number of PTEs mapping the folio" (mm/rmap.c keeps `_mapcount` in
/// step with every PTE set and cleared). The zero page and DAX pages are mapped without it.
fn folio_mapcount_counts_its_ptes(f: FolioId, folio: &Folio, r: &Refs) -> Result<(), String> {
    if folio.mapcount as u32 != r.ptes {
        return Err(format!(
            "mapcount = number of PTEs mapping the folio: frame {} has mapcount {} but {} PTEs",
            f.0, folio.mapcount, r.ptes
        ));
    }
    Ok(())
}

/// "refcount >= pins x GUP_PIN_COUNTING_BIAS" (`folio_maybe_dma_pinned()`, mm/gup.c
/// `try_grab_folio()`): each live FOLL_PIN reference adds the bias; together with every other
/// reference the count is exact.
fn folio_refcount_covers_its_pins(
    cx: &Cx,
    f: FolioId,
    folio: &Folio,
    r: &Refs,
) -> Result<(), String> {
    let pinned = r.pins * pin_bias(cx);
    if folio.refcount < pinned {
        return Err(format!(
            "refcount >= pins x GUP_PIN_COUNTING_BIAS: frame {} has refcount {} with {} pins",
            f.0, folio.refcount, r.pins
        ));
    }
    Ok(())
}

/// "PG_writeback is set from submission until `folio_end_writeback()`": the flag is up exactly
/// while one page-write bio for the folio is in flight.
fn folio_writeback_iff_bio_in_flight(f: FolioId, folio: &Folio, r: &Refs) -> Result<(), String> {
    if folio.writeback != (r.bios > 0) || r.bios > 1 {
        return Err(format!(
            "writeback flag <=> one bio in flight for the folio: frame {} has writeback {} and \
             {} bios",
            f.0, folio.writeback, r.bios
        ));
    }
    Ok(())
}

/// "A free frame has no references": nothing maps, pins, writes or caches a frame on the free
/// list, and it carries no dirty or writeback state. A stale reference (a pin dropped by a
/// revoke, a device holding an old generation) is not a reference: it is what
/// `use-after-free` detects.
fn free_frame_is_unreferenced(
    w: &World,
    f: FolioId,
    folio: &Folio,
    r: &Refs,
) -> Result<(), String> {
    if folio.owner != Owner::Free || w.is_dax_frame(f) {
        return Ok(());
    }
    let referenced = r.ptes + r.gets + r.pins + r.bios + r.fixups > 0;
    if folio.refcount != 0 || folio.mapcount != 0 || folio.dirty || folio.writeback || referenced {
        return Err(format!(
            "a free frame has no references: frame {} is free with refcount {}, mapcount {}, \
             {} PTEs, {} gets, {} pins, {} bios",
            f.0, folio.refcount, folio.mapcount, r.ptes, r.gets, r.pins, r.bios
        ));
    }
    Ok(())
}

/// "A page-cache folio's owner agrees with the file page pointing to it" (`folio->mapping`,
/// `folio->index` and the xarray slot): a frame of memory owned by (file, index) is that page's
/// folio. On DAX, a block's page is owned by the file page the block belongs to.
fn page_cache_owner_agrees(w: &World, f: FolioId, folio: &Folio) -> Result<(), String> {
    let Owner::File { file, index } = folio.owner else { return Ok(()) };
    let agrees = if w.is_dax_frame(f) {
        let b = f.0 as usize - w.ram_frames as usize;
        w.blocks.get(b).is_some_and(|blk| blk.owner == Some((file, index)))
    } else {
        w.inodes
            .get(file.0 as usize)
            .and_then(|inode| inode.pages.get(index as usize))
            .is_some_and(|p| p.folio == Some(f))
    };
    if !agrees {
        return Err(format!(
            "a page-cache folio's owner agrees with its file page: frame {} says it is page \
             {index} of file {}, which does not point to it",
            f.0, file.0
        ));
    }
    Ok(())
}

/// "The xarray slot names a folio owned by that index, and the extent tree a block owned by
/// that page": a file page's folio is a memory frame owned by it, and its block belongs to it.
fn file_pages_agree_with_their_folios_and_blocks(w: &World, cx: &Cx) -> Result<(), String> {
    for (fi, inode) in w.inodes.iter().enumerate() {
        let file = FileId(fi as u8);
        for (i, p) in inode.pages.iter().enumerate() {
            let index = i as u8;
            if let Some(f) = p.folio {
                if w.is_dax_frame(f) || w.folio(f).owner != (Owner::File { file, index }) {
                    return Err(format!(
                        "a file page's folio is owned by it: page {i} of file {fi} points to \
                         frame {} owned by {:?}",
                        f.0,
                        w.folio(f).owner
                    ));
                }
            }
            if let Some(b) = p.block {
                if w.blocks[b.0 as usize].owner != Some((file, index)) {
                    return Err(format!(
                        "a file page's block belongs to it: page {i} of file {fi} points to \
                         block {} owned by {:?}",
                        b.0, w.blocks[b.0 as usize].owner
                    ));
                }
            }
        }
    }
    // A block a page owns but no longer maps is one a copy-on-write replaced since the last
    // commit (btrfs pinned extent, `fs::commit_freed_blocks`): only on btrfs.
    for (i, b) in w.blocks.iter().enumerate() {
        if let Some((file, index)) = b.owner {
            let page = w.inodes[file.0 as usize].pages.get(index as usize);
            let maps = page.is_some_and(|p| p.block == Some(BlockId(i as u16)));
            if !maps && !super::fs::cow(cx.prog.fs) {
                return Err(format!(
                    "a block owned by a page is mapped by it (outside copy-on-write): block {i} \
                     of page {index} of file {}",
                    file.0
                ));
            }
        }
    }
    Ok(())
}

/// "Delayed-allocation reservations are counted once" (`ext4_da_reserve_space()` /
/// `ext4_da_release_space()`): the world's count is the number of pages holding one, plus the
/// blocks writable-pins long-term pins hold for their pages (`pin_resv`,
/// `longterm-pin-reserves-cow-space`), which the count also includes.
fn reservations_are_counted(w: &World) -> Result<(), String> {
    let pages = w.inodes.iter().flat_map(|i| &i.pages);
    let held: usize = pages.map(|p| p.reserved as usize + p.pin_resv as usize).sum();
    if held != w.reserved_blocks as usize {
        return Err(format!(
            "reserved blocks = pages holding a reservation: {} counted, {held} held",
            w.reserved_blocks
        ));
    }
    // Every reservation can be paid: `ext4_da_reserve_space()`/`btrfs_reserve_data_bytes()`
    // refuse (ENOSPC) rather than promise a block that is not free.
    let unowned = w.blocks.iter().filter(|b| b.owner.is_none()).count();
    if w.reserved_blocks as usize > unowned {
        return Err(format!(
            "reservations are backed by free blocks: {} reserved, {unowned} free",
            w.reserved_blocks
        ));
    }
    Ok(())
}

/// "nr_foll_pin_acquired - nr_foll_pin_released = FOLL_PIN references held" (mm/gup.c
/// `try_grab_folio()` and `gup_put_folio()` count each page).
fn pin_counters_balance(w: &World, refs: &[Refs]) -> Result<(), String> {
    let held: u32 = refs.iter().map(|r| r.pins).sum();
    let balance = w.pins_acquired as i64 - w.pins_released as i64;
    if balance != held as i64 {
        return Err(format!(
            "nr_foll_pin_acquired - nr_foll_pin_released = pins held: {} - {} but {held} held",
            w.pins_acquired, w.pins_released
        ));
    }
    Ok(())
}

/// "A PTE of a PROT_READ mapping is never writable, and an unmapped VMA has no PTEs"
/// (`mprotect`/`munmap` semantics; `maybe_mkwrite()` honours VM_WRITE).
fn ptes_respect_their_mapping(w: &World) -> Result<(), String> {
    for (h, handle) in w.handles.iter().enumerate() {
        let Handle::Map(vma) = handle else { continue };
        for (i, pte) in vma.ptes.iter().enumerate() {
            if pte.folio.is_none() && (pte.writable || pte.dirty) {
                return Err(format!("an empty PTE has no bits: handle {h} page {i}"));
            }
            if pte.writable && vma.read_only {
                return Err(format!(
                    "a read-only mapping has no writable PTE: handle {h} page {i}"
                ));
            }
            if pte.folio.is_some() && !vma.mapped {
                return Err(format!("an unmapped VMA has no PTEs: handle {h} page {i}"));
            }
        }
    }
    Ok(())
}
