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
//! The broker is `OPENCTI_MOCK_AMQP_URL` (default the local guest/guest broker). Each
//! figure of the mock is shown beside the broker's own in the same run. Quick mode
//! (`BENCH_QUICK=1`): 2,000 messages.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

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

mod support;
use support::{Figure, quick, selected, size};

/// Messages per measure.
fn n() -> usize {
    size(50_000, 2_000)
}
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
    support::sim::amqp_message(&bundle, i, work_id)
}

fn messages(work_id: &str) -> Vec<Vec<u8>> {
    (0..n()).map(|i| message(i, work_id)).collect()
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

/// The broker's own rates (msg/s): publish+consume, publish-only, consume-only.
struct Ceiling {
    both: f64,
    publish: f64,
    consume: f64,
}

async fn broker_ceiling() -> Ceiling {
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
        tokio::spawn(async move { consume(channel, &queue, n()).await })
    };
    // Let the consumer attach before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let published = t0.elapsed();
    let last_ack = consumer.await.expect("consumer task");
    let both = last_ack.duration_since(t0);
    let ceiling_both = rate(n(), both);
    Figure::new(
        "amqp.broker_both",
        format!(
            "broker alone (lapin): {} persistent pycti messages of ~{} B published (confirms window {WINDOW}) while consumed (prefetch {PREFETCH})",
            n(),
            bytes / n()
        ),
        ceiling_both,
        "msg/s",
    )
    .compared(format!("publishing took {:.0} ms", published.as_secs_f64() * 1000.0))
    .report();

    // Publish with nobody consuming, then drain the backlog.
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let published = t0.elapsed();
    let ceiling_publish = rate(n(), published);
    Figure::new("amqp.broker_publish", "  broker alone: publish-only", ceiling_publish, "msg/s").report();
    let t0 = Instant::now();
    let last_ack = consume(consumer_conn.create_channel().await.expect("a channel"), &queue, n()).await;
    let drained = last_ack.duration_since(t0);
    let ceiling_consume = rate(n(), drained);
    Figure::new("amqp.broker_consume", "  broker alone: consume-only (a queued backlog)", ceiling_consume, "msg/s").report();

    channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await.expect("queue deleted");
    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer_conn.close(200, "done".into()).await;
    Ceiling { both: ceiling_both, publish: ceiling_publish, consume: ceiling_consume }
}

/// A platform on the broker with a registered connector and a work expecting `n()`
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
    gql(p.url(), ADD_EXPECTATIONS, json!({"id": work, "expectations": n()})).await;
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
    assert_eq!(w.import_expected_number, n() as i64);
    assert_eq!(w.import_processed_number, n() as i64);
    assert_eq!(p.objects().len(), n());
}

/// "broker alone: …" when the ceiling was measured in this run.
fn beside(what: &str, broker: Option<f64>) -> String {
    broker.map(|r| format!("broker alone, {what}: {} msg/s", support::number(r))).unwrap_or_default()
}

async fn mock_ingest_live(ceiling: Option<&Ceiling>) {
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
    Figure::new(
        "amqp.ingest_live",
        format!("mock AMQP ingest: {} pycti one-object messages, first publish → work complete", n()),
        rate(n(), complete),
        "msg/s",
    )
    .compared(format!(
        "{}; publishing took {:.0} ms",
        beside("publish+consume", ceiling.map(|c| c.both)),
        published.as_secs_f64() * 1000.0
    ))
    .at_least(5000.0)
    .report();
    let _ = conn.close(200, "done".into()).await;
    p.close().await;
}

async fn mock_ingest_backlog(ceiling: Option<&Ceiling>) {
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
    Figure::new(
        "amqp.ingest_backlog",
        format!("mock AMQP ingest of a queued backlog of {}, ingest resumed → work complete", n()),
        rate(n(), complete),
        "msg/s",
    )
    .compared(format!(
        "{}; queuing them took {:.0} ms (broker publish-only {})",
        beside("consume-only", ceiling.map(|c| c.consume)),
        published.as_secs_f64() * 1000.0,
        ceiling.map(|c| format!("{} msg/s", support::number(c.publish))).unwrap_or_else(|| "not measured".into())
    ))
    .at_least(5000.0)
    .report();
    let _ = conn.close(200, "done".into()).await;
    p.close().await;
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut ceiling = None;
    if selected("broker") {
        ceiling = Some(rt.block_on(broker_ceiling()));
    }
    if selected("ingest_live") {
        rt.block_on(mock_ingest_live(ceiling.as_ref()));
    }
    if selected("ingest_backlog") {
        rt.block_on(mock_ingest_backlog(ceiling.as_ref()));
    }
    if quick() {
        println!("amqp: quick mode, figures not judged");
    }
}
