//! A long-term pin on the host and a device writing through it, from user space: an io_uring
//! fixed buffer. `IORING_REGISTER_BUFFERS` → `io_sqe_buffers_register()` → `io_pin_pages()` →
//! `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)` (io_uring/rsrc.c, io_uring/memmap.c in
//! 6.18) is the pin an RDMA registration takes (`ib_umem_get()`). A `READ_FIXED` into the
//! buffer is a kernel write into the pinned pages through the kernel's own mapping
//! (`io_import_fixed()` builds a bvec; the copy never faults and never dirties the page): the
//! device's `dma-write`. `WRITE_FIXED` reads them: `dma-read`. Unregistration is
//! `io_buffer_unmap()` → `unpin_user_folio()`: the pages are unpinned without being dirtied,
//! unlike `ib_umem_release()`, which dirties a writable MR's pages (docs/design.md §6).

use io_uring::{opcode, types, IoUring};
use std::os::fd::RawFd;

/// One ring with one registered buffer. Dropping it closes the ring, which unpins the buffer.
pub struct Registration {
    ring: IoUring,
    base: *mut u8,
    len: usize,
    registered: bool,
    /// The `user_data` of the last operation submitted.
    next_id: u64,
}

// SAFETY: the raw pointer is an address in this process's own mapping, used only as the
// target of kernel I/O on the registered buffer; the ring itself is not shared between threads
// without the caller's lock.
unsafe impl Send for Registration {}

impl Registration {
    /// Registers `[base, base + len)`; `Err(errno)` when the kernel refuses the pin (or, where
    /// [`unavailable`] says so, when io_uring cannot be set up at all).
    pub fn register(base: *mut u8, len: usize) -> Result<Registration, i32> {
        let ring = IoUring::new(4).map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
        let iov = libc::iovec { iov_base: base.cast(), iov_len: len };
        // SAFETY: the buffer is our own mapping and stays mapped (or pinned) while registered;
        // the kernel only pins it here.
        unsafe { ring.submitter().register_buffers(std::slice::from_ref(&iov)) }
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EINVAL))?;
        Ok(Registration { ring, base, len, registered: true, next_id: 0 })
    }

    /// `IORING_UNREGISTER_BUFFERS`: the pins are released.
    pub fn unregister(&mut self) -> Result<(), i32> {
        if !self.registered {
            return Ok(());
        }
        self.ring.submitter().unregister_buffers().map_err(|e| e.raw_os_error().unwrap_or(0))?;
        self.registered = false;
        Ok(())
    }

    /// The device writes page `page` of the buffer with `len` bytes read from `src` at `offset`
    /// (`IORING_OP_READ_FIXED`).
    pub fn read_fixed(
        &mut self,
        page: usize,
        src: RawFd,
        offset: u64,
        len: usize,
    ) -> Result<(), i32> {
        let e = opcode::ReadFixed::new(types::Fd(src), self.at(page, len)?, len as u32, 0)
            .offset(offset)
            .build();
        self.run(e, len)
    }

    /// The device reads page `page` of the buffer into `dst` at `offset` (`IORING_OP_WRITE_FIXED`).
    pub fn write_fixed(
        &mut self,
        page: usize,
        dst: RawFd,
        offset: u64,
        len: usize,
    ) -> Result<(), i32> {
        let e = opcode::WriteFixed::new(types::Fd(dst), self.at(page, len)?, len as u32, 0)
            .offset(offset)
            .build();
        self.run(e, len)
    }

    fn at(&self, page: usize, len: usize) -> Result<*mut u8, i32> {
        let off = page * super::disk::PAGE;
        if off + len > self.len {
            return Err(libc::EINVAL);
        }
        // The address is only handed to the kernel, which checks it against the registration.
        Ok(self.base.wrapping_add(off))
    }

    fn run(&mut self, e: io_uring::squeue::Entry, len: usize) -> Result<(), i32> {
        self.next_id += 1;
        let id = self.next_id;
        let e = e.user_data(id);
        // SAFETY: the entry refers to the registered buffer, valid until its completion, which
        // the loop below waits for.
        unsafe { self.ring.submission().push(&e) }.map_err(|_| libc::EBUSY)?;
        loop {
            // A signal (Ctrl-C lands on any thread) interrupts the wait, not the I/O: wait again
            // until this entry's own completion arrives.
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(e.raw_os_error().unwrap_or(libc::EIO)),
            }
            let Some(cqe) = self.ring.completion().find(|c| c.user_data() == id) else {
                continue;
            };
            return match cqe.result() {
                r if r < 0 => Err(-r),
                r if r as usize != len => Err(libc::EIO),
                _ => Ok(()),
            };
        }
    }
}

/// Whether io_uring can be set up here at all (`kernel.io_uring_disabled`, seccomp, or a
/// kernel without it), and why not.
pub fn unavailable() -> Option<String> {
    IoUring::new(1).err().map(|e| format!("io_uring is not available here: {e}"))
}
