//! Each reduction of the exhaustive search (src/check/reduce.rs) against the unreduced search:
//! the same labels on the catalogue, the regression scenarios and generated scenarios, with and
//! without `--crash`; every witness replays from the real initial world to its label, with the
//! model's invariants checked after every step; `invisible` and `generations` keep witnesses
//! shortest (breadth-first). Generated scenarios are explored depth-first (the leanest search:
//! fingerprints only), each also on two threads (equal, witnesses included, when complete);
//! `PINCHECK_GENERATED=N` runs N of them instead of 8, and `PINCHECK_GENERATED_STATES=S` bounds
//! each exploration at S states instead of 2,000; the complete comparison of issue 9 is
//! `PINCHECK_GENERATED=3000 PINCHECK_GENERATED_STATES=2000000 cargo test --release --test
//! reductions generated -- --nocapture` (an exploration over the bound is counted as
//! incomplete and listed with its size, not compared). The two walks that check the
//! independence the footprints claim (`independent_moves_commute_state_by_state`,
//! `persistent_sets_commute_with_the_paths_outside_them`) take `PINCHECK_WALK_GENERATED=N`
//! generated scenarios instead of 40 and `PINCHECK_WALK_STATES=S` states of each instead of
//! 400 and 300 (a longer hunt, by hand).

use pincheck::check::fingerprint::fingerprint;
use pincheck::check::reduce::Reductions;
use pincheck::check::replay::replay_checking_invariants;
use pincheck::check::sleep::Sleep;
use pincheck::check::{explore, schedule, Exploration, ExploreMode, ExploreOptions};
use pincheck::model::program::COp;
use pincheck::model::task::TaskKind;
use pincheck::model::{self, Cx, Move, Program, World};
use pincheck::policy::Policy;
use pincheck::run::{self, Source};

/// Each reduction alone, and all of them.
fn variants() -> Vec<(&'static str, Reductions)> {
    let none = Reductions::NONE;
    vec![
        ("invisible", Reductions { invisible: true, ..none }),
        ("generations", Reductions { generations: true, ..none }),
        ("independence", Reductions { independence: true, ..none }),
        ("symmetry", Reductions { symmetry: true, ..none }),
        ("signals", Reductions { signals: true, ..none }),
        ("late-skips", Reductions { late_skips: true, ..none }),
        ("all", Reductions::ALL),
        // Depth-first only (`sleep.rs`); alone it keeps every state.
        ("sleep", Reductions { sleep: true, ..none }),
        ("persistent+sleep", PERSISTENT_SLEEP),
    ]
}

/// Sleep sets on top of every reduction they combine with (not `symmetry`, `late-skips`).
const PERSISTENT_SLEEP: Reductions =
    Reductions { symmetry: false, late_skips: false, sleep: true, ..Reductions::ALL };

/// What a comparison found: states with every reduction and without any (complete pairs only),
/// and the explorations left incomplete by `max_states`, each as (reduction, states reduced,
/// complete, states unreduced, complete).
#[derive(Default)]
struct Compared {
    reduced: u64,
    full: u64,
    /// Reduced explorations compared completely with the unreduced one.
    complete: u64,
    incomplete: Vec<(&'static str, u64, bool, u64, bool)>,
}

/// Explores `prog` under `p` with each variant (or `all`, `independence` and `symmetry` only,
/// unless `each`) and compares with the unreduced search.
fn compare(what: &str, prog: &Program, p: &Policy, base: &ExploreOptions, each: bool) -> Compared {
    let full = explore(prog, p, &ExploreOptions { reduce: Reductions::NONE, ..base.clone() });
    let mut c = Compared::default();
    let chosen = |name: &&str| {
        each || matches!(*name, "all" | "independence" | "symmetry" | "persistent+sleep")
    };
    for (name, r) in variants().into_iter().filter(|(name, _)| chosen(name)) {
        let x = explore(prog, p, &ExploreOptions { reduce: r, ..base.clone() });
        if !(x.complete && full.complete) {
            c.incomplete.push((name, x.states, x.complete, full.states, full.complete));
            continue;
        }
        assert_eq!(x.labels, full.labels, "{what} [{}] --reduce {name}: labels differ", p.name);
        assert!(x.states <= full.states, "{what} [{}] --reduce {name}: more states", p.name);
        if name == "sleep" && base.mode == ExploreMode::DepthFirst {
            assert_eq!(x.states, full.states, "{what} [{}]: sleep sets lost states", p.name);
            assert_eq!(x.outcomes, full.outcomes, "{what} [{}]: sleep sets' end states", p.name);
        }
        check_witnesses(what, prog, p, &x, name);
        c.complete += 1;
        // Shortest witnesses are the breadth-first search's, but where a BUG() or a `crash`
        // statement may stop the machine (docs/design.md, the table of reductions): there a
        // witness may be longer, never shorter.
        let breadth_first = base.mode != ExploreMode::DepthFirst;
        let may_stop = full.labels.iter().any(|l| l == "bug")
            || prog.threads.iter().flat_map(|t| &t.body).any(|s| matches!(s.op, COp::Crash));
        if breadth_first && !r.independence {
            for (label, s) in &x.witnesses {
                let len = |s: &str| schedule::parse(s).len();
                let (reduced, unreduced) = (len(s), len(&full.witnesses[label]));
                let what = format!("{what} [{}] --reduce {name}: {label}'s witness", p.name);
                if may_stop {
                    assert!(reduced >= unreduced, "{what} is shorter than shortest");
                } else {
                    assert_eq!(reduced, unreduced, "{what} is not shortest");
                }
            }
        }
        if name == "all" {
            c.reduced += x.states;
            c.full += full.states;
        }
    }
    c
}

fn check_witnesses(what: &str, prog: &Program, p: &Policy, x: &Exploration, name: &str) {
    assert_eq!(x.witnesses.len(), x.labels.len(), "{what} [{}]: a witness per label", p.name);
    for (label, s) in &x.witnesses {
        let labels = replay_checking_invariants(prog, p, s)
            .unwrap_or_else(|e| panic!("{what} [{}] --reduce {name} {label}: {e}", p.name));
        assert!(
            labels.contains(label),
            "{what} [{}] --reduce {name}: {label} not replayed",
            p.name
        );
    }
}

fn sources() -> Vec<Source> {
    let mut sources = run::catalogue_sources();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/regressions");
    sources.extend(run::load_paths(&[dir.to_string()]).unwrap());
    sources
}

#[test]
fn every_reduction_keeps_the_labels_of_the_catalogue_and_regressions() {
    let (mut reduced, mut full) = (0, 0);
    for src in sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            let c = compare(&src.path, &l.program, &p, &ExploreOptions::default(), true);
            reduced += c.reduced;
            full += c.full;
        }
    }
    assert!(reduced < full, "the reductions save states ({reduced} < {full})");
}

/// The same depth-first, where sleep sets apply (`sleep.rs`; the breadth-first search does not
/// use them).
#[test]
fn every_reduction_keeps_the_labels_of_the_catalogue_and_regressions_depth_first() {
    let opts = ExploreOptions { mode: ExploreMode::DepthFirst, ..Default::default() };
    let (mut sleep, mut full) = (0, 0);
    for src in sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            compare(&src.path, &l.program, &p, &opts, true);
            let r = ExploreOptions { reduce: PERSISTENT_SLEEP, ..opts.clone() };
            let none =
                ExploreOptions { reduce: Reductions { sleep: false, ..r.reduce }, ..r.clone() };
            sleep += explore(&l.program, &p, &r).transitions;
            full += explore(&l.program, &p, &none).transitions;
            // On top of the default: the same labels, no more states (no "how often": end
            // states where a `BUG()` stopped the machine may merge).
            let invisible = Reductions { invisible: true, ..Reductions::NONE };
            let with =
                ExploreOptions { reduce: Reductions { sleep: true, ..invisible }, ..opts.clone() };
            let (x, y) = (explore(&l.program, &p, &with), explore(&l.program, &p, &opts));
            if x.complete && y.complete {
                assert_eq!(x.labels, y.labels, "{} [{}]: invisible,sleep", src.path, p.name);
                assert!(x.outcomes.is_none(), "{} [{}]: not counted", src.path, p.name);
                assert!(x.states <= y.states, "{} [{}]: invisible,sleep", src.path, p.name);
            }
        }
    }
    assert!(sleep < full, "sleep sets save transitions ({sleep} < {full})");
}

#[test]
fn every_reduction_keeps_the_crash_outcomes_of_the_catalogue() {
    let crash = ExploreOptions { crash: true, ..Default::default() };
    for src in run::catalogue_sources() {
        let l = run::load(&src).unwrap();
        for p in Policy::presets() {
            compare(&src.path, &l.program, &p, &crash, true);
        }
    }
}

/// A deterministic generator of scenarios the independence and symmetry reductions apply to:
/// several files, each with its own threads and handles (one time in three, the second file's
/// threads are the first's, renamed: interchangeable), shared background writeback and reclaim.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len())]
    }
}

fn scenario(g: &mut Gen, n: usize) -> String {
    let fs = g.pick(&[
        "ext3",
        "ext4",
        "ext4 nodelalloc",
        "ext4 stable-writes",
        "xfs-bh",
        "xfs",
        "tmpfs",
    ]);
    let files = 1 + g.below(2);
    let mut s = format!(
        "scenario gen{n}\nfs {fs}\ndisk {}\nmemory {}\n",
        4 + 3 * files + g.below(3),
        2 + 2 * files + g.below(3)
    );
    for f in 0..files {
        s += &format!("file f{f} 2 {}\n", g.pick(&["synced", "dirty", "sparse", "synced"]));
    }
    let mut tag = 0;
    let mut t = || {
        tag += 1;
        format!("T{tag}")
    };
    let mirror = files == 2 && g.below(3) == 0;
    let mut first = String::new();
    for f in 0..files {
        if mirror && f == 1 {
            // The first file's threads with every name of file 0 made file 1's.
            let mut copy = first.replace(" T", " U");
            for name in ["a", "d", "f", "m", "p", "go", "done", "X"] {
                copy = copy.replace(&format!("{name}0"), &format!("{name}1"));
            }
            s += &copy;
            continue;
        }
        let start = s.len();
        s += &format!(
            "\nthread a{f}:\n  m{f} = mmap f{f} {}\n",
            g.pick(&["shared", "shared", "private"])
        );
        s += &format!("  store m{f}[{}] {}\n", g.below(2), t());
        let (get, put) = g.pick(&["pin/unpin", "reg-mr/dereg-mr"]).split_once('/').unwrap();
        s += &format!("  p{f} = {get} m{f}[0..2]{}\n", g.pick(&["", " write"]));
        s += &format!("  signal go{f}\n");
        let ops = [
            format!("store m{f}[{}] {}", g.below(2), t()),
            format!("load m{f}[{}]", g.below(2)),
            format!("write f{f}[{}] {}", g.below(2), t()),
            format!("read f{f}[{}]", g.below(2)),
            format!("fsync f{f}"),
            format!("msync m{f}"),
            format!("writeback f{f}"),
            "sync".to_string(),
            "reclaim 1".to_string(),
        ];
        for _ in 0..g.below(3) {
            let maybe = if g.below(4) == 0 { "maybe " } else { "" };
            s += &format!("  {maybe}{}\n", ops[g.below(ops.len())]);
        }
        s += &format!("  wait done{f}\n");
        let dirty = if put == "unpin" { g.pick(&["", " dirty"]) } else { "" };
        s += &format!("  {put} p{f}{dirty}\n");
        if g.below(2) == 0 {
            s += &format!("  fsync f{f}\n");
        }
        s += &format!("\nthread d{f}:\n  wait go{f}\n");
        s += &format!(
            "  {}\n",
            g.pick(&["dma-write p{F}[0] X{F}", "dma-write p{F}[1] X{F}", "dma-read p{F}[0]"])
                .replace("{F}", &f.to_string())
        );
        s += &format!("  signal done{f}\n");
        if f == 0 {
            first = s[start..].to_string();
        }
    }
    let bg = ["writeback", "reclaim", "sync", "drop-caches", "reclaim-active"];
    s += "\nthread kernel:\n";
    for _ in 0..1 + g.below(2) {
        let maybe = if g.below(2) == 0 { "maybe " } else { "" };
        s += &format!("  {maybe}{}\n", bg[g.below(bg.len())]);
    }
    s
}

#[test]
fn every_reduction_keeps_the_labels_of_generated_scenarios() {
    let count = env_or("PINCHECK_GENERATED", 8);
    // Depth-first: fingerprints only, so a bound of millions of states fits in memory, and no
    // fallback to random runs (what `auto` would add past `max_states`).
    let opts = ExploreOptions {
        max_states: env_or("PINCHECK_GENERATED_STATES", 2_000),
        mode: ExploreMode::DepthFirst,
        ..Default::default()
    };
    let start = std::time::Instant::now();
    let mut g = Gen(9);
    let (mut reduced, mut full, mut compared, mut mirrored) = (0, 0, 0, 0);
    let (mut complete, mut incomplete, mut two_threads) = (0, Vec::new(), 0);
    for n in 0..count {
        let text = scenario(&mut g, n);
        let src = Source { path: format!("gen{n}.pin"), text: text.clone() };
        let l =
            run::load(&src).unwrap_or_else(|e| panic!("invalid generated scenario:\n{text}\n{e}"));
        mirrored += u64::from(text.contains("signal go1") && text.contains(" U"));
        let presets = Policy::presets();
        // Every scenario under one preset (in turn), every tenth under all of them.
        let chosen: Vec<&Policy> =
            if n % 10 == 0 { presets.iter().collect() } else { vec![&presets[n % presets.len()]] };
        // The same exploration on two depth-first threads (`parallel_dfs`) when complete.
        let p = chosen[0];
        let one = explore(&l.program, p, &opts);
        if one.complete {
            let two = explore(&l.program, p, &ExploreOptions { threads: 2, ..opts.clone() });
            assert_eq!(one, two, "{text}\n[{}]: one thread and two differ", p.name);
            two_threads += 1;
        }
        for p in chosen {
            let c = compare(&format!("{text}\n"), &l.program, p, &opts, n % 10 == 0);
            complete += c.complete;
            reduced += c.reduced;
            full += c.full;
            compared += u64::from(c.full > 0);
            for (name, xs, xc, fs, fc) in c.incomplete {
                eprintln!(
                    "incomplete: gen{n} [{}] --reduce {name}: {xs} states{} reduced, {fs}{} \
                     unreduced",
                    p.name,
                    if xc { "" } else { "+" },
                    if fc { "" } else { "+" }
                );
                incomplete.push((n, p.name.clone()));
            }
        }
    }
    let explorations = complete + incomplete.len() as u64;
    incomplete.dedup();
    eprintln!(
        "{count} generated scenarios ({mirrored} with interchangeable files): {complete} of \
         {explorations} reduced explorations compared completely with the unreduced one, \
         {compared} (scenario, preset) pairs with every reduction; {} explorations incomplete \
         (over {} states, not compared) in {} (scenario, preset) pairs; {reduced} states with \
         every reduction, {full} without; {two_threads} explored equally (witnesses included) on \
         one depth-first thread and two; {:.0} s",
        explorations - complete,
        opts.max_states,
        incomplete.len(),
        start.elapsed().as_secs_f64()
    );
    assert!(compared * 2 > count as u64, "most comparisons complete ({compared} of {count})");
    assert!(two_threads * 2 > count, "most explorations complete ({two_threads} of {count})");
    assert!(reduced < full, "the reductions save states on generated scenarios");
}

/// A `sync` over `pages` dirty pages: one bio per page, completing independently.
fn sync_over(pages: u32) -> String {
    format!(
        "scenario sync{pages}\nfs ext4\ndisk {}\nmemory {pages}\nfile f {pages} dirty\n\nthread a:\n  sync\n",
        pages * 2
    )
}

#[test]
fn independent_bio_completions_do_not_multiply_the_states() {
    let p = Policy::by_name("linux-6.18").unwrap();
    // Small enough for the unreduced search: same labels, far fewer states.
    let l = run::load(&Source { path: "sync8.pin".into(), text: sync_over(8) }).unwrap();
    let none =
        explore(&l.program, &p, &ExploreOptions { reduce: Reductions::NONE, ..Default::default() });
    let all =
        explore(&l.program, &p, &ExploreOptions { reduce: Reductions::ALL, ..Default::default() });
    assert!(none.complete && all.complete);
    assert_eq!(all.labels, none.labels);
    assert!(none.states >= 500 && all.states < 40, "{} vs {}", all.states, none.states);
    // 64 pages (the case): complete, in a number of states linear in the pages.
    let l = run::load(&Source { path: "sync64.pin".into(), text: sync_over(64) }).unwrap();
    for p in Policy::presets() {
        let x = explore(
            &l.program,
            &p,
            &ExploreOptions { reduce: Reductions::ALL, ..Default::default() },
        );
        assert!(x.complete, "[{}] {:?}", p.name, x.limit);
        assert!(x.states < 1000, "[{}] {} states", p.name, x.states);
        check_witnesses("sync64", &l.program, &p, &x, "all");
    }
}

/// Two interchangeable app/NIC pairs: `pincheck family pairs 2` without kswapd's second pass
/// and the flusher's second pass, to stay small.
fn small_pairs2() -> run::Loaded {
    let text = pincheck::family::pairs(2)
        .unwrap()
        .replace("  maybe writeback\n  maybe writeback\n", "  maybe writeback\n")
        .replace("  maybe reclaim\n  maybe reclaim\n", "  maybe reclaim\n");
    run::load(&Source { path: "pairs2.pin".into(), text }).unwrap()
}

/// On two interchangeable pairs (`small_pairs2`) the symmetry reduction finds them, keeps the
/// labels, and its witnesses (mapped back from canonical worlds) replay.
#[test]
fn symmetric_pairs_are_one_state() {
    let l = small_pairs2();
    for (pairs, orbit) in [(2, vec![2]), (3, vec![3])] {
        let text = pincheck::family::pairs(pairs).unwrap();
        let l = run::load(&Source { path: "pairs.pin".into(), text }).unwrap();
        let p = Policy::by_name("linux-5.18").unwrap();
        let cx = pincheck::model::Cx::new(&l.program, &p);
        let sym = pincheck::check::symmetry::Symmetry::new(&cx, false).unwrap();
        assert_eq!(sym.orbits(), orbit, "{pairs} pairs");
        assert!(pincheck::check::symmetry::Symmetry::new(&cx, true).is_none(), "off under --crash");
    }
    for name in ["linux-5.18", "linux-4.19"] {
        let p = Policy::by_name(name).unwrap();
        let none = Reductions { invisible: true, ..Reductions::NONE };
        let sym = Reductions { symmetry: true, ..none };
        let base = explore(&l.program, &p, &ExploreOptions { reduce: none, ..Default::default() });
        let x = explore(&l.program, &p, &ExploreOptions { reduce: sym, ..Default::default() });
        assert!(base.complete && x.complete);
        assert_eq!(x.labels, base.labels, "[{name}]");
        assert!(x.states * 2 < base.states, "[{name}] {} vs {} states", x.states, base.states);
        check_witnesses("pairs2", &l.program, &p, &x, "symmetry");
    }
}

/// `--crash` switches the symmetry reduction off (`Symmetry::new`), so the paths an explorer
/// records under `--crash --reduce symmetry` are real ones. Mapping them back through the
/// renaming a search without `--crash` would have done ran one pair's step as another task's
/// and panicked; the catalogue has no interchangeable threads, so only pairs show it.
#[test]
fn crash_with_symmetry_asked_keeps_real_witnesses_on_symmetric_pairs() {
    let l = small_pairs2();
    let p = Policy::by_name("linux-5.18").unwrap();
    for mode in [ExploreMode::Exhaustive, ExploreMode::DepthFirst] {
        let crash = ExploreOptions { crash: true, mode, ..Default::default() };
        let c = compare("pairs2 --crash", &l.program, &p, &crash, false);
        assert!(c.incomplete.is_empty() && c.complete == 4, "{mode:?}: {:?}", c.incomplete);
    }
}

/// `signals` and `late-skips` on two pairs (each pair signals twice; the flusher and kswapd
/// end with two `maybe` passes each): the same labels as without them, witnesses that replay;
/// `signals` takes states away and, where nothing stops the machine, keeps the end states
/// ("how often"); under linux-4.19 a `BUG()` stops it while a signal may still be untaken, so
/// end states that differ only by that bit merge and the counts shrink. `late-skips` takes
/// transitions away.
#[test]
fn signals_and_late_skips_shrink_the_pairs() {
    let text = pincheck::family::pairs(2).unwrap();
    let l = run::load(&Source { path: "pairs2.pin".into(), text }).unwrap();
    for name in ["linux-5.18", "linux-4.19"] {
        let p = Policy::by_name(name).unwrap();
        let none = Reductions { invisible: true, ..Reductions::NONE };
        let opts = |reduce| ExploreOptions { reduce, ..Default::default() };
        let base = explore(&l.program, &p, &opts(none));
        let sig = explore(&l.program, &p, &opts(Reductions { signals: true, ..none }));
        let late = explore(&l.program, &p, &opts(Reductions { late_skips: true, ..none }));
        assert!(base.complete && sig.complete && late.complete, "[{name}]");
        assert_eq!(sig.labels, base.labels, "[{name}] signals");
        assert_eq!(late.labels, base.labels, "[{name}] late-skips");
        assert!(
            sig.states * 4 < base.states * 3,
            "[{name}] {} vs {} states",
            sig.states,
            base.states
        );
        if name == "linux-5.18" {
            assert_eq!(sig.outcomes, base.outcomes, "[{name}] signals keeps the end states");
        }
        assert!(late.transitions < base.transitions, "[{name}] late-skips saves transitions");
        check_witnesses("pairs2", &l.program, &p, &sig, "signals");
        check_witnesses("pairs2", &l.program, &p, &late, "late-skips");
    }
}

/// The catalogue, the regressions and 40 scenarios generated from `seed`, and the generator
/// (to draw on).
fn with_generated(seed: u64) -> (Vec<Source>, Gen) {
    let mut texts = sources();
    let mut g = Gen(seed);
    for n in 0..env_or("PINCHECK_WALK_GENERATED", 40) {
        texts.push(Source { path: format!("gen{n}.pin"), text: scenario(&mut g, n) });
    }
    (texts, g)
}

/// The number in environment variable `name`, or `default`.
fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The move of `w_to` that is move `m` of `w_from`: a thread keeps its index; queued work is
/// renumbered as it comes and goes, so it is found by what it is.
fn same_move(w_from: &World, m: Move, w_to: &World) -> Option<Move> {
    let task = &w_from.tasks[m.task as usize];
    if task.is_thread() {
        return Some(m);
    }
    let at = w_to.tasks.iter().position(|t| t.kind == task.kind)?;
    Some(Move { task: at as u8, ..m })
}

/// What `sleep` (and `independence`, whose footprints it reads) rests on: two moves whose
/// next-step footprints do not conflict, neither stopping the machine, commute. Checked at
/// every state of a bounded breadth-first walk of the catalogue, the regressions and generated
/// scenarios under every preset: each is still a move after the other, and both orders reach
/// the same world (by fingerprint). It fails on regressions 24 and 25 without their fixes
/// (direct reclaim, `independence::reclaiming`; the initial cost peaks).
#[test]
fn independent_moves_commute_state_by_state() {
    let (texts, _) = with_generated(77);
    let bound = env_or("PINCHECK_WALK_STATES", 400);
    let (mut pairs, mut states) = (0u64, 0u64);
    for src in &texts {
        let l = run::load(src).unwrap();
        for p in Policy::presets() {
            let mut cx = Cx::new(&l.program, &p);
            let Some(sleep) = Sleep::new(&cx, false, false, false) else { continue };
            let mut seen = std::collections::HashSet::new();
            let mut queue = std::collections::VecDeque::from([l.program.initial.clone()]);
            seen.insert(fingerprint(&l.program.initial));
            while let Some(w) = queue.pop_front() {
                states += 1;
                let moves = model::moves(&w, &cx);
                let after: Vec<World> = moves
                    .iter()
                    .map(|&m| {
                        let mut x = w.clone();
                        model::step(&mut x, &mut cx, m);
                        x
                    })
                    .collect();
                for (i, &u) in moves.iter().enumerate() {
                    for (j, &t) in moves.iter().enumerate() {
                        let stopped = |x: &World| x.crashed || x.powered_off;
                        if i == j || stopped(&after[i]) || stopped(&after[j]) {
                            continue;
                        }
                        if !sleep.independent(&w, &cx, u, t) {
                            continue;
                        }
                        pairs += 1;
                        let what = format!("{} [{}]: {u:?} then {t:?}", src.path, p.name);
                        let t2 = same_move(&w, t, &after[i]).expect(&what);
                        assert!(model::moves(&after[i], &cx).contains(&t2), "{what}: disabled");
                        let mut ut = after[i].clone();
                        model::step(&mut ut, &mut cx, t2);
                        let u2 = same_move(&w, u, &after[j]).expect(&what);
                        let mut tu = after[j].clone();
                        model::step(&mut tu, &mut cx, u2);
                        assert_eq!(fingerprint(&ut), fingerprint(&tu), "{what}: do not commute");
                    }
                }
                for x in after {
                    if seen.len() < bound && seen.insert(fingerprint(&x)) {
                        queue.push_back(x);
                    }
                }
            }
        }
    }
    eprintln!("{pairs} independent pairs commuted at {states} states");
    assert!(pairs > 10_000, "the check reached independent pairs ({pairs})");
}

/// A task of `w` by what stays true of it across steps: a thread by its index, queued work by
/// what it is.
#[derive(PartialEq)]
enum TaskId {
    Thread(u8),
    Queued(TaskKind),
}

fn task_id(w: &World, t: u8) -> TaskId {
    let task = &w.tasks[t as usize];
    if task.is_thread() {
        TaskId::Thread(t)
    } else {
        TaskId::Queued(task.kind.clone())
    }
}

/// The move of `w` by the task `id`, `skip` or not, if it is one.
fn find_move(w: &World, cx: &Cx, id: &TaskId, skip: bool) -> Option<Move> {
    model::moves(w, cx).into_iter().find(|m| m.skip == skip && task_id(w, m.task) == *id)
}

/// What the `independence` reduction rests on, checked by walking: at a state where it chooses
/// a persistent set T, random paths of moves outside T (up to 6 steps) leave T's moves enabled,
/// and taking a move of T first, then the same path, reaches the same world (unless the path
/// stopped the machine, the case its argument treats apart: then taking the move of T first, the
/// path still stops it, with labels that include the path's), at every tenth state of a bounded
/// breadth-first walk of the catalogue, the regressions and generated scenarios, every preset;
/// and at every state of it, that no move of T stops the machine. (It found that an integrity
/// pass's last submission used to read the writeback flags of its whole scope, to choose
/// between waiting and flushing at once, so the wait is now a step of its own, `Wb::step`; and,
/// walked longer, that a set could hold a step that hits a modeled `BUG()`,
/// `independence::may_stop`, regression 27.)
#[test]
fn persistent_sets_commute_with_the_paths_outside_them() {
    use pincheck::check::independence::Footprints;
    let (texts, mut g) = with_generated(78);
    let walk = env_or("PINCHECK_WALK_STATES", 300);
    let (mut walks, mut sets) = (0u64, 0u64);
    for src in &texts {
        // Regressions whole (the state regression 27 is about lies past the 300th).
        let bound = if src.path.contains("regressions") { walk.max(3_000) } else { walk };
        let l = run::load(src).unwrap();
        for p in Policy::presets() {
            let mut cx = Cx::new(&l.program, &p);
            let Some(fps) = Footprints::new(&cx) else { continue };
            let mut seen = std::collections::HashSet::new();
            let mut queue = std::collections::VecDeque::from([l.program.initial.clone()]);
            seen.insert(fingerprint(&l.program.initial));
            let mut n = 0;
            while let Some(w) = queue.pop_front() {
                n += 1;
                let moves = model::moves(&w, &cx);
                let mut stops = Vec::new();
                for &m in &moves {
                    let mut x = w.clone();
                    model::step(&mut x, &mut cx, m);
                    if x.crashed || x.powered_off {
                        stops.push(m);
                    }
                    if seen.len() < bound && seen.insert(fingerprint(&x)) {
                        queue.push_back(x);
                    }
                }
                let Some(set) = fps.persistent(&w, &cx, &moves) else { continue };
                // At every state: a move that stops the machine commutes with nothing.
                let stop = set.iter().find(|m| stops.contains(m));
                assert!(
                    stop.is_none(),
                    "{} [{}]: {stop:?} stops the machine in a persistent set; the scenario:\n{}",
                    src.path,
                    p.name,
                    src.text
                );
                if n % 10 != 0 {
                    continue;
                }
                sets += 1;
                let inside: Vec<TaskId> = set.iter().map(|m| task_id(&w, m.task)).collect();
                for _ in 0..4 {
                    // A path outside the set.
                    let mut end = w.clone();
                    let mut path = Vec::new();
                    for _ in 0..6 {
                        let outside: Vec<Move> = model::moves(&end, &cx)
                            .into_iter()
                            .filter(|m| !inside.contains(&task_id(&end, m.task)))
                            .collect();
                        if outside.is_empty() {
                            break;
                        }
                        let m = outside[g.below(outside.len())];
                        path.push((task_id(&end, m.task), m.skip));
                        model::step(&mut end, &mut cx, m);
                    }
                    walks += 1;
                    if end.crashed || end.powered_off {
                        // The argument's second case: a move outside T stopped the machine.
                        // Taking a move of T first, the same path runs and stops it the same
                        // way, with labels that include the path's.
                        for &t in &set {
                            let what = format!("{} [{}]: {t:?} before a crash", src.path, p.name);
                            let mut first = w.clone();
                            model::step(&mut first, &mut cx, t);
                            for (id, skip) in &path {
                                let m = find_move(&first, &cx, id, *skip)
                                    .unwrap_or_else(|| panic!("{what}: the path is disabled"));
                                model::step(&mut first, &mut cx, m);
                            }
                            assert!(first.crashed || first.powered_off, "{what}: no crash");
                            let lost = end.labels.minus(&first.labels);
                            assert!(lost.is_empty(), "{what}: labels lost: {:?}", lost.names());
                        }
                        continue;
                    }
                    for &t in &set {
                        let what =
                            format!("{} [{}]: {t:?} after {} steps", src.path, p.name, path.len());
                        let id = task_id(&w, t.task);
                        let t2 = find_move(&end, &cx, &id, t.skip)
                            .unwrap_or_else(|| panic!("{what}: no longer enabled"));
                        let mut after = end.clone();
                        model::step(&mut after, &mut cx, t2);
                        let mut first = w.clone();
                        model::step(&mut first, &mut cx, t);
                        for (id, skip) in &path {
                            let m = find_move(&first, &cx, id, *skip).unwrap_or_else(|| {
                                let stopped = first.crashed || first.powered_off;
                                panic!(
                                    "{what}: the path is disabled (the set's move stopped the \
                                     machine: {stopped}); the scenario:\n{}",
                                    src.text
                                )
                            });
                            model::step(&mut first, &mut cx, m);
                        }
                        assert_eq!(fingerprint(&after), fingerprint(&first), "{what}: differ");
                    }
                }
            }
        }
    }
    eprintln!("{walks} paths outside {sets} persistent sets checked");
    assert!(walks > 1_000, "the check walked paths ({walks})");
}
