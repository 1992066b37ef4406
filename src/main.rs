//! The `pincheck` command line (shared/SCENARIOS.md, "Command line"): `check`, `matrix`,
//! `replay`, `policies`, `bench`. A thin layer over `pincheck::run`: parse arguments, format
//! rows, choose the exit code (0 pass, 1 an expectation failed, 2 bad input or usage).

use clap::{Parser, Subcommand, ValueEnum};
use pincheck::check::{replay, ExploreMode, ExploreOptions};
use pincheck::policy::{self, Mutation, Policy};
use pincheck::run::{self, InputError, Row, Source};
use std::io::Write;
use std::process::ExitCode;
use std::time::Instant;

/// Exploration clones and drops small worlds by the million: mimalloc's thread-local free
/// lists do that several times faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pincheck",
    version,
    about = "Model-check GUP pins against the page cache and filesystems, per kernel release and design"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Explore {
    Auto,
    Exhaustive,
    Random,
    Pct,
}

#[derive(clap::Args)]
struct ExploreArgs {
    /// Policies: comma-separated preset names, or `all`.
    #[arg(long)]
    policy: Option<String>,
    /// `auto` explores exhaustively and falls back to random runs past --max-states.
    #[arg(long, value_enum, default_value = "auto")]
    explore: Explore,
    /// Seed of the random explorer.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Runs of the random explorer (default 10000); with `--on host`, host runs (default 1).
    #[arg(long)]
    runs: Option<usize>,
    /// Bound on distinct states of the exhaustive explorer.
    #[arg(long, default_value_t = pincheck::limits::STATES_MAX_DEFAULT)]
    max_states: usize,
    /// Bound on the explorer's memory: bytes, or with a K, M or G suffix (e.g. 512M).
    #[arg(long, value_parser = parse_size)]
    max_memory: Option<u64>,
    /// Threads of the exhaustive explorer (default: all cores); results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=pincheck::limits::EXPLORER_THREADS_MAX as i64))]
    threads: Option<u16>,
    /// Also explore a power failure after every step.
    #[arg(long)]
    crash: bool,
    /// Explore every interleaving of invisible steps too (no partial-order reduction).
    #[arg(long)]
    no_reduction: bool,
    /// Priority change points of each PCT run (`--explore pct`).
    #[arg(long, default_value_t = 3)]
    pct_depth: usize,
    /// Switch off one protective mechanism, to check that the checker notices (see
    /// `pincheck policies`); expectations then fail where it mattered.
    #[arg(long, value_parser = Mutation::by_name)]
    mutate: Option<Mutation>,
    /// One JSON object per line, one line per (scenario, policy).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Target {
    Host,
}

#[derive(clap::Args)]
struct HostArgs {
    /// With --on host: drive the host run through this model schedule at operation
    /// granularity (each operation starts in the order the schedule starts it, and completes
    /// before the next starts).
    #[arg(long, requires = "on")]
    schedule: Option<String>,
    /// With --on host: run even when the model predicts `bug` (a kernel crash) on this kernel.
    #[arg(long, requires = "on")]
    allow_crash: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Check scenario files (or directories of *.pin) against their `expect` lines.
    Check {
        #[arg(required = true)]
        paths: Vec<String>,
        #[command(flatten)]
        args: ExploreArgs,
        /// Print each label's witness as a step table (not with --on host, which prints each
        /// unobserved label's witness as a `replay` command).
        #[arg(long, conflicts_with = "on")]
        trace: bool,
        /// Run the scenario on this machine's kernel too and set the result beside the model's
        /// under the preset of the host's release (or the one --policy names).
        #[arg(long, value_enum)]
        on: Option<Target>,
        #[command(flatten)]
        host: HostArgs,
    },
    /// Every host-runnable catalogue scenario on this machine's kernel beside the model under
    /// the preset of the host's release, and the long-term pin verdict table. Exit 1 on any
    /// disagreement.
    Conform {
        /// Host runs of each scenario.
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// Seed of the host runs' choices (`maybe` statements).
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Also run scenarios whose model outcome includes `bug`.
        #[arg(long)]
        allow_crash: bool,
        /// One JSON object per line: the fields of `check` plus `host_labels`, `model_labels`
        /// and `agree`; then the pin table's rows.
        #[arg(long)]
        json: bool,
    },
    /// Scenarios as rows, policies as columns, each cell the labels reached. No files: the
    /// built-in catalogue under every preset.
    Matrix {
        paths: Vec<String>,
        #[command(flatten)]
        args: ExploreArgs,
    },
    /// Print one interleaving step by step.
    Replay {
        path: String,
        #[arg(long)]
        policy: String,
        #[arg(long)]
        schedule: String,
    },
    /// List the presets and their knobs.
    Policies,
    /// Explore the catalogue (or files) under every preset and report states, time and memory.
    Bench {
        paths: Vec<String>,
        #[arg(long)]
        json: bool,
        /// Repeat each exploration this many times and keep the fastest.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
    },
    /// Print a member of the scaling family (docs/performance.md): THREADS pinning threads over
    /// PAGES pages, with background writeback and reclaim.
    Family { threads: u8, pages: u8 },
    /// Measure the long-term pin verdicts (research/kernel-probe.md §1) on this machine's
    /// kernel with io_uring buffer registration, beside the model's prediction for the preset
    /// of the host's release. ext4 and xfs rows need root (loop mounts).
    HostPins {
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Ctrl-C (and SIGTERM, SIGHUP): stop exploring and report what was found, marked
    // incomplete; a second one quits.
    // During host runs a second one waits for the scratch filesystems to be unmounted.
    let _ = ctrlc::set_handler(|| {
        use std::sync::atomic::Ordering;
        if pincheck::check::INTERRUPTED.swap(true, Ordering::SeqCst) {
            if pincheck::host::SCRATCH_LIVE.load(Ordering::SeqCst) == 0 {
                std::process::exit(130);
            }
            eprintln!("pincheck: finishing the host run and unmounting its scratch filesystems (SIGKILL would leave them mounted)");
        }
    });
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Check { paths, args, on: Some(Target::Host), host, .. } => {
            check_on_host(&paths, &args, &host)
        }
        Command::Check { paths, args, trace, on: None, .. } => check(&paths, &args, false, trace),
        Command::Conform { runs, seed, allow_crash, json } => {
            conform(runs, seed, allow_crash, json)
        }
        Command::Matrix { paths, args } => check(&paths, &args, true, false),
        Command::Replay { path, policy, schedule } => replay_cmd(&path, &policy, &schedule),
        Command::Policies => policies(),
        Command::Bench { paths, json, repeat } => bench(&paths, json, repeat.max(1)),
        Command::Family { threads, pages } => match pincheck::family::pins(threads, pages) {
            Ok(text) => {
                print!("{text}");
                Ok(0)
            }
            Err(e) => Err(InputError::Usage(e)),
        },
        Command::HostPins { json } => host_pins(json),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn options(a: &ExploreArgs) -> ExploreOptions {
    let mode = match a.explore {
        Explore::Auto => ExploreMode::Auto,
        Explore::Exhaustive => ExploreMode::Exhaustive,
        Explore::Random => ExploreMode::Random,
        Explore::Pct => ExploreMode::Pct,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    ExploreOptions {
        mode,
        seed: a.seed,
        runs: a.runs.unwrap_or(pincheck::limits::RANDOM_RUNS_DEFAULT),
        max_states: a.max_states,
        max_memory: a.max_memory,
        threads: a.threads.map_or(cores, usize::from),
        crash: a.crash,
        pct_depth: a.pct_depth,
        progress: true,
        reduction: !a.no_reduction,
    }
}

/// `--max-memory`: bytes, or a number with a K, M or G suffix.
fn parse_size(s: &str) -> Result<u64, String> {
    let (digits, unit) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&s[..i], c.to_ascii_uppercase()),
        _ => (s, 'B'),
    };
    let n: u64 = digits.parse().map_err(|_| format!("`{s}` is not a size (bytes, or 512M, 2G)"))?;
    let shift = match unit {
        'B' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        _ => return Err(format!("`{s}`: the unit is K, M or G")),
    };
    n.checked_mul(1 << shift).ok_or_else(|| format!("`{s}` is too large"))
}

fn sources(paths: &[String]) -> Result<Vec<Source>, InputError> {
    if paths.is_empty() {
        Ok(run::catalogue_sources())
    } else {
        run::load_paths(paths)
    }
}

/// `check` and `matrix`: the same exploration, two layouts.
fn check(paths: &[String], a: &ExploreArgs, matrix: bool, trace: bool) -> Result<u8, InputError> {
    let given = match (&a.policy, matrix) {
        (Some(p), _) => Some(policy::resolve_list(p).map_err(InputError::Usage)?),
        (None, true) => Some(Policy::presets()),
        (None, false) => None,
    };
    let opts = options(a);
    let srcs = sources(paths)?;
    // Load everything first: bad input anywhere stops the run before any exploration.
    let loaded: Vec<run::Loaded> = srcs.iter().map(run::load).collect::<Result<_, _>>()?;
    let mut rows: Vec<Vec<Row>> = Vec::new();
    let mut out = std::io::stdout().lock();
    for l in &loaded {
        let mut policies = run::policies_for(l, given.as_deref())?;
        if let Some(m) = a.mutate {
            policies = policies.iter().map(|p| p.with_mutation(m)).collect();
        }
        let mut r = Vec::new();
        for p in &policies {
            let row = run::check_one(l, p, &opts);
            if a.json {
                let _ = writeln!(out, "{}", serde_json::to_string(&row).expect("rows serialize"));
            } else if !matrix {
                let _ = writeln!(out, "{}", check_line(&row));
                if trace {
                    for (label, schedule) in &row.witnesses {
                        let _ = writeln!(out, "  witness for {label}:");
                        if let Ok(r) = replay::replay(&l.program, p, schedule) {
                            let _ = write!(out, "{}", step_table(&r, "    "));
                        }
                    }
                }
            }
            r.push(row);
        }
        rows.push(r);
    }
    if matrix && !a.json {
        let _ = write!(out, "{}", matrix_table(&rows));
    }
    let failed = rows.iter().flatten().any(|r| r.pass == Some(false));
    Ok(if failed { 1 } else { 0 })
}

fn labels_text(l: &[String]) -> String {
    if l.is_empty() {
        "ok".to_string()
    } else {
        l.join(" ")
    }
}

/// One line of `check`: verdict, scenario, policy, labels, expectation, exploration facts; a
/// failure also names each unexpected label's witness.
fn check_line(r: &Row) -> String {
    let verdict = match r.pass {
        Some(true) => "PASS",
        Some(false) => "FAIL",
        None => "----",
    };
    let expected = r
        .expected
        .as_ref()
        .map_or("no expectation".to_string(), |e| format!("expected {}", labels_text(e)));
    let mut s = format!(
        "{verdict} {} [{}]: {} ({expected}; {}, {}, {} states, {} schedules)",
        r.scenario,
        r.policy,
        labels_text(&r.labels),
        r.explorer,
        if r.complete { "complete" } else { "INCOMPLETE" },
        r.states,
        r.schedules
    );
    if let Some(l) = &r.limit {
        s.push_str(&format!("\n     limit: {l}"));
    }
    if r.pass == Some(false) {
        let e = r.expected.clone().unwrap_or_default();
        for label in r.labels.iter().filter(|l| !e.contains(l)) {
            s.push_str(&format!(
                "\n     unexpected {label}: pincheck replay {} --policy {} --schedule '{}'",
                r.file, r.policy, r.witnesses[label]
            ));
        }
        for label in e.iter().filter(|l| !r.labels.contains(l)) {
            s.push_str(&format!("\n     expected but not reached: {label}"));
        }
    }
    s
}

/// The matrix: scenarios as rows, policies as columns. A cell whose labels differ from the
/// scenario's expectation is marked `!`, an incomplete exploration `?`.
fn matrix_table(rows: &[Vec<Row>]) -> String {
    let mut policies: Vec<String> = Vec::new();
    for r in rows.iter().flatten() {
        if !policies.contains(&r.policy) {
            policies.push(r.policy.clone());
        }
    }
    let cell = |r: Option<&Row>| -> String {
        let Some(r) = r else { return "-".to_string() };
        let mark = match (r.pass, r.complete) {
            (Some(false), _) => "! ",
            (_, false) => "? ",
            _ => "",
        };
        format!("{mark}{}", labels_text(&r.labels))
    };
    let mut table: Vec<Vec<String>> =
        vec![std::iter::once("scenario".to_string()).chain(policies.iter().cloned()).collect()];
    for rs in rows {
        let Some(first) = rs.first() else { continue };
        let mut line = vec![first.scenario.clone()];
        for p in &policies {
            line.push(cell(rs.iter().find(|r| &r.policy == p)));
        }
        table.push(line);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (i, line) in table.iter().enumerate() {
        let cells: Vec<String> =
            line.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
        if i == 0 {
            s.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            s.push('\n');
        }
    }
    let all: Vec<&Row> = rows.iter().flatten().collect();
    let failed = all.iter().filter(|r| r.pass == Some(false)).count();
    let checked = all.iter().filter(|r| r.pass.is_some()).count();
    let states: u64 = all.iter().map(|r| r.states).sum();
    s.push_str(&format!(
        "\n{} cells, {checked} with expectations, {failed} failed ({} marks a cell that differs from its `expect` line, ? an incomplete exploration); {states} states explored\n",
        all.len(),
        "!"
    ));
    s
}

fn replay_cmd(path: &str, policy_name: &str, schedule: &str) -> Result<u8, InputError> {
    let p = Policy::by_name(policy_name).map_err(InputError::Usage)?;
    let src = run::load_paths(&[path.to_string()])?.remove(0);
    let l = run::load(&src)?;
    let r = replay::replay(&l.program, &p, schedule).map_err(InputError::Usage)?;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} under {}", l.program.name, p.name);
    let _ = write!(out, "{}", step_table(&r, ""));
    Ok(0)
}

/// A replayed schedule as a table: step, task, what the kernel did; then the end and labels.
fn step_table(r: &replay::Replay, indent: &str) -> String {
    let mut s = String::new();
    let width = r.steps.iter().map(|s| s.task.len()).max().unwrap_or(4).max(4);
    s.push_str(&format!("{indent}{:>4}  {:<width$}  what the kernel did\n", "step", "task"));
    for (i, st) in r.steps.iter().enumerate() {
        let mut lines = st.lines.iter();
        let first = lines.next().map(String::as_str).unwrap_or("(nothing visible)");
        s.push_str(&format!("{indent}{:>4}  {:<width$}  {first}\n", i + 1, st.task));
        for l in lines {
            s.push_str(&format!("{indent}{:>4}  {:<width$}  {l}\n", "", ""));
        }
    }
    match &r.end {
        Some(lines) => {
            s.push_str(&format!("{indent}end of interleaving:\n"));
            for l in lines {
                s.push_str(&format!("{indent}      {l}\n"));
            }
        }
        None => s.push_str(&format!(
            "{indent}schedule ends early; runnable: {}\n",
            r.runnable.join(", ")
        )),
    }
    s.push_str(&format!("{indent}labels: {}\n", labels_text(&r.labels)));
    s
}

fn policies() -> Result<u8, InputError> {
    let mut out = std::io::stdout().lock();
    for p in Policy::presets() {
        let _ = writeln!(out, "{}: {}", p.name, p.summary);
        for (k, v) in p.knobs() {
            let _ = writeln!(out, "    {k:<32} {v}");
        }
    }
    let names: Vec<&str> = Mutation::ALL.iter().map(|m| m.name()).collect();
    let _ = writeln!(out, "mutations (--mutate, a checker self-test): {}", names.join(", "));
    Ok(0)
}

/// Peak resident set size of this process (`VmHWM`), in bytes, where /proc tells it.
fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn bench(paths: &[String], json: bool, repeat: usize) -> Result<u8, InputError> {
    let srcs = sources(paths)?;
    let loaded: Vec<run::Loaded> = srcs.iter().map(run::load).collect::<Result<_, _>>()?;
    let opts = ExploreOptions::default();
    let mut out = std::io::stdout().lock();
    let (mut states, mut transitions, mut seconds) = (0u64, 0u64, 0f64);
    let wall = Instant::now();
    if !json {
        let _ = writeln!(
            out,
            "{:<32} {:<11} {:>9} {:>11} {:>9} {:>12}",
            "scenario", "policy", "states", "transitions", "ms", "states/s"
        );
    }
    for l in &loaded {
        for p in Policy::presets() {
            let row = (0..repeat)
                .map(|_| run::check_one(l, &p, &opts))
                .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
                .expect("repeat >= 1");
            let rate = row.states as f64 / row.seconds.max(1e-9);
            states += row.states;
            transitions += row.transitions;
            seconds += row.seconds;
            if json {
                let v = serde_json::json!({
                    "scenario": row.scenario, "policy": row.policy, "states": row.states,
                    "transitions": row.transitions, "seconds": row.seconds,
                    "states_per_sec": rate, "peak_rss_bytes": peak_rss(),
                });
                let _ = writeln!(out, "{v}");
            } else {
                let _ = writeln!(
                    out,
                    "{:<32} {:<11} {:>9} {:>11} {:>9.3} {:>12.0}",
                    row.scenario,
                    row.policy,
                    row.states,
                    row.transitions,
                    row.seconds * 1e3,
                    rate
                );
            }
        }
    }
    let rss =
        peak_rss().map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
    let total = format!(
        "total: {states} states, {transitions} transitions, {seconds:.3} s exploring (best of {repeat}), {:.0} states/s, {:.3} s wall, peak RSS {rss}",
        states as f64 / seconds.max(1e-9),
        wall.elapsed().as_secs_f64()
    );
    if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"total": true, "states": states, "transitions": transitions, "seconds": seconds, "states_per_sec": states as f64 / seconds.max(1e-9), "peak_rss_bytes": peak_rss()})
        );
    } else {
        let _ = writeln!(out, "{total}");
    }
    Ok(0)
}

/// `pincheck host-pins`: exit 1 when a measured row disagrees with the model.
/// `check --on host`: each scenario explored under one policy and run on the host.
fn check_on_host(paths: &[String], a: &ExploreArgs, h: &HostArgs) -> Result<u8, InputError> {
    use pincheck::host::conform;
    let policy = match &a.policy {
        Some(p) => {
            let mut l = policy::resolve_list(p).map_err(InputError::Usage)?;
            if l.len() != 1 {
                return Err(InputError::Usage("--on host compares with one policy".into()));
            }
            l.remove(0)
        }
        None => conform::host_preset().map_err(InputError::Usage)?.1,
    };
    // The model side may switch a mechanism off: which of them does the host rely on?
    let policy = match a.mutate {
        Some(m) => policy.with_mutation(m),
        None => policy,
    };
    let loaded: Vec<run::Loaded> =
        run::load_paths(paths)?.iter().map(run::load).collect::<Result<_, _>>()?;
    let o = conform::ConformOptions {
        explore: options(a),
        runs: a.runs.unwrap_or(1),
        seed: a.seed,
        allow_crash: h.allow_crash,
        safety: conform::host_preset().ok().map(|(_, p)| p),
        schedule: h.schedule.clone(),
    };
    let mut out = std::io::stdout().lock();
    let mut disagree = false;
    let mut skipped = false;
    for l in &loaded {
        // A scenario the host cannot run (or set up, or a --schedule that does not replay) is
        // reported and the others still run: exit 2 at the end unless one disagreed.
        let c = match conform::conform_one(l, &policy, &o) {
            Ok(c) => c,
            Err(why) => {
                eprintln!("{why}");
                skipped = true;
                continue;
            }
        };
        if let Some(why) = &c.skipped {
            eprintln!("{}: {why}", l.ast.path);
            skipped = true;
            continue;
        }
        disagree |= c.agree == Some(false);
        if a.json {
            let _ = writeln!(out, "{}", serde_json::to_string(&c).expect("rows serialize"));
        } else {
            let _ = write!(out, "{}", conformance_text(&c));
        }
    }
    Ok(if disagree {
        1
    } else if skipped {
        2
    } else {
        0
    })
}

fn conformance_text(c: &pincheck::host::conform::Conformance) -> String {
    let mut s = String::new();
    let Some(h) = &c.host else {
        return format!(
            "{}: model [{}] {}; host: {}\n",
            c.row.scenario,
            c.row.policy,
            labels_text(&c.model_labels),
            c.skipped.as_deref().unwrap_or("not run")
        );
    };
    let verdict = if c.agree == Some(true) { "AGREE" } else { "DISAGREE" };
    s.push_str(&format!(
        "{verdict} {}: host ({} run{}): {}; model [{}]: {}\n",
        c.row.scenario,
        h.runs,
        if h.runs == 1 { "" } else { "s" },
        labels_text(&h.labels),
        c.row.policy,
        labels_text(&c.model_labels)
    ));
    if h.runs > 1 {
        let outcomes: Vec<String> = h.outcomes.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        s.push_str(&format!("     host outcomes: {}\n", outcomes.join(", ")));
    }
    if let Some(u) = c.unobserved.as_ref().filter(|u| !u.is_empty()) {
        s.push_str(&format!("     reached by the model, not observed: {}\n", u.join(" ")));
        for label in u {
            if let Some(w) = c.row.witnesses.get(label) {
                s.push_str(&format!(
                    "     {label}: pincheck replay {} --policy {} --schedule '{w}'\n",
                    c.row.file, c.row.policy
                ));
            }
        }
    }
    for label in h.labels.iter().filter(|l| !c.model_labels.contains(l)) {
        s.push_str(&format!(
            "     the model never reaches {label} (first seen in run {})\n",
            h.first_run[label]
        ));
    }
    for n in &h.notes {
        s.push_str(&format!("     {n}\n"));
    }
    if h.interrupted {
        s.push_str("     interrupted before all runs were done\n");
    }
    s
}

/// `pincheck conform`.
fn conform(runs: usize, seed: u64, allow_crash: bool, json: bool) -> Result<u8, InputError> {
    use pincheck::host::{self, conform};
    let (release, preset) = conform::host_preset().map_err(InputError::Usage)?;
    let o = conform::ConformOptions {
        explore: ExploreOptions { progress: false, ..ExploreOptions::default() },
        runs,
        seed,
        allow_crash,
        safety: Some(preset.clone()),
        schedule: None,
    };
    let rows = conform::conform_catalogue(&preset, &o).map_err(InputError::Usage)?;
    let pins = host::pin_table(Some(&preset));
    let mut out = std::io::stdout().lock();
    if json {
        for c in &rows {
            let _ = writeln!(out, "{}", serde_json::to_string(c).expect("rows serialize"));
        }
        for r in &pins {
            let mut v = serde_json::to_value(r).expect("a row serializes");
            v["kernel"] = release.clone().into();
            v["policy"] = preset.name.into();
            let _ = writeln!(out, "{v}");
        }
    } else {
        let _ = writeln!(out, "host kernel {release}, model preset {}", preset.name);
        let host_text = |c: &pincheck::host::conform::Conformance| {
            c.host_labels.as_deref().map_or("-".to_string(), labels_text)
        };
        let w = rows.iter().map(|c| c.row.scenario.len()).max().unwrap_or(8);
        let hw = rows.iter().map(|c| host_text(c).len()).max().unwrap_or(4).max(4);
        let mw = rows.iter().map(|c| labels_text(&c.model_labels).len()).max().unwrap_or(5);
        let _ = writeln!(out, "{:<w$}  {:<hw$}  {:<mw$}  agree", "scenario", "host", "model");
        for c in &rows {
            let agree = match (c.agree, c.unobserved.as_deref()) {
                (Some(true), Some(u)) if !u.is_empty() => {
                    format!("yes (not observed: {})", u.join(" "))
                }
                (Some(true), _) => "yes".to_string(),
                (Some(false), _) => "NO".to_string(),
                (None, _) => format!("- ({})", c.skipped.as_deref().unwrap_or("")),
            };
            let model = labels_text(&c.model_labels);
            let _ = writeln!(
                out,
                "{:<w$}  {:<hw$}  {model:<mw$}  {agree}",
                c.row.scenario,
                host_text(c)
            );
        }
        let _ = writeln!(out);
        for c in rows.iter().filter(|c| c.host.is_some()) {
            if c.agree == Some(false) || c.host.as_ref().is_some_and(|h| !h.notes.is_empty()) {
                let _ = write!(out, "{}", conformance_text(c));
            }
        }
        let _ = writeln!(out);
        let _ = write!(out, "{}", pin_table_text(&pins));
    }
    let ran = rows.iter().filter(|c| c.agree.is_some()).count();
    let bad = rows.iter().filter(|c| c.agree == Some(false)).count()
        + pins.iter().filter(|r| r.agree == Some(false)).count();
    eprintln!(
        "{ran} of {} catalogue scenarios ran on the host; {bad} disagreement{}",
        rows.len(),
        if bad == 1 { "" } else { "s" }
    );
    Ok(if bad > 0 { 1 } else { 0 })
}

/// The long-term pin verdict table, one row per filesystem and mapping.
fn pin_table_text(rows: &[pincheck::host::PinRow]) -> String {
    let mut s = format!(
        "{:<6} {:<11} {:<12} {:<12} {:<6} pins acquired/released\n",
        "fs", "mapping", "host", "model", "agree"
    );
    for r in rows {
        let agree = match r.agree {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let pins = match (r.pins_acquired, r.pins_released) {
            (Some(a), Some(b)) => format!("+{a}/+{b}"),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<6} {:<11} {:<12} {:<12} {:<6} {pins}",
            r.fs,
            r.mapping,
            r.host.as_deref().unwrap_or("skipped"),
            r.model.as_deref().unwrap_or("-"),
            agree
        ));
        match &r.skipped {
            Some(why) => s.push_str(&format!("  ({why})\n")),
            None => s.push('\n'),
        }
    }
    s
}

fn host_pins(json: bool) -> Result<u8, InputError> {
    use pincheck::host;
    let release = host::host_release().map_err(InputError::Usage)?;
    let preset = host::preset_for_release(&release);
    let rows = host::pin_table(preset.as_ref());
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        for r in &rows {
            let mut v = serde_json::to_value(r).expect("a row serializes");
            v["kernel"] = release.clone().into();
            v["policy"] = preset.as_ref().map(|p| p.name).into();
            let _ = writeln!(out, "{v}");
        }
    } else {
        let name = preset.as_ref().map_or("none", |p| p.name);
        let _ = writeln!(out, "host kernel {release}, model preset {name}");
        if preset.is_none() {
            let _ = writeln!(
                out,
                "no preset models {release} (presets: {}); host verdicts only",
                policy::preset_names().join(", ")
            );
        }
        let _ = write!(out, "{}", pin_table_text(&rows));
    }
    Ok(u8::from(rows.iter().any(|r| r.agree == Some(false))))
}
