//! The reductions of the exhaustive search, each switchable (`--reduce LIST`, `--no-reduction`),
//! each in its own file with its soundness argument (docs/design.md §9 states them together):
//!
//! - `invisible` (`invisible.rs`): an invisible thread step alone is a persistent set.
//! - `generations` (`generations.rs`): frame generations are renumbered canonically (only
//!   whether a reference's generation is the frame's current one is ever observed).
//! - `signals` (`signals.rs`): a thread's `signal` step alone is a persistent set (it sets an
//!   event bit only `wait`s read, and no step clears).
//! - `late-skips` (`late_skips.rs`): a thread that can only repeat one `maybe` statement skips
//!   it only when nothing else can move.
//! - `independence` (`independence.rs`): persistent sets from the footprints of steps: moves
//!   of tasks whose every future step touches nothing the chosen moves touch are postponed;
//!   this is what lets independent bio completions (a `sync` over many pages) run in one order.
//! - `sleep` (`sleep.rs`): sleep sets over the same footprints, on top of the others: a move
//!   explored from a state is not taken again below a later sibling independent of it. The
//!   depth-first search only (on one thread); named on its own, `all` leaves it out (it would
//!   make every depth-first search run on one thread).
//!
//! The default is `invisible` alone (`--reduce all` for the six every explorer applies). Every reduction preserves
//! the set of labels and, for each label, a witness that replays
//! from the real initial world; `invisible` and `generations` also keep witnesses shortest.

use crate::model::{self, Cx, Move, World};

/// Which reductions the exhaustive search applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reductions {
    pub invisible: bool,
    pub generations: bool,
    pub independence: bool,
    pub symmetry: bool,
    pub signals: bool,
    pub late_skips: bool,
    /// Sleep sets, depth-first only (`sleep.rs`).
    pub sleep: bool,
}

impl Reductions {
    pub const ALL: Reductions = Reductions {
        invisible: true,
        generations: true,
        independence: true,
        symmetry: true,
        signals: true,
        late_skips: true,
        sleep: false,
    };
    pub const NONE: Reductions = Reductions {
        invisible: false,
        generations: false,
        independence: false,
        symmetry: false,
        signals: false,
        late_skips: false,
        sleep: false,
    };
    /// The names `--reduce` takes, in order.
    pub const NAMES: [&'static str; 7] =
        ["invisible", "generations", "independence", "symmetry", "signals", "late-skips", "sleep"];

    /// Parses `--reduce LIST`: comma-separated names, `all` or `none`.
    pub fn parse(list: &str) -> Result<Reductions, String> {
        let mut r = Reductions::NONE;
        for name in list.split(',').map(str::trim) {
            match name {
                "all" => r = Reductions { sleep: r.sleep, ..Reductions::ALL },
                "none" => {}
                "invisible" => r.invisible = true,
                "generations" => r.generations = true,
                "independence" => r.independence = true,
                "symmetry" => r.symmetry = true,
                "signals" => r.signals = true,
                "late-skips" => r.late_skips = true,
                "sleep" => r.sleep = true,
                _ => {
                    return Err(format!(
                        "unknown reduction `{name}`: expected a comma-separated list of {}, \
                         or `all` (all but sleep) or `none`",
                        Reductions::NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(r)
    }

    /// The names of the reductions switched on, comma-separated (`none` for none).
    pub fn names(&self) -> String {
        let on = [
            self.invisible,
            self.generations,
            self.independence,
            self.symmetry,
            self.signals,
            self.late_skips,
            self.sleep,
        ];
        let names: Vec<&str> =
            Reductions::NAMES.iter().zip(on).filter(|(_, on)| *on).map(|(n, _)| *n).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(",")
        }
    }
}

impl Default for Reductions {
    /// `invisible` only: the opt-in reductions change the end-state counts of "how often"
    /// (docs/design.md §4), and `independence` the shortest witnesses.
    fn default() -> Self {
        Reductions { invisible: true, ..Reductions::NONE }
    }
}

/// What the reductions need that does not change from state to state.
pub struct Reducer {
    on: Reductions,
    /// The `signals` reduction applies to this program.
    signals: bool,
    late_skips: Option<super::late_skips::LateSkips>,
    independence: Option<super::independence::Footprints>,
    symmetry: Option<super::symmetry::Symmetry>,
    sleep: Option<super::sleep::Sleep>,
}

impl Reducer {
    /// `crash`: power failures are explored after every state (`--crash`), which the
    /// independence reduction does not preserve (it skips intermediate states): it is off then.
    pub fn new(cx: &Cx, on: Reductions, crash: bool) -> Reducer {
        let independence =
            (on.independence && !crash).then(|| super::independence::Footprints::new(cx)).flatten();
        let symmetry = on.symmetry.then(|| super::symmetry::Symmetry::new(cx, crash)).flatten();
        let signals = on.signals && super::signals::applies(cx);
        let late_skips = on.late_skips.then(|| super::late_skips::LateSkips::new(cx)).flatten();
        let sleep = on
            .sleep
            .then(|| super::sleep::Sleep::new(cx, crash, symmetry.is_some(), late_skips.is_some()))
            .flatten();
        Reducer { on, signals, late_skips, independence, symmetry, sleep }
    }

    /// The moves to explore from `w`: a persistent subset of `model::moves`, or all of them.
    pub fn moves(&self, w: &World, cx: &Cx) -> Vec<Move> {
        let mut out = Vec::new();
        self.moves_into(w, cx, &mut out);
        out
    }

    /// `moves`, into `out` (emptied first; the depth-first search reuses one vector); true
    /// when they are every move of `w` (`sleep.rs` calls such a state full).
    pub fn moves_into(&self, w: &World, cx: &Cx, out: &mut Vec<Move>) -> bool {
        model::moves_into(w, cx, out);
        if out.len() <= 1 {
            return true;
        }
        // A move that is a persistent set alone: an invisible step, else a `signal`.
        let mut alone = None;
        if self.on.invisible {
            alone = super::invisible::persistent(w, cx, out);
        }
        if alone.is_none() && self.signals {
            alone = super::signals::persistent(w, cx, out);
        }
        if let Some(m) = alone {
            out.clear();
            out.push(m);
            return false;
        }
        if let Some(fp) = &self.independence {
            if let Some(some) = fp.persistent(w, cx, out) {
                *out = some;
                return false;
            }
        }
        // Only where no persistent set was taken (late_skips.rs, "With the persistent-set
        // reductions").
        let all = out.len();
        if let Some(l) = &self.late_skips {
            l.filter(w, out);
        }
        out.len() == all
    }

    /// The sleep-set reduction, where it applies (`sleep.rs`).
    pub fn sleep(&self) -> Option<&super::sleep::Sleep> {
        self.sleep.as_ref()
    }

    /// Puts a world reached by a step into the canonical form the reductions ask for.
    pub fn canonicalize(&self, w: &mut World) {
        if self.on.generations {
            super::generations::canonicalize(w);
        }
        if let Some(s) = &self.symmetry {
            s.canonicalize_world(w);
        }
    }

    /// `canonicalize`, returning for each task of the canonical world the index of the task of
    /// `w` it is, when the symmetry reduction renamed anything (`None`: the same tasks).
    pub fn canonical_tasks(&self, w: &mut World) -> Option<Vec<u8>> {
        if self.on.generations {
            super::generations::canonicalize(w);
        }
        self.symmetry.as_ref().and_then(|s| s.canonicalize(w))
    }

    /// Whether the symmetry reduction found interchangeable components (paths between
    /// canonical worlds then need `symmetry::concrete_path` to become schedules).
    pub fn renames(&self) -> bool {
        self.symmetry.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::Reductions;

    #[test]
    fn lists_parse_and_print() {
        assert_eq!(Reductions::parse("all").unwrap(), Reductions::ALL);
        assert_eq!(Reductions::parse("none").unwrap(), Reductions::NONE);
        let r = Reductions::parse("invisible, independence").unwrap();
        assert_eq!(r.names(), "invisible,independence");
        assert_eq!(
            Reductions::ALL.names(),
            "invisible,generations,independence,symmetry,signals,late-skips"
        );
        assert_eq!(Reductions::parse("late-skips").unwrap().names(), "late-skips");
        assert_eq!(Reductions::parse("signals").unwrap().names(), "signals");
        // `all` leaves sleep sets out, in either order with `sleep`.
        let all_sleep = "invisible,generations,independence,symmetry,signals,late-skips,sleep";
        assert_eq!(Reductions::parse("all,sleep").unwrap().names(), all_sleep);
        assert_eq!(Reductions::parse("sleep,all").unwrap().names(), all_sleep);
        assert!(Reductions::parse("symmetric").unwrap_err().contains("unknown reduction"));
    }
}
