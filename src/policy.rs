//! Policies: the knobs that distinguish kernel releases and proposed designs, and the presets of
//! shared/KERNEL.md §5.
//!
//! A knob selects a code path, not just a flag (KERNEL.md §6): `DioPath::Legacy` is
//! `fs/direct-io.c`, `DioPath::Iomap` is `fs/iomap/direct-io.c`. Presets `linux-4.14` and `lease`
//! need DAX and layout leases, which the model does not have yet; asking for them is an error
//! that says so.

use serde::Serialize;
use std::fmt;

/// How a GUP user takes its reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GupKind {
    /// `get_user_pages*()`: +1 on the refcount, indistinguishable from any other reference.
    FollGet,
    /// `pin_user_pages*()` (5.6+): +`GUP_PIN_COUNTING_BIAS`, visible to `folio_maybe_dma_pinned()`.
    FollPin,
}

/// Which O_DIRECT implementation ext4 uses (XFS used iomap in every modeled release).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DioPath {
    /// `fs/direct-io.c` (ext4 before 5.5): a synchronous read dirties the pages in
    /// `dio_bio_complete()`, after the DMA, in the reading task.
    Legacy,
    /// `fs/iomap/direct-io.c`: `bio_set_pages_dirty()` before the I/O, `bio_check_pages_dirty()`
    /// at completion, which defers the re-dirtying of pages found clean to `bio_dirty_work`.
    Iomap,
}

/// What ext4 writeback does with a dirty page that has no buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NoBuffersWriteback {
    /// `BUG()` via `page_buffers()` in `mpage_prepare_extent_to_map()` (before 5.18).
    Bug,
    /// `ext4_warning_inode()` and `folio_clear_dirty()`: the data is dropped (cc5095747edf, 5.18).
    WarnDrop,
}

/// Writeback of a folio that `folio_maybe_dma_pinned()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PinnedWriteback {
    /// Mainline: written and cleaned like any other folio.
    Normal,
    /// Jan Kara's design as his Oct 2018 mail states it: periodic writeback skips it,
    /// integrity writeback writes a bounce copy, and the folio stays dirty while pinned. As in
    /// his RFC, `folio_mkclean()` write-protects the folio before the pinned check, so a later
    /// CPU store faults and goes through `->page_mkwrite` again.
    Bounce,
    /// Jan Kara's RFC as posted ("Writeback handling of pinned pages", 2023-02-09, patches 3
    /// and 5 of 5, not merged): `folio_clear_dirty_for_io(wbc, folio)` runs `folio_mkclean()`,
    /// then returns false for a pinned folio under WB_SYNC_NONE (skipped, stays dirty); under
    /// WB_SYNC_ALL the folio is cleaned and written like any other, from a bounce page only
    /// when iomap writes it to a `SB_I_STABLE_WRITES` filesystem (`BIO_NEED_PIN_BOUNCE` in
    /// `iomap_add_to_ioend()`): xfs on a stable-writes device here. The folio does not stay
    /// dirty while pinned.
    Kara2023,
}

/// A writable FOLL_LONGTERM pin of a shared mapping of a dirty-tracked file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LongtermWritableFile {
    Allowed,
    /// `check_vma_flags()` → `writable_file_mapping_allowed()` (6.5+).
    Efault,
    /// The lease design: allowed while the pinner holds a layout lease on the file, else EPERM
    /// (EPERM is this model's choice: no kernel ever had it).
    NeedLease,
}

/// A FOLL_LONGTERM pin of a filesystem-DAX mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LongtermFsdax {
    /// Before `get_user_pages_longterm()` (2bb6d2837083, 4.15).
    Allowed,
    /// `check_vma_flags()`: `FOLL_LONGTERM && vma_is_fsdax()` → -EOPNOTSUPP (4.15+).
    Eopnotsupp,
    /// The lease design: allowed under a layout lease, else EPERM.
    NeedLease,
}

/// A protective mechanism switched off on purpose (`--mutate`), to check that the checker
/// notices: a checker that cannot find injected bugs cannot be trusted. Each names the kernel
/// code it removes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mutation {
    /// `shrink_folio_list()` forgets `folio_maybe_dma_pinned()` (d824ec2a1546).
    ReclaimPinCheck,
    /// FOLL_PIN adds 1 instead of `GUP_PIN_COUNTING_BIAS`: pins look like plain references.
    PinCounting,
    /// `check_vma_flags()` allows every long-term pin (no EFAULT, EOPNOTSUPP or lease check).
    LongtermCheck,
    /// GUP pins what the page table maps without write-faulting it (no software prefault, so no
    /// `->page_mkwrite`).
    SoftwarePrefault,
    /// The bounce design cleans a pinned folio after writing its copy.
    KeepDirty,
    /// The bounce design writes the live page instead of a copy.
    BounceCopy,
    /// The bounce design's periodic writeback does not skip pinned folios.
    PeriodicSkip,
    /// fsync's `blkdev_issue_flush()` does nothing: completed writes stay volatile.
    FsyncFlush,
    /// CPU writers do not wait for stable pages (`folio_wait_stable()`).
    StableWait,
    /// Truncate and punch on DAX do not wait for pinned pages (`dax_layout_busy_page()`).
    DaxBusyWait,
    /// Layout changes do not break layout leases.
    LeaseBreak,
    /// The MMU notifiers do not invalidate ODP device mappings.
    OdpInvalidate,
}

impl Mutation {
    pub const ALL: [Mutation; 12] = [
        Mutation::ReclaimPinCheck,
        Mutation::PinCounting,
        Mutation::LongtermCheck,
        Mutation::SoftwarePrefault,
        Mutation::KeepDirty,
        Mutation::BounceCopy,
        Mutation::PeriodicSkip,
        Mutation::FsyncFlush,
        Mutation::StableWait,
        Mutation::DaxBusyWait,
        Mutation::LeaseBreak,
        Mutation::OdpInvalidate,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mutation::ReclaimPinCheck => "reclaim-pin-check",
            Mutation::PinCounting => "pin-counting",
            Mutation::LongtermCheck => "longterm-check",
            Mutation::SoftwarePrefault => "software-prefault",
            Mutation::KeepDirty => "keep-dirty",
            Mutation::BounceCopy => "bounce-copy",
            Mutation::PeriodicSkip => "periodic-skip",
            Mutation::FsyncFlush => "fsync-flush",
            Mutation::StableWait => "stable-wait",
            Mutation::DaxBusyWait => "dax-busy-wait",
            Mutation::LeaseBreak => "lease-break",
            Mutation::OdpInvalidate => "odp-invalidate",
        }
    }

    pub fn by_name(name: &str) -> Result<Mutation, String> {
        Mutation::ALL.into_iter().find(|m| m.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
            format!("unknown mutation `{name}`; available: {}", names.join(", "))
        })
    }
}

/// The knobs. Every preset sets every knob.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Policy {
    /// The preset's name, or the spec it was composed from (`linux-6.18+knob=value`).
    pub name: String,
    pub summary: &'static str,
    /// RDMA registrations and `pin` use FOLL_PIN or (before 5.6) FOLL_GET.
    pub gup_pin: GupKind,
    /// O_DIRECT buffers: FOLL_GET before the `iov_iter_extract_pages()` conversion (~6.3-6.5).
    pub gup_dio: GupKind,
    /// ext4's O_DIRECT implementation.
    pub ext4_dio: DioPath,
    pub ext4_no_buffers: NoBuffersWriteback,
    /// `shrink_folio_list()` releases private data of pinned folios (before d824ec2a1546, 6.4).
    pub reclaim_strips_pinned: bool,
    /// `shrink_active_list()` with `buffer_heads_over_limit` releases buffers of pinned folios.
    pub reclaim_active_strips_pinned: bool,
    pub pinned_writeback: PinnedWriteback,
    pub longterm_writable_file: LongtermWritableFile,
    pub longterm_fsdax: LongtermFsdax,
    /// Truncate and punch on DAX wait for pinned pages: `dax_layout_busy_page()` (4.18+).
    pub dax_truncate_waits: bool,
    /// User-visible layout leases (`lease FILE layout`): only the lease design has them; the
    /// presets without return EINVAL, as `fcntl(F_SETLEASE)` with an unknown lease type would.
    pub layout_leases: bool,
    /// Steps other tasks may take after a layout lease is broken before the kernel revokes it
    /// (the model's `/proc/sys/fs/lease-break-time`).
    pub lease_break_steps: u8,
    /// btrfs sends O_DIRECT writes of checksummed files through the page cache
    /// (968f19c5b1b7, 6.15 (likely; 6.12.77 stable)): the buffer is copied before checksumming.
    pub btrfs_dio_buffered: bool,
    /// `ib_umem_get()` pins a read-only MR with FOLL_WRITE|FOLL_FORCE (before "RDMA/umem: remove
    /// FOLL_FORCE usage", 6.2): the pin write-faults the page although the MR is read-only.
    pub umem_readonly_force: bool,
    /// A failed page-cache invalidation after an O_DIRECT write: `WARN_ON_ONCE()` and nothing
    /// reported (4.14-4.19, likely), or `dio_warn_stale_pagecache()`: `pr_crit()` and
    /// `errseq_set(&mapping->wb_err, -EIO)` (5a9d929d6e13, 4.20).
    pub dio_stale_pagecache_eio: bool,
    /// `invalidate_inode_page()` (drop_caches) skips folios with extra references before
    /// releasing their private data (e41c81d0d30e, 5.18, likely); before, it checked only dirty,
    /// writeback and mapped, and stripped the buffers of pinned folios.
    pub drop_caches_skips_referenced: bool,
    /// `get_user_pages*()` with FOLL_LONGTERM (without FOLL_PIN) is refused with a warning and
    /// -EINVAL: `is_valid_gup_flags()`, Barry Song's "mm/gup: don't permit users to call
    /// get_user_pages with FOLL_LONGTERM" (447f3e45c18a, 5.10), in `get_user_pages()`,
    /// `get_user_pages_remote()` and `get_user_pages_fast()`; the check became part of
    /// `is_valid_gup_args()` in 6.3. Era: 5.10 and later (false up to 5.9).
    pub longterm_requires_pin: bool,
    /// A mechanism switched off to test the checker (`--mutate`); `None` in every preset.
    pub mutation: Option<Mutation>,
    /// btrfs writeback of a folio dirtied without a reservation redirties it and skips it until
    /// the fix-up worker ran (5.6+, likely); before, the folio was left clean and the worker
    /// found nothing to do: the data was silently never written (likely, kernel-facts Q23).
    pub btrfs_fixup_redirties: bool,
    /// ext4's writeback completion records the bio's own errno on the mapping
    /// (`ext4_finish_bio()`: `mapping_set_error(folio->mapping, blk_status_to_errno(...))`,
    /// "ext4: Convert ext4_finish_bio() to use folios", ext4 pull for 6.4); before, always -EIO.
    /// It decides what fsync reports when a stable-writes device rejects a write: EIO or EILSEQ.
    pub ext4_wb_bio_errno: bool,
    /// `dax_layout_busy_page_range()` returns at once when no process maps the file, pins or not
    /// (4.18 to 6.14; removed by "fs/dax: Return unmapped busy pages from
    /// dax_layout_busy_page_range()", 6.15, likely).
    pub dax_busy_skips_unmapped: bool,
    /// `btrfs_sync_file()` turns every ranged fsync/msync into a whole-file one (`start = 0;
    /// end = LLONG_MAX`): always since Filipe Manana's "btrfs: make fast fsyncs wait only for
    /// writeback" (5.10, posted 2020-08-11), and before it whenever the filesystem lacks the
    /// NO_HOLES feature, which mkfs.btrfs did not enable by default in the 4.14-4.19 era
    /// (likely: btrfs-progs made it default in 5.15). So every modeled preset has it.
    pub btrfs_fsync_whole_file: bool,
    /// A design knob (writable-pins, not in any kernel): integrity writeback of a pinned folio
    /// that stays dirty (bounce) first takes the space reservation for the folio's *next* write,
    /// as `->page_mkwrite` would for a CPU writer, so the filesystem always holds a reservation
    /// for a folio a device can dirty. If none can be had, the folio is not written and the
    /// error (ENOSPC) is recorded for fsync. Answers Chinner's "the clean->dirty event has to be
    /// gated on gaining the space reservation" for writes no fault announces.
    pub pinned_rereserve: bool,
    /// A design knob (writable-pins): a writable FOLL_LONGTERM pin of a page of a copy-on-write
    /// filesystem (btrfs) reserves one block per page for the pin's lifetime (the pin fails with
    /// ENOSPC when there is none); writeback's re-reservation takes it first. Released at unpin
    /// or when truncate removes the page.
    pub pin_reserves_space: bool,
    /// A design knob (writable-pins, not in any kernel): FOLL_WRITE pins are counted per folio
    /// beside the pin count, so writeback can tell a folio only a reader pinned (an O_DIRECT
    /// write's source, a read-only MR) from one a device may dirty, and writes and cleans the
    /// former as if unpinned: no device can make it dirty behind the filesystem's back.
    pub write_pins_counted: bool,
    /// XFS O_DIRECT on a file whose mapping requires stable writes (`mapping_stable_writes()`:
    /// a T10-PI/DIX or other stable-writes block device) bounces the user buffer: a write copies
    /// it into kernel folios at submission (`bio_iov_iter_bounce()` under `IOMAP_DIO_BOUNCE`,
    /// so a later store into the buffer no longer changes what is written), a read lands in a
    /// kernel buffer and is copied into the (pinned) user pages, which are dirtied, at the
    /// completion that XFS runs from its ioend workqueue before read(2) returns. Christoph
    /// Hellwig, "xfs: use bounce buffering direct I/O when the device requires stable pages"
    /// (3373503df025), merged with the block and iomap helpers by 4adc13ed7c28
    /// (for-7.0/block-stable-pages-20260206): 7.0. XFS only in 7.0: ext4, the block device and
    /// btrfs (which bounces from 7.3, likely) do not.
    pub xfs_dio_bounce_stable_writes: bool,
    /// btrfs writeback of a folio dirtied without the filesystem's knowledge (no ordered flag)
    /// fails instead of queueing the fix-up worker: `btrfs_writepage_cow_fixup()` logs "is
    /// marked dirty without notifying the fs" and returns -EUCLEAN, `extent_writepage()` does
    /// `mapping_set_error()`: the folio is cleaned, its data dropped, and the next fsync returns
    /// EUCLEAN. Qu Wenruo's "btrfs: reject out-of-band dirty folios during writeback"
    /// (7ca3e84980ef, 6.15, likely), only `IS_ENABLED(CONFIG_BTRFS_EXPERIMENTAL)`: no preset
    /// sets it (distribution kernels do not enable EXPERIMENTAL). The fix-up worker itself is
    /// removed in the 7.1 cycle ("btrfs: remove the COW fixup mechanism", likely; 6.12.97).
    pub btrfs_oob_dirty_euclean: bool,
    /// A design knob (writable-pins): ext3's `->page_mkwrite` reserves a block for the page
    /// (delayed allocation at fault time) and writeback allocates from the reservation, so a
    /// store into a hole of a full filesystem gets SIGBUS instead of a page dirtied behind the
    /// filesystem's back. Jan Kara, "[PATCH 10/11] ext3: Implement delayed allocation on
    /// page_mkwrite time" (1245088797-29533-11-git-send-email-jack@suse.cz, 15 Jun 2009, not
    /// merged: "just reserve enough free blocks in page_mkwrite() and do the real allocation
    /// from writepage()"). fs/ext3 never had it and was removed in 4.3.
    pub ext3_mkwrite_reserves: bool,
    /// A design knob (writable-pins): after an O_DIRECT write, a cached folio that
    /// `invalidate_inode_pages2_range()` cannot drop because it is dirty gets the data just
    /// written copied into it (the direct write ordered after the store that dirtied it),
    /// instead of `dio_warn_stale_pagecache()` keeping stale data that writeback would put back
    /// over the direct write. The folio stays dirty, so writeback writes the same data again.
    /// Not in any kernel or posted patch (the model's proposal; OpenZFS's `update_pages()`
    /// keeps mmap'd pages coherent with writes the same way, likely). A folio under writeback
    /// is still reported as before.
    pub dio_write_refreshes_cache: bool,
    /// A design knob (writable-pins): truncate and punch on DAX wait for pinned pages at most
    /// the lease-break time (`lease_break_steps`), then fail with ETXTBSY instead of waiting
    /// forever for a pin no lease covers (a short-term pin cannot be revoked). ETXTBSY for a
    /// layout change of a file whose pages are pinned: Ira Weiny's "RDMA/FS DAX truncate
    /// proposal" (RFC, 20190606014544.8339-1-ira.weiny@intel.com, 2019; not merged; the errno
    /// recalled from the series, likely).
    pub dax_busy_etxtbsy: bool,
}

impl Policy {
    /// Whether `m` is switched off in this policy.
    pub fn mutated(&self, m: Mutation) -> bool {
        self.mutation == Some(m)
    }

    /// This policy with mechanism `m` switched off.
    pub fn with_mutation(&self, m: Mutation) -> Policy {
        let mut p = self.clone();
        p.mutation = Some(m);
        match m {
            Mutation::ReclaimPinCheck => p.reclaim_strips_pinned = true,
            Mutation::LongtermCheck => {
                p.longterm_writable_file = LongtermWritableFile::Allowed;
                p.longterm_fsdax = LongtermFsdax::Allowed;
            }
            Mutation::DaxBusyWait => p.dax_truncate_waits = false,
            _ => {}
        }
        p
    }

    /// The presets of KERNEL.md §5 that this model implements, in matrix order.
    pub fn presets() -> Vec<Policy> {
        vec![
            linux_4_14(),
            linux_4_19(),
            linux_5_10(),
            linux_5_15(),
            linux_5_18(),
            linux_6_1(),
            linux_6_6(),
            linux_6_12(),
            linux_6_18(),
            linux_7_0(),
            bounce(),
            lease(),
            kara_2023(),
            writable_pins(),
        ]
    }

    /// Looks a policy up by its spec: a preset name, optionally followed by knob overrides
    /// and a mutation, `PRESET[+KNOB=VALUE]...[~MUTATION]` (see [`Policy::parse`]). `Err` says
    /// why not, for the user.
    pub fn by_name(name: &str) -> Result<Policy, String> {
        Policy::parse(name)
    }

    /// A preset by its exact name.
    pub fn preset(name: &str) -> Result<Policy, String> {
        if let Some(p) = Policy::presets().into_iter().find(|p| p.name == name) {
            return Ok(p);
        }
        Err(format!("unknown policy `{name}`; available: {}", preset_names().join(", ")))
    }

    /// A design written as data: `BASE+KNOB=VALUE+KNOB=VALUE...`, then optionally `~MUTATION`
    /// (the names `--mutate` results are reported under, so every printed hint runs). The
    /// policy's name is the spec with its spaces removed.
    pub fn parse(spec: &str) -> Result<Policy, String> {
        let spec: String = spec.chars().filter(|c| !c.is_whitespace()).collect();
        let (design, mutation) = match spec.split_once('~') {
            Some((d, m)) => (d, Some(Mutation::by_name(m)?)),
            None => (spec.as_str(), None),
        };
        let mut parts = design.split('+');
        let mut p = Policy::preset(parts.next().unwrap_or(""))?;
        for part in parts {
            let (knob, value) = part.split_once('=').ok_or_else(|| {
                format!("`{part}` in policy `{spec}`: a knob override is KNOB=VALUE")
            })?;
            p.set_knob(knob, value)?;
        }
        p.name = design.to_string();
        Ok(match mutation {
            Some(m) => p.with_mutation(m),
            None => p,
        })
    }

    /// Sets one knob by its `pincheck policies` name; `Err` names the knobs or values allowed.
    pub fn set_knob(&mut self, knob: &str, value: &str) -> Result<(), String> {
        let k = KNOBS.iter().find(|k| k.name == knob).ok_or_else(|| {
            let names: Vec<&str> = KNOBS.iter().map(|k| k.name).collect();
            format!("unknown knob `{knob}`; knobs: {}", names.join(", "))
        })?;
        (k.set)(self, value)
            .map_err(|()| format!("knob `{knob}` takes {}, not `{value}`", k.values.join(" | ")))
    }

    /// The value of one knob, as `set_knob` takes it.
    pub fn knob(&self, knob: &str) -> Option<String> {
        KNOBS.iter().find(|k| k.name == knob).map(|k| (k.get)(self))
    }

    /// The knobs as (name, value) pairs, for `pincheck policies`; values as `set_knob` takes them.
    pub fn knobs(&self) -> Vec<(&'static str, String)> {
        KNOBS.iter().map(|k| (k.name, (k.get)(self))).collect()
    }
}

pub fn preset_names() -> Vec<String> {
    Policy::presets().into_iter().map(|p| p.name).collect()
}

/// Resolves a `--policy` argument: comma-separated names or `all`.
pub fn resolve_list(arg: &str) -> Result<Vec<Policy>, String> {
    if arg == "all" {
        return Ok(Policy::presets());
    }
    // Only here, a list of policies, is `all` a name: not in `expect` lines, `replay` or
    // `export`, whose unknown-preset error does not offer it.
    let offer_all = |e: String| if e.starts_with("unknown policy") { e + ", or `all`" } else { e };
    arg.split(',').map(|name| Policy::parse(name.trim()).map_err(offer_all)).collect()
}

/// A policy file (`--policy-file`): `#` comments, one `base PRESET` line, optionally a
/// `name NAME` line (the default is the file's stem), and `KNOB = VALUE` lines. Errors are
/// `file:line:col` diagnostics.
pub fn parse_file(path: &str, text: &str) -> Result<Policy, crate::scenario::Diag> {
    use crate::scenario::{Diag, Span};
    let at = |line: usize, col: usize, m: String| {
        Diag::at(path, text, Span { line: line as u32, col: col as u32 }, m)
    };
    let mut policy: Option<Policy> = None;
    let mut name: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("");
        let col = line.len() - line.trim_start().len() + 1;
        let body = line.trim();
        if body.is_empty() {
            continue;
        }
        if let Some(rest) = body.strip_prefix("base ") {
            if policy.is_some() {
                return Err(at(i + 1, col, "a second `base` line".into()));
            }
            policy = Some(Policy::preset(rest.trim()).map_err(|m| at(i + 1, col + 5, m))?);
        } else if let Some(rest) = body.strip_prefix("name ") {
            name = Some(rest.trim().to_string());
        } else if let Some((k, v)) = body.split_once('=') {
            let p = policy
                .as_mut()
                .ok_or_else(|| at(i + 1, col, "a knob before the `base PRESET` line".into()))?;
            let vcol = col + body.find('=').unwrap_or(0) + 1;
            let vcol = vcol + (body.len() - body.find('=').unwrap_or(0) - 1 - v.trim_start().len());
            p.set_knob(k.trim(), v.trim()).map_err(|m| {
                let c = if m.starts_with("unknown knob") { col } else { vcol };
                at(i + 1, c, m)
            })?;
        } else {
            return Err(at(
                i + 1,
                col,
                "expected `base PRESET`, `name NAME` or `KNOB = VALUE`".into(),
            ));
        }
    }
    let mut p = policy.ok_or_else(|| at(1, 1, "no `base PRESET` line".into()))?;
    p.name = name.unwrap_or_else(|| {
        std::path::Path::new(path)
            .file_stem()
            .map_or("policy-file".into(), |s| s.to_string_lossy().into_owned())
    });
    Ok(p)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn parse_yes_no(v: &str) -> Result<bool, ()> {
    match v {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err(()),
    }
}

/// A knob of the design space: its name in `pincheck policies` and policy specs, a one-line
/// description with the kernel source or mail it comes from, the values it takes, and how to
/// read and write it.
pub struct Knob {
    pub name: &'static str,
    pub about: &'static str,
    pub values: &'static [&'static str],
    pub get: fn(&Policy) -> String,
    pub set: fn(&mut Policy, &str) -> Result<(), ()>,
}

/// Declares a knob whose values are the variants of an enum, by their spec tokens.
macro_rules! enum_knob {
    ($name:expr, $about:expr, $field:ident, { $($variant:path => $token:expr),* $(,)? }) => {
        Knob {
            name: $name,
            about: $about,
            values: &[$($token),*],
            get: |p| match p.$field { $($variant => $token),* }.to_string(),
            set: |p, v| {
                p.$field = match v { $($token => $variant,)* _ => return Err(()) };
                Ok(())
            },
        }
    };
}

/// Declares a yes/no knob.
macro_rules! bool_knob {
    ($name:expr, $about:expr, $field:ident) => {
        Knob {
            name: $name,
            about: $about,
            values: &["yes", "no"],
            get: |p| yes_no(p.$field),
            set: |p, v| {
                p.$field = parse_yes_no(v)?;
                Ok(())
            },
        }
    };
}

/// Every knob, in `pincheck policies` order.
pub static KNOBS: &[Knob] = &[
    enum_knob!("rdma-and-pin", "how RDMA registrations and `pin` take references: FOLL_GET, or FOLL_PIN (pin_user_pages(), 5.6)", gup_pin, {
        GupKind::FollGet => "foll-get", GupKind::FollPin => "foll-pin" }),
    enum_knob!("o-direct", "how O_DIRECT takes its buffers: FOLL_GET, or FOLL_PIN (iov_iter_extract_pages(), 6.5)", gup_dio, {
        GupKind::FollGet => "foll-get", GupKind::FollPin => "foll-pin" }),
    enum_knob!("ext4-o-direct-path", "ext4's O_DIRECT: fs/direct-io.c, or iomap (5.5)", ext4_dio, {
        DioPath::Legacy => "legacy", DioPath::Iomap => "iomap" }),
    enum_knob!("ext4-writeback-without-buffers", "ext4 writeback of a dirty folio without buffers: BUG() in page_buffers(), or warn and drop (cc5095747edf, 5.18)", ext4_no_buffers, {
        NoBuffersWriteback::Bug => "bug", NoBuffersWriteback::WarnDrop => "warn-drop" }),
    bool_knob!("reclaim-strips-pinned", "shrink_folio_list() releases private data of pinned folios (until d824ec2a1546, 6.4)", reclaim_strips_pinned),
    bool_knob!("reclaim-active-strips-pinned", "shrink_active_list() with buffer_heads_over_limit releases buffers of pinned folios (mainline; Kara's RFC 2023 stops it)", reclaim_active_strips_pinned),
    enum_knob!("pinned-writeback", "writeback of a pinned folio: normal; bounce (Kara's Oct 2018 mail: write-protect, periodic skips, integrity writes a copy, stays dirty while pinned); kara-2023 (his RFC 20230209121046.25360-1-jack@suse.cz as posted: write-protect, periodic skips, integrity cleans and writes, bounce only for iomap on stable-writes)", pinned_writeback, {
        PinnedWriteback::Normal => "normal", PinnedWriteback::Bounce => "bounce",
        PinnedWriteback::Kara2023 => "kara-2023" }),
    enum_knob!("longterm-writable-file-pin", "writable FOLL_LONGTERM pin of a dirty-tracked shared file mapping: allowed, EFAULT (writable_file_mapping_allowed(), 6.5), or only under a layout lease", longterm_writable_file, {
        LongtermWritableFile::Allowed => "allowed", LongtermWritableFile::Efault => "efault",
        LongtermWritableFile::NeedLease => "need-lease" }),
    enum_knob!("longterm-fsdax-pin", "FOLL_LONGTERM pin of an fs-DAX mapping: allowed, EOPNOTSUPP (check_vma_flags(), 4.15), or only under a layout lease", longterm_fsdax, {
        LongtermFsdax::Allowed => "allowed", LongtermFsdax::Eopnotsupp => "eopnotsupp",
        LongtermFsdax::NeedLease => "need-lease" }),
    bool_knob!("dax-truncate-waits-for-pins", "truncate and punch on DAX wait for pinned pages: dax_layout_busy_page() (4.18)", dax_truncate_waits),
    bool_knob!("layout-leases", "user-visible layout leases that layout changes break (Chinner 2018, MAP_DIRECT 2017; never merged)", layout_leases),
    Knob {
        name: "lease-break-steps",
        about: "steps other tasks may take after a layout lease is broken before it is revoked (/proc/sys/fs/lease-break-time)",
        values: &["0..255"],
        get: |p| p.lease_break_steps.to_string(),
        set: |p, v| {
            p.lease_break_steps = v.parse().map_err(|_| ())?;
            Ok(())
        },
    },
    bool_knob!("btrfs-o-direct-buffered-fallback", "btrfs sends O_DIRECT writes of checksummed files through the page cache (968f19c5b1b7, 6.15)", btrfs_dio_buffered),
    bool_knob!("rdma-readonly-mr-foll-force", "ib_umem_get() pins a read-only MR with FOLL_WRITE|FOLL_FORCE (until \"RDMA/umem: remove FOLL_FORCE usage\", 6.2)", umem_readonly_force),
    bool_knob!("dio-stale-pagecache-eio", "a failed invalidation after an O_DIRECT write reports EIO through wb_err: dio_warn_stale_pagecache() (5a9d929d6e13, 4.20)", dio_stale_pagecache_eio),
    bool_knob!("drop-caches-skips-referenced", "drop_caches skips folios with extra references before releasing private data (e41c81d0d30e, 5.18)", drop_caches_skips_referenced),
    bool_knob!("longterm-requires-foll-pin", "FOLL_LONGTERM without FOLL_PIN is refused with a WARN and EINVAL: is_valid_gup_flags() (447f3e45c18a, 5.10), is_valid_gup_args() from 6.3 (mm/gup.c)", longterm_requires_pin),
    bool_knob!("btrfs-fixup-redirties", "btrfs writeback of a folio dirtied without a reservation redirties it for the fix-up worker (5.6)", btrfs_fixup_redirties),
    bool_knob!("ext4-writeback-error-bio-errno", "ext4 writeback completion records the bio's errno (EILSEQ for a T10-PI rejection) on the mapping instead of EIO: ext4_finish_bio() (6.4)", ext4_wb_bio_errno),
    bool_knob!("dax-busy-skips-unmapped-files", "dax_layout_busy_page_range() returns at once when no process maps the file (4.18 to 6.14)", dax_busy_skips_unmapped),
    bool_knob!("btrfs-fsync-whole-file", "btrfs_sync_file() syncs the whole file whatever range fsync/msync asked (start = 0; end = LLONG_MAX: Manana, \"btrfs: make fast fsyncs wait only for writeback\", 5.10; before, without NO_HOLES)", btrfs_fsync_whole_file),
    bool_knob!("pinned-writeback-rereserves", "design (writable-pins): integrity writeback of a pinned folio takes the reservation for its next write before writing it, else leaves it dirty and records ENOSPC (Chinner, 20230215045952.GF2825702@dread.disaster.area: the clean->dirty event gated on a reservation)", pinned_rereserve),
    bool_knob!("longterm-pin-reserves-cow-space", "design (writable-pins): a writable long-term pin of a btrfs page reserves a block per page for the pin's lifetime, else ENOSPC (Hellwig, Feb 2023: \"every time we write this copy it needs space allocated for COW file systems\")", pin_reserves_space),
    bool_knob!("write-pins-counted", "design (writable-pins): FOLL_WRITE pins are counted per folio beside GUP_PIN_COUNTING_BIAS (try_grab_folio()/gup_put_folio()), so writeback writes and cleans a folio pinned only for reading as if unpinned (not in any kernel: folio_maybe_dma_pinned() cannot tell)", write_pins_counted),
    bool_knob!("xfs-o-direct-bounce", "XFS O_DIRECT on a stable-writes device copies the user buffer (IOMAP_DIO_BOUNCE: 3373503df025, 7.0)", xfs_dio_bounce_stable_writes),
    bool_knob!("ext3-page-mkwrite-reserves", "design (writable-pins): ext3's ->page_mkwrite reserves a block, writeback allocates from it; ENOSPC is SIGBUS at the store (Kara, \"ext3: Implement delayed allocation on page_mkwrite time\", Jun 2009, not merged)", ext3_mkwrite_reserves),
    bool_knob!("dio-write-refreshes-cache", "design (writable-pins): after an O_DIRECT write, a dirty cached folio invalidation cannot drop gets the written data copied in instead of dio_warn_stale_pagecache() (not in any kernel; OpenZFS update_pages() does so for mmap)", dio_write_refreshes_cache),
    bool_knob!("dax-busy-wait-etxtbsy", "design (writable-pins): truncate/punch waits for pinned DAX pages at most the lease-break time, then fails with ETXTBSY (Weiny, \"RDMA/FS DAX truncate proposal\", RFC 2019)", dax_busy_etxtbsy),
    bool_knob!("btrfs-out-of-band-dirty-euclean", "btrfs writeback of a folio dirtied behind its back fails with EUCLEAN instead of the fix-up worker (7ca3e84980ef, CONFIG_BTRFS_EXPERIMENTAL only; no preset)", btrfs_oob_dirty_euclean),
];

fn linux_4_14() -> Policy {
    Policy {
        name: "linux-4.14".into(),
        summary:
            "mainline 4.14: FOLL_GET everywhere, long-term pins of fsdax allowed, DAX truncate \
                  does not wait for pins",
        gup_pin: GupKind::FollGet,
        gup_dio: GupKind::FollGet,
        ext4_dio: DioPath::Legacy,
        ext4_no_buffers: NoBuffersWriteback::Bug,
        reclaim_strips_pinned: true,
        reclaim_active_strips_pinned: true,
        pinned_writeback: PinnedWriteback::Normal,
        longterm_writable_file: LongtermWritableFile::Allowed,
        // 4.14 predates get_user_pages_longterm() (4.15; it went to 4.14.y stable later).
        longterm_fsdax: LongtermFsdax::Allowed,
        dax_truncate_waits: false,
        layout_leases: false,
        lease_break_steps: 8,
        btrfs_dio_buffered: false,
        umem_readonly_force: true,
        dio_stale_pagecache_eio: false,
        drop_caches_skips_referenced: false,
        longterm_requires_pin: false,
        mutation: None,
        btrfs_fixup_redirties: false,
        ext4_wb_bio_errno: false,
        dax_busy_skips_unmapped: true,
        btrfs_fsync_whole_file: true, // without NO_HOLES, the mkfs default of the era (likely)
        pinned_rereserve: false,
        pin_reserves_space: false,
        write_pins_counted: false,
        xfs_dio_bounce_stable_writes: false,
        btrfs_oob_dirty_euclean: false,
        ext3_mkwrite_reserves: false,
        dio_write_refreshes_cache: false,
        dax_busy_etxtbsy: false,
    }
}

/// Each later preset is written as its predecessor plus what changed, like a changelog.
fn linux_4_19() -> Policy {
    Policy {
        name: "linux-4.19".into(),
        summary: "mainline 4.19: FOLL_GET everywhere, ext4 BUG on dirty pages without buffers, \
                  fsdax long-term pins refused, DAX truncate waits for pins",
        longterm_fsdax: LongtermFsdax::Eopnotsupp,
        dax_truncate_waits: true, // dax_layout_busy_page(), 4.18
        ..linux_4_14()
    }
}

/// Each `linux-X.Y` preset models mainline X.Y as released (X.Y.0), not the stable series that
/// grew from it: a fix later backported to X.Y.z (cc5095747edf to 4.14.y, 968f19c5b1b7 to
/// 6.12.77, the btrfs fix-up removal to 6.12.97) is not in the preset (docs/kernel-facts.md,
/// Part 7).
fn linux_5_10() -> Policy {
    Policy {
        name: "linux-5.10".into(),
        summary: "mainline 5.10 (LTS): FOLL_PIN for RDMA, FOLL_GET for O_DIRECT (iomap), ext4 BUG \
                  on dirty pages without buffers, FOLL_LONGTERM needs FOLL_PIN",
        gup_pin: GupKind::FollPin,     // pin_user_pages*(), 5.6
        ext4_dio: DioPath::Iomap,      // ext4 O_DIRECT on iomap, 5.5
        dio_stale_pagecache_eio: true, // dio_warn_stale_pagecache(), 4.20
        btrfs_fixup_redirties: true,   // 25f3c5021985, the btrfs fix-up rework, 5.6 (likely)
        longterm_requires_pin: true,   // is_valid_gup_flags(), 447f3e45c18a, 5.10
        ..linux_4_19()
    }
}

fn linux_5_15() -> Policy {
    Policy {
        name: "linux-5.15".into(),
        summary: "mainline 5.15 (LTS): as 5.10; no knob of the model changed between them",
        ..linux_5_10()
    }
}

fn linux_5_18() -> Policy {
    Policy {
        name: "linux-5.18".into(),
        summary: "mainline 5.18: FOLL_PIN for RDMA, FOLL_GET for O_DIRECT (iomap), ext4 warns and \
                  drops",
        ext4_no_buffers: NoBuffersWriteback::WarnDrop, // cc5095747edf
        drop_caches_skips_referenced: true,            // e41c81d0d30e, 5.18
        ..linux_5_15()
    }
}

fn linux_6_1() -> Policy {
    Policy {
        name: "linux-6.1".into(),
        summary: "mainline 6.1 (LTS): as 5.18; reclaim still strips pinned folios, O_DIRECT still \
                  FOLL_GET, read-only MRs still FOLL_FORCE",
        ..linux_5_18()
    }
}

fn linux_6_6() -> Policy {
    Policy {
        name: "linux-6.6".into(),
        summary: "mainline 6.6 (LTS): FOLL_PIN everywhere, reclaim skips pinned folios, writable \
                  long-term pins of dirty-tracked files refused",
        umem_readonly_force: false, // "RDMA/umem: remove FOLL_FORCE usage", 6.2
        reclaim_strips_pinned: false, // d824ec2a1546, 6.4
        gup_dio: GupKind::FollPin,  // a7e689dd1c06 (iomap, block), 1ccf164ec866 (direct-io.c), 6.5
        longterm_writable_file: LongtermWritableFile::Efault, // writable_file_mapping_allowed(), 6.5
        ext4_wb_bio_errno: true, // ext4_finish_bio() folio conversion, 6.4
        ..linux_6_1()
    }
}

fn linux_6_12() -> Policy {
    Policy {
        name: "linux-6.12".into(),
        summary: "mainline 6.12 (LTS) as released: as 6.6 (the btrfs O_DIRECT fallback and the \
                  fix-up removal reached 6.12.y later, not 6.12.0)",
        ..linux_6_6()
    }
}

fn linux_6_18() -> Policy {
    Policy {
        name: "linux-6.18".into(),
        summary: "mainline 6.18: FOLL_PIN everywhere, reclaim skips pinned folios, writable \
                  long-term pins of dirty-tracked files refused",
        btrfs_dio_buffered: true, // 968f19c5b1b7, 6.15 (likely; 6.12.77 stable)
        dax_busy_skips_unmapped: false, // fs/dax: busy pages even when unmapped, 6.15
        ..linux_6_12()
    }
}

fn linux_7_0() -> Policy {
    Policy {
        name: "linux-7.0".into(),
        summary: "mainline 7.0: as 6.18, and XFS O_DIRECT on a stable-writes device copies the \
                  user buffer (IOMAP_DIO_BOUNCE)",
        xfs_dio_bounce_stable_writes: true, // 3373503df025, 4adc13ed7c28, 7.0
        ..linux_6_18()
    }
}

fn bounce() -> Policy {
    Policy {
        name: "bounce".into(),
        summary: "Jan Kara's design (2018/2023, not merged) on 6.18: pinned folios are skipped by \
                  periodic writeback, bounced by integrity writeback, kept dirty while pinned",
        reclaim_active_strips_pinned: false,
        pinned_writeback: PinnedWriteback::Bounce,
        longterm_writable_file: LongtermWritableFile::Allowed,
        ..linux_6_18()
    }
}

fn lease() -> Policy {
    Policy {
        name: "lease".into(),
        summary:
            "bounce plus breakable layout leases (Chinner 2018, Dan Williams' MAP_DIRECT 2017; \
                  not merged): long-term pins only under a lease, revoked after the break time",
        longterm_writable_file: LongtermWritableFile::NeedLease,
        longterm_fsdax: LongtermFsdax::NeedLease,
        layout_leases: true,
        ..bounce()
    }
}

/// Jan Kara's RFC of Feb 2023 as posted (20230209121046.25360-1-jack@suse.cz), on 6.18: patch 1
/// (reclaim keeps private data of pinned folios: merged as d824ec2a1546, already in 6.18, and
/// the active-list stripping stopped too, as `bounce`), patch 3 (mkclean, then skip pinned folios
/// in WB_SYNC_NONE), patch 5 (iomap bounces pinned folios on stable-writes filesystems). It
/// kept GUP as it was then: writable long-term pins of files allowed.
fn kara_2023() -> Policy {
    Policy {
        name: "kara-2023".into(),
        summary: "Jan Kara's RFC of Feb 2023 as posted (not merged) on 6.18: write-protect, skip \
                  pinned folios in periodic writeback, clean and write them at integrity \
                  writeback (bounced only by iomap on stable-writes devices)",
        pinned_writeback: PinnedWriteback::Kara2023,
        ..bounce()
    }
}

/// The design none has (issue 11): on 6.18, Kara's bounce (periodic writeback skips pinned
/// folios, integrity writeback writes a copy, the folio stays dirty while pinned), with the
/// filesystem's reservation for a pinned folio's next write made sure of before each integrity
/// write (Chinner's objection answered; on btrfs paid by the block the write replaces, at the
/// commit), a block reserved per btrfs page for a writable long-term pin's life (a hole has no
/// block to replace), FOLL_WRITE pins counted apart (a folio pinned only for reading is written
/// as usual), and layout leases for fs-DAX. Writable long-term pins of shared file mappings are
/// allowed without a lease. Each part has a catalogue scenario that breaks the design without it
/// (docs/design.md, "writable-pins"; `btrfs-rdma-hole-enospc` for the pin's reservation,
/// `btrfs-readonly-pin-enospc` for counted write pins). Not in it, because no scenario needs
/// it: bounce's active-list reclaim rule.
fn writable_pins() -> Policy {
    Policy {
        name: "writable-pins".into(),
        summary: "6.18 plus bounce, the reservation for a pinned folio's next write re-taken \
                  before each integrity write, COW space reserved per writable long-term pin, \
                  FOLL_WRITE pins counted apart, and layout leases for fs-DAX: writable \
                  long-term file pins allowed",
        pinned_writeback: PinnedWriteback::Bounce,
        pinned_rereserve: true,
        pin_reserves_space: true,
        write_pins_counted: true,
        longterm_writable_file: LongtermWritableFile::Allowed,
        longterm_fsdax: LongtermFsdax::NeedLease,
        layout_leases: true,
        ext3_mkwrite_reserves: true,
        dio_write_refreshes_cache: true,
        dax_busy_etxtbsy: true,
        ..linux_6_18()
    }
}

macro_rules! display_kebab {
    ($($ty:ty => { $($variant:path => $text:expr),* $(,)? })*) => {$(
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $($variant => $text),* })
            }
        }
    )*};
}

display_kebab! {
    GupKind => { GupKind::FollGet => "FOLL_GET", GupKind::FollPin => "FOLL_PIN" }
    DioPath => { DioPath::Legacy => "fs/direct-io.c", DioPath::Iomap => "iomap" }
    NoBuffersWriteback => { NoBuffersWriteback::Bug => "bug", NoBuffersWriteback::WarnDrop => "warn, drop" }
    PinnedWriteback => {
        PinnedWriteback::Normal => "normal",
        PinnedWriteback::Bounce => "periodic: skip; integrity: bounce copy; stays dirty while pinned",
        PinnedWriteback::Kara2023 => "periodic: skip; integrity: clean and write (bounce on iomap stable-writes)",
    }
    LongtermWritableFile => {
        LongtermWritableFile::Allowed => "allowed",
        LongtermWritableFile::Efault => "EFAULT",
        LongtermWritableFile::NeedLease => "allowed with a layout lease, else EPERM",
    }
    LongtermFsdax => {
        LongtermFsdax::Allowed => "allowed",
        LongtermFsdax::Eopnotsupp => "EOPNOTSUPP",
        LongtermFsdax::NeedLease => "allowed with a layout lease, else EPERM",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_match_kernel_md_table() {
        let p = Policy::by_name("linux-4.19").unwrap();
        assert_eq!((p.gup_pin, p.gup_dio), (GupKind::FollGet, GupKind::FollGet));
        let p = Policy::by_name("linux-5.18").unwrap();
        assert_eq!((p.gup_pin, p.gup_dio), (GupKind::FollPin, GupKind::FollGet));
        assert!(p.reclaim_strips_pinned);
        let p = Policy::by_name("linux-6.18").unwrap();
        assert!(!p.reclaim_strips_pinned && p.reclaim_active_strips_pinned);
        assert_eq!(p.longterm_writable_file, LongtermWritableFile::Efault);
        let p = Policy::by_name("bounce").unwrap();
        assert!(!p.reclaim_active_strips_pinned);
        assert_eq!(p.pinned_writeback, PinnedWriteback::Bounce);
    }

    #[test]
    fn dax_and_lease_knobs_match_kernel_md_table() {
        let p = Policy::by_name("linux-4.14").unwrap();
        assert_eq!((p.longterm_fsdax, p.dax_truncate_waits), (LongtermFsdax::Allowed, false));
        let p = Policy::by_name("linux-4.19").unwrap();
        assert_eq!((p.longterm_fsdax, p.dax_truncate_waits), (LongtermFsdax::Eopnotsupp, true));
        let p = Policy::by_name("lease").unwrap();
        assert!(p.layout_leases && p.pinned_writeback == PinnedWriteback::Bounce);
        assert_eq!(p.longterm_writable_file, LongtermWritableFile::NeedLease);
        assert_eq!(p.longterm_fsdax, LongtermFsdax::NeedLease);
        assert!(Policy::presets()
            .iter()
            .filter(|p| p.name != "lease" && p.name != "writable-pins")
            .all(|p| !p.layout_leases));
    }

    #[test]
    fn release_presets_follow_the_eras_of_their_knobs() {
        let p = |n: &str| Policy::by_name(n).unwrap();
        // 5.10/5.15: FOLL_PIN for RDMA, iomap ext4 O_DIRECT, but the ext4 BUG and drop_caches
        // stripping of 4.19.
        let q = p("linux-5.10");
        assert_eq!(
            (q.gup_pin, q.gup_dio, q.ext4_dio),
            (GupKind::FollPin, GupKind::FollGet, DioPath::Iomap)
        );
        assert_eq!(q.ext4_no_buffers, NoBuffersWriteback::Bug);
        assert!(!q.drop_caches_skips_referenced && q.longterm_requires_pin);
        // 6.1: as 5.18; 6.6: reclaim pin check (6.4), FOLL_PIN O_DIRECT and EFAULT (6.5).
        let q = p("linux-6.1");
        assert!(q.reclaim_strips_pinned && q.umem_readonly_force);
        assert_eq!(
            (q.gup_dio, q.longterm_writable_file),
            (GupKind::FollGet, LongtermWritableFile::Allowed)
        );
        let q = p("linux-6.6");
        assert!(!q.reclaim_strips_pinned && !q.umem_readonly_force);
        assert_eq!(
            (q.gup_dio, q.longterm_writable_file),
            (GupKind::FollPin, LongtermWritableFile::Efault)
        );
        // 6.12 as released: no 6.15 btrfs fallback, the DAX unmapped shortcut still there.
        let q = p("linux-6.12");
        assert!(!q.btrfs_dio_buffered && q.dax_busy_skips_unmapped);
        assert!(p("linux-7.0").xfs_dio_bounce_stable_writes);
        assert!(Policy::presets()
            .iter()
            .all(|q| q.name == "linux-7.0" || !q.xfs_dio_bounce_stable_writes));
        assert!(Policy::presets().iter().all(|q| !q.btrfs_oob_dirty_euclean));
    }

    /// Each knob of the release presets changes value at most once along the releases: a
    /// preset is its predecessor plus changes, and no change was undone.
    #[test]
    fn release_presets_change_each_knob_at_most_once() {
        let releases: Vec<Policy> =
            Policy::presets().into_iter().filter(|p| p.name.starts_with("linux-")).collect();
        let version = |p: &Policy| -> (u32, u32) {
            let (a, b) = p.name["linux-".len()..].split_once('.').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        };
        assert!(releases.windows(2).all(|w| version(&w[0]) < version(&w[1])), "release order");
        for k in KNOBS {
            let values: Vec<String> = releases.iter().map(|p| (k.get)(p)).collect();
            let changes = values.windows(2).filter(|w| w[0] != w[1]).count();
            assert!(changes <= 1, "{}: {values:?}", k.name);
        }
    }

    #[test]
    fn unknown_presets_are_refused_with_a_reason() {
        assert!(Policy::by_name("nope").unwrap_err().contains("unknown policy"));
        assert_eq!(resolve_list("all").unwrap().len(), Policy::presets().len());
        assert_eq!(resolve_list("bounce,linux-6.18").unwrap().len(), 2);
        // `all` is offered where it is a name (a `--policy` list), not for one policy.
        assert!(!Policy::by_name("all").unwrap_err().contains("or `all`"));
        assert!(resolve_list("bounce,nope").unwrap_err().ends_with("or `all`"));
        assert!(!resolve_list("linux-6.18+nope=1").unwrap_err().contains("or `all`"));
    }

    #[test]
    fn designs_are_presets_plus_knob_overrides() {
        let p = Policy::parse("linux-6.18+longterm-writable-file-pin=allowed").unwrap();
        assert_eq!(p.longterm_writable_file, LongtermWritableFile::Allowed);
        assert_eq!(p.name, "linux-6.18+longterm-writable-file-pin=allowed");
        let p = Policy::parse("bounce~pin-counting").unwrap();
        assert_eq!(p.mutation, Some(Mutation::PinCounting));
        assert!(Policy::parse("linux-6.18+nope=yes").unwrap_err().contains("unknown knob"));
        assert!(Policy::parse("linux-6.18+layout-leases=maybe").unwrap_err().contains("yes | no"));
        assert!(Policy::parse("linux-6.18+layout-leases").is_err());
        // Every knob's value reads back as it was written, under every preset.
        for p in Policy::presets() {
            for k in KNOBS {
                let mut q = p.clone();
                q.set_knob(k.name, &(k.get)(&p)).unwrap();
                assert_eq!(q, p, "{} {}", p.name, k.name);
            }
        }
    }

    #[test]
    fn policy_files_have_positions() {
        let p =
            parse_file("d.policy", "# mine\nbase linux-6.18\nreclaim-active-strips-pinned = no\n")
                .unwrap();
        assert_eq!((p.name.as_str(), p.reclaim_active_strips_pinned), ("d", false));
        let e = parse_file("d.policy", "base linux-6.18\nlayout-leases = perhaps\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 17));
        let e = parse_file("d.policy", "base linux-6.18\n  nope = yes\n").unwrap_err();
        assert_eq!((e.line, e.col), (2, 3));
        assert!(parse_file("d.policy", "layout-leases = yes\n").is_err());
    }
}
