//! The Rust test API as a connector test uses it: an unchanged pycti connector started with
//! [`MockPlatform::connector_env`], [`MockPlatform::wait_idle`] instead of sleeps, and
//! expectations on works, bundles and refusals — over HTTP and over RabbitMQ — plus the
//! waits' timeout errors, which say what they saw.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, REGISTER, WORK_ADD, connector_script, gql, registration, run_connector};
use opencti_mock::matchers::{any, completed, connector, objects, without_errors};
use opencti_mock::{ConnectorEnv, Error, Expect, MockPlatform, ReceivedBundle, Refusal, RefusalKind, Work};
use serde_json::json;

const TOKEN: &str = "tok-rust-api";

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// Runs the EXTERNAL_IMPORT fixture connector (run and terminate, `objects` observables)
/// with `env`, off the runtime's threads; panics with its output if it fails.
async fn run_fixture_connector(env: ConnectorEnv, objects: usize) {
    let env = env.scope("ipv4-addr,identity").var("CONNECTOR_RUN_AND_TERMINATE", "true").var("TEST_OBJECTS", objects.to_string());
    let out = tokio::task::spawn_blocking(move || {
        let vars: Vec<(&str, String)> = env.vars().iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        run_connector(&connector_script("external_import.py"), &vars, Duration::from_secs(120))
    })
    .await
    .expect("the connector ran");
    assert!(out.status.success(), "connector failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
}

async fn a_pycti_run_is_awaited_and_verified(platform: MockPlatform) {
    let env = platform.connector_env("EXTERNAL_IMPORT", TOKEN).name("Rust API import");
    let id = env.connector_id().to_string();
    Expect::<Work>::given(connector(&id))
        .and(completed())
        .and(without_errors())
        .expect(1)
        .named("one clean run")
        .mount(&platform);
    Expect::<ReceivedBundle>::given(connector(&id)).and(objects(1..)).expect(1..).named("knowledge sent").mount(&platform);
    Expect::<Refusal>::given(any()).expect(0).named("nothing refused").mount(&platform);

    run_fixture_connector(env, 5).await;
    platform.wait_idle(Duration::from_secs(60)).await.expect("the platform finishes what the connector sent");

    // Idle means done: no wait on the work itself, the knowledge is all there.
    // 1 identity + 5 observables + 5 relationships.
    assert_eq!(platform.objects().iter().filter(|o| o.entity_type.as_ref() != "Marking-Definition").count(), 11);
    let works = platform.works();
    assert_eq!(works.len(), 1);
    assert_eq!((works[0].import_processed_number, works[0].import_expected_number), (11, 11));
    assert!(platform.activity().await.is_idle());
    platform.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pycti_connector_over_http_runs_with_the_platforms_environment_and_wait_idle() {
    let platform = MockPlatform::builder().connector_user("importer", TOKEN).start().await;
    assert_eq!(platform.connector_env("EXTERNAL_IMPORT", TOKEN).get("CONNECTOR_QUEUE_PROTOCOL"), Some("api"));
    a_pycti_run_is_awaited_and_verified(platform).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pycti_connector_over_rabbitmq_runs_with_the_platforms_environment_and_wait_idle() {
    let platform = MockPlatform::builder()
        .amqp_url(&broker_url())
        .expect("a valid AMQP URL")
        .connector_user("importer", TOKEN)
        .start()
        .await;
    assert_eq!(platform.connector_env("EXTERNAL_IMPORT", TOKEN).get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
    a_pycti_run_is_awaited_and_verified(platform).await;
}

/// A registered connector and an open work; returns `(connector id, work id)`.
async fn connector_and_work(p: &MockPlatform) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Rust API")).await;
    assert!(body["errors"].is_null(), "{body}");
    let (_, body) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": id, "friendlyName": "run"})).await;
    let work = body["data"]["workAdd"]["id"].as_str().unwrap_or_else(|| panic!("workAdd: {body}")).to_string();
    (id, work)
}

async fn push(p: &MockPlatform, connector_id: &str, work_id: &str, objects: serde_json::Value) {
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects});
    let (_, body) = gql(
        p.url(),
        Some(TOKEN),
        BUNDLE_PUSH,
        json!({"connectorId": connector_id, "bundle": bundle.to_string(), "work_id": work_id}),
    )
    .await;
    assert_eq!(body["data"]["stixBundlePush"], true, "{body}");
}

fn ipv4(id: &str, value: &str) -> serde_json::Value {
    json!({"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value})
}

#[tokio::test]
async fn wait_idle_waits_for_the_worker_and_a_timeout_says_what_was_left() {
    let p = MockPlatform::builder().connector_user("importer", TOKEN).ingest_paused(true).start().await;
    let (c, w) = connector_and_work(&p).await;
    push(&p, &c, &w, json!([ipv4("ipv4-addr--8b4c3f2e-3c5d-4a3e-9c51-0a5a1c9c6c11", "198.51.100.7")])).await;

    let err = p.wait_idle(Duration::from_millis(300)).await.expect_err("the worker is paused");
    let Error::Timeout { state, .. } = &err else { panic!("{err}") };
    assert!(state.contains("1 message(s) queued for the worker"), "{state}");
    let busy = p.activity().await;
    assert_eq!((busy.queued_messages, busy.messages_in_flight, busy.pending_jobs), (1, 0, 0));

    p.set_ingest_paused(false);
    p.wait_idle(Duration::from_secs(20)).await.expect("idle once ingested");
    assert!(p.object("ipv4-addr--8b4c3f2e-3c5d-4a3e-9c51-0a5a1c9c6c11").is_some());
}

#[tokio::test]
async fn a_work_that_does_not_complete_times_out_saying_what_it_looked_like() {
    let p = MockPlatform::builder().connector_user("importer", TOKEN).ingest_paused(true).start().await;
    let (c, w) = connector_and_work(&p).await;
    push(&p, &c, &w, json!([ipv4("ipv4-addr--8b4c3f2e-3c5d-4a3e-9c51-0a5a1c9c6c11", "198.51.100.7")])).await;

    let err = p.wait_for_work_complete(&w, Duration::from_millis(200)).await.expect_err("the worker is paused");

    let message = err.to_string();
    assert!(message.contains(&format!("work {w} of connector {c}: progress, processed 0 of 1 expected")), "{message}");
}

#[tokio::test]
async fn refusals_are_typed_and_can_be_expected() {
    let p = MockPlatform::builder().connector_user("importer", TOKEN).start().await;
    let refused = Expect::<Refusal>::given(|r: &Refusal| r.kind == RefusalKind::Object).expect(1).mount_as_scoped(&p);
    let (c, w) = connector_and_work(&p).await;

    push(
        &p,
        &c,
        &w,
        json!([
            ipv4("ipv4-addr--8b4c3f2e-3c5d-4a3e-9c51-0a5a1c9c6c11", "198.51.100.7"),
            ipv4("ipv4-addr--0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "not an address"),
        ]),
    )
    .await;
    p.wait_idle(Duration::from_secs(20)).await.expect("idle");

    let got = refused.received();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].connector_id, c);
    assert_eq!(got[0].work_id.as_deref(), Some(w.as_str()));
    assert!(got[0].reason.contains("Observable is not correctly formatted"), "{}", got[0].reason);
}

#[tokio::test]
#[should_panic(expected = "- one clean run: expected exactly 1 matching work(s), received 0\nWorks:\n1. work ")]
async fn a_failed_work_expectation_lists_the_works_with_their_counts_and_first_error() {
    let p = MockPlatform::builder().connector_user("importer", TOKEN).start().await;
    Expect::<Work>::given(completed()).and(without_errors()).expect(1).named("one clean run").mount(&p);
    let (c, w) = connector_and_work(&p).await;
    push(&p, &c, &w, json!([ipv4("ipv4-addr--0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "not an address")])).await;
    p.wait_idle(Duration::from_secs(20)).await.expect("idle");
    let report = p.verify().expect_err("the work has an error");
    assert!(report.contains(": complete, processed 1 of 1 expected, 1 error(s), first: "), "{report}");
}
