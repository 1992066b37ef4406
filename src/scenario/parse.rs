//! The scenario parser: the text of a scenario file to a [`Scenario`], or the first [`Diag`].
//!
//! It works in three stages, in the order of the file. A line lexer cuts each line into tokens
//! that know their column (words, quoted strings, `[`, `]`, `..`, `=`, `:`, `->`, `<-`) and drops
//! comments. A line parser reads the world (`scenario`, `fs`, `file`, ...), then the `thread` and
//! `on break` blocks, whose bodies are marked by indentation, one statement per line. Last, a
//! check pass resolves what the syntax alone cannot: declared files, handles defined anywhere and
//! of the right kind, page indexes within range, events that are signalled, and the limits of
//! [`crate::limits`]. Every error carries a line and a 1-based column counted in characters;
//! no input makes the parser panic.

use super::ast::{
    Expect, FileDecl, FileInit, FsDecl, FsKind, Name, OnBreak, Op, PageRange, Scenario, Span, Stmt,
    ThreadDecl, DISK_BLOCKS_DEFAULT, MEMORY_FRAMES_DEFAULT,
};
use super::diag::Diag;
use crate::limits;
use std::collections::{HashMap, HashSet, VecDeque};

/// Parses the scenario file `path` whose text is `source`; the first error wins.
pub fn parse(path: &str, source: &str) -> Result<Scenario, Diag> {
    // A leading UTF-8 byte-order mark (some Windows editors write one) is not text.
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let ctx = Ctx { path, source };
    let mut parser = Parser::new(&ctx);
    parser.file()?;
    let scenario = parser.finish()?;
    Checker::new(&ctx, &scenario).run(&scenario)?;
    Ok(scenario)
}

/// The operation keywords, as [`Op::keyword`] spells them.
const OPS: [&str; 30] = super::ast::OP_KEYWORDS;

/// Operations whose statement defines a handle, with the handle name suggested in errors.
const DEFINING_OPS: [(&str, &str); 4] =
    [("mmap", "m"), ("pin", "p"), ("reg-mr", "mr"), ("lease", "l")];

const TOP_LEVEL: [&str; 9] =
    ["scenario", "about", "fs", "disk", "memory", "file", "expect", "thread", "on"];

/// Top-level statements that belong to the world, before the first block.
const WORLD_ONLY: [&str; 6] = ["scenario", "about", "fs", "disk", "memory", "file"];

const LABELS: [&str; 9] = {
    let o = crate::scenario::ast::OUTCOME_LABELS;
    ["ok", o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7]]
};

// ---------------------------------------------------------------------------------------------
// Errors

/// The file being parsed, for building diagnostics.
struct Ctx<'a> {
    path: &'a str,
    source: &'a str,
}

impl Ctx<'_> {
    fn err(&self, line: u32, col: u32, message: impl Into<String>) -> Diag {
        Diag::at(self.path, self.source, Span { line, col }, message)
    }

    fn err_at(&self, span: Span, message: impl Into<String>) -> Diag {
        Diag::at(self.path, self.source, span, message)
    }

    /// Just past the last line: where "missing" errors about the whole file point.
    fn eof(&self) -> Span {
        let line = u32::try_from(self.source.lines().count()).unwrap_or(u32::MAX);
        Span { line: line.saturating_add(1), col: 1 }
    }
}

/// "`a`, `b` or `c`".
fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

fn plural(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo.
fn nearest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let scored = candidates.iter().map(|c| (edit_distance(word, c), *c));
    let (distance, best) = scored.min_by_key(|(d, _)| *d)?;
    let allowed = if best.chars().count() <= 4 { 1 } else { 2 };
    (distance <= allowed).then_some(best)
}

/// Levenshtein distance, counting a swap of two neighbours as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    nearest(word, candidates).map(|n| format!(": did you mean `{n}`?")).unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The line lexer

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    /// `[A-Za-z0-9_]` runs, joined by single `-` or `.`: names, numbers, keywords, policies.
    Word(String),
    /// A double-quoted string, with `\"` and `\\` unescaped.
    Str(String),
    Open,
    Close,
    DotDot,
    Eq,
    Colon,
    Arrow,
    BackArrow,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    col: u32,
    /// The column just past the token.
    end: u32,
}

impl Token {
    fn word(&self) -> Option<&str> {
        match &self.tok {
            Tok::Word(w) => Some(w),
            _ => None,
        }
    }

    /// How the token is named in "found ..." messages.
    fn found(&self) -> String {
        let punct = match &self.tok {
            Tok::Word(w) => w,
            Tok::Str(_) => return "a string".to_string(),
            Tok::Open => "[",
            Tok::Close => "]",
            Tok::DotDot => "..",
            Tok::Eq => "=",
            Tok::Colon => ":",
            Tok::Arrow => "->",
            Tok::BackArrow => "<-",
        };
        format!("`{punct}`")
    }
}

/// A line with at least one token.
struct Line {
    no: u32,
    /// Leading spaces.
    indent: u32,
    toks: Vec<Token>,
}

fn col_of(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn lex_file(ctx: &Ctx) -> VecDeque<Result<Line, Diag>> {
    let mut lines = VecDeque::new();
    for (i, text) in ctx.source.lines().enumerate() {
        let no = col_of(i);
        match (Lexer { ctx, no, chars: text.chars().collect(), i: 0, toks: vec![] }).run() {
            Ok(toks) if toks.is_empty() => {}
            Ok(toks) => {
                let indent = toks.first().map_or(0, |t| t.col.saturating_sub(1));
                lines.push_back(Ok(Line { no, indent, toks }));
            }
            Err(diag) => lines.push_back(Err(diag)),
        }
    }
    lines
}

struct Lexer<'a> {
    ctx: &'a Ctx<'a>,
    no: u32,
    chars: Vec<char>,
    i: usize,
    toks: Vec<Token>,
}

impl Lexer<'_> {
    fn at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i.saturating_add(ahead)).copied()
    }

    fn run(mut self) -> Result<Vec<Token>, Diag> {
        while let Some(c) = self.at(0) {
            match c {
                ' ' => self.i += 1,
                '#' => break,
                '\t' => return Err(self.tab()),
                '"' => self.string()?,
                c if is_word_char(c) => self.word(),
                c => self.punct(c)?,
            }
        }
        Ok(self.toks)
    }

    fn tab(&self) -> Diag {
        let leading = self.chars.iter().take(self.i).all(|c| *c == ' ');
        let advice = if leading { "indent" } else { "separate words" };
        self.error(self.i, format!("tab character: {advice} with spaces"))
    }

    fn error(&self, index: usize, message: impl Into<String>) -> Diag {
        self.ctx.err(self.no, col_of(index), message)
    }

    fn push(&mut self, tok: Tok, start: usize) {
        self.toks.push(Token { tok, col: col_of(start), end: col_of(self.i) });
    }

    fn word(&mut self) {
        let start = self.i;
        while let Some(c) = self.at(0) {
            // `+` and `~` join too: a policy spec such as `linux-6.18+layout-leases=yes~x`.
            let joins = matches!(c, '-' | '.' | '+' | '~') && self.at(1).is_some_and(is_word_char);
            if !(is_word_char(c) || joins) {
                break;
            }
            self.i += 1;
        }
        let text: String = self.chars.get(start..self.i).unwrap_or_default().iter().collect();
        self.push(Tok::Word(text), start);
    }

    fn string(&mut self) -> Result<(), Diag> {
        let start = self.i;
        let mut text = String::new();
        self.i += 1;
        loop {
            match (self.at(0), self.at(1)) {
                (None, _) => {
                    return Err(self.error(start, "unterminated string: expected a closing `\"`"))
                }
                (Some('"'), _) => break,
                (Some('\\'), Some(c @ ('"' | '\\'))) => {
                    text.push(c);
                    self.i += 2;
                }
                (Some(c), _) => {
                    text.push(c);
                    self.i += 1;
                }
            }
        }
        self.i += 1;
        self.push(Tok::Str(text), start);
        Ok(())
    }

    fn punct(&mut self, c: char) -> Result<(), Diag> {
        let (tok, len) = match (c, self.at(1)) {
            ('[', _) => (Tok::Open, 1),
            (']', _) => (Tok::Close, 1),
            ('=', _) => (Tok::Eq, 1),
            (':', _) => (Tok::Colon, 1),
            ('.', Some('.')) => (Tok::DotDot, 2),
            ('-', Some('>')) => (Tok::Arrow, 2),
            ('<', Some('-')) => (Tok::BackArrow, 2),
            _ => {
                let shown = c.escape_debug();
                return Err(self.error(self.i, format!("unexpected character `{shown}`")));
            }
        };
        let start = self.i;
        self.i += len;
        self.push(tok, start);
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// The token cursor: reading the arguments of one line

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(is_word_char)
}

/// A scenario name may also contain `-`, as in `ext4-rdma-strip`.
fn is_scenario_name(s: &str) -> bool {
    is_name(&s.replace('-', "_"))
}

struct Cursor<'a> {
    ctx: &'a Ctx<'a>,
    line: &'a Line,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(ctx: &'a Ctx<'a>, line: &'a Line) -> Self {
        Cursor { ctx, line, pos: 0 }
    }

    fn peek(&self) -> Option<&'a Token> {
        self.line.toks.get(self.pos)
    }

    fn peek_at(&self, ahead: usize) -> Option<&'a Token> {
        self.line.toks.get(self.pos.saturating_add(ahead))
    }

    fn at(&self, tok: &Tok) -> bool {
        self.peek().is_some_and(|t| t.tok == *tok)
    }

    fn err(&self, col: u32, message: impl Into<String>) -> Diag {
        self.ctx.err(self.line.no, col, message)
    }

    fn span(&self, col: u32) -> Span {
        Span { line: self.line.no, col }
    }

    /// Where a missing argument was expected: one space after the last token.
    fn eol(&self) -> u32 {
        self.line.toks.last().map_or(1, |t| t.end.saturating_add(1))
    }

    /// "expected WHAT, found ..." at the current token, or after the last one.
    fn expected(&self, what: &str) -> Diag {
        match self.peek() {
            Some(t) => self.err(t.col, format!("expected {what}, found {}", t.found())),
            None => self.err(self.eol(), format!("expected {what}, found end of line")),
        }
    }

    fn end(&self) -> Result<(), Diag> {
        match self.peek() {
            Some(_) => Err(self.expected("end of line")),
            None => Ok(()),
        }
    }

    fn punct(&mut self, tok: &Tok, what: &str) -> Result<(), Diag> {
        if !self.at(tok) {
            return Err(self.expected(what));
        }
        self.pos += 1;
        Ok(())
    }

    /// Any word, with its column.
    fn word(&mut self, what: &str) -> Result<(&'a str, u32), Diag> {
        match self.peek().and_then(|t| Some((t.word()?, t.col))) {
            Some(found) => {
                self.pos += 1;
                Ok(found)
            }
            None => Err(self.expected(what)),
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        let found = self.peek().and_then(Token::word) == Some(word);
        if found {
            self.pos += 1;
        }
        found
    }

    /// A name (`[A-Za-z_][A-Za-z0-9_]*`): a file, handle, thread, event or tag.
    fn name(&mut self, what: &str) -> Result<Name, Diag> {
        match self.peek() {
            Some(t) if t.word().is_some_and(is_name) => {
                self.pos += 1;
                Ok(Name { text: t.word().unwrap_or_default().to_string(), span: self.span(t.col) })
            }
            _ => Err(self.expected(what)),
        }
    }

    fn optional_name(&mut self, what: &str) -> Result<Option<Name>, Diag> {
        match self.peek() {
            None => Ok(None),
            Some(_) => self.name(what).map(Some),
        }
    }

    fn number(&mut self, what: &str) -> Result<(u32, u32), Diag> {
        let tok = match self.peek() {
            Some(t) if t.word().is_some_and(|w| w.bytes().all(|b| b.is_ascii_digit())) => t,
            _ => return Err(self.expected(what)),
        };
        let text = tok.word().unwrap_or_default();
        let n = text.parse::<u32>();
        let n = n.map_err(|_| self.err(tok.col, format!("number `{text}` is too large")))?;
        self.pos += 1;
        Ok((n, tok.col))
    }

    /// A number within `lo..=hi`.
    fn number_in(&mut self, what: &str, lo: u32, hi: u32) -> Result<u32, Diag> {
        let (n, col) = self.number(what)?;
        if n < lo || n > hi {
            return Err(self.err(col, format!("expected {what} from {lo} to {hi}, found `{n}`")));
        }
        Ok(n)
    }

    /// One of `options` (required); returns its index.
    fn choice(&mut self, options: &[&str]) -> Result<usize, Diag> {
        let found = self.peek().and_then(Token::word);
        match options.iter().position(|o| Some(*o) == found) {
            Some(i) => {
                self.pos += 1;
                Ok(i)
            }
            None => Err(self.expected(&one_of(options))),
        }
    }

    /// Optional flags, in any order, each at most once, up to the end of the line. Returns the
    /// column where each was given.
    fn flags<const N: usize>(&mut self, names: [&str; N]) -> Result<[Option<u32>; N], Diag> {
        let mut given = [None; N];
        while let Some(tok) = self.peek() {
            let found = tok.word();
            let Some(i) = names.iter().position(|n| Some(*n) == found) else {
                let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
                return Err(self.expected(&format!("{} or end of line", quoted.join(", "))));
            };
            if given.get(i).is_some_and(Option::is_some) {
                return Err(self.err(tok.col, format!("{} is given twice", tok.found())));
            }
            if let Some(slot) = given.get_mut(i) {
                *slot = Some(tok.col);
            }
            self.pos += 1;
        }
        Ok(given)
    }

    /// `[i]` or `[a..b]` after `name`: the start, the end if a range, the start's column.
    fn index(&mut self, name: &Name) -> Result<(u32, Option<u32>, u32), Diag> {
        self.punct(&Tok::Open, &format!("`[` after `{}`", name.text))?;
        let (start, col) = self.number("a page number")?;
        let mut end = None;
        if self.at(&Tok::DotDot) {
            self.pos += 1;
            end = Some(self.number("the end of the page range")?.0);
        }
        self.punct(&Tok::Close, "`]`")?;
        Ok((start, end, col))
    }

    /// `NAME[i]`.
    fn page(&mut self, what: &str) -> Result<(Name, u32), Diag> {
        let name = self.name(what)?;
        match self.index(&name)? {
            (start, None, _) => Ok((name, start)),
            (_, Some(_), col) => {
                Err(self.err(col, format!("expected one page `{}[i]`, found a range", name.text)))
            }
        }
    }

    /// `NAME[a..b]`, or `NAME[i]` for one page.
    fn range(&mut self, what: &str) -> Result<(Name, PageRange), Diag> {
        let name = self.name(what)?;
        let range = self.range_after(&name)?;
        Ok((name, range))
    }

    fn range_after(&mut self, name: &Name) -> Result<PageRange, Diag> {
        let (start, end, col) = self.index(name)?;
        let too_large = || self.err(col, format!("page number `{start}` is too large"));
        let end = match end {
            Some(end) => end,
            None => start.checked_add(1).ok_or_else(too_large)?,
        };
        if end <= start {
            let message = format!("empty range `{start}..{end}`: the end must be above the start");
            return Err(self.err(col, message));
        }
        Ok(PageRange { start, end })
    }
}

// ---------------------------------------------------------------------------------------------
// Statements of a body

const MAP: &str = "an mmap handle";
const FILE: &str = "a file name";
const TAG: &str = "a tag";

/// One statement: `[HANDLE =] [maybe] OPERATION ARGS...`.
fn statement(ctx: &Ctx, line: &Line) -> Result<Stmt, Diag> {
    let mut c = Cursor::new(ctx, line);
    if let Some(kw) = c.peek().and_then(Token::word).filter(|w| TOP_LEVEL.contains(w)) {
        if !c.peek_at(1).is_some_and(|t| t.tok == Tok::Eq) {
            let message = format!("`{kw}` is a top-level statement: it must not be indented");
            return Err(c.err(line.indent.saturating_add(1), message));
        }
    }
    let def = handle_def(&mut c)?;
    let maybe = c.eat_word("maybe");
    if maybe && c.peek_at(1).is_some_and(|t| t.tok == Tok::Eq) {
        let col = c.peek().map_or(1, |t| t.col);
        return Err(c.err(col, "the handle comes first: write `HANDLE = maybe OPERATION ...`"));
    }
    let (kw, col) = operation(&mut c)?;
    check_def(&c, kw, col, def.as_ref())?;
    let op = op_args(kw, col, &mut c)?;
    c.end()?;
    Ok(Stmt { def, maybe, op, span: c.span(col) })
}

fn handle_def(c: &mut Cursor) -> Result<Option<Name>, Diag> {
    if !c.peek_at(1).is_some_and(|t| t.tok == Tok::Eq) {
        return Ok(None);
    }
    let name = c.name("a handle name")?;
    c.pos += 1;
    Ok(Some(name))
}

/// The operation keyword, with its column.
fn operation(c: &mut Cursor) -> Result<(&'static str, u32), Diag> {
    let (word, col) = c.word("an operation")?;
    match OPS.iter().find(|op| **op == word) {
        Some(op) => Ok((op, col)),
        None => Err(c.err(col, format!("unknown operation `{word}`{}", did_you_mean(word, &OPS)))),
    }
}

/// `H =` is required for the operations that define a handle, and refused for the others.
fn check_def(c: &Cursor, kw: &str, col: u32, def: Option<&Name>) -> Result<(), Diag> {
    let suggested = DEFINING_OPS.iter().find(|(op, _)| *op == kw).map(|(_, h)| *h);
    match (suggested, def) {
        (Some(h), None) => {
            Err(c.err(col, format!("`{kw}` defines a handle: write `{h} = {kw} ...`")))
        }
        (None, Some(def)) => {
            let message = format!("`{kw}` defines no handle: remove `{} =`", def.text);
            Err(c.err(def.span.col, message))
        }
        _ => Ok(()),
    }
}

fn op_args(kw: &str, col: u32, c: &mut Cursor) -> Result<Op, Diag> {
    Ok(match kw {
        "mmap" => mmap(c)?,
        "munmap" => Op::Munmap { map: c.name(MAP)? },
        "store" => {
            let (map, page) = c.page(MAP)?;
            Op::Store { map, page, tag: c.name(TAG)? }
        }
        "load" => {
            let (map, page) = c.page(MAP)?;
            Op::Load { map, page }
        }
        "write" => {
            let (file, page) = c.page(FILE)?;
            Op::Write { file, page, tag: c.name(TAG)? }
        }
        "read" => {
            let (file, page) = c.page(FILE)?;
            Op::Read { file, page }
        }
        "fsync" => Op::Fsync { file: c.name(FILE)? },
        "sync" => Op::Sync,
        "msync" => Op::Msync { map: c.name(MAP)? },
        "truncate" => Op::Truncate {
            file: c.name(FILE)?,
            pages: c.number_in("a page count", 0, limits::FILE_PAGES_MAX)?,
        },
        "punch" => {
            let (file, range) = c.range(FILE)?;
            Op::Punch { file, range }
        }
        "fallocate" => {
            let (file, range) = c.range(FILE)?;
            Op::Fallocate { file, range }
        }
        "pin" => pin(c)?,
        "unpin" => {
            Op::Unpin { pin: c.name("a pin handle")?, dirty: c.flags(["dirty"])?[0].is_some() }
        }
        "reg-mr" => reg_mr(c)?,
        "dereg-mr" => Op::DeregMr { mr: c.name("an MR handle")? },
        "dio-read" | "dio-write" => dio(c, kw == "dio-read")?,
        "remote-write" => {
            let (map, page) = c.page(MAP)?;
            Op::RemoteWrite { map, page, tag: c.name(TAG)? }
        }
        "lease" => {
            let file = c.name(FILE)?;
            c.choice(&["layout"])?;
            Op::Lease { file }
        }
        "unlease" => Op::Unlease { lease: c.name("a lease handle")? },
        "signal" => Op::Signal { event: c.name("an event name")? },
        "wait" => Op::Wait { event: c.name("an event name")? },
        "dma-write" => {
            let (handle, page) = c.page("a pin or MR handle")?;
            Op::DmaWrite { handle, page, tag: c.name(TAG)? }
        }
        "dma-read" => {
            let (handle, page) = c.page("a pin or MR handle")?;
            Op::DmaRead { handle, page }
        }
        "writeback" => Op::Writeback { file: c.optional_name(FILE)? },
        "reclaim" => Op::Reclaim { max: reclaim_max(c)? },
        "reclaim-active" => Op::ReclaimActive,
        "drop-caches" => Op::DropCaches,
        "crash" => Op::Crash,
        _ => return Err(c.err(col, format!("unknown operation `{kw}`"))),
    })
}

fn mmap(c: &mut Cursor) -> Result<Op, Diag> {
    let file = c.name(FILE)?;
    let range = if c.at(&Tok::Open) { Some(c.range_after(&file)?) } else { None };
    let shared = c.choice(&["shared", "private"])? == 0;
    let [ro] = c.flags(["ro"])?;
    Ok(Op::Mmap { file, range, shared, ro: ro.is_some() })
}

fn pin(c: &mut Cursor) -> Result<Op, Diag> {
    let (map, range) = c.range(MAP)?;
    let [write, longterm, fast, get] = c.flags(["write", "longterm", "fast", "get"])?;
    Ok(Op::Pin {
        map,
        range,
        write: write.is_some(),
        longterm: longterm.is_some(),
        fast: fast.is_some(),
        get: get.is_some(),
    })
}

fn reg_mr(c: &mut Cursor) -> Result<Op, Diag> {
    let (map, range) = c.range(MAP)?;
    let [write, odp] = c.flags(["write", "odp"])?;
    Ok(Op::RegMr { map, range, write: write.is_some(), odp: odp.is_some() })
}

/// `dio-read FILE[i] -> M[j]` or `dio-write FILE[i] <- M[j]`.
fn dio(c: &mut Cursor, read: bool) -> Result<Op, Diag> {
    let (file, page) = c.page(FILE)?;
    let (arrow, what) = if read { (Tok::Arrow, "`->`") } else { (Tok::BackArrow, "`<-`") };
    c.punct(&arrow, what)?;
    let (map, map_page) = c.page(MAP)?;
    Ok(match read {
        true => Op::DioRead { file, page, map, map_page },
        false => Op::DioWrite { file, page, map, map_page },
    })
}

fn reclaim_max(c: &mut Cursor) -> Result<Option<u32>, Diag> {
    match c.peek() {
        None => Ok(None),
        Some(_) => c.number_in("a folio count", 1, limits::MEMORY_FRAMES_MAX).map(Some),
    }
}

// ---------------------------------------------------------------------------------------------
// Expect lines

/// The labels of an `expect` line, after the `:`; `ok` gives no labels.
fn labels(c: &mut Cursor) -> Result<Vec<Name>, Diag> {
    let mut labels: Vec<Name> = Vec::new();
    while c.peek().is_some() {
        let label = label(c)?;
        if labels.iter().any(|l| l.text == label.text) {
            let message = format!("label `{}` is listed twice", label.text);
            return Err(c.err(label.span.col, message));
        }
        labels.push(label);
        if let (Some(ok), true) = (labels.iter().find(|l| l.text == "ok"), labels.len() > 1) {
            return Err(c.err(ok.span.col, "`ok` means no labels: it must be alone on its line"));
        }
    }
    match labels.first() {
        None => Err(c.expected("a label or `ok`")),
        Some(only) if only.text == "ok" => Ok(Vec::new()),
        Some(_) => Ok(labels),
    }
}

/// One label: a word, or `OP:ERRNO` written without spaces.
fn label(c: &mut Cursor) -> Result<Name, Diag> {
    let (word, col) = c.word("a label")?;
    let mut text = word.to_string();
    if let Some(colon) =
        c.peek().filter(|t| t.tok == Tok::Colon && t.col == col.saturating_add(len(word)))
    {
        c.pos += 1;
        match c.peek().filter(|t| t.col == colon.end).and_then(Token::word) {
            Some(errno) => {
                c.pos += 1;
                text = format!("{word}:{errno}");
            }
            None => return Err(c.err(colon.end, "expected an errno right after `:`, as in `EIO`")),
        }
    }
    check_label(&text).map_err(|message| c.err(col, message))?;
    Ok(Name { text, span: c.span(col) })
}

fn len(word: &str) -> u32 {
    u32::try_from(word.chars().count()).unwrap_or(u32::MAX)
}

fn check_label(text: &str) -> Result<(), String> {
    if LABELS.contains(&text) {
        return Ok(());
    }
    let Some((op, errno)) = text.split_once(':') else {
        if OPS.contains(&text) {
            return Err(format!("unknown label `{text}`: expected `{text}:ERRNO`"));
        }
        return Err(format!("unknown label `{text}`{}", did_you_mean(text, &LABELS)));
    };
    if !OPS.contains(&op) {
        let hint = did_you_mean(op, &OPS);
        return Err(format!("unknown label `{text}`: `{op}` is not an operation{hint}"));
    }
    let mut chars = errno.chars();
    let upper = |c: char| c.is_ascii_uppercase() || c.is_ascii_digit();
    if !(chars.next().is_some_and(|c| c.is_ascii_uppercase()) && chars.all(upper)) {
        return Err(format!("unknown label `{text}`: expected an errno like `EIO` after `:`"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The file: the world, then the blocks

/// What the top-level statements have declared so far.
#[derive(Default)]
struct World {
    name: Option<Name>,
    about: Option<(String, Span)>,
    fs: Option<FsDecl>,
    disk: Option<(u32, Span)>,
    memory: Option<(u32, Span)>,
    files: Vec<FileDecl>,
    threads: Vec<ThreadDecl>,
    on_break: Vec<OnBreak>,
    expects: Vec<Expect>,
}

impl World {
    fn blocks(&self) -> usize {
        self.threads.len() + self.on_break.len()
    }
}

struct Parser<'a> {
    ctx: &'a Ctx<'a>,
    lines: VecDeque<Result<Line, Diag>>,
    w: World,
}

impl<'a> Parser<'a> {
    fn new(ctx: &'a Ctx<'a>) -> Self {
        Parser { ctx, lines: lex_file(ctx), w: World::default() }
    }

    fn next_line(&mut self) -> Result<Option<Line>, Diag> {
        self.lines.pop_front().transpose()
    }

    fn peek_indent(&self) -> Result<Option<u32>, Diag> {
        match self.lines.front() {
            None => Ok(None),
            Some(Ok(line)) => Ok(Some(line.indent)),
            Some(Err(diag)) => Err(diag.clone()),
        }
    }

    fn file(&mut self) -> Result<(), Diag> {
        while let Some(line) = self.next_line()? {
            if line.indent > 0 {
                let message = "unexpected indentation: only `thread` and `on break` bodies are \
                               indented";
                return Err(self.ctx.err(line.no, line.indent.saturating_add(1), message));
            }
            self.top_level(&line)?;
        }
        Ok(())
    }

    fn top_level(&mut self, line: &Line) -> Result<(), Diag> {
        let mut c = Cursor::new(self.ctx, line);
        let (kw, col) = c.word("a top-level statement")?;
        let span = c.span(col);
        if self.w.name.is_none() && kw != "scenario" {
            let message = format!("expected `scenario NAME` as the first statement, found `{kw}`");
            return Err(c.err(col, message));
        }
        if self.w.blocks() > 0 && WORLD_ONLY.contains(&kw) {
            return Err(c.err(col, format!("`{kw}` must come before the first thread")));
        }
        match kw {
            "scenario" => self.scenario(&mut c, span)?,
            "about" => self.about(&mut c, span)?,
            "fs" => self.fs(&mut c, span)?,
            "disk" => {
                given_once(&c, kw, self.w.disk.map(|(_, first)| first), col)?;
                let n = c.number_in("a block count", 1, limits::DISK_BLOCKS_MAX)?;
                self.w.disk = Some((n, span));
            }
            "memory" => {
                given_once(&c, kw, self.w.memory.map(|(_, first)| first), col)?;
                let n = c.number_in("a frame count", 1, limits::MEMORY_FRAMES_MAX)?;
                self.w.memory = Some((n, span));
            }
            "file" => self.file_decl(&mut c, span)?,
            "expect" => self.expect(&mut c, span)?,
            "thread" => return self.thread(&mut c, span),
            "on" => return self.on_break(&mut c, span),
            _ => return Err(unknown_top_level(&c, kw, col)),
        }
        c.end()
    }

    fn scenario(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        given_once(c, "scenario", self.w.name.as_ref().map(|n| n.span), span.col)?;
        match c.peek() {
            Some(t) if t.word().is_some_and(is_scenario_name) => {
                let text = t.word().unwrap_or_default().to_string();
                c.pos += 1;
                self.w.name = Some(Name { text, span: c.span(t.col) });
                Ok(())
            }
            _ => Err(c.expected("a scenario name")),
        }
    }

    fn about(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        given_once(c, "about", self.w.about.as_ref().map(|(_, first)| *first), span.col)?;
        let text = match c.peek().map(|t| &t.tok) {
            Some(Tok::Str(text)) => text.clone(),
            _ => return Err(c.expected("a quoted text `\"...\"`")),
        };
        c.pos += 1;
        self.w.about = Some((text, span));
        Ok(())
    }

    fn fs(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        given_once(c, "fs", self.w.fs.as_ref().map(|fs| fs.span), span.col)?;
        let (word, col) = c.word("a filesystem kind")?;
        let Some(&(_, kind)) = FsKind::ALL.iter().find(|(n, _)| *n == word) else {
            let names: Vec<&str> = FsKind::ALL.iter().map(|(n, _)| *n).collect();
            let hint = match nearest(word, &names) {
                Some(n) => format!("did you mean `{n}`?"),
                None => format!("expected {}", one_of(&names)),
            };
            return Err(c.err(col, format!("unknown filesystem `{word}`: {hint}")));
        };
        let [nodelalloc, stable] = c.flags(["nodelalloc", "stable-writes"])?;
        if let (Some(col), false) = (nodelalloc, kind == FsKind::Ext4) {
            let message = format!("`nodelalloc` is an ext4 option, not valid with `{word}`");
            return Err(c.err(col, message));
        }
        let (nodelalloc, stable_writes) = (nodelalloc.is_some(), stable.is_some());
        self.w.fs = Some(FsDecl { kind, nodelalloc, stable_writes, span });
        Ok(())
    }

    fn file_decl(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        if self.w.files.len() >= limits::FILES_MAX {
            let message = format!("too many files: at most {}", limits::FILES_MAX);
            return Err(c.err(span.col, message));
        }
        let name = c.name(FILE)?;
        if let Some(other) = self.w.files.iter().find(|f| f.name.text == name.text) {
            let message =
                format!("file `{}` is already declared at line {}", name.text, other.span.line);
            return Err(c.err(name.span.col, message));
        }
        let pages = c.number_in("a page count", 1, limits::FILE_PAGES_MAX)?;
        let init = match c.peek() {
            None => FileInit::Synced,
            Some(_) => [FileInit::Synced, FileInit::Dirty, FileInit::Sparse]
                .get(c.choice(&["synced", "dirty", "sparse"])?)
                .copied()
                .unwrap_or(FileInit::Synced),
        };
        self.w.files.push(FileDecl { name, pages, init, span });
        Ok(())
    }

    fn expect(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        let (first, col) = c.word("a policy name")?;
        // A design: `PRESET+KNOB=VALUE...`; the `=` is a token of its own, glued back here.
        let mut text = first.to_string();
        while c.at(&Tok::Eq) {
            c.pos += 1;
            text.push('=');
            text.push_str(c.word("a knob value after `=`")?.0);
        }
        let word = text.as_str();
        let policy = Name { text: text.clone(), span: c.span(col) };
        if let Some(other) = self.w.expects.iter().find(|e| e.policy.text == policy.text) {
            let line = other.span.line;
            let message = format!("`expect {word}` is already given at line {line}");
            return Err(c.err(col, message));
        }
        c.punct(&Tok::Colon, "`:` after the policy name")?;
        let labels = labels(c)?;
        self.w.expects.push(Expect { policy, labels, span });
        Ok(())
    }

    fn thread(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        self.open_block(c, span)?;
        let name = c.name("a thread name")?;
        if let Some(other) = self.w.threads.iter().find(|t| t.name.text == name.text) {
            let line = other.span.line;
            let message = format!("thread `{}` is already defined at line {line}", name.text);
            return Err(c.err(name.span.col, message));
        }
        c.punct(&Tok::Colon, "`:` after the thread name")?;
        c.end()?;
        let body = self.body(&format!("thread `{}`", name.text), span)?;
        self.w.threads.push(ThreadDecl { name, body, span });
        Ok(())
    }

    fn on_break(&mut self, c: &mut Cursor, span: Span) -> Result<(), Diag> {
        self.open_block(c, span)?;
        c.choice(&["break"])?;
        let lease = c.name("a lease handle")?;
        c.punct(&Tok::Colon, "`:` after the lease handle")?;
        c.end()?;
        let body = self.body(&format!("`on break {}`", lease.text), span)?;
        self.w.on_break.push(OnBreak { lease, body, span });
        Ok(())
    }

    /// Checks that a `thread` or `on break` block may start here.
    fn open_block(&self, c: &Cursor, span: Span) -> Result<(), Diag> {
        if self.w.fs.is_none() {
            return Err(c.err(span.col, "expected an `fs KIND` line before the first block"));
        }
        if self.w.blocks() >= limits::THREADS_MAX {
            let message =
                format!("too many threads and `on break` blocks: at most {}", limits::THREADS_MAX);
            return Err(c.err(span.col, message));
        }
        Ok(())
    }

    /// The indented lines after a block header.
    fn body(&mut self, owner: &str, header: Span) -> Result<Vec<Stmt>, Diag> {
        let mut body = Vec::new();
        let mut depth = None;
        while let Some(indent) = self.peek_indent()?.filter(|i| *i > 0) {
            let Some(line) = self.next_line()? else { break };
            let want = *depth.get_or_insert(indent);
            let col = indent.saturating_add(1);
            if indent != want {
                let message = format!(
                    "inconsistent indentation: expected {}, found {indent}",
                    plural(want, "space")
                );
                return Err(self.ctx.err(line.no, col, message));
            }
            if body.len() >= limits::THREAD_STMTS_MAX {
                let message =
                    format!("too many statements in {owner}: at most {}", limits::THREAD_STMTS_MAX);
                return Err(self.ctx.err(line.no, col, message));
            }
            body.push(statement(self.ctx, &line)?);
        }
        if body.is_empty() {
            let message = format!("{owner} has an empty body: indent its statements below it");
            return Err(self.ctx.err_at(header, message));
        }
        Ok(body)
    }

    fn finish(self) -> Result<Scenario, Diag> {
        let eof = self.ctx.eof();
        let w = self.w;
        let name =
            w.name.ok_or_else(|| self.ctx.err_at(eof, "empty file: expected `scenario NAME`"))?;
        let fs = w.fs.ok_or_else(|| self.ctx.err_at(eof, "expected an `fs KIND` line"))?;
        if w.threads.is_empty() {
            return Err(self.ctx.err_at(eof, "expected at least one `thread NAME:` block"));
        }
        Ok(Scenario {
            path: self.ctx.path.to_string(),
            source: self.ctx.source.to_string(),
            name,
            about: w.about.map(|(text, _)| text),
            fs,
            disk_blocks: w.disk.map_or(DISK_BLOCKS_DEFAULT, |(n, _)| n),
            memory_frames: w.memory.map_or(MEMORY_FRAMES_DEFAULT, |(n, _)| n),
            disk_span: w.disk.map(|(_, s)| s),
            memory_span: w.memory.map(|(_, s)| s),
            files: w.files,
            threads: w.threads,
            on_break: w.on_break,
            expects: w.expects,
        })
    }
}

/// Refuses a statement given twice; `first` is where it was given before, if it was.
fn given_once(c: &Cursor, kw: &str, first: Option<Span>, col: u32) -> Result<(), Diag> {
    match first {
        Some(first) => Err(c.err(col, format!("`{kw}` is already given at line {}", first.line))),
        None => Ok(()),
    }
}

fn unknown_top_level(c: &Cursor, kw: &str, col: u32) -> Diag {
    if OPS.contains(&kw) {
        return c.err(col, format!("`{kw}` is an operation: indent it in a `thread NAME:` body"));
    }
    let hint = match nearest(kw, &TOP_LEVEL) {
        Some(n) => format!("did you mean `{n}`?"),
        None => "expected `fs`, `disk`, `memory`, `file`, `thread`, `on break` or `expect`".into(),
    };
    c.err(col, format!("unknown statement `{kw}`: {hint}"))
}

// ---------------------------------------------------------------------------------------------
// The check pass: names, kinds, ranges and limits, in the order of the file

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Map,
    Pin,
    Mr,
    Lease,
}

impl Kind {
    fn described(self) -> &'static str {
        match self {
            Kind::Map => "an mmap handle",
            Kind::Pin => "a pin handle",
            Kind::Mr => "an MR handle",
            Kind::Lease => "a lease handle",
        }
    }
}

/// The first definition of a handle.
struct Handle {
    kind: Kind,
    /// Pages it covers; `None` when its file is not declared (reported at the definition).
    pages: Option<u32>,
    span: Span,
}

/// A `thread` or `on break` block: its header, the lease it waits on, its body.
type Block<'s> = (Span, Option<&'s Name>, &'s [Stmt]);

struct Checker<'a, 's> {
    ctx: &'a Ctx<'a>,
    files: HashMap<&'s str, u32>,
    handles: HashMap<&'s str, Handle>,
    signalled: HashSet<&'s str>,
    events: HashSet<&'s str>,
    tags: HashSet<String>,
    defined: usize,
}

fn one_page(page: u32) -> PageRange {
    PageRange { start: page, end: page.saturating_add(1) }
}

fn blocks(s: &Scenario) -> Vec<Block<'_>> {
    let threads = s.threads.iter().map(|t| (t.span, None, t.body.as_slice()));
    let on_break = s.on_break.iter().map(|o| (o.span, Some(&o.lease), o.body.as_slice()));
    let mut blocks: Vec<Block> = threads.chain(on_break).collect();
    blocks.sort_by_key(|(span, _, _)| span.line);
    blocks
}

impl<'a, 's> Checker<'a, 's> {
    fn new(ctx: &'a Ctx<'a>, s: &'s Scenario) -> Self {
        let files: HashMap<&str, u32> =
            s.files.iter().map(|f| (f.name.text.as_str(), f.pages)).collect();
        let tags = s.files.iter().flat_map(|f| (0..f.pages).map(|i| format!("{}{i}", f.name.text)));
        let mut checker = Checker {
            ctx,
            files,
            handles: HashMap::new(),
            signalled: HashSet::new(),
            events: HashSet::new(),
            tags: tags.collect(),
            defined: 0,
        };
        for stmt in blocks(s).into_iter().flat_map(|(_, _, body)| body) {
            checker.note(stmt);
        }
        checker
    }

    /// Records the first definition of each handle, and every signalled event.
    fn note(&mut self, stmt: &'s Stmt) {
        if let Op::Signal { event } = &stmt.op {
            self.signalled.insert(&event.text);
        }
        let Some(def) = &stmt.def else { return };
        let (kind, pages) = match &stmt.op {
            Op::Mmap { range: Some(r), .. } => (Kind::Map, Some(r.end.saturating_sub(r.start))),
            Op::Mmap { file, range: None, .. } => {
                (Kind::Map, self.files.get(file.text.as_str()).copied())
            }
            Op::Pin { range: r, .. } => (Kind::Pin, Some(r.end.saturating_sub(r.start))),
            Op::RegMr { range: r, .. } => (Kind::Mr, Some(r.end.saturating_sub(r.start))),
            Op::Lease { .. } => (Kind::Lease, None),
            _ => return,
        };
        self.handles.entry(&def.text).or_insert(Handle { kind, pages, span: def.span });
    }

    fn run(mut self, s: &'s Scenario) -> Result<(), Diag> {
        for (_, lease, body) in blocks(s) {
            if let Some(lease) = lease {
                self.handle(lease, &[Kind::Lease], "`on break`")?;
            }
            for stmt in body {
                self.stmt(stmt)?;
            }
        }
        Ok(())
    }

    fn stmt(&mut self, stmt: &'s Stmt) -> Result<(), Diag> {
        if let Some(def) = &stmt.def {
            self.define(def)?;
        }
        let kw = format!("`{}`", stmt.op.keyword());
        let kw = kw.as_str();
        match &stmt.op {
            Op::Mmap { file, range, .. } => self.mmap(file, *range),
            Op::Munmap { map } | Op::Msync { map } => self.handle(map, &[Kind::Map], kw).map(drop),
            Op::Store { map, page, tag } | Op::RemoteWrite { map, page, tag } => {
                self.handle_page(map, *page, &[Kind::Map], kw)?;
                self.tag(tag)
            }
            Op::Load { map, page } => self.handle_page(map, *page, &[Kind::Map], kw),
            Op::Write { file, page, tag } => {
                self.file_range(file, one_page(*page))?;
                self.tag(tag)
            }
            Op::Read { file, page } => self.file_range(file, one_page(*page)),
            Op::Fsync { file } | Op::Truncate { file, .. } | Op::Lease { file } => {
                self.file(file).map(drop)
            }
            Op::Writeback { file: Some(file) } => self.file(file).map(drop),
            Op::Punch { file, range } | Op::Fallocate { file, range } => {
                self.file_range(file, *range)
            }
            Op::Pin { map, range, .. } | Op::RegMr { map, range, .. } => {
                self.handle_range(map, *range, &[Kind::Map], kw)
            }
            Op::Unpin { pin, .. } => self.handle(pin, &[Kind::Pin], kw).map(drop),
            Op::DeregMr { mr } => self.handle(mr, &[Kind::Mr], kw).map(drop),
            Op::Unlease { lease } => self.handle(lease, &[Kind::Lease], kw).map(drop),
            Op::DioRead { file, page, map, map_page }
            | Op::DioWrite { file, page, map, map_page } => {
                self.file_range(file, one_page(*page))?;
                self.handle_page(map, *map_page, &[Kind::Map], kw)
            }
            Op::DmaWrite { handle, page, tag } => {
                self.handle_page(handle, *page, &[Kind::Pin, Kind::Mr], kw)?;
                self.tag(tag)
            }
            Op::DmaRead { handle, page } => {
                self.handle_page(handle, *page, &[Kind::Pin, Kind::Mr], kw)
            }
            Op::Signal { event } => self.event(event),
            Op::Wait { event } => self.wait(event),
            _ => Ok(()),
        }
    }

    fn define(&mut self, def: &Name) -> Result<(), Diag> {
        if let Some(first) = self.handles.get(def.text.as_str()).filter(|h| h.span != def.span) {
            let line = first.span.line;
            let message = format!("handle `{}` is already defined at line {line}", def.text);
            return Err(self.ctx.err_at(def.span, message));
        }
        self.defined += 1;
        if self.defined > limits::HANDLES_MAX {
            let message = format!("too many handles: at most {}", limits::HANDLES_MAX);
            return Err(self.ctx.err_at(def.span, message));
        }
        Ok(())
    }

    fn mmap(&self, file: &Name, range: Option<PageRange>) -> Result<(), Diag> {
        self.file(file)?;
        match range {
            Some(r) if r.end > limits::FILE_PAGES_MAX => {
                let max = limits::FILE_PAGES_MAX;
                let message = format!(
                    "pages {}..{} are out of range: a file has at most {max} pages",
                    r.start, r.end
                );
                Err(self.ctx.err_at(file.span, message))
            }
            _ => Ok(()),
        }
    }

    fn file(&self, file: &Name) -> Result<u32, Diag> {
        match self.files.get(file.text.as_str()) {
            Some(pages) => Ok(*pages),
            None => {
                Err(self.ctx.err_at(file.span, format!("file `{}` is not declared", file.text)))
            }
        }
    }

    fn file_range(&self, file: &Name, range: PageRange) -> Result<(), Diag> {
        let pages = self.file(file)?;
        self.within(file, range, Some(pages))
    }

    /// The handle's definition, if it is of one of the `kinds` that `user` accepts.
    fn handle(&self, name: &Name, kinds: &[Kind], user: &str) -> Result<&Handle, Diag> {
        let Some(handle) = self.handles.get(name.text.as_str()) else {
            let message = format!("handle `{}` is never defined", name.text);
            return Err(self.ctx.err_at(name.span, message));
        };
        if !kinds.contains(&handle.kind) {
            let wanted: Vec<&str> = kinds.iter().map(|k| k.described()).collect();
            let (wanted, found) = (wanted.join(" or "), handle.kind.described());
            let message = format!("{user} needs {wanted}, but `{}` is {found}", name.text);
            return Err(self.ctx.err_at(name.span, message));
        }
        Ok(handle)
    }

    fn handle_page(&self, name: &Name, page: u32, kinds: &[Kind], user: &str) -> Result<(), Diag> {
        self.handle_range(name, one_page(page), kinds, user)
    }

    fn handle_range(
        &self,
        name: &Name,
        range: PageRange,
        kinds: &[Kind],
        user: &str,
    ) -> Result<(), Diag> {
        let pages = self.handle(name, kinds, user)?.pages;
        self.within(name, range, pages)
    }

    /// Checks that `range` lies within the `pages` of `name`, when they are known.
    fn within(&self, name: &Name, range: PageRange, pages: Option<u32>) -> Result<(), Diag> {
        let Some(pages) = pages.filter(|p| range.end > *p) else { return Ok(()) };
        let what = if range.end.saturating_sub(range.start) <= 1 {
            format!("page {} is", range.start)
        } else {
            format!("pages {}..{} are", range.start, range.end)
        };
        let has = plural(pages, "page");
        let message = format!("{what} out of range: `{}` has {has}", name.text);
        Err(self.ctx.err_at(name.span, message))
    }

    fn event(&mut self, event: &'s Name) -> Result<(), Diag> {
        if self.events.insert(&event.text) && self.events.len() > limits::EVENTS_MAX {
            let message = format!("too many events: at most {}", limits::EVENTS_MAX);
            return Err(self.ctx.err_at(event.span, message));
        }
        Ok(())
    }

    fn wait(&mut self, event: &'s Name) -> Result<(), Diag> {
        self.event(event)?;
        if !self.signalled.contains(event.text.as_str()) {
            let message = format!("event `{}` is never signalled", event.text);
            return Err(self.ctx.err_at(event.span, message));
        }
        Ok(())
    }

    fn tag(&mut self, tag: &Name) -> Result<(), Diag> {
        if self.tags.insert(tag.text.clone()) && self.tags.len() > limits::TAGS_MAX {
            let max = limits::TAGS_MAX;
            let message = format!("too many tags: at most {max}, counting the files' initial tags");
            return Err(self.ctx.err_at(tag.span, message));
        }
        Ok(())
    }
}
