//! Power failures (`--crash`): after every step, what the disk would hold if the power failed
//! now. Writes made durable by a flush survive; each completed but unflushed write (in the
//! device's volatile cache, or in the CPU cache over a DAX page) may or may not survive, as
//! dm-log-writes replays them; every combination is checked against what successful syncs
//! promised (`oracle::check_after_crash`). Only the first [`CRASH_BLOCKS_MAX`] such blocks are
//! combined; later ones are taken as lost.
//!
//! A power failure ends its interleaving; in a schedule it is the last element,
//! `power-fail{B+B...}`, naming the blocks whose unflushed write survived.

use crate::limits::CRASH_BLOCKS_MAX;
use crate::model::world::{BlockContent, BlockId};
use crate::model::{oracle, Cx, LabelSet, World};

/// The blocks whose last write is not durable yet, with that write (of those `keep` accepts).
pub fn unflushed(w: &World, keep: impl Fn(u16) -> bool) -> Vec<(BlockId, BlockContent)> {
    let mut out = Vec::new();
    for (i, block) in w.blocks.iter().enumerate() {
        let b = BlockId(i as u16);
        if block.owner.is_none() || !keep(b.0) {
            continue;
        }
        if let Some(c) = block.cached {
            out.push((b, c));
        } else if let Some(f) = w.dax_frame(b) {
            let data = w.folio(f).data;
            if data != block.durable.data {
                out.push((b, BlockContent { data, csum_ok: true }));
            }
        }
    }
    out.truncate(CRASH_BLOCKS_MAX);
    out
}

/// The world after a power failure in which exactly `survivors` of the unflushed writes made
/// it to the medium, checked.
pub fn power_fail(w: &World, cx: &mut Cx, survivors: &[u16]) -> World {
    let mut after = w.clone();
    for (b, content) in unflushed(w, |b| survivors.contains(&b)) {
        after.blocks[b.0 as usize].durable = content;
    }
    for block in &mut after.blocks {
        block.cached = None;
    }
    cx.note(|_| format!("power failure; unflushed writes that survive: blocks {survivors:?}"));
    oracle::check_after_crash(&mut after, cx);
    after.powered_off = true;
    after
}

/// The schedule element of a power failure with these survivors.
pub fn element(survivors: &[u16]) -> String {
    let list: Vec<String> = survivors.iter().map(|b| b.to_string()).collect();
    format!("power-fail{{{}}}", list.join("+"))
}

/// Parses a `power-fail{...}` schedule element.
pub fn parse_element(s: &str) -> Option<Vec<u16>> {
    let inner = s.strip_prefix("power-fail{")?.strip_suffix('}')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner.split('+').map(|b| b.parse().ok()).collect()
}

/// Every power failure after `w` that adds labels: (schedule element, labels it adds).
pub fn outcomes(w: &World, cx: &mut Cx) -> Vec<(String, LabelSet)> {
    if w.crashed || w.powered_off {
        return Vec::new();
    }
    // Only the blocks that hold what a sync promised can change the verdict.
    let promised: Vec<u16> = w
        .inodes
        .iter()
        .flat_map(|i| i.pages.iter())
        .filter(|p| p.synced != Default::default())
        .filter_map(|p| p.durable_block.map(|b| b.0))
        .collect();
    if promised.is_empty() {
        return Vec::new();
    }
    let candidates: Vec<u16> =
        unflushed(w, |b| promised.contains(&b)).iter().map(|(b, _)| b.0).collect();
    let mut out = Vec::new();
    for mask in 0u32..(1 << candidates.len()) {
        let survivors: Vec<u16> = candidates
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, b)| *b)
            .collect();
        let after = power_fail(w, cx, &survivors);
        let added = after.labels.minus(&w.labels);
        if !added.is_empty() {
            out.push((element(&survivors), added));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn elements_round_trip() {
        for s in [vec![], vec![3], vec![0, 2, 7]] {
            assert_eq!(super::parse_element(&super::element(&s)), Some(s));
        }
        assert_eq!(super::parse_element("power-fail{x}"), None);
    }
}
