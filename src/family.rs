//! The scaling families of docs/performance.md.
//!
//! - `pins` (`pincheck family N M`): N threads each pin a page of an M-page shared ext4
//!   mapping, let a device write it and unpin it dirty, while the flusher and kswapd may run
//!   writeback and reclaim at any point.
//! - `pairs` (`pincheck family pairs N`, issue 9): N independent pairs. In each, an application
//!   maps its own one-page ext4 file, stores to it, registers it for RDMA write, and once its NIC
//!   has written it, deregisters and fsyncs; a flusher and kswapd may each run twice at any
//!   time. Under linux-5.18: 1 pair 659 states, 2 pairs 184,977 (unreduced but for the
//!   invisible-step reduction), as the issue measured.

/// The scenario with `threads` pinning threads over `pages` pages (1..=6 and 1..=8).
pub fn pins(threads: u8, pages: u8) -> Result<String, String> {
    if !(1..=6).contains(&threads) || !(1..=8).contains(&pages) {
        return Err("the family takes 1 to 6 threads and 1 to 8 pages".to_string());
    }
    let mut s = format!(
        "scenario pins-{threads}x{pages}\nabout \"scaling family: {threads} pinning threads x {pages} pages, writeback and reclaim\"\n\
         fs ext4\ndisk {}\nmemory {}\nfile f {pages} synced\n\nthread app:\n  map = mmap f shared\n  signal mapped\n",
        4 * pages as u32 + 4,
        2 * pages as u32 + 4
    );
    for t in 0..threads {
        let page = t % pages;
        s += &format!(
            "\nthread t{t}:\n  wait mapped\n  p{t} = pin map[{page}] write\n  dma-write p{t}[0] T{t}\n  unpin p{t} dirty\n"
        );
    }
    s += "\nthread kernel:\n  wait mapped\n  maybe writeback f\n  maybe reclaim\n  maybe writeback f\n";
    Ok(s)
}

/// Pairs of the `pairs` family, at most: 2 threads per pair plus the flusher and kswapd.
pub const PAIRS_MAX: u8 = ((crate::limits::THREADS_MAX - 2) / 2) as u8;

/// The `pairs` family member with `pairs` application/NIC pairs (1..=PAIRS_MAX).
pub fn pairs(pairs: u8) -> Result<String, String> {
    if !(1..=PAIRS_MAX).contains(&pairs) {
        return Err(format!("the pairs family takes 1 to {PAIRS_MAX} pairs"));
    }
    let n = pairs as u32;
    let mut s = format!(
        "scenario pairs-{n}\nabout \"scaling family: {n} app/NIC pairs over their own files, writeback and reclaim twice each\"\n\
         fs ext4\ndisk {}\nmemory {}\n",
        4 * n + 4,
        2 * n + 4
    );
    for i in 0..pairs {
        s += &format!("file f{i} 1 synced\n");
    }
    for i in 0..pairs {
        s += &format!(
            "\nthread app{i}:\n  m{i} = mmap f{i} shared\n  store m{i}[0] A{i}\n  mr{i} = reg-mr m{i}[0..1] write\n  \
             signal reg{i}\n  wait done{i}\n  dereg-mr mr{i}\n  fsync f{i}\n\
             \nthread nic{i}:\n  wait reg{i}\n  dma-write mr{i}[0] B{i}\n  signal done{i}\n"
        );
    }
    s += "\nthread flusher:\n  maybe writeback\n  maybe writeback\n\nthread kswapd:\n  maybe reclaim\n  maybe reclaim\n";
    Ok(s)
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_members_parse_up_to_the_thread_limit() {
        for n in 1..=super::PAIRS_MAX {
            let text = super::pairs(n).unwrap();
            let sc = crate::scenario::parse("p.pin", &text).expect("a pairs member parses");
            crate::model::compile(&sc).expect("and compiles");
        }
        assert!(super::pairs(0).is_err() && super::pairs(super::PAIRS_MAX + 1).is_err());
    }

    #[test]
    fn members_parse_and_bounds_are_checked() {
        let text = super::pins(2, 2).unwrap();
        crate::scenario::parse("f.pin", &text).expect("a family member parses");
        assert!(
            super::pins(0, 1).is_err() && super::pins(7, 1).is_err() && super::pins(1, 9).is_err()
        );
    }
}
