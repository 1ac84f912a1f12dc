//! AMQP benchmarks on the local RabbitMQ (a bench binary, not timed tests): `cargo bench --bench amqp`.
//!
//! 1. The broker's own ceiling, with lapin alone: 50,000 pycti-shaped one-object messages
//!    published persistent on a confirmed channel (confirms pipelined in a sliding window)
//!    to a temporary durable queue while a lapin consumer (prefetch 64, manual ack, its own
//!    connection) consumes them; then the same number published with no consumer, and that
//!    backlog drained by the consumer.
//! 2. The mock's AMQP ingest: an in-process platform on the broker, a registered
//!    EXTERNAL_IMPORT connector, a work expecting 50,000 messages, and the messages
//!    published exactly as pycti's `_send_bundle` does to the connector's push queue, timed
//!    from the first publish to the work being complete.
//! 3. The same with the messages queued while the platform's ingest is paused, timed from
//!    the resumption: the worker's own rate.
//!
//! The broker is `OPENCTI_MOCK_AMQP_URL` (default the local guest/guest broker). Each
//! figure of the mock is shown beside the broker's own in the same run. Quick mode
//! (`BENCH_QUICK=1`): 2,000 messages. The measures themselves are in
//! `benches/support/amqp.rs`; `benches/broker.rs` runs them on the embedded broker beside
//! RabbitMQ.

mod support;
use support::amqp::{Ceiling, On, PREFETCH, WINDOW, ceiling, ingest, rabbitmq_url};
use support::{Figure, quick, selected, size};

/// Messages per measure.
fn n() -> usize {
    size(50_000, 2_000)
}

async fn broker_ceiling() -> Ceiling {
    let c = ceiling(&rabbitmq_url(), n()).await;
    Figure::new(
        "amqp.broker_both",
        format!(
            "broker alone (lapin): {} persistent pycti messages of ~{} B published (confirms window {WINDOW}) while consumed (prefetch {PREFETCH})",
            c.n, c.message_bytes
        ),
        c.both,
        "msg/s",
    )
    .compared(format!("publishing took {:.0} ms", c.both_published.as_secs_f64() * 1000.0))
    .report();
    Figure::new("amqp.broker_publish", "  broker alone: publish-only", c.publish, "msg/s").report();
    Figure::new("amqp.broker_consume", "  broker alone: consume-only (a queued backlog)", c.consume, "msg/s").report();
    c
}

/// "broker alone: …" when the ceiling was measured in this run.
fn beside(what: &str, broker: Option<f64>) -> String {
    broker.map(|r| format!("broker alone, {what}: {} msg/s", support::number(r))).unwrap_or_default()
}

async fn mock_ingest_live(ceiling: Option<&Ceiling>) {
    let (rate, published) = ingest(On::RabbitMq, n(), false).await;
    Figure::new(
        "amqp.ingest_live",
        format!("mock AMQP ingest: {} pycti one-object messages, first publish → work complete", n()),
        rate,
        "msg/s",
    )
    .compared(format!(
        "{}; publishing took {:.0} ms",
        beside("publish+consume", ceiling.map(|c| c.both)),
        published.as_secs_f64() * 1000.0
    ))
    .at_least(5000.0)
    .report();
}

async fn mock_ingest_backlog(ceiling: Option<&Ceiling>) {
    let (rate, published) = ingest(On::RabbitMq, n(), true).await;
    Figure::new(
        "amqp.ingest_backlog",
        format!("mock AMQP ingest of a queued backlog of {}, ingest resumed → work complete", n()),
        rate,
        "msg/s",
    )
    .compared(format!(
        "{}; queuing them took {:.0} ms (broker publish-only {})",
        beside("consume-only", ceiling.map(|c| c.consume)),
        published.as_secs_f64() * 1000.0,
        ceiling.map(|c| format!("{} msg/s", support::number(c.publish))).unwrap_or_else(|| "not measured".into())
    ))
    .at_least(5000.0)
    .report();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    let mut ceiling = None;
    if selected("broker") {
        ceiling = Some(rt.block_on(broker_ceiling()));
    }
    if selected("ingest_live") {
        rt.block_on(mock_ingest_live(ceiling.as_ref()));
    }
    if selected("ingest_backlog") {
        rt.block_on(mock_ingest_backlog(ceiling.as_ref()));
    }
    if quick() {
        println!("amqp: quick mode, figures not judged");
    }
}
