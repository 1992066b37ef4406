//! Running a scenario on the host kernel (`pincheck check FILE --on host`): every thread is a
//! real thread, every operation a system call or a memory access, every `signal`/`wait` a
//! condition variable. The labels come from what the calls returned, from the disk read back
//! (the model's oracles over the writes the run accepted: `disk.rs`), from the kernel log
//! (`kmsg.rs`) and from the /proc/vmstat pin counters. docs/design.md §6 lists how each
//! operation is carried out and what the host cannot do.

use super::disk::{self, Content, Found, Oracle, Verdict, PAGE};
use super::fault::{clear_faults, forget_range, install_fault_handler, remember_range, took_fault};
use super::kmsg::{self, KernelLog};
use super::ring::Registration;
use super::{errno_name, is_root, pin_counters, ScratchFs};
use crate::scenario::{FileInit, FsKind, Name, Op, PageRange, Scenario, Stmt};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::ffi::CString;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

mod ops;

/// How long a `wait`, a handle not yet defined, or a scheduled turn may block before the run
/// counts as a `hang`.
pub const WAIT_LIMIT: Duration = Duration::from_secs(10);

/// How long no thread may finish a statement before pincheck concludes that a system call is
/// stuck in the kernel: it cannot be interrupted, so pincheck says where, detaches the scratch
/// filesystem and exits (code 2). pincheck's own waits end after [`WAIT_LIMIT`].
pub const STUCK_LIMIT: Duration = Duration::from_secs(60);

/// xfs and btrfs scenarios need this many free blocks (`disk` minus the files' blocks) to run
/// on the host: one free xfs block does not take a one-page delalloc write (its worst-case
/// bmbt reservation needs more).
const TIGHT_DISK: u32 = 4;

/// Why the host cannot run `sc`, if it cannot: the first reason found. The reasons that hold
/// on any machine ([`not_reproducible`]) first, then this machine's (root, io_uring).
pub fn not_runnable(sc: &Scenario) -> Option<String> {
    if let Some(why) = not_reproducible(sc) {
        return Some(why);
    }
    let kind = sc.fs.kind;
    if kind != FsKind::Tmpfs && !is_root() {
        return Some(format!("needs root: fs {} is an image loop-mounted on the fly", kind.name()));
    }
    let body = || sc.threads.iter().flat_map(|t| &t.body);
    if body().any(|st| matches!(st.op, Op::Pin { .. } | Op::RegMr { .. })) {
        if let Some(why) = super::ring::unavailable() {
            return Some(format!("pins are io_uring buffer registrations, and {why}"));
        }
    }
    if let Some(st) = body().find(|st| matches!(st.op, Op::DropCaches)) {
        if !is_root() {
            return Some(format!(
                "line {}: `drop-caches`: needs root: writes /proc/sys/vm/drop_caches",
                st.span.line
            ));
        }
    }
    None
}

/// Why `sc` cannot run as a program on any machine's kernel, if it cannot: what user space
/// cannot do (short-term, read-only or FOLL_GET pins, layout leases, ODP, bounded reclaim, a
/// power cut), what no ordinary machine has (DAX without pmem, ext3's historical driver, xfs
/// buffer heads, integrity-checking stable writes), and what the page pattern cannot carry.
/// Host runs (`not_runnable`) and exported C programs (`export::not_exportable`) share it.
pub fn not_reproducible(sc: &Scenario) -> Option<String> {
    let kind = sc.fs.kind;
    match kind {
        FsKind::Ext3 => {
            return Some("fs ext3: the model's ext3 is the historical driver, whose ->page_mkwrite allocates nothing; a kernel mounts ext3 with ext4's code (the ext3 driver left in 4.3), whose ->page_mkwrite does".into())
        }
        FsKind::XfsBh => {
            return Some("fs xfs-bh: xfs has had no buffer heads since 4.19 (iomap)".into())
        }
        FsKind::Ext4Dax | FsKind::XfsDax => {
            return Some(format!("fs {}: DAX needs a pmem device, which pincheck does not set up (host runs and exported programs alike)", kind.name()))
        }
        _ => {}
    }
    if sc.fs.stable_writes {
        if kind != FsKind::Ext4 {
            return Some(format!(
                "stable-writes on {}: provided for ext4 only (on zram)",
                kind.name()
            ));
        }
        // zram gives stable pages (BLK_FEAT_STABLE_WRITES) but checks no integrity data: the
        // T10-PI guard failure the model gives a buffer changed under a transfer cannot happen.
        for st in sc.threads.iter().flat_map(|t| &t.body) {
            if matches!(st.op, Op::DioWrite { .. } | Op::DmaWrite { .. }) {
                return Some(format!("stable-writes: line {}: `{}`: the stable-writes device is zram, which gives stable pages but computes and checks no integrity data, so the guard-check failure the model gives a page changed under a transfer (dio-write:EILSEQ/EIO, fsync:EIO) cannot happen there; this host's kernel has no device mapper (CONFIG_MD unset: no dm-integrity) and no block integrity (CONFIG_BLK_DEV_INTEGRITY unset)", st.span.line, st.op.keyword()));
            }
        }
    }
    if sc.fs.nodelalloc && kind != FsKind::Ext4 {
        return Some("nodelalloc is an ext4 mount option".into());
    }
    if matches!(kind, FsKind::Xfs | FsKind::Btrfs) {
        let used: u32 =
            sc.files.iter().filter(|f| f.init != FileInit::Sparse).map(|f| f.pages).sum();
        if sc.disk_blocks.saturating_sub(used) < TIGHT_DISK {
            return Some(format!(
                "disk {}: fewer than {TIGHT_DISK} free blocks, and {} reserves metadata blocks with each allocation (xfs: `xfs_bmap_worst_indlen()` per delalloc extent; btrfs: metadata chunks), so `disk N` cannot be held to N blocks",
                sc.disk_blocks,
                kind.name()
            ));
        }
    }
    for f in &sc.files {
        let longest = format!("{}{}", f.name.text, f.pages.saturating_sub(1));
        if longest.len() > disk::TAG_MAX {
            return Some(format!("file {}: its page tags are longer than {} characters and do not fit the page pattern", f.name.text, disk::TAG_MAX));
        }
    }
    if !sc.on_break.is_empty() {
        return Some("`on break`: user space has no layout leases".into());
    }
    let reclaims =
        sc.threads.iter().flat_map(|t| &t.body).any(|st| matches!(st.op, Op::Reclaim { .. }));
    let mut mapped: Vec<&str> = Vec::new();
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        if let Op::Mmap { file, .. } = &st.op {
            if reclaims && mapped.contains(&file.text.as_str()) {
                return Some(format!("file {} is mapped twice and `reclaim` runs: MADV_PAGEOUT skips a folio mapped more than once (madvise_cold_or_pageout_pte_range(): \"Do not interfere with other mappings of this folio\"; measured on 6.18), which the model's reclaim does not", file.text));
            }
            mapped.push(&file.text);
        }
    }
    for th in &sc.threads {
        for st in &th.body {
            if let Some(why) = op_not_reproducible(st) {
                return Some(format!("line {}: `{}`: {why}", st.span.line, st.op.keyword()));
            }
        }
    }
    None
}

fn op_not_reproducible(st: &Stmt) -> Option<&'static str> {
    let tag_too_long = |t: &crate::scenario::Name| t.text.len() > disk::TAG_MAX;
    match &st.op {
        Op::Pin { write, longterm, get, .. } if !*write || !*longterm || *get => {
            Some("only `pin ... write longterm` exists in user space (io_uring buffer registration); user space cannot hold a short-term, read-only or FOLL_GET pin")
        }
        Op::Unpin { dirty: true, .. } => {
            Some("io_uring unregistration unpins without dirtying (`unpin_user_folio()`)")
        }
        Op::RegMr { write: false, .. } => {
            Some("a read-only long-term pin: io_uring registers buffers with FOLL_WRITE only")
        }
        Op::RegMr { odp: true, .. } => Some("ODP needs page-fault-capable RDMA hardware"),
        Op::Lease { .. } | Op::Unlease { .. } => Some("user space has no layout leases"),
        Op::Reclaim { max: Some(_) } => {
            Some("user space cannot bound reclaim to N folios; use `reclaim`")
        }
        Op::ReclaimActive => {
            Some("user space cannot make kswapd take the buffer_heads_over_limit path")
        }
        Op::Crash => Some("user space does not cut the machine's power"),
        Op::Store { tag, .. }
        | Op::Write { tag, .. }
        | Op::RemoteWrite { tag, .. }
        | Op::DmaWrite { tag, .. }
            if tag_too_long(tag) =>
        {
            Some("a tag longer than 62 characters does not fit the page pattern")
        }
        _ => None,
    }
}

/// What host runs found.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct HostResult {
    pub runs: usize,
    /// The union over runs, sorted like the model's labels.
    pub labels: Vec<String>,
    /// Each distinct label set (`ok` for none) with how many runs ended with it.
    pub outcomes: BTreeMap<String, usize>,
    /// For each label, the first run (from 1) that reached it.
    pub first_run: BTreeMap<String, usize>,
    /// What the runs observed: failed checks, kernel messages, skipped checks.
    pub notes: Vec<String>,
    /// The runs asked for (`--runs`).
    pub planned: usize,
    /// The runs were stopped by Ctrl-C before `runs` were done.
    pub interrupted: bool,
    /// Host pages per scenario page (`--host-pages`).
    pub host_pages: usize,
    /// `--host-jitter`: the bound of each thread's random start delay, in microseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jitter_us: Option<u64>,
    /// `--host-read-bps`: the read throttle of the scratch device, bytes a second.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read_bps: Option<u64>,
    /// `--until-observed LABEL`: the label, and whether a run reached it (the runs stopped
    /// there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    pub observed: bool,
}

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct HostOptions {
    pub runs: usize,
    pub seed: u64,
    /// Operation order from a model schedule: `(thread, statement, skipped)` in start order.
    pub order: Option<Vec<(usize, usize, bool)>>,
    /// `--host-pages K`: each scenario page is K contiguous host pages (0 and 1: one).
    pub pages: usize,
    /// `--until-observed LABEL`: stop after the first run that reaches it.
    pub until: Option<String>,
    /// A progress line on stderr (a terminal only).
    pub progress: bool,
    /// `--host-jitter US`: without a schedule, each thread sleeps a random time in [0, US)
    /// microseconds (from the run's seed) before its first statement; its statements then
    /// follow each other without delay.
    pub jitter_us: u64,
    /// `--host-read-bps B`: reads from the scratch device are throttled to B bytes/s.
    pub read_bps: Option<u64>,
}

/// The operations a `--host-pages K` run (K > 1) carries out on K pages at once; the others
/// are refused (their faults, pins and device transfers are per 4 KiB page).
pub const MULTI_PAGE_OPS: [&str; 9] =
    ["mmap", "munmap", "write", "read", "fsync", "sync", "dio-read", "signal", "wait"];

/// Why `sc` cannot run with `--host-pages k`, if it cannot.
pub fn not_multi_page(sc: &Scenario, k: usize) -> Option<String> {
    if k <= 1 {
        return None;
    }
    if sc.fs.kind == FsKind::Btrfs {
        return Some(
            "--host-pages: btrfs pages are judged at the end only; use ext4, xfs or tmpfs".into(),
        );
    }
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        let kw = st.op.keyword();
        if !MULTI_PAGE_OPS.contains(&kw) {
            return Some(format!(
                "--host-pages {k}: line {}: `{kw}` is carried out one 4 KiB page at a time on the host; --host-pages supports {}",
                st.span.line,
                MULTI_PAGE_OPS.join(", ")
            ));
        }
    }
    None
}

/// Runs `sc` `opts.runs` times on one scratch filesystem of its kind.
pub fn run(sc: &Scenario, opts: &HostOptions) -> Result<HostResult, String> {
    if let Some(why) = not_runnable(sc) {
        return Err(format!("{}: not host-runnable: {why}", sc.name.text));
    }
    let interrupted = || crate::check::INTERRUPTED.load(Ordering::SeqCst);
    if let Some(why) = not_multi_page(sc, opts.pages) {
        return Err(format!("{}: not host-runnable: {why}", sc.name.text));
    }
    let k = opts.pages.max(1);
    let stopped = HostResult {
        planned: opts.runs.max(1),
        interrupted: true,
        host_pages: k,
        jitter_us: (opts.jitter_us > 0).then_some(opts.jitter_us),
        read_bps: opts.read_bps,
        until: opts.until.clone(),
        ..HostResult::default()
    };
    if interrupted() {
        return Ok(stopped);
    }
    let made = if sc.fs.stable_writes {
        ScratchFs::stable_writes_ext4()
    } else {
        ScratchFs::new(sc.fs.kind.name(), sc.fs.nodelalloc)
    };
    let mut fs = match made {
        Ok(fs) => fs,
        Err(_) if interrupted() => return Ok(stopped),
        Err(e) => return Err(e),
    };
    if let Some(bps) = opts.read_bps {
        fs.throttle_reads(bps)?;
    }
    install_fault_handler();
    let mut log =
        KernelLog::open().map_err(|e| format!("{e} (kernel warnings are read from it)")).ok();
    let mut res = HostResult {
        planned: opts.runs.max(1),
        host_pages: k,
        jitter_us: (opts.jitter_us > 0).then_some(opts.jitter_us),
        read_bps: opts.read_bps,
        until: opts.until.clone(),
        ..HostResult::default()
    };
    let mut progress = Progress::new(opts.progress, res.planned);
    let mut notes = BTreeSet::new();
    if log.is_none() {
        notes.insert("kernel log unreadable: `warn` and `bug` are not observed".to_string());
    }
    if !is_root() {
        notes.insert("not root: the pin counters cannot be refreshed; `leak` is judged from pins still registered only".to_string());
    }
    for r in 0..opts.runs.max(1) {
        if crate::check::INTERRUPTED.load(Ordering::Relaxed) {
            res.interrupted = true;
            break;
        }
        let one = run_once(sc, &fs, log.as_mut(), opts, r)?;
        for l in &one.labels {
            res.first_run.entry(l.clone()).or_insert(r + 1);
        }
        let seen = opts.until.as_ref().is_some_and(|u| one.labels.contains(u));
        let key = if one.labels.is_empty() {
            "ok".to_string()
        } else {
            one.labels.iter().cloned().collect::<Vec<_>>().join(" ")
        };
        *res.outcomes.entry(key).or_insert(0) += 1;
        for n in one.notes {
            if notes.len() < 40 {
                notes.insert(n);
            }
        }
        res.runs += 1;
        progress.tick(&res);
        if seen {
            res.observed = true;
            break;
        }
    }
    progress.done();
    let union: BTreeSet<String> = res.first_run.keys().cloned().collect();
    res.labels = sort_labels(union.into_iter().collect());
    res.notes = notes.into_iter().collect();
    Ok(res)
}

/// A progress line on stderr, redrawn at most every 200 ms: runs done of planned, and the
/// outcomes so far.
struct Progress {
    on: bool,
    planned: usize,
    started: Instant,
    last: Option<Instant>,
}

impl Progress {
    fn new(wanted: bool, planned: usize) -> Progress {
        // SAFETY: isatty() has no preconditions.
        let tty = unsafe { libc::isatty(2) } == 1;
        Progress { on: wanted && tty && planned > 1, planned, started: Instant::now(), last: None }
    }

    fn tick(&mut self, res: &HostResult) {
        if !self.on || self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(200)) {
            return;
        }
        self.last = Some(Instant::now());
        let width = 30;
        let filled = res.runs * width / self.planned.max(1);
        let outcomes: Vec<String> = res.outcomes.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        let rate = res.runs as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
        eprint!(
            "\r[{}{}] {}/{} runs, {:.0}/s: {}\x1b[K",
            "#".repeat(filled),
            ".".repeat(width - filled),
            res.runs,
            self.planned,
            rate,
            outcomes.join(", ")
        );
    }

    fn done(&self) {
        if self.on && self.last.is_some() {
            eprint!("\r\x1b[K");
        }
    }
}

/// The Wilson score interval at 95 % for `k` successes in `n` trials: `(low, high)`. With
/// `k = 0` the upper end is about 3.84 / n (Wilson, "Probable inference...", JASA 1927).
pub fn wilson95(k: usize, n: usize) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let (k, n) = (k as f64, n as f64);
    let p = k / n;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The model's label order: outcome labels first, then `OP:ERRNO` by operation keyword.
pub fn sort_labels(mut v: Vec<String>) -> Vec<String> {
    const OUTCOMES: [&str; 8] = crate::scenario::OUTCOME_LABELS;
    let key = |l: &String| match OUTCOMES.iter().position(|o| o == l) {
        Some(i) => (0, i, String::new()),
        None => {
            let op = l.split(':').next().unwrap_or("");
            let i = crate::scenario::OP_KEYWORDS.iter().position(|k| *k == op).unwrap_or(99);
            (1, i, l.clone())
        }
    };
    v.sort_by_key(key);
    v
}

struct OneRun {
    labels: BTreeSet<String>,
    notes: Vec<String>,
}

/// A file of the run: a buffered and an O_DIRECT descriptor.
struct HostFile {
    fd: RawFd,
    direct: RawFd,
}

#[derive(Clone)]
struct MapH {
    addr: usize,
    /// Bytes per scenario page (`PAGE` times `--host-pages`).
    unit: usize,
    /// The file's descriptor, to map a page back after a caught fault.
    fd: RawFd,
    pages: u32,
    file: String,
    start: u32,
    shared: bool,
    ro: bool,
    unmapped: Arc<AtomicBool>,
    /// munmap takes it for writing; CPU accesses and msync for reading.
    lock: Arc<std::sync::RwLock<()>>,
    /// One per page, for CPU accesses (see `Op::Store`).
    page_locks: Arc<Vec<Mutex<()>>>,
}

impl MapH {
    /// The mapping's length in bytes.
    fn len(&self) -> usize {
        self.pages as usize * self.unit
    }
}

struct RegH {
    reg: Registration,
    map: MapH,
    /// The generation of each registered file page at registration (shared mappings).
    generations: Vec<u32>,
    /// The first page of the mapping the buffer starts at.
    first: u32,
    released: bool,
}

#[derive(Clone)]
enum Handle {
    Failed,
    Map(MapH),
    Reg(Arc<Mutex<RegH>>),
}

struct Run<'a> {
    sc: &'a Scenario,
    kind: FsKind,
    /// Host pages per scenario page (`--host-pages`).
    k: usize,
    files: HashMap<String, HostFile>,
    /// A memfd with one page per tag: the source of the device's writes.
    tags: RawFd,
    tag_index: HashMap<String, usize>,
    /// A memfd the device's reads go to.
    sink: RawFd,
    image: Option<RawFd>,
    /// The run's directory, for syncfs().
    dir_fd: RawFd,
    /// The scratch filesystem's loop device (`loop0`), which names it in kernel messages.
    device: Option<String>,
    handles: Mutex<HashMap<String, Handle>>,
    handles_cv: Condvar,
    events: Mutex<HashSet<String>>,
    events_cv: Condvar,
    turn: Mutex<usize>,
    turn_cv: Condvar,
    order: Option<Vec<(usize, usize, bool)>>,
    /// Per thread, the statement it is in (index + 1; 0 before the first and after the last).
    at: Vec<AtomicUsize>,
    /// Statements finished by all threads, and threads finished, for the watchdog.
    progress: Mutex<(u64, usize)>,
    progress_cv: Condvar,
    oracle: Mutex<Oracle>,
    labels: Mutex<BTreeSet<String>>,
    notes: Mutex<Vec<String>>,
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn c_path(p: &std::path::Path) -> CString {
    CString::new(p.as_os_str().as_encoded_bytes()).unwrap_or_default()
}

fn memfd_with(pages: &[Vec<u8>]) -> Result<RawFd, String> {
    // SAFETY: a NUL-terminated name; the fd is ours.
    let fd = unsafe { libc::memfd_create(c"pincheck".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(format!("memfd_create: {}", std::io::Error::last_os_error()));
    }
    for (i, p) in pages.iter().enumerate() {
        // SAFETY: writes PAGE bytes from our buffer.
        let n = unsafe { libc::pwrite(fd, p.as_ptr().cast(), PAGE, (i * PAGE) as libc::off_t) };
        if n != PAGE as isize {
            let e = std::io::Error::last_os_error();
            // SAFETY: our memfd.
            unsafe { libc::close(fd) };
            return Err(format!("writing the tag pages: {e}"));
        }
    }
    Ok(fd)
}

fn run_once(
    sc: &Scenario,
    fs: &ScratchFs,
    log: Option<&mut KernelLog>,
    opts: &HostOptions,
    r: usize,
) -> Result<OneRun, String> {
    clear_faults();
    let dir = fs.dir.join(format!("run{r}"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // The run's descriptors and mappings are closed when `run` drops, before the directory goes.
    let result = setup(sc, fs, &dir, opts).map(|run| {
        let before = pin_counters();
        let mut log = log;
        if let Some(l) = log.as_deref_mut() {
            l.drain();
        }
        execute(&run, fs, opts, r, before, log)
    });
    let _ = std::fs::remove_dir_all(&dir);
    // xfs frees an unlinked file's blocks in the background (inodegc); syncfs() flushes that
    // work (`xfs_fs_sync_fs()` → `xfs_inodegc_flush()`), so the next run finds all the space
    // this run's ballast held.
    if let Ok(d) = std::fs::File::open(&fs.dir) {
        use std::os::fd::AsRawFd;
        // SAFETY: our directory fd.
        unsafe { libc::syncfs(d.as_raw_fd()) };
    }
    result
}

fn setup<'a>(
    sc: &'a Scenario,
    fs: &ScratchFs,
    dir: &std::path::Path,
    opts: &HostOptions,
) -> Result<Run<'a>, String> {
    let mut tag_names: Vec<String> = Vec::new();
    for th in &sc.threads {
        for st in &th.body {
            if let Op::DmaWrite { tag, .. } = &st.op {
                if !tag_names.contains(&tag.text) {
                    tag_names.push(tag.text.clone());
                }
            }
        }
    }
    let pages: Vec<Vec<u8>> = tag_names.iter().map(|t| disk::pattern(t)).collect();
    let tags = memfd_with(&pages)?;
    let sink = memfd_with(&[]).inspect_err(|_| {
        // SAFETY: our memfd, not yet owned by a Run.
        unsafe { libc::close(tags) };
    })?;
    let k = opts.pages.max(1);
    let mut run = Run {
        sc,
        kind: sc.fs.kind,
        k,
        files: HashMap::new(),
        tags,
        tag_index: tag_names.into_iter().enumerate().map(|(i, t)| (t, i)).collect(),
        sink,
        image: None,
        device: fs.device.clone(),
        // SAFETY: a NUL-terminated path; closed in Drop.
        dir_fd: unsafe {
            libc::open(c_path(dir).as_ptr(), libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC)
        },
        handles: Mutex::new(HashMap::new()),
        handles_cv: Condvar::new(),
        events: Mutex::new(HashSet::new()),
        events_cv: Condvar::new(),
        turn: Mutex::new(0),
        turn_cv: Condvar::new(),
        order: opts.order.clone(),
        at: sc.threads.iter().map(|_| AtomicUsize::new(0)).collect(),
        progress: Mutex::new((0, 0)),
        progress_cv: Condvar::new(),
        oracle: Mutex::new(Oracle::default()),
        labels: Mutex::new(BTreeSet::new()),
        notes: Mutex::new(Vec::new()),
    };
    if let Some(img) = &fs.image {
        // SAFETY: a NUL-terminated path; the fd is closed in Drop.
        let fd = unsafe { libc::open(c_path(img).as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
        if fd >= 0 {
            run.image = Some(fd);
        }
    }
    let mut used = 0u32;
    for f in &sc.files {
        let path = dir.join(&f.name.text);
        let cp = c_path(&path);
        // SAFETY: NUL-terminated path.
        let fd = unsafe {
            libc::open(cp.as_ptr(), libc::O_RDWR | libc::O_CREAT | libc::O_CLOEXEC, 0o644)
        };
        if fd < 0 {
            return Err(format!("{}: {}", path.display(), std::io::Error::last_os_error()));
        }
        let init_tags: Vec<String> = (0..f.pages).map(|i| format!("{}{i}", f.name.text)).collect();
        match f.init {
            FileInit::Sparse => {
                // SAFETY: our fd.
                unsafe { libc::ftruncate(fd, (f.pages as usize * k * PAGE) as libc::off_t) };
            }
            FileInit::Synced | FileInit::Dirty => {
                for (i, t) in init_tags.iter().enumerate() {
                    let p = disk::pattern_k(t, k);
                    // SAFETY: k * PAGE bytes from our buffer.
                    unsafe {
                        libc::pwrite(fd, p.as_ptr().cast(), p.len(), (i * p.len()) as libc::off_t)
                    };
                }
                used += f.pages;
                if f.init == FileInit::Synced {
                    // SAFETY: our fd.
                    if unsafe { libc::fsync(fd) } != 0 {
                        return Err(format!(
                            "fsync {}: {}",
                            path.display(),
                            std::io::Error::last_os_error()
                        ));
                    }
                    // SAFETY: our fd; drops the clean cached pages: `synced` is "not cached".
                    unsafe { libc::posix_fadvise(fd, 0, 0, libc::POSIX_FADV_DONTNEED) };
                }
            }
        }
        // SAFETY: NUL-terminated path.
        let direct =
            unsafe { libc::open(cp.as_ptr(), libc::O_RDWR | libc::O_DIRECT | libc::O_CLOEXEC) };
        let init = match f.init {
            FileInit::Sparse => None,
            FileInit::Synced => Some((run.kind != FsKind::Tmpfs, init_tags)),
            FileInit::Dirty => Some((false, init_tags)),
        };
        run.oracle.get_mut().unwrap_or_else(|e| e.into_inner()).add_file(
            &f.name.text,
            f.pages,
            init,
        );
        run.files.insert(f.name.text.clone(), HostFile { fd, direct });
    }
    if run.kind != FsKind::Tmpfs {
        let free = sc.disk_blocks.saturating_sub(used) * k as u32;
        fill_to(dir, free)
            .map_err(|e| format!("sizing the disk to `disk {}`: {e}", sc.disk_blocks))?;
    }
    Ok(run)
}

/// Leaves exactly `free` blocks for the scenario: fills the filesystem with an fallocate()d
/// ballast file until ENOSPC (as root, the root reserve too), then gives `free` blocks back.
fn fill_to(dir: &std::path::Path, free: u32) -> Result<(), String> {
    let path = dir.join(".ballast");
    let f = std::fs::File::create(&path).map_err(|e| e.to_string())?;
    use std::os::fd::AsRawFd;
    let fd = f.as_raw_fd();
    let mut size: i64 = 0;
    let mut chunk: i64 = 1 << 30;
    while chunk >= PAGE as i64 {
        // SAFETY: our fd.
        if unsafe { libc::fallocate(fd, 0, size, chunk) } == 0 {
            size += chunk;
        } else if errno() == libc::ENOSPC {
            chunk /= 2;
        } else {
            return Err(std::io::Error::last_os_error().to_string());
        }
    }
    let give = free as i64 * PAGE as i64;
    if give > size {
        return Err(format!("the filesystem has only {} free blocks", size / PAGE as i64));
    }
    // SAFETY: our fd; the ballast's last `free` blocks are freed.
    if unsafe { libc::ftruncate(fd, size - give) } != 0 || unsafe { libc::fsync(fd) } != 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    Ok(())
}

impl Drop for Run<'_> {
    fn drop(&mut self) {
        let handles = self.handles.get_mut().unwrap_or_else(|e| e.into_inner());
        for h in handles.values() {
            if let Handle::Map(m) = h {
                release(m);
            }
        }
        handles.clear(); // closes the rings: any registration left is released
                         // SAFETY: the descriptors are ours and closed once.
        unsafe {
            for f in self.files.values() {
                libc::close(f.fd);
                if f.direct >= 0 {
                    libc::close(f.direct);
                }
            }
            libc::close(self.tags);
            libc::close(self.dir_fd);
            libc::close(self.sink);
            if let Some(i) = self.image {
                libc::close(i);
            }
        }
    }
}

/// munmap(2) of the file mapping, keeping the address range reserved (an anonymous PROT_NONE
/// mapping replaces it atomically, which unmaps the file pages as munmap would) until the run
/// ends: an access racing with the munmap then faults in a range pincheck still owns (SIGSEGV,
/// caught) instead of landing in memory the allocator reused.
fn unmap(m: &MapH) {
    let _exclusive = m.lock.write().unwrap_or_else(|e| e.into_inner());
    if !m.unmapped.swap(true, Ordering::SeqCst) {
        // SAFETY: replaces our own mapping of this run; nothing else lives in the range.
        unsafe {
            libc::mmap(
                m.addr as *mut libc::c_void,
                m.len(),
                libc::PROT_NONE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
    }
}

/// The end of the run: the range goes back to the system.
fn release(m: &MapH) {
    forget_range(m.addr);
    // SAFETY: the mapping (or its reservation) made by `mmap` in this run, released once.
    unsafe { libc::munmap(m.addr as *mut libc::c_void, m.len()) };
}

/// After a caught fault on page `page` of `m`, the file page goes back where the handler put
/// an anonymous page (or the reservation, if the mapping was unmapped meanwhile), so later
/// accesses fault through the file again.
fn restore_page(m: &MapH, page: u32) {
    let at = (m.addr + page as usize * PAGE) as *mut libc::c_void;
    let unmapped = m.unmapped.load(Ordering::SeqCst);
    let prot = match (unmapped, m.ro) {
        (true, _) => libc::PROT_NONE,
        (false, true) => libc::PROT_READ,
        (false, false) => libc::PROT_READ | libc::PROT_WRITE,
    };
    let (flags, fd, off) = if unmapped {
        (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE, -1, 0)
    } else {
        let share = if m.shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        (share, m.fd, ((m.start + page) as usize * PAGE) as libc::off_t)
    };
    // SAFETY: replaces one page of our own range.
    unsafe { libc::mmap(at, PAGE, prot, libc::MAP_FIXED | flags, fd, off) };
}

/// The contents a page read back may stand for: its tag, zeroes, or each part of a torn page.
fn contents(found: Option<Found>) -> Vec<Option<String>> {
    match found {
        Some(Found::Tag(t)) => vec![Some(t)],
        Some(Found::Zero) => vec![None],
        Some(Found::Torn(parts)) => {
            parts.into_iter().map(|t| (t != "zeroes").then_some(t)).collect()
        }
        _ => Vec::new(),
    }
}

/// A page of the run's mappings as the kernel sees it, read with process_vm_readv(2): a page
/// that cannot be read gives `None` (EFAULT), never a signal.
fn read_mapping(at: usize) -> Option<Found> {
    read_mapping_k(at, 1)
}

/// [`read_mapping`] of `k` contiguous pages standing for one scenario page, merged.
fn read_mapping_k(at: usize, k: usize) -> Option<Found> {
    let len = PAGE * k.max(1);
    let mut buf = vec![0u8; len];
    let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: len };
    let remote = libc::iovec { iov_base: at as *mut libc::c_void, iov_len: len };
    // SAFETY: the kernel copies into our buffer; the remote side is only read.
    let n = unsafe { libc::process_vm_readv(libc::getpid(), &local, 1, &remote, 1, 0) };
    (n == len as isize).then(|| disk::decode_k(&buf))
}

enum Step {
    Done(Option<Handle>),
    Failed(String),
    /// A handle the statement uses failed: skipped silently.
    Skipped,
    /// Waited past WAIT_LIMIT.
    Hung,
}

fn execute(
    run: &Run,
    fs: &ScratchFs,
    opts: &HostOptions,
    r: usize,
    before: Option<(u64, u64)>,
    log: Option<&mut KernelLog>,
) -> OneRun {
    std::thread::scope(|s| {
        for (t, th) in run.sc.threads.iter().enumerate() {
            let seed =
                opts.seed ^ ((r as u64) << 20) ^ (t as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let jitter = opts.jitter_us;
            s.spawn(move || {
                thread_main(run, t, &th.body, seed, jitter);
                run.at[t].store(0, Ordering::SeqCst);
                run.progressed(true);
            });
        }
        s.spawn(|| watchdog(run, fs));
    });
    // The end, as the model's `finish()`: pins still held are a leak; then the final sync and
    // the convergence check on the disk read back after dropping the caches.
    let mut live = Vec::new();
    for (name, h) in run.handles.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        if let Handle::Reg(reg) = h {
            let mut reg = reg.lock().unwrap_or_else(|e| e.into_inner());
            if !reg.released {
                live.push(name.clone());
                let _ = reg.reg.unregister();
                reg.released = true;
            }
        }
    }
    if !live.is_empty() {
        run.label("leak");
        run.note(format!("pins still registered at the end: {}", live.join(", ")));
    }
    for h in run.handles.lock().unwrap_or_else(|e| e.into_inner()).values() {
        if let Handle::Map(m) = h {
            unmap(m);
        }
    }
    if let Some(held) = before.and_then(pins_held_since) {
        run.label("leak");
        run.note(format!("/proc/vmstat: {held} more pins acquired than released during the run"));
    }
    // SAFETY: our directory fd. The final sync of the model's quiesce.
    if unsafe { libc::syncfs(run.dir_fd) } != 0 {
        run.note(format!("final syncfs: {}", errno_name(errno())));
    }
    converged(run);
    if let Some(l) = log {
        let msgs = l.drain();
        for (i, msg) in msgs.iter().enumerate() {
            if kmsg::stale_pagecache_elsewhere(msg, msgs.get(i + 1).map(String::as_str)) {
                run.note(format!(
                    "kernel log, another process's file (not counted): {msg} {}",
                    msgs[i + 1]
                ));
                continue;
            }
            if let Some(label) = kmsg::classify(msg, run.device.as_deref(), run.kind.name()) {
                run.label(label);
                run.note(format!("kernel log: {msg}"));
            } else if kmsg::foreign(msg, run.kind.name()) {
                run.note(format!("kernel log, another filesystem's (not counted): {msg}"));
            }
        }
    }
    OneRun {
        labels: std::mem::take(&mut *run.labels.lock().unwrap_or_else(|e| e.into_inner())),
        notes: std::mem::take(&mut *run.notes.lock().unwrap_or_else(|e| e.into_inner())),
    }
}

/// Pins acquired since `before` and not released, from the system-wide /proc/vmstat counters.
/// Other processes pin too (every O_DIRECT does): a pin in flight elsewhere shows up for a
/// moment, so a surplus counts only if it persists for 2 s (the counters are read again every
/// 20 ms); a pin taken before the run and released during it makes `released` exceed
/// `acquired` and is ignored. On a machine busy with O_DIRECT this can still be fooled: host
/// checks belong on a quiet machine.
fn pins_held_since(before: (u64, u64)) -> Option<u64> {
    let mut held = None;
    for _ in 0..100 {
        let now = pin_counters()?;
        let (acq, rel) = (now.0.saturating_sub(before.0), now.1.saturating_sub(before.1));
        if acq <= rel {
            return None;
        }
        held = Some(acq - rel);
        std::thread::sleep(Duration::from_millis(20));
    }
    held
}

/// The model's `check_converged()`: every page holds its last accepted write unless an error
/// was reported for its file after it. Read back with O_DIRECT after dropping the caches (tmpfs
/// is memory: read through the cache).
fn converged(run: &Run) {
    let memory = run.kind == FsKind::Tmpfs;
    if !memory {
        if is_root() {
            let _ = std::fs::write("/proc/sys/vm/drop_caches", "1");
        } else {
            run.note("not root: the caches are not dropped before the final read-back".into());
        }
    }
    let finals = run.oracle.lock().unwrap_or_else(|e| e.into_inner()).final_versions();
    let unit = PAGE * run.k;
    let mut buf = AlignedPage::new(run.k);
    for (file, index, ver) in finals {
        let Some(f) = run.files.get(&file) else { continue };
        let fd = if memory || f.direct < 0 { f.fd } else { f.direct };
        let found = match buf.as_mut() {
            None => continue,
            Some(b) => {
                // SAFETY: reads at most `unit` bytes into our aligned pages.
                let n = unsafe {
                    libc::pread(
                        fd,
                        b.as_mut_ptr().cast(),
                        unit,
                        (index as usize * unit) as libc::off_t,
                    )
                };
                if n < 0 {
                    Found::Unreadable(errno())
                } else {
                    b[n as usize..].fill(0);
                    disk::decode_k(b)
                }
            }
        };
        run.judge_page(&file, index, ver, &found, Check::End);
    }
}

/// A write in flight to a file page; it ends when this drops, accepted or not.
struct InFlight<'r> {
    oracle: &'r Mutex<Oracle>,
    target: Option<(String, u32)>,
    id: u64,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if let Some((f, i)) = &self.target {
            self.oracle.lock().unwrap_or_else(|e| e.into_inner()).write_ended(f, *i, self.id);
        }
    }
}

/// The cached pages of the file at `fd` through `shrink_folio_list()`: a fresh read-only
/// shared mapping of the file, the pages mincore(2) finds cached faulted in
/// (MADV_POPULATE_READ, which reads nothing new), then MADV_PAGEOUT, then munmap.
fn page_out_cache(fd: RawFd) {
    // SAFETY: fstat into a zeroed struct; a fresh mapping of our fd, advised and unmapped here.
    unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        if libc::fstat(fd, &mut st) != 0 || st.st_size <= 0 {
            return;
        }
        let len = (st.st_size as usize).div_ceil(PAGE) * PAGE;
        let p = libc::mmap(std::ptr::null_mut(), len, libc::PROT_READ, libc::MAP_SHARED, fd, 0);
        if p == libc::MAP_FAILED {
            return;
        }
        let mut resident = vec![0u8; len / PAGE];
        if libc::mincore(p, len, resident.as_mut_ptr()) == 0 {
            for (i, r) in resident.iter().enumerate() {
                if r & 1 != 0 {
                    libc::madvise(
                        p.cast::<u8>().add(i * PAGE).cast(),
                        PAGE,
                        libc::MADV_POPULATE_READ,
                    );
                }
            }
            libc::madvise(p, len, libc::MADV_PAGEOUT);
        }
        libc::munmap(p, len);
    }
}

/// `k` anonymous pages, aligned for O_DIRECT.
struct AlignedPage(*mut u8, usize);

impl AlignedPage {
    fn new(k: usize) -> AlignedPage {
        let len = PAGE * k.max(1);
        // SAFETY: a fresh anonymous mapping.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        AlignedPage(if p == libc::MAP_FAILED { std::ptr::null_mut() } else { p.cast() }, len)
    }

    fn as_mut(&mut self) -> Option<&mut [u8]> {
        // SAFETY: PAGE bytes of our own mapping, borrowed mutably once.
        (!self.0.is_null()).then(|| unsafe { std::slice::from_raw_parts_mut(self.0, self.1) })
    }
}

impl Drop for AlignedPage {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: our mapping.
            unsafe { libc::munmap(self.0.cast(), self.1) };
        }
    }
}

/// Waits for the scenario's threads; past [`STUCK_LIMIT`] without a finished statement, one is
/// stuck in a system call: say which, detach the scratch filesystem, exit.
fn watchdog(run: &Run, fs: &ScratchFs) {
    let threads = run.sc.threads.len();
    let mut p = run.progress.lock().unwrap_or_else(|e| e.into_inner());
    let mut last = (p.0, Instant::now());
    while p.1 < threads {
        p = run
            .progress_cv
            .wait_timeout(p, Duration::from_secs(1))
            .unwrap_or_else(|e| e.into_inner())
            .0;
        if p.0 != last.0 {
            last = (p.0, Instant::now());
        } else if last.1.elapsed() >= STUCK_LIMIT {
            let stuck: Vec<String> = run
                .sc
                .threads
                .iter()
                .zip(&run.at)
                .filter_map(|(th, at)| {
                    let pc = at.load(Ordering::SeqCst).checked_sub(1)?;
                    let st = &th.body[pc];
                    Some(format!(
                        "{} in `{}` (line {})",
                        th.name.text,
                        st.op.keyword(),
                        st.span.line
                    ))
                })
                .collect();
            eprintln!(
                "pincheck: no statement finished for {} s; stuck in the kernel: {}. A system call cannot be interrupted: detaching the scratch filesystem and exiting (hang)",
                STUCK_LIMIT.as_secs(),
                stuck.join(", ")
            );
            fs.detach();
            std::process::exit(2);
        }
    }
}

fn thread_main(run: &Run, t: usize, body: &[Stmt], mut seed: u64, jitter_us: u64) {
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for (pc, st) in body.iter().enumerate() {
        run.at[t].store(pc + 1, Ordering::SeqCst);
        let slot =
            run.order.as_ref().and_then(|o| o.iter().position(|&(th, p, _)| th == t && p == pc));
        if !run.await_turn(slot) {
            run.hang(format!(
                "{}: its turn in the schedule never came",
                run.sc.threads[t].name.text
            ));
            return;
        }
        let skip = match (slot, &run.order) {
            (Some(k), Some(o)) => o[k].2,
            _ => st.maybe && rand() & 1 == 0,
        };
        if pc == 0 && jitter_us > 0 && run.order.is_none() {
            std::thread::sleep(Duration::from_micros(rand() % jitter_us));
        }
        let outcome = if skip { Step::Done(None) } else { run.op(st) };
        match outcome {
            Step::Done(h) => run.define(st, h),
            Step::Skipped => run.define(st, Some(Handle::Failed)),
            Step::Failed(errno) => {
                run.label(&format!("{}:{errno}", st.op.keyword()));
                run.define(st, Some(Handle::Failed));
            }
            Step::Hung => {
                run.hang(format!(
                    "{} line {}: `{}` waited more than {} s",
                    run.sc.threads[t].name.text,
                    st.span.line,
                    st.op.keyword(),
                    WAIT_LIMIT.as_secs()
                ));
                return;
            }
        }
        if let Some(k) = slot {
            let mut turn = run.turn.lock().unwrap_or_else(|e| e.into_inner());
            *turn = k + 1;
            run.turn_cv.notify_all();
        }
        run.progressed(false);
    }
}

/// Which oracle judges a page read back: after a successful sync (`check_synced()`), or at the
/// end (`check_converged()`).
#[derive(Clone, Copy)]
enum Check {
    Sync,
    End,
}

impl Run<'_> {
    /// Judges what `file` page `index` holds against version `want`, labelling and noting a
    /// loss or a corruption.
    fn judge_page(&self, file: &str, index: u32, want: u32, found: &Found, check: Check) {
        let oracle = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
        let verdict = oracle.judge(file, index, want, found);
        let wanted = oracle.tag_of(file, index, want);
        drop(oracle);
        let (label, note) = match (verdict, check) {
            (Verdict::Holds, _) => return,
            (Verdict::Lost, Check::Sync) => ("data-loss", format!("after a successful sync, page {index} of {file} holds {found} on disk, not {wanted} accepted before the sync began")),
            (Verdict::Lost, Check::End) => ("data-loss", format!("at the end, page {index} of {file} holds {found}, not its last accepted write {wanted}")),
            (Verdict::Corrupt, Check::Sync) => ("corruption", format!("after a successful sync, page {index} of {file} holds {found} on disk, never written to it")),
            (Verdict::Corrupt, Check::End) => ("corruption", format!("at the end, page {index} of {file} holds {found}, never written to it")),
        };
        self.label(label);
        self.note(note);
    }

    /// A statement (or, `thread_done`, a whole thread) finished: the watchdog's heartbeat.
    fn progressed(&self, thread_done: bool) {
        let mut p = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        p.0 += 1;
        if thread_done {
            p.1 += 1;
        }
        self.progress_cv.notify_all();
    }

    fn label(&self, l: &str) {
        self.labels.lock().unwrap_or_else(|e| e.into_inner()).insert(l.to_string());
    }

    fn note(&self, n: String) {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).push(n);
    }

    fn hang(&self, why: String) {
        self.label("hang");
        self.note(why);
        // Let every other thread's waits end too.
        self.events_cv.notify_all();
        self.handles_cv.notify_all();
    }

    /// Waits for statement slot `slot` of the schedule (or for its end, for a statement the
    /// schedule does not reach). `false` past WAIT_LIMIT.
    fn await_turn(&self, slot: Option<usize>) -> bool {
        let Some(order) = &self.order else { return true };
        let want = slot.unwrap_or(order.len());
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut turn = self.turn.lock().unwrap_or_else(|e| e.into_inner());
        while *turn < want {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            turn = self.turn_cv.wait_timeout(turn, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    fn define(&self, st: &Stmt, h: Option<Handle>) {
        if let Some(def) = &st.def {
            let h = h.unwrap_or(Handle::Failed);
            self.handles.lock().unwrap_or_else(|e| e.into_inner()).insert(def.text.clone(), h);
            self.handles_cv.notify_all();
        }
    }

    /// The handle `name`, waiting until some statement defines it. `None` past WAIT_LIMIT.
    fn handle(&self, name: &str) -> Option<Handle> {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut hs = self.handles.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(h) = hs.get(name) {
                return Some(h.clone());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            hs = self.handles_cv.wait_timeout(hs, left).unwrap_or_else(|e| e.into_inner()).0;
        }
    }

    fn file(&self, name: &str) -> &HostFile {
        &self.files[name]
    }

    /// The mapping `name` (waiting until it is defined): `Err` skips the statement if the
    /// handle failed or is not a mapping, or ends the thread if it never comes.
    fn map_handle(&self, name: &Name) -> Result<MapH, Step> {
        match self.handle(&name.text) {
            None => Err(Step::Hung),
            Some(Handle::Map(m)) => Ok(m),
            Some(_) => Err(Step::Skipped),
        }
    }

    /// The pin or registration `name`, as [`Run::map_handle`].
    fn reg_handle(&self, name: &Name) -> Result<Arc<Mutex<RegH>>, Step> {
        match self.handle(&name.text) {
            None => Err(Step::Hung),
            Some(Handle::Reg(r)) => Ok(r),
            Some(_) => Err(Step::Skipped),
        }
    }

    /// The oracle's clock as an operation's effect begins (after its handles are resolved).
    fn begin(&self) -> u64 {
        self.oracle.lock().unwrap_or_else(|e| e.into_inner()).begin()
    }

    /// [`Run::begin`] for an operation that writes `target` (a file page): until the returned
    /// guard drops, the page has a write in flight, whose data a sync may already find on disk.
    fn begin_write(&self, target: Option<(String, u32)>, content: Content) -> (u64, InFlight<'_>) {
        let mut o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
        let id = o.begin();
        if let Some((f, i)) = &target {
            o.write_started(f, *i, id, content);
        }
        (id, InFlight { oracle: &self.oracle, target, id })
    }

    fn accept(&self, file: &str, index: u32, tag: Option<String>, begun: u64) {
        self.oracle.lock().unwrap_or_else(|e| e.into_inner()).accept(file, index, tag, begun);
    }

    /// A write(2) or O_DIRECT write: past the end it also extends the file (i_size).
    fn accept_extending(&self, file: &str, index: u32, tag: Option<String>, begun: u64) {
        let mut o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
        o.grow(file, index + 1);
        o.accept(file, index, tag, begun);
    }

    /// An fsync/msync/sync of `file` (all for `None`): on success the model's
    /// `check_synced()` over what was accepted before it began, read from the disk as a crash
    /// would find it; on failure, the label, and the file's writes are excused.
    fn synced(
        &self,
        file: Option<&str>,
        range: Option<(u32, u32)>,
        call: impl FnOnce() -> libc::c_int,
    ) -> Step {
        let mut snapshot = self.oracle.lock().unwrap_or_else(|e| e.into_inner()).snapshot(file);
        if let Some((a, b)) = range {
            snapshot.retain(|(_, i, _)| (a..b).contains(i));
        }
        if call() != 0 {
            let e = errno_name(errno());
            self.oracle.lock().unwrap_or_else(|e| e.into_inner()).excuse(file);
            return Step::Failed(e);
        }
        // tmpfs: noop_fsync(), nothing is promised across a crash. btrfs: FIEMAP gives btrfs
        // logical addresses, not device offsets, so the disk is read back at the end only.
        let Some(image) = self.image.filter(|_| matches!(self.kind, FsKind::Ext4 | FsKind::Xfs))
        else {
            return Step::Done(None);
        };
        for (name, index, want) in snapshot {
            let oracle = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
            if !oracle.owed(&name, index, want) {
                continue;
            }
            drop(oracle);
            let found = disk::on_disk_k(self.file(&name).fd, image, index, self.k);
            if let Found::Unknown(why) = &found {
                self.note(format!(
                    "after a sync, page {index} of {name} cannot be read from the disk: {why}"
                ));
                continue;
            }
            self.judge_page(&name, index, want, &found, Check::Sync);
        }
        Step::Done(None)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn wilson_intervals_match_published_values() {
        // 0 of 10: [0, 0.2775]; 5 of 10,000: [0.000214, 0.00117], from the formula by hand.
        let (lo, hi) = super::wilson95(0, 10);
        assert!(lo == 0.0 && (hi - 0.2775).abs() < 1e-4, "{lo} {hi}");
        let (lo, hi) = super::wilson95(5, 10_000);
        assert!((lo - 0.000214).abs() < 2e-6 && (hi - 0.00117).abs() < 2e-5, "{lo} {hi}");
        assert_eq!(super::wilson95(0, 0), (0.0, 1.0));
    }
}
