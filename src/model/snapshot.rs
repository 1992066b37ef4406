//! A read-only view of a [`World`] for people: the folios, the page-table entries, the files'
//! pages, the disk blocks and the handles, with the scenario's names, as `replay --state`, the
//! JSON trace and the HTML report show them after each step.
//!
//! Building a snapshot never changes the world (it takes `&World`); it costs a few small
//! allocations and is used only on witnesses, never in the explorers' hot loop. Fields are
//! named after the kernel's accessors: `folio_test_dirty()`, `folio_test_writeback()`,
//! `folio_test_private()`, `folio_ref_count()`, `folio_mapcount()`,
//! `folio_maybe_dma_pinned()`. `PG_uptodate` is not modeled (every cached folio is read in
//! whole before use), so it is not shown.

use super::program::Program;
use super::task::{Cont, TaskKind};
use super::world::*;
use serde::Serialize;
use std::fmt::Write as _;

/// A page's contents: the tag, the version of the file page's history, and the file page the
/// write was accepted for when it is not the page that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Content {
    pub tag: String,
    pub ver: u16,
    /// `f[0]` for data of another file page, `stale` for a device write through a reference
    /// the file gave up; absent for a page's own data or zeroes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

impl std::fmt::Display for Content {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.tag)?;
        if self.ver > 0 {
            write!(f, ".{}", self.ver)?;
        }
        if let Some(p) = &self.from {
            write!(f, "<{p}>")?;
        }
        Ok(())
    }
}

/// One page frame in use (free frames are left out).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FolioRow {
    pub frame: u16,
    /// `f[0]` (in the page cache of file f at index 0), `orphan` (truncated while referenced:
    /// `folio->mapping == NULL`), `anon`, or `pmem` (a DAX block's page not owned by a file).
    pub owner: String,
    /// `folio_test_dirty()`.
    pub dirty: bool,
    /// `folio_test_writeback()` (`PageWriteback`).
    pub writeback: bool,
    /// `folio_test_private()`: buffer heads or iomap state attached.
    pub private: bool,
    /// `folio_ref_count()`, pins included.
    pub refcount: u32,
    /// FOLL_PIN references: `refcount / GUP_PIN_COUNTING_BIAS`. The kernel keeps no pin count
    /// for a small folio (only large folios have `_pincount`); `folio_maybe_dma_pinned()` reads
    /// `folio_ref_count() >= GUP_PIN_COUNTING_BIAS`. The model's few references never reach the
    /// bias otherwise, so the quotient is exact here.
    pub pins: u32,
    /// `folio_maybe_dma_pinned()`.
    pub maybe_dma_pinned: bool,
    /// `folio_mapcount()`.
    pub mapcount: u16,
    pub data: Content,
}

/// One page-table entry of a mapping.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PteRow {
    /// The mapping's handle name.
    pub map: String,
    /// The page of the mapping (0-based) and the file page it maps.
    pub page: u8,
    pub file_page: String,
    /// `pte_present()`: the frame mapped, if any.
    pub frame: Option<u16>,
    /// `pte_write()`.
    pub writable: bool,
    /// `pte_dirty()`.
    pub dirty: bool,
}

/// One page of a file: where the page cache and the filesystem keep it, and what the scenario
/// was promised (the oracle's record).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PageRow {
    pub page: String,
    /// The cached folio (`filemap_get_folio()`), if any.
    pub frame: Option<u16>,
    /// The block the in-memory metadata maps the page to.
    pub block: Option<u16>,
    /// The block the committed metadata maps it to: what a power failure finds.
    pub durable_block: Option<u16>,
    /// A delayed-allocation reservation is held.
    pub reserved: bool,
    /// The last write accepted for this page.
    pub accepted: Content,
    /// The latest write a successful fsync/sync/msync promised durable.
    pub synced: Content,
}

/// One allocated disk block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockRow {
    pub block: u16,
    /// The file page it belongs to.
    pub owner: String,
    /// A completed write still in the device's volatile cache (lost unless flushed).
    pub cached: Option<Content>,
    /// What survives a power failure.
    pub durable: Content,
    /// The checksum matches the data (a read succeeds).
    pub csum_ok: bool,
}

/// One scenario handle that exists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandleRow {
    pub name: String,
    /// `mmap`, `pin` (FOLL_PIN), `get` (FOLL_GET), `lease`, `odp`, or `failed`.
    pub kind: &'static str,
    /// In force: mapped, not unpinned/deregistered/revoked, lease held.
    pub live: bool,
    /// One line for people: frames, write access, the lease it is tied to, and so on.
    pub detail: String,
}

/// One task: a thread or queued kernel work.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskRow {
    pub name: String,
    pub done: bool,
    /// Where it is: the statement a thread is at, or what queued work will do.
    pub at: String,
}

/// The machine after a step, with the scenario's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    pub folios: Vec<FolioRow>,
    pub ptes: Vec<PteRow>,
    pub pages: Vec<PageRow>,
    pub blocks: Vec<BlockRow>,
    pub handles: Vec<HandleRow>,
    pub tasks: Vec<TaskRow>,
    /// Per file: `i_size` in pages, O_DIRECT calls in flight (`inode_dio_begin()`), and the
    /// error `mapping->wb_err` holds for the next fsync.
    pub files: Vec<FileRow>,
    /// `/proc/vmstat` `nr_foll_pin_acquired` and `nr_foll_pin_released`.
    pub pins_acquired: u16,
    pub pins_released: u16,
    pub labels: Vec<String>,
    /// A modeled `BUG()` fired.
    pub crashed: bool,
    /// Power failed (`crash`, or a `--crash` witness's power failure).
    pub powered_off: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FileRow {
    pub name: String,
    pub size: u8,
    pub dio_in_flight: u8,
    pub wb_err: Option<String>,
}

fn page_name(prog: &Program, file: FileId, index: u8) -> String {
    format!("{}[{}]", prog.file_name(file), index)
}

/// `data` as held by file page `at` (if any): names the page it came from when another.
pub fn content(prog: &Program, data: Data, at: Option<(FileId, u8)>) -> Content {
    let from = if data.origin == 0 {
        None
    } else if data.origin == Data::STALE {
        Some("stale".to_string())
    } else if at.is_some_and(|(f, i)| page_id(f, i) == data.origin) {
        None
    } else {
        let per = crate::limits::FILE_PAGES_MAX as u16;
        let id = data.origin - 1;
        let file = id / per;
        ((file as usize) < prog.files.len())
            .then(|| page_name(prog, FileId(file as u8), (id % per) as u8))
    };
    Content { tag: prog.tag_name(data.tag).to_string(), ver: data.ver, from }
}

fn frames(pages: &[(FolioId, u16)]) -> String {
    let v: Vec<String> = pages.iter().map(|(f, _)| f.0.to_string()).collect();
    format!("frames [{}]", v.join(","))
}

impl Snapshot {
    /// The state of `w`, named after `prog`. Reads `w` only.
    pub fn of(w: &World, prog: &Program) -> Snapshot {
        let mut folios = Vec::new();
        for (i, f) in w.folios.iter().enumerate() {
            let frame = FolioId(i as u16);
            let dax = w.is_dax_frame(frame);
            let (owner, at) = match f.owner {
                Owner::Free if dax && f.refcount == 0 => continue,
                Owner::Free if !dax => continue,
                Owner::Free => ("pmem".to_string(), None),
                Owner::File { file, index } => (page_name(prog, file, index), Some((file, index))),
                Owner::Orphan => ("orphan".to_string(), None),
                Owner::Anon => ("anon".to_string(), None),
            };
            if dax && f.refcount == 0 && f.mapcount == 0 && !f.dirty {
                // A DAX block's page nobody references: the block row says it all.
                continue;
            }
            folios.push(FolioRow {
                frame: i as u16,
                owner,
                dirty: f.dirty,
                writeback: f.writeback,
                private: f.private,
                refcount: f.refcount,
                pins: f.refcount / GUP_PIN_COUNTING_BIAS,
                maybe_dma_pinned: f.maybe_dma_pinned(),
                mapcount: f.mapcount,
                data: content(prog, f.data, at),
            });
        }
        let mut ptes = Vec::new();
        let mut handles = Vec::new();
        for (h, handle) in w.handles.iter().enumerate() {
            let name = prog.handles.get(h).cloned().unwrap_or_else(|| format!("#{h}"));
            let (kind, live, detail) = match handle {
                Handle::Undefined => continue,
                Handle::Failed => ("failed", false, "the defining operation failed".to_string()),
                Handle::Map(v) => {
                    for (i, p) in v.ptes.iter().enumerate() {
                        if p.folio.is_none() && !p.writable && !p.dirty {
                            continue;
                        }
                        ptes.push(PteRow {
                            map: name.clone(),
                            page: i as u8,
                            file_page: page_name(prog, v.file, v.pgoff + i as u8),
                            frame: p.folio.map(|f| f.0),
                            writable: p.writable,
                            dirty: p.dirty,
                        });
                    }
                    let d = format!(
                        "{}[{}..{}] {}{}",
                        prog.file_name(v.file),
                        v.pgoff,
                        v.pgoff as usize + v.ptes.len(),
                        if v.shared { "MAP_SHARED" } else { "MAP_PRIVATE" },
                        if v.read_only { " PROT_READ" } else { "" }
                    );
                    ("mmap", v.mapped, d)
                }
                Handle::Pin(p) => {
                    let mut d = format!(
                        "{} {}",
                        frames(&p.pages),
                        if p.write { "FOLL_WRITE" } else { "read-only" }
                    );
                    if let Some(l) = p.lease {
                        let _ = write!(d, ", under lease {}", prog.handles[l.0 as usize]);
                    }
                    let kind = match p.how {
                        GupRef::Pin => "pin",
                        GupRef::Get => "get",
                    };
                    (kind, p.live, d)
                }
                Handle::Lease(l) => {
                    let d = format!(
                        "F_LAYOUT on {}{}",
                        prog.file_name(l.file),
                        if l.broken { ", broken" } else { "" }
                    );
                    ("lease", l.live, d)
                }
                Handle::Odp(o) => {
                    let dev: Vec<String> = o
                        .dev
                        .iter()
                        .map(|d| match d {
                            None => "-".to_string(),
                            Some((f, true)) => format!("{}w", f.0),
                            Some((f, false)) => format!("{}r", f.0),
                        })
                        .collect();
                    let d = format!(
                        "on {} from page {}, device PTEs [{}]{}",
                        prog.handles[o.map.0 as usize],
                        o.start,
                        dev.join(","),
                        if o.write { " writable" } else { "" }
                    );
                    ("odp", o.live, d)
                }
            };
            handles.push(HandleRow { name, kind, live, detail });
        }
        let mut pages = Vec::new();
        let mut files = Vec::new();
        for (fi, inode) in w.inodes.iter().enumerate() {
            let file = FileId(fi as u8);
            files.push(FileRow {
                name: prog.file_name(file).to_string(),
                size: inode.size,
                dio_in_flight: inode.dio_in_flight,
                wb_err: inode.wb_err.map(|e| e.name().to_string()),
            });
            for (i, p) in inode.pages.iter().enumerate() {
                let at = Some((file, i as u8));
                if p.folio.is_none()
                    && p.block.is_none()
                    && p.durable_block.is_none()
                    && p.accepted == Data::default()
                    && !p.reserved
                {
                    continue;
                }
                pages.push(PageRow {
                    page: page_name(prog, file, i as u8),
                    frame: p.folio.map(|f| f.0),
                    block: p.block.map(|b| b.0),
                    durable_block: p.durable_block.map(|b| b.0),
                    reserved: p.reserved,
                    accepted: content(prog, p.accepted, at),
                    synced: content(prog, p.synced, at),
                });
            }
        }
        let mut blocks = Vec::new();
        for (i, b) in w.blocks.iter().enumerate() {
            let Some((file, index)) = b.owner else {
                if b.cached.is_none() {
                    continue;
                }
                // A freed block with a write still in the device cache.
                blocks.push(BlockRow {
                    block: i as u16,
                    owner: "free".to_string(),
                    cached: b.cached.map(|c| content(prog, c.data, None)),
                    durable: content(prog, b.durable.data, None),
                    csum_ok: b.current().csum_ok,
                });
                continue;
            };
            let at = Some((file, index));
            blocks.push(BlockRow {
                block: i as u16,
                owner: page_name(prog, file, index),
                cached: b.cached.map(|c| content(prog, c.data, at)),
                durable: content(prog, b.durable.data, at),
                csum_ok: b.current().csum_ok,
            });
        }
        let thread_names: Vec<String> = prog.threads.iter().map(|t| t.name.clone()).collect();
        let tasks = w
            .tasks
            .iter()
            .map(|t| TaskRow {
                name: t.name(&thread_names, &|f| prog.file_name(f).to_string()),
                done: t.done,
                at: task_at(t, prog),
            })
            .collect();
        Snapshot {
            folios,
            ptes,
            pages,
            blocks,
            handles,
            tasks,
            files,
            pins_acquired: w.pins_acquired,
            pins_released: w.pins_released,
            labels: w.labels.names(),
            crashed: w.crashed,
            powered_off: w.powered_off,
        }
    }

    /// The snapshot as a compact text table, each line starting with `indent`.
    pub fn table(&self, indent: &str) -> String {
        let mut s = String::new();
        let yn = |b: bool, c: char| if b { c } else { '-' };
        if !self.folios.is_empty() {
            let _ = writeln!(
                s,
                "{indent}folio  owner      flags  ref  pins  map  data     (flags: D dirty, W writeback, P private; * folio_maybe_dma_pinned)"
            );
            for f in &self.folios {
                let flags =
                    format!("{}{}{}", yn(f.dirty, 'D'), yn(f.writeback, 'W'), yn(f.private, 'P'));
                let _ = writeln!(
                    s,
                    "{indent}{:>5}  {:<9}  {flags:<5}  {:>3}  {:>3}{}  {:>3}  {}",
                    f.frame,
                    f.owner,
                    f.refcount % GUP_PIN_COUNTING_BIAS,
                    f.pins,
                    if f.maybe_dma_pinned { '*' } else { ' ' },
                    f.mapcount,
                    f.data
                );
            }
        }
        if !self.ptes.is_empty() {
            let ptes: Vec<String> = self
                .ptes
                .iter()
                .map(|p| {
                    let frame = p.frame.map_or("none".to_string(), |f| format!("frame {f}"));
                    format!(
                        "{}[{}]={} {}{}{}",
                        p.map,
                        p.page,
                        p.file_page,
                        frame,
                        if p.writable { " W" } else { " RO" },
                        if p.dirty { " D" } else { "" }
                    )
                })
                .collect();
            let _ = writeln!(s, "{indent}ptes   {}", ptes.join("; "));
        }
        if !self.pages.is_empty() {
            let pages: Vec<String> = self
                .pages
                .iter()
                .map(|p| {
                    let mut x = p.page.clone();
                    x.push_str(&p.frame.map_or(" uncached".to_string(), |f| format!(" frame {f}")));
                    match (p.block, p.durable_block) {
                        (Some(b), Some(d)) if b == d => {
                            let _ = write!(x, " block {b}");
                        }
                        (b, d) => {
                            let o = |v: Option<u16>| v.map_or("-".to_string(), |b| b.to_string());
                            let _ = write!(x, " block {} (durable {})", o(b), o(d));
                        }
                    }
                    if p.reserved {
                        x.push_str(" reserved");
                    }
                    let _ = write!(x, " accepted {} synced {}", p.accepted, p.synced);
                    x
                })
                .collect();
            let _ = writeln!(s, "{indent}pages  {}", pages.join("; "));
        }
        if !self.blocks.is_empty() {
            let blocks: Vec<String> = self
                .blocks
                .iter()
                .map(|b| {
                    let cached = b.cached.as_ref().map_or(String::new(), |c| format!(" cache {c}"));
                    format!(
                        "{}={}{cached} durable {}{}",
                        b.block,
                        b.owner,
                        b.durable,
                        if b.csum_ok { "" } else { " CSUM-BAD" }
                    )
                })
                .collect();
            let _ = writeln!(s, "{indent}disk   {}", blocks.join("; "));
        }
        if !self.handles.is_empty() {
            let hs: Vec<String> = self
                .handles
                .iter()
                .map(|h| {
                    format!(
                        "{} {}{} {}",
                        h.name,
                        h.kind,
                        if h.live { "" } else { " (gone)" },
                        h.detail
                    )
                })
                .collect();
            let _ = writeln!(s, "{indent}handle {}", hs.join("; "));
        }
        let busy: Vec<String> = self
            .files
            .iter()
            .filter(|f| f.dio_in_flight > 0 || f.wb_err.is_some())
            .map(|f| {
                let mut x = f.name.clone();
                if f.dio_in_flight > 0 {
                    let _ = write!(x, " O_DIRECT in flight {}", f.dio_in_flight);
                }
                if let Some(e) = &f.wb_err {
                    let _ = write!(x, " wb_err {e}");
                }
                x
            })
            .collect();
        if !busy.is_empty() {
            let _ = writeln!(s, "{indent}files  {}", busy.join("; "));
        }
        let queued: Vec<String> = self
            .tasks
            .iter()
            .filter(|t| !t.done)
            .map(|t| format!("{} ({})", t.name, t.at))
            .collect();
        if !queued.is_empty() {
            let _ = writeln!(s, "{indent}tasks  {}", queued.join("; "));
        }
        if self.pins_acquired > 0 {
            let _ = writeln!(
                s,
                "{indent}vmstat nr_foll_pin_acquired {} nr_foll_pin_released {}",
                self.pins_acquired, self.pins_released
            );
        }
        if self.crashed {
            let _ = writeln!(s, "{indent}BUG(): the machine is down");
        }
        if self.powered_off {
            let _ = writeln!(s, "{indent}power is off");
        }
        s
    }
}

/// Where task `t` is, for people.
fn task_at(t: &super::task::Task, prog: &Program) -> String {
    match &t.kind {
        TaskKind::Thread { thread } => {
            let body = &prog.threads[*thread as usize].body;
            let stmt = body
                .get(t.pc as usize)
                .map_or("end".to_string(), |s| format!("`{}` (line {})", s.text, s.span.line));
            match &t.cont {
                Cont::Start => stmt,
                Cont::Writeback(_) => format!("in writeback, {stmt}"),
                Cont::DioWait { .. } => format!("waiting for O_DIRECT I/O, {stmt}"),
                Cont::RemoteWrite { .. } => format!("process_vm_writev pinned, {stmt}"),
                Cont::LayoutWait { waited } => {
                    format!("waiting for lease break ({waited}), {stmt}")
                }
            }
        }
        TaskKind::Bio { folio, block, .. } => {
            format!("write bio: frame {} to block {}", folio.0, block.0)
        }
        TaskKind::Fixup { folio, .. } => format!("fix-up of frame {}", folio.0),
        TaskKind::Dio { read, .. } => {
            format!("O_DIRECT {} DMA", if *read { "read" } else { "write" })
        }
        TaskKind::DirtyWork { .. } => "re-dirty and release pages".to_string(),
    }
}
