//! AMQP benchmarks on the local RabbitMQ (a bench binary, not timed tests): `cargo bench --bench amqp`.
//!
//! 1. The broker's own ceiling, with lapin alone: 50,000 pycti-shaped one-object messages
//!    published persistent on a confirmed channel (confirms pipelined in a sliding window)
//!    to a temporary durable queue while a lapin consumer (prefetch 64, manual ack, its own
//!    connection) consumes them; then the same number published with no consumer, and that
//!    backlog drained by the consumer.
//! 2. The mock's AMQP ingest: an in-process platform on the broker, a registered
//!    EXTERNAL_IMPORT connector, a work expecting 50,000 messages, and the messages
//!    published exactly as pycti's `_send_bundle` does to the connector's push queue, timed
//!    from the first publish to the work being complete.
//! 3. The same with the messages queued while the platform's ingest is paused, timed from
//!    the resumption: the worker's own rate.
//!
//! The broker is `OPENCTI_MOCK_AMQP_URL` (default the local guest/guest broker).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, PublisherConfirm};
use opencti_mock::MockPlatform;
use opencti_mock::stix::standard_id::standard_id;
use serde_json::{Value, json};

const N: usize = 50_000;
/// Publisher confirms outstanding at most.
const WINDOW: usize = 1000;
const PREFETCH: u16 = 64;
const TOKEN: &str = "tok-bench";

/// pycti's registration document (pycti 7.261026.0 `OpenCTIApiConnector.register`).
const REGISTER: &str = "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id connector_state jwks config { connection { host vhost use_ssl port user pass } s3 { endpoint port use_ssl bucket_name bucket_region access_key secret_key } listen listen_routing listen_exchange push push_routing push_exchange } connector_user_id } }";
/// pycti's `workAdd` document.
const WORK_ADD: &str = "mutation workAdd($connectorId: String!, $friendlyName: String, $isMultiPartWork: Boolean) { workAdd(connectorId: $connectorId, friendlyName: $friendlyName, isMultiPartWork: $isMultiPartWork) { id } }";
/// pycti's `addExpectations` document.
const ADD_EXPECTATIONS: &str = "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }";

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// Registration variables of an EXTERNAL_IMPORT connector, as pycti sends them.
fn registration(id: &str, name: &str) -> Value {
    json!({"input": {"id": id, "name": name, "type": "EXTERNAL_IMPORT", "scope": ["ipv4-addr"], "auto": false,
        "auto_update": false, "enrichment_resolution": "none", "only_contextual": false, "playbook_compatible": false,
        "listen_callback_uri": null, "version": null, "slug": null}})
}

async fn gql(url: &str, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("{url}/graphql"))
        .bearer_auth(TOKEN)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    assert!(body["errors"].is_null(), "GraphQL error: {body}");
    body
}

/// pycti's `_send_bundle` message for the `i`-th one-object bundle: an ipv4-addr
/// observable with a distinct value and its standard id.
fn message(i: usize, work_id: &str) -> Vec<u8> {
    let value = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let id = standard_id(&json!({"type": "ipv4-addr", "value": value})).expect("an id");
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": [{"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value}]})
    .to_string();
    json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": null, "action_sequence": i, "entities_types": [],
        "content": base64::engine::general_purpose::STANDARD.encode(bundle), "update": false, "draft_id": null,
        "no_split": false, "work_id": work_id})
    .to_string()
    .into_bytes()
}

fn messages(work_id: &str) -> Vec<Vec<u8>> {
    (0..N).map(|i| message(i, work_id)).collect()
}

async fn connect() -> Connection {
    Connection::connect(&broker_url(), ConnectionProperties::default()).await.expect("the broker answers")
}

async fn confirmed_channel(conn: &Connection) -> Channel {
    let channel = conn.create_channel().await.expect("a channel");
    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    channel
}

async fn await_confirm(confirm: PublisherConfirm) {
    assert!(confirm.await.expect("confirmed").is_ack(), "the broker acknowledged the message");
}

/// Publishes every body persistent (as pycti: delivery_mode 2, content_encoding utf-8),
/// at most `WINDOW` confirms outstanding; returns once the last one is in.
async fn publish_all(channel: &Channel, exchange: &str, routing: &str, bodies: &[Vec<u8>]) {
    let mut pending = VecDeque::with_capacity(WINDOW + 1);
    for body in bodies {
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2).with_content_encoding("utf-8".into()),
            )
            .await
            .expect("published");
        pending.push_back(confirm);
        if pending.len() > WINDOW {
            await_confirm(pending.pop_front().expect("pending")).await;
        }
    }
    for confirm in pending {
        await_confirm(confirm).await;
    }
}

/// Consumes `n` messages from `queue` on a fresh channel (prefetch 64, one ack each) and
/// returns when the last ack has been sent.
async fn consume(channel: Channel, queue: &str, n: usize) -> Instant {
    channel.basic_qos(PREFETCH, BasicQosOptions::default()).await.expect("qos");
    let mut consumer = channel
        .basic_consume(queue.into(), "bench-consumer".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume");
    let mut seen = 0;
    let mut acks = Vec::with_capacity(n);
    while seen < n {
        let delivery = tokio::time::timeout(Duration::from_secs(60), consumer.next())
            .await
            .expect("a delivery within 60 s")
            .expect("the consumer goes on")
            .expect("no error");
        // Acks are not awaited one by one (each await is a trip through lapin's I/O loop):
        // like the mock's worker, each is settled by its own task.
        acks.push(tokio::spawn(async move { delivery.acker.ack(BasicAckOptions::default()).await.expect("ack") }));
        seen += 1;
    }
    for ack in acks {
        ack.await.expect("ack task");
    }
    let done = Instant::now();
    channel.close(200, "done".into()).await.expect("channel closed");
    done
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

async fn broker_ceiling() {
    let bodies = messages("work_bench_ceiling");
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let publisher = connect().await;
    let consumer_conn = connect().await;
    let channel = confirmed_channel(&publisher).await;
    let queue = format!("bench-amqp-{}", uuid::Uuid::new_v4());
    channel
        .queue_declare(queue.clone().into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default())
        .await
        .expect("queue declared");

    // Publish and consume at the same time.
    let consumer = {
        let channel = consumer_conn.create_channel().await.expect("a channel");
        let queue = queue.clone();
        tokio::spawn(async move { consume(channel, &queue, N).await })
    };
    // Let the consumer attach before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let published = t0.elapsed();
    let last_ack = consumer.await.expect("consumer task");
    let both = last_ack.duration_since(t0);
    println!(
        "broker ceiling (lapin, {N} persistent messages of ~{} B, confirms window {WINDOW}, consumer prefetch {PREFETCH}): publish+consume {:.0} msg/s ({:.0} ms first publish → last ack; publishing took {:.0} ms)",
        bytes / N,
        rate(N, both),
        both.as_secs_f64() * 1000.0,
        published.as_secs_f64() * 1000.0
    );

    // Publish with nobody consuming, then drain the backlog.
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let published = t0.elapsed();
    println!(
        "broker ceiling: publish-only {:.0} msg/s ({:.0} ms to the last confirm)",
        rate(N, published),
        published.as_secs_f64() * 1000.0
    );
    let t0 = Instant::now();
    let last_ack = consume(consumer_conn.create_channel().await.expect("a channel"), &queue, N).await;
    let drained = last_ack.duration_since(t0);
    println!(
        "broker ceiling: consume-only (backlog of {N}) {:.0} msg/s ({:.0} ms)",
        rate(N, drained),
        drained.as_secs_f64() * 1000.0
    );

    channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await.expect("queue deleted");
    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer_conn.close(200, "done".into()).await;
}

/// A platform on the broker with a registered connector and a work expecting `N`
/// messages; returns the platform, the connector id, the work id.
async fn platform(paused: bool) -> (MockPlatform, String, String) {
    let p = MockPlatform::builder()
        .amqp_url(&broker_url())
        .expect("a valid AMQP URL")
        .connector_user("bench", TOKEN)
        .ingest_paused(paused)
        .start()
        .await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), REGISTER, registration(&id, "AMQP Bench")).await;
    let work = gql(p.url(), WORK_ADD, json!({"connectorId": id, "friendlyName": "amqp bench"})).await["data"]["workAdd"]["id"]
        .as_str()
        .expect("a work id")
        .to_string();
    gql(p.url(), ADD_EXPECTATIONS, json!({"id": work, "expectations": N})).await;
    (p, id, work)
}

async fn wait_complete(p: &MockPlatform, work_id: &str) {
    if let Err(e) = p.wait_for_work_complete(work_id, Duration::from_secs(600)).await {
        let w = p.work(work_id);
        panic!(
            "{e}: expected {:?}, processed {:?}, objects {}",
            w.as_ref().map(|w| w.import_expected_number),
            w.as_ref().map(|w| w.import_processed_number),
            p.objects().len()
        );
    }
    let w = p.work(work_id).expect("the work");
    assert_eq!(w.import_expected_number, N as i64);
    assert_eq!(w.import_processed_number, N as i64);
    assert_eq!(p.objects().len(), N);
}

async fn mock_ingest_live() {
    let (p, id, work_id) = platform(false).await;
    let q = p.core().names.connector(&id);
    let bodies = messages(&work_id);
    let conn = connect().await;
    let channel = confirmed_channel(&conn).await;

    let t0 = Instant::now();
    publish_all(&channel, &q.push_exchange, &q.push_routing, &bodies).await;
    let published = t0.elapsed();
    wait_complete(&p, &work_id).await;
    let complete = t0.elapsed();
    println!(
        "mock AMQP ingest ({N} pycti one-object messages, worker consuming while published): {:.0} msg/s ({:.0} ms first publish → work complete; publishing took {:.0} ms) (target ≥ 5000 msg/s)",
        rate(N, complete),
        complete.as_secs_f64() * 1000.0,
        published.as_secs_f64() * 1000.0
    );
    let _ = conn.close(200, "done".into()).await;
    p.close().await;
}

async fn mock_ingest_backlog() {
    let (p, id, work_id) = platform(true).await;
    let q = p.core().names.connector(&id);
    let bodies = messages(&work_id);
    let conn = connect().await;
    let channel = confirmed_channel(&conn).await;
    let t0 = Instant::now();
    publish_all(&channel, &q.push_exchange, &q.push_routing, &bodies).await;
    let published = t0.elapsed();

    let t0 = Instant::now();
    p.set_ingest_paused(false);
    wait_complete(&p, &work_id).await;
    let complete = t0.elapsed();
    println!(
        "mock AMQP ingest of a queued backlog of {N} (ingest resumed → work complete): {:.0} msg/s ({:.0} ms; queuing them took {:.0} ms) (target ≥ 5000 msg/s)",
        rate(N, complete),
        complete.as_secs_f64() * 1000.0,
        published.as_secs_f64() * 1000.0
    );
    let _ = conn.close(200, "done".into()).await;
    p.close().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    if run("broker") {
        rt.block_on(broker_ceiling());
    }
    if run("ingest_live") {
        rt.block_on(mock_ingest_live());
    }
    if run("ingest_backlog") {
        rt.block_on(mock_ingest_backlog());
    }
}
