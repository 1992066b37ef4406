//! `pincheck export FILE --c OUT.c`: a scenario as a standalone C program (libc and raw system
//! calls only), for kernel developers who reproduce with C (kselftests, syzkaller repros).
//!
//! The program does what a host run does (src/host/exec.rs, docs/design.md §6) for the
//! operations it supports: it creates the files in a directory given on its command line (a
//! scratch filesystem the user made), sizes the free space to `disk N` with a ballast file,
//! runs one pthread per scenario thread (`signal`/`wait` are a condition variable; with a
//! schedule, each statement waits for its turn in the witness's statement order), and checks
//! the same oracles over the writes it accepted: after each successful fsync/sync, each page
//! owed is read from the device as a crash would find it (FS_IOC_FIEMAP, then an O_DIRECT read
//! of the block device at the physical offset); at the end, after dropping the caches, each page
//! is read back through O_DIRECT. It loops N times and prints TAP (kselftest style): a run is
//! `ok` when every label it reached is one the model reaches under the preset of the release
//! the program was exported for.
//!
//! Operations supported: mmap, munmap, store, load, write, read, fsync, sync, dio-read,
//! signal, wait, drop-caches. Others (pins and RDMA through io_uring, truncate, punch, ...) are
//! refused with the operation named: they are not exported yet. This module makes no system
//! call; it writes text.

use crate::scenario::{FileInit, FsKind, Op, Scenario};
use std::fmt::Write as _;

/// The operations the exporter turns into C.
pub const SUPPORTED: [&str; 12] = [
    "mmap",
    "munmap",
    "store",
    "load",
    "write",
    "read",
    "fsync",
    "sync",
    "dio-read",
    "signal",
    "wait",
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
    /// Statement order from the schedule: `(thread, statement)`; skipped statements are refused.
    pub order: Option<Vec<(usize, usize, bool)>>,
    /// `(preset, labels)` per `expect` line.
    pub expects: Vec<(String, Vec<String>)>,
}

/// Why `sc` cannot be exported, if it cannot.
pub fn not_exportable(sc: &Scenario) -> Option<String> {
    match sc.fs.kind {
        FsKind::Ext4 | FsKind::Xfs | FsKind::Tmpfs => {}
        k => {
            return Some(format!(
                "fs {}: the exporter writes ext4, xfs and tmpfs programs",
                k.name()
            ))
        }
    }
    if sc.fs.stable_writes || sc.fs.nodelalloc {
        return Some("fs options (stable-writes, nodelalloc) are not exported".into());
    }
    if !sc.on_break.is_empty() {
        return Some("`on break` blocks are not exported".into());
    }
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        let kw = st.op.keyword();
        if !SUPPORTED.contains(&kw) {
            return Some(format!(
                "line {}: `{kw}` is not exported yet (supported: {})",
                st.span.line,
                SUPPORTED.join(", ")
            ));
        }
        if st.maybe {
            return Some(format!("line {}: `maybe` statements are not exported", st.span.line));
        }
        if let Op::Mmap { ro: true, .. } = st.op {
            return Some(format!("line {}: read-only mappings are not exported", st.span.line));
        }
    }
    if sc.threads.len() > 16 {
        return Some("more than 16 threads".into());
    }
    None
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

/// The C program for `sc`. `Err` names what cannot be exported.
pub fn to_c(sc: &Scenario, info: &ExportInfo) -> Result<String, String> {
    if let Some(why) = not_exportable(sc) {
        return Err(format!("{}: cannot export: {why}", sc.name.text));
    }
    if let Some(o) = &info.order {
        if o.iter().any(|&(_, _, skip)| skip) {
            return Err("the schedule skips a statement (`maybe`), which is not exported".into());
        }
    }
    let files: Vec<&crate::scenario::FileDecl> = sc.files.iter().collect();
    let file_ix = |n: &str| files.iter().position(|f| f.name.text == n).unwrap_or(0);
    // Handles: every defined name gets a slot.
    let mut handles: Vec<String> = Vec::new();
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        if let Some(d) = &st.def {
            if !handles.contains(&d.text) {
                handles.push(d.text.clone());
            }
        }
    }
    let handle_ix = |n: &str| handles.iter().position(|h| h == n).unwrap_or(0);
    let mut events: Vec<String> = Vec::new();
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        if let Op::Signal { event } | Op::Wait { event } = &st.op {
            if !events.contains(&event.text) {
                events.push(event.text.clone());
            }
        }
    }
    let event_ix = |n: &str| events.iter().position(|h| h == n).unwrap_or(0);
    let mut tags: Vec<String> = Vec::new();
    for f in &files {
        for i in 0..f.pages {
            tags.push(format!("{}{i}", f.name.text));
        }
    }
    for st in sc.threads.iter().flat_map(|t| &t.body) {
        if let Op::Store { tag, .. } | Op::Write { tag, .. } = &st.op {
            if !tags.contains(&tag.text) {
                tags.push(tag.text.clone());
            }
        }
    }
    let mut c = String::new();
    let w = &mut c;
    let _ = writeln!(w, "/*");
    let _ = writeln!(w, " * Generated by `pincheck export` from {}.", comment(&sc.path));
    let _ = writeln!(w, " * Scenario: {}", comment(&sc.name.text));
    if let Some(a) = &sc.about {
        let _ = writeln!(w, " * About: {}", comment(a));
    }
    let _ = writeln!(w, " * Filesystem: {} (disk {} blocks)", sc.fs.kind.name(), sc.disk_blocks);
    match &info.schedule {
        Some(s) => {
            let _ = writeln!(w, " * Witness (followed at statement granularity): {}", comment(s));
        }
        None => {
            let _ = writeln!(w, " * No witness: the threads run freely.");
        }
    }
    let _ = writeln!(
        w,
        " * Judged against the model under {}: {}",
        comment(&info.policy),
        if info.model_labels.is_empty() { "ok".to_string() } else { info.model_labels.join(" ") }
    );
    let _ = writeln!(w, " * Expected outcome per release (the scenario's `expect` lines):");
    for (p, l) in &info.expects {
        let _ = writeln!(
            w,
            " *   {}: {}",
            comment(p),
            if l.is_empty() { "ok".into() } else { comment(&l.join(" ")) }
        );
    }
    let _ = writeln!(w, " *");
    let _ = writeln!(w, " * Build: cc -O2 -pthread -Wall -o repro repro.c");
    let _ = writeln!(w, " * Run as root on a scratch filesystem of the right kind, e.g.:");
    let _ = writeln!(
        w,
        " *   truncate -s 320M img && mkfs.{} img && mkdir -p mnt && mount -o loop img mnt",
        if sc.fs.kind == FsKind::Tmpfs { "ext4" } else { sc.fs.kind.name() }
    );
    let _ = writeln!(w, " *   ./repro mnt [RUNS]");
    let _ = writeln!(
        w,
        " * (tmpfs: a directory in /dev/shm). Output: TAP 13; exit 0 if every run is ok."
    );
    let _ = writeln!(w, " */");
    c.push_str(PRELUDE);
    let w = &mut c;
    let _ = writeln!(w, "#define NFILES {}", files.len().max(1));
    let _ = writeln!(w, "#define NHANDLES {}", handles.len().max(1));
    let _ = writeln!(w, "#define NEVENTS {}", events.len().max(1));
    let _ = writeln!(w, "#define NTHREADS {}", sc.threads.len());
    let _ = writeln!(w, "#define DISK_BLOCKS {}", sc.disk_blocks);
    let _ = writeln!(w, "#define IS_TMPFS {}", i32::from(sc.fs.kind == FsKind::Tmpfs));
    let _ = writeln!(w, "static const char *scenario = {};", c_str(&sc.name.text));
    let names: Vec<String> = files.iter().map(|f| c_str(&f.name.text)).collect();
    let _ = writeln!(
        w,
        "static const char *file_name[NFILES] = {{ {} }};",
        if names.is_empty() { "0".into() } else { names.join(", ") }
    );
    let pages: Vec<String> = files.iter().map(|f| f.pages.to_string()).collect();
    let _ = writeln!(
        w,
        "static const int file_pages[NFILES] = {{ {} }};",
        if pages.is_empty() { "0".into() } else { pages.join(", ") }
    );
    let inits: Vec<&str> = files
        .iter()
        .map(|f| match f.init {
            FileInit::Synced => "0",
            FileInit::Dirty => "1",
            FileInit::Sparse => "2",
        })
        .collect();
    let _ = writeln!(
        w,
        "static const int file_init[NFILES] = {{ {} }};",
        if inits.is_empty() { "0".into() } else { inits.join(", ") }
    );
    let model: Vec<String> = info.model_labels.iter().map(|l| c_str(l)).collect();
    let _ = writeln!(
        w,
        "static const char *model_labels[] = {{ {}0 }};",
        model.iter().map(|m| format!("{m}, ")).collect::<String>()
    );
    // The schedule: turn of each (thread, statement), -1 when free.
    for (t, th) in sc.threads.iter().enumerate() {
        let turns: Vec<String> = (0..th.body.len())
            .map(|pc| {
                info.order
                    .as_ref()
                    .and_then(|o| o.iter().position(|&(tt, p, _)| tt == t && p == pc))
                    .map_or("-1".to_string(), |k| k.to_string())
            })
            .collect();
        let _ = writeln!(w, "static const int turn_{t}[] = {{ {}, -2 }};", turns.join(", "));
    }
    let total = info.order.as_ref().map_or(0, |o| o.len());
    let _ = writeln!(w, "static const int order_len = {total};");
    c.push_str(ORACLE);
    let w = &mut c;
    // Threads.
    for (t, th) in sc.threads.iter().enumerate() {
        let _ = writeln!(w, "\n/* thread {} */", comment(&th.name.text));
        let _ = writeln!(w, "static void *thread_{t}(void *arg)\n{{\n\t(void)arg;");
        for (pc, st) in th.body.iter().enumerate() {
            let kw = st.op.keyword();
            let _ = writeln!(w, "\t/* line {}: {} */", st.span.line, kw);
            let _ = writeln!(w, "\tif (!await_turn(turn_{t}[{pc}])) return 0;");
            let def = st.def.as_ref().map_or("-1".to_string(), |d| handle_ix(&d.text).to_string());
            let call = match &st.op {
                Op::Mmap { file, range, shared, .. } => {
                    let f = file_ix(&file.text);
                    let (a, b) = range.map_or((0, files[f].pages), |r| (r.start, r.end));
                    format!("op_mmap({def}, {f}, {a}, {b}, {})", i32::from(*shared))
                }
                Op::Munmap { map } => format!("op_munmap({})", handle_ix(&map.text)),
                Op::Store { map, page, tag } => {
                    format!("op_store({}, {page}, {})", handle_ix(&map.text), c_str(&tag.text))
                }
                Op::Load { map, page } => format!("op_load({}, {page})", handle_ix(&map.text)),
                Op::Write { file, page, tag } => {
                    format!("op_write({}, {page}, {})", file_ix(&file.text), c_str(&tag.text))
                }
                Op::Read { file, page } => format!("op_read({}, {page})", file_ix(&file.text)),
                Op::Fsync { file } => format!("op_fsync({})", file_ix(&file.text)),
                Op::Sync => "op_sync()".to_string(),
                Op::DioRead { file, page, map, map_page } => format!(
                    "op_dio_read({}, {page}, {}, {map_page})",
                    file_ix(&file.text),
                    handle_ix(&map.text)
                ),
                Op::Signal { event } => format!("op_signal({})", event_ix(&event.text)),
                Op::Wait { event } => format!("op_wait({})", event_ix(&event.text)),
                Op::DropCaches => "op_drop_caches()".to_string(),
                _ => return Err(format!("line {}: `{kw}` is not exported yet", st.span.line)),
            };
            let _ = writeln!(w, "\tstep_done({}, {def}, {});", c_str(kw), call);
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
    c.push_str(MAIN);
    Ok(c)
}

const PRELUDE: &str = r##"
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096
#define RECORD 64
#define MAXVER 256
#define MAXLABELS 32
"##;

const ORACLE: &str = r##"
/* ---- tags: a page is the record "#TAG" padded with zeroes to 64 bytes, 64 times ---- */
static void pattern(const char *tag, unsigned char *page)
{
	unsigned char rec[RECORD];
	memset(rec, 0, sizeof(rec));
	rec[0] = '#';
	memcpy(rec + 1, tag, strlen(tag) < RECORD - 2 ? strlen(tag) : RECORD - 2);
	for (int i = 0; i < PAGE / RECORD; i++)
		memcpy(page + i * RECORD, rec, RECORD);
}

/* What a page holds: 0 zeroes, 1 one tag (copied to out), 2 torn (first part in out), 3 garbage. */
static int decode(const unsigned char *page, char *out)
{
	int kind = 0;
	out[0] = 0;
	for (int i = 0; i < PAGE / RECORD; i++) {
		const unsigned char *r = page + i * RECORD;
		char t[RECORD];
		int zero = 1;
		for (int j = 0; j < RECORD; j++)
			if (r[j]) zero = 0;
		if (zero) {
			t[0] = 0;
		} else {
			if (r[0] != '#') return 3;
			int n = 1;
			while (n < RECORD && r[n]) n++;
			for (int j = n; j < RECORD; j++)
				if (r[j]) return 3;
			memcpy(t, r + 1, n - 1);
			t[n - 1] = 0;
		}
		if (i == 0) {
			strcpy(out, t);
			kind = t[0] ? 1 : 0;
		} else if (strcmp(out, t) != 0) {
			return 2;
		}
	}
	return kind;
}

/* ---- the run's state ---- */
static char dir[4096];
static int fd[NFILES], dfd[NFILES], blk = -1;
struct map { unsigned char *addr; int file, start, pages, shared, ok; };
static struct map maps[NHANDLES];
static int defined[NHANDLES];
static int events[NEVENTS];
static int turn;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char labels[MAXLABELS][64];
static int nlabels;
static int hung;
/* The oracle: the accepted versions of each file page (version 0: its initial contents). */
struct page { int nver; int inflight; char ver[MAXVER][RECORD]; };
static struct page *pages_of[NFILES];

static void label(const char *l)
{
	pthread_mutex_lock(&mu);
	for (int i = 0; i < nlabels; i++)
		if (!strcmp(labels[i], l)) { pthread_mutex_unlock(&mu); return; }
	if (nlabels < MAXLABELS)
		snprintf(labels[nlabels++], sizeof(labels[0]), "%s", l);
	pthread_mutex_unlock(&mu);
}

static void in_flight(int f, int p, int d)
{
	pthread_mutex_lock(&mu);
	pages_of[f][p].inflight += d;
	pthread_mutex_unlock(&mu);
}

static void accept_tag(int f, int p, const char *tag)
{
	pthread_mutex_lock(&mu);
	struct page *pg = &pages_of[f][p];
	if (pg->nver < MAXVER)
		snprintf(pg->ver[pg->nver++], RECORD, "%s", tag);
	pthread_mutex_unlock(&mu);
}

/* Whether `found` (a tag, "" for zeroes) is version `want` or later of page p of file f:
 * 0 holds, 1 lost (an older version), 2 corrupt (never written to it). */
static int judge(int f, int p, int want, int kind, const char *found)
{
	struct page *pg = &pages_of[f][p];
	if (kind == 3) return 2;
	for (int v = pg->nver - 1; v >= 0; v--) {
		if (!strcmp(pg->ver[v], found))
			return v >= want ? 0 : 1;
	}
	/* Data of a write still in flight may be on disk before the write is accepted. */
	if (pg->inflight) return 0;
	return found[0] ? 2 : 1;
}

static const char *errname(int e)
{
	switch (e) {
	case EIO: return "EIO"; case ENOSPC: return "ENOSPC"; case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL"; case ENOMEM: return "ENOMEM"; case EACCES: return "EACCES";
	case EBUSY: return "EBUSY"; case EAGAIN: return "EAGAIN"; case EPERM: return "EPERM";
	case EROFS: return "EROFS"; case EDQUOT: return "EDQUOT"; case EFBIG: return "EFBIG";
	case 1000 + SIGBUS: return "SIGBUS"; case 1000 + SIGSEGV: return "SIGSEGV";
	default: return "errno";
	}
}

/* ---- the schedule: statement k waits until k statements have finished ---- */
static int await_turn(int k)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&mu);
	int want = k >= 0 ? k : (order_len ? order_len : 0);
	while (turn < want && !hung) {
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { hung = 1; break; }
	}
	int ok = !hung;
	pthread_mutex_unlock(&mu);
	if (!ok) label("hang");
	return ok;
}

static void end_turn(int k)
{
	if (k < 0) return;
	pthread_mutex_lock(&mu);
	turn = k + 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* A statement's result: 0 done, -2 skipped (a failed handle), else an errno. */
static void step_done(const char *op, int def, int r)
{
	if (r > 0) {
		char l[64];
		snprintf(l, sizeof(l), "%s:%s", op, errname(r));
		label(l);
	}
	if (def >= 0) {
		pthread_mutex_lock(&mu);
		defined[def] = 1;
		if (r != 0) maps[def].ok = 0;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
}

/* Waits for handle h to be defined (10 s at most); 0 if it failed or never came. */
static int handle(int h)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!defined[h] && !hung)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { hung = 1; break; }
	int ok = defined[h] && maps[h].ok;
	pthread_mutex_unlock(&mu);
	return ok;
}

/* ---- the disk as a crash would find it: FIEMAP, then the block device at that offset ---- */
static int on_disk(int f, int p, char *out)
{
	struct { struct fiemap m; struct fiemap_extent e[1]; } fm;
	memset(&fm, 0, sizeof(fm));
	fm.m.fm_start = (uint64_t)p * PAGE;
	fm.m.fm_length = PAGE;
	fm.m.fm_extent_count = 1;
	if (ioctl(fd[f], FS_IOC_FIEMAP, &fm) != 0) return -1;
	struct fiemap_extent *e = &fm.m.fm_extents[0];
	if (fm.m.fm_mapped_extents == 0 || fm.m.fm_start < e->fe_logical ||
	    (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNWRITTEN))) {
		out[0] = 0;
		return 0;
	}
	if (e->fe_flags & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE))
		return -1;
	static __thread unsigned char *buf;
	if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) return -1;
	off_t at = (off_t)(e->fe_physical + (fm.m.fm_start - e->fe_logical));
	if (pread(blk, buf, PAGE, at) != PAGE) return -1;
	return decode(buf, out);
}

/* After a successful sync: each page owed (`snap`: its version when the sync began) is on disk. */
static void check_synced(int f, const int *snap)
{
	if (IS_TMPFS || blk < 0) return;
	for (int p = 0; p < file_pages[f]; p++) {
		char found[RECORD];
		int kind = on_disk(f, p, found);
		if (kind < 0 || snap[p] < 0) continue;
		pthread_mutex_lock(&mu);
		int v = judge(f, p, snap[p], kind, found);
		pthread_mutex_unlock(&mu);
		if (v == 1) label("data-loss");
		if (v == 2) label("corruption");
	}
}

/* The versions owed by a sync that begins now: the latest accepted of each page. */
static void snapshot(int f, int *snap)
{
	pthread_mutex_lock(&mu);
	for (int p = 0; p < file_pages[f]; p++)
		snap[p] = pages_of[f][p].nver - 1;
	pthread_mutex_unlock(&mu);
}

/* ---- the operations ---- */
static __attribute__((unused)) int op_mmap(int h, int f, int a, int b, int shared)
{
	void *m = mmap(0, (size_t)(b - a) * PAGE, PROT_READ | PROT_WRITE,
		       shared ? MAP_SHARED : MAP_PRIVATE, fd[f], (off_t)a * PAGE);
	if (m == MAP_FAILED) return errno;
	maps[h] = (struct map){ m, f, a, b - a, shared, 1 };
	return 0;
}

static __attribute__((unused)) int op_munmap(int h)
{
	if (!handle(h)) return -2;
	/* Keep the range reserved (PROT_NONE) so the address is not reused within the run. */
	mmap(maps[h].addr, (size_t)maps[h].pages * PAGE, PROT_NONE,
	     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	maps[h].shared = 0;
	return 0;
}

/* A SIGBUS or SIGSEGV on the scenario's own access returns to it as the access's outcome. */
static __thread sigjmp_buf *volatile fault_jmp;

static void on_fault(int sig)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

static __attribute__((unused)) int op_store(int h, int page, const char *tag)
{
	if (!handle(h)) return -2;
	unsigned char p[PAGE];
	pattern(tag, p);
	struct map *m = &maps[h];
	int shared = m->shared;
	if (shared) in_flight(m->file, m->start + page, 1);
	sigjmp_buf jb;
	int sig = sigsetjmp(jb, 1);
	if (sig) {
		fault_jmp = 0;
		if (shared) in_flight(m->file, m->start + page, -1);
		/* The faulting page stays faulting: an anonymous page takes its place. */
		mmap(m->addr + (size_t)page * PAGE, PAGE, PROT_READ | PROT_WRITE,
		     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return 1000 + sig;
	}
	fault_jmp = &jb;
	volatile unsigned char *dst = m->addr + (size_t)page * PAGE;
	for (int i = 0; i < PAGE; i++)
		dst[i] = p[i];
	fault_jmp = 0;
	if (shared) {
		accept_tag(m->file, m->start + page, tag);
		in_flight(m->file, m->start + page, -1);
	}
	return 0;
}

static __attribute__((unused)) int op_load(int h, int page)
{
	if (!handle(h)) return -2;
	sigjmp_buf jb;
	int sig = sigsetjmp(jb, 1);
	if (sig) {
		fault_jmp = 0;
		return 1000 + sig;
	}
	fault_jmp = &jb;
	volatile unsigned char *at = maps[h].addr + (size_t)page * PAGE;
	(void)*at;
	fault_jmp = 0;
	return 0;
}

static __attribute__((unused)) int op_write(int f, int page, const char *tag)
{
	unsigned char p[PAGE];
	pattern(tag, p);
	in_flight(f, page, 1);
	ssize_t n = pwrite(fd[f], p, PAGE, (off_t)page * PAGE);
	int e = errno;
	if (n == PAGE) accept_tag(f, page, tag);
	in_flight(f, page, -1);
	return n < 0 ? e : 0;
}

static __attribute__((unused)) int op_read(int f, int page)
{
	unsigned char p[PAGE];
	return pread(fd[f], p, PAGE, (off_t)page * PAGE) < 0 ? errno : 0;
}

static __attribute__((unused)) int op_fsync(int f)
{
	int snap[4096];
	snapshot(f, snap);
	if (fsync(fd[f]) != 0) return errno;
	check_synced(f, snap);
	return 0;
}

static __attribute__((unused)) int op_sync(void)
{
	static int snaps[NFILES][4096];
	for (int f = 0; f < NFILES; f++) snapshot(f, snaps[f]);
	syncfs(fd[0]);
	for (int f = 0; f < NFILES; f++) check_synced(f, snaps[f]);
	return 0;
}

static __attribute__((unused)) int op_dio_read(int f, int page, int h, int map_page)
{
	if (!handle(h)) return -2;
	struct map *m = &maps[h];
	unsigned char *at = m->addr + (size_t)map_page * PAGE;
	if (m->shared) in_flight(m->file, m->start + map_page, 1);
	ssize_t n = pread(dfd[f], at, PAGE, (off_t)page * PAGE);
	int e = errno;
	if (n > 0 && m->shared) {
		char t[RECORD];
		int kind = decode(at, t);
		if (kind <= 1) accept_tag(m->file, m->start + map_page, t);
	}
	if (m->shared) in_flight(m->file, m->start + map_page, -1);
	return n < 0 ? e : 0;
}

static __attribute__((unused)) int op_signal(int e)
{
	pthread_mutex_lock(&mu);
	events[e] = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

static __attribute__((unused)) int op_wait(int e)
{
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&mu);
	while (!events[e] && !hung)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { hung = 1; break; }
	int ok = events[e];
	pthread_mutex_unlock(&mu);
	if (!ok) label("hang");
	return 0;
}

static void drop_caches(void)
{
	int d = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (d >= 0) {
		if (write(d, "1", 1) != 1) { /* not root: caches stay */ }
		close(d);
	}
}

static __attribute__((unused)) int op_drop_caches(void)
{
	drop_caches();
	return 0;
}
"##;

const MAIN: &str = r##"
/* Leaves `free` blocks: a ballast file fallocate()d to ENOSPC, then shrunk by `free` blocks. */
static void fill_to(const char *d, long free_blocks)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/.ballast", d);
	int b = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (b < 0) return;
	off_t size = 0, chunk = 1L << 30;
	while (chunk >= PAGE) {
		if (fallocate(b, 0, size, chunk) == 0) size += chunk;
		else if (errno == ENOSPC) chunk /= 2;
		else break;
	}
	off_t give = free_blocks * PAGE;
	if (ftruncate(b, size > give ? size - give : 0) != 0 || fsync(b) != 0) { /* best effort */ }
	close(b);
}

static int run_once(int r)
{
	char d[4200];
	snprintf(d, sizeof(d), "%s/pincheck-repro-%d-%d", dir, (int)getpid(), r);
	if (mkdir(d, 0755) != 0) { perror(d); return -1; }
	memset(maps, 0, sizeof(maps));
	memset(defined, 0, sizeof(defined));
	memset(events, 0, sizeof(events));
	turn = 0; nlabels = 0; hung = 0;
	long used = 0;
	for (int f = 0; f < NFILES; f++) {
		char path[4300];
		snprintf(path, sizeof(path), "%s/%s", d, file_name[f]);
		fd[f] = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
		if (fd[f] < 0) { perror(path); return -1; }
		pages_of[f] = calloc((size_t)file_pages[f], sizeof(struct page));
		for (int p = 0; p < file_pages[f]; p++) {
			char tag[RECORD];
			snprintf(tag, sizeof(tag), "%s%d", file_name[f], p);
			if (file_init[f] == 2) {
				pages_of[f][p].nver = 1; /* version 0: zeroes */
				continue;
			}
			unsigned char page[PAGE];
			pattern(tag, page);
			if (pwrite(fd[f], page, PAGE, (off_t)p * PAGE) != PAGE) { perror("pwrite"); return -1; }
			pages_of[f][p].nver = 1;
			snprintf(pages_of[f][p].ver[0], RECORD, "%s", tag);
		}
		if (file_init[f] == 2) {
			if (ftruncate(fd[f], (off_t)file_pages[f] * PAGE) != 0) { perror("ftruncate"); return -1; }
		} else {
			used += file_pages[f];
			if (file_init[f] == 0) {
				if (fsync(fd[f]) != 0) { perror("fsync"); return -1; }
				posix_fadvise(fd[f], 0, 0, POSIX_FADV_DONTNEED);
			}
		}
		dfd[f] = open(path, O_RDWR | O_DIRECT);
	}
	if (!IS_TMPFS) fill_to(d, DISK_BLOCKS > used ? DISK_BLOCKS - used : 0);
	pthread_t tid[NTHREADS];
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&tid[t], 0, threads[t], 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(tid[t], 0);
	for (int h = 0; h < NHANDLES; h++)
		if (maps[h].addr) munmap(maps[h].addr, (size_t)maps[h].pages * PAGE);
	/* The end: the final sync, then each page's last accepted write, read back through
	 * O_DIRECT after dropping the caches (tmpfs: through the cache). */
	syncfs(fd[0]);
	if (!IS_TMPFS) drop_caches();
	unsigned char *buf;
	if (posix_memalign((void **)&buf, PAGE, PAGE)) return -1;
	for (int f = 0; f < NFILES; f++) {
		for (int p = 0; p < file_pages[f]; p++) {
			int src = IS_TMPFS || dfd[f] < 0 ? fd[f] : dfd[f];
			ssize_t n = pread(src, buf, PAGE, (off_t)p * PAGE);
			if (n < 0) { label("corruption"); continue; }
			memset(buf + n, 0, PAGE - (size_t)n);
			char found[RECORD];
			int kind = decode(buf, found);
			int v = judge(f, p, pages_of[f][p].nver - 1, kind, found);
			if (v == 1) label("data-loss");
			if (v == 2) label("corruption");
		}
		close(fd[f]);
		if (dfd[f] >= 0) close(dfd[f]);
		free(pages_of[f]);
		char path[4300];
		snprintf(path, sizeof(path), "%s/%s", d, file_name[f]);
		unlink(path);
	}
	free(buf);
	char path[4300];
	snprintf(path, sizeof(path), "%s/.ballast", d);
	unlink(path);
	rmdir(d);
	syncfs(fd[0] >= 0 ? fd[0] : 0);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s SCRATCH_DIR [RUNS]\n", argv[0]);
		return 2;
	}
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	int runs = argc > 2 ? atoi(argv[2]) : 1;
	if (runs < 1) runs = 1;
	struct stat st;
	if (stat(dir, &st) != 0) { perror(dir); return 2; }
	if (!IS_TMPFS) {
		/* The filesystem's device: /proc/self/mountinfo's source for its major:minor. */
		char want[32], line[8192], dev[4096] = "";
		snprintf(want, sizeof(want), "%u:%u", major(st.st_dev), minor(st.st_dev));
		FILE *mi = fopen("/proc/self/mountinfo", "r");
		while (mi && fgets(line, sizeof(line), mi)) {
			char id[32], *sep = strstr(line, " - ");
			if (sscanf(line, "%*s %*s %31s", id) == 1 && !strcmp(id, want) && sep &&
			    sscanf(sep + 3, "%*s %4095s", dev) == 1)
				break;
			dev[0] = 0;
		}
		if (mi) fclose(mi);
		blk = dev[0] ? open(dev, O_RDONLY | O_DIRECT) : -1;
		if (blk < 0)
			printf("# the device of %s (%s) cannot be read: the checks after each sync are skipped\n", dir, dev[0] ? dev : want);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, 0);
	sigaction(SIGSEGV, &sa, 0);
	printf("TAP version 13\n1..%d\n", runs);
	int failed = 0;
	for (int r = 1; r <= runs; r++) {
		if (run_once(r) != 0) {
			printf("not ok %d - %s run %d # setup failed\n", r, scenario, r);
			failed++;
			continue;
		}
		qsort(labels, (size_t)nlabels, sizeof(labels[0]), cmp);
		int fine = 1;
		for (int i = 0; i < nlabels; i++) {
			int known = 0;
			for (int j = 0; model_labels[j]; j++)
				if (!strcmp(model_labels[j], labels[i])) known = 1;
			if (!known) fine = 0;
		}
		printf("%s %d - %s run %d: labels", fine ? "ok" : "not ok", r, scenario, r);
		if (!nlabels) printf(" ok");
		for (int i = 0; i < nlabels; i++) printf(" %s", labels[i]);
		printf("\n");
		if (!fine) failed++;
	}
	printf("# %d of %d runs reached a label the model does not reach\n", failed, runs);
	return failed ? 1 : 0;
}
"##;
