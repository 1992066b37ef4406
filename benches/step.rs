//! Criterion benchmarks of the hot path: one model step (clone, step), the fingerprint of a
//! world (whole, and incremental after a step), and a whole exhaustive exploration of a
//! catalogue scenario.
//! Run with `cargo bench`; `pincheck bench` measures the catalogue end to end.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use pincheck::check::{
    explore,
    fingerprint::{fingerprint, fingerprint_mut},
    ExploreOptions,
};
use pincheck::model::{self, Cx};
use pincheck::policy::Policy;
use pincheck::run;

fn catalogue(name: &str) -> run::Loaded {
    let src = run::catalogue_source(name).expect("in the catalogue");
    run::load(&src).expect("loads")
}

fn benches(c: &mut Criterion) {
    let l = catalogue("ext4-rdma-strip");
    let policy = Policy::by_name("linux-5.18").unwrap();
    let mut cx = Cx::new(&l.program, &policy);
    // A world a few steps in, with a mapping, a registration and queued work.
    let mut w = l.program.initial.clone();
    for _ in 0..6 {
        let m = model::moves(&w, &cx)[0];
        model::step(&mut w, &mut cx, m);
    }
    let m = model::moves(&w, &cx)[0];
    c.bench_function("clone + step", |b| {
        b.iter(|| {
            let mut next = w.clone();
            model::step(&mut next, &mut cx, black_box(m));
            next
        })
    });
    c.bench_function("moves", |b| b.iter(|| model::moves(black_box(&w), &cx)));
    // Every element hashed (a world that remembers no hash), then what an explorer pays per
    // successor: a copy of a world whose hashes are known, stepped and fingerprinted again.
    c.bench_function("fingerprint", |b| b.iter(|| fingerprint(black_box(&w))));
    let mut known = w.clone();
    fingerprint_mut(&mut known);
    c.bench_function("clone + step + incremental fingerprint", |b| {
        b.iter(|| {
            let mut next = known.clone();
            model::step(&mut next, &mut cx, black_box(m));
            fingerprint_mut(&mut next)
        })
    });
    let opts = ExploreOptions::default();
    c.bench_function("explore ext4-rdma-strip", |b| b.iter(|| explore(&l.program, &policy, &opts)));
}

criterion_group!(step, benches);
criterion_main!(step);
