//! Platform benchmarks (a bench binary, not timed tests): `cargo bench --bench platform`.
//!
//! 1. In-process start to the first answered GraphQL request.
//! 2. `stixBundlePush` of a generated ~45 MB bundle of indicators, observables and
//!    relationships with the ids pycti connectors give them (request body under the 50 MB
//!    default limit) until every object is stored, against `opencti-mock serve` in its
//!    own process, with the server's resident memory growth during the push.
//! 3. A body ten times over the limit, refused, with the server's memory growth.
//!
//! Memory is read from `/proc/<pid>/status` (VmRSS before, VmHWM after, with the peak
//! reset through `/proc/<pid>/clear_refs` first), so the client's own buffers do not count.
//! Nothing large is committed: the bundle is generated on each run.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opencti_mock::stix::standard_id::standard_id;
use serde_json::{Value, json};

const TOKEN: &str = "bench-connector";
const ADMIN: &str = "bench-admin";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn start_to_first_answer() {
    let mut samples = Vec::new();
    let client = reqwest::Client::new();
    for _ in 0..30 {
        let t0 = Instant::now();
        let p = opencti_mock::MockPlatform::builder().admin_token(ADMIN).start().await;
        let resp = client
            .post(format!("{}/graphql", p.url()))
            .bearer_auth(ADMIN)
            .json(&json!({"query": "query healthCheck { about { version } }"}))
            .send()
            .await
            .expect("answered");
        assert!(resp.status().is_success());
        let _ = resp.bytes().await;
        samples.push(t0.elapsed().as_secs_f64() * 1000.0);
        drop(p);
    }
    println!(
        "start → first GraphQL answer (in-process, 30 runs): median {:.2} ms, p95 {:.2} ms, max {:.2} ms (target ≤ 20 ms)",
        median(samples.clone()),
        percentile(samples.clone(), 0.95),
        samples.iter().cloned().fold(0.0, f64::max)
    );
}

/// A realistic bundle: indicators, the observables they are based on, and the relationships.
fn generate_bundle(target_bytes: usize) -> (String, usize) {
    let mut objects = Vec::new();
    let mut size = 0;
    let mut i: u64 = 0;
    while size < target_bytes {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        // Ids as pycti connectors make them (`Indicator.generate_id`, the stix2 library's
        // deterministic observable ids, `StixCoreRelationship.generate_id`): the platform's
        // standard ids.
        let pattern = format!("[ipv4-addr:value = '{ip}']");
        let ind = standard_id(&json!({"type": "indicator", "pattern": pattern})).expect("indicator id");
        let obs = standard_id(&json!({"type": "ipv4-addr", "value": ip})).expect("observable id");
        let rel =
            standard_id(&json!({"type": "relationship", "relationship_type": "based-on", "source_ref": ind, "target_ref": obs}))
                .expect("relationship id");
        let triple = [
            json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": "2026-11-01T00:00:00.000Z",
                   "modified": "2026-11-01T00:00:00.000Z", "name": ip, "pattern": pattern,
                   "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z", "labels": ["malicious-activity"],
                   "description": "Generated for the opencti-mock ingestion benchmark.", "x_opencti_score": 80}),
            json!({"type": "ipv4-addr", "spec_version": "2.1", "id": obs, "value": ip}),
            json!({"type": "relationship", "spec_version": "2.1", "id": rel, "relationship_type": "based-on",
                   "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z",
                   "source_ref": ind, "target_ref": obs}),
        ];
        for o in triple {
            size += o.to_string().len() + 1;
            objects.push(o);
        }
        i += 1;
    }
    let n = objects.len();
    (json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string(), n)
}

struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
            // HTTP-only: this measures stixBundlePush, and a killed server leaves nothing on a broker.
            .args([
                "serve",
                "--port",
                "0",
                "--broker",
                "off",
                "--admin-token",
                ADMIN,
                "--connector-user",
                &format!("bench={TOKEN}"),
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .expect("server starts");
        let mut reader = BufReader::new(child.stdout.take().expect("piped"));
        let mut url = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                panic!("server exited before printing its URL");
            }
            if let Some(u) = line.trim().strip_prefix("OPENCTI_URL=") {
                url = u.to_string();
            }
            if line.trim().starts_with("control API:") {
                break;
            }
        }
        std::thread::spawn(move || for _ in reader.lines() {});
        Server { child, url }
    }

    fn status(&self, field: &str) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).expect("/proc readable");
        s.lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
            * 1024
    }

    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("peak RSS can be reset");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn gql(client: &reqwest::Client, url: &str, query: &str, variables: Value) -> Value {
    client
        .post(format!("{url}/graphql"))
        .bearer_auth(TOKEN)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json")
}

async fn bundle_push() {
    let server = Server::start(&[]);
    let client = reqwest::Client::new();
    let id = uuid::Uuid::new_v4().to_string();
    gql(
        &client,
        &server.url,
        "mutation R($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
        json!({"input": {"id": id, "name": "Bench", "type": "EXTERNAL_IMPORT", "scope": []}}),
    )
    .await;
    let work = gql(
        &client,
        &server.url,
        "mutation W($c: String!) { workAdd(connectorId: $c, friendlyName: \"bench\") { id } }",
        json!({"c": id}),
    )
    .await["data"]["workAdd"]["id"]
        .as_str()
        .expect("work")
        .to_string();
    let (bundle, n) = generate_bundle(45 * 1000 * 1000);
    let body = serde_json::to_vec(&json!({"query": "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }",
        "variables": {"connectorId": id, "bundle": bundle, "work_id": work}})).expect("serialises");
    let bundle_len = bundle.len();
    drop(bundle);
    let limit = 50 * 1024 * 1024;
    assert!(body.len() < limit, "the request body ({} bytes) must be under the default limit", body.len());
    server.reset_peak();
    let rss_before = server.status("VmRSS:");

    let t0 = Instant::now();
    let resp = client
        .post(format!("{}/graphql", server.url))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("answered");
    let answered = t0.elapsed();
    let answer: Value = resp.json().await.expect("json");
    assert_eq!(answer["data"]["stixBundlePush"], true, "{answer}");
    loop {
        let health: Value =
            client.get(format!("{}/_mock/health", server.url)).send().await.expect("health").json().await.expect("json");
        // Every object, and the one label the indicators share.
        if health["objects"].as_u64() == Some(n as u64 + 1) {
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(300), "ingestion did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stored = t0.elapsed();
    let peak = server.status("VmHWM:");
    let growth = peak.saturating_sub(rss_before);
    println!(
        "stixBundlePush: bundle {:.1} MB ({n} objects), request body {:.1} MB; answered in {:.0} ms; all objects stored in {:.0} ms (target ≤ 1500 ms)",
        bundle_len as f64 / 1e6,
        body.len() as f64 / 1e6,
        answered.as_secs_f64() * 1000.0,
        stored.as_secs_f64() * 1000.0
    );
    println!(
        "  server RSS growth during the push: {:.1} MB = {:.2}× the body (target ≤ 3×); RSS before {:.1} MB, peak {:.1} MB",
        growth as f64 / 1e6,
        growth as f64 / body.len() as f64,
        rss_before as f64 / 1e6,
        peak as f64 / 1e6
    );
}

async fn over_limit() {
    let server = Server::start(&[]);
    let limit: u64 = 50 * 1024 * 1024;
    let total = 10 * limit;
    server.reset_peak();
    let rss_before = server.status("VmRSS:");
    let chunk = vec![b'x'; 1024 * 1024];
    let chunks = (0..total / chunk.len() as u64).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let t0 = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", server.url))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .header("content-length", total.to_string())
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
        .send()
        .await
        .expect("answered, not reset");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let growth = server.status("VmHWM:").saturating_sub(rss_before);
    println!(
        "body 10× over the limit ({:.0} MB): HTTP {status} {text} after {:.0} ms; server RSS growth {:.1} MB (target ≤ limit, {:.1} MB)",
        total as f64 / 1e6,
        t0.elapsed().as_secs_f64() * 1000.0,
        growth as f64 / 1e6,
        limit as f64 / 1e6
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    if run("start") {
        rt.block_on(start_to_first_answer());
    }
    if run("push") {
        rt.block_on(bundle_push());
    }
    if run("over_limit") {
        rt.block_on(over_limit());
    }
}
