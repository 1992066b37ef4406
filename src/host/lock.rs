//! One host run at a time per machine. Host runs read machine-wide counters (/proc/vmstat's
//! FOLL_PIN counters for `leak`, /dev/kmsg for `warn`/`bug`) and compete for the loop devices
//! and the page cache: two pincheck processes running scenarios on the host at once would see
//! each other's pins and warnings (a false `leak` or `warn`, so a false DISAGREE). Every
//! process takes an exclusive `flock()` on one lock file before it makes its first scratch
//! filesystem (not while the model explores), and holds it until it ends; a second process
//! waits, saying so.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;

/// The lock file: /run/lock where it exists (Debian's tmpfs for locks), else the temp dir.
fn path() -> std::path::PathBuf {
    let run_lock = std::path::Path::new("/run/lock");
    let dir = if run_lock.is_dir() { run_lock.to_path_buf() } else { std::env::temp_dir() };
    dir.join("pincheck-host.lock")
}

static HELD: OnceLock<File> = OnceLock::new();

/// Takes the machine's host-run lock for the rest of this process, waiting (and saying so on
/// stderr) while another process holds it. Taking it twice is a no-op. `Err` says why the lock
/// could not be taken (the run goes on only with it).
pub fn hold_machine() -> Result<(), String> {
    if HELD.get().is_some() {
        return Ok(());
    }
    let f = lock_file(&path())?;
    let _ = HELD.set(f);
    Ok(())
}

/// Opens `p` and takes an exclusive `flock()` on it, waiting if another process holds one.
fn lock_file(p: &std::path::Path) -> Result<File, String> {
    let f = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(p)
        .map_err(|e| format!("{}: {e}", p.display()))?;
    // SAFETY: flock() on a descriptor this function owns; no memory is passed.
    let try_now = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if try_now != 0 {
        eprintln!(
            "pincheck: waiting for another pincheck host run on this machine to finish ({})",
            p.display()
        );
        // SAFETY: as above; blocking until the other process releases or exits.
        let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
        if r != 0 {
            return Err(format!("{}: flock: {}", p.display(), std::io::Error::last_os_error()));
        }
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    /// On a lock file of its own: the machine's may be held by a host run of another process.
    #[test]
    fn a_held_lock_is_exclusive_and_released_with_its_file() {
        let p = std::env::temp_dir().join(format!("pincheck-lock-test-{}", std::process::id()));
        let held = super::lock_file(&p).unwrap();
        let again = std::fs::File::open(&p).unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock() on a descriptor this test owns.
        let busy = unsafe { libc::flock(again.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_ne!(busy, 0, "a second flock must not be granted while the first is held");
        drop(held);
        // SAFETY: as above.
        let free = unsafe { libc::flock(again.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(free, 0, "released when the holder's file is closed");
        let _ = std::fs::remove_file(&p);
    }
}
