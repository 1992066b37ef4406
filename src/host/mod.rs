//! The host kernel, measured. Scenarios run on the machine pincheck runs on (`exec.rs`:
//! `check --on host`, `conform`), and the long-term pin verdict table of
//! research/kernel-probe.md §1 (`pincheck host-pins`, this file), each set beside the model's
//! prediction for the preset that matches the host's release. This module and its children are
//! the only code with `unsafe` and system calls (ARCHITECTURE.md).
//!
//! A long-term writable pin on the host is io_uring buffer registration (`ring.rs`), the same
//! `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)` a `pin ... write longterm` makes in the
//! model. Each row of the table maps a fresh 16 KiB file written with pwrite() and fsync()ed,
//! registers the whole mapping as one buffer and unregisters it. The mapping is not
//! prefaulted: the probe found that the prefault never changes a verdict.
//!
//! Filesystems: tmpfs is /dev/shm. ext4 and xfs are images made on the fly and loop-mounted
//! (`mount -o loop`, whose loop device is auto-cleared on umount); that needs root and the
//! mkfs of the filesystem (Debian e2fsprogs, xfsprogs). A filesystem the host cannot provide
//! is reported as skipped with the reason, never guessed.

pub mod conform;
pub mod disk;
pub mod exec;
mod fault;
pub mod kmsg;
pub mod lock;
pub mod ring;

use crate::check::ExploreOptions;
use crate::policy::Policy;
use crate::run::{self, Source};
use std::ffi::CString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The filesystems and mappings of the table: rows (c), (d), (e), (f) and (f') of the probe.
pub const FILESYSTEMS: [&str; 3] = ["tmpfs", "ext4", "xfs"];
pub const MAPPINGS: [&str; 4] = ["shared", "shared ro", "private", "private ro"];

/// The model's side of one row: map the file, take a long-term writable pin of its first page,
/// release it.
pub fn probe_scenario(fs: &str, mapping: &str) -> Source {
    let text = format!(
        "scenario probe\nfs {fs}\ndisk 8\nmemory 6\nfile f 1 synced\n\
         thread app:\n  m = mmap f {mapping}\n  p = pin m[0..1] write longterm\n  unpin p\n"
    );
    Source { path: format!("probe-{fs}-{}.pin", mapping.replace(' ', "-")), text }
}

/// The model's verdict for one row under `policy`: `ok` or the labels joined by commas.
pub fn model_verdict(fs: &str, mapping: &str, policy: &Policy) -> Result<String, String> {
    let opts = ExploreOptions { progress: false, ..ExploreOptions::default() };
    let rows =
        run::check_source(&probe_scenario(fs, mapping), Some(std::slice::from_ref(policy)), &opts)
            .map_err(|e| e.to_string())?;
    let labels = &rows[0].labels;
    Ok(if labels.is_empty() { "ok".to_string() } else { labels.join(",") })
}

/// The host's kernel release (`uname -r`).
pub fn host_release() -> Result<String, String> {
    // SAFETY: uname() fills a zeroed utsname whose fields are NUL-terminated arrays.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut u) } != 0 {
        return Err(format!("uname: {}", std::io::Error::last_os_error()));
    }
    let bytes: Vec<u8> = u.release.iter().take_while(|&&c| c != 0).map(|&c| c as u8).collect();
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// The preset modelling `release` ("6.18.44-foo" → linux-6.18, "6.3.0" → linux-6.1): the
/// `linux-MAJOR.MINOR` preset of the newest release at or below the host's, since a kernel has
/// every change of the releases before it and the presets list each release's changes. `None`
/// when the host predates every preset or the release does not start with MAJOR.MINOR.
pub fn preset_for_release(release: &str) -> Option<Policy> {
    let host = release_version(release)?;
    Policy::presets()
        .into_iter()
        .filter_map(|p| Some((release_version(p.name.strip_prefix("linux-")?)?, p)))
        .filter(|(v, _)| *v <= host)
        .max_by_key(|(v, _)| *v)
        .map(|(_, p)| p)
}

/// `MAJOR.MINOR` at the start of a release string, as numbers.
fn release_version(release: &str) -> Option<(u32, u32)> {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// One row of the table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PinRow {
    pub fs: &'static str,
    pub mapping: &'static str,
    /// `ok` or `pin:E...`; `None` when skipped.
    pub host: Option<String>,
    /// Why the host could not run the row.
    pub skipped: Option<String>,
    /// The model's verdict under the host's preset; `None` without a matching preset.
    pub model: Option<String>,
    /// `host == model`, when both exist.
    pub agree: Option<bool>,
    /// /proc/vmstat nr_foll_pin_acquired and nr_foll_pin_released deltas over the case
    /// (registration and unregistration). System-wide counters: other pinning on the machine
    /// shows up here too.
    pub pins_acquired: Option<u64>,
    pub pins_released: Option<u64>,
}

/// Measures every row on the host and predicts it under `preset`.
pub fn pin_table(preset: Option<&Policy>) -> Vec<PinRow> {
    let mut rows = Vec::new();
    for fs in FILESYSTEMS {
        let dir = ScratchFs::new(fs, false);
        for mapping in MAPPINGS {
            let model = preset.map(|p| model_verdict(fs, mapping, p).unwrap_or_else(|e| e));
            let mut row = PinRow {
                fs,
                mapping,
                host: None,
                skipped: None,
                model,
                agree: None,
                pins_acquired: None,
                pins_released: None,
            };
            if crate::check::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
                row.skipped = Some("interrupted".into());
            } else {
                match &dir {
                    Err(why) => row.skipped = Some(why.clone()),
                    Ok(d) => match longterm_pin(&d.dir, mapping) {
                        Ok((verdict, acq, rel)) => {
                            row.host = Some(verdict);
                            row.pins_acquired = acq;
                            row.pins_released = rel;
                        }
                        Err(why) => row.skipped = Some(why),
                    },
                }
            }
            if let (Some(h), Some(m)) = (&row.host, &row.model) {
                row.agree = Some(h == m);
            }
            rows.push(row);
        }
    }
    rows
}

/// Scratch filesystems registered (being made, live, or being undone), and whether the
/// process has decided to exit. One lock orders the two: a scratch filesystem is registered
/// under it before the first system call that creates anything of it, and the Ctrl-C handler
/// (src/main.rs, [`exit_unless_scratch_live`]) exits under it only when none is registered, so
/// no signal sequence can end the process between "created" and "owned".
static SCRATCH: std::sync::Mutex<usize> = std::sync::Mutex::new(0);

/// The number of scratch filesystems registered now.
pub fn scratch_live() -> usize {
    *SCRATCH.lock().unwrap_or_else(|e| e.into_inner())
}

/// The second Ctrl-C: exits with `code` at once if no scratch filesystem is registered (holding
/// the registration lock, so none can be registered meanwhile); otherwise returns, and the
/// process ends when the interrupted run has undone its scratch filesystems.
pub fn exit_unless_scratch_live(code: i32) {
    let live = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
    if *live == 0 {
        std::process::exit(code);
    }
}

/// A registration in [`SCRATCH`], dropped after the scratch filesystem is undone.
struct Registered;

impl Registered {
    /// Registers one scratch filesystem, unless the process was interrupted: nothing new is
    /// made after Ctrl-C. Takes the machine's host-run lock first ([`lock::hold_machine`]),
    /// outside the registration lock, so a second Ctrl-C can still exit while this waits.
    fn new() -> Result<Registered, String> {
        lock::hold_machine()?;
        let mut live = SCRATCH.lock().unwrap_or_else(|e| e.into_inner());
        if crate::check::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            return Err("interrupted".into());
        }
        *live += 1;
        Ok(Registered)
    }
}

impl Drop for Registered {
    fn drop(&mut self) {
        *SCRATCH.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
    }
}

/// Whether pincheck runs as root (loop mounts, drop_caches, the pin counters' refresh).
pub fn is_root() -> bool {
    // SAFETY: geteuid() has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// A directory on a filesystem of one kind, removed (and unmounted) on drop.
///
/// It is registered (see [`SCRATCH`]) and owns its paths before the first system call that
/// creates anything, and its `Drop` undoes whatever exists, whichever step the making stopped
/// at: the mount if the mount point is mounted, then the directory holding the image.
pub struct ScratchFs {
    pub dir: PathBuf,
    /// The loop image behind the mount: the disk as a crash would find it.
    pub image: Option<PathBuf>,
    /// The loop device (`loop0`), as kernel messages name the filesystem.
    pub device: Option<String>,
    /// The directory holding the image and the mount point, and the mount point, to undo.
    loop_mount: Option<(PathBuf, PathBuf)>,
    /// The zram device made for a `stable-writes` filesystem (`zram3`: 3), removed on drop.
    zram: Option<u32>,
    /// A read throttle set on the device (`--host-read-bps`): the cgroup file and the line
    /// that lifts it again, written on drop.
    throttle: Option<(PathBuf, String)>,
    /// Declared last: dropped after `Drop::drop` undid everything.
    _registered: Registered,
}

const TMPFS_MAGIC: i64 = 0x0102_1994;

impl ScratchFs {
    /// A scratch directory on `fs`: tmpfs is /dev/shm; ext4, xfs and btrfs are sparse images
    /// made with 4 KiB blocks and loop-mounted (`nodelalloc`: ext4's mount option).
    pub fn new(fs: &str, nodelalloc: bool) -> Result<ScratchFs, String> {
        let tag = format!("pincheck-host-{}", std::process::id());
        match fs {
            "tmpfs" => {
                let shm = Path::new("/dev/shm");
                if fs_magic(shm) != Some(TMPFS_MAGIC) {
                    return Err("/dev/shm is not a tmpfs mount".into());
                }
                let dir = shm.join(tag);
                let s = ScratchFs {
                    dir: dir.clone(),
                    image: None,
                    device: None,
                    loop_mount: None,
                    zram: None,
                    throttle: None,
                    _registered: Registered::new()?,
                };
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                Ok(s)
            }
            "ext4" | "xfs" | "btrfs" => {
                if !is_root() {
                    return Err(format!("needs root: {fs} is an image loop-mounted on the fly"));
                }
                let mkfs = format!("mkfs.{fs}");
                let package = match fs {
                    "xfs" => "xfsprogs",
                    "btrfs" => "btrfs-progs",
                    _ => "e2fsprogs",
                };
                if !on_path(&mkfs) {
                    return Err(format!("{mkfs} not found (Debian package {package})"));
                }
                let base = std::env::temp_dir().join(format!("{tag}-{fs}"));
                let image = base.join("image");
                let mnt = base.join("mnt");
                // Owned from here: an error (or an interruption) below drops `s`, which
                // unmounts what was mounted and removes what was made.
                let mut s = ScratchFs {
                    dir: mnt.clone(),
                    image: Some(image.clone()),
                    device: None,
                    loop_mount: Some((base.clone(), mnt.clone())),
                    zram: None,
                    throttle: None,
                    _registered: Registered::new()?,
                };
                let made = (|| {
                    std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
                    // xfsprogs refuses filesystems under 300 MiB; the image is sparse.
                    let size = match fs {
                        "xfs" => 320 << 20,
                        "btrfs" => 256 << 20,
                        _ => 32 << 20,
                    };
                    let f = std::fs::File::create(&image).map_err(|e| e.to_string())?;
                    f.set_len(size).map_err(|e| e.to_string())?;
                    let args: &[&str] = match fs {
                        "xfs" => &["-q", "-f", "-b", "size=4096"],
                        "btrfs" => &["-q", "-f", "-s", "4096"],
                        _ => &["-q", "-F", "-b", "4096"],
                    };
                    run_cmd(Command::new(&mkfs).args(args).arg(&image))?;
                    if crate::check::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                        return Err("interrupted".to_string());
                    }
                    let opts = if nodelalloc { "loop,nodelalloc" } else { "loop" };
                    run_cmd(Command::new("mount").args(["-o", opts]).arg(&image).arg(&mnt))
                })();
                if let Err(e) = made {
                    return Err(format!("cannot make a {fs} loop mount: {e}"));
                }
                s.device = Command::new("findmnt")
                    .args(["-n", "-o", "SOURCE"])
                    .arg(&mnt)
                    .process_group(0)
                    .output()
                    .ok()
                    .map(|o| {
                        let out = String::from_utf8_lossy(&o.stdout);
                        out.trim().trim_start_matches("/dev/").to_string()
                    })
                    .filter(|d| !d.is_empty());
                Ok(s)
            }
            other => Err(format!("{other} is not provided on the host")),
        }
    }
}

impl ScratchFs {
    /// Throttles reads from the scratch filesystem's device to `bps` bytes a second with the
    /// block layer's throttle (block/blk-throttle.c, `blk_throtl_bio()`: a bio over the limit
    /// waits in the throttle queue after `submit_bio()`, so the transfer it carries is simply
    /// slower, as on a slow device). Writes are not throttled. Set in the blkio cgroup (v1:
    /// `blkio.throttle.read_bps_device` of the root; v2: `io.max` of this process's cgroup)
    /// and lifted on drop.
    pub fn throttle_reads(&mut self, bps: u64) -> Result<(), String> {
        let dev = self
            .device
            .clone()
            .ok_or("--host-read-bps: this filesystem is not on a block device (tmpfs)")?;
        let devno = std::fs::read_to_string(format!("/sys/block/{dev}/dev"))
            .map_err(|e| format!("--host-read-bps: /sys/block/{dev}/dev: {e}"))?;
        let devno = devno.trim().to_string();
        let v1 = PathBuf::from("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device");
        let (file, set, lift) = if v1.exists() {
            (v1, format!("{devno} {bps}"), format!("{devno} 0"))
        } else {
            let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
            let rel = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/").to_string();
            let io_max =
                PathBuf::from(format!("/sys/fs/cgroup{}/io.max", rel.trim_end_matches('/')));
            if !io_max.exists() {
                return Err(format!(
                    "--host-read-bps: no blkio throttle here (no cgroup v1 blkio, no {})",
                    io_max.display()
                ));
            }
            (io_max, format!("{devno} rbps={bps}"), format!("{devno} rbps=max"))
        };
        std::fs::write(&file, &set)
            .map_err(|e| format!("--host-read-bps: {}: {e}", file.display()))?;
        self.throttle = Some((file, lift));
        Ok(())
    }
}

impl Drop for ScratchFs {
    fn drop(&mut self) {
        self.undo();
        if let Some(n) = self.zram {
            // The device goes once nothing holds it (the umount above released it).
            if std::fs::write(ZRAM_REMOVE, n.to_string()).is_err() {
                eprintln!("pincheck: could not remove /dev/zram{n}; left in place");
            }
        }
    }
}

const ZRAM_ADD: &str = "/sys/class/zram-control/hot_add";
const ZRAM_REMOVE: &str = "/sys/class/zram-control/hot_remove";

impl ScratchFs {
    /// An ext4 on a fresh zram device: a block device with stable writes (`zram_add()` sets
    /// `BLK_FEAT_STABLE_WRITES`: it compresses the page at submission; read back from
    /// /sys/block/zramN/queue/stable_writes), so ext4's mappings get `AS_STABLE_WRITES` and
    /// `folio_wait_stable()` waits. It computes no integrity data: no guard check fails.
    pub fn stable_writes_ext4() -> Result<ScratchFs, String> {
        if !is_root() {
            return Err(
                "needs root: stable-writes is an ext4 on a zram device made on the fly".into()
            );
        }
        if !Path::new(ZRAM_ADD).exists() {
            return Err(format!("stable-writes needs a block device with stable writes; {ZRAM_ADD} is absent (no zram: CONFIG_ZRAM)"));
        }
        if !on_path("mkfs.ext4") {
            return Err("mkfs.ext4 not found (Debian package e2fsprogs)".into());
        }
        let tag = format!("pincheck-host-{}", std::process::id());
        let base = std::env::temp_dir().join(format!("{tag}-zram"));
        let mnt = base.join("mnt");
        let mut s = ScratchFs {
            dir: mnt.clone(),
            image: None,
            device: None,
            loop_mount: Some((base.clone(), mnt.clone())),
            zram: None,
            throttle: None,
            _registered: Registered::new()?,
        };
        let made = (|| -> Result<(), String> {
            std::fs::create_dir_all(&mnt).map_err(|e| e.to_string())?;
            let n: u32 = std::fs::read_to_string(ZRAM_ADD)
                .map_err(|e| format!("{ZRAM_ADD}: {e}"))?
                .trim()
                .parse()
                .map_err(|e| format!("{ZRAM_ADD}: {e}"))?;
            s.zram = Some(n);
            let sys = PathBuf::from(format!("/sys/block/zram{n}"));
            std::fs::write(sys.join("disksize"), "64M")
                .map_err(|e| format!("zram{n} disksize: {e}"))?;
            let stable =
                std::fs::read_to_string(sys.join("queue/stable_writes")).unwrap_or_default();
            if stable.trim() != "1" {
                return Err(format!(
                    "zram{n} does not report stable writes (queue/stable_writes = {})",
                    stable.trim()
                ));
            }
            let dev = format!("/dev/zram{n}");
            if crate::check::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
                return Err("interrupted".into());
            }
            run_cmd(Command::new("mkfs.ext4").args(["-q", "-F", "-b", "4096"]).arg(&dev))?;
            run_cmd(Command::new("mount").arg(&dev).arg(&mnt))?;
            s.image = Some(PathBuf::from(&dev));
            s.device = Some(format!("zram{n}"));
            Ok(())
        })();
        made.map_err(|e| format!("cannot make an ext4 on zram: {e}"))?;
        Ok(s)
    }
}

/// Whether `path` is a mount point now (/proc/self/mountinfo's fifth field; our paths have no
/// characters mountinfo escapes).
fn is_mount_point(path: &Path) -> bool {
    let want = path.to_string_lossy();
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(&*want))
}

impl ScratchFs {
    /// Last resort before exiting with a thread stuck in the kernel: lazily unmount (the loop
    /// device goes when the stuck call lets go of it) and remove what can be removed.
    pub fn detach(&self) {
        self.lift_throttle();
        match &self.loop_mount {
            None => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
            Some((base, mnt)) => {
                let _ = run_cmd(Command::new("umount").arg("-l").arg(mnt));
                let _ = std::fs::remove_dir_all(base);
            }
        }
    }

    /// Lifts `--host-read-bps`'s throttle (writing it twice is harmless).
    fn lift_throttle(&self) {
        if let Some((file, lift)) = &self.throttle {
            if std::fs::write(file, lift).is_err() {
                eprintln!(
                    "pincheck: could not lift the read throttle `{lift}` in {}",
                    file.display()
                );
            }
        }
    }

    fn undo(&mut self) {
        self.lift_throttle();
        self.throttle = None;
        match &self.loop_mount {
            None => {
                let _ = std::fs::remove_dir_all(&self.dir);
            }
            Some((base, mnt)) => {
                // `mount -o loop` sets LO_FLAGS_AUTOCLEAR: the umount frees the loop device.
                if !is_mount_point(mnt) || run_cmd(Command::new("umount").arg(mnt)).is_ok() {
                    let _ = std::fs::remove_dir_all(base);
                } else if run_cmd(Command::new("umount").arg("-l").arg(mnt)).is_ok() {
                    // Busy (a thread still in the kernel): detached now, the loop device goes
                    // when the last reference does; the image is unlinked.
                    eprintln!("pincheck: {} was busy; detached (umount -l)", mnt.display());
                    let _ = std::fs::remove_dir_all(base);
                } else {
                    eprintln!("pincheck: could not unmount {}; left in place", mnt.display());
                }
            }
        }
    }
}

/// Runs a helper (mkfs, mount, umount) in its own process group: a Ctrl-C at the terminal
/// goes to pincheck alone, which then undoes what the helper made, instead of killing the
/// helper half-way.
fn run_cmd(c: &mut Command) -> Result<(), String> {
    let out = c.process_group(0).output().map_err(|e| format!("{c:?}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!("{c:?}: {}", String::from_utf8_lossy(&out.stderr).trim()))
    }
}

fn on_path(cmd: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/sbin", "/usr/sbin"].map(PathBuf::from))
        .any(|d| d.join(cmd).is_file())
}

fn fs_magic(p: &Path) -> Option<i64> {
    let c = CString::new(p.as_os_str().as_encoded_bytes()).ok()?;
    // SAFETY: statfs() writes into a zeroed struct; `c` is NUL-terminated.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    (unsafe { libc::statfs(c.as_ptr(), &mut s) } == 0).then_some(s.f_type as i64)
}

/// /proc/vmstat's FOLL_PIN counters (`NR_FOLL_PIN_ACQUIRED`/`RELEASED`, mm/gup.c). They are
/// per-CPU node counters folded into the global value only past a threshold or by the vmstat
/// worker (every `vm.stat_interval`), so a few pins are invisible until a write to
/// /proc/sys/vm/stat_refresh (root) folds them: `refresh_vm_stats()`, mm/vmstat.c.
pub(crate) fn pin_counters() -> Option<(u64, u64)> {
    std::fs::write("/proc/sys/vm/stat_refresh", "1").ok()?;
    let text = std::fs::read_to_string("/proc/vmstat").ok()?;
    let get = |k: &str| text.lines().find_map(|l| l.strip_prefix(k)?.trim().parse::<u64>().ok());
    Some((get("nr_foll_pin_acquired ")?, get("nr_foll_pin_released ")?))
}

const PAGES: usize = 4;
const PAGE: usize = 4096;

/// Maps a fresh file in `dir` as `mapping` and registers the mapping as an io_uring fixed
/// buffer. Returns the verdict and the pin counter deltas.
fn longterm_pin(dir: &Path, mapping: &str) -> Result<(String, Option<u64>, Option<u64>), String> {
    let path = dir.join(format!("probe-{}", mapping.replace(' ', "-")));
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        f.write_all(&[b'A'; PAGES * PAGE]).map_err(|e| e.to_string())?;
        f.sync_all().map_err(|e| e.to_string())?;
    }
    let shared = mapping.starts_with("shared");
    let ro = mapping.ends_with(" ro");
    let result = Mapped::new(&path, shared, ro).and_then(|m| {
        let before = pin_counters();
        let verdict = register_buffer(m.addr, PAGES * PAGE)?;
        let after = pin_counters();
        let (acquired, released) = match (before, after) {
            (Some(b), Some(a)) => (Some(a.0.saturating_sub(b.0)), Some(a.1.saturating_sub(b.1))),
            _ => (None, None),
        };
        Ok((verdict, acquired, released))
    });
    let _ = std::fs::remove_file(&path);
    result
}

/// A file mapping, unmapped and closed on drop.
struct Mapped {
    fd: libc::c_int,
    addr: *mut libc::c_void,
}

impl Mapped {
    fn new(path: &Path, shared: bool, ro: bool) -> Result<Mapped, String> {
        let c = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|e| e.to_string())?;
        let oflags = if ro { libc::O_RDONLY } else { libc::O_RDWR };
        // SAFETY: `c` is a NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), oflags | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {}: {}", path.display(), std::io::Error::last_os_error()));
        }
        let prot = if ro { libc::PROT_READ } else { libc::PROT_READ | libc::PROT_WRITE };
        let flags = if shared { libc::MAP_SHARED } else { libc::MAP_PRIVATE };
        // SAFETY: a fresh mapping of an open fd; no existing memory is touched.
        let addr = unsafe { libc::mmap(std::ptr::null_mut(), PAGES * PAGE, prot, flags, fd, 0) };
        if addr == libc::MAP_FAILED {
            let e = std::io::Error::last_os_error();
            // SAFETY: fd is ours.
            unsafe { libc::close(fd) };
            return Err(format!("mmap: {e}"));
        }
        Ok(Mapped { fd, addr })
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping and fd were made by Mapped::new and are released once.
        unsafe {
            libc::munmap(self.addr, PAGES * PAGE);
            libc::close(self.fd);
        }
    }
}

/// Registers [addr, addr+len) as an io_uring fixed buffer and unregisters it: `Ok("ok")` or
/// `Ok("pin:EFAULT")`; `Err` when io_uring itself is unavailable.
fn register_buffer(addr: *mut libc::c_void, len: usize) -> Result<String, String> {
    match ring::Registration::register(addr.cast(), len) {
        Ok(mut reg) => {
            let _ = reg.unregister();
            Ok("ok".to_string())
        }
        Err(e) if e == libc::ENOSYS => Err("io_uring is not available (ENOSYS)".to_string()),
        Err(e) => Ok(format!("pin:{}", errno_name(e))),
    }
}

/// The errno's name as labels spell it.
pub(crate) fn errno_name(e: i32) -> String {
    let name = match e {
        libc::EIO => "EIO",
        libc::EILSEQ => "EILSEQ",
        libc::ENOSPC => "ENOSPC",
        libc::EACCES => "EACCES",
        libc::ETXTBSY => "ETXTBSY",
        libc::EBADF => "EBADF",
        libc::ENODEV => "ENODEV",
        libc::EROFS => "EROFS",
        libc::EFBIG => "EFBIG",
        libc::EDQUOT => "EDQUOT",
        libc::EUCLEAN => "EUCLEAN",
        libc::ENOSYS => "ENOSYS",
        libc::EFAULT => "EFAULT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOMEM => "ENOMEM",
        libc::EPERM => "EPERM",
        libc::EINVAL => "EINVAL",
        libc::EBUSY => "EBUSY",
        libc::EAGAIN => "EAGAIN",
        libc::ENXIO => "ENXIO",
        libc::EOVERFLOW => "EOVERFLOW",
        _ => return format!("errno{e}"),
    };
    name.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_release_maps_to_the_nearest_preset_at_or_below_it() {
        let name = |r: &str| preset_for_release(r).map(|p| p.name);
        assert_eq!(name("6.18.44-cloud"), Some("linux-6.18".into()));
        assert_eq!(name("4.19.0"), Some("linux-4.19".into()));
        assert_eq!(name("6.1.0"), Some("linux-6.1".into()));
        assert_eq!(name("6.3.0"), Some("linux-6.1".into()));
        assert_eq!(name("6.12.77+deb13-amd64"), Some("linux-6.12".into()));
        assert_eq!(name("6.17.1"), Some("linux-6.12".into()));
        assert_eq!(name("5.4.0-150-generic"), Some("linux-4.19".into()));
        assert_eq!(name("5.9.16"), Some("linux-4.19".into()));
        assert_eq!(name("7.1.0-rc2"), Some("linux-7.0".into()));
        assert_eq!(name("10.0"), Some("linux-7.0".into()));
        // Numeric, not textual: 6.10 is above 6.6 and below 6.12.
        assert_eq!(name("6.10.3"), Some("linux-6.6".into()));
        assert_eq!(name("4.14.336"), Some("linux-4.14".into()));
        assert!(name("4.9.337").is_none());
        assert!(name("garbage").is_none());
        assert!(name("6").is_none());
    }
}
