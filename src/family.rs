//! The scaling family of docs/performance.md: N threads each pin a page of an M-page shared
//! ext4 mapping, let a device write it and unpin it dirty, while the flusher and kswapd may run
//! writeback and reclaim at any point. `pincheck family N M` prints one member.

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

#[cfg(test)]
mod tests {
    #[test]
    fn members_parse_and_bounds_are_checked() {
        let text = super::pins(2, 2).unwrap();
        crate::scenario::parse("f.pin", &text).expect("a family member parses");
        assert!(
            super::pins(0, 1).is_err() && super::pins(7, 1).is_err() && super::pins(1, 9).is_err()
        );
    }
}
