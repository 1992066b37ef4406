//! Scenarios run on this machine's kernel (`check --on host`, `pincheck conform`), where the
//! machine allows it: ext4, xfs and btrfs need root (loop mounts) and their mkfs; tmpfs runs for
//! anyone. What cannot run here is skipped with the reason printed; CI runs as root.

use std::process::{Command, Output};

fn pincheck(args: &[&str]) -> Output {
    run(args).0
}

/// Host runs one at a time: the pin counters and the kernel log are the machine's, and two
/// runs at once would see each other's pins.
static HOST: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Tests that make zram devices (through pincheck or themselves), and the one that counts
/// them, one at a time: taken before [`HOST`], never inside it.
static ZRAM: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// `check PATH --on host --policy linux-6.18 EXTRA...`, as [`run`].
fn on_host(path: &str, extra: &[&str]) -> (Output, u32) {
    let mut args = vec!["check", path, "--on", "host", "--policy", "linux-6.18"];
    args.extend_from_slice(extra);
    run(&args)
}

/// Runs pincheck; also returns its pid, which names its scratch directories and mounts.
fn run(args: &[&str]) -> (Output, u32) {
    let _one_at_a_time = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let child = Command::new(env!("CARGO_BIN_EXE_pincheck"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let pid = child.id();
    (child.wait_with_output().expect("runs"), pid)
}

/// The skip tally: each test holds a [`Running`] while it runs; a test (or part of one) that
/// cannot run here calls [`skip`], which says so on the terminal at once (libtest captures a
/// passing test's output, so a `println!` would be lost); the last test to finish prints how
/// many were skipped and why, so `cargo test` says it.
static SKIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
static FINISHED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// This file's tests, counted in its own source.
fn test_count() -> usize {
    include_str!("host.rs").matches("#[test]\nfn ").count()
}

/// Writes to the terminal's stderr, past libtest's capture; nothing if there is none.
fn to_terminal(line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open("/dev/stderr") {
        let _ = writeln!(f, "{line}");
    }
}

fn skip(test: &str, why: &str) {
    to_terminal(&format!("tests/host.rs: skipped {test}: {why}"));
    SKIPPED.lock().unwrap_or_else(|e| e.into_inner()).push(format!("{test} ({why})"));
}

struct Running;

fn running() -> Running {
    Running
}

impl Drop for Running {
    fn drop(&mut self) {
        let done = FINISHED.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if done == test_count() {
            let skipped = SKIPPED.lock().unwrap_or_else(|e| e.into_inner());
            to_terminal(&match skipped.len() {
                0 => format!("tests/host.rs: all {done} host tests ran; none skipped"),
                n => format!(
                    "tests/host.rs: {n} host test{} or part{} of one skipped on this machine: {}",
                    if n == 1 { "" } else { "s" },
                    if n == 1 { "" } else { "s" },
                    skipped.join("; ")
                ),
            });
        }
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn root() -> bool {
    // SAFETY: geteuid() has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn have(cmd: &str) -> bool {
    ["/sbin", "/usr/sbin", "/bin", "/usr/bin"]
        .iter()
        .any(|d| std::path::Path::new(d).join(cmd).is_file())
}

/// Whether the host's release has a preset: without one, `--on host` needs `--policy`.
fn host_has_preset() -> bool {
    let out = pincheck(&["host-pins", "--json"]);
    let first = text(&out.stdout).lines().next().unwrap_or("").to_string();
    serde_json::from_str::<serde_json::Value>(&first).is_ok_and(|v| !v["policy"].is_null())
}

/// Nothing of pincheck process `pid` is left mounted, as a loop device's backing file, in /tmp
/// or in /dev/shm.
fn nothing_left_behind(pid: u32) {
    let ours = format!("pincheck-host-{pid}");
    // An auto-cleared loop device is released on the umount's last close; give it a moment.
    let loops = || -> Vec<String> {
        let Ok(entries) = std::fs::read_dir("/sys/block") else { return Vec::new() };
        entries
            .flatten()
            .filter_map(|e| {
                let b = std::fs::read_to_string(e.path().join("loop/backing_file")).ok()?;
                b.contains(&format!("{ours}-"))
                    .then(|| format!("{:?}: {}", e.file_name(), b.trim()))
            })
            .collect()
    };
    let mut left = loops();
    for _ in 0..40 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
        left = loops();
    }
    assert!(left.is_empty(), "a loop device is left: {left:?}");
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    assert!(!mounts.contains(&ours), "a scratch mount is left:\n{mounts}");
    for dir in [std::env::temp_dir(), "/dev/shm".into()] {
        if let Ok(entries) = std::fs::read_dir(&dir) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(!name.starts_with(&ours), "left behind: {}", e.path().display());
            }
        }
    }
}

#[test]
fn a_scenario_the_host_cannot_run_is_refused_with_the_reason() {
    let _running = running();
    let out = on_host("scenarios/ext4-rdma-readonly.pin", &[]).0;
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("not host-runnable"), "{err}");
    let out = on_host("scenarios/xfs-dax-truncate-pin.pin", &[]).0;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("pmem"), "{}", text(&out.stderr));
}

#[test]
fn schedule_and_allow_crash_need_on_host() {
    let _running = running();
    let out = pincheck(&["check", "scenarios/tmpfs-rdma.pin", "--schedule", "app"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn tmpfs_scenarios_run_on_the_host_and_agree() {
    let _running = running();
    if !std::path::Path::new("/dev/shm").is_dir() {
        skip("tmpfs_scenarios_run_on_the_host_and_agree", "no /dev/shm");
        return;
    }
    for name in ["tmpfs-rdma", "rdma-case2"] {
        let path = format!("scenarios/{name}.pin");
        let (out, pid) = on_host(&path, &["--runs", "3", "--json"]);
        let stdout = text(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
        let v: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
        assert_eq!(v["agree"], true, "{v}");
        assert_eq!(v["host_labels"], serde_json::json!([]), "{v}");
        assert_eq!(v["model_labels"], serde_json::json!([]), "{v}");
        assert_eq!(v["host"]["runs"], 3, "{v}");
        assert_eq!(v["policy"], "linux-6.18");
        nothing_left_behind(pid);
    }
}

#[test]
fn a_model_schedule_drives_the_host_run_and_a_bad_one_is_refused() {
    let _running = running();
    if !std::path::Path::new("/dev/shm").is_dir() {
        skip("a_model_schedule_drives_the_host_run_and_a_bad_one_is_refused", "no /dev/shm");
        return;
    }
    // Registration, both DMA writes, then deregistration and the final munmap, in that order.
    let s = "app,app,app,nic,nic,nic,nic,app,app,app";
    let out = on_host("scenarios/rdma-case2.pin", &["--schedule", s]).0;
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).starts_with("AGREE rdma-case2"), "{}", text(&out.stdout));
    let out = on_host("scenarios/rdma-case2.pin", &["--schedule", "nic"]).0;
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--schedule: step 1"), "{}", text(&out.stderr));
}

#[test]
fn enospc_at_page_mkwrite_is_a_real_sigbus_on_a_disk_sized_from_the_scenario() {
    let _running = running();
    if !root() || !have("mkfs.ext4") {
        skip(
            "enospc_at_page_mkwrite_is_a_real_sigbus_on_a_disk_sized_from_the_scenario",
            "needs root and mkfs.ext4 (an ext4 image loop-mounted on the fly)",
        );
        return;
    }
    let (out, pid) = on_host("scenarios/ext4-mmap-enospc.pin", &["--json"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(v["host_labels"], serde_json::json!(["store:SIGBUS"]), "{v}");
    assert_eq!(v["agree"], true);
    nothing_left_behind(pid);
}

#[test]
fn a_predicted_kernel_crash_is_not_run_without_allow_crash() {
    let _running = running();
    use pincheck::host::conform::{conform_one, ConformOptions};
    use pincheck::policy::Policy;
    // Whether a run would crash the host is asked of the host kernel's preset. Pretend the host
    // runs 4.19, where the model predicts BUG() in ext4_writepages() for this scenario: the run
    // is refused before any host setup, so this needs neither root nor mkfs.
    let src = pincheck::run::Source {
        path: "scenarios/ext4-rdma-strip.pin".into(),
        text: std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap(),
    };
    let l = pincheck::run::load(&src).unwrap();
    let o = ConformOptions {
        runs: 1,
        safety: Some(Policy::by_name("linux-4.19").unwrap()),
        ..ConformOptions::default()
    };
    let c = conform_one(&l, &Policy::by_name("linux-6.18").unwrap(), &o).unwrap();
    let why = c.skipped.unwrap_or_default();
    assert!(why.contains("--allow-crash") || why.contains("not host-runnable"), "{why}");
    assert!(c.agree.is_none() && c.host_labels.is_none());
}

#[test]
fn conform_agrees_on_every_host_runnable_catalogue_scenario() {
    let _running = running();
    // The catalogue's stable-writes scenario makes a zram device.
    let _zram = ZRAM.lock().unwrap_or_else(|e| e.into_inner());
    if !host_has_preset() {
        skip(
            "conform_agrees_on_every_host_runnable_catalogue_scenario",
            "no preset models this host's kernel",
        );
        return;
    }
    let (out, pid) = run(&["conform", "--json"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    let scenarios: Vec<&serde_json::Value> =
        rows.iter().filter(|r| r.get("scenario").is_some()).collect();
    let pins = rows.len() - scenarios.len();
    assert_eq!(pins, 12, "{stdout}");
    let mut ran = 0;
    for r in &scenarios {
        assert!(r["model_labels"].is_array(), "{r}");
        if r["agree"].is_null() {
            assert!(r["skipped"].is_string() && r["host_labels"].is_null(), "{r}");
        } else {
            ran += 1;
            assert_eq!(r["agree"], true, "{r}");
            assert!(r["host_labels"].is_array(), "{r}");
        }
    }
    let expected_min = if root() && have("mkfs.ext4") && have("mkfs.xfs") { 14 } else { 2 };
    assert!(ran >= expected_min, "only {ran} scenarios ran on the host:\n{stdout}");
    println!("{ran} catalogue scenarios ran on the host and agree");
    nothing_left_behind(pid);
}

#[test]
fn host_regression_scenarios_agree_with_the_model() {
    let _running = running();
    // tests/host/: scenarios that once made a host run crash or disagree. Each runs 20 times;
    // one this machine cannot run prints why.
    let mut dir: Vec<_> =
        std::fs::read_dir("tests/host").unwrap().flatten().map(|e| e.path()).collect();
    dir.sort();
    for path in dir {
        let p = path.to_string_lossy().into_owned();
        let (out, pid) = on_host(&p, &["--runs", "20"]);
        let err = text(&out.stderr);
        if out.status.code() == Some(2) && err.contains("not host-runnable") {
            skip(&format!("host_regression_scenarios_agree_with_the_model {p}"), err.trim());
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{p}: {}{err}", text(&out.stdout));
        nothing_left_behind(pid);
    }
}

#[test]
fn a_second_sigbus_still_faults_after_the_first() {
    let _running = running();
    if !root() || !have("mkfs.ext4") {
        skip("a_second_sigbus_still_faults_after_the_first", "needs root and mkfs.ext4");
        return;
    }
    let out = on_host("tests/host/sigbus-twice.pin", &["--json"]).0;
    let v: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["host_labels"], serde_json::json!(["store:SIGBUS"]), "{v}");
    assert_eq!(v["agree"], true, "{v}");
}

#[test]
fn threads_that_wait_on_each_other_hang_on_the_host_as_in_the_model() {
    let _running = running();
    if !std::path::Path::new("/dev/shm").is_dir() {
        skip("threads_that_wait_on_each_other_hang_on_the_host_as_in_the_model", "no /dev/shm");
        return;
    }
    let dir = std::env::temp_dir().join(format!("pincheck-host-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("cycle.pin");
    let scenario = "scenario cycle\nfs tmpfs\nfile f 1 dirty\nthread a:\n  wait x\n  signal y\nthread b:\n  wait y\n  signal x\n";
    std::fs::write(&path, scenario).unwrap();
    let p = path.to_string_lossy().into_owned();
    let (out, pid) = on_host(&p, &["--json"]);
    let _ = std::fs::remove_dir_all(&dir);
    let v: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["host_labels"], serde_json::json!(["hang"]), "{v}");
    assert_eq!(v["model_labels"], serde_json::json!(["hang"]), "{v}");
    assert_eq!(v["agree"], true);
    nothing_left_behind(pid);
}

#[test]
fn a_terminated_host_run_reports_what_it_did_and_leaves_nothing_behind() {
    let _running = running();
    let fs = if root() && have("mkfs.ext4") { "ext4\ndisk 16" } else { "tmpfs" };
    let dir = std::env::temp_dir().join(format!("pincheck-host-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.pin");
    let scenario = format!("scenario long\nfs {fs}\nfile f 1 synced\nthread a:\n  m = mmap f shared\n  store m[0] A\n  fsync f\n");
    std::fs::write(&path, scenario).unwrap();
    let _one_at_a_time = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let child = Command::new(env!("CARGO_BIN_EXE_pincheck"))
        .args(["check", &path.to_string_lossy(), "--on", "host", "--policy", "linux-6.18"])
        .args(["--runs", "1000000", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().expect("runs");
    let _ = std::fs::remove_dir_all(&dir);
    // Interrupted with no disagreement: exit 3, and the agreement is not a verdict.
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"), "{}", text(&out.stderr));
    let v: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["host"]["interrupted"], true, "{v}");
    assert_eq!(v["host"]["planned"], 1000000, "{v}");
    assert!(v["host"]["runs"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["agree"], true, "{v}");
    nothing_left_behind(pid);
}

/// Two SIGINTs at random moments of a host run on a loop-mounted ext4 (tmpfs without root):
/// during the image's mkfs, the mount, the runs or the unmount. Whatever the moment, nothing
/// is left behind: the scratch filesystem is owned before anything of it is created, and the
/// second signal waits for its cleanup. 10 tries here; `PINCHECK_SIGNAL_TRIES=200 cargo test
/// --release --test host double_signals -- --nocapture` for the 200.
#[test]
fn double_signals_at_random_moments_leave_nothing_behind() {
    let tries: usize =
        std::env::var("PINCHECK_SIGNAL_TRIES").ok().and_then(|v| v.parse().ok()).unwrap_or(10);
    let fs = if root() && have("mkfs.ext4") { "ext4\ndisk 16" } else { "tmpfs" };
    let dir = std::env::temp_dir().join(format!("pincheck-host-sig-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("long.pin");
    let scenario = format!("scenario long\nfs {fs}\nfile f 1 synced\nthread a:\n  m = mmap f shared\n  store m[0] A\n  fsync f\n");
    std::fs::write(&path, scenario).unwrap();
    let mut seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    let mut rand = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let _one_at_a_time = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let mut codes = std::collections::BTreeMap::new();
    for _ in 0..tries {
        use std::os::unix::process::CommandExt;
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_pincheck"));
        cmd.args(["check", &path.to_string_lossy(), "--on", "host", "--policy", "linux-6.18"])
            .args(["--runs", "1000000", "--json"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        // A test run from a background shell job inherits SIGINT ignored (POSIX: asynchronous
        // lists of a non-interactive shell), and a SIGINT before pincheck installs its handler
        // would then be lost. Reset to the default: such a signal ends the process before it
        // made anything.
        // SAFETY: signal() is async-signal-safe; the closure runs in the child before exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            })
        };
        let mut child = cmd.spawn().expect("runs");
        let pid = child.id();
        // Setup (mkfs, mount) takes 100-300 ms here; the first signal lands before, during or
        // after it, the second 0-60 ms later.
        std::thread::sleep(std::time::Duration::from_millis(rand(400)));
        // SAFETY: signals to our own child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_millis(rand(60)));
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let status = loop {
            if let Some(s) = child.try_wait().expect("waits") {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("pincheck {pid} still runs 60 s after two SIGINTs");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        *codes.entry(status.code()).or_insert(0) += 1;
        nothing_left_behind(pid);
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{tries} double-signal tries on {}: exit codes {codes:?}", fs.lines().next().unwrap());
}

/// An interrupted `conform` is not a pass: exit 3, and it names the scenarios it never reached
/// and the one whose runs were cut short.
#[test]
fn an_interrupted_conform_names_what_did_not_run_and_exits_3() {
    if !host_has_preset() {
        println!("skipped: no preset models this host's kernel");
        return;
    }
    let _zram = ZRAM.lock().unwrap_or_else(|e| e.into_inner());
    let _one_at_a_time = HOST.lock().unwrap_or_else(|e| e.into_inner());
    let child = Command::new(env!("CARGO_BIN_EXE_pincheck"))
        .args(["conform", "--runs", "100000", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("runs");
    let pid = child.id();
    std::thread::sleep(std::time::Duration::from_millis(4000));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().expect("runs");
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(3), "{stdout}{stderr}");
    assert!(stderr.contains("INTERRUPTED") && stderr.contains("not reached"), "{stderr}");
    let last: serde_json::Value =
        serde_json::from_str(stdout.lines().last().expect("a summary line")).unwrap();
    assert_eq!(last["interrupted"], true, "{last}");
    assert!(!last["not_run"].as_array().unwrap().is_empty(), "{last}");
    assert!(!last["pin_rows_not_run"].as_array().unwrap().is_empty(), "{last}");
    nothing_left_behind(pid);
}

/// `--host-pages K`: the fsync-window scenario with each page 8 host pages runs and agrees
/// (host ⊆ model), reports K, and the per-label rate lines; an operation carried out one 4 KiB
/// page at a time is refused with its name.
#[test]
fn host_pages_amplify_a_scenario_and_refuse_what_they_cannot() {
    if !root() || !have("mkfs.ext4") {
        println!("skipped: needs root and mkfs.ext4");
        return;
    }
    let (out, pid) = on_host(
        "scenarios/ext4-dio-fsync-window.pin",
        &["--host-pages", "8", "--runs", "3", "--json"],
    );
    let v: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["host"]["host_pages"], 8, "{v}");
    assert_eq!(v["host"]["runs"], 3, "{v}");
    assert_eq!(v["agree"], true, "{v}");
    nothing_left_behind(pid);
    let (out, _) = on_host("scenarios/ext4-rdma-strip.pin", &["--host-pages", "8", "--runs", "3"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("`store` is carried out one 4 KiB page"),
        "{}",
        text(&out.stderr)
    );
    let (out, _) = on_host(
        "scenarios/ext4-dio-fsync-window.pin",
        &["--host-pages", "2", "--runs", "5", "--until-observed", "ok-never"],
    );
    let t = text(&out.stdout);
    assert!(t.contains("data-loss:") && t.contains("95% Wilson interval"), "{t}");
    assert!(t.contains("ok-never not observed in 5 runs"), "{t}");
}

/// `--host-read-bps` and `--host-jitter`: the fsync-window scenario runs with the scratch
/// device's reads throttled and the threads' starts jittered, reports both in its JSON, and
/// lifts the throttle when it ends (no loop device keeps a read limit); on tmpfs, which has no
/// device, the throttle is refused with the reason.
#[test]
fn a_read_throttle_and_start_jitter_are_reported_and_lifted() {
    let _t = running();
    if !root() || !have("mkfs.ext4") {
        skip(
            "a_read_throttle_and_start_jitter_are_reported_and_lifted",
            "needs root and mkfs.ext4",
        );
        return;
    }
    let v1 = std::path::Path::new("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device");
    if !v1.exists() {
        skip(
            "a_read_throttle_and_start_jitter_are_reported_and_lifted",
            "no cgroup v1 blkio throttle on this machine",
        );
        return;
    }
    let (out, pid) = on_host(
        "scenarios/ext4-dio-fsync-window.pin",
        &[
            "--host-pages",
            "8",
            "--runs",
            "2",
            "--host-read-bps",
            "8000000",
            "--host-jitter",
            "1000",
            "--json",
        ],
    );
    let first = text(&out.stdout).lines().next().unwrap_or("").to_string();
    let v: serde_json::Value = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("{e}: {first}\n{}", text(&out.stderr)));
    assert_eq!(v["host"]["read_bps"], 8000000, "{v}");
    assert_eq!(v["host"]["jitter_us"], 1000, "{v}");
    assert_eq!(v["host"]["runs"], 2, "{v}");
    assert_eq!(v["agree"], true, "{v}");
    nothing_left_behind(pid);
    let limits = std::fs::read_to_string(v1).unwrap_or_default();
    assert!(
        !limits.lines().any(|l| l.starts_with("7:")),
        "a loop device keeps a read throttle:\n{limits}"
    );
    let (out, _) = on_host("scenarios/tmpfs-rdma.pin", &["--host-read-bps", "8000000"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("not on a block device"), "{}", text(&out.stderr));
}

/// `stable-writes` runs on an ext4 made on a fresh zram device (stable pages, no integrity
/// data) where the kernel has zram; the scenario whose outcome is the guard check is refused
/// with the reason. Nothing is left: no mount, no zram device beyond those there before.
#[test]
fn stable_writes_run_on_zram_and_guard_checks_are_refused() {
    if !root() || !have("mkfs.ext4") || !std::path::Path::new("/sys/class/zram-control").exists() {
        println!("skipped: needs root, mkfs.ext4 and zram (/sys/class/zram-control)");
        return;
    }
    let _zram = ZRAM.lock().unwrap_or_else(|e| e.into_inner());
    let zrams = || {
        std::fs::read_dir("/sys/block")
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("zram"))
            .count()
    };
    let before = zrams();
    let (out, pid) = on_host("scenarios/ext4-stable-writes-cpu.pin", &["--runs", "3", "--json"]);
    let v: serde_json::Value =
        serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(v["agree"], true, "{v}");
    assert_eq!(v["host"]["runs"], 3, "{v}");
    nothing_left_behind(pid);
    let (out, _) = on_host("scenarios/ext4-stable-writes-dio.pin", &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("computes and checks no integrity data"),
        "{}",
        text(&out.stderr)
    );
    // The zram device made for the run was removed (`hot_remove`).
    assert_eq!(zrams(), before, "a zram device is left");
}

/// A scratch filesystem an exported program runs on, made as its header says (and as
/// `host::ScratchFs` makes one); unmounted and removed on drop.
struct Scratch {
    dir: std::path::PathBuf,
    mounted: bool,
    zram: Option<String>,
}

impl Scratch {
    /// `kind`: tmpfs, ext4, xfs, btrfs, or zram (an ext4 with stable writes).
    fn new(base: &std::path::Path, kind: &str) -> Result<Scratch, String> {
        let sh = |cmd: &str| -> Result<String, String> {
            let out = Command::new("sh").arg("-c").arg(cmd).output().map_err(|e| e.to_string())?;
            if out.status.success() {
                Ok(text(&out.stdout).trim().to_string())
            } else {
                Err(format!("{cmd}: {}", text(&out.stderr).trim()))
            }
        };
        let dir = base.join(kind);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let d = dir.display();
        let img = base.join(format!("{kind}.img"));
        let i = img.display();
        let mut s = Scratch { dir: dir.clone(), mounted: false, zram: None };
        match kind {
            "tmpfs" => {
                std::fs::remove_dir(&dir).ok();
                let shm = std::path::PathBuf::from(format!("/dev/shm/{}", base.file_name().unwrap().to_string_lossy()));
                std::fs::create_dir_all(&shm).map_err(|e| e.to_string())?;
                s.dir = shm;
                return Ok(s);
            }
            "zram" => {
                let n = sh("cat /sys/class/zram-control/hot_add")?;
                s.zram = Some(n.clone());
                sh(&format!("echo 64M > /sys/block/zram{n}/disksize && mkfs.ext4 -q -F -b 4096 /dev/zram{n} && mount /dev/zram{n} {d}"))?;
            }
            "ext4" => sh(&format!("truncate -s 32M {i} && mkfs.ext4 -q -F -b 4096 {i} && mount -o loop {i} {d}")).map(drop)?,
            "xfs" => sh(&format!("truncate -s 320M {i} && mkfs.xfs -q -f -b size=4096 {i} && mount -o loop {i} {d}")).map(drop)?,
            "btrfs" => sh(&format!("truncate -s 256M {i} && mkfs.btrfs -q -f -s 4096 {i} >/dev/null && mount -o loop {i} {d}")).map(drop)?,
            other => return Err(format!("no scratch filesystem {other}")),
        }
        s.mounted = true;
        Ok(s)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
        if let Some(n) = &self.zram {
            let _ = std::fs::write("/sys/class/zram-control/hot_remove", n);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The machine's host-run lock file, where `host/lock.rs` puts it.
fn lock_path() -> std::path::PathBuf {
    let run_lock = std::path::Path::new("/run/lock");
    let dir = if run_lock.is_dir() { run_lock.to_path_buf() } else { std::env::temp_dir() };
    dir.join("pincheck-host.lock")
}

/// The scratch filesystem a scenario's program needs (see [`Scratch::new`]).
fn scratch_kind(ast: &pincheck::scenario::Scenario) -> &'static str {
    use pincheck::scenario::FsKind;
    match ast.fs.kind {
        FsKind::Tmpfs => "tmpfs",
        FsKind::Xfs => "xfs",
        FsKind::Btrfs => "btrfs",
        _ if ast.fs.stable_writes => "zram",
        _ => "ext4",
    }
}

/// The label sets of a program's TAP run lines (`ok N - NAME run N: labels A B`), `ok` for
/// none; `Err` names a line that is not ok.
fn tap_outcomes(tap: &str) -> Result<Vec<String>, String> {
    let mut seen = Vec::new();
    for line in tap.lines().filter(|l| l.contains(" run ") && l.contains(": labels ")) {
        if !line.starts_with("ok ") {
            return Err(line.to_string());
        }
        seen.push(line.split(": labels ").nth(1).unwrap_or("").to_string());
    }
    Ok(seen)
}

/// `pincheck export` for the catalogue beside `check --on host` (issue 12): every scenario the
/// host can run exports, under the preset `check --on host` picks (the newest at or below the
/// host's release), and its program compiles with `cc -O2 -pthread -Wall -Werror`; what cannot
/// be exported is refused (exit 2, "cannot export", the reason), and the host cannot run it
/// either. As root with cc and the mkfs tools, each host-runnable scenario's program runs (3
/// runs) on a scratch filesystem of its kind, made as its header says: every run reaches only
/// labels the model reaches under that preset (the criterion `check --on host` uses), and
/// `check --on host` on the same scenarios agrees too; where the host's run saw the one outcome
/// the model reaches, every run of the program sees it as well.
#[test]
fn exported_c_programs_compile_and_agree_with_the_host() {
    let _running = running();
    let preset = pincheck::host::conform::host_preset().ok().map(|(_, p)| p.name);
    let policy = preset.clone().unwrap_or_else(|| "linux-6.18".to_string());
    let cc = have("cc");
    if !cc {
        skip(
            "exported_c_programs_compile_and_agree_with_the_host",
            "no cc (Debian package gcc): nothing compiled or run",
        );
    }
    let dir = std::env::temp_dir().join(format!("pincheck-export-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut paths: Vec<_> =
        std::fs::read_dir("scenarios").unwrap().flatten().map(|e| e.path()).collect();
    paths.sort();
    // (path, name, program, scenario) of each exported scenario the host can run.
    let mut runnable = Vec::new();
    let mut exported = 0;
    for path in &paths {
        let p = path.to_string_lossy().into_owned();
        let l =
            pincheck::run::load(&pincheck::run::load_paths(std::slice::from_ref(&p)).unwrap()[0])
                .unwrap();
        let host_refuses = pincheck::host::exec::not_runnable(&l.ast);
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let c = dir.join(format!("{name}.c"));
        let out = pincheck(&["export", &p, "--policy", &policy, "--c", &c.to_string_lossy()]);
        if out.status.code() == Some(2) {
            let err = text(&out.stderr);
            assert!(err.contains("cannot export: "), "{p}: {err}");
            assert!(
                host_refuses.is_some(),
                "{p}: the host runs it, the exporter refuses it: {err}"
            );
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{p}: {}", text(&out.stderr));
        exported += 1;
        if !cc {
            continue;
        }
        let bin = dir.join(&name);
        let built = Command::new("cc")
            .args(["-O2", "-pthread", "-Wall", "-Werror", "-o"])
            .arg(&bin)
            .arg(&c)
            .output()
            .expect("cc runs");
        assert!(built.status.success(), "{p}: {}", text(&built.stderr));
        if host_refuses.is_none() {
            runnable.push((p, name, bin, l.ast));
        }
    }
    assert!(exported >= runnable.len() && exported > 0);
    let can_run = root()
        && cc
        && preset.is_some()
        && ["mkfs.ext4", "mkfs.xfs", "mkfs.btrfs"].iter().all(|m| have(m));
    if !can_run {
        if cc {
            skip("exported_c_programs_compile_and_agree_with_the_host (running them)", &format!("compiled {exported} exported programs; running them needs root, a preset for the host's release, mkfs.ext4, mkfs.xfs and mkfs.btrfs"));
        }
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    // The programs, each on a scratch filesystem of its kind, one at a time on the machine: the
    // pin counters and the kernel log are the machine's (the lock a host run takes, host/lock.rs).
    let _zram = ZRAM.lock().unwrap_or_else(|e| e.into_inner());
    let mut taps = std::collections::BTreeMap::new();
    let programs = {
        let _one_at_a_time = HOST.lock().unwrap_or_else(|e| e.into_inner());
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_path())
            .unwrap();
        use std::os::fd::AsRawFd;
        // SAFETY: flock() on our own descriptor; released when it closes.
        assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
        // Timed from here: waiting for another host run is not the test's own time.
        let started = std::time::Instant::now();
        let mut scratches: std::collections::BTreeMap<&str, Result<Scratch, String>> =
            Default::default();
        for (p, _, bin, ast) in &runnable {
            let kind = scratch_kind(ast);
            let s = scratches.entry(kind).or_insert_with(|| Scratch::new(&dir, kind));
            match s {
                Ok(s) => {
                    let run = Command::new(bin).arg(&s.dir).arg("3").output().expect("runs");
                    taps.insert(p.clone(), (run.status.code(), text(&run.stdout)));
                }
                Err(e) => {
                    skip(&format!("export of {p}"), &format!("no {kind} scratch filesystem: {e}"))
                }
            }
        }
        started.elapsed()
    };
    let started = std::time::Instant::now();
    let mut args = vec!["check"];
    args.extend(runnable.iter().filter(|r| taps.contains_key(&r.0)).map(|r| r.0.as_str()));
    args.extend(["--on", "host", "--policy", &policy, "--json"]);
    let (host, _) = run(&args);
    let hosted = started.elapsed();
    let lines: Vec<serde_json::Value> =
        text(&host.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), taps.len(), "{}", text(&host.stderr));
    // The model's own outcome sets: a program is held to one outcome only where the model
    // reaches exactly one (a timing-dependent scenario may show any of its outcomes on a run).
    args[0] = "check";
    args.retain(|a| !matches!(*a, "--on" | "host"));
    let (model_run, _) = run(&args);
    let model_outcomes: Vec<usize> = text(&model_run.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["outcomes"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(model_outcomes.len(), taps.len(), "{}", text(&model_run.stderr));
    let mut agree = 0;
    for ((v, (p, (code, tap))), outcomes_in_model) in lines.iter().zip(&taps).zip(&model_outcomes) {
        assert!(
            v["file"].as_str().is_some_and(|f| f.ends_with(p.trim_start_matches("scenarios/"))),
            "{v} is not {p}"
        );
        let model: Vec<String> = serde_json::from_value(v["model_labels"].clone()).unwrap();
        let model_text = if model.is_empty() { "ok".to_string() } else { model.join(" ") };
        assert_eq!(v["agree"], true, "{p}: check --on host disagrees: {v}");
        assert!(tap.starts_with("TAP version 13\n1..3\n"), "{p}: {tap}");
        let seen = tap_outcomes(tap).unwrap_or_else(|l| panic!("{p}: a run reached a label the model does not reach under {policy} ({model_text}): {l}\n{tap}"));
        assert_eq!(seen.len(), 3, "{p}: {tap}");
        assert_eq!(*code, Some(0), "{p}: {tap}");
        for s in &seen {
            for l in s.split(' ').filter(|l| *l != "ok") {
                assert!(
                    model.contains(&l.to_string()),
                    "{p}: the program reached {l}, not a model label ({model_text}):\n{tap}"
                );
            }
        }
        let outcomes = v["host"]["outcomes"].as_object().unwrap();
        let only = outcomes.keys().next().cloned().unwrap_or_default();
        if *outcomes_in_model == 1 && outcomes.len() == 1 && only == model_text {
            assert!(
                seen.iter().all(|s| *s == only),
                "{p}: the host saw {only}, the model reaches only that; the program saw {seen:?}"
            );
        }
        agree += 1;
    }
    to_terminal(&format!(
        "tests/host.rs: export: {exported} of {} catalogue scenarios export and compile; {agree} host-runnable ones run and agree with the model under {policy} and with `check --on host` (programs, with their scratch filesystems: {:.1} s; check --on host, with its waits for the machine's host-run lock: {:.1} s)",
        paths.len(),
        programs.as_secs_f64(),
        hosted.as_secs_f64()
    ));
    let _ = std::fs::remove_dir_all(&dir);
}
