//! Mutation check: switching off any one protective mechanism must change what the catalogue
//! reaches, somewhere. A checker that cannot find injected bugs cannot be trusted.

use pincheck::check::{explore, ExploreOptions};
use pincheck::policy::{Mutation, Policy};
use pincheck::run;

#[test]
fn every_mutation_is_detected_by_the_catalogue() {
    let loaded: Vec<run::Loaded> =
        run::catalogue_sources().iter().map(|s| run::load(s).expect("catalogue loads")).collect();
    let opts = ExploreOptions::default();
    let baseline: Vec<Vec<Vec<String>>> = loaded
        .iter()
        .map(|l| Policy::presets().iter().map(|p| explore(&l.program, p, &opts).labels).collect())
        .collect();
    for m in Mutation::ALL {
        let mut detected = Vec::new();
        for (l, base) in loaded.iter().zip(&baseline) {
            for (p, labels) in Policy::presets().iter().zip(base) {
                let mutated = explore(&l.program, &p.with_mutation(m), &opts).labels;
                if mutated != *labels {
                    detected.push(format!(
                        "{} [{}]: {:?} -> {:?}",
                        l.program.name, p.name, labels, mutated
                    ));
                }
            }
        }
        assert!(
            !detected.is_empty(),
            "mutation {} is not detected by any catalogue scenario",
            m.name()
        );
    }
}
