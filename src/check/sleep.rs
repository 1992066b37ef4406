//! The `sleep` reduction: sleep sets (Godefroid), on top of the persistent sets of the other
//! reductions, with the sleep set of each visited state kept beside its fingerprint. It prunes
//! transitions, not only states: where two independent moves were both explored from a state,
//! the subtree of the second does not take the first again (that order was covered by the
//! subtree of the first). Depth-first search only (`dfs`), on one thread.
//!
//! Definitions. Moves are those of thread tasks only (a thread keeps its index; queued work is
//! renumbered as it comes and goes, so it never sleeps): bit `2 * task + skip` of a `u32`
//! (16 threads at most, `limits::THREADS_MAX`). Moves `u` and `t` of different tasks are
//! *independent at* `s` when the footprints of their next steps (`independence.rs`, what a step
//! may read and write; a footprint depends only on the task's own state) do not conflict, and
//! neither `s·u` nor `s·t` stopped the machine (a modeled `BUG()` or a power failure disables
//! every move). Independent moves commute: `s·u·t = s·t·u`, each stays enabled after the other
//! and does the same there (what `independence.rs` rests on too). `R(s)` is the move set the
//! other reductions choose (`Reducer::moves`); `s` is *full* when `R(s)` is every enabled move.
//!
//! The search. A state `s` is expanded with a sleep set `Z` (moves enabled at `s`):
//! - it explores `R(s) \ Z` if `s` is full, all of `R(s)` otherwise;
//! - the child by an explored move `t` gets `{u ∈ Z ∪ {moves explored before t in this
//!   expansion, whose child did not stop the machine} : u independent of t at s}`;
//! - the first time `s` is reached, with `Z`, `H(s) = Z` is stored beside its fingerprint.
//!   Reached again with `Z2`: if `H(s) ⊆ Z2` nothing is done; otherwise `H(s)` becomes
//!   `H(s) ∩ Z2` and `s` is expanded again with it as `Z`, exploring, if `s` is full, only the
//!   moves of the old `H(s) \ Z2` (the others were explored), otherwise all of `R(s)` again.
//!   (Godefroid's thesis, LNCS 1032, §6.3: without this, state caching and sleep sets together
//!   lose states.)
//!
//! Why every label is kept. Write `first(w)` for the moves of a path `w` that can be swapped,
//! one adjacent commuting pair at a time, to its front (independent moves commute; so do an
//! `invisible` or `signals` move and any other task's, by those reductions' arguments). A move
//! of a sleep set does at `s` what it did where it was explored: it reads nothing the moves
//! taken since (each independent of it) wrote; so it does not stop the machine at `s` either. Claim, by induction on the height of
//! `s` (the longest path from it; the state graph is finite and acyclic): for each sleep set
//! `Z` the search reached `s` with, every end state `z` reachable from `s` by a path `w` with
//! `first(w) ∩ Z = ∅` is covered: the search reaches an end state whose labels include `z`'s.
//! Let `H` be the final `H(s)` (within `Z`). Order the explorations of moves from `s` by
//! expansion, the last expansion first, then in order.
//! - If `first(w)` meets an explored move, let `t` be the least, `w = t·w'` after the swaps
//!   (same end state). The sleep set `Z'` of that child has no member `u` in `first(w')`: `u` is
//!   independent of `t` at `s`, so `u ∈ first(w)`. If `u` was an earlier sibling, it is less than
//!   `t`. Otherwise `u` was in the `Z` of that expansion: in `H` (so in `Z`, excluded), or
//!   explored from `s` in a later expansion, so less than `t`: at a full state later expansions
//!   explore exactly what leaves the sleep set; at any other state `t`, a move of `R(s)`, is
//!   explored again by every later expansion, and `t` was taken as the least. The induction
//!   hypothesis at `s·t` covers `z`.
//! - If `first(w)` meets no explored move: at a full state, `w`'s first move is in `first(w)`,
//!   enabled, so in `R(s)`, so explored or in `H ⊆ Z` — impossible. At any other state, the
//!   persistent-set argument of the reduction that chose `R(s)` (whose first move on a path
//!   commutes to its front, so is in `first(w)`) says `w` takes no move of `R(s)` and a move
//!   outside it stopped the machine; a move `t` of `R(s)` explored in the last
//!   expansion, then `w`, stops the machine the same way, with labels that include `z`'s (the
//!   crashing step touches nothing of `t`'s, and `t` does not stop the machine itself:
//!   `independence` puts no such move in a set, `independence::may_stop`, and the moves
//!   `invisible` and `signals` choose are waits and signals). That child's sleep set holds
//!   only members of `H` independent of `t`, and any of them in `first(w)` from `s·t` is in `first(w)` from `s`
//!   (`t` changes nothing `w`'s moves touch): in `Z`, excluded.
//!
//! At the initial world `Z = ∅`: every end state is covered, so the label set is that of the
//! search without sleep sets. More: the second case needs a move that stops the machine, so an
//! end state where none did is reached itself, with the same world; and every move explored is
//! one of `R(s)`, so no state the search without sleep sets does not reach is. End states
//! where a modeled `BUG()` stopped the machine may merge on top of `invisible` or `signals`, so
//! "how often" is not given then (`check::explore`). Sleep sets alone (every state full: the
//! second case never arises) reach every end state, and every state (Godefroid); the tests
//! check that their state and end-state counts are those of the search without them.
//!
//! Where it is off: where `independence.rs` has no footprints (mutations, DAX, btrfs, leases
//! and layout changes, ODP, `--crash`), under `symmetry` (which renumbers threads) and
//! `late-skips` (not a persistent set). Each visited slot then holds a 96-bit fingerprint and
//! the 32-bit sleep set (`FingerprintSet::insert_asleep`): still 16 bytes per state.
//!
//! What it costs: the witnesses and the state counts of a depth-first search with it depend on
//! the order of the search (as the labels do not); the breadth-first and the several-thread
//! depth-first searches do not apply it (`check::depth_first` runs one thread when it is on).

use super::independence::{Footprint, Footprints};
use crate::model::{Cx, Move, World};

/// What the sleep sets need that does not change from state to state.
pub struct Sleep {
    footprints: Footprints,
    threads: usize,
}

impl Sleep {
    /// The reduction for `cx`'s program, or `None` where it is off (see the module
    /// documentation; `renames`: the symmetry reduction found interchangeable threads or files).
    pub fn new(cx: &Cx, crash: bool, renames: bool, late_skips: bool) -> Option<Sleep> {
        if crash || renames || late_skips {
            return None;
        }
        let footprints = Footprints::new(cx)?;
        Some(Sleep { footprints, threads: cx.prog.threads.len() })
    }

    /// Move `m`'s bit in a sleep set, or 0 for queued work (which never sleeps).
    pub fn bit(&self, m: Move) -> u32 {
        if (m.task as usize) < self.threads {
            1 << (2 * m.task as u32 + m.skip as u32)
        } else {
            0
        }
    }

    /// The sleep sets of the children of `w` by `explored`, in order, into `out`, from the sleep
    /// set `base` of `w`, as if no child stopped the machine (`forget_stopped` then takes those
    /// out). `scratch` holds footprints, one per task.
    pub fn children(
        &self,
        w: &World,
        cx: &Cx,
        base: u32,
        explored: &[Move],
        out: &mut Vec<u32>,
        scratch: &mut Vec<Option<Footprint>>,
    ) {
        out.clear();
        if base == 0 && explored.len() <= 1 {
            out.extend(explored.iter().map(|_| 0));
            return;
        }
        scratch.clear();
        scratch.resize(w.tasks.len(), None);
        let mut footprint = |t: usize| -> Footprint {
            *scratch[t].get_or_insert_with(|| self.footprints.next_step(w, cx, t))
        };
        let mut asleep = base;
        for &t in explored {
            let ft = footprint(t.task as usize);
            let mut child = 0;
            let mut rest = asleep;
            while rest != 0 {
                let b = rest.trailing_zeros();
                rest &= rest - 1;
                let u = (b / 2) as usize;
                if u != t.task as usize && !footprint(u).conflicts(&ft) {
                    child |= 1 << b;
                }
            }
            out.push(child);
            asleep |= self.bit(t);
        }
    }

    /// Whether moves `u` and `t` of `w` are independent by their footprints alone (the
    /// machine-stopping condition is the caller's): what the tests check commutes, state by
    /// state (`tests/reductions.rs`).
    pub fn independent(&self, w: &World, cx: &Cx, u: Move, t: Move) -> bool {
        u.task != t.task
            && !self
                .footprints
                .next_step(w, cx, u.task as usize)
                .conflicts(&self.footprints.next_step(w, cx, t.task as usize))
    }

    /// Takes the moves whose child stopped the machine (`stopped[i]` for `explored[i]`) out of
    /// the sleep sets of the later children: such a move does not commute with anything.
    pub fn forget_stopped(&self, explored: &[Move], stopped: &[bool], sets: &mut [u32]) {
        let mut gone = 0;
        for (i, set) in sets.iter_mut().enumerate() {
            *set &= !gone;
            if stopped[i] {
                gone |= self.bit(explored[i]);
            }
        }
    }
}
