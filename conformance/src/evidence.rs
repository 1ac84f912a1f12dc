//! What the platform observed while a connector ran: the only input of a verifier.
//!
//! The runner (`opencti-mock conform`, or the nextest harness) fills it from the mock
//! platform's transcript and state; verifiers never see how the connector was written or
//! launched beyond its runs' exit codes and output. It is plain data (serialisable), so a
//! session can be recorded once and judged by many checks.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Everything observed during one conformance session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Evidence {
    /// The type under test (`EXTERNAL_IMPORT`…).
    pub connector_type: String,
    /// The connector id handed to the connector (`CONNECTOR_ID`).
    pub connector_id: String,
    /// The platform's payload limit during the session, in bytes.
    pub payload_limit: u64,
    /// Each launch of the connector, in order.
    pub runs: Vec<Run>,
    /// Every GraphQL operation received, in order.
    pub operations: Vec<Operation>,
    /// Every bundle received.
    pub bundles: Vec<Bundle>,
    /// Requests the platform refused before reading them (payload limit).
    pub rejections: Vec<Rejection>,
    /// The works of the connector, as they ended.
    pub works: Vec<Work>,
    /// The connector's registration as it ended (`None`: never registered, or deleted).
    pub connector: Option<Connector>,
    /// The knowledge after each run.
    pub snapshots: Vec<Snapshot>,
    /// STIX 2.1 findings on what the connector sent.
    pub findings: Vec<Finding>,
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEnd {
    /// The connector exited by itself.
    Exited,
    /// It kept running once it had settled, and was stopped (SIGTERM).
    Stopped,
    /// It did not settle in time and was stopped.
    TimedOut,
    /// It did not stop when asked and was killed.
    Killed,
    /// It could not be started.
    NotStarted,
}

impl RunEnd {
    /// In words: `exited`, `timed out`…
    pub fn describe(&self) -> &'static str {
        match self {
            RunEnd::Exited => "exited",
            RunEnd::Stopped => "stopped once settled",
            RunEnd::TimedOut => "timed out",
            RunEnd::Killed => "killed (did not stop when asked)",
            RunEnd::NotStarted => "could not start",
        }
    }
}

/// One launch of the connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// 0 for the first run.
    pub index: usize,
    /// First transcript sequence number of the run.
    pub first_seq: u64,
    /// Last transcript sequence number of the run.
    pub last_seq: u64,
    /// How it ended.
    pub end: RunEnd,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// Wall time, in seconds.
    pub seconds: f64,
    /// The end of its output (stdout and stderr).
    pub output_tail: String,
}

/// A GraphQL operation received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Operation {
    /// Transcript sequence number.
    pub seq: u64,
    /// The run it belongs to.
    pub run: Option<usize>,
    /// The operation name, as the client wrote it.
    pub name: Option<String>,
    /// Root fields (`registerConnector`, `workEdit`…).
    pub root_fields: Vec<String>,
    /// Edit operations asked (`workEdit.toProcessed`).
    pub edits: Vec<String>,
    /// Variables (long strings shortened).
    pub variables: Value,
    /// Authenticated user.
    pub user_id: Option<String>,
    /// HTTP status of the answer.
    pub http_status: u16,
    /// Error codes of the answer.
    pub error_codes: Vec<String>,
}

impl Operation {
    /// Whether it asked for this root field.
    pub fn is(&self, root_field: &str) -> bool {
        self.root_fields.iter().any(|f| f == root_field)
    }

    /// Whether it asked for this edit (`workEdit.toProcessed`).
    pub fn edits(&self, edit: &str) -> bool {
        self.edits.iter().any(|e| e == edit)
    }

    /// A variable by JSON pointer (`/input/type`).
    pub fn var(&self, pointer: &str) -> Option<&Value> {
        self.variables.pointer(pointer)
    }

    /// A string variable by JSON pointer.
    pub fn var_str(&self, pointer: &str) -> Option<&str> {
        self.var(pointer).and_then(Value::as_str)
    }

    /// Whether the platform answered without error.
    pub fn succeeded(&self) -> bool {
        self.http_status == 200 && self.error_codes.is_empty()
    }

    /// A one-line description (`#12 workAdd (workAdd)`).
    pub fn describe(&self) -> String {
        let name = self.name.as_deref().unwrap_or("(anonymous)");
        let errors = if self.error_codes.is_empty() { String::new() } else { format!(" → {}", self.error_codes.join(", ")) };
        format!("#{} {} ({}){}", self.seq, name, self.root_fields.join(", "), errors)
    }
}

/// A bundle received.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    /// Transcript sequence number.
    pub seq: u64,
    /// The run it belongs to.
    pub run: Option<usize>,
    /// The work it was pushed for.
    pub work_id: Option<String>,
    /// Its size in bytes.
    pub bytes: usize,
    /// Its number of objects.
    pub objects: usize,
}

/// A request refused before it was read.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rejection {
    /// Transcript sequence number.
    pub seq: u64,
    /// The run it belongs to.
    pub run: Option<usize>,
    /// HTTP path.
    pub path: String,
    /// HTTP status answered.
    pub http_status: u16,
    /// Why.
    pub reason: String,
    /// Bytes received.
    pub bytes: u64,
}

/// A work, as it ended.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Work {
    /// Work id.
    pub id: String,
    /// Its name.
    pub name: Option<String>,
    /// `wait`, `progress` or `complete`.
    pub status: String,
    /// Whether the platform created it itself (a push without a work).
    pub created_by_platform: bool,
    /// Sequence number of the `workAdd` operation that opened it.
    pub opened_by: Option<u64>,
    /// Expected operations.
    pub expected: i64,
    /// Processed operations.
    pub processed: i64,
    /// Errors reported on it.
    pub errors: Vec<WorkError>,
}

/// An error on a work.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkError {
    /// The message.
    pub message: String,
    /// Its source (the object refused).
    pub source: Option<String>,
}

/// The connector's registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Connector {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Type.
    pub connector_type: String,
    /// Scope.
    pub scope: Vec<String>,
    /// Its state (JSON text).
    pub state: Option<String>,
}

/// The knowledge after a run.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Snapshot {
    /// Objects stored (built-in ones aside).
    pub objects: usize,
    /// STIX ids held besides standard ids.
    pub extra_stix_ids: usize,
    /// The connector's state.
    pub state: Option<String>,
    /// Objects created by the run (a sample, with their standard ids).
    pub new_objects: Vec<String>,
    /// STIX ids added to existing objects by the run (a sample).
    pub new_stix_ids: Vec<String>,
}

/// A STIX 2.1 finding.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Finding {
    /// The object.
    pub object_id: String,
    /// JSON pointer in the object.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl Evidence {
    /// Operations of one run.
    pub fn operations_of(&self, run: usize) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(move |o| o.run == Some(run))
    }

    /// Operations asking for a root field, in order.
    pub fn calls(&self, root_field: &str) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(move |o| o.is(root_field))
    }
}
