//! Live stream benchmark (a bench binary, not a timed test): `cargo bench --bench stream`.
//!
//! - **Delivery**: `/stream/live` readers connected, then one bundle of malware seeded (one
//!   `create` event each); timed from the bundle stored to the last event read by every
//!   reader — 1 reader, then 20 at once. Each reader is a plain HTTP client that splits the
//!   server-sent events and reads their ids, as pycti's SSE client does, and sends pycti's
//!   flags (`no-dependencies: true`…).
//! - **Latency**: one reader idle on the stream; a malware created, and timed until its
//!   event is read; 200 times, p50 and p99.
//! - **Memory per reader**: an `opencti-mock serve` process, its RSS before and after 200
//!   idle readers opened (each past its `connected` event), divided by 200.
//!
//! Quick mode (`BENCH_QUICK=1`): 300 events, 20 latency samples, 20 readers.

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

mod support;
use support::common::ServeProcess;
use support::{Figure, mb, proc_status, quick, selected, size};

fn malware(n: usize, tag: &str) -> Value {
    json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--{}", uuid::Uuid::new_v4()),
        "name": format!("Bench malware {tag} {n}"), "is_family": false, "description": "A malware of the stream bench",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"})
}

fn bundle(objects: Vec<Value>) -> String {
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string()
}

/// Opens `/stream/live` from `from`; returns the body stream once `connected` was read.
async fn reader(url: &str, token: &str, from: &str) -> futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>> {
    let response = reqwest::Client::new()
        .get(format!("{url}/stream/live"))
        .bearer_auth(token)
        .header("Last-Event-ID", from)
        // What pycti sends.
        .header("listen-delete", "true")
        .header("no-dependencies", "true")
        .header("with-inferences", "false")
        .send()
        .await
        .expect("the stream answers");
    assert_eq!(response.status(), 200);
    let mut body = response.bytes_stream().boxed();
    let mut seen = String::new();
    while !seen.contains("event: connected") {
        let chunk = body.next().await.expect("connected").expect("bytes");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    body
}

/// Reads data events until `count` were read; returns when the last one arrived.
async fn read_events(mut body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>, count: usize) -> Instant {
    let mut buffer = String::new();
    let mut read = 0;
    loop {
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            if block.contains("event: create") {
                read += 1;
                if read == count {
                    return Instant::now();
                }
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(60), body.next())
            .await
            .expect("events keep coming")
            .expect("the stream stays open")
            .expect("bytes");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

async fn delivery(readers: usize, events: usize) -> (f64, f64) {
    let platform = MockPlatform::start().await;
    let from = platform.stream_position().to_string();
    let mut bodies = Vec::new();
    for _ in 0..readers {
        bodies.push(reader(platform.url(), platform.token(), &from).await);
    }
    let objects: Vec<Value> = (0..events).map(|n| malware(n, "delivery")).collect();
    let text = bundle(objects);
    let seeded = Instant::now();
    let report = platform.seed(&text).expect("seeded");
    assert_eq!(report.created, events);
    let stored = Instant::now();
    let tasks: Vec<_> = bodies.into_iter().map(|b| tokio::spawn(read_events(b, events))).collect();
    let mut last = stored;
    for t in tasks {
        last = last.max(t.await.expect("a reader"));
    }
    let seconds = (last - stored).as_secs_f64();
    let _ = seeded;
    (events as f64 / seconds, seconds * 1000.0)
}

async fn latency(samples: usize) -> [f64; 3] {
    let platform = MockPlatform::start().await;
    let from = platform.stream_position().to_string();
    let mut body = reader(platform.url(), platform.token(), &from).await;
    let mut buffer = String::new();
    let mut ms = Vec::new();
    for n in 0..samples + 5 {
        let started = Instant::now();
        platform.seed(&bundle(vec![malware(n, "latency")])).expect("seeded");
        'read: loop {
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                if block.contains("event: create") {
                    break 'read;
                }
            }
            let chunk = body.next().await.expect("open").expect("bytes");
            buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
        if n >= 5 {
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let sorted = support::sorted(ms);
    [support::percentile(&sorted, 0.5), support::percentile(&sorted, 0.99), sorted[sorted.len() - 1]]
}

async fn memory_per_reader(readers: usize) -> (f64, f64, f64) {
    // HTTP-only: a killed server leaves nothing on a broker.
    let server = ServeProcess::start(&["--broker", "off"], &[]);
    // One reader first: what any first connection costs (the runtime's buffers) is not a
    // reader's own.
    let mut held = vec![reader(&server.url, &server.admin_token, "0-0").await];
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = proc_status(server.pid(), "VmRSS:");
    for _ in 0..readers {
        held.push(reader(&server.url, &server.admin_token, "0-0").await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let after = proc_status(server.pid(), "VmRSS:");
    drop(held);
    (after.saturating_sub(before) as f64 / readers as f64 / 1000.0, mb(before), mb(after))
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("stream: benchmark");
        return;
    }
    let events = size(20_000, 300);
    if selected("delivery") {
        let (one, one_ms) = delivery(1, events).await;
        Figure::new("stream.delivery_1", format!("live stream: {events} create events delivered to 1 reader"), one, "events/s")
            .compared(format!("{one_ms:.0} ms from the bundle stored to the last event read"))
            .at_least(10_000.0)
            .report();
        let (twenty, twenty_ms) = delivery(20, events).await;
        Figure::new(
            "stream.delivery_20",
            "↳ the same to each of 20 readers at once (events/s per reader; × 20 in all)".to_string(),
            twenty,
            "events/s",
        )
        .compared(format!("{twenty_ms:.0} ms to the last event read by the last reader; {:.0} events/s in all", twenty * 20.0))
        .at_least(2_000.0)
        .report();
    }
    if selected("latency") {
        let samples = size(200, 20);
        let [p50, p99, max] = latency(samples).await;
        Figure::new(
            "stream.latency_p99",
            format!("knowledge change → its event read, p99 of {samples} (one idle reader)"),
            p99,
            "ms",
        )
        .compared(format!("p50 {p50:.2} ms, max {max:.2} ms"))
        .at_most(10.0)
        .report();
    }
    if selected("memory") {
        let readers = size(200, 20);
        let (kb, before, after) = memory_per_reader(readers).await;
        Figure::new(
            "stream.memory_per_reader",
            format!("`opencti-mock serve` RSS per idle live stream reader ({readers} readers)"),
            kb,
            "KB",
        )
        .compared(format!("RSS {before:.1} MB → {after:.1} MB"))
        .at_most(64.0)
        .report();
    }
    if quick() {
        println!("stream: quick mode, figures not judged");
    }
}
