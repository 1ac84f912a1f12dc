//! Broker-wide faults, on the real broker. Each test changes the broker for everyone using
//! it, so nextest runs them alone (`threads-required` in `.config/nextest.toml`).
//!
//! - A broker restart (`rabbitmqctl stop_app` / `start_app`) in the middle of an ingest: the
//!   platform reconnects, re-declares and resumes; nothing is lost, nothing counts twice.
//! - A message over the broker's `max_message_size` (RabbitMQ 4.x ships 16 MiB; this
//!   machine's 3.x broker 128 MiB, lowered here at runtime and restored after): refused by
//!   the broker, as in connectors#3528, and the pycti connector's work says so.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine;
use common::{Client, REGISTER, ServeProcess, WORK_ADD, connector_script, gql, registration, run_connector};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opencti_mock::MockPlatform;
use serde_json::json;

const TOKEN: &str = "tok-faults";

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// `rabbitmqctl`, or the command the test script says reaches the broker's
/// (`OPENCTI_MOCK_RABBITMQCTL`, e.g. `docker exec <container> rabbitmqctl`).
fn rabbitmqctl_command() -> Command {
    let spec = std::env::var("OPENCTI_MOCK_RABBITMQCTL").unwrap_or_else(|_| "rabbitmqctl".into());
    let mut words = spec.split_whitespace();
    let mut cmd = Command::new(words.next().unwrap_or("rabbitmqctl"));
    cmd.args(words);
    cmd
}

fn rabbitmqctl(args: &[&str]) -> String {
    let out = rabbitmqctl_command().args(args).output().unwrap_or_else(|e| panic!("cannot run rabbitmqctl {args:?}: {e}"));
    assert!(out.status.success(), "rabbitmqctl {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_restart_mid_ingest_loses_nothing_and_counts_nothing_twice() {
    // Arrange: a slow worker, K confirmed messages on the push queue.
    const K: usize = 400;
    let p = MockPlatform::builder()
        .amqp_url(&broker_url())
        .expect("AMQP URL")
        .connector_user("faults", TOKEN)
        .ingest_delay(Duration::from_millis(5))
        .amqp_prefetch(16)
        .start()
        .await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Restarted")).await;
    let (_, body) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": id, "friendlyName": "restart"})).await;
    let work_id = body["data"]["workAdd"]["id"].as_str().expect("work").to_string();
    gql(
        p.url(),
        Some(TOKEN),
        "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }",
        json!({"id": work_id, "expectations": K}),
    )
    .await;
    let q = p.core().names.connector(&id);
    {
        let conn = Connection::connect(&broker_url(), ConnectionProperties::default()).await.expect("broker");
        let channel = conn.create_channel().await.expect("channel");
        channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
        for i in 0..K {
            let value = format!("10.77.{}.{}", i / 256, i % 256);
            let sid = opencti_mock::stix::standard_id::standard_id(&json!({"type": "ipv4-addr", "value": value})).expect("id");
            let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()),
                "objects": [{"type": "ipv4-addr", "spec_version": "2.1", "id": sid, "value": value}]});
            let body = json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": null, "action_sequence": 1, "entities_types": [],
                "content": base64::engine::general_purpose::STANDARD.encode(bundle.to_string()), "update": false,
                "draft_id": null, "no_split": false, "work_id": work_id});
            let confirm = channel
                .basic_publish(
                    q.push_exchange.clone().into(),
                    q.push_routing.clone().into(),
                    BasicPublishOptions::default(),
                    body.to_string().as_bytes(),
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .expect("published");
            assert!(confirm.await.expect("confirmed").is_ack(), "message {i} confirmed");
        }
        let _ = conn.close(200, "published".into()).await;
    }
    p.wait_until("ingest under way", Duration::from_secs(30), |s| s.knowledge.received_len() >= 20)
        .await
        .expect("ingest started");
    // Held mid-ingest while the broker restarts, however slow `rabbitmqctl` is on a loaded
    // machine: the worker keeps its unacknowledged deliveries and takes no more.
    p.set_ingest_paused(true);
    let generation = p.broker().expect("broker").generation();

    // Act: restart the broker mid-ingest.
    let restarted = tokio::task::spawn_blocking(|| {
        rabbitmqctl(&["stop_app"]);
        std::thread::sleep(Duration::from_millis(500));
        rabbitmqctl(&["start_app"]);
    })
    .await;
    restarted.expect("the broker restarted");
    let stored_at_restart = p.objects().len();
    p.set_ingest_paused(false);

    // Assert
    let w = p.wait_for_work_complete(&work_id, Duration::from_secs(120)).await.expect("the work completes after the restart");
    assert!(stored_at_restart < K, "the restart happened mid-ingest ({stored_at_restart} of {K} stored)");
    assert!(p.broker().expect("broker").generation() > generation, "the platform reconnected");
    let notes: Vec<String> = p.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter_map(|e| match &e.kind {
                opencti_mock::store::transcript::EntryKind::Worker { message, .. }
                | opencti_mock::store::transcript::EntryKind::Note { message } => Some(message.clone()),
                _ => None,
            })
            .collect()
    });
    assert_eq!(p.objects().len(), K, "exactly K distinct objects; what the platform noted: {notes:#?}");
    assert_eq!((w.import_expected_number, w.import_processed_number), (K as i64, K as i64));
    // A late redelivery would be on the broker or in the worker: wait until both are empty.
    p.wait_idle(Duration::from_secs(30)).await.expect("the platform settles");
    let w = p.work(&work_id).expect("work");
    assert_eq!(w.import_processed_number, K as i64, "no redelivery counted twice, even late");
    let m = p.broker().expect("broker").admin();
    let info = m.queue(&q.push).await.expect("management API").expect("push queue re-declared after the restart");
    assert_eq!(info.name, q.push);
    p.close().await;
}

/// Lowers the broker's `max_message_size` for the life of the guard.
struct MaxMessageSize(String);

impl MaxMessageSize {
    fn set(bytes: u64) -> MaxMessageSize {
        let previous = rabbitmqctl(&["eval", "application:get_env(rabbit, max_message_size)."]);
        let previous = previous.trim_start_matches("{ok,").trim_end_matches('}').to_string();
        rabbitmqctl(&["eval", &format!("application:set_env(rabbit, max_message_size, {bytes}).")]);
        MaxMessageSize(previous)
    }
}

impl Drop for MaxMessageSize {
    fn drop(&mut self) {
        let value =
            if self.0.chars().all(|c| c.is_ascii_digit()) && !self.0.is_empty() { self.0.clone() } else { "134217728".into() };
        let _ = Command::new("rabbitmqctl")
            .args(["eval", &format!("application:set_env(rabbit, max_message_size, {value}).")])
            .output();
    }
}

#[test]
fn a_message_over_the_broker_max_message_size_is_refused_as_in_the_field() {
    // Arrange: a 1 MiB limit, and a connector whose author identity carries 2 MB.
    let _limit = MaxMessageSize::set(1_048_576);
    let url = broker_url();
    let serve = ServeProcess::start(
        &["--connector-user", "importer=tok-importer", "--broker", "required", "--amqp-url", url.as_str()],
        &[],
    );
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    let env = common::import_env(
        &serve.url,
        "tok-importer",
        &id,
        "Oversized",
        "amqp",
        &[("CONNECTOR_SCOPE", "ipv4-addr"), ("TEST_PADDING_BYTES", "2000000")],
    );

    // Act
    let started = Instant::now();
    let out = run_connector(&connector_script("external_import.py"), &env, Duration::from_secs(120));

    // Assert: the broker refused the publish; the connector's work says why.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RUN FAILED"), "the send failed ({:?}):\n{stderr}", started.elapsed());
    let connector = client.control(&serve.admin_token, &format!("connectors/{id}"));
    let work = &connector["work_list"][0];
    let errors = work["errors"].to_string();
    assert!(
        errors.contains("PRECONDITION_FAILED") && errors.contains("larger than configured max size"),
        "the broker's refusal reaches the work: {work}"
    );
    let objects = client.control(&serve.admin_token, "objects");
    assert!(objects.as_array().expect("objects").len() < 7, "the oversized message was not ingested");
}

/// A scenario's whole-broker faults, as the platform runs them: `broker_restart` stops and
/// starts the broker (the platform reconnects), `broker_alarm` blocks every publisher for a
/// while and puts the broker's watermark back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_restarts_the_broker_and_raises_its_memory_alarm_then_restores_it() {
    let scenario = opencti_mock::Scenario::from_yaml(
        "name: broker-down\ntitle: t\nfaults:\n  - when: { operation: about, call: 1 }\n    do: { kind: broker_restart, down_ms: 300 }\n  - when: { operation: about, call: 2 }\n    do: { kind: broker_alarm, ms: 1500 }\n",
        "broker-down.yaml",
    )
    .expect("the scenario reads");
    assert!(scenario.touches_whole_broker());
    let p = MockPlatform::builder().amqp_url(&broker_url()).expect("URL").scenario(scenario).start().await;
    let generation = p.broker().expect("broker").generation();
    let noted = |s: &opencti_mock::store::State, text: &str| {
        s.transcript
            .entries()
            .iter()
            .any(|e| matches!(&e.kind, opencti_mock::store::transcript::EntryKind::Note { message } if message.contains(text)))
    };
    let health = "query Health { about { version } }";

    gql(p.url(), Some(p.token()), health, json!({})).await;
    let restarted =
        p.core().store.wait_until(Duration::from_secs(60), |s| noted(s, "the broker restarted after 300 ms down")).await;
    let reconnected = p.broker().expect("broker").wait_connected(Duration::from_secs(30)).await;
    gql(p.url(), Some(p.token()), health, json!({})).await;
    let alarm_on = {
        let started = Instant::now();
        let mut on = false;
        while started.elapsed() < Duration::from_secs(10) && !on {
            on = tokio::task::spawn_blocking(|| rabbitmqctl(&["eval", "rabbit_alarm:get_alarms()."]))
                .await
                .expect("rabbitmqctl runs")
                .contains("memory");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        on
    };
    let restored = p.core().store.wait_until(Duration::from_secs(60), |s| noted(s, "watermark 0.4 restored")).await;

    assert!(restarted, "{:?}", p.read(|s| format!("{:?}", s.transcript.entries())));
    assert!(reconnected && p.broker().expect("broker").generation() > generation, "the platform reconnected");
    assert!(alarm_on, "the broker raised its memory alarm");
    assert!(restored, "the watermark is put back");
    let watermark = rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]);
    assert_eq!(watermark.trim(), "0.4");
}

/// A whole-broker change is put back even when nothing closes the platform: a test's
/// runtime that ends drops the platform's tasks, and the broker gets its watermark and
/// message size back then (a broker left alarmed would block every publisher on it).
#[test]
fn a_whole_broker_change_is_put_back_when_the_runtime_drops_the_platform() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("a runtime");
    runtime.block_on(async {
        let scenario = opencti_mock::Scenario::from_yaml(
            "name: left-behind\ntitle: t\nlimits: { broker_max_message_size: 1048576 }\nfaults:\n  - when: { at: 0s }\n    do: { kind: broker_alarm, ms: 600000 }\n",
            "left-behind.yaml",
        )
        .expect("the scenario reads");
        let p = MockPlatform::builder().scenario(scenario).start().await;
        let raised = p
            .core()
            .store
            .wait_until(Duration::from_secs(30), |s| {
                s.transcript.entries().iter().any(|e| {
                    matches!(&e.kind, opencti_mock::store::transcript::EntryKind::Note { message } if message.contains("memory alarm is raised"))
                })
            })
            .await;
        assert!(raised, "the alarm was raised");
        assert!(rabbitmqctl(&["eval", "application:get_env(rabbit, max_message_size)."]).contains("1048576"));
        // The platform is dropped here, unclosed, and the runtime with it.
    });
    drop(runtime);

    assert_eq!(rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]).trim(), "0.4");
    assert_eq!(rabbitmqctl(&["eval", "application:get_env(rabbit, max_message_size)."]).trim(), "{ok,134217728}");
}
