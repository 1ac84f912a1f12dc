//! Interop: pycti's entity API (unchanged `OpenCTIApiClient`) against `opencti-mock serve`:
//! creations, reads, lists with filters and `getAll`, upserts, edits, containers and
//! relationships, each standard id compared with pycti's own `generate_id`
//! (`fixtures/python/entity_roundtrip.py` makes the checks and reports them as JSON).

mod common;

use common::{Client, ServeProcess, python_report};
use serde_json::Value;

fn roundtrip(serve: &ServeProcess, token: &str) -> Value {
    let (ok, report) = python_report("entity_roundtrip.py", &[], serve, token);
    assert!(
        ok && report["failures"].as_array().is_some_and(Vec::is_empty),
        "pycti checks failed:\n{}",
        serde_json::to_string_pretty(&report["failures"]).unwrap_or_default()
    );
    report
}

#[test]
fn pycti_entities_round_trip_with_the_platform_standard_ids() {
    // Arrange
    let serve = ServeProcess::start(&[], &[]);

    // Act
    let report = roundtrip(&serve, &serve.admin_token);

    // Assert
    assert!(report["checks"].as_u64().unwrap_or(0) >= 40, "the driver ran its checks: {report}");
    let client = Client::new(&serve.url);
    let malware = client.control(&serve.admin_token, &format!("objects/{}", report["ids"]["malware"].as_str().unwrap()));
    assert_eq!(malware["name"], "Emotet", "the malware is in the store: {malware}");
    assert_eq!(malware["labels"], serde_json::json!(["ransomware", "c2"]));
}

#[test]
fn running_the_same_connector_twice_upserts_every_object_instead_of_duplicating_it() {
    // Arrange
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], &[]);
    let client = Client::new(&serve.url);
    let first = roundtrip(&serve, "tok-importer");
    let count = |c: &Client| c.control(&serve.admin_token, "objects").as_array().map(Vec::len).unwrap_or(0);
    let after_first = count(&client);

    // Act
    let second = roundtrip(&serve, "tok-importer");

    // Assert
    assert_eq!(count(&client), after_first, "a second run stores nothing new");
    assert_eq!(first["ids"], second["ids"], "every entity keeps its internal id");
}
