//! The state of the modeled machine: page frames (folios), files and their page caches, the
//! disk, the address space, GUP references, tasks and the labels reached so far.
//!
//! Everything lives in small vectors indexed by typed ids, so that a world clones and hashes
//! cheaply (STYLE.md practice 4). Nothing here runs kernel code; the mechanisms live in the
//! sibling modules named after the kernel files they mirror.

use super::label::LabelSet;
pub use super::slots::Slots;
use super::task::Task;
use serde::{Deserialize, Serialize};

/// A page frame of the fixed pool (`memory N`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct FolioId(pub u16);

/// A 4 KiB block of the disk (`disk N`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct BlockId(pub u16);

#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct FileId(pub u8);

/// A scenario handle (`m = mmap ...`, `mr = reg-mr ...`).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct HandleId(pub u8);

/// What `World::rmap` gives: the (mapping, page) pairs whose PTE maps a folio. A mapping has
/// one PTE per file page and a folio caches one page (no large folios, no fork), so a folio
/// has at most one PTE per mapping handle.
pub type Rmap = super::few::Few<(HandleId, u8), { crate::limits::HANDLES_MAX }>;

/// A tag: the value a write puts into a page. Tag 0 is the zeroes of a hole.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
pub struct Tag(pub u16);

impl Tag {
    pub const ZERO: Tag = Tag(0);
}

/// Page contents: a tag, the file page it was written to, and the version of that page's
/// history it is.
///
/// `ver` counts the writes accepted for one file page (0 is the page's initial content); the
/// oracles compare versions, so the same tag written twice is still told apart. `origin` names
/// the file page the write was accepted for ([`page_id`]), 0 for zeroes or memory that belongs
/// to no file, [`Data::STALE`] for a device write through a reference the file gave up: data
/// found in a page whose id differs is another page's data (`corruption`).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct Data {
    pub tag: Tag,
    pub ver: u16,
    pub origin: u16,
}

impl Data {
    pub const STALE: u16 = u16::MAX;
}

/// The id of a file page in [`Data::origin`]: never 0 and never [`Data::STALE`].
pub fn page_id(file: FileId, index: u8) -> u16 {
    const _: () = assert!(
        crate::limits::FILES_MAX * crate::limits::FILE_PAGES_MAX as usize + 1 < u16::MAX as usize,
        "page ids fit Data::origin below Data::STALE"
    );
    file.0 as u16 * crate::limits::FILE_PAGES_MAX as u16 + index as u16 + 1
}

/// `GUP_PIN_COUNTING_BIAS` (include/linux/mm.h): what a FOLL_PIN adds to a small folio's refcount.
pub const GUP_PIN_COUNTING_BIAS: u32 = 1024;

/// Who a folio belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Owner {
    /// On the free list.
    Free,
    /// In the page cache of `file` at `index`.
    File { file: FileId, index: u8 },
    /// Removed from the page cache by truncate or punch while still referenced: `mapping == NULL`.
    Orphan,
    /// An anonymous page (a COW copy of a private file mapping).
    Anon,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Folio {
    pub owner: Owner,
    /// `folio_ref_count()`: the page cache's reference, one per mapping PTE, GUP references,
    /// and `GUP_PIN_COUNTING_BIAS` per FOLL_PIN.
    pub refcount: u32,
    /// `folio_mapcount()`.
    pub mapcount: u16,
    pub dirty: bool,
    pub writeback: bool,
    /// `folio_test_private()`: buffer heads (ext3, ext4, xfs-bh) or iomap state (xfs).
    pub private: bool,
    pub data: Data,
    /// Bumped each time the frame is freed, so a stale device reference is detectable.
    pub generation: u16,
    /// The oracle's record for `fs-unaware-dirty` (Chinner's invariant): the filesystem was told
    /// this folio may be dirtied (`->page_mkwrite`, `->write_begin`, or a design's
    /// re-reservation) since writeback last took it. Cleared when writeback cleans or writes it.
    pub fs_knows: bool,
}

impl Folio {
    pub fn free() -> Folio {
        Folio {
            owner: Owner::Free,
            refcount: 0,
            mapcount: 0,
            dirty: false,
            writeback: false,
            private: false,
            data: Data::default(),
            generation: 0,
            fs_knows: false,
        }
    }

    /// `folio_maybe_dma_pinned()` for a small folio: `refcount >= GUP_PIN_COUNTING_BIAS`.
    /// False positives are possible in the kernel; with a handful of references, never here.
    pub fn maybe_dma_pinned(&self) -> bool {
        self.refcount >= GUP_PIN_COUNTING_BIAS
    }
}

/// One page index of a file: its cached folio, its block, and the oracle's record of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct FilePage {
    pub folio: Option<FolioId>,
    pub block: Option<BlockId>,
    /// The block the committed metadata maps the page to (the journal or btrfs transaction
    /// commit that a cache flush stands for): what a power failure finds.
    pub durable_block: Option<BlockId>,
    /// A delayed-allocation reservation is held for this page (ext4 delalloc, XFS).
    pub reserved: bool,
    /// The last accepted write (the oracle's truth).
    pub accepted: Data,
    /// Writes with a version up to this one are excused: an error was reported for the file
    /// after they were accepted.
    pub excused_ver: Option<u16>,
    /// The latest write that a successful fsync/sync/msync promised durable.
    pub synced: Data,
    /// Blocks reserved for long-term pins of this page (the writable-pins design's
    /// `longterm-pin-reserves-cow-space`), counted in `World::reserved_blocks`.
    pub pin_resv: u8,
}

#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Inode {
    /// i_size in pages.
    pub size: u8,
    pub pages: Vec<FilePage>,
    /// `mapping->wb_err` as the scenario's one open file sees it: set by `mapping_set_error()`,
    /// reported and cleared by the next fsync (`file_check_and_advance_wb_err()`).
    pub wb_err: Option<super::label::Errno>,
    /// O_DIRECT calls in flight on the file (`inode_dio_begin()`): they hold i_rwsem, so
    /// write(2) waits, and truncate, punch and fallocate wait in `inode_dio_wait()`.
    pub dio_in_flight: u8,
}

/// A disk block's content as a read would return it, with its integrity state.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub struct BlockContent {
    pub data: Data,
    /// False when the integrity data (checksum) computed at submission does not match what the
    /// device read from the page: a read returns an error, the data is lost.
    pub csum_ok: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Block {
    /// The file page this block belongs to, if allocated.
    pub owner: Option<(FileId, u8)>,
    /// What survives a power failure.
    pub durable: BlockContent,
    /// A completed write still in the device's volatile cache.
    pub cached: Option<BlockContent>,
}

impl Block {
    /// What a read returns: the device cache is coherent with reads.
    pub fn current(&self) -> BlockContent {
        self.cached.unwrap_or(self.durable)
    }
}

/// A page-table entry of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Pte {
    pub folio: Option<FolioId>,
    pub writable: bool,
    pub dirty: bool,
}

/// A mapping created by `mmap` (a VMA and its PTEs).
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Vma {
    pub file: FileId,
    /// First file page mapped.
    pub pgoff: u8,
    pub shared: bool,
    /// `PROT_READ` only (`ro`).
    pub read_only: bool,
    /// False after munmap.
    pub mapped: bool,
    pub ptes: Vec<Pte>,
}

/// How a GUP reference was taken, so it can be dropped the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum GupRef {
    /// `get_user_pages*()`: dropped with `put_page()`.
    Get,
    /// `pin_user_pages*()`: dropped with `unpin_user_page()`.
    Pin,
}

/// References held on a range of pages through GUP: a `pin` handle, an RDMA MR, or the
/// short-term pin of an O_DIRECT or `process_vm_writev()` call.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pinned {
    pub how: GupRef,
    /// FOLL_WRITE was set: the device may write, and the release dirties the pages.
    pub write: bool,
    /// The folio and its generation at pin time, per page.
    pub pages: Vec<(FolioId, u16)>,
    /// False once released (unpinned, deregistered) or revoked: device access then fails
    /// with EIO.
    pub live: bool,
    /// The layout lease this long-term pin was allowed under (the lease design), revoked with it.
    pub lease: Option<HandleId>,
    /// The pin reserved a block per file page (`longterm-pin-reserves-cow-space`), given back
    /// at release.
    pub resv: bool,
}

/// A layout lease (`lease FILE layout`, the lease design's `F_LAYOUT`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Lease {
    pub file: FileId,
    /// Held: not released (`unlease`) and not revoked.
    pub live: bool,
    /// The kernel broke it (truncate, punch or fallocate): its `on break` blocks were started.
    pub broken: bool,
}

/// An on-demand-paging RDMA registration (`reg-mr ... odp`): no pins; the device's own page
/// table, kept coherent with the CPU's by an `mmu_interval_notifier`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct OdpMr {
    pub map: HandleId,
    /// First page of the mapping covered.
    pub start: u8,
    pub write: bool,
    /// The device's mapping of each page: the folio and whether it is writable.
    pub dev: Vec<Option<(FolioId, bool)>>,
    pub live: bool,
}

/// What a handle names.
#[derive(Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Handle {
    /// Not defined yet: users wait (a data dependency).
    Undefined,
    /// The defining operation failed: users are skipped.
    Failed,
    Map(Vma),
    Pin(Pinned),
    Lease(Lease),
    Odp(OdpMr),
}

/// The whole machine.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct World {
    pub folios: Slots<Folio>,
    pub inodes: Slots<Inode>,
    pub blocks: Slots<Block>,
    /// Delayed-allocation reservations outstanding (blocks promised but not yet allocated).
    pub reserved_blocks: u16,
    pub handles: Slots<Handle>,
    pub tasks: Slots<Task>,
    /// Signalled events, a bit per event.
    pub events: u32,
    /// `/proc/vmstat` `nr_foll_pin_acquired` and `nr_foll_pin_released`.
    pub pins_acquired: u16,
    pub pins_released: u16,
    pub labels: LabelSet,
    /// A modeled `BUG()` fired: the machine is down and the interleaving ends.
    pub crashed: bool,
    /// A `crash` operation ran: power failed, the interleaving ends after the disk check.
    pub powered_off: bool,
    /// Frames `0..ram_frames` are memory (`memory N`); on a DAX filesystem, frame
    /// `ram_frames + b` is the persistent-memory page of block `b`: the page *is* the block.
    pub ram_frames: u8,
    /// The files with dirty pages, oldest dirtied first (`wb->b_dirty` ordered by
    /// `dirtied_when`): the order a writeback pass over every file takes them
    /// (`writeback::dirty_order`), kept up to date after every step.
    pub dirtied: Vec<FileId>,
}

impl World {
    /// Free blocks not promised to a delayed allocation.
    pub fn free_blocks(&self) -> u32 {
        let free = self.blocks.iter().filter(|b| b.owner.is_none()).count() as u32;
        free.saturating_sub(self.reserved_blocks as u32)
    }

    /// Allocates the lowest free block for `file` page `index` (the allocator hands out the
    /// lowest free block first, so reuse is reachable in small scenarios). New blocks read as
    /// zeroes (DAX zeroes them at allocation; unwritten extents elsewhere).
    /// Blocks promised to delayed allocations are not free: consuming a reservation releases it
    /// (`reserved_blocks -= 1`) before allocating.
    pub fn alloc_block(&mut self, file: FileId, index: u8) -> Option<BlockId> {
        if self.free_blocks() == 0 {
            return None;
        }
        let i = self.blocks.iter().position(|b| b.owner.is_none())?;
        let block = &mut self.blocks[i];
        block.owner = Some((file, index));
        block.durable = BlockContent { data: Data::default(), csum_ok: true };
        block.cached = None;
        let b = BlockId(i as u16);
        if let Some(f) = self.dax_frame(b) {
            let frame = self.folio_mut(f);
            frame.owner = Owner::File { file, index };
            frame.data = Data::default();
        }
        Some(b)
    }

    /// The filesystem gives block `b` up. On DAX its page changes hands too: whoever still
    /// references the page now references storage the file no longer owns.
    pub fn free_block(&mut self, b: BlockId) {
        self.blocks[b.0 as usize].owner = None;
        if let Some(f) = self.dax_frame(b) {
            let frame = self.folio_mut(f);
            frame.owner = Owner::Free;
            frame.generation = frame.generation.wrapping_add(1);
        }
    }

    /// The persistent-memory page of block `b`, on a DAX filesystem.
    pub fn dax_frame(&self, b: BlockId) -> Option<FolioId> {
        let f = self.ram_frames as usize + b.0 as usize;
        (f < self.folios.len()).then_some(FolioId(f as u16))
    }

    pub fn is_dax_frame(&self, f: FolioId) -> bool {
        f.0 >= self.ram_frames as u16
    }

    /// The shared zero page a DAX read fault maps over a hole: the frame after the blocks'.
    pub fn zero_frame(&self) -> Option<FolioId> {
        let f = self.ram_frames as usize + self.blocks.len();
        (f < self.folios.len()).then_some(FolioId(f as u16))
    }

    pub fn folio(&self, f: FolioId) -> &Folio {
        &self.folios[f.0 as usize]
    }

    pub fn folio_mut(&mut self, f: FolioId) -> &mut Folio {
        &mut self.folios[f.0 as usize]
    }

    pub fn page(&self, file: FileId, index: u8) -> &FilePage {
        &self.inodes[file.0 as usize].pages[index as usize]
    }

    pub fn page_mut(&mut self, file: FileId, index: u8) -> &mut FilePage {
        &mut self.inodes[file.0 as usize].pages[index as usize]
    }

    pub fn vma(&self, h: HandleId) -> Option<&Vma> {
        match &self.handles[h.0 as usize] {
            Handle::Map(v) => Some(v),
            _ => None,
        }
    }

    pub fn vma_mut(&mut self, h: HandleId) -> Option<&mut Vma> {
        match &mut self.handles[h.0 as usize] {
            Handle::Map(v) => Some(v),
            _ => None,
        }
    }

    /// Takes a free memory frame; `None` when the pool (`memory N`) is exhausted.
    pub fn alloc_folio(&mut self, owner: Owner, data: Data) -> Option<FolioId> {
        let ram = self.ram_frames as usize;
        let i = self.folios[..ram].iter().position(|f| f.owner == Owner::Free)?;
        let generation = self.folios[i].generation;
        self.folios[i] = Folio { owner, refcount: 1, data, generation, ..Folio::free() };
        Some(FolioId(i as u16))
    }

    /// `folio_get()`.
    pub fn folio_get(&mut self, f: FolioId) {
        self.folio_mut(f).refcount += 1;
    }

    /// `folio_put()`: frees the frame when the last reference goes.
    pub fn folio_put(&mut self, f: FolioId) {
        self.folio_put_many(f, 1);
    }

    pub fn folio_put_many(&mut self, f: FolioId, n: u32) {
        let dax = self.is_dax_frame(f);
        let folio = self.folio_mut(f);
        assert!(folio.refcount >= n, "model bug: folio {} refcount underflow", f.0);
        folio.refcount -= n;
        if folio.refcount == 0 && !dax {
            assert!(
                !matches!(folio.owner, Owner::File { .. }),
                "model bug: a cached folio lost its page cache reference"
            );
            let generation = folio.generation.wrapping_add(1);
            *folio = Folio { generation, ..Folio::free() };
        }
    }

    /// Every (mapping handle, page) whose PTE maps `f`: the reverse map.
    pub fn rmap(&self, f: FolioId) -> Rmap {
        let mut out = Rmap::default();
        for (h, handle) in self.handles.iter().enumerate() {
            if let Handle::Map(vma) = handle {
                for (i, pte) in vma.ptes.iter().enumerate() {
                    if pte.folio == Some(f) {
                        out.push((HandleId(h as u8), i as u8));
                    }
                }
            }
        }
        out
    }
}

// Hand-written `Clone` for the containers of a world: `clone_from` reuses the destination's
// vectors, so the explorers, which clone a world per move, can recycle worlds instead of
// allocating a dozen vectors each time (`check::dfs` keeps a pool). Each impl destructures
// both sides, so a field added later without being copied does not compile. A world's
// `clone_from` skips the tasks, handles and inodes whose hash at their place is known in both
// worlds and equal (`Slots::clone_from_known`): a recycled world is mostly like its source.

impl Clone for World {
    fn clone(&self) -> World {
        let World {
            folios,
            inodes,
            blocks,
            reserved_blocks,
            handles,
            tasks,
            events,
            pins_acquired,
            pins_released,
            labels,
            crashed,
            powered_off,
            ram_frames,
            dirtied,
        } = self;
        World {
            folios: folios.clone(),
            inodes: inodes.clone(),
            blocks: blocks.clone(),
            reserved_blocks: *reserved_blocks,
            handles: handles.clone(),
            tasks: tasks.clone(),
            events: *events,
            pins_acquired: *pins_acquired,
            pins_released: *pins_released,
            labels: *labels,
            crashed: *crashed,
            powered_off: *powered_off,
            ram_frames: *ram_frames,
            dirtied: dirtied.clone(),
        }
    }

    fn clone_from(&mut self, source: &World) {
        let World {
            folios,
            inodes,
            blocks,
            reserved_blocks,
            handles,
            tasks,
            events,
            pins_acquired,
            pins_released,
            labels,
            crashed,
            powered_off,
            ram_frames,
            dirtied,
        } = self;
        folios.clone_from(&source.folios);
        inodes.clone_from_known(&source.inodes);
        blocks.clone_from(&source.blocks);
        *reserved_blocks = source.reserved_blocks;
        handles.clone_from_known(&source.handles);
        tasks.clone_from_known(&source.tasks);
        *events = source.events;
        *pins_acquired = source.pins_acquired;
        *pins_released = source.pins_released;
        *labels = source.labels;
        *crashed = source.crashed;
        *powered_off = source.powered_off;
        *ram_frames = source.ram_frames;
        dirtied.clone_from(&source.dirtied);
    }
}

impl Clone for Inode {
    fn clone(&self) -> Inode {
        let Inode { size, pages, wb_err, dio_in_flight } = self;
        Inode { size: *size, pages: pages.clone(), wb_err: *wb_err, dio_in_flight: *dio_in_flight }
    }

    fn clone_from(&mut self, source: &Inode) {
        let Inode { size, pages, wb_err, dio_in_flight } = self;
        *size = source.size;
        pages.clone_from(&source.pages);
        *wb_err = source.wb_err;
        *dio_in_flight = source.dio_in_flight;
    }
}

impl Clone for Handle {
    fn clone(&self) -> Handle {
        match self {
            Handle::Undefined => Handle::Undefined,
            Handle::Failed => Handle::Failed,
            Handle::Map(v) => Handle::Map(v.clone()),
            Handle::Pin(p) => Handle::Pin(p.clone()),
            Handle::Lease(l) => Handle::Lease(l.clone()),
            Handle::Odp(o) => Handle::Odp(o.clone()),
        }
    }

    fn clone_from(&mut self, source: &Handle) {
        match (self, source) {
            (Handle::Map(a), Handle::Map(b)) => a.clone_from(b),
            (Handle::Pin(a), Handle::Pin(b)) => a.clone_from(b),
            (this, _) => *this = source.clone(),
        }
    }
}

impl Clone for Vma {
    fn clone(&self) -> Vma {
        let Vma { file, pgoff, shared, read_only, mapped, ptes } = self;
        Vma {
            file: *file,
            pgoff: *pgoff,
            shared: *shared,
            read_only: *read_only,
            mapped: *mapped,
            ptes: ptes.clone(),
        }
    }

    fn clone_from(&mut self, source: &Vma) {
        let Vma { file, pgoff, shared, read_only, mapped, ptes } = self;
        *file = source.file;
        *pgoff = source.pgoff;
        *shared = source.shared;
        *read_only = source.read_only;
        *mapped = source.mapped;
        ptes.clone_from(&source.ptes);
    }
}

impl Clone for Pinned {
    fn clone(&self) -> Pinned {
        let Pinned { how, write, pages, live, lease, resv } = self;
        Pinned {
            how: *how,
            write: *write,
            pages: pages.clone(),
            live: *live,
            lease: *lease,
            resv: *resv,
        }
    }

    fn clone_from(&mut self, source: &Pinned) {
        let Pinned { how, write, pages, live, lease, resv } = self;
        *how = source.how;
        *write = source.write;
        pages.clone_from(&source.pages);
        *live = source.live;
        *lease = source.lease;
        *resv = source.resv;
    }
}

// Hand-written `Hash` for the small structs that worlds hold by the dozen: each packs all its
// fields into a few integers, injectively (every field has its own bits), so a fingerprint
// takes a few writes per struct instead of one per field. Equal values pack equally, as `Hash`
// requires.

pub(super) fn pack_data(d: Data) -> u64 {
    d.tag.0 as u64 | (d.ver as u64) << 16 | (d.origin as u64) << 32
}

fn pack_content(c: BlockContent) -> u64 {
    pack_data(c.data) | (c.csum_ok as u64) << 48
}

pub(super) fn pack_option<T>(o: Option<T>, f: impl FnOnce(T) -> u64) -> u64 {
    match o {
        None => 0,
        Some(x) => 1 | f(x) << 1,
    }
}

impl std::hash::Hash for Folio {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let owner = match self.owner {
            Owner::Free => 0u64,
            Owner::File { file, index } => 1 | (file.0 as u64) << 2 | (index as u64) << 10,
            Owner::Orphan => 2,
            Owner::Anon => 3,
        };
        let flags = self.mapcount as u64
            | (self.dirty as u64) << 16
            | (self.writeback as u64) << 17
            | (self.private as u64) << 18
            | (self.fs_knows as u64) << 19
            | (self.generation as u64) << 24;
        h.write_u128((owner | (self.refcount as u64) << 32) as u128 | (flags as u128) << 64);
        h.write_u64(pack_data(self.data));
    }
}

impl std::hash::Hash for FilePage {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        h.write_u64(
            pack_option(self.folio, |f| f.0 as u64)
                | pack_option(self.block, |b| b.0 as u64) << 17
                | pack_option(self.durable_block, |b| b.0 as u64) << 34
                | (self.reserved as u64) << 51
                | (self.pin_resv as u64) << 52,
        );
        h.write_u128(
            pack_data(self.accepted) as u128
                | (pack_data(self.synced) as u128) << 48
                | (pack_option(self.excused_ver, |v| v as u64) as u128) << 96,
        );
    }
}

impl std::hash::Hash for Block {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let owner = pack_option(self.owner, |(f, i)| f.0 as u64 | (i as u64) << 8);
        h.write_u128(
            owner as u128
                | (pack_content(self.durable) as u128) << 17
                | (pack_option(self.cached, pack_content) as u128) << 66,
        );
    }
}

impl World {
    /// The most bytes `header_bytes` writes.
    pub const HEADER_MAX: usize = 16 + 8 + 8 + LabelSet::BYTES_MAX;

    /// The bytes of the world's own fields and of the lengths of its element vectors, not the
    /// elements, in `out`; returns how many. The fingerprint (`check::fingerprint`) hashes
    /// these once and each element apart, with its place, so that a step's successor rehashes
    /// only the elements the step touched (`Slots`). One buffer, written at fixed offsets: the
    /// header is hashed after every step (it was a Hasher's word-by-word writes).
    pub fn header_bytes(&self, out: &mut [u8; World::HEADER_MAX]) -> usize {
        let World {
            folios,
            inodes,
            blocks,
            reserved_blocks,
            handles,
            tasks,
            events,
            pins_acquired,
            pins_released,
            labels,
            crashed,
            powered_off,
            ram_frames,
            dirtied,
        } = self;
        const _: () = assert!(crate::limits::FILES_MAX <= 8, "`dirtied` packs into a word");
        let packed = dirtied.iter().enumerate().fold(0u64, |a, (i, f)| a | (f.0 as u64) << (8 * i));
        let scalars = *reserved_blocks as u128
            | (*events as u128) << 16
            | (*pins_acquired as u128) << 48
            | (*pins_released as u128) << 64
            | (*crashed as u128) << 80
            | (*powered_off as u128) << 81
            | (*ram_frames as u128) << 88
            | (dirtied.len() as u128) << 96;
        // The lengths (below 2^16: `limits.rs`).
        let lengths = folios.len() as u64
            | (inodes.len() as u64) << 16
            | (blocks.len() as u64) << 32
            | (handles.len() as u64) << 48;
        out[..16].copy_from_slice(&scalars.to_le_bytes());
        out[16..24].copy_from_slice(&lengths.to_le_bytes());
        out[24..32].copy_from_slice(&(packed | (tasks.len() as u64) << 56).to_le_bytes());
        let (_, rest) = out.split_at_mut(32);
        let rest: &mut [u8; LabelSet::BYTES_MAX] = rest.try_into().expect("HEADER_MAX's tail");
        32 + labels.bytes(rest)
    }

    /// Hashes the bytes of `header_bytes`.
    pub fn hash_header<H: std::hash::Hasher>(&self, h: &mut H) {
        let mut bytes = [0u8; World::HEADER_MAX];
        let n = self.header_bytes(&mut bytes);
        h.write(&bytes[..n]);
    }
}

impl std::hash::Hash for Inode {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Inode { size, pages, wb_err, dio_in_flight } = self;
        let err = pack_option(*wb_err, |e| e as u64);
        h.write_u64(
            *size as u64 | (*dio_in_flight as u64) << 8 | err << 16 | (pages.len() as u64) << 32,
        );
        for p in pages {
            p.hash(h);
        }
    }
}

impl std::hash::Hash for Vma {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Vma { file, pgoff, shared, read_only, mapped, ptes } = self;
        h.write_u64(
            file.0 as u64
                | (*pgoff as u64) << 8
                | (*shared as u64) << 16
                | (*read_only as u64) << 17
                | (*mapped as u64) << 18
                | (ptes.len() as u64) << 32,
        );
        for p in ptes {
            p.hash(h);
        }
    }
}

impl std::hash::Hash for Pinned {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Pinned { how, write, pages, live, lease, resv } = self;
        h.write_u64(
            *how as u64
                | (*write as u64) << 1
                | (*live as u64) << 2
                | (*resv as u64) << 3
                | pack_option(*lease, |l| l.0 as u64) << 4
                | (pages.len() as u64) << 32,
        );
        for &(f, generation) in pages {
            h.write_u32(f.0 as u32 | (generation as u32) << 16);
        }
    }
}

impl std::hash::Hash for Pte {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let folio = pack_option(self.folio, |f| f.0 as u64);
        h.write_u32((folio | (self.writable as u64) << 17 | (self.dirty as u64) << 18) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{Hash, Hasher};

    /// The bytes a value's `Hash` writes.
    fn bytes<T: Hash>(t: &T) -> Vec<u8> {
        struct Collect(Vec<u8>);
        impl Hasher for Collect {
            fn write(&mut self, b: &[u8]) {
                self.0.extend_from_slice(b);
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let mut c = Collect(Vec::new());
        t.hash(&mut c);
        c.0
    }

    /// Every value differs from every other in its hash encoding.
    fn all_distinct<T: Hash + std::fmt::Debug>(values: &[T]) {
        for (i, a) in values.iter().enumerate() {
            for b in &values[i + 1..] {
                assert_ne!(bytes(a), bytes(b), "{a:?} and {b:?} hash alike");
            }
        }
    }

    const D: Data = Data { tag: Tag(u16::MAX), ver: 65535, origin: u16::MAX };

    #[test]
    fn page_ids_are_distinct_nonzero_and_not_stale_up_to_the_limits() {
        let mut seen = std::collections::BTreeSet::new();
        for file in 0..crate::limits::FILES_MAX as u8 {
            for index in 0..crate::limits::FILE_PAGES_MAX as u8 {
                let id = page_id(FileId(file), index);
                assert!(id != 0 && id != Data::STALE && seen.insert(id), "{file} {index}");
            }
        }
    }

    #[test]
    fn packed_hashes_tell_every_field_apart() {
        let f = Folio::free();
        all_distinct(&[
            f,
            Folio { owner: Owner::File { file: FileId(7), index: 15 }, ..f },
            Folio { owner: Owner::Orphan, ..f },
            Folio { owner: Owner::Anon, ..f },
            Folio { refcount: u32::MAX, ..f },
            Folio { mapcount: u16::MAX, ..f },
            Folio { dirty: true, ..f },
            Folio { writeback: true, ..f },
            Folio { private: true, ..f },
            Folio { data: D, ..f },
            Folio { data: Data { origin: 1, ..Data::default() }, ..f },
            Folio { generation: u16::MAX, ..f },
            Folio { fs_knows: true, ..f },
        ]);
        let p = FilePage::default();
        all_distinct(&[
            p,
            FilePage { folio: Some(FolioId(0)), ..p },
            FilePage { folio: Some(FolioId(u16::MAX)), ..p },
            FilePage { block: Some(BlockId(0)), ..p },
            FilePage { block: Some(BlockId(u16::MAX)), ..p },
            FilePage { durable_block: Some(BlockId(0)), ..p },
            FilePage { durable_block: Some(BlockId(u16::MAX)), ..p },
            FilePage { reserved: true, ..p },
            FilePage { accepted: D, ..p },
            FilePage { excused_ver: Some(0), ..p },
            FilePage { excused_ver: Some(u16::MAX), ..p },
            FilePage { synced: D, ..p },
            FilePage { pin_resv: 1, ..p },
        ]);
        let c = BlockContent { data: D, csum_ok: true };
        let b = Block { owner: None, durable: BlockContent::default(), cached: None };
        all_distinct(&[
            b,
            Block { owner: Some((FileId(0), 0)), ..b },
            Block { owner: Some((FileId(255), 255)), ..b },
            Block { durable: c, ..b },
            Block { durable: BlockContent { csum_ok: true, ..Default::default() }, ..b },
            Block { cached: Some(BlockContent::default()), ..b },
            Block { cached: Some(c), ..b },
        ]);
        all_distinct(&[
            Pte::default(),
            Pte { folio: Some(FolioId(0)), ..Pte::default() },
            Pte { folio: Some(FolioId(u16::MAX)), ..Pte::default() },
            Pte { writable: true, ..Pte::default() },
            Pte { dirty: true, ..Pte::default() },
            Pte { folio: Some(FolioId(u16::MAX)), writable: true, dirty: true },
        ]);
        let page = FilePage { folio: Some(FolioId(3)), synced: D, ..p };
        let inode = |size, pages: Vec<FilePage>, wb_err, dio_in_flight| Inode {
            size,
            pages,
            wb_err,
            dio_in_flight,
        };
        use super::super::label::Errno;
        all_distinct(&[
            inode(0, vec![], None, 0),
            inode(u8::MAX, vec![], None, 0),
            inode(0, vec![p], None, 0),
            inode(0, vec![page], None, 0),
            inode(0, vec![p, p], None, 0),
            inode(0, vec![], Some(Errno::Efault), 0),
            inode(0, vec![], Some(Errno::Etxtbsy), 0),
            inode(0, vec![], None, u8::MAX),
        ]);
        let vma = Vma {
            file: FileId(0),
            pgoff: 0,
            shared: false,
            read_only: false,
            mapped: false,
            ptes: vec![],
        };
        let pte = Pte { folio: Some(FolioId(1)), writable: true, dirty: false };
        all_distinct(&[
            Vma { ptes: vec![], ..vma },
            Vma { file: FileId(u8::MAX), ptes: vec![], ..vma },
            Vma { pgoff: u8::MAX, ptes: vec![], ..vma },
            Vma { shared: true, ptes: vec![], ..vma },
            Vma { read_only: true, ptes: vec![], ..vma },
            Vma { mapped: true, ptes: vec![], ..vma },
            Vma { ptes: vec![Pte::default()], ..vma },
            Vma { ptes: vec![pte], ..vma },
            Vma { ptes: vec![pte, pte], ..vma },
        ]);
        let pin = Pinned {
            how: GupRef::Get,
            write: false,
            pages: vec![],
            live: false,
            lease: None,
            resv: false,
        };
        all_distinct(&[
            Pinned { pages: vec![], ..pin.clone() },
            Pinned { how: GupRef::Pin, ..pin.clone() },
            Pinned { write: true, ..pin.clone() },
            Pinned { pages: vec![(FolioId(0), 0)], ..pin.clone() },
            Pinned { pages: vec![(FolioId(u16::MAX), 0)], ..pin.clone() },
            Pinned { pages: vec![(FolioId(0), u16::MAX)], ..pin.clone() },
            Pinned { pages: vec![(FolioId(0), 0), (FolioId(0), 0)], ..pin.clone() },
            Pinned { live: true, ..pin.clone() },
            Pinned { lease: Some(HandleId(0)), ..pin.clone() },
            Pinned { lease: Some(HandleId(u8::MAX)), ..pin.clone() },
            Pinned { resv: true, ..pin.clone() },
        ]);
    }

    #[test]
    fn label_hashes_tell_every_field_apart() {
        use super::super::label::{Errno, LabelSet, Outcome};
        let with = |f: &dyn Fn(&mut LabelSet)| {
            let mut l = LabelSet::default();
            f(&mut l);
            l
        };
        all_distinct(&[
            LabelSet::default(),
            with(&|l| l.add(Outcome::Bug)),
            with(&|l| l.add(Outcome::Warn)),
            with(&|l| l.add_error("reg-mr", Errno::Efault)),
            with(&|l| l.add_error("fsync", Errno::Eio)),
            with(&|l| l.costs.bounce_copies = 1),
            with(&|l| l.costs.waits = 255),
            with(&|l| l.costs.revocations = 1),
        ]);
    }

    #[test]
    fn task_hashes_tell_every_field_apart() {
        use super::super::task::{Cont, Task, TaskKind};
        use super::super::writeback::Wb;
        let wb = Wb {
            scope: None,
            range: None,
            sync: false,
            file: Wb::NO_FILE,
            index: 0,
            visited: 0,
            waiting: false,
            snapshot: vec![],
            reports_errors: false,
        };
        let d = Some(D);
        let bio = |file, index, folio, block, csum, bounce, cow| TaskKind::Bio {
            file: FileId(file),
            index,
            folio: FolioId(folio),
            block: BlockId(block),
            csum,
            bounce,
            cow,
        };
        let task = |kind, pc, cont, done| Task { kind, pc, cont, done };
        let thread = |t| TaskKind::Thread { thread: t };
        let pin = Pinned {
            how: GupRef::Pin,
            write: true,
            pages: vec![],
            live: true,
            lease: None,
            resv: false,
        };
        all_distinct(&[
            task(thread(0), 0, Cont::Start, false),
            task(thread(u8::MAX), 0, Cont::Start, false),
            task(thread(0), u8::MAX, Cont::Start, false),
            task(thread(0), 0, Cont::Start, true),
            task(thread(0), 0, Cont::LayoutWait { waited: 0 }, false),
            task(thread(0), 0, Cont::LayoutWait { waited: u8::MAX }, false),
            task(thread(0), 0, Cont::Writeback(wb), false),
            task(thread(0), 0, Cont::DioWait { done: false, release: None, error: None }, false),
            task(thread(0), 0, Cont::RemoteWrite { pinned: pin.clone(), tag: Tag(0) }, false),
            task(bio(0, 0, 0, 0, None, None, false), 0, Cont::Start, false),
            task(bio(u8::MAX, 0, 0, 0, None, None, false), 0, Cont::Start, false),
            task(bio(0, u8::MAX, 0, 0, None, None, false), 0, Cont::Start, false),
            task(bio(0, 0, u16::MAX, 0, None, None, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, u16::MAX, None, None, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, d, None, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, Some(Data::default()), None, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, None, d, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, None, Some(Data::default()), false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, d, d, false), 0, Cont::Start, false),
            task(bio(0, 0, 0, 0, None, None, true), 0, Cont::Start, false),
            task(
                TaskKind::Fixup { file: FileId(0), index: 0, folio: FolioId(0) },
                0,
                Cont::Start,
                false,
            ),
            task(
                TaskKind::Fixup { file: FileId(1), index: 0, folio: FolioId(0) },
                0,
                Cont::Start,
                false,
            ),
            task(
                TaskKind::Fixup { file: FileId(0), index: 1, folio: FolioId(0) },
                0,
                Cont::Start,
                false,
            ),
            task(
                TaskKind::Fixup { file: FileId(0), index: 0, folio: FolioId(u16::MAX) },
                0,
                Cont::Start,
                false,
            ),
            task(
                TaskKind::DirtyWork { thread: 0, pc: 0, pages: pin.clone() },
                0,
                Cont::Start,
                false,
            ),
            task(
                TaskKind::DirtyWork { thread: 1, pc: 0, pages: pin.clone() },
                0,
                Cont::Start,
                false,
            ),
        ]);
    }
}
