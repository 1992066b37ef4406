//! `pincheck check FILE...`: each scenario under the policies its `expect` lines name (or
//! `--policy`), one line per (scenario, policy); `--trace` prints each witness as a step table;
//! `--on host` runs it on this machine's kernel too (`conform::check_on_host`).

use super::ci::{self, Format};
use super::{labels_text, options, sources, step_table, ExploreArgs, HostArgs};
use clap::ValueEnum;
use pincheck::check::replay;
use pincheck::policy::Policy;
use pincheck::run::{self, InputError, Row, Verdict};
use std::io::Write;

#[derive(Clone, Copy, ValueEnum)]
pub enum Target {
    Host,
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(required = true)]
    pub paths: Vec<String>,
    #[command(flatten)]
    pub args: ExploreArgs,
    /// Print each label's witness as a step table (not with --on host, which prints each
    /// unobserved label's witness as a `replay` command).
    #[arg(long, conflicts_with = "on")]
    pub trace: bool,
    /// With --trace: the machine after each step (folios, PTEs, pages, disk blocks, handles).
    /// (`--trace --json` carries it always.)
    #[arg(long, requires = "trace")]
    pub state: bool,
    /// Run the scenario on this machine's kernel too and set the result beside the model's
    /// under the preset of the host's release (or the one --policy names).
    #[arg(long, value_enum)]
    pub on: Option<Target>,
    #[command(flatten)]
    pub host: HostArgs,
    #[command(flatten)]
    pub cluster: super::cluster::ClusterArgs,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    match a.on {
        Some(Target::Host) => super::conform::check_on_host(&a.paths, &a.args, &a.host),
        None => {
            if a.cluster.processes.is_some() {
                // Bad input stops the run before any other process is started.
                super::given_policies(&a.args)?;
                for s in sources(&a.paths)? {
                    run::load(&s)?;
                }
            }
            let cluster = super::cluster::start(&a.cluster, &a.args)?;
            let rows = explore_rows(&a.paths, &a.args, false, a.trace, a.state, cluster.as_ref())?;
            if let Some(c) = cluster {
                let quiet = c.quiet();
                c.finish()?;
                if quiet {
                    // Process 0 reports.
                    return Ok(0);
                }
            }
            Ok(finish(&rows, &a.args, None))
        }
    }
}

/// The exploration `check` and `matrix` share: every (scenario, policy) row, printed as it comes
/// (a line each for `check`, JSON lines for `--json`; nothing yet for a matrix or a CI format).
pub fn explore_rows(
    paths: &[String],
    a: &ExploreArgs,
    matrix: bool,
    trace: bool,
    state: bool,
    cluster: Option<&super::cluster::Run>,
) -> Result<Vec<Vec<Row>>, InputError> {
    let given = match (super::given_policies(a)?, matrix) {
        (Some(p), _) => Some(p),
        (None, true) => Some(Policy::presets()),
        (None, false) => None,
    };
    let mut opts = options(a);
    opts.cluster = cluster.map(|c| c.session.clone());
    // A process of a distributed run other than process 0 explores and prints nothing.
    let quiet = cluster.is_some_and(|c| c.quiet());
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
            if let Some(why) = cluster.and_then(|c| c.session.failure()) {
                return Err(InputError::Usage(why));
            }
            if quiet || a.format != Format::Text {
                // Printed whole at the end: a TAP plan and a JUnit document come first.
            } else if a.json {
                let mut line = serde_json::to_string(&row).expect("rows serialize");
                if trace {
                    let mut v = serde_json::to_value(&row).expect("rows serialize");
                    // `--trace --json`: each witness replayed, step by step, as the text shows.
                    let mut t = serde_json::Map::new();
                    for (label, schedule) in &row.witnesses {
                        if let Ok(r) = replay::replay(&l.program, p, schedule) {
                            let mut w = serde_json::to_value(&r).expect("a replay serializes");
                            w["schedule"] = schedule.clone().into();
                            t.insert(label.clone(), w);
                        }
                    }
                    v["trace"] = t.into();
                    line = v.to_string();
                }
                let _ = writeln!(out, "{line}");
            } else if !matrix {
                let _ = writeln!(out, "{}", check_line(&row));
                if a.costs {
                    let _ = writeln!(out, "     costs: {}", row.costs.text());
                }
                if trace {
                    for (label, schedule) in &row.witnesses {
                        let _ = writeln!(out, "  witness for {label}{}:", crash_note(schedule));
                        if let Ok(r) = replay::replay(&l.program, p, schedule) {
                            let _ = write!(out, "{}", step_table(&r, "    ", state));
                        }
                    }
                }
            }
            r.push(row);
        }
        rows.push(r);
    }
    Ok(rows)
}

/// What follows the rows: the matrix `table` (text, not with --json), or the TAP or JUnit
/// document of every row; then the exit code.
pub fn finish(rows: &[Vec<Row>], a: &ExploreArgs, table: Option<String>) -> u8 {
    let mut out = std::io::stdout().lock();
    match a.format {
        Format::Text => {
            if let Some(t) = table.filter(|_| !a.json) {
                let _ = write!(out, "{t}");
            }
        }
        Format::Tap | Format::Junit => {
            let cases: Vec<ci::Case> = rows.iter().flatten().map(ci::case_of_row).collect();
            let doc = if a.format == Format::Tap { ci::tap(&cases) } else { ci::junit(&cases) };
            let _ = write!(out, "{doc}");
        }
    }
    run::exit_code(rows.iter().flatten())
}

/// ` (after a power failure)` for a witness that ends in one (`--crash`), so the text says
/// what the schedule's last element means.
pub fn crash_note(schedule: &str) -> &'static str {
    if schedule.rsplit(',').next().is_some_and(|e| e.starts_with("power-fail{")) {
        " (after a power failure)"
    } else {
        ""
    }
}

/// How often, herd-style, in one line: each label `Always`, `Sometimes` or `Never` over the end
/// states, then each label set with its number of distinct end states.
pub fn how_often_text(
    outcomes: &[pincheck::check::Outcome],
    how: &std::collections::BTreeMap<String, &'static str>,
) -> String {
    let word = |w: &str| match w {
        "always" => "Always",
        "sometimes" => "Sometimes",
        _ => "Never",
    };
    let labels: Vec<String> = how.iter().map(|(l, w)| format!("{} {l}", word(w))).collect();
    let total: u64 = outcomes.iter().map(|o| o.end_states).sum();
    let sets: Vec<String> =
        outcomes.iter().map(|o| format!("{} x{}", labels_text(&o.labels), o.end_states)).collect();
    let labels = if labels.is_empty() { "no label".to_string() } else { labels.join(", ") };
    format!(
        "how often: {labels}; over {total} end state{}: {}",
        if total == 1 { "" } else { "s" },
        sets.join(", ")
    )
}

/// One line of `check`: verdict, scenario, policy, labels, expectation, exploration facts; a
/// failure also names each unexpected label's witness.
pub fn check_line(r: &Row) -> String {
    let verdict = r.verdict.word();
    let expected = r
        .expected
        .as_ref()
        .map_or("no expectation".to_string(), |e| format!("expected {}", labels_text(e)));
    let mut s = format!(
        "{verdict} {} [{}]: {} ({expected}; {}, {}, {} states, {} schedules{})",
        r.scenario,
        r.policy,
        labels_text(&r.labels),
        r.explorer,
        if r.complete { "complete" } else { "INCOMPLETE" },
        r.states,
        r.schedules,
        if r.crash { ", a power failure after every step" } else { "" }
    );
    if let Some(l) = &r.limit {
        s.push_str(&format!("\n     limit: {l}"));
    }
    if let (Some(outcomes), Some(how)) = (&r.outcomes, &r.how_often) {
        s.push_str(&format!("\n     {}", how_often_text(outcomes, how)));
    }
    let e = r.expected.clone().unwrap_or_default();
    match r.verdict {
        Verdict::Fail => {
            for label in r.labels.iter().filter(|l| !e.contains(l)) {
                s.push_str(&format!(
                    "\n     unexpected {label}{}: {}",
                    crash_note(&r.witnesses[label]),
                    super::replay_hint(&r.file, &r.policy, &r.witnesses[label])
                ));
            }
            for label in e.iter().filter(|l| !r.labels.contains(l)) {
                if r.complete {
                    s.push_str(&format!("\n     expected but not reached: {label}"));
                } else {
                    s.push_str(&format!(
                        "\n     expected but not reached (in an incomplete exploration): {label}"
                    ));
                }
            }
        }
        Verdict::Incomplete => {
            let missing: Vec<&String> = e.iter().filter(|l| !r.labels.contains(l)).collect();
            if !missing.is_empty() {
                s.push_str(&format!(
                    "\n     not reached in this incomplete exploration (not evidence): {}",
                    missing.iter().map(|l| l.as_str()).collect::<Vec<_>>().join(" ")
                ));
            }
        }
        Verdict::Pass | Verdict::None => {}
    }
    s
}
