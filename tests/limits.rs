//! The edges of src/limits.rs: a scenario at each limit parses, compiles and explores; one past
//! it is a diagnostic, never a panic or a wrapped id.

use pincheck::check::{explore, replay::replay_checking_invariants, ExploreOptions};
use pincheck::limits;
use pincheck::policy::Policy;
use pincheck::run::{self, Source};

fn load(text: &str) -> Result<run::Loaded, String> {
    run::load(&Source { path: "limits.pin".into(), text: text.into() }).map_err(|e| e.to_string())
}

/// Threads chained by events: thread i waits for thread i-1, stores to its own page, signals.
fn chain(threads: usize) -> String {
    let mut s = format!(
        "scenario chain\nfs ext4\ndisk 40\nmemory 40\nfile f {threads} synced\n\nthread t0:\n  m = mmap f shared\n  store m[0] T0\n  signal e0\n"
    );
    for t in 1..threads {
        s += &format!("\nthread t{t}:\n  wait e{}\n  store m[{t}] T{t}\n  signal e{t}\n", t - 1);
    }
    s
}

#[test]
fn sixteen_threads_parse_compile_and_explore() {
    assert_eq!(limits::THREADS_MAX, 16);
    let l = load(&chain(limits::THREADS_MAX)).expect("16 threads are accepted");
    for p in Policy::presets() {
        let x = explore(&l.program, &p, &ExploreOptions::default());
        assert!(x.complete, "[{}]", p.name);
        for (label, s) in &x.witnesses {
            let labels = replay_checking_invariants(&l.program, &p, s).unwrap();
            assert!(labels.contains(label));
        }
    }
    let err = load(&chain(limits::THREADS_MAX + 1)).err().expect("17 threads are refused");
    assert!(err.contains("at most 16"), "{err}");
}

#[test]
fn sixty_four_page_files_parse_compile_and_explore() {
    assert_eq!(limits::FILE_PAGES_MAX, 64);
    // Eight files of 64 pages: the last page of the last file has the largest page id, and a
    // write to it must be told apart from every other page's data.
    let mut s = "scenario big\nfs ext4\ndisk 600\nmemory 16\n".to_string();
    for f in 0..limits::FILES_MAX {
        s += &format!("file f{f} 64 synced\n");
    }
    s += "\nthread a:\n  m = mmap f7 shared\n  store m[63] A\n  r = pin m[63] write\n  dma-write r[0] B\n  fsync f7\n  unpin r dirty\n";
    s += "\nthread b:\n  write f0[63] C\n  fsync f0\n  read f7[63]\n";
    let l = load(&s).expect("64-page files are accepted");
    for p in Policy::presets() {
        let x = explore(&l.program, &p, &ExploreOptions::default());
        assert!(x.complete, "[{}]", p.name);
        for (label, s) in &x.witnesses {
            let labels = replay_checking_invariants(&l.program, &p, s).unwrap();
            assert!(labels.contains(label));
        }
    }
    let err = load("scenario x\nfs ext4\nfile f 65 synced\nthread a:\n  read f[0]\n").err();
    assert!(err.expect("65 pages are refused").contains("64"));
}

#[test]
fn dax_frames_beyond_255_are_told_apart() {
    // A DAX world has a frame per block after the memory frames: 64 + 256 + 1 frames.
    let s = "scenario dax\nfs ext4-dax\ndisk 1024\nmemory 64\nfile f 64 synced\nfile g 64 synced\nfile h 64 synced\nfile i 64 synced\n\nthread a:\n  m = mmap i shared\n  store m[63] A\n  p = pin m[63] write\n  dma-write p[0] B\n  unpin p dirty\n  fsync i\n";
    let l = load(s).expect("a full DAX disk is accepted");
    for p in Policy::presets() {
        let x = explore(&l.program, &p, &ExploreOptions::default());
        assert!(x.complete, "[{}]", p.name);
        for (label, s) in &x.witnesses {
            replay_checking_invariants(&l.program, &p, s).unwrap();
            let _ = label;
        }
    }
}

/// An input file is read up to `limits::INPUT_BYTES_MAX` bytes: one that never ends is refused
/// with its name, not read until memory runs out.
#[test]
fn a_never_ending_input_file_is_refused() {
    let err = run::load_paths(&["/dev/zero".to_string()]).expect_err("refused");
    assert!(err.to_string().contains("/dev/zero: longer than"), "{err}");
}

/// Sixteen threads of one shape tie in more orders than the symmetry reduction tries
/// (`ORDERS_MAX`): it renames them without trying every order (it tried 16! per state and never
/// finished), and keeps the labels.
#[test]
fn sixteen_threads_of_one_shape_explore_under_the_symmetry_reduction() {
    let mut text = "scenario sym\nfs ext4\nfile f 1 dirty\n".to_string();
    for t in 0..limits::THREADS_MAX {
        text += &format!("\nthread t{t}:\n  reclaim\n");
    }
    let l = load(&text).unwrap();
    let p = Policy::by_name("linux-6.18").unwrap();
    let all =
        ExploreOptions { reduce: pincheck::check::reduce::Reductions::ALL, ..Default::default() };
    let reduced = explore(&l.program, &p, &all);
    let plain = explore(&l.program, &p, &ExploreOptions::default());
    assert!(reduced.complete && plain.complete);
    assert_eq!(reduced.labels, plain.labels);
    assert!(reduced.states < plain.states, "{} {}", reduced.states, plain.states);
}
