//! The model against a real kernel: the long-term writable pin verdicts that
//! research/kernel-probe.md §1 measured on Linux 6.18 (`IORING_REGISTER_BUFFERS`, i.e.
//! `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)`), one scenario per table row. The
//! prefault mode never changed a verdict there, so one fault-on-pin scenario stands for all
//! three. Rows (c) tmpfs, (d) ext4, (e) ext4 private, (f) xfs and (f') xfs private.

use pincheck::check::ExploreOptions;
use pincheck::policy::Policy;
use pincheck::run::{self, Source};

fn labels(fs: &str, mapping: &str, policy: &str) -> Vec<String> {
    let text = format!(
        "scenario probe\nfs {fs}\ndisk 8\nmemory 6\nfile f 1 synced\n\
         thread app:\n  m = mmap f {mapping}\n  p = pin m[0..1] write longterm\n  unpin p\n"
    );
    let src = Source { path: format!("probe-{fs}-{mapping}.pin"), text };
    let p = Policy::by_name(policy).expect("preset");
    let rows = run::check_source(&src, Some(&[p]), &ExploreOptions::default()).expect("loads");
    assert!(rows[0].complete, "explored completely");
    // No label is the `ok` verdict.
    if rows[0].labels.is_empty() {
        vec!["ok".to_string()]
    } else {
        rows[0].labels.clone()
    }
}

#[test]
fn longterm_write_pins_match_the_linux_6_18_probe() {
    // (fs, mapping, verdict): `ok` or `pin:EFAULT`, as in the probe's verdict table.
    let table = [
        ("tmpfs", "shared", "ok"),            // (c)
        ("tmpfs", "shared ro", "pin:EFAULT"), // (c) R: FOLL_WRITE without VM_WRITE
        ("ext4", "shared", "pin:EFAULT"),     // (d): writable_file_mapping_allowed()
        ("ext4", "shared ro", "pin:EFAULT"),  // (d) R
        ("ext4", "private", "ok"),            // (e): the pin COWs the page to anon
        ("ext4", "private ro", "pin:EFAULT"), // (e) R
        ("xfs", "shared", "pin:EFAULT"),      // (f)
        ("xfs", "shared ro", "pin:EFAULT"),   // (f) R
        ("xfs", "private", "ok"),             // (f')
        ("xfs", "private ro", "pin:EFAULT"),  // (f') R
    ];
    let mut wrong = Vec::new();
    for (fs, mapping, verdict) in table {
        let got = labels(fs, mapping, "linux-6.18");
        if got != [verdict] {
            wrong.push(format!("{fs} {mapping}: probe {verdict}, model {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "model disagrees with the 6.18 probe:\n{}", wrong.join("\n"));
}

#[test]
fn before_6_5_a_longterm_pin_of_a_shared_ext4_mapping_was_allowed() {
    // writable_file_mapping_allowed() arrived in 6.5 (docs/kernel-facts.md fact 8); until then
    // check_vma_flags() refused FOLL_LONGTERM only on fsdax VMAs, so 5.18 pins the page.
    assert_eq!(labels("ext4", "shared", "linux-5.18"), ["ok"]);
    // A read-only VMA refuses FOLL_WRITE in every release.
    for p in ["linux-4.14", "linux-4.19", "linux-5.18", "linux-6.18"] {
        assert_eq!(labels("ext4", "shared ro", p), ["pin:EFAULT"], "{p}");
    }
}
