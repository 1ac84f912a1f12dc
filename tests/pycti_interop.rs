//! Interop: the official Python client, unchanged, against `opencti-mock serve`.
//!
//! The first run creates `target/pycti-venv-7.261026.0` from PyPI (pinned
//! `fixtures/python/requirements.txt`); later runs reuse it.

mod common;

use std::time::{Duration, Instant};

use common::{Client, ServeProcess, connector_script, run_connector};
use serde_json::Value;

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn import_env(url: &str, token: &str, id: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    common::import_env(url, token, id, "Interop Import", "api", extra)
}

#[test]
fn pycti_external_import_in_api_mode_registers_persists_state_and_completes_its_work() {
    // Arrange
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], &[]);
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();

    // Act
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, "tok-importer", &id, &[("TEST_OBJECTS", "5")]),
        Duration::from_secs(120),
    );

    // Assert
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "connector failed ({}):\n{stderr}", out.status);
    let admin = &serve.admin_token;
    let connector = client.control(admin, &format!("connectors/{id}"));
    assert_eq!(connector["type"], "EXTERNAL_IMPORT");
    assert_eq!(connector["registrations"], 1);
    let state: Value = serde_json::from_str(connector["state"].as_str().expect("state saved by ping")).expect("state is JSON");
    assert_eq!(state["runs"], 1, "state persisted by the exit pings: {state}");
    let works = connector["work_list"].as_array().expect("works listed").clone();
    assert_eq!(works.len(), 1, "one work opened: {works:?}");
    let work_id = works[0]["id"].as_str().unwrap().to_string();
    wait_for("the work to complete", Duration::from_secs(20), || {
        client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
    });
    let work = client.control(admin, &format!("works/{work_id}"));
    // 1 identity + 5 observables + 5 relationships, one expectation each.
    assert_eq!(work["import_expected_number"], 11);
    assert_eq!(work["import_processed_number"], 11);
    assert!(work["errors"].as_array().unwrap().is_empty(), "no object refused: {work}");
    let objects = client.control(admin, "objects");
    assert_eq!(objects.as_array().unwrap().len(), 11);
    let ops: Vec<String> = client
        .control(admin, "transcript")
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "operation")
        .map(|e| e["operation_name"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        ops,
        [
            "healthCheck",
            "healthCheck",
            "RegisterConnector",
            "GetConnector",
            "workAdd",
            "StixBundlePush",
            "workToProcessed",
            "PingConnector",
            "PingConnector"
        ],
        "the call sequence of pycti's run-and-terminate import (pycti-protocol Appendix A.1)"
    );
    let status = serve.terminate();
    assert!(status.success(), "opencti-mock exits cleanly on SIGTERM: {status}");
}

#[test]
fn objects_the_platform_refuses_are_work_errors_exactly_as_pycti_records_them() {
    // Arrange: the worker retries missing references after 1–5 ms instead of 1–3 s.
    let serve = ServeProcess::start(
        &["--connector-user", "importer=tok-importer"],
        &[("MOCK__MISSING_REF_RETRY_MIN_MS", "1"), ("MOCK__MISSING_REF_RETRY_MAX_MS", "5")],
    );
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();

    // Act: an unchanged pycti connector sends 1 identity, 2 IPv4 addresses, 2 relationships
    // and four objects the platform refuses.
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(
            &serve.url,
            "tok-importer",
            &id,
            &[("TEST_OBJECTS", "2"), ("TEST_FLAWS", "dangling,forbidden,observable,pattern")],
        ),
        Duration::from_secs(120),
    );

    // Assert
    assert!(out.status.success(), "connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let admin = &serve.admin_token;
    let connector = client.control(admin, &format!("connectors/{id}"));
    let work_id = connector["work_list"][0]["id"].as_str().expect("a work").to_string();
    wait_for("the work to complete", Duration::from_secs(30), || {
        client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
    });
    let work = client.control(admin, &format!("works/{work_id}"));
    assert_eq!((work["import_expected_number"].as_i64(), work["import_processed_number"].as_i64()), (Some(9), Some(9)));
    let mut errors: Vec<String> =
        work["errors"].as_array().unwrap().iter().map(|e| e["message"].as_str().unwrap().to_string()).collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Indicator of type stix is not correctly formatted.', 'http_status': 400, 'genre': 'BUSINESS', 'doc_code': 'INCORRECT_INDICATOR_FORMAT'}",
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Observable is not correctly formatted', 'http_status': 400, 'genre': 'BUSINESS', 'type': 'IPv4-Addr', 'doc_code': 'INCORRECT_OBSERVABLE_FORMAT'}",
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'The relationship type uses is not allowed between IPv4-Addr and Organization', 'http_status': 400, 'genre': 'BUSINESS'}",
            "{'name': 'MISSING_REFERENCE_ERROR', 'error_message': 'Element(s) not found', 'http_status': 404, 'genre': 'BUSINESS', 'unresolvedIds': ['intrusion-set--99999999-9999-4999-8999-999999999999'], 'doc_code': 'ELEMENT_NOT_FOUND'}",
        ]
    );
    // Every refused object is the error's source, as the worker holds it.
    for e in work["errors"].as_array().unwrap() {
        let source: Value = serde_json::from_str(e["source"].as_str().unwrap()).expect("the source is the object's JSON");
        assert_eq!(source["nb_deps"], 1, "{source}");
    }
    // The five valid objects are stored under pycti's ids.
    let objects = client.control(admin, "objects");
    assert_eq!(objects.as_array().unwrap().len(), 5, "{objects}");
    serve.terminate();
}

#[test]
fn pycti_gets_the_platform_json_error_for_an_oversized_push_and_the_mock_stays_up() {
    // Arrange: a 16 MiB limit (well above the allocator's own few-MB noise) and a bundle
    // ten times larger.
    let limit: u64 = 16 * 1024 * 1024;
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer", "--max-payload-body-size", "16mb"], &[]);
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    // Warm-up: one normal run exercises every code path the oversized run takes, so the
    // measurement below sees the body handling, not first-use allocations.
    let warm = uuid::Uuid::new_v4().to_string();
    run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, "tok-importer", &warm, &[]),
        Duration::from_secs(120),
    );
    let (rss_before, _) = serve.memory();

    // Act
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, "tok-importer", &id, &[("TEST_PADDING_BYTES", &(10 * limit).to_string())]),
        Duration::from_secs(120),
    );

    // Assert: pycti raised ValueError(r.text) with the platform's JSON, not a connection error.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(r#"RUN FAILED: {"status":"error","error":"request entity too large"}"#),
        "pycti's error carries the platform answer:\n{stderr}"
    );
    let (_, peak_after) = serve.memory();
    eprintln!("server memory growth during the oversized push: {} bytes (limit {limit})", peak_after.saturating_sub(rss_before));
    assert!(
        peak_after.saturating_sub(rss_before) <= limit,
        "memory grew by {} bytes for a body 10x over an {limit}-byte limit",
        peak_after.saturating_sub(rss_before)
    );
    let admin = &serve.admin_token;
    let connector = client.control(admin, &format!("connectors/{id}"));
    let work = &connector["work_list"][0];
    assert_eq!(work["status"], "complete", "the connector closed its work in error: {work}");
    assert!(work["errors"][0]["message"].as_str().unwrap().contains("request entity too large"));
    let (status, body) = client.graphql(Some("tok-importer"), &serde_json::json!({"query": "{ about { version } }"}));
    assert_eq!((status, body["data"]["about"]["version"].as_str()), (200, Some("7.261026.0")), "still serving");
}

#[test]
fn pycti_reads_the_platform_settings_and_its_relationship_mapping() {
    // Arrange: what import-document-ai reads at start-up, and pycti's own settings reader.
    let serve = ServeProcess::start(&["--connector-user", "reader=tok-reader"], &[]);
    let script = r#"
import json, os
from pycti import OpenCTIApiClient
client = OpenCTIApiClient(os.environ["OPENCTI_URL"], os.environ["OPENCTI_TOKEN"], log_level="error")
settings = client.settings.read(include_password_policy=True, include_messages=True)
instance = client.query("query SettingsQuery { settings { id } }")["data"]["settings"]["id"]
mapping = client.query("query { schemaRelationsTypesMapping { key values } }")["data"]["schemaRelationsTypesMapping"]
print(json.dumps({"settings": settings, "instance": instance, "mapping": mapping}))
"#;

    // Act
    let out = std::process::Command::new(common::pycti_python())
        .args(["-c", script])
        .env("OPENCTI_URL", &serve.url)
        .env("OPENCTI_TOKEN", "tok-reader")
        .output()
        .expect("python runs");

    // Assert
    assert!(out.status.success(), "pycti failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let answer: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(answer["settings"]["id"], answer["instance"]);
    assert_eq!(answer["settings"]["platform_url"], serve.url.as_str());
    assert_eq!(answer["settings"]["platform_enterprise_edition"]["license_validated"], false);
    let mapping = answer["mapping"].as_array().expect("a list");
    let indicates = mapping.iter().find(|m| m["key"] == "Indicator_Malware").expect("Indicator_Malware");
    assert!(indicates["values"].as_array().unwrap().iter().any(|v| v == "indicates"), "{indicates}");
}
