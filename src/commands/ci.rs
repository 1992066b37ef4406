//! `--format tap` and `--format junit`: results as CI systems read them. One test point (TAP)
//! or test case (JUnit) per (scenario, policy) cell; what did not establish a verdict (no
//! expectation, an incomplete exploration, a scenario the host cannot run) is skipped with
//! its reason, never passed.
//!
//! TAP: version 13 (testanything.org/tap-version-13-specification.html), a plan first, YAML
//! diagnostics under failures. JUnit: the de-facto schema of Jenkins and GitLab (`testsuites`,
//! one `testsuite` per scenario, `testcase` with `failure` or `skipped`).

use clap::ValueEnum;
use pincheck::run::{Row, Verdict};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Human-readable (the default).
    Text,
    /// TAP version 13.
    Tap,
    /// JUnit XML.
    Junit,
}

/// One test: its suite (the scenario), its name (the policy), and what happened.
pub struct Case {
    pub suite: String,
    pub name: String,
    pub outcome: Outcome,
    pub seconds: f64,
    /// Details: labels reached and expected, exploration facts, replay commands.
    pub details: Vec<(String, String)>,
}

pub enum Outcome {
    Pass,
    Fail(String),
    Skip(String),
}

/// A `check`/`matrix` row as a test case.
pub fn case_of_row(r: &Row) -> Case {
    let labels = super::labels_text(&r.labels);
    let expected = r.expected.as_ref().map_or("none".to_string(), |e| super::labels_text(e));
    let outcome = match r.verdict {
        Verdict::Pass => Outcome::Pass,
        Verdict::Fail => {
            let e = r.expected.clone().unwrap_or_default();
            let unexpected: Vec<&str> =
                r.labels.iter().filter(|l| !e.contains(l)).map(String::as_str).collect();
            let missing: Vec<&str> =
                e.iter().filter(|l| !r.labels.contains(l)).map(String::as_str).collect();
            let mut m = format!("reached {labels}, expected {expected}");
            if !unexpected.is_empty() {
                m.push_str(&format!("; unexpected: {}", unexpected.join(" ")));
            }
            if !missing.is_empty() && r.complete {
                m.push_str(&format!("; not reached: {}", missing.join(" ")));
            }
            Outcome::Fail(m)
        }
        Verdict::Incomplete => Outcome::Skip(format!(
            "incomplete exploration ({}), reached {labels} so far",
            r.limit.as_deref().unwrap_or("not every interleaving was explored")
        )),
        Verdict::None => Outcome::Skip(format!("no expectation for this policy; reached {labels}")),
    };
    let mut details = vec![
        ("labels".to_string(), labels),
        ("expected".to_string(), expected),
        (
            "exploration".to_string(),
            format!(
                "{}, {}, {} states, {} schedules",
                r.explorer,
                if r.complete { "complete" } else { "incomplete" },
                r.states,
                r.schedules
            ),
        ),
    ];
    for (label, schedule) in &r.witnesses {
        details
            .push((format!("witness {label}"), super::replay_hint(&r.file, &r.policy, schedule)));
    }
    Case { suite: r.scenario.clone(), name: r.policy.clone(), outcome, seconds: r.seconds, details }
}

/// A `conform` row (a catalogue scenario on the host beside the model) as a test case: it
/// passes when every label the host produced is one the model reaches.
pub fn case_of_conformance(c: &pincheck::host::conform::Conformance) -> Case {
    let model = super::labels_text(&c.model_labels);
    let host = c.host_labels.as_deref().map_or("-".to_string(), super::labels_text);
    let outcome = match c.agree {
        Some(true) => Outcome::Pass,
        Some(false) => {
            let extra: Vec<&str> = c
                .host_labels
                .iter()
                .flatten()
                .filter(|l| !c.model_labels.contains(l))
                .map(String::as_str)
                .collect();
            Outcome::Fail(format!(
                "the host reached {host}, the model [{}] {model}; never in the model: {}",
                c.row.policy,
                extra.join(" ")
            ))
        }
        None => Outcome::Skip(format!(
            "not run on the host: {}",
            c.skipped.as_deref().unwrap_or("no reason given")
        )),
    };
    let mut details = vec![("host".to_string(), host), ("model".to_string(), model)];
    if let Some(u) = c.unobserved.as_ref().filter(|u| !u.is_empty()) {
        details.push(("reached by the model, not observed".to_string(), u.join(" ")));
    }
    Case {
        suite: c.row.scenario.clone(),
        name: format!("host vs {}", c.row.policy),
        outcome,
        seconds: c.row.seconds,
        details,
    }
}

/// A row of the long-term pin table (`pincheck host-pins`) as a test case.
pub fn case_of_pin_row(r: &pincheck::host::PinRow, policy: &str) -> Case {
    let host = r.host.clone().unwrap_or_else(|| "-".to_string());
    let model = r.model.clone().unwrap_or_else(|| "-".to_string());
    let outcome = match (r.agree, &r.skipped) {
        (Some(true), _) => Outcome::Pass,
        (Some(false), _) => Outcome::Fail(format!("host {host}, model [{policy}] {model}")),
        (None, Some(why)) => Outcome::Skip(format!("not run on the host: {why}")),
        (None, None) => Outcome::Skip("no model verdict to compare with".to_string()),
    };
    Case {
        suite: "long-term pins".to_string(),
        name: format!("{} {}", r.fs, r.mapping),
        outcome,
        seconds: 0.0,
        details: vec![("host".to_string(), host), ("model".to_string(), model)],
    }
}

/// A TAP description: `#` starts a directive and `\` escapes, so both are escaped; a line break
/// would end the test line.
fn tap_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('#', "\\#").replace(['\n', '\r'], " ")
}

/// A YAML double-quoted scalar.
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub fn tap(cases: &[Case]) -> String {
    let mut s = format!("TAP version 13\n1..{}\n", cases.len());
    for (i, c) in cases.iter().enumerate() {
        let n = i + 1;
        let desc = tap_escape(&format!("{} [{}]", c.suite, c.name));
        match &c.outcome {
            Outcome::Pass => s.push_str(&format!("ok {n} - {desc}\n")),
            Outcome::Skip(why) => {
                s.push_str(&format!("ok {n} - {desc} # SKIP {}\n", tap_escape(why)))
            }
            Outcome::Fail(m) => {
                s.push_str(&format!("not ok {n} - {desc}\n  ---\n  message: {}\n", yaml_str(m)));
                s.push_str("  severity: fail\n  data:\n");
                for (k, v) in &c.details {
                    s.push_str(&format!("    {}: {}\n", yaml_str(k), yaml_str(v)));
                }
                s.push_str("  ...\n");
            }
        }
    }
    s
}

pub fn junit(cases: &[Case]) -> String {
    let count = |cs: &[&Case], f: fn(&Outcome) -> bool| cs.iter().filter(|c| f(&c.outcome)).count();
    let is_fail = |o: &Outcome| matches!(o, Outcome::Fail(_));
    let is_skip = |o: &Outcome| matches!(o, Outcome::Skip(_));
    let all: Vec<&Case> = cases.iter().collect();
    let time = |cs: &[&Case]| cs.iter().map(|c| c.seconds).sum::<f64>();
    let mut s = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    s.push_str(&format!(
        "<testsuites name=\"pincheck\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">\n",
        all.len(),
        count(&all, is_fail),
        count(&all, is_skip),
        time(&all)
    ));
    let mut suites: Vec<&str> = Vec::new();
    for c in cases {
        if !suites.contains(&c.suite.as_str()) {
            suites.push(&c.suite);
        }
    }
    for (id, suite) in suites.iter().enumerate() {
        let cs: Vec<&Case> = cases.iter().filter(|c| c.suite == *suite).collect();
        s.push_str(&format!(
            "  <testsuite name=\"{}\" id=\"{id}\" tests=\"{}\" failures=\"{}\" errors=\"0\" skipped=\"{}\" time=\"{:.3}\">\n",
            pincheck::report::escape(suite),
            cs.len(),
            count(&cs, is_fail),
            count(&cs, is_skip),
            time(&cs)
        ));
        for c in cs {
            s.push_str(&format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\">\n",
                pincheck::report::escape(&c.name),
                pincheck::report::escape(&c.suite),
                c.seconds
            ));
            let details: String = c.details.iter().map(|(k, v)| format!("{k}: {v}\n")).collect();
            match &c.outcome {
                Outcome::Pass => {}
                Outcome::Fail(m) => s.push_str(&format!(
                    "      <failure message=\"{}\" type=\"expectation\">{}</failure>\n",
                    pincheck::report::escape(m),
                    pincheck::report::escape(&details)
                )),
                Outcome::Skip(why) => s.push_str(&format!(
                    "      <skipped message=\"{}\"/>\n",
                    pincheck::report::escape(why)
                )),
            }
            s.push_str(&format!(
                "      <system-out>{}</system-out>\n",
                pincheck::report::escape(&details)
            ));
            s.push_str("    </testcase>\n");
        }
        s.push_str("  </testsuite>\n");
    }
    s.push_str("</testsuites>\n");
    s
}
