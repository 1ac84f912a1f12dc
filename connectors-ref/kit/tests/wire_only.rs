//! The kit speaks the wire only: neither it nor the reference connectors built on it depend
//! on a crate of the mock (a real connector cannot). Only the connectors' tests do, to run
//! them through the gate.

use std::path::Path;

/// The `[dependencies]` and `[build-dependencies]` lines of a manifest.
fn runtime_dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_else(|e| panic!("{}: {e}", manifest.display()));
    let mut section = String::new();
    let mut lines = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            section = line.to_string();
        } else if (section == "[dependencies]" || section == "[build-dependencies]") && !line.is_empty() && !line.starts_with('#')
        {
            lines.push(line.to_string());
        }
    }
    lines
}

#[test]
fn neither_the_kit_nor_the_connectors_depend_on_the_mock() {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    for manifest in [here.join("Cargo.toml"), here.join("../connectors/Cargo.toml")] {
        let deps = runtime_dependencies(&manifest);
        assert!(!deps.is_empty(), "{}: no dependencies read", manifest.display());
        let mock: Vec<&String> =
            deps.iter().filter(|d| d.starts_with("opencti-mock") || d.starts_with("opencti-conformance")).collect();
        assert!(mock.is_empty(), "{} depends on the mock: {mock:?}", manifest.display());
        let paths: Vec<&String> = deps.iter().filter(|d| d.contains("path") && !d.contains("\"../kit\"")).collect();
        assert!(paths.is_empty(), "{} depends on a workspace crate other than the kit: {paths:?}", manifest.display());
    }
}
