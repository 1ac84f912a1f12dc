//! What the platform's worker makes of what pycti sends, checked with pycti itself on both
//! ends: the author a connectors-sdk model gives as `x_opencti_created_by_ref`, and pycti's
//! own importer (`import_bundle_from_json`, which the real worker runs), which asks the
//! platform's vocabulary categories before its first object.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, ServeProcess, connector_script, pycti_python, root, run_connector};
use serde_json::{Value, json};

fn import_and_read(serve: &ServeProcess, token: &str, args: &[&str]) -> Value {
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/import_and_read.py"))
        .args(args)
        .env("OPENCTI_URL", &serve.url)
        .env("OPENCTI_TOKEN", token)
        .output()
        .expect("the script runs");
    assert!(out.status.success(), "pycti failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn an_author_given_as_x_opencti_created_by_ref_is_the_author_pycti_reads_back() {
    // Arrange
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], &[]);
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    let env = common::import_env(&serve.url, "tok-importer", &id, "SDK Author", "api", &[("TEST_EXTRA", "sdk_author")]);

    // Act: an unchanged pycti connector pushes the observable; pycti reads it back.
    let out = run_connector(&connector_script("external_import.py"), &env, Duration::from_secs(120));
    assert!(out.status.success(), "connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let started = Instant::now();
    let stored = loop {
        let objects = client.control(&serve.admin_token, "objects?type=ipv4-addr");
        let found = objects
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o["standard_id"].as_str())
            .find(|id| client.control(&serve.admin_token, &format!("objects/{id}"))["value"] == "10.200.0.1");
        if let Some(id) = found {
            break id.to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the observable was stored");
        std::thread::sleep(Duration::from_millis(200));
    };
    let read = import_and_read(&serve, "tok-importer", &["read", &stored]);

    // Assert: the platform's worker made it the author.
    assert_eq!(read["objects"][&stored]["created_by"], "Interop Test Source", "{read}");
    let body = client.control(&serve.admin_token, &format!("objects/{stored}"));
    assert!(body.get("x_opencti_created_by_ref").is_none(), "stored as created_by_ref: {body}");
}

#[test]
fn pycti_import_bundle_from_json_maps_vocabularies_and_imports_every_object() {
    // Arrange
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], &[]);
    let bundle = json!({"type": "bundle", "id": "bundle--4f2a3d5e-1b2c-4d3e-8f4a-5b6c7d8e9f01", "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--7a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "name": "Vocabulary Source", "identity_class": "organization"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--2b3c4d5e-6f7a-5b8c-9d0e-1f2a3b4c5d6e",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "name": "Vocab Locker", "is_family": true, "malware_types": ["ransomware", "a-custom-type"],
         "created_by_ref": "identity--7a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d"},
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--3c4d5e6f-7a8b-5c9d-8e0f-2a3b4c5d6e7f",
         "value": "10.9.8.7", "x_opencti_created_by_ref": "identity--7a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d"}
    ]});
    let file = tempfile::NamedTempFile::new().expect("a temporary file");
    std::fs::write(file.path(), bundle.to_string()).expect("written");

    // Act
    let report = import_and_read(&serve, "tok-importer", &["import", file.path().to_str().unwrap()]);

    // Assert: every object imported, vocabularies mapped, authors set.
    assert_eq!(report["imported"], 3, "{report}");
    let objects = &report["objects"];
    assert_eq!(objects["identity--7a1b2c3d-4e5f-5a6b-8c7d-9e0f1a2b3c4d"]["entity_type"], "Organization", "{report}");
    let malware = &objects["malware--2b3c4d5e-6f7a-5b8c-9d0e-1f2a3b4c5d6e"];
    assert_eq!(malware["malware_types"], json!(["ransomware", "a-custom-type"]), "{report}");
    assert_eq!(malware["created_by"], "Vocabulary Source");
    assert_eq!(objects["ipv4-addr--3c4d5e6f-7a8b-5c9d-8e0f-2a3b4c5d6e7f"]["created_by"], "Vocabulary Source", "{report}");
    let ops: Vec<String> = Client::new(&serve.url)
        .control(&serve.admin_token, "transcript")
        .as_array()
        .expect("entries")
        .iter()
        .filter(|e| e["kind"] == "operation")
        .map(|e| e["operation_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(ops.iter().any(|o| o == "getVocabCategories"), "pycti asked the categories first: {ops:?}");
    let vocabularies = Client::new(&serve.url).control(&serve.admin_token, "objects?type=vocabulary");
    assert!(vocabularies.as_array().is_some_and(|v| v.len() >= 2), "pycti created the entries it needed: {vocabularies}");
}
