//! The catalogue is the test suite (STYLE.md practice 8): every built-in scenario, under every
//! policy its `expect` lines name, through one `check()`; every label's witness replays to a
//! run that reaches that label.

use pincheck::check::reduce::Reductions;
use pincheck::check::{replay::replay, ExploreMode, ExploreOptions};
use pincheck::policy::Policy;
use pincheck::run::{self, Source};

/// The catalogue scenario `name` (its file is `scenarios/NAME.pin`).
fn catalogue_scenario(name: &str) -> Source {
    run::catalogue_source(name).expect("in the catalogue")
}

fn check(src: &Source) {
    let loaded = run::load(src).unwrap_or_else(|e| panic!("{}: {e}", src.path));
    assert!(
        loaded.ast.about.is_some(),
        "{}: every catalogue scenario has an `about` line",
        src.path
    );
    let names: Vec<&str> = loaded.ast.expects.iter().map(|e| e.policy.text.as_str()).collect();
    for p in Policy::presets() {
        assert!(names.contains(&p.name.as_str()), "{}: no `expect` line for {}", src.path, p.name);
    }
    for p in run::policies_for(&loaded, None).expect("known policies") {
        let row = run::check_one(&loaded, &p, &ExploreOptions::default());
        assert!(row.complete, "{} [{}]: exploration incomplete", row.scenario, p.name);
        assert_eq!(
            Some(row.labels.clone()),
            row.expected,
            "{} [{}]: labels differ from the expectation",
            row.scenario,
            p.name
        );
        for (label, schedule) in &row.witnesses {
            let r = replay(&loaded.program, &p, schedule).expect("witness replays");
            assert!(
                r.end.is_some(),
                "{} [{}]: witness for {label} does not reach the end",
                row.scenario,
                p.name
            );
            assert!(
                r.labels.contains(label),
                "{} [{}]: witness for {label} reaches {:?}",
                row.scenario,
                p.name,
                r.labels
            );
        }
        assert_eq!(
            row.witnesses.len(),
            row.labels.len(),
            "{} [{}]: a witness per label",
            row.scenario,
            p.name
        );
    }
}

#[test]
fn every_catalogue_scenario_meets_its_expectations() {
    let sources = run::catalogue_sources();
    assert!(sources.len() >= 16, "the catalogue of issue #2 has at least 16 scenarios");
    for src in &sources {
        let name = run::load(src).map(|l| l.program.name).unwrap_or_default();
        assert_eq!(
            name, src.path,
            "a catalogue scenario is named as its file (`pincheck check NAME`)"
        );
        check(src);
    }
}

#[test]
fn exploration_is_deterministic() {
    let opts = ExploreOptions::default();
    for src in run::catalogue_sources() {
        let l = run::load(&src).expect("catalogue parses");
        for p in Policy::presets() {
            let a = pincheck::check::explore(&l.program, &p, &opts);
            let b = pincheck::check::explore(&l.program, &p, &opts);
            assert_eq!(a, b, "{} [{}]: two explorations differ", src.path, p.name);
        }
    }
}

#[test]
fn random_exploration_is_reproducible_by_seed_and_finds_only_real_labels() {
    let src = catalogue_scenario("ext4-rdma-strip");
    let l = run::load(&src).unwrap();
    let p = Policy::by_name("linux-5.18").unwrap();
    let opts = ExploreOptions {
        mode: pincheck::check::ExploreMode::Random,
        seed: 7,
        runs: 200,
        ..Default::default()
    };
    let a = pincheck::check::explore(&l.program, &p, &opts);
    let b = pincheck::check::explore(&l.program, &p, &opts);
    assert_eq!(a, b);
    assert!(!a.complete);
    let exhaustive = pincheck::check::explore(&l.program, &p, &ExploreOptions::default());
    assert!(a.labels.iter().all(|x| exhaustive.labels.contains(x)));
    for (label, s) in &a.witnesses {
        assert!(replay(&l.program, &p, s).unwrap().labels.contains(label));
    }
}

/// Scenarios that once exposed a bug in the model (panics, labels a kernel developer disputed),
/// kept with the labels the kernel source gives them.
#[test]
fn regression_scenarios_meet_their_expectations() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    let sources = run::load_paths(&[dir.to_string()]).expect("the regression directory loads");
    assert!(sources.len() >= 10);
    for src in &sources {
        check(src);
    }
}

/// Breadth-first (the default) and depth-first, one thread and two give equal explorations:
/// states, transitions, labels, how often and witnesses.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let with = |mode, threads| ExploreOptions { mode, threads, ..Default::default() };
    for src in run::catalogue_sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            for mode in [ExploreMode::Auto, ExploreMode::DepthFirst] {
                let a = pincheck::check::explore(&l.program, &p, &with(mode, 1));
                let b = pincheck::check::explore(&l.program, &p, &with(mode, 2));
                assert_eq!(a, b, "{} [{}] {mode:?}", src.path, p.name);
            }
            // Depth-first with power failures (labels at every state) and every reduction.
            let opts = |threads| ExploreOptions {
                crash: true,
                reduce: Reductions::ALL,
                ..with(ExploreMode::DepthFirst, threads)
            };
            let a = pincheck::check::explore(&l.program, &p, &opts(1));
            let b = pincheck::check::explore(&l.program, &p, &opts(2));
            assert_eq!(a, b, "{} [{}] depth-first --crash --reduce all", src.path, p.name);
        }
    }
    // A state space large enough to use the workers (levels of 64 states and more; stacks deep
    // enough that the depth-first threads hand each other moves), with and without the
    // reductions and power failures; the several-thread depth-first search three times, as its
    // threads' timing varies.
    let text = "scenario big\nabout \"t\"\nfs ext4\ndisk 16\nmemory 8\nfile f 2 synced\n\
        thread a:\n  m = mmap f shared\n  signal go\n  store m[0] A\n  fsync f\n\
        thread b:\n  wait go\n  p = pin m[1] write\n  dma-write p[0] B\n  unpin p dirty\n\
        thread c:\n  wait go\n  maybe writeback f\n  maybe reclaim\n  maybe reclaim-active\n  maybe writeback f\n";
    let l = run::load(&Source { path: "big.pin".into(), text: text.into() }).unwrap();
    let p = Policy::by_name("linux-5.18").unwrap();
    let a = pincheck::check::explore(&l.program, &p, &with(ExploreMode::Auto, 1));
    let b = pincheck::check::explore(&l.program, &p, &with(ExploreMode::Auto, 2));
    assert!(a.states > 1000, "{} states", a.states);
    assert_eq!(a, b);
    for (reduce, crash) in
        [(Reductions::NONE, false), (Reductions::ALL, false), (Reductions::ALL, true)]
    {
        let opts =
            |threads| ExploreOptions { reduce, crash, ..with(ExploreMode::DepthFirst, threads) };
        let one = pincheck::check::explore(&l.program, &p, &opts(1));
        assert!(one.complete && one.states > 1000, "{} states", one.states);
        for _ in 0..3 {
            let two = pincheck::check::explore(&l.program, &p, &opts(2));
            assert_eq!(one, two, "depth-first, --reduce {reduce:?}, --crash {crash}");
        }
        for (label, schedule) in &one.witnesses {
            let r = replay(&l.program, &p, schedule).unwrap_or_else(|e| panic!("{label}: {e}"));
            assert!(r.labels.contains(label), "{label} not reached by {schedule}");
        }
    }
    // Stopped by --max-states, the several-thread search reports fewer labels (which ones
    // depends on its threads' timing), each with a witness that replays to it.
    let full = pincheck::check::explore(&l.program, &p, &with(ExploreMode::DepthFirst, 1));
    let part = ExploreOptions { max_states: 300, ..with(ExploreMode::DepthFirst, 2) };
    let x = pincheck::check::explore(&l.program, &p, &part);
    assert!(!x.complete && x.limit.as_deref() == Some("--max-states 300 reached"), "{:?}", x.limit);
    assert!(x.labels.iter().all(|n| full.labels.contains(n)), "{:?}", x.labels);
    assert!(!x.labels.is_empty(), "end states within 300 states of a 7,000-state space");
    for (label, schedule) in &x.witnesses {
        let r = replay(&l.program, &p, schedule).unwrap_or_else(|e| panic!("{label}: {e}"));
        assert!(r.labels.contains(label), "{label} not reached by {schedule}");
    }
}

/// The depth-first explorer (fingerprints only) visits the states and reaches the labels the
/// breadth-first one does, and its witnesses replay to their labels.
#[test]
fn depth_first_finds_what_breadth_first_finds() {
    for src in run::catalogue_sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            let bfs = ExploreOptions { mode: ExploreMode::Exhaustive, ..Default::default() };
            let dfs = ExploreOptions { mode: ExploreMode::DepthFirst, ..Default::default() };
            let a = pincheck::check::explore(&l.program, &p, &bfs);
            let b = pincheck::check::explore(&l.program, &p, &dfs);
            let what = format!("{} [{}]", src.path, p.name);
            assert_eq!(
                (a.complete, a.states, a.transitions, &a.labels, a.schedules),
                (b.complete, b.states, b.transitions, &b.labels, b.schedules),
                "{what}"
            );
            assert_eq!(a.outcomes, b.outcomes, "{what}: how often, over the same end states");
            for (label, schedule) in &b.witnesses {
                let r = replay(&l.program, &p, schedule)
                    .unwrap_or_else(|e| panic!("{what}: {label}: {e}"));
                assert!(r.labels.contains(label), "{what}: {label} not reached by {schedule}");
            }
        }
    }
}

#[test]
fn witnesses_are_shortest() {
    // The ext4-rdma-strip bug needs 14 steps before the final fsync's writeback; no shorter
    // schedule can reach it, and breadth-first search finds one of that length.
    let src = catalogue_scenario("ext4-rdma-strip");
    let l = run::load(&src).unwrap();
    let p = Policy::by_name("linux-4.19").unwrap();
    let x = pincheck::check::explore(&l.program, &p, &ExploreOptions::default());
    let steps = |label: &str| pincheck::check::schedule::parse(&x.witnesses[label]).len();
    assert!(steps("bug") <= 14, "{}", x.witnesses["bug"]);
    assert!(steps("warn") <= steps("bug"));
}

#[test]
fn crash_exploration_checks_every_power_failure_and_its_witnesses_replay() {
    let opts = ExploreOptions { crash: true, ..Default::default() };
    for src in run::catalogue_sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            let plain = pincheck::check::explore(&l.program, &p, &ExploreOptions::default());
            let x = pincheck::check::explore(&l.program, &p, &opts);
            assert!(x.complete);
            assert!(plain.labels.iter().all(|label| x.labels.contains(label)), "{}", src.path);
            for (label, schedule) in &x.witnesses {
                let r = replay(&l.program, &p, schedule).expect("witness replays");
                assert!(r.labels.contains(label), "{} [{}] {label}: {schedule}", src.path, p.name);
            }
        }
    }
    // fsync's promise survives any power failure; a write never synced promises nothing.
    let text = "scenario c\nabout \"t\"\nfs ext4\nfile f 2 synced\nthread a:\n  write f[0] A\n  fsync f\n  write f[1] B\n  write f[0] C\n";
    let l = run::load(&Source { path: "c.pin".into(), text: text.into() }).unwrap();
    let x = pincheck::check::explore(&l.program, &Policy::by_name("linux-6.18").unwrap(), &opts);
    assert!(x.labels.is_empty(), "{:?}", x.labels);
}

#[test]
fn pct_runs_are_reproducible_by_seed() {
    let src = catalogue_scenario("ext4-dio-mmap-strip");
    let l = run::load(&src).unwrap();
    let p = Policy::by_name("linux-4.19").unwrap();
    let opts = ExploreOptions {
        mode: pincheck::check::ExploreMode::Pct,
        seed: 3,
        runs: 300,
        ..Default::default()
    };
    let a = pincheck::check::explore(&l.program, &p, &opts);
    assert_eq!(a, pincheck::check::explore(&l.program, &p, &opts));
    assert_eq!(a.explorer, "pct");
    for (label, s) in &a.witnesses {
        assert!(replay(&l.program, &p, s).unwrap().labels.contains(label));
    }
}

#[test]
fn reduction_keeps_every_label_and_saves_states() {
    let (mut with, mut without) = (0, 0);
    let mut sources = run::catalogue_sources();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    sources.extend(run::load_paths(&[dir.to_string()]).unwrap());
    for src in sources {
        let l = run::load(&src).unwrap();
        // A `crash` statement stops the machine as a modeled BUG() does (a power failure).
        let powers_off = src.text.lines().any(|line| {
            let op = line.trim();
            op.strip_prefix("maybe ").unwrap_or(op).trim() == "crash"
        });
        for p in Policy::presets() {
            let r = pincheck::check::explore(&l.program, &p, &ExploreOptions::default());
            let full = ExploreOptions { reduce: Reductions::NONE, ..Default::default() };
            let f = pincheck::check::explore(&l.program, &p, &full);
            assert_eq!(r.labels, f.labels, "{} [{}]", src.path, p.name);
            // The same label sets end interleavings; end states where no modeled BUG() (or
            // power failure) stopped the machine are all kept, so their counts do not depend on
            // reduction. Those where one did may merge (a wait or signal the crash cut off in
            // one, taken in the other: docs/design.md, "How often"), never below one.
            assert!(r.outcomes.is_some(), "{} [{}]: complete, so counted", src.path, p.name);
            let (ro, fo) = (r.outcomes.as_ref().unwrap(), f.outcomes.as_ref().unwrap());
            let sets = |o: &[pincheck::check::Outcome]| -> Vec<Vec<String>> {
                o.iter().map(|x| x.labels.clone()).collect()
            };
            assert_eq!(sets(ro), sets(fo), "{} [{}]: label sets", src.path, p.name);
            for (a, b) in ro.iter().zip(fo) {
                let what = format!("{} [{}] {:?}", src.path, p.name, a.labels);
                if powers_off || a.labels.iter().any(|l| l == "bug") {
                    assert!(a.end_states >= 1 && a.end_states <= b.end_states, "{what}");
                } else {
                    assert_eq!(a.end_states, b.end_states, "{what}");
                }
            }
            assert!(r.states <= f.states);
            // Reduction reorders invisible steps; it never lengthens a shortest witness, but
            // one to a state where the machine stopped (a BUG() or a power failure cut the
            // step off in the shorter schedule: docs/design.md, the table of reductions).
            let may_stop = powers_off || f.labels.iter().any(|l| l == "bug");
            for (label, s) in &r.witnesses {
                let len = |s: &str| pincheck::check::schedule::parse(s).len();
                let (reduced, full) = (len(s), len(&f.witnesses[label]));
                let what = format!("{} [{}] {label}: {reduced} steps, {full}", src.path, p.name);
                if may_stop {
                    assert!(reduced >= full, "{what}");
                } else {
                    assert_eq!(reduced, full, "{what}");
                }
            }
            with += r.states;
            without += f.states;
        }
    }
    assert!(with < without, "reduction saves states ({with} < {without})");
}
