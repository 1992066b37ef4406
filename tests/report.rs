//! What a reviewer looks at: the machine after each step (`replay --state`, `--json`,
//! `check --trace --state`), power failures in witnesses, one diagram (`replay --svg`), and the
//! HTML report of the catalogue, rendered in headless Chromium where one is installed (skipped
//! with the reason where not).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pincheck(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pincheck")).args(args).output().expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const STRIP: &str = "scenarios/ext4-rdma-strip.pin";

/// The witness `check --json` prints for `label`.
fn witness(file: &str, policy: &str, label: &str) -> String {
    let o = pincheck(&["check", file, "--policy", policy, "--json"]);
    let row: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON row");
    row["witnesses"][label].as_str().expect("a witness").to_string()
}

#[test]
fn replay_state_shows_the_folio_its_pin_and_the_disk_after_each_step() {
    let s = witness(STRIP, "linux-5.18", "data-loss");
    let o = pincheck(&["replay", STRIP, "--policy", "linux-5.18", "--schedule", &s, "--state"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    // After reg-mr: frame 0 caches f[0], dirty with buffers, one FOLL_PIN, mapped once.
    assert!(out.contains("|     0  f[0]       D-P      2    1*    1  A.1"), "{out}");
    assert!(out.contains("| ptes   m[0]=f[0] frame 0 W D"), "{out}");
    assert!(out.contains("| disk   0=f[0] durable f0"), "{out}");
    assert!(out.contains("mr pin frames [0] FOLL_WRITE"), "{out}");
    // The bio's completion leaves A in the device's volatile cache.
    assert!(out.contains("0=f[0] cache A.1 durable f0"), "{out}");

    let o = pincheck(&["replay", STRIP, "--policy", "linux-5.18", "--schedule", &s, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    let steps = v["replay"]["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), s.split(',').count());
    let pinned = steps.iter().position(|st| {
        st["state"]["folios"].as_array().unwrap().iter().any(|f| f["maybe_dma_pinned"] == true)
    });
    assert_eq!(pinned, Some(2), "reg-mr is the third step");
    let f = &steps[2]["state"]["folios"][0];
    assert_eq!(
        (f["dirty"].as_bool(), f["private"].as_bool(), f["pins"].as_u64()),
        (Some(true), Some(true), Some(1))
    );
    assert_eq!(
        steps[2]["runnable"],
        serde_json::json!(["app"]),
        "the others wait for `registered`"
    );
    let after_signal = steps[4]["runnable"].as_array().unwrap();
    assert!(after_signal.contains(&"kernel".into()) && after_signal.contains(&"nic".into()));
    let labels = v["replay"]["labels"].as_array().expect("labels");
    assert!(labels.contains(&"data-loss".into()) && labels.contains(&"warn".into()), "{labels:?}");
}

#[test]
fn a_power_failure_witness_shows_the_crash_point_and_which_writes_survived() {
    let file = "scenarios/xfs-dax-punch-pin.pin";
    let o = pincheck(&["check", file, "--policy", "linux-4.14", "--crash", "--json"]);
    let row: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let s = row["witnesses"]["corruption"].as_str().unwrap().to_string();
    assert!(s.ends_with("power-fail{0}"), "{s}");
    let o = pincheck(&["replay", file, "--policy", "linux-4.14", "--schedule", &s]);
    let out = text(&o.stdout);
    let steps = s.split(',').count() - 1;
    assert!(out.contains(&format!("power failure after step {steps}:")), "{out}");
    assert!(out.contains("unflushed write of B<stale> to block 0: survives"), "{out}");
    let o = pincheck(&["replay", file, "--policy", "linux-4.14", "--schedule", &s, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["replay"]["power_fail"]["survivors"], serde_json::json!([0]));
    assert_eq!(v["replay"]["power_fail"]["after_step"], serde_json::json!(steps));
    assert_eq!(v["replay"]["end_state"]["powered_off"], true);
}

#[test]
fn check_trace_state_and_trace_json_carry_the_states() {
    let o = pincheck(&["check", STRIP, "--policy", "linux-4.19", "--trace", "--state"]);
    let out = text(&o.stdout);
    assert!(out.contains("witness for bug:") && out.contains("| folio  owner"), "{out}");
    let o = pincheck(&["check", STRIP, "--policy", "linux-4.19", "--trace", "--json"]);
    let row: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let bug = &row["trace"]["bug"];
    let steps = bug["steps"].as_array().expect("steps");
    assert!(steps.iter().all(|s| s["state"]["folios"].is_array()), "each step has its state");
    assert!(bug["initial"]["blocks"].is_array() && bug["end_state"].is_object(), "{bug}");
    let labels = bug["labels"].as_array().expect("labels");
    assert!(labels.contains(&"bug".into()) && labels.contains(&"warn".into()), "{labels:?}");
    // --state alone is refused.
    assert_eq!(pincheck(&["check", STRIP, "--state"]).status.code(), Some(2));
}

#[test]
fn replay_svg_writes_one_diagram_with_a_box_per_step_and_the_violation_marked() {
    let s = witness(STRIP, "linux-4.19", "bug");
    let dir = scratch("replay-svg");
    let svg = dir.join("bug.svg");
    let o = pincheck(&[
        "replay",
        STRIP,
        "--policy",
        "linux-4.19",
        "--schedule",
        &s,
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let body = std::fs::read_to_string(&svg).unwrap();
    assert!(body.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(body.ends_with("</svg>"));
    assert_eq!(
        body.matches("<g class=\"st\"").count(),
        s.split(',').count() + 1,
        "steps and the end"
    );
    assert!(body.contains("class=\"bx bad\""), "the BUG step is marked");
    assert!(body.contains("mpage_prepare_extent_to_map"), "kernel functions on the boxes");
    assert!(body.contains("submit_bio"), "the bio's queueing is an arrow");
    assert_eq!(body.matches("http").count(), 1, "nothing but the xmlns refers elsewhere");
}

/// The cells of the report's matrix: (cell anchor, witness id).
fn cells(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for part in html.split("<td class=\"cell ").skip(1) {
        let href = part.split("href=\"#").nth(1).and_then(|r| r.split('"').next()).unwrap();
        let wit = part.split("data-witness=\"").nth(1).and_then(|r| r.split('"').next()).unwrap();
        out.push((href.to_string(), wit.to_string()));
    }
    out
}

fn browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for name in ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"] {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

#[test]
fn the_catalogue_report_links_every_cell_to_a_diagram_and_renders_in_chromium() {
    let dir = scratch("report");
    let o = pincheck(&["report", "--out", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let page = dir.join("index.html");
    let html = std::fs::read_to_string(&page).unwrap();
    let cells_html = cells(&html);
    let n = pincheck::run::catalogue_sources().len() * pincheck::policy::Policy::presets().len();
    assert_eq!(cells_html.len(), n, "one cell per scenario and preset");
    for (cell, wit) in &cells_html {
        assert!(html.contains(&format!("id=\"{cell}\"")), "cell {cell} has its section");
        assert!(html.contains(&format!("id=\"{wit}\" class=\"witness\"")), "{wit} is an SVG");
    }
    // Self-contained: nothing is fetched.
    for bad in ["<script src", "<link", "@import", "url(http", "src=\"http"] {
        assert!(!html.contains(bad), "the page loads {bad}");
    }

    let Some(chromium) = browser() else {
        eprintln!("skipped the browser half: no chromium, chromium-browser or google-chrome on PATH (apt-get install chromium)");
        return;
    };
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=5000",
    ];
    let o = Command::new(&chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .expect("chromium runs");
    let dom = text(&o.stdout);
    let log = text(&o.stderr);
    assert!(o.status.success(), "chromium failed: {log}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    assert!(console.is_empty(), "console messages: {console:#?}");
    assert!(dom.contains("data-ready=\"1\""), "the page's script ran to its end");
    for (cell, wit) in cells(&dom) {
        assert!(dom.contains(&format!("id=\"{cell}\"")), "{cell} in the DOM");
        assert!(dom.contains(&format!("id=\"{wit}\" class=\"witness\"")), "{wit} in the DOM");
    }
    let png = dir.join("report.png");
    let o = Command::new(&chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", dir.join("profile").display()))
        .args(["--hide-scrollbars", "--window-size=1400,1000"])
        .arg(format!("--screenshot={}", png.display()))
        .arg(&url)
        .output()
        .expect("chromium runs");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let shot = std::fs::read(&png).expect("a screenshot");
    assert!(shot.starts_with(b"\x89PNG") && shot.len() > 20_000, "a real picture");
    eprintln!("report screenshot: {}", png.display());
}

#[test]
fn diff_marks_where_two_policies_part_and_exits_like_diff() {
    let o = pincheck(&["diff", STRIP, "--policy", "linux-4.19", "--policy", "linux-5.18"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("  linux-4.19  bug fs-unaware-dirty warn\n"), "{out}");
    assert!(out.contains("  linux-5.18  data-loss fs-unaware-dirty warn\n"), "{out}");
    assert!(out.contains("witness of bug (reached under linux-4.19 only)"), "{out}");
    // get_user_pages() against pin_user_pages() at the registration, step 3.
    assert!(out.contains(">  3  app"), "{out}");
    assert!(
        out.contains("get_user_pages: +1 reference") && out.contains("pin_user_pages:"),
        "{out}"
    );
    assert!(out.contains("^ first divergence: the kernel does different things"), "{out}");
    assert!(out.contains("+ vmstat nr_foll_pin_acquired 1"), "the state lines that differ: {out}");
    // The same labels: nothing to replay, exit 0; a prefix that runs the same: exit 0.
    let o = pincheck(&["diff", STRIP, "--policy", "linux-4.14", "--policy", "linux-4.19"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    let o = pincheck(&[
        "diff",
        STRIP,
        "--policy",
        "linux-4.19",
        "--policy",
        "linux-4.14",
        "--schedule",
        "app,app",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stdout));
    assert!(text(&o.stdout).contains("no divergence"));
    // A task that cannot run under one of them.
    let o = pincheck(&[
        "diff",
        STRIP,
        "--policy",
        "linux-5.18",
        "--policy",
        "linux-6.18",
        "--label",
        "reg-mr:EFAULT",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    for bad in [
        vec!["diff", STRIP, "--policy", "linux-4.19"],
        vec!["diff", STRIP, "--policy", "linux-4.19", "--policy", "nope"],
        vec!["diff", STRIP, "--policy", "linux-4.19", "--policy", "linux-5.18", "--label", "hang"],
        vec![
            "diff",
            STRIP,
            "--policy",
            "linux-4.19",
            "--policy",
            "linux-5.18",
            "--schedule",
            "nobody",
        ],
    ] {
        let o = pincheck(&bad);
        assert_eq!(o.status.code(), Some(2), "{bad:?}: {}", text(&o.stdout));
    }
}
