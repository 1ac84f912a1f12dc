//! The platform's RabbitMQ side on the real broker, driven with lapin: provisioning exactly
//! as the platform declares (checked through the management API), the worker's handling of
//! good and bad messages, dead letters, jobs, queue figures, isolation of two platforms on
//! one broker, clean-up, and a dropped connection for one platform.
//!
//! The broker is the one the test command provides (`OPENCTI_MOCK_AMQP_URL`, default the
//! local guest/guest broker).

mod common;

use std::time::Duration;

use base64::Engine;
use common::{REGISTER, WORK_ADD, gql, registration};
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opencti_mock::MockPlatform;
use opencti_mock::amqp::management::Management;
use serde_json::{Value, json};

const TOKEN: &str = "tok-amqp";
const ADD_EXPECTATIONS: &str = "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }";
const WORK_QUERY: &str = "query WorkQuery($id: ID!) { work(id: $id) { id status tracking { import_expected_number import_processed_number } errors { message source } } }";
const QUEUE_DETAILS: &str =
    "query GetConnector($id: String!) { connector(id: $id) { id connector_queue_details { messages_number messages_size } } }";

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

async fn platform(
    configure: impl FnOnce(opencti_mock::MockPlatformBuilder) -> opencti_mock::MockPlatformBuilder,
) -> MockPlatform {
    let builder = MockPlatform::builder().amqp_url(&broker_url()).expect("a valid AMQP URL").connector_user("amqp", TOKEN);
    configure(builder).start().await
}

async fn register(p: &MockPlatform, name: &str) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, name)).await;
    assert!(body["errors"].is_null(), "registration failed: {body}");
    id
}

async fn add_work(p: &MockPlatform, connector: &str, expectations: i64) -> String {
    let (_, body) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": connector, "friendlyName": "amqp run"})).await;
    let id = body["data"]["workAdd"]["id"].as_str().unwrap_or_else(|| panic!("workAdd failed: {body}")).to_string();
    if expectations > 0 {
        gql(p.url(), Some(TOKEN), ADD_EXPECTATIONS, json!({"id": id, "expectations": expectations})).await;
    }
    id
}

async fn work(p: &MockPlatform, id: &str) -> Value {
    gql(p.url(), Some(TOKEN), WORK_QUERY, json!({"id": id})).await.1["data"]["work"].clone()
}

/// RabbitMQ's management API for the platform's broker (these tests run on the real one).
fn management(p: &MockPlatform) -> Management {
    let e = p.broker().expect("the platform has a broker").endpoint().clone();
    Management::new(&e.management_host, e.management_port, &e.username, &e.password, &e.vhost).expect("management client")
}

/// A publisher as pycti's `_send_bundle` is one: a confirmed channel.
struct Publisher {
    _conn: Connection,
    channel: lapin::Channel,
}

impl Publisher {
    async fn new() -> Publisher {
        let conn = Connection::connect(&broker_url(), ConnectionProperties::default()).await.expect("the broker answers");
        let channel = conn.create_channel().await.expect("a channel");
        channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
        Publisher { _conn: conn, channel }
    }

    async fn publish(&self, exchange: &str, routing: &str, body: &[u8]) {
        let confirm = self
            .channel
            .basic_publish(
                exchange.into(),
                routing.into(),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2).with_content_encoding("utf-8".into()),
            )
            .await
            .expect("published");
        assert!(confirm.await.expect("confirmed").is_ack(), "the broker acknowledged the message");
    }

    /// Publishes to a connector's push queue as pycti does.
    async fn push(&self, p: &MockPlatform, connector: &str, body: &[u8]) {
        let q = p.core().names.connector(connector);
        self.publish(&q.push_exchange, &q.push_routing, body).await;
    }
}

/// pycti's `QUEUE_BUNDLE` message for a bundle text.
fn queue_bundle(bundle: &str, work_id: Option<&str>, sequence: i64) -> Vec<u8> {
    let mut m = json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": null, "action_sequence": sequence,
        "entities_types": [], "content": base64::engine::general_purpose::STANDARD.encode(bundle),
        "update": false, "draft_id": null, "no_split": false});
    if let Some(w) = work_id {
        m["work_id"] = json!(w);
    }
    m.to_string().into_bytes()
}

fn ipv4(i: usize) -> Value {
    let value = format!("10.9.{}.{}", i / 256, i % 256);
    let id = opencti_mock::stix::standard_id::standard_id(&json!({"type": "ipv4-addr", "value": value})).expect("an id");
    json!({"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value})
}

fn one_object_bundle(object: &Value) -> String {
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": [object]}).to_string()
}

/// A platform on the broker, a registered connector and a publisher.
async fn setup(
    name: &str,
    configure: impl FnOnce(opencti_mock::MockPlatformBuilder) -> opencti_mock::MockPlatformBuilder,
) -> (MockPlatform, String, Publisher) {
    let p = platform(configure).await;
    let id = register(&p, name).await;
    (p, id, Publisher::new().await)
}

/// The platform's notes in the transcript.
fn notes(p: &MockPlatform) -> Vec<String> {
    use opencti_mock::store::transcript::EntryKind;
    p.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Note { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    })
}

/// Messages ready in a queue (a passive declare).
async fn ready(publisher: &Publisher, queue: &str) -> u32 {
    publisher
        .channel
        .queue_declare(
            queue.into(),
            lapin::options::QueueDeclareOptions { passive: true, ..Default::default() },
            FieldTable::default(),
        )
        .await
        .expect("passive declare")
        .message_count()
}

#[tokio::test]
async fn registration_declares_the_platform_queues_arguments_and_bindings() {
    let p = platform(|b| b).await;
    let id = register(&p, "Declared Importer").await;
    let m = management(&p);
    let q = p.core().names.connector(&id);
    let prefix = p.core().names.prefix().to_string();
    assert!(prefix.starts_with("mock") && prefix.ends_with('_'), "an instance prefix: {prefix}");

    for queue in [&q.listen, &q.push] {
        let info = m.queue(queue).await.expect("management API").unwrap_or_else(|| panic!("{queue} declared"));
        assert!(info.durable, "{queue} is durable");
        assert_eq!(
            info.arguments,
            json!({"name": "Declared Importer", "config": {"id": id, "type": "EXTERNAL_IMPORT", "scope": ["ipv4-addr"]}, "x-queue-type": "classic"}),
            "{queue} has the platform's arguments"
        );
    }
    let listen_bindings = m.queue_bindings(&q.listen).await.expect("bindings");
    assert!(
        listen_bindings
            .iter()
            .any(|b| b["source"] == q.listen_exchange.as_str() && b["routing_key"] == q.listen_routing.as_str()),
        "{listen_bindings:?}"
    );
    let push_bindings = m.queue_bindings(&q.push).await.expect("bindings");
    assert!(
        push_bindings.iter().any(|b| b["source"] == q.push_exchange.as_str() && b["routing_key"] == q.push_routing.as_str()),
        "{push_bindings:?}"
    );
    for exchange in [&q.listen_exchange, &q.push_exchange] {
        let e = m.exchange(exchange).await.expect("management API").unwrap_or_else(|| panic!("{exchange} declared"));
        assert_eq!(e["type"], "direct");
        assert_eq!(e["durable"], true);
    }
    let dead = format!("{prefix}listen_too-large-bundle");
    assert!(m.queue(&dead).await.expect("management API").is_some(), "{dead} declared at start");
    // The registration hands out the broker actually in use.
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Declared Importer")).await;
    let connection = &body["data"]["registerConnector"]["config"]["connection"];
    assert_eq!(connection["port"], p.broker().expect("broker").endpoint().port);
    assert_eq!(body["data"]["registerConnector"]["config"]["push"], q.push.as_str());

    p.close().await;
    for queue in [&q.listen, &q.push, &dead] {
        assert!(m.queue(queue).await.expect("management API").is_none(), "{queue} removed at shutdown");
    }
    assert!(m.exchange(&q.push_exchange).await.expect("management API").is_none(), "prefixed exchange removed");
}

#[tokio::test]
async fn a_ping_redeclares_lost_queues_and_delete_and_reset_act_on_the_broker() {
    let (p, id, publisher) = setup("Pinged Importer", |b| b.ingest_paused(true)).await;
    let m = management(&p);
    let q = p.core().names.connector(&id);

    // A queue deleted behind the platform's back comes back on the next ping.
    publisher.channel.queue_delete(q.push.clone().into(), Default::default()).await.expect("deleted");
    assert!(m.queue(&q.push).await.expect("management API").is_none());
    let (_, body) = gql(p.url(), Some(TOKEN), common::PING, json!({"id": id, "state": null})).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(m.queue(&q.push).await.expect("management API").is_some(), "re-declared by the ping");

    // A reset purges: a job waiting in listen_<id> is gone.
    p.broker().expect("broker").publish_job(&id, &json!({"internal": {"work_id": "w"}})).await.expect("job published");
    let before = ready(&publisher, &q.listen).await;
    assert_eq!(before, 1, "the job waits in {}", q.listen);
    let (_, body) =
        gql(p.url(), Some(TOKEN), "mutation ResetState($id: ID!) { resetStateConnector(id: $id) { id } }", json!({"id": id}))
            .await;
    assert!(body["errors"].is_null(), "{body}");
    let after = ready(&publisher, &q.listen).await;
    assert_eq!(after, 0, "purged by the reset");

    // Deleting the connector deletes both queues.
    let (_, body) =
        gql(p.url(), Some(TOKEN), "mutation ConnectorDeletion($id: ID!) { deleteConnector(id: $id) }", json!({"id": id})).await;
    assert!(body["errors"].is_null(), "{body}");
    assert!(m.queue(&q.push).await.expect("management API").is_none());
    assert!(m.queue(&q.listen).await.expect("management API").is_none());
    p.close().await;
}

#[tokio::test]
async fn pycti_shaped_messages_are_ingested_and_complete_the_work() {
    let (p, id, publisher) = setup("Queue Importer", |b| b).await;
    let n = 20;
    let work_id = add_work(&p, &id, n as i64).await;

    for i in 0..n {
        publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&ipv4(i)), Some(&work_id), i as i64 + 1)).await;
    }

    let w = p.wait_for_work_complete(&work_id, Duration::from_secs(30)).await.expect("work completes");
    assert_eq!(w.import_expected_number, n as i64);
    assert_eq!(w.import_processed_number, n as i64);
    assert_eq!(p.objects().len(), n);
    let amqp_bundles = p.received_bundles().iter().filter(|b| b.transport == "amqp").count();
    assert_eq!(amqp_bundles, n, "each message recorded as an AMQP bundle");
    let gw = work(&p, &work_id).await;
    assert_eq!(gw["status"], "complete");
    p.close().await;
}

#[tokio::test]
async fn a_multi_object_message_is_split_by_the_worker_which_adds_the_expectations() {
    let (p, id, publisher) = setup("Split Importer", |b| b).await;
    // The platform's own message shape (stixBundlePush): one expectation for the message.
    let work_id = add_work(&p, &id, 1).await;
    let objects: Vec<Value> = (0..5).map(ipv4).collect();
    let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": objects}).to_string();
    let body = json!({"type": "bundle", "applicant_id": null, "content": base64::engine::general_purpose::STANDARD.encode(&bundle), "work_id": work_id, "update": true});

    publisher.push(&p, &id, body.to_string().as_bytes()).await;

    p.wait_until("5 objects", Duration::from_secs(20), |s| s.knowledge.received_len() == 5).await.expect("split and ingested");
    let w = p.work(&work_id).expect("work");
    assert_eq!(w.import_expected_number, 6, "1 for the message, 5 added by the split");
    assert_eq!(w.import_processed_number, 5);
    p.close().await;
}

#[tokio::test]
async fn invalid_messages_are_rejected_without_requeue_and_the_consumer_goes_on() {
    let (p, id, publisher) = setup("Invalid Messages", |b| b).await;
    let work_id = add_work(&p, &id, 1).await;

    publisher.push(&p, &id, b"{not json").await;
    publisher.push(&p, &id, br#"{"bundle_type":"QUEUE_BUNDLE","content":"***not base64***"}"#).await;
    publisher.push(&p, &id, json!({"type": "telepathy", "content": ""}).to_string().as_bytes()).await;
    publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&ipv4(1)), Some(&work_id), 1)).await;

    p.wait_for_work_complete(&work_id, Duration::from_secs(20)).await.expect("the valid message after them is processed");
    let rejected = p.refusals();
    assert_eq!(rejected.len(), 3, "{rejected:#?}");
    assert!(rejected.iter().all(|r| r.kind == opencti_mock::RefusalKind::Message && r.connector_id == id), "{rejected:#?}");
    assert!(rejected[0].reason.contains("not a JSON object"), "{}", rejected[0]);
    assert!(rejected[1].reason.contains("not base64"), "{}", rejected[1]);
    assert!(rejected[2].reason.contains("Unsupported event type 'telepathy'"), "{}", rejected[2]);
    // Nothing is left on the queue: rejected messages are not requeued.
    let q = p.core().names.connector(&id);
    let declared = ready(&publisher, &q.push).await;
    assert_eq!(declared, 0);
    p.close().await;
}

#[tokio::test]
async fn messages_of_a_work_no_longer_alive_are_dropped_and_said_so() {
    let (p, id, publisher) = setup("Dead Work", |b| b).await;
    let work_id = add_work(&p, &id, 1).await;
    gql(
        p.url(),
        Some(TOKEN),
        "mutation workDelete($workId: ID!) { workEdit(id: $workId) { delete } }",
        json!({"workId": work_id}),
    )
    .await;

    publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&ipv4(2)), Some(&work_id), 1)).await;

    p.wait_until("the drop", Duration::from_secs(20), |s| {
        s.transcript.entries().iter().any(|e| {
            matches!(
                &e.kind,
                opencti_mock::store::transcript::EntryKind::Worker {
                    event: opencti_mock::store::transcript::WorkerEvent::Dropped,
                    ..
                }
            )
        })
    })
    .await
    .expect("dropped with a transcript note");
    assert!(p.objects().is_empty(), "nothing stored");
    p.close().await;
}

#[tokio::test]
async fn an_object_with_too_many_references_goes_to_the_dead_letter_queue() {
    let (p, id, publisher) = setup("Dead Letters", |b| b.objects_max_refs(3)).await;
    let work_id = add_work(&p, &id, 1).await;
    let report = json!({"type": "report", "spec_version": "2.1", "id": "report--11111111-1111-4111-8111-111111111111",
        "name": "big", "published": "2026-01-01T00:00:00Z", "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z",
        "object_refs": ["ipv4-addr--1", "ipv4-addr--2", "ipv4-addr--3"]});
    let prefix = p.core().names.prefix().to_string();
    let dead = format!("{prefix}listen_too-large-bundle");
    let consumer_channel = publisher._conn.create_channel().await.expect("channel");
    let mut consumer = consumer_channel
        .basic_consume(dead.clone().into(), "test".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume the dead-letter queue");

    let dead_lettered = opencti_mock::Expect::given(|r: &opencti_mock::Refusal| r.kind == opencti_mock::RefusalKind::DeadLetter)
        .expect(1)
        .mount_as_scoped(&p);

    publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&report), Some(&work_id), 1)).await;

    let w = p.wait_for_work_complete(&work_id, Duration::from_secs(20)).await.expect("work completes");
    assert_eq!(w.errors.len(), 1);
    assert_eq!(w.errors[0].message, "Too large element in bundle");
    assert!(dead_lettered.wait_until_satisfied(Duration::from_secs(10)).await, "the dead letter is a typed refusal");
    let refusal = &dead_lettered.received()[0];
    assert_eq!((refusal.source.as_deref(), refusal.work_id.as_deref()), (report["id"].as_str(), Some(work_id.as_str())));
    let delivery = tokio::time::timeout(Duration::from_secs(10), consumer.next())
        .await
        .expect("a dead letter arrives")
        .expect("a delivery")
        .expect("no error");
    delivery.acker.ack(BasicAckOptions::default()).await.expect("ack");
    let message: Value = serde_json::from_slice(&delivery.data).expect("JSON");
    let content =
        base64::engine::general_purpose::STANDARD.decode(message["content"].as_str().expect("content")).expect("base64");
    let object: Value = serde_json::from_slice(&content).expect("the object");
    assert_eq!(object["id"], report["id"]);
    assert_eq!(object["rejection_info"]["reject_reason"], "ELEMENT_TOO_LARGE");
    assert_eq!(object["rejection_info"]["objects_max_refs"], 3);
    assert_eq!(object["rejection_info"]["original_connector_id"], id.as_str());
    assert_eq!(message["work_id"], work_id.as_str());
    assert!(p.objects().is_empty());
    p.close().await;
}

#[tokio::test]
async fn a_published_job_lands_in_the_listen_queue_persistent() {
    let (p, id, publisher) = setup("Job Receiver", |b| b).await;
    let q = p.core().names.connector(&id);
    let job = json!({"internal": {"work_id": "work_1", "applicant_id": "u"}, "event": {"entity_id": "x"}});

    p.broker().expect("broker").publish_job(&id, &job).await.expect("published and confirmed");

    let channel = publisher._conn.create_channel().await.expect("channel");
    let mut consumer = channel
        .basic_consume(q.listen.clone().into(), "job-test".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consume");
    let d = tokio::time::timeout(Duration::from_secs(10), consumer.next()).await.expect("a job").expect("delivery").expect("ok");
    assert_eq!(serde_json::from_slice::<Value>(&d.data).expect("JSON"), job);
    assert_eq!(d.properties.delivery_mode(), &Some(2), "persistent");
    d.acker.ack(BasicAckOptions::default()).await.expect("ack");
    p.close().await;
}

#[tokio::test]
async fn queue_details_report_the_broker_backlog() {
    let (p, id, publisher) = setup("Backlog", |b| b.ingest_paused(true)).await;
    for i in 0..10 {
        publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&ipv4(i)), None, 1)).await;
    }

    // The management API refreshes its figures every few seconds, as the platform sees them
    // (later on a loaded machine: the wait ends as soon as they are there).
    let mut details = Value::Null;
    for _ in 0..240 {
        details =
            gql(p.url(), Some(TOKEN), QUEUE_DETAILS, json!({"id": id})).await.1["data"]["connector"]["connector_queue_details"]
                .clone();
        if details["messages_number"].as_f64() == Some(10.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(details["messages_number"].as_f64(), Some(10.0), "{details}");
    assert!(details["messages_size"].as_f64().unwrap_or(0.0) > 1000.0, "bytes reported: {details}");
    p.set_ingest_paused(false);
    p.wait_until("the backlog ingested", Duration::from_secs(20), |s| s.knowledge.received_len() == 10).await.expect("ingested");
    p.close().await;
}

#[tokio::test]
async fn two_platforms_on_one_broker_never_see_each_other() {
    let a = platform(|b| b).await;
    let b = platform(|b| b).await;
    assert_ne!(a.core().names.prefix(), b.core().names.prefix());
    // The same connector id registered on both.
    let id = register(&a, "Shared Id").await;
    let (_, body) = gql(b.url(), Some(TOKEN), REGISTER, registration(&id, "Shared Id")).await;
    assert!(body["errors"].is_null(), "{body}");
    let publisher = Publisher::new().await;

    publisher.push(&a, &id, &queue_bundle(&one_object_bundle(&ipv4(7)), None, 1)).await;
    publisher.push(&b, &id, &queue_bundle(&one_object_bundle(&ipv4(8)), None, 1)).await;
    publisher.push(&b, &id, &queue_bundle(&one_object_bundle(&ipv4(9)), None, 1)).await;

    a.wait_until("a's object", Duration::from_secs(20), |s| s.knowledge.received_len() == 1).await.expect("a ingests its own");
    b.wait_until("b's objects", Duration::from_secs(20), |s| s.knowledge.received_len() == 2).await.expect("b ingests its own");
    // Idle: a's queues and worker are empty, so nothing of b's is on its way to a.
    a.wait_idle(Duration::from_secs(20)).await.expect("a settles");
    assert_eq!(a.objects().len(), 1);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn a_dropped_connection_is_restored_and_consumption_resumes() {
    let (p, id, publisher) = setup("Dropped", |b| b).await;
    let broker = p.broker().expect("broker").clone();
    let before = broker.generation();

    // The management API lists a connection once its statistics have been emitted.
    let mut closed = 0;
    for _ in 0..80 {
        closed = broker.admin().close_connections_named(broker.connection_name()).await.expect("management API");
        if closed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(closed >= 1, "this platform's connection closed");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while broker.generation() == before || !broker.is_connected() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "reconnected within 30 s (generation {}, connected {}); transcript: {:#?}",
            broker.generation(),
            broker.is_connected(),
            p.read(|s| s
                .transcript
                .entries()
                .iter()
                .map(|e| format!("{:?}", e.kind))
                .filter(|k| k.starts_with("Note"))
                .collect::<Vec<_>>())
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let work_id = add_work(&p, &id, 1).await;
    publisher.push(&p, &id, &queue_bundle(&one_object_bundle(&ipv4(3)), Some(&work_id), 1)).await;

    p.wait_for_work_complete(&work_id, Duration::from_secs(20)).await.expect("consumption resumed");
    let notes = notes(&p);
    assert!(notes.iter().any(|n| n.contains("connection lost")), "{notes:#?}");
    assert!(notes.iter().any(|n| n.contains("connection restored")), "{notes:#?}");
    p.close().await;
}

#[tokio::test]
async fn platform_event_messages_create_update_and_delete_as_the_worker_imports_them() {
    let (p, id, publisher) = setup("Sync Events", |b| b).await;
    let work_id = add_work(&p, &id, 3).await;
    let event = |kind: &str, data: Value| {
        let content = json!({"type": kind, "data": data, "context": {}}).to_string();
        json!({"type": "event", "applicant_id": null, "content": base64::engine::general_purpose::STANDARD.encode(content),
            "work_id": work_id, "update": true})
        .to_string()
        .into_bytes()
    };
    let observable = ipv4(42);
    let mut described = observable.clone();
    described["x_opencti_description"] = json!("updated by a sync");

    publisher.push(&p, &id, &event("create", observable.clone())).await;
    publisher.push(&p, &id, &event("update", described)).await;
    p.wait_until("the update", Duration::from_secs(20), |s| {
        s.works.get(&work_id).is_some_and(|w| w.import_processed_number == 2)
    })
    .await
    .expect("create and update imported");
    assert_eq!(p.objects().len(), 1, "the update upserted the created object");
    publisher.push(&p, &id, &event("merge", observable.clone())).await;
    publisher.push(&p, &id, &event("delete", observable.clone())).await;

    let w = p.wait_for_work_complete(&work_id, Duration::from_secs(20)).await.expect("work completes");
    assert_eq!(w.import_processed_number, 3);
    assert!(p.objects().is_empty(), "deleted by the delete event");
    let refused = p.refusals();
    assert!(
        refused
            .iter()
            .any(|r| r.kind == opencti_mock::RefusalKind::Message && r.reason.contains("Unsupported operation type 'merge'")),
        "{refused:#?}"
    );
    p.close().await;
}
