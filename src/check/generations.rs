//! The `generations` reduction: canonical renumbering of frame generations.
//!
//! A frame's `generation` is bumped each time the frame is freed, and a GUP reference records
//! the generation it was taken at, so that a device access through a reference the frame
//! outlived is detected (`oracle::device_access_ok`, `use-after-free`). The model observes a
//! generation only by comparing a reference's with its frame's current one (`==`); generations
//! only grow. So a world is equivalent to the one where every frame's generation is 0, every
//! reference taken at the frame's current generation says 0, and every stale reference says
//! `u16::MAX` (no frame reaches it: a step frees a frame a few times at most, and the next
//! canonicalization resets it). Equivalent worlds take the same moves (by name), reach the same
//! labels and crash outcomes (a power failure reads only the disk): the search may keep the
//! canonical world instead of the real one. States that differ only by how often a frame was
//! recycled become one state. Witnesses are schedules of task names, replayed from the real
//! initial world by the real model, so they replay unchanged; breadth-first order is kept, so
//! they stay shortest.
//!
//! Page frame numbers themselves are not renumbered: the allocator hands out the lowest free
//! frame and reclaim scans frames in order, so frame numbers are observable in this model.

use crate::model::task::{Cont, TaskKind};
use crate::model::world::{FolioId, Handle, Pinned, World};

const STALE: u16 = u16::MAX;

/// Rewrites `w`'s generations into the canonical form.
pub fn canonicalize(w: &mut World) {
    if w.folios.iter().all(|f| f.generation == 0) {
        return; // nothing was freed yet, or already canonical: references are all current
    }
    let current: Vec<u16> = w.folios.iter().map(|f| f.generation).collect();
    let canonical = |&(f, g): &(FolioId, u16)| if g == current[f.0 as usize] { 0 } else { STALE };
    // Handles, tasks and frames are reached mutably only where a generation changes: the others
    // keep their fingerprint hashes (`model::slots`).
    let changes = |p: &Pinned| p.pages.iter().any(|pg| canonical(pg) != pg.1);
    let fix = |p: &mut Pinned| {
        for pg in &mut p.pages {
            pg.1 = canonical(pg);
        }
    };
    for i in 0..w.handles.len() {
        if matches!(&w.handles[i], Handle::Pin(p) if changes(p)) {
            if let Handle::Pin(p) = &mut w.handles[i] {
                fix(p);
            }
        }
    }
    for i in 0..w.tasks.len() {
        let t = &w.tasks[i];
        let kind = match &t.kind {
            TaskKind::Dio { buffer: p, .. } | TaskKind::DirtyWork { pages: p, .. } => changes(p),
            _ => false,
        };
        let cont = match &t.cont {
            Cont::RemoteWrite { pinned: p, .. } | Cont::DioWait { release: Some(p), .. } => {
                changes(p)
            }
            _ => false,
        };
        if !kind && !cont {
            continue;
        }
        let t = &mut w.tasks[i];
        match &mut t.kind {
            TaskKind::Dio { buffer, .. } => fix(buffer),
            TaskKind::DirtyWork { pages, .. } => fix(pages),
            _ => {}
        }
        match &mut t.cont {
            Cont::RemoteWrite { pinned, .. } => fix(pinned),
            Cont::DioWait { release: Some(p), .. } => fix(p),
            _ => {}
        }
    }
    for i in 0..w.folios.len() {
        if w.folios[i].generation != 0 {
            w.folios[i].generation = 0;
        }
    }
}
