//! The reference connectors through the CLI gate, as a CI pipeline runs it:
//! `opencti-mock conform --type … -- <binary>` passes each of them (exit 0, every check
//! PASS in the JUnit report), over HTTP and over RabbitMQ (the stream connector has no
//! other transport than the stream). The feed, lookup API and sink
//! the connectors call are served by wiremock.

mod support;

use std::path::PathBuf;
use std::process::Command;

use opencti_conformance::report::verdicts_from_junit;
use support::{AMQP, API, SETTLE_SECONDS, Transport, binary, deployment, services};

/// The `opencti-mock` binary of this build (the workspace builds it beside the connectors).
fn gate_binary() -> PathBuf {
    let dir = PathBuf::from(binary("STREAM")).parent().expect("the binaries' folder").to_path_buf();
    let gate = dir.join("opencti-mock");
    assert!(gate.exists(), "{} is not built: build the workspace (cargo build --workspace)", gate.display());
    gate
}

/// The gate's arguments deploying a type's reference connector (what a user writes).
fn arguments(connector_type: &str, services: &str) -> Vec<String> {
    let d = deployment(connector_type, services);
    let mut args = vec!["--settle".to_string(), SETTLE_SECONDS.to_string()];
    if let Some(scope) = d.scope {
        args.extend(["--scope".to_string(), scope.to_string()]);
    }
    if let Some(var) = d.max_tlp {
        args.extend(["--setting".to_string(), format!("max_tlp={var}")]);
    }
    for (k, v) in d.env {
        args.extend(["--env".to_string(), format!("{k}={v}")]);
    }
    args
}

fn gate(connector_type: &str, transport: Transport) {
    gate_on(connector_type, transport, &[]);
}

/// The gate with `extra` arguments (e.g. `--broker embedded`).
fn gate_on(connector_type: &str, transport: Transport, extra: &[&str]) {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    let server = rt.block_on(services());
    let junit = tempfile::NamedTempFile::new().expect("temp file");
    let out = Command::new(gate_binary())
        .args([
            "conform",
            "--type",
            connector_type,
            "--queue-protocol",
            transport.queue,
            "--listen-protocol",
            transport.listen,
            "--junit",
        ])
        .arg(junit.path())
        .args(arguments(connector_type, &server.uri()))
        .args(extra)
        .arg("--")
        .arg(binary(connector_type))
        .output()
        .expect("opencti-mock conform runs");
    let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "the gate fails the reference {connector_type} connector:\n{console}");
    let verdicts = verdicts_from_junit(&std::fs::read_to_string(junit.path()).expect("JUnit written")).expect("JUnit reads back");
    assert!(!verdicts.is_empty(), "no verdict in the JUnit report:\n{console}");
    let not_passed: Vec<_> = verdicts.iter().filter(|(_, v)| v != "PASS").collect();
    assert!(not_passed.is_empty(), "not every check passed: {not_passed:?}\n{console}");
}

#[test]
fn the_gate_passes_the_external_import_connector() {
    gate("EXTERNAL_IMPORT", API);
}

#[test]
fn the_gate_passes_the_external_import_connector_over_rabbitmq() {
    gate("EXTERNAL_IMPORT", AMQP);
}

#[test]
fn the_gate_passes_the_enrichment_connector() {
    gate("INTERNAL_ENRICHMENT", API);
}

#[test]
fn the_gate_passes_the_enrichment_connector_over_rabbitmq() {
    gate("INTERNAL_ENRICHMENT", AMQP);
}

#[test]
fn the_gate_passes_the_import_file_connector() {
    gate("INTERNAL_IMPORT_FILE", API);
}

#[test]
fn the_gate_passes_the_export_file_connector() {
    gate("INTERNAL_EXPORT_FILE", API);
}

#[test]
fn the_gate_passes_the_stream_connector() {
    gate("STREAM", API);
}

#[test]
fn the_gate_passes_the_import_file_connector_over_rabbitmq() {
    gate("INTERNAL_IMPORT_FILE", AMQP);
}

#[test]
fn the_gate_passes_the_export_file_connector_over_rabbitmq() {
    gate("INTERNAL_EXPORT_FILE", AMQP);
}

// The kit's lapin publishing and consuming, on the broker inside the mock.

#[test]
fn the_gate_passes_the_external_import_connector_over_the_embedded_broker() {
    gate_on("EXTERNAL_IMPORT", AMQP, &["--broker", "embedded"]);
}

#[test]
fn the_gate_passes_the_enrichment_connector_over_the_embedded_broker() {
    gate_on("INTERNAL_ENRICHMENT", AMQP, &["--broker", "embedded"]);
}

#[test]
fn the_gate_passes_the_import_file_connector_over_the_embedded_broker() {
    gate_on("INTERNAL_IMPORT_FILE", AMQP, &["--broker", "embedded"]);
}

#[test]
fn the_gate_passes_the_export_file_connector_over_the_embedded_broker() {
    gate_on("INTERNAL_EXPORT_FILE", AMQP, &["--broker", "embedded"]);
}
