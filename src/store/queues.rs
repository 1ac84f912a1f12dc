//! Per-connector ingest queues: the stand-in for `push_<id>` when bundles arrive over HTTP.
//!
//! A message has the shape of what the platform publishes on a push queue (bundle content,
//! applicant, work id, `update`, `draft_id`, `no_split`). The worker (`crate::ingest`)
//! pops messages one at a time per connector, optionally throttled or paused, so a
//! backlog builds up exactly where it would on a real deployment. The queue figures
//! (`connector_queue_details`) are read from here in HTTP-only mode: messages and the bytes
//! the messages would take on RabbitMQ (base64 content plus envelope).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::time::Instant;

/// `type` of a platform push message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    /// A STIX bundle (the default when `type` is absent, as pycti's messages are).
    Bundle,
    /// A stream-like event (sync, background tasks).
    Event,
}

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// `stixBundlePush`.
    ApiPush,
    /// Re-queued by the worker after splitting a multi-object bundle.
    WorkerSplit,
    /// Consumed from RabbitMQ.
    Amqp,
    /// Seeded through the control or Rust API.
    Seed,
}

/// What the messages of one push share: who writes, for which work, how.
#[derive(Debug, Clone, Serialize)]
pub struct MessageMeta {
    /// Message type.
    #[serde(rename = "type")]
    pub kind: MessageType,
    /// User the data is written as.
    pub applicant_id: Option<String>,
    /// Work to report expectations to.
    pub work_id: Option<String>,
    /// Upsert mode.
    pub update: bool,
    /// Draft the data goes into.
    pub draft_id: Option<String>,
    /// The message's `entities_types`: what the worker's importer keeps (see
    /// [`TypeFilter`]).
    pub entities_types: TypeFilter,
    /// Origin.
    pub origin: Origin,
}

/// A push message's `entities_types` as sent. pycti's importer filters with Python's `in`:
/// on a list it is membership, on a string (real connectors send their scope as one
/// comma-separated string) a substring test. The filtering itself is the worker's
/// (`ingest::scope`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum TypeFilter {
    /// Absent, `null`, an empty list or an empty string: no filter.
    #[default]
    None,
    /// A list of types.
    List(Vec<String>),
    /// A string, tested as a substring.
    Text(String),
}

impl TypeFilter {
    /// Whether the filter keeps everything.
    pub fn is_none(&self) -> bool {
        match self {
            TypeFilter::None => true,
            TypeFilter::List(l) => l.is_empty(),
            TypeFilter::Text(t) => t.is_empty(),
        }
    }

    /// Python's `needle in types`.
    pub fn contains(&self, needle: &str) -> bool {
        match self {
            TypeFilter::None => false,
            TypeFilter::List(l) => l.iter().any(|t| t == needle),
            TypeFilter::Text(t) => t.contains(needle),
        }
    }
}

/// A message's payload.
#[derive(Debug, Clone)]
pub enum Content {
    /// A bundle (JSON text), as on a push queue.
    Bundle {
        /// The bundle.
        text: String,
        /// Do not split again.
        no_split: bool,
    },
    /// One object of a bundle the platform itself split (7.x `stixBundlePush`): the
    /// object's JSON text, without the one-object bundle around it.
    Object(String),
}

/// A message as the worker sees it: its payload and the metadata of its push (shared by
/// every piece of a split bundle).
#[derive(Debug, Clone)]
pub struct PushMessage {
    /// Shared metadata.
    pub meta: Arc<MessageMeta>,
    /// Payload.
    pub content: Content,
    /// How many times the worker already tried to import it (pycti's
    /// `opencti-retry-number`): 0 for a new message.
    pub attempt: u32,
    /// For a message consumed from RabbitMQ: told the outcome once processed (the
    /// delivery is acknowledged then). Such a message is also counted by the broker, so it
    /// stays out of this queue's figures.
    pub settle: Option<Settle>,
}

impl PushMessage {
    /// A new message (attempt 0).
    pub fn new(meta: Arc<MessageMeta>, content: Content) -> Self {
        PushMessage { meta, content, attempt: 0, settle: None }
    }

    /// The payload text.
    pub fn text(&self) -> &str {
        match &self.content {
            Content::Bundle { text, .. } | Content::Object(text) => text,
        }
    }

    /// Size this message would have on RabbitMQ: the JSON envelope with base64 content.
    pub fn wire_bytes(&self) -> u64 {
        let b64 = self.text().len().div_ceil(3) * 4;
        // Envelope keys and ids: a fixed overhead is close enough for queue figures.
        (b64 + 256) as u64
    }
}

/// A queued message.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Sequence number within the platform.
    pub seq: u64,
    /// When it was queued (epoch milliseconds).
    pub queued_at_ms: i64,
    /// The message.
    pub message: PushMessage,
}

/// Ingest speed controls.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Throttle {
    /// Nothing is ingested while paused; messages accumulate.
    pub paused: bool,
    /// Delay before each message is processed.
    #[serde(with = "duration_ms")]
    pub delay: Duration,
}

mod duration_ms {
    use serde::Serializer;
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }
}

/// Every ingest queue of a platform.
///
/// Besides the ready messages, a queue holds messages the worker will retry later (a
/// missing reference: pycti's worker sleeps, then imports the object again). They count in
/// the queue figures, as an unacknowledged message does on RabbitMQ, and become ready at
/// their due time.
#[derive(Debug, Default)]
pub struct Queues {
    queues: HashMap<String, VecDeque<Queued>>,
    delayed: HashMap<String, Vec<(Instant, Queued)>>,
    bytes: HashMap<String, u64>,
    /// Messages (and their bytes) that came from RabbitMQ, per connector: the broker
    /// already counts them as unacknowledged.
    from_broker: HashMap<String, (u64, u64)>,
    next_seq: u64,
    /// Messages the worker took and has not finished with (popped, not yet applied,
    /// requeued or settled), every connector together.
    in_flight: u64,
    /// Speed controls applied by the worker.
    pub throttle: Throttle,
    /// Bounds of the worker's wait before retrying an object whose references are missing
    /// (pycti: uniform between 1 and 3 seconds).
    pub retry_delay: (Duration, Duration),
    /// The worker's `objects_max_refs` (0: off).
    pub objects_max_refs: u64,
}

impl Queues {
    /// Empties every queue (`POST /_mock/reset`): messages that came from RabbitMQ are
    /// acknowledged (the reset forgets them, as a purge does). The speed controls, the
    /// retry bounds and `objects_max_refs` are settings and stay; numbering goes on.
    pub fn clear(&mut self) {
        let ids: Vec<String> = self.queues.keys().chain(self.delayed.keys()).cloned().collect();
        for id in ids {
            self.purge(&id);
        }
        self.bytes.clear();
        self.from_broker.clear();
    }

    /// Appends messages to a connector's queue.
    pub fn push_all(&mut self, connector_id: &str, messages: Vec<PushMessage>, now: DateTime<Utc>) {
        let bytes: u64 = messages.iter().map(PushMessage::wire_bytes).sum();
        *self.bytes.entry(connector_id.to_string()).or_default() += bytes;
        for m in &messages {
            self.count_from_broker(connector_id, m, true);
        }
        let queue = self.queues.entry(connector_id.to_string()).or_default();
        queue.reserve_exact(messages.len());
        for message in messages {
            self.next_seq += 1;
            queue.push_back(Queued { seq: self.next_seq, queued_at_ms: now.timestamp_millis(), message });
        }
    }

    /// Appends a message to a connector's queue.
    pub fn push(&mut self, connector_id: &str, message: PushMessage, now: DateTime<Utc>) -> u64 {
        self.count_from_broker(connector_id, &message, true);
        self.next_seq += 1;
        *self.bytes.entry(connector_id.to_string()).or_default() += message.wire_bytes();
        self.queues.entry(connector_id.to_string()).or_default().push_back(Queued {
            seq: self.next_seq,
            queued_at_ms: now.timestamp_millis(),
            message,
        });
        self.next_seq
    }

    /// Counts a message taken from RabbitMQ in (`entering`) or out of the queue.
    fn count_from_broker(&mut self, connector_id: &str, message: &PushMessage, entering: bool) {
        if message.settle.is_none() {
            return;
        }
        let e = self.from_broker.entry(connector_id.to_string()).or_default();
        if entering {
            e.0 += 1;
            e.1 += message.wire_bytes();
        } else {
            e.0 = e.0.saturating_sub(1);
            e.1 = e.1.saturating_sub(message.wire_bytes());
        }
    }

    /// Puts a message back on a connector's queue, ready at `due`.
    pub fn push_delayed(&mut self, connector_id: &str, message: PushMessage, due: Instant, now: DateTime<Utc>) {
        self.next_seq += 1;
        *self.bytes.entry(connector_id.to_string()).or_default() += message.wire_bytes();
        let queued = Queued { seq: self.next_seq, queued_at_ms: now.timestamp_millis(), message };
        self.delayed.entry(connector_id.to_string()).or_default().push((due, queued));
    }

    /// Takes the next message of a connector's queue: a retry that is due, else the oldest
    /// ready message.
    pub fn pop(&mut self, connector_id: &str) -> Option<Queued> {
        let now = Instant::now();
        let due = self.delayed.get_mut(connector_id).and_then(|d| {
            let i = d.iter().position(|(at, _)| *at <= now)?;
            Some(d.swap_remove(i).1)
        });
        let q = match due {
            Some(q) => q,
            None => {
                let queue = self.queues.get_mut(connector_id)?;
                let q = queue.pop_front()?;
                if queue.is_empty() {
                    // A drained backlog gives its memory back.
                    queue.shrink_to_fit();
                }
                q
            }
        };
        if let Some(b) = self.bytes.get_mut(connector_id) {
            *b = b.saturating_sub(q.message.wire_bytes());
        }
        self.count_from_broker(connector_id, &q.message, false);
        Some(q)
    }

    /// Messages [`Queues::pop`] would return now, and when the next delayed one is due.
    pub fn readiness(&self, connector_id: &str) -> (u64, Option<Instant>) {
        let now = Instant::now();
        let ready = self.queues.get(connector_id).map_or(0, |q| q.len() as u64);
        let delayed = self.delayed.get(connector_id).map(Vec::as_slice).unwrap_or_default();
        let due = delayed.iter().filter(|(at, _)| *at <= now).count() as u64;
        let next = delayed.iter().map(|(at, _)| *at).filter(|at| *at > now).min();
        (ready + due, next)
    }

    /// `(messages, bytes)` in a connector's queue, retries waiting included, less the
    /// messages taken from RabbitMQ and not yet processed (the broker counts those).
    pub fn figures(&self, connector_id: &str) -> (u64, u64) {
        let n = self.queues.get(connector_id).map_or(0, |q| q.len() as u64)
            + self.delayed.get(connector_id).map_or(0, |d| d.len() as u64);
        let (bn, bb) = self.from_broker.get(connector_id).copied().unwrap_or_default();
        (n.saturating_sub(bn), self.bytes.get(connector_id).copied().unwrap_or(0).saturating_sub(bb))
    }

    /// Every message waiting in a connector's queue, retries and messages taken from
    /// RabbitMQ included.
    pub fn pending(&self, connector_id: &str) -> u64 {
        self.queues.get(connector_id).map_or(0, |q| q.len() as u64) + self.delayed.get(connector_id).map_or(0, |d| d.len() as u64)
    }

    /// Drops every message of a connector's queue (`resetStateConnector` purges).
    /// Messages taken from RabbitMQ are acknowledged: purged, they must not come back.
    pub fn purge(&mut self, connector_id: &str) -> usize {
        self.bytes.remove(connector_id);
        self.from_broker.remove(connector_id);
        let delayed = self.delayed.remove(connector_id).unwrap_or_default().into_iter().map(|(_, q)| q);
        let ready = self.queues.remove(connector_id).unwrap_or_default().into_iter();
        let mut n = 0;
        for q in delayed.chain(ready) {
            if let Some(settle) = &q.message.settle {
                settle.settle(Outcome::Ack);
            }
            n += 1;
        }
        n
    }

    /// Every message waiting, every connector together (retries included).
    pub fn total_pending(&self) -> u64 {
        self.queues.values().map(|q| q.len() as u64).sum::<u64>() + self.delayed.values().map(|d| d.len() as u64).sum::<u64>()
    }

    /// Messages ever queued (numbering goes on across resets): a change means new work.
    pub fn pushed(&self) -> u64 {
        self.next_seq
    }

    /// Messages the worker took and has not finished with.
    pub fn in_flight(&self) -> u64 {
        self.in_flight
    }

    /// The worker took `n` messages.
    pub fn take_in_flight(&mut self, n: u64) {
        self.in_flight += n;
    }

    /// The worker finished with `n` messages it took.
    pub fn finish_in_flight(&mut self, n: u64) {
        self.in_flight = self.in_flight.saturating_sub(n);
    }

    /// Connectors with a non-empty queue.
    pub fn busy_connectors(&self) -> Vec<String> {
        let mut busy: Vec<String> = self.queues.iter().filter(|(_, q)| !q.is_empty()).map(|(k, _)| k.clone()).collect();
        for (k, d) in &self.delayed {
            if !d.is_empty() && !busy.contains(k) {
                busy.push(k.clone());
            }
        }
        busy
    }
}
/// What the consumer does with a message once processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Acknowledge (processed, or dropped on purpose).
    Ack,
    /// Reject without requeue (invalid message), with the reason.
    Reject(String),
}

/// The way back to the transport a message came from (a RabbitMQ delivery): told the
/// outcome once the worker has processed the message, at most once.
#[derive(Clone)]
pub struct Settle {
    tx: Arc<Mutex<Option<oneshot::Sender<Outcome>>>>,
    generation: u64,
    current: Arc<AtomicU64>,
}

impl std::fmt::Debug for Settle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settle").field("generation", &self.generation).finish_non_exhaustive()
    }
}

impl Settle {
    /// A settle for a delivery received on connection `generation`; `current` is the
    /// transport's current connection generation.
    pub fn new(generation: u64, current: Arc<AtomicU64>) -> (Settle, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        (Settle { tx: Arc::new(Mutex::new(Some(tx))), generation, current }, rx)
    }

    /// Tells the transport the outcome (only the first call counts).
    pub fn settle(&self, outcome: Outcome) {
        if let Some(tx) = self.tx.lock().expect("settle lock poisoned").take() {
            let _ = tx.send(outcome);
        }
    }

    /// Whether the connection the message came on is gone: the broker still holds the
    /// message and will deliver it again, so the worker must leave this copy alone.
    pub fn is_orphaned(&self) -> bool {
        self.current.load(Ordering::SeqCst) != self.generation
    }
}
