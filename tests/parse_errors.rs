//! The scenario parser against shared/SCENARIOS.md: the example's tree, one test per kind of
//! malformed input (exact line, column and message), the rendering of a diagnostic, and a
//! deterministic mutation run that must never panic.

use pincheck::scenario::{parse, Diag, FileInit, FsKind, Op, PageRange, Scenario};

/// The example of shared/SCENARIOS.md, verbatim.
const EXAMPLE: &str = r#"# ext4 + RDMA: reclaim strips the buffers of a clean pinned page; the NIC writes; the
# deregistration dirties the page; writeback finds a dirty page without buffers.
scenario ext4-rdma-strip
about "Chinner, Oct 2018: panics on ext4+RDMA with no bufferheads on dirty pages at writeback"

fs ext4
disk 16
memory 8
file f 1 synced

thread app:
  m = mmap f[0..1] shared
  store m[0] A
  mr = reg-mr m[0..1] write
  signal registered
  wait written
  dereg-mr mr
  fsync f

thread kernel:
  wait registered
  writeback f
  reclaim

thread nic:
  wait registered
  dma-write mr[0] B
  signal written

expect linux-4.19: warn bug
expect linux-5.18: warn data-loss
expect linux-6.18: reg-mr:EFAULT
expect bounce: ok
"#;

/// Lines 1 to 3 of every small test; a thread header on line 4 and its body from line 5.
const HEAD: &str = "scenario t\nfs ext4\nfile f 2\n";

fn ok(source: &str) -> Scenario {
    match parse("t.pin", source) {
        Ok(scenario) => scenario,
        Err(diag) => panic!("unexpected error:\n{diag}"),
    }
}

fn err(source: &str) -> Diag {
    match parse("t.pin", source) {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(diag) => diag,
    }
}

/// Asserts the first error of `source` is at `line`:`col` and its message contains `message`.
fn assert_err(source: &str, line: u32, col: u32, message: &str) {
    let diag = err(source);
    assert_eq!((diag.line, diag.col), (line, col), "wrong position for:\n{diag}");
    assert!(diag.message.contains(message), "`{message}` not in:\n{diag}");
}

/// A one-thread scenario whose body (starting on line 5) is `body`.
fn thread(body: &str) -> String {
    format!("{HEAD}thread a:\n{body}")
}

// ---------------------------------------------------------------------------------------------
// The example

#[test]
fn example_parses_to_the_expected_tree() {
    let s = ok(EXAMPLE);
    assert_eq!(s.path, "t.pin");
    assert_eq!(s.source, EXAMPLE);
    assert_eq!(s.name.text, "ext4-rdma-strip");
    assert_eq!((s.name.span.line, s.name.span.col), (3, 10));
    let about = s.about.as_deref().unwrap_or("");
    assert!(about.starts_with("Chinner, Oct 2018: panics"));
    assert_eq!(s.fs.kind, FsKind::Ext4);
    assert!(!s.fs.nodelalloc && !s.fs.stable_writes);
    assert_eq!((s.disk_blocks, s.memory_frames), (16, 8));
    assert_eq!(s.files.len(), 1);
    assert_eq!((s.files[0].name.text.as_str(), s.files[0].pages), ("f", 1));
    assert_eq!(s.files[0].init, FileInit::Synced);

    let names: Vec<&str> = s.threads.iter().map(|t| t.name.text.as_str()).collect();
    assert_eq!(names, ["app", "kernel", "nic"]);
    let lens: Vec<usize> = s.threads.iter().map(|t| t.body.len()).collect();
    assert_eq!(lens, [7, 3, 3]);
    assert!(s.on_break.is_empty());

    let app = &s.threads[0];
    assert_eq!((app.span.line, app.span.col), (11, 1));
    let mmap = &app.body[0];
    assert_eq!(mmap.def.as_ref().map(|d| d.text.as_str()), Some("m"));
    assert_eq!((mmap.span.line, mmap.span.col), (12, 7));
    assert!(!mmap.maybe);
    match &mmap.op {
        Op::Mmap { file, range, shared, ro } => {
            assert_eq!(file.text, "f");
            assert_eq!(*range, Some(PageRange { start: 0, end: 1 }));
            assert!(*shared && !*ro);
        }
        other => panic!("expected mmap, found {other:?}"),
    }
    match &app.body[2].op {
        Op::RegMr { map, range, write, odp } => {
            assert_eq!(map.text, "m");
            assert_eq!(*range, PageRange { start: 0, end: 1 });
            assert!(*write && !*odp);
        }
        other => panic!("expected reg-mr, found {other:?}"),
    }
    assert_eq!(s.threads[1].body[2].op, Op::Reclaim { max: None });
    match &s.threads[2].body[1].op {
        Op::DmaWrite { handle, page, tag } => {
            assert_eq!((handle.text.as_str(), *page, tag.text.as_str()), ("mr", 0, "B"));
            assert_eq!((tag.span.line, tag.span.col), (27, 19));
        }
        other => panic!("expected dma-write, found {other:?}"),
    }

    let expects: Vec<(&str, Vec<&str>)> = s
        .expects
        .iter()
        .map(|e| (e.policy.text.as_str(), e.labels.iter().map(|l| l.text.as_str()).collect()))
        .collect();
    assert_eq!(
        expects,
        [
            ("linux-4.19", vec!["warn", "bug"]),
            ("linux-5.18", vec!["warn", "data-loss"]),
            ("linux-6.18", vec!["reg-mr:EFAULT"]),
            ("bounce", vec![]),
        ]
    );
    assert_eq!(s.expects[2].labels[0].span.col, 20);
}

/// One statement per operation, with the keyword [`Op::keyword`] must give back.
const EVERY_OP: [(&str, &str); 32] = [
    ("m = mmap f shared ro", "mmap"),
    ("n = mmap g[1..3] private", "mmap"),
    ("munmap n", "munmap"),
    ("store m[1] A", "store"),
    ("load m[0]", "load"),
    ("write f[1] B", "write"),
    ("read g[3]", "read"),
    ("fsync f", "fsync"),
    ("sync", "sync"),
    ("msync m", "msync"),
    ("truncate f 0", "truncate"),
    ("punch g[0..2]", "punch"),
    ("fallocate g[3]", "fallocate"),
    ("p = pin m[0..2] get fast write longterm", "pin"),
    ("unpin p dirty", "unpin"),
    ("mr = maybe reg-mr m[1] odp", "reg-mr"),
    ("dereg-mr mr", "dereg-mr"),
    ("dio-read f[0] -> m[1]", "dio-read"),
    ("dio-write g[2]<-m[0]", "dio-write"),
    ("remote-write m[1] C", "remote-write"),
    ("l = lease f layout", "lease"),
    ("unlease l", "unlease"),
    ("signal e", "signal"),
    ("wait e", "wait"),
    ("dma-write p[1] D", "dma-write"),
    ("dma-read mr[0]", "dma-read"),
    ("maybe writeback", "writeback"),
    ("writeback g", "writeback"),
    ("reclaim 3", "reclaim"),
    ("reclaim-active", "reclaim-active"),
    ("drop-caches", "drop-caches"),
    ("crash", "crash"),
];

#[test]
fn every_operation_parses_and_keeps_its_keyword() {
    let body: String = EVERY_OP.iter().map(|(line, _)| format!("  {line}\n")).collect();
    let s = ok(&format!("{HEAD}file g 4 sparse\nthread a:\n{body}"));
    let body = &s.threads[0].body;
    let keywords: Vec<&str> = body.iter().map(|st| st.op.keyword()).collect();
    let expected: Vec<&str> = EVERY_OP.iter().map(|(_, kw)| *kw).collect();
    assert_eq!(keywords, expected);

    assert!(body[15].maybe && body[26].maybe && !body[14].maybe);
    assert_eq!(body[15].def.as_ref().map(|d| d.text.as_str()), Some("mr"));
    assert_eq!((body[15].span.line, body[15].span.col), (21, 14));
    let pin = PageRange { start: 0, end: 2 };
    assert!(matches!(&body[13].op,
        Op::Pin { range, write: true, longterm: true, fast: true, get: true, .. } if *range == pin));
    assert!(matches!(
        &body[15].op,
        Op::RegMr { range: PageRange { start: 1, end: 2 }, odp: true, write: false, .. }
    ));
    assert!(matches!(&body[0].op, Op::Mmap { range: None, shared: true, ro: true, .. }));
    assert!(matches!(&body[1].op, Op::Mmap { shared: false, ro: false, .. }));
    assert!(matches!(&body[14].op, Op::Unpin { dirty: true, .. }));
    assert!(matches!(&body[17].op, Op::DioRead { page: 0, map_page: 1, .. }));
    assert!(matches!(&body[18].op, Op::DioWrite { page: 2, map_page: 0, .. }));
    assert!(matches!(&body[12].op, Op::Fallocate { range: PageRange { start: 3, end: 4 }, .. }));
    assert!(matches!(&body[10].op, Op::Truncate { pages: 0, .. }));
    assert!(matches!(&body[26].op, Op::Writeback { file: None }));
    assert_eq!(body[28].op, Op::Reclaim { max: Some(3) });
    assert_eq!(s.files[1].init, FileInit::Sparse);
}

#[test]
fn defaults_comments_and_layout() {
    let s = ok("scenario t # name\n\n   # an indented comment\nfs xfs-bh stable-writes\n\
                file f 1 dirty\nthread a:   # trailing\n    sync\n\n    crash\n\
                on break l:\n  sync\nthread b:\n  l = lease f layout\nexpect x: ok\n");
    assert_eq!((s.disk_blocks, s.memory_frames), (64, 16));
    assert_eq!(s.fs.kind, FsKind::XfsBh);
    assert!(s.fs.stable_writes);
    assert_eq!(s.files[0].init, FileInit::Dirty);
    assert_eq!(s.threads[0].body.len(), 2);
    assert_eq!(s.on_break[0].lease.text, "l");
    assert_eq!(s.about, None);
    assert!(s.expects[0].labels.is_empty());
}

#[test]
fn handles_are_global_and_may_be_used_before_their_definition() {
    let s = ok(&format!(
        "{HEAD}thread a:\n  dma-write p[0] X\n  unpin p\nthread b:\n  m = mmap f[1..2] shared\n  \
         p = pin m[0]\n"
    ));
    assert_eq!(s.threads.len(), 2);
}

#[test]
fn crlf_line_endings_give_the_same_tree() {
    let unix = ok(EXAMPLE);
    let dos = ok(&EXAMPLE.replace('\n', "\r\n"));
    assert_eq!((dos.threads, dos.expects, dos.files), (unix.threads, unix.expects, unix.files));
}

// ---------------------------------------------------------------------------------------------
// Malformed input: the world

#[test]
fn empty_file() {
    assert_err("", 1, 1, "expected `scenario NAME`");
    assert_err("# only a comment\n\n", 3, 1, "empty file");
}

#[test]
fn scenario_must_come_first() {
    assert_err("fs ext4\nscenario t\n", 1, 1, "expected `scenario NAME` as the first statement");
}

#[test]
fn scenario_given_twice() {
    assert_err("scenario t\nscenario u\n", 2, 1, "`scenario` is already given at line 1");
}

#[test]
fn bad_scenario_name() {
    assert_err("scenario 4ext\n", 1, 10, "expected a scenario name, found `4ext`");
}

#[test]
fn tab_indentation() {
    assert_err(&thread("\tsync\n"), 5, 1, "tab character: indent with spaces");
    assert_err(&thread("  sync\t# done\n"), 5, 7, "tab character: separate words with spaces");
}

#[test]
fn unexpected_character() {
    assert_err(&thread("  store m[0] A!\n"), 5, 15, "unexpected character `!`");
}

#[test]
fn unterminated_string() {
    assert_err("scenario t\nabout \"never closed\n", 2, 7, "unterminated string");
}

#[test]
fn about_needs_a_quoted_text_and_is_given_once() {
    assert_err("scenario t\nabout text\n", 2, 7, "expected a quoted text");
    assert_err("scenario t\nabout \"a\"\nabout \"b \\\" c\"\n", 3, 1, "`about` is already given");
}

#[test]
fn unknown_filesystem() {
    assert_err("scenario t\nfs ext5\n", 2, 4, "unknown filesystem `ext5`: did you mean");
    assert_err("scenario t\nfs zfs-ng\n", 2, 4, "expected `ext3`, `ext4`");
}

#[test]
fn nodelalloc_needs_ext4() {
    assert_err("scenario t\nfs xfs stable-writes nodelalloc\n", 2, 22, "`nodelalloc` is an ext4");
    assert!(
        ok(&format!("{HEAD}thread a:\n  sync\n").replace("ext4", "ext4 nodelalloc")).fs.nodelalloc
    );
}

#[test]
fn fs_option_given_twice_or_unknown() {
    assert_err("scenario t\nfs ext4 nodelalloc nodelalloc\n", 2, 20, "`nodelalloc` is given twice");
    assert_err(
        "scenario t\nfs ext4 fast\n",
        2,
        9,
        "expected `nodelalloc`, `stable-writes` or end of line",
    );
}

#[test]
fn fs_missing_or_twice() {
    assert_err("scenario t\nfile f 1\nthread a:\n  sync\n", 3, 1, "expected an `fs KIND` line");
    assert_err("scenario t\nfs ext4\nfs xfs\n", 3, 1, "`fs` is already given at line 2");
}

#[test]
fn disk_and_memory_limits() {
    assert_err("scenario t\ndisk 0\n", 2, 6, "expected a block count from 1 to 1024, found `0`");
    assert_err("scenario t\nmemory 65\n", 2, 8, "from 1 to 64");
    assert_err("scenario t\ndisk 99999999999\n", 2, 6, "number `99999999999` is too large");
    assert_err("scenario t\nmemory 4\nmemory 4\n", 3, 1, "`memory` is already given at line 2");
    assert_err("scenario t\ndisk\n", 2, 6, "expected a block count, found end of line");
}

#[test]
fn file_declarations() {
    assert_err("scenario t\nfile f 65\n", 2, 8, "expected a page count from 1 to 64");
    assert_err("scenario t\nfile f 1 clean\n", 2, 10, "expected `synced`, `dirty` or `sparse`");
    assert_err("scenario t\nfile f 1\nfile f 2\n", 3, 6, "file `f` is already declared at line 2");
    let nine: String = (0..9).map(|i| format!("file f{i} 1\n")).collect();
    assert_err(&format!("scenario t\n{nine}"), 10, 1, "too many files: at most 8");
}

#[test]
fn world_after_threads() {
    assert_err(&thread("  sync\nfile g 1\n"), 6, 1, "`file` must come before the first thread");
}

#[test]
fn unknown_top_level_statement() {
    assert_err("scenario t\nfiel f 1\n", 2, 1, "unknown statement `fiel`: did you mean `file`?");
    assert_err("scenario t\nsync\n", 2, 1, "`sync` is an operation: indent it");
}

#[test]
fn no_thread() {
    assert_err(HEAD, 4, 1, "expected at least one `thread NAME:` block");
}

// ---------------------------------------------------------------------------------------------
// Malformed input: blocks and indentation

#[test]
fn unexpected_indentation_at_top_level() {
    assert_err("scenario t\n  fs ext4\n", 2, 3, "unexpected indentation");
}

#[test]
fn inconsistent_indentation() {
    assert_err(&thread("  sync\n   sync\n"), 6, 4, "expected 2 spaces, found 3");
    assert_err(&thread("    sync\n  sync\n"), 6, 3, "expected 4 spaces, found 2");
    assert_err(&thread(" sync\n  sync\n"), 6, 3, "expected 1 space, found 2");
}

#[test]
fn empty_body() {
    assert_err(&thread("thread b:\n  sync\n"), 4, 1, "thread `a` has an empty body");
    assert_err(&format!("{HEAD}thread a:\n"), 4, 1, "empty body");
}

#[test]
fn thread_header() {
    assert_err(&format!("{HEAD}thread a\n  sync\n"), 4, 10, "expected `:` after the thread name");
    assert_err(&format!("{HEAD}thread a: sync\n"), 4, 11, "expected end of line, found `sync`");
    assert_err(&format!("{HEAD}thread 1a:\n  sync\n"), 4, 8, "expected a thread name, found `1a`");
    assert_err(&format!("{HEAD}on brake l:\n  sync\n"), 4, 4, "expected `break`, found `brake`");
}

#[test]
fn thread_defined_twice() {
    assert_err(
        &thread("  sync\nthread a:\n  sync\n"),
        6,
        8,
        "thread `a` is already defined at line 4",
    );
}

#[test]
fn too_many_threads() {
    let blocks: String = (0..17).map(|i| format!("thread t{i}:\n  sync\n")).collect();
    assert_err(&format!("{HEAD}{blocks}"), 36, 1, "too many threads and `on break` blocks");
}

#[test]
fn too_many_statements() {
    assert_err(&thread(&"  sync\n".repeat(65)), 69, 3, "too many statements in thread `a`");
    ok(&thread(&"  sync\n".repeat(64)));
}

#[test]
fn top_level_statement_indented() {
    assert_err(&thread("  sync\n  expect x: ok\n"), 6, 3, "`expect` is a top-level statement");
}

// ---------------------------------------------------------------------------------------------
// Malformed input: statements

#[test]
fn unknown_operation() {
    assert_err(&thread("  stor m[0] A\n"), 5, 3, "unknown operation `stor`: did you mean `store`?");
    assert_err(&thread("  fsnyc f\n"), 5, 3, "did you mean `fsync`?");
    let diag = err(&thread("  frobnicate\n"));
    assert_eq!(
        (diag.line, diag.col, diag.message.as_str()),
        (5, 3, "unknown operation `frobnicate`")
    );
}

#[test]
fn defining_operation_without_handle() {
    assert_err(&thread("  mmap f shared\n"), 5, 3, "`mmap` defines a handle: write `m = mmap ...`");
    assert_err(&thread("  maybe reg-mr m[0]\n"), 5, 9, "write `mr = reg-mr ...`");
}

#[test]
fn handle_on_a_non_defining_operation() {
    assert_err(&thread("  x = sync\n"), 5, 3, "`sync` defines no handle: remove `x =`");
}

#[test]
fn maybe_before_the_handle() {
    assert_err(&thread("  maybe m = mmap f shared\n"), 5, 9, "the handle comes first");
}

#[test]
fn bad_handle_name() {
    assert_err(&thread("  1m = mmap f shared\n"), 5, 3, "expected a handle name, found `1m`");
}

#[test]
fn missing_arguments() {
    assert_err(
        &thread("  m = mmap f\n"),
        5,
        14,
        "expected `shared` or `private`, found end of line",
    );
    assert_err(&thread("  munmap\n"), 5, 10, "expected an mmap handle, found end of line");
    assert_err(&thread("  m = mmap f shared\n  store m[0]\n"), 6, 14, "expected a tag");
    assert_err(&thread("  l = lease f\n"), 5, 15, "expected `layout`");
}

#[test]
fn extra_arguments() {
    assert_err(&thread("  sync f\n"), 5, 8, "expected end of line, found `f`");
    assert_err(&thread("  m = mmap f shared ro ro\n"), 5, 24, "`ro` is given twice");
    assert_err(&thread("  m = mmap f shared rw\n"), 5, 21, "expected `ro` or end of line");
}

#[test]
fn page_syntax() {
    assert_err(&thread("  read f 0\n"), 5, 10, "expected `[` after `f`, found `0`");
    assert_err(&thread("  read f[0..1]\n"), 5, 10, "expected one page `f[i]`, found a range");
    assert_err(&thread("  read f[x]\n"), 5, 10, "expected a page number, found `x`");
    assert_err(&thread("  read f[0\n"), 5, 12, "expected `]`, found end of line");
    assert_err(&thread("  punch f[1..1]\n"), 5, 11, "empty range `1..1`");
}

#[test]
fn pin_flags() {
    let head = "  m = mmap f shared\n";
    assert_err(
        &thread(&format!("{head}  p = pin m[0] write wirte\n")),
        6,
        22,
        "expected `write`, `longterm`, `fast`, `get` or end of line, found `wirte`",
    );
    assert_err(&thread(&format!("{head}  p = pin m[0] get get\n")), 6, 20, "`get` is given twice");
}

#[test]
fn dio_arrows() {
    let head = "  m = mmap f shared\n";
    assert_err(
        &thread(&format!("{head}  dio-read f[0] <- m[0]\n")),
        6,
        17,
        "expected `->`, found `<-`",
    );
    assert_err(
        &thread(&format!("{head}  dio-write f[0] m[0]\n")),
        6,
        18,
        "expected `<-`, found `m`",
    );
}

#[test]
fn reclaim_and_truncate_numbers() {
    assert_err(&thread("  reclaim 0\n"), 5, 11, "expected a folio count from 1 to 64");
    assert_err(&thread("  truncate f 65\n"), 5, 14, "expected a page count from 0 to 64");
    assert_err(&thread("  writeback 3\n"), 5, 13, "expected a file name, found `3`");
}

// ---------------------------------------------------------------------------------------------
// Malformed input: names, kinds, ranges, events, limits

#[test]
fn undeclared_file() {
    assert_err(&thread("  fsync g\n"), 5, 9, "file `g` is not declared");
}

#[test]
fn handle_never_defined() {
    assert_err(&thread("  munmap m\n"), 5, 10, "handle `m` is never defined");
    assert_err(
        &format!("{HEAD}on break l:\n  sync\nthread a:\n  sync\n"),
        4,
        10,
        "handle `l` is never defined",
    );
}

#[test]
fn handle_defined_twice() {
    let body = "  m = mmap f shared\nthread b:\n  m = mmap f private\n";
    assert_err(&thread(body), 7, 3, "handle `m` is already defined at line 5");
}

#[test]
fn handle_kind_mismatch() {
    let head = "  m = mmap f shared\n  p = pin m[0..2]\n";
    assert_err(
        &thread(&format!("{head}  store p[0] A\n")),
        7,
        9,
        "`store` needs an mmap handle, but `p` is a pin handle",
    );
    assert_err(
        &thread(&format!("{head}  dma-read m[0]\n")),
        7,
        12,
        "needs a pin handle or an MR handle, but `m` is an mmap handle",
    );
    assert_err(&thread(&format!("{head}  dereg-mr p\n")), 7, 12, "`dereg-mr` needs an MR handle");
    assert_err(
        &format!("{HEAD}thread a:\n  m = mmap f shared\non break m:\n  sync\n"),
        6,
        10,
        "`on break` needs a lease handle",
    );
}

#[test]
fn page_out_of_range() {
    let head = "  m = mmap f[1..2] shared\n";
    assert_err(
        &thread(&format!("{head}  load m[1]\n")),
        6,
        8,
        "page 1 is out of range: `m` has 1 page",
    );
    assert_err(
        &thread(&format!("{head}  p = pin m[0..2]\n")),
        6,
        11,
        "pages 0..2 are out of range",
    );
    assert_err(
        &thread("  m = mmap f private\n  p = pin m[1]\n  dma-write p[1] X\n"),
        7,
        13,
        "`p` has 1 page",
    );
    assert_err(&thread("  write f[2] X\n"), 5, 9, "page 2 is out of range: `f` has 2 pages");
    assert_err(&thread("  fallocate f[1..3]\n"), 5, 13, "pages 1..3 are out of range");
    assert_err(&thread("  m = mmap f[0..65] shared\n"), 5, 12, "a file has at most 64 pages");
}

#[test]
fn wait_for_an_event_never_signalled() {
    assert_err(&thread("  wait go\n  signal went\n"), 5, 8, "event `go` is never signalled");
}

#[test]
fn too_many_handles_events_and_tags() {
    let maps: String = (0..33).map(|i| format!("  m{i} = mmap f shared\n")).collect();
    assert_err(&thread(&maps), 37, 3, "too many handles: at most 32");
    let events: String = (0..33).map(|i| format!("  signal e{i}\n")).collect();
    assert_err(&thread(&events), 37, 10, "too many events: at most 32");
    // 2 initial tags (f0, f1) + 766 more are allowed; the 767th store is one too many.
    assert_eq!(pincheck::limits::TAGS_MAX, 768);
    let threads: String = (0..13)
        .map(|t| {
            let stores: String =
                (0..63).map(|i| format!("  write f[0] T{}\n", t * 63 + i)).collect();
            format!("thread t{t}:\n{stores}")
        })
        .collect();
    let diag = err(&format!("{HEAD}{threads}"));
    assert!(diag.message.contains("too many tags: at most 768"), "{diag}");
    // T766 is the 11th store of t12, whose header is line 4 + 12 * 64.
    assert_eq!((diag.line, diag.col), (4 + 12 * 64 + 11, 14));
}

// ---------------------------------------------------------------------------------------------
// Malformed input: expect lines

#[test]
fn unknown_labels() {
    let base = format!("{}expect p: ", thread("  sync\n"));
    assert_err(
        &format!("{base}warn dataloss\n"),
        6,
        16,
        "unknown label `dataloss`: did you mean `data-loss`?",
    );
    assert_err(&format!("{base}store\n"), 6, 11, "expected `store:ERRNO`");
    assert_err(&format!("{base}stor:EIO\n"), 6, 11, "`stor` is not an operation");
    assert_err(&format!("{base}store:eio\n"), 6, 11, "expected an errno like `EIO`");
    assert_err(&format!("{base}store: EIO\n"), 6, 17, "expected an errno right after `:`");
}

#[test]
fn ok_must_be_alone() {
    let base = format!("{}expect p: ", thread("  sync\n"));
    assert_err(&format!("{base}ok warn\n"), 6, 11, "`ok` means no labels");
    assert_err(&format!("{base}bug ok\n"), 6, 15, "must be alone on its line");
    assert_err(&format!("{base}\n"), 6, 11, "expected a label or `ok`, found end of line");
    assert_err(&format!("{base}ok ok\n"), 6, 14, "label `ok` is listed twice");
}

#[test]
fn expect_syntax_and_duplicates() {
    let base = thread("  sync\n");
    assert_err(
        &format!("{base}expect linux-4.19 bug\n"),
        6,
        19,
        "expected `:` after the policy name",
    );
    assert_err(&format!("{base}expect p: bug bug\n"), 6, 15, "label `bug` is listed twice");
    assert_err(&format!("expect p: ok\n{base}"), 1, 1, "expected `scenario NAME`");
    let twice = format!("{HEAD}expect bounce: ok\nthread a:\n  sync\nexpect bounce: bug\n");
    assert_err(&twice, 7, 8, "`expect bounce` is already given at line 4");
}

// ---------------------------------------------------------------------------------------------
// Rendering and robustness

#[test]
fn diag_display() {
    let diag = err(&thread("  store m[0] A\n"));
    assert_eq!(
        diag.to_string(),
        "t.pin:5:9: handle `m` is never defined\n    store m[0] A\n          ^"
    );
}

/// A tiny deterministic generator (xorshift64*), so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One random edit of `bytes`: a byte changed, inserted or deleted, or a line deleted, duplicated
/// or swapped with another.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    const ALPHABET: &[u8] = b" \t\n\r#\"\\[]..=:-><0123456789xyzfmpABmr_\xff\xc3\xa9";
    let at = rng.below(bytes.len() + 1);
    let byte = ALPHABET[rng.below(ALPHABET.len())];
    match rng.below(7) {
        0 if at < bytes.len() => bytes[at] = byte,
        1 => bytes.insert(at, byte),
        2 if at < bytes.len() => {
            let end = (at + 1 + rng.below(8)).min(bytes.len());
            bytes.drain(at..end);
        }
        3..=5 => {
            let mut lines: Vec<Vec<u8>> =
                bytes.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
            let (i, j) = (rng.below(lines.len()), rng.below(lines.len()));
            match rng.below(3) {
                0 => drop(lines.remove(i)),
                1 => lines.insert(j, lines[i].clone()),
                _ => lines.swap(i, j),
            }
            *bytes = lines.join(&b'\n');
        }
        _ => bytes.extend_from_slice(b"99999999999999999999"),
    }
}

#[test]
fn mutations_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut refused) = (0, 0);
    for _ in 0..600 {
        let mut bytes = EXAMPLE.as_bytes().to_vec();
        for _ in 0..=rng.below(4) {
            mutate(&mut rng, &mut bytes);
        }
        let source = String::from_utf8_lossy(&bytes);
        match parse("fuzz.pin", &source) {
            Ok(_) => parsed += 1,
            Err(diag) => {
                assert!(diag.line >= 1 && diag.col >= 1, "{diag}");
                let _ = diag.to_string();
                refused += 1;
            }
        }
    }
    assert!(parsed > 0 && refused > 0, "parsed {parsed}, refused {refused}");
}
