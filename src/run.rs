//! Checking scenario files against their `expect` lines: loading files and directories, choosing
//! the policies, exploring, and comparing. The command line (`src/main.rs`) only formats what
//! this returns; the catalogue test calls the same `check_source`.

use crate::check::{self, Exploration, ExploreOptions};
use crate::model;
use crate::policy::Policy;
use crate::scenario::{self, Diag, Span};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

/// A scenario file's path and text.
#[derive(Clone, Debug)]
pub struct Source {
    pub path: String,
    pub text: String,
}

/// Bad input: exit code 2.
#[derive(Debug)]
pub enum InputError {
    /// A problem inside a scenario file, with its position.
    Scenario(Diag),
    /// A problem with the command line or the file system.
    Usage(String),
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputError::Scenario(d) => write!(f, "{d}"),
            InputError::Usage(m) => write!(f, "{m}"),
        }
    }
}

/// One (scenario, policy) result, as the JSON output prints it.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub scenario: String,
    pub file: String,
    pub policy: String,
    pub explorer: &'static str,
    pub complete: bool,
    pub states: u64,
    pub transitions: u64,
    pub schedules: u64,
    pub labels: Vec<String>,
    pub expected: Option<Vec<String>>,
    /// `true` when the expectation holds on a complete exploration, `false` when it does not
    /// (a label reached that is not expected, or, complete, one expected and never reached);
    /// `null` without an expectation or when the exploration was incomplete and nothing failed.
    pub pass: Option<bool>,
    /// `pass`, `fail`, `incomplete` (nothing failed, but the exploration did not cover every
    /// interleaving, so the labels are a lower bound) or `none` (no expectation, complete).
    pub verdict: Verdict,
    pub witnesses: BTreeMap<String, String>,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
    /// `--crash`: a power failure was explored after every step (witnesses that need one end
    /// in `power-fail{...}`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub crash: bool,
    /// How often (complete exhaustive explorations without `--crash`; `null` otherwise): each
    /// label set ending an interleaving, with its number of distinct end states.
    pub outcomes: Option<Vec<check::Outcome>>,
    /// With `outcomes`: each label reached or expected, `always`, `sometimes` or `never` over
    /// the end states.
    pub how_often: Option<BTreeMap<String, &'static str>>,
    /// What the policy paid in this scenario (docs/design.md, "Costs").
    pub costs: RowCosts,
}

/// The `costs` object of a row: the exploration's cost counters (each the maximum over the
/// interleavings explored, `model::label::Costs`, flattened into the object) and `refused`, the
/// number of `OP:ERRNO` labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RowCosts {
    #[serde(flatten)]
    pub paid: crate::model::label::Costs,
    pub refused: u8,
}

impl RowCosts {
    pub fn new(c: &crate::model::label::Costs, labels: &[String]) -> RowCosts {
        RowCosts {
            paid: *c,
            refused: labels.iter().filter(|l| l.contains(':')).count().min(255) as u8,
        }
    }

    /// (short name, value) for tables, in a fixed order.
    pub fn fields(&self) -> [(&'static str, u8); 9] {
        let c = &self.paid;
        [
            ("bounce", c.bounce_copies),
            ("kept-dirty", c.kept_dirty),
            ("resv", c.reserved_peak),
            ("pin-resv", c.pin_reserved_peak),
            ("pin-resv-syncs", c.pin_reserved_syncs),
            ("breaks", c.lease_breaks),
            ("revoked", c.revocations),
            ("waits", c.waits),
            ("refused", self.refused),
        ]
    }

    /// The nonzero counters, `bounce=2 resv=1`, or `-` when the design paid nothing.
    pub fn text(&self) -> String {
        let parts: Vec<String> =
            self.fields().iter().filter(|(_, v)| *v > 0).map(|(n, v)| format!("{n}={v}")).collect();
        if parts.is_empty() {
            "-".into()
        } else {
            parts.join(" ")
        }
    }

    /// Adds `o` counter by counter (saturating), for totals over scenarios.
    pub fn add(&mut self, o: &RowCosts) {
        self.paid.combine(&o.paid, u8::saturating_add);
        self.refused = self.refused.saturating_add(o.refused);
    }
}

/// What one (scenario, policy) result establishes. An incomplete exploration (a limit, an
/// interruption, a sampling explorer, the `auto` fallback to random runs) is never a pass: a
/// label missing from a sample is not evidence. A label reached is, so an unexpected label
/// fails even an incomplete exploration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Incomplete,
    None,
}

impl Verdict {
    pub fn of(labels: &[String], expected: Option<&[String]>, complete: bool) -> Verdict {
        let unexpected = expected.is_some_and(|e| labels.iter().any(|l| !e.contains(l)));
        match (expected, complete) {
            (Some(_), _) if unexpected => Verdict::Fail,
            (_, false) => Verdict::Incomplete,
            (Some(e), true) if e != labels => Verdict::Fail,
            (Some(_), true) => Verdict::Pass,
            (None, true) => Verdict::None,
        }
    }

    /// The word `check` prints.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::Incomplete => "INCOMPLETE",
            Verdict::None => "----",
        }
    }
}

/// The exit status of a run (shared/SCENARIOS.md, "Command line"): 1 if anything failed, else
/// 3 if any exploration was incomplete, else 0.
pub fn exit_code<'a>(rows: impl IntoIterator<Item = &'a Row>) -> u8 {
    let mut code = 0;
    for r in rows {
        match r.verdict {
            Verdict::Fail => return 1,
            Verdict::Incomplete => code = 3,
            _ => {}
        }
    }
    code
}

/// The built-in catalogue as sources. A catalogue source's `path` is its name: every path
/// pincheck prints for it (diagnostics, `file` in JSON, `replay` hints) works from any
/// directory, because every command resolves a catalogue name (`load_paths`).
pub fn catalogue_sources() -> Vec<Source> {
    crate::catalogue::entries()
        .map(|(p, t)| Source { path: p.to_string(), text: t.to_string() })
        .collect()
}

/// The catalogue scenario `name`, if there is one.
pub fn catalogue_source(name: &str) -> Option<Source> {
    crate::catalogue::by_name(name).map(|t| Source { path: name.to_string(), text: t.to_string() })
}

/// What a command-line argument that is no file names in the catalogue: `NAME`, or
/// `scenarios/NAME.pin` (a path printed by older versions, or the source tree's, used from
/// another directory).
fn catalogue_arg(a: &str) -> Option<Source> {
    let name = match a.strip_suffix(".pin") {
        Some(stem) if a.starts_with("scenarios/") || a.contains("/scenarios/") => {
            stem.rsplit('/').next().unwrap_or(stem)
        }
        Some(_) => return None,
        None => a,
    };
    catalogue_source(name)
}

/// Reads files and directories (`*.pin` inside, sorted by name); an argument that names no
/// file or directory but a catalogue scenario (`pincheck list`) is that scenario. Every command
/// that takes scenario paths goes through here.
pub fn load_paths(args: &[String]) -> Result<Vec<Source>, InputError> {
    let mut out = Vec::new();
    for a in args {
        let p = Path::new(a);
        if !p.exists() {
            if let Some(src) = catalogue_arg(a) {
                out.push(src);
                continue;
            }
            if !a.contains('/') && !a.ends_with(".pin") {
                return Err(InputError::Usage(format!(
                    "{a}: no such file, directory or catalogue scenario (`pincheck list` names them)"
                )));
            }
        }
        if p.is_dir() {
            let mut files: Vec<String> = std::fs::read_dir(p)
                .map_err(|e| InputError::Usage(format!("{a}: {e}")))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pin"))
                .map(|p| p.to_string_lossy().into_owned())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(InputError::Usage(format!("{a}: no .pin files in this directory")));
            }
            for f in files {
                out.push(read(&f)?);
            }
        } else {
            out.push(read(a)?);
        }
    }
    Ok(out)
}

fn read(path: &str) -> Result<Source, InputError> {
    Ok(Source { path: path.to_string(), text: read_text(path)? })
}

/// The text of input file `path` (a scenario, a policy file, a host file): at most
/// `limits::INPUT_BYTES_MAX` bytes (past that, an error: a device such as `/dev/zero` never
/// ends), in UTF-8 (`utf8`).
pub fn read_text(path: &str) -> Result<String, InputError> {
    use std::io::Read;
    let error = |e: std::io::Error| InputError::Usage(format!("{path}: {e}"));
    let file = std::fs::File::open(path).map_err(error)?;
    let mut bytes = Vec::new();
    file.take(crate::limits::INPUT_BYTES_MAX + 1).read_to_end(&mut bytes).map_err(error)?;
    if bytes.len() as u64 > crate::limits::INPUT_BYTES_MAX {
        return Err(InputError::Usage(format!(
            "{path}: longer than {} bytes, the most an input file may hold",
            crate::limits::INPUT_BYTES_MAX
        )));
    }
    utf8(path, bytes).map_err(InputError::Scenario)
}

/// A file's bytes as text: invalid UTF-8 is an error at the line and column (in characters,
/// as every diagnostic counts them) of its first bad byte; a leading byte-order mark is dropped.
pub fn utf8(path: &str, bytes: Vec<u8>) -> Result<String, Diag> {
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let bytes = e.as_bytes();
            let good = e.utf8_error().valid_up_to();
            let before = std::str::from_utf8(&bytes[..good]).expect("valid up to here");
            let line = before.matches('\n').count() + 1;
            let line_start = before.rfind('\n').map_or(0, |i| i + 1);
            let col = before[line_start..].chars().count() + 1;
            let shown = String::from_utf8_lossy(bytes);
            let span = Span { line: line as u32, col: col as u32 };
            return Err(Diag::at(
                path,
                &shown,
                span,
                format!(
                    "invalid UTF-8 (byte 0x{:02x}); scenario files are UTF-8 text",
                    bytes[good]
                ),
            ));
        }
    };
    Ok(match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    })
}

/// A parsed and compiled scenario with its expectations.
pub struct Loaded {
    pub ast: scenario::Scenario,
    pub program: model::Program,
}

pub fn load(src: &Source) -> Result<Loaded, InputError> {
    let ast = scenario::parse(&src.path, &src.text).map_err(InputError::Scenario)?;
    let program = model::compile(&ast).map_err(InputError::Scenario)?;
    Ok(Loaded { ast, program })
}

/// The policies to run a scenario under: those given, or those its `expect` lines name (all
/// presets when it has none). An unknown policy name is an error at its line.
/// Every `expect` line is checked, whichever policies run: a typo in a policy name is an error
/// under `--policy` and `matrix` too, never an expectation silently ignored.
pub fn policies_for(l: &Loaded, given: Option<&[Policy]>) -> Result<Vec<Policy>, InputError> {
    let mut named = Vec::new();
    for e in &l.ast.expects {
        match Policy::by_name(&e.policy.text) {
            Ok(p) => named.push(p),
            Err(m) => return Err(InputError::Scenario(diag(l, e.policy.span, m))),
        }
    }
    if let Some(g) = given {
        return Ok(g.to_vec());
    }
    if named.is_empty() {
        return Ok(Policy::presets());
    }
    Ok(named)
}

fn diag(l: &Loaded, span: Span, m: String) -> Diag {
    Diag::at(&l.ast.path, &l.ast.source, span, m)
}

/// The expected labels for `policy`, sorted; `None` without an `expect` line for it.
pub fn expected(l: &Loaded, policy: &str) -> Option<Vec<String>> {
    l.ast.expects.iter().find(|e| e.policy.text == policy).map(|e| {
        let mut v: Vec<String> = e.labels.iter().map(|n| n.text.clone()).collect();
        v.sort();
        v
    })
}

/// Explores one loaded scenario under one policy and compares with its expectation.
pub fn check_one(l: &Loaded, p: &Policy, opts: &ExploreOptions) -> Row {
    let start = Instant::now();
    let x: Exploration = check::explore(&l.program, p, opts);
    let seconds = start.elapsed().as_secs_f64();
    let expected = expected(l, &p.name);
    let verdict = Verdict::of(&x.labels, expected.as_deref(), x.complete);
    let how_often = x.outcomes.as_ref().map(|o| {
        let names = x.labels.iter().chain(expected.iter().flatten());
        names.map(|n| (n.clone(), check::how_often(o, n))).collect()
    });
    let pass = match verdict {
        Verdict::Pass => Some(true),
        Verdict::Fail => Some(false),
        Verdict::Incomplete | Verdict::None => None,
    };
    Row {
        scenario: l.program.name.clone(),
        file: l.ast.path.clone(),
        policy: match p.mutation {
            Some(m) => format!("{}~{}", p.name, m.name()),
            None => p.name.clone(),
        },
        explorer: x.explorer,
        complete: x.complete,
        states: x.states,
        transitions: x.transitions,
        schedules: x.schedules,
        costs: RowCosts::new(&x.costs, &x.labels),
        labels: x.labels,
        expected,
        pass,
        verdict,
        witnesses: x.witnesses,
        seconds,
        limit: x.limit,
        crash: opts.crash,
        how_often,
        outcomes: x.outcomes,
    }
}

/// Loads `src` and checks it under the chosen policies.
pub fn check_source(
    src: &Source,
    given: Option<&[Policy]>,
    opts: &ExploreOptions,
) -> Result<Vec<Row>, InputError> {
    let l = load(src)?;
    let policies = policies_for(&l, given)?;
    Ok(policies.iter().map(|p| check_one(&l, p, opts)).collect())
}
