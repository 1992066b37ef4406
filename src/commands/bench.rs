//! `pincheck bench [FILE...]`: states, transitions, time, states per second and peak memory per
//! scenario and preset.

use super::{peak_rss, sources};
use pincheck::check::ExploreOptions;
use pincheck::policy::Policy;
use pincheck::run::{self, InputError};
use std::io::Write;
use std::time::Instant;

#[derive(clap::Args)]
pub struct Args {
    pub paths: Vec<String>,
    #[arg(long)]
    pub json: bool,
    /// Repeat each exploration this many times and keep the fastest.
    #[arg(long, default_value_t = 3)]
    pub repeat: usize,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let (paths, json, repeat) = (&a.paths, a.json, a.repeat.max(1));
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
