//! The catalogue is the test suite (STYLE.md practice 8): every built-in scenario, under every
//! policy its `expect` lines name, through one `check()`; every label's witness replays to a
//! run that reaches that label.

use pincheck::check::{replay::replay, ExploreOptions};
use pincheck::policy::Policy;
use pincheck::run::{self, Source};

fn check(src: &Source) {
    let loaded = run::load(src).unwrap_or_else(|e| panic!("{}: {e}", src.path));
    assert!(
        loaded.ast.about.is_some(),
        "{}: every catalogue scenario has an `about` line",
        src.path
    );
    let names: Vec<&str> = loaded.ast.expects.iter().map(|e| e.policy.text.as_str()).collect();
    for p in Policy::presets() {
        assert!(names.contains(&p.name), "{}: no `expect` line for {}", src.path, p.name);
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
    let src = run::catalogue_sources()
        .into_iter()
        .find(|s| s.path.ends_with("ext4-rdma-strip.pin"))
        .unwrap();
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
