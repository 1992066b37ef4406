//! A scenario compiled for the model: names resolved to ids, constructs the model cannot run yet
//! refused with a diagnostic, and the initial world built.
//!
//! The parser (`scenario::parse`) already checked names, handle kinds and page ranges; this pass
//! only maps them to ids and checks what depends on the model (supported fs kinds, memory and
//! disk large enough for the declared files).

use super::label::LabelSet;
use super::task::{Task, TaskKind};
use super::world::*;
use crate::limits;
use crate::scenario::{self, Diag, FileInit, FsKind, Op, Scenario, Span};

/// An operation with every name resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum COp {
    Mmap { file: FileId, start: u8, len: u8, shared: bool, ro: bool },
    Munmap { map: HandleId },
    Store { map: HandleId, page: u8, tag: Tag },
    Load { map: HandleId, page: u8 },
    Write { file: FileId, page: u8, tag: Tag },
    Read { file: FileId, page: u8 },
    Fsync { file: FileId },
    Sync,
    Msync { map: HandleId },
    Truncate { file: FileId, pages: u8 },
    Punch { file: FileId, start: u8, end: u8 },
    Fallocate { file: FileId, start: u8, end: u8 },
    Pin { map: HandleId, start: u8, end: u8, write: bool, longterm: bool, get: bool },
    Unpin { pin: HandleId, dirty: bool },
    RegMr { map: HandleId, start: u8, end: u8, write: bool, odp: bool },
    DeregMr { mr: HandleId },
    DioRead { file: FileId, page: u8, map: HandleId, map_page: u8 },
    DioWrite { file: FileId, page: u8, map: HandleId, map_page: u8 },
    RemoteWrite { map: HandleId, page: u8, tag: Tag },
    Lease { file: FileId },
    Unlease { lease: HandleId },
    Signal { event: u8 },
    Wait { event: u8 },
    DmaWrite { handle: HandleId, page: u8, tag: Tag },
    DmaRead { handle: HandleId, page: u8 },
    Writeback { file: Option<FileId> },
    Reclaim { max: Option<u32> },
    ReclaimActive,
    DropCaches,
    Crash,
}

impl COp {
    /// Truncate, punch, fallocate, lease and unlease: the operations that change a file's
    /// layout or take or drop a layout lease. Several reductions are off where they appear
    /// (their steps count as lease-break time, or free blocks).
    pub fn is_layout_op(&self) -> bool {
        matches!(
            self,
            COp::Truncate { .. }
                | COp::Punch { .. }
                | COp::Fallocate { .. }
                | COp::Lease { .. }
                | COp::Unlease { .. }
        )
    }

    /// The handle the operation uses (not the one it defines): at most one. An `Option`, not a
    /// vector: readiness asks it of every thread at every state.
    pub fn uses(&self) -> Option<HandleId> {
        match *self {
            COp::Munmap { map }
            | COp::Store { map, .. }
            | COp::Load { map, .. }
            | COp::Msync { map }
            | COp::Pin { map, .. }
            | COp::RegMr { map, .. }
            | COp::DioRead { map, .. }
            | COp::DioWrite { map, .. }
            | COp::RemoteWrite { map, .. } => Some(map),
            COp::Unpin { pin, .. } => Some(pin),
            COp::DeregMr { mr } => Some(mr),
            COp::Unlease { lease } => Some(lease),
            COp::DmaWrite { handle, .. } | COp::DmaRead { handle, .. } => Some(handle),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct CStmt {
    pub op: COp,
    /// The statement as written (for traces).
    pub text: String,
    pub keyword: &'static str,
    pub def: Option<HandleId>,
    pub maybe: bool,
    pub span: Span,
}

#[derive(Clone, Debug)]
pub struct ThreadProg {
    pub name: String,
    pub body: Vec<CStmt>,
    /// For an `on break L:` block: the lease whose break starts it. Such a task is dormant
    /// (done) until then.
    pub on_break: Option<HandleId>,
}

/// Filesystem behaviour selected by `fs KIND [OPTION...]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FsConfig {
    pub kind: FsKind,
    pub nodelalloc: bool,
    pub stable_writes: bool,
}

#[derive(Clone, Debug)]
pub struct FileInfo {
    pub name: String,
    pub pages: u8,
}

/// The compiled scenario: static program text plus the initial world.
#[derive(Clone, Debug)]
pub struct Program {
    pub name: String,
    pub path: String,
    pub fs: FsConfig,
    pub files: Vec<FileInfo>,
    pub tags: Vec<String>,
    pub handles: Vec<String>,
    pub events: Vec<String>,
    pub threads: Vec<ThreadProg>,
    pub initial: World,
}

impl Program {
    pub fn tag_name(&self, t: Tag) -> &str {
        if t == Tag::ZERO {
            "0"
        } else {
            &self.tags[t.0 as usize]
        }
    }

    pub fn file_name(&self, f: FileId) -> &str {
        &self.files[f.0 as usize].name
    }
}

struct Names {
    files: Vec<String>,
    tags: Vec<String>,
    handles: Vec<String>,
    events: Vec<String>,
}

impl Names {
    fn file(&self, n: &scenario::Name) -> FileId {
        FileId(self.files.iter().position(|f| *f == n.text).expect("parser checked files") as u8)
    }

    fn handle(&self, n: &scenario::Name) -> HandleId {
        HandleId(self.handles.iter().position(|h| *h == n.text).expect("parser checked") as u8)
    }

    fn tag(&mut self, n: &scenario::Name) -> Tag {
        if let Some(i) = self.tags.iter().position(|t| *t == n.text) {
            return Tag(i as u16);
        }
        self.tags.push(n.text.clone());
        Tag((self.tags.len() - 1) as u16)
    }

    fn event(&mut self, n: &scenario::Name) -> u8 {
        if let Some(i) = self.events.iter().position(|e| *e == n.text) {
            return i as u8;
        }
        self.events.push(n.text.clone());
        (self.events.len() - 1) as u8
    }
}

/// Compiles a parsed scenario. Refuses, with a diagnostic at the construct, what the model does
/// not implement yet (DAX, btrfs, layout leases, ODP: issue #3).
pub fn compile(sc: &Scenario) -> Result<Program, Diag> {
    let err = |span: Span, msg: String| Diag::at(&sc.path, &sc.source, span, msg);
    let kind = sc.fs.kind;
    // On DAX every block is a page frame too, after the memory frames, and the zero page.
    const _: () = assert!(
        limits::MEMORY_FRAMES_MAX + limits::DISK_BLOCKS_MAX < u16::MAX as u32,
        "every frame has a FolioId"
    );
    let mut names = Names {
        files: sc.files.iter().map(|f| f.name.text.clone()).collect(),
        // Tag 0 is a hole's zeroes; then each file's initial tags NAMEi.
        tags: vec!["0".to_string()],
        handles: Vec::new(),
        events: Vec::new(),
    };
    for f in &sc.files {
        for i in 0..f.pages {
            names.tags.push(format!("{}{}", f.name.text, i));
        }
    }
    let bodies = sc.threads.iter().map(|t| &t.body).chain(sc.on_break.iter().map(|b| &b.body));
    for body in bodies {
        for s in body {
            if let Some(d) = &s.def {
                names.handles.push(d.text.clone());
            }
        }
    }
    let mut threads = Vec::new();
    for t in &sc.threads {
        let body = compile_body(&t.body, &mut names, sc)?;
        threads.push(ThreadProg { name: t.name.text.clone(), body, on_break: None });
    }
    for (i, b) in sc.on_break.iter().enumerate() {
        let body = compile_body(&b.body, &mut names, sc)?;
        let same_lease = sc.on_break[..i].iter().filter(|o| o.lease.text == b.lease.text).count();
        let suffix = if same_lease > 0 { format!("#{}", same_lease + 1) } else { String::new() };
        let name = format!("on-break:{}{suffix}", b.lease.text);
        threads.push(ThreadProg { name, body, on_break: Some(names.handle(&b.lease)) });
    }
    let fs = FsConfig { kind, nodelalloc: sc.fs.nodelalloc, stable_writes: sc.fs.stable_writes };
    let mut initial = initial_world(sc, fs, &names, &threads).map_err(|(m, which)| {
        let span = match which {
            Resource::Disk => sc.disk_span,
            Resource::Memory => sc.memory_span,
        };
        err(span.unwrap_or(sc.fs.span), m)
    })?;
    // The reservations a file starts with (a `dirty` file on a delayed-allocation filesystem)
    // are part of the peaks, as after every step: otherwise a first step that spends one
    // and one that does not would reach different peaks in their two orders.
    super::record_peaks(&mut initial);
    Ok(Program {
        name: sc.name.text.clone(),
        path: sc.path.clone(),
        fs,
        files: sc
            .files
            .iter()
            .map(|f| FileInfo { name: f.name.text.clone(), pages: f.pages as u8 })
            .collect(),
        tags: names.tags,
        handles: names.handles,
        events: names.events,
        threads,
        initial,
    })
}

fn compile_body(
    body: &[scenario::Stmt],
    names: &mut Names,
    sc: &Scenario,
) -> Result<Vec<CStmt>, Diag> {
    let mut out = Vec::new();
    for s in body {
        let op =
            compile_op(&s.op, names, sc).map_err(|m| Diag::at(&sc.path, &sc.source, s.span, m))?;
        let def = s.def.as_ref().map(|d| names.handle(d));
        let line = sc.source.lines().nth(s.span.line as usize - 1).unwrap_or("");
        let text = line.split('#').next().unwrap_or("").trim().to_string();
        out.push(CStmt { op, text, keyword: s.op.keyword(), def, maybe: s.maybe, span: s.span });
    }
    Ok(out)
}

fn compile_op(op: &Op, n: &mut Names, sc: &Scenario) -> Result<COp, String> {
    let file_pages = |name: &scenario::Name| {
        sc.files.iter().find(|f| f.name.text == name.text).map(|f| f.pages).unwrap_or(0)
    };
    Ok(match op {
        Op::Mmap { file, range, shared, ro } => {
            let (start, end) = range.map(|r| (r.start, r.end)).unwrap_or((0, file_pages(file)));
            COp::Mmap {
                file: n.file(file),
                start: start as u8,
                len: (end - start) as u8,
                shared: *shared,
                ro: *ro,
            }
        }
        Op::Munmap { map } => COp::Munmap { map: n.handle(map) },
        Op::Store { map, page, tag } => {
            COp::Store { map: n.handle(map), page: *page as u8, tag: n.tag(tag) }
        }
        Op::Load { map, page } => COp::Load { map: n.handle(map), page: *page as u8 },
        Op::Write { file, page, tag } => {
            COp::Write { file: n.file(file), page: *page as u8, tag: n.tag(tag) }
        }
        Op::Read { file, page } => COp::Read { file: n.file(file), page: *page as u8 },
        Op::Fsync { file } => COp::Fsync { file: n.file(file) },
        Op::Sync => COp::Sync,
        Op::Msync { map } => COp::Msync { map: n.handle(map) },
        Op::Truncate { file, pages } => {
            if *pages > crate::limits::FILE_PAGES_MAX {
                return Err(format!(
                    "truncate beyond the limit of {} pages",
                    crate::limits::FILE_PAGES_MAX
                ));
            }
            COp::Truncate { file: n.file(file), pages: *pages as u8 }
        }
        Op::Punch { file, range } => {
            COp::Punch { file: n.file(file), start: range.start as u8, end: range.end as u8 }
        }
        Op::Fallocate { file, range } => {
            if range.end > crate::limits::FILE_PAGES_MAX {
                return Err(format!(
                    "fallocate beyond the limit of {} pages",
                    crate::limits::FILE_PAGES_MAX
                ));
            }
            COp::Fallocate { file: n.file(file), start: range.start as u8, end: range.end as u8 }
        }
        Op::Pin { map, range, write, longterm, fast: _, get } => COp::Pin {
            map: n.handle(map),
            start: range.start as u8,
            end: range.end as u8,
            write: *write,
            longterm: *longterm,
            get: *get,
        },
        Op::Unpin { pin, dirty } => COp::Unpin { pin: n.handle(pin), dirty: *dirty },
        Op::RegMr { map, range, write, odp } => COp::RegMr {
            map: n.handle(map),
            start: range.start as u8,
            end: range.end as u8,
            write: *write,
            odp: *odp,
        },
        Op::DeregMr { mr } => COp::DeregMr { mr: n.handle(mr) },
        Op::DioRead { file, page, map, map_page } | Op::DioWrite { file, page, map, map_page } => {
            if sc.fs.kind == FsKind::Tmpfs {
                return Err("O_DIRECT on tmpfs is not modeled (no block device behind it)".into());
            }
            let (file, page, map, map_page) =
                (n.file(file), *page as u8, n.handle(map), *map_page as u8);
            if matches!(op, Op::DioRead { .. }) {
                COp::DioRead { file, page, map, map_page }
            } else {
                COp::DioWrite { file, page, map, map_page }
            }
        }
        Op::RemoteWrite { map, page, tag } => {
            COp::RemoteWrite { map: n.handle(map), page: *page as u8, tag: n.tag(tag) }
        }
        Op::Lease { file } => COp::Lease { file: n.file(file) },
        Op::Unlease { lease } => COp::Unlease { lease: n.handle(lease) },
        Op::Signal { event } => COp::Signal { event: n.event(event) },
        Op::Wait { event } => COp::Wait { event: n.event(event) },
        Op::DmaWrite { handle, page, tag } => {
            COp::DmaWrite { handle: n.handle(handle), page: *page as u8, tag: n.tag(tag) }
        }
        Op::DmaRead { handle, page } => {
            COp::DmaRead { handle: n.handle(handle), page: *page as u8 }
        }
        Op::Writeback { file } => COp::Writeback { file: file.as_ref().map(|f| n.file(f)) },
        Op::Reclaim { max } => COp::Reclaim { max: *max },
        Op::ReclaimActive => COp::ReclaimActive,
        Op::DropCaches => COp::DropCaches,
        Op::Crash => COp::Crash,
    })
}

/// Which declaration was too small for the files.
enum Resource {
    Disk,
    Memory,
}

/// Builds the world of `disk`, `memory` and `file` declarations.
fn initial_world(
    sc: &Scenario,
    fs: FsConfig,
    names: &Names,
    threads: &[ThreadProg],
) -> Result<World, (String, Resource)> {
    let dax = matches!(fs.kind, FsKind::Ext4Dax | FsKind::XfsDax);
    // One frame per block, and the zero page.
    let pmem = if dax { sc.disk_blocks as usize + 1 } else { 0 };
    let mut w = World {
        folios: vec![Folio::free(); sc.memory_frames as usize + pmem].into(),
        inodes: Slots::new(),
        blocks: vec![
            Block {
                owner: None,
                durable: BlockContent { data: Data::default(), csum_ok: true },
                cached: None
            };
            sc.disk_blocks as usize
        ]
        .into(),
        reserved_blocks: 0,
        handles: vec![Handle::Undefined; names.handles.len()].into(),
        tasks: threads
            .iter()
            .enumerate()
            .map(|(t, prog)| {
                let mut task = Task::new(TaskKind::Thread { thread: t as u8 });
                task.done = prog.on_break.is_some(); // dormant until its lease breaks
                task
            })
            .collect(),
        events: 0,
        pins_acquired: 0,
        pins_released: 0,
        labels: LabelSet::default(),
        crashed: false,
        powered_off: false,
        ram_frames: sc.memory_frames as u8,
        dirtied: Vec::new(),
    };
    let memory_backed = fs.kind == FsKind::Tmpfs;
    for (fi, f) in sc.files.iter().enumerate() {
        let file = FileId(fi as u8);
        let mut inode = Inode {
            size: f.pages as u8,
            pages: vec![FilePage::default(); f.pages as usize],
            wb_err: None,
            dio_in_flight: 0,
        };
        w.inodes.push(inode.clone());
        for i in 0..f.pages as u8 {
            let tag =
                names.tags.iter().position(|t| *t == format!("{}{}", f.name.text, i)).unwrap_or(0);
            let data = Data { tag: Tag(tag as u16), ver: 0, origin: page_id(file, i) };
            let page = &mut inode.pages[i as usize];
            match f.init {
                FileInit::Sparse => page.accepted = Data::default(),
                FileInit::Synced | FileInit::Dirty if dax => {
                    // The page is the block: its content is in the frame; `dirty` means not yet
                    // flushed from the CPU cache.
                    page.accepted = data;
                    let b = w.alloc_block(file, i).ok_or_else(|| disk_full(sc))?;
                    let frame = w.dax_frame(b).expect("DAX world has a frame per block");
                    w.folio_mut(frame).data = data;
                    if f.init == FileInit::Synced {
                        w.blocks[b.0 as usize].durable = BlockContent { data, csum_ok: true };
                    }
                    page.block = Some(b);
                }
                FileInit::Synced if !memory_backed => {
                    page.accepted = data;
                    let b = w.alloc_block(file, i).ok_or_else(|| disk_full(sc))?;
                    w.blocks[b.0 as usize].durable = BlockContent { data, csum_ok: true };
                    page.block = Some(b);
                }
                FileInit::Synced | FileInit::Dirty => {
                    page.accepted = data;
                    let folio =
                        w.alloc_folio(Owner::File { file, index: i }, data).ok_or_else(|| {
                            let m =
                                format!("`memory {}` is too small for the files", sc.memory_frames);
                            (m, Resource::Memory)
                        })?;
                    page.folio = Some(folio);
                    if f.init == FileInit::Dirty && !memory_backed {
                        w.folio_mut(folio).dirty = true;
                        dirty_initial_page(&mut w, fs, file, i, page, folio)
                            .ok_or_else(|| disk_full(sc))?;
                    }
                }
            }
        }
        for p in &mut inode.pages {
            p.durable_block = p.block; // the declared files are committed
        }
        w.inodes[fi] = inode;
    }
    if let Some(zero) = w.zero_frame() {
        w.folio_mut(zero).owner = Owner::Orphan; // in no page cache, never freed
    }
    super::writeback::note_dirtied(&mut w);
    Ok(w)
}

/// A page made dirty by an earlier write(2): buffers attached, and a delalloc reservation
/// (ext4, xfs, xfs-bh) or an allocated block (ext3, ext4 `nodelalloc`).
fn dirty_initial_page(
    w: &mut World,
    fs: FsConfig,
    file: FileId,
    i: u8,
    page: &mut FilePage,
    folio: FolioId,
) -> Option<()> {
    w.folio_mut(folio).private = true;
    // Declared dirty as if by write(2): ->write_begin told the filesystem.
    w.folio_mut(folio).fs_knows = true;
    let delalloc = matches!(fs.kind, FsKind::Ext4 | FsKind::Xfs | FsKind::XfsBh) && !fs.nodelalloc;
    if delalloc {
        if w.free_blocks() == 0 {
            return None;
        }
        w.reserved_blocks += 1;
        page.reserved = true;
    } else {
        page.block = Some(w.alloc_block(file, i)?);
    }
    Some(())
}

fn disk_full(sc: &Scenario) -> (String, Resource) {
    (format!("`disk {}` is too small for the declared files", sc.disk_blocks), Resource::Disk)
}
