//! `pincheck search [FILE...]`: the minimal designs (Pareto front over violations and costs) of a
//! design space under which the scenarios (default: the catalogue) reach no violation label and
//! writable long-term pins of shared file mappings succeed (`pincheck::search`).

use super::sources;
use pincheck::check::{ExploreMode, ExploreOptions};
use pincheck::run::{self, InputError};
use pincheck::search::{Report, Space};
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    pub paths: Vec<String>,
    /// The base preset of every design (default linux-6.18).
    #[arg(long)]
    pub base: Option<String>,
    /// A knob of the space and its values, `KNOB=V1,V2` (repeatable): replaces the default
    /// values of that knob or adds it to the space.
    #[arg(long = "knob")]
    pub knobs: Vec<String>,
    /// Explore a power failure after every step too.
    #[arg(long)]
    pub crash: bool,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// One JSON object: the space, the front, the unavoidable violations, why each knob is needed.
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let space = Space::default_space()
        .with_overrides(a.base.as_deref(), &a.knobs)
        .map_err(InputError::Usage)?;
    let srcs = sources(&a.paths)?;
    let loaded: Vec<run::Loaded> = srcs.iter().map(run::load).collect::<Result<_, _>>()?;
    let opts = ExploreOptions {
        mode: ExploreMode::Exhaustive,
        crash: a.crash,
        threads: 1,
        ..Default::default()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = a.threads.unwrap_or(cores).max(1);
    eprintln!("search: {} designs x {} scenarios on {threads} threads", space.size(), loaded.len());
    let report = pincheck::search::search(&loaded, &space, &opts, threads, true)
        .map_err(InputError::Usage)?;
    let mut out = std::io::stdout().lock();
    if a.json {
        let _ = writeln!(out, "{}", serde_json::to_string(&report).expect("reports serialize"));
    } else {
        let _ = write!(out, "{}", table(&report));
    }
    let clean = report.front.iter().any(|d| d.avoidable == 0);
    Ok(if clean { 0 } else { 1 })
}

fn table(r: &Report) -> String {
    let mut s = format!(
        "{} designs over {} (knobs: {}), {} scenarios: {} explorations, {} pruned; {} designs meet the requirement; {:.1} s\n\n",
        r.designs,
        r.space.base,
        r.space.knobs.iter().map(|(k, v)| format!("{k}={}", v.join(","))).collect::<Vec<_>>().join(" "),
        r.checked_scenarios,
        r.explorations,
        r.explorations_pruned,
        r.meeting_requirement,
        r.seconds
    );
    if !r.unavoidable.is_empty() {
        s.push_str(
            "unavoidable in this space (every design meeting the requirement reaches them):\n",
        );
        for c in &r.unavoidable {
            s.push_str(&format!("    {} {}   witness: {}\n", c.scenario, c.label, c.witness));
        }
        s.push('\n');
    }
    s.push_str("Pareto front (avoidable violations, then costs summed over the scenarios):\n");
    for d in &r.front {
        s.push_str(&format!(
            "  {}\n      violations {}  costs: {}\n",
            d.policy,
            d.avoidable,
            d.costs.text()
        ));
    }
    s.push_str("\npresets, judged the same way (requirement met? on the front?):\n");
    for p in &r.presets {
        s.push_str(&format!(
            "  {:<14} requirement {:<3} front {:<3} violations {:<3} costs: {}\n",
            p.preset,
            if p.meets_requirement { "met" } else { "no" },
            if p.on_front { "yes" } else { "no" },
            p.avoidable,
            p.costs.text()
        ));
    }
    for (policy, why) in &r.needed {
        s.push_str(&format!("\nwhy each knob of {policy} is needed (switched back alone):\n"));
        for n in why {
            match &n.shown_by {
                Some(c) => s.push_str(&format!(
                    "    {}={} (without: {}): {} {}   witness: {}\n",
                    n.knob, n.value, n.without, c.scenario, c.label, c.witness
                )),
                None => s.push_str(&format!(
                    "    {}={} (without: {}): no scenario here needs it\n",
                    n.knob, n.value, n.without
                )),
            }
        }
    }
    s
}
