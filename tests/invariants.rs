//! The model's invariants (`World::check_invariants`, src/model/invariants.rs) hold after every
//! step of every witness: of the catalogue and the regression scenarios under every preset (with
//! and without `--crash`), and of generated scenarios (tests/generated.rs checks those, through
//! the same `replay_checking_invariants`). Debug builds also check them after every step the
//! explorers take.

use pincheck::check::{explore, replay::replay_checking_invariants, ExploreOptions};
use pincheck::policy::Policy;
use pincheck::run;

#[test]
fn every_witness_of_the_catalogue_and_regressions_keeps_the_invariants() {
    let mut sources = run::catalogue_sources();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    sources.extend(run::load_paths(&[dir.to_string()]).unwrap());
    let mut replayed = 0;
    for src in sources {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            for crash in [false, true] {
                let x = explore(&l.program, &p, &ExploreOptions { crash, ..Default::default() });
                for (label, schedule) in &x.witnesses {
                    let labels = replay_checking_invariants(&l.program, &p, schedule)
                        .unwrap_or_else(|e| panic!("{} [{}] {label}: {e}", src.path, p.name));
                    assert!(labels.contains(label), "{} [{}] {label}", src.path, p.name);
                    replayed += 1;
                }
            }
        }
    }
    assert!(replayed > 400, "{replayed} witnesses replayed");
}

#[test]
#[should_panic(expected = "refcount = page cache + PTEs + gets + pins x bias + fix-ups")]
fn a_broken_invariant_panics_naming_its_rule() {
    let src =
        run::catalogue_sources().into_iter().find(|s| s.path.contains("ext4-rdma-strip")).unwrap();
    let l = run::load(&src).unwrap();
    let p = Policy::by_name("linux-6.18").unwrap();
    let cx = pincheck::model::Cx::new(&l.program, &p);
    let mut w = l.program.initial.clone();
    w.folios[0].refcount += 1; // a reference nobody holds
    w.check_invariants(&cx);
}
