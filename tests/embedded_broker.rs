//! The embedded broker as an operator and a hostile client see it: what no differential
//! test can compare with RabbitMQ on a shared broker (a memory alarm, a restart, a message
//! size limit, closing a client's connection — whole-broker acts), and bytes no client
//! sends. The server stays up whatever arrives.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::{BasicConsumeOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opencti_mock::embedded_broker::{EmbeddedBroker, EmbeddedOptions};

async fn broker() -> EmbeddedBroker {
    EmbeddedBroker::start(EmbeddedOptions::default()).await.expect("the embedded broker starts")
}

async fn connect(b: &EmbeddedBroker) -> Connection {
    Connection::connect(&b.url(), ConnectionProperties::default()).await.expect("lapin connects")
}

async fn serves(b: &EmbeddedBroker) {
    let conn = connect(b).await;
    let ch = conn.create_channel().await.expect("a channel");
    ch.queue_declare("still-up".into(), QueueDeclareOptions::default(), FieldTable::default()).await.expect("a declaration");
    conn.close(200, "bye".into()).await.expect("a clean close");
}

/// Sends raw bytes on a fresh socket and returns what the server answered before closing.
fn raw(b: &EmbeddedBroker, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(b.local_addr()).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    s.write_all(bytes).expect("writes");
    let mut answer = Vec::new();
    let _ = s.read_to_end(&mut answer);
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_no_client_sends_close_that_connection_only() {
    let b = broker().await;
    // Another protocol: the server names its own and closes (the specification's answer).
    let answer = tokio::task::block_in_place(|| raw(&b, b"GET / HTTP/1.1\r\n\r\n"));
    assert_eq!(answer, b"AMQP\x00\x00\x09\x01");
    // The header, then garbage where `start-ok` should be: closed, nothing else breaks.
    let mut bytes = b"AMQP\x00\x00\x09\x01".to_vec();
    bytes.extend_from_slice(&[1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 1, 2]);
    let answer = tokio::task::block_in_place(|| raw(&b, &bytes));
    assert!(answer.len() > 8, "the server sent connection.start before closing");
    serves(&b).await;
    assert!(b.connections().is_empty(), "no connection left behind");
}

#[tokio::test]
async fn a_wrong_password_is_refused_as_rabbitmq_refuses_it() {
    let b = broker().await;
    let url = b.url().replace("guest:guest", "guest:wrong");
    let Err(err) = Connection::connect(&url, ConnectionProperties::default()).await else {
        panic!("a wrong password is refused")
    };
    assert!(err.to_string().contains("ACCESS_REFUSED"), "{err}");
    serves(&b).await;
}

#[tokio::test]
async fn a_message_over_the_size_limit_closes_the_channel_with_precondition_failed() {
    let b = broker().await;
    b.set_max_message_size(1000);
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.expect("a channel");
    ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    ch.queue_declare("sized".into(), QueueDeclareOptions::default(), FieldTable::default()).await.expect("declared");
    let published = ch
        .basic_publish("".into(), "sized".into(), BasicPublishOptions::default(), &[b'x'; 2000], BasicProperties::default())
        .await;
    let outcome = match published {
        Ok(confirm) => confirm.await.map(|_| ()),
        Err(e) => Err(e),
    };
    let err = outcome.expect_err("refused");
    assert!(err.to_string().contains("message size 2000 is larger than configured max size 1000"), "{err}");
    assert_eq!(b.queue("sized").expect("queue").messages, 0, "nothing arrived");
}

#[tokio::test]
async fn a_memory_alarm_blocks_publishers_until_it_clears() {
    let b = broker().await;
    let conn = connect(&b).await;
    let mut events = conn.events_listener();
    let ch = conn.create_channel().await.expect("a channel");
    ch.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    ch.queue_declare("alarmed".into(), QueueDeclareOptions::default(), FieldTable::default()).await.expect("declared");
    let publish = |body: &'static [u8]| {
        let ch = ch.clone();
        async move {
            ch.basic_publish("".into(), "alarmed".into(), BasicPublishOptions::default(), body, BasicProperties::default())
                .await
                .expect("sent")
                .await
                .expect("confirmed")
        }
    };
    publish(b"before").await;

    b.set_memory_alarm(true);
    let blocked = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(e) = events.next().await {
            if matches!(e, lapin::Event::ConnectionBlocked(_)) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(blocked, Ok(true), "a publisher is told connection.blocked");
    let held = tokio::spawn(publish(b"during"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!held.is_finished(), "not confirmed while the alarm holds");
    assert_eq!(b.queue("alarmed").expect("queue").messages, 1);

    b.set_memory_alarm(false);
    tokio::time::timeout(Duration::from_secs(5), held).await.expect("confirmed once cleared").expect("the task");
    assert_eq!(b.queue("alarmed").expect("queue").messages, 2);
}

#[tokio::test]
async fn closing_a_consumer_s_connection_gives_its_deliveries_back_redelivered() {
    let b = broker().await;
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.expect("a channel");
    ch.queue_declare("work".into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default())
        .await
        .expect("declared");
    ch.basic_publish("".into(), "work".into(), BasicPublishOptions::default(), b"job", BasicProperties::default())
        .await
        .expect("published");
    let mut consumer = ch
        .basic_consume("work".into(), "worker".into(), BasicConsumeOptions::default(), FieldTable::default())
        .await
        .expect("consuming");
    let first = consumer.next().await.expect("a delivery").expect("ok");
    assert!(!first.redelivered);
    assert_eq!(b.queue("work").expect("queue").messages_unacknowledged, 1);

    assert_eq!(b.close_consumers_of("work", "closed by a test"), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let other = connect(&b).await;
    let ch = other.create_channel().await.expect("a channel");
    let again = ch.basic_get("work".into(), BasicGetOptions { no_ack: true }).await.expect("get").expect("the job is back");
    assert!(again.delivery.redelivered, "given back redelivered");
    assert_eq!(again.delivery.data, b"job");
}

#[tokio::test]
async fn a_restart_keeps_durable_queues_with_their_persistent_messages() {
    let b = broker().await;
    let conn = connect(&b).await;
    let ch = conn.create_channel().await.expect("a channel");
    ch.queue_declare("durable".into(), QueueDeclareOptions { durable: true, ..Default::default() }, FieldTable::default())
        .await
        .expect("declared");
    ch.queue_declare("transient".into(), QueueDeclareOptions::default(), FieldTable::default()).await.expect("declared");
    for (body, mode) in [(&b"kept"[..], 2), (&b"lost"[..], 1)] {
        let props = BasicProperties::default().with_delivery_mode(mode);
        ch.basic_publish("".into(), "durable".into(), BasicPublishOptions::default(), body, props).await.expect("published");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    b.restart(Duration::from_millis(300)).await;

    assert!(b.queue("transient").is_none(), "a transient queue does not survive");
    assert_eq!(b.queue("durable").expect("a durable queue survives").messages, 1, "only the persistent message");
    assert!(b.connections().is_empty(), "every connection was closed");
    serves(&b).await;
}
