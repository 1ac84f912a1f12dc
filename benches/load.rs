//! Load, soak and broker drops (a bench binary, not timed tests):
//! `cargo bench --bench load [-- http|soak|amqp]`.
//!
//! Every scenario runs `opencti-mock serve` in its own process (the local broker found on
//! its own, as by default) and drives it as connectors do: GraphQL over real HTTP with the
//! documents pycti sends (`support::sim`), and for `amqp` a real RabbitMQ.
//!
//! 1. `http` — load: 50 connectors register, ping every 5 s and run one work per 10 s run:
//!    `workAdd`, then `stixBundlePush` of 10-object bundles (an author identity and three
//!    indicator → observable triples with the ids pycti gives) one after the other, then
//!    `toProcessed`; for 60 s. Reported: requests/s, objects/s, push latency p50/p99 and
//!    errors; then, once the worker has drained, that every pushed object is stored (the
//!    control API's object list is exactly the ids pushed) and every work is complete with
//!    processed = expected = the objects pushed to it.
//! 2. `soak` — the same for 10 minutes on a fresh server whose resident memory is read from
//!    `/proc/<pid>/status` every 5 s: RSS after a 120 s warm-up and at the end, and what the
//!    retention limits let go (`/_mock/health`). Each connector cycles over 100 bundles, so
//!    the knowledge stops growing within seconds; the warm-up is long enough for the
//!    retention limits to fill (the transcript's 20,000 entries, the event log's 2,000,000
//!    events at ~25,000 objects/s); what the platform keeps growing on purpose is one work
//!    per connector run (counted). Flat: the growth after the warm-up is at most a tenth of
//!    the RSS then.
//! 3. `amqp` — broker drops: 20 connectors publish pycti's one-object messages to their push
//!    queues (announced by `addExpectations`, as pycti does, about 2,000 messages/s in all)
//!    while the mock's broker connection is closed through the management API every 30 s.
//!    Reported: each reconnection, and that nothing was lost or counted twice: every object
//!    stored once (`writes` = 1), every work's processed = expected = messages sent, the push
//!    queues empty.
//!
//! Durations: `LOAD_SECONDS` (60), `SOAK_SECONDS` (600), `SOAK_WARM_UP_SECONDS` (120),
//! `DROPS_SECONDS` (100), `DROP_EVERY_SECONDS` (30); `DROPS_RATE` (2000 messages/s). Quick
//! mode: 3 s of load, a 5 s soak, 6 s of publishing with one drop. Correctness (no error, nothing lost, nothing counted
//! twice) is asserted in every mode, after the figures are reported.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use opencti_mock::stix::standard_id::standard_id;
use serde_json::{Value, json};

mod support;
use support::common::ServeProcess;
use support::sim::{Connector, Stats, amqp_message};
use support::{Figure, mb, percentile, proc_status, quick, selected, size};

/// Objects in every pushed bundle.
const BUNDLE_OBJECTS: usize = 10;
/// Distinct bundles each connector cycles over.
const POOL: usize = 100;

/// A duration from the environment, or its default (full, quick).
fn seconds(var: &str, full: u64, small: u64) -> Duration {
    let default = size(full, small);
    Duration::from_secs(std::env::var(var).ok().and_then(|v| v.parse().ok()).unwrap_or(default))
}

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

/// `GET /_mock/<path>` with the admin token.
async fn control(serve: &ServeProcess, path: &str) -> Value {
    let resp = reqwest::Client::new()
        .get(format!("{}/_mock/{path}", serve.url))
        .bearer_auth(&serve.admin_token)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /_mock/{path}: {e}"));
    assert!(resp.status().is_success(), "GET /_mock/{path} answered {}", resp.status());
    resp.json().await.expect("JSON")
}

/// `serve` with `n` connector users (`load00=tok-load00`…) and `extra` flags.
fn serve(n: usize, extra: &[&str]) -> ServeProcess {
    let users: Vec<String> = (0..n).map(|i| format!("load{i:02}=tok-load{i:02}")).collect();
    let mut args: Vec<&str> = users.iter().flat_map(|u| ["--connector-user", u.as_str()]).collect();
    args.extend_from_slice(extra);
    ServeProcess::start(&args, &[])
}

/// Connector `c`'s bundles: each as a JSON string literal ready for the push variables, and
/// the standard ids of its objects.
struct Pool {
    literals: Vec<String>,
    ids: Vec<Vec<String>>,
}

impl Pool {
    fn new(c: usize) -> Pool {
        let ts = "2026-11-01T00:00:00.000Z";
        let author_name = format!("Bench feed {c}");
        let author =
            standard_id(&json!({"type": "identity", "name": author_name, "identity_class": "organization"})).expect("id");
        let mut literals = Vec::with_capacity(POOL);
        let mut ids = Vec::with_capacity(POOL);
        for b in 0..POOL {
            let mut objects =
                vec![json!({"type": "identity", "spec_version": "2.1", "id": author, "created": ts, "modified": ts,
                "name": author_name, "identity_class": "organization"})];
            for t in 0..3 {
                let slot = b * 3 + t;
                let ip = format!("10.{c}.{}.{}", slot / 256, slot % 256);
                let pattern = format!("[ipv4-addr:value = '{ip}']");
                let ind = standard_id(&json!({"type": "indicator", "pattern": pattern})).expect("id");
                let obs = standard_id(&json!({"type": "ipv4-addr", "value": ip})).expect("id");
                let rel = standard_id(&json!({"type": "relationship", "relationship_type": "based-on", "source_ref": ind,
                    "target_ref": obs}))
                .expect("id");
                objects.push(json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": ts, "modified": ts,
                    "name": ip, "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
                    "created_by_ref": author, "x_opencti_score": 80,
                    "description": "Generated for the opencti-mock load benchmark."}));
                objects.push(json!({"type": "ipv4-addr", "spec_version": "2.1", "id": obs, "value": ip}));
                objects.push(json!({"type": "relationship", "spec_version": "2.1", "id": rel, "relationship_type": "based-on",
                    "created": ts, "modified": ts, "source_ref": ind, "target_ref": obs, "created_by_ref": author}));
            }
            assert_eq!(objects.len(), BUNDLE_OBJECTS);
            ids.push(objects.iter().map(|o| o["id"].as_str().expect("id").to_string()).collect());
            let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects});
            literals.push(Value::String(bundle.to_string()).to_string());
        }
        Pool { literals, ids }
    }
}

/// What an HTTP load run did.
struct HttpRun {
    stats: Stats,
    window: Duration,
    /// Every work opened, with the objects pushed to it.
    works: Vec<(String, usize)>,
    /// The standard ids of every object pushed at least once.
    ids: HashSet<String>,
    /// Objects pushed (and accepted), repeats included.
    pushed: usize,
}

/// One connector for `duration`: register, ping every `ping`, a work per `run`.
async fn http_connector(
    url: String,
    c: usize,
    deadline: Instant,
    run: Duration,
    ping: Duration,
) -> (Stats, Vec<(String, usize)>, HashSet<String>, usize) {
    let pool = Pool::new(c);
    let mut conn = Connector::new(&url, &format!("tok-load{c:02}"));
    conn.register(&format!("Load connector {c:02}")).await;
    conn.ping("null").await;
    let mut last_ping = Instant::now();
    let (mut works, mut ids, mut pushed, mut next) = (Vec::new(), HashSet::new(), 0, 0);
    while Instant::now() < deadline {
        let Some(work) = conn.work_add(&format!("run {}", works.len() + 1)).await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let run_end = (Instant::now() + run).min(deadline);
        let mut sent = 0;
        loop {
            let b = next % POOL;
            next += 1;
            if conn.push(&work, &pool.literals[b]).await {
                sent += BUNDLE_OBJECTS;
                ids.extend(pool.ids[b].iter().cloned());
            }
            if last_ping.elapsed() >= ping {
                conn.ping(&json!({"last_run": works.len(), "bundles": next}).to_string()).await;
                last_ping = Instant::now();
            }
            if Instant::now() >= run_end {
                break;
            }
        }
        conn.work_to_processed(&work, "done").await;
        pushed += sent;
        works.push((work, sent));
    }
    (conn.stats, works, ids, pushed)
}

async fn http_load(serve: &ServeProcess, connectors: usize, duration: Duration) -> HttpRun {
    let (run, ping) = (seconds("LOAD_RUN_SECONDS", 10, 1), seconds("LOAD_PING_SECONDS", 5, 1));
    let t0 = Instant::now();
    let deadline = t0 + duration;
    let tasks = (0..connectors).map(|c| tokio::spawn(http_connector(serve.url.clone(), c, deadline, run, ping)));
    let mut out = HttpRun { stats: Stats::default(), window: Duration::ZERO, works: Vec::new(), ids: HashSet::new(), pushed: 0 };
    for r in join_all(tasks).await {
        let (stats, works, ids, pushed) = r.expect("a connector task");
        out.stats.merge(stats);
        out.works.extend(works);
        out.ids.extend(ids);
        out.pushed += pushed;
    }
    out.window = t0.elapsed();
    out
}

/// Waits until no work is left in progress; how long it took.
async fn drain(serve: &ServeProcess, limit: Duration) -> Duration {
    let t0 = Instant::now();
    loop {
        let connectors = control(serve, "connectors").await;
        let open: u64 = connectors
            .as_array()
            .expect("a list")
            .iter()
            .map(|c| c["works"]["progress"].as_u64().unwrap_or(0) + c["works"]["wait"].as_u64().unwrap_or(0))
            .sum();
        if open == 0 {
            return t0.elapsed();
        }
        assert!(t0.elapsed() < limit, "{open} work(s) still in progress {limit:?} after the load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Works that are not complete with processed = expected = sent, described.
async fn bad_works(serve: &ServeProcess, sent: &[(String, usize)]) -> Vec<String> {
    let all = control(serve, "works").await;
    let by_id: HashMap<&str, &Value> =
        all.as_array().expect("a list").iter().map(|w| (w["id"].as_str().expect("an id"), w)).collect();
    sent.iter()
        .filter_map(|(id, n)| {
            let Some(w) = by_id.get(id.as_str()) else { return Some(format!("{id}: missing")) };
            let (status, processed, expected) = (w["status"].as_str(), w["processed"].as_u64(), w["expected"].as_u64());
            let n = Some(*n as u64);
            (status != Some("complete") || processed != n || expected != n)
                .then(|| format!("{id}: {status:?}, processed {processed:?}, expected {expected:?}, sent {n:?}"))
        })
        .collect()
}

/// Stored objects by standard id, with how many times each was written.
async fn stored(serve: &ServeProcess) -> HashMap<String, u64> {
    let all = control(serve, "objects").await;
    all.as_array()
        .expect("a list")
        .iter()
        .map(|o| (o["standard_id"].as_str().expect("an id").to_string(), o["writes"].as_u64().unwrap_or(0)))
        .collect()
}

/// The figures of an HTTP run, then its correctness checks (asserted after reporting).
async fn report_http(serve: &ServeProcess, id: &'static str, label: &str, run: &HttpRun) -> Vec<String> {
    let drained = drain(serve, Duration::from_secs(600)).await;
    let secs = run.window.as_secs_f64();
    let calls = run.stats.calls();
    let all = run.stats.all_latencies();
    let push = run.stats.latencies_of("stixBundlePush");
    let errors = run.stats.errors_where(|_| true);
    let bad = bad_works(serve, &run.works).await;
    let objects = stored(serve).await;
    let lost: Vec<&String> = run.ids.iter().filter(|i| !objects.contains_key(*i)).collect();
    let extra = objects.keys().filter(|i| !run.ids.contains(*i)).count();
    let figure = |suffix: &str| format!("{id}.{suffix}");
    Figure::new(figure("requests"), format!("{label}: GraphQL requests/s"), calls as f64 / secs, "req/s")
        .compared(format!(
            "{calls} requests in {secs:.0} s: {}; p99 of all {:.1} ms",
            run.stats.breakdown(),
            percentile(&all, 0.99)
        ))
        .report();
    Figure::new(
        figure("objects"),
        format!("{label}: objects pushed/s ({BUNDLE_OBJECTS}-object bundles)"),
        run.pushed as f64 / secs,
        "objects/s",
    )
    .compared(format!(
        "{} objects accepted; the worker had stored them all {:.1} s after the load ended",
        run.pushed,
        drained.as_secs_f64()
    ))
    .report();
    Figure::new(figure("push_p50"), format!("{label}: `stixBundlePush` latency p50"), percentile(&push, 0.5), "ms").report();
    Figure::new(figure("push_p99"), format!("{label}: `stixBundlePush` latency p99"), percentile(&push, 0.99), "ms")
        .compared(format!("max {:.1} ms", push[push.len() - 1]))
        .report();
    Figure::new(figure("errors"), format!("{label}: failed requests"), errors as f64, "")
        .compared(run.stats.first_errors.first().cloned().unwrap_or_default())
        .must_be_zero()
        .report();
    Figure::new(figure("lost"), format!("{label}: pushed objects not stored"), lost.len() as f64, "")
        .compared(format!("{} distinct objects pushed, {} stored, {extra} others", run.ids.len(), objects.len()))
        .must_be_zero()
        .report();
    Figure::new(figure("works"), format!("{label}: works not complete with processed = expected = pushed"), bad.len() as f64, "")
        .compared(format!("{} works", run.works.len()))
        .must_be_zero()
        .report();
    let mut problems = Vec::new();
    if errors > 0 {
        problems.push(format!("{errors} failed request(s): {:?}", run.stats.first_errors));
    }
    if !lost.is_empty() || extra > 0 {
        problems.push(format!(
            "{} object(s) lost, {extra} unexpected; e.g. {:?}",
            lost.len(),
            lost.iter().take(3).collect::<Vec<_>>()
        ));
    }
    if !bad.is_empty() {
        problems.push(format!("{} work(s) wrong: {:?}", bad.len(), &bad[..bad.len().min(3)]));
    }
    problems
}

async fn load() -> Vec<String> {
    let connectors = 50;
    let duration = seconds("LOAD_SECONDS", 60, 3);
    let serve = serve(connectors, &[]);
    let run = http_load(&serve, connectors, duration).await;
    report_http(&serve, "load", &format!("load, {connectors} connectors × {} s", duration.as_secs()), &run).await
}

async fn soak() -> Vec<String> {
    let connectors = 50;
    let duration = seconds("SOAK_SECONDS", 600, 5);
    let warm_up = seconds("SOAK_WARM_UP_SECONDS", 120, 1).min(duration / 2);
    let every = seconds("SOAK_SAMPLE_SECONDS", 5, 1);
    let serve = serve(connectors, &[]);
    let pid = serve.pid();
    let t0 = Instant::now();
    let sampler = tokio::spawn(async move {
        let mut samples = Vec::new();
        while t0.elapsed() < duration {
            samples.push((t0.elapsed(), proc_status(pid, "VmRSS:")));
            tokio::time::sleep(every).await;
        }
        samples.push((t0.elapsed(), proc_status(pid, "VmRSS:")));
        samples
    });
    let run = http_load(&serve, connectors, duration).await;
    let samples = sampler.await.expect("the sampler");
    let label = format!("soak, {connectors} connectors × {} s", duration.as_secs());
    let mut problems = report_http(&serve, "soak", &label, &run).await;
    let at_warm = samples.iter().find(|(t, _)| *t >= warm_up).unwrap_or(&samples[0]).1;
    let end = samples[samples.len() - 1].1;
    let peak = samples.iter().map(|(_, r)| *r).max().unwrap_or(0);
    let health = control(&serve, "health").await;
    let dropped = &health["retention"]["dropped"];
    let series: Vec<String> =
        samples.iter().step_by((samples.len() / 12).max(1)).map(|(t, r)| format!("{}s {:.0}", t.as_secs(), mb(*r))).collect();
    Figure::new("soak.rss_warm", format!("{label}: server RSS after the {} s warm-up", warm_up.as_secs()), mb(at_warm), "MB")
        .compared(format!("samples (s MB): {}", series.join(", ")))
        .report();
    // Flat: what grew after the warm-up is at most a tenth of the RSS then.
    let growth = mb(end.saturating_sub(at_warm));
    Figure::new("soak.rss_growth", format!("{label}: server RSS growth from the warm-up to the end"), growth, "MB")
        .compared(format!(
            "end {:.1} MB, peak {:.1} MB; kept {} works, {} objects; retention dropped {} transcript entries, {} bundle bodies, {} findings, {} knowledge events",
            mb(end),
            mb(peak),
            health["works"],
            health["objects"],
            dropped["transcript_entries"],
            dropped["bundle_bodies"],
            dropped["findings"],
            dropped["knowledge_events"]
        ))
        .at_most(mb(at_warm) / 10.0)
        .report();
    if growth > mb(at_warm) / 10.0 && !quick() {
        problems.push(format!("RSS not flat: {:.1} MB after the warm-up, {:.1} MB at the end", mb(at_warm), mb(end)));
    }
    problems
}

/// A list from the broker's management API (`path` below `/api/`).
async fn management_list(management: &str, path: &str) -> Vec<Value> {
    let resp = reqwest::Client::new()
        .get(format!("{management}{path}"))
        .basic_auth("guest", Some("guest"))
        .send()
        .await
        .expect("the management API answers");
    resp.json().await.expect("JSON")
}

/// The mock's broker connections as the management API lists them: their names.
async fn broker_connections(management: &str, client_name: &str) -> HashSet<String> {
    management_list(management, "connections")
        .await
        .iter()
        .filter(|c| c.pointer("/client_properties/connection_name").and_then(Value::as_str) == Some(client_name))
        .filter_map(|c| c["name"].as_str().map(str::to_string))
        .collect()
}

/// Messages the broker delivered again (after a lost connection) from the push queues of
/// `prefix`, as its management API counts them (`message_stats.redeliver`).
async fn redelivered(management: &str, prefix: &str) -> u64 {
    management_list(management, "queues/%2F")
        .await
        .iter()
        .filter(|q| q["name"].as_str().is_some_and(|n| n.starts_with(prefix) && n.contains("push_")))
        .filter_map(|q| q.pointer("/message_stats/redeliver").and_then(Value::as_u64))
        .sum()
}

/// One publishing connector for `duration`: a work per run, `addExpectations` then the
/// messages of each batch, paced to `rate` messages/s.
async fn amqp_connector(url: String, c: usize, deadline: Instant, rate: f64) -> (Stats, Vec<(String, usize)>, Vec<String>) {
    const BATCH: usize = 20;
    let mut conn = Connector::new(&url, &format!("tok-load{c:02}"));
    let config = conn.register(&format!("AMQP connector {c:02}")).await.expect("registered");
    conn.ping("null").await;
    let (exchange, routing) =
        (config["push_exchange"].as_str().expect("push_exchange"), config["push_routing"].as_str().expect("push_routing"));
    let publisher = Connection::connect(&broker_url(), ConnectionProperties::default()).await.expect("the broker answers");
    let channel = publisher.create_channel().await.expect("a channel");
    channel.confirm_select(ConfirmSelectOptions::default()).await.expect("confirms");
    let (run, ping) = (seconds("DROPS_RUN_SECONDS", 10, 2), Duration::from_secs(5));
    let (mut works, mut ids, mut seq) = (Vec::new(), Vec::new(), 0usize);
    let t0 = Instant::now();
    let mut last_ping = Instant::now();
    while Instant::now() < deadline {
        let work = conn.work_add(&format!("run {}", works.len() + 1)).await.expect("a work");
        let run_end = (Instant::now() + run).min(deadline);
        let mut sent = 0;
        loop {
            assert!(conn.add_expectations(&work, BATCH).await, "addExpectations answered: {:?}", conn.stats.first_errors);
            let mut confirms = Vec::with_capacity(BATCH);
            for _ in 0..BATCH {
                assert!(seq < 65_536, "connector {c} ran out of addresses");
                let value = format!("10.{}.{}.{}", 100 + c, seq / 256, seq % 256);
                let id = standard_id(&json!({"type": "ipv4-addr", "value": value})).expect("id");
                let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()),
                    "objects": [{"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value}]});
                seq += 1;
                let confirm = channel
                    .basic_publish(
                        exchange.into(),
                        routing.into(),
                        BasicPublishOptions::default(),
                        &amqp_message(&bundle.to_string(), seq, &work),
                        BasicProperties::default().with_delivery_mode(2).with_content_encoding("utf-8".into()),
                    )
                    .await
                    .expect("published");
                confirms.push(confirm);
                ids.push(id);
            }
            for confirm in confirms {
                assert!(confirm.await.expect("confirmed").is_ack(), "the broker acknowledged the message");
            }
            sent += BATCH;
            // Pacing: this connector's share of the rate.
            let due = Duration::from_secs_f64(seq as f64 / rate);
            if let Some(wait) = due.checked_sub(t0.elapsed()) {
                tokio::time::sleep(wait).await;
            }
            if last_ping.elapsed() >= ping {
                conn.ping(&json!({"published": seq}).to_string()).await;
                last_ping = Instant::now();
            }
            if Instant::now() >= run_end {
                break;
            }
        }
        conn.work_to_processed(&work, "done").await;
        works.push((work, sent));
    }
    let _ = channel.close(200, "done".into()).await;
    let _ = publisher.close(200, "done".into()).await;
    (conn.stats, works, ids)
}

/// Whether the mock says its broker connection is up (`/_mock/health`).
async fn connected(client: &reqwest::Client, serve_url: &str) -> bool {
    let health: Value = client.get(format!("{serve_url}/_mock/health")).send().await.expect("health").json().await.expect("JSON");
    health["transports"]["broker"]["connected"] == json!(true)
}

/// Closes the mock's broker connection every `every` until `deadline`; the time each
/// reconnection took, from the close to the mock saying it is connected again (which it
/// says once it has declared every queue again and consumes every push queue). Each
/// reconnection is then checked on the broker: a new connection, one consumer per push
/// queue (the management API's figures lag by a few seconds, so it is given 30 s).
async fn dropper(
    serve_url: String,
    management: String,
    client_name: String,
    prefix: String,
    deadline: Instant,
    every: Duration,
) -> Vec<Duration> {
    let api = {
        let url = reqwest::Url::parse(&management).expect("management URL");
        opencti_mock::amqp::management::Management::new(
            url.host_str().expect("host"),
            url.port().unwrap_or(15672),
            "guest",
            "guest",
            "/",
        )
        .expect("a management client")
    };
    let client = reqwest::Client::new();
    let mut reconnections = Vec::new();
    let start = Instant::now();
    loop {
        let at = start + every * (reconnections.len() as u32 + 1);
        if at + Duration::from_secs(1) >= deadline {
            return reconnections;
        }
        tokio::time::sleep_until(at.into()).await;
        let before = broker_connections(&management, &client_name).await;
        // The management API lists a new connection a few seconds late: try until it does.
        let listing = Instant::now();
        let mut closed = 0;
        while closed == 0 && listing.elapsed() < Duration::from_secs(30) {
            closed = api.close_connections_named(&client_name).await.expect("connections closed");
            if closed == 0 {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        assert!(closed >= 1, "the mock had no broker connection named {client_name:?} to close");
        let dropped = Instant::now();
        // The mock waits at least 200 ms before reconnecting: polled every 10 ms, the time
        // it says it is disconnected is seen.
        let mut lost = false;
        loop {
            assert!(dropped.elapsed() < Duration::from_secs(60), "the mock did not reconnect within 60 s");
            let up = connected(&client, &serve_url).await;
            lost |= !up;
            if lost && up {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        reconnections.push(dropped.elapsed());
        loop {
            assert!(
                dropped.elapsed() < Duration::from_secs(30),
                "the broker does not list the mock's new connection and consumers"
            );
            let now = broker_connections(&management, &client_name).await;
            let queues = api.queues_with_prefix(&prefix).await.expect("queues");
            if !now.is_empty()
                && now.is_disjoint(&before)
                && queues.iter().filter(|q| q.name.contains("push_")).all(|q| q.consumers == 1)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

async fn amqp_drops() -> Vec<String> {
    let connectors = 20;
    let duration = seconds("DROPS_SECONDS", 100, 6);
    let every = seconds("DROP_EVERY_SECONDS", 30, 3);
    let rate: f64 = std::env::var("DROPS_RATE").ok().and_then(|v| v.parse().ok()).unwrap_or(2000.0);
    let prefix = format!("bench{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let serve = serve(connectors, &["--broker", "required", "--queue-prefix", &prefix]);
    let health = control(&serve, "health").await;
    let management = health["transports"]["broker"]["admin"]["url"].as_str().expect("a management URL").to_string();
    let t0 = Instant::now();
    let deadline = t0 + duration;
    let drops = tokio::spawn(dropper(
        serve.url.clone(),
        management.clone(),
        format!("opencti-mock {prefix}"),
        prefix.clone(),
        deadline,
        every,
    ));
    let tasks = (0..connectors).map(|c| tokio::spawn(amqp_connector(serve.url.clone(), c, deadline, rate / connectors as f64)));
    let (mut stats, mut works, mut ids) = (Stats::default(), Vec::new(), Vec::new());
    for r in join_all(tasks).await {
        let (s, w, i) = r.expect("a connector task");
        stats.merge(s);
        works.extend(w);
        ids.extend(i);
    }
    let window = t0.elapsed();
    let reconnections = drops.await.expect("the dropper");
    let drained = drain(&serve, Duration::from_secs(600)).await;
    let bad = bad_works(&serve, &works).await;
    let objects = stored(&serve).await;
    let lost = ids.iter().filter(|i| !objects.contains_key(*i)).count();
    let twice = objects.values().filter(|w| **w != 1).count();
    // The management API refreshes its queue figures every few seconds: wait for them.
    let left = {
        let url = reqwest::Url::parse(&management).expect("management URL");
        let api = opencti_mock::amqp::management::Management::new(
            url.host_str().expect("host"),
            url.port().unwrap_or(15672),
            "guest",
            "guest",
            "/",
        )
        .expect("a management client");
        let waited = Instant::now();
        loop {
            let queues = api.queues_with_prefix(&prefix).await.expect("queues");
            let left: u64 = queues.iter().filter(|q| q.name.contains("push_")).map(|q| q.messages).sum();
            if left == 0 || waited.elapsed() > Duration::from_secs(30) {
                break left;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let redelivered = redelivered(&management, &prefix).await;
    let refused_pings = stats.errors_where(|op| op == "pingConnector");
    let errors = stats.errors_where(|op| op != "pingConnector");
    let label =
        format!("AMQP, {connectors} connectors × {} s, broker connection closed every {} s", duration.as_secs(), every.as_secs());
    let slowest = reconnections.iter().max().copied().unwrap_or_default();
    Figure::new(
        "drops.reconnect",
        format!("{label}: slowest reconnection (closed → the mock connected again, every push queue consumed)"),
        slowest.as_secs_f64() * 1000.0,
        "ms",
    )
    .compared(format!(
        "{} drops, {} reconnections; {refused_pings} pings refused while reconnecting (as the platform refuses them)",
        reconnections.len(),
        reconnections.len()
    ))
    .report();
    Figure::new("drops.lost", format!("{label}: objects lost"), lost as f64, "")
        .compared(format!(
            "{} messages published ({:.0} msg/s), {} objects stored; all ingested {:.1} s after publishing ended; {left} left in the push queues",
            ids.len(),
            ids.len() as f64 / window.as_secs_f64(),
            objects.len(),
            drained.as_secs_f64()
        ))
        .must_be_zero()
        .report();
    Figure::new("drops.twice", format!("{label}: objects written more than once"), twice as f64, "")
        .compared(format!("{redelivered} messages delivered again by the broker after a drop"))
        .must_be_zero()
        .report();
    Figure::new("drops.works", format!("{label}: works not complete with processed = expected = sent"), bad.len() as f64, "")
        .compared(format!("{} works; {errors} failed requests besides pings", works.len()))
        .must_be_zero()
        .report();
    let mut problems = Vec::new();
    if reconnections.is_empty() {
        problems.push("no drop happened: DROPS_SECONDS is shorter than DROP_EVERY_SECONDS".to_string());
    }
    if lost > 0 || twice > 0 || objects.len() != ids.len() || left > 0 {
        problems.push(format!(
            "{lost} lost, {twice} written more than once, {} stored of {}, {left} left queued",
            objects.len(),
            ids.len()
        ));
    }
    if !bad.is_empty() {
        problems.push(format!("{} work(s) wrong: {:?}", bad.len(), &bad[..bad.len().min(3)]));
    }
    if errors > 0 {
        problems.push(format!("{errors} failed request(s): {:?}", stats.first_errors));
    }
    problems
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut problems = Vec::new();
    if selected("http") {
        problems.extend(rt.block_on(load()));
    }
    if selected("soak") {
        problems.extend(rt.block_on(soak()));
    }
    if selected("amqp") {
        problems.extend(rt.block_on(amqp_drops()));
    }
    if quick() {
        println!("load: quick mode, speed figures not judged");
    }
    assert!(problems.is_empty(), "load: {}", problems.join("; "));
}
