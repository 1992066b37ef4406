//! Embeds the catalogue (`scenarios/*.pin`) in the binary, in file-name order, each under its
//! name (the file's stem).

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=scenarios");
    let mut names: Vec<String> = fs::read_dir("scenarios")
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".pin"))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    let root = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut out = String::from("pub const CATALOGUE: &[(&str, &str)] = &[\n");
    for n in &names {
        println!("cargo:rerun-if-changed=scenarios/{n}");
        let stem = n.strip_suffix(".pin").expect("filtered on .pin");
        out.push_str(&format!(
            "    ({stem:?}, include_str!({:?})),\n",
            Path::new(&root).join("scenarios").join(n)
        ));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("catalogue.rs");
    fs::write(dest, out).expect("write catalogue.rs");
}
