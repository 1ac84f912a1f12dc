//! What the AMQP benches share (`benches/amqp.rs`, `benches/broker.rs`): pycti-shaped
//! messages, lapin publishing them persistent on a confirmed channel and consuming them as
//! the mock's worker does, and an in-process platform on a broker with a connector and a
//! work expecting them. Every function takes the broker's URL or the platform, so the same
//! measure runs on RabbitMQ and on the embedded broker.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, ConfirmSelectOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, PublisherConfirm};
use opencti_mock::stix::standard_id::standard_id;
use opencti_mock::{BrokerMode, MockPlatform};
use serde_json::{Value, json};

use super::common::{REGISTER, WORK_ADD, registration};
use super::sim::ADD_EXPECTATIONS;

/// Publisher confirms outstanding at most.
pub const WINDOW: usize = 1000;
/// The consumer's prefetch (the mock's worker's default).
pub const PREFETCH: u16 = 64;
/// The connector user's token on the benches' platforms.
pub const TOKEN: &str = "tok-bench";

/// The RabbitMQ the benches use: `OPENCTI_MOCK_AMQP_URL`, default the local guest/guest one.
pub fn rabbitmq_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// pycti's `_send_bundle` message for the `i`-th one-object bundle: an ipv4-addr
/// observable with a distinct value and its standard id.
pub fn message(i: usize, work_id: &str) -> Vec<u8> {
    let value = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    let id = standard_id(&json!({"type": "ipv4-addr", "value": value})).expect("an id");
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()),
        "objects": [{"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value}]})
    .to_string();
    super::sim::amqp_message(&bundle, i, work_id)
}

/// `n` messages of a work.
pub fn messages(n: usize, work_id: &str) -> Vec<Vec<u8>> {
    (0..n).map(|i| message(i, work_id)).collect()
}

/// A lapin connection to the broker at `url`.
pub async fn connect(url: &str) -> Connection {
    Connection::connect(url, ConnectionProperties::default()).await.expect("the broker answers")
}

/// A channel in confirm mode.
pub async fn confirmed_channel(conn: &Connection) -> Channel {
    let channel = conn.create_channel().await.expect("a channel");
    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    channel
}

/// Declares a durable queue with a fresh name starting with `prefix`; its name.
pub async fn durable_queue(channel: &Channel, prefix: &str) -> String {
    let queue = format!("{prefix}-{}", uuid::Uuid::new_v4());
    channel
        .queue_declare(queue.clone().into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default())
        .await
        .expect("queue declared");
    queue
}

/// The messages `queue` holds, as a passive `queue.declare` answers.
pub async fn queue_depth(channel: &Channel, queue: &str) -> u32 {
    channel
        .queue_declare(queue.into(), QueueDeclareOptions { passive: true, ..Default::default() }, FieldTable::default())
        .await
        .expect("the queue exists")
        .message_count()
}

/// Deletes `queue`.
pub async fn delete_queue(channel: &Channel, queue: &str) {
    channel.queue_delete(queue.into(), QueueDeleteOptions::default()).await.expect("queue deleted");
}

async fn await_confirm(confirm: PublisherConfirm) {
    assert!(confirm.await.expect("confirmed").is_ack(), "the broker acknowledged the message");
}

/// Publishes every body persistent (as pycti: delivery_mode 2, content_encoding utf-8),
/// at most `WINDOW` confirms outstanding; returns once the last one is in.
pub async fn publish_all(channel: &Channel, exchange: &str, routing: &str, bodies: &[Vec<u8>]) {
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
pub async fn consume(channel: Channel, queue: &str, n: usize) -> Instant {
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
            .unwrap_or_else(|_| panic!("a delivery within 60 s ({seen} of {n} received)"))
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

/// Messages per second.
pub fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// A broker's own rates with lapin alone (msg/s).
pub struct Ceiling {
    /// Messages per measure.
    pub n: usize,
    /// Their mean size in bytes.
    pub message_bytes: usize,
    /// Published while consumed: first publish → last ack.
    pub both: f64,
    /// How long publishing took in that measure.
    pub both_published: Duration,
    /// Published with nobody consuming.
    pub publish: f64,
    /// That backlog drained.
    pub consume: f64,
}

/// `n` pycti-shaped persistent messages published on a confirmed channel to a temporary
/// durable queue while a consumer (its own connection, prefetch 64, manual ack) takes
/// them; then as many published with nobody consuming, and that backlog drained.
pub async fn ceiling(url: &str, n: usize) -> Ceiling {
    let bodies = messages(n, "work_bench_ceiling");
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let publisher = connect(url).await;
    let consumer_conn = connect(url).await;
    let channel = confirmed_channel(&publisher).await;
    let queue = durable_queue(&channel, "bench-amqp").await;

    // Publish and consume at the same time.
    let consumer = {
        let channel = consumer_conn.create_channel().await.expect("a channel");
        let queue = queue.clone();
        tokio::spawn(async move { consume(channel, &queue, n).await })
    };
    // Let the consumer attach before the clock starts.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let both_published = t0.elapsed();
    let last_ack = consumer.await.expect("consumer task");
    let both = rate(n, last_ack.duration_since(t0));

    // Publish with nobody consuming, then drain the backlog.
    let t0 = Instant::now();
    publish_all(&channel, "", &queue, &bodies).await;
    let publish = rate(n, t0.elapsed());
    let t0 = Instant::now();
    let last_ack = consume(consumer_conn.create_channel().await.expect("a channel"), &queue, n).await;
    let consume = rate(n, last_ack.duration_since(t0));

    delete_queue(&channel, &queue).await;
    let _ = publisher.close(200, "done".into()).await;
    let _ = consumer_conn.close(200, "done".into()).await;
    Ceiling { n, message_bytes: bytes / n, both, both_published, publish, consume }
}

/// Which broker an in-process platform uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The RabbitMQ of [`rabbitmq_url`].
    RabbitMq,
    /// The broker embedded in the platform.
    Embedded,
}

/// The platform's GraphQL answer to `query`, which must hold no error.
pub async fn gql(url: &str, query: &str, variables: Value) -> Value {
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

/// An in-process platform with a registered EXTERNAL_IMPORT connector and a work
/// expecting `n` messages.
pub struct IngestPlatform {
    /// The platform.
    pub platform: MockPlatform,
    /// The connector's id.
    pub connector_id: String,
    /// The work's id.
    pub work_id: String,
    /// The URL of the broker the platform uses.
    pub broker_url: String,
    /// Messages the work expects.
    pub n: usize,
}

impl IngestPlatform {
    /// Starts it on `on`, its ingest paused or not.
    pub async fn start(on: On, n: usize, paused: bool) -> IngestPlatform {
        let builder = MockPlatform::builder();
        let builder = match on {
            On::RabbitMq => builder.amqp_url(&rabbitmq_url()).expect("a valid AMQP URL"),
            On::Embedded => builder.broker_mode(BrokerMode::Embedded),
        };
        let platform = builder.connector_user("bench", TOKEN).ingest_paused(paused).start().await;
        let broker_url = match on {
            On::RabbitMq => rabbitmq_url(),
            On::Embedded => platform.broker().and_then(|b| b.embedded()).expect("the platform runs the embedded broker").url(),
        };
        let connector_id = uuid::Uuid::new_v4().to_string();
        gql(platform.url(), REGISTER, registration(&connector_id, "AMQP Bench")).await;
        let work_id = gql(platform.url(), WORK_ADD, json!({"connectorId": connector_id, "friendlyName": "amqp bench"})).await
            ["data"]["workAdd"]["id"]
            .as_str()
            .expect("a work id")
            .to_string();
        gql(platform.url(), ADD_EXPECTATIONS, json!({"id": work_id, "expectations": n})).await;
        IngestPlatform { platform, connector_id, work_id, broker_url, n }
    }

    /// Waits until the work is complete with every object stored (panics otherwise).
    pub async fn wait_complete(&self) {
        let p = &self.platform;
        if let Err(e) = p.wait_for_work_complete(&self.work_id, Duration::from_secs(600)).await {
            let w = p.work(&self.work_id);
            panic!(
                "{e}: expected {:?}, processed {:?}, objects {}",
                w.as_ref().map(|w| w.import_expected_number),
                w.as_ref().map(|w| w.import_processed_number),
                p.objects().len()
            );
        }
        let w = p.work(&self.work_id).expect("the work");
        assert_eq!(w.import_expected_number, self.n as i64);
        assert_eq!(w.import_processed_number, self.n as i64);
        assert_eq!(p.objects().len(), self.n);
    }

    /// Stops the platform.
    pub async fn close(self) {
        self.platform.close().await;
    }
}

/// The mock's ingest of `n` messages, published as pycti's `_send_bundle` does to the
/// connector's push queue: live (published while the platform consumes, first publish →
/// work complete) or, `backlog`, published while its ingest is paused and timed from the
/// resumption. The rate (msg/s) and how long publishing took.
pub async fn ingest(on: On, n: usize, backlog: bool) -> (f64, Duration) {
    let p = IngestPlatform::start(on, n, backlog).await;
    let q = p.platform.core().names.connector(&p.connector_id);
    let bodies = messages(n, &p.work_id);
    let conn = connect(&p.broker_url).await;
    let channel = confirmed_channel(&conn).await;

    let t0 = Instant::now();
    publish_all(&channel, &q.push_exchange, &q.push_routing, &bodies).await;
    let published = t0.elapsed();
    let t0 = if backlog {
        let resumed = Instant::now();
        p.platform.set_ingest_paused(false);
        resumed
    } else {
        t0
    };
    p.wait_complete().await;
    let complete = t0.elapsed();
    let _ = conn.close(200, "done".into()).await;
    p.close().await;
    (rate(n, complete), published)
}
