//! The command line as users and scripts see it: exit codes 0/1/2, `file:line:col` errors,
//! the JSON fields of shared/SCENARIOS.md, and no panic on bad input or a reached limit.

use std::process::{Command, Output};

fn pincheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pincheck")).args(args).output().expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("pincheck-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.to_string_lossy().into_owned()
}

const GOOD: &str = "scenario s\nabout \"t\"\nfs ext4\nfile f 1\nthread a:\n  m = mmap f shared\n  store m[0] A\n  fsync f\nexpect linux-6.18: ok\n";

fn assert_no_panic(o: &Output) {
    assert!(!text(&o.stderr).contains("panicked"), "panic: {}", text(&o.stderr));
}

#[test]
fn a_malformed_file_is_reported_at_its_position_with_exit_2() {
    let p = write(
        "bad-op.pin",
        "scenario s\nfs ext4\nfile f 1\nthread a:\n  m = mmap f shared\n  stroe m[0] A\n",
    );
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(err.contains(&format!("{p}:6:3:")), "{err}");
    assert!(err.contains("stroe m[0] A"), "the line is shown: {err}");
    assert_no_panic(&o);
}

#[test]
fn an_unknown_handle_is_reported_at_its_use() {
    let p = write("bad-handle.pin", "scenario s\nfs ext4\nfile f 1\nthread a:\n  store q[0] A\n");
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(&format!("{p}:5:")), "{}", text(&o.stderr));
}

#[test]
fn an_unknown_policy_is_a_usage_error() {
    let p = write("good.pin", GOOD);
    let o = pincheck(&["check", &p, "--policy", "linux-9.99"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("unknown policy `linux-9.99`"));
    let p = write("bad-expect.pin", &GOOD.replace("expect linux-6.18", "expect linux-7.0"));
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{p}:9:8: unknown policy `linux-7.0`")),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_missing_file_is_exit_2() {
    let o = pincheck(&["check", "/nonexistent/x.pin"]);
    assert_eq!(o.status.code(), Some(2));
    assert_no_panic(&o);
}

#[test]
fn a_failed_expectation_is_exit_1_with_a_replay_command() {
    let p = write("fail.pin", &GOOD.replace("expect linux-6.18: ok", "expect linux-6.18: bug"));
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(1));
    let out = text(&o.stdout);
    assert!(out.starts_with("FAIL s [linux-6.18]: ok (expected bug"), "{out}");
    assert!(out.contains("expected but not reached: bug"), "{out}");
}

#[test]
fn json_lines_carry_the_contract_fields() {
    let p = write("json.pin", GOOD);
    let o = pincheck(&["check", &p, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value =
        serde_json::from_str(text(&o.stdout).trim()).expect("one JSON object");
    for field in [
        "scenario",
        "file",
        "policy",
        "explorer",
        "complete",
        "states",
        "schedules",
        "labels",
        "expected",
        "pass",
        "verdict",
        "witnesses",
    ] {
        assert!(v.get(field).is_some(), "missing {field}: {v}");
    }
    assert_eq!(v["scenario"], "s");
    assert_eq!(v["policy"], "linux-6.18");
    assert_eq!(v["explorer"], "exhaustive");
    assert_eq!(v["labels"], serde_json::json!([]));
    assert_eq!(v["pass"], true);
    let o = pincheck(&["check", &p, "--json", "--policy", "bounce"]);
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["expected"], serde_json::Value::Null);
    assert_eq!(v["pass"], serde_json::Value::Null);
}

#[test]
fn the_matrix_of_the_catalogue_passes_under_the_six_presets() {
    let o = pincheck(&["matrix"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    let header = out.lines().next().unwrap();
    for p in ["linux-4.14", "linux-4.19", "linux-5.18", "linux-6.18", "bounce", "lease"] {
        assert!(header.contains(p), "{header}");
    }
    assert!(out.contains(" 0 failed"), "{out}");
}

#[test]
fn a_reached_state_limit_is_reported_not_a_crash() {
    let o = pincheck(&[
        "check",
        "scenarios/ext4-rdma-strip.pin",
        "--explore",
        "exhaustive",
        "--max-states",
        "5",
    ]);
    assert_no_panic(&o);
    let out = text(&o.stdout);
    assert!(out.contains("INCOMPLETE") && out.contains("--max-states 5 reached"), "{out}");
    let o = pincheck(&[
        "check",
        "scenarios/ext4-rdma-strip.pin",
        "--max-states",
        "5",
        "--runs",
        "50",
        "--json",
    ]);
    let first: serde_json::Value =
        serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
    assert_eq!(first["explorer"], "random");
    assert_eq!(first["complete"], false);
}

#[test]
fn an_incomplete_exploration_is_never_a_pass_and_exits_3() {
    // A limit: exhaustive, and the `auto` fallback to random runs.
    for extra in [&["--explore", "exhaustive"][..], &["--runs", "20"][..]] {
        let mut args = vec!["check", "scenarios/ext4-rdma-strip.pin", "--max-states", "10"];
        args.extend_from_slice(extra);
        let o = pincheck(&args);
        assert_eq!(o.status.code(), Some(3), "{args:?}: {}", text(&o.stdout));
        let out = text(&o.stdout);
        assert!(!out.contains("PASS"), "{out}");
        assert!(out.lines().filter(|l| !l.starts_with(' ')).all(|l| l.starts_with("INCOMPLETE ")), "{out}");
    }
    // Sampling explorers, whatever they find.
    for explorer in ["random", "pct"] {
        let o = pincheck(&[
            "check", "scenarios/ext4-rdma-strip.pin", "--explore", explorer, "--runs", "30", "--json",
        ]);
        assert_eq!(o.status.code(), Some(3), "{explorer}: {}", text(&o.stdout));
        for line in text(&o.stdout).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(v["verdict"], "incomplete", "{v}");
            assert_eq!(v["pass"], serde_json::Value::Null, "{v}");
            assert_eq!(v["complete"], false);
            assert!(v["limit"].as_str().unwrap().contains("sampling"), "{v}");
        }
    }
    // The matrix marks each such cell and exits 3 too.
    let o = pincheck(&[
        "matrix", "scenarios/ext4-rdma-strip.pin", "--explore", "exhaustive", "--max-states", "10",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let out = text(&o.stdout);
    assert!(out.lines().nth(2).unwrap().matches("? ").count() == 6, "{out}");
    assert!(out.contains("6 incomplete"), "{out}");
    // A label reached that is not expected fails even a sample: exit 1, not 3.
    let body = std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap();
    let p = write("sampled-fail.pin", &body.replace("expect linux-4.19: warn bug", "expect linux-4.19: ok"));
    let o = pincheck(&["check", &p, "--explore", "random", "--runs", "200", "--policy", "linux-4.19"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stdout).starts_with("FAIL "), "{}", text(&o.stdout));
    // A complete exhaustive run that meets its expectations is still exit 0 with verdict pass.
    let p = write("trust-good.pin", GOOD);
    let o = pincheck(&["check", &p, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["verdict"], "pass");
}

#[test]
fn replay_prints_the_steps_and_rejects_an_impossible_schedule() {
    let o = pincheck(&[
        "replay",
        "scenarios/ext4-rdma-strip.pin",
        "--policy",
        "linux-6.18",
        "--schedule",
        "nic",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("step 1: `nic` cannot run here; runnable: app"),
        "{}",
        text(&o.stderr)
    );
    let o =
        pincheck(&["check", "scenarios/ext4-rdma-strip.pin", "--policy", "linux-4.19", "--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let schedule = v["witnesses"]["bug"].as_str().unwrap().to_string();
    let o = pincheck(&[
        "replay",
        "scenarios/ext4-rdma-strip.pin",
        "--policy",
        "linux-4.19",
        "--schedule",
        &schedule,
    ]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    assert!(out.contains("page_buffers() on a folio without buffers: BUG"), "{out}");
    assert!(out.trim_end().ends_with("labels: bug warn"), "{out}");
}

#[test]
fn policies_lists_every_preset_with_its_knobs() {
    let o = pincheck(&["policies"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for p in [
        "linux-4.14:",
        "linux-4.19:",
        "linux-5.18:",
        "linux-6.18:",
        "bounce:",
        "lease:",
        "layout-leases",
    ] {
        assert!(out.contains(p), "{out}");
    }
}

#[test]
fn a_usage_error_is_exit_2() {
    let o = pincheck(&["check"]);
    assert_eq!(o.status.code(), Some(2));
    let o = pincheck(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn designs_run_wherever_a_policy_is_named() {
    // A preset plus knob overrides, in --policy and in an expect line.
    let design = "linux-6.18+longterm-writable-file-pin=allowed+reclaim-active-strips-pinned=no";
    let p = write("design.pin", &GOOD.replace("expect linux-6.18", &format!("expect {design}")));
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(0), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(text(&o.stdout).contains(&format!("PASS s [{design}]")), "{}", text(&o.stdout));
    // A bad knob value is an error at its line and column.
    let p = write(
        "bad-design.pin",
        &GOOD.replace("expect linux-6.18", "expect linux-6.18+layout-leases=perhaps"),
    );
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{p}:9:8: knob `layout-leases` takes yes | no")),
        "{}",
        text(&o.stderr)
    );
    // The mutation hint a failure prints is accepted by replay.
    let o = pincheck(&[
        "replay",
        &p.replace("bad-design", "design"),
        "--policy",
        "linux-6.18~pin-counting",
        "--schedule",
        "a",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn an_unknown_policy_in_an_expect_line_is_an_error_under_policy_and_matrix_too() {
    let p = write(
        "typo-expect.pin",
        &GOOD.replace("expect linux-6.18: ok", "expect linux-6.18: ok\nexpect bounec: ok"),
    );
    for args in [vec!["check", &p, "--policy", "linux-6.18"], vec!["matrix", &p]] {
        let o = pincheck(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(
            text(&o.stderr).contains(&format!("{p}:10:8: unknown policy `bounec`")),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn policy_files_give_positions() {
    let f =
        write("mine.policy", "# a design\nbase linux-6.18\nlongterm-writable-file-pin = allowd\n");
    let p = write("pf.pin", GOOD);
    let o = pincheck(&["check", &p, "--policy-file", &f]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains(&format!("{f}:3:30:")), "{}", text(&o.stderr));
    let f = write("mine.policy", "base linux-6.18\nlongterm-writable-file-pin = allowed\n");
    let o = pincheck(&["check", &p, "--policy-file", &f]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("[mine]"), "{}", text(&o.stdout));
}

/// Every bound of a numeric flag is checked before anything is allocated by it.
#[test]
fn flags_beyond_their_limits_are_usage_errors() {
    let p = write("bounds.pin", GOOD);
    for (flag, value, says) in [
        ("--pct-depth", "18446744073709551615", "at most 64"),
        ("--pct-depth", "4000000000", "at most 64"),
        ("--pct-depth", "99999999999999999999999", "at most 64"),
        ("--runs", "1000000000000", "at most 1000000000"),
        ("--max-states", "100000000000", "at most 4294967294"),
        ("--max-states", "lots", "not a count"),
        ("--threads", "0", "0"),
        ("--threads", "65", "65"),
        ("--max-memory", "99999999999G", "too large"),
    ] {
        let o = pincheck(&["check", &p, flag, value, "--explore", "pct"]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(text(&o.stderr).contains(says), "{flag} {value}: {}", text(&o.stderr));
        assert_no_panic(&o);
    }
}

/// Past the memory bound the breadth-first search stops, the depth-first one takes over, and
/// when it too is past the bound the result says so: incomplete, never a crash.
#[test]
fn a_reached_memory_bound_is_reported_not_a_crash() {
    for explore in ["exhaustive", "depth-first"] {
        let o = pincheck(&[
            "check",
            "scenarios/ext4-rdma-strip.pin",
            "--explore",
            explore,
            "--max-memory",
            "1",
            "--json",
        ]);
        assert_no_panic(&o);
        let first: serde_json::Value =
            serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
        assert_eq!(first["complete"], false, "{explore}");
        assert!(first["limit"].as_str().unwrap().contains("--max-memory 1 reached"), "{first}");
    }
}
