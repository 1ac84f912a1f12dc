//! The crate's top-level modules form layers: no module imports one above it, so the
//! import graph has no cycle.
//!
//! The graph is read from the sources (every `crate::<module>` path outside comments and
//! `#[cfg(test)]` modules), the way a reader would check it by hand, so the test needs no
//! tool beyond the compiler. `cargo test --test module_graph -- --nocapture` prints it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may import modules of its own layer or below, never
/// above; within a layer, the graph must still be acyclic (checked separately).
const LAYERS: &[&[&str]] = &[
    // Values and rules with no state: STIX, validation, request buffers, errors, names;
    // the token and tracker every platform task runs under.
    &["error", "keys", "naming", "profile", "filters", "buffer", "stix", "validate", "tasks"],
    // The platform's state; the embedded AMQP broker, which knows nothing of the platform.
    &["store", "embedded_broker"],
    // Over the state: the worker (splits and imports bundles; knows no transport), the
    // expectations a test mounts, the settings, the scenario files that set them.
    &["ingest", "expect", "config", "scenario"],
    // Transports and what travels on them: the broker, the jobs delivered over it.
    &["amqp", "jobs"],
    // The services one platform is made of, the live stream among them.
    &["core", "status", "activity", "stream"],
    // The GraphQL API, then the HTTP server in front of it.
    &["graphql", "http"],
    // Assembling and driving a platform: the Rust handle, the conformance gate, the CLI.
    &["platform", "conform", "cli"],
];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`src/store/queues.rs` → `store`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "bin").then(|| name.to_string())
}

/// Every top-level module `code` names as `crate::<module>`, also inside `crate::{a, b::c}`.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name = item.trim().split("::").next().unwrap_or("").trim();
                if modules.contains(name) {
                    found.insert(name.to_string());
                }
            }
        } else {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if modules.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

/// The code of a file without comments and without its `#[cfg(test)]` module (tests may
/// reach anywhere).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            break;
        }
        if trimmed.starts_with("//") {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = modules.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    for file in &files {
        let Some(module) = module_of(&src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("source is UTF-8");
        let mut used = imports(&code_of(&text), &modules);
        used.remove(&module);
        edges.get_mut(&module).expect("known module").extend(used);
    }
    edges
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

fn render(edges: &BTreeMap<String, BTreeSet<String>>) -> String {
    edges
        .iter()
        .map(|(m, to)| format!("{m} -> {}", to.iter().cloned().collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_module_has_a_layer() {
    let edges = graph();
    let missing: Vec<&String> = edges.keys().filter(|m| layer_of(m).is_none()).collect();
    assert!(missing.is_empty(), "modules without a layer in tests/module_graph.rs: {missing:?}");
}

#[test]
fn no_module_imports_a_layer_above_its_own() {
    let edges = graph();
    println!("{}", render(&edges));
    let mut upward = Vec::new();
    for (from, targets) in &edges {
        let Some(level) = layer_of(from) else { continue };
        for to in targets {
            if layer_of(to).is_some_and(|l| l > level) {
                upward.push(format!("{from} (layer {level}) imports {to} (layer {})", layer_of(to).unwrap_or(0)));
            }
        }
    }
    assert!(upward.is_empty(), "imports upward:\n{}\n\nthe graph:\n{}", upward.join("\n"), render(&edges));
}

#[test]
fn the_import_graph_has_no_cycle() {
    let edges = graph();
    // Kahn's algorithm: whatever cannot be ordered lies on a cycle.
    let mut indegree: BTreeMap<&str, usize> = edges.keys().map(|m| (m.as_str(), 0)).collect();
    for targets in edges.values() {
        for t in targets {
            *indegree.get_mut(t.as_str()).expect("known module") += 1;
        }
    }
    let mut ready: Vec<&str> = indegree.iter().filter(|(_, d)| **d == 0).map(|(m, _)| *m).collect();
    let mut ordered = 0;
    while let Some(m) = ready.pop() {
        ordered += 1;
        for t in &edges[m] {
            let d = indegree.get_mut(t.as_str()).expect("known module");
            *d -= 1;
            if *d == 0 {
                ready.push(t);
            }
        }
    }
    let cyclic: Vec<&str> = indegree.iter().filter(|(_, d)| **d > 0).map(|(m, _)| *m).collect();
    assert_eq!(ordered, edges.len(), "modules on an import cycle or importing one: {cyclic:?}\n\nthe graph:\n{}", render(&edges));
}

#[test]
fn the_reader_sees_imports_the_way_they_are_written() {
    let modules: BTreeSet<String> = ["store", "ingest", "amqp"].iter().map(|s| s.to_string()).collect();
    let found = imports("use crate::store::Store;\nuse crate::{ingest::Worker, amqp};\nlet x = crate::stored;", &modules);
    assert_eq!(found, modules);
    assert!(code_of("// crate::amqp\nfn f() {}\n#[cfg(test)]\nmod tests { use crate::amqp; }").find("amqp").is_none());
}
