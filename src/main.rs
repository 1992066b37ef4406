//! The `pincheck` command line (shared/SCENARIOS.md, "Command line"): parses the arguments and
//! dispatches to `commands/`, one file per subcommand. Exit codes: 0 pass, 1 an expectation (or
//! a host comparison) failed, 2 bad input or usage.

mod commands;

use clap::{Parser, Subcommand};
use commands::*;
use pincheck::run::InputError;
use std::process::ExitCode;

/// Exploration clones and drops small worlds by the million: mimalloc's thread-local free
/// lists do that several times faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pincheck",
    version,
    about = "Model-check GUP pins against the page cache and filesystems, per kernel release and design"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check scenario files (or directories of *.pin) against their `expect` lines.
    Check(check::Args),
    /// Every host-runnable catalogue scenario on this machine's kernel beside the model under
    /// the preset of the host's release, and the long-term pin verdict table. Exit 1 on any
    /// disagreement.
    Conform(conform::Args),
    /// Scenarios as rows, policies as columns, each cell the labels reached. No files: the
    /// built-in catalogue under every preset.
    Matrix(matrix::Args),
    /// Replay one witness under two policies side by side and show where they part. Exit 0
    /// when they do not, 1 when they do.
    Diff(diff::Args),
    /// Print one interleaving step by step (--state: the machine after each step; --svg: a
    /// sequence diagram).
    Replay(replay::Args),
    /// Write the scenario x policy matrix as a self-contained HTML page with every witness as
    /// a sequence diagram. No files: the built-in catalogue under every preset.
    Report(report::Args),
    /// Write the scenario as a standalone C program (TAP output) that reproduces it on a
    /// scratch filesystem: `export FILE --policy P [--schedule S] --c OUT.c`.
    Export(export::Args),
    /// List the presets and their knobs.
    Policies,
    /// List the built-in catalogue: name, filesystem, what each scenario is about. Every
    /// command that takes a scenario file takes one of these names too.
    List(list::Args),
    /// Print the source of a catalogue scenario (by name) or a scenario file.
    Show(show::Args),
    /// Explore the catalogue (or files) under every preset and report states, time and memory.
    Bench(bench::Args),
    /// Print a member of a scaling family (docs/performance.md): `family THREADS PAGES`
    /// (pinning threads over a shared mapping) or `family pairs N` (N app/NIC pairs over their
    /// own files), with background writeback and reclaim.
    Family(family::Args),
    /// Measure the long-term pin verdicts (research/kernel-probe.md §1) on this machine's
    /// kernel with io_uring buffer registration, beside the model's prediction for the preset
    /// of the host's release. ext4 and xfs rows need root (loop mounts).
    HostPins(host_pins::Args),
    /// Search a design space (default: every protective knob over linux-6.18) for the minimal
    /// designs under which the scenarios (default: the catalogue) reach no violation and
    /// writable long-term pins of shared file mappings succeed: the Pareto front over
    /// violations and costs, and why each knob is needed.
    Search(search::Args),
}

fn main() -> ExitCode {
    // Ctrl-C (and SIGTERM, SIGHUP): stop exploring and report what was found, marked
    // incomplete; a second one quits.
    // During host runs a second one waits for the scratch filesystems to be unmounted.
    let _ = ctrlc::set_handler(|| {
        use std::sync::atomic::Ordering;
        if pincheck::check::INTERRUPTED.swap(true, Ordering::SeqCst) {
            pincheck::host::exit_unless_scratch_live(130);
            eprintln!("pincheck: finishing the host run and unmounting its scratch filesystems (SIGKILL would leave them mounted)");
        }
    });
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result: Result<u8, InputError> = match cli.command {
        Command::Check(a) => check::run(&a),
        Command::Conform(a) => conform::run(&a),
        Command::Matrix(a) => matrix::run(&a),
        Command::Diff(a) => diff::run(&a),
        Command::Replay(a) => replay::run(&a),
        Command::Report(a) => report::run(&a),
        Command::Export(a) => export::run(&a),
        Command::Policies => policies::run(),
        Command::List(a) => list::run(&a),
        Command::Show(a) => show::run(&a),
        Command::Bench(a) => bench::run(&a),
        Command::Family(a) => family::run(&a),
        Command::HostPins(a) => host_pins::run(&a),
        Command::Search(a) => search::run(&a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
