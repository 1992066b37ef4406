//! The report page: one self-contained HTML file (inline CSS, inline SVG, a few lines of inline
//! script; no network, no font or script from elsewhere). The matrix at the top, one colored
//! cell per (scenario, policy), each linking to its witnesses below; each scenario with its
//! source; each witness as an SVG sequence diagram whose steps show the machine after them
//! (hover: the step's tooltip; click: the side panel); the policies' knobs at the end.

use super::{escape, svg, ScenarioReport, Verdict};
use crate::policy::{Policy, KNOBS};
use std::fmt::Write as _;

const STYLE: &str = r#"
body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:0 0 0 0;color:#1a1a1a;background:#fafafa}
main{padding:16px 24px;margin-right:440px}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:28px 0 6px;border-top:1px solid #ccc;padding-top:12px}
h3{font-size:15px;margin:10px 0 4px}
code,pre{font-family:ui-monospace,Menlo,Consolas,'DejaVu Sans Mono',monospace;font-size:12px}
table.m{border-collapse:collapse;font-size:12px}
table.m th,table.m td{border:1px solid #bbb;padding:3px 6px;text-align:left;vertical-align:top}
table.m th{background:#eee}table.m thead th{position:sticky;top:0}table.m tbody th{white-space:nowrap}
td.cell a{display:block;color:#111;text-decoration:none;min-height:1.2em}
td.ok{background:#d8f0d8}td.errno{background:#fcefc7}td.bad{background:#f7c6c2}
td.incomplete{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(0,0,0,.08) 6px 12px)}
td.fail{outline:3px solid #7b2cbf;outline-offset:-3px}
td.cell:hover{filter:brightness(.93)}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border:1px solid #bbb;font-size:12px}
.legend .ok{background:#d8f0d8}.legend .errno{background:#fcefc7}.legend .bad{background:#f7c6c2}
.legend .incomplete{background-image:repeating-linear-gradient(45deg,transparent 0 6px,rgba(0,0,0,.12) 6px 12px)}
.legend .fail{outline:3px solid #7b2cbf;outline-offset:-3px}
details.cx{margin:6px 0;border:1px solid #ddd;background:#fff;padding:4px 8px}
details.cx>summary{cursor:pointer;font-weight:600}
details.cx.bad>summary{color:#a02218}details.cx.errno>summary{color:#7a5600}details.cx.ok>summary{color:#1d6b1d}
.svgbox{overflow-x:auto;border:1px solid #e4e4e4;background:#fff;margin:4px 0 10px}
.wit h4{margin:8px 0 2px;font-size:13px}
.cmd{background:#f2f2f2;padding:2px 6px;display:inline-block;white-space:pre-wrap;word-break:break-all}
pre.src{background:#f6f6f6;border:1px solid #e0e0e0;padding:8px;overflow-x:auto;max-height:420px}
aside#state{position:fixed;right:0;top:0;bottom:0;width:440px;background:#fff;border-left:1px solid #bbb;padding:10px;overflow:auto;box-sizing:border-box}
aside#state pre{white-space:pre-wrap;font-size:11px}
.st.sel rect{stroke:#7b2cbf!important;stroke-width:3!important}
.facts{color:#555;font-weight:normal}
table.k td,table.k th{font-size:11px}
"#;

const SCRIPT: &str = r#"
(function(){
  var panel=document.getElementById('statetext'),head=document.getElementById('statehead'),sel=null;
  function openTo(e){while(e){if(e.tagName==='DETAILS')e.open=true;e=e.parentElement;}}
  function select(g){
    var t=g.querySelector('title'),svg=g.ownerSVGElement,name=svg&&svg.querySelector(':scope>title');
    if(sel)sel.classList.remove('sel');sel=g;g.classList.add('sel');
    head.textContent=(name?name.textContent:'')+' \u2014 step '+g.getAttribute('data-step');
    panel.textContent=t?t.textContent:'';
  }
  function onHash(){
    var e=document.getElementById(decodeURIComponent(location.hash.slice(1)));
    if(!e)return;openTo(e);
    if(e.matches&&e.matches('g.st')){select(e);e=e.ownerSVGElement.closest('.wit')||e;}
    // After the browser's own scroll to the anchor.
    setTimeout(function(){e.scrollIntoView({block:'start'});},50);
  }
  window.addEventListener('hashchange',onHash);onHash();
  document.addEventListener('click',function(ev){
    var g=ev.target.closest?ev.target.closest('g.st'):null;
    if(g)select(g);
  });
  document.documentElement.setAttribute('data-ready','1');
})();
"#;

fn policy_spec(p: &Policy) -> String {
    match p.mutation {
        Some(m) => format!("{}~{}", p.name, m.name()),
        None => p.name.clone(),
    }
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The whole page.
pub fn page(reports: &[ScenarioReport], title: &str) -> String {
    // Columns: every policy of every scenario, in order of first appearance.
    let mut columns: Vec<Policy> = Vec::new();
    for r in reports {
        for c in &r.cells {
            if !columns.iter().any(|p| policy_spec(p) == policy_spec(&c.policy)) {
                columns.push(c.policy.clone());
            }
        }
    }
    let cells = reports.iter().map(|r| r.cells.len()).sum::<usize>();
    let failed =
        reports.iter().flat_map(|r| &r.cells).filter(|c| c.row.pass == Some(false)).count();
    let incomplete = reports.iter().flat_map(|r| &r.cells).filter(|c| !c.row.complete).count();
    let states: u64 = reports.iter().flat_map(|r| &r.cells).map(|c| c.row.states).sum();

    let mut s = String::new();
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{}</title><style>{STYLE}</style></head><body><main>",
        escape(title)
    );
    let _ = write!(
        s,
        "<h1>{}</h1><p>pincheck {} — {} scenarios, {} cells, {} expectations failed, {} incomplete explorations, {} states explored. Each cell links to its witnesses: sequence diagrams of one interleaving each, one lane per task; click a step to see the machine after it.</p>",
        escape(title),
        env!("CARGO_PKG_VERSION"),
        reports.len(),
        cells,
        failed,
        incomplete,
        states
    );
    s.push_str("<p class=\"legend\"><span class=\"ok\">ok</span><span class=\"errno\">errno only (the kernel refused)</span><span class=\"bad\">violation</span><span class=\"incomplete\">? incomplete exploration</span><span class=\"fail\">! differs from its expect line</span></p>");

    // The matrix.
    s.push_str("<table class=\"m\" id=\"matrix\"><thead><tr><th>scenario</th>");
    for (j, p) in columns.iter().enumerate() {
        let _ = write!(s, "<th><a href=\"#p-{j}\">{}</a></th>", escape(&policy_spec(p)));
    }
    s.push_str("</tr></thead><tbody>");
    for (i, r) in reports.iter().enumerate() {
        let _ = write!(s, "<tr><th><a href=\"#s-{i}\">{}</a></th>", escape(&r.name));
        for p in &columns {
            let Some(k) = r.cells.iter().position(|c| policy_spec(&c.policy) == policy_spec(p))
            else {
                s.push_str("<td class=\"none\">—</td>");
                continue;
            };
            let c = &r.cells[k];
            let mut class = format!("cell {}", Verdict::of(&c.row.labels).class());
            let mut mark = String::new();
            if !c.row.complete {
                class.push_str(" incomplete");
                mark.push('?');
            }
            if c.row.pass == Some(false) {
                class.push_str(" fail");
                mark.push('!');
            }
            let text =
                if c.row.labels.is_empty() { "ok".to_string() } else { c.row.labels.join(" ") };
            let tip = match &c.row.expected {
                Some(e) => format!(
                    "expected {}",
                    if e.is_empty() { "ok".to_string() } else { e.join(" ") }
                ),
                None => "no expectation".to_string(),
            };
            let _ = write!(
                s,
                "<td class=\"{class}\" title=\"{}\"><a href=\"#c-{i}-{k}\" data-witness=\"w-{i}-{k}-0\">{}{}</a></td>",
                escape(&tip),
                escape(&text),
                escape(&mark)
            );
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");

    // Scenarios.
    for (i, r) in reports.iter().enumerate() {
        let _ = write!(s, "<section id=\"s-{i}\"><h2>{}</h2>", escape(&r.name));
        if let Some(a) = &r.about {
            let _ = write!(s, "<p>{}</p>", escape(a));
        }
        let _ = write!(
            s,
            "<details><summary>source: <code>{}</code></summary><pre class=\"src\">{}</pre></details>",
            escape(&r.source.path),
            escape(&r.source.text)
        );
        for (k, c) in r.cells.iter().enumerate() {
            let verdict = Verdict::of(&c.row.labels);
            let labels =
                if c.row.labels.is_empty() { "ok".to_string() } else { c.row.labels.join(" ") };
            let expected = match &c.row.expected {
                Some(e) if c.row.pass == Some(false) => format!(
                    "; EXPECTED {}",
                    if e.is_empty() { "ok".to_string() } else { e.join(" ") }
                ),
                Some(_) => "; as expected".to_string(),
                None => "; no expectation".to_string(),
            };
            let _ = write!(
                s,
                "<details class=\"cx {}\" id=\"c-{i}-{k}\"><summary>{}: {}<span class=\"facts\">{} ({}, {}, {} states, {} schedules)</span></summary>",
                verdict.class(),
                escape(&policy_spec(&c.policy)),
                escape(&labels),
                escape(&expected),
                c.row.explorer,
                if c.row.complete { "complete" } else { "INCOMPLETE" },
                c.row.states,
                c.row.schedules
            );
            if let Some(l) = &c.row.limit {
                let _ = write!(s, "<p>limit: {}</p>", escape(l));
            }
            for (n, w) in c.witnesses.iter().enumerate() {
                let id = format!("w-{i}-{k}-{n}");
                let head = if w.representative {
                    "one interleaving (every interleaving explored ends with these labels)"
                        .to_string()
                } else {
                    format!("witness for {}", w.labels.join(" "))
                };
                let cmd = format!(
                    "pincheck replay {} --policy {} --schedule {} --state",
                    shell_quote(&c.row.file),
                    shell_quote(&c.row.policy),
                    shell_quote(&w.schedule)
                );
                let title = format!("{} under {}: {}", r.name, policy_spec(&c.policy), head);
                let _ = write!(
                    s,
                    "<div class=\"wit\"><h4>{}</h4><code class=\"cmd\">{}</code><div class=\"svgbox\">{}</div></div>",
                    escape(&head),
                    escape(&cmd),
                    svg::sequence(&w.replay, &title, Some(&id))
                );
            }
            s.push_str("</details>");
        }
        s.push_str("</section>");
    }

    // Policies and their knobs.
    s.push_str("<h2 id=\"policies\">Policies</h2><table class=\"m k\"><thead><tr><th>knob</th>");
    for (j, p) in columns.iter().enumerate() {
        let _ = write!(
            s,
            "<th id=\"p-{j}\" title=\"{}\">{}</th>",
            escape(p.summary),
            escape(&policy_spec(p))
        );
    }
    s.push_str("</tr></thead><tbody>");
    for k in KNOBS {
        let _ = write!(s, "<tr><th title=\"{}\">{}</th>", escape(k.about), escape(k.name));
        for p in &columns {
            let _ = write!(s, "<td>{}</td>", escape(&(k.get)(p)));
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table><ul>");
    for p in &columns {
        let _ = write!(s, "<li><b>{}</b>: {}</li>", escape(&policy_spec(p)), escape(p.summary));
    }
    s.push_str("</ul></main>");
    s.push_str("<aside id=\"state\"><h3 id=\"statehead\">The machine after a step</h3><pre id=\"statetext\">Click a step of a diagram (or hover it for a tooltip) to see the folios (D dirty, W writeback, P private; ref, pins, mapcount), the PTEs, the file pages, the disk blocks (volatile cache and durable), the handles and the queued work after it.</pre></aside>");
    let _ = writeln!(s, "<script>{SCRIPT}</script></body></html>");
    s
}
