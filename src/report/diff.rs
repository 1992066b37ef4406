//! Where two policies part (`pincheck diff`): one schedule replayed under both, in lockstep,
//! and the first step where they differ: a task runnable under one only, a scheduled task that
//! cannot run under one, different kernel steps, or a different machine after the step.
//! Like `check::replay`, it reads the model only through `moves`, `step`, `finish` and
//! `Snapshot::of`.

use crate::check::{crash, named_moves, schedule};
use crate::model::snapshot::Snapshot;
use crate::model::{self, Cx, Program, World};
use crate::policy::Policy;

/// One policy's side of a step.
#[derive(Clone, Debug)]
pub struct Side {
    /// What the kernel did; `None` when the scheduled task could not run under this policy
    /// (or this side had stopped earlier).
    pub lines: Option<Vec<String>>,
    /// The tasks that could run before the step.
    pub runnable: Vec<String>,
    pub state: Option<Snapshot>,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub task: String,
    pub a: Side,
    pub b: Side,
}

/// How the two sides first differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Divergence {
    /// Before the step, a task could run under one policy only.
    Runnable { only_a: Vec<String>, only_b: Vec<String> },
    /// The scheduled task cannot run under one (or either) policy.
    Blocked,
    /// The kernel did different things.
    Text,
    /// The same description, a different machine after it.
    State,
    /// The end of the interleaving (final sync, checks, power failure) differs.
    End,
}

impl Divergence {
    pub fn describe(&self) -> String {
        match self {
            Divergence::Runnable { only_a, only_b } => {
                let mut v = Vec::new();
                if !only_a.is_empty() {
                    v.push(format!("runnable under the first only: {}", only_a.join(", ")));
                }
                if !only_b.is_empty() {
                    v.push(format!("runnable under the second only: {}", only_b.join(", ")));
                }
                v.join("; ")
            }
            Divergence::Blocked => "the scheduled task cannot run under one of them".to_string(),
            Divergence::Text => "the kernel does different things".to_string(),
            Divergence::State => "the same steps leave a different machine".to_string(),
            Divergence::End => "the end of the interleaving differs".to_string(),
        }
    }
}

pub struct Diff {
    pub steps: Vec<Step>,
    /// The first divergence: the step's index in `steps` (`steps.len()` for the end) and how.
    pub first: Option<(usize, Divergence)>,
    /// What the end did on each side, if that side reached it.
    pub end_a: Option<Vec<String>>,
    pub end_b: Option<Vec<String>>,
    /// The labels each side's interleaving reached (up to where it stopped).
    pub labels_a: Vec<String>,
    pub labels_b: Vec<String>,
    /// Why a side stopped before the schedule's end.
    pub stopped_a: Option<String>,
    pub stopped_b: Option<String>,
}

struct Run<'a> {
    cx: Cx<'a>,
    w: World,
    stopped: Option<String>,
    end: Option<Vec<String>>,
}

impl<'a> Run<'a> {
    fn new(prog: &'a Program, p: &'a Policy) -> Run<'a> {
        Run { cx: Cx::new(prog, p), w: prog.initial.clone(), stopped: None, end: None }
    }

    /// Takes the step named `want`; the side's view of it.
    fn step(&mut self, i: usize, want: &str, prog: &Program) -> Side {
        if self.stopped.is_some() {
            return Side { lines: None, runnable: vec![], state: None };
        }
        let moves = named_moves(&self.w, &self.cx);
        let runnable: Vec<String> = moves.iter().map(|(_, n)| n.clone()).collect();
        let Some((m, _)) = moves.iter().find(|(_, n)| n == want) else {
            self.stopped = Some(format!(
                "step {}: `{want}` cannot run; runnable: {}",
                i + 1,
                if runnable.is_empty() { "none".to_string() } else { runnable.join(", ") }
            ));
            return Side { lines: None, runnable, state: None };
        };
        self.cx.trace = Some(Vec::new());
        model::step(&mut self.w, &mut self.cx, *m);
        let lines = self.cx.trace.take().unwrap_or_default();
        Side { lines: Some(lines), runnable, state: Some(Snapshot::of(&self.w, prog)) }
    }

    fn power_fail(&mut self, survivors: &[u16]) {
        if self.stopped.is_some() {
            return;
        }
        self.cx.trace = Some(Vec::new());
        self.w = crash::power_fail(&self.w, &mut self.cx, survivors);
        self.end = self.cx.trace.take();
    }

    fn finish(&mut self) {
        if self.stopped.is_some() || self.end.is_some() {
            return;
        }
        if !named_moves(&self.w, &self.cx).is_empty() {
            return; // the schedule ends before the interleaving does
        }
        self.cx.trace = Some(Vec::new());
        model::finish(&mut self.w, &mut self.cx);
        self.end = self.cx.trace.take();
    }
}

/// Replays `sched` under `a` and `b` side by side.
pub fn lockstep(prog: &Program, a: &Policy, b: &Policy, sched: &str) -> Result<Diff, String> {
    let mut ra = Run::new(prog, a);
    let mut rb = Run::new(prog, b);
    let mut steps = Vec::new();
    let mut first = None;
    let elements = schedule::parse(sched);
    for (i, want) in elements.iter().enumerate() {
        if let Some(survivors) = crash::parse_element(want) {
            if i + 1 != elements.len() {
                return Err(format!("step {}: a power failure ends the schedule", i + 1));
            }
            ra.power_fail(&survivors);
            rb.power_fail(&survivors);
            break;
        }
        let live = ra.stopped.is_none() && rb.stopped.is_none();
        let sa = ra.step(i, want, prog);
        let sb = rb.step(i, want, prog);
        if live && sa.lines.is_none() && sb.lines.is_none() {
            return Err(ra.stopped.take().unwrap_or_default() + " (under both policies)");
        }
        if first.is_none() {
            let only = |x: &Side, y: &Side| -> Vec<String> {
                x.runnable.iter().filter(|n| !y.runnable.contains(n)).cloned().collect()
            };
            let (only_a, only_b) = (only(&sa, &sb), only(&sb, &sa));
            let kind = if sa.lines.is_none() || sb.lines.is_none() {
                Some(Divergence::Blocked)
            } else if !only_a.is_empty() || !only_b.is_empty() {
                Some(Divergence::Runnable { only_a, only_b })
            } else if sa.lines != sb.lines {
                Some(Divergence::Text)
            } else if sa.state != sb.state {
                Some(Divergence::State)
            } else {
                None
            };
            first = kind.map(|k| (i, k));
        }
        steps.push(Step { task: want.clone(), a: sa, b: sb });
        if ra.stopped.is_some() && rb.stopped.is_some() {
            break;
        }
    }
    ra.finish();
    rb.finish();
    let labels_a = ra.w.labels.names();
    let labels_b = rb.w.labels.names();
    if first.is_none() && (ra.end != rb.end || labels_a != labels_b) {
        first = Some((steps.len(), Divergence::End));
    }
    Ok(Diff {
        steps,
        first,
        end_a: ra.end,
        end_b: rb.end,
        labels_a,
        labels_b,
        stopped_a: ra.stopped,
        stopped_b: rb.stopped,
    })
}
