//! The kernel log during a host run: /dev/kmsg read from its end when the run starts
//! (`devkmsg_read()`, kernel/printk/printk.c: one record per read, `-EAGAIN` when none is left,
//! `-EPIPE` when records were overwritten). Reading it needs root or `kernel.dmesg_restrict=0`.
//! The log is the machine's: a warning from anything else that ran meanwhile is counted too.

use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;

pub struct KernelLog {
    file: std::fs::File,
}

impl KernelLog {
    /// Opens the log positioned at its end; `Err` says why it cannot be read.
    pub fn open() -> Result<KernelLog, String> {
        use std::io::Seek;
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open("/dev/kmsg")
            .map_err(|e| format!("/dev/kmsg: {e}"))?;
        file.seek(std::io::SeekFrom::End(0)).map_err(|e| format!("/dev/kmsg: {e}"))?;
        Ok(KernelLog { file })
    }

    /// The messages logged since the last call.
    pub fn drain(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = vec![0u8; 8192];
        loop {
            match self.file.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    let rec = String::from_utf8_lossy(&buf[..n]);
                    // "prio,seq,usec,flags;message\n" then continuation lines " KEY=value".
                    let msg = rec.split_once(';').map_or(&*rec, |(_, m)| m);
                    out.push(msg.lines().next().unwrap_or("").to_string());
                }
                Err(e) if e.raw_os_error() == Some(libc::EPIPE) => continue,
                Err(_) => break,
            }
        }
        out
    }
}

/// The label a kernel message stands for: `bug` for `BUG()`/an oops, `warn` for `WARN()`
/// (`__warn()` prints "WARNING: CPU: ..."), and for the filesystem warnings the model labels
/// `warn`: `dio_warn_stale_pagecache()` (fs/direct-io.c, iomap), and, for the scratch
/// filesystem's `device` (`loop0`) only, since the machine's own ext4 filesystems warn too,
/// `__ext4_warning()` ("EXT4-fs warning (device loop0): ...") and ext4_writepages()'s
/// `ext4_msg(KERN_CRIT)` "... Data will be lost". `BUG`, `WARNING` and the O_DIRECT message
/// name no filesystem and are counted whatever caused them.
///
/// `fs` is the scenario's filesystem (`ext4`, `xfs`, `btrfs`, `tmpfs`): a `BUG`/`WARNING`
/// whose source file is another filesystem's directory (`at fs/xfs/...` during an ext4 run) is
/// not this run's (see [`foreign`]). `ext4_convert_unwritten_extents_endio()`'s message is not
/// `warn` (see [`EXT4_DEBUG_SPLIT`]).
pub fn classify(msg: &str, device: Option<&str>, fs: &str) -> Option<&'static str> {
    let ours = device
        .is_some_and(|d| msg.contains(&format!("(device {d})")) || msg.contains(&format!("({d})")));
    if foreign(msg, fs) || msg.contains(EXT4_DEBUG_SPLIT) {
        return None;
    }
    if msg.contains("kernel BUG at") || msg.starts_with("BUG:") || msg.starts_with("Oops") {
        Some("bug")
    } else if msg.starts_with("WARNING:")
        || msg.contains("Page cache invalidation failure on direct I/O")
        || (ours && (msg.starts_with("EXT4-fs warning") || msg.contains("Data will be lost")))
    {
        Some("warn")
    } else {
        None
    }
}

/// The message `ext4_convert_unwritten_extents_endio()` (fs/ext4/extents.c) prints when the
/// extent being converted at I/O completion is larger than the I/O (`ee_block != map->m_lblk ||
/// ee_len > map->m_len`): it then splits the extent (`ext4_split_convert_extents()`) and goes
/// on. The `ext4_warning()` is compiled only with `CONFIG_EXT4_DEBUG` (since e3d550c2c4f2, 4.12;
/// unchanged at 6.18 and in the 6.19 stable tree of February 2026), and it reports a legitimate
/// split, not a broken invariant: no `WARN()`, no error, the data is converted. The model does
/// not label it; neither does the host (docs/design.md §6, docs/kernel-facts.md).
pub const EXT4_DEBUG_SPLIT: &str = "finished: extent logical block";

/// Whether `msg` is `dio_warn_stale_pagecache()`'s "Page cache invalidation failure" and
/// `next`, the record it prints right after (`pr_crit("File: %s PID: %d Comm: %.20s\n", ...)`,
/// fs/iomap/direct-io.c and fs/direct-io.c callers, 6.18), names a file outside this process's
/// scratch filesystems (`pincheck-host-PID`), or, for a name without a directory, a command
/// other than pincheck: another process's O_DIRECT collision.
pub fn stale_pagecache_elsewhere(msg: &str, next: Option<&str>) -> bool {
    let pid = std::process::id();
    msg.contains("Page cache invalidation failure on direct I/O")
        && next.is_some_and(|n| {
            let Some(rest) = n.strip_prefix("File: ") else { return false };
            let file = rest.split(" PID: ").next().unwrap_or("");
            if file.contains('/') {
                !file.contains(&format!("pincheck-host-{pid}/"))
                    && !file.contains(&format!("pincheck-host-{pid}-"))
            } else {
                // A kernel printing the name only (`%pD`): the thread's command name decides.
                !n.contains("Comm: pincheck")
            }
        })
}

/// The filesystems whose directories under fs/ name a source file in `BUG`/`WARNING` lines.
const FS_DIRS: [&str; 3] = ["ext4", "xfs", "btrfs"];

/// Whether `msg` names a source file of a filesystem other than `fs` (`WARNING: CPU: 0 PID: 7
/// at fs/xfs/xfs_aops.c:...` during an ext4 run): another process's filesystem, on a machine
/// where other host runs or workloads go on. tmpfs runs own no fs/ directory of these.
pub fn foreign(msg: &str, fs: &str) -> bool {
    FS_DIRS.iter().any(|d| *d != fs && msg.contains(&format!("fs/{d}/")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn kernel_messages_map_to_labels() {
        let classify = |m: &str| super::classify(m, Some("loop0"), "ext4");
        assert_eq!(
            classify("EXT4-fs warning (device loop0): ext4_dirty_folio:3640: x"),
            Some("warn")
        );
        assert_eq!(classify("EXT4-fs warning (device vda1): ext4_dirty_folio:3640: x"), None);
        assert_eq!(
            classify("EXT4-fs (loop0): This should not happen!! Data will be lost"),
            Some("warn")
        );
        assert_eq!(
            classify("WARNING: CPU: 1 PID: 7 at fs/ext4/inode.c:3640 ext4_set_page_dirty"),
            Some("warn")
        );
        assert_eq!(classify("kernel BUG at fs/ext4/inode.c:2123!"), Some("bug"));
        assert_eq!(
            classify("Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with buffered I/O!"),
            Some("warn")
        );
        assert_eq!(classify("EXT4-fs (loop0): mounted filesystem"), None);
        // A warning in another filesystem's code is not this ext4 run's.
        assert_eq!(
            classify("WARNING: CPU: 1 PID: 7 at fs/xfs/xfs_aops.c:100 xfs_vm_writepages+0x1/0x2"),
            None
        );
        assert_eq!(
            super::classify(
                "WARNING: CPU: 1 PID: 7 at fs/xfs/xfs_aops.c:100 xfs_vm_writepages+0x1/0x2",
                Some("loop1"),
                "xfs"
            ),
            Some("warn")
        );
        let stale = "Page cache invalidation failure on direct I/O.  Possible data corruption due to collision with buffered I/O!";
        let pid = std::process::id();
        let ours = format!("File: /tmp/pincheck-host-{pid}-ext4/mnt/run3/f PID: 7 Comm: pincheck");
        assert!(super::stale_pagecache_elsewhere(
            stale,
            Some("File: /tmp/pincheck-host-1-ext4/mnt/run3/f PID: 7 Comm: x")
        ));
        assert!(!super::stale_pagecache_elsewhere(stale, Some(&ours)));
        assert!(!super::stale_pagecache_elsewhere(stale, None));
        // CONFIG_EXT4_DEBUG's report of an extent split at I/O completion is not a warning.
        assert_eq!(
            classify("EXT4-fs warning (device loop0): ext4_convert_unwritten_extents_endio:3811: Inode (12) finished: extent logical block 0, len 8; IO logical block 2, len 1"),
            None
        );
    }
}
