//! Replays one schedule step by step, describing what the kernel did at each step and the
//! state of the machine after it (`model::snapshot`). The same schedule on the same binary
//! always takes the same steps: the model is deterministic.

use super::{crash, named_moves};
use crate::model::snapshot::{Content, Snapshot};
use crate::model::{self, Cx, Program};
use crate::policy::Policy;
use serde::Serialize;

/// One replayed step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReplayStep {
    pub task: String,
    /// What the kernel did, in order, each line naming the kernel function.
    pub lines: Vec<String>,
    /// The tasks that could take this step (the schedule chose `task`).
    pub runnable: Vec<String>,
    /// The machine after the step.
    pub state: Snapshot,
}

/// A power failure ending a `--crash` witness.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PowerFail {
    /// Steps taken before the power failed.
    pub after_step: usize,
    /// The completed writes not yet durable at that point (device cache, or CPU cache over a
    /// DAX page): block and content.
    pub unflushed: Vec<(u16, Content)>,
    /// The blocks among them whose write survived; the others are lost.
    pub survivors: Vec<u16>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Replay {
    /// The machine before the first step.
    pub initial: Snapshot,
    pub steps: Vec<ReplayStep>,
    /// What the end of the interleaving did (final sync, checks), if the schedule reached it.
    pub end: Option<Vec<String>>,
    /// The machine after the end (or after the power failure).
    pub end_state: Option<Snapshot>,
    /// The power failure that ends a `--crash` witness.
    pub power_fail: Option<PowerFail>,
    /// Tasks that could still run when the schedule ended early.
    pub runnable: Vec<String>,
    pub labels: Vec<String>,
}

/// Replays `schedule`. `Err` says which step cannot be taken and what could run instead.
pub fn replay(prog: &Program, policy: &Policy, schedule: &str) -> Result<Replay, String> {
    let mut cx = Cx::new(prog, policy);
    let mut w = prog.initial.clone();
    let initial = Snapshot::of(&w, prog);
    let mut steps = Vec::new();
    let elements = super::schedule::parse(schedule);
    for (i, want) in elements.iter().enumerate() {
        if let Some(survivors) = crash::parse_element(want) {
            if i + 1 != elements.len() {
                return Err(format!("step {}: a power failure ends the schedule", i + 1));
            }
            let unflushed = crash::unflushed(&w, |_| true)
                .into_iter()
                .map(|(b, c)| {
                    let owner = w.blocks[b.0 as usize].owner;
                    (b.0, model::snapshot::content(prog, c.data, owner))
                })
                .collect();
            cx.trace = Some(Vec::new());
            let after = crash::power_fail(&w, &mut cx, &survivors);
            let lines = cx.trace.take().unwrap_or_default();
            return Ok(Replay {
                initial,
                steps,
                end: Some(lines),
                end_state: Some(Snapshot::of(&after, prog)),
                power_fail: Some(PowerFail { after_step: i, unflushed, survivors }),
                runnable: vec![],
                labels: after.labels.names(),
            });
        }
        let moves = named_moves(&w, &cx);
        let Some((m, _)) = moves.iter().find(|(_, name)| name == want) else {
            let names: Vec<&str> = moves.iter().map(|(_, n)| n.as_str()).collect();
            return Err(format!(
                "step {}: `{want}` cannot run here; runnable: {}",
                i + 1,
                if names.is_empty() {
                    "none (the interleaving is over)".to_string()
                } else {
                    names.join(", ")
                }
            ));
        };
        let runnable = moves.iter().map(|(_, n)| n.clone()).collect();
        cx.trace = Some(Vec::new());
        model::step(&mut w, &mut cx, *m);
        steps.push(ReplayStep {
            task: want.clone(),
            lines: cx.trace.take().unwrap_or_default(),
            runnable,
            state: Snapshot::of(&w, prog),
        });
    }
    let runnable: Vec<String> = named_moves(&w, &cx).into_iter().map(|(_, n)| n).collect();
    let (end, end_state) = if runnable.is_empty() {
        cx.trace = Some(Vec::new());
        model::finish(&mut w, &mut cx);
        (cx.trace.take(), Some(Snapshot::of(&w, prog)))
    } else {
        (None, None)
    };
    Ok(Replay {
        initial,
        steps,
        end,
        end_state,
        power_fail: None,
        runnable,
        labels: w.labels.names(),
    })
}

/// Replays `schedule` checking the model's invariants (`World::check_invariants`) after every
/// step and at the end, whatever the build profile; panics on a broken invariant (a pincheck
/// bug). Returns the labels reached; `Err` when a step cannot be taken.
pub fn replay_checking_invariants(
    prog: &Program,
    policy: &Policy,
    schedule: &str,
) -> Result<Vec<String>, String> {
    let mut cx = Cx::new(prog, policy);
    let mut w = prog.initial.clone();
    w.check_invariants(&cx);
    for (i, want) in super::schedule::parse(schedule).iter().enumerate() {
        if let Some(survivors) = crash::parse_element(want) {
            return Ok(crash::power_fail(&w, &mut cx, &survivors).labels.names());
        }
        let moves = named_moves(&w, &cx);
        let Some((m, _)) = moves.iter().find(|(_, name)| name == want) else {
            return Err(format!("step {}: `{want}` cannot run here", i + 1));
        };
        model::step(&mut w, &mut cx, *m);
        w.check_invariants(&cx);
    }
    if named_moves(&w, &cx).is_empty() {
        model::finish(&mut w, &mut cx);
        w.check_invariants(&cx);
    }
    Ok(w.labels.names())
}

/// The order in which `schedule` starts each thread statement: `(thread, statement, skipped)`,
/// what a host run at operation granularity follows (`check --on host --schedule`). A statement
/// starts at its thread's first move at that statement; the steps of the kernel's work (bios,
/// O_DIRECT completions) have no statement of their own on the host and are left out.
pub fn statement_order(
    prog: &Program,
    policy: &Policy,
    schedule: &str,
) -> Result<Vec<(usize, usize, bool)>, String> {
    let mut cx = Cx::new(prog, policy);
    let mut w = prog.initial.clone();
    let mut order = Vec::new();
    for (i, want) in super::schedule::parse(schedule).iter().enumerate() {
        if crash::parse_element(want).is_some() {
            return Err(format!("step {}: a power failure cannot be run on the host", i + 1));
        }
        let moves = named_moves(&w, &cx);
        let Some((m, _)) = moves.iter().find(|(_, name)| name == want) else {
            return Err(format!("step {}: `{want}` cannot run here", i + 1));
        };
        let task = &w.tasks[m.task as usize];
        if let (model::task::TaskKind::Thread { thread }, model::task::Cont::Start) =
            (&task.kind, &task.cont)
        {
            order.push((*thread as usize, task.pc as usize, m.skip));
        }
        model::step(&mut w, &mut cx, *m);
    }
    Ok(order)
}
