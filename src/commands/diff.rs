//! `pincheck diff FILE --policy A --policy B`: where two policies part. Both are explored; a
//! witness of a label one reaches and the other does not (or `--schedule`) is replayed under
//! both side by side, up to and past the first step where they diverge; the label sets are
//! shown side by side. Exit codes, as diff(1): 0 the interleaving runs the same under both (and
//! without --schedule, the explorations reach the same labels), 1 they differ, 2 bad input.

use super::labels_text;
use pincheck::check::ExploreOptions;
use pincheck::model::snapshot::Snapshot;
use pincheck::policy::Policy;
use pincheck::report::diff::{self, Divergence, Side};
use pincheck::run::{self, InputError};
use std::fmt::Write as _;
use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    pub path: String,
    /// The two policies, `--policy A --policy B` (presets, `PRESET+KNOB=VALUE`, `P~MUTATION`).
    #[arg(long = "policy", required = true, num_args = 1)]
    pub policies: Vec<String>,
    /// Replay this schedule instead of a witness the explorations find.
    #[arg(long)]
    pub schedule: Option<String>,
    /// Of the labels one policy reaches and the other does not, the one whose witness to
    /// replay (default: the first, violations before errnos).
    #[arg(long, conflicts_with = "schedule")]
    pub label: Option<String>,
    #[command(flatten)]
    pub args: DiffExplore,
}

/// The exploration options that make sense here (the rest of `check`'s are not offered).
#[derive(clap::Args)]
pub struct DiffExplore {
    /// Bound on distinct states of the exhaustive explorer.
    #[arg(long, default_value_t = pincheck::limits::STATES_MAX_DEFAULT)]
    pub max_states: usize,
    /// Also explore a power failure after every step.
    #[arg(long)]
    pub crash: bool,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    if a.policies.len() != 2 {
        return Err(InputError::Usage(format!(
            "diff compares two policies: give --policy twice (got {})",
            a.policies.len()
        )));
    }
    let pa = Policy::by_name(&a.policies[0]).map_err(InputError::Usage)?;
    let pb = Policy::by_name(&a.policies[1]).map_err(InputError::Usage)?;
    let src = super::sources(std::slice::from_ref(&a.path))?.remove(0);
    let l = run::load(&src)?;
    let (na, nb) = (a.policies[0].as_str(), a.policies[1].as_str());
    let mut out = String::new();
    let _ = writeln!(out, "{}: {na} vs {nb}", l.program.name);

    let opts = ExploreOptions {
        max_states: a.args.max_states,
        crash: a.args.crash,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..ExploreOptions::default()
    };
    let (schedule, labels_differ) = match &a.schedule {
        Some(s) => (s.clone(), false),
        None => {
            let xa = run::check_one(&l, &pa, &opts);
            let xb = run::check_one(&l, &pb, &opts);
            let w = na.len().max(nb.len());
            for x in [&xa, &xb] {
                let _ = writeln!(
                    out,
                    "  {:<w$}  {}{}",
                    x.policy,
                    labels_text(&x.labels),
                    if x.complete { "" } else { "  (INCOMPLETE exploration)" }
                );
            }
            let only = |x: &run::Row, y: &run::Row| -> Vec<String> {
                x.labels.iter().filter(|l| !y.labels.contains(l)).cloned().collect()
            };
            let mut cands: Vec<(String, &run::Row)> = only(&xa, &xb)
                .into_iter()
                .map(|l| (l, &xa))
                .chain(only(&xb, &xa).into_iter().map(|l| (l, &xb)))
                .collect();
            // Violations first: they are what a design is judged by.
            cands.sort_by_key(|(l, _)| l.contains(':'));
            let chosen = match &a.label {
                Some(want) => cands.iter().find(|(l, _)| l == want).ok_or_else(|| {
                    InputError::Usage(format!(
                        "`{want}` is not reached by exactly one of the two; those that are: {}",
                        if cands.is_empty() {
                            "none".to_string()
                        } else {
                            cands.iter().map(|(l, _)| l.as_str()).collect::<Vec<_>>().join(", ")
                        }
                    ))
                })?,
                None => match cands.first() {
                    Some(c) => c,
                    None => {
                        let _ = writeln!(
                            out,
                            "both reach the same labels; give --schedule to compare one interleaving"
                        );
                        print!("{out}");
                        return Ok(0);
                    }
                },
            };
            let (label, row) = chosen;
            let s = row.witnesses[label].clone();
            let _ = writeln!(out, "witness of {label} (reached under {} only): {s}", row.policy);
            (s, true)
        }
    };
    let d = diff::lockstep(&l.program, &pa, &pb, &schedule).map_err(InputError::Usage)?;
    out.push_str(&render(&d, na, nb));
    print!("{out}");
    let _ = std::io::stdout().flush();
    Ok(if d.first.is_some() || labels_differ { 1 } else { 0 })
}

fn render(d: &diff::Diff, na: &str, nb: &str) -> String {
    let mut s = String::new();
    let width = d.steps.iter().map(|s| s.task.len()).max().unwrap_or(4).max(4);
    let pw = na.len().max(nb.len());
    let first = d.first.as_ref().map(|(i, _)| *i);
    let side_lines = |s: &mut String, name: &str, side: &Side| {
        let lines: Vec<String> = match &side.lines {
            Some(l) if l.is_empty() => vec!["(nothing visible)".to_string()],
            Some(l) => l.clone(),
            None => vec![format!("cannot run; runnable: {}", side.runnable.join(", "))],
        };
        for (k, l) in lines.iter().enumerate() {
            let tag = if k == 0 { format!("{name}:") } else { String::new() };
            let _ = writeln!(s, "{:>4}  {:<width$}  {tag:<w$} {l}", "", "", w = pw + 1);
        }
    };
    let _ = writeln!(s, "{:>4}  {:<width$}  what the kernel did", "step", "task");
    for (i, st) in d.steps.iter().enumerate() {
        let mark = if Some(i) == first { ">" } else { " " };
        match (&st.a.lines, &st.b.lines) {
            (Some(la), Some(lb)) if la == lb => {
                let head = la.first().map(String::as_str).unwrap_or("(nothing visible)");
                // Before the divergence a step is one line; from it on, every line.
                let collapse = first.is_none_or(|f| i < f);
                let mut note = String::new();
                if collapse && la.len() > 1 {
                    let _ = write!(note, "  [+{} lines, the same under both]", la.len() - 1);
                }
                if st.a.state != st.b.state {
                    note.push_str("  [the machine differs]");
                }
                let _ = writeln!(s, "{mark}{:>3}  {:<width$}  {head}{note}", i + 1, st.task);
                for l in la.iter().skip(1).filter(|_| !collapse) {
                    let _ = writeln!(s, "{:>4}  {:<width$}  {l}", "", "");
                }
            }
            _ => {
                let _ = writeln!(s, "{mark}{:>3}  {}", i + 1, st.task);
                side_lines(&mut s, na, &st.a);
                side_lines(&mut s, nb, &st.b);
            }
        }
        if Some(i) == first {
            let (_, kind) = d.first.as_ref().expect("first");
            let _ = writeln!(s, "      ^ first divergence: {}", kind.describe());
            if let Divergence::State | Divergence::Text = kind {
                if let (Some(x), Some(y)) = (&st.a.state, &st.b.state) {
                    s.push_str(&state_diff(x, y, na, nb));
                }
            }
        }
    }
    if Some(d.steps.len()) == first {
        let _ = writeln!(s, "      ^ first divergence: {}", Divergence::End.describe());
    }
    for (name, end, stopped) in [(na, &d.end_a, &d.stopped_a), (nb, &d.end_b, &d.stopped_b)] {
        match (end, stopped) {
            (_, Some(why)) => {
                let _ = writeln!(s, "{name}: stopped: {why}");
            }
            (Some(lines), None) if lines.is_empty() => {
                let _ =
                    writeln!(s, "{name}: the machine is down (BUG) or lost power: no final sync");
            }
            (Some(lines), None) => {
                let _ = writeln!(s, "{name}: end of interleaving: {}", lines.join("; "));
            }
            (None, None) => {
                let _ = writeln!(s, "{name}: the schedule ends before the interleaving does");
            }
        }
    }
    let _ = writeln!(s, "labels of this interleaving:");
    let _ = writeln!(s, "  {na:<pw$}  {}", labels_text(&d.labels_a));
    let _ = writeln!(s, "  {nb:<pw$}  {}", labels_text(&d.labels_b));
    if d.first.is_none() {
        let _ = writeln!(s, "no divergence: the same steps and the same machine under both");
    }
    s
}

/// The lines of the two state tables that differ, `-` first policy, `+` second.
fn state_diff(a: &Snapshot, b: &Snapshot, na: &str, nb: &str) -> String {
    let ta = a.table("");
    let tb = b.table("");
    let la: Vec<&str> = ta.lines().collect();
    let lb: Vec<&str> = tb.lines().collect();
    let mut s = format!("      the machine after it (- {na}, + {nb}; lines that differ):\n");
    for l in la.iter().filter(|l| !lb.contains(l)) {
        let _ = writeln!(s, "      - {l}");
    }
    for l in lb.iter().filter(|l| !la.contains(l)) {
        let _ = writeln!(s, "      + {l}");
    }
    s
}
