//! Applying a decision: where a message's objects become stored knowledge.
//!
//! [`apply`] takes what [`decide_with`](super::decide_with) said about a message and writes it
//! under the state's lock: the work's new expectations, the objects checked against the
//! store and stored (or refused, or put back on the queue for a retry while pycti's worker
//! retries a missing reference), one expectation reported per object, the STIX findings,
//! the transcript. A message for a draft is applied to the draft's knowledge
//! ([`in_draft`]). `process` is both halves for one message (the fuzz harness runs the
//! worker with it, through the `internals` feature). This is the only part of the worker that changes the knowledge, hence a
//! file of its own.

use super::{Decision, object, push};
#[cfg(feature = "internals")]
use super::decide_with;
#[cfg(feature = "internals")]
use crate::store::Store;
use crate::store::findings::RecordedFinding;
use crate::store::queues::{Content, Outcome, PushMessage};
use crate::store::transcript::{EntryKind, Refusal, RefusalKind, WorkerEvent};

/// Processes one message as the worker does. Returns what to tell the queue and the
/// pieces to put back on it (after a split).
#[cfg(feature = "internals")]
pub fn process(store: &Store, connector_id: &str, message: PushMessage) -> (Outcome, Vec<PushMessage>) {
    let alive = message.meta.work_id.as_deref().is_none_or(|w| store.read(|s| s.works.is_alive(w)));
    let max_refs = store.read(|s| s.queues.objects_max_refs);
    let decision = decide_with(&message, alive, max_refs);
    let now = store.clock().now();
    let result = store.write(|s| apply(s, connector_id, message.meta.work_id.as_deref(), decision, now));
    if let Some(settle) = &message.settle {
        settle.settle(result.0.clone());
    }
    result
}

/// Applies a decision to the state: expectations, stored objects, reports, transcript.
/// An object the worker retries (a missing reference, while pycti's worker retries it) is
/// put back on the queue after the configured delay, its expectation not yet reported.
pub fn apply(
    s: &mut crate::store::State,
    connector_id: &str,
    work_id: Option<&str>,
    decision: Decision,
    now: chrono::DateTime<chrono::Utc>,
) -> (Outcome, Vec<PushMessage>) {
    // A message for a draft is applied to the draft's knowledge.
    match decision.meta.as_ref().and_then(|m| m.draft_id.clone()) {
        Some(d) if s.drafts.get(&d).is_some() => in_draft(s, &d, |s| apply_here(s, connector_id, work_id, decision, now, true)),
        Some(d) => {
            s.transcript.push(
                now,
                EntryKind::Worker {
                    connector_id: connector_id.to_string(),
                    work_id: work_id.map(str::to_string),
                    event: WorkerEvent::DraftMissing,
                    message: format!("draft {d} does not exist: the message goes to the main knowledge"),
                },
            );
            apply_here(s, connector_id, work_id, decision, now, false).0
        }
        None => apply_here(s, connector_id, work_id, decision, now, false).0,
    }
}

/// [`apply`] on the knowledge in place (the main one, or a draft's swapped in); also
/// returns the internal ids of the objects it stored.
fn apply_here(
    s: &mut crate::store::State,
    connector_id: &str,
    work_id: Option<&str>,
    decision: Decision,
    now: chrono::DateTime<chrono::Utc>,
    in_a_draft: bool,
) -> ((Outcome, Vec<PushMessage>), Vec<uuid::Uuid>) {
    let profile = s.profile;
    let mut stored = Vec::new();
    let mut notes = decision.notes;
    let refusal = |kind, reason: String, source: Option<String>| Refusal {
        connector_id: connector_id.to_string(),
        work_id: work_id.map(str::to_string),
        kind,
        reason,
        source,
    };
    let mut refusals = Vec::new();
    if let Outcome::Reject(reason) = &decision.outcome {
        refusals.push(refusal(RefusalKind::Message, reason.clone(), None));
    }
    if let Some(w) = work_id
        && decision.add_expectations > 0
    {
        s.works.add_expectations(w, decision.add_expectations, now);
    }
    push::record_dropped(s, work_id, &decision.dropped, now);
    let attempt = decision.attempt;
    for id in &decision.deletes {
        let removed = s.knowledge.remove_cascade(id, now);
        notes.push((
            WorkerEvent::Deleted,
            match removed {
                Some(o) => format!("delete event: {} {} deleted", o.entity_type, o.standard_id),
                None => format!("delete event: {id} was already absent"),
            },
        ));
        if let Some(w) = work_id {
            s.works.report_expectation(profile, w, None, now);
        }
    }
    s.findings.record(decision.findings.into_iter().map(|f| RecordedFinding {
        at: now,
        connector_id: Some(connector_id.to_string()),
        work_id: work_id.map(str::to_string),
        object_id: f.object_id.unwrap_or_default(),
        path: f.path,
        message: f.message,
        rule: f.rule.to_string(),
    }));
    for prepared in decision.objects {
        let result = prepared.and_then(|p| match object::check(s, &p, attempt) {
            Ok(resolution) => Ok(object::store(s, p, resolution, now)),
            Err(e) if e.is_retried_at(attempt) => {
                if let Some(meta) = &decision.meta {
                    let retry = PushMessage {
                        meta: meta.clone(),
                        content: Content::Object(p.raw().to_string()),
                        attempt: attempt + 1,
                        settle: None,
                    };
                    let wait = retry_delay(s.queues.retry_delay);
                    notes.push((
                        WorkerEvent::Retried,
                        format!(
                            "object retried in {} ms (attempt {}): {}",
                            wait.as_millis(),
                            attempt + 1,
                            abbreviate_source(&e.message)
                        ),
                    ));
                    s.queues.push_delayed(connector_id, retry, tokio::time::Instant::now() + wait, now);
                }
                Ok(object::Committed::Retried)
            }
            Err(e) => Err(e),
        });
        if let Some(u) = result.as_ref().ok().and_then(object::Committed::upserted) {
            stored.push(u.internal_id);
            if !in_a_draft {
                crate::store::jobs::note_change(s, u, Some(connector_id));
            }
        }
        let (error, refused) = match result {
            Ok(object::Committed::Retried) => continue,
            Ok(object::Committed::StoredWithError(_, e)) => (Some(e), false),
            Err(e) => (Some(e), true),
            Ok(_) => (None, false),
        };
        if let Some(w) = work_id {
            s.works.report_expectation(profile, w, error.as_ref().map(|e| (e.message.clone(), Some(e.source.clone()))), now);
        }
        match error {
            Some(e) if refused => refusals.push(refusal(RefusalKind::Object, e.message, Some(abbreviate_source(&e.source)))),
            Some(e) => notes.push((
                WorkerEvent::StoredWithError,
                format!("object stored with an error: {} ({})", e.message, abbreviate_source(&e.source)),
            )),
            None => {}
        }
    }
    for r in refusals {
        s.transcript.push(now, EntryKind::Refused(r));
    }
    for (event, message) in notes {
        s.transcript.push(
            now,
            EntryKind::Worker { connector_id: connector_id.to_string(), work_id: work_id.map(str::to_string), event, message },
        );
    }
    ((decision.outcome, decision.requeue), stored)
}

/// Runs `f` with the draft's knowledge swapped in for the main one — every rule then reads
/// and writes the draft, none needs to know about drafts — and lists in the draft the
/// objects `f` says it stored (internal ids). A draft that does not exist changes nothing:
/// `f` runs on the main knowledge.
pub(crate) fn in_draft<R>(
    s: &mut crate::store::State,
    draft_id: &str,
    f: impl FnOnce(&mut crate::store::State) -> (R, Vec<uuid::Uuid>),
) -> R {
    let swap = |s: &mut crate::store::State| match s.drafts.get_mut(draft_id) {
        Some(d) => {
            std::mem::swap(&mut s.knowledge, &mut d.knowledge);
            true
        }
        None => false,
    };
    if !swap(s) {
        return f(s).0;
    }
    let (result, stored) = f(s);
    let ids: Vec<String> =
        stored.iter().filter_map(|id| s.knowledge.get(&id.to_string()).map(|o| o.standard_id.clone())).collect();
    swap(s);
    if let Some(d) = s.drafts.get_mut(draft_id) {
        d.touched.extend(ids);
    }
    result
}

/// A wait drawn uniformly between the bounds, as pycti's worker draws it.
fn retry_delay((min, max): (std::time::Duration, std::time::Duration)) -> std::time::Duration {
    if max <= min {
        return min;
    }
    min + (max - min).mul_f64(fastrand::f64())
}

fn abbreviate_source(source: &str) -> String {
    if source.len() > 200 { format!("{}…", &source[..source.floor_char_boundary(200)]) } else { source.to_string() }
}
