//! A client that stalls cannot keep a connection: the platform's Node server closes an
//! incomplete request head (60 s), answers 408 to an incomplete request (300 s) and closes
//! silent sockets (20 min). The mock does the same, with the durations configurable — here
//! a second or two.

use std::time::{Duration, Instant};

use opencti_mock::MockPlatform;
use opencti_mock::config::{BrokerMode, Settings};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn platform(header_ms: u64, request_ms: u64, idle_ms: u64) -> MockPlatform {
    let mut settings = Settings::default();
    settings.app.port = 0;
    settings.mock.broker = BrokerMode::Off;
    settings.mock.header_timeout_ms = header_ms;
    settings.mock.request_timeout_ms = request_ms;
    settings.app.request_timeout = idle_ms;
    MockPlatform::builder().settings(settings).start().await
}

async fn connect(p: &MockPlatform) -> TcpStream {
    TcpStream::connect(p.url().trim_start_matches("http://")).await.expect("the platform accepts")
}

/// Reads until the server closes; what it sent, and when it closed.
async fn read_to_close(socket: &mut TcpStream, within: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut all = Vec::new();
    let result = tokio::time::timeout(within, socket.read_to_end(&mut all)).await;
    assert!(result.is_ok(), "the server kept the connection for more than {within:?}");
    (String::from_utf8_lossy(&all).to_string(), started.elapsed())
}

#[tokio::test]
async fn half_a_request_head_is_closed_after_the_header_timeout() {
    let p = platform(1_000, 60_000, 60_000).await;
    let mut socket = connect(&p).await;

    socket.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Ty").await.unwrap();
    let (_, after) = read_to_close(&mut socket, Duration::from_secs(10)).await;

    assert!(after >= Duration::from_millis(900) && after < Duration::from_secs(5), "closed after {after:?}");
}

#[tokio::test]
async fn a_body_that_stalls_gets_408_after_the_request_timeout() {
    let p = platform(60_000, 1_500, 60_000).await;
    let mut socket = connect(&p).await;

    socket
        .write_all(
            b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\":",
        )
        .await
        .unwrap();
    let (answer, after) = read_to_close(&mut socket, Duration::from_secs(10)).await;

    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.to_ascii_lowercase().contains("connection: close"), "{answer}");
    assert!(after >= Duration::from_millis(1_400) && after < Duration::from_secs(6), "answered after {after:?}");
}

#[tokio::test]
async fn a_silent_socket_is_closed_after_the_idle_timeout() {
    // The head timeout is longer here, so the socket's own inactivity limit closes it.
    let p = platform(60_000, 60_000, 1_000).await;
    let mut socket = connect(&p).await;

    let (_, after) = read_to_close(&mut socket, Duration::from_secs(10)).await;

    assert!(after >= Duration::from_millis(900) && after < Duration::from_secs(5), "closed after {after:?}");
}

#[tokio::test]
async fn a_prompt_client_is_served_on_one_connection_for_many_requests() {
    let p = platform(1_000, 1_500, 2_000).await;
    let client = reqwest::Client::new();
    for _ in 0..3 {
        let resp = client.get(format!("{}/_mock/health", p.url())).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
}
