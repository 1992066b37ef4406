//! Results to look at: the scenario × policy matrix as one self-contained HTML page
//! (`pincheck report`), each cell's witnesses as SVG sequence diagrams (`svg.rs`), the page
//! around them (`html.rs`). A layer above `run` and `check`: it explores through
//! `run::check_one`, replays witnesses through `check::replay`, and reads the machine through
//! `model::snapshot`; nothing here changes a result.

pub mod diff;
pub mod html;
pub mod svg;

use crate::check::replay::{self, Replay};
use crate::check::{named_moves, ExploreOptions};
use crate::model::{self, Cx, Program};
use crate::policy::Policy;
use crate::run::{self, InputError, Loaded, Row, Source};

/// `s` as XML (and HTML) character data or an attribute value: the five special characters as
/// entities, and the characters XML 1.0 cannot carry (control characters other than tab and
/// line breaks, U+FFFE, U+FFFF) as U+FFFD. The JUnit writer (`--format junit`) uses it too.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// One witness of a cell: the labels it was recorded for, its schedule, its replay.
pub struct Witness {
    pub labels: Vec<String>,
    pub schedule: String,
    pub replay: Replay,
    /// Not a witness of a label but one interleaving of a cell that reached none
    /// ([`first_run`]).
    pub representative: bool,
}

/// One (scenario, policy) cell.
pub struct Cell {
    pub policy: Policy,
    pub row: Row,
    pub witnesses: Vec<Witness>,
}

/// One scenario and its cells.
pub struct ScenarioReport {
    pub source: Source,
    pub name: String,
    pub about: Option<String>,
    pub cells: Vec<Cell>,
}

/// How a cell looks in the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// No label.
    Ok,
    /// Only `OP:ERRNO` labels: the kernel refused, nothing broke.
    Errno,
    /// A violation label (`bug`, `warn`, `data-loss`, ...).
    Violation,
}

impl Verdict {
    pub fn of(labels: &[String]) -> Verdict {
        if labels.is_empty() {
            Verdict::Ok
        } else if labels.iter().all(|l| l.contains(':')) {
            Verdict::Errno
        } else {
            Verdict::Violation
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Errno => "errno",
            Verdict::Violation => "bad",
        }
    }
}

/// One complete interleaving of `prog` under `policy`: at each step the first task that can
/// run (a `maybe` statement happens). Every interleaving of a cell whose exhaustive
/// exploration reached no label ends `ok`, so this one shows what such a cell's runs do. The
/// model's state graph is acyclic; the bound only guards against a model bug.
pub fn first_run(prog: &Program, policy: &Policy) -> String {
    let mut cx = Cx::new(prog, policy);
    let mut w = prog.initial.clone();
    let mut names = Vec::new();
    while names.len() < crate::limits::STEPS_MAX {
        let Some((m, name)) = named_moves(&w, &cx).into_iter().next() else { break };
        names.push(name);
        model::step(&mut w, &mut cx, m);
    }
    crate::check::schedule::format(&names)
}

/// Explores one loaded scenario under `policies` and replays each cell's witnesses (one
/// replay per distinct schedule; a cell without labels gets [`first_run`]).
pub fn scenario(
    l: &Loaded,
    src: &Source,
    policies: &[Policy],
    opts: &ExploreOptions,
) -> ScenarioReport {
    let mut cells = Vec::new();
    for p in policies {
        let row = run::check_one(l, p, opts);
        let mut witnesses: Vec<Witness> = Vec::new();
        for (label, schedule) in &row.witnesses {
            if let Some(w) = witnesses.iter_mut().find(|w| w.schedule == *schedule) {
                w.labels.push(label.clone());
                continue;
            }
            if let Ok(r) = replay::replay(&l.program, p, schedule) {
                witnesses.push(Witness {
                    labels: vec![label.clone()],
                    schedule: schedule.clone(),
                    replay: r,
                    representative: false,
                });
            }
        }
        if witnesses.is_empty() {
            let schedule = first_run(&l.program, p);
            if let Ok(r) = replay::replay(&l.program, p, &schedule) {
                witnesses.push(Witness {
                    labels: r.labels.clone(),
                    schedule,
                    replay: r,
                    representative: true,
                });
            }
        }
        cells.push(Cell { policy: p.clone(), row, witnesses });
    }
    ScenarioReport {
        source: src.clone(),
        name: l.program.name.clone(),
        about: l.ast.about.clone(),
        cells,
    }
}

/// The report of `srcs`: each scenario under `given` policies, or those its `expect` lines
/// name (every preset when it has none). Bad input anywhere stops before any exploration.
pub fn build(
    srcs: &[Source],
    given: Option<&[Policy]>,
    opts: &ExploreOptions,
) -> Result<Vec<ScenarioReport>, InputError> {
    let loaded: Vec<Loaded> = srcs.iter().map(run::load).collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (l, src) in loaded.iter().zip(srcs) {
        let policies = run::policies_for(l, given)?;
        out.push(scenario(l, src, &policies, opts));
    }
    Ok(out)
}
