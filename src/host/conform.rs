//! The host beside the model: one scenario (`check --on host`) or the whole catalogue
//! (`pincheck conform`) run on the host kernel and explored under the preset of the host's
//! release. The model's labels are the union over every interleaving; a host run sees one
//! interleaving, so the host agrees when every label it observed is one the model reaches
//! (`host ⊆ model`), as klitmus7's observed outcomes are checked against herd7's allowed set.
//! Labels the model reaches and the host did not observe are listed as `unobserved`: a rare
//! window, or something the host cannot see (`use-after-free` without KASAN).

use super::exec::{self, HostOptions, HostResult};
use crate::check::{replay, ExploreOptions};
use crate::policy::Policy;
use crate::run::{self, Loaded, Row};
use serde::Serialize;

/// One scenario on the host and in the model.
#[derive(Clone, Debug, Serialize)]
pub struct Conformance {
    #[serde(flatten)]
    pub row: Row,
    pub model_labels: Vec<String>,
    /// `null` when the scenario did not run on the host (see `skipped`).
    pub host_labels: Option<Vec<String>>,
    /// `host_labels` ⊆ `model_labels`; `null` when the scenario did not run on the host.
    pub agree: Option<bool>,
    /// Model labels no host run observed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unobserved: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostResult>,
    /// Why the scenario did not run on the host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
}

/// What to run and how.
#[derive(Clone, Debug, Default)]
pub struct ConformOptions {
    /// How the model side is explored.
    pub explore: ExploreOptions,
    pub runs: usize,
    pub seed: u64,
    pub allow_crash: bool,
    /// The preset of the host's kernel, which decides whether a run would crash it.
    pub safety: Option<Policy>,
    /// A model schedule to follow at operation granularity.
    pub schedule: Option<String>,
    /// `--host-pages K` (0 or 1: one host page per scenario page).
    pub host_pages: usize,
    /// `--until-observed LABEL`.
    pub until: Option<String>,
    /// A progress line on stderr when it is a terminal.
    pub progress: bool,
    /// `--host-jitter US` (0: none).
    pub jitter_us: u64,
    /// `--host-read-bps`.
    pub read_bps: Option<u64>,
}

/// The preset that models the host's kernel, or a message saying why there is none.
pub fn host_preset() -> Result<(String, Policy), String> {
    let release = super::host_release()?;
    match super::preset_for_release(&release) {
        Some(p) => Ok((release, p)),
        None => Err(format!(
            "no preset models the host's kernel {release} (presets: {}); give --policy to compare with one",
            crate::policy::preset_names().join(", ")
        )),
    }
}

/// Explores `l` under `policy`, then (if the host can and it is safe) runs it on the host.
/// `Err` is bad input: a schedule that does not replay, or a host that cannot set up the run.
pub fn conform_one(l: &Loaded, policy: &Policy, o: &ConformOptions) -> Result<Conformance, String> {
    let xo = ExploreOptions { progress: false, ..o.explore.clone() };
    let row = run::check_one(l, policy, &xo);
    let model_labels = row.labels.clone();
    let mut c = Conformance {
        row,
        model_labels,
        host_labels: None,
        agree: None,
        unobserved: None,
        host: None,
        skipped: None,
    };
    if let Some(why) = exec::not_runnable(&l.ast) {
        c.skipped = Some(format!("not host-runnable: {why}"));
        return Ok(c);
    }
    if !o.allow_crash {
        // Whether the host would crash is the host kernel's preset's question, whatever the
        // comparison is made with (--policy, --mutate); without one, the comparison's answer.
        let judge = o.safety.as_ref().unwrap_or(policy);
        let crashes = if judge.name == policy.name && judge.mutation == policy.mutation {
            c.model_labels.iter().any(|x| x == "bug")
        } else {
            run::check_one(l, judge, &xo).labels.iter().any(|x| x == "bug")
        };
        if crashes {
            c.skipped = Some(format!(
                "the model predicts `bug` (a kernel crash) under {}; --allow-crash runs it anyway",
                judge.name
            ));
            return Ok(c);
        }
    }
    let order = match &o.schedule {
        Some(s) => Some(
            replay::statement_order(&l.program, policy, s)
                .map_err(|e| format!("{}: --schedule: {e}", l.ast.path))?,
        ),
        None => None,
    };
    let host = exec::run(
        &l.ast,
        &HostOptions {
            runs: o.runs.max(1),
            seed: o.seed,
            order,
            pages: o.host_pages,
            until: o.until.clone(),
            progress: o.progress,
            jitter_us: o.jitter_us,
            read_bps: o.read_bps,
        },
    )?;
    if host.runs == 0 {
        // Interrupted before the first run: nothing to compare.
        c.skipped = Some("interrupted before the first host run".into());
        c.host = Some(host);
        return Ok(c);
    }
    let agree = host.labels.iter().all(|x| c.model_labels.contains(x));
    c.unobserved =
        Some(c.model_labels.iter().filter(|x| !host.labels.contains(x)).cloned().collect());
    c.host_labels = Some(host.labels.clone());
    c.agree = Some(agree);
    c.host = Some(host);
    Ok(c)
}

/// The catalogue on the host: the rows that ran (or were skipped with a reason), and, after an
/// interruption, the scenarios never reached.
#[derive(Clone, Debug, Default)]
pub struct CatalogueRun {
    pub rows: Vec<Conformance>,
    /// Scenario names not reached because the run was interrupted.
    pub not_run: Vec<String>,
}

impl CatalogueRun {
    /// Whether anything was cut short: scenarios not reached, or a scenario whose runs were
    /// stopped before all were done.
    pub fn interrupted(&self) -> bool {
        !self.not_run.is_empty() || self.rows.iter().any(|c| c.interrupted())
    }
}

impl Conformance {
    /// The host runs of this scenario were stopped before all were done.
    pub fn interrupted(&self) -> bool {
        self.host.as_ref().is_some_and(|h| h.interrupted)
    }
}

/// Every catalogue scenario under `policy`. After Ctrl-C the scenarios not reached are listed
/// in `not_run`, never dropped.
pub fn conform_catalogue(policy: &Policy, o: &ConformOptions) -> Result<CatalogueRun, String> {
    let mut out = CatalogueRun::default();
    for src in run::catalogue_sources() {
        let l = run::load(&src).map_err(|e| e.to_string())?;
        if crate::check::INTERRUPTED.load(std::sync::atomic::Ordering::Relaxed) {
            out.not_run.push(l.ast.name.text.clone());
            continue;
        }
        out.rows.push(conform_one_or_skip(&l, policy, o));
    }
    Ok(out)
}

/// [`conform_one`], with a host that fails to set the run up reported as the row's `skipped`
/// reason, so one scenario does not stop the others.
pub fn conform_one_or_skip(l: &Loaded, policy: &Policy, o: &ConformOptions) -> Conformance {
    conform_one(l, policy, o).unwrap_or_else(|why| {
        let xo = ExploreOptions { progress: false, ..o.explore.clone() };
        let row = run::check_one(l, policy, &xo);
        Conformance {
            model_labels: row.labels.clone(),
            row,
            host_labels: None,
            agree: None,
            unobserved: None,
            host: None,
            skipped: Some(format!("the host run failed: {why}")),
        }
    })
}
