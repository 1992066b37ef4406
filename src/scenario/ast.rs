//! The syntax tree of a scenario file (shared/SCENARIOS.md), as the parser produces it.
//!
//! Names are kept as strings with the span where they appear; `model::compile` resolves them
//! to ids and refuses what the model cannot run yet. Nothing here knows any kernel semantics.

/// A position in a scenario file: 1-based line and column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Span {
    pub line: u32,
    pub col: u32,
}

/// A name with the place it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Name {
    pub text: String,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FsKind {
    Ext3,
    Ext4,
    XfsBh,
    Xfs,
    Btrfs,
    Tmpfs,
    Ext4Dax,
    XfsDax,
}

impl FsKind {
    pub const ALL: [(&'static str, FsKind); 8] = [
        ("ext3", FsKind::Ext3),
        ("ext4", FsKind::Ext4),
        ("xfs-bh", FsKind::XfsBh),
        ("xfs", FsKind::Xfs),
        ("btrfs", FsKind::Btrfs),
        ("tmpfs", FsKind::Tmpfs),
        ("ext4-dax", FsKind::Ext4Dax),
        ("xfs-dax", FsKind::XfsDax),
    ];

    pub fn name(self) -> &'static str {
        FsKind::ALL.iter().find(|(_, k)| *k == self).map(|(n, _)| *n).unwrap_or("?")
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FsDecl {
    pub kind: FsKind,
    /// `nodelalloc` (ext4 only: allocate at `->page_mkwrite` instead of reserving).
    pub nodelalloc: bool,
    /// `stable-writes`: the device computes integrity data at submission (AS_STABLE_WRITES).
    pub stable_writes: bool,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileInit {
    /// Every page holds tag `NAMEi` on disk and is not cached (the default).
    Synced,
    /// The same tags, cached and dirty, not on disk yet.
    Dirty,
    /// All holes, no blocks allocated.
    Sparse,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileDecl {
    pub name: Name,
    pub pages: u32,
    pub init: FileInit,
    pub span: Span,
}

/// `x[i]` (one page) or `x[a..b]` (pages a to b-1). `None` where the syntax allows a bare name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PageRange {
    pub start: u32,
    /// Exclusive.
    pub end: u32,
}

/// An operation with its arguments, as written. Handles and files are names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `mmap FILE[a..b] shared|private [ro]`; `range` is `None` for a bare file name.
    Mmap {
        file: Name,
        range: Option<PageRange>,
        shared: bool,
        ro: bool,
    },
    Munmap {
        map: Name,
    },
    Store {
        map: Name,
        page: u32,
        tag: Name,
    },
    Load {
        map: Name,
        page: u32,
    },
    Write {
        file: Name,
        page: u32,
        tag: Name,
    },
    Read {
        file: Name,
        page: u32,
    },
    Fsync {
        file: Name,
    },
    Sync,
    Msync {
        map: Name,
    },
    Truncate {
        file: Name,
        pages: u32,
    },
    Punch {
        file: Name,
        range: PageRange,
    },
    Fallocate {
        file: Name,
        range: PageRange,
    },
    /// `pin M[a..b] [write] [longterm] [fast] [get]`.
    Pin {
        map: Name,
        range: PageRange,
        write: bool,
        longterm: bool,
        fast: bool,
        get: bool,
    },
    Unpin {
        pin: Name,
        dirty: bool,
    },
    /// `reg-mr M[a..b] [write] [odp]`.
    RegMr {
        map: Name,
        range: PageRange,
        write: bool,
        odp: bool,
    },
    DeregMr {
        mr: Name,
    },
    /// `dio-read FILE[i] -> M[j]`.
    DioRead {
        file: Name,
        page: u32,
        map: Name,
        map_page: u32,
    },
    /// `dio-write FILE[i] <- M[j]`.
    DioWrite {
        file: Name,
        page: u32,
        map: Name,
        map_page: u32,
    },
    RemoteWrite {
        map: Name,
        page: u32,
        tag: Name,
    },
    /// `lease FILE layout`.
    Lease {
        file: Name,
    },
    Unlease {
        lease: Name,
    },
    Signal {
        event: Name,
    },
    Wait {
        event: Name,
    },
    DmaWrite {
        handle: Name,
        page: u32,
        tag: Name,
    },
    DmaRead {
        handle: Name,
        page: u32,
    },
    Writeback {
        file: Option<Name>,
    },
    Reclaim {
        max: Option<u32>,
    },
    ReclaimActive,
    DropCaches,
    Crash,
}

/// Every operation keyword, in a fixed order (the parser's vocabulary, and the order of
/// `OP:ERRNO` labels in the model's label set).
/// The outcome labels of shared/SCENARIOS.md (and `fs-unaware-dirty`, CHANGELOG.md), in the
/// model's order: every other label is `OP:ERRNO`. The host's label order, the design search's
/// violations and the parser's label check all read this one list.
pub const OUTCOME_LABELS: [&str; 8] = [
    "bug",
    "warn",
    "data-loss",
    "corruption",
    "use-after-free",
    "hang",
    "leak",
    "fs-unaware-dirty",
];

pub const OP_KEYWORDS: [&str; 30] = [
    "mmap",
    "munmap",
    "store",
    "load",
    "write",
    "read",
    "fsync",
    "sync",
    "msync",
    "truncate",
    "punch",
    "fallocate",
    "pin",
    "unpin",
    "reg-mr",
    "dereg-mr",
    "dio-read",
    "dio-write",
    "remote-write",
    "lease",
    "unlease",
    "signal",
    "wait",
    "dma-write",
    "dma-read",
    "writeback",
    "reclaim",
    "reclaim-active",
    "drop-caches",
    "crash",
];

impl Op {
    /// The operation's keyword, as it appears in the file and in `OP:ERRNO` labels.
    pub fn keyword(&self) -> &'static str {
        match self {
            Op::Mmap { .. } => "mmap",
            Op::Munmap { .. } => "munmap",
            Op::Store { .. } => "store",
            Op::Load { .. } => "load",
            Op::Write { .. } => "write",
            Op::Read { .. } => "read",
            Op::Fsync { .. } => "fsync",
            Op::Sync => "sync",
            Op::Msync { .. } => "msync",
            Op::Truncate { .. } => "truncate",
            Op::Punch { .. } => "punch",
            Op::Fallocate { .. } => "fallocate",
            Op::Pin { .. } => "pin",
            Op::Unpin { .. } => "unpin",
            Op::RegMr { .. } => "reg-mr",
            Op::DeregMr { .. } => "dereg-mr",
            Op::DioRead { .. } => "dio-read",
            Op::DioWrite { .. } => "dio-write",
            Op::RemoteWrite { .. } => "remote-write",
            Op::Lease { .. } => "lease",
            Op::Unlease { .. } => "unlease",
            Op::Signal { .. } => "signal",
            Op::Wait { .. } => "wait",
            Op::DmaWrite { .. } => "dma-write",
            Op::DmaRead { .. } => "dma-read",
            Op::Writeback { .. } => "writeback",
            Op::Reclaim { .. } => "reclaim",
            Op::ReclaimActive => "reclaim-active",
            Op::DropCaches => "drop-caches",
            Op::Crash => "crash",
        }
    }
}

/// One line of a thread or `on break` body: `[HANDLE =] [maybe] OPERATION ARGS...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stmt {
    /// The handle this statement defines, if any.
    pub def: Option<Name>,
    pub maybe: bool,
    pub op: Op,
    /// Where the operation keyword starts.
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadDecl {
    pub name: Name,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// `on break LEASE:` with its body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OnBreak {
    pub lease: Name,
    pub body: Vec<Stmt>,
    pub span: Span,
}

/// `expect POLICY: LABEL...`; `ok` is stored as an empty label list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    pub policy: Name,
    pub labels: Vec<Name>,
    pub span: Span,
}

/// A whole scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The path as given on the command line (or the scenario's name for a catalogue one).
    pub path: String,
    /// The file's text, kept for diagnostics raised after parsing.
    pub source: String,
    pub name: Name,
    pub about: Option<String>,
    pub fs: FsDecl,
    /// `disk N` in 4 KiB blocks; default [`DISK_BLOCKS_DEFAULT`].
    pub disk_blocks: u32,
    /// `memory N` page frames; default [`MEMORY_FRAMES_DEFAULT`].
    pub memory_frames: u32,
    /// Where `disk` and `memory` were given, if they were.
    pub disk_span: Option<Span>,
    pub memory_span: Option<Span>,
    pub files: Vec<FileDecl>,
    pub threads: Vec<ThreadDecl>,
    pub on_break: Vec<OnBreak>,
    pub expects: Vec<Expect>,
}

pub const DISK_BLOCKS_DEFAULT: u32 = 64;
pub const MEMORY_FRAMES_DEFAULT: u32 = 16;
