//! Data on the host: how a tag is written into a 4 KiB page, what the disk holds for a file page
//! as a crash would find it, and the oracles of the model (`src/model/oracle.rs`) restated over
//! what the host did.
//!
//! A tag's page is the record `#TAG` padded with zero bytes to 64, repeated 64 times, so a page
//! read back names the write it came from, and a torn page (two writes mixed) is recognised. The
//! oracle keeps, for each file page, the sequence of writes the scenario had accepted (a store
//! that did not fault, a write(2), a completed DMA or O_DIRECT read into a shared mapping, a
//! process_vm_writev), numbered like the model's versions.

use std::collections::BTreeMap;
use std::os::fd::RawFd;

pub const PAGE: usize = 4096;
const RECORD: usize = 64;

/// The longest tag a page can carry.
pub const TAG_MAX: usize = RECORD - 2;

/// The page a write of `tag` puts into a file page.
pub fn pattern(tag: &str) -> Vec<u8> {
    let mut rec = [0u8; RECORD];
    rec[0] = b'#';
    rec[1..1 + tag.len()].copy_from_slice(tag.as_bytes());
    rec.iter().copied().cycle().take(PAGE).collect()
}

/// What a page read back holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// All zeroes: a hole, an unwritten extent, or nothing on disk.
    Zero,
    Tag(String),
    /// A mix of whole records of these tags: a page written while it was being written to.
    Torn(Vec<String>),
    /// None of these: foreign bytes.
    Garbage,
    /// The read itself failed (e.g. a btrfs checksum mismatch: EIO).
    Unreadable(i32),
    /// The disk cannot be read for this page (inline or encoded data, a moving extent): no
    /// verdict, only a note.
    Unknown(String),
}

pub fn decode(page: &[u8]) -> Found {
    if page.iter().all(|&b| b == 0) {
        return Found::Zero;
    }
    let mut tags: Vec<String> = Vec::new();
    for rec in page.chunks(RECORD) {
        let tag = if rec.iter().all(|&b| b == 0) { Some(String::new()) } else { record_tag(rec) };
        match tag {
            None => return Found::Garbage,
            Some(t) if !tags.contains(&t) => tags.push(t),
            Some(_) => {}
        }
    }
    match tags.as_slice() {
        [one] => Found::Tag(one.clone()),
        _ => Found::Torn(
            tags.into_iter().map(|t| if t.is_empty() { "zeroes".into() } else { t }).collect(),
        ),
    }
}

/// The `k` pages a write of `tag` puts into one scenario page of a `--host-pages k` run.
pub fn pattern_k(tag: &str, k: usize) -> Vec<u8> {
    pattern(tag).repeat(k.max(1))
}

/// What `k` contiguous host pages standing for one scenario page hold (`--host-pages`): the
/// common finding of all, or, when they differ, a torn page of their parts.
pub fn decode_k(buf: &[u8]) -> Found {
    merge(buf.chunks(PAGE).map(decode).collect())
}

/// One finding for several host pages of one scenario page.
pub fn merge(found: Vec<Found>) -> Found {
    let Some(first) = found.first().cloned() else { return Found::Zero };
    if found.iter().all(|f| *f == first) {
        return first;
    }
    if let Some(f) = found.iter().find(|f| matches!(f, Found::Unknown(_) | Found::Unreadable(_))) {
        return f.clone();
    }
    if found.contains(&Found::Garbage) {
        return Found::Garbage;
    }
    let mut parts: Vec<String> = Vec::new();
    for f in found {
        let these = match f {
            Found::Zero => vec!["zeroes".to_string()],
            Found::Tag(t) => vec![t],
            Found::Torn(p) => p,
            _ => Vec::new(),
        };
        for t in these {
            if !parts.contains(&t) {
                parts.push(t);
            }
        }
    }
    Found::Torn(parts)
}

/// [`on_disk`] of scenario page `index` of a `--host-pages k` run: host pages `index * k ..
/// index * k + k`, merged.
pub fn on_disk_k(fd: RawFd, image: RawFd, index: u32, k: usize) -> Found {
    if k <= 1 {
        return on_disk(fd, image, index);
    }
    merge((0..k as u32).map(|j| on_disk(fd, image, index * k as u32 + j)).collect())
}

/// The tag of one record `#TAG\0...`, if it is one.
fn record_tag(rec: &[u8]) -> Option<String> {
    if rec[0] != b'#' {
        return None;
    }
    let end = rec.iter().skip(1).position(|&b| b == 0).map_or(RECORD, |p| p + 1);
    if rec[end..].iter().any(|&b| b != 0) {
        return None;
    }
    std::str::from_utf8(&rec[1..end]).ok().map(str::to_string)
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Found::Zero => write!(f, "zeroes"),
            Found::Tag(t) => write!(f, "{t}"),
            Found::Torn(tags) => write!(f, "a torn page ({})", tags.join(" and ")),
            Found::Garbage => write!(f, "foreign bytes"),
            Found::Unreadable(e) => write!(f, "an error ({})", super::errno_name(*e)),
            Found::Unknown(why) => write!(f, "nothing pincheck can judge ({why})"),
        }
    }
}

/// One accepted write of a file page: its version, its tag (`None` for zeroes), and the
/// oracle's clock when its operation began and when it was accepted.
#[derive(Clone, Debug)]
struct Write {
    ver: u32,
    tag: Option<String>,
    /// Other contents the same write may have put there (an O_DIRECT write from a page that
    /// changed during the call copies whatever the page held when the device read it).
    alts: Vec<Option<String>>,
    begun: u64,
    ended: u64,
}

/// One file page's accepted writes. Version 0 is what the disk held at the start.
#[derive(Clone, Debug, Default)]
struct PageLog {
    writes: Vec<Write>,
    excused: Option<u32>,
    /// Contents the page may hold without anyone being owed them (a device write into a folio
    /// that may or may not still be the file's).
    possible: Vec<Option<String>>,
    /// Bumped each time the page leaves the file (truncated away, punched): a folio pinned
    /// before belongs to the file no more, and a device write into it is no write of the file.
    generation: u32,
}

impl PageLog {
    fn initial(tag: Option<String>, ver: u32) -> Write {
        Write { ver, tag, alts: Vec::new(), begun: 0, ended: 0 }
    }

    fn hole() -> PageLog {
        PageLog {
            writes: vec![PageLog::initial(None, 0)],
            excused: None,
            possible: Vec::new(),
            generation: 0,
        }
    }

    fn accepted(&self) -> u32 {
        self.writes.last().map_or(0, |w| w.ver)
    }
}

pub enum Verdict {
    Holds,
    Lost,
    Corrupt,
}

/// The writes accepted for every file page of the scenario.
#[derive(Clone, Debug, Default)]
pub struct Oracle {
    files: BTreeMap<String, (u32, Vec<PageLog>)>,
    clock: u64,
    /// Writes begun and not yet ended, per file page.
    in_flight: BTreeMap<(String, u32), Vec<(u64, Content)>>,
}

/// What a write in flight may leave in its page: a tag, zeroes (`Known(None)`), or anything
/// (`Unknown`: an O_DIRECT transfer whose data pincheck reads only after the call).
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    Known(Option<String>),
    Unknown,
}

impl Oracle {
    /// A file of `pages` pages. `on_disk`: its initial tags are on the disk (version 0);
    /// otherwise they are accepted but not yet written (version 1), or it is all holes.
    pub fn add_file(&mut self, name: &str, pages: u32, init: Option<(bool, Vec<String>)>) {
        let logs = (0..pages as usize)
            .map(|i| {
                let mut log = PageLog::hole();
                if let Some((on_disk, tags)) = &init {
                    let first = PageLog::initial(Some(tags[i].clone()), u32::from(!on_disk));
                    if *on_disk {
                        log.writes[0] = first;
                    } else {
                        log.writes.push(first);
                    }
                }
                log
            })
            .collect();
        self.files.insert(name.to_string(), (pages, logs));
    }

    fn log(&mut self, file: &str, index: u32) -> Option<&mut PageLog> {
        let (_, logs) = self.files.get_mut(file)?;
        if logs.len() <= index as usize {
            logs.resize(index as usize + 1, PageLog::hole());
        }
        logs.get_mut(index as usize)
    }

    /// An operation that may write `file` page `index` began: until it ends, what it writes
    /// may already be on disk though it is not accepted yet.
    pub fn write_started(&mut self, file: &str, index: u32, id: u64, content: Content) {
        self.in_flight.entry((file.to_string(), index)).or_default().push((id, content));
    }

    pub fn write_ended(&mut self, file: &str, index: u32, id: u64) {
        let key = (file.to_string(), index);
        if let Some(v) = self.in_flight.get_mut(&key) {
            v.retain(|(i, _)| *i != id);
            if v.is_empty() {
                self.in_flight.remove(&key);
            }
        }
    }

    /// The contents `file` page `index` was given since the clock read `since`: writes
    /// accepted since, and writes still in flight with a known content.
    pub fn contents_since(&self, file: &str, index: u32, since: u64) -> Vec<Option<String>> {
        let mut out: Vec<Option<String>> = Vec::new();
        if let Some(log) = self.files.get(file).and_then(|(_, l)| l.get(index as usize)) {
            out.extend(log.writes.iter().filter(|w| w.ended > since).map(|w| w.tag.clone()));
        }
        if let Some(v) = self.in_flight.get(&(file.to_string(), index)) {
            out.extend(v.iter().filter_map(|(_, c)| match c {
                Content::Known(t) => Some(t.clone()),
                Content::Unknown => None,
            }));
        }
        out
    }

    /// The clock when an operation begins; [`Oracle::accept`] takes it back.
    pub fn begin(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// A write of `tag` (`None`: zeroes) to `file` page `index`, by an operation that began at
    /// `begun`, was accepted.
    pub fn accept(&mut self, file: &str, index: u32, tag: Option<String>, begun: u64) {
        self.accept_any(file, index, vec![tag], begun);
    }

    /// A write that put one of `tags` (the first is the likeliest) into the page.
    pub fn accept_any(
        &mut self,
        file: &str,
        index: u32,
        mut tags: Vec<Option<String>>,
        begun: u64,
    ) {
        self.clock += 1;
        let ended = self.clock;
        if tags.is_empty() {
            return;
        }
        let tag = tags.remove(0);
        tags.dedup();
        tags.retain(|t| *t != tag);
        if let Some(log) = self.log(file, index) {
            let ver = log.accepted() + 1;
            log.writes.push(Write { ver, tag, alts: tags, begun, ended });
        }
    }

    /// truncate(2) to `pages`: pages past the end now read as zeroes.
    pub fn truncate(&mut self, file: &str, pages: u32) {
        let Some((size, logs)) = self.files.get(file).map(|(s, l)| (*s, l.len() as u32)) else {
            return;
        };
        let begun = self.begin();
        for i in pages.min(size)..logs.max(size) {
            self.accept(file, i, None, begun);
        }
        for i in pages..size {
            self.evict(file, i);
        }
        if let Some(f) = self.files.get_mut(file) {
            f.0 = pages;
        }
    }

    /// The page left the file (truncate, punch): its folio, if pinned, is an orphan now.
    pub fn evict(&mut self, file: &str, index: u32) {
        if let Some(log) = self.log(file, index) {
            log.generation += 1;
        }
    }

    /// `tag` may be in the page, and nobody is owed it.
    pub fn possible(&mut self, file: &str, index: u32, tag: Option<String>) {
        if let Some(log) = self.log(file, index) {
            log.possible.push(tag);
        }
    }

    /// How many times the page has left the file (see [`Oracle::evict`]).
    pub fn generation(&self, file: &str, index: u32) -> u32 {
        let log = self.files.get(file).and_then(|(_, l)| l.get(index as usize));
        log.map_or(0, |l| l.generation)
    }

    /// The file's size in pages, as the scenario made it.
    pub fn size(&self, file: &str) -> u32 {
        self.files.get(file).map_or(0, |f| f.0)
    }

    /// fallocate(2) past the end: the file now has `pages` pages, the new ones holes.
    pub fn grow(&mut self, file: &str, pages: u32) {
        if let Some(f) = self.files.get_mut(file) {
            if pages > f.0 {
                f.0 = pages;
                if f.1.len() < pages as usize {
                    f.1.resize(pages as usize, PageLog::hole());
                }
            }
        }
    }

    /// An error was reported for `file` (all files for `None`): what was accepted so far is
    /// excused from the durability checks.
    pub fn excuse(&mut self, file: Option<&str>) {
        for (name, (_, logs)) in self.files.iter_mut() {
            if file.is_none_or(|f| f == name) {
                for log in logs.iter_mut() {
                    log.excused = Some(log.accepted());
                }
            }
        }
    }

    /// The files' pages inside their size, with the version accepted now: what a sync that
    /// begins now must make durable.
    pub fn snapshot(&self, file: Option<&str>) -> Vec<(String, u32, u32)> {
        let mut out = Vec::new();
        for (name, (size, logs)) in &self.files {
            if file.is_none_or(|f| f == name) {
                for (i, log) in logs.iter().enumerate().take(*size as usize) {
                    out.push((name.clone(), i as u32, log.accepted()));
                }
            }
        }
        out
    }

    pub fn file_names(&self) -> Vec<String> {
        self.files.keys().cloned().collect()
    }

    /// Whether `want` still has to be checked: not excused, not truncated or punched away.
    pub fn owed(&self, file: &str, index: u32, want: u32) -> bool {
        let Some((size, logs)) = self.files.get(file) else { return false };
        let Some(log) = logs.get(index as usize) else { return false };
        index < *size && log.excused.is_none_or(|e| e < want)
    }

    /// The model's `judge()`: does `found` hold version `want` of the page, or a later one?
    /// Unlike the model's steps, host operations take time: a write accepted after `want`'s
    /// operation began raced with it, and either order is one the kernel may have taken, so
    /// finding it is no loss.
    pub fn judge(&self, file: &str, index: u32, want: u32, found: &Found) -> Verdict {
        let Some(log) = self.files.get(file).and_then(|(_, l)| l.get(index as usize)) else {
            return Verdict::Holds;
        };
        let tag = match found {
            Found::Unknown(_) => return Verdict::Holds,
            Found::Garbage | Found::Unreadable(_) => return Verdict::Corrupt,
            // A page written while it was being written to: every part must be a write to this
            // page (else `corruption`), and it is judged by its oldest part.
            Found::Torn(parts) => {
                let mut worst = Verdict::Holds;
                for t in parts {
                    let part = if t == "zeroes" { Found::Zero } else { Found::Tag(t.clone()) };
                    match self.judge(file, index, want, &part) {
                        Verdict::Corrupt => return Verdict::Corrupt,
                        Verdict::Lost => worst = Verdict::Lost,
                        Verdict::Holds => {}
                    }
                }
                return worst;
            }
            Found::Zero => None,
            Found::Tag(t) => Some(t.clone()),
        };
        // The latest accepted write with these contents. Zeroes that no write put there count
        // as version 0, as in the model: what is missing was lost, not corrupted.
        let hole = PageLog::initial(None, 0);
        let latest = log.writes.iter().rev().find(|w| w.tag == tag || w.alts.contains(&tag));
        let Some(had) = latest.or(if tag.is_none() { Some(&hole) } else { None }) else {
            // Never accepted for this page: data of a write still in flight (a DMA that
            // landed before its read(2) returned), or data never written to it.
            let flying = self.in_flight.get(&(file.to_string(), index));
            let explained = flying.is_some_and(|v| {
                v.iter().any(|(_, c)| *c == Content::Unknown || *c == Content::Known(tag.clone()))
            });
            if explained || log.possible.contains(&tag) {
                return Verdict::Holds;
            }
            return Verdict::Corrupt;
        };
        let wanted = log.writes.iter().find(|w| w.ver == want);
        if had.ver >= want || wanted.is_some_and(|w| had.ended > w.begun) {
            Verdict::Holds
        } else {
            Verdict::Lost
        }
    }

    /// The last accepted version of every page inside its file's size, not excused.
    pub fn final_versions(&self) -> Vec<(String, u32, u32)> {
        self.snapshot(None).into_iter().filter(|(f, i, v)| self.owed(f, *i, *v)).collect()
    }

    pub fn tag_of(&self, file: &str, index: u32, ver: u32) -> String {
        let log = self.files.get(file).and_then(|(_, l)| l.get(index as usize));
        match log.and_then(|l| l.writes.iter().find(|w| w.ver == ver)) {
            Some(Write { tag: Some(t), .. }) => t.clone(),
            _ => "zeroes".to_string(),
        }
    }
}

/// Reads page `index` of the file open at `fd` as a crash would find it: the file's block on
/// the device (FS_IOC_FIEMAP, without FIEMAP_FLAG_SYNC so nothing is flushed) read from the
/// loop image `image`, which receives exactly what the device completed. A delayed-allocation,
/// unknown or unwritten extent, or a hole, is zeroes on disk.
pub fn on_disk(fd: RawFd, image: RawFd, index: u32) -> Found {
    // The extent can move between FIEMAP and the read (writeback allocating, a punch of another
    // page): map again after the read and retry if it changed.
    for _ in 0..3 {
        let Ok(before) = extent(fd, index) else {
            return Found::Unknown("FS_IOC_FIEMAP failed".into());
        };
        let found = match before {
            Place::Zero => Found::Zero,
            Place::Unknown(why) => Found::Unknown(why.into()),
            Place::At(at) => {
                // A block device (zram) read through its own page cache: drop what an earlier
                // read cached there, which the filesystem's writes since then bypassed.
                // SAFETY: fstat into a zeroed struct; advice on our fd.
                unsafe {
                    let mut st: libc::stat = std::mem::zeroed();
                    if libc::fstat(image, &mut st) == 0
                        && st.st_mode & libc::S_IFMT == libc::S_IFBLK
                    {
                        libc::posix_fadvise(
                            image,
                            at as libc::off_t,
                            PAGE as libc::off_t,
                            libc::POSIX_FADV_DONTNEED,
                        );
                    }
                }
                let mut buf = vec![0u8; PAGE];
                // SAFETY: reads into our own buffer of PAGE bytes.
                let n =
                    unsafe { libc::pread(image, buf.as_mut_ptr().cast(), PAGE, at as libc::off_t) };
                if n != PAGE as isize {
                    return Found::Unknown(format!("the image read returned {n}"));
                }
                decode(&buf)
            }
        };
        if extent(fd, index).is_ok_and(|after| after == before) {
            return found;
        }
    }
    Found::Unknown("its extent kept moving".into())
}

/// Where a file page's data is on the device.
#[derive(Debug, PartialEq)]
enum Place {
    /// A hole, or an extent that holds no data yet: zeroes as a crash would find them.
    Zero,
    At(u64),
    Unknown(&'static str),
}

fn extent(fd: RawFd, index: u32) -> Result<Place, i32> {
    #[repr(C)]
    struct Extent {
        logical: u64,
        physical: u64,
        length: u64,
        reserved64: [u64; 2],
        flags: u32,
        reserved: [u32; 3],
    }
    #[repr(C)]
    struct Fiemap {
        start: u64,
        length: u64,
        flags: u32,
        mapped_extents: u32,
        extent_count: u32,
        reserved: u32,
        extents: [Extent; 1],
    }
    const FS_IOC_FIEMAP: libc::c_ulong = 0xC020_660B;
    const NOT_ON_DISK: u32 = 0x2 | 0x4 | 0x800; // UNKNOWN | DELALLOC | UNWRITTEN
    const NOT_A_BLOCK: u32 = 0x8 | 0x100 | 0x200; // ENCODED | NOT_ALIGNED | DATA_INLINE
    let pos = index as u64 * PAGE as u64;
    // SAFETY: a zeroed, correctly sized struct fiemap with room for one extent.
    let mut m: Fiemap = unsafe { std::mem::zeroed() };
    m.start = pos;
    m.length = PAGE as u64;
    m.extent_count = 1;
    // SAFETY: FS_IOC_FIEMAP writes at most `extent_count` extents into `m`.
    if unsafe { libc::ioctl(fd, FS_IOC_FIEMAP as _, &mut m) } != 0 {
        return Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0));
    }
    let e = &m.extents[0];
    Ok(if m.mapped_extents == 0 || e.flags & NOT_ON_DISK != 0 || pos < e.logical {
        Place::Zero
    } else if e.flags & NOT_A_BLOCK != 0 {
        Place::Unknown("inline, encoded or unaligned data")
    } else {
        Place::At(e.physical + (pos - e.logical))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_decode_to_their_tag_and_torn_pages_do_not() {
        assert_eq!(decode(&pattern("B")), Found::Tag("B".into()));
        assert_eq!(decode(&vec![0; PAGE]), Found::Zero);
        let mut torn = pattern("A");
        torn[PAGE / 2..].copy_from_slice(&pattern("B")[PAGE / 2..]);
        assert_eq!(decode(&torn), Found::Torn(vec!["A".into(), "B".into()]));
        torn[0] = b'x';
        assert_eq!(decode(&torn), Found::Garbage);
    }

    #[test]
    fn the_oracle_judges_like_the_model() {
        let mut o = Oracle::default();
        o.add_file("f", 1, Some((true, vec!["f0".into()])));
        let b = o.begin();
        o.accept("f", 0, Some("A".into()), b);
        let want = o.snapshot(Some("f"))[0].2;
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("A".into())), Verdict::Holds));
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("f0".into())), Verdict::Lost));
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("g0".into())), Verdict::Corrupt));
        assert!(matches!(o.judge("f", 0, want, &Found::Zero), Verdict::Lost));
        // A write that began before A was accepted raced with it: finding it is no loss.
        let c = o.begin();
        let d = o.begin();
        o.accept("f", 0, Some("B".into()), c);
        o.accept("f", 0, Some("C".into()), d);
        let want = o.snapshot(Some("f"))[0].2;
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("B".into())), Verdict::Holds));
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("A".into())), Verdict::Lost));
        // Data of a write in flight may be on disk before the write is accepted.
        o.write_started("f", 0, 7, Content::Known(Some("E".into())));
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("D".into())), Verdict::Corrupt));
        o.write_started("f", 0, 8, Content::Unknown);
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("D".into())), Verdict::Holds));
        o.write_ended("f", 0, 8);
        o.write_ended("f", 0, 7);
        assert!(matches!(o.judge("f", 0, want, &Found::Tag("D".into())), Verdict::Corrupt));
        o.excuse(Some("f"));
        assert!(!o.owed("f", 0, want));
    }
}
