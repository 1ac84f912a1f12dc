//! Differential tests of the broker: the same client conversations (pika as pycti uses it,
//! `fixtures/python/amqp_conversations.py`; lapin as the mock uses it,
//! `tests/common/amqp_conversations.rs`) against the real RabbitMQ and against the second
//! broker, and what the clients observe compared step by step.
//!
//! The second broker is the mock's embedded one (`opencti_mock::embedded_broker`), on a
//! loopback port of its own for each test.
//! The real broker is the one the test command provides (`OPENCTI_MOCK_AMQP_URL`, default
//! the local one, guest/guest).

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Map, Value};

/// The longest the Python conversations may run.
const PIKA_DEADLINE: Duration = Duration::from_secs(120);

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// What keeps the second broker running while its conversations run.
type Guard = opencti_mock::embedded_broker::EmbeddedBroker;

/// The broker compared with RabbitMQ: its URL, and what keeps it up.
async fn second_broker() -> (String, Guard) {
    let broker =
        opencti_mock::embedded_broker::EmbeddedBroker::start(Default::default()).await.expect("the embedded broker starts");
    (broker.url(), broker)
}

/// A fresh name prefix, so that parallel runs never collide.
fn prefix() -> String {
    format!("diff-{}-", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// Runs the pika conversations against `url` and returns their observations.
fn pika_conversations(url: &str, prefix: &str) -> Map<String, Value> {
    let python = common::pycti_python();
    let script = common::root().join("fixtures/python/amqp_conversations.py");
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(url)
        .arg(prefix)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{} starts: {e}", python.display()));
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait on the conversations") {
            break status;
        }
        if start.elapsed() > PIKA_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "the pika conversations against {url} outlasted {PIKA_DEADLINE:?}; stderr:\n{}",
                err.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    assert!(status.success(), "the pika conversations against {url} failed ({status}):\n{err}");
    match serde_json::from_str::<Value>(&out) {
        Ok(Value::Object(m)) => m,
        _ => panic!("the pika conversations printed no JSON object:\n{out}\nstderr:\n{err}"),
    }
}

/// The reference run itself must be clean: every conversation there, none failed.
fn assert_reference_clean(client: &str, reference: &Map<String, Value>, expected: &[&str]) {
    for name in expected {
        assert!(reference.contains_key(*name), "{client}: the reference run has no conversation {name}");
    }
    for (name, steps) in reference {
        for step in steps.as_array().expect("a conversation is a list of steps") {
            let label = step[0].as_str().unwrap_or_default();
            assert!(
                label != "conversation failed" && label != "timeout",
                "{client}: conversation {name} did not run through against RabbitMQ: {step}"
            );
        }
    }
}

/// Every difference, readably: the conversation, the step, both values.
fn differences(reference: &Map<String, Value>, other: &Map<String, Value>) -> Vec<String> {
    let mut out = Vec::new();
    let names: std::collections::BTreeSet<&String> = reference.keys().chain(other.keys()).collect();
    let empty = Vec::new();
    for name in names {
        let a = reference.get(name).and_then(Value::as_array).unwrap_or(&empty);
        let b = other.get(name).and_then(Value::as_array).unwrap_or(&empty);
        for i in 0..a.len().max(b.len()) {
            let (sa, sb) = (a.get(i), b.get(i));
            if sa == sb {
                continue;
            }
            let label = |s: Option<&Value>| s.and_then(|s| s[0].as_str()).unwrap_or("(none)").to_string();
            let value = |s: Option<&Value>| s.map(|s| s[1].to_string()).unwrap_or_else(|| "(no such step)".into());
            let step = if label(sa) == label(sb) { label(sa) } else { format!("{} / {}", label(sa), label(sb)) };
            out.push(format!("{name}, step {i} ({step}):\n    rabbitmq: {}\n    second:   {}", value(sa), value(sb)));
        }
    }
    out
}

/// Both runs' observations, kept under the target's temporary directory for a closer look.
fn keep(client: &str, reference: &Map<String, Value>, other: &Map<String, Value>) -> std::path::PathBuf {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("broker_differential");
    std::fs::create_dir_all(&dir).expect("a directory for the observations");
    for (side, obs) in [("rabbitmq", reference), ("second", other)] {
        let text = serde_json::to_string_pretty(obs).expect("observations serialise");
        std::fs::write(dir.join(format!("{client}-{side}.json")), text).expect("observations written");
    }
    dir
}

fn assert_same(client: &str, reference: &Map<String, Value>, other: &Map<String, Value>, second_url: &str) {
    let kept = keep(client, reference, other);
    let diffs = differences(reference, other);
    assert!(
        diffs.is_empty(),
        "{client}: {} step(s) differ between RabbitMQ and the broker at {second_url} (both runs in {}):\n{}",
        diffs.len(),
        kept.display(),
        diffs.join("\n")
    );
}

const PIKA_CONVERSATIONS: &[&str] = &[
    "pycti_publish",
    "pycti_consume",
    "requeue",
    "close_with_unacked",
    "basic_get",
    "mandatory_unroutable",
    "publish_missing_exchange",
    "passive_missing",
    "inequivalent",
    "deletes",
    "consumer_cancel_notify",
    "unknown_delivery_tag",
    "exclusive_locked",
    "reserved_names",
    "server_named_queue",
    "auth_failure",
    "vhost_missing",
    "heartbeat",
    "ordering",
    "large_message",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pika_observes_the_same_on_both_brokers() {
    let (second, _guard) = second_broker().await;
    let real = broker_url();
    let (p1, p2) = (prefix(), prefix());
    let reference = {
        let (url, p) = (real.clone(), p1.clone());
        tokio::task::spawn_blocking(move || pika_conversations(&url, &p))
    };
    let other = {
        let (url, p) = (second.clone(), p2.clone());
        tokio::task::spawn_blocking(move || pika_conversations(&url, &p))
    };
    let (reference, other) = (reference.await.expect("reference run"), other.await.expect("second run"));
    assert_reference_clean("pika", &reference, PIKA_CONVERSATIONS);
    assert_same("pika", &reference, &other, &second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lapin_observes_the_same_on_both_brokers() {
    let (second, _guard) = second_broker().await;
    let real = broker_url();
    let (p1, p2) = (prefix(), prefix());
    let (reference, other) = tokio::join!(
        common::amqp_conversations::lapin_conversations(&real, &p1),
        common::amqp_conversations::lapin_conversations(&second, &p2),
    );
    assert_reference_clean("lapin", &reference, common::amqp_conversations::CONVERSATIONS);
    assert_same("lapin", &reference, &other, &second);
}
