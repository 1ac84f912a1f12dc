//! Reading the evidence off the platform: transcript, works, connector, knowledge.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use opencti_conformance::Evidence;
use opencti_conformance::evidence::{
    Bundle, Connector, Download, Draft, File, Finding, Job, Operation, Rejection, Run, Snapshot, Work, WorkError,
};

use crate::MockPlatform;
use crate::conform::Session;
use crate::conform::jobs::{Driven, Sent};
use crate::store::transcript::{EntryKind, RefusalKind};

/// Samples of new objects and ids kept per snapshot.
const SAMPLE: usize = 20;

/// Waits until the connector's queue is empty and the worker has applied what it took (retries
/// included, and its push queue on the
/// broker when there is one), at most `limit`.
pub async fn wait_for_ingestion(platform: &MockPlatform, connector_id: &str, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        // Waiting, or taken by the worker and not yet applied (the session's platform serves
        // this one connector, so the worker's in-flight count is its own).
        let internal = platform.read(|s| s.queues.pending(connector_id) + s.queues.in_flight());
        let on_broker = match platform.core().amqp.broker() {
            Some(b) => b.push_ready(&[connector_id.to_string()]).await.unwrap_or(0),
            None => 0,
        };
        if (internal == 0 && on_broker == 0) || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The ids of every stored object (built-in ones aside): internal id → every STIX id.
#[derive(Debug, Default)]
pub struct Knowledge {
    ids: HashMap<uuid::Uuid, HashSet<String>>,
}

/// The knowledge and the connector's state after a run, and what the run added.
pub fn snapshot(platform: &MockPlatform, connector_id: &str, before: &Knowledge) -> (Snapshot, Knowledge) {
    platform.read(|s| {
        let mut now = Knowledge::default();
        let mut snap =
            Snapshot { state: s.connectors.get(connector_id).and_then(|c| c.connector_state.clone()), ..Snapshot::default() };
        for o in s.knowledge.received() {
            let ids: HashSet<String> = std::iter::once(o.standard_id.clone()).chain(o.stix_ids.iter().cloned()).collect();
            snap.objects += 1;
            snap.extra_stix_ids += o.stix_ids.len();
            match before.ids.get(&o.internal_id) {
                None if snap.new_objects.len() < SAMPLE => snap.new_objects.push(format!("{} {}", o.entity_type, o.standard_id)),
                None => {}
                Some(old) => {
                    for id in ids.difference(old) {
                        if snap.new_stix_ids.len() < SAMPLE {
                            snap.new_stix_ids.push(format!("{id} on {} {}", o.entity_type, o.standard_id));
                        }
                    }
                }
            }
            now.ids.insert(o.internal_id, ids);
        }
        (snap, now)
    })
}

fn run_of(runs: &[Run], seq: u64) -> Option<usize> {
    runs.iter().find(|r| seq >= r.first_seq && seq <= r.last_seq).map(|r| r.index)
}

/// Everything the checks read.
pub fn evidence(
    platform: &MockPlatform,
    session: &Session,
    connector_id: &str,
    payload_limit: u64,
    runs: Vec<Run>,
    snapshots: Vec<Snapshot>,
    driven: &Driven,
) -> Evidence {
    platform.read(|s| {
        let mut ev = Evidence {
            connector_type: session.connector_type.clone(),
            connector_id: connector_id.to_string(),
            payload_limit,
            ..Evidence::default()
        };
        for e in s.transcript.entries() {
            let run = run_of(&runs, e.seq);
            match &e.kind {
                EntryKind::Operation(op) => ev.operations.push(Operation {
                    seq: e.seq,
                    run,
                    name: op.operation_name.clone(),
                    root_fields: op.root_fields.clone(),
                    edits: op.edits.clone(),
                    variables: op.variables.clone(),
                    user_id: op.user_id.clone(),
                    http_status: op.http_status,
                    error_codes: op.error_codes.clone(),
                }),
                EntryKind::Bundle(b) if b.connector_id == connector_id => ev.bundles.push(Bundle {
                    seq: e.seq,
                    run,
                    work_id: b.work_id.clone(),
                    bytes: b.bytes,
                    objects: b.objects,
                    object_ids: b.content.as_deref().map(object_ids).unwrap_or_default(),
                }),
                EntryKind::Download { file_id, user_id, http_status, .. } => ev.downloads.push(Download {
                    seq: e.seq,
                    file_id: file_id.clone(),
                    user_id: user_id.clone(),
                    http_status: *http_status,
                }),
                EntryKind::Refused(r) if r.connector_id == connector_id && r.kind == RefusalKind::Message => {
                    ev.worker_refusals.push(r.to_string());
                }
                EntryKind::Rejected(r) => ev.rejections.push(Rejection {
                    seq: e.seq,
                    run,
                    path: r.path.clone(),
                    http_status: r.http_status,
                    reason: r.reason.clone(),
                    bytes: r.bytes,
                }),
                _ => {}
            }
        }
        ev.works = works(s, &ev.operations, connector_id);
        ev.connector = s.connectors.get(connector_id).map(|c| Connector {
            id: c.id().to_string(),
            name: c.registration.name.clone(),
            connector_type: c.registration.connector_type.clone(),
            scope: c.scope(),
            state: c.connector_state.clone(),
        });
        ev.findings = s
            .findings
            .all()
            .iter()
            .filter(|f| f.connector_id.as_deref() == Some(connector_id))
            .map(|f| Finding { object_id: f.object_id.clone(), path: f.path.clone(), message: f.message.clone() })
            .collect();
        ev.jobs = jobs(s, &ev.operations, &driven.sent);
        ev.plan_notes = driven.notes.clone();
        ev.drafts = s
            .drafts
            .all()
            .iter()
            .map(|d| Draft { id: d.id.clone(), name: d.name.clone(), objects: d.touched.iter().cloned().collect() })
            .collect();
        ev.files = s.files.all().map(|f| File { id: f.id.clone(), mime_type: f.mime_type.clone(), size: f.size }).collect();
        ev.settings = session.job.evidence(&session.connector_type);
        ev.runs = runs;
        ev.snapshots = snapshots;
        ev
    })
}

/// The ids of the objects of a bundle (JSON text).
fn object_ids(content: &str) -> Vec<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        #[serde(default)]
        objects: Vec<Id>,
    }
    #[derive(serde::Deserialize)]
    struct Id {
        #[serde(default)]
        id: String,
    }
    serde_json::from_str::<Envelope>(content).map(|e| e.objects.into_iter().map(|o| o.id).collect()).unwrap_or_default()
}

/// The jobs sent during the session and what became of their works.
fn jobs(s: &crate::store::State, operations: &[Operation], sent: &[Sent]) -> Vec<Job> {
    sent.iter()
        .filter_map(|x| {
            let j = s.jobs.get(x.seq)?;
            let work = j.work_id.as_deref().and_then(|w| s.works.get(w));
            let closing = operations
                .iter()
                .rev()
                .find(|o| o.edits("workEdit.toProcessed") && j.work_id.as_deref().is_some_and(|w| o.var_str("/id") == Some(w)));
            // `toReceived` for the work, before its closing.
            let received = operations.iter().any(|o| {
                o.edits("workEdit.toReceived")
                    && j.work_id.as_deref().is_some_and(|w| o.var_str("/id") == Some(w))
                    && closing.is_none_or(|c| o.seq < c.seq)
            });
            let closed_in_error =
                closing.is_some_and(|o| o.var("/inError").and_then(serde_json::Value::as_bool) == Some(true));
            // An export closed after reporting errors on its work (`reportExpectation`, what
            // export connectors do for what they could not export) failed too: the platform
            // lists such a work with its errors. (Other jobs' work errors come from the
            // worker, about what they pushed: their checks read those themselves.)
            let reported_errors = j.kind == crate::store::jobs::JobKind::InternalExportFile
                && closing.is_some()
                && work.is_some_and(|w| !w.errors.is_empty());
            Some(Job {
                seq: j.seq,
                role: x.role.to_string(),
                kind: j.kind.connector_type().to_string(),
                subject: j.subject.clone(),
                work_id: j.work_id.clone(),
                transport: j.transport.as_str().to_string(),
                delivered: j.status == crate::store::jobs::JobStatus::Delivered,
                undeliverable: j.status == crate::store::jobs::JobStatus::Failed,
                attempts: j.attempts.iter().map(|a| a.status).collect(),
                sent_at: x.sent_at,
                received,
                processed: closing.is_some(),
                in_error: closed_in_error || reported_errors,
                work_status: work.map(|w| w.status.as_str().to_string()),
                message: match (closed_in_error, reported_errors) {
                    (false, true) => work.and_then(|w| w.errors.last()).map(|e| e.message.clone()),
                    _ => closing.and_then(|o| o.var_str("/message")).map(str::to_string),
                },
                connector_alive_after: x.alive_after,
                about: Some(x.about.clone()),
                changed: x.changed.clone(),
                workbenches: x.workbenches.clone(),
                forwarded_unchanged: x.forwarded_unchanged.clone(),
                format: x.format.clone(),
                file_name: (j.kind == crate::store::jobs::JobKind::InternalExportFile)
                    .then(|| work.and_then(|w| w.name.clone()))
                    .flatten(),
                withheld: x.withheld.clone(),
                exported: x.exported.clone(),
                file_markings: x.file_markings.clone(),
            })
        })
        .collect()
}

/// The connector's works, each tied to the call that created it: the n-th work created for
/// the connector came from the n-th call that creates one — a `workAdd`, or a push without a
/// work (then the platform made it).
fn works(s: &crate::store::State, operations: &[Operation], connector_id: &str) -> Vec<Work> {
    let job_works: HashMap<&str, u64> = s.jobs.all().iter().filter_map(|j| Some((j.work_id.as_deref()?, j.seq))).collect();
    let job_of = |work_id: &str| job_works.get(work_id).copied();
    let mut works: Vec<&crate::store::works::Work> =
        s.works.all().filter(|w| w.connector_id == connector_id && job_of(&w.id).is_none()).collect();
    works.sort_by_key(|w| w.timestamp);
    let creators = operations.iter().filter(|o| o.succeeded()).filter(|o| {
        let add = o.is("workAdd") && o.var_str("/connectorId") == Some(connector_id);
        let anonymous_push = o.is("stixBundlePush")
            && o.var_str("/connectorId") == Some(connector_id)
            && o.var_str("/work_id").is_none_or(str::is_empty);
        add || anonymous_push
    });
    let mut out = Vec::new();
    for (w, creator) in works.into_iter().zip(creators.map(Some).chain(std::iter::repeat(None))) {
        let by_add = creator.filter(|o| o.is("workAdd"));
        out.push(Work {
            id: w.id.clone(),
            name: w.name.clone(),
            status: w.status.as_str().to_string(),
            created_by_platform: creator.is_some_and(|o| o.is("stixBundlePush")),
            opened_by: by_add.map(|o| o.seq),
            job: None,
            expected: w.import_expected_number,
            processed: w.import_processed_number,
            errors: w.errors.iter().map(|e| WorkError { message: e.message.clone(), source: e.source.clone() }).collect(),
        });
    }
    // The works the platform created for jobs.
    for w in s.works.all().filter(|w| w.connector_id == connector_id) {
        if let Some(seq) = job_of(&w.id) {
            out.push(Work {
                id: w.id.clone(),
                name: w.name.clone(),
                status: w.status.as_str().to_string(),
                created_by_platform: false,
                opened_by: None,
                job: Some(seq),
                expected: w.import_expected_number,
                processed: w.import_processed_number,
                errors: w.errors.iter().map(|e| WorkError { message: e.message.clone(), source: e.source.clone() }).collect(),
            });
        }
    }
    out
}
