//! `pincheck search`: the design space as data, searched (issue 11).
//!
//! A design is a base preset plus a value for each knob of the space. Every design is checked on
//! every scenario (exhaustively, as `check` does); a design *meets the requirement* when no
//! scenario refuses an operation the user asked for: a writable long-term `pin`/`reg-mr` of a
//! shared mapping on ext4, xfs or btrfs (any `reg-mr:`/`pin:` EFAULT, EOPNOTSUPP or EPERM label
//! in such a scenario), or on fs-DAX in a scenario that takes a layout lease. Its *violations*
//! are the (scenario, label) cells with a label of [`VIOLATIONS`]. A violation that every
//! design meeting the requirement reaches is *unavoidable in this space* (the scenario itself
//! forces it: a holder that never unpins, `ext4-rdma-never-dereg`, leaks its pin under every
//! design) and is reported apart, not counted.
//!
//! The answer is the Pareto front, over the designs meeting the requirement, of (avoidable
//! violations, then each cost total of `run::RowCosts`). For each design on the front with no
//! avoidable violation, every knob it sets away from the base is switched back, one at a time,
//! and the first violation or refusal that appears (scenario, label, witness) says why the knob
//! is needed.
//!
//! Pruning with the checker's own results: a design is checked on the scenarios in the order
//! of how often each has refused an asked-for operation in the designs checked so far, and
//! stops at the first refusal: such a design cannot be on the front, whatever the rest says.
//! Parallel: designs are shared out among `threads` workers (std threads).

use crate::check::ExploreOptions;
use crate::policy::Policy;
use crate::run::{self, Loaded, RowCosts};
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// The labels a design must avoid.
pub const VIOLATIONS: [&str; 8] = crate::scenario::OUTCOME_LABELS;

/// A design space: a base preset and the values each knob may take (the base's own value
/// first: switching a knob "back" means to that value).
#[derive(Clone, Debug, Serialize)]
pub struct Space {
    pub base: String,
    pub knobs: Vec<(String, Vec<String>)>,
}

impl Space {
    /// Every protective knob over 6.18: the writeback designs, the reservations, the reclaim
    /// rule, and the long-term pin rules with layout leases.
    pub fn default_space() -> Space {
        let k = |n: &str, v: &[&str]| (n.to_string(), v.iter().map(|s| s.to_string()).collect());
        Space {
            base: "linux-6.18".into(),
            knobs: vec![
                k("pinned-writeback", &["normal", "bounce", "kara-2023"]),
                k("pinned-writeback-rereserves", &["no", "yes"]),
                k("longterm-pin-reserves-cow-space", &["no", "yes"]),
                k("write-pins-counted", &["no", "yes"]),
                k("reclaim-active-strips-pinned", &["yes", "no"]),
                k("longterm-writable-file-pin", &["efault", "allowed", "need-lease"]),
                k("longterm-fsdax-pin", &["eopnotsupp", "need-lease", "allowed"]),
                k("layout-leases", &["no", "yes"]),
                k("ext3-page-mkwrite-reserves", &["no", "yes"]),
                k("dio-write-refreshes-cache", &["no", "yes"]),
                k("dax-busy-wait-etxtbsy", &["no", "yes"]),
            ],
        }
    }

    /// `KNOB=V1,V2,...` entries replace or add knobs of the default space; the base's own
    /// value is put first.
    pub fn with_overrides(mut self, base: Option<&str>, knobs: &[String]) -> Result<Space, String> {
        if let Some(b) = base {
            Policy::preset(b)?;
            self.base = b.to_string();
        }
        let base = Policy::preset(&self.base)?;
        for spec in knobs {
            let (name, values) = spec
                .split_once('=')
                .ok_or_else(|| format!("`{spec}`: a knob of the space is KNOB=V1,V2,..."))?;
            let mut vs: Vec<String> = values.split(',').map(|s| s.trim().to_string()).collect();
            let own = base.knob(name).ok_or_else(|| {
                let mut p = base.clone();
                p.set_knob(name, "?").unwrap_err()
            })?;
            for v in &vs {
                base.clone().set_knob(name, v)?;
            }
            vs.retain(|v| *v != own);
            vs.insert(0, own);
            match self.knobs.iter_mut().find(|(n, _)| n == name) {
                Some(k) => k.1 = vs,
                None => self.knobs.push((name.to_string(), vs)),
            }
        }
        for (name, vs) in &mut self.knobs {
            let own = base.knob(name).expect("default knobs exist");
            vs.retain(|v| *v != own);
            vs.insert(0, own);
        }
        Ok(self)
    }

    pub fn size(&self) -> usize {
        self.knobs.iter().map(|(_, v)| v.len()).product()
    }

    /// Design number `i` as the knob values' indices.
    fn design(&self, mut i: usize) -> Vec<usize> {
        self.knobs
            .iter()
            .map(|(_, v)| {
                let x = i % v.len();
                i /= v.len();
                x
            })
            .collect()
    }

    /// The policy spec of a design: the base plus every knob away from the base's value.
    pub fn spec(&self, d: &[usize]) -> String {
        let mut s = self.base.clone();
        for ((name, vs), &x) in self.knobs.iter().zip(d) {
            if x != 0 {
                s.push_str(&format!("+{name}={}", vs[x]));
            }
        }
        s
    }
}

/// One violation or refusal: where, which label, and the schedule that reaches it.
#[derive(Clone, Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cell {
    pub scenario: String,
    pub label: String,
    pub witness: String,
}

/// A design checked.
#[derive(Clone, Debug, Serialize)]
pub struct DesignResult {
    pub policy: String,
    /// Every scenario was checked (false: stopped at a refusal, see the module comment).
    pub complete: bool,
    /// Operations the user asked for that the design refused.
    pub refused_asked: Vec<Cell>,
    pub violations: Vec<Cell>,
    /// Violations not in the unavoidable set.
    pub avoidable: usize,
    /// Sums over the scenarios of each cost.
    pub costs: RowCosts,
    pub states: u64,
}

/// Why a knob of a front design is needed: the first violation or refusal without it.
#[derive(Clone, Debug, Serialize)]
pub struct Needed {
    pub knob: String,
    pub value: String,
    pub without: String,
    pub shown_by: Option<Cell>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub space: Space,
    pub designs: usize,
    pub checked_scenarios: usize,
    pub explorations: usize,
    pub explorations_pruned: usize,
    pub meeting_requirement: usize,
    pub unavoidable: Vec<Cell>,
    pub front: Vec<DesignResult>,
    pub needed: Vec<(String, Vec<Needed>)>,
    /// Every preset judged the same way, and whether it is on the front (meets the requirement
    /// and no front design dominates it).
    pub presets: Vec<PresetResult>,
    pub seconds: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct PresetResult {
    pub preset: String,
    pub meets_requirement: bool,
    pub on_front: bool,
    pub avoidable: usize,
    pub violations: Vec<Cell>,
    pub refused_asked: Vec<Cell>,
    pub costs: RowCosts,
}

/// What the user asked for in a scenario: writable long-term pins or MRs of shared file
/// mappings, and whether they are on fs-DAX and under a lease.
fn asks_writable_longterm(l: &Loaded) -> bool {
    let kind = l.program.fs.kind;
    let dax = crate::model::fs::is_dax(l.program.fs);
    let dirty_tracked = crate::model::fs::dirty_tracked(l.program.fs);
    let text_lines: Vec<&str> =
        l.ast.source.lines().map(|s| s.split('#').next().unwrap_or("").trim()).collect();
    let has_lease = text_lines.iter().any(|t| t.contains("= lease "));
    let asks = text_lines.iter().any(|t| {
        let pin = t.contains("= pin ") && t.contains(" write") && t.contains("longterm");
        let mr = t.contains("= reg-mr ") && t.contains(" write") && !t.contains(" odp");
        pin || mr
    });
    let _ = kind;
    asks && dirty_tracked && (!dax || has_lease)
}

fn refusal(label: &str) -> bool {
    let Some((op, errno)) = label.split_once(':') else { return false };
    matches!(op, "pin" | "reg-mr") && matches!(errno, "EFAULT" | "EOPNOTSUPP" | "EPERM")
}

/// Checks a policy on every scenario, without stopping.
fn check_policy(
    p: &Policy,
    loaded: &[Loaded],
    asks: &[bool],
    opts: &ExploreOptions,
) -> DesignResult {
    let mut r = DesignResult {
        policy: p.name.clone(),
        complete: true,
        refused_asked: vec![],
        violations: vec![],
        avoidable: 0,
        costs: RowCosts::default(),
        states: 0,
    };
    for (i, l) in loaded.iter().enumerate() {
        let row = run::check_one(l, p, opts);
        r.states += row.states;
        r.costs.add(&row.costs);
        for label in &row.labels {
            let cell = Cell {
                scenario: row.scenario.clone(),
                label: label.clone(),
                witness: row.witnesses.get(label).cloned().unwrap_or_default(),
            };
            if VIOLATIONS.contains(&label.as_str()) {
                r.violations.push(cell);
            } else if asks[i] && refusal(label) {
                r.refused_asked.push(cell);
            }
        }
    }
    r
}

/// Checks design `d` on every scenario, in `order`, stopping at the first refused request.
fn check_design(
    space: &Space,
    d: &[usize],
    loaded: &[Loaded],
    asks: &[bool],
    order: &[usize],
    opts: &ExploreOptions,
) -> Result<(DesignResult, Option<usize>), String> {
    let spec = space.spec(d);
    let p = Policy::parse(&spec)?;
    let mut r = DesignResult {
        policy: spec,
        complete: true,
        refused_asked: vec![],
        violations: vec![],
        avoidable: 0,
        costs: RowCosts::default(),
        states: 0,
    };
    for (n, &i) in order.iter().enumerate() {
        let row = run::check_one(&loaded[i], &p, opts);
        r.states += row.states;
        r.costs.add(&row.costs);
        for label in &row.labels {
            let cell = || Cell {
                scenario: row.scenario.clone(),
                label: label.clone(),
                witness: row.witnesses.get(label).cloned().unwrap_or_default(),
            };
            if VIOLATIONS.contains(&label.as_str()) {
                r.violations.push(cell());
            } else if asks[i] && refusal(label) {
                r.refused_asked.push(cell());
            }
        }
        if !r.refused_asked.is_empty() {
            r.complete = n + 1 == order.len();
            return Ok((r, Some(i)));
        }
    }
    Ok((r, None))
}

/// The objectives, smaller is better: avoidable violations, then the cost totals.
fn objectives(r: &DesignResult) -> Vec<u32> {
    let c = &r.costs;
    vec![
        r.avoidable as u32,
        c.refused as u32,
        c.paid.bounce_copies as u32,
        c.paid.kept_dirty as u32,
        c.paid.pin_reserved_peak as u32,
        c.paid.pin_reserved_syncs as u32,
        c.paid.reserved_peak as u32,
        c.paid.lease_breaks as u32 + c.paid.revocations as u32,
        c.paid.waits as u32,
    ]
}

fn dominates(a: &[u32], b: &[u32]) -> bool {
    a.iter().zip(b).all(|(x, y)| x <= y) && a != b
}

/// Searches `space` over `loaded`. `progress` reports on stderr.
pub fn search(
    loaded: &[Loaded],
    space: &Space,
    opts: &ExploreOptions,
    threads: usize,
    progress: bool,
) -> Result<Report, String> {
    let start = std::time::Instant::now();
    let n = space.size();
    let asks: Vec<bool> = loaded.iter().map(asks_writable_longterm).collect();
    let refusals: Vec<AtomicUsize> = loaded.iter().map(|_| AtomicUsize::new(0)).collect();
    let next = AtomicUsize::new(0);
    let explorations = AtomicUsize::new(0);
    let results: Mutex<Vec<(Vec<usize>, DesignResult)>> = Mutex::new(Vec::new());
    let error: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|s| {
        for _ in 0..threads.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n || error.lock().expect("no panics").is_some() {
                    break;
                }
                let d = space.design(i);
                // Scenarios that refused most often first: a refusal ends the design's check.
                let mut order: Vec<usize> = (0..loaded.len()).collect();
                order.sort_by_key(|&k| std::cmp::Reverse(refusals[k].load(Ordering::Relaxed)));
                match check_design(space, &d, loaded, &asks, &order, opts) {
                    Ok((r, refused_at)) => {
                        let done = order
                            .iter()
                            .position(|&k| Some(k) == refused_at)
                            .map_or(order.len(), |p| p + 1);
                        explorations.fetch_add(done, Ordering::Relaxed);
                        if let Some(k) = refused_at {
                            refusals[k].fetch_add(1, Ordering::Relaxed);
                        }
                        let mut res = results.lock().expect("no panics");
                        res.push((d, r));
                        if progress && (res.len() % 50 == 0 || res.len() == n) {
                            eprintln!(
                                "search: {}/{} designs checked ({:.1} s)",
                                res.len(),
                                n,
                                start.elapsed().as_secs_f64()
                            );
                        }
                    }
                    Err(e) => *error.lock().expect("no panics") = Some(e),
                }
            });
        }
    });
    if let Some(e) = error.into_inner().expect("no panics") {
        return Err(e);
    }
    let mut results = results.into_inner().expect("no panics");
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let full: Vec<usize> =
        (0..results.len()).filter(|&i| results[i].1.refused_asked.is_empty()).collect();
    // Unavoidable: (scenario, label) violations every design meeting the requirement reaches.
    let key = |c: &Cell| (c.scenario.clone(), c.label.clone());
    let mut unavoidable: Vec<Cell> = match full.first() {
        Some(&f) => results[f].1.violations.clone(),
        None => vec![],
    };
    for &i in &full {
        let keys: Vec<_> = results[i].1.violations.iter().map(key).collect();
        unavoidable.retain(|c| keys.contains(&key(c)));
    }
    let un_keys: Vec<_> = unavoidable.iter().map(key).collect();
    for (_, r) in &mut results {
        r.avoidable = r.violations.iter().filter(|c| !un_keys.contains(&key(c))).count();
    }
    let objs: Vec<Vec<u32>> = full.iter().map(|&i| objectives(&results[i].1)).collect();
    let mut front_idx: Vec<usize> = (0..full.len())
        .filter(|&a| !(0..full.len()).any(|b| dominates(&objs[b], &objs[a])))
        .collect();
    front_idx.sort_by_key(|&a| objs[a].clone());
    front_idx.dedup_by_key(|a| objs[*a].clone());
    let front: Vec<(Vec<usize>, DesignResult)> =
        front_idx.iter().map(|&a| results[full[a]].clone()).collect();
    // Why each knob of a clean front design is needed: switch it back, one at a time.
    let all: Vec<usize> = (0..loaded.len()).collect();
    let mut needed = Vec::new();
    for (d, r) in front.iter().filter(|(_, r)| r.avoidable == 0) {
        let mut why = Vec::new();
        for (k, &x) in d.iter().enumerate() {
            if x == 0 {
                continue;
            }
            let mut e = d.clone();
            e[k] = 0;
            let (er, _) = check_design(space, &e, loaded, &asks, &all, opts)?;
            explorations.fetch_add(loaded.len(), Ordering::Relaxed);
            let shown_by = er
                .refused_asked
                .first()
                .cloned()
                .or_else(|| er.violations.iter().find(|c| !un_keys.contains(&key(c))).cloned());
            why.push(Needed {
                knob: space.knobs[k].0.clone(),
                value: space.knobs[k].1[x].clone(),
                without: space.knobs[k].1[0].clone(),
                shown_by,
            });
        }
        needed.push((r.policy.clone(), why));
    }
    // The presets, judged against the front.
    let front_objs: Vec<Vec<u32>> = front.iter().map(|(_, r)| objectives(r)).collect();
    let mut presets = Vec::new();
    for preset in Policy::presets() {
        let mut r = check_policy(&preset, loaded, &asks, opts);
        explorations.fetch_add(loaded.len(), Ordering::Relaxed);
        r.avoidable = r.violations.iter().filter(|c| !un_keys.contains(&key(c))).count();
        let o = objectives(&r);
        let meets = r.refused_asked.is_empty();
        presets.push(PresetResult {
            preset: preset.name.clone(),
            meets_requirement: meets,
            on_front: meets && !front_objs.iter().any(|f| dominates(f, &o)),
            avoidable: r.avoidable,
            violations: r.violations,
            refused_asked: r.refused_asked,
            costs: r.costs,
        });
    }
    let explorations = explorations.into_inner();
    Ok(Report {
        presets,
        space: space.clone(),
        designs: n,
        checked_scenarios: loaded.len(),
        explorations,
        explorations_pruned: (n * loaded.len()).saturating_sub(explorations),
        meeting_requirement: full.len(),
        unavoidable,
        front: front.into_iter().map(|(_, r)| r).collect(),
        needed,
        seconds: start.elapsed().as_secs_f64(),
    })
}
