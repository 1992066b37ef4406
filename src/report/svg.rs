//! A replayed interleaving as an SVG message-sequence chart (after Spin's MSCs): one lane per
//! task (the scenario's threads, then the kernel's queued work: bios, O_DIRECT device sides,
//! `bio_dirty_work`, the btrfs fix-up worker, in order of appearance, then the disk), one row
//! per step, top to bottom. A step is a box on its task's lane holding the statement and the
//! kernel functions it ran; arrows show work queued (`submit_bio`), writes reaching the disk,
//! and `signal` → `wait`; the steps that add a label are red and name it. The full text of each
//! step is in a column on the right, and the machine after the step
//! ([`crate::model::snapshot::Snapshot::table`]) is the step's `<title>`: a tooltip on hover,
//! and what the HTML report shows on click.
//!
//! The SVG is self-contained: inline style, system monospace font, no script, no link.

use super::escape;
use crate::check::replay::Replay;
use crate::model::snapshot::Snapshot;
use std::fmt::Write as _;

const LANE_W: usize = 150;
const LEFT: usize = 44;
const TOP: usize = 46;
const LINE_H: usize = 15;
const PAD: usize = 6;
const CHAR_W: f64 = 6.7;
const BOX_CHARS: usize = 20;

/// The lane a step's task runs on: its schedule name without `(skip)`.
fn lane_of(task: &str) -> &str {
    task.strip_suffix("(skip)").unwrap_or(task)
}

/// The kernel function a trace line is about: its first identifier that looks like one
/// (`shrink_folio_list`, `->page_mkwrite`), else its first words.
pub fn function_of(line: &str) -> String {
    if let Some(word) = line.split_whitespace().next() {
        let w = word.trim_matches(|c: char| matches!(c, ':' | ',' | '(' | ')' | '`' | ';'));
        let ident = w.contains('_') && w.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
        if w.starts_with("->") || ident {
            return w.trim_end_matches("()").to_string();
        }
    }
    let words: Vec<&str> = line.split_whitespace().take(3).collect();
    let head = words.join(" ");
    head.split(':').next().unwrap_or_default().to_string()
}

/// The statement of a trace's first line: "`store m[0] A` (line 28)" gives "store m[0] A".
fn statement_of(line: &str) -> Option<&str> {
    let rest = line.strip_prefix('`')?;
    Some(&rest[..rest.find('`')?])
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// What queueing a task of this name is called in the kernel.
fn spawn_verb(task: &str) -> &'static str {
    if task.starts_with("bio:") {
        "submit_bio"
    } else if task.starts_with("dio-") {
        "submit_bio (O_DIRECT)"
    } else if task.starts_with("bio_dirty_work") {
        "schedule_work"
    } else if task.starts_with("btrfs_fixup") {
        "btrfs_queue_work"
    } else {
        "wakes"
    }
}

/// The writes that reached the disk between two snapshots: (block, text).
fn disk_writes(before: &Snapshot, after: &Snapshot) -> Vec<String> {
    let mut out = Vec::new();
    for b in &after.blocks {
        let old = before.blocks.iter().find(|o| o.block == b.block);
        let cached_changed = old.map_or(b.cached.is_some(), |o| o.cached != b.cached);
        let durable_changed = old.is_some_and(|o| o.durable != b.durable);
        if let (true, Some(c)) = (cached_changed, &b.cached) {
            out.push(format!("blk {} ← {c} cached", b.block));
        }
        if durable_changed {
            out.push(format!("blk {} ← {} durable", b.block, b.durable));
        }
    }
    out
}

struct Row {
    y: usize,
    h: usize,
}

/// The diagram of `r`. `id`, when given, prefixes element ids (for several diagrams in one
/// page) and marks the SVG as part of the report (`class="witness"`).
pub fn sequence(r: &Replay, title: &str, id: Option<&str>) -> String {
    // Lanes: the scenario's threads as the initial state lists them, then every other task
    // in order of appearance, then the disk.
    let mut lanes: Vec<String> = Vec::new();
    let add = |n: &str, lanes: &mut Vec<String>| {
        if !lanes.iter().any(|l| l == n) {
            lanes.push(n.to_string());
        }
    };
    for t in &r.initial.tasks {
        add(&t.name, &mut lanes);
    }
    for s in &r.steps {
        add(lane_of(&s.task), &mut lanes);
        for t in &s.state.tasks {
            add(&t.name, &mut lanes);
        }
    }
    lanes.push("disk".to_string());
    let lane_x = |name: &str| -> usize {
        let i = lanes.iter().position(|l| l == name).unwrap_or(lanes.len() - 1);
        LEFT + i * LANE_W + LANE_W / 2
    };
    let text_x = LEFT + lanes.len() * LANE_W + 12;

    // Rows: one per step, as tall as its trace; then the end.
    let mut rows = Vec::new();
    let mut y = TOP + 8;
    for s in &r.steps {
        let h = s.lines.len().max(1) * LINE_H + PAD;
        rows.push(Row { y, h });
        y += h + 4;
    }
    let end_lines: Vec<String> = {
        let mut v = Vec::new();
        if let Some(pf) = &r.power_fail {
            for (b, c) in &pf.unflushed {
                let fate = if pf.survivors.contains(b) { "survives" } else { "lost" };
                v.push(format!("unflushed write of {c} to block {b}: {fate}"));
            }
        }
        match &r.end {
            Some(l) => v.extend(l.iter().cloned()),
            None => v.push(format!("schedule ends early; runnable: {}", r.runnable.join(", "))),
        }
        v
    };
    let end_y = y + 6;
    let end_h = end_lines.len().max(1) * LINE_H + PAD;
    let height = end_y + end_h + 30;
    let longest = r
        .steps
        .iter()
        .flat_map(|s| s.lines.iter())
        .chain(end_lines.iter())
        .map(|l| l.chars().count() + 8)
        .max()
        .unwrap_or(20)
        .max(title.chars().count());
    let width = text_x + (longest as f64 * CHAR_W) as usize + 20;

    let mut s = String::new();
    let pre = id.unwrap_or("w");
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" {}width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="ui-monospace,Menlo,Consolas,'DejaVu Sans Mono',monospace" font-size="11">"#,
        match id {
            Some(i) => format!(r#"id="{}" class="witness" "#, escape(i)),
            None => String::new(),
        }
    );
    let _ = write!(s, "<title>{}</title>", escape(title));
    let _ = write!(
        s,
        r##"<defs><marker id="{pre}-a" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L8,4 L0,8 z" fill="#444"/></marker></defs>"##
    );
    let _ = write!(
        s,
        "<style>.ln{{stroke:#bbb;stroke-dasharray:3 3}}.bx{{fill:#eef3fb;stroke:#5577aa}}.bx.bad{{fill:#fde8e8;stroke:#c0392b;stroke-width:2}}.bx.th{{fill:#f4f8ee;stroke:#6d8f3a}}.st:hover .bx{{stroke-width:2.5}}.st{{cursor:pointer}}.fn{{fill:#223}}.tx{{fill:#333}}.lbl{{fill:#c0392b;font-weight:bold}}.hd{{font-weight:bold;fill:#123}}.ar{{stroke:#444;fill:none}}.sig{{stroke:#8a5a00;stroke-dasharray:4 3;fill:none}}.dk{{stroke:#555;fill:none}}.at{{fill:#555;font-size:10px}}</style>"
    );
    let _ = write!(s, r#"<text x="{LEFT}" y="16" class="hd">{}</text>"#, escape(title));
    // Lane heads and lines.
    for (i, l) in lanes.iter().enumerate() {
        let x = LEFT + i * LANE_W + LANE_W / 2;
        let _ = write!(
            s,
            r#"<text x="{x}" y="{}" text-anchor="middle" class="hd">{}</text><line class="ln" x1="{x}" y1="{}" x2="{x}" y2="{}"/>"#,
            TOP - 8,
            escape(&clip(l, BOX_CHARS)),
            TOP - 2,
            end_y - 2
        );
    }
    let _ =
        write!(s, r#"<text x="{text_x}" y="{}" class="hd">what the kernel did</text>"#, TOP - 8);

    // Steps.
    let mut prev = &r.initial;
    let mut last_signal: Vec<(String, usize, usize)> = Vec::new(); // (event, x, y)
    for (i, (st, row)) in r.steps.iter().zip(&rows).enumerate() {
        let lane = lane_of(&st.task);
        let x = lane_x(lane);
        let added: Vec<&String> =
            st.state.labels.iter().filter(|l| !prev.labels.contains(l)).collect();
        let bad = !added.is_empty();
        let is_thread = r.initial.tasks.iter().any(|t| t.name == lane);
        let _ = write!(
            s,
            r#"<g class="st" id="{pre}-s{}" data-step="{}"><title>{}</title>"#,
            i + 1,
            i + 1,
            escape(&format!(
                "step {} ({}): the machine after it\n{}",
                i + 1,
                st.task,
                st.state.table("")
            ))
        );
        let class = if bad {
            "bx bad"
        } else if is_thread {
            "bx th"
        } else {
            "bx"
        };
        let _ = write!(
            s,
            r#"<rect class="{class}" x="{}" y="{}" width="{}" height="{}" rx="3"/>"#,
            x - LANE_W / 2 + 6,
            row.y,
            LANE_W - 12,
            row.h
        );
        let _ = write!(s, r#"<text x="6" y="{}" class="at">{}</text>"#, row.y + 12, i + 1);
        for (k, line) in st.lines.iter().enumerate() {
            let label = match (k, statement_of(line)) {
                (0, Some(stmt)) => stmt.to_string(),
                _ => function_of(line),
            };
            let ty = row.y + 12 + k * LINE_H;
            let _ = write!(
                s,
                r#"<text x="{}" y="{ty}" class="fn">{}</text>"#,
                x - LANE_W / 2 + 10,
                escape(&clip(&label, BOX_CHARS))
            );
            let _ = write!(s, r#"<text x="{text_x}" y="{ty}" class="tx">{}</text>"#, escape(line));
        }
        if st.lines.is_empty() {
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" class="fn">(nothing visible)</text>"#,
                x - LANE_W / 2 + 10,
                row.y + 12
            );
        }
        if bad {
            let names: Vec<&str> = added.iter().map(|l| l.as_str()).collect();
            let tx = text_x as f64
                + (st.lines.first().map_or(18, |l| l.chars().count()) + 2) as f64 * CHAR_W;
            let _ = write!(
                s,
                r#"<text x="{}" y="{}" class="lbl">⚠ {}</text>"#,
                tx as usize,
                row.y + 12,
                escape(&names.join(" "))
            );
        }
        s.push_str("</g>");

        let mid = row.y + row.h / 2;
        // Work this step queued.
        for t in st.state.tasks.iter().filter(|t| !t.done) {
            let was = prev.tasks.iter().any(|p| p.name == t.name && !p.done);
            if was || t.name == lane {
                continue;
            }
            let tx = lane_x(&t.name);
            arrow(&mut s, pre, "ar", x, tx, mid, spawn_verb(&t.name));
        }
        // Writes reaching the disk.
        let dx = lane_x("disk");
        for (k, w) in disk_writes(prev, &st.state).iter().enumerate() {
            arrow(&mut s, pre, "dk", x, dx, mid + k * 12, w);
        }
        // signal → wait.
        if let Some(stmt) = st.lines.first().and_then(|l| statement_of(l)) {
            if let Some(ev) = stmt.strip_prefix("signal ") {
                last_signal.push((ev.to_string(), x, mid));
            } else if let Some(ev) = stmt.strip_prefix("wait ") {
                if let Some((_, sx, sy)) = last_signal.iter().rev().find(|(e, _, _)| e == ev) {
                    if *sx != x {
                        let (x1, x2) = if *sx < x {
                            (*sx + LANE_W / 2 - 6, x - LANE_W / 2 + 6)
                        } else {
                            (*sx - LANE_W / 2 + 6, x + LANE_W / 2 - 6)
                        };
                        let _ = write!(
                            s,
                            r#"<path class="sig" d="M{x1},{sy} L{x2},{}" marker-end="url(#{pre}-a)"/>"#,
                            row.y + 4
                        );
                    }
                }
            }
        }
        prev = &st.state;
    }

    // The end: final sync and checks, or the power failure.
    let added: Vec<&String> = r.labels.iter().filter(|l| !prev.labels.contains(l)).collect();
    let bad = !added.is_empty();
    let end_title = match &r.end_state {
        Some(e) => format!("after the end: the machine\n{}", e.table("")),
        None => "the schedule ends before the interleaving does".to_string(),
    };
    let _ = write!(
        s,
        r#"<g class="st" id="{pre}-end" data-step="end"><title>{}</title>"#,
        escape(&end_title)
    );
    let x0 = LEFT + 4;
    let x1 = LEFT + lanes.len() * LANE_W - 4;
    let _ = write!(
        s,
        r#"<rect class="{}" x="{x0}" y="{end_y}" width="{}" height="{end_h}" rx="3"/>"#,
        if bad { "bx bad" } else { "bx" },
        x1 - x0
    );
    let head = if r.power_fail.is_some() {
        format!("power failure after step {}", r.steps.len())
    } else if r.end.is_some() {
        "end of interleaving".to_string()
    } else {
        "schedule ends".to_string()
    };
    let _ =
        write!(s, r#"<text x="{}" y="{}" class="fn">{}</text>"#, x0 + 6, end_y + 12, escape(&head));
    for (k, line) in end_lines.iter().enumerate() {
        let _ = write!(
            s,
            r#"<text x="{text_x}" y="{}" class="tx">{}</text>"#,
            end_y + 12 + k * LINE_H,
            escape(line)
        );
    }
    if let Some(pf) = &r.power_fail {
        let dx = lane_x("disk");
        let _ = write!(
            s,
            r#"<text x="{dx}" y="{}" text-anchor="middle" class="lbl">⚡ survive: {:?}</text>"#,
            end_y + 12 + LINE_H,
            pf.survivors
        );
    }
    let mut labels = if r.labels.is_empty() {
        "labels: ok".to_string()
    } else {
        format!("labels: {}", r.labels.join(" "))
    };
    if bad {
        let names: Vec<&str> = added.iter().map(|l| l.as_str()).collect();
        let _ = write!(labels, "   (⚠ {} at the end)", names.join(" "));
    }
    let _ = write!(
        s,
        r#"</g><text x="{LEFT}" y="{}" class="{}">{}</text></svg>"#,
        end_y + end_h + 18,
        if r.labels.is_empty() { "hd" } else { "lbl" },
        escape(&labels)
    );
    s
}

/// A horizontal arrow at height `y` from lane center `from` to lane center `to`, labelled.
fn arrow(s: &mut String, pre: &str, class: &str, from: usize, to: usize, y: usize, label: &str) {
    if from == to {
        return;
    }
    let (x1, x2) =
        if from < to { (from + LANE_W / 2 - 6, to - 4) } else { (from - LANE_W / 2 + 6, to + 4) };
    let _ = write!(
        s,
        r#"<line class="{class}" x1="{x1}" y1="{y}" x2="{x2}" y2="{y}" marker-end="url(#{pre}-a)"/><text x="{}" y="{}" class="at">{}</text>"#,
        x1.min(x2) + 4,
        y - 5,
        // Nothing else is drawn in this row between the lanes: the label may run past the
        // arrow's head by half a lane.
        escape(&clip(label, ((x1.abs_diff(x2) + LANE_W / 2) as f64 / 6.0) as usize))
    );
}

#[cfg(test)]
mod tests {
    use super::function_of;

    #[test]
    fn function_names_are_found() {
        assert_eq!(
            function_of("filemap_get_folio: page 0 of f read into frame 0"),
            "filemap_get_folio"
        );
        assert_eq!(function_of("->page_mkwrite: page 0 of f ready"), "->page_mkwrite");
        assert_eq!(
            function_of("shrink_folio_list (shrink_page_list before 5.19): frame 0 unmapped"),
            "shrink_folio_list"
        );
        assert_eq!(function_of("store A into frame 0"), "store A into");
        assert_eq!(function_of("bio completes: the device read B"), "bio completes");
        assert_eq!(
            function_of(
                "device DMA-writes B into frame 0 (through a pin: no fault, no ->page_mkwrite)"
            ),
            "device DMA-writes B"
        );
    }
}
