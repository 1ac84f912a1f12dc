//! Reference STREAM connector: forwards a live stream's events to an HTTP sink (a SIEM's
//! event collector).
//!
//! It reads the collection it is configured with (`CONNECTOR_LIVE_STREAM_ID`) from the
//! position it saved, and POSTs each event — creations, updates, merges and deletions — to
//! `SINK_URL` as `{"id", "event", "data"}`. The position moves only once the sink accepted
//! the event: a sink that keeps refusing (three tries) stops the connector, and the restart
//! sends that event again. When the platform answers that the stream is stopped, the
//! connector stops, saying so.

use std::time::Duration;

use connector_kit::{Connector, Error, RegisterOptions, Settings, StreamEvent, StreamOptions};
use opencti_reference_connectors::{Fault, start};
use serde_json::json;

fn main() -> std::process::ExitCode {
    opencti_reference_connectors::main(run)
}

async fn run(fault: Fault) -> connector_kit::Result<()> {
    let sink = Settings::load()?.require(&["sink", "url"])?;
    let mut connector = start(&fault, RegisterOptions::default()).await?;
    if fault.is("STREAM-001") {
        // Reads the platform's whole live stream instead of its collection.
        connector = connector.with_settings(|s| s.live_stream_id = Some("live".into()));
    }
    if fault.is("STREAM-003") {
        // Its start position pinned in its code, whatever it saved.
        connector.set_state(json!({ "start_from": "0-0" }));
    }
    let mut forwarded = 0u64;
    loop {
        let mut heartbeats = 0;
        let options = StreamOptions { heartbeats: fault.is("STREAM-004") };
        let outcome = connector
            .listen_stream_with(options, async |event: &StreamEvent| {
                if event.event == "heartbeat" {
                    // Written as a catch-up job: a second heartbeat means "nothing left to
                    // read", so it stops.
                    heartbeats += 1;
                    if heartbeats == 2 {
                        tracing::info!("caught up with the stream; done");
                        connector.stopping().cancel();
                    }
                    return Ok(());
                }
                if fault.is("STREAM-005") && event.event == "delete" {
                    return Err(format!("cannot forward a {} event", event.event));
                }
                forward(&connector, &sink, event).await?;
                forwarded += 1;
                Ok(())
            })
            .await;
        match outcome {
            Err(Error::Stream(why)) if fault.is("STREAM-006") => {
                tracing::warn!("{why}; trying again in 2 s");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Ok(()) => break,
            Err(e) => {
                let _ = connector.stop().await;
                return Err(e);
            }
        }
        if connector.stopping().is_cancelled() {
            break;
        }
    }
    tracing::info!("{forwarded} events forwarded");
    if fault.is("PING-002") {
        // Cleans up after itself: its state too.
        connector.set_state(serde_json::Value::Null);
    }
    connector.stop().await
}

/// POSTs one event to the sink, three tries.
async fn forward(connector: &Connector, sink: &str, event: &StreamEvent) -> Result<(), String> {
    let body = json!({ "id": event.id, "event": event.event, "data": event.payload() });
    let mut last = String::new();
    for attempt in 0..3 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        match connector.api().http().post(sink).json(&body).send().await {
            Ok(r) if r.status().is_success() => return Ok(()),
            Ok(r) => last = format!("the sink answered {}", r.status()),
            Err(e) => last = format!("the sink is unreachable: {e}"),
        }
    }
    Err(format!("event {} not forwarded: {last}", event.id))
}
