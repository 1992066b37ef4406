//! The subcommands of `pincheck`, one file each (as cargo's `src/bin/cargo/commands/` does), and
//! what several of them share: the exploration options and the small formatters. `main.rs`
//! only parses the command line and dispatches here.

pub mod bench;
pub mod check;
pub mod ci;
pub mod cluster;
pub mod conform;
pub mod diff;
pub mod export;
pub mod family;
pub mod host_pins;
pub mod list;
pub mod matrix;
pub mod policies;
pub mod replay;
pub mod report;
pub mod search;
pub mod show;

use clap::ValueEnum;
use pincheck::check::{replay as replayer, ExploreMode, ExploreOptions};
use pincheck::policy::{self, Mutation, Policy};
use pincheck::run::{self, InputError, Source};

#[derive(Clone, Copy, ValueEnum)]
pub enum Explore {
    Auto,
    Exhaustive,
    /// Exhaustive, depth-first with fingerprints only (what `exhaustive` switches to past the
    /// memory bound).
    DepthFirst,
    Random,
    Pct,
}

#[derive(clap::Args)]
pub struct ExploreArgs {
    /// Policies: comma-separated preset names or designs (`PRESET+KNOB=VALUE...`, see
    /// `pincheck policies`), or `all`.
    #[arg(long)]
    pub policy: Option<String>,
    /// A policy file (a `base PRESET` line and `KNOB = VALUE` lines); may be repeated, and adds
    /// to --policy.
    #[arg(long)]
    pub policy_file: Vec<String>,
    /// `auto` explores exhaustively and falls back to random runs past --max-states.
    #[arg(long, value_enum, default_value = "auto")]
    pub explore: Explore,
    /// Seed of the random explorer.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Runs of the random explorer (default 10000); with `--on host`, host runs (default 1).
    #[arg(long, value_parser = at_most::<{ pincheck::limits::RUNS_MAX }>)]
    pub runs: Option<usize>,
    /// Bound on distinct states of the exhaustive explorer.
    #[arg(long, default_value_t = pincheck::limits::STATES_MAX_DEFAULT, value_parser = at_most::<{ pincheck::limits::STATES_MAX }>)]
    pub max_states: usize,
    /// Bound on the explorer's memory: bytes, or with a K, M or G suffix (e.g. 512M).
    #[arg(long, value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Threads of the exhaustive explorer (default: all cores); results do not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=pincheck::limits::EXPLORER_THREADS_MAX as i64))]
    pub threads: Option<u16>,
    /// Also explore a power failure after every step.
    #[arg(long)]
    pub crash: bool,
    /// Show what each policy paid (bounce copies, reservations, lease breaks, waits, refused
    /// operations): in each matrix cell, after each check line. JSON rows always carry `costs`.
    #[arg(long)]
    pub costs: bool,
    /// Switch every reduction of the exhaustive search off (same as `--reduce none`).
    #[arg(long, conflicts_with = "reduce")]
    pub no_reduction: bool,
    /// The reductions of the exhaustive search, comma-separated: `invisible` (the default),
    /// `generations`, `independence`, `symmetry`, `signals`, `late-skips`, `sleep` (sleep
    /// sets: depth-first on one thread only), or `all` (all but `sleep`) or `none`. Labels do
    /// not depend on them.
    #[arg(long, value_parser = pincheck::check::reduce::Reductions::parse)]
    pub reduce: Option<pincheck::check::reduce::Reductions>,
    /// Priority change points of each PCT run (`--explore pct`).
    #[arg(long, default_value_t = 3, value_parser = at_most::<{ pincheck::limits::PCT_DEPTH_MAX }>)]
    pub pct_depth: usize,
    /// Switch off one protective mechanism, to check that the checker notices (see
    /// `pincheck policies`); expectations then fail where it mattered.
    #[arg(long, value_parser = Mutation::by_name)]
    pub mutate: Option<Mutation>,
    /// One JSON object per line, one line per (scenario, policy).
    #[arg(long)]
    pub json: bool,
    /// `tap` (TAP version 13) or `junit` (JUnit XML) for CI: one test per (scenario, policy),
    /// skipped with the reason when there is no expectation or the exploration is incomplete.
    #[arg(long, value_enum, default_value = "text", conflicts_with = "json")]
    pub format: ci::Format,
}

impl Explore {
    pub fn mode(self) -> ExploreMode {
        match self {
            Explore::Auto => ExploreMode::Auto,
            Explore::Exhaustive => ExploreMode::Exhaustive,
            Explore::DepthFirst => ExploreMode::DepthFirst,
            Explore::Random => ExploreMode::Random,
            Explore::Pct => ExploreMode::Pct,
        }
    }
}

/// The reductions `--no-reduction` and `--reduce` ask for.
pub fn reductions(
    no_reduction: bool,
    reduce: Option<pincheck::check::reduce::Reductions>,
) -> pincheck::check::reduce::Reductions {
    if no_reduction {
        pincheck::check::reduce::Reductions::NONE
    } else {
        reduce.unwrap_or_default()
    }
}

pub fn options(a: &ExploreArgs) -> ExploreOptions {
    let mode = a.explore.mode();
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
        reduce: reductions(a.no_reduction, a.reduce),
        cluster: None,
    }
}

/// A count of at most `MAX` (a limit of `limits.rs`).
pub fn at_most<const MAX: usize>(s: &str) -> Result<usize, String> {
    let too_large = || format!("`{s}` is too large: at most {MAX}");
    match s.parse::<usize>() {
        Ok(n) if n <= MAX => Ok(n),
        Ok(_) => Err(too_large()),
        Err(_) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => Err(too_large()),
        Err(_) => Err(format!("`{s}` is not a count (a non-negative integer)")),
    }
}

/// `--max-memory`: bytes, or a number with a K, M or G suffix.
pub fn parse_size(s: &str) -> Result<u64, String> {
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

pub fn sources(paths: &[String]) -> Result<Vec<Source>, InputError> {
    if paths.is_empty() {
        Ok(run::catalogue_sources())
    } else {
        run::load_paths(paths)
    }
}

pub fn labels_text(l: &[String]) -> String {
    if l.is_empty() {
        "ok".to_string()
    } else {
        l.join(" ")
    }
}

/// `s` padded with spaces to `width` characters. `format!("{:<w$}")` panics for a width past
/// u16::MAX, which a 65,536-character thread or scenario name reaches; this never does.
pub fn pad(s: &str, width: usize) -> String {
    let n = s.chars().count();
    let mut out = String::with_capacity(s.len() + width.saturating_sub(n));
    out.push_str(s);
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(n)));
    out
}

/// `s` as one shell word: as is when it is made of characters no shell treats specially,
/// else in single quotes (a `'` inside written `'\''`).
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.starts_with('~')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./+=:,@%~".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// The `replay` command that shows one witness, as `check`, `conform` and `check --on host`
/// print it: every word quoted for the shell, so it runs as printed (tests/cli.rs runs it).
pub fn replay_hint(file: &str, policy: &str, schedule: &str) -> String {
    format!(
        "pincheck replay {} --policy {} --schedule {}",
        shell_word(file),
        shell_word(policy),
        shell_word(schedule)
    )
}

/// A replayed schedule as a table: step, task, what the kernel did; then the end and labels.
/// With `state`, the machine after each step (`Snapshot::table`) under the step's lines.
pub fn step_table(r: &replayer::Replay, indent: &str, state: bool) -> String {
    let mut s = String::new();
    let width = r.steps.iter().map(|s| s.task.chars().count()).max().unwrap_or(4).max(4);
    let sub = format!("{indent}{:>4}  {}  | ", "", pad("", width));
    s.push_str(&format!("{indent}{:>4}  {}  what the kernel did\n", "step", pad("task", width)));
    if state {
        s.push_str(&r.initial.table(&sub));
    }
    for (i, st) in r.steps.iter().enumerate() {
        let mut lines = st.lines.iter();
        let first = lines.next().map(String::as_str).unwrap_or("(nothing visible)");
        s.push_str(&format!("{indent}{:>4}  {}  {first}\n", i + 1, pad(&st.task, width)));
        for l in lines {
            s.push_str(&format!("{indent}{:>4}  {}  {l}\n", "", pad("", width)));
        }
        if state {
            s.push_str(&st.state.table(&sub));
        }
    }
    if let Some(pf) = &r.power_fail {
        s.push_str(&format!("{indent}power failure after step {}:\n", pf.after_step));
        if pf.unflushed.is_empty() {
            s.push_str(&format!(
                "{indent}      no completed write was waiting for a cache flush\n"
            ));
        }
        for (b, c) in &pf.unflushed {
            let fate = if pf.survivors.contains(b) { "survives" } else { "lost" };
            s.push_str(&format!("{indent}      unflushed write of {c} to block {b}: {fate}\n"));
        }
    }
    match &r.end {
        Some(lines) => {
            s.push_str(&format!("{indent}end of interleaving:\n"));
            for l in lines {
                s.push_str(&format!("{indent}      {l}\n"));
            }
            if let (true, Some(e)) = (state, &r.end_state) {
                s.push_str(&e.table(&sub));
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

/// Peak resident set size of this process (`VmHWM`), in bytes, where /proc tells it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// The policies `--policy` and `--policy-file` name; `None` when neither is given.
pub fn given_policies(a: &ExploreArgs) -> Result<Option<Vec<Policy>>, InputError> {
    let mut out = match &a.policy {
        Some(p) => policy::resolve_list(p).map_err(InputError::Usage)?,
        None if a.policy_file.is_empty() => return Ok(None),
        None => Vec::new(),
    };
    for path in &a.policy_file {
        let text = run::read_text(path)?;
        out.push(policy::parse_file(path, &text).map_err(InputError::Scenario)?);
    }
    Ok(Some(out))
}

/// The host options of `check --on host` (used by `check` and `conform::check_on_host`).
#[derive(clap::Args)]
pub struct HostArgs {
    /// With --on host: drive the host run through this model schedule at operation
    /// granularity (each operation starts in the order the schedule starts it, and completes
    /// before the next starts).
    #[arg(long, requires = "on")]
    pub schedule: Option<String>,
    /// With --on host: run even when the model predicts `bug` (a kernel crash) on this kernel.
    #[arg(long, requires = "on")]
    pub allow_crash: bool,
    /// With --on host: each scenario page is K contiguous pages on the host (files, mappings
    /// and transfers K times larger; the oracles judge all K), to widen windows whose width is
    /// the length of a transfer. Operations: mmap, munmap, write, read, fsync, sync,
    /// dio-read, signal, wait; others are refused.
    #[arg(long, requires = "on", value_name = "K", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub host_pages: Option<u32>,
    /// With --on host: stop after the first run that reaches LABEL (at most --runs runs).
    #[arg(long, requires = "on", value_name = "LABEL")]
    pub until_observed: Option<String>,
    /// With --on host and no --schedule: each thread starts after a random delay below US
    /// microseconds (from --seed), then runs its statements back to back, so the threads
    /// start at varying offsets from each other, run after run.
    #[arg(long, requires = "on", conflicts_with = "schedule", value_name = "US", value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub host_jitter: Option<u64>,
    /// With --on host: reads from the scratch filesystem's device are throttled to B bytes a
    /// second (the block layer's blkio throttle; writes are not), so a read's transfer takes
    /// as long as on a slow device: widens windows that last as long as a read is in flight.
    #[arg(long, requires = "on", value_name = "B", value_parser = clap::value_parser!(u64).range(4096..))]
    pub host_read_bps: Option<u64>,
}
