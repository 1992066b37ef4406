//! The model against a real kernel: the long-term writable pin verdicts that
//! research/kernel-probe.md §1 measured on Linux 6.18 (`IORING_REGISTER_BUFFERS`, i.e.
//! `pin_user_pages_fast(FOLL_WRITE | FOLL_LONGTERM)`), one scenario per table row, and the same
//! table measured on this machine by `pincheck host-pins`. The prefault mode never changed a
//! verdict in the probe, so one fault-on-pin scenario stands for all three.

use pincheck::host::model_verdict;
use pincheck::policy::Policy;
use std::process::Command;

fn verdict(fs: &str, mapping: &str, policy: &str) -> String {
    model_verdict(fs, mapping, &Policy::by_name(policy).expect("preset")).expect("loads")
}

#[test]
fn longterm_write_pins_match_the_linux_6_18_probe() {
    // (fs, mapping, verdict) from the probe's verdict table, rows (c) to (f').
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
    for (fs, mapping, probe) in table {
        let got = verdict(fs, mapping, "linux-6.18");
        if got != probe {
            wrong.push(format!("{fs} {mapping}: probe {probe}, model {got}"));
        }
    }
    assert!(wrong.is_empty(), "model disagrees with the 6.18 probe:\n{}", wrong.join("\n"));
}

#[test]
fn before_6_5_a_longterm_pin_of_a_shared_ext4_mapping_was_allowed() {
    // writable_file_mapping_allowed() arrived in 6.5 (docs/kernel-facts.md fact 8); until then
    // check_vma_flags() refused FOLL_LONGTERM only on fsdax VMAs, so 5.18 pins the page.
    assert_eq!(verdict("ext4", "shared", "linux-5.18"), "ok");
    // A read-only VMA refuses FOLL_WRITE in every release.
    for p in ["linux-4.14", "linux-4.19", "linux-5.18", "linux-6.18"] {
        assert_eq!(verdict("ext4", "shared ro", p), "pin:EFAULT", "{p}");
    }
}

/// The table measured on this machine's kernel. Rows the machine cannot run (no root for loop
/// mounts, no mkfs.xfs, io_uring disabled) are skipped with their reason; every measured row
/// must agree with the model when a preset matches the host's release.
#[test]
fn host_pins_agree_with_the_model_on_this_kernel() {
    let out = Command::new(env!("CARGO_BIN_EXE_pincheck"))
        .args(["host-pins", "--json"])
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(rows.len(), 12, "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    if rows[0]["policy"].is_null() {
        println!("skipped: no preset models host kernel {}", rows[0]["kernel"]);
        return;
    }
    let mut measured = 0;
    for r in &rows {
        match r["agree"].as_bool() {
            Some(agree) => {
                measured += 1;
                assert!(agree, "host and model disagree: {r}");
            }
            None => println!("skipped {} {}: {}", r["fs"], r["mapping"], r["skipped"]),
        }
    }
    println!("{measured} of 12 rows measured on the host");
    assert_eq!(out.status.code(), Some(0), "exit status follows agreement");
}
