//! Where the broker comes from when the configured one does not answer: a RabbitMQ
//! container when a Docker engine is there (testcontainers), else HTTP-only, said at
//! start-up, in `/_mock/health` and in the transcript; `required` refuses to start.
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
async fn an_unreachable_broker_gives_a_container_with_docker_else_http_only_said_everywhere() {
    let p = MockPlatform::builder().amqp_url(DEAD_BROKER).expect("a valid URL").broker_mode(BrokerMode::Auto).start().await;
    let health: serde_json::Value =
        reqwest::get(format!("{}/_mock/health", p.url())).await.expect("health answers").json().await.expect("JSON");
    let broker = &health["transports"]["broker"];
    match docker_available() {
        Ok(()) => {
            let b = p.broker().expect("a container broker");
            assert!(b.source().starts_with("container rabbitmq:4"), "{}", b.source());
            assert_eq!(broker["mode"], "amqp");
        }
        Err(reason) => {
            eprintln!("container fallback not exercised: {reason} — checking the HTTP-only fallback instead");
            assert!(p.broker().is_none());
            assert_eq!(broker["mode"], "http-only", "{health}");
            let why = broker["reason"].as_str().expect("a reason");
            assert!(why.contains("127.0.0.1:1") && why.contains("no Docker engine"), "{why}");
            assert_eq!(health["transports"]["queue"], serde_json::json!(["api"]));
            let noted = p.read(|s| {
                s.transcript
                    .entries()
                    .iter()
                    .any(|e| matches!(&e.kind, EntryKind::Note { message } if message.starts_with("HTTP-only mode")))
            });
            assert!(noted, "the transcript says so");
        }
    }
    p.close().await;
}

#[tokio::test]
async fn a_required_broker_that_cannot_be_had_stops_the_start_with_the_reason() {
    if docker_available().is_ok() {
        eprintln!("a Docker engine is here: `required` would start a container, nothing to refuse");
        return;
    }
    let err = MockPlatform::builder().amqp_url(DEAD_BROKER).expect("a valid URL").try_start().await.expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("required") && message.contains("127.0.0.1:1"), "{message}");
}

#[test]
fn serve_says_it_runs_http_only_when_no_broker_answers_and_refuses_to_start_when_one_is_required() {
    use std::io::BufRead;
    if docker_available().is_ok() {
        eprintln!("a Docker engine is here: serve would start a container broker");
        return;
    }
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
    assert!(transport.contains("HTTP only") && transport.contains("127.0.0.1:1"), "{transport}");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["serve", "--port", "0", "--amqp-url", DEAD_BROKER, "--broker", "required"])
        .output()
        .expect("runs");
    assert!(!out.status.success(), "required without a broker does not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("a RabbitMQ broker is required"), "{stderr}");
}
