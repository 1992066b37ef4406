//! `pincheck host-pins`: the long-term pin verdicts measured on the host kernel beside the model.

use pincheck::policy;
use pincheck::run::InputError;
use std::io::Write;

/// The long-term pin verdict table, one row per filesystem and mapping.
pub fn pin_table_text(rows: &[pincheck::host::PinRow]) -> String {
    let mut s = format!(
        "{:<6} {:<11} {:<12} {:<12} {:<6} pins acquired/released\n",
        "fs", "mapping", "host", "model", "agree"
    );
    for r in rows {
        let agree = match r.agree {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "-",
        };
        let pins = match (r.pins_acquired, r.pins_released) {
            (Some(a), Some(b)) => format!("+{a}/+{b}"),
            _ => "-".into(),
        };
        s.push_str(&format!(
            "{:<6} {:<11} {:<12} {:<12} {:<6} {pins}",
            r.fs,
            r.mapping,
            r.host.as_deref().unwrap_or("skipped"),
            r.model.as_deref().unwrap_or("-"),
            agree
        ));
        match &r.skipped {
            Some(why) => s.push_str(&format!("  ({why})\n")),
            None => s.push('\n'),
        }
    }
    s
}

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    pub json: bool,
}

pub fn run(a: &Args) -> Result<u8, InputError> {
    let json = a.json;
    use pincheck::host;
    let release = host::host_release().map_err(InputError::Usage)?;
    let preset = host::preset_for_release(&release);
    let rows = host::pin_table(preset.as_ref());
    let out = std::io::stdout();
    let mut out = out.lock();
    if json {
        for r in &rows {
            let mut v = serde_json::to_value(r).expect("a row serializes");
            v["kernel"] = release.clone().into();
            v["policy"] = preset.as_ref().map(|p| p.name.clone()).into();
            let _ = writeln!(out, "{v}");
        }
    } else {
        let name = preset.as_ref().map_or("none", |p| p.name.as_str());
        let _ = writeln!(out, "host kernel {release}, model preset {name}");
        if preset.is_none() {
            let _ = writeln!(
                out,
                "no preset models {release} (presets: {}); host verdicts only",
                policy::preset_names().join(", ")
            );
        }
        let _ = write!(out, "{}", pin_table_text(&rows));
    }
    Ok(u8::from(rows.iter().any(|r| r.agree == Some(false))))
}
