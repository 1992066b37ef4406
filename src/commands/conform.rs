//! `pincheck conform` (the catalogue on the host kernel beside the model) and `check --on host`
//! (chosen files), with the text they share.

use super::HostArgs;
use super::{labels_text, options, ExploreArgs};
use pincheck::check::ExploreOptions;
use pincheck::run::{self, InputError};
use std::io::Write;

/// `check --on host`: each scenario explored under one policy and run on the host.
pub fn check_on_host(paths: &[String], a: &ExploreArgs, h: &HostArgs) -> Result<u8, InputError> {
    use pincheck::host::conform;
    if a.format != super::ci::Format::Text {
        return Err(InputError::Usage(
            "--format with --on host: not yet; `pincheck conform --format tap|junit` runs the catalogue on the host for CI".into(),
        ));
    }
    let policy = match super::given_policies(a)? {
        Some(mut l) => {
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
        host_pages: h.host_pages.unwrap_or(1) as usize,
        until: h.until_observed.clone(),
        progress: !a.json,
        jitter_us: h.host_jitter.unwrap_or(0),
        read_bps: h.host_read_bps,
    };
    let mut out = std::io::stdout().lock();
    let mut disagree = false;
    let mut skipped = false;
    let mut cut = false;
    let mut not_run: Vec<String> = Vec::new();
    for l in &loaded {
        if pincheck::check::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            not_run.push(l.ast.path.clone());
            continue;
        }
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
        cut |= c.interrupted();
        if c.host.as_ref().is_some_and(|h| h.runs == 0) {
            not_run.push(l.ast.path.clone());
            continue;
        }
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
    let interrupted = cut || !not_run.is_empty();
    if interrupted {
        if a.json {
            let v = serde_json::json!({ "interrupted": true, "not_run": not_run });
            let _ = writeln!(out, "{v}");
        }
        eprintln!(
            "pincheck: interrupted{}",
            if not_run.is_empty() {
                String::new()
            } else {
                format!("; not run on the host: {}", not_run.join(", "))
            }
        );
    }
    Ok(exit_code(disagree, skipped, interrupted))
}

/// The exit status of a host comparison: 1 a disagreement, 2 a scenario that could not run
/// (or bad input), 3 interrupted (Ctrl-C, SIGTERM) with neither, 0 all ran and agreed.
pub fn exit_code(disagree: bool, skipped: bool, interrupted: bool) -> u8 {
    if disagree {
        1
    } else if skipped {
        2
    } else if interrupted {
        3
    } else {
        0
    }
}

pub fn conformance_text(c: &pincheck::host::conform::Conformance) -> String {
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
    // A disagreement is final; an agreement over runs cut short is not a verdict.
    let verdict = match c.agree {
        Some(false) => "DISAGREE",
        _ if h.interrupted => "INCOMPLETE",
        Some(true) => "AGREE",
        None => "NOT RUN",
    };
    let runs = if h.interrupted {
        format!("{} of {} runs", h.runs, h.planned)
    } else {
        format!("{} run{}", h.runs, if h.runs == 1 { "" } else { "s" })
    };
    s.push_str(&format!(
        "{verdict} {}: host ({runs}): {}; model [{}]: {}\n",
        c.row.scenario,
        labels_text(&h.labels),
        c.row.policy,
        labels_text(&c.model_labels)
    ));
    if h.host_pages > 1 {
        s.push_str(&format!(
            "     --host-pages {}: each scenario page was {} contiguous host pages\n",
            h.host_pages, h.host_pages
        ));
    }
    if let Some(us) = h.jitter_us {
        s.push_str(&format!(
            "     --host-jitter {us}: each thread started after a random delay below {us} us\n"
        ));
    }
    if let Some(b) = h.read_bps {
        s.push_str(&format!(
            "     --host-read-bps {b}: reads from the scratch device were throttled to {b} bytes/s\n"
        ));
    }
    if h.runs > 1 {
        let outcomes: Vec<String> = h.outcomes.iter().map(|(k, n)| format!("{k} x{n}")).collect();
        s.push_str(&format!("     host outcomes: {}\n", outcomes.join(", ")));
        s.push_str(&rates_text(c));
    }
    if let Some(u) = &h.until {
        if h.observed {
            s.push_str(&format!("     {u} observed in run {}; stopped there\n", h.runs));
        } else if !h.interrupted {
            s.push_str(&format!("     {u} not observed in {} runs\n", h.runs));
        }
    }
    if let Some(u) = c.unobserved.as_ref().filter(|u| !u.is_empty()) {
        s.push_str(&format!("     reached by the model, not observed: {}\n", u.join(" ")));
        for label in u {
            if let Some(w) = c.row.witnesses.get(label) {
                s.push_str(&format!(
                    "     {label}: {}\n",
                    super::replay_hint(&c.row.file, &c.row.policy, w)
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
        s.push_str(&format!(
            "     interrupted after {} of {} runs: labels not observed are not evidence\n",
            h.runs, h.planned
        ));
    }
    s
}

/// For each label the host observed or the model reaches: the runs that reached it and the
/// rate per run with its 95 % Wilson score interval.
pub fn rates_text(c: &pincheck::host::conform::Conformance) -> String {
    let Some(h) = &c.host else { return String::new() };
    let mut labels: Vec<String> = h.labels.clone();
    for l in &c.model_labels {
        if !labels.contains(l) {
            labels.push(l.clone());
        }
    }
    let mut s = String::new();
    for l in labels {
        let k: usize = h
            .outcomes
            .iter()
            .filter(|(set, _)| set.split(' ').any(|x| x == l))
            .map(|(_, n)| n)
            .sum();
        let (lo, hi) = pincheck::host::exec::wilson95(k, h.runs);
        s.push_str(&format!(
            "     {l}: {k} of {} runs, {} (95% Wilson interval {} to {})\n",
            h.runs,
            percent(k as f64 / h.runs.max(1) as f64),
            percent(lo),
            percent(hi)
        ));
    }
    s
}

fn percent(p: f64) -> String {
    if p < 1e-9 {
        "0%".to_string()
    } else if p < 0.0001 {
        format!("{:.5}%", p * 100.0)
    } else {
        format!("{:.3}%", p * 100.0)
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// Host runs of each scenario.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Seed of the host runs' choices (`maybe` statements).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Also run scenarios whose model outcome includes `bug`.
    #[arg(long)]
    pub allow_crash: bool,
    /// One JSON object per line: the fields of `check` plus `host_labels`, `model_labels`
    /// and `agree`; then the pin table's rows.
    #[arg(long)]
    pub json: bool,
    /// `tap` or `junit` for CI: one test per catalogue scenario and per pin-table row, skipped
    /// with the reason when it could not run on the host.
    #[arg(long, value_enum, default_value = "text", conflicts_with = "json")]
    pub format: super::ci::Format,
}

/// `pincheck conform`.
pub fn run(a: &Args) -> Result<u8, InputError> {
    let (runs, seed, allow_crash, json) = (a.runs, a.seed, a.allow_crash, a.json);
    use pincheck::host::{self, conform};
    let (release, preset) = conform::host_preset().map_err(InputError::Usage)?;
    let o = conform::ConformOptions {
        explore: ExploreOptions { progress: false, ..ExploreOptions::default() },
        runs,
        seed,
        allow_crash,
        safety: Some(preset.clone()),
        schedule: None,
        host_pages: 1,
        until: None,
        progress: false,
        jitter_us: 0,
        read_bps: None,
    };
    let cat = conform::conform_catalogue(&preset, &o).map_err(InputError::Usage)?;
    let rows = &cat.rows;
    let pins = host::pin_table(Some(&preset));
    let pins_cut: Vec<String> = pins
        .iter()
        .filter(|r| r.skipped.as_deref() == Some("interrupted"))
        .map(|r| format!("{} {}", r.fs, r.mapping))
        .collect();
    let cut: Vec<String> =
        rows.iter().filter(|c| c.interrupted()).map(|c| c.row.scenario.clone()).collect();
    let interrupted = cat.interrupted() || !pins_cut.is_empty();
    let mut out = std::io::stdout().lock();
    if a.format != super::ci::Format::Text {
        let mut cases: Vec<super::ci::Case> =
            rows.iter().map(super::ci::case_of_conformance).collect();
        cases.extend(pins.iter().map(|r| super::ci::case_of_pin_row(r, &preset.name)));
        let doc = match a.format {
            super::ci::Format::Tap => super::ci::tap(&cases),
            _ => super::ci::junit(&cases),
        };
        let _ = write!(out, "{doc}");
    } else if json {
        for c in rows {
            let _ = writeln!(out, "{}", serde_json::to_string(c).expect("rows serialize"));
        }
        for r in &pins {
            let mut v = serde_json::to_value(r).expect("a row serializes");
            v["kernel"] = release.clone().into();
            v["policy"] = preset.name.clone().into();
            let _ = writeln!(out, "{v}");
        }
        if interrupted {
            let v = serde_json::json!({
                "interrupted": true,
                "not_run": cat.not_run,
                "cut_short": cut,
                "pin_rows_not_run": pins_cut,
            });
            let _ = writeln!(out, "{v}");
        }
    } else {
        let _ = writeln!(out, "host kernel {release}, model preset {}", preset.name);
        let _ = writeln!(out, "catalogue scenarios on the host beside the model:");
        let host_text = |c: &pincheck::host::conform::Conformance| {
            c.host_labels.as_deref().map_or("-".to_string(), labels_text)
        };
        let w = rows.iter().map(|c| c.row.scenario.len()).max().unwrap_or(8);
        let hw = rows.iter().map(|c| host_text(c).len()).max().unwrap_or(4).max(4);
        let mw = rows.iter().map(|c| labels_text(&c.model_labels).len()).max().unwrap_or(5);
        let _ = writeln!(out, "{:<w$}  {:<hw$}  {:<mw$}  agree", "scenario", "host", "model");
        for c in rows {
            let agree = match (c.agree, c.unobserved.as_deref()) {
                (Some(true), Some(u)) if !u.is_empty() => {
                    format!("yes (not observed: {})", u.join(" "))
                }
                (Some(true), _) if c.interrupted() => "yes so far (interrupted)".to_string(),
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
        // The second table: research/kernel-probe.md §1, as `pincheck host-pins` prints it.
        let _ = writeln!(
            out,
            "long-term pins of file pages (io_uring fixed buffers, as `pincheck host-pins`): host beside model [{}]",
            preset.name
        );
        let _ = write!(out, "{}", super::host_pins::pin_table_text(&pins));
    }
    let ran = rows.iter().filter(|c| c.agree.is_some()).count();
    let total = rows.len() + cat.not_run.len();
    let bad = rows.iter().filter(|c| c.agree == Some(false)).count()
        + pins.iter().filter(|r| r.agree == Some(false)).count();
    if interrupted {
        let mut what = Vec::new();
        if !cat.not_run.is_empty() {
            what.push(format!("not reached: {}", cat.not_run.join(", ")));
        }
        if !cut.is_empty() {
            what.push(format!("runs cut short: {}", cut.join(", ")));
        }
        if !pins_cut.is_empty() {
            what.push(format!("pin table rows not run: {}", pins_cut.join(", ")));
        }
        eprintln!("INTERRUPTED: {}", what.join("; "));
    }
    eprintln!(
        "{ran} of {total} catalogue scenarios ran on the host{}; {bad} disagreement{}",
        if interrupted { " before the interruption" } else { "" },
        if bad == 1 { "" } else { "s" }
    );
    Ok(exit_code(bad > 0, false, interrupted))
}
