//! `pincheck bench [FILE...]`: states, transitions, time, CPU time, states per second and peak
//! memory per scenario and policy (every preset, or `--policy`), with the explorer and bounds
//! `check` takes, so that a rate target on a large exploration is measured by this command:
//! e.g. `pincheck family pairs 3 > pairs3.pin; pincheck bench pairs3.pin --policy linux-5.18
//! --explore depth-first --threads 1 --max-states 3000000 --repeat 1`.

use super::{at_most, parse_size, peak_rss, sources, Explore};
use pincheck::check::ExploreOptions;
use pincheck::policy::{self, Policy};
use pincheck::run::{self, InputError};
use std::io::Write;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    pub paths: Vec<String>,
    #[arg(long)]
    pub json: bool,
    /// Repeat each exploration this many times and keep the fastest.
    #[arg(long, default_value_t = 3, value_parser = at_most::<1000>)]
    pub repeat: usize,
    /// Policies, as for `check` (default: every preset).
    #[arg(long)]
    pub policy: Option<String>,
    /// The explorer, as for `check`.
    #[arg(long, value_enum, default_value = "auto")]
    pub explore: Explore,
    /// Threads of the exhaustive explorer (default 1: the rate per core).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=pincheck::limits::EXPLORER_THREADS_MAX as i64))]
    pub threads: u16,
    /// Bound on distinct states, as for `check`.
    #[arg(long, default_value_t = pincheck::limits::STATES_MAX_DEFAULT, value_parser = at_most::<{ pincheck::limits::STATES_MAX }>)]
    pub max_states: usize,
    /// Bound on the explorer's memory, as for `check`.
    #[arg(long, value_parser = parse_size)]
    pub max_memory: Option<u64>,
    /// Switch every reduction off (same as `--reduce none`).
    #[arg(long, conflicts_with = "reduce")]
    pub no_reduction: bool,
    /// The reductions, as for `check`.
    #[arg(long, value_parser = pincheck::check::reduce::Reductions::parse)]
    pub reduce: Option<pincheck::check::reduce::Reductions>,
}

/// User and system CPU seconds of the process so far (all threads).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given and reads nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid, writable rusage.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let (paths, json, repeat) = (&a.paths, a.json, a.repeat.max(1));
    let policies = match &a.policy {
        Some(p) => policy::resolve_list(p).map_err(InputError::Usage)?,
        None => Policy::presets(),
    };
    let srcs = sources(paths)?;
    let loaded: Vec<run::Loaded> = srcs.iter().map(run::load).collect::<Result<_, _>>()?;
    let opts = ExploreOptions {
        mode: a.explore.mode(),
        threads: usize::from(a.threads),
        max_states: a.max_states,
        max_memory: a.max_memory,
        reduce: super::reductions(a.no_reduction, a.reduce),
        ..ExploreOptions::default()
    };
    let mut out = std::io::stdout().lock();
    let (mut states, mut transitions, mut seconds, mut cpu) = (0u64, 0u64, 0f64, 0f64);
    let wall = Instant::now();
    if !json {
        let _ = writeln!(
            out,
            "{:<32} {:<11} {:>9} {:>11} {:>9} {:>9} {:>12} {:>12} {:>8}",
            "scenario",
            "policy",
            "states",
            "transitions",
            "ms",
            "cpu ms",
            "states/s",
            "states/cpu-s",
            "complete"
        );
    }
    for l in &loaded {
        for p in &policies {
            let (row, row_cpu) = (0..repeat)
                .map(|_| {
                    let before = cpu_seconds();
                    let row = run::check_one(l, p, &opts);
                    (row, cpu_seconds() - before)
                })
                .min_by(|a, b| a.0.seconds.total_cmp(&b.0.seconds))
                .expect("repeat >= 1");
            let rate = row.states as f64 / row.seconds.max(1e-9);
            let cpu_rate = row.states as f64 / row_cpu.max(1e-9);
            states += row.states;
            transitions += row.transitions;
            seconds += row.seconds;
            cpu += row_cpu;
            if json {
                let v = serde_json::json!({
                    "scenario": row.scenario, "policy": row.policy, "explorer": row.explorer,
                    "complete": row.complete, "states": row.states,
                    "transitions": row.transitions, "seconds": row.seconds,
                    "cpu_seconds": row_cpu, "states_per_sec": rate,
                    "states_per_cpu_sec": cpu_rate, "peak_rss_bytes": peak_rss(),
                });
                let _ = writeln!(out, "{v}");
            } else {
                let _ = writeln!(
                    out,
                    "{:<32} {:<11} {:>9} {:>11} {:>9.3} {:>9.3} {:>12.0} {:>12.0} {:>8}",
                    row.scenario,
                    row.policy,
                    row.states,
                    row.transitions,
                    row.seconds * 1e3,
                    row_cpu * 1e3,
                    rate,
                    cpu_rate,
                    if row.complete { "yes" } else { "no" }
                );
            }
        }
    }
    let rss =
        peak_rss().map_or("unknown".to_string(), |b| format!("{:.1} MiB", b as f64 / 1048576.0));
    let total = format!(
        "total: {states} states, {transitions} transitions, {seconds:.3} s exploring (best of {repeat}), {:.0} states/s, {cpu:.3} CPU s, {:.0} states/CPU s, {:.3} s wall, peak RSS {rss}",
        states as f64 / seconds.max(1e-9),
        states as f64 / cpu.max(1e-9),
        wall.elapsed().as_secs_f64()
    );
    if json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::json!({"total": true, "states": states, "transitions": transitions, "seconds": seconds, "cpu_seconds": cpu, "states_per_sec": states as f64 / seconds.max(1e-9), "states_per_cpu_sec": states as f64 / cpu.max(1e-9), "peak_rss_bytes": peak_rss()})
        );
    } else {
        let _ = writeln!(out, "{total}");
    }
    Ok(0)
}
