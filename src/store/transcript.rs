//! The transcript: everything a platform received and did, in order.
//!
//! Test authors assert on it (the Rust API's `received_operations()` /
//! `received_bundles()`), the control API serves it, and expectation failures print it.
//! Large strings in GraphQL variables are abbreviated (the bundle of a `stixBundlePush`
//! is recorded once, as a bundle entry, and kept in full only below the body cap).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

/// Strings longer than this are abbreviated in recorded variables.
const MAX_VARIABLE_STRING: usize = 4096;

/// A GraphQL request as received.
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
    /// The worker dropped or rejected a message, or an object failed to ingest.
    Worker {
        /// Connector whose queue it came from.
        connector_id: String,
        /// Work it belonged to.
        work_id: Option<String>,
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

/// The transcript of one platform.
#[derive(Debug)]
pub struct Transcript {
    entries: Vec<Entry>,
    body_cap: usize,
}

impl Transcript {
    /// An empty transcript keeping bundle bodies up to `body_cap` bytes.
    pub fn new(body_cap: usize) -> Self {
        Transcript { entries: Vec::new(), body_cap }
    }

    /// Appends an entry.
    pub fn push(&mut self, at: DateTime<Utc>, kind: EntryKind) -> u64 {
        let seq = self.entries.len() as u64 + 1;
        self.entries.push(Entry { seq, at, kind });
        seq
    }

    /// Records a received bundle, keeping its body if small enough.
    pub fn push_bundle(&mut self, at: DateTime<Utc>, mut bundle: ReceivedBundle, body: &str) -> u64 {
        if body.len() <= self.body_cap {
            bundle.content = Some(Arc::from(body));
        }
        self.push(at, EntryKind::Bundle(bundle))
    }

    /// Every entry.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Entries after `seq`.
    pub fn since(&self, seq: u64) -> &[Entry] {
        let start = (seq as usize).min(self.entries.len());
        &self.entries[start..]
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        self.entries.clear();
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
