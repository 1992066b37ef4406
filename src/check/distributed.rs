//! Exhaustive exploration across processes and machines (`check --processes N`, `--hostfile`)
//! on timely-dataflow, as distributed TLC, PReach, DiVinE and LTSmin partition a state space:
//! every state has an owner, the worker its fingerprint hashes to (timely's `Exchange` pact on
//! the fingerprint's low half). Each breadth-first level is one round: every worker expands the
//! states of the level it owns and sends each successor (fingerprint, encoded world, path) to
//! its owner; once timely's progress tracking says that the round is delivered everywhere (a
//! probe passes the round's time: the level barrier), each owner drops the states it has seen
//! and keeps the rest as its part of the next level. A second exchange gives every worker the
//! round's counts, so that all decide alike when the search ends; a third gathers the labels,
//! their witnesses, the end states and the costs on worker 0. Nothing of pincheck's own goes
//! over the network but the connection handshake, which is timely's (each process connects to
//! the ones before it and writes its index, `timely_communication::networking`), done here only
//! to give it a timeout and keep timely's progress lines off standard output.
//!
//! Same results as one process, checked by tests/distributed.rs: the set of states expanded
//! does not depend on who expands what, so the state, transition and end-state counts and the
//! labels are those of `bfs`. Witnesses too: a path is the sequence of move positions (in
//! `Reducer::moves`) from the initial world, and an owner keeps, among the paths reaching a new
//! state in a round, the least. The sequential search orders a level by (parent's place, move
//! position), so by induction on the level the least path is the one by which `bfs` first
//! reaches the state, and each label's witness is the least (depth, path, outcome) reaching it
//! (outcomes of a state: its power failures in order, then the interleaving's end), which is
//! the record `Findings::record` meets first. A search cut by `--max-states` stops at the end
//! of the round that crosses the bound (the sequential one stops at the state), so its counts
//! may differ from one process's; so may an interrupted one's.
//!
//! A session (`Session`) is one timely execution for the whole command: its workers wait for
//! jobs (one per scenario and policy) from the process's main thread, and every process of the
//! run must submit the same jobs in the same order (the same command line): each round carries
//! a hash of the job, and a disagreement stops the run with an error.

use super::budget::Budget;
use super::reduce::Reducer;
use super::{
    crash,
    fingerprint::{fingerprint, fingerprint_mut},
    interrupted, stored, Exploration, ExploreOptions,
};
use super::{Findings, LabelSet};
use crate::limits;
use crate::model::{self, label::Costs, Cx, Move, Program};
use crate::policy::Policy;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timely::communication::allocator::zero_copy::initialize::initialize_networking_from_sockets;
use timely::communication::allocator::ProcessBuilder;
use timely::communication::{AllocatorBuilder, Hooks, WorkerGuards};
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::operator::Operator;
use timely::dataflow::operators::vec::Input;
use timely::dataflow::operators::Probe;
use timely::dataflow::{InputHandleVec as InputHandle, ProbeHandle};

/// The processes of a distributed exploration and this one's place among them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// This process, from 0; process 0 reports.
    pub process: usize,
    /// `host:port` of every process, in process order.
    pub addresses: Vec<String>,
    /// Timely workers in each process.
    pub threads: usize,
}

/// A state sent to its owner: fingerprint (low and high halves; the low half picks the owner),
/// encoded world (`stored`), path (move positions from the initial world).
type Sent = (u64, u64, Vec<u8>, Vec<u8>);

/// One worker's counts of a round, sent to every worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Count {
    /// The worker it is for.
    to: u64,
    /// The job's hash (`END` when the process has no more jobs).
    job: u64,
    /// States new to the search (owned by the sender).
    new: u64,
    /// Transitions followed.
    transitions: u64,
    /// Interleavings ended (power failures and ends).
    ended: u64,
    /// The sender saw an interrupt (Ctrl-C).
    interrupted: bool,
    /// The sender's process is past the memory bound: why.
    memory: Option<String>,
}

/// How long a worker waiting at a barrier sleeps at most: timely wakes it when data or
/// progress arrives; the bound is only a safeguard. (Spinning instead takes the core the
/// network threads need: with two processes on two cores a round then costs milliseconds.)
const PARK: Duration = Duration::from_millis(50);

/// The job hash of a process that has no more jobs.
const END: u64 = 0;

/// What a worker found, gathered on worker 0 at the end of a job.
#[derive(Clone, Debug, Serialize, Deserialize)]
enum Found {
    /// The least (path, outcome) this worker met with `label`, and that outcome's labels.
    Witness {
        label: String,
        path: Vec<u8>,
        outcome: u32,
        suffix: Option<String>,
        labels: LabelSet,
    },
    /// End states (no power failure) with these labels.
    Ends {
        labels: Vec<String>,
        count: u64,
    },
    Costs(Costs),
}

/// One exploration to run, as every process submits it.
pub(super) struct Job {
    prog: Program,
    policy: Policy,
    opts: ExploreOptions,
    hash: u64,
}

/// What worker 0 hands back for a job.
pub(super) struct Summary {
    states: u64,
    transitions: u64,
    schedules: u64,
    limit: Option<String>,
    found: Vec<Found>,
}

/// A message to a worker: a job, or the end of the session.
type Order = Option<Arc<Job>>;
/// A worker's answer: worker 0's summary, `None` from the others.
type Answer = Result<Option<Summary>, String>;

/// This process's part of a distributed run: timely's workers, waiting for jobs.
pub struct Session {
    cluster: Cluster,
    orders: Vec<Sender<Order>>,
    answers: Mutex<Receiver<Answer>>,
    /// A worker's failure, sent before the round that follows it (`serve`): if a peer stops
    /// during that round and the worker dies with the connection, this is still the reason.
    notices: Mutex<Receiver<String>>,
    guards: Mutex<Option<WorkerGuards<()>>>,
    /// The first failure: every later job fails at once with it.
    failed: Mutex<Option<String>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("cluster", &self.cluster).finish_non_exhaustive()
    }
}

impl Session {
    /// Connects to the other processes (within `timeout`; `abort` is asked between attempts
    /// and stops the setup with its reason) and starts this process's timely workers.
    pub fn start(
        cluster: &Cluster,
        timeout: Duration,
        abort: &mut dyn FnMut() -> Option<String>,
    ) -> Result<Session, String> {
        let n = cluster.addresses.len();
        if cluster.process >= n || cluster.threads == 0 {
            return Err(format!("process {} of {n}: no such process", cluster.process));
        }
        let sockets = connect(cluster, timeout, abort)?;
        quiet_timely_panics();
        let hooks = Hooks::default();
        let threads = cluster.threads;
        let locals =
            ProcessBuilder::new_typed_vector(threads, hooks.refill.clone(), hooks.spill.clone());
        let (builders, comms) =
            initialize_networking_from_sockets(locals, sockets, cluster.process, threads, hooks)
                .map_err(|e| format!("starting timely's network threads: {e}"))?;
        let builders = builders.into_iter().map(AllocatorBuilder::Tcp).collect();
        let mut orders = Vec::new();
        let mut inboxes = Vec::new();
        for _ in 0..threads {
            let (tx, rx) = channel::<Order>();
            orders.push(tx);
            inboxes.push(Some(rx));
        }
        let inboxes = Arc::new(Mutex::new(inboxes));
        let (answer_tx, answers) = channel::<Answer>();
        let (notice_tx, notices) = channel::<String>();
        let guards = timely::execute::execute_from(
            builders,
            Box::new(comms),
            timely::WorkerConfig::default(),
            move |worker| {
                let local = worker.index() % threads;
                let inbox = inboxes.lock().ok().and_then(|mut v| v[local].take());
                if let Some(inbox) = inbox {
                    serve(worker, &inbox, &answer_tx, &notice_tx);
                }
            },
        )?;
        Ok(Session {
            cluster: cluster.clone(),
            orders,
            answers: Mutex::new(answers),
            notices: Mutex::new(notices),
            guards: Mutex::new(Some(guards)),
            failed: Mutex::new(None),
        })
    }

    /// This process's index; process 0 reports.
    pub fn process(&self) -> usize {
        self.cluster.process
    }

    /// Why the run failed, if it did.
    pub fn failure(&self) -> Option<String> {
        self.failed.lock().ok().and_then(|f| f.clone())
    }

    /// A failure a worker found before it stopped answering, if any: the reason to give
    /// instead of the lost connection that followed it.
    fn notice(&self) -> Option<String> {
        self.notices.lock().ok().and_then(|n| n.try_recv().ok())
    }

    fn fail(&self, why: String) -> String {
        if let Ok(mut f) = self.failed.lock() {
            f.get_or_insert(why);
            return f.clone().unwrap_or_default();
        }
        why
    }

    /// Runs one job on this process's workers; worker 0's summary on process 0, `None` on the
    /// others.
    fn run(&self, job: Job) -> Result<Option<Summary>, String> {
        if let Some(why) = self.failure() {
            return Err(why);
        }
        let job = Arc::new(job);
        let gone = || "a worker of this process stopped".to_string();
        for o in &self.orders {
            o.send(Some(job.clone())).map_err(|_| self.fail(gone()))?;
        }
        let answers = self.answers.lock().map_err(|_| self.fail(gone()))?;
        let mut summary = None;
        for _ in 0..self.orders.len() {
            let lost = |_| {
                self.fail(self.notice().unwrap_or_else(|| {
                    format!(
                        "the distributed run broke off (a process of {} stopped or lost its \
                         connection)",
                        self.cluster.addresses.len()
                    )
                }))
            };
            match answers.recv().map_err(lost)? {
                Ok(Some(s)) => summary = Some(s),
                Ok(None) => {}
                Err(e) => return Err(self.fail(e)),
            }
        }
        Ok(summary)
    }

    /// Ends the session: every process's workers agree that there is no more work, then the
    /// connections close.
    pub fn finish(&self) -> Result<(), String> {
        if let Some(why) = self.failure() {
            return Err(why);
        }
        for o in &self.orders {
            let _ = o.send(None);
        }
        let guards = self.guards.lock().ok().and_then(|mut g| g.take());
        if let Some(g) = guards {
            let answers = self.answers.lock().map_err(|_| "answers".to_string())?;
            // Each worker answers the end too: a disagreement, or nothing if it died.
            for _ in 0..self.orders.len() {
                match answers.recv() {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => {
                        std::mem::forget(g);
                        return Err(self.fail(e));
                    }
                    Err(_) => {
                        std::mem::forget(g);
                        let why = self.notice();
                        return Err(self.fail(
                            why.unwrap_or_else(|| "a worker of this process stopped".into()),
                        ));
                    }
                }
            }
            for r in g.join() {
                r.map_err(|e| self.fail(format!("a timely worker failed: {e}")))?;
            }
        }
        Ok(())
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // Not finished (an error): joining timely's threads could wait for ever on a peer.
        if let Some(g) = self.guards.get_mut().ok().and_then(|g| g.take()) {
            std::mem::forget(g);
        }
    }
}

/// Timely takes a computation down by panicking in its network threads when a connection
/// breaks ("timely communication error"), which cascades to the workers; the session reports
/// that as an error, so those threads' panic messages are not printed.
fn quiet_timely_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let timely = std::thread::current().name().is_some_and(|n| n.starts_with("timely:"));
            if !timely || std::env::var_os("PINCHECK_DEBUG_CLUSTER").is_some() {
                default(info);
            }
        }));
    });
}

/// Timely's handshake, with a deadline: process `i` connects to every process before it and
/// writes its index (a big-endian u64), and accepts a connection from every process after it
/// (`timely_communication::networking::create_sockets`, which retries for ever and prints its
/// progress on standard output). Entry `i` of the result is `None`.
fn connect(
    c: &Cluster,
    timeout: Duration,
    abort: &mut dyn FnMut() -> Option<String>,
) -> Result<Vec<Option<TcpStream>>, String> {
    let (me, n) = (c.process, c.addresses.len());
    let deadline = Instant::now() + timeout;
    let listener = if me + 1 < n {
        let l = TcpListener::bind(c.addresses[me].as_str())
            .map_err(|e| format!("process {me}: listening on {}: {e}", c.addresses[me]))?;
        l.set_nonblocking(true).map_err(|e| format!("process {me}: {e}"))?;
        Some(l)
    } else {
        None
    };
    let mut sockets: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    loop {
        let missing: Vec<usize> = (0..n).filter(|&j| j != me && sockets[j].is_none()).collect();
        if missing.is_empty() {
            return Ok(sockets);
        }
        if let Some(why) = abort() {
            return Err(why);
        }
        if Instant::now() > deadline {
            let list: Vec<String> =
                missing.iter().map(|&j| format!("{j} ({})", c.addresses[j])).collect();
            return Err(format!(
                "process {me}: no connection with process {} within {} s: is each started, with \
                 the same host list and its own --process-index, and can it reach the others?",
                list.join(", "),
                timeout.as_secs()
            ));
        }
        for &j in missing.iter().filter(|&&j| j < me) {
            let addr = c.addresses[j]
                .to_socket_addrs()
                .map_err(|e| {
                    format!("process {me}: address of process {j}, {}: {e}", c.addresses[j])
                })?
                .next()
                .ok_or_else(|| format!("process {me}: {} resolves to nothing", c.addresses[j]))?;
            if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                let said = s
                    .set_nodelay(true)
                    .and_then(|_| s.write_all(&(me as u64).to_be_bytes()))
                    .and_then(|_| s.flush());
                if said.is_ok() {
                    sockets[j] = Some(s);
                }
            }
        }
        if let Some(l) = &listener {
            while let Ok((mut s, _)) = l.accept() {
                let mut index = [0u8; 8];
                let heard = s
                    .set_nonblocking(false)
                    .and_then(|_| s.set_read_timeout(Some(Duration::from_secs(5))))
                    .and_then(|_| s.read_exact(&mut index))
                    .and_then(|_| s.set_read_timeout(None))
                    .and_then(|_| s.set_nodelay(true));
                let j = u64::from_be_bytes(index) as usize;
                // A stray connection (not a later process, or one already connected) is dropped.
                if heard.is_ok() && j > me && j < n && sockets[j].is_none() {
                    sockets[j] = Some(s);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A worker's dataflow: the three exchanges and where their data lands.
struct Flow {
    states_in: InputHandle<u64, Sent>,
    states_probe: ProbeHandle<u64>,
    arrived: Rc<RefCell<Vec<Sent>>>,
    counts_in: InputHandle<u64, Count>,
    counts_probe: ProbeHandle<u64>,
    counted: Rc<RefCell<Vec<Count>>>,
    found_in: InputHandle<u64, Found>,
    found_probe: ProbeHandle<u64>,
    gathered: Rc<RefCell<Vec<Found>>>,
    /// The time of the next exchange (every input advances past each round).
    time: u64,
}

impl Flow {
    fn new(worker: &mut timely::worker::Worker) -> Flow {
        let arrived: Rc<RefCell<Vec<Sent>>> = Rc::default();
        let counted: Rc<RefCell<Vec<Count>>> = Rc::default();
        let gathered: Rc<RefCell<Vec<Found>>> = Rc::default();
        let mut states_in: InputHandle<u64, Sent> = InputHandle::new();
        let mut counts_in: InputHandle<u64, Count> = InputHandle::new();
        let mut found_in: InputHandle<u64, Found> = InputHandle::new();
        let states_probe = ProbeHandle::new();
        let counts_probe = ProbeHandle::new();
        let found_probe = ProbeHandle::new();
        worker.dataflow::<u64, _, _>(|scope| {
            let into = arrived.clone();
            scope
                .input_from(&mut states_in)
                .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Exchange::new(|s: &Sent| s.0),
                    "owner",
                    move |_, _| {
                        move |input, _| input.for_each(|_, data| into.borrow_mut().append(data))
                    },
                )
                .probe_with(&states_probe);
            let into = counted.clone();
            scope
                .input_from(&mut counts_in)
                .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Exchange::new(|c: &Count| c.to),
                    "counts",
                    move |_, _| {
                        move |input, _| input.for_each(|_, data| into.borrow_mut().append(data))
                    },
                )
                .probe_with(&counts_probe);
            let into = gathered.clone();
            scope
                .input_from(&mut found_in)
                .unary::<timely::container::CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Exchange::new(|_: &Found| 0),
                    "gather",
                    move |_, _| {
                        move |input, _| input.for_each(|_, data| into.borrow_mut().append(data))
                    },
                )
                .probe_with(&found_probe);
        });
        Flow {
            states_in,
            states_probe,
            arrived,
            counts_in,
            counts_probe,
            counted,
            found_in,
            found_probe,
            gathered,
            time: 0,
        }
    }

    /// Closes the round of `time` on every input and waits until everything sent in it has
    /// arrived everywhere.
    fn barrier(&mut self, worker: &mut timely::worker::Worker, which: Exchange3) {
        let t = self.time + 1;
        match which {
            Exchange3::States => {
                self.states_in.advance_to(t);
                while self.states_probe.less_than(&t) {
                    worker.step_or_park(Some(PARK));
                }
            }
            Exchange3::Counts => {
                self.counts_in.advance_to(t);
                while self.counts_probe.less_than(&t) {
                    worker.step_or_park(Some(PARK));
                }
            }
            Exchange3::Found => {
                self.found_in.advance_to(t);
                while self.found_probe.less_than(&t) {
                    worker.step_or_park(Some(PARK));
                }
            }
        }
    }

    /// Sends this worker's counts to every worker and returns everyone's.
    fn counts(&mut self, worker: &mut timely::worker::Worker, mine: Count) -> Vec<Count> {
        for to in 0..worker.peers() as u64 {
            self.counts_in.send(Count { to, ..mine.clone() });
        }
        self.barrier(worker, Exchange3::Counts);
        let all = std::mem::take(&mut *self.counted.borrow_mut());
        all
    }
}

#[derive(Clone, Copy)]
enum Exchange3 {
    States,
    Counts,
    Found,
}

/// A worker's life: a job at a time until the session ends.
fn serve(
    worker: &mut timely::worker::Worker,
    inbox: &Receiver<Order>,
    answers: &Sender<Answer>,
    notices: &Sender<String>,
) {
    let mut flow = Flow::new(worker);
    loop {
        let order = inbox.recv().ok().flatten();
        let done = order.is_none();
        let answer = match order {
            Some(job) => search(worker, &mut flow, &job),
            None => end(worker, &mut flow),
        };
        let failed = answer.is_err();
        if let Err(why) = &answer {
            // Every worker finds a disagreement in the same round (the counts are all-gathered).
            // One more round, with nothing sent, before answering: passing it means every
            // worker has finished that round and found it too, so no process stops (and closes
            // its connections) while another still waits for its counts, which that one would
            // report as a broken run instead of the disagreement. The main thread learns the
            // reason before that round: a peer that passes it first may stop and break the
            // connection, and this worker then dies in the round without answering.
            let _ = notices.send(why.clone());
            flow.barrier(worker, Exchange3::Counts);
            flow.time += 1;
        }
        if answers.send(answer).is_err() || done || failed {
            // After a disagreement the processes no longer submit the same exchanges.
            return;
        }
    }
}

/// The last round of a session: every worker must be at its end too.
fn end(worker: &mut timely::worker::Worker, flow: &mut Flow) -> Answer {
    flow.barrier(worker, Exchange3::States);
    let mine = Count {
        to: 0,
        job: END,
        new: 0,
        transitions: 0,
        ended: 0,
        interrupted: false,
        memory: None,
    };
    let all = flow.counts(worker, mine);
    flow.time += 1;
    if all.iter().any(|c| c.job != END) {
        return Err(disagreement());
    }
    Ok(None)
}

fn disagreement() -> String {
    "the processes of the distributed run were not given the same work: start every one with \
     the same command line (scenario files, policies and options), only --process-index \
     differing"
        .to_string()
}

/// The labels of one worker: per label the least (depth, path, outcome) with it, the end
/// states per label set, the costs.
#[derive(Default)]
struct Seen {
    best: FxHashMap<String, (Vec<u8>, u32, Option<String>, LabelSet)>,
    ends: BTreeMap<Vec<String>, u64>,
    costs: Costs,
}

impl Seen {
    /// `Findings::record`, keeping the least (path, outcome) per label instead of the first.
    fn record(&mut self, labels: &LabelSet, path: &[u8], outcome: u32, suffix: Option<&str>) {
        if suffix.is_none() {
            *self.ends.entry(labels.names()).or_insert(0) += 1;
        }
        self.costs.max(&labels.costs);
        for name in labels.names() {
            let better = match self.best.get(&name) {
                None => true,
                Some((p, o, _, _)) => (path.len(), path, outcome) < (p.len(), p.as_slice(), *o),
            };
            if better {
                self.best
                    .insert(name, (path.to_vec(), outcome, suffix.map(str::to_string), *labels));
            }
        }
    }
}

/// One job, on one worker: the level-synchronous search over the worker's share of the
/// states. Every worker goes through the same rounds (they decide from the same totals).
fn search(worker: &mut timely::worker::Worker, flow: &mut Flow, job: &Job) -> Answer {
    let (prog, policy, opts) = (&job.prog, &job.policy, &job.opts);
    let me = worker.index();
    let mut cx = Cx::new(prog, policy);
    let reducer = Reducer::new(&cx, opts.reduce, opts.crash);
    let budget = Budget::new(opts.max_memory);
    let mut visited: FxHashSet<u128> = FxHashSet::default();
    // This worker's states of the current level: encoded world, path.
    let mut level: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut seen = Seen::default();
    let (mut states, mut transitions, mut schedules) = (0u64, 0u64, 0u64);
    let mut limit = None;
    let mut scratch = Vec::new();
    // The depth of the states of `level`; the first round sends the initial world.
    let mut depth = 0usize;
    let mut first = true;
    loop {
        // Expand this worker's part of the level; of the successors it reaches more than once
        // in the round, send the least path only.
        let mut out: FxHashMap<u128, (Vec<u8>, Vec<u8>)> = FxHashMap::default();
        let (mut sent, mut ended, mut stopped) = (0u64, 0u64, false);
        if first {
            if me == 0 {
                stored::encode_into(&prog.initial, &mut scratch);
                out.insert(fingerprint(&prog.initial), (scratch.clone(), Vec::new()));
            }
        } else {
            for (bytes, path) in level.drain(..) {
                if interrupted() {
                    stopped = true;
                    break;
                }
                let w = stored::decode(&bytes);
                let mut outcome = 0u32;
                if opts.crash {
                    for (suffix, labels) in crash::outcomes(&w, &mut cx) {
                        seen.record(&labels, &path, outcome, Some(&suffix));
                        outcome += 1;
                        ended += 1;
                    }
                }
                let moves = reducer.moves(&w, &cx);
                if moves.is_empty() {
                    let mut end = w;
                    model::finish(&mut end, &mut cx);
                    seen.record(&end.labels, &path, outcome, None);
                    ended += 1;
                    continue;
                }
                // Its element hashes first (an encoded world has none): each successor then
                // rehashes only what its step touched (`fingerprint_mut`).
                let mut w = w;
                fingerprint_mut(&mut w);
                for (i, &m) in moves.iter().enumerate() {
                    let mut next = w.clone();
                    model::step(&mut next, &mut cx, m);
                    reducer.canonicalize(&mut next);
                    sent += 1;
                    let fp = fingerprint_mut(&mut next);
                    // A state in this worker's part of the visited set is known everywhere
                    // to be seen: not sent again. (Most successors are seen states; with
                    // P workers this catches about 1/P of them.)
                    if visited.contains(&fp) {
                        continue;
                    }
                    let mut p = Vec::with_capacity(path.len() + 1);
                    p.extend_from_slice(&path);
                    // At most TASKS_MAX tasks, two moves each: a position fits a byte.
                    p.push(i as u8);
                    match out.get_mut(&fp) {
                        Some(kept) if kept.1 <= p => {}
                        Some(kept) => kept.1 = p,
                        None => {
                            stored::encode_into(&next, &mut scratch);
                            out.insert(fp, (scratch.clone(), p));
                        }
                    }
                }
            }
        }
        for (fp, (bytes, path)) in out {
            flow.states_in.send((fp as u64, (fp >> 64) as u64, bytes, path));
        }
        flow.barrier(worker, Exchange3::States);
        // Keep, of each state new to the search, the least path that reached it this round.
        let mut fresh: FxHashMap<u128, (Vec<u8>, Vec<u8>)> = FxHashMap::default();
        for (lo, hi, bytes, path) in flow.arrived.borrow_mut().drain(..) {
            let fp = lo as u128 | (hi as u128) << 64;
            if visited.contains(&fp) {
                continue;
            }
            match fresh.get_mut(&fp) {
                Some(kept) if kept.1 <= path => {}
                Some(kept) => *kept = (bytes, path),
                None => {
                    fresh.insert(fp, (bytes, path));
                }
            }
        }
        let new = fresh.len() as u64;
        for (fp, state) in fresh {
            visited.insert(fp);
            level.push(state);
        }
        let memory = (!budget.fits(0)).then(|| budget.reason());
        let mine = Count {
            to: 0,
            job: job.hash,
            new,
            transitions: sent,
            ended,
            interrupted: stopped || interrupted(),
            memory,
        };
        let all = flow.counts(worker, mine);
        flow.time += 1;
        if all.iter().any(|c| c.job != job.hash) {
            return Err(disagreement());
        }
        let all_new: u64 = all.iter().map(|c| c.new).sum();
        states += all_new;
        transitions += all.iter().map(|c| c.transitions).sum::<u64>();
        schedules += all.iter().map(|c| c.ended).sum::<u64>();
        if !first {
            depth += 1;
        }
        first = false;
        if all.iter().any(|c| c.interrupted) {
            // A Ctrl-C (or SIGTERM) to any process stops the whole command, as it stops one.
            super::INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
            limit = Some("interrupted".to_string());
            break;
        }
        if let Some(why) = all.iter().find_map(|c| c.memory.clone()) {
            limit = Some(why);
            break;
        }
        if all_new == 0 {
            break;
        }
        if states > opts.max_states as u64 {
            limit = Some(format!("--max-states {} reached", opts.max_states));
            break;
        }
        if depth >= limits::STEPS_MAX {
            limit = Some(format!("a schedule longer than {} steps", limits::STEPS_MAX));
            break;
        }
    }
    // Gather what every worker found on worker 0.
    for (label, (path, outcome, suffix, labels)) in seen.best {
        flow.found_in.send(Found::Witness { label, path, outcome, suffix, labels });
    }
    for (labels, count) in seen.ends {
        flow.found_in.send(Found::Ends { labels, count });
    }
    flow.found_in.send(Found::Costs(seen.costs));
    flow.barrier(worker, Exchange3::Found);
    flow.time += 1;
    let found = std::mem::take(&mut *flow.gathered.borrow_mut());
    Ok((me == 0).then_some(Summary { states, transitions, schedules, limit, found }))
}

/// The moves of a path of move positions from the initial world, as the search took them.
fn moves_along(prog: &Program, policy: &Policy, opts: &ExploreOptions, path: &[u8]) -> Vec<Move> {
    let mut cx = Cx::new(prog, policy);
    let reducer = Reducer::new(&cx, opts.reduce, opts.crash);
    let mut w = prog.initial.clone();
    let mut out = Vec::with_capacity(path.len());
    for &i in path {
        let m = reducer.moves(&w, &cx)[i as usize];
        model::step(&mut w, &mut cx, m);
        reducer.canonicalize(&mut w);
        out.push(m);
    }
    out
}

/// The job's hash: every process must submit the same jobs in the same order.
fn job_hash(prog: &Program, policy: &Policy, opts: &ExploreOptions) -> u64 {
    let text = format!(
        "{:x} {} {:?} {} {} {:?}",
        fingerprint(&prog.initial),
        policy.name,
        opts.reduce,
        opts.crash,
        opts.max_states,
        opts.max_memory
    );
    xxhash_rust::xxh3::xxh3_64(text.as_bytes()) | 1
}

/// This process's part of an exhaustive exploration on `session`: process 0 gets the
/// exploration and fills `found`, the others get `None`. A failure of the run (a process lost,
/// processes given different work) is `Err`, and the session keeps it (`Session::failure`).
pub(super) fn explore(
    session: &Session,
    prog: &Program,
    policy: &Policy,
    opts: &ExploreOptions,
    found: &mut Findings,
) -> Result<Option<Exploration>, String> {
    let job = Job {
        prog: prog.clone(),
        policy: policy.clone(),
        opts: ExploreOptions { cluster: None, progress: false, ..opts.clone() },
        hash: job_hash(prog, policy, opts),
    };
    let Some(s) = session.run(job)? else { return Ok(None) };
    let mut out = Exploration::new("exhaustive");
    out.states = s.states;
    out.transitions = s.transitions;
    if let Some(why) = s.limit {
        out.stop(why);
    }
    // The least witness of each label over all workers, named as `Findings::record` names it.
    let mut best: BTreeMap<String, (Vec<u8>, u32, Option<String>)> = BTreeMap::new();
    for f in s.found {
        match f {
            Found::Witness { label, path, outcome, suffix, labels } => {
                found.labels.union(&labels);
                let better = match best.get(&label) {
                    None => true,
                    Some((p, o, _)) => (path.len(), &path, outcome) < (p.len(), p, *o),
                };
                if better {
                    best.insert(label, (path, outcome, suffix));
                }
            }
            Found::Ends { labels, count } => *found.ends.entry(labels).or_insert(0) += count,
            Found::Costs(c) => found.labels.costs.max(&c),
        }
    }
    for (label, (path, _, suffix)) in best {
        // Moves between canonical worlds under `symmetry`: made real as `Findings` does.
        let moves = found.real_path(moves_along(prog, policy, opts, &path));
        let mut schedule = super::schedule_of(prog, policy, &moves);
        if let Some(x) = suffix {
            if !schedule.is_empty() {
                schedule.push(',');
            }
            schedule.push_str(&x);
        }
        found.witnesses.insert(label, schedule);
    }
    found.schedules += s.schedules;
    Ok(Some(out))
}
