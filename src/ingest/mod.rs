//! The worker: turns queued bundles into stored knowledge, as the platform's worker does.
//!
//! Every bundle, whatever its transport, becomes a [`PushMessage`] on its connector's
//! queue. One worker loop per connector pops messages (honouring the platform's ingest
//! [`Throttle`](crate::store::queues::Throttle)) and hands each to [`process`], the same
//! function the AMQP consumer calls:
//! - a message for a work that is no longer alive is acknowledged and dropped;
//! - a bundle with several objects (and no `no_split`) is split, its expectations are
//!   added to the work, and the one-object pieces go back on the queue;
//! - a one-object bundle (or a `no_split` one) is ingested object by object through
//!   [`object::ingest_object`], and one expectation per object is reported to the work,
//!   with the error when the object is refused.
//!
//! `stixBundlePush` itself lives in [`push`]: it validates and enqueues, and in the 7.x
//! profile splits first and adds the expectations before the mutation returns.

pub mod dead_letters;
pub mod message;
pub mod object;
pub mod push;
pub mod rules;
pub mod scope;
pub mod seed;
pub mod split;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, watch};

use crate::stix::BundleEnvelope;
use crate::store::Store;
use crate::store::findings::RecordedFinding;
use crate::store::queues::{Content, MessageMeta, MessageType, Origin, Outcome, PushMessage, Settle};
use crate::store::transcript::{EntryKind, Refusal, RefusalKind};
use dead_letters::DeadLetters;

/// The worker of one platform: a loop per connector queue.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    wakers: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    shutdown: watch::Receiver<bool>,
    dead_letters: Arc<dyn DeadLetters>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`; its loops end when `shutdown` turns true; objects with too
    /// many references go to `dead_letters`.
    pub fn new(store: Store, shutdown: watch::Receiver<bool>, dead_letters: Arc<dyn DeadLetters>) -> Self {
        Worker { store, wakers: Arc::default(), shutdown, dead_letters }
    }

    /// The store this worker feeds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Puts a message on a connector's queue and makes sure a loop consumes it.
    pub fn enqueue(&self, connector_id: &str, message: PushMessage) {
        self.enqueue_all(connector_id, vec![message]);
    }

    /// Puts messages on a connector's queue, in order, under one lock.
    pub fn enqueue_all(&self, connector_id: &str, messages: Vec<PushMessage>) {
        if messages.is_empty() {
            return;
        }
        let now = self.store.clock().now();
        self.store.write(|s| s.queues.push_all(connector_id, messages, now));
        self.wake(connector_id);
    }

    fn wake(&self, connector_id: &str) {
        let notify = {
            let mut wakers = self.wakers.lock().expect("worker wakers lock poisoned");
            if let Some(n) = wakers.get(connector_id) {
                n.clone()
            } else {
                let n = Arc::new(Notify::new());
                wakers.insert(connector_id.to_string(), n.clone());
                let this = self.clone();
                let id = connector_id.to_string();
                let waker = n.clone();
                tokio::spawn(async move { this.run_queue(id, waker).await });
                n
            }
        };
        notify.notify_one();
    }

    async fn run_queue(self, connector_id: String, notify: Arc<Notify>) {
        let mut shutdown = self.shutdown.clone();
        let mut changes = self.store.subscribe();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let (throttle, (ready, next_due)) = self.store.read(|s| (s.queues.throttle, s.queues.readiness(&connector_id)));
            if throttle.paused || ready == 0 {
                // A retry waiting for its due time wakes the loop then.
                let due = next_due.filter(|_| !throttle.paused);
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = changes.changed() => {}
                    _ = shutdown.changed() => {}
                    _ = async { if let Some(at) = due { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {}
                }
                continue;
            }
            if !throttle.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(throttle.delay) => {}
                    _ = shutdown.changed() => continue,
                }
                // The throttle may have changed (paused) while sleeping.
                if self.store.read(|s| s.queues.throttle.paused) {
                    continue;
                }
            }
            // Without a delay, messages are taken in batches: each is still processed as
            // the worker does, but the state lock is taken twice per batch, not per object.
            let max = if throttle.delay.is_zero() { BATCH } else { 1 };
            let popped_at = self.store.clock().now();
            let (batch, max_refs): (Vec<(PushMessage, bool)>, u64) = self.store.write(|s| {
                let mut batch = Vec::new();
                let mut orphaned = 0;
                while batch.len() < max {
                    let Some(q) = s.queues.pop(&connector_id) else { break };
                    if q.message.settle.as_ref().is_some_and(Settle::is_orphaned) {
                        orphaned += 1;
                        continue;
                    }
                    let alive = q.message.meta.work_id.as_deref().is_none_or(|w| s.works.is_alive(w));
                    batch.push((q.message, alive));
                }
                // Until applied, requeued and settled, these count as in flight: a test
                // waiting for the platform to be idle must not see an empty queue yet.
                s.queues.take_in_flight(batch.len() as u64);
                if orphaned > 0 {
                    s.transcript.push(
                        popped_at,
                        EntryKind::Worker {
                            connector_id: connector_id.clone(),
                            work_id: None,
                            message: format!(
                                "{orphaned} message(s) received on a lost broker connection left to the broker, which delivers them again"
                            ),
                        },
                    );
                }
                (batch, s.queues.objects_max_refs)
            });
            // Deciding is pure (parsing, checks, identity, findings): it runs on every core.
            let decisions: Vec<(Arc<MessageMeta>, Decision)> =
                batch.par_iter().map(|(m, alive)| (m.meta.clone(), decide_with(&connector_id, m, *alive, max_refs))).collect();
            let taken = batch.len() as u64;
            let settles: Vec<Option<Settle>> = batch.into_iter().map(|(m, _)| m.settle).collect();
            let now = self.store.clock().now();
            let mut dead_letters = Vec::new();
            let mut outcomes = Vec::with_capacity(decisions.len());
            let requeue: Vec<PushMessage> = self.store.write(|s| {
                let mut requeue = Vec::new();
                for (meta, mut d) in decisions {
                    dead_letters.extend(std::mem::take(&mut d.dead_letters).into_iter().map(|o| (meta.clone(), o)));
                    let (outcome, pieces) = apply(s, &connector_id, meta.work_id.as_deref(), d, now);
                    outcomes.push(outcome);
                    requeue.extend(pieces);
                }
                requeue
            });
            self.enqueue_all(&connector_id, requeue);
            self.send_dead_letters(&connector_id, dead_letters, max_refs).await;
            for (settle, outcome) in settles.into_iter().zip(outcomes) {
                if let Some(settle) = settle {
                    settle.settle(outcome);
                }
            }
            self.store.write(|s| s.queues.finish_in_flight(taken));
            // Let other tasks (HTTP handlers) run between batches of a long backlog.
            tokio::task::yield_now().await;
        }
    }
}

impl Worker {
    /// Objects with too many references go to the dead-letter queue, as the worker sends
    /// them: over RabbitMQ when there is a broker; always into the platform's own list.
    async fn send_dead_letters(&self, connector_id: &str, letters: Vec<(Arc<MessageMeta>, serde_json::Value)>, max_refs: u64) {
        for (meta, object) in letters {
            let body = message::dead_letter_message(&meta, &object, max_refs, connector_id);
            let id = object.get("id").and_then(serde_json::Value::as_str).unwrap_or("?").to_string();
            let sent = self.dead_letters.send(connector_id, &body).await;
            let now = self.store.clock().now();
            self.store.write(|s| {
                s.dead_letters.push(crate::store::DeadLetter {
                    at: now,
                    connector_id: connector_id.to_string(),
                    object_id: id.clone(),
                    body,
                });
                s.transcript.push(
                    now,
                    EntryKind::Refused(Refusal {
                        connector_id: connector_id.to_string(),
                        work_id: meta.work_id.clone(),
                        kind: RefusalKind::DeadLetter,
                        reason: format!("{max_refs} references or more: sent to the dead-letter queue, {sent}"),
                        source: Some(id.clone()),
                    }),
                );
            });
        }
    }
}

/// Creates what the platform has from its first start (the built-in TLP and PAP markings),
/// through the ingest path.
pub fn seed_built_ins(store: &Store) -> Result<(), object::ObjectError> {
    for marking in crate::stix::markings::built_in_objects() {
        object::ingest_object(store, &marking.to_string(), &object::IngestContext::default())?;
    }
    Ok(())
}

/// Messages taken from a queue at once when ingestion is not throttled.
const BATCH: usize = 256;

/// What processing one message decided, before it is applied to the state.
pub struct Decision {
    outcome: Outcome,
    requeue: Vec<PushMessage>,
    /// One entry per object, one expectation each.
    objects: Vec<Result<object::Prepared, object::ObjectError>>,
    add_expectations: i64,
    notes: Vec<String>,
    /// The message's metadata and retry number (for objects the worker retries).
    meta: Option<Arc<MessageMeta>>,
    attempt: u32,
    /// STIX findings on the message's objects (advisory).
    findings: Vec<crate::validate::Finding>,
    /// Objects with too many references, for the dead-letter queue.
    dead_letters: Vec<serde_json::Value>,
    /// Objects a `delete` event removes.
    deletes: Vec<String>,
    /// Objects the splitter dropped (not counted; recorded on the work).
    dropped: Vec<split::Dropped>,
}

impl Decision {
    fn ack() -> Decision {
        Decision {
            outcome: Outcome::Ack,
            requeue: Vec::new(),
            objects: Vec::new(),
            add_expectations: 0,
            notes: Vec::new(),
            meta: None,
            attempt: 0,
            findings: Vec::new(),
            dead_letters: Vec::new(),
            deletes: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn objects(
        message: &PushMessage,
        objects: Vec<Result<object::Prepared, object::ObjectError>>,
        findings: Vec<crate::validate::Finding>,
    ) -> Decision {
        Decision { objects, meta: Some(message.meta.clone()), attempt: message.attempt, findings, ..Decision::ack() }
    }

    /// The message is rejected without requeue (recorded as a [`RefusalKind::Message`]
    /// refusal when applied).
    fn reject(reason: String) -> Decision {
        Decision { outcome: Outcome::Reject(reason), ..Decision::ack() }
    }
}

/// Processes one message as the worker does. Returns what to tell the queue and the
/// pieces to put back on it (after a split).
pub fn process(store: &Store, connector_id: &str, message: PushMessage) -> (Outcome, Vec<PushMessage>) {
    let alive = message.meta.work_id.as_deref().is_none_or(|w| store.read(|s| s.works.is_alive(w)));
    let max_refs = store.read(|s| s.queues.objects_max_refs);
    let decision = decide_with(connector_id, &message, alive, max_refs);
    let now = store.clock().now();
    let result = store.write(|s| apply(s, connector_id, message.meta.work_id.as_deref(), decision, now));
    if let Some(settle) = &message.settle {
        settle.settle(result.0.clone());
    }
    result
}

/// Everything about a message that does not need the state: parsing, splitting, checking
/// and identifying objects.
pub fn decide(connector_id: &str, message: &PushMessage, work_alive: bool) -> Decision {
    decide_with(connector_id, message, work_alive, 0)
}

/// [`decide`], with the worker's `objects_max_refs` (0: off): an object with at least that
/// many references is not imported; its expectation is reported with pycti's error and it
/// goes to the dead-letter queue.
pub fn decide_with(connector_id: &str, message: &PushMessage, work_alive: bool, objects_max_refs: u64) -> Decision {
    let mut decision = decide_inner(connector_id, message, work_alive);
    if objects_max_refs > 0 {
        for entry in decision.objects.iter_mut() {
            let Ok(prepared) = entry else { continue };
            let Ok(object) = serde_json::from_str::<serde_json::Value>(prepared.raw()) else { continue };
            if message::refs_number(&object) >= objects_max_refs {
                let id = object.get("id").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                *entry = Err(object::ObjectError {
                    message: "Too large element in bundle".into(),
                    source: format!("Element {id} is too large and couldn't be processed"),
                    refusal: None,
                });
                decision.dead_letters.push(object);
            }
        }
    }
    decision
}

fn decide_inner(connector_id: &str, message: &PushMessage, work_alive: bool) -> Decision {
    let meta = &message.meta;
    if let Some(w) = meta.work_id.as_deref().filter(|_| !work_alive) {
        return Decision { notes: vec![format!("message dropped: work {w} is no longer alive")], ..Decision::ack() };
    }
    let ctx = object::IngestContext {
        applicant_id: meta.applicant_id.clone(),
        connector_id: Some(connector_id.to_string()),
        draft_id: meta.draft_id.clone(),
        types: meta.entities_types.clone(),
    };
    // STIX findings are made once per object, on its first attempt.
    let mut findings = Vec::new();
    let mut prepare = |raw: &str| {
        if message.attempt == 0 {
            let (prepared, found) = object::prepare_received(raw, &ctx);
            findings.extend(found);
            prepared
        } else {
            object::prepare(raw, &ctx)
        }
    };
    if meta.kind == MessageType::Event {
        return decide_event(message, &mut prepare);
    }
    let (text, no_split) = match &message.content {
        Content::Object(object) => {
            let prepared = vec![prepare(object)];
            return Decision::objects(message, prepared, findings);
        }
        Content::Bundle { text, no_split } => (text, *no_split),
    };
    let env: BundleEnvelope = match serde_json::from_str(text) {
        Ok(env) => env,
        Err(e) => return Decision::reject(format!("message content is not JSON: {e}")),
    };
    if env.kind.as_deref() != Some("bundle") {
        return Decision::reject("JSON data type is not a STIX2 bundle".into());
    }
    let objects = match env.objects {
        Some(objects) if !objects.is_empty() => objects,
        _ => return Decision::reject("JSON data objects is empty".into()),
    };
    if objects.len() == 1 {
        let prepared = vec![prepare(objects[0].get())];
        return Decision::objects(message, prepared, findings);
    }
    let split = match split::split_bundle(text, env.x_opencti_event_version.as_deref(), false) {
        Ok(split) => split,
        Err(e) => return Decision::reject(e.to_string()),
    };
    if no_split {
        // A multi-object `no_split` bundle is imported in the splitter's order
        // (pycti `import_bundle`), incompatible objects reported as errors.
        let mut prepared: Vec<_> = split.dropped.iter().map(|d| Err(object::incompatible(&d.id))).collect();
        for piece in &split.bundles {
            prepared.push(
                piece_object(piece)
                    .map_err(|e| object::ObjectError { message: e, source: String::new(), refusal: None })
                    .and_then(|obj| prepare(&obj)),
            );
        }
        return Decision::objects(message, prepared, findings);
    }
    let piece_meta = Arc::new(MessageMeta { origin: Origin::WorkerSplit, ..(**meta).clone() });
    let requeue =
        split.bundles.into_iter().map(|b| PushMessage::new(piece_meta.clone(), Content::Bundle { text: b, no_split })).collect();
    Decision { requeue, add_expectations: split.expectations as i64, dropped: split.dropped, ..Decision::ack() }
}

/// A platform `event` message (sync, background tasks): `content` is a stream-like event
/// `{type, data, context}`. As the worker does, `create` and `update` import `data` as an
/// upsert and `delete` deletes the object (with the relationships it is an end of); one
/// expectation each. The other operations (merge, restore, share, rules…) act on platform
/// features the mock does not have and are rejected, saying so.
fn decide_event(
    message: &PushMessage,
    prepare: &mut impl FnMut(&str) -> Result<object::Prepared, object::ObjectError>,
) -> Decision {
    let text = match &message.content {
        Content::Bundle { text, .. } | Content::Object(text) => text,
    };
    let event: serde_json::Value = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return Decision::reject(format!("event content is not JSON: {e}")),
    };
    let data = &event["data"];
    match event["type"].as_str() {
        Some("create" | "update") if data.is_object() => {
            let prepared = vec![prepare(&data.to_string())];
            Decision::objects(message, prepared, Vec::new())
        }
        Some("delete" | "delete_force") => match data["id"].as_str() {
            Some(id) => Decision { deletes: vec![id.to_string()], meta: Some(message.meta.clone()), ..Decision::ack() },
            None => Decision::reject("delete event without data.id".into()),
        },
        Some("create" | "update") => Decision::reject("event without a data object".into()),
        Some(other) => Decision::reject(format!(
            "Unsupported operation type '{other}' for the mock (it imports create, update and delete events)"
        )),
        None => Decision::reject("event content has no type".into()),
    }
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
        notes.push(match removed {
            Some(o) => format!("delete event: {} {} deleted", o.entity_type, o.standard_id),
            None => format!("delete event: {id} was already absent"),
        });
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
                    notes.push(format!(
                        "object retried in {} ms (attempt {}): {}",
                        wait.as_millis(),
                        attempt + 1,
                        abbreviate_source(&e.message)
                    ));
                    s.queues.push_delayed(connector_id, retry, tokio::time::Instant::now() + wait, now);
                }
                Ok(object::Committed::Retried)
            }
            Err(e) => Err(e),
        });
        if let Some(u) = result.as_ref().ok().and_then(object::Committed::upserted) {
            stored.push(u.internal_id);
            if u.created && !in_a_draft {
                crate::store::jobs::note_created(s, u.internal_id, Some(connector_id));
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
            Some(e) => notes.push(format!("object stored with an error: {} ({})", e.message, abbreviate_source(&e.source))),
            None => {}
        }
    }
    for r in refusals {
        s.transcript.push(now, EntryKind::Refused(r));
    }
    for message in notes {
        s.transcript.push(
            now,
            EntryKind::Worker { connector_id: connector_id.to_string(), work_id: work_id.map(str::to_string), message },
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

/// The single object of a one-object bundle produced by the splitter.
fn piece_object(piece: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct One<'a> {
        #[serde(borrow)]
        objects: Vec<&'a RawValue>,
    }
    let one: One = serde_json::from_str(piece).map_err(|e| e.to_string())?;
    one.objects.first().map(|o| o.get().to_string()).ok_or_else(|| "empty piece".to_string())
}
