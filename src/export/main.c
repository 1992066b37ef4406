
/* ==== setup, the end, and the runs (exec.rs `setup()`, `execute()`, `converged()`) ==== */

/* Leaves exactly `free_blocks` blocks for the scenario: a ballast file fallocate()d until
 * ENOSPC (as root, the root reserve too), then shrunk by that many blocks. */
static int fill_to(long free_blocks)
{
	char path[4400];
	snprintf(path, sizeof(path), "%s/.ballast", rundir);
	int b = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	if (b < 0) { perror(path); return -1; }
	off_t size = 0, chunk = 1L << 30;
	while (chunk >= PAGE) {
		if (fallocate(b, 0, size, chunk) == 0) size += chunk;
		else if (errno == ENOSPC) chunk /= 2;
		else { perror("fallocate"); close(b); return -1; }
	}
	off_t give = free_blocks * PAGE;
	if (give > size) {
		fprintf(stderr, "the filesystem has only %ld free blocks; `disk %d` needs more\n", (long)(size / PAGE), DISK_BLOCKS);
		close(b);
		return -1;
	}
	int r = ftruncate(b, size - give) == 0 && fsync(b) == 0 ? 0 : -1;
	if (r) perror("ballast");
	close(b);
	return r;
}

/* A memfd holding `n` pages, page i the pattern of tags[i]. */
static int memfd_with(const char *const *tags, int n)
{
	int m = (int)syscall(__NR_memfd_create, "pincheck", 1 /* MFD_CLOEXEC */);
	if (m < 0) return -1;
	unsigned char page[PAGE];
	for (int i = 0; i < n; i++) {
		pattern(tags[i], page);
		if (pwrite(m, page, PAGE, (off_t)i * PAGE) != PAGE) { close(m); return -1; }
	}
	return m;
}

static int setup(int r)
{
	snprintf(rundir, sizeof(rundir), "%s/pincheck-repro-%d-%d", dir, (int)getpid(), r);
	if (mkdir(rundir, 0755) != 0) { perror(rundir); return -1; }
	dir_fd = open(rundir, O_RDONLY | O_DIRECTORY);
	memset(h, 0, sizeof(h));
	memset(defined, 0, sizeof(defined));
	memset(events, 0, sizeof(events));
	turn = 0; nlabels = 0; nnotes = 0; hung = 0; oclock = 0;
	tags_fd = memfd_with(dma_tag, NTAGS);
	sink_fd = memfd_with(0, 0);
	if (tags_fd < 0 || sink_fd < 0) { perror("memfd_create"); return -1; }
	long used = 0;
	for (int f = 0; f < NFILES; f++) {
		char path[4300];
		snprintf(path, sizeof(path), "%s/%s", rundir, file_name[f]);
		fd[f] = open(path, O_RDWR | O_CREAT, 0644);
		if (fd[f] < 0) { perror(path); return -1; }
		if (file_init[f] == INIT_SPARSE) {
			if (ftruncate(fd[f], (off_t)file_pages[f] * PAGE) != 0) { perror("ftruncate"); return -1; }
		} else {
			for (int p = 0; p < file_pages[f]; p++) {
				char tag[RECORD];
				unsigned char page[PAGE];
				snprintf(tag, sizeof(tag), "%s%d", file_name[f], p);
				pattern(tag, page);
				if (pwrite(fd[f], page, PAGE, (off_t)p * PAGE) != PAGE) { perror("pwrite"); return -1; }
			}
			used += file_pages[f];
			if (file_init[f] == INIT_SYNCED) {
				if (fsync(fd[f]) != 0) { perror("fsync"); return -1; }
				/* `synced` is "not cached": drop the clean cached pages. */
				posix_fadvise(fd[f], 0, 0, POSIX_FADV_DONTNEED);
			}
		}
		dfd[f] = open(path, O_RDWR | O_DIRECT);
		/* The oracle: synced tags are on disk (version 0), except on tmpfs, which is memory. */
		int init = file_init[f] == INIT_SPARSE ? 0
			: file_init[f] == INIT_SYNCED && FS_KIND != FS_TMPFS ? 1 : 2;
		o_add_file(f, file_pages[f], init);
	}
	if (FS_KIND != FS_TMPFS && fill_to(DISK_BLOCKS > used ? DISK_BLOCKS - used : 0) != 0)
		return -1;
	return 0;
}

/* The model's check_converged(): every page holds its last accepted write unless an error was
 * reported for its file after it. Read back with O_DIRECT after dropping the caches (tmpfs is
 * memory: read through the cache). */
static void converged(void)
{
	if (FS_KIND != FS_TMPFS && drop_caches() != 0)
		note("the caches could not be dropped before the final read-back (not root?)");
	unsigned char *buf;
	if (posix_memalign((void **)&buf, PAGE, PAGE)) return;
	for (int f = 0; f < NFILES; f++) {
		for (int i = 0; i < MAXCAP; i++) {
			pthread_mutex_lock(&om);
			int in = i < ofile[f].size && i < ofile[f].nlogs;
			int want = in ? accepted(&ofile[f].log[i]) : -1;
			int owed = in && o_owed_locked(f, i, want);
			pthread_mutex_unlock(&om);
			if (!owed) continue;
			int src = FS_KIND == FS_TMPFS || dfd[f] < 0 ? fd[f] : dfd[f];
			ssize_t n = pread(src, buf, PAGE, (off_t)i * PAGE);
			struct found found;
			if (n < 0) {
				memset(&found, 0, sizeof(found));
				found.kind = F_UNREADABLE;
				char b[32];
				snprintf(found.part[0], RECORD, "%s", errname(errno, b));
			} else {
				memset(buf + n, 0, PAGE - (size_t)n);
				found = decode(buf);
			}
			judge_page(f, i, want, &found, AT_END);
		}
	}
	free(buf);
}

/* The end, as the model's finish(): registrations still held are a leak; the pin counters;
 * the final sync and the convergence check; the kernel log. */
static void finish(uint64_t acq0, uint64_t rel0, int counted)
{
	char live[512] = "";
	for (int i = 0; i < NHANDLES; i++)
		if (h[i].kind == H_REG && !h[i].released) {
			snprintf(live + strlen(live), sizeof(live) - strlen(live), " %s", handle_name[i]);
			ring_unregister(&h[i].ring);
			h[i].released = 1;
		}
	if (live[0]) {
		label("leak");
		note("pins still registered at the end:%s", live);
	}
	for (int i = 0; i < NHANDLES; i++)
		if (h[i].kind == H_MAP) unmap(&h[i]);
	uint64_t held = counted ? pins_held_since(acq0, rel0) : 0;
	if (held) {
		label("leak");
		note("/proc/vmstat: %llu more pins acquired than released during the run", (unsigned long long)held);
	}
	if (syncfs(dir_fd) != 0) note("final syncfs: errno %d", errno);
	converged();
	kmsg_drain(1);
}

static void teardown(void)
{
	for (int i = 0; i < NHANDLES; i++) {
		if (h[i].kind == H_REG) {
			ring_close(&h[i].ring);
			free(h[i].generation);
		}
		if (h[i].kind == H_MAP || (h[i].kind == H_FAILED && h[i].addr)) {
			munmap(h[i].addr, (size_t)h[i].pages * PAGE);
			free(h[i].plock);
		}
	}
	for (int f = 0; f < NFILES; f++) {
		close(fd[f]);
		if (dfd[f] >= 0) close(dfd[f]);
		free(ofile[f].log);
		char path[4300];
		snprintf(path, sizeof(path), "%s/%s", rundir, file_name[f]);
		unlink(path);
	}
	char path[4400];
	snprintf(path, sizeof(path), "%s/.ballast", rundir);
	unlink(path);
	close(tags_fd);
	close(sink_fd);
	rmdir(rundir);
	/* xfs frees an unlinked file's blocks in the background (inodegc); syncfs() flushes that
	 * work (xfs_fs_sync_fs() → xfs_inodegc_flush()), so the next run finds all the space. */
	syncfs(dir_fd);
	close(dir_fd);
}

static int run_once(int r)
{
	if (setup(r) != 0) return -1;
	uint64_t acq0 = 0, rel0 = 0;
	int counted = pin_counters(&acq0, &rel0);
	if (!counted) note("the pin counters cannot be refreshed (not root?): `leak` is judged from pins still registered only");
	if (kmsg < 0) note("kernel log unreadable: `warn` and `bug` are not observed");
	kmsg_drain(0);
	pthread_t tid[NTHREADS];
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&tid[t], 0, threads[t], (void *)(intptr_t)r);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(tid[t], 0);
	finish(acq0, rel0, counted);
	teardown();
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* The filesystem holding `path` is the scenario's: its kind (statfs magic), and for ext4 the
 * mount options (nodelalloc) and the device's stable writes the scenario asks for. */
static int right_fs(struct stat *st)
{
	struct statfs s;
	if (statfs(dir, &s) != 0) { perror(dir); return 0; }
	long want = FS_KIND == FS_EXT4 ? 0xEF53 : FS_KIND == FS_XFS ? 0x58465342
		: FS_KIND == FS_BTRFS ? 0x9123683E : 0x01021994;
	if ((long)s.f_type != want) {
		printf("Bail out! %s is not on %s (statfs magic %#lx)\n", dir, FS_NAME, (long)s.f_type);
		return 0;
	}
	if (FS_KIND == FS_TMPFS) return 1;
	/* The device: /proc/self/mountinfo's source for its major:minor; its options. */
	char want_id[32], line[8192], dev[4096] = "", opts[8400] = "";
	snprintf(want_id, sizeof(want_id), "%u:%u", major(st->st_dev), minor(st->st_dev));
	FILE *mi = fopen("/proc/self/mountinfo", "r");
	while (mi && fgets(line, sizeof(line), mi)) {
		char id[32], mopts[4096], *sep = strstr(line, " - ");
		if (sscanf(line, "%*s %*s %31s %*s %*s %4095s", id, mopts) == 2 && !strcmp(id, want_id) && sep &&
		    sscanf(sep + 3, "%*s %4095s %4095s", dev, opts) >= 1) {
			snprintf(opts + strlen(opts), sizeof(opts) - strlen(opts), ",%s", mopts);
			break;
		}
		dev[0] = 0;
	}
	if (mi) fclose(mi);
	if (NODELALLOC && !strstr(opts, "nodelalloc")) {
		printf("Bail out! the scenario needs ext4 mounted with -o nodelalloc (%s: %s)\n", dir, opts);
		return 0;
	}
	if (STABLE_WRITES) {
		char path[128], v[8] = "";
		snprintf(path, sizeof(path), "/sys/dev/block/%s/queue/stable_writes", want_id);
		FILE *sw = fopen(path, "r");
		if (!sw || !fgets(v, sizeof(v), sw) || v[0] != '1') {
			printf("Bail out! the scenario needs a device with stable writes (%s: %s)\n", path, v[0] ? v : "absent");
			if (sw) fclose(sw);
			return 0;
		}
		fclose(sw);
	}
	const char *base = strrchr(dev, '/');
	snprintf(device, sizeof(device), "%s", base ? base + 1 : dev);
	if (FS_KIND == FS_BTRFS) return 1; /* no sync check (FIEMAP gives btrfs logical addresses) */
	blk = dev[0] ? open(dev, O_RDONLY | O_DIRECT) : -1;
	if (blk < 0)
		printf("# the device of %s (%s) cannot be read: the checks after each sync are skipped\n", dir, dev[0] ? dev : want_id);
	return 1;
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
	printf("TAP version 13\n");
	if (!right_fs(&st)) return 2;
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0) lseek(kmsg, 0, SEEK_END);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_fault;
	sa.sa_flags = SA_NODEFER;
	sigaction(SIGBUS, &sa, 0);
	sigaction(SIGSEGV, &sa, 0);
	printf("1..%d\n", runs);
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
		for (int i = 0; i < nnotes; i++) printf("# %s\n", notes[i]);
		fflush(stdout);
		if (!fine) failed++;
	}
	printf("# %d of %d runs reached a label the model does not reach under %s\n", failed, runs, policy);
	return failed ? 1 : 0;
}
