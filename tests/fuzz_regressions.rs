//! Replays what the fuzzers found and kept, on stable and without fuzzing: every file under
//! `fuzz/regressions/<target>/` (inputs that once crashed, hung or broke an invariant) and
//! the committed corpus `fuzz/corpus/<target>/`, each through the very function the fuzz
//! target runs (`fuzz/harness.rs`, compiled into this test). A panic — the platform's own or
//! an invariant of the harness — fails the test and names the file.

#[path = "../fuzz/harness.rs"]
mod harness;

use std::path::{Path, PathBuf};

fn inputs(target: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for dir in ["regressions", "corpus"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else { continue };
        files.extend(entries.map(|e| e.expect("a directory entry").path()).filter(|p| p.is_file()));
    }
    files.sort();
    files
}

fn replay(target: &str) {
    let (_, run) = harness::TARGETS.iter().find(|(name, _)| *name == target).expect("a target of the harness");
    let files = inputs(target);
    assert!(!files.is_empty(), "no corpus for {target}: fuzz/corpus/{target}/ is committed");
    for file in files {
        let data = std::fs::read(&file).expect("an input file");
        if let Err(panic) = std::panic::catch_unwind(|| run(&data)) {
            let message = panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            panic!("{target}: {} failed: {}", file.display(), message.unwrap_or_default());
        }
    }
}

#[test]
fn graphql_request() {
    replay("graphql_request");
}

#[test]
fn bundle_push() {
    replay("bundle_push");
}

#[test]
fn stix_pattern() {
    replay("stix_pattern");
}

#[test]
fn multipart_upload() {
    replay("multipart_upload");
}

#[test]
fn amqp_message() {
    replay("amqp_message");
}

#[test]
fn amqp_frame() {
    replay("amqp_frame");
}

#[test]
fn every_target_of_the_harness_is_replayed() {
    let names: Vec<&str> = harness::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["graphql_request", "bundle_push", "stix_pattern", "multipart_upload", "amqp_message", "amqp_frame"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    for dir in ["regressions", "corpus"] {
        for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten() {
            let name = entry.expect("a directory entry").file_name().to_string_lossy().into_owned();
            assert!(names.contains(&name.as_str()) || name.starts_with('.'), "fuzz/{dir}/{name} is not a target of the harness");
        }
    }
}
