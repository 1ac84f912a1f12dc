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

#[path = "../../../benches/support/figures.rs"]
mod support;

use std::time::{Duration, Instant};

use opencti_conformance::{Outcome, registry, report};
use opencti_mock::MockPlatform;
use opencti_mock::conform::{Session, run};
use serde_json::json;
use support::Figure;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const IMPORT: &str = env!("CARGO_BIN_EXE_ref-external-import");

const CONNECTORS: &[(&str, &str)] = &[
    ("EXTERNAL_IMPORT", env!("CARGO_BIN_EXE_ref-external-import")),
    ("INTERNAL_ENRICHMENT", env!("CARGO_BIN_EXE_ref-enrichment")),
    ("INTERNAL_IMPORT_FILE", env!("CARGO_BIN_EXE_ref-import-file")),
    ("INTERNAL_EXPORT_FILE", env!("CARGO_BIN_EXE_ref-export-file")),
    ("STREAM", env!("CARGO_BIN_EXE_ref-stream")),
];

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

async fn services(feed: &serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(feed))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/lookup"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "score": 73, "tags": ["scanner"] })))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/events")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    server
}

/// The deployment of the matrix (as `tests/support/mod.rs` has it).
fn session(connector_type: &str, binary: &str, amqp: bool, url: &str) -> Session {
    let mut s = Session::new(connector_type, vec![binary.to_string()]);
    let protocol = if amqp { "amqp" } else { "api" };
    s.queue_protocol = protocol.into();
    s.listen_protocol = protocol.into();
    s.settle = Duration::from_secs(2);
    s.job_timeout = Duration::from_secs(10);
    s.env.push(("CONNECTOR_KIT_PING_PERIOD".into(), "0.5".into()));
    match connector_type {
        "EXTERNAL_IMPORT" => {
            s.scope = Some("ipv4-addr,domain-name,url,indicator,identity,malware,relationship,marking-definition".into());
            s.env.push(("CONNECTOR_RUN_AND_TERMINATE".into(), "true".into()));
            s.env.push(("FEED_URL".into(), format!("{url}/feed.json")));
        }
        "INTERNAL_ENRICHMENT" => {
            s.scope = Some("IPv4-Addr,Domain-Name".into());
            s.job.settings.insert("max_tlp".into(), "LOOKUP_MAX_TLP".into());
            s.env.push(("LOOKUP_API_URL".into(), url.into()));
        }
        "INTERNAL_IMPORT_FILE" => s.scope = Some("application/json,text/csv".into()),
        "INTERNAL_EXPORT_FILE" => s.scope = Some("application/vnd.oasis.stix+json,text/csv".into()),
        _ => s.env.push(("SINK_URL".into(), format!("{url}/events"))),
    }
    s
}

async fn matrix() {
    let server = services(&feed(4)).await;
    let mut sessions = Vec::new();
    for &(connector_type, binary) in CONNECTORS {
        for amqp in if connector_type == "STREAM" { &[false][..] } else { &[false, true][..] } {
            sessions.push(session(connector_type, binary, *amqp, &server.uri()));
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
    let server = services(&feed(items)).await;
    let kit = vec![IMPORT.to_string()];
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
