//! STREAM: a connector that reads the platform's live stream — a named collection — and
//! must keep its place in it across restarts.
//!
//! What the gate does (`src/conform/stream.rs` in the mock): it gives the connector a
//! collection of malware; in the first run it creates three malware, updates one and
//! deletes another, waits for a ping that saves a position after them, creates two more
//! and stops the connector; between the runs it creates one more; in the second run, once
//! the connector was sent what it missed, it creates and deletes one more, then stops the
//! collection and ends the connection (the connector's next request is answered 410).

use crate::check::{Check, Level, Outcome};
use crate::evidence::{Evidence, RunEnd, StreamEvidence, StreamRequest};
use crate::verify::sample;

const TYPES: &[&str] = &["STREAM"];

/// The STREAM suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "STREAM-001",
            title: "It reads the stream it is configured with",
            level: Level::Must,
            requirement: "A stream connector MUST read the live stream collection it is configured with \
                          (CONNECTOR_LIVE_STREAM_ID, /stream/<id>) and be admitted to it: the raw and live streams need BYPASS, \
                          which the Connector role does not have, and another collection is not what its operator chose.",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper.listen_stream (url/stream/<live_stream_id>); platform \
                    sseMiddleware.js computeUserAndCollection (live needs BYPASS; a collection needs TAXIIAPI); platform data \
                    initialisation (the Connector role has no BYPASS)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: reads_its_stream,
        },
        Check {
            id: "STREAM-002",
            title: "It saves its position",
            level: Level::Must,
            requirement: "A stream connector MUST save its position in the stream (its state's start_from) as it goes: the platform \
                          keeps the state its pings carry, and a restart resumes from it.",
            cites: "pycti 7.261026.0 ListenStream.run (state start_from = msg.id after each event and heartbeat) and PingAlive.ping \
                    (the state, every 40 s); platform pingConnector stores the state",
            applies_to: TYPES,
            enforced_by_pycti: true,
            verify: saves_position,
        },
        Check {
            id: "STREAM-003",
            title: "A restart resumes where it stopped, with no gap",
            level: Level::Must,
            requirement: "After a restart a stream connector MUST resume from the position it saved (Last-Event-ID), without \
                          recovering the whole stream again, and receive every event after that position: what it received \
                          since its last save again, and what happened while it was down.",
            cites: "pycti 7.261026.0 ListenStream.run (start_from and recover_until from the state; ?recover only replays when \
                    recover_until is after start_from) and SSEClient (Last-Event-ID); platform sseMiddleware.js (recovery when \
                    recover > start; XREAD from the start id, strictly after it)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: resumes,
        },
        Check {
            id: "STREAM-004",
            title: "Heartbeats keep it reading",
            level: Level::Must,
            requirement: "A stream connector MUST take heartbeats for what they are — the stream's position while nothing \
                          happens — and keep reading across them.",
            cites: "platform sseMiddleware.js (a heartbeat with the current id every 5 s); pycti 7.261026.0 ListenStream.run \
                    (heartbeat: start_from = msg.id, no callback) and StreamAlive (stops the connector after 45 s without one)",
            applies_to: TYPES,
            enforced_by_pycti: true,
            verify: survives_heartbeats,
        },
        Check {
            id: "STREAM-005",
            title: "It handles deletions",
            level: Level::Must,
            requirement: "A stream connector MUST handle delete events (the default, CONNECTOR_LIVE_STREAM_LISTEN_DELETE=true) and \
                          go on reading: a failing callback stops a pycti connector, and every event after it waits for a restart.",
            cites: "platform stream-utils.ts buildDeleteEvent and sseMiddleware.js (deletions sent unless listen-delete is \
                    false); pycti 7.261026.0 ListenStream.run (a callback error: 'Error in ListenStream loop, exit.', then \
                    SIGTERM)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: handles_deletions,
        },
        Check {
            id: "STREAM-006",
            title: "A stopped stream stops it, saying why",
            level: Level::Must,
            requirement: "When the platform answers that its stream is stopped (410 This live stream is stopped), a stream \
                          connector MUST stop by itself, with the reason in its log, rather than linger registered and reading \
                          nothing.",
            cites: "platform sseMiddleware.js computeUserAndCollection (410 This live stream is stopped, empty body, the reason \
                    in the status line); pycti 7.261026.0 ListenStream.run (raise_for_status, 'Error in ListenStream loop, \
                    exit.' with the reason, then SIGTERM: exit status 143)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: stops_when_stopped,
        },
    ]
}

/// The stream evidence; blocked without it.
fn stream(ev: &Evidence) -> Result<&StreamEvidence, Outcome> {
    ev.stream.as_ref().ok_or_else(|| Outcome::blocked("the gate ran no stream plan"))
}

fn notes(s: &StreamEvidence) -> String {
    if s.notes.is_empty() { String::new() } else { format!(" ({})", s.notes.join("; ")) }
}

fn describe(c: &StreamRequest) -> String {
    let answer = match (&c.reason, c.status) {
        (Some(reason), status) => format!("{status} {reason}"),
        (None, status) => status.to_string(),
    };
    format!("/stream/{} answered {answer}", c.stream)
}

/// Requests but the ones the gate's stop answered (410 on the connector's collection).
fn before_stop(s: &StreamEvidence) -> Vec<&StreamRequest> {
    s.connections.iter().filter(|c| !(c.status == 410 && c.stream == s.collection_id)).collect()
}

fn reads_its_stream(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let judged = before_stop(s);
    if judged.is_empty() {
        return Outcome::fail(format!("a request to /stream/{}", s.collection_id), format!("none was made{}", notes(s)));
    }
    let wrong: Vec<String> =
        judged.iter().filter(|c| c.stream != s.collection_id || !c.admitted()).map(|c| describe(c)).collect();
    if wrong.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(format!("every request to /stream/{}, admitted", s.collection_id), sample(&wrong, 3))
    }
}

/// Positions the connector's pings saved in run `run`, in order.
fn saved_in(ev: &Evidence, run: usize) -> Vec<String> {
    ev.operations_of(run)
        .filter(|o| o.is("pingConnector") && o.var_str("/id") == Some(ev.connector_id.as_str()))
        .filter_map(|o| o.var_str("/state"))
        .filter_map(|state| serde_json::from_str::<serde_json::Value>(state).ok())
        .filter_map(|v| v.get("start_from").and_then(|f| f.as_str()).map(str::to_string))
        .collect()
}

/// `<ms>-<seq>` as a pair, for comparison.
fn position(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

fn saves_position(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some(last) = s.produced.iter().filter(|e| e.phase == "first-run").filter_map(|e| position(&e.id)).max() else {
        return Outcome::blocked(format!("the gate caused no event in the first run{}", notes(s)));
    };
    let sent =
        s.connections.iter().filter(|c| c.run == Some(0)).flat_map(|c| c.sent_ids.iter()).filter_map(|i| position(i)).max();
    if sent.is_none_or(|p| p < last) {
        return Outcome::blocked(format!("the first run's events were not all sent to the connector{}", notes(s)));
    }
    let saved = saved_in(ev, 0);
    if s.saved_while_running == Some(false) {
        // Saved, if at all, only when it was stopped: a crash would have lost it.
        return Outcome::fail(
            format!("a ping saving start_from at or after {}-{} while it runs (the gate waited 60 s)", last.0, last.1),
            if saved.is_empty() {
                "no ping carried a start_from".to_string()
            } else {
                format!("none while it ran; saved only when stopped: {}", sample(&saved, 3))
            },
        );
    }
    if saved.iter().filter_map(|p| position(p)).any(|p| p >= last) {
        Outcome::Pass
    } else if ev.runs.first().is_some_and(|r| r.end == RunEnd::Exited) {
        Outcome::blocked(format!("the connector exited before a ping could save its position (see RUN-001){}", notes(s)))
    } else {
        Outcome::fail(
            format!("a ping saving start_from at or after {}-{}", last.0, last.1),
            if saved.is_empty() { "no ping carried a start_from".to_string() } else { format!("saved: {}", sample(&saved, 3)) },
        )
    }
}

fn resumes(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some(Some(saved)) = s.saved_at_end.first() else {
        return Outcome::blocked(format!("the first run saved no position{}", notes(s)));
    };
    if saved == "0-0" || ev.runs.get(1).is_none() {
        return Outcome::blocked(format!("the first run saved no position past 0-0, or there was no second run{}", notes(s)));
    }
    let Some(resumed) = s.connections.iter().find(|c| c.run == Some(1) && c.admitted()) else {
        return Outcome::blocked(format!("the connector did not read its stream again in the second run{}", notes(s)));
    };
    let from = resumed.start_from.as_deref().unwrap_or("(none)");
    if from != saved {
        let recovered = if resumed.recover.is_some() && (from == "0-0" || from == "(none)") {
            format!(", with a recovery of every object up to {}", resumed.recover.as_deref().unwrap_or_default())
        } else {
            String::new()
        };
        return Outcome::fail(
            format!("the second run resuming from {saved}, the position saved"),
            format!("it started from {from}{recovered}"),
        );
    }
    let after = position(saved).unwrap_or_default();
    let due: Vec<&str> = s
        .produced
        .iter()
        .filter(|e| e.phase != "second-run" && position(&e.id).is_some_and(|p| p > after))
        .map(|e| e.id.as_str())
        .collect();
    let sent: Vec<&String> = s.connections.iter().filter(|c| c.run == Some(1)).flat_map(|c| c.sent_ids.iter()).collect();
    let missing: Vec<&str> = due.iter().copied().filter(|id| !sent.iter().any(|s| s == id)).collect();
    if missing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(
            format!("every event after {saved} sent again after the restart"),
            format!("never sent: {}", sample(&missing, 4)),
        )
    }
}

fn survives_heartbeats(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let first: Vec<&StreamRequest> = s.connections.iter().filter(|c| c.run == Some(0) && c.admitted()).collect();
    let Some(longest) = first.iter().max_by_key(|c| c.heartbeats) else {
        return Outcome::blocked(format!("the connector was never admitted to its stream in the first run{}", notes(s)));
    };
    if longest.heartbeats < 2 {
        return Outcome::blocked(format!("the first run's connection saw fewer than 2 heartbeats{}", notes(s)));
    }
    // Until the gate stops it, one connection: exiting, or letting go and coming back, is
    // what a connector that chokes on heartbeats does.
    let exited = ev.runs.first().is_some_and(|r| r.end == RunEnd::Exited);
    if exited || first.len() > 1 {
        Outcome::fail(
            "one connection read across the heartbeats until the gate stopped the connector",
            if exited {
                format!("it exited after {} heartbeats", longest.heartbeats)
            } else {
                format!("it opened {} connections in the first run", first.len())
            },
        )
    } else {
        Outcome::Pass
    }
}

fn handles_deletions(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some(delete) = s.produced.iter().find(|e| e.kind == "delete" && e.phase == "first-run") else {
        return Outcome::blocked(format!(
            "the gate deleted nothing: the connector did not read on long enough (see RUN-001){}",
            notes(s)
        ));
    };
    match delete.read_on {
        Some(true) => Outcome::Pass,
        Some(false) => {
            let errors: Vec<&str> = ev
                .runs
                .first()
                .map(|r| r.output_tail.lines().filter(|l| l.contains("ERROR") || l.contains("Traceback")).collect())
                .unwrap_or_default();
            let said = errors.last().map(|l| format!(": {l}")).unwrap_or_default();
            Outcome::fail(
                "the connector reading on after the delete event",
                format!("it stopped reading before the next heartbeat after the delete event {}{said}", delete.id),
            )
        }
        None => Outcome::blocked(format!("the deletion {} was never sent to the connector{}", delete.id, notes(s))),
    }
}

fn stops_when_stopped(ev: &Evidence) -> Outcome {
    let s = match stream(ev) {
        Ok(s) => s,
        Err(o) => return o,
    };
    let Some(run_index) = s.stopped_in_run else {
        return Outcome::blocked(format!("the gate did not get as far as stopping the stream{}", notes(s)));
    };
    let Some(run) = ev.runs.get(run_index) else { return Outcome::blocked("no run is recorded for the stop") };
    let refused = s.connections.iter().any(|c| c.run == Some(run_index) && c.status == 410);
    if run.end != RunEnd::Exited {
        let why =
            if refused { "it was answered 410 and kept running" } else { "it did not request its stream again and kept running" };
        return Outcome::fail(
            "the connector stopping by itself after the stream was stopped",
            format!("{why}; the gate stopped it"),
        );
    }
    if !refused {
        // The gate stops the stream only while the connector runs: it exited when its
        // connection ended, without asking again and learning why.
        return Outcome::fail(
            "the connector requesting its stream again and stopping on the 410",
            "it exited when its connection ended, without requesting its stream again",
        );
    }
    if run.output_tail.contains("This live stream is stopped") {
        Outcome::Pass
    } else {
        let tail: Vec<&str> = run.output_tail.lines().rev().take(3).collect();
        Outcome::fail(
            "the reason (This live stream is stopped) in its log",
            format!("its log ends: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | ")),
        )
    }
}
