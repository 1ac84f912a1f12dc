//! The gate's plan for a STREAM connector: what it changes in the knowledge while the
//! connector reads its collection, when it restarts it, and when it stops the stream.
//!
//! 1. **First run.** The gate gives the connector a collection of malware
//!    (`CONNECTOR_LIVE_STREAM_ID`) and, once the connector reads it, creates three malware
//!    and updates one; once it has read on across a heartbeat, deletes another and watches
//!    it read on across the next one (`first-run`); then it waits for a ping that saves a
//!    position at or after them (pycti pings every 40 s), creates
//!    two more (`after-save`) and, once they were sent, stops the connector (SIGTERM): what
//!    it received since its last save is what a restart must receive again.
//! 2. **Between the runs** it creates one more (`while-down`).
//! 3. **Second run.** Once the connector reads again and was sent what it missed, the gate
//!    creates and deletes one more (`second-run`), then stops the collection and ends the
//!    connection: the connector reconnects, is answered `410 This live stream is stopped`,
//!    and must stop by itself, saying why.
//!
//! Every step waits with a bound and, when the connector dies or never reads, records why
//! and gives up: the checks then say what they could not judge.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opencti_conformance::evidence::{ProducedEvent, StreamEvidence, StreamRequest};
use serde_json::{Value, json};

use crate::MockPlatform;
use crate::conform::jobs::Driven;
use crate::store::events::EventId;
use crate::store::streams::{ConnectionEnd, StreamCollection};

/// How long the connector has to open its stream.
const CONNECT: Duration = Duration::from_secs(60);
/// How long the stream has to deliver what the gate caused.
const DELIVER: Duration = Duration::from_secs(30);
/// How long a ping has to save the position (pycti: every 40 s).
const SAVE: Duration = Duration::from_secs(60);
/// How long the connector has to stop after the stream was stopped (pycti retries after
/// 3 s, then stops itself).
const STOP: Duration = Duration::from_secs(25);

/// The collection's filter: malware only.
fn malware_only() -> Value {
    json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["entity_type"], "values": ["Malware"], "operator": "eq", "mode": "or"}]})
}

/// The plan's state, shared by the runs' drivers and read back into the evidence.
#[derive(Debug, Default)]
pub struct Plan {
    collection_id: String,
    produced: Vec<ProducedEvent>,
    /// The number of stream connections when each run started.
    run_offsets: Vec<usize>,
    saved_at_end: Vec<Option<String>>,
    stopped_in_run: Option<usize>,
    saved_while_running: Option<bool>,
    notes: Vec<String>,
    counter: usize,
}

/// A shared plan.
pub type SharedPlan = Arc<Mutex<Plan>>;

/// Creates the collection (under `collection_id`, the connector's own setting when it has
/// one); returns the plan.
pub fn prepare(platform: &MockPlatform, collection_id: &str) -> SharedPlan {
    let collection = StreamCollection::new("Conformance stream").with_id(collection_id).filters(malware_only());
    if let Err(e) = platform.add_stream(collection) {
        tracing::warn!("the gate's stream collection was refused: {e}");
    }
    Arc::new(Mutex::new(Plan { collection_id: collection_id.to_string(), ..Plan::default() }))
}

fn lock(plan: &SharedPlan) -> std::sync::MutexGuard<'_, Plan> {
    plan.lock().expect("stream plan lock")
}

/// The collection the connector reads.
pub fn collection_id(plan: &SharedPlan) -> String {
    lock(plan).collection_id.clone()
}

/// Marks the start of a run.
pub fn run_started(platform: &MockPlatform, plan: &SharedPlan) {
    let offset = platform.stream_connections().len();
    lock(plan).run_offsets.push(offset);
}

/// Marks the end of a run: the position the platform now holds for the connector.
pub fn run_ended(platform: &MockPlatform, plan: &SharedPlan, connector_id: &str) {
    let saved = saved_position(platform, connector_id).map(|p| p.to_string());
    lock(plan).saved_at_end.push(saved);
}

/// Whether the gate stopped the stream during `run`.
pub fn stopped_in(plan: &SharedPlan, run: usize) -> bool {
    lock(plan).stopped_in_run == Some(run)
}

/// The `start_from` of the connector's saved state.
fn saved_position(platform: &MockPlatform, connector_id: &str) -> Option<EventId> {
    let state = platform.connector(connector_id)?.connector_state?;
    let v: Value = serde_json::from_str(&state).ok()?;
    v.get("start_from")?.as_str()?.parse().ok()
}

/// The number of the next malware to create.
fn next_number(plan: &SharedPlan) -> usize {
    let mut p = lock(plan);
    p.counter += 1;
    p.counter
}

/// Creates, updates or deletes malware number `n` and records the event it causes.
fn produce(platform: &MockPlatform, plan: &SharedPlan, n: usize, kind: &str, phase: &str) -> Option<String> {
    let id = format!("malware--6f1c0e4a-3b7d-4c2e-9a5f-{n:012}");
    let before = platform.stream_position();
    match kind {
        "delete" => {
            let internal = platform.object(&id)?.internal_id.to_string();
            let now = platform.core().store.clock().now();
            platform.core().store.write(|s| s.knowledge.remove_cascade(&internal, now))?;
        }
        _ => {
            let description = if kind == "update" { "Updated by the conformance gate" } else { "Created by the conformance gate" };
            let bundle = json!({"type": "bundle", "id": format!("bundle--6f1c0e4a-3b7d-4c2e-9a5f-{n:012}"), "objects": [
                {"type": "malware", "spec_version": "2.1", "id": id, "name": format!("Conformance malware {n}"),
                 "is_family": true, "description": description,
                 "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"}]});
            platform.seed(&bundle.to_string()).ok()?;
        }
    }
    let event = platform.stream_position();
    (event > before).then(|| {
        lock(plan).produced.push(ProducedEvent { id: event.to_string(), kind: kind.into(), phase: phase.into(), read_on: None });
        event.to_string()
    })
}

/// The connector's connections to the stream, newest last.
fn connections_of(platform: &MockPlatform, connector_id: &str) -> Vec<crate::store::streams::StreamConnection> {
    platform.stream_connections().into_iter().filter(|c| c.connector_id.as_deref() == Some(connector_id)).collect()
}

/// Waits for `what`, while the connector is alive; records a note and answers false when
/// the bound passes or the connector dies first.
async fn wait(plan: &SharedPlan, alive: &AtomicBool, bound: Duration, what: &str, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if done() {
            return true;
        }
        if !alive.load(Ordering::SeqCst) {
            lock(plan).notes.push(format!("the connector exited while the gate waited for {what}"));
            return false;
        }
        if start.elapsed() >= bound {
            lock(plan).notes.push(format!("{what} did not happen within {} s", bound.as_secs()));
            return false;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether every id in `ids` was sent to the connector on one of its connections.
fn all_sent(platform: &MockPlatform, connector_id: &str, ids: &[String]) -> bool {
    let sent: std::collections::HashSet<String> =
        connections_of(platform, connector_id).into_iter().flat_map(|c| c.sent_ids).collect();
    ids.iter().all(|id| sent.contains(id))
}

/// Drives run `index`; ends when the gate is done with it (the launcher then stops the
/// connector, unless it already exited).
pub async fn drive(platform: &MockPlatform, connector_id: &str, index: usize, plan: SharedPlan, alive: Arc<AtomicBool>) -> Driven {
    let admitted = |p: &MockPlatform| {
        connections_of(p, connector_id).iter().any(|c| c.end.is_none() && c.stream == lock(&plan).collection_id)
    };
    if !wait(&plan, &alive, CONNECT, "the connector to read its stream", || admitted(platform)).await {
        return Driven::default();
    }
    match index {
        0 => first_run(platform, connector_id, &plan, &alive).await,
        1 => second_run(platform, connector_id, &plan, &alive).await,
        _ => {}
    }
    Driven::default()
}

async fn first_run(platform: &MockPlatform, connector_id: &str, plan: &SharedPlan, alive: &AtomicBool) {
    let mut ids = Vec::new();
    let created: Vec<usize> = (0..3).map(|_| next_number(plan)).collect();
    for n in &created {
        ids.extend(produce(platform, plan, *n, "create", "first-run"));
    }
    // The first one changes.
    ids.extend(produce(platform, plan, created[0], "update", "first-run"));
    if !wait(plan, alive, DELIVER, "the first events to be sent", || all_sent(platform, connector_id, &ids)).await {
        return;
    }
    // Read on across a heartbeat, so that what happens to the connector after the deletion
    // is the deletion's doing (pycti reads ahead of its callbacks).
    if !read_on(platform, connector_id, plan, alive, "the connector to read on after its first events").await {
        return;
    }
    // The second one goes.
    let Some(deletion) = produce(platform, plan, created[1], "delete", "first-run") else { return };
    if !wait(plan, alive, DELIVER, "the deletion to be sent", || all_sent(platform, connector_id, std::slice::from_ref(&deletion))).await {
        return;
    }
    let survived = read_on(platform, connector_id, plan, alive, "the connector to read on after the deletion").await;
    if let Some(e) = lock(plan).produced.iter_mut().find(|e| e.id == deletion) {
        e.read_on = Some(survived);
    }
    if !survived {
        return;
    }
    let last: EventId = deletion.parse().unwrap_or_default();
    let saved = wait(plan, alive, SAVE, "a ping saving a position at or after the first events", || {
        saved_position(platform, connector_id).is_some_and(|p| p >= last)
    })
    .await;
    if saved || alive.load(Ordering::SeqCst) {
        lock(plan).saved_while_running = Some(saved);
    }
    if !saved {
        return;
    }
    let after: Vec<String> = (0..2).filter_map(|_| produce(platform, plan, next_number(plan), "create", "after-save")).collect();
    wait(plan, alive, DELIVER, "the events after the save to be sent", || all_sent(platform, connector_id, &after)).await;
}

/// Waits until the connector's open connection was sent one more heartbeat, while the
/// connector runs; false when it went away first.
async fn read_on(platform: &MockPlatform, connector_id: &str, plan: &SharedPlan, alive: &AtomicBool, what: &str) -> bool {
    let heartbeats = |p: &MockPlatform| connections_of(p, connector_id).iter().filter(|c| c.end.is_none()).map(|c| c.heartbeats).max();
    let Some(now) = heartbeats(platform) else {
        lock(plan).notes.push(format!("the connector had no open connection when the gate waited for {what}"));
        return false;
    };
    // Two of the platform's 5 s heartbeat periods, and a margin.
    wait(plan, alive, Duration::from_secs(12), what, || heartbeats(platform).is_none_or(|h| h > now)).await
        && heartbeats(platform).is_some_and(|h| h > now)
}

/// Between the runs: one more event, sent to nobody.
pub fn while_down(platform: &MockPlatform, plan: &SharedPlan) {
    produce(platform, plan, next_number(plan), "create", "while-down");
}

async fn second_run(platform: &MockPlatform, connector_id: &str, plan: &SharedPlan, alive: &AtomicBool) {
    let missed: Vec<String> =
        lock(plan).produced.iter().filter(|e| e.phase == "after-save" || e.phase == "while-down").map(|e| e.id.clone()).collect();
    wait(plan, alive, DELIVER, "the events the connector missed to be sent", || all_sent(platform, connector_id, &missed)).await;
    let n = next_number(plan);
    let mut ids: Vec<String> = produce(platform, plan, n, "create", "second-run").into_iter().collect();
    ids.extend(produce(platform, plan, n, "delete", "second-run"));
    if !wait(plan, alive, DELIVER, "the second run's events to be sent", || all_sent(platform, connector_id, &ids)).await {
        return;
    }
    // A connector that chokes on an event dies just after it was sent: give it a moment,
    // and stop the stream only under one that is still running.
    tokio::time::sleep(Duration::from_secs(1)).await;
    if !alive.load(Ordering::SeqCst) {
        lock(plan).notes.push("the connector exited before the gate stopped its stream".into());
        return;
    }
    // Stop the collection, end the connection: the connector must stop by itself.
    let collection = lock(plan).collection_id.clone();
    let _ = platform.set_stream_live(&collection, false);
    platform.close_stream_connections(Some(&collection));
    lock(plan).stopped_in_run = Some(1);
    let start = Instant::now();
    while alive.load(Ordering::SeqCst) && start.elapsed() < STOP {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if alive.load(Ordering::SeqCst) {
        lock(plan).notes.push(format!("still running {} s after the stream was stopped: the gate stopped it", STOP.as_secs()));
    }
}

/// The stream evidence of the session.
pub fn evidence(platform: &MockPlatform, connector_id: &str, plan: &SharedPlan) -> StreamEvidence {
    let p = lock(plan);
    let all = platform.stream_connections();
    let run_of = |position: usize| p.run_offsets.iter().rposition(|offset| position >= *offset);
    let connections = all
        .iter()
        .enumerate()
        .filter(|(_, c)| c.connector_id.as_deref() == Some(connector_id))
        .map(|(i, c)| {
            let (status, reason) = match &c.end {
                Some(ConnectionEnd::Refused { status, reason }) => (*status, Some(reason.clone())),
                _ => (200, None),
            };
            let end = match &c.end {
                None => "open",
                Some(ConnectionEnd::Refused { .. }) => "refused",
                Some(ConnectionEnd::ClientClosed) => "client_closed",
                Some(ConnectionEnd::ServerClosed) => "server_closed",
            };
            StreamRequest {
                run: run_of(i),
                stream: c.stream.clone(),
                status,
                reason,
                start_from: c.start_from.clone(),
                recover: c.recover.clone(),
                sent_ids: c.sent_ids.clone(),
                heartbeats: c.heartbeats,
                end: end.into(),
            }
        })
        .collect();
    StreamEvidence {
        collection_id: p.collection_id.clone(),
        produced: p.produced.clone(),
        connections,
        saved_at_end: p.saved_at_end.clone(),
        saved_while_running: p.saved_while_running,
        stopped_in_run: p.stopped_in_run,
        notes: p.notes.clone(),
    }
}
