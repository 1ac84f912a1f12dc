//! The embedded AMQP broker beside RabbitMQ, on the same loopback in the same run (a bench
//! binary): `cargo bench --bench broker [-- pubsub|ingest|memory|connect|pika]`.
//!
//! Each measure runs on RabbitMQ (`OPENCTI_MOCK_AMQP_URL`, default the local guest/guest
//! broker) and then on the embedded broker (`opencti_mock::embedded_broker`, started in
//! this process on a free loopback port); the embedded figure is shown beside RabbitMQ's.
//!
//! 1. `pubsub`: the broker with lapin alone (`benches/amqp.rs` measure 1, from
//!    `benches/support/amqp.rs`): 50,000 pycti-shaped one-object messages published
//!    persistent on a confirmed channel while a consumer (prefetch 64, manual ack, its own
//!    connection) takes them; then publish-only, and that backlog drained.
//! 2. `ingest`: the mock's AMQP ingest (`benches/amqp.rs` measures 2 and 3): an in-process
//!    platform on RabbitMQ, then one on its embedded broker (`BrokerMode::Embedded`), a
//!    work expecting 50,000 messages published as pycti's `_send_bundle` does. The goal:
//!    the embedded broker's rate at least RabbitMQ's (the target is RabbitMQ's figure of the
//!    same run).
//! 3. `memory`: 50,000 such messages left queued in a durable queue; per message, for
//!    RabbitMQ the queue's `memory` from the management API (the queue process's Erlang
//!    heap: bodies over 64 B are off-heap binaries it does not count, so the node's
//!    `mem_used` growth is shown beside it), for the embedded broker the growth of the
//!    bytes live in this process's allocator (the allocator `opencti-mock serve` runs with,
//!    mimalloc, wrapped to count them), with the RSS growth beside it.
//! 4. `connect`: 200 times lapin's connect (the AMQP handshake), a channel opened, the
//!    connection closed: mean and p95.
//! 5. `pika`: pycti's own path, in the pinned venv's Python: 5,000 messages published as
//!    `_send_bundle` does on a `BlockingConnection(heartbeat=10)` with `confirm_delivery`
//!    (each publish waits for its confirm), persistent.
//!
//! The embedded broker shares this process and its runtime with the lapin clients, as it
//! shares `opencti-mock serve`'s with the platform; RabbitMQ is its own (Erlang) process.
//! Quick mode (`BENCH_QUICK=1`): 2,000 messages (pika 200, connect 20); correctness (every
//! message consumed, queued, ingested) is asserted either way.

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use lapin::uri::AMQPUri;
use opencti_mock::embedded_broker::{EmbeddedBroker, EmbeddedOptions};
use serde_json::Value;

mod support;
use support::amqp::{
    Ceiling, On, PREFETCH, WINDOW, ceiling, confirmed_channel, connect, delete_queue, durable_queue, ingest, messages,
    publish_all, queue_depth, rabbitmq_url,
};
use support::{Figure, number, percentile, proc_status, quick, selected, size, sorted};

/// mimalloc (as `opencti-mock serve`), counting the bytes live: the embedded broker's
/// memory is read from the allocator, not only from RSS.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to mimalloc unchanged; only a counter is updated beside.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { mimalloc::MiMalloc.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { mimalloc::MiMalloc.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { mimalloc::MiMalloc.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { mimalloc::MiMalloc.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Messages per throughput and memory measure.
fn n() -> usize {
    size(50_000, 2_000)
}

/// Connections timed.
fn connections() -> usize {
    size(200, 20)
}

/// Messages pika publishes (one confirm round trip each).
fn pika_messages() -> usize {
    size(5_000, 200)
}

/// The two brokers.
struct Brokers {
    rabbitmq: String,
    /// `RabbitMQ 3.x.y`, or `RabbitMQ` when the management API does not say.
    rabbitmq_name: String,
    embedded: EmbeddedBroker,
}

/// `x (embedded × RabbitMQ: r)`.
fn versus(rabbitmq: f64, embedded: f64, unit: &str) -> String {
    format!("RabbitMQ {} {unit}; embedded × RabbitMQ: {:.2}", number(rabbitmq), embedded / rabbitmq)
}

async fn pubsub(b: &Brokers) {
    let r = ceiling(&b.rabbitmq, n()).await;
    let e = ceiling(&b.embedded.url(), n()).await;
    let published = |c: &Ceiling| format!("publishing took {:.0} ms", c.both_published.as_secs_f64() * 1000.0);
    Figure::new(
        "broker.pubsub_rabbitmq",
        format!(
            "{} (lapin): {} persistent pycti messages of ~{} B published (confirms window {WINDOW}) while consumed (prefetch {PREFETCH}, manual ack)",
            b.rabbitmq_name, r.n, r.message_bytes
        ),
        r.both,
        "msg/s",
    )
    .compared(published(&r))
    .report();
    Figure::new("broker.pubsub_embedded", "  the same on the embedded broker", e.both, "msg/s")
        .compared(format!("{}; {}", versus(r.both, e.both, "msg/s"), published(&e)))
        .report();
    Figure::new("broker.publish_rabbitmq", format!("{}: publish-only (nobody consuming)", b.rabbitmq_name), r.publish, "msg/s")
        .report();
    Figure::new("broker.publish_embedded", "  the same on the embedded broker", e.publish, "msg/s")
        .compared(versus(r.publish, e.publish, "msg/s"))
        .report();
    Figure::new("broker.consume_rabbitmq", format!("{}: consume-only (a queued backlog)", b.rabbitmq_name), r.consume, "msg/s")
        .report();
    Figure::new("broker.consume_embedded", "  the same on the embedded broker", e.consume, "msg/s")
        .compared(versus(r.consume, e.consume, "msg/s"))
        .report();
}

async fn mock_ingest(b: &Brokers) {
    for (backlog, id, what) in [
        (false, "ingest_live", format!("{} pycti one-object messages, first publish → work complete", n())),
        (true, "ingest_backlog", format!("a queued backlog of {}, ingest resumed → work complete", n())),
    ] {
        let (r, r_published) = ingest(On::RabbitMq, n(), backlog).await;
        let (e, e_published) = ingest(On::Embedded, n(), backlog).await;
        let took = |d: Duration| {
            format!("{} took {:.0} ms", if backlog { "queuing them" } else { "publishing" }, d.as_secs_f64() * 1000.0)
        };
        Figure::new(
            format!("broker.{id}_rabbitmq"),
            format!("mock AMQP ingest (in-process platform) on {}: {what}", b.rabbitmq_name),
            r,
            "msg/s",
        )
        .compared(took(r_published))
        .at_least(5000.0)
        .report();
        Figure::new(format!("broker.{id}_embedded"), "  the same on the platform's embedded broker", e, "msg/s")
            .compared(format!("{}; {}", versus(r, e, "msg/s"), took(e_published)))
            .at_least(r.floor())
            .report();
    }
}

/// RabbitMQ's management API (port 15672 of the broker's host, the broker's user).
struct Management {
    base: String,
    user: String,
    password: String,
    vhost: String,
    client: reqwest::Client,
}

impl Management {
    fn of(url: &str) -> Management {
        let uri: AMQPUri = url.parse().expect("an AMQP URL");
        Management {
            base: format!("http://{}:15672/api", uri.authority.host),
            user: uri.authority.userinfo.username,
            password: uri.authority.userinfo.password,
            vhost: uri.vhost.replace('/', "%2F"),
            client: reqwest::Client::new(),
        }
    }

    async fn get(&self, path: &str) -> Result<Value, String> {
        let url = format!("{}/{path}", self.base);
        let resp =
            self.client.get(&url).basic_auth(&self.user, Some(&self.password)).send().await.map_err(|e| format!("{url}: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("{url}: HTTP {status}"));
        }
        resp.json().await.map_err(|e| format!("{url}: {e}"))
    }

    async fn queue(&self, name: &str) -> Value {
        self.get(&format!("queues/{}/{name}", self.vhost)).await.expect("the management API answers")
    }

    /// The node's `mem_used` (bytes).
    async fn node_memory(&self, node: &str) -> u64 {
        self.get(&format!("nodes/{node}")).await.expect("the management API answers")["mem_used"].as_u64().unwrap_or(0)
    }
}

/// Bytes per message.
fn per(bytes: i64, n: usize) -> f64 {
    bytes as f64 / n as f64
}

async fn memory(b: &Brokers) {
    // RabbitMQ: the queue's `memory` once its statistics show every message.
    let bodies = messages(n(), "work_bench_memory");
    let body = bodies.iter().map(Vec::len).sum::<usize>() / n();
    let m = Management::of(&b.rabbitmq);
    let node = m.get("overview").await.expect("the management API answers")["node"].as_str().unwrap_or_default().to_string();
    let conn = connect(&b.rabbitmq).await;
    let channel = confirmed_channel(&conn).await;
    let queue = durable_queue(&channel, "bench-memory").await;
    let node_before = m.node_memory(&node).await;
    publish_all(&channel, "", &queue, &bodies).await;
    assert_eq!(queue_depth(&channel, &queue).await as usize, n(), "RabbitMQ holds every message");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let q = m.queue(&queue).await;
        if q["messages"].as_u64() == Some(n() as u64) {
            break;
        }
        assert!(Instant::now() < deadline, "the management API never showed {} messages in {queue}: {q}", n());
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // One more statistics interval (5 s by default): the figures of a queue at rest.
    tokio::time::sleep(Duration::from_millis(5500)).await;
    let q = m.queue(&queue).await;
    let node_after = m.node_memory(&node).await;
    let r = per(q["memory"].as_i64().expect("the queue's memory"), n());
    delete_queue(&channel, &queue).await;
    let _ = conn.close(200, "done".into()).await;
    Figure::new(
        "broker.memory_rabbitmq",
        format!(
            "memory per queued message ({} persistent pycti messages of ~{body} B in a durable queue), {}: the queue's `memory` (management API) ÷ N",
            n(),
            b.rabbitmq_name
        ),
        r,
        "B",
    )
    .compared(format!(
        "the node's mem_used grew {} B per message; message_bytes_ram {} MB",
        number(per(node_after as i64 - node_before as i64, n())),
        number(q["message_bytes_ram"].as_f64().unwrap_or(f64::NAN) / 1e6)
    ))
    .report();

    // The embedded broker: the bytes live in this process before and after.
    let conn = connect(&b.embedded.url()).await;
    let channel = confirmed_channel(&conn).await;
    let queue = durable_queue(&channel, "bench-memory").await;
    let pid = std::process::id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (live_before, rss_before) = (LIVE.load(Ordering::Relaxed), proc_status(pid, "VmRSS"));
    publish_all(&channel, "", &queue, &bodies).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (live_after, rss_after) = (LIVE.load(Ordering::Relaxed), proc_status(pid, "VmRSS"));
    let figures = b.embedded.queue(&queue).expect("the queue");
    assert_eq!(figures.messages as usize, n(), "the embedded broker holds every message");
    delete_queue(&channel, &queue).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let live_deleted = LIVE.load(Ordering::Relaxed);
    let _ = conn.close(200, "done".into()).await;
    let e = per(live_after as i64 - live_before as i64, n());
    Figure::new(
        "broker.memory_embedded",
        "  the same on the embedded broker (in this process): the allocator's live bytes grew ÷ N",
        e,
        "B",
    )
    .compared(format!(
        "{}; RSS grew {} B per message; once the queue is deleted {} B per message remain",
        versus(r, e, "B"),
        number(per(rss_after as i64 - rss_before as i64, n())),
        number(per(live_deleted as i64 - live_before as i64, n()))
    ))
    .report();
}

/// Each of `connections()` lapin connections opened, a channel opened on it, and closed
/// (ms each), after a few not counted.
async fn connect_times(url: &str) -> Vec<f64> {
    let mut times = Vec::with_capacity(connections());
    for i in 0..connections() + 5 {
        let t0 = Instant::now();
        let conn = connect(url).await;
        let _channel = conn.create_channel().await.expect("a channel");
        conn.close(200, "done".into()).await.expect("closed");
        if i >= 5 {
            times.push(t0.elapsed().as_secs_f64() * 1000.0);
        }
    }
    sorted(times)
}

async fn connection_setup(b: &Brokers) {
    let r = connect_times(&b.rabbitmq).await;
    let e = connect_times(&b.embedded.url()).await;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let what = format!("lapin connect + channel open + connection close, {} times", connections());
    let max = |v: &[f64]| format!("max {:.2} ms", v[v.len() - 1]);
    Figure::new("broker.connect_mean_rabbitmq", format!("{what}, {}: mean", b.rabbitmq_name), mean(&r), "ms")
        .compared(max(&r))
        .report();
    Figure::new("broker.connect_mean_embedded", "  the same on the embedded broker: mean", mean(&e), "ms")
        .compared(format!("{}; {}", versus(mean(&r), mean(&e), "ms"), max(&e)))
        .report();
    Figure::new("broker.connect_p95_rabbitmq", format!("{what}, {}: p95", b.rabbitmq_name), percentile(&r, 0.95), "ms").report();
    Figure::new("broker.connect_p95_embedded", "  the same on the embedded broker: p95", percentile(&e, 0.95), "ms")
        .compared(versus(percentile(&r, 0.95), percentile(&e, 0.95), "ms"))
        .report();
}

/// pycti's `_send_bundle` loop: one `BlockingConnection` (as `send_stix2_bundle` opens),
/// `confirm_delivery`, then each message published persistent and confirmed in turn.
const PIKA_SCRIPT: &str = r#"
import json, sys, time
import pika
host, port, user, password, vhost, queue, path = sys.argv[1:8]
with open(path, encoding="utf-8") as f:
    bodies = f.read().splitlines()
start = time.perf_counter()
connection = pika.BlockingConnection(pika.ConnectionParameters(heartbeat=10, host=host, port=int(port),
    virtual_host=vhost, credentials=pika.PlainCredentials(user, password)))
channel = connection.channel()
channel.confirm_delivery()
connected = time.perf_counter()
for body in bodies:
    channel.basic_publish(exchange="", routing_key=queue, body=body,
        properties=pika.BasicProperties(delivery_mode=2, content_encoding="utf-8"))
published = time.perf_counter()
channel.close()
connection.close()
print(json.dumps({"connect": connected - start, "publish": published - connected, "pika": pika.__version__}))
"#;

/// pika publishing `bodies` (one a line in `file`) to a fresh durable queue of the broker
/// at `url`: msg/s, connection set-up (ms), pika's version; or why there is no figure.
async fn pika_rate(url: &str, file: &std::path::Path) -> Result<(f64, f64, String), String> {
    let python = std::panic::catch_unwind(support::common::pycti_python)
        .map_err(|_| "the pinned Python venv could not be created".to_string())?;
    let conn = connect(url).await;
    let channel = confirmed_channel(&conn).await;
    let queue = durable_queue(&channel, "bench-pika").await;
    let uri: AMQPUri = url.parse().map_err(|e| format!("{url}: {e}"))?;
    let args = [
        uri.authority.host,
        uri.authority.port.to_string(),
        uri.authority.userinfo.username,
        uri.authority.userinfo.password,
        uri.vhost,
        queue.clone(),
        file.display().to_string(),
    ];
    let out =
        tokio::task::spawn_blocking(move || std::process::Command::new(&python).args(["-c", PIKA_SCRIPT]).args(args).output())
            .await
            .expect("the python task")
            .map_err(|e| format!("cannot run python: {e}"))?;
    let depth = queue_depth(&channel, &queue).await;
    delete_queue(&channel, &queue).await;
    let _ = conn.close(200, "done".into()).await;
    if !out.status.success() {
        return Err(format!("python failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    assert_eq!(depth as usize, pika_messages(), "every message pika published is queued");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).ok_or_else(|| format!("unexpected output: {stdout}"))?;
    let publish = report["publish"].as_f64().filter(|s| *s > 0.0).ok_or_else(|| format!("no time in {report}"))?;
    let connect = report["connect"].as_f64().unwrap_or(f64::NAN) * 1000.0;
    Ok((pika_messages() as f64 / publish, connect, report["pika"].as_str().unwrap_or("?").to_string()))
}

async fn pika(b: &Brokers) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("messages.txt");
    let mut text = Vec::new();
    for body in messages(pika_messages(), "work_bench_pika") {
        text.extend_from_slice(&body);
        text.push(b'\n');
    }
    std::fs::write(&file, text).expect("messages written");
    let what = |version: &str, on: &str| {
        format!(
            "pycti's path: pika {version} BlockingConnection(heartbeat=10), confirm_delivery, {} persistent messages published one confirm at a time, {on}",
            pika_messages()
        )
    };
    let connected = |ms: f64| format!("connection + channel + confirm_delivery {ms:.1} ms");
    let r = pika_rate(&b.rabbitmq, &file).await;
    let e = pika_rate(&b.embedded.url(), &file).await;
    match &r {
        Ok((rate, ms, version)) => {
            Figure::new("broker.pika_rabbitmq", what(version, &b.rabbitmq_name), *rate, "msg/s").compared(connected(*ms)).report()
        }
        Err(why) => {
            Figure::new("broker.pika_rabbitmq", format!("pika on {}: no figure ({why})", b.rabbitmq_name), f64::NAN, "msg/s")
                .report()
        }
    }
    match (&e, &r) {
        (Ok((rate, ms, _)), Ok((r_rate, ..))) => {
            Figure::new("broker.pika_embedded", "  the same on the embedded broker", *rate, "msg/s")
                .compared(format!("{}; {}", versus(*r_rate, *rate, "msg/s"), connected(*ms)))
                .report()
        }
        (Ok((rate, ms, _)), Err(_)) => Figure::new("broker.pika_embedded", "  the same on the embedded broker", *rate, "msg/s")
            .compared(connected(*ms))
            .report(),
        (Err(why), _) => {
            Figure::new("broker.pika_embedded", format!("  pika on the embedded broker: no figure ({why})"), f64::NAN, "msg/s")
                .report()
        }
    }
}

async fn brokers() -> Brokers {
    let rabbitmq = rabbitmq_url();
    let version = match Management::of(&rabbitmq).get("overview").await {
        Ok(o) => o["rabbitmq_version"].as_str().map(str::to_string),
        Err(_) => None,
    };
    let rabbitmq_name = version.map_or_else(|| "RabbitMQ".to_string(), |v| format!("RabbitMQ {v}"));
    let embedded = EmbeddedBroker::start(EmbeddedOptions::default()).await.expect("the embedded broker listens");
    Brokers { rabbitmq, rabbitmq_name, embedded }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let b = rt.block_on(brokers());
    if selected("pubsub") {
        rt.block_on(pubsub(&b));
    }
    if selected("ingest") {
        rt.block_on(mock_ingest(&b));
    }
    if selected("memory") {
        rt.block_on(memory(&b));
    }
    if selected("connect") {
        rt.block_on(connection_setup(&b));
    }
    if selected("pika") {
        rt.block_on(pika(&b));
    }
    rt.block_on(b.embedded.shutdown());
    if quick() {
        println!("broker: quick mode, figures not judged");
    }
}
