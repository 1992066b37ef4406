//! The operations of a host run, one method each (docs/design.md §6 maps each to its system
//! call): `Run::op` dispatches a statement here. Each returns the statement's `Step`.

use super::*;

/// The value of a `Result<T, Step>`, or the `Step` returned at once (a handle that is not
/// there: skipped or hung).
macro_rules! try_step {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(step) => return step,
        }
    };
}

/// A system call's result as a step: its errno, or done.
fn sys(r: libc::c_long) -> Step {
    if r < 0 {
        Step::Failed(errno_name(errno()))
    } else {
        Step::Done(None)
    }
}

impl Run<'_> {
    /// Carries out one operation.
    pub(super) fn op(&self, st: &Stmt) -> Step {
        match &st.op {
            Op::Mmap { file, range, shared, ro } => self.op_mmap(file, range, shared, ro),
            Op::Munmap { map } => self.op_munmap(map),
            Op::Store { map, page, tag } => self.op_store(map, page, tag),
            Op::Load { map, page } => self.op_load(map, page),
            Op::Write { file, page, tag } => self.op_write(file, page, tag),
            Op::Read { file, page } => self.op_read(file, page),
            Op::Fsync { file } => self.op_fsync(file),
            Op::Sync => self.op_sync(),
            Op::Msync { map } => self.op_msync(map),
            Op::Truncate { file, pages } => self.op_truncate(file, pages),
            Op::Punch { file, range } => self.op_punch(file, range),
            Op::Fallocate { file, range } => self.op_fallocate(file, range),
            Op::Pin { map, range, .. } | Op::RegMr { map, range, .. } => {
                self.op_register(map, range)
            }
            Op::Unpin { pin: h, .. } | Op::DeregMr { mr: h } => self.op_unregister(st, h),
            Op::DioRead { file, page, map, map_page } => {
                self.op_dio_read(file, page, map, map_page)
            }
            Op::DioWrite { file, page, map, map_page } => {
                self.op_dio_write(file, page, map, map_page)
            }
            Op::RemoteWrite { map, page, tag } => self.op_remote_write(map, page, tag),
            Op::Signal { event } => self.op_signal(event),
            Op::Wait { event } => self.op_wait(event),
            Op::DmaWrite { handle, page, tag } => self.op_dma_write(handle, page, tag),
            Op::DmaRead { handle, page } => self.op_dma_read(handle, page),
            Op::Writeback { file } => self.op_writeback(file),
            Op::Reclaim { .. } => self.op_reclaim(),
            Op::DropCaches => match std::fs::write("/proc/sys/vm/drop_caches", "1") {
                Ok(()) => Step::Done(None),
                Err(e) => Step::Failed(errno_name(e.raw_os_error().unwrap_or(0))),
            },
            Op::ReclaimActive | Op::Crash | Op::Lease { .. } | Op::Unlease { .. } => {
                Step::Failed("ENOSYS".into()) // refused by not_runnable() before any run
            }
        }
    }

    /// mmap(2) of the file's pages (`mmap FILE[a..b] shared|private [ro]`).
    fn op_mmap(&self, file: &Name, range: &Option<PageRange>, shared: &bool, ro: &bool) -> Step {
        let f = self.file(&file.text);
        let decl = self.sc.files.iter().find(|d| d.name.text == file.text).map_or(1, |d| d.pages);
        let (start, end) = range.map_or((0, decl), |r| (r.start, r.end));
        let prot = if *ro { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_WRITE };
        let flags = if *shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        let unit = PAGE * self.k;
        let len = (end - start) as usize * unit;
        // SAFETY: a new mapping of our file; no existing memory is touched.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                prot,
                flags,
                f.fd,
                (start as usize * unit) as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Step::Failed(errno_name(errno()));
        }
        remember_range(p as usize, len);
        Step::Done(Some(Handle::Map(MapH {
            addr: p as usize,
            unit,
            fd: f.fd,
            pages: end - start,
            file: file.text.clone(),
            start,
            shared: *shared,
            ro: *ro,
            unmapped: Arc::new(AtomicBool::new(false)),
            lock: Arc::new(std::sync::RwLock::new(())),
            page_locks: Arc::new((start..end).map(|_| Mutex::new(())).collect()),
        })))
    }

    /// munmap(2), leaving a PROT_NONE reservation (see `unmap`).
    fn op_munmap(&self, map: &Name) -> Step {
        unmap(&try_step!(self.map_handle(map)));
        Step::Done(None)
    }

    /// A CPU store of the tag page: the fault path (`->page_mkwrite`, COW), then the copy.
    fn op_store(&self, map: &Name, page: &u32, tag: &Name) -> Step {
        let m = try_step!(self.map_handle(map));
        // CPU accesses hold the mapping against munmap, and the page against other
        // CPU accesses while a caught fault's anonymous page stands in for it.
        let _mapped = m.lock.read().unwrap_or_else(|e| e.into_inner());
        let _page = m.page_locks[*page as usize].lock().unwrap_or_else(|e| e.into_inner());
        if m.unmapped.load(Ordering::SeqCst) || m.ro {
            // The access would take SIGSEGV (no VMA, or a write to a read-only one);
            // the unmapped range may hold another mapping by now, so it is not made.
            return Step::Failed("SIGSEGV".into());
        }
        let at = m.addr + *page as usize * PAGE;
        let p = disk::pattern(&tag.text);
        let (begun, _in_flight) = self.begin_write(
            m.shared.then(|| (m.file.clone(), m.start + page)),
            Content::Known(Some(tag.text.clone())),
        );
        // SAFETY: a page of our live mapping (munmap waits for the lock held above); a
        // SIGBUS on it is caught by the handler, which maps an
        // anonymous page there so the store completes.
        unsafe {
            let dst = at as *mut u64;
            for (i, w) in p.chunks_exact(8).enumerate() {
                std::ptr::write_volatile(
                    dst.add(i),
                    u64::from_ne_bytes(w.try_into().unwrap_or_default()),
                );
            }
        }
        if let Some(sig) = took_fault(at) {
            restore_page(&m, *page);
            return Step::Failed(sig.into());
        }
        if m.shared {
            self.accept(&m.file, m.start + page, Some(tag.text.clone()), begun);
        }
        Step::Done(None)
    }

    /// A CPU load through the page tables.
    fn op_load(&self, map: &Name, page: &u32) -> Step {
        let m = try_step!(self.map_handle(map));
        let _mapped = m.lock.read().unwrap_or_else(|e| e.into_inner());
        let _page = m.page_locks[*page as usize].lock().unwrap_or_else(|e| e.into_inner());
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("SIGSEGV".into());
        }
        let at = m.addr + *page as usize * PAGE;
        // SAFETY: a page of our mapping; a SIGBUS or SIGSEGV is caught as for stores.
        unsafe { std::ptr::read_volatile(at as *const u64) };
        if let Some(sig) = took_fault(at) {
            restore_page(&m, *page);
            return Step::Failed(sig.into());
        }
        Step::Done(None)
    }

    /// Buffered write(2) of one page.
    fn op_write(&self, file: &Name, page: &u32, tag: &Name) -> Step {
        let p = disk::pattern_k(&tag.text, self.k);
        let unit = p.len();
        let (begun, _in_flight) = self
            .begin_write(Some((file.text.clone(), *page)), Content::Known(Some(tag.text.clone())));
        // SAFETY: PAGE bytes from our buffer.
        let n = unsafe {
            libc::pwrite(
                self.file(&file.text).fd,
                p.as_ptr().cast(),
                unit,
                (*page as usize * unit) as libc::off_t,
            )
        };
        if n < 0 {
            return Step::Failed(errno_name(errno()));
        }
        if n as usize == unit {
            self.accept_extending(&file.text, *page, Some(tag.text.clone()), begun);
        } else {
            self.note(format!(
                "write {}[{page}]: short write of {n} bytes, not accepted",
                file.text
            ));
        }
        Step::Done(None)
    }

    /// Buffered read(2) of one page.
    fn op_read(&self, file: &Name, page: &u32) -> Step {
        let unit = PAGE * self.k;
        let mut b = vec![0u8; unit];
        // SAFETY: reads into our buffer.
        sys(unsafe {
            libc::pread(
                self.file(&file.text).fd,
                b.as_mut_ptr().cast(),
                unit,
                (*page as usize * unit) as libc::off_t,
            )
        } as libc::c_long)
    }

    /// fsync(2), then the sync oracle.
    fn op_fsync(&self, file: &Name) -> Step {
        // SAFETY: our fd.
        self.synced(Some(&file.text), None, || unsafe { libc::fsync(self.file(&file.text).fd) })
    }

    /// sync(2) of the scratch filesystem: syncfs(), its error dropped.
    fn op_sync(&self) -> Step {
        // sync(2) of the scratch filesystem: syncfs(), whose error (reported since 5.8)
        // sync(2) would not report, so it is dropped, as the model's `sync` reports none.
        let fd = self.dir_fd;
        // SAFETY: our directory fd.
        self.synced(None, None, || {
            unsafe { libc::syncfs(fd) };
            0
        })
    }

    /// msync(MS_SYNC): `vfs_fsync_range()` over the mapped pages.
    fn op_msync(&self, map: &Name) -> Step {
        let m = try_step!(self.map_handle(map));
        // Against munmap: msync on the PROT_NONE reservation would return 0.
        let _mapped = m.lock.read().unwrap_or_else(|e| e.into_inner());
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("ENOMEM".into());
        }
        let file = m.shared.then_some(m.file.as_str());
        // msync() is vfs_fsync_range() over the mapped range only (mm/msync.c).
        let range = Some((m.start, m.start + m.pages));
        // SAFETY: our live mapping.
        let call = || unsafe { libc::msync(m.addr as *mut libc::c_void, m.len(), libc::MS_SYNC) };
        match file {
            Some(f) => self.synced(Some(f), range, call),
            None => sys(call() as libc::c_long),
        }
    }

    /// ftruncate(2) to `pages` pages.
    fn op_truncate(&self, file: &Name, pages: &u32) -> Step {
        // The pages it removes read as zeroes from the moment the kernel drops them.
        let size = self.oracle.lock().unwrap_or_else(|e| e.into_inner()).size(&file.text);
        let _zeroing: Vec<InFlight> = (*pages..size)
            .map(|i| self.begin_write(Some((file.text.clone(), i)), Content::Known(None)).1)
            .collect();
        // SAFETY: our fd.
        let r = unsafe {
            libc::ftruncate(self.file(&file.text).fd, (*pages as usize * PAGE) as libc::off_t)
        };
        if r == 0 {
            self.oracle.lock().unwrap_or_else(|e| e.into_inner()).truncate(&file.text, *pages);
        }
        sys(r as libc::c_long)
    }

    /// fallocate(PUNCH_HOLE | KEEP_SIZE).
    fn op_punch(&self, file: &Name, range: &PageRange) -> Step {
        let mode = libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE;
        let begun = self.begin();
        let _zeroing: Vec<InFlight> = (range.start..range.end)
            .map(|i| self.begin_write(Some((file.text.clone(), i)), Content::Known(None)).1)
            .collect();
        let (off, len) = (range.start as usize * PAGE, (range.end - range.start) as usize * PAGE);
        // SAFETY: our fd.
        let r = unsafe {
            libc::fallocate(self.file(&file.text).fd, mode, off as libc::off_t, len as libc::off_t)
        };
        if r == 0 {
            let mut o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
            let size = o.size(&file.text);
            for i in range.start..range.end.min(size) {
                o.accept(&file.text, i, None, begun);
                o.evict(&file.text, i);
            }
        }
        sys(r as libc::c_long)
    }

    /// fallocate(0): allocate blocks, extending the file past its end.
    fn op_fallocate(&self, file: &Name, range: &PageRange) -> Step {
        let (off, len) = (range.start as usize * PAGE, (range.end - range.start) as usize * PAGE);
        // SAFETY: our fd.
        let r = unsafe {
            libc::fallocate(self.file(&file.text).fd, 0, off as libc::off_t, len as libc::off_t)
        };
        if r == 0 {
            let mut o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
            let size = o.size(&file.text);
            if range.end > size {
                o.grow(&file.text, range.end);
            }
        }
        sys(r as libc::c_long)
    }

    /// `pin ... write longterm` and `reg-mr ... write`: io_uring buffer registration,
    /// `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)`.
    fn op_register(&self, map: &Name, range: &PageRange) -> Step {
        let m = try_step!(self.map_handle(map));
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("EFAULT".into());
        }
        let base = (m.addr + range.start as usize * PAGE) as *mut u8;
        let generations = || -> Vec<u32> {
            let o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
            (range.start..range.end).map(|i| o.generation(&m.file, m.start + i)).collect()
        };
        let before = generations();
        let registered = Registration::register(base, (range.end - range.start) as usize * PAGE);
        // A page truncated away during the registration: which folio was pinned is
        // unknown, so no device write to it is judged (`u32::MAX` matches nothing).
        let generations: Vec<u32> = before
            .iter()
            .zip(generations())
            .map(|(b, a)| if *b == a { a } else { u32::MAX })
            .collect();
        match registered {
            Ok(reg) => Step::Done(Some(Handle::Reg(Arc::new(Mutex::new(RegH {
                reg,
                generations,
                map: m,
                first: range.start,
                released: false,
            }))))),
            Err(e) => Step::Failed(errno_name(e)),
        }
    }

    /// `unpin` and `dereg-mr`: io_uring unregistration, `unpin_user_folio()`.
    fn op_unregister(&self, st: &Stmt, h: &Name) -> Step {
        let r = try_step!(self.reg_handle(h));
        let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
        match r.reg.unregister() {
            Ok(()) => {
                r.released = true;
                let writeback_fs = matches!(self.kind, FsKind::Ext4 | FsKind::Xfs | FsKind::Btrfs);
                if matches!(st.op, Op::DeregMr { .. }) && r.map.shared && writeback_fs {
                    // Only kernels that grant long-term pins of shared file pages
                    // (before 6.3) get here.
                    self.note(format!(
                        "dereg-mr {}: io_uring unregistration does not dirty the pages as ib_umem_release() does; from here the host may differ from the model",
                        h.text
                    ));
                }
                Step::Done(None)
            }
            Err(e) => Step::Failed(errno_name(e)),
        }
    }

    /// read(2) of one page with O_DIRECT into the mapping: GUP of the buffer, the DMA.
    fn op_dio_read(&self, file: &Name, page: &u32, map: &Name, map_page: &u32) -> Step {
        let m = try_step!(self.map_handle(map));
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("EFAULT".into());
        }
        let unit = m.unit;
        let at = m.addr + *map_page as usize * unit;
        let fd = self.file(&file.text).direct;
        let (begun, _in_flight) = self
            .begin_write(m.shared.then(|| (m.file.clone(), m.start + map_page)), Content::Unknown);
        // SAFETY: the kernel reads into a page of our mapping (it pins it, or fails with
        // EFAULT); user space does not touch it. With --host-pages K, K pages at once.
        let n = unsafe {
            libc::pread(fd, at as *mut libc::c_void, unit, (*page as usize * unit) as libc::off_t)
        };
        if n < 0 {
            return Step::Failed(errno_name(errno()));
        }
        // At end of file the read transfers nothing (n = 0): no write happened.
        if m.shared && n > 0 {
            match read_mapping_k(at, self.k) {
                Some(Found::Tag(t)) => self.accept(&m.file, m.start + map_page, Some(t), begun),
                Some(Found::Zero) => self.accept(&m.file, m.start + map_page, None, begun),
                other => self.note(format!(
                    "dio-read into {}[{map_page}]: the page holds {} after the read, not accepted",
                    m.file,
                    other.map_or("an unreadable page".to_string(), |f| f.to_string())
                )),
            }
        }
        Step::Done(None)
    }

    /// write(2) of one page with O_DIRECT from the mapping.
    fn op_dio_write(&self, file: &Name, page: &u32, map: &Name, map_page: &u32) -> Step {
        let m = try_step!(self.map_handle(map));
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("EFAULT".into());
        }
        let at = m.addr + *map_page as usize * PAGE;
        let fd = self.file(&file.text).direct;
        // The clock first: a store that ends after it is among the candidates below,
        // one that ended before it is in `found`.
        let (begun, _in_flight) =
            self.begin_write(Some((file.text.clone(), *page)), Content::Unknown);
        let found = read_mapping(at);
        // SAFETY: the kernel reads from a page of our mapping (or fails with EFAULT).
        let n = unsafe {
            libc::pwrite(
                fd,
                at as *const libc::c_void,
                PAGE,
                (*page as usize * PAGE) as libc::off_t,
            )
        };
        if n < 0 {
            return Step::Failed(errno_name(errno()));
        }
        if n as usize == PAGE {
            // The device copied whatever the source page held when it read it: what
            // it held before and after the call, or anything written to it meanwhile.
            let mut tags = contents(found);
            tags.extend(contents(read_mapping(at)));
            if m.shared {
                let o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
                tags.extend(o.contents_since(&m.file, m.start + map_page, begun));
            }
            let mut o = self.oracle.lock().unwrap_or_else(|e| e.into_inner());
            o.grow(&file.text, page + 1);
            o.accept_any(&file.text, *page, tags, begun);
        } else {
            self.note(format!(
                "dio-write {}[{page}]: short write of {n} bytes, not accepted",
                file.text
            ));
        }
        Step::Done(None)
    }

    /// process_vm_writev(2) into this process: `pin_user_pages_remote()`, the copy,
    /// `unpin_user_pages_dirty_lock()`.
    fn op_remote_write(&self, map: &Name, page: &u32, tag: &Name) -> Step {
        let m = try_step!(self.map_handle(map));
        if m.unmapped.load(Ordering::SeqCst) {
            return Step::Failed("EFAULT".into());
        }
        let p = disk::pattern(&tag.text);
        let (begun, _in_flight) = self.begin_write(
            m.shared.then(|| (m.file.clone(), m.start + page)),
            Content::Known(Some(tag.text.clone())),
        );
        let local = libc::iovec { iov_base: p.as_ptr() as *mut libc::c_void, iov_len: PAGE };
        let remote = libc::iovec {
            iov_base: (m.addr + *page as usize * PAGE) as *mut libc::c_void,
            iov_len: PAGE,
        };
        // SAFETY: process_vm_writev() into our own process: `pin_user_pages_remote()`
        // of the target page, a kernel copy into it, unpin with dirty.
        let n = unsafe { libc::process_vm_writev(libc::getpid(), &local, 1, &remote, 1, 0) };
        if n < 0 {
            return Step::Failed(errno_name(errno()));
        }
        if n as usize != PAGE {
            return Step::Failed("EFAULT".into());
        }
        if m.shared {
            self.accept(&m.file, m.start + page, Some(tag.text.clone()), begun);
        }
        Step::Done(None)
    }

    /// `signal EVENT`.
    fn op_signal(&self, event: &Name) -> Step {
        self.events.lock().unwrap_or_else(|e| e.into_inner()).insert(event.text.clone());
        self.events_cv.notify_all();
        Step::Done(None)
    }

    /// `wait EVENT`, at most [`WAIT_LIMIT`].
    fn op_wait(&self, event: &Name) -> Step {
        let deadline = Instant::now() + WAIT_LIMIT;
        let mut ev = self.events.lock().unwrap_or_else(|e| e.into_inner());
        while !ev.contains(&event.text) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Step::Hung;
            }
            ev = self.events_cv.wait_timeout(ev, left).unwrap_or_else(|e| e.into_inner()).0;
        }
        Step::Done(None)
    }

    /// The device writes the tag into the pinned page: IORING_OP_READ_FIXED.
    fn op_dma_write(&self, handle: &Name, page: &u32, tag: &Name) -> Step {
        let r = try_step!(self.reg_handle(handle));
        let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
        if r.released {
            // The contract's rule for a device acting through a released registration;
            // on the host the buffer index is simply gone (EFAULT), so nothing is sent.
            return Step::Failed("EIO".into());
        }
        let src = self.tag_index.get(&tag.text).copied().unwrap_or(0) * PAGE;
        let (begun, _in_flight) = self.begin_write(
            r.map.shared.then(|| (r.map.file.clone(), r.map.start + r.first + page)),
            Content::Known(Some(tag.text.clone())),
        );
        match r.reg.read_fixed(*page as usize, self.tags, src as u64, PAGE) {
            Ok(()) => {
                if r.map.shared {
                    let file = r.map.file.clone();
                    let at = r.map.start + r.first + page;
                    let pinned_generation = r.generations.get(*page as usize).copied();
                    drop(r);
                    // Into a folio that left the file since it was pinned, the write
                    // is no write of the file (the model's `accept_into_folio()`).
                    let generation =
                        self.oracle.lock().unwrap_or_else(|e| e.into_inner()).generation(&file, at);
                    match pinned_generation {
                        Some(g) if g == generation => {
                            self.accept(&file, at, Some(tag.text.clone()), begun)
                        }
                        Some(u32::MAX) => self
                            .oracle
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .possible(&file, at, Some(tag.text.clone())),
                        _ => {}
                    }
                }
                Step::Done(None)
            }
            Err(e) => Step::Failed(errno_name(e)),
        }
    }

    /// The device reads the pinned page: IORING_OP_WRITE_FIXED.
    fn op_dma_read(&self, handle: &Name, page: &u32) -> Step {
        let r = try_step!(self.reg_handle(handle));
        let mut r = r.lock().unwrap_or_else(|e| e.into_inner());
        if r.released {
            return Step::Failed("EIO".into());
        }
        match r.reg.write_fixed(*page as usize, self.sink, 0, PAGE) {
            Ok(()) => Step::Done(None),
            Err(e) => Step::Failed(errno_name(e)),
        }
    }

    /// WB_SYNC_NONE writeback: sync_file_range(SYNC_FILE_RANGE_WRITE).
    fn op_writeback(&self, file: &Option<Name>) -> Step {
        for (name, f) in &self.files {
            if file.as_ref().is_none_or(|n| &n.text == name) {
                // SAFETY: our fd. SYNC_FILE_RANGE_WRITE starts WB_SYNC_NONE writeback
                // of the dirty pages and does not wait (`__filemap_fdatawrite_range`).
                unsafe { libc::sync_file_range(f.fd, 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
            }
        }
        Step::Done(None)
    }

    /// Reclaim of the scenario's page cache through MADV_PAGEOUT.
    fn op_reclaim(&self) -> Step {
        // Every live mapping through MADV_PAGEOUT (`reclaim_pages()` →
        // `shrink_folio_list()`: unmap, release buffers, free), then every file's other
        // cached pages the same way (`page_out_cache`). Not POSIX_FADV_DONTNEED: it
        // starts WB_SYNC_NONE writeback first, which reclaim does not.
        let maps: Vec<MapH> = self
            .handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter_map(|h| match h {
                Handle::Map(m) if !m.unmapped.load(Ordering::SeqCst) => Some(m.clone()),
                _ => None,
            })
            .collect();
        for m in maps {
            // SAFETY: advice on our live mapping.
            unsafe { libc::madvise(m.addr as *mut libc::c_void, m.len(), libc::MADV_PAGEOUT) };
        }
        for f in self.files.values() {
            page_out_cache(f.fd);
        }
        Step::Done(None)
    }
}
