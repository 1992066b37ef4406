//! Every limit of pincheck, declared in one place (TigerBeetle style). Input beyond a limit is a
//! diagnostic; an exploration that reaches one is reported incomplete, never a hang or a panic.

/// Files in one scenario.
pub const FILES_MAX: usize = 8;
/// Pages of one file, at declaration and after truncate/fallocate.
pub const FILE_PAGES_MAX: u32 = 64;
/// Blocks of the disk (`disk N`): room for every page of every file twice (a copy-on-write
/// filesystem moves a page to a new block before freeing the old one).
pub const DISK_BLOCKS_MAX: u32 = 2 * FILES_MAX as u32 * FILE_PAGES_MAX;
/// Page frames (`memory N`).
pub const MEMORY_FRAMES_MAX: u32 = 64;
/// Threads plus `on break` blocks (the 4-pair family member has 10 threads).
pub const THREADS_MAX: usize = 16;
/// Statements in one thread body.
pub const THREAD_STMTS_MAX: usize = 64;
/// Handles defined in one scenario.
pub const HANDLES_MAX: usize = 32;
/// Distinct events (`signal`/`wait` names).
pub const EVENTS_MAX: usize = 32;
/// Distinct tags, including each file's initial tags (every page of every file may have one).
pub const TAGS_MAX: usize = FILES_MAX * FILE_PAGES_MAX as usize + 256;
/// Tasks alive at once: threads plus queued asynchronous work (bios, workqueue items).
pub const TASKS_MAX: usize = 32;
/// Default bound on distinct states explored exhaustively (`--max-states`).
pub const STATES_MAX_DEFAULT: usize = 2_000_000;
/// Steps of one schedule; a longer run is cut and reported (a livelock in the model).
pub const STEPS_MAX: usize = 4_096;
/// States of one exhaustive exploration, at most (`--max-states`): the breadth-first search
/// numbers states with `u32` ids.
pub const STATES_MAX: usize = u32::MAX as usize - 1;
/// Runs of the random or PCT explorer, at most (`--runs`).
pub const RUNS_MAX: usize = 1_000_000_000;
/// Priority change points of a PCT run, at most (`--pct-depth`): they are drawn among the first
/// 64 steps, so more would only repeat.
pub const PCT_DEPTH_MAX: usize = 64;
/// Processes of a distributed exploration (`check --processes`, `--hostfile`).
pub const PROCESSES_MAX: usize = 256;
/// Default number of random runs when exhaustive exploration gives up (`--runs`).
pub const RANDOM_RUNS_DEFAULT: usize = 10_000;
/// Blocks whose unflushed content may or may not survive a power failure that `--crash`
/// enumerates exhaustively (2^N outcomes); further unflushed blocks are taken as lost.
pub const CRASH_BLOCKS_MAX: usize = 8;
/// Worker threads of the exhaustive explorer, at most (`--threads`).
pub const EXPLORER_THREADS_MAX: usize = 64;
/// Rounds of the end-of-run quiesce (final sync, then the work it queued, then sync again).
/// The only work a sync queues is btrfs's fix-up worker, after which the folio is either
/// reserved (written by the next round) or cleaned: two rounds, unless folios kept dirty while
/// pinned queue it for ever, when the quiesce stops as the machine repeats itself
/// (`model::finish`), within a few rounds. Reaching this is a model bug.
pub const QUIESCE_ROUNDS_MAX: usize = 64;
/// Bytes of an input file (a scenario, a policy file, a host file), at most: far above any
/// file the limits above let one write, and a bound on what reading `/dev/zero` takes.
pub const INPUT_BYTES_MAX: u64 = 4 << 20;
