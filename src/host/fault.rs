//! Faults the scenario's own accesses take, caught. A store or load through a mapping whose
//! fault fails (`VM_FAULT_SIGBUS`, e.g. ENOSPC in `->page_mkwrite`) raises SIGBUS; an access
//! racing with a munmap lands in the PROT_NONE reservation left in its place and raises
//! SIGSEGV. For pages of the run's mappings the handler maps an anonymous page over the
//! faulting page, so the access completes, and records the page; the thread then reports
//! `store:SIGBUS` (or `SIGSEGV`) and maps the file page back. Any other fault gets the default
//! action.

use super::disk::PAGE;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Ranges and recorded faults: a scenario has at most `limits::HANDLES_MAX` (32) mappings, all
/// released when its run ends, so 64 slots never run out.
const SLOTS: usize = 64;
static RANGES: [(AtomicUsize, AtomicUsize); SLOTS] =
    [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; SLOTS];
static FAULTED: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static FAULT_SIG: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
/// A recorded fault's key: the page, with the low 12 bits of the faulting thread's id in the
/// page offset, so a fault is reported to the thread that took it (a run's threads are created
/// together: their ids differ in those bits).
fn key(page: usize) -> usize {
    // SAFETY: gettid() has no preconditions and is async-signal-safe.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as usize;
    page | (tid & (PAGE - 1)) | 1 << 63
}

/// A mapping of the run: faults in it are caught.
pub fn remember_range(addr: usize, len: usize) {
    for (a, l) in &RANGES {
        if a.compare_exchange(0, addr, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            l.store(len, Ordering::SeqCst);
            return;
        }
    }
}

/// The mapping is released at the end of its run.
pub fn forget_range(addr: usize) {
    for (a, l) in &RANGES {
        if a.load(Ordering::SeqCst) == addr {
            l.store(0, Ordering::SeqCst);
            a.store(0, Ordering::SeqCst);
        }
    }
}

/// Whether this thread's access to `page` took a caught signal, and which.
pub fn took_fault(page: usize) -> Option<&'static str> {
    let k = key(page);
    for (f, sig) in FAULTED.iter().zip(&FAULT_SIG) {
        if f.compare_exchange(k, 0, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
            return Some(if sig.load(Ordering::SeqCst) == libc::SIGBUS as usize {
                "SIGBUS"
            } else {
                "SIGSEGV"
            });
        }
    }
    None
}

/// A new run starts with no fault recorded.
pub fn clear_faults() {
    for f in &FAULTED {
        f.store(0, Ordering::SeqCst);
    }
}

/// The handler of SIGBUS and SIGSEGV. It replaces the Rust runtime's SIGSEGV handler, whose
/// only job is to name a stack overflow: a stack overflow now dies with a plain SIGSEGV.
extern "C" fn on_fault(sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    // SAFETY: errno is thread-local; it is restored before returning to the interrupted code.
    let saved_errno = unsafe { *libc::__errno_location() };
    on_fault_inner(sig, info);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved_errno };
}

fn on_fault_inner(sig: libc::c_int, info: *mut libc::siginfo_t) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = addr & !(PAGE - 1);
    let ours = RANGES.iter().any(|(a, l)| {
        let (a, l) = (a.load(Ordering::SeqCst), l.load(Ordering::SeqCst));
        a != 0 && page >= a && page < a + l
    });
    if ours {
        // SAFETY: replaces one page of the run's own range. mmap() is not on signal-safety(7)'s
        // list, but on Linux it is a plain system call, with no lock in user space.
        let p = unsafe {
            libc::mmap(
                page as *mut libc::c_void,
                PAGE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            let k = key(page);
            for (f, s) in FAULTED.iter().zip(&FAULT_SIG) {
                if f.compare_exchange(0, k, Ordering::SeqCst, Ordering::SeqCst).is_ok() {
                    s.store(sig as usize, Ordering::SeqCst);
                    return;
                }
            }
            return;
        }
    }
    // SAFETY: restoring the default action; the access faults again and the process dies as
    // it would have without pincheck's handler.
    unsafe { libc::signal(sig, libc::SIG_DFL) };
}

pub fn install_fault_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: a zeroed sigaction with our handler; SA_SIGINFO for the fault address.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_fault as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_NODEFER;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut());
            libc::sigaction(libc::SIGSEGV, &sa, std::ptr::null_mut());
        }
    });
}
