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

pub mod object;
pub mod push;
pub mod split;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::{Notify, watch};

use crate::store::Store;
use crate::store::queues::{MessageType, Origin, PushMessage};
use crate::store::transcript::EntryKind;

/// What the consumer does with a message once processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledge (processed, or dropped on purpose).
    Ack,
    /// Reject without requeue (invalid message), with the reason.
    Reject(String),
}

/// The worker of one platform: a loop per connector queue.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    wakers: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    shutdown: watch::Receiver<bool>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`; its loops end when `shutdown` turns true.
    pub fn new(store: Store, shutdown: watch::Receiver<bool>) -> Self {
        Worker { store, wakers: Arc::default(), shutdown }
    }

    /// The store this worker feeds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Puts a message on a connector's queue and makes sure a loop consumes it.
    pub fn enqueue(&self, connector_id: &str, message: PushMessage) {
        let now = self.store.clock().now();
        self.store.write(|s| s.queues.push(connector_id, message, now));
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
            let (throttle, waiting) = self.store.read(|s| (s.queues.throttle, s.queues.figures(&connector_id).0));
            if throttle.paused || waiting == 0 {
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = changes.changed() => {}
                    _ = shutdown.changed() => {}
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
            let Some(queued) = self.store.write(|s| s.queues.pop(&connector_id)) else { continue };
            let (_, requeue) = process(&self.store, &connector_id, queued.message);
            for piece in requeue {
                self.enqueue(&connector_id, piece);
            }
            // Let other tasks (HTTP handlers) run between messages of a long backlog.
            tokio::task::yield_now().await;
        }
    }
}

#[derive(Deserialize)]
struct BundleEnvelope<'a> {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(borrow)]
    objects: Option<Vec<&'a RawValue>>,
    x_opencti_event_version: Option<String>,
}

fn note(store: &Store, connector_id: &str, work_id: Option<&str>, message: String) {
    let now = store.clock().now();
    store.write(|s| {
        s.transcript.push(
            now,
            EntryKind::Worker { connector_id: connector_id.to_string(), work_id: work_id.map(str::to_string), message },
        )
    });
}

/// Processes one message as the worker does. Returns what to tell the queue and the
/// pieces to put back on it (after a split).
pub fn process(store: &Store, connector_id: &str, message: PushMessage) -> (Outcome, Vec<PushMessage>) {
    let work_id = message.work_id.as_deref();
    if let Some(w) = work_id
        && !store.read(|s| s.works.is_alive(w))
    {
        note(store, connector_id, work_id, format!("message dropped: work {w} is no longer alive"));
        return (Outcome::Ack, Vec::new());
    }
    if message.kind == MessageType::Event {
        return reject(
            store,
            connector_id,
            work_id,
            "event messages (sync / background tasks) are not supported by the mock".into(),
        );
    }
    let env: BundleEnvelope = match serde_json::from_str(&message.content) {
        Ok(env) => env,
        Err(e) => return reject(store, connector_id, work_id, format!("message content is not JSON: {e}")),
    };
    let objects = match (&env.kind, env.objects) {
        (_, Some(objects)) if !objects.is_empty() => objects,
        _ => return reject(store, connector_id, work_id, "JSON data type is not a STIX2 bundle".into()),
    };
    if objects.len() == 1 || message.no_split {
        let ctx = object::IngestContext {
            applicant_id: message.applicant_id.clone(),
            connector_id: Some(connector_id.to_string()),
            draft_id: message.draft_id.clone(),
        };
        if objects.len() == 1 {
            let result = object::ingest_object(store, objects[0].get(), &ctx);
            report(store, connector_id, work_id, result.err());
            return (Outcome::Ack, Vec::new());
        }
        // A multi-object `no_split` bundle is imported in the splitter's order
        // (pycti `import_bundle`), incompatible objects reported as errors.
        let split = match split::split_bundle(&message.content, env.x_opencti_event_version.as_deref(), false) {
            Ok(split) => split,
            Err(e) => return reject(store, connector_id, work_id, e.to_string()),
        };
        for dropped in &split.dropped {
            report(store, connector_id, work_id, Some(object::incompatible(&dropped.id)));
        }
        for piece in &split.bundles {
            let result = piece_object(piece).map_err(|e| object::ObjectError { message: e, source: String::new() });
            let result = result.and_then(|obj| object::ingest_object(store, &obj, &ctx));
            report(store, connector_id, work_id, result.err());
        }
        return (Outcome::Ack, Vec::new());
    }
    match split::split_bundle(&message.content, env.x_opencti_event_version.as_deref(), false) {
        Ok(split) => {
            let now = store.clock().now();
            store.write(|s| {
                if let Some(w) = work_id {
                    s.works.add_expectations(w, split.expectations as i64, now);
                }
            });
            let pieces = split
                .bundles
                .into_iter()
                .map(|b| PushMessage { content: b.into(), origin: Origin::WorkerSplit, ..message.clone() })
                .collect();
            (Outcome::Ack, pieces)
        }
        Err(e) => reject(store, connector_id, work_id, e.to_string()),
    }
}

fn reject(store: &Store, connector_id: &str, work_id: Option<&str>, reason: String) -> (Outcome, Vec<PushMessage>) {
    note(store, connector_id, work_id, format!("message rejected: {reason}"));
    (Outcome::Reject(reason), Vec::new())
}

/// Reports one processed object on the work (with its error, if refused).
fn report(store: &Store, connector_id: &str, work_id: Option<&str>, error: Option<object::ObjectError>) {
    let now = store.clock().now();
    store.write(|s| {
        let profile = s.profile;
        if let Some(w) = work_id {
            s.works.report_expectation(profile, w, error.as_ref().map(|e| (e.message.clone(), Some(e.source.clone()))), now);
        }
        if let Some(e) = error {
            s.transcript.push(
                now,
                EntryKind::Worker {
                    connector_id: connector_id.to_string(),
                    work_id: work_id.map(str::to_string),
                    message: format!("object refused: {} ({})", e.message, abbreviate_source(&e.source)),
                },
            );
        }
    });
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
