//! `pincheck export FILE --c OUT.c`: a scenario as a standalone C program (libc and raw system
//! calls only: io_uring through `io_uring_setup`/`io_uring_register`/`io_uring_enter`, no
//! liburing), for kernel developers who reproduce with C (kselftests, syzkaller repros).
//!
//! The program is the experiment a host run makes (src/host/, docs/design.md §6), written in
//! C: `runtime.c` restates `host/disk.rs` (tag pages, the oracle over accepted writes, the
//! disk as a crash would find it), `host/exec.rs` and `host/exec/ops.rs` (one function per
//! operation, the same system call), `host/ring.rs` (io_uring fixed buffers: the long-term
//! pin and the device), `host/kmsg.rs` (`warn`/`bug` from /dev/kmsg) and the FOLL_PIN
//! counters of `host/mod.rs` (`leak`); `main.c` is the setup (the files, the ballast to
//! `disk N`), the end (pins still held, the final sync, the O_DIRECT read-back after
//! drop_caches) and the TAP loop. This module writes the scenario's tables and one pthread per
//! scenario thread (`signal`/`wait` are a condition variable; with a schedule, each statement
//! waits for its turn in the witness's statement order) between the two. A run is `ok` when
//! every label it reached is one the model reaches under the preset the program was exported
//! for, the criterion `check --on host` uses.
//!
//! What the host cannot run is not exported either, with the same reason ([`not_exportable`]);
//! `--host-pages` and the 60 s watchdog of a host run are not exported. This module makes no
//! system call; it writes text.

use crate::scenario::{FileInit, FsKind, Op, Scenario, Stmt};
use std::fmt::Write as _;

/// The operations the exporter turns into C (each as `host/exec/ops.rs` carries it out).
pub const SUPPORTED: [&str; 26] = [
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
    "signal",
    "wait",
    "dma-write",
    "dma-read",
    "writeback",
    "reclaim",
    "drop-caches",
];

/// What the program is for: the witness and each release's expected labels.
pub struct ExportInfo {
    /// The policy whose labels the runs are judged against.
    pub policy: String,
    /// The labels the model reaches under `policy`.
    pub model_labels: Vec<String>,
    /// The witness schedule followed at statement granularity, if any.
    pub schedule: Option<String>,
    /// Statement order from the schedule: `(thread, statement, skipped)`.
    pub order: Option<Vec<(usize, usize, bool)>>,
    /// `(preset, labels)` per `expect` line.
    pub expects: Vec<(String, Vec<String>)>,
}

/// Why `sc` cannot be exported, if it cannot: the host's reasons that hold on any machine
/// (`host::exec::not_reproducible`; root, io_uring and mkfs are the target machine's), and an
/// operation the exporter does not write.
pub fn not_exportable(sc: &Scenario) -> Option<String> {
    if let Some(why) = crate::host::exec::not_reproducible(sc) {
        return Some(why);
    }
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        let kw = st.op.keyword();
        if !SUPPORTED.contains(&kw) {
            return Some(format!("line {}: `{kw}` is not exported", st.span.line));
        }
    }
    None
}

/// The kernel path a statement exercises, for the comment above it in the program.
fn kernel_path(op: &Op) -> &'static str {
    match op {
        Op::Mmap { .. } => "mmap(2)",
        Op::Munmap { .. } => "munmap(2): zap the PTEs (the range stays reserved, PROT_NONE)",
        Op::Store { .. } => "a CPU store: the fault path (->page_mkwrite, COW), then the copy",
        Op::Load { .. } => "a CPU load through the page tables",
        Op::Write { .. } => "buffered write(2): ->write_begin/->write_end",
        Op::Read { .. } => "buffered read(2)",
        Op::Fsync { .. } => "fsync(2): WB_SYNC_ALL writeback and a cache flush, then the sync oracle",
        Op::Sync => "syncfs(2) of the scratch filesystem, then the sync oracle",
        Op::Msync { .. } => "msync(MS_SYNC): vfs_fsync_range() over the mapped pages",
        Op::Truncate { .. } => "ftruncate(2): truncate_inode_pages_range()",
        Op::Punch { .. } => "fallocate(PUNCH_HOLE | KEEP_SIZE)",
        Op::Fallocate { .. } => "fallocate(0)",
        Op::Pin { .. } | Op::RegMr { .. } => "IORING_REGISTER_BUFFERS: pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM), as ib_umem_get()",
        Op::Unpin { .. } | Op::DeregMr { .. } => "IORING_UNREGISTER_BUFFERS: unpin_user_folio() (no dirtying, unlike ib_umem_release())",
        Op::DioRead { .. } => "O_DIRECT read(2): GUP of the buffer, the device's DMA, bio_check_pages_dirty()",
        Op::DioWrite { .. } => "O_DIRECT write(2): a short-term pin of the buffer, the device's DMA read, the disk write",
        Op::RemoteWrite { .. } => "process_vm_writev(2): pin_user_pages_remote(), a kernel copy, unpin_user_pages_dirty_lock()",
        Op::Signal { .. } | Op::Wait { .. } => "a condition variable",
        Op::DmaWrite { .. } => "the device writes: IORING_OP_READ_FIXED into the registered buffer (a bvec over the pinned pages: no fault, no dirtying)",
        Op::DmaRead { .. } => "the device reads: IORING_OP_WRITE_FIXED from the registered buffer",
        Op::Writeback { .. } => "sync_file_range(SYNC_FILE_RANGE_WRITE): WB_SYNC_NONE writeback, not waited for",
        Op::Reclaim { .. } => "MADV_PAGEOUT: reclaim_pages() -> shrink_folio_list() (unmap, release buffers, free)",
        Op::DropCaches => "echo 1 > /proc/sys/vm/drop_caches: invalidate_mapping_pages()",
        Op::ReclaimActive | Op::Crash | Op::Lease { .. } | Op::Unlease { .. } => "not exported",
    }
}

fn c_str(s: &str) -> String {
    let mut o = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            c if c.is_ascii_graphic() || c == ' ' => o.push(c),
            _ => o.push('?'),
        }
    }
    o.push('"');
    o
}

fn comment(s: &str) -> String {
    s.replace("*/", "* /")
}

/// `{ a, b, c }`, or `{ 0 }` for none (C has no empty initialisers before C23).
fn c_list(items: &[String]) -> String {
    if items.is_empty() {
        "{ 0 }".into()
    } else {
        format!("{{ {} }}", items.join(", "))
    }
}

/// Names in first-use order.
struct Names(Vec<String>);

impl Names {
    fn add(&mut self, n: &str) {
        if !self.0.iter().any(|x| x == n) {
            self.0.push(n.to_string());
        }
    }

    fn ix(&self, n: &str) -> usize {
        self.0.iter().position(|x| x == n).unwrap_or(0)
    }
}

/// The largest page index + 1 the scenario may give file `name` (its size can grow past its
/// declaration: a write or O_DIRECT write past the end, fallocate, truncate up).
fn file_cap(sc: &Scenario, name: &str, pages: u32) -> u32 {
    let mut cap = pages;
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        let reach = match &st.op {
            Op::Write { file, page, .. }
            | Op::Read { file, page }
            | Op::DioRead { file, page, .. }
            | Op::DioWrite { file, page, .. } => (file, page + 1),
            Op::Truncate { file, pages } => (file, *pages),
            Op::Punch { file, range } | Op::Fallocate { file, range } => (file, range.end),
            Op::Mmap { file, range: Some(r), .. } => (file, r.end),
            _ => continue,
        };
        if reach.0.text == name {
            cap = cap.max(reach.1);
        }
    }
    cap.max(1)
}

/// How to make the scratch filesystem the program runs on, as a host run makes it
/// (`host::ScratchFs`).
fn scratch_recipe(sc: &Scenario) -> Vec<String> {
    let kind = sc.fs.kind;
    if kind == FsKind::Tmpfs {
        return vec!["mkdir -p /dev/shm/repro && ./repro /dev/shm/repro [RUNS]".into()];
    }
    if sc.fs.stable_writes {
        return vec![
            "n=$(cat /sys/class/zram-control/hot_add)   # zram: BLK_FEAT_STABLE_WRITES".into(),
            "echo 64M > /sys/block/zram$n/disksize && mkfs.ext4 -q -F -b 4096 /dev/zram$n".into(),
            "mkdir -p mnt && mount /dev/zram$n mnt && ./repro mnt [RUNS]".into(),
        ];
    }
    let (size, mkfs) = match kind {
        FsKind::Xfs => ("320M", "mkfs.xfs -q -f -b size=4096"),
        FsKind::Btrfs => ("256M", "mkfs.btrfs -q -f -s 4096"),
        _ => ("32M", "mkfs.ext4 -q -F -b 4096"),
    };
    let opts = if sc.fs.nodelalloc { "loop,nodelalloc" } else { "loop" };
    vec![
        format!("truncate -s {size} img && {mkfs} img"),
        format!("mkdir -p mnt && mount -o {opts} img mnt && ./repro mnt [RUNS]"),
    ]
}

/// The C program for `sc`. `Err` names what cannot be exported.
pub fn to_c(sc: &Scenario, info: &ExportInfo) -> Result<String, String> {
    if let Some(why) = not_exportable(sc) {
        return Err(format!("{}: cannot export: {why}", sc.name.text));
    }
    let body = || sc.threads.iter().flat_map(|t| &t.body);
    let files = &sc.files;
    let file_ix = |n: &str| files.iter().position(|f| f.name.text == n).unwrap_or(0);
    let mut handles = Names(Vec::new());
    let mut events = Names(Vec::new());
    let mut dma_tags = Names(Vec::new());
    for st in body() {
        if let Some(d) = &st.def {
            handles.add(&d.text);
        }
        match &st.op {
            Op::Signal { event } | Op::Wait { event } => events.add(&event.text),
            Op::DmaWrite { tag, .. } => dma_tags.add(&tag.text),
            _ => {}
        }
    }
    let mut c = String::new();
    header(&mut c, sc, info);
    c.push_str(PRELUDE);
    let w = &mut c;
    let caps: Vec<u32> = files.iter().map(|f| file_cap(sc, &f.name.text, f.pages)).collect();
    let kind = match sc.fs.kind {
        FsKind::Xfs => "FS_XFS",
        FsKind::Btrfs => "FS_BTRFS",
        FsKind::Tmpfs => "FS_TMPFS",
        _ => "FS_EXT4",
    };
    let _ = writeln!(w, "#define NFILES {}", files.len().max(1));
    let _ = writeln!(w, "#define NHANDLES {}", handles.0.len().max(1));
    let _ = writeln!(w, "#define NEVENTS {}", events.0.len().max(1));
    let _ = writeln!(w, "#define NTHREADS {}", sc.threads.len());
    let _ = writeln!(w, "#define NTAGS {}", dma_tags.0.len());
    let _ = writeln!(w, "#define MAXCAP {}", caps.iter().copied().max().unwrap_or(1));
    let _ = writeln!(w, "#define DISK_BLOCKS {}", sc.disk_blocks);
    let _ = writeln!(w, "#define FS_KIND {kind}");
    let _ = writeln!(w, "#define FS_NAME {}", c_str(sc.fs.kind.name()));
    let _ = writeln!(w, "#define STABLE_WRITES {}", i32::from(sc.fs.stable_writes));
    let _ = writeln!(w, "#define NODELALLOC {}", i32::from(sc.fs.nodelalloc));
    let _ = writeln!(w, "static const char *scenario = {};", c_str(&sc.name.text));
    let _ = writeln!(w, "static const char *policy = {};", c_str(&info.policy));
    let list = |v: Vec<String>| c_list(&v);
    let _ = writeln!(
        w,
        "static const char *file_name[NFILES] = {};",
        list(files.iter().map(|f| c_str(&f.name.text)).collect())
    );
    let _ = writeln!(
        w,
        "static const int file_pages[NFILES] = {};",
        list(files.iter().map(|f| f.pages.to_string()).collect())
    );
    let _ = writeln!(
        w,
        "static const int file_init[NFILES] = {};",
        list(
            files
                .iter()
                .map(|f| match f.init {
                    FileInit::Synced => "INIT_SYNCED".to_string(),
                    FileInit::Dirty => "INIT_DIRTY".to_string(),
                    FileInit::Sparse => "INIT_SPARSE".to_string(),
                })
                .collect()
        )
    );
    let _ = writeln!(
        w,
        "static const int file_cap[NFILES] = {};",
        list(caps.iter().map(u32::to_string).collect())
    );
    let _ = writeln!(
        w,
        "static const char *const dma_tag[] = {};",
        list(dma_tags.0.iter().map(|t| c_str(t)).collect())
    );
    let _ = writeln!(
        w,
        "static const char *const handle_name[NHANDLES] = {};",
        list(handles.0.iter().map(|t| c_str(t)).collect())
    );
    let model: String = info.model_labels.iter().map(|l| format!("{}, ", c_str(l))).collect();
    let _ = writeln!(w, "static const char *model_labels[] = {{ {model}0 }};");
    let _ =
        writeln!(w, "static const int order_len = {};", info.order.as_ref().map_or(0, Vec::len));
    c.push_str(include_str!("runtime.c"));
    let w = &mut c;
    for (t, th) in sc.threads.iter().enumerate() {
        let slot = |pc: usize| {
            info.order.as_ref().and_then(|o| o.iter().position(|&(tt, p, _)| tt == t && p == pc))
        };
        let turns: Vec<String> = (0..th.body.len())
            .map(|pc| slot(pc).map_or("-1".to_string(), |k| k.to_string()))
            .collect();
        let skips: Vec<String> = (0..th.body.len())
            .map(|pc| {
                let skip = slot(pc).zip(info.order.as_ref()).is_some_and(|(k, o)| o[k].2);
                i32::from(skip).to_string()
            })
            .collect();
        let name = c_str(&th.name.text);
        let _ = writeln!(w, "\n/* thread {} */", comment(&th.name.text));
        let _ = writeln!(w, "static const int turn_{t}[] = {{ {} }};", turns.join(", "));
        let _ = writeln!(w, "static const int skip_{t}[] = {{ {} }};", skips.join(", "));
        let _ = writeln!(w, "static void *thread_{t}(void *arg)\n{{");
        let _ = writeln!(
            w,
            "\tuint64_t seed = ((uint64_t)(intptr_t)arg << 20) ^ ({}ULL * 0x9E3779B97F4A7C15ULL);",
            t + 1
        );
        let _ = writeln!(w, "\tint r;\n\t(void)seed;");
        for (pc, st) in th.body.iter().enumerate() {
            let def = st.def.as_ref().map_or("-1".to_string(), |d| handles.ix(&d.text).to_string());
            let call = op_call(st, &file_ix, &handles, &events, &dma_tags, &def);
            let _ = writeln!(
                w,
                "\t/* line {}: {}{} -- {} */",
                st.span.line,
                if st.maybe { "maybe " } else { "" },
                st.op.keyword(),
                comment(kernel_path(&st.op))
            );
            let _ = writeln!(
                w,
                "\tif (!await_turn(turn_{t}[{pc}])) {{ hang(\"%s: its turn in the schedule never came\", {name}); return 0; }}"
            );
            let _ = writeln!(
                w,
                "\tr = skip_this(turn_{t}[{pc}], skip_{t}[{pc}], {}, &seed) ? 0 : {call};",
                i32::from(st.maybe)
            );
            let _ = writeln!(
                w,
                "\tif (!step_done({name}, {}, {}, {def}, r)) return 0;",
                st.span.line,
                c_str(st.op.keyword())
            );
            let _ = writeln!(w, "\tend_turn(turn_{t}[{pc}]);");
        }
        let _ = writeln!(w, "\treturn 0;\n}}");
    }
    let list: Vec<String> = (0..sc.threads.len()).map(|t| format!("thread_{t}")).collect();
    let _ = writeln!(
        w,
        "\nstatic void *(*const threads[NTHREADS])(void *) = {{ {} }};",
        list.join(", ")
    );
    c.push_str(include_str!("main.c"));
    Ok(c)
}

/// The C call that carries out `st` (`host/exec/ops.rs`, one function per operation).
fn op_call(
    st: &Stmt,
    file_ix: &dyn Fn(&str) -> usize,
    handles: &Names,
    events: &Names,
    dma_tags: &Names,
    def: &str,
) -> String {
    let hx = |n: &crate::scenario::Name| handles.ix(&n.text);
    let fx = |n: &crate::scenario::Name| file_ix(&n.text);
    match &st.op {
        Op::Mmap { file, range, shared, ro } => {
            let f = fx(file);
            let (a, b) = match range {
                Some(r) => (r.start.to_string(), r.end.to_string()),
                None => ("0".into(), format!("file_pages[{f}]")),
            };
            format!("op_mmap({def}, {f}, {a}, {b}, {}, {})", i32::from(*shared), i32::from(*ro))
        }
        Op::Munmap { map } => format!("op_munmap({})", hx(map)),
        Op::Store { map, page, tag } => {
            format!("op_store({}, {page}, {})", hx(map), c_str(&tag.text))
        }
        Op::Load { map, page } => format!("op_load({}, {page})", hx(map)),
        Op::Write { file, page, tag } => {
            format!("op_write({}, {page}, {})", fx(file), c_str(&tag.text))
        }
        Op::Read { file, page } => format!("op_read({}, {page})", fx(file)),
        Op::Fsync { file } => format!("op_fsync({})", fx(file)),
        Op::Sync => "op_sync()".into(),
        Op::Msync { map } => format!("op_msync({})", hx(map)),
        Op::Truncate { file, pages } => format!("op_truncate({}, {pages})", fx(file)),
        Op::Punch { file, range } => {
            format!("op_punch({}, {}, {})", fx(file), range.start, range.end)
        }
        Op::Fallocate { file, range } => {
            format!("op_fallocate({}, {}, {})", fx(file), range.start, range.end)
        }
        Op::Pin { map, range, .. } | Op::RegMr { map, range, .. } => {
            format!("op_register({def}, {}, {}, {})", hx(map), range.start, range.end)
        }
        Op::Unpin { pin, .. } => format!("op_unregister({}, 0)", hx(pin)),
        Op::DeregMr { mr } => format!("op_unregister({}, 1)", hx(mr)),
        Op::DioRead { file, page, map, map_page } => {
            format!("op_dio_read({}, {page}, {}, {map_page})", fx(file), hx(map))
        }
        Op::DioWrite { file, page, map, map_page } => {
            format!("op_dio_write({}, {page}, {}, {map_page})", fx(file), hx(map))
        }
        Op::RemoteWrite { map, page, tag } => {
            format!("op_remote_write({}, {page}, {})", hx(map), c_str(&tag.text))
        }
        Op::Signal { event } => format!("op_signal({})", events.ix(&event.text)),
        Op::Wait { event } => format!("op_wait({})", events.ix(&event.text)),
        Op::DmaWrite { handle, page, tag } => format!(
            "op_dma_write({}, {page}, {}, {})",
            hx(handle),
            dma_tags.ix(&tag.text),
            c_str(&tag.text)
        ),
        Op::DmaRead { handle, page } => format!("op_dma_read({}, {page})", hx(handle)),
        Op::Writeback { file } => {
            format!(
                "op_writeback({})",
                file.as_ref().map_or("-1".to_string(), |f| fx(f).to_string())
            )
        }
        Op::Reclaim { .. } => "op_reclaim()".into(),
        Op::DropCaches => "op_drop_caches()".into(),
        // Refused by not_exportable() before any text is written.
        Op::ReclaimActive | Op::Crash | Op::Lease { .. } | Op::Unlease { .. } => "ENOSYS".into(),
    }
}

/// The comment at the top: the scenario, the witness, each release's expected labels, and how
/// to build and run it.
fn header(w: &mut String, sc: &Scenario, info: &ExportInfo) {
    let _ = writeln!(w, "/*");
    let _ = writeln!(w, " * Generated by `pincheck export` from {}.", comment(&sc.path));
    let _ = writeln!(w, " * Scenario: {}", comment(&sc.name.text));
    if let Some(a) = &sc.about {
        let _ = writeln!(w, " * About: {}", comment(a));
    }
    let mut opts = String::new();
    if sc.fs.nodelalloc {
        opts.push_str(" nodelalloc");
    }
    if sc.fs.stable_writes {
        opts.push_str(" stable-writes");
    }
    let _ =
        writeln!(w, " * Filesystem: {}{opts} (disk {} blocks)", sc.fs.kind.name(), sc.disk_blocks);
    match &info.schedule {
        Some(s) => {
            let _ = writeln!(w, " * Witness (followed at statement granularity): {}", comment(s));
        }
        None => {
            let _ = writeln!(w, " * No witness: the threads run freely.");
        }
    }
    let labels = |l: &[String]| if l.is_empty() { "ok".to_string() } else { comment(&l.join(" ")) };
    let _ = writeln!(
        w,
        " * Judged against the model under {}: {}",
        comment(&info.policy),
        labels(&info.model_labels)
    );
    let _ = writeln!(w, " * Expected outcome per release (the scenario's `expect` lines):");
    for (p, l) in &info.expects {
        let _ = writeln!(w, " *   {}: {}", comment(p), labels(l));
    }
    let _ = writeln!(w, " *");
    let _ = writeln!(w, " * Build: cc -O2 -pthread -Wall -o repro repro.c");
    let _ = writeln!(w, " * Run as root on a scratch filesystem of the scenario's kind, e.g.:");
    for line in scratch_recipe(sc) {
        let _ = writeln!(w, " *   {}", comment(&line));
    }
    let _ =
        writeln!(w, " * Output: TAP 13, one line per run with the labels it reached and notes as");
    let _ = writeln!(
        w,
        " * `#` lines; exit 0 if every run is ok, 1 if not, 2 on the wrong filesystem."
    );
    let _ = writeln!(
        w,
        " * As root it also reads /dev/kmsg (`warn`, `bug`) and /proc/vmstat's pin counters"
    );
    let _ = writeln!(w, " * (`leak`); the machine's other activity shows there too.");
    let _ = writeln!(w, " */");
}

const PRELUDE: &str = r##"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FS_EXT4 0
#define FS_XFS 1
#define FS_BTRFS 2
#define FS_TMPFS 3
#define INIT_SYNCED 0
#define INIT_DIRTY 1
#define INIT_SPARSE 2
"##;
