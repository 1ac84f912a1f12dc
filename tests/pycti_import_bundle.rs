//! Interop: pycti's direct STIX importer (`OpenCTIStix2.import_bundle_from_json`,
//! `import_object`, `import_bundle(update=True)`, `import_bundle_from_file`: the path of
//! the real worker, restore tools and migration scripts, writing object by object through
//! the entity API) against `opencti-mock serve`, with pycti unchanged.
//!
//! `fixtures/python/import_bundle_roundtrip.py` imports the mixed bundle of
//! `fixtures/stix/import_bundle.py` (every type the mock's schema can create), reads every
//! object back through pycti's readers and compares values and references; these tests run
//! it and check that the bundle covers every creation mutation the schema declares.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{Client, ServeProcess, pycti_python, python_report, root};
use serde_json::Value;

fn run(serve: &ServeProcess, args: &[&str]) -> (bool, Value) {
    python_report("import_bundle_roundtrip.py", args, serve, &serve.admin_token)
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_string)).collect()
}

/// The GraphQL types the schema's creation mutations make (`malwareAdd(...): Malware`, the
/// observable types of `stixCyberObservableAdd`'s arguments), leaving out the abstract
/// `Identity` / `Location` (their concrete types are created through them).
fn creatable_types() -> BTreeSet<String> {
    let sdl = std::fs::read_to_string(root().join("src/graphql/knowledge.graphql")).expect("the SDL is readable");
    let mut types = BTreeSet::new();
    for line in sdl.lines().map(str::trim) {
        let Some((head, rest)) = line.split_once('(') else { continue };
        if head == "stixCyberObservableAdd" {
            for arg in rest.split_once("): ").map_or(rest, |(args, _)| args).split(", ") {
                if let Some((name, ty)) = arg.split_once(": ")
                    && ty.ends_with("AddInput")
                {
                    types.insert(name.to_string());
                }
            }
        } else if head.ends_with("Add")
            && rest.starts_with("input: ")
            && let Some((_, ret)) = rest.split_once("): ")
        {
            let ty = ret.split_whitespace().next().unwrap_or_default().trim_end_matches('!');
            if ty != "Identity" && ty != "Location" && !ty.ends_with("Relationship") {
                types.insert(ty.to_string());
            }
        }
    }
    types
}

#[test]
fn pycti_imports_a_bundle_of_every_type_and_reads_every_object_back_unchanged() {
    // Arrange
    let serve = ServeProcess::start(&[], &[]);

    // Act
    let (ok, report) = run(&serve, &[]);

    // Assert
    assert!(
        ok && report["failures"].as_array().is_some_and(Vec::is_empty),
        "pycti checks failed:\n{}",
        serde_json::to_string_pretty(&report["failures"]).unwrap_or_default()
    );
    assert_eq!(report["round_tripped"], report["objects"], "every object of the bundle was read back: {report}");
    assert!(report["checks"].as_u64().unwrap_or(0) >= 2500, "the driver compared values and references: {report}");
    let read_back: BTreeSet<String> = strings(&report["entity_types"]).iter().map(|t| t.replace('-', "")).collect();
    let missing: Vec<String> = creatable_types().into_iter().filter(|t| !read_back.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "the schema creates {missing:?}, which the bundle does not round-trip: add an object of each to \
         fixtures/stix/import_bundle.py (a pending type: list it in ENABLED_PENDING)"
    );
    for relationship in ["uses", "indicates", "based-on", "targets", "stix-sighting-relationship"] {
        assert!(read_back.contains(&relationship.replace('-', "")), "{relationship} round-trips: {read_back:?}");
    }
    let client = Client::new(&serve.url);
    let malware_id = report["ids"]
        .as_object()
        .and_then(|ids| ids.iter().find(|(k, _)| k.starts_with("malware--")).and_then(|(_, v)| v.as_str().map(str::to_string)));
    let malware = client.control(&serve.admin_token, &format!("objects/{}", malware_id.expect("the malware's id")));
    assert_eq!(malware["name"], "Larkspur", "the malware is in the store: {malware}");
    assert_eq!(malware["kill_chain_phases"].as_array().map(Vec::len), Some(2), "with its kill chain phases: {malware}");
}

#[test]
fn objects_the_platform_refuses_are_found_missing_although_pycti_counts_them_imported() {
    // Arrange: the bundle with objects the platform refuses, expected as if they were fine.
    let serve = ServeProcess::start(&[], &[]);
    let bundle = Command::new(pycti_python())
        .arg(root().join("fixtures/stix/import_bundle.py"))
        .arg("--refused")
        .output()
        .expect("the generator runs");
    let bundle: Value = serde_json::from_slice(&bundle.stdout).expect("the generator prints the bundle");
    let normal = Command::new(pycti_python()).arg(root().join("fixtures/stix/import_bundle.py")).output().expect("runs");
    let normal: Value = serde_json::from_slice(&normal.stdout).expect("the generator prints the bundle");
    let ids = |b: &Value| -> BTreeSet<String> {
        b["objects"].as_array().into_iter().flatten().filter_map(|o| o["id"].as_str().map(str::to_string)).collect()
    };
    let refused: BTreeSet<String> = ids(&bundle).difference(&ids(&normal)).cloned().collect();
    assert_eq!(refused.len(), 2, "the generator adds the refused objects: {refused:?}");

    // Act
    let (ok, report) = run(&serve, &["--refused"]);

    // Assert: pycti reported every object imported; reading back failed on exactly those.
    assert!(!ok, "the driver fails: {report}");
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    let failed_checks: BTreeSet<String> = failures.iter().filter_map(|f| f["check"].as_str().map(str::to_string)).collect();
    assert!(!failed_checks.contains("every object imported"), "pycti counts the refused objects imported");
    for f in &failed_checks {
        assert!(refused.iter().any(|id| f.contains(id.as_str())), "only the refused objects fail, not {f:?}");
    }
    for id in &refused {
        assert!(
            failed_checks.contains(&format!("first import: {id} ({}) read back", id.split("--").next().unwrap_or_default())),
            "{id} is found missing: {failed_checks:?}"
        );
    }
}
