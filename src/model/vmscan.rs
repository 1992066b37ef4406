//! Reclaim: `mm/vmscan.c` `shrink_folio_list()` (`shrink_page_list()` before 5.19) and the
//! bufferhead-stripping block of `shrink_active_list()`, plus `fs/drop_caches.c` →
//! `invalidate_mapping_pages()`.
//!
//! Left out: LRU aging and the accessed bit (every cached file folio is a candidate, in frame
//! order: the worst case for a pinned folio), anonymous memory and swap (anonymous and tmpfs
//! folios are never reclaimed), and `pageout()`: dirty file folios are kept, not written from
//! reclaim (kswapd may write them in the kernel; ext4 then redirties delalloc folios).

use super::few::Few;
use super::fs;
use super::memory::try_to_unmap;
use super::world::*;
use super::Cx;
use crate::scenario::FsKind;

/// Cached file folios, in frame order.
fn file_folios(w: &World, cx: &Cx) -> Few<FolioId, { crate::limits::MEMORY_FRAMES_MAX as usize }> {
    if cx.prog.fs.kind == FsKind::Tmpfs {
        return Few::default();
    }
    (0..w.folios.len())
        .map(|i| FolioId(i as u16))
        .filter(|f| matches!(w.folio(*f).owner, Owner::File { .. }) && !w.is_dax_frame(*f))
        .collect()
}

/// Removes a folio nobody else references from the page cache and frees it
/// (`__remove_mapping()`: the refcount freeze succeeds only at the cache's own reference).
fn remove_mapping(w: &mut World, f: FolioId) -> bool {
    if w.folio(f).refcount != 1 {
        return false;
    }
    let Owner::File { file, index } = w.folio(f).owner else { return false };
    w.page_mut(file, index).folio = None;
    w.folio_mut(f).owner = Owner::Orphan;
    w.folio_put(f);
    true
}

/// `shrink_folio_list()` over up to `max` folios: skip folios under writeback or dirty, unmap
/// (`try_to_unmap()`), since 6.4 (d824ec2a1546) keep pinned folios before touching their
/// private data, release private data (`filemap_release_folio()`), then free the folio if
/// nothing else holds it.
pub fn shrink_folio_list(w: &mut World, cx: &mut Cx, max: Option<u32>) {
    let candidates = file_folios(w, cx);
    let take = max.map_or(candidates.len(), |m| m as usize);
    for &f in candidates.iter().take(take) {
        if w.folio(f).writeback || w.folio(f).dirty {
            continue;
        }
        try_to_unmap(w, cx, f);
        if w.folio(f).dirty {
            continue;
        }
        if !cx.policy.reclaim_strips_pinned && w.folio(f).maybe_dma_pinned() {
            cx.note(|_| {
                format!("shrink_folio_list: frame {} is pinned: activate, keep its buffers", f.0)
            });
            continue;
        }
        let had_private = w.folio(f).private;
        if !fs::release_folio(w, f) {
            continue;
        }
        if remove_mapping(w, f) {
            cx.note(|_| format!("shrink_folio_list: frame {} freed", f.0));
        } else if had_private {
            cx.note(|_| format!("shrink_folio_list (shrink_page_list before 5.19): frame {} unmapped, buffers released; still referenced, stays cached", f.0));
        }
    }
}

/// `shrink_active_list()` with `buffer_heads_over_limit`: `filemap_release_folio()` on clean
/// folios with private data, mapped or not. No pin check in any mainline release; the `bounce`
/// design adds one.
pub fn shrink_active_list(w: &mut World, cx: &mut Cx) {
    for &f in file_folios(w, cx).iter() {
        let folio = w.folio(f);
        if !folio.private || folio.dirty || folio.writeback {
            continue;
        }
        if !cx.policy.reclaim_active_strips_pinned && folio.maybe_dma_pinned() {
            continue;
        }
        fs::release_folio(w, f);
        cx.note(|_| {
            format!(
                "shrink_active_list: buffer_heads_over_limit: buffers of frame {} released",
                f.0
            )
        });
    }
}

/// `drop_caches` → `invalidate_mapping_pages()` → `mapping_evict_folio()`: skips dirty, under
/// writeback and mapped folios, and since e41c81d0d30e (5.18) otherwise referenced (pinned)
/// ones, before releasing private data; then removes the folio if nothing else holds it. Before,
/// `invalidate_inode_page()` released the private data of a pinned folio and then failed in
/// `remove_mapping()` on its extra reference.
pub fn drop_caches(w: &mut World, cx: &mut Cx) {
    for &f in file_folios(w, cx).iter() {
        let folio = w.folio(f);
        if folio.dirty || folio.writeback || folio.mapcount > 0 {
            continue;
        }
        if cx.policy.drop_caches_skips_referenced && folio.refcount > 1 {
            continue;
        }
        let had_private = folio.private;
        fs::release_folio(w, f);
        if remove_mapping(w, f) {
            cx.note(|_| format!("drop_caches: frame {} evicted", f.0));
        } else if had_private {
            cx.note(|_| {
                format!(
                    "drop_caches: buffers of frame {} released; still referenced, stays cached",
                    f.0
                )
            });
        }
    }
}
