//! Which broker a platform uses: the configured RabbitMQ when it answers, else (`auto`) the
//! embedded broker — said at start-up, in `/_mock/health`, in the transcript and in what
//! registration hands to connectors; `rabbitmq` refuses to start without it; `container`
//! starts a throwaway RabbitMQ (testcontainers) and refuses without a Docker engine.
//!
//! This machine has no Docker engine: the container branch then prints why it is not
//! exercised (shown in the test output, `.config/nextest.toml`).

use opencti_mock::MockPlatform;
use opencti_mock::amqp::container::docker_available;
use opencti_mock::config::BrokerMode;
use opencti_mock::store::transcript::EntryKind;

/// Nothing listens on port 1.
const DEAD_BROKER: &str = "amqp://guest:guest@127.0.0.1:1/%2F";

#[tokio::test]
async fn an_unreachable_rabbitmq_gives_the_embedded_broker_said_everywhere() {
    let p = MockPlatform::builder().amqp_url(DEAD_BROKER).expect("a valid URL").broker_mode(BrokerMode::Auto).start().await;
    let b = p.broker().expect("the embedded broker");
    let embedded = b.embedded().expect("embedded");
    assert!(embedded.local_addr().ip().is_loopback(), "loopback by default: {}", embedded.local_addr());

    let health: serde_json::Value =
        reqwest::get(format!("{}/_mock/health", p.url())).await.expect("health answers").json().await.expect("JSON");
    let broker = &health["transports"]["broker"];
    assert_eq!((broker["mode"].as_str(), broker["broker"].as_str()), (Some("amqp"), Some("embedded")), "{health}");
    assert_eq!(broker["embedded"]["listen"], embedded.local_addr().to_string());
    assert_eq!(broker["admin"]["kind"], "in-process");
    assert_eq!(health["transports"]["queue"], serde_json::json!(["amqp", "api"]), "{health}");
    let noted = p.read(|s| {
        s.transcript.entries().iter().any(
            |e| matches!(&e.kind, EntryKind::Note { message } if message.contains("127.0.0.1:1") && message.contains("embedded broker")),
        )
    });
    assert!(noted, "the transcript says why");

    // Registration hands connectors the embedded broker, not the dead one.
    let env = p.connector_env("EXTERNAL_IMPORT", p.token());
    assert_eq!(env.get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
    assert_eq!(b.endpoint().port, embedded.local_addr().port());
    p.close().await;
}

#[tokio::test]
async fn rabbitmq_mode_without_rabbitmq_stops_the_start_with_the_reason() {
    let err = MockPlatform::builder().amqp_url(DEAD_BROKER).expect("a valid URL").try_start().await.expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("mock.broker = rabbitmq") && message.contains("127.0.0.1:1"), "{message}");
}

#[tokio::test]
async fn a_container_is_started_on_request_and_refused_without_a_docker_engine() {
    let started = MockPlatform::builder().broker_mode(BrokerMode::Container).try_start().await;
    match docker_available() {
        Ok(()) => {
            let p = started.expect("a container broker");
            let b = p.broker().expect("a broker");
            assert!(b.source().starts_with("container rabbitmq:4"), "{}", b.source());
            p.close().await;
        }
        Err(reason) => {
            eprintln!("container broker not exercised: {reason} — checking the refusal instead");
            let message = started.expect_err("refused without Docker").to_string();
            assert!(message.contains("mock.broker = container"), "{message}");
        }
    }
}

#[test]
fn serve_says_it_runs_the_embedded_broker_when_no_rabbitmq_answers_and_refuses_to_start_when_rabbitmq_is_required() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["serve", "--port", "0", "--amqp-url", DEAD_BROKER])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("starts");
    let stdout = child.stdout.take().expect("piped");
    let transport = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.trim_start().starts_with("transport:"))
        .expect("a transport line in the banner");
    let _ = child.kill();
    let _ = child.wait();
    assert!(transport.contains("embedded broker") && transport.contains("amqp://guest@127.0.0.1:"), "{transport}");

    for mode in ["rabbitmq", "required"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
            .args(["serve", "--port", "0", "--amqp-url", DEAD_BROKER, "--broker", mode])
            .output()
            .expect("runs");
        assert!(!out.status.success(), "--broker {mode} without RabbitMQ does not start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("a RabbitMQ broker is required"), "{stderr}");
    }
}
