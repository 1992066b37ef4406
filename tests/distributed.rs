//! `check --processes N` and `--hostfile` (check/distributed.rs, on timely-dataflow): the rows of
//! two and three local processes are those of one process, field for field (labels,
//! witnesses, state, transition and end-state counts, costs) but the time; every witness
//! replays to its label; setup problems are errors with exit 2, never a hang.

use serde_json::Value;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn pincheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pincheck")).args(args).output().expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("pincheck-dist-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

/// The JSON rows of `check ARGS --json`, without the time each took.
fn rows(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["check", "--json"];
    all.extend_from_slice(args);
    let o = pincheck(&all);
    assert!(
        matches!(o.status.code(), Some(0 | 1)),
        "{all:?}: exit {:?}: {}",
        o.status.code(),
        text(&o.stderr)
    );
    assert!(!text(&o.stderr).contains("panicked"), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).expect("a JSON row");
            v.as_object_mut().unwrap().remove("seconds");
            v
        })
        .collect()
}

/// Catalogue scenarios with labels (and witnesses) under most presets, and a member of the
/// N-pair family: 659 states under linux-5.18.
fn scenarios() -> Vec<String> {
    let pairs = pincheck(&["family", "pairs", "1"]);
    assert!(pairs.status.success());
    let p = write("pairs1.pin", &text(&pairs.stdout));
    ["xfs-dax-punch-pin", "ext4-rdma-strip", "btrfs-dio-csum", "ext4-dio-fsync-window"]
        .iter()
        .map(|s| s.to_string())
        .chain([p])
        .collect()
}

#[test]
fn two_and_three_processes_give_the_rows_of_one() {
    let s = scenarios();
    let names: Vec<&str> = s.iter().map(String::as_str).collect();
    let policies = ["--policy", "linux-4.19,linux-5.18,linux-6.18,bounce"];
    let one: Vec<&str> = names.iter().copied().chain(policies).chain(["--threads", "1"]).collect();
    let expected = rows(&one);
    assert_eq!(expected.len(), names.len() * 4);
    assert!(expected.iter().all(|r| r["complete"] == true));
    assert!(expected.iter().any(|r| r["states"].as_u64() > Some(600)), "the family member");
    let labelled = expected.iter().filter(|r| !r["labels"].as_array().unwrap().is_empty());
    assert!(labelled.count() >= 8, "rows with labels and witnesses");
    for n in ["2", "3"] {
        let args: Vec<&str> =
            names.iter().copied().chain(policies).chain(["--processes", n]).collect();
        assert_eq!(rows(&args), expected, "--processes {n}");
    }
    // Two timely workers in each of two processes.
    let args: Vec<&str> = names
        .iter()
        .copied()
        .chain(policies)
        .chain(["--processes", "2", "--threads", "2"])
        .collect();
    assert_eq!(rows(&args), expected, "--processes 2 --threads 2");
}

#[test]
fn power_failures_and_every_reduction_distribute_too() {
    for extra in [&["--crash"][..], &["--reduce", "all"], &["--no-reduction"]] {
        let mut one = vec!["ext4-rdma-strip", "xfs-dax-punch-pin", "--policy", "linux-5.18,bounce"];
        one.extend_from_slice(extra);
        let mut three = one.clone();
        one.extend_from_slice(&["--threads", "1"]);
        three.extend_from_slice(&["--processes", "3"]);
        let expected = rows(&one);
        assert!(expected.iter().all(|r| r["complete"] == true));
        assert_eq!(rows(&three), expected, "{extra:?}");
    }
}

#[test]
fn every_witness_of_a_distributed_run_replays_to_its_label() {
    let s = scenarios();
    let mut args: Vec<&str> = s.iter().map(String::as_str).collect();
    args.extend_from_slice(&["--policy", "linux-4.19,linux-5.18", "--processes", "2"]);
    let mut replayed = 0;
    for row in rows(&args) {
        let file = row["file"].as_str().unwrap();
        let policy = row["policy"].as_str().unwrap();
        for (label, schedule) in row["witnesses"].as_object().unwrap() {
            let o = pincheck(&[
                "replay",
                file,
                "--policy",
                policy,
                "--schedule",
                schedule.as_str().unwrap(),
                "--json",
            ]);
            assert!(o.status.success(), "{}", text(&o.stderr));
            let r: Value = serde_json::from_slice(&o.stdout).unwrap();
            let labels = r["replay"]["labels"].as_array().unwrap();
            assert!(labels.iter().any(|l| l == label), "{file} {policy} {label}: {labels:?}");
            replayed += 1;
        }
    }
    assert!(replayed >= 5, "{replayed} witnesses");
}

/// Two loopback ports free a moment ago.
fn free_ports() -> (u16, u16) {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    (a.local_addr().unwrap().port(), b.local_addr().unwrap().port())
}

#[test]
fn a_malformed_hostfile_is_reported_at_its_line() {
    let h = write("bad-hosts", "# cluster\nnode0:2101\nnode1\n");
    let o = pincheck(&["check", "dio-case1", "--hostfile", &h, "--process-index", "0"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{h}:3: `node1`: expected host:port")),
        "{}",
        text(&o.stderr)
    );
    let h = write("two-hosts", "127.0.0.1:1\n127.0.0.1:2\n");
    let o = pincheck(&["check", "dio-case1", "--hostfile", &h, "--process-index", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("lists 2 processes"), "{}", text(&o.stderr));
    let o = pincheck(&["check", "dio-case1", "--processes", "2", "--explore", "random"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_process_that_never_comes_is_an_error_after_the_timeout_not_a_hang() {
    let (a, b) = free_ports();
    let h = write("absent", &format!("127.0.0.1:{a}\n127.0.0.1:{b}\n"));
    let start = Instant::now();
    let o = pincheck(&[
        "check",
        "dio-case1",
        "--hostfile",
        &h,
        "--process-index",
        "0",
        "--connect-timeout",
        "1",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(text(&o.stderr).contains("no connection with process 1"), "{}", text(&o.stderr));
    assert!(text(&o.stdout).is_empty());
}

#[test]
fn processes_given_different_work_stop_with_an_error() {
    let (a, b) = free_ports();
    let h = write("differ", &format!("127.0.0.1:{a}\n127.0.0.1:{b}\n"));
    let bin = env!("CARGO_BIN_EXE_pincheck");
    let one = Command::new(bin)
        .args([
            "check",
            "dio-case1",
            "--policy",
            "linux-6.1",
            "--hostfile",
            &h,
            "--process-index",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let zero = pincheck(&[
        "check",
        "dio-case1",
        "--policy",
        "bounce",
        "--hostfile",
        &h,
        "--process-index",
        "0",
    ]);
    let one = one.wait_with_output().unwrap();
    for o in [&zero, &one] {
        assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
        assert!(text(&o.stderr).contains("not given the same work"), "{}", text(&o.stderr));
    }
}
