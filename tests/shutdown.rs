//! Stopping a platform leaves nothing running: `MockPlatform::close` returns once every
//! task the platform started has ended (worker loops, job lanes, the automatic enrichment,
//! the broker's supervisor, consumers and settlements), and dropping a platform cancels
//! them all. Each test holds the platform's `Tasks` (a clone of the tracker) past the
//! handle, so it can tell what is still running after the handle is gone.
//!
//! The RabbitMQ test uses the broker the test command provides (`OPENCTI_MOCK_AMQP_URL`,
//! default the local guest/guest broker).

mod common;

use std::time::Duration;

use base64::Engine;
use common::{BUNDLE_PUSH, REGISTER, gql, ipv4_bundle, registration};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opencti_mock::MockPlatform;
use opencti_mock::tasks::Tasks;
use serde_json::json;

const TOKEN: &str = "tok-shutdown";
const ENTITY: &str = "ipv4-addr--4ba1b3a0-4d8f-5c6b-9f3d-1a2b3c4d5e01";
/// Only bounds a failure: every wait below ends as soon as what it waits for happens.
const BOUND: Duration = Duration::from_secs(20);

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

fn kinds(tasks: &Tasks) -> Vec<&'static str> {
    tasks.live().into_iter().map(|(kind, _)| kind).collect()
}

/// Registers an EXTERNAL_IMPORT connector as pycti does; returns its id.
async fn register_importer(p: &MockPlatform) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "shutdown importer")).await;
    assert!(body["errors"].is_null(), "registration failed: {body}");
    id
}

/// A platform with ingest paused and a message queued for a registered importer: the
/// connector's worker loop waits. Returns the platform and its tasks.
async fn paused_with_a_queued_message() -> (MockPlatform, Tasks) {
    let p = MockPlatform::builder().connector_user("[C] shutdown", TOKEN).ingest_paused(true).start().await;
    let tasks = p.core().tasks.clone();
    let importer = register_importer(&p).await;
    let (_, body) = gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": importer, "bundle": ipv4_bundle(3)})).await;
    assert!(body["errors"].is_null(), "push failed: {body}");
    assert_eq!(p.read(|s| s.queues.pending(&importer)), 3, "the bundle waits in the queue, one message an object");
    (p, tasks)
}

#[tokio::test]
async fn close_returns_once_every_task_the_platform_started_has_ended() {
    let (p, tasks) = paused_with_a_queued_message().await;

    // A job lane stuck in a POST its connector never answers.
    let callback = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let uri = format!("http://{}/api/callback", callback.local_addr().expect("an address"));
    let enricher = uuid::Uuid::new_v4().to_string();
    let input = json!({"input": {"id": enricher, "name": "shutdown enricher", "type": "INTERNAL_ENRICHMENT",
        "scope": ["IPv4-Addr"], "auto": false, "auto_update": false, "enrichment_resolution": "none", "only_contextual": false,
        "playbook_compatible": false, "listen_callback_uri": uri, "version": null, "slug": null}});
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, input).await;
    assert!(body["errors"].is_null(), "registration failed: {body}");
    p.seed(
        &json!({"type": "bundle", "id": "bundle--0b7a3a52-4c44-4a0e-8b61-9e0d3f9a6c01", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": ENTITY, "value": "198.51.100.7"}]})
        .to_string(),
    )
    .expect("seeded");
    p.ask_enrichment(&enricher, ENTITY).expect("sent");
    let (_held, _) = tokio::time::timeout(BOUND, callback.accept()).await.expect("the lane posts the job").expect("accepted");

    // The automatic enrichment runs from the start of serving (which answered the requests above).
    let running = kinds(&tasks);
    for kind in ["worker queue loop", "job lane", "auto enrichment"] {
        assert!(running.contains(&kind), "a {kind} runs before the close: {running:?}");
    }
    assert_eq!(p.tasks_running(), tasks.len());

    p.close().await;
    assert_eq!(tasks.live(), vec![], "every task ended");
    assert!(tasks.is_empty(), "the tracker is empty");
    assert!(tasks.is_cancelled());
}

#[tokio::test]
async fn dropping_a_platform_cancels_every_task() {
    let (p, tasks) = paused_with_a_queued_message().await;
    assert!(kinds(&tasks).contains(&"worker queue loop"));

    drop(p);
    assert!(tasks.is_cancelled(), "the drop cancels the token");
    // The drop cannot wait; the tasks end on their own once cancelled.
    assert_eq!(tasks.close_and_wait(BOUND).await, Ok(()));
}

#[tokio::test]
async fn a_platform_on_rabbitmq_closes_with_its_consumers_and_supervisor_ended() {
    let p = MockPlatform::builder()
        .amqp_url(&broker_url())
        .expect("a valid AMQP URL")
        .connector_user("[C] shutdown", TOKEN)
        .ingest_paused(true)
        .start()
        .await;
    let tasks = p.core().tasks.clone();
    let broker = p.broker().expect("the platform is on the broker").clone();
    let connector = register_importer(&p).await;
    let running = kinds(&tasks);
    for kind in ["amqp supervisor", "amqp consumer"] {
        assert!(running.contains(&kind), "a {kind} runs once the connector is registered: {running:?}");
    }

    // A delivery taken by the consumer and queued (ingest paused): its settlement waits.
    let conn = Connection::connect(&broker_url(), ConnectionProperties::default()).await.expect("the broker answers");
    let channel = conn.create_channel().await.expect("a channel");
    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let q = p.core().names.connector(&connector);
    let body = json!({"type": "bundle", "applicant_id": null, "content": base64::engine::general_purpose::STANDARD.encode(ipv4_bundle(2)),
        "update": false});
    let confirm = channel
        .basic_publish(
            q.push_exchange.as_str().into(),
            q.push_routing.as_str().into(),
            BasicPublishOptions::default(),
            body.to_string().as_bytes(),
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("published");
    assert!(confirm.await.expect("confirmed").is_ack());
    p.wait_until("the delivery to be queued", BOUND, |s| s.queues.pending(&connector) > 0).await.expect("queued");
    // The consumer spawns the settlement right after queueing, with no await between, and
    // this test's runtime has one thread: it is there by now.
    assert!(kinds(&tasks).contains(&"amqp settle"), "{:?}", tasks.live());

    p.close().await;
    assert_eq!(tasks.live(), vec![], "every task ended");
    assert!(tasks.is_empty(), "the tracker is empty");
    assert!(!broker.is_connected(), "the connection is closed");
    let _ = conn.close(200, "done".into()).await;
}
