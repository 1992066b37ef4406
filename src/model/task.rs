//! Tasks: the scenario's threads and the asynchronous work the kernel queues (bios, the
//! device's side of O_DIRECT, the `bio_dirty_work` workqueue item). Each task is runnable or
//! blocked; the explorer picks which runnable task takes the next step (KERNEL.md §6).

use super::label::Errno;
use super::world::*;
use super::writeback::Wb;
use crate::policy::DioPath;

/// What a task is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum TaskKind {
    /// A scenario thread.
    Thread { thread: u8 },
    /// A page-write bio in flight: the device reads the folio (or its bounce copy) when it runs.
    /// `cow`: on btrfs the page moves to `block` at completion and its old block is freed.
    Bio {
        file: FileId,
        index: u8,
        folio: FolioId,
        block: BlockId,
        csum: Option<Data>,
        bounce: Option<Data>,
        cow: bool,
    },
    /// btrfs's fix-up worker (`btrfs_writepage_fixup_worker()`) for a folio dirtied without a
    /// reservation; it holds a folio reference while queued.
    Fixup { file: FileId, index: u8, folio: FolioId },
    /// The device side of an O_DIRECT read (`read`) or write issued by statement `pc` of
    /// `thread`: DMA between the disk and the pinned buffer, then the bio's completion.
    /// `target` is the block an O_DIRECT write goes to (a new one on btrfs, `cow`), `csum` the
    /// checksum btrfs computed from the buffer at submission.
    Dio {
        thread: u8,
        pc: u8,
        read: bool,
        file: FileId,
        index: u8,
        buffer: Pinned,
        path: DioPath,
        target: Option<BlockId>,
        cow: bool,
        csum: Option<Data>,
        /// 7.0's XFS bounce on stable-writes devices (`IOMAP_DIO_BOUNCE`): a write carries the
        /// copy of the buffer taken at submission (`buffer` is then empty); a read's buffer
        /// receives a copy at completion and is dirtied and released there.
        bounce: Option<Bounce>,
    },
    /// `bio_dirty_work`: re-dirties and releases the pages that `bio_check_pages_dirty()` found
    /// clean at completion.
    DirtyWork { thread: u8, pc: u8, pages: Pinned },
}

/// What `bio_iov_iter_bounce()` did for an O_DIRECT bio (7.0, XFS on stable-writes devices).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Bounce {
    /// `bio_iov_iter_bounce_write()`: the user buffer's content, copied into kernel folios.
    Write(Data),
    /// `bio_iov_iter_bounce_read()`: the device writes a kernel folio; the completion
    /// (`bio_iov_iter_unbounce()`) copies it into the pinned user pages and dirties them.
    Read,
}

/// Where a thread is inside its current statement.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Cont {
    /// At the start of statement `pc`.
    Start,
    /// A writeback pass (`writeback`, `fsync`, `msync`, `sync`).
    Writeback(Wb),
    /// Sleeping until the O_DIRECT I/O completes. `done` once the device task finished;
    /// `release` holds the pages a `fs/direct-io.c` read dirties and releases in task context.
    DioWait { done: bool, release: Option<Pinned>, error: Option<Errno> },
    /// `process_vm_rw_pages()` between pinning the target page and copying into it.
    RemoteWrite { pinned: Pinned, tag: Tag },
    /// A truncate, punch or fallocate waiting for its file's layout leases to go (or for
    /// `waited` to reach the lease-break time, then revoking them) and, on DAX, for the file's
    /// pages to be idle (`dax_layout_busy_page()`); it holds no lock while it waits.
    LayoutWait { waited: u8 },
}

#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Task {
    pub kind: TaskKind,
    /// The statement a thread is at.
    pub pc: u8,
    pub cont: Cont,
    pub done: bool,
}

// A hand-written `Clone` so that `clone_from`, which the explorers call for every task of
// every world they copy (`World::clone_from`), copies a thread at the start of a statement
// without going through the enums' derived clone and drop.
impl Clone for Task {
    fn clone(&self) -> Task {
        let Task { kind, pc, cont, done } = self;
        Task { kind: kind.clone(), pc: *pc, cont: cont.clone(), done: *done }
    }

    fn clone_from(&mut self, source: &Task) {
        let Task { kind, pc, cont, done } = self;
        match (&mut *kind, &source.kind) {
            (TaskKind::Thread { thread }, TaskKind::Thread { thread: from }) => *thread = *from,
            (kind, from) => *kind = from.clone(),
        }
        *pc = source.pc;
        match (&mut *cont, &source.cont) {
            (Cont::Start, Cont::Start) => {}
            (Cont::Writeback(wb), Cont::Writeback(from)) => wb.clone_from(from),
            (cont, from) => *cont = from.clone(),
        }
        *done = source.done;
    }
}

// A hand-written `Hash`, as for the small structs of `world.rs`: a fingerprint hashes every
// task of every world, most of them threads at the start of a statement or bios, and the
// derived one writes each field and discriminant apart. Here one word holds the variants, the
// statement and the small fields (each in its own bits, so equal words mean equal fields);
// what follows it is fixed by the variants.
impl std::hash::Hash for Task {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let Task { kind, pc, cont: whole, done } = self;
        let cont = match whole {
            Cont::Start => 0u64,
            Cont::Writeback(_) => 1,
            Cont::LayoutWait { .. } => 2,
            Cont::DioWait { .. } => 3,
            Cont::RemoteWrite { .. } => 4,
        };
        let head = cont << 3 | (*pc as u64) << 8 | (*done as u64) << 16;
        let opt = |d: Option<Data>| pack_option(d, pack_data) as u128;
        match kind {
            TaskKind::Thread { thread } => h.write_u64(head | (*thread as u64) << 24),
            TaskKind::Bio { file, index, folio, block, csum, bounce, cow } => {
                h.write_u64(
                    head | 1
                        | (file.0 as u64) << 24
                        | (*index as u64) << 32
                        | (*cow as u64) << 40
                        | (folio.0 as u64) << 48,
                );
                h.write_u128(block.0 as u128 | opt(*csum) << 16 | opt(*bounce) << 66);
            }
            TaskKind::Fixup { file, index, folio } => h.write_u64(
                head | 2 | (file.0 as u64) << 24 | (*index as u64) << 32 | (folio.0 as u64) << 40,
            ),
            kind @ (TaskKind::Dio { .. } | TaskKind::DirtyWork { .. }) => {
                h.write_u64(head | 3);
                kind.hash(h);
            }
        }
        if cont != 0 {
            whole.hash(h);
        }
    }
}

impl Task {
    pub fn new(kind: TaskKind) -> Task {
        Task { kind, pc: 0, cont: Cont::Start, done: false }
    }

    pub fn is_thread(&self) -> bool {
        matches!(self.kind, TaskKind::Thread { .. })
    }

    /// An order on asynchronous tasks that does not depend on when they were queued, so that
    /// equal sets of pending work give equal states.
    pub fn sort_key(&self) -> (u8, u8, u8, u8) {
        match &self.kind {
            TaskKind::Thread { thread } => (0, *thread, 0, 0),
            TaskKind::Bio { file, index, .. } => (1, file.0, *index, 0),
            TaskKind::Dio { thread, pc, .. } => (2, *thread, *pc, 0),
            TaskKind::DirtyWork { thread, pc, .. } => (3, *thread, *pc, 0),
            TaskKind::Fixup { file, index, .. } => (4, file.0, *index, 0),
        }
    }

    /// The task's name in schedules: the thread's name, or the queued work and who queued it.
    pub fn name(&self, thread_names: &[String], file_names: &dyn Fn(FileId) -> String) -> String {
        match &self.kind {
            TaskKind::Thread { thread } => thread_names[*thread as usize].clone(),
            TaskKind::Bio { file, index, .. } => format!("bio:{}[{}]", file_names(*file), index),
            TaskKind::Dio { thread, pc, read, .. } => {
                format!(
                    "{}:{}.{}",
                    if *read { "dio-read" } else { "dio-write" },
                    thread_names[*thread as usize],
                    pc + 1
                )
            }
            TaskKind::DirtyWork { thread, pc, .. } => {
                format!("bio_dirty_work:{}.{}", thread_names[*thread as usize], pc + 1)
            }
            TaskKind::Fixup { file, index, .. } => {
                format!("btrfs_fixup:{}[{}]", file_names(*file), index)
            }
        }
    }
}
