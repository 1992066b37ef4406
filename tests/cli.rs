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
    let p = write("bad-expect.pin", &GOOD.replace("expect linux-6.18", "expect linux-9.0"));
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{p}:9:8: unknown policy `linux-9.0`")),
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
fn the_matrix_of_the_catalogue_passes_under_every_preset() {
    let o = pincheck(&["matrix"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    let header = out.lines().next().unwrap();
    for p in pincheck::policy::preset_names() {
        assert!(header.contains(&p), "{header}");
    }
    for p in ["linux-5.10", "linux-5.15", "linux-6.1", "linux-6.6", "linux-6.12", "linux-7.0"] {
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
        assert!(
            out.lines().filter(|l| !l.starts_with(' ')).all(|l| l.starts_with("INCOMPLETE ")),
            "{out}"
        );
    }
    // Sampling explorers, whatever they find.
    for explorer in ["random", "pct"] {
        let o = pincheck(&[
            "check",
            "scenarios/ext4-rdma-strip.pin",
            "--explore",
            explorer,
            "--runs",
            "30",
            "--json",
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
        "matrix",
        "scenarios/ext4-rdma-strip.pin",
        "--explore",
        "exhaustive",
        "--max-states",
        "10",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let out = text(&o.stdout);
    let n = pincheck::policy::Policy::presets().len();
    assert!(out.lines().nth(2).unwrap().matches("? ").count() == n, "{out}");
    assert!(out.contains(&format!("{n} incomplete")), "{out}");
    // A label reached that is not expected fails even a sample: exit 1, not 3.
    let body = std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap();
    let p = write(
        "sampled-fail.pin",
        &body.replace("expect linux-4.19: bug fs-unaware-dirty warn", "expect linux-4.19: ok"),
    );
    let o =
        pincheck(&["check", &p, "--explore", "random", "--runs", "200", "--policy", "linux-4.19"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stdout).starts_with("FAIL "), "{}", text(&o.stdout));
    // A complete exhaustive run that meets its expectations is still exit 0 with verdict pass.
    let p = write("trust-good.pin", GOOD);
    let o = pincheck(&["check", &p, "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    assert_eq!(v["verdict"], "pass");
}

/// `xfs_file_fsync()` returns the error `file_write_and_wait_range()` found before its log
/// force and `blkdev_issue_flush()`: the fsync step that reports EIO flushes nothing, and the
/// other fsync, which finds no error (the first took it), flushes.
#[test]
fn an_xfs_fsync_that_finds_a_writeback_error_returns_it_without_a_flush() {
    let file = "scenarios/xfs-stable-writes-dio-fsync-window.pin";
    let o = pincheck(&["check", file, "--policy", "linux-6.18", "--json"]);
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let schedule = v["witnesses"]["fsync:EIO"].as_str().unwrap().to_string();
    let o = pincheck(&["replay", file, "--policy", "linux-6.18", "--schedule", &schedule]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    // The steps, each with its lines (a step's first line starts with its number).
    let mut steps: Vec<String> = Vec::new();
    for line in out.lines().skip(2).take_while(|l| !l.starts_with("end of interleaving")) {
        match steps.last_mut() {
            Some(step) if !line.trim_start().starts_with(|c: char| c.is_ascii_digit()) => {
                step.push_str(line);
                step.push('\n');
            }
            _ => steps.push(format!("{line}\n")),
        }
    }
    let failing = steps.iter().position(|s| s.contains("fsync fails: EIO")).expect("fails");
    let step = &steps[failing];
    assert!(step.contains("the mapping's error EIO: fsync returns it, no commit and no flush"));
    assert!(!step.contains("blkdev_issue_flush"), "{step}");
    let flushed = |s: &String| s.contains("blkdev_issue_flush: the device cache is durable");
    assert!(steps[failing + 1..].iter().any(flushed), "the other fsync flushes: {out}");
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
    assert!(out.trim_end().ends_with("labels: bug fs-unaware-dirty warn"), "{out}");
}

#[test]
fn policies_lists_every_preset_with_its_knobs() {
    let o = pincheck(&["policies"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    for p in [
        "linux-4.14:",
        "linux-4.19:",
        "linux-5.10:",
        "linux-5.15:",
        "linux-5.18:",
        "linux-6.1:",
        "linux-6.6:",
        "linux-6.12:",
        "linux-6.18:",
        "linux-7.0:",
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

/// Runs the binary from `/`, where no scenario file is.
fn pincheck_in_root(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pincheck")).args(args).current_dir("/").output().expect("runs")
}

#[test]
fn the_catalogue_is_reachable_by_name_from_any_directory() {
    let o = pincheck_in_root(&["list"]);
    assert_eq!(o.status.code(), Some(0));
    let out = text(&o.stdout);
    let line = out.lines().find(|l| l.starts_with("ext4-rdma-strip ")).expect("listed");
    assert!(line.contains(" ext4 ") && line.contains("Chinner"), "{line}");
    let n = std::fs::read_dir("scenarios").unwrap().count();
    assert_eq!(out.lines().count(), n, "one line per catalogue file");
    let o = pincheck_in_root(&["list", "--json"]);
    for l in text(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert!(v["name"].is_string() && v["fs"].is_string() && v["about"].is_string(), "{v}");
    }

    let o = pincheck_in_root(&["show", "ext4-rdma-strip"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(text(&o.stdout), std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap());

    let o = pincheck_in_root(&["check", "ext4-rdma-strip", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    for l in text(&o.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["file"], "ext4-rdma-strip", "the printed path works anywhere");
        assert_eq!(v["verdict"], "pass");
    }
    let o = pincheck_in_root(&["matrix", "ext4-rdma-strip", "rdma-case2"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o.stdout)
            .lines()
            .filter(|l| l.starts_with("ext4-rdma-strip ") || l.starts_with("rdma-case2 "))
            .count(),
        2
    );
    let o = pincheck_in_root(&["bench", "rdma-case2", "--repeat", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // The source tree's path, used where it does not exist, still finds the scenario.
    let o = pincheck_in_root(&["check", "scenarios/rdma-case2.pin", "--policy", "linux-6.18"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));

    let o = pincheck_in_root(&["show", "ext4-rdma-stirp"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("pincheck list"), "{}", text(&o.stderr));
    assert_no_panic(&o);
}

/// Runs each `pincheck ...` command printed in `out` with `sh -c` from `/`, as a user pasting
/// it would; returns each command's stdout.
fn run_printed_hints(out: &str) -> Vec<String> {
    let bin = env!("CARGO_BIN_EXE_pincheck");
    let mut ran = Vec::new();
    for line in out.lines() {
        let Some(at) = line.find("pincheck replay ") else { continue };
        let cmd = format!("'{bin}'{}", &line[at + "pincheck".len()..]);
        let o = Command::new("sh").arg("-c").arg(&cmd).current_dir("/").output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{cmd}\n{}{}", text(&o.stdout), text(&o.stderr));
        ran.push(text(&o.stdout));
    }
    ran
}

#[test]
fn every_printed_hint_runs_as_printed() {
    // A failed expectation in a file whose path needs quoting.
    let dir = std::env::temp_dir().join(format!("pincheck cli {} it's", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("fail.pin");
    let body = std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap();
    std::fs::write(
        &p,
        body.replace("expect linux-4.19: bug fs-unaware-dirty warn", "expect linux-4.19: ok"),
    )
    .unwrap();
    let o = pincheck(&["check", p.to_str().unwrap(), "--policy", "linux-4.19"]);
    assert_eq!(o.status.code(), Some(1));
    let ran = run_printed_hints(&text(&o.stdout));
    assert_eq!(ran.len(), 3, "bug, fs-unaware-dirty and warn: {}", text(&o.stdout));
    assert!(ran.iter().all(|r| r.contains("labels: ") && r.contains("bug")), "{ran:?}");

    // A mutation (`PRESET~MUTATION`), on a catalogue scenario named from `/`.
    let o = pincheck_in_root(&[
        "check",
        "ext4-rdma-strip",
        "--policy",
        "bounce",
        "--mutate",
        "pin-counting",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains("pincheck replay ext4-rdma-strip --policy bounce~pin-counting"), "{out}");
    assert!(!run_printed_hints(&out).is_empty());

    // A design written as knob overrides, named by an expect line.
    let design = "linux-4.14+longterm-writable-file-pin=allowed";
    let p = write(
        "design-fail.pin",
        &body.replace(
            "expect linux-4.14: bug fs-unaware-dirty warn",
            &format!("expect {design}: ok"),
        ),
    );
    let o = pincheck(&["check", &p, "--policy", design]);
    assert_eq!(o.status.code(), Some(1), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(!run_printed_hints(&text(&o.stdout)).is_empty(), "{}", text(&o.stdout));

    // A power failure (`--crash`): the witness ends in `power-fail{...}`, and the text says so.
    let punch = std::fs::read_to_string("scenarios/xfs-dax-punch-pin.pin").unwrap();
    let p = write(
        "crash-fail.pin",
        &punch.replace(
            "expect linux-4.14: corruption use-after-free",
            "expect linux-4.14: use-after-free",
        ),
    );
    let o = pincheck(&["check", &p, "--crash", "--policy", "linux-4.14"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let out = text(&o.stdout);
    assert!(out.contains("power-fail{"), "{out}");
    let ran = run_printed_hints(&out);
    assert_eq!(ran.len(), 1, "{out}");
    assert!(ran[0].contains("power fail"), "the replay shows the power failure: {}", ran[0]);
    assert!(ran[0].contains("corruption"), "{}", ran[0]);

    // The catalogue hint in an unknown-name error runs.
    let o = pincheck_in_root(&["check", "no-such-scenario"]);
    assert!(text(&o.stderr).contains("`pincheck list`"));
    assert_eq!(pincheck_in_root(&["list"]).status.code(), Some(0));
}

/// One TAP test point: ok, its number, description, directive (`SKIP`/`TODO`) and reason.
#[derive(Debug)]
struct TapPoint {
    ok: bool,
    desc: String,
    directive: Option<(String, String)>,
    yaml: bool,
}

/// A strict TAP version 13 parser (testanything.org/tap-version-13-specification.html): the
/// version line, a plan, test points numbered from 1 in order, YAML blocks indented under a
/// test point between `---` and `...`, `#` comments; anything else is an error.
fn parse_tap13(s: &str) -> Result<Vec<TapPoint>, String> {
    let mut lines = s.lines().peekable();
    if lines.next() != Some("TAP version 13") {
        return Err("the first line is not `TAP version 13`".into());
    }
    let plan = lines.next().ok_or("no plan")?;
    let n: usize = plan
        .strip_prefix("1..")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| format!("`{plan}` is not a plan"))?;
    let mut points: Vec<TapPoint> = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with('#') {
            continue;
        }
        if line == "  ---" {
            let last = points.last_mut().ok_or("a YAML block before any test point")?;
            if last.yaml {
                return Err("two YAML blocks for one test point".into());
            }
            last.yaml = true;
            loop {
                let l = lines.next().ok_or("an unterminated YAML block")?;
                if l == "  ..." {
                    break;
                }
                if !l.starts_with("  ") || l.trim().is_empty() {
                    return Err(format!("`{l}`: YAML lines are indented two spaces"));
                }
                if !l.starts_with("   ") && !l.trim_start().contains(": ") && !l.ends_with(':') {
                    return Err(format!("`{l}` is not a YAML mapping entry"));
                }
            }
            continue;
        }
        let (ok, rest) = if let Some(r) = line.strip_prefix("ok ") {
            (true, r)
        } else if let Some(r) = line.strip_prefix("not ok ") {
            (false, r)
        } else {
            return Err(format!("`{line}` is not a TAP line"));
        };
        let (num, rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let num: usize = num.parse().map_err(|_| format!("`{line}`: no test number"))?;
        if num != points.len() + 1 {
            return Err(format!("`{line}`: test {num} out of order"));
        }
        let rest = rest.strip_prefix("- ").ok_or_else(|| format!("`{line}`: no ` - `"))?;
        // The directive starts at the first `#` not escaped by `\`.
        let mut desc = String::new();
        let mut directive = None;
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => desc.push(chars.next().ok_or("a trailing backslash")?),
                '#' => {
                    let d: String = chars.by_ref().collect();
                    let d = d.trim_start();
                    let (word, reason) = d.split_once(' ').unwrap_or((d, ""));
                    let word = word.to_ascii_uppercase();
                    if word != "SKIP" && word != "TODO" {
                        return Err(format!("`{line}`: unknown directive `{word}`"));
                    }
                    directive = Some((word, reason.to_string()));
                }
                c => desc.push(c),
            }
        }
        points.push(TapPoint { ok, desc: desc.trim_end().to_string(), directive, yaml: false });
    }
    if points.len() != n {
        return Err(format!("plan 1..{n}, {} test points", points.len()));
    }
    Ok(points)
}

#[test]
fn tap_output_parses_as_tap_13_with_skips_and_failures() {
    // Failure, pass, no expectation and an incomplete exploration, in one run.
    let body = std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap();
    let body = body
        .replace("expect linux-4.19: bug fs-unaware-dirty warn", "expect linux-4.19: ok")
        .replace("expect bounce: ok\n", "");
    let p = write("tap-fail.pin", &body);
    let o = pincheck(&["check", &p, "--policy", "linux-4.19,linux-6.18,bounce", "--format", "tap"]);
    assert_eq!(o.status.code(), Some(1));
    let points =
        parse_tap13(&text(&o.stdout)).unwrap_or_else(|e| panic!("{e}\n{}", text(&o.stdout)));
    assert_eq!(points.len(), 3);
    assert!(
        !points[0].ok && points[0].yaml && points[0].desc == "ext4-rdma-strip [linux-4.19]",
        "{points:?}"
    );
    assert!(points[1].ok && points[1].directive.is_none(), "{points:?}");
    let (word, why) = points[2].directive.clone().expect("skipped");
    assert!(points[2].ok && word == "SKIP" && why.contains("no expectation"), "{points:?}");
    assert!(text(&o.stdout).contains("pincheck replay"), "the failure names its witnesses");

    let o = pincheck(&[
        "matrix",
        "ext4-rdma-strip",
        "--explore",
        "exhaustive",
        "--max-states",
        "10",
        "--format",
        "tap",
    ]);
    assert_eq!(o.status.code(), Some(3));
    let points = parse_tap13(&text(&o.stdout)).unwrap();
    assert_eq!(points.len(), pincheck::policy::Policy::presets().len());
    for pt in &points {
        let (word, why) = pt.directive.clone().expect("skipped");
        assert!(
            pt.ok
                && word == "SKIP"
                && why.contains("incomplete")
                && why.contains("--max-states 10"),
            "{pt:?}"
        );
    }
    // The strict parser is strict.
    assert!(parse_tap13("TAP version 13\n1..2\nok 1 - a\n").is_err());
    assert!(parse_tap13("TAP version 13\n1..1\nok 2 - a\n").is_err());
    assert!(parse_tap13("TAP version 13\n1..1\nok 1 - a # MAYBE\n").is_err());
    assert!(parse_tap13("1..1\nok 1 - a\n").is_err());
}

#[test]
fn junit_output_validates_against_the_junit_schema() {
    let body = std::fs::read_to_string("scenarios/ext4-rdma-strip.pin").unwrap();
    let body = body
        .replace("expect linux-4.19: bug fs-unaware-dirty warn", "expect linux-4.19: ok")
        .replace("expect bounce: ok\n", "");
    let p = write("junit-fail.pin", &body);
    let o =
        pincheck(&["check", &p, "--policy", "linux-4.19,linux-6.18,bounce", "--format", "junit"]);
    assert_eq!(o.status.code(), Some(1));
    let fail = text(&o.stdout);
    let o = pincheck(&["matrix", "ext4-rdma-strip", "rdma-case2", "--format", "junit"]);
    assert_eq!(o.status.code(), Some(0));
    let pass = text(&o.stdout);
    assert!(
        fail.contains("<failure ")
            && fail.contains("<skipped ")
            && fail.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
        "{fail}"
    );
    assert!(
        pass.matches("<testsuite ").count() == 2
            && pass.matches("<testcase ").count() == 2 * pincheck::policy::Policy::presets().len(),
        "{pass}"
    );
    assert!(pass.contains("failures=\"0\""), "{pass}");
    let Ok(v) = Command::new("xmllint").arg("--version").output() else {
        eprintln!("SKIPPED junit schema check: xmllint is not installed (Debian: libxml2-utils; .ci/run installs it)");
        return;
    };
    assert!(v.status.success());
    let xsd = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ci/junit.xsd");
    for (name, doc) in [("fail.xml", &fail), ("pass.xml", &pass)] {
        let f = write(name, doc);
        let o = Command::new("xmllint").args(["--noout", "--schema", xsd, &f]).output().unwrap();
        assert!(o.status.success(), "{name}: {}\n{doc}", text(&o.stderr));
    }
    // The schema is not a rubber stamp: a test case without its required classname fails.
    let bad = write("bad.xml", &pass.replacen(" classname=\"ext4-rdma-strip\"", "", 1));
    let o = Command::new("xmllint").args(["--noout", "--schema", xsd, &bad]).output().unwrap();
    assert!(!o.status.success());
}

#[test]
fn no_name_length_panics_and_bad_bytes_are_positioned() {
    // 65,536 characters and more once overflowed a format width in `replay` and `--trace`.
    for len in [65_535usize, 65_536, 70_000] {
        let name = "t".repeat(len);
        let p = write(
            &format!("long-{len}.pin"),
            &GOOD.replace("thread a:", &format!("thread {name}:")),
        );
        let o = pincheck(&["check", &p, "--trace"]);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        let o = pincheck(&["check", &p, "--trace", "--policy", "linux-6.18", "--format", "tap"]);
        assert_no_panic(&o);
        // One step: a single argument is at most 128 KiB (MAX_ARG_STRLEN).
        let o = pincheck(&["replay", &p, "--policy", "linux-6.18", "--schedule", &name]);
        assert_no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert!(text(&o.stdout).contains(&name));
        let o = pincheck(&["matrix", &p]);
        assert_no_panic(&o);
    }
    // Invalid UTF-8: the line and column (in characters) of the first bad byte.
    let dir = std::env::temp_dir().join(format!("pincheck-cli-{}", std::process::id()));
    let p = dir.join("latin1.pin");
    let mut bytes = b"scenario s\nfs ext4\nfile f 1\nthread a:\n  # caf".to_vec();
    bytes.extend_from_slice(&[0xe9, b'\n']);
    std::fs::write(&p, &bytes).unwrap();
    let o = pincheck(&["check", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains(&format!("{}:5:8: invalid UTF-8", p.display())),
        "{}",
        text(&o.stderr)
    );
    assert_no_panic(&o);
    // ... also after a multi-byte character on the same line.
    let mut bytes = "scenario s\nabout \"é".as_bytes().to_vec();
    bytes.extend_from_slice(&[0xff, b'"', b'\n']);
    std::fs::write(&p, &bytes).unwrap();
    let o = pincheck(&["check", p.to_str().unwrap()]);
    assert!(text(&o.stderr).contains(":2:9: invalid UTF-8 (byte 0xff)"), "{}", text(&o.stderr));
    // A policy file too.
    std::fs::write(dir.join("bad.policy"), [b'b', b'a', b's', b'e', b' ', 0xc3, b'\n']).unwrap();
    let good = write("bom-ok.pin", GOOD);
    let o = pincheck(&["check", &good, "--policy-file", dir.join("bad.policy").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("bad.policy:1:6: invalid UTF-8"), "{}", text(&o.stderr));
    // A leading byte-order mark is accepted, and positions after it are unchanged.
    let p = write("bom.pin", &format!("\u{feff}{GOOD}"));
    let o = pincheck(&["check", &p]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let p =
        write("bom-bad.pin", &format!("\u{feff}{}", GOOD.replace("store m[0] A", "stroe m[0] A")));
    let o = pincheck(&["check", &p]);
    assert!(text(&o.stderr).contains(&format!("{p}:7:3:")), "{}", text(&o.stderr));
}

#[test]
fn trace_json_carries_each_witness_step_by_step() {
    let o = pincheck(&["check", "ext4-rdma-strip", "--policy", "linux-5.18", "--trace", "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let trace = v["trace"].as_object().expect("a trace object");
    assert_eq!(trace.len(), v["witnesses"].as_object().unwrap().len());
    for (label, t) in trace {
        assert_eq!(t["schedule"], v["witnesses"][label]);
        let steps = t["steps"].as_array().unwrap();
        assert_eq!(steps.len(), t["schedule"].as_str().unwrap().split(',').count());
        assert!(steps.iter().all(|s| s["task"].is_string() && s["lines"].is_array()));
        assert!(t["labels"].as_array().unwrap().iter().any(|l| l == label.as_str()));
    }
}

#[test]
fn ctrl_c_makes_an_exploration_incomplete_with_exit_3() {
    let fam = pincheck(&["family", "4", "4"]);
    let p = write("family-4x4.pin", &text(&fam.stdout));
    // Breadth-first, and depth-first on two threads (`parallel_dfs`).
    for explore in [&["exhaustive"][..], &["depth-first", "--threads", "2"]] {
        let child = Command::new(env!("CARGO_BIN_EXE_pincheck"))
            // A bound it cannot reach in the time: only the interrupt ends the search.
            .args(["check", &p, "--policy", "linux-6.18", "--max-states", "1000000000"])
            .args(["--explore"])
            .args(explore)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
        assert!(kill.success());
        let o = child.wait_with_output().unwrap();
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(3), "{explore:?}: {out}{}", text(&o.stderr));
        assert!(
            out.starts_with("INCOMPLETE pins-4x4 [linux-6.18]")
                && out.contains("limit: interrupted"),
            "{explore:?}: {out}"
        );
    }
}

#[test]
fn replay_takes_mutate_and_policy_files_as_check_does() {
    let s = "app,app,app,app,kernel,nic,kernel,bio:f[0],kernel,nic,nic,app,app,app,app";
    let by_name = pincheck(&[
        "replay",
        "ext4-rdma-strip",
        "--policy",
        "bounce~pin-counting",
        "--schedule",
        s,
    ]);
    let by_flag = pincheck(&[
        "replay",
        "ext4-rdma-strip",
        "--policy",
        "bounce",
        "--mutate",
        "pin-counting",
        "--schedule",
        s,
    ]);
    assert_eq!(by_name.status.code(), Some(0), "{}", text(&by_name.stderr));
    assert_eq!(text(&by_name.stdout), text(&by_flag.stdout));
    assert!(text(&by_name.stdout).starts_with("ext4-rdma-strip under bounce~pin-counting\n"));
    assert!(
        text(&by_name.stdout).contains("labels: data-loss fs-unaware-dirty warn"),
        "{}",
        text(&by_name.stdout)
    );
    let f = write("my.policy", "base bounce\n");
    let o = pincheck(&[
        "replay",
        "ext4-rdma-strip",
        "--policy-file",
        &f,
        "--mutate",
        "pin-counting",
        "--schedule",
        s,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("labels: data-loss fs-unaware-dirty warn"));
    let o = pincheck(&["replay", "ext4-rdma-strip", "--schedule", s]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn how_often_counts_end_states_once_whichever_exhaustive_search_finishes() {
    let json = |args: &[&str]| -> serde_json::Value {
        let o = pincheck(args);
        serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap()
    };
    let base = ["check", "ext4-rdma-strip", "--policy", "linux-5.18", "--json"];
    let bfs = json(&base);
    assert_eq!(bfs["how_often"]["data-loss"], "sometimes");
    assert_eq!(bfs["how_often"]["warn"], "sometimes");
    let total: u64 =
        bfs["outcomes"].as_array().unwrap().iter().map(|o| o["end_states"].as_u64().unwrap()).sum();
    assert!(total >= 2, "{bfs}");
    for extra in [&["--explore", "depth-first"][..], &["--no-reduction"][..]] {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        assert_eq!(json(&args)["outcomes"], bfs["outcomes"], "{extra:?}");
    }
    // Never for an expected label not reached; no counts for a sample or under --crash.
    let v = json(&["check", "ext4-rdma-strip", "--policy", "linux-6.18", "--json"]);
    assert_eq!(v["how_often"]["reg-mr:EFAULT"], "always");
    let v = json(&[
        "check",
        "ext4-rdma-strip",
        "--policy",
        "linux-5.18",
        "--explore",
        "random",
        "--runs",
        "20",
        "--json",
    ]);
    assert!(v["outcomes"].is_null() && v["how_often"].is_null(), "{v}");
    let v = json(&["check", "ext4-rdma-strip", "--policy", "linux-5.18", "--crash", "--json"]);
    assert!(v["outcomes"].is_null() && v["crash"] == true, "{v}");
}

#[test]
fn family_pairs_prints_the_n_pair_scenario_of_issue_9() {
    let o = pincheck(&["family", "pairs", "1"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let path = write("pairs-1.pin", &text(&o.stdout));
    let o = pincheck(&["check", &path, "--policy", "linux-5.18", "--json", "--no-reduction"]);
    let row: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    // 659 in issue 9; 801 since the `fs-unaware-dirty` oracle (issue 11): its label and the
    // folio's `fs_knows` bit are part of the state, so interleavings that reach the same machine
    // with and without the filesystem being told are now different states; 763 since an
    // integrity pass clears its dead cursor once it only waits (issue 9, `Wb::step`); 777 since
    // an integrity pass's wait and flush are a step of their own (issue 9, 2026-12-07).
    assert_eq!(row["states"], 777, "one pair without reduction");
    assert_eq!(row["labels"], serde_json::json!(["data-loss", "fs-unaware-dirty", "warn"]));
    for bad in [["pairs", "0"], ["pairs", "8"], ["pairs", "x"]] {
        let o = pincheck(&["family", bad[0], bad[1]]);
        assert_eq!(o.status.code(), Some(2), "family {bad:?}");
        assert_no_panic(&o);
    }
    assert!(pincheck(&["family", "2", "2"]).status.success(), "family THREADS PAGES stays");
}

/// btrfs_sync_file() widens a ranged msync to the whole file (`start = 0; end = LLONG_MAX`,
/// Manana's "btrfs: make fast fsyncs wait only for writeback", 5.10): an msync of a mapping of
/// page 1 writes the dirty page 0 first; with the knob off, only page 1.
#[test]
fn a_btrfs_msync_covers_the_whole_file() {
    let p = write(
        "btrfs-msync.pin",
        "scenario btrfs-msync\nfs btrfs\ndisk 4\nmemory 4\nfile f 2 synced\n\nthread app:\n  write f[0] A\n  m = mmap f[1..2] shared\n  store m[0] B\n  msync m\n",
    );
    let first_write = |policy: &str| {
        let o = pincheck(&["replay", &p, "--policy", policy, "--schedule", "app,app,app,app"]);
        let out = text(&o.stdout);
        let i = out.find("`msync m`").expect("the msync step is printed");
        out[i..].lines().nth(1).unwrap_or("").to_string()
    };
    assert!(first_write("linux-6.18").contains("submit_bio: page 0 of f"));
    assert!(first_write("linux-6.18+btrfs-fsync-whole-file=no").contains("submit_bio: page 1 of f"));
}

/// `bench` takes `check`'s explorer and bounds, so a rate target is measured by it: the same
/// states, transitions and completeness as `check` with those options, and a CPU time.
#[test]
fn bench_measures_the_exploration_check_runs() {
    let p = "scenarios/ext4-rdma-strip.pin";
    let flags = ["--policy", "linux-5.18", "--explore", "depth-first", "--threads", "1"];
    let o = pincheck(&[&["check", p, "--json", "--no-reduction"][..], &flags].concat());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let c: serde_json::Value = serde_json::from_str(text(&o.stdout).trim()).unwrap();
    let o = pincheck(
        &[&["bench", p, "--json", "--no-reduction", "--repeat", "1"][..], &flags].concat(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    let mut lines = out.lines();
    let b: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let total: serde_json::Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    assert_eq!(lines.next(), None, "one row (one policy) and the total: {out}");
    for field in ["states", "transitions", "complete", "explorer", "policy"] {
        assert_eq!(b[field], c[field], "{field}: bench {b} check {c}");
    }
    assert!(b["cpu_seconds"].as_f64().unwrap() >= 0.0);
    assert!(b["states_per_cpu_sec"].as_f64().unwrap() > 0.0);
    assert_eq!(total["states"], b["states"]);
    // Reductions change the states bench counts as they do check's.
    let o = pincheck(
        &[&["bench", p, "--json", "--repeat", "1", "--reduce", "all"][..], &flags].concat(),
    );
    let r: serde_json::Value =
        serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
    assert!(r["states"].as_u64().unwrap() < b["states"].as_u64().unwrap(), "{r} {b}");
    let o = pincheck(&["bench", p, "--policy", "linux-9.9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("unknown policy"), "{}", text(&o.stderr));
    assert_no_panic(&o);
}
