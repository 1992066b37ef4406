//! The oracles: what counts as an accepted write, and the checks behind `data-loss`,
//! `corruption`, `use-after-free` and `leak` (shared/SCENARIOS.md, "Outcome labels").
//!
//! Checkers live beside the model, not inside it (STYLE.md, TigerBeetle): the kernel modules call
//! `accept_*` where a write is accepted and `device_access_ok` where a device touches a frame;
//! everything else here only reads the world. Each check quotes the rule it enforces.

use super::label::Outcome;
use super::world::*;
use super::Cx;
use crate::scenario::FsKind;

/// A write of `tag` into folio `f` was accepted (a store that did not fault, a write(2), a
/// completed DMA or kernel copy). Into a page-cache folio it is a write to that file page and
/// gets the page's next version; into an orphaned or anonymous folio it belongs to no file.
pub fn accept_into_folio(w: &mut World, cx: &mut Cx, f: FolioId, tag: Tag) -> Data {
    fs_unaware(w, cx, f, "written");
    let data = match w.folio(f).owner {
        Owner::File { file, index } => accept_at(w, file, index, tag),
        _ => Data { tag, ver: 0, origin: 0 },
    };
    w.folio_mut(f).data = data;
    data
}

/// Chinner's invariant (`fs-unaware-dirty`, docs/design.md): a page-cache folio of a
/// dirty-tracked, non-DAX filesystem must not become dirty, nor be written, unless its
/// filesystem was told since writeback last took it ("we need a write() or page fault (to run
/// ->page_mkwrite()) after every call to folio_clear_dirty_for_io()", Dave Chinner,
/// 20230215045952.GF2825702@dread.disaster.area). Called before a write lands in `f` and
/// before `folio_mark_dirty()` dirties a clean `f`. A violation even when no loss follows.
pub fn fs_unaware(w: &mut World, cx: &mut Cx, f: FolioId, what: &str) {
    let fs = cx.prog.fs;
    let folio = w.folio(f);
    if !matches!(folio.owner, Owner::File { .. })
        || folio.fs_knows
        || !super::fs::dirty_tracked(fs)
        || super::fs::is_dax(fs)
    {
        return;
    }
    w.labels.add(Outcome::FsUnawareDirty);
    cx.note(|_| {
        format!(
            "frame {} {what} while its filesystem was not told since writeback last took it (no ->page_mkwrite or ->write_begin): fs-unaware-dirty",
            f.0
        )
    });
}

/// A write of `tag` to `file` page `index` was accepted; returns the versioned data.
pub fn accept_at(w: &mut World, file: FileId, index: u8, tag: Tag) -> Data {
    let page = w.page_mut(file, index);
    page.accepted = Data { tag, ver: page.accepted.ver + 1, origin: page_id(file, index) };
    page.accepted
}

/// A hole punched over `file` page `index`: zeroes are now the accepted content, and what an
/// earlier sync promised for the page no longer holds (the scenario removed it).
pub fn accept_zeroes(w: &mut World, file: FileId, index: u8) {
    accept_at(w, file, index, Tag::ZERO);
    w.page_mut(file, index).synced = Data::default();
}

/// An error was reported to the scenario for these files: every write accepted so far is
/// excused from the durability checks ("with no error reported for that file after the write").
pub fn excuse(w: &mut World, scope: Option<FileId>) {
    for (fi, inode) in w.inodes.iter_mut().enumerate() {
        if scope.is_none_or(|s| s.0 as usize == fi) {
            for p in &mut inode.pages {
                p.excused_ver = Some(p.accepted.ver);
            }
        }
    }
}

/// A device touches frame `f` through a reference taken at `generation`. Rule: "a device
/// accessed a page frame after it was freed" is `use-after-free`.
pub fn device_access_ok(w: &mut World, cx: &mut Cx, f: FolioId, generation: u16) -> bool {
    let folio = w.folio(f);
    if folio.owner == Owner::Free || folio.generation != generation {
        w.labels.add(Outcome::UseAfterFree);
        cx.note(|_| format!("device access to frame {} after it was freed", f.0));
        return false;
    }
    true
}

/// What a crash would find for a file page: the durable block, or zeroes for a hole.
fn durable(w: &World, file: FileId, index: u8) -> BlockContent {
    match w.page(file, index).durable_block {
        Some(b) => w.blocks[b.0 as usize].durable,
        None => BlockContent { data: Data::default(), csum_ok: true },
    }
}

enum Verdict {
    Holds,
    Lost,
    Corrupt,
}

/// Does the disk, as a crash would find it, hold `want` (or something accepted later)?
fn judge(w: &World, file: FileId, index: u8, want: Data) -> Verdict {
    let found = durable(w, file, index);
    if !found.csum_ok {
        return Verdict::Corrupt;
    }
    let foreign = found.data.origin != 0 && found.data.origin != page_id(file, index);
    if foreign || found.data.ver > w.page(file, index).accepted.ver {
        return Verdict::Corrupt; // never written to this page
    }
    if found.data.ver >= want.ver || (found.data.tag == Tag::ZERO && want.tag == Tag::ZERO) {
        return Verdict::Holds;
    }
    // A hole punched after `want` was accepted: the zeroes are the later write.
    let accepted = w.page(file, index).accepted;
    if found.data.tag == Tag::ZERO && accepted.tag == Tag::ZERO && accepted.ver >= want.ver {
        return Verdict::Holds;
    }
    Verdict::Lost
}

fn excused(page: &FilePage, ver: u16) -> bool {
    page.excused_ver.is_some_and(|e| e >= ver)
}

fn memory_backed(cx: &Cx) -> bool {
    cx.prog.fs.kind == FsKind::Tmpfs
}

/// After an fsync/msync/sync returned success. Rule: data accepted before it began must be on
/// the disk as a crash would find it, unless an error was reported for the file since
/// (`data-loss`); the disk must hold only data written to that page (`corruption`).
pub fn check_synced(w: &mut World, cx: &mut Cx, snapshot: &[(FileId, u8, Data)]) {
    if memory_backed(cx) {
        return; // tmpfs: fsync is noop_fsync(); nothing is promised across a crash
    }
    for &(file, index, want) in snapshot {
        if index >= w.inodes[file.0 as usize].size || excused(w.page(file, index), want.ver) {
            continue;
        }
        if w.page(file, index).accepted.ver < want.ver {
            continue; // truncated away (and maybe regrown) since: the scenario removed the data
        }
        match judge(w, file, index, want) {
            Verdict::Holds => {
                let p = w.page_mut(file, index);
                if want.ver > p.synced.ver {
                    p.synced = want;
                }
            }
            Verdict::Lost => {
                w.labels.add(Outcome::DataLoss);
                cx.note(|n| format!("oracle: {} accepted for page {index} of {} before the sync began is not on disk", n.tag_name(want.tag), n.file_name(file)));
            }
            Verdict::Corrupt => {
                w.labels.add(Outcome::Corruption);
                cx.note(|n| format!("oracle: page {index} of {} holds data never written to it, or fails its integrity check", n.file_name(file)));
            }
        }
    }
}

/// After a power failure. Rule: what a successful sync promised must have survived, and the
/// disk holds only data written to each page.
pub fn check_after_crash(w: &mut World, cx: &mut Cx) {
    if memory_backed(cx) {
        return;
    }
    let mut promised = Vec::new();
    for (fi, inode) in w.inodes.iter().enumerate() {
        for (i, p) in inode.pages.iter().enumerate() {
            if p.synced != Data::default() {
                promised.push((FileId(fi as u8), i as u8, p.synced));
            }
        }
    }
    check_synced(w, cx, &promised);
}

/// At the end of an interleaving, after the final sync. Rule (convergence): the disk holds the
/// last accepted write of every page, unless an error was reported for the file after it.
pub fn check_converged(w: &mut World, cx: &mut Cx) {
    for (fi, inode) in w.inodes.clone().iter().enumerate() {
        let file = FileId(fi as u8);
        for (i, p) in inode.pages.iter().enumerate() {
            let index = i as u8;
            if excused(p, p.accepted.ver) {
                continue;
            }
            if memory_backed(cx) {
                // A hole reads as zeroes, with or without a folio (shmem_get_folio() allocates a
                // zeroed one on a fault): zeroes hold for zeroes, as in `judge()`.
                let held = p.folio.map(|f| w.folio(f).data);
                let zeroes = p.accepted.tag == Tag::ZERO && held.is_none_or(|d| d.tag == Tag::ZERO);
                if held != Some(p.accepted) && !zeroes {
                    w.labels.add(Outcome::DataLoss);
                    cx.note(|n| format!("oracle: at the end, page {index} of {} does not hold its last accepted write {} in memory", n.file_name(file), n.tag_name(p.accepted.tag)));
                }
                continue;
            }
            let accepted = p.accepted;
            match judge(w, file, index, accepted) {
                Verdict::Holds => {}
                Verdict::Lost => {
                    w.labels.add(Outcome::DataLoss);
                    cx.note(|n| format!("oracle: at the end, page {index} of {} lacks its last accepted write {}", n.file_name(file), n.tag_name(accepted.tag)));
                }
                Verdict::Corrupt => {
                    w.labels.add(Outcome::Corruption);
                    cx.note(|n| {
                        format!(
                            "oracle: at the end, page {index} of {} is corrupt",
                            n.file_name(file)
                        )
                    });
                }
            }
        }
    }
}

/// At the end. Rule: no GUP reference or pin is still held, and
/// `nr_foll_pin_acquired == nr_foll_pin_released` (`leak`).
pub fn check_leaks(w: &mut World, cx: &mut Cx) {
    let held = w.handles.iter().any(|h| matches!(h, Handle::Pin(p) if p.live));
    if held || w.pins_acquired != w.pins_released {
        w.labels.add(Outcome::Leak);
        cx.note(|_| {
            format!(
                "oracle: references still held (nr_foll_pin_acquired {} / released {})",
                w.pins_acquired, w.pins_released
            )
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{compile, Cx, Program};
    use crate::policy::Policy;

    fn program(fs: &str) -> Program {
        let text =
            format!("scenario t\nfs {fs}\ndisk 4\nmemory 4\nfile f 1 synced\nthread a:\n  sync\n");
        compile(&crate::scenario::parse("t.pin", &text).expect("parses")).expect("compiles")
    }

    fn with_world(fs: &str, f: impl FnOnce(&mut World, &mut Cx)) -> World {
        let prog = program(fs);
        let policy = Policy::by_name("linux-6.18").unwrap();
        let mut cx = Cx::new(&prog, &policy);
        let mut w = prog.initial.clone();
        f(&mut w, &mut cx);
        w
    }

    const F: FileId = FileId(0);

    #[test]
    fn a_write_accepted_before_the_sync_and_missing_from_disk_is_data_loss() {
        let w = with_world("ext4", |w, cx| {
            let snap = [(F, 0, accept_at(w, F, 0, Tag(9)))];
            check_synced(w, cx, &snap);
        });
        assert!(w.labels.has(Outcome::DataLoss));
    }

    #[test]
    fn an_error_reported_after_the_write_excuses_it() {
        let w = with_world("ext4", |w, cx| {
            let snap = [(F, 0, accept_at(w, F, 0, Tag(9)))];
            excuse(w, Some(F));
            check_synced(w, cx, &snap);
            check_converged(w, cx);
        });
        assert!(w.labels.is_empty());
    }

    #[test]
    fn data_on_disk_or_a_later_write_satisfies_the_sync() {
        let w = with_world("ext4", |w, cx| {
            let before = accept_at(w, F, 0, Tag(9));
            let later = accept_at(w, F, 0, Tag(10));
            let b = w.page(F, 0).block.unwrap();
            w.blocks[b.0 as usize].durable = BlockContent { data: later, csum_ok: true };
            check_synced(w, cx, &[(F, 0, before)]);
            check_converged(w, cx);
        });
        assert!(w.labels.is_empty(), "{}", w.labels);
    }

    #[test]
    fn a_block_failing_its_integrity_check_is_corruption() {
        let w = with_world("ext4", |w, cx| {
            let b = w.page(F, 0).block.unwrap();
            w.blocks[b.0 as usize].durable.csum_ok = false;
            check_converged(w, cx);
        });
        assert!(w.labels.has(Outcome::Corruption));
        assert!(!w.labels.has(Outcome::DataLoss));
    }

    #[test]
    fn unflushed_writes_do_not_count_as_durable() {
        let w = with_world("ext4", |w, cx| {
            let d = accept_at(w, F, 0, Tag(9));
            let b = w.page(F, 0).block.unwrap();
            w.blocks[b.0 as usize].cached = Some(BlockContent { data: d, csum_ok: true });
            check_synced(w, cx, &[(F, 0, d)]);
        });
        assert!(w.labels.has(Outcome::DataLoss));
    }

    #[test]
    fn a_device_access_through_a_stale_generation_is_use_after_free() {
        let w = with_world("ext4", |w, cx| {
            let f = w.alloc_folio(Owner::Anon, Data::default()).unwrap();
            let generation = w.folio(f).generation;
            w.folio_put(f);
            assert!(!device_access_ok(w, cx, f, generation));
        });
        assert!(w.labels.has(Outcome::UseAfterFree));
    }

    #[test]
    fn a_live_pin_or_unbalanced_counters_at_the_end_are_a_leak() {
        let w = with_world("tmpfs", |w, cx| {
            w.pins_acquired = 1;
            check_leaks(w, cx);
        });
        assert!(w.labels.has(Outcome::Leak));
        let w = with_world("tmpfs", check_leaks);
        assert!(w.labels.is_empty());
    }

    #[test]
    fn tmpfs_is_judged_by_memory_not_disk() {
        let w = with_world("tmpfs", |w, cx| {
            let f = w.page(F, 0).folio.unwrap();
            accept_into_folio(w, cx, f, Tag(9));
            check_synced(w, cx, &[(F, 0, w.page(F, 0).accepted)]);
            check_converged(w, cx);
        });
        assert!(w.labels.is_empty(), "{}", w.labels);
    }
}
