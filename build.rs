//! Embeds the STIX JSON Schemas of `src/stix/schemas/` (one per object type) so the
//! validator needs no files at run time: generates `$OUT_DIR/stix_schemas.rs`, a table of
//! `(type, schema text)`.

use std::fmt::Write;

fn main() {
    let dir = std::path::Path::new("src/stix/schemas");
    println!("cargo::rerun-if-changed=src/stix/schemas");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("src/stix/schemas exists")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = String::from("/// Every schema file: (file stem, text).\npub const SCHEMAS: &[(&str, &str)] = &[\n");
    for n in names {
        let stem = n.trim_end_matches(".json");
        writeln!(out, "    ({stem:?}, include_str!(concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/stix/schemas/{n}\"))),")
            .expect("write to string");
    }
    out.push_str("];\n");
    let target = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR is set by cargo")).join("stix_schemas.rs");
    std::fs::write(target, out).expect("OUT_DIR is writable");
}
