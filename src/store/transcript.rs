//! The transcript: everything a platform received and did, in order.
//!
//! Test authors assert on it (the Rust API's `received_operations()` /
//! `received_bundles()`), the control API serves it, and expectation failures print it.
//! Large strings in GraphQL variables are abbreviated (the bundle of a `stixBundlePush`
//! is recorded once, as a bundle entry, and kept in full only below the body cap).
//!
//! A platform that serves CI for days must stay bounded, so the transcript keeps the
//! latest [`Retention::max_entries`] entries and whole bundle bodies up to
//! [`Retention::body_budget`] bytes in all (older bodies go first, their metadata stays);
//! what it let go is counted ([`Transcript::dropped`]) and shown by `/_mock/health`.
//! Entries keep their sequence numbers, so readers that remember a position
//! ([`Transcript::since`]) stay right after old entries are dropped.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Strings longer than this are abbreviated in recorded variables.
const MAX_VARIABLE_STRING: usize = 4096;

/// A GraphQL request as received.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let registrations = platform.received_operations().into_iter()
///     .filter(|op| op.operation_name.as_deref() == Some("RegisterConnector"))
///     .count();
/// assert_eq!(registrations, 0);
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedOperation {
    /// Operation name, if the document had one.
    pub operation_name: Option<String>,
    /// Root fields selected (`registerConnector`, `workEdit`…).
    pub root_fields: Vec<String>,
    /// Operations asked of `…Edit` root fields (`workEdit.toProcessed`,
    /// `workEdit.reportExpectation`).
    pub edits: Vec<String>,
    /// `query` or `mutation`.
    pub operation_type: String,
    /// Variables (long strings abbreviated).
    pub variables: Value,
    /// Authenticated user id, if any.
    pub user_id: Option<String>,
    /// Authenticated user name, if any.
    pub user_name: Option<String>,
    /// `opencti-applicant-id` header, if sent.
    pub applicant_id: Option<String>,
    /// HTTP status answered.
    pub http_status: u16,
    /// Error codes answered (`AUTH_REQUIRED`…); empty on success.
    pub error_codes: Vec<String>,
}

/// A bundle received (over HTTP or AMQP).
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let objects: usize = platform.received_bundles().iter().map(|b| b.objects).sum();
/// assert_eq!(objects, 0);
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct ReceivedBundle {
    /// Connector that sent it.
    pub connector_id: String,
    /// Work it was sent for.
    pub work_id: Option<String>,
    /// `api` or `amqp`.
    pub transport: String,
    /// Size of the bundle JSON in bytes.
    pub bytes: usize,
    /// Number of objects in it.
    pub objects: usize,
    /// The bundle itself, when below the platform's transcript body cap.
    #[serde(skip)]
    pub content: Option<Arc<str>>,
}

/// A request refused before GraphQL execution (payload limit, unparsable body…).
#[derive(Debug, Clone, Serialize)]
pub struct RejectedRequest {
    /// Route.
    pub path: String,
    /// HTTP status answered.
    pub http_status: u16,
    /// Why.
    pub reason: String,
    /// Bytes received (counted while draining).
    pub bytes: u64,
}

/// What the platform refused of a connector's data, and why (typed: a test or the gate
/// asserts on the kind, not on the wording of the reason).
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, RefusalKind};
/// let platform = MockPlatform::start().await;
/// assert!(platform.refusals().iter().all(|r| r.kind != RefusalKind::Message), "{:?}", platform.refusals());
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// Connector whose queue or push it came from.
    pub connector_id: String,
    /// Work it belonged to.
    pub work_id: Option<String>,
    /// What was refused.
    pub kind: RefusalKind,
    /// Why, as the platform words it.
    pub reason: String,
    /// The refused object, abbreviated (object refusals).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// What a [`Refusal`] refused.
///
/// ```
/// use opencti_mock::{Expect, Refusal, RefusalKind};
/// let no_dead_letter = Expect::given(|r: &Refusal| r.kind == RefusalKind::DeadLetter).expect(0);
/// # let _ = no_dead_letter;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// A whole queued message, rejected without requeue (the worker cannot read it).
    Message,
    /// One object, refused at ingest (the work records the error).
    Object,
    /// An object with too many references, sent to the dead-letter queue.
    DeadLetter,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            RefusalKind::Message => "message rejected",
            RefusalKind::Object => "object refused",
            RefusalKind::DeadLetter => "object dead-lettered",
        };
        write!(f, "{what} (connector {}", self.connector_id)?;
        if let Some(w) = &self.work_id {
            write!(f, ", work {w}")?;
        }
        write!(f, "): {}", self.reason)?;
        if let Some(s) = &self.source {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

/// What the worker did, in a [`EntryKind::Worker`] entry (the message says the details).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkerEvent {
    /// A message for a work no longer alive, acknowledged and dropped.
    Dropped,
    /// An object whose references are missing, put back to be imported again later.
    Retried,
    /// An object stored with an error recorded on its work (a nested reference missing…).
    StoredWithError,
    /// A `delete` event applied.
    Deleted,
    /// A message for a draft that does not exist, applied to the main knowledge.
    DraftMissing,
    /// A message the broker delivers again: left to the broker after a lost connection, or
    /// acknowledged without counting it twice.
    Redelivery,
}

/// What happened, in order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EntryKind {
    /// A GraphQL operation.
    Operation(ReceivedOperation),
    /// A bundle.
    Bundle(ReceivedBundle),
    /// A request refused at the HTTP layer.
    Rejected(RejectedRequest),
    /// A fault rule fired.
    Fault {
        /// Rule id.
        rule: u64,
        /// Operation it fired on.
        operation: String,
        /// What it did.
        action: String,
    },
    /// The platform refused a message or an object of a connector.
    Refused(Refusal),
    /// Something the worker did that refuses nothing (a message for a finished work
    /// dropped, a draft that does not exist…).
    Worker {
        /// Connector whose queue it came from.
        connector_id: String,
        /// Work it belonged to.
        work_id: Option<String>,
        /// What happened, typed.
        event: WorkerEvent,
        /// What happened.
        message: String,
    },
    /// A download from the file storage (`GET /storage/get/…`).
    Download {
        /// The file id asked.
        file_id: String,
        /// The user whose token was used (`None`: no valid token).
        user_id: Option<String>,
        /// That user's name.
        user_name: Option<String>,
        /// HTTP status answered.
        http_status: u16,
    },
    /// A platform-level note (start-up mode, broker status…).
    Note {
        /// The note.
        message: String,
    },
}

/// One transcript entry.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Position (1-based).
    pub seq: u64,
    /// When.
    pub at: DateTime<Utc>,
    /// What.
    #[serde(flatten)]
    pub kind: EntryKind,
}

/// How much a transcript keeps (`mock.transcript_max_entries`,
/// `mock.transcript_body_budget`, `mock.transcript_bundle_cap`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Bundles up to this size are kept whole.
    pub body_cap: usize,
    /// Entries kept; older ones are dropped.
    pub max_entries: usize,
    /// Bytes of whole bundle bodies kept in all; older bodies are dropped first.
    pub body_budget: usize,
}

/// What a transcript let go, by retention.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Entries dropped (the oldest).
    pub entries: u64,
    /// Bundle bodies dropped (their entries stay, without the body).
    pub bundle_bodies: u64,
}

/// The transcript of one platform.
#[derive(Debug)]
pub struct Transcript {
    entries: Vec<Entry>,
    /// Sequence number of the next entry.
    next_seq: u64,
    retention: Retention,
    /// Bytes of the bundle bodies kept.
    body_bytes: usize,
    dropped: Dropped,
    /// Bundles received in all (kept or dropped since).
    bundles: u64,
    /// GraphQL requests answered, by operation name and by root field (kept or dropped).
    answered: rustc_hash::FxHashMap<String, u64>,
}

impl Transcript {
    /// An empty transcript.
    pub fn new(retention: Retention) -> Self {
        Transcript {
            entries: Vec::new(),
            next_seq: 1,
            retention,
            body_bytes: 0,
            dropped: Dropped::default(),
            bundles: 0,
            answered: Default::default(),
        }
    }

    /// Appends an entry.
    pub fn push(&mut self, at: DateTime<Utc>, kind: EntryKind) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        match &kind {
            EntryKind::Bundle(_) => self.bundles += 1,
            EntryKind::Operation(op) => {
                let mut names: Vec<&str> = op.root_fields.iter().map(String::as_str).chain(op.operation_name.as_deref()).collect();
                names.sort_unstable();
                names.dedup();
                for name in names {
                    *self.answered.entry(name.to_string()).or_default() += 1;
                }
            }
            _ => {}
        }
        self.entries.push(Entry { seq, at, kind });
        self.enforce_entries();
        seq
    }

    /// How many requests naming `name` (an operation name or a root field) were answered,
    /// including those whose entries were let go.
    pub fn answered(&self, name: &str) -> u64 {
        self.answered.get(name).copied().unwrap_or(0)
    }

    /// How many bundles were received, including those whose entries were let go.
    pub fn bundles_received(&self) -> u64 {
        self.bundles
    }

    /// Records a received bundle, keeping its body if small enough.
    pub fn push_bundle(&mut self, at: DateTime<Utc>, mut bundle: ReceivedBundle, body: &str) -> u64 {
        if body.len() <= self.retention.body_cap && body.len() <= self.retention.body_budget {
            self.body_bytes += body.len();
            bundle.content = Some(Arc::from(body));
            self.enforce_bodies();
        }
        self.push(at, EntryKind::Bundle(bundle))
    }

    /// Drops the oldest entries past the limit, a tenth of it at a time (so each push costs
    /// amortised constant time).
    fn enforce_entries(&mut self) {
        let max = self.retention.max_entries.max(1);
        if self.entries.len() <= max + max / 10 {
            return;
        }
        let excess = self.entries.len() - max;
        for e in self.entries.drain(..excess) {
            if let EntryKind::Bundle(ReceivedBundle { content: Some(body), .. }) = &e.kind {
                self.body_bytes -= body.len();
            }
        }
        self.dropped.entries += excess as u64;
    }

    /// Drops the oldest bundle bodies until the kept ones fit the budget.
    fn enforce_bodies(&mut self) {
        let mut i = 0;
        while self.body_bytes > self.retention.body_budget && i < self.entries.len() {
            if let EntryKind::Bundle(b) = &mut self.entries[i].kind
                && let Some(body) = b.content.take()
            {
                self.body_bytes -= body.len();
                self.dropped.bundle_bodies += 1;
            }
            i += 1;
        }
    }

    /// Every entry kept.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries kept after the one numbered `seq`.
    pub fn since(&self, seq: u64) -> &[Entry] {
        let start = self.entries.partition_point(|e| e.seq <= seq);
        &self.entries[start..]
    }

    /// The refusals among the entries kept, in order.
    pub fn refusals(&self) -> impl Iterator<Item = &Refusal> {
        self.entries.iter().filter_map(|e| match &e.kind {
            EntryKind::Refused(r) => Some(r),
            _ => None,
        })
    }

    /// The number of the last entry (0 before the first), dropped or not.
    pub fn last_seq(&self) -> u64 {
        self.next_seq - 1
    }

    /// What retention let go so far.
    pub fn dropped(&self) -> Dropped {
        self.dropped
    }

    /// The limits in force.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Forgets everything (numbering goes on).
    pub fn clear(&mut self) {
        self.entries.clear();
        self.body_bytes = 0;
    }
}

/// Variables with long strings abbreviated for the transcript.
pub fn abbreviate(v: &Value) -> Value {
    match v {
        Value::String(s) if s.len() > MAX_VARIABLE_STRING => Value::String(format!("<string of {} bytes>", s.len())),
        Value::Array(a) => Value::Array(a.iter().map(abbreviate).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), abbreviate(v))).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(t: &mut Transcript, i: usize) -> u64 {
        t.push(Utc::now(), EntryKind::Note { message: format!("note {i}") })
    }

    fn bundle(t: &mut Transcript, body: &str) -> u64 {
        let b = ReceivedBundle {
            connector_id: "c".into(),
            work_id: None,
            transport: "api".into(),
            bytes: body.len(),
            objects: 1,
            content: None,
        };
        t.push_bundle(Utc::now(), b, body)
    }

    #[test]
    fn the_oldest_entries_go_past_the_limit_and_numbers_stay() {
        let mut t = Transcript::new(Retention { body_cap: 100, max_entries: 10, body_budget: 1000 });
        for i in 0..100 {
            note(&mut t, i);
        }
        assert!(t.entries().len() <= 11, "{}", t.entries().len());
        assert_eq!(t.last_seq(), 100);
        assert_eq!(t.entries().last().map(|e| e.seq), Some(100));
        assert_eq!(t.dropped().entries, 100 - t.entries().len() as u64);
        // A reader that remembered position 95 gets exactly the five entries after it.
        assert_eq!(t.since(95).iter().map(|e| e.seq).collect::<Vec<_>>(), [96, 97, 98, 99, 100]);
        assert_eq!(t.since(0).len(), t.entries().len(), "a position already dropped reads what is kept");
    }

    #[test]
    fn bundle_bodies_past_the_budget_lose_their_body_oldest_first() {
        let mut t = Transcript::new(Retention { body_cap: 40, max_entries: 100, body_budget: 100 });
        let first = bundle(&mut t, &"a".repeat(40));
        bundle(&mut t, &"b".repeat(40));
        bundle(&mut t, &"c".repeat(40));
        bundle(&mut t, &"d".repeat(30));
        bundle(&mut t, &"e".repeat(50));
        let kept: Vec<bool> =
            t.entries().iter().map(|e| matches!(&e.kind, EntryKind::Bundle(b) if b.content.is_some())).collect();
        assert_eq!(kept, [false, false, true, true, false], "the oldest went first; one over the cap is never kept");
        assert_eq!(t.dropped().bundle_bodies, 2);
        assert_eq!(first, 1);
        assert!(t.body_bytes <= 100);
    }
}
