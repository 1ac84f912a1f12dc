//! Scenarios as the platform runs them: each kind of fault fires at its point and does what
//! it says (request, callback and platform faults; RabbitMQ for the broker faults), a
//! malformed file is refused with its line and key, and the CLI lists, shows and writes
//! scenarios back from a transcript.

mod common;

use std::time::Duration;

use common::{PING, REGISTER, gql, ipv4_bundle, registration};
use opencti_mock::store::jobs::JobStatus;
use opencti_mock::{MockPlatform, Scenario};
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-scenario";
const PUSH: &str =
    "mutation Push($connectorId: String, $bundle: String!) { stixBundlePush(connectorId: $connectorId, bundle: $bundle) }";

fn scenario(yaml: &str) -> Scenario {
    Scenario::from_yaml(yaml, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

async fn platform(yaml: &str) -> MockPlatform {
    MockPlatform::builder().connector_user("[C] scenario", TOKEN).scenario(scenario(yaml)).start().await
}

async fn register(p: &MockPlatform) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    assert!(body["errors"].is_null(), "{body}");
    id
}

async fn ping(p: &MockPlatform, id: &str, state: &str) -> Value {
    let (_, body) = gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": state})).await;
    body["data"]["pingConnector"]["connector_state"].clone()
}

#[tokio::test]
async fn a_stale_state_fault_answers_the_state_before_the_ping_and_stores_the_new_one() {
    let p =
        platform("name: t\ntitle: t\nfaults:\n  - when: { operation: PingConnector, call: 2 }\n    do: { kind: stale_state }\n")
            .await;
    let id = register(&p).await;

    let answers = [ping(&p, &id, "{\"n\":1}").await, ping(&p, &id, "{\"n\":2}").await, ping(&p, &id, "{\"n\":3}").await];

    assert_eq!(answers, [json!("{\"n\":1}"), json!("{\"n\":1}"), json!("{\"n\":3}")]);
    assert_eq!(p.connector(&id).and_then(|c| c.connector_state).as_deref(), Some("{\"n\":3}"));
}

#[tokio::test]
async fn a_state_reset_fires_once_the_platform_received_that_many_bundles() {
    let p = platform("name: t\ntitle: t\nfaults:\n  - when: { after_pushes: 2 }\n    do: { kind: state_reset }\n").await;
    let id = register(&p).await;
    ping(&p, &id, "{\"last_run\":1}").await;

    gql(p.url(), Some(TOKEN), PUSH, json!({"connectorId": id, "bundle": ipv4_bundle(1)})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_one = p.connector(&id).and_then(|c| c.connector_state);
    gql(p.url(), Some(TOKEN), PUSH, json!({"connectorId": id, "bundle": ipv4_bundle(1)})).await;
    let reset = p
        .core()
        .store
        .wait_until(Duration::from_secs(5), |s| s.connectors.get(&id).is_some_and(|c| c.connector_state_reset))
        .await;

    assert_eq!(after_one.as_deref(), Some("{\"last_run\":1}"), "not after one bundle");
    assert!(reset, "reset after the second bundle");
    let notes = p.read(|s| format!("{:?}", s.transcript.entries()));
    assert!(notes.contains("the state of 1 connector(s) reset"), "said in the transcript");
}

#[tokio::test]
async fn timed_and_operation_triggered_faults_act_on_the_running_platform() {
    let p = platform(
        "name: t\ntitle: t\nstreams:\n  - { id: feed, name: the feed }\nfaults:\n  - when: { at: 150ms }\n    do: { kind: stream_stop }\n  - when: { operation: about, call: 2 }\n    do: { kind: ingest, paused: true }\n",
    )
    .await;
    assert!(
        p.read(|s| s.streams.get("feed").is_some_and(|c| c.stream_live && c.name == "the feed")),
        "the scenario's collection"
    );
    let query = "query Health { about { version } }";

    gql(p.url(), Some(TOKEN), query, json!({})).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let paused_after_one = p.read(|s| s.queues.throttle.paused);
    gql(p.url(), Some(TOKEN), query, json!({})).await;
    let paused = p.core().store.wait_until(Duration::from_secs(5), |s| s.queues.throttle.paused).await;
    let stopped =
        p.core().store.wait_until(Duration::from_secs(5), |s| s.streams.get("feed").is_some_and(|c| !c.stream_live)).await;

    assert!(!paused_after_one && paused, "the ingest pauses after the second call only");
    assert!(stopped, "the stream is stopped at 150 ms");
}

#[tokio::test]
async fn callback_faults_fail_the_worker_s_attempts_as_a_proxy_would_and_the_job_is_retried() {
    let p = MockPlatform::builder()
        .connector_user("[C] scenario", TOKEN)
        .scenario(scenario(
            "name: t\ntitle: t\nlimits: { callback_timeout_ms: 200, callback_retry_ms: 20 }\nfaults:\n  - when: { callback: 1 }\n    do: { kind: callback_status, status: 503 }\n  - when: { callback: 2 }\n    do: { kind: callback_timeout }\n",
        ))
        .start()
        .await;
    let endpoint = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(202)).mount(&endpoint).await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut input = registration(&id, "Enricher");
    input["input"]["type"] = json!("INTERNAL_ENRICHMENT");
    input["input"]["scope"] = json!(["IPv4-Addr"]);
    input["input"]["listen_callback_uri"] = json!(format!("{}/api/callback", endpoint.uri()));
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, input).await;
    assert!(body["errors"].is_null(), "{body}");
    let entity = "ipv4-addr--4ba1b3a0-4d8f-5c6b-9f3d-1a2b3c4d5e01";
    p.seed(
        &json!({"type": "bundle", "id": "bundle--0b7a3a52-4c44-4a0e-8b61-9e0d3f9a6c01", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": entity, "value": "198.51.100.7"}]})
        .to_string(),
    )
    .expect("seeded");

    p.ask_enrichment(&id, entity).expect("sent");
    let delivered = p
        .core()
        .store
        .wait_until(Duration::from_secs(10), |s| s.jobs.all().iter().all(|j| j.status == JobStatus::Delivered))
        .await;

    assert!(delivered, "{:?}", p.jobs());
    let statuses: Vec<Option<u16>> = p.jobs()[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(503), None, Some(202)]);
    assert!(p.jobs()[0].attempts[1].detail.contains("callback fault"), "{:?}", p.jobs()[0].attempts[1]);
    assert_eq!(endpoint.received_requests().await.expect("recorded").len(), 1, "the faulty attempts never reached the connector");
}

#[tokio::test]
async fn broker_faults_drop_the_connector_s_consumer_and_delete_its_queue_on_rabbitmq() {
    let url = std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into());
    let p = MockPlatform::builder()
        .connector_user("[C] scenario", TOKEN)
        .amqp_url(&url)
        .expect("a broker URL")
        .scenario(scenario(
            "name: t\ntitle: t\nfaults:\n  - when: { operation: PingConnector, call: 1 }\n    do: { kind: broker_drop }\n  - when: { operation: about, call: 1 }\n    do: { kind: queue_delete, queue: push }\n",
        ))
        .start()
        .await;
    let id = register(&p).await;
    let broker = p.broker().expect("a broker");
    let names = p.core().names.connector(&id);
    let connection = lapin::Connection::connect(&url, lapin::ConnectionProperties::default()).await.expect("connects");
    let channel = connection.create_channel().await.expect("channel");
    let _consumer = channel
        .basic_consume(names.listen.as_str().into(), "scenario-test".into(), Default::default(), Default::default())
        .await
        .expect("consumes");
    // The management API lists a consumer a moment after it is made.
    for _ in 0..50 {
        let consumers = broker.admin().queue(&names.listen).await.ok().flatten().map(|q| q.consumers).unwrap_or(0);
        if consumers > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    ping(&p, &id, "{}").await;
    let mut dropped = false;
    for _ in 0..100 {
        if !connection.status().connected() {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // (not on a ping: the platform declares the connector's queues again on each ping)
    gql(p.url(), Some(TOKEN), "query Health { about { version } }", json!({})).await;
    let mut deleted = false;
    for _ in 0..100 {
        if broker.admin().queue(&names.push).await.expect("management answers").is_none() {
            deleted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    assert!(dropped, "the consuming connection was closed by the broker");
    assert!(deleted, "the push queue is gone");
    assert!(broker.is_connected() || broker.wait_connected(Duration::from_secs(10)).await, "the platform's own connection stays");
}

fn cli(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock")).args(args).output().expect("opencti-mock runs")
}

#[test]
fn a_malformed_scenario_file_is_refused_with_its_line_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.yaml");
    std::fs::write(
        &file,
        "name: bad\ntitle: a typo\nfaults:\n  - when: { operation: PingConnector, cal: 2 }\n    do: { kind: stale_state }\n",
    )
    .expect("written");

    let out = cli(&["serve", "--port", "0", "--scenario", &file.to_string_lossy()]);

    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bad.yaml:4:") && stderr.contains("faults[0].when") && stderr.contains("cal"), "{stderr}");
}

#[test]
fn the_cli_lists_shows_and_writes_a_scenario_back_from_a_transcript() {
    let list = String::from_utf8_lossy(&cli(&["scenario", "list"]).stdout).to_string();
    assert!(
        list.contains("connectors-1789-auth-required-at-start") && list.contains("OpenCTI-Platform/connectors#1789"),
        "{list}"
    );
    let show = cli(&["scenario", "show", "connectors-1789-auth-required-at-start"]);
    let shown = Scenario::from_yaml(&String::from_utf8_lossy(&show.stdout), "shown").expect("show prints a scenario");
    assert_eq!(shown.issue.as_deref(), Some("OpenCTI-Platform/connectors#1789"));

    let dir = tempfile::tempdir().expect("tempdir");
    let transcript = dir.path().join("field-run.json");
    let entries = json!({"platform": {"version": "6.9.17", "profile": "6.9"}, "entries": [
        {"seq": 1, "kind": "operation", "operation_name": "PingConnector", "root_fields": ["pingConnector"], "http_status": 200, "error_codes": [], "user_id": "u"},
        {"seq": 2, "kind": "operation", "operation_name": "PingConnector", "root_fields": ["pingConnector"], "http_status": 502, "error_codes": []}]});
    std::fs::write(&transcript, entries.to_string()).expect("written");
    let out = cli(&["scenario", "from-transcript", &transcript.to_string_lossy()]);
    let written = Scenario::from_yaml(&String::from_utf8_lossy(&out.stdout), "written").expect("a scenario is written");

    assert_eq!(written.name, "field-run");
    assert_eq!(written.faults.len(), 1);
    assert_eq!(written.profile, Some(opencti_mock::Profile::V6_9));
}
