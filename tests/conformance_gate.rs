//! The CI gate on real connectors: unchanged pycti EXTERNAL_IMPORT connectors — one
//! correct, several with one realistic bug each (`fixtures/connectors/conformance/`) — run
//! through `opencti-mock conform`. Each gives exactly the verdicts committed next to it
//! (`expected/<name>.verdicts`), read back from the JUnit report; the correct one passes the
//! gate (exit 0), every buggy one fails it (exit 1).

mod common;

use std::process::Command;

use common::{pycti_python, root};
use opencti_conformance::report::verdicts_from_junit;

fn expected(folder: &str, name: &str) -> Vec<(String, String)> {
    let path = root().join(format!("fixtures/connectors/{folder}/expected/{name}.verdicts"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (id, verdict) = l.split_once(' ').unwrap_or_else(|| panic!("bad line {l:?}"));
            (id.to_string(), verdict.trim().to_string())
        })
        .collect()
}

/// Runs the gate on an EXTERNAL_IMPORT connector `conformance/<name>.py`.
fn gate(name: &str, extra: &[&str], exit_code: i32) -> String {
    gate_on("EXTERNAL_IMPORT", "conformance", name, extra, exit_code)
}

/// How the fixture connectors of a folder are deployed: their scope, their run mode, the
/// setting holding their max TLP — what a user gives the gate for their own connector.
fn deployment(connector_type: &str) -> &'static [&'static str] {
    match connector_type {
        "EXTERNAL_IMPORT" => &[
            "--scope",
            "ipv4-addr,ipv6-addr,domain-name,url,indicator,identity,malware,relationship",
            "--env",
            "CONNECTOR_RUN_AND_TERMINATE=true",
        ],
        "INTERNAL_ENRICHMENT" => &["--scope", "IPv4-Addr,Domain-Name", "--setting", "max_tlp=CONNECTOR_MAX_TLP"],
        "INTERNAL_EXPORT_FILE" => &["--scope", "application/vnd.oasis.stix+json"],
        "STREAM" => &[],
        _ => &["--scope", "application/json"],
    }
}

/// Runs the gate on `fixtures/connectors/<folder>/<name>.py`, deployed as its folder's
/// connectors are (`extra` comes after, so it can change that), compares its verdicts with
/// `<folder>/expected/<name>.verdicts` and its exit code; returns the console output.
fn gate_on(connector_type: &str, folder: &str, name: &str, extra: &[&str], exit_code: i32) -> String {
    gate_as(connector_type, folder, name, name, extra, exit_code)
}

/// [`gate_on`], compared with `expected/<expected_as>.verdicts`.
fn gate_as(connector_type: &str, folder: &str, name: &str, expected_as: &str, extra: &[&str], exit_code: i32) -> String {
    let junit = tempfile::NamedTempFile::new().expect("temp file");
    let script = root().join(format!("fixtures/connectors/{folder}/{name}.py"));
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--type", connector_type, "--junit"])
        .arg(junit.path())
        .args(deployment(connector_type))
        .args(extra)
        .arg("--")
        .arg(pycti_python())
        .arg(&script)
        .output()
        .expect("opencti-mock conform runs");
    let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let xml = std::fs::read_to_string(junit.path()).expect("JUnit report written");
    let verdicts = verdicts_from_junit(&xml).expect("the JUnit report reads back");
    assert_eq!(
        verdicts,
        expected(folder, expected_as),
        "verdicts of {folder}/{name}.py differ from the committed ones; console:\n{console}"
    );
    assert_eq!(out.status.code(), Some(exit_code), "exit code of the gate on {folder}/{name}.py; console:\n{console}");
    assert!(
        console.lines().last().unwrap_or("").starts_with(&format!("conformance {connector_type}:")),
        "one-line verdict last:\n{console}"
    );
    console
}

#[test]
fn the_correct_connector_passes_every_check() {
    gate("correct", &[], 0);
}

#[test]
fn the_correct_connector_passes_every_check_over_rabbitmq() {
    gate("correct", &["--queue-protocol", "amqp"], 0);
}

#[test]
fn a_connector_pushing_an_object_the_platform_refuses_fails_over_rabbitmq_too() {
    gate("refused_object", &["--queue-protocol", "amqp"], 1);
}

#[test]
fn the_gate_s_verdicts_over_the_embedded_broker_are_those_over_rabbitmq() {
    gate("correct", &["--queue-protocol", "amqp", "--broker", "embedded"], 0);
    gate("refused_object", &["--queue-protocol", "amqp", "--broker", "embedded"], 1);
}

#[test]
fn a_connector_that_opens_no_work_fails() {
    gate("no_work", &[], 1);
}

#[test]
fn a_connector_that_never_closes_its_work_fails() {
    gate("work_never_closed", &[], 1);
}

#[test]
fn a_connector_pushing_an_object_the_platform_refuses_fails() {
    gate("refused_object", &[], 1);
}

#[test]
fn a_connector_with_random_ids_fails() {
    gate("random_ids", &[], 1);
}

#[test]
fn a_connector_pushing_more_than_the_payload_limit_fails() {
    gate("oversized_push", &["--max-payload-body-size", "1mb"], 1);
}

/// The job suites, in both listen modes: the worker's HTTP callback and RabbitMQ.
#[rstest::rstest]
#[case::correct_enrichment_over_http("INTERNAL_ENRICHMENT", "enrichment", "correct", "api", 0)]
#[case::correct_enrichment_over_rabbitmq("INTERNAL_ENRICHMENT", "enrichment", "correct", "amqp", 0)]
#[case::correct_enrichment_over_the_embedded_broker("INTERNAL_ENRICHMENT", "enrichment", "correct", "amqp-embedded", 0)]
#[case::enrichment_without_the_entity("INTERNAL_ENRICHMENT", "enrichment", "no_entity", "api", 1)]
#[case::enrichment_above_the_max_tlp("INTERNAL_ENRICHMENT", "enrichment", "ignores_max_tlp", "api", 1)]
#[case::enrichment_keeping_the_tlp_of_an_earlier_job("INTERNAL_ENRICHMENT", "enrichment", "keeps_last_tlp", "api", 1)]
#[case::enrichment_crashing_out_of_scope("INTERNAL_ENRICHMENT", "enrichment", "crash_out_of_scope", "api", 1)]
#[case::enrichment_crashing_out_of_scope_over_rabbitmq("INTERNAL_ENRICHMENT", "enrichment", "crash_out_of_scope", "amqp", 1)]
#[case::enrichment_crashing_out_of_scope_over_the_embedded_broker(
    "INTERNAL_ENRICHMENT",
    "enrichment",
    "crash_out_of_scope",
    "amqp-embedded",
    1
)]
#[case::correct_import_over_http("INTERNAL_IMPORT_FILE", "import_file", "correct", "api", 0)]
#[case::correct_import_over_rabbitmq("INTERNAL_IMPORT_FILE", "import_file", "correct", "amqp", 0)]
#[case::correct_import_over_the_embedded_broker("INTERNAL_IMPORT_FILE", "import_file", "correct", "amqp-embedded", 0)]
#[case::import_fetching_without_token("INTERNAL_IMPORT_FILE", "import_file", "fetch_without_token", "api", 1)]
#[case::import_crashing_on_a_corrupt_file("INTERNAL_IMPORT_FILE", "import_file", "crash_on_corrupt", "api", 1)]
#[case::import_ignoring_validation("INTERNAL_IMPORT_FILE", "import_file", "ignores_validation", "api", 1)]
#[case::import_ignoring_validation_over_rabbitmq("INTERNAL_IMPORT_FILE", "import_file", "ignores_validation", "amqp", 1)]
#[case::import_ignoring_validation_over_the_embedded_broker(
    "INTERNAL_IMPORT_FILE",
    "import_file",
    "ignores_validation",
    "amqp-embedded",
    1
)]
#[case::import_reviewing_its_own_bundle_of_a_corrupt_file(
    "INTERNAL_IMPORT_FILE",
    "import_file",
    "summarises_for_review",
    "api",
    1
)]
#[case::enrichment_echoing_its_objects_above_the_max_tlp("INTERNAL_ENRICHMENT", "enrichment", "echoes_above_max_tlp", "api", 0)]
#[case::enrichment_crashing_at_start("INTERNAL_ENRICHMENT", "enrichment", "crash_at_start", "api", 1)]
#[case::import_validating_before_import("INTERNAL_IMPORT_FILE", "import_file", "validate_before_import", "api", 0)]
#[case::import_validating_before_import_over_rabbitmq("INTERNAL_IMPORT_FILE", "import_file", "validate_before_import", "amqp", 0)]
#[case::import_validating_before_import_over_the_embedded_broker(
    "INTERNAL_IMPORT_FILE",
    "import_file",
    "validate_before_import",
    "amqp-embedded",
    0
)]
#[case::correct_export_over_http("INTERNAL_EXPORT_FILE", "export_file", "correct", "api", 0)]
#[case::correct_export_over_rabbitmq("INTERNAL_EXPORT_FILE", "export_file", "correct", "amqp", 0)]
#[case::correct_export_over_the_embedded_broker("INTERNAL_EXPORT_FILE", "export_file", "correct", "amqp-embedded", 0)]
#[case::export_without_impersonation("INTERNAL_EXPORT_FILE", "export_file", "no_impersonation", "api", 1)]
#[case::export_without_impersonation_over_rabbitmq("INTERNAL_EXPORT_FILE", "export_file", "no_impersonation", "amqp", 1)]
#[case::export_without_impersonation_over_the_embedded_broker(
    "INTERNAL_EXPORT_FILE",
    "export_file",
    "no_impersonation",
    "amqp-embedded",
    1
)]
#[case::export_ignoring_the_access_filter("INTERNAL_EXPORT_FILE", "export_file", "ignores_access_filter", "api", 1)]
#[case::export_naming_its_own_file("INTERNAL_EXPORT_FILE", "export_file", "own_file_name", "api", 1)]
#[case::export_of_lists_only("INTERNAL_EXPORT_FILE", "export_file", "lists_only", "api", 0)]
#[case::export_writing_text_for_json("INTERNAL_EXPORT_FILE", "export_file", "text_for_json", "api", 0)]
#[case::export_dropping_file_markings("INTERNAL_EXPORT_FILE", "export_file", "drops_file_markings", "api", 1)]
fn job_connectors_give_their_committed_verdicts(
    #[case] connector_type: &str,
    #[case] folder: &str,
    #[case] name: &str,
    #[case] listen: &str,
    #[case] exit_code: i32,
) {
    let mut args = vec!["--listen-protocol", listen, "--queue-protocol", listen];
    if listen == "amqp-embedded" {
        args = vec!["--listen-protocol", "amqp", "--queue-protocol", "amqp", "--broker", "embedded"];
    } else if listen == "amqp" {
        args.extend(["--broker", "rabbitmq"]);
    }
    gate_on(connector_type, folder, name, &args, exit_code);
}

/// The STREAM suite: each run waits for pycti's ping (every 40 s) to save a position, so
/// these take about a minute each (nextest's `pycti-slow` group).
#[rstest::rstest]
#[case::correct_stream("correct", "api", 0)]
#[case::correct_stream_with_rabbitmq("correct", "amqp", 0)]
#[case::stream_crashing_on_a_deletion("crash_on_delete", "api", 1)]
#[case::stream_crashing_on_a_creation("crash_on_create", "api", 1)]
#[case::stream_restarting_from_scratch("restarts_from_scratch", "api", 1)]
#[case::stream_reading_the_live_stream("reads_live", "api", 1)]
#[case::stream_ignoring_the_stop("ignores_stop", "api", 1)]
fn stream_connectors_give_their_committed_verdicts(#[case] name: &str, #[case] queue: &str, #[case] exit_code: i32) {
    gate_on("STREAM", "stream", name, &["--queue-protocol", queue], exit_code);
}

#[test]
fn a_connector_that_cannot_start_is_reported_not_waited_on() {
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--", "/nonexistent/connector"])
        .output()
        .expect("opencti-mock conform runs");
    let console = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{console}");
    assert!(console.contains("could not be started") && console.contains("/nonexistent/connector"), "{console}");
}

#[test]
fn a_connector_that_hangs_is_stopped_and_reported_with_its_output() {
    // A "connector" that prints, registers nothing and never exits: stopped at the run
    // timeout, its output shown, and the gate fails.
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--runs", "1", "--run-timeout", "2", "--", "sh", "-c", "echo starting up; exec sleep 600"])
        .output()
        .expect("opencti-mock conform runs");
    let console = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{console}");
    assert!(console.contains("run 1: timed out") && console.contains("starting up"), "{console}");
    assert!(console.contains("✘ REG-001"), "{console}");
}

#[test]
fn list_prints_every_check_and_markdown_is_checks_md() {
    let list = Command::new(env!("CARGO_BIN_EXE_opencti-mock")).args(["conform", "--list"]).output().expect("runs");
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), opencti_conformance::registry::select("EXTERNAL_IMPORT", &[]).len());
    assert!(text.lines().all(|l| l.contains("MUST") || l.contains("SHOULD")), "{text}");
    let only = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--list", "--only", "EXT-IMPORT"])
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&only.stdout).lines().all(|l| l.starts_with("EXT-IMPORT-")));
    let md = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--list", "--format", "markdown"])
        .output()
        .expect("runs");
    let committed = std::fs::read_to_string(root().join("conformance/CHECKS.md")).expect("CHECKS.md");
    assert_eq!(String::from_utf8_lossy(&md.stdout), committed);
}

/// Slow on purpose (nextest group `pycti-slow`): a pycti connector that keeps running
/// only sends its state with its next ping, 40 s after start; the gate waits for it.
#[test]
fn a_connector_that_keeps_running_is_stopped_once_it_has_pinged_its_state() {
    let console = gate("correct", &["--settle", "2", "--env", "CONNECTOR_RUN_AND_TERMINATE=false"], 0);
    assert_eq!(console.matches("stopped once settled").count(), 2, "both runs kept running and were stopped:\n{console}");
}

/// Each false failure the field trials found (`conformance/FIELD-TRIALS.md`), kept fixed by
/// a small connector that behaves the same way.
#[test]
fn an_enrichment_whose_max_tlp_setting_the_gate_does_not_know_is_not_judged_on_it() {
    // Without `--setting max_tlp=…` the last `--setting` wins: an unknown variable the
    // connector does not read would be worse than none, so the case runs without it.
    let console =
        gate_as("INTERNAL_ENRICHMENT", "enrichment", "correct", "correct-without-max-tlp", &["--setting", "max_tlp="], 0);
    assert!(console.contains("ENRICH-004") && console.contains("give it with --setting max_tlp=VAR"), "{console}");
}

/// Field trial (internal-enrichment/ioc-extractor): above its max TLP it sends the job's
/// report back as pycti exported it, with `revoked: false` read from the platform's field —
/// the same report, which the gate once counted as a write.
#[test]
fn an_enrichment_echoing_a_report_as_pycti_exported_it_writes_nothing() {
    gate_as(
        "INTERNAL_ENRICHMENT",
        "enrichment",
        "echoes_above_max_tlp",
        "echoes_above_max_tlp-report",
        &["--scope", "Report"],
        0,
    );
}

/// Field trial (ismalicious, first-epss with `--env …_MAX_TLP=TLP:RED`): the max TLP the
/// operator gives is the one the connector runs with, and the one it is judged against; a
/// value pycti does not know is refused before anything runs.
#[test]
fn an_enrichment_is_judged_against_the_max_tlp_its_operator_gives() {
    let console = gate_as(
        "INTERNAL_ENRICHMENT",
        "enrichment",
        "correct",
        "correct-max-tlp-red",
        &["--env", "CONNECTOR_MAX_TLP=TLP:RED"],
        0,
    );
    assert!(console.contains("no marking is above it"), "{console}");
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--type", "INTERNAL_ENRICHMENT", "--setting", "max_tlp=X_MAX_TLP", "--env", "X_MAX_TLP=amber"])
        .args(["--", "/nonexistent/connector"])
        .output()
        .expect("opencti-mock conform runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("X_MAX_TLP=amber: not a max TLP pycti knows"), "{out:?}");
}

#[test]
fn an_enrichment_acting_through_the_api_on_its_own_scope_is_judged_on_what_it_does() {
    gate_as(
        "INTERNAL_ENRICHMENT",
        "enrichment",
        "labels_through_api",
        "labels_through_api",
        &["--scope", "Report,Malware", "--setting", "max_tlp="],
        0,
    );
}

#[test]
fn an_import_of_text_reports_is_sent_text() {
    gate_as("INTERNAL_IMPORT_FILE", "import_file", "text_reports", "text_reports", &["--scope", "text/plain,text/csv"], 0);
}

/// Field trial (import-file-stix: STIX 1.2 XML closed in error, JSON imported): a file of
/// each type of the scope is sent; one the connector cannot read is a warning (SHOULD), not
/// a failure, as long as it imports another.
#[test]
fn an_import_is_sent_each_type_of_its_scope_and_warned_of_the_ones_it_cannot_read() {
    let console = gate_as(
        "INTERNAL_IMPORT_FILE",
        "import_file",
        "correct",
        "correct-json-and-text",
        &["--scope", "application/json,text/plain"],
        0,
    );
    assert!(console.contains("text/plain (made by the gate): closed in error"), "{console}");
}

#[test]
fn an_import_of_another_json_format_is_not_judged_on_the_gates_sample_but_on_its_own() {
    gate_as("INTERNAL_IMPORT_FILE", "import_file", "event_format", "event_format", &[], 0);
    let sample = format!("application/json={}", root().join("fixtures/conformance/event-sample.json").display());
    gate_as("INTERNAL_IMPORT_FILE", "import_file", "event_format", "event_format-with-sample", &["--sample-file", &sample], 0);
}

#[test]
fn an_import_that_skips_a_run_within_its_interval_is_judged_on_a_run_from_a_reset_state() {
    let console = gate("interval_skip", &[], 0);
    assert_eq!(console.matches("run 3: started").count(), 1, "a third run, after the state reset:\n{console}");
}

/// Runs the gate on the correct EXTERNAL_IMPORT connector under a scenario file; the exit
/// code and the console.
fn gate_under(scenario: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("under-test.yaml");
    std::fs::write(&file, scenario).expect("scenario written");
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["conform", "--type", "EXTERNAL_IMPORT", "--scenario"])
        .arg(&file)
        .args(deployment("EXTERNAL_IMPORT"))
        .arg("--")
        .arg(pycti_python())
        .arg(root().join("fixtures/connectors/conformance/correct.py"))
        .output()
        .expect("opencti-mock conform runs");
    (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn under_a_scenario_a_connector_that_survives_the_faults_passes() {
    // A slow platform: every ping and work edit waits 300 ms.
    let (code, console) = gate_under(
        "name: slow-platform\ntitle: a slow platform\nfaults:\n  - when: { operation: pingConnector }\n    do: { kind: delay, ms: 300 }\n  - when: { operation: workEdit }\n    do: { kind: delay, ms: 300 }\n",
    );
    assert_eq!(code, Some(0), "{console}");
    assert!(console.contains("the connector survived scenario slow-platform: a slow platform"), "{console}");
}

#[test]
fn under_a_scenario_a_connector_that_does_not_survive_fails_with_the_scenario_named() {
    // Every push refused: nothing the connector sends is stored.
    let (code, console) = gate_under(
        "name: push-down\nissue: example/none#1\ntitle: every push refused\nfaults:\n  - when: { operation: stixBundlePush }\n    do: { kind: error, code: DATABASE_ERROR, message: Elasticsearch is down }\n",
    );
    assert_eq!(code, Some(1), "{console}");
    assert!(
        console.contains("the connector did not survive scenario push-down (example/none#1): every push refused"),
        "{console}"
    );
}
