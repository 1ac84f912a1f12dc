//! The reference connectors' benchmarks (`scripts/bench.sh reference`).
//!
//! 1. **The matrix**: every reference connector in every transport of its type through the
//!    gate, four sessions at a time (as nextest runs them), every check judged and required
//!    to pass; the figure is the wall time (target ≤ 30 s).
//! 2. **Push throughput**: a feed of ~100,000 objects (25,000 items: an observable, an
//!    indicator and two relationships each) imported once by the reference EXTERNAL_IMPORT
//!    connector, and by the same import written with pycti 7.261026.0
//!    (`benches/pycti_feed.py`: same feed, objects, ids and bundles), over `stixBundlePush`
//!    and over RabbitMQ; the figures are objects per second from start to exit (what the
//!    connector does), and to the work complete (what the platform ingested).
//!
//! Quick mode (`BENCH_QUICK=1`): a 1,000-object feed; correctness asserted, speed not judged.

/// The matrix's deployment, as the tests have it.
#[path = "../tests/support/mod.rs"]
mod deployment;
#[path = "../../../benches/support/figures.rs"]
mod support;

use std::time::{Duration, Instant};

use opencti_conformance::{Outcome, registry, report};
use opencti_mock::MockPlatform;
use opencti_mock::conform::run;
use serde_json::json;
use support::Figure;

/// A feed of `items` items over ten families; four objects each.
fn feed(items: usize) -> serde_json::Value {
    let indicators: Vec<serde_json::Value> = (0..items)
        .map(|i| {
            let (kind, value) = match i % 3 {
                0 => ("ipv4-addr", format!("10.{}.{}.{}", i >> 16 & 255, i >> 8 & 255, i & 255)),
                1 => ("domain-name", format!("c2-{i}.example.com")),
                _ => ("url", format!("http://downloads.example.net/{i}/stage2.bin")),
            };
            json!({ "type": kind, "value": value, "malware": format!("BenchBot{}", i % 10) })
        })
        .collect();
    json!({ "indicators": indicators })
}

async fn matrix() {
    let server = deployment::services().await;
    let mut sessions = Vec::new();
    for &(connector_type, _) in deployment::CONNECTORS {
        for &transport in deployment::transports(connector_type) {
            sessions.push(deployment::session(connector_type, transport, &server, None));
        }
    }
    let n = sessions.len();
    let started = Instant::now();
    let limit = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for s in sessions {
        let limit = limit.clone();
        tasks.push(tokio::spawn(async move {
            let _slot = limit.acquire().await.expect("semaphore");
            let evidence = run(&s, |_| {}).await.expect("the session runs");
            let failed: Vec<String> = report::judge(&registry::select(&s.connector_type, &[]), &evidence)
                .into_iter()
                .filter(|r| r.outcome != Outcome::Pass)
                .map(|r| format!("{} {}", r.check.id, r.outcome.verdict()))
                .collect();
            (s.connector_type.clone(), s.queue_protocol.clone(), failed)
        }));
    }
    let mut checks = 0;
    for t in tasks {
        let (connector_type, protocol, failed) = t.await.expect("session task");
        assert!(failed.is_empty(), "{connector_type} over {protocol}: {failed:?}");
        checks += registry::select(&connector_type, &[]).len();
    }
    Figure::new(
        "reference-matrix",
        format!("the reference matrix: {n} sessions (5 connectors × their transports), {checks} checks, 4 at a time"),
        started.elapsed().as_secs_f64(),
        "s",
    )
    .at_most(30.0)
    .report();
}

/// The pinned pycti venv's Python (created by the tests).
fn pycti_python() -> Option<std::path::PathBuf> {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join("target/pycti-venv-7.261026.0/bin/python");
    python.exists().then_some(python)
}

/// Imports the feed once with `command`; returns (seconds to exit, seconds to the work complete).
async fn import_once(command: &[String], amqp: bool, url: &str) -> (f64, f64) {
    let builder = MockPlatform::builder();
    let builder = if amqp { builder.with_broker() } else { builder };
    let platform = builder.try_start().await.expect("platform");
    let token = platform.add_connector_user("bench");
    let env = platform.connector_env("EXTERNAL_IMPORT", &token);
    let connector_id = env.get("CONNECTOR_ID").expect("id").to_string();
    let started = Instant::now();
    let status = tokio::process::Command::new(&command[0])
        .args(&command[1..])
        .envs(env.vars().iter().cloned())
        .env("CONNECTOR_QUEUE_PROTOCOL", if amqp { "amqp" } else { "api" })
        .env("CONNECTOR_RUN_AND_TERMINATE", "true")
        .env("CONNECTOR_SCOPE", "ipv4-addr,domain-name,url,indicator,identity,malware,relationship")
        .env("CONNECTOR_LOG_LEVEL", "error")
        .env("FEED_URL", format!("{url}/feed.json"))
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("the connector runs");
    let pushed = started.elapsed().as_secs_f64();
    assert!(status.success(), "{command:?} failed: {status}");
    let work = platform.works().into_iter().find(|w| w.connector_id == connector_id).expect("the run's work");
    platform.wait_for_work_complete(&work.id, Duration::from_secs(1800)).await.expect("the work completes");
    let ingested = started.elapsed().as_secs_f64();
    platform.close().await;
    (pushed, ingested)
}

async fn throughput() {
    let items = support::size(25_000, 250);
    let objects = (items * 4 + 12) as f64;
    let server = deployment::services_with(&feed(items)).await;
    let kit = vec![deployment::binary("EXTERNAL_IMPORT").to_string()];
    let pycti = pycti_python()
        .map(|p| vec![p.to_string_lossy().into_owned(), format!("{}/benches/pycti_feed.py", env!("CARGO_MANIFEST_DIR"))]);
    for amqp in [false, true] {
        let transport = if amqp { "RabbitMQ" } else { "stixBundlePush" };
        let (kit_push, kit_done) = import_once(&kit, amqp, &server.uri()).await;
        let comparison = match &pycti {
            Some(command) => {
                let (py_push, py_done) = import_once(command, amqp, &server.uri()).await;
                Figure::new(
                    format!("pycti-push-{}", if amqp { "amqp" } else { "api" }),
                    format!("pycti 7.261026.0: {objects} objects over {transport}, start → exit"),
                    objects / py_push,
                    "objects/s",
                )
                .report();
                Figure::new(
                    format!("pycti-ingested-{}", if amqp { "amqp" } else { "api" }),
                    format!("pycti 7.261026.0: {objects} objects over {transport}, start → work complete"),
                    objects / py_done,
                    "objects/s",
                )
                .report();
                format!("pycti: {:.0} objects/s", objects / py_push)
            }
            None => "pycti: no venv (run the tests first)".to_string(),
        };
        Figure::new(
            format!("kit-push-{}", if amqp { "amqp" } else { "api" }),
            format!("connector kit: {objects} objects over {transport}, start → exit"),
            objects / kit_push,
            "objects/s",
        )
        .compared(comparison)
        .report();
        Figure::new(
            format!("kit-ingested-{}", if amqp { "amqp" } else { "api" }),
            format!("connector kit: {objects} objects over {transport}, start → work complete"),
            objects / kit_done,
            "objects/s",
        )
        .report();
    }
}

fn main() {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    if support::selected("matrix") {
        rt.block_on(matrix());
    }
    if support::selected("throughput") {
        rt.block_on(throughput());
    }
}
