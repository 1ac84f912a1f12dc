//! Platform benchmarks (a bench binary, not timed tests): `cargo bench --bench platform
//! [-- start|serve|idle|push|over_limit]`.
//!
//! 1. In-process start to the first answered GraphQL request (`start`), and the same for
//!    `opencti-mock serve` as a process: from the spawn to the first answered request
//!    (`serve`), with the broker found on its own (the default) and HTTP-only.
//! 2. The idle resident memory of `opencti-mock serve` once it has answered and settled
//!    (`idle`), with the local broker and HTTP-only.
//! 3. `stixBundlePush` of a generated ~45 MB bundle of indicators, observables and
//!    relationships with the ids pycti connectors give them (request body under the 50 MB
//!    default limit) until every object is stored, against `opencti-mock serve` in its
//!    own process, with the server's resident memory growth during the push.
//! 4. A body ten times over the limit, refused, with the server's memory growth.
//!
//! Quick mode (`BENCH_QUICK=1`, see `support`): a 1 MB bundle, a 1 MB limit, few runs.
//!
//! Memory is read from `/proc/<pid>/status` (VmRSS before, VmHWM after, with the peak
//! reset through `/proc/<pid>/clear_refs` first), so the client's own buffers do not count.
//! Nothing large is committed: the bundle is generated on each run.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opencti_mock::stix::standard_id::standard_id;
use serde_json::{Value, json};

mod support;
use support::common::ServeProcess;
use support::{Figure, mb, percentile, proc_status, quick, selected, size, sorted};

const TOKEN: &str = "bench-connector";
const ADMIN: &str = "bench-admin";

/// Median of the in-process start to the first answer, in ms.
async fn start_to_first_answer() -> f64 {
    let mut samples = Vec::new();
    let client = reqwest::Client::new();
    for _ in 0..size(30, 3) {
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
    let samples = sorted(samples);
    let median = percentile(&samples, 0.5);
    Figure::new(
        "start.in_process",
        format!("start → first GraphQL answer, in-process (median of {})", samples.len()),
        median,
        "ms",
    )
    .compared(format!("p95 {:.2} ms, max {:.2} ms", percentile(&samples, 0.95), samples[samples.len() - 1]))
    .at_most(20.0)
    .report();
    median
}

/// A free loopback port (bound and released: the server binds it right after).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port()
}

/// `opencti-mock serve` spawned without waiting for anything; stopped with SIGTERM so it
/// removes what it declared on the broker.
struct Spawned(Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `opencti-mock serve <args>` and asks `about` until it answers: the time from the
/// spawn to the first answer, in ms, and the running process.
async fn spawn_to_first_answer(args: &[&str]) -> (f64, Spawned) {
    let port = free_port().to_string();
    // A fresh connection per attempt: a refused connect is retried at once.
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("a client");
    let url = format!("http://127.0.0.1:{port}/graphql");
    let t0 = Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["serve", "--port", &port, "--admin-token", ADMIN])
        .args(args)
        .stdout(Stdio::null())
        .spawn()
        .expect("server starts");
    let server = Spawned(child);
    loop {
        let answer =
            client.post(&url).bearer_auth(ADMIN).json(&json!({"query": "query healthCheck { about { version } }"})).send().await;
        if let Ok(resp) = answer
            && resp.status().is_success()
        {
            let _ = resp.bytes().await;
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "opencti-mock serve did not answer within 30 s");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    (t0.elapsed().as_secs_f64() * 1000.0, server)
}

/// `opencti-mock serve`: spawn → first answer, with the broker (the default, `auto`) and
/// HTTP-only.
async fn serve_first_answer(in_process: Option<f64>) {
    let runs = size(10, 2);
    let mut default = Vec::new();
    let mut http_only = Vec::new();
    for _ in 0..runs {
        default.push(spawn_to_first_answer(&[]).await.0);
        http_only.push(spawn_to_first_answer(&["--broker", "off"]).await.0);
    }
    let (default, http_only) = (sorted(default), sorted(http_only));
    let mut comparison = format!(
        "HTTP-only (`--broker off`): {:.1} ms; max {:.1} ms with the broker",
        percentile(&http_only, 0.5),
        default[default.len() - 1]
    );
    if let Some(ms) = in_process {
        comparison.push_str(&format!("; in-process {ms:.1} ms"));
    }
    Figure::new(
        "serve.first_answer",
        format!("`opencti-mock serve` spawn → first GraphQL answer, local broker (median of {runs})"),
        percentile(&default, 0.5),
        "ms",
    )
    .compared(comparison)
    .at_most(100.0)
    .report();
}

/// Resident memory of an idle `opencti-mock serve` once it answered and settled.
async fn idle_rss() {
    let settle = Duration::from_secs(size(5, 2));
    let mut rss = Vec::new();
    for args in [&[][..], &["--broker", "off"][..]] {
        let (_, server) = spawn_to_first_answer(args).await;
        tokio::time::sleep(settle).await;
        rss.push(mb(proc_status(server.0.id(), "VmRSS:")));
    }
    Figure::new("serve.idle_rss", "`opencti-mock serve` idle RSS (answered once, then idle), local broker", rss[0], "MB")
        .compared(format!("HTTP-only (`--broker off`): {:.1} MB", rss[1]))
        .at_most(30.0)
        .report();
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

/// `opencti-mock serve`, HTTP-only (this measures `stixBundlePush`, and a killed server
/// leaves nothing on a broker), with the bench's connector user.
struct Server(ServeProcess);

impl Server {
    fn start(extra: &[&str]) -> Server {
        let user = format!("bench={TOKEN}");
        let mut args = vec!["--broker", "off", "--connector-user", user.as_str()];
        args.extend_from_slice(extra);
        Server(ServeProcess::start(&args, &[]))
    }

    fn url(&self) -> &str {
        &self.0.url
    }

    fn status(&self, field: &str) -> u64 {
        proc_status(self.0.pid(), field)
    }

    fn reset_peak(&self) {
        std::fs::write(format!("/proc/{}/clear_refs", self.0.pid()), "5").expect("peak RSS can be reset");
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
        server.url(),
        "mutation R($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
        json!({"input": {"id": id, "name": "Bench", "type": "EXTERNAL_IMPORT", "scope": []}}),
    )
    .await;
    let work = gql(
        &client,
        server.url(),
        "mutation W($c: String!) { workAdd(connectorId: $c, friendlyName: \"bench\") { id } }",
        json!({"c": id}),
    )
    .await["data"]["workAdd"]["id"]
        .as_str()
        .expect("work")
        .to_string();
    let (bundle, n) = generate_bundle(size(45 * 1000 * 1000, 1000 * 1000));
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
        .post(format!("{}/graphql", server.url()))
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
            client.get(format!("{}/_mock/health", server.url())).send().await.expect("health").json().await.expect("json");
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
    Figure::new(
        "push.stored",
        format!("`stixBundlePush` of a {:.1} MB bundle ({n} objects) → every object stored", bundle_len as f64 / 1e6),
        stored.as_secs_f64() * 1000.0,
        "ms",
    )
    .compared(format!("answered after {:.0} ms; request body {:.1} MB", answered.as_secs_f64() * 1000.0, mb(body.len() as u64)))
    .at_most(1500.0)
    .report();
    Figure::new(
        "push.rss_growth",
        "  server RSS growth during that push, × the request body",
        growth as f64 / body.len() as f64,
        "×",
    )
    .compared(format!("{:.1} MB: RSS before {:.1} MB, peak {:.1} MB", mb(growth), mb(rss_before), mb(peak)))
    .at_most(3.0)
    .report();
}

async fn over_limit() {
    let limit: u64 = size(50, 1) * 1024 * 1024;
    let server = Server::start(&["--max-payload-body-size", &format!("{}mb", limit / (1024 * 1024))]);
    let total = 10 * limit;
    server.reset_peak();
    let rss_before = server.status("VmRSS:");
    let chunk = vec![b'x'; 1024 * 1024];
    let chunks = (0..total / chunk.len() as u64).map(move |_| Ok::<_, std::io::Error>(chunk.clone()));
    let t0 = Instant::now();
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", server.url()))
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
    assert_eq!(status.as_u16(), 500, "the platform's over-limit answer: {text}");
    Figure::new(
        "push.over_limit_growth",
        format!("a body 10× over the {:.0} MB limit ({:.0} MB), refused: server RSS growth", mb(limit), mb(total)),
        mb(growth),
        "MB",
    )
    .compared(format!("HTTP {status} {text} after {:.0} ms", t0.elapsed().as_secs_f64() * 1000.0))
    .at_most(mb(limit))
    .report();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut in_process = None;
    if selected("start") {
        in_process = Some(rt.block_on(start_to_first_answer()));
    }
    if selected("serve") {
        rt.block_on(serve_first_answer(in_process));
    }
    if selected("idle") {
        rt.block_on(idle_rss());
    }
    if selected("push") {
        rt.block_on(bundle_push());
    }
    if selected("over_limit") {
        rt.block_on(over_limit());
    }
    if quick() {
        println!("platform: quick mode, figures not judged");
    }
}
