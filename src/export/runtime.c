/* ==== The run-time of an exported scenario: what src/host/ does, in C. ====
 * Each part names the Rust it restates: disk.rs (tags, the oracle, the disk as a crash would
 * find it), exec.rs (setup, handles, the end), exec/ops.rs (one function per operation),
 * ring.rs (io_uring fixed buffers: long-term pins and the device), kmsg.rs (warn/bug from the
 * kernel log), mod.rs (the FOLL_PIN counters). */

#define PAGE 4096
#define RECORD 64
#define MAXW 48     /* accepted writes kept per file page */
#define MAXALT 8    /* other contents one write may have left; possible contents; parts */
#define MAXFLY 8    /* writes in flight per file page */
#define MAXLABELS 32
#define MAXNOTES 40
#define WAIT_LIMIT 10 /* seconds a wait, a handle or a turn may block before `hang` */

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

/* ---- tags (disk.rs): a page is the record "#TAG" padded with zeroes to 64 bytes, 64 times ---- */
static void pattern(const char *tag, unsigned char *page)
{
	unsigned char rec[RECORD];
	memset(rec, 0, sizeof(rec));
	rec[0] = '#';
	memcpy(rec + 1, tag, strlen(tag) < RECORD - 2 ? strlen(tag) : RECORD - 2);
	for (int i = 0; i < PAGE / RECORD; i++)
		memcpy(page + i * RECORD, rec, RECORD);
}

/* What a page read back holds (disk.rs `Found`). A tag "" stands for zeroes. */
enum { F_ZERO, F_TAG, F_TORN, F_GARBAGE, F_UNREADABLE, F_UNKNOWN };
struct found { int kind; int n; char part[MAXALT][RECORD]; };

static struct found decode(const unsigned char *page)
{
	struct found f;
	memset(&f, 0, sizeof(f));
	int zero = 1;
	for (int i = 0; i < PAGE && zero; i++)
		if (page[i]) zero = 0;
	if (zero) return f; /* F_ZERO */
	for (int i = 0; i < PAGE / RECORD; i++) {
		const unsigned char *r = page + i * RECORD;
		char t[RECORD] = "";
		int z = 1;
		for (int j = 0; j < RECORD; j++)
			if (r[j]) z = 0;
		if (!z) {
			if (r[0] != '#') { f.kind = F_GARBAGE; return f; }
			int n = 1;
			while (n < RECORD && r[n]) n++;
			for (int j = n; j < RECORD; j++)
				if (r[j]) { f.kind = F_GARBAGE; return f; }
			memcpy(t, r + 1, (size_t)n - 1);
			t[n - 1] = 0;
		}
		int seen = 0;
		for (int k = 0; k < f.n; k++)
			if (!strcmp(f.part[k], t)) seen = 1;
		if (!seen && f.n < MAXALT) snprintf(f.part[f.n++], RECORD, "%s", t);
	}
	if (f.n == 1) { f.kind = F_TAG; return f; }
	f.kind = F_TORN; /* parts: "" is "zeroes" */
	return f;
}

static const char *found_text(const struct found *f, char *out, size_t len)
{
	switch (f->kind) {
	case F_ZERO: snprintf(out, len, "zeroes"); break;
	case F_TAG: snprintf(out, len, "%s", f->part[0]); break;
	case F_TORN:
		snprintf(out, len, "a torn page (");
		for (int i = 0; i < f->n; i++)
			snprintf(out + strlen(out), len - strlen(out), "%s%s", i ? " and " : "", f->part[i][0] ? f->part[i] : "zeroes");
		snprintf(out + strlen(out), len - strlen(out), ")");
		break;
	case F_GARBAGE: snprintf(out, len, "foreign bytes"); break;
	case F_UNREADABLE: snprintf(out, len, "an error (%s)", f->part[0]); break;
	default: snprintf(out, len, "nothing the oracle can judge (%s)", f->part[0]); break;
	}
	return out;
}

/* ---- labels and notes of one run ---- */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static char labels[MAXLABELS][64];
static int nlabels;
static char notes[MAXNOTES][512];
static int nnotes;
static int hung;

static void label(const char *l)
{
	pthread_mutex_lock(&mu);
	int known = 0;
	for (int i = 0; i < nlabels; i++)
		if (!strcmp(labels[i], l)) known = 1;
	if (!known && nlabels < MAXLABELS)
		snprintf(labels[nlabels++], sizeof(labels[0]), "%s", l);
	pthread_mutex_unlock(&mu);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	pthread_mutex_lock(&mu);
	if (nnotes < MAXNOTES) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(notes[nnotes++], sizeof(notes[0]), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&mu);
}

/* ---- the oracle (disk.rs `Oracle`): the writes accepted for every file page ----
 * Version 0 is what the disk held at the start. A write is accepted with the oracle's clock
 * when its operation began and when it was accepted; data of a write still in flight may be
 * on disk already; a page that left the file (truncate) bumps its generation, so a device
 * write into a folio pinned before is no write of the file. */
struct wr { int ver; char tag[RECORD]; int nalt; char alt[MAXALT][RECORD]; uint64_t begun, ended; };
struct fly { uint64_t id; int known; char tag[RECORD]; };
struct plog {
	int nw; struct wr w[MAXW];
	int excused; /* -1: none */
	int npos; char pos[MAXALT][RECORD];
	unsigned generation;
	int nfly; struct fly fly[MAXFLY];
};
struct ofile { int size, nlogs; struct plog *log; };
static struct ofile ofile[NFILES];
static uint64_t oclock;
static pthread_mutex_t om = PTHREAD_MUTEX_INITIALIZER;

static void plog_hole(struct plog *l)
{
	memset(l, 0, sizeof(*l));
	l->nw = 1;
	l->excused = -1;
}

static int accepted(const struct plog *l) { return l->w[l->nw - 1].ver; }

/* A file of `pages` pages; init 0: all holes; 1: its tags on disk (version 0); 2: its tags
 * accepted, not yet written (version 1). */
static void o_add_file(int f, int pages, int init)
{
	ofile[f].size = pages;
	ofile[f].nlogs = pages;
	ofile[f].log = calloc((size_t)file_cap[f], sizeof(struct plog));
	for (int i = 0; i < pages; i++) {
		struct plog *l = &ofile[f].log[i];
		plog_hole(l);
		if (!init) continue;
		char tag[RECORD];
		snprintf(tag, sizeof(tag), "%s%d", file_name[f], i);
		if (init == 1) {
			snprintf(l->w[0].tag, RECORD, "%s", tag);
		} else {
			l->w[1] = l->w[0];
			snprintf(l->w[1].tag, RECORD, "%s", tag);
			l->w[1].ver = 1;
			l->nw = 2;
		}
	}
}

static struct plog *o_log(int f, int i)
{
	if (i < 0 || i >= file_cap[f]) return 0;
	while (ofile[f].nlogs <= i) plog_hole(&ofile[f].log[ofile[f].nlogs++]);
	return &ofile[f].log[i];
}

static uint64_t o_begin(void)
{
	pthread_mutex_lock(&om);
	uint64_t c = ++oclock;
	pthread_mutex_unlock(&om);
	return c;
}

/* A write of one of `tags` (the first the likeliest; "" zeroes), begun at `begun`, accepted. */
static void o_accept_any_locked(int f, int i, char tags[][RECORD], int n, uint64_t begun)
{
	uint64_t ended = ++oclock;
	if (n == 0) return;
	struct plog *l = o_log(f, i);
	if (!l) return;
	if (l->nw == MAXW) { /* the oldest accepted writes go; version 0 stays */
		memmove(&l->w[1], &l->w[2], sizeof(l->w[0]) * (MAXW - 2));
		l->nw--;
	}
	struct wr *w = &l->w[l->nw];
	memset(w, 0, sizeof(*w));
	w->ver = accepted(l) + 1;
	snprintf(w->tag, RECORD, "%s", tags[0]);
	for (int k = 1; k < n; k++) {
		int dup = !strcmp(tags[k], w->tag);
		for (int j = 0; j < w->nalt; j++)
			if (!strcmp(w->alt[j], tags[k])) dup = 1;
		if (!dup && w->nalt < MAXALT) snprintf(w->alt[w->nalt++], RECORD, "%s", tags[k]);
	}
	w->begun = begun;
	w->ended = ended;
	l->nw++;
}

static void o_accept(int f, int i, const char *tag, uint64_t begun)
{
	char t[1][RECORD];
	snprintf(t[0], RECORD, "%s", tag);
	pthread_mutex_lock(&om);
	o_accept_any_locked(f, i, t, 1, begun);
	pthread_mutex_unlock(&om);
}

/* An operation that may write page i of f began (`known`: it writes `tag`; else anything). */
static uint64_t o_write_started(int f, int i, int known, const char *tag)
{
	pthread_mutex_lock(&om);
	uint64_t id = ++oclock;
	struct plog *l = f >= 0 ? o_log(f, i) : 0;
	if (l && l->nfly < MAXFLY) {
		struct fly *x = &l->fly[l->nfly++];
		x->id = id;
		x->known = known;
		snprintf(x->tag, RECORD, "%s", known ? tag : "");
	}
	pthread_mutex_unlock(&om);
	return id;
}

static void o_write_ended(int f, int i, uint64_t id)
{
	if (f < 0) return;
	pthread_mutex_lock(&om);
	struct plog *l = o_log(f, i);
	for (int k = 0; l && k < l->nfly; k++)
		if (l->fly[k].id == id) {
			l->fly[k] = l->fly[--l->nfly];
			break;
		}
	pthread_mutex_unlock(&om);
}

/* The contents page i of f was given since the clock read `since` (accepted since, or in
 * flight with a known content), appended to out[*n]. */
static void o_contents_since(int f, int i, uint64_t since, char out[][RECORD], int *n, int max)
{
	pthread_mutex_lock(&om);
	struct plog *l = o_log(f, i);
	for (int k = 0; l && k < l->nw && *n < max; k++)
		if (l->w[k].ended > since) snprintf(out[(*n)++], RECORD, "%s", l->w[k].tag);
	for (int k = 0; l && k < l->nfly && *n < max; k++)
		if (l->fly[k].known) snprintf(out[(*n)++], RECORD, "%s", l->fly[k].tag);
	pthread_mutex_unlock(&om);
}

static void o_evict_locked(int f, int i)
{
	struct plog *l = o_log(f, i);
	if (l) l->generation++;
}

/* truncate(2) to `pages`: pages past the end read as zeroes; those past it left the file. */
static void o_truncate(int f, int pages)
{
	pthread_mutex_lock(&om);
	int size = ofile[f].size, logs = ofile[f].nlogs;
	uint64_t begun = ++oclock;
	char zero[1][RECORD] = { "" };
	for (int i = pages < size ? pages : size; i < (logs > size ? logs : size); i++)
		o_accept_any_locked(f, i, zero, 1, begun);
	for (int i = pages; i < size; i++) o_evict_locked(f, i);
	ofile[f].size = pages;
	pthread_mutex_unlock(&om);
}

static unsigned o_generation(int f, int i)
{
	pthread_mutex_lock(&om);
	struct plog *l = o_log(f, i);
	unsigned g = l ? l->generation : 0;
	pthread_mutex_unlock(&om);
	return g;
}

static void o_possible(int f, int i, const char *tag)
{
	pthread_mutex_lock(&om);
	struct plog *l = o_log(f, i);
	if (l && l->npos < MAXALT) snprintf(l->pos[l->npos++], RECORD, "%s", tag);
	pthread_mutex_unlock(&om);
}

static int o_size(int f)
{
	pthread_mutex_lock(&om);
	int s = ofile[f].size;
	pthread_mutex_unlock(&om);
	return s;
}

/* A write or fallocate past the end: the file now has `pages` pages, the new ones holes. */
static void o_grow_locked(int f, int pages)
{
	if (pages > ofile[f].size && pages <= file_cap[f]) {
		ofile[f].size = pages;
		o_log(f, pages - 1);
	}
}

/* An error was reported for f (all files for -1): what was accepted so far is excused. */
static void o_excuse(int f)
{
	pthread_mutex_lock(&om);
	for (int g = 0; g < NFILES; g++)
		if (f < 0 || f == g)
			for (int i = 0; i < ofile[g].nlogs; i++)
				ofile[g].log[i].excused = accepted(&ofile[g].log[i]);
	pthread_mutex_unlock(&om);
}

/* What a sync beginning now must make durable: the version accepted now of each page. */
static void o_snapshot(int f, int *snap /* [NFILES * maxcap] */, int stride)
{
	pthread_mutex_lock(&om);
	for (int g = 0; g < NFILES; g++)
		for (int i = 0; i < stride; i++) {
			int in = (f < 0 || f == g) && i < ofile[g].size && i < ofile[g].nlogs;
			snap[g * stride + i] = in ? accepted(&ofile[g].log[i]) : -1;
		}
	pthread_mutex_unlock(&om);
}

static int o_owed_locked(int f, int i, int want)
{
	if (i >= ofile[f].nlogs || i >= ofile[f].size) return 0;
	int e = ofile[f].log[i].excused;
	return e < 0 || e < want;
}

enum { HOLDS, LOST, CORRUPT };

/* disk.rs `Oracle::judge()`, the model's judge(): does `tag` ("" zeroes) hold version `want`
 * of page i of f, or a later one? A write accepted after `want`'s operation began raced with
 * it, and either order is one the kernel may have taken. */
static int o_judge_tag_locked(int f, int i, int want, const char *tag)
{
	struct plog *l = o_log(f, i);
	if (!l) return HOLDS;
	const struct wr *had = 0;
	for (int k = l->nw - 1; k >= 0 && !had; k--) {
		if (!strcmp(l->w[k].tag, tag)) had = &l->w[k];
		for (int j = 0; j < l->w[k].nalt && !had; j++)
			if (!strcmp(l->w[k].alt[j], tag)) had = &l->w[k];
	}
	struct wr hole;
	memset(&hole, 0, sizeof(hole));
	if (!had && !tag[0]) had = &hole; /* zeroes no write put there: version 0, lost not corrupt */
	if (!had) {
		for (int k = 0; k < l->nfly; k++)
			if (!l->fly[k].known || !strcmp(l->fly[k].tag, tag)) return HOLDS;
		for (int k = 0; k < l->npos; k++)
			if (!strcmp(l->pos[k], tag)) return HOLDS;
		return CORRUPT;
	}
	const struct wr *wanted = 0;
	for (int k = 0; k < l->nw; k++)
		if (l->w[k].ver == want) wanted = &l->w[k];
	return had->ver >= want || (wanted && had->ended > wanted->begun) ? HOLDS : LOST;
}

static int o_judge(int f, int i, int want, const struct found *fd)
{
	pthread_mutex_lock(&om);
	int v = HOLDS;
	switch (fd->kind) {
	case F_UNKNOWN: break;
	case F_GARBAGE: case F_UNREADABLE: v = CORRUPT; break;
	case F_ZERO: v = o_judge_tag_locked(f, i, want, ""); break;
	case F_TAG: v = o_judge_tag_locked(f, i, want, fd->part[0]); break;
	case F_TORN: /* every part must be a write to this page; judged by its oldest part */
		for (int k = 0; k < fd->n && v != CORRUPT; k++) {
			int p = o_judge_tag_locked(f, i, want, fd->part[k]);
			if (p != HOLDS) v = p;
		}
		break;
	}
	pthread_mutex_unlock(&om);
	return v;
}

static const char *o_tag_of(int f, int i, int ver, char *out)
{
	pthread_mutex_lock(&om);
	struct plog *l = o_log(f, i);
	snprintf(out, RECORD, "zeroes");
	for (int k = 0; l && k < l->nw; k++)
		if (l->w[k].ver == ver && l->w[k].tag[0]) snprintf(out, RECORD, "%s", l->w[k].tag);
	pthread_mutex_unlock(&om);
	return out;
}

enum { AT_SYNC, AT_END };

static void judge_page(int f, int i, int want, const struct found *fd, int when)
{
	int v = o_judge(f, i, want, fd);
	if (v == HOLDS) return;
	char got[600], wanted[RECORD];
	found_text(fd, got, sizeof(got));
	o_tag_of(f, i, want, wanted);
	label(v == LOST ? "data-loss" : "corruption");
	if (when == AT_SYNC && v == LOST)
		note("after a successful sync, page %d of %s holds %s on disk, not %s accepted before the sync began", i, file_name[f], got, wanted);
	else if (v == LOST)
		note("at the end, page %d of %s holds %s, not its last accepted write %s", i, file_name[f], got, wanted);
	else
		note("%s, page %d of %s holds %s, never written to it", when == AT_SYNC ? "after a successful sync" : "at the end", i, file_name[f], got);
}

/* ---- the run's state (exec.rs `Run`) ---- */
static char dir[4096];         /* the scratch filesystem, from the command line */
static char rundir[4200];      /* this run's directory in it */
static int dir_fd = -1;
static int fd[NFILES], dfd[NFILES];
static int blk = -1;           /* the filesystem's block device, O_DIRECT: the disk as a crash finds it */
static char device[64];        /* its name (loop0, zram1): kernel messages name the filesystem by it */
static int tags_fd = -1;       /* a memfd with one page per dma-write tag: the device's source */
static int sink_fd = -1;       /* a memfd the device's reads go to */

struct ring {
	int fd;
	unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
	void *sq_ptr, *cq_ptr;
	size_t sq_len, cq_len, sqe_len;
	int registered;
	uint64_t next;
};

enum { H_NONE, H_FAILED, H_MAP, H_REG };
struct handle {
	int kind;
	/* a mapping */
	unsigned char *addr;
	int file, start, pages, shared, ro, unmapped;
	pthread_rwlock_t lock;   /* munmap takes it for writing; CPU accesses and msync for reading */
	pthread_mutex_t *plock;  /* one per page, for CPU accesses */
	/* a registration (a long-term pin) of pages first.. of mapping `map` */
	int map, first, npages, released;
	unsigned *generation;    /* each registered file page's generation when it was pinned */
	unsigned char *base;
	struct ring ring;
	pthread_mutex_t reg_lock;
};
static struct handle h[NHANDLES];
static int defined[NHANDLES];
static int events[NEVENTS];
static int turn;

static const char *errname(int e, char *buf)
{
	switch (e) {
	case EIO: return "EIO"; case EILSEQ: return "EILSEQ"; case ENOSPC: return "ENOSPC";
	case EACCES: return "EACCES"; case ETXTBSY: return "ETXTBSY"; case EBADF: return "EBADF";
	case ENODEV: return "ENODEV"; case EROFS: return "EROFS"; case EFBIG: return "EFBIG";
	case EDQUOT: return "EDQUOT"; case EUCLEAN: return "EUCLEAN"; case ENOSYS: return "ENOSYS";
	case EFAULT: return "EFAULT"; case EOPNOTSUPP: return "EOPNOTSUPP"; case ENOMEM: return "ENOMEM";
	case EPERM: return "EPERM"; case EINVAL: return "EINVAL"; case EBUSY: return "EBUSY";
	case EAGAIN: return "EAGAIN"; case ENXIO: return "ENXIO"; case EOVERFLOW: return "EOVERFLOW";
	case 1000 + SIGBUS: return "SIGBUS"; case 1000 + SIGSEGV: return "SIGSEGV";
	default: snprintf(buf, 32, "errno%d", e); return buf;
	}
}

/* A statement's result: 0 done, an errno (1000 + signal for a caught fault), or: */
#define SKIPPED (-2) /* a handle it uses failed: skipped silently */
#define HUNG (-3)    /* waited past WAIT_LIMIT */

static void deadline(struct timespec *until)
{
	clock_gettime(CLOCK_REALTIME, until);
	until->tv_sec += WAIT_LIMIT;
}

/* ---- the schedule: statement k of the witness waits until k statements have finished ---- */
static int await_turn(int k)
{
	if (!order_len) return 1;
	struct timespec until;
	deadline(&until);
	pthread_mutex_lock(&mu);
	int want = k >= 0 ? k : order_len;
	int ok = 1;
	while (turn < want)
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { ok = 0; break; }
	pthread_mutex_unlock(&mu);
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

static void hang(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void hang(const char *fmt, ...)
{
	char why[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	label("hang");
	note("%s", why);
	pthread_mutex_lock(&mu);
	hung = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

/* Whether a `maybe` statement is skipped: the witness says, or a coin (xorshift) decides. */
static int skip_this(int k, int skip, int maybe, uint64_t *seed)
{
	if (k >= 0) return skip;
	if (!maybe) return 0;
	*seed ^= *seed << 13;
	*seed ^= *seed >> 7;
	*seed ^= *seed << 17;
	return (*seed & 1) == 0;
}

/* After a statement: its label if it failed, its handle defined (failed unless it made one).
 * 0 when the thread must stop (it hung). */
static int step_done(const char *thread, int line, const char *op, int def, int r)
{
	char buf[32];
	if (r == HUNG) {
		hang("%s line %d: `%s` waited more than %d s", thread, line, op, WAIT_LIMIT);
		return 0;
	}
	if (r > 0) {
		char l[64];
		snprintf(l, sizeof(l), "%s:%s", op, errname(r, buf));
		label(l);
	}
	if (def >= 0) {
		pthread_mutex_lock(&mu);
		if (r != 0 || h[def].kind == H_NONE) h[def].kind = H_FAILED;
		defined[def] = 1;
		pthread_cond_broadcast(&cv);
		pthread_mutex_unlock(&mu);
	}
	return 1;
}

/* The handle `i`, waiting until some statement defines it: its kind, or HUNG. */
static int await_handle(int i)
{
	struct timespec until;
	deadline(&until);
	pthread_mutex_lock(&mu);
	int ok = 1;
	while (!defined[i])
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { ok = 0; break; }
	int kind = h[i].kind;
	pthread_mutex_unlock(&mu);
	return ok ? kind : HUNG;
}

/* `return` the step at once when handle i is not a mapping (skipped) or never comes (hung). */
#define MAP(i) do { int k_ = await_handle(i); if (k_ == HUNG) return HUNG; if (k_ != H_MAP) return SKIPPED; } while (0)
#define REG(i) do { int k_ = await_handle(i); if (k_ == HUNG) return HUNG; if (k_ != H_REG) return SKIPPED; } while (0)

/* ---- the disk as a crash would find it (disk.rs `on_disk()`): FIEMAP (without
 * FIEMAP_FLAG_SYNC, so nothing is flushed), then the block device at that offset. A delalloc,
 * unknown or unwritten extent, or a hole, is zeroes on disk. ---- */
static int extent(int file, int index, uint64_t *at)
{
	struct { struct fiemap m; struct fiemap_extent e[1]; } fm;
	memset(&fm, 0, sizeof(fm));
	uint64_t pos = (uint64_t)index * PAGE;
	fm.m.fm_start = pos;
	fm.m.fm_length = PAGE;
	fm.m.fm_extent_count = 1;
	if (ioctl(fd[file], FS_IOC_FIEMAP, &fm) != 0) return -1;
	struct fiemap_extent *e = &fm.m.fm_extents[0];
	if (fm.m.fm_mapped_extents == 0 || pos < e->fe_logical ||
	    (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNWRITTEN)))
		return 0; /* zeroes */
	if (e->fe_flags & (FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_DATA_INLINE))
		return 2;
	*at = e->fe_physical + (pos - e->fe_logical);
	return 1;
}

static struct found on_disk(int file, int index)
{
	struct found f;
	memset(&f, 0, sizeof(f));
	static __thread unsigned char *buf;
	if (!buf && posix_memalign((void **)&buf, PAGE, PAGE)) buf = 0;
	/* The extent can move between FIEMAP and the read: map again after, retry if it moved. */
	for (int tries = 0; tries < 3; tries++) {
		uint64_t at = 0, at2 = 0;
		int e = extent(file, index, &at);
		if (e < 0) { f.kind = F_UNKNOWN; snprintf(f.part[0], RECORD, "FS_IOC_FIEMAP failed"); return f; }
		if (e == 2) { f.kind = F_UNKNOWN; snprintf(f.part[0], RECORD, "inline, encoded or unaligned data"); return f; }
		if (e == 0) {
			memset(&f, 0, sizeof(f));
		} else {
			if (!buf || pread(blk, buf, PAGE, (off_t)at) != PAGE) {
				f.kind = F_UNKNOWN;
				snprintf(f.part[0], RECORD, "the device read failed");
				return f;
			}
			f = decode(buf);
		}
		int e2 = extent(file, index, &at2);
		if (e2 == e && at2 == at) return f;
	}
	memset(&f, 0, sizeof(f));
	f.kind = F_UNKNOWN;
	snprintf(f.part[0], RECORD, "its extent kept moving");
	return f;
}

/* exec.rs `Run::synced()`: an fsync/msync/sync of file f (all for -1), pages [a, b): on
 * success the model's check_synced() over what was accepted before it began, read from the
 * disk as a crash would find it; on failure the errno, and the file's writes are excused.
 * tmpfs: noop_fsync(), nothing is promised across a crash; btrfs: FIEMAP gives btrfs logical
 * addresses, not device offsets, so its disk is read back at the end only. */
static int synced(int f, int a, int b, int r, int err, int *snap)
{
	if (r != 0) {
		o_excuse(f);
		return err;
	}
	if (!(FS_KIND == FS_EXT4 || FS_KIND == FS_XFS) || blk < 0) return 0;
	for (int g = 0; g < NFILES; g++)
		for (int i = 0; i < MAXCAP; i++) {
			int want = snap[g * MAXCAP + i];
			if (want < 0 || i < a || i >= b) continue;
			pthread_mutex_lock(&om);
			int owed = o_owed_locked(g, i, want);
			pthread_mutex_unlock(&om);
			if (!owed) continue;
			struct found found = on_disk(g, i);
			if (found.kind == F_UNKNOWN) {
				note("after a sync, page %d of %s cannot be read from the disk: %s", i, file_name[g], found.part[0]);
				continue;
			}
			judge_page(g, i, want, &found, AT_SYNC);
		}
	return 0;
}

/* A page of the run's mappings as the kernel sees it, read with process_vm_readv(2): a page
 * that cannot be read gives F_UNREADABLE (EFAULT), never a signal. */
static struct found read_mapping(const unsigned char *at)
{
	static __thread unsigned char buf[PAGE];
	struct iovec local = { buf, PAGE }, remote = { (void *)at, PAGE };
	struct found f;
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != PAGE) {
		memset(&f, 0, sizeof(f));
		f.kind = F_UNREADABLE;
		snprintf(f.part[0], RECORD, "EFAULT");
		return f;
	}
	return decode(buf);
}

/* The contents a page read back may stand for: its tag, zeroes, or each part of a torn page. */
static void contents(const struct found *f, char out[][RECORD], int *n, int max)
{
	if (f->kind == F_ZERO && *n < max) snprintf(out[(*n)++], RECORD, "%s", "");
	if (f->kind == F_TAG || f->kind == F_TORN)
		for (int k = 0; k < f->n && *n < max; k++) snprintf(out[(*n)++], RECORD, "%s", f->part[k]);
}

/* ---- io_uring fixed buffers (ring.rs): a long-term pin from user space, and a device ----
 * IORING_REGISTER_BUFFERS → io_sqe_buffers_register() → io_pin_pages() →
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM): the pin an RDMA registration takes
 * (ib_umem_get()). READ_FIXED into the buffer is a kernel write into the pinned pages through
 * the kernel's own mapping (io_import_fixed() builds a bvec: no fault, no dirtying): the
 * device's dma-write. WRITE_FIXED reads them: dma-read. Unregistration is io_buffer_unmap() →
 * unpin_user_folio(): unpinned without being dirtied, unlike ib_umem_release(). */
static int ring_open(struct ring *r)
{
	struct io_uring_params p;
	memset(&p, 0, sizeof(p));
	memset(r, 0, sizeof(*r));
	r->fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (r->fd < 0) return errno;
	r->sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	r->cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		r->sq_len = r->cq_len = r->sq_len > r->cq_len ? r->sq_len : r->cq_len;
	r->sq_ptr = mmap(0, r->sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQ_RING);
	if (r->sq_ptr == MAP_FAILED) { int e = errno; close(r->fd); r->fd = -1; return e; }
	if (p.features & IORING_FEAT_SINGLE_MMAP) {
		r->cq_ptr = r->sq_ptr;
	} else {
		r->cq_ptr = mmap(0, r->cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_CQ_RING);
		if (r->cq_ptr == MAP_FAILED) { int e = errno; munmap(r->sq_ptr, r->sq_len); close(r->fd); r->fd = -1; return e; }
	}
	r->sqe_len = p.sq_entries * sizeof(struct io_uring_sqe);
	r->sqes = mmap(0, r->sqe_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
	if (r->sqes == MAP_FAILED) {
		int e = errno;
		munmap(r->sq_ptr, r->sq_len);
		if (r->cq_ptr != r->sq_ptr) munmap(r->cq_ptr, r->cq_len);
		close(r->fd);
		r->fd = -1;
		return e;
	}
	char *sq = r->sq_ptr, *cq = r->cq_ptr;
	r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
	r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
	r->sq_array = (unsigned *)(sq + p.sq_off.array);
	r->cq_head = (unsigned *)(cq + p.cq_off.head);
	r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
	r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
	r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

static void ring_close(struct ring *r)
{
	if (r->fd < 0) return;
	munmap(r->sqes, r->sqe_len);
	if (r->cq_ptr != r->sq_ptr) munmap(r->cq_ptr, r->cq_len);
	munmap(r->sq_ptr, r->sq_len);
	close(r->fd); /* closing the ring releases a registration left */
	r->fd = -1;
}

static int ring_register(struct ring *r, void *base, size_t len)
{
	struct iovec iov = { base, len };
	if (syscall(__NR_io_uring_register, r->fd, IORING_REGISTER_BUFFERS, &iov, 1) < 0) return errno;
	r->registered = 1;
	return 0;
}

static int ring_unregister(struct ring *r)
{
	if (!r->registered) return 0;
	if (syscall(__NR_io_uring_register, r->fd, IORING_UNREGISTER_BUFFERS, 0, 0) < 0) return errno;
	r->registered = 0;
	return 0;
}

/* One READ_FIXED/WRITE_FIXED of `len` bytes at `addr` (inside buffer 0) from/to `file` at
 * `off`, waited for: 0, or the errno (EIO for a short transfer). */
static int ring_rw(struct ring *r, int opcode, void *addr, int file, uint64_t off, unsigned len)
{
	unsigned tail = *r->sq_tail, i = tail & *r->sq_mask;
	struct io_uring_sqe *sqe = &r->sqes[i];
	memset(sqe, 0, sizeof(*sqe));
	sqe->opcode = (unsigned char)opcode;
	sqe->fd = file;
	sqe->off = off;
	sqe->addr = (uint64_t)(uintptr_t)addr;
	sqe->len = len;
	sqe->buf_index = 0;
	sqe->user_data = ++r->next;
	r->sq_array[i] = i;
	__atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
	unsigned submit = 1;
	for (;;) {
		/* A signal interrupts the wait, not the I/O: wait again for this entry's completion. */
		long n = syscall(__NR_io_uring_enter, r->fd, submit, 1, IORING_ENTER_GETEVENTS, 0, 0);
		if (n < 0 && errno == EINTR) continue;
		if (n < 0) return errno;
		if (submit && n > 0) submit = 0;
		unsigned head = *r->cq_head, ctail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
		int res = 0, got = 0;
		for (; head != ctail; head++) {
			struct io_uring_cqe *c = &r->cqes[head & *r->cq_mask];
			if (c->user_data == r->next) { res = c->res; got = 1; }
		}
		__atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
		if (got) return res < 0 ? -res : (unsigned)res != len ? EIO : 0;
	}
}

/* ---- the kernel log (kmsg.rs): /dev/kmsg read from its end when the run starts ---- */
static int kmsg = -1;

/* The next message (its first line), 0 when none is left. */
static int kmsg_next(char *msg, size_t len)
{
	char rec[8192];
	for (;;) {
		ssize_t n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE) continue; /* records were overwritten */
		if (n <= 0) return 0;
		rec[n] = 0;
		char *m = strchr(rec, ';');
		m = m ? m + 1 : rec;
		char *nl = strchr(m, '\n');
		if (nl) *nl = 0;
		size_t k = strlen(m) < len - 1 ? strlen(m) : len - 1;
		memcpy(msg, m, k);
		msg[k] = 0;
		return 1;
	}
}

/* Whether msg names a source file of another filesystem (`at fs/xfs/...` in an ext4 run). */
static int foreign(const char *msg)
{
	static const char *dirs[] = { "fs/ext4/", "fs/xfs/", "fs/btrfs/" };
	for (int i = 0; i < 3; i++) {
		char ours[32];
		snprintf(ours, sizeof(ours), "fs/%s/", FS_NAME);
		if (strcmp(dirs[i], ours) && strstr(msg, dirs[i])) return 1;
	}
	return 0;
}

/* kmsg.rs `classify()`: `bug` for BUG()/an oops, `warn` for WARN() ("WARNING: CPU: ..."),
 * dio_warn_stale_pagecache(), and, for this filesystem's device only, __ext4_warning() and
 * ext4_writepages()'s "Data will be lost". CONFIG_EXT4_DEBUG's extent-split report of
 * ext4_convert_unwritten_extents_endio() is no warning. */
static const char *classify(const char *msg)
{
	char d1[96], d2[96];
	snprintf(d1, sizeof(d1), "(device %s)", device);
	snprintf(d2, sizeof(d2), "(%s)", device);
	int ours = device[0] && (strstr(msg, d1) || strstr(msg, d2));
	if (foreign(msg) || strstr(msg, "finished: extent logical block")) return 0;
	if (strstr(msg, "kernel BUG at") || !strncmp(msg, "BUG:", 4) || !strncmp(msg, "Oops", 4))
		return "bug";
	if (!strncmp(msg, "WARNING:", 8) || strstr(msg, "Page cache invalidation failure on direct I/O") ||
	    (ours && (!strncmp(msg, "EXT4-fs warning", 15) || strstr(msg, "Data will be lost"))))
		return "warn";
	return 0;
}

/* Whether a "Page cache invalidation failure" is another process's: the record after it
 * ("File: PATH PID: N Comm: C") names a file outside this program's run directories. */
static int stale_pagecache_elsewhere(const char *msg, const char *next)
{
	if (!strstr(msg, "Page cache invalidation failure on direct I/O") || !next) return 0;
	if (strncmp(next, "File: ", 6)) return 0;
	char ours[64];
	snprintf(ours, sizeof(ours), "pincheck-repro-%d-", (int)getpid());
	char file[4096];
	snprintf(file, sizeof(file), "%s", next + 6);
	char *pid = strstr(file, " PID: ");
	if (pid) *pid = 0;
	if (strchr(file, '/')) return !strstr(file, ours);
	char comm[64];
	snprintf(comm, sizeof(comm), "Comm: %.15s", program_invocation_short_name);
	return !strstr(next, comm);
}

static void kmsg_drain(int judge)
{
	if (kmsg < 0) return;
	char msg[1024], next[1024];
	int have = kmsg_next(msg, sizeof(msg));
	while (have) {
		int more = kmsg_next(next, sizeof(next));
		if (judge) {
			const char *l = classify(msg);
			if (stale_pagecache_elsewhere(msg, more ? next : 0))
				note("kernel log, another process's file (not counted): %s %s", msg, next);
			else if (l) {
				label(l);
				note("kernel log: %s", msg);
			} else if (foreign(msg)) {
				note("kernel log, another filesystem's (not counted): %s", msg);
			}
		}
		memcpy(msg, next, sizeof(msg));
		have = more;
	}
}

/* ---- the FOLL_PIN counters (mod.rs `pin_counters()`): /proc/vmstat after a write to
 * /proc/sys/vm/stat_refresh folds the per-CPU counts (refresh_vm_stats(), mm/vmstat.c) ---- */
static int pin_counters(uint64_t *acq, uint64_t *rel)
{
	int s = open("/proc/sys/vm/stat_refresh", O_WRONLY);
	if (s < 0) return 0;
	int ok = write(s, "1", 1) == 1;
	close(s);
	FILE *v = fopen("/proc/vmstat", "r");
	if (!ok || !v) { if (v) fclose(v); return 0; }
	char line[256];
	int got = 0;
	while (fgets(line, sizeof(line), v)) {
		unsigned long long x;
		if (sscanf(line, "nr_foll_pin_acquired %llu", &x) == 1) { *acq = x; got |= 1; }
		if (sscanf(line, "nr_foll_pin_released %llu", &x) == 1) { *rel = x; got |= 2; }
	}
	fclose(v);
	return got == 3;
}

/* Pins acquired since (a0, r0) and not released, if the surplus persists for 2 s (others
 * pin too: every O_DIRECT does): exec.rs `pins_held_since()`. */
static uint64_t pins_held_since(uint64_t a0, uint64_t r0)
{
	uint64_t held = 0;
	for (int i = 0; i < 100; i++) {
		uint64_t a, r;
		if (!pin_counters(&a, &r)) return 0;
		uint64_t acq = a > a0 ? a - a0 : 0, rel = r > r0 ? r - r0 : 0;
		if (acq <= rel) return 0;
		held = acq - rel;
		usleep(20000);
	}
	return held;
}

/* ---- faults (fault.rs): a SIGBUS or SIGSEGV on the scenario's own access returns to it as
 * the access's outcome ---- */
static __thread sigjmp_buf *volatile fault_jmp;

static void on_fault(int sig)
{
	if (fault_jmp)
		siglongjmp(*fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* munmap(2), keeping the range reserved (an anonymous PROT_NONE mapping replaces it
 * atomically) until the run ends, so an access racing with it faults in a range the program
 * still owns instead of landing in memory reused meanwhile. */
static void unmap(struct handle *m)
{
	pthread_rwlock_wrlock(&m->lock);
	if (!m->unmapped) {
		m->unmapped = 1;
		mmap(m->addr, (size_t)m->pages * PAGE, PROT_NONE,
		     MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	}
	pthread_rwlock_unlock(&m->lock);
}

/* ---- the operations (exec/ops.rs), one function each ---- */

/* mmap(2) of the file's pages a..b. */
static __attribute__((unused)) int op_mmap(int def, int f, int a, int b, int shared, int ro)
{
	void *p = mmap(0, (size_t)(b - a) * PAGE, ro ? PROT_READ : PROT_READ | PROT_WRITE,
		       shared ? MAP_SHARED : MAP_PRIVATE, fd[f], (off_t)a * PAGE);
	if (p == MAP_FAILED) return errno;
	struct handle *m = &h[def];
	m->addr = p;
	m->file = f;
	m->start = a;
	m->pages = b - a;
	m->shared = shared;
	m->ro = ro;
	m->unmapped = 0;
	pthread_rwlock_init(&m->lock, 0);
	m->plock = calloc((size_t)(b - a), sizeof(pthread_mutex_t));
	for (int i = 0; i < b - a; i++) pthread_mutex_init(&m->plock[i], 0);
	pthread_mutex_lock(&mu);
	m->kind = H_MAP;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* munmap(2): zap the PTEs (the range stays reserved, see unmap()). */
static __attribute__((unused)) int op_munmap(int map)
{
	MAP(map);
	unmap(&h[map]);
	return 0;
}

/* A CPU store of the tag's page: the fault path (->page_mkwrite, COW for private), then the
 * copy. A fault that fails (VM_FAULT_SIGBUS: ENOSPC in ->page_mkwrite) is store:SIGBUS. */
static __attribute__((unused)) int op_store(int map, int page, const char *tag)
{
	MAP(map);
	struct handle *m = &h[map];
	pthread_rwlock_rdlock(&m->lock);
	pthread_mutex_lock(&m->plock[page]);
	int r = 0;
	if (m->unmapped || m->ro) {
		r = 1000 + SIGSEGV; /* no VMA, or a write to a read-only one */
		goto out;
	}
	unsigned char p[PAGE];
	pattern(tag, p);
	int f = m->shared ? m->file : -1, at = m->start + page;
	uint64_t begun = o_write_started(f, at, 1, tag);
	sigjmp_buf jb;
	int sig = sigsetjmp(jb, 1);
	if (sig) {
		fault_jmp = 0;
		o_write_ended(f, at, begun);
		r = 1000 + sig;
		goto out;
	}
	fault_jmp = &jb;
	volatile unsigned char *dst = m->addr + (size_t)page * PAGE;
	for (int i = 0; i < PAGE; i++)
		dst[i] = p[i];
	fault_jmp = 0;
	if (f >= 0) o_accept(f, at, tag, begun);
	o_write_ended(f, at, begun);
out:
	pthread_mutex_unlock(&m->plock[page]);
	pthread_rwlock_unlock(&m->lock);
	return r;
}

/* A CPU load through the page tables. */
static __attribute__((unused)) int op_load(int map, int page)
{
	MAP(map);
	struct handle *m = &h[map];
	pthread_rwlock_rdlock(&m->lock);
	pthread_mutex_lock(&m->plock[page]);
	int r = 0;
	if (m->unmapped) {
		r = 1000 + SIGSEGV;
	} else {
		sigjmp_buf jb;
		int sig = sigsetjmp(jb, 1);
		if (sig) {
			r = 1000 + sig;
		} else {
			fault_jmp = &jb;
			volatile unsigned char *at = m->addr + (size_t)page * PAGE;
			(void)*at;
		}
		fault_jmp = 0;
	}
	pthread_mutex_unlock(&m->plock[page]);
	pthread_rwlock_unlock(&m->lock);
	return r;
}

/* Buffered write(2) of one page: ->write_begin/->write_end. */
static __attribute__((unused)) int op_write(int f, int page, const char *tag)
{
	unsigned char p[PAGE];
	pattern(tag, p);
	uint64_t begun = o_write_started(f, page, 1, tag);
	ssize_t n = pwrite(fd[f], p, PAGE, (off_t)page * PAGE);
	int e = errno;
	if (n == PAGE) {
		pthread_mutex_lock(&om);
		o_grow_locked(f, page + 1);
		pthread_mutex_unlock(&om);
		o_accept(f, page, tag, begun);
	} else if (n >= 0) {
		note("write %s[%d]: short write of %zd bytes, not accepted", file_name[f], page, n);
	}
	o_write_ended(f, page, begun);
	return n < 0 ? e : 0;
}

/* Buffered read(2) of one page. */
static __attribute__((unused)) int op_read(int f, int page)
{
	unsigned char p[PAGE];
	return pread(fd[f], p, PAGE, (off_t)page * PAGE) < 0 ? errno : 0;
}

static int snaps[NFILES * MAXCAP];
static pthread_mutex_t sync_lock = PTHREAD_MUTEX_INITIALIZER;

/* fsync(2): data-integrity writeback (WB_SYNC_ALL) and a device cache flush; then the sync
 * oracle. */
static __attribute__((unused)) int op_fsync(int f)
{
	int *snap = calloc(NFILES * MAXCAP, sizeof(int));
	o_snapshot(f, snap, MAXCAP);
	int r = fsync(fd[f]);
	int e = synced(f, 0, MAXCAP, r, errno, snap);
	free(snap);
	return e;
}

/* sync(2) of the scratch filesystem: syncfs(), whose error (reported since 5.8) sync(2) would
 * not report, so it is dropped, as the model's `sync` reports none. */
static __attribute__((unused)) int op_sync(void)
{
	pthread_mutex_lock(&sync_lock);
	o_snapshot(-1, snaps, MAXCAP);
	syncfs(dir_fd);
	int e = synced(-1, 0, MAXCAP, 0, 0, snaps);
	pthread_mutex_unlock(&sync_lock);
	return e;
}

/* msync(MS_SYNC): vfs_fsync_range() over the mapped pages only (mm/msync.c). */
static __attribute__((unused)) int op_msync(int map)
{
	MAP(map);
	struct handle *m = &h[map];
	pthread_rwlock_rdlock(&m->lock);
	int e = 0;
	if (m->unmapped) {
		e = ENOMEM; /* msync on the PROT_NONE reservation would return 0 */
	} else if (m->shared) {
		int *snap = calloc(NFILES * MAXCAP, sizeof(int));
		o_snapshot(m->file, snap, MAXCAP);
		int r = msync(m->addr, (size_t)m->pages * PAGE, MS_SYNC);
		e = synced(m->file, m->start, m->start + m->pages, r, errno, snap);
		free(snap);
	} else if (msync(m->addr, (size_t)m->pages * PAGE, MS_SYNC) != 0) {
		e = errno;
	}
	pthread_rwlock_unlock(&m->lock);
	return e;
}

/* truncate(2) to `pages` pages: truncate_inode_pages_range(); the pages it removes read as
 * zeroes from the moment the kernel drops them. */
static __attribute__((unused)) int op_truncate(int f, int pages)
{
	int size = o_size(f);
	uint64_t ids[MAXCAP];
	for (int i = pages; i < size; i++) ids[i] = o_write_started(f, i, 1, "");
	int r = ftruncate(fd[f], (off_t)pages * PAGE);
	int e = errno;
	if (r == 0) o_truncate(f, pages);
	for (int i = pages; i < size; i++) o_write_ended(f, i, ids[i]);
	return r == 0 ? 0 : e;
}

/* fallocate(PUNCH_HOLE | KEEP_SIZE) of pages a..b. */
static __attribute__((unused)) int op_punch(int f, int a, int b)
{
	uint64_t begun = o_begin(), ids[MAXCAP];
	for (int i = a; i < b; i++) ids[i] = o_write_started(f, i, 1, "");
	int r = fallocate(fd[f], FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)a * PAGE, (off_t)(b - a) * PAGE);
	int e = errno;
	if (r == 0) {
		pthread_mutex_lock(&om);
		char zero[1][RECORD] = { "" };
		for (int i = a; i < b && i < ofile[f].size; i++) {
			o_accept_any_locked(f, i, zero, 1, begun);
			o_evict_locked(f, i);
		}
		pthread_mutex_unlock(&om);
	}
	for (int i = a; i < b; i++) o_write_ended(f, i, ids[i]);
	return r == 0 ? 0 : e;
}

/* fallocate(0): allocate blocks, extending the file past its end. */
static __attribute__((unused)) int op_fallocate(int f, int a, int b)
{
	if (fallocate(fd[f], 0, (off_t)a * PAGE, (off_t)(b - a) * PAGE) != 0) return errno;
	pthread_mutex_lock(&om);
	o_grow_locked(f, b);
	pthread_mutex_unlock(&om);
	return 0;
}

/* `reg-mr M[a..b] write` and `pin M[a..b] write longterm`: io_uring buffer registration,
 * pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM) (check_vma_flags(): -EFAULT for a shared
 * mapping of a file that needs dirty tracking since 6.5, writable_file_mapping_allowed()). */
static __attribute__((unused)) int op_register(int def, int map, int a, int b)
{
	MAP(map);
	struct handle *m = &h[map];
	if (m->unmapped) return EFAULT;
	struct handle *r = &h[def];
	unsigned before[MAXCAP];
	for (int i = a; i < b; i++) before[i] = o_generation(m->file, m->start + i);
	int e = ring_open(&r->ring);
	if (!e) e = ring_register(&r->ring, m->addr + (size_t)a * PAGE, (size_t)(b - a) * PAGE);
	if (e) {
		ring_close(&r->ring);
		return e;
	}
	/* A page truncated away during the registration: which folio was pinned is unknown, so
	 * no device write to it is judged (UINT_MAX matches nothing). */
	r->generation = calloc((size_t)(b - a), sizeof(unsigned));
	for (int i = a; i < b; i++) {
		unsigned g = o_generation(m->file, m->start + i);
		r->generation[i - a] = g == before[i] ? g : UINT_MAX;
	}
	r->map = map;
	r->first = a;
	r->npages = b - a;
	r->base = m->addr + (size_t)a * PAGE;
	r->released = 0;
	pthread_mutex_init(&r->reg_lock, 0);
	pthread_mutex_lock(&mu);
	r->kind = H_REG;
	pthread_mutex_unlock(&mu);
	return 0;
}

/* `dereg-mr` and `unpin`: io_uring unregistration, unpin_user_folio(). */
static __attribute__((unused)) int op_unregister(int reg, int dereg)
{
	REG(reg);
	struct handle *r = &h[reg];
	pthread_mutex_lock(&r->reg_lock);
	int e = ring_unregister(&r->ring);
	if (!e) {
		r->released = 1;
		if (dereg && h[r->map].shared && FS_KIND != FS_TMPFS)
			/* Only kernels that grant long-term pins of shared file pages (before 6.3) get here. */
			note("dereg-mr: io_uring unregistration does not dirty the pages as ib_umem_release() does; from here the host may differ from the model");
	}
	pthread_mutex_unlock(&r->reg_lock);
	return e;
}

/* O_DIRECT read(2) of one page into the mapping: a FOLL_WRITE pin of the buffer, the device's
 * DMA, the completion's dirtying (bio_set_pages_dirty()/bio_check_pages_dirty()) and unpin. */
static __attribute__((unused)) int op_dio_read(int f, int page, int map, int map_page)
{
	MAP(map);
	struct handle *m = &h[map];
	if (m->unmapped) return EFAULT;
	unsigned char *at = m->addr + (size_t)map_page * PAGE;
	int tf = m->shared ? m->file : -1, ti = m->start + map_page;
	uint64_t begun = o_write_started(tf, ti, 0, 0);
	ssize_t n = pread(dfd[f], at, PAGE, (off_t)page * PAGE);
	int e = errno;
	if (n < 0) {
		o_write_ended(tf, ti, begun);
		return e;
	}
	/* At end of file the read transfers nothing (n = 0): no write happened. */
	if (tf >= 0 && n > 0) {
		struct found got = read_mapping(at);
		if (got.kind == F_TAG) o_accept(tf, ti, got.part[0], begun);
		else if (got.kind == F_ZERO) o_accept(tf, ti, "", begun);
		else {
			char t[600];
			note("dio-read into %s[%d]: the page holds %s after the read, not accepted", file_name[tf], map_page, found_text(&got, t, sizeof(t)));
		}
	}
	o_write_ended(tf, ti, begun);
	return 0;
}

/* O_DIRECT write(2) of one page from the mapping: a short-term pin of the buffer, the
 * device's DMA read, the disk write. */
static __attribute__((unused)) int op_dio_write(int f, int page, int map, int map_page)
{
	MAP(map);
	struct handle *m = &h[map];
	if (m->unmapped) return EFAULT;
	unsigned char *at = m->addr + (size_t)map_page * PAGE;
	/* The clock first: a store that ends after it is among the candidates below, one that
	 * ended before it is in `before`. */
	uint64_t begun = o_write_started(f, page, 0, 0);
	struct found before = read_mapping(at);
	ssize_t n = pwrite(dfd[f], at, PAGE, (off_t)page * PAGE);
	int e = errno;
	if (n == PAGE) {
		/* The device copied whatever the source page held when it read it: what it held
		 * before and after the call, or anything written to it meanwhile. */
		char tags[3 * MAXALT + MAXW + MAXFLY][RECORD];
		int nt = 0, max = (int)(sizeof(tags) / sizeof(tags[0]));
		contents(&before, tags, &nt, max);
		struct found after = read_mapping(at);
		contents(&after, tags, &nt, max);
		if (m->shared) o_contents_since(m->file, m->start + map_page, begun, tags, &nt, max);
		pthread_mutex_lock(&om);
		o_grow_locked(f, page + 1);
		o_accept_any_locked(f, page, tags, nt, begun);
		pthread_mutex_unlock(&om);
	} else if (n >= 0) {
		note("dio-write %s[%d]: short write of %zd bytes, not accepted", file_name[f], page, n);
	}
	o_write_ended(f, page, begun);
	return n < 0 ? e : 0;
}

/* process_vm_writev(2) into this process: pin_user_pages_remote() of the target page, a
 * kernel copy into it, unpin_user_pages_dirty_lock(). */
static __attribute__((unused)) int op_remote_write(int map, int page, const char *tag)
{
	MAP(map);
	struct handle *m = &h[map];
	if (m->unmapped) return EFAULT;
	unsigned char p[PAGE];
	pattern(tag, p);
	int tf = m->shared ? m->file : -1, ti = m->start + page;
	uint64_t begun = o_write_started(tf, ti, 1, tag);
	struct iovec local = { p, PAGE }, remote = { m->addr + (size_t)page * PAGE, PAGE };
	ssize_t n = process_vm_writev(getpid(), &local, 1, &remote, 1, 0);
	int e = n < 0 ? errno : n != PAGE ? EFAULT : 0;
	if (!e && tf >= 0) o_accept(tf, ti, tag, begun);
	o_write_ended(tf, ti, begun);
	return e;
}

static __attribute__((unused)) int op_signal(int e)
{
	pthread_mutex_lock(&mu);
	events[e] = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	return 0;
}

/* `wait EVENT`, at most WAIT_LIMIT seconds. */
static __attribute__((unused)) int op_wait(int e)
{
	struct timespec until;
	deadline(&until);
	pthread_mutex_lock(&mu);
	int ok = 1;
	while (!events[e])
		if (pthread_cond_timedwait(&cv, &mu, &until) == ETIMEDOUT) { ok = 0; break; }
	pthread_mutex_unlock(&mu);
	return ok ? 0 : HUNG;
}

/* The device writes the tag into page `page` of the registration: IORING_OP_READ_FIXED from
 * the tag's page of a memfd. */
static __attribute__((unused)) int op_dma_write(int reg, int page, int tag_ix, const char *tag)
{
	REG(reg);
	struct handle *r = &h[reg];
	pthread_mutex_lock(&r->reg_lock);
	if (r->released) {
		/* The contract's rule for a device acting through a released registration; on the
		 * host the buffer index is simply gone, so nothing is sent. */
		pthread_mutex_unlock(&r->reg_lock);
		return EIO;
	}
	struct handle *m = &h[r->map];
	int tf = m->shared ? m->file : -1, ti = m->start + r->first + page;
	uint64_t begun = o_write_started(tf, ti, 1, tag);
	int e = page < r->npages ? ring_rw(&r->ring, IORING_OP_READ_FIXED, r->base + (size_t)page * PAGE, tags_fd, (uint64_t)tag_ix * PAGE, PAGE) : EINVAL;
	unsigned pinned = page < r->npages ? r->generation[page] : UINT_MAX;
	pthread_mutex_unlock(&r->reg_lock);
	if (!e && tf >= 0) {
		/* Into a folio that left the file since it was pinned, the write is no write of the
		 * file (the model's accept_into_folio()). */
		unsigned now = o_generation(tf, ti);
		if (pinned == now) o_accept(tf, ti, tag, begun);
		else if (pinned == UINT_MAX) o_possible(tf, ti, tag);
	}
	o_write_ended(tf, ti, begun);
	return e;
}

/* The device reads page `page` of the registration: IORING_OP_WRITE_FIXED into a memfd. */
static __attribute__((unused)) int op_dma_read(int reg, int page)
{
	REG(reg);
	struct handle *r = &h[reg];
	pthread_mutex_lock(&r->reg_lock);
	int e = r->released ? EIO
		: page < r->npages ? ring_rw(&r->ring, IORING_OP_WRITE_FIXED, r->base + (size_t)page * PAGE, sink_fd, 0, PAGE)
		: EINVAL;
	pthread_mutex_unlock(&r->reg_lock);
	return e;
}

/* WB_SYNC_NONE writeback of one file (all for -1): sync_file_range(SYNC_FILE_RANGE_WRITE)
 * starts writeback of the dirty pages and does not wait (__filemap_fdatawrite_range()). */
static __attribute__((unused)) int op_writeback(int f)
{
	for (int g = 0; g < NFILES; g++)
		if (f < 0 || f == g) sync_file_range(fd[g], 0, 0, SYNC_FILE_RANGE_WRITE);
	return 0;
}

/* The cached pages of file f through shrink_folio_list(): a fresh read-only shared mapping,
 * the pages mincore(2) finds cached faulted in (MADV_POPULATE_READ reads nothing new), then
 * MADV_PAGEOUT, then munmap. */
static void page_out_cache(int f)
{
	struct stat st;
	if (fstat(fd[f], &st) != 0 || st.st_size <= 0) return;
	size_t len = ((size_t)st.st_size + PAGE - 1) / PAGE * PAGE;
	unsigned char *p = mmap(0, len, PROT_READ, MAP_SHARED, fd[f], 0);
	if (p == MAP_FAILED) return;
	unsigned char *resident = calloc(len / PAGE, 1);
	if (resident && mincore(p, len, resident) == 0) {
		for (size_t i = 0; i < len / PAGE; i++)
			if (resident[i] & 1) madvise(p + i * PAGE, PAGE, MADV_POPULATE_READ);
		madvise(p, len, MADV_PAGEOUT);
	}
	free(resident);
	munmap(p, len);
}

/* Reclaim of the scenario's page cache: every live mapping through MADV_PAGEOUT
 * (reclaim_pages() → shrink_folio_list(): unmap, release buffers, free), then every file's
 * other cached pages the same way. Not POSIX_FADV_DONTNEED: it starts WB_SYNC_NONE writeback
 * first, which reclaim does not. */
static __attribute__((unused)) int op_reclaim(void)
{
	for (int i = 0; i < NHANDLES; i++) {
		pthread_mutex_lock(&mu);
		int live = defined[i] && h[i].kind == H_MAP && !h[i].unmapped;
		pthread_mutex_unlock(&mu);
		if (live) madvise(h[i].addr, (size_t)h[i].pages * PAGE, MADV_PAGEOUT);
	}
	for (int f = 0; f < NFILES; f++) page_out_cache(f);
	return 0;
}

/* echo 1 > /proc/sys/vm/drop_caches: drop_pagecache_sb() → invalidate_mapping_pages(). */
static int drop_caches(void)
{
	int d = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (d < 0) return errno;
	int e = write(d, "1", 1) == 1 ? 0 : errno;
	close(d);
	return e;
}

static __attribute__((unused)) int op_drop_caches(void)
{
	return drop_caches();
}
