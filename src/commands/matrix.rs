//! `pincheck matrix [FILE...]`: scenarios as rows, policies as columns (the built-in catalogue
//! under every preset when no file is given).

use super::{labels_text, ExploreArgs};
use pincheck::run::{InputError, Row, Verdict};

#[derive(clap::Args)]
pub struct Args {
    pub paths: Vec<String>,
    #[command(flatten)]
    pub args: ExploreArgs,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let rows = super::check::explore_rows(&a.paths, &a.args, true, false, false, None)?;
    let table = matrix_table(&rows, a.args.costs);
    Ok(super::check::finish(&rows, &a.args, Some(table)))
}

/// The matrix: scenarios as rows, policies as columns. A cell whose labels differ from the
/// scenario's expectation is marked `!`, an incomplete exploration `?`.
pub fn matrix_table(rows: &[Vec<Row>], costs: bool) -> String {
    let mut policies: Vec<String> = Vec::new();
    for r in rows.iter().flatten() {
        if !policies.contains(&r.policy) {
            policies.push(r.policy.clone());
        }
    }
    let cell = |r: Option<&Row>| -> String {
        let Some(r) = r else { return "-".to_string() };
        let mark = match r.verdict {
            Verdict::Fail => "! ",
            Verdict::Incomplete => "? ",
            Verdict::Pass | Verdict::None => "",
        };
        if costs {
            format!("{mark}{} [{}]", labels_text(&r.labels), r.costs.text())
        } else {
            format!("{mark}{}", labels_text(&r.labels))
        }
    };
    let mut table: Vec<Vec<String>> =
        vec![std::iter::once("scenario".to_string()).chain(policies.iter().cloned()).collect()];
    for rs in rows {
        let Some(first) = rs.first() else { continue };
        let mut line = vec![first.scenario.clone()];
        for p in &policies {
            line.push(cell(rs.iter().find(|r| &r.policy == p)));
        }
        table.push(line);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| table.iter().map(|l| l[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut s = String::new();
    for (i, line) in table.iter().enumerate() {
        let cells: Vec<String> = line.iter().zip(&widths).map(|(c, w)| super::pad(c, *w)).collect();
        s.push_str(cells.join("  ").trim_end());
        s.push('\n');
        if i == 0 {
            s.push_str(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
            s.push('\n');
        }
    }
    let all: Vec<&Row> = rows.iter().flatten().collect();
    let failed = all.iter().filter(|r| r.verdict == Verdict::Fail).count();
    let incomplete = all.iter().filter(|r| r.verdict == Verdict::Incomplete).count();
    let checked = all.iter().filter(|r| r.expected.is_some()).count();
    let states: u64 = all.iter().map(|r| r.states).sum();
    s.push_str(&format!(
        "\n{} cells, {checked} with expectations, {failed} failed, {incomplete} incomplete (! marks a cell that differs from its `expect` line, ? an incomplete exploration, which is not a pass); {states} states explored\n",
        all.len(),
    ));
    s
}
