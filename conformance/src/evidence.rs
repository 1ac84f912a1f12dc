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
    /// Jobs the platform sent the connector (enrichment, file import), in order.
    #[serde(default)]
    pub jobs: Vec<Job>,
    /// Downloads from the platform's file storage (`GET /storage/get/…`).
    #[serde(default)]
    pub downloads: Vec<Download>,
    /// Draft workspaces created during the session.
    #[serde(default)]
    pub drafts: Vec<Draft>,
    /// Files stored by the platform at the end (uploads and workbenches).
    #[serde(default)]
    pub files: Vec<File>,
    /// What the session knows of the connector's own settings that the checks depend on:
    /// `max_tlp` (the max TLP the gate set) and `max_tlp_setting` (the connector's variable
    /// holding it, given with `--setting max_tlp=VAR`).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, String>,
    /// What the gate could not plan, and why: `(role, reason)` for each kind of job it did
    /// not send (no type of the connector's scope it can build, no max-TLP setting…).
    #[serde(default)]
    pub plan_notes: Vec<(String, String)>,
    /// Messages of the connector the worker refused outright (not a bundle, not decodable),
    /// with the worker's reason.
    #[serde(default)]
    pub worker_refusals: Vec<String>,
    /// What the live stream saw of a STREAM connector (`None` for the other types).
    #[serde(default)]
    pub stream: Option<StreamEvidence>,
}

/// What the live stream saw of a STREAM connector during the gate's stream plan: the
/// collection it was given, what the gate changed in the knowledge (each change an event),
/// every request the connector made to the stream, and the positions its pings saved.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StreamEvidence {
    /// The collection the connector was configured with (`CONNECTOR_LIVE_STREAM_ID`).
    pub collection_id: String,
    /// The events the gate caused, in order.
    pub produced: Vec<ProducedEvent>,
    /// Every request the connector made to the live stream, in order.
    pub connections: Vec<StreamRequest>,
    /// The `start_from` of the state the platform held for the connector at the end of each
    /// run (what a restart resumes from).
    pub saved_at_end: Vec<Option<String>>,
    /// The run in which the gate stopped the stream (410), when the plan got that far.
    pub stopped_in_run: Option<usize>,
    /// Whether a ping saved a position at or after the first run's events while the
    /// connector ran — the gate waits 60 s for one (pycti pings every 40 s); `None` when
    /// the plan did not get that far or the connector exited while the gate waited.
    #[serde(default)]
    pub saved_while_running: Option<bool>,
    /// Where the plan could not go on, and why.
    pub notes: Vec<String>,
}

/// An event the gate caused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProducedEvent {
    /// Its stream id.
    pub id: String,
    /// `create`, `update` or `delete`.
    pub kind: String,
    /// When: `first-run`, `after-save` (first run, after a position was saved),
    /// `while-down` (between the runs) or `second-run`.
    pub phase: String,
    /// Whether the connector read on across a heartbeat after this event was sent (the
    /// gate watches this after the first run's deletion; `None`: not watched).
    #[serde(default)]
    pub read_on: Option<bool>,
}

/// One request to the live stream.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamRequest {
    /// The run it was made in.
    pub run: Option<usize>,
    /// The stream asked for: `raw`, `live` or a collection id.
    pub stream: String,
    /// 200, or the refusal's status.
    pub status: u16,
    /// The refusal's reason phrase.
    pub reason: Option<String>,
    /// The start position sent (`Last-Event-ID` or `from`).
    pub start_from: Option<String>,
    /// The recovery date sent (`recover`).
    pub recover: Option<String>,
    /// Ids of the data events sent on it, in order.
    pub sent_ids: Vec<String>,
    /// Heartbeats sent on it.
    pub heartbeats: u64,
    /// `open`, `client_closed` (the connector went away), `server_closed` (the gate ended
    /// it) or `refused`.
    pub end: String,
}

impl StreamRequest {
    /// Whether it was admitted.
    pub fn admitted(&self) -> bool {
        self.status == 200
    }
}

/// A job the platform sent, and what became of it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// Sequence number of the job on the platform.
    pub seq: u64,
    /// Why the session sent it (`in-scope`, `out-of-scope`, `unknown-entity`, `above-max-tlp`,
    /// `valid-file`, `workbench`, `draft`, `corrupt-file`…).
    pub role: String,
    /// `INTERNAL_ENRICHMENT`, `INTERNAL_IMPORT_FILE` or `INTERNAL_EXPORT_FILE`.
    pub kind: String,
    /// The entity's standard id (enrichment), the file id (import), or the folder the
    /// exported file belongs in (export: `export/<type>[/<entity id>]`).
    pub subject: String,
    /// The job's work.
    pub work_id: Option<String>,
    /// `amqp` or `http`.
    pub transport: String,
    /// Whether the connector acknowledged it (HTTP 200/202, or taken from the queue).
    pub delivered: bool,
    /// Whether the platform itself could not send it (its broker gone, a publish refused):
    /// no fault of the connector's.
    #[serde(default)]
    pub undeliverable: bool,
    /// HTTP statuses of the delivery attempts (`None`: no answer).
    pub attempts: Vec<Option<u16>>,
    /// Transcript sequence number when it was sent.
    pub sent_at: u64,
    /// Whether the connector reported the work received (`toReceived`).
    pub received: bool,
    /// Whether the connector closed the work (`toProcessed`).
    pub processed: bool,
    /// Whether it closed it in error.
    pub in_error: bool,
    /// The work's status when the session ended.
    pub work_status: Option<String>,
    /// The closing message.
    pub message: Option<String>,
    /// Whether the connector process was still running once the job was answered or given up.
    pub connector_alive_after: bool,
    /// What the job was about: the entity's type (enrichment) or the file's MIME type
    /// (import), and where the sample came from.
    #[serde(default)]
    pub about: Option<String>,
    /// Objects created or changed in the knowledge while the job ran (its pushes processed,
    /// its API calls made): what the connector wrote for it.
    #[serde(default)]
    pub changed: Vec<String>,
    /// Workbench files (`import/pending/…`) uploaded while the job ran.
    #[serde(default)]
    pub workbenches: Vec<String>,
    /// Those of [`Job::workbenches`] that hold the job's file byte for byte: the file was
    /// forwarded for review unparsed.
    #[serde(default)]
    pub forwarded_unchanged: Vec<String>,
    /// Export jobs: the format (MIME type) asked for.
    #[serde(default)]
    pub format: Option<String>,
    /// Export jobs: the file name the platform composed for the connector to use.
    #[serde(default)]
    pub file_name: Option<String>,
    /// Export jobs: what the exported file must not hold — the entity the requester may
    /// not see, or one marked above the ask's max marking (its description), if any.
    #[serde(default)]
    pub withheld: Option<String>,
    /// Export jobs: the files the connector pushed while the job ran.
    #[serde(default)]
    pub exported: Vec<ExportedFile>,
    /// Export jobs: the markings the file must carry (`file_markings` of the ask), by
    /// internal id.
    #[serde(default)]
    pub file_markings: Vec<String>,
}

/// A file an export connector pushed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportedFile {
    /// Storage id (`export/<type>[/<entity id>]/<lower-cased name>`).
    pub id: String,
    /// Its folder (the id without the name).
    pub folder: String,
    /// Its name.
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// What the content looks like: `json` (parses as JSON), `pdf`, `zip` (a zip archive,
    /// such as an ODS or XLSX file), `text` (other UTF-8 text) or `binary`.
    pub content_kind: String,
    /// Which of the withheld entity's markers (its name, its ids) the content holds, when
    /// it is text; `None` for binary content (not searched).
    pub withheld_markers: Option<Vec<String>>,
    /// The file's markings as stored, by internal id.
    #[serde(default)]
    pub markings: Vec<String>,
}

/// A download from the file storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Download {
    /// Transcript sequence number.
    pub seq: u64,
    /// The file id asked.
    pub file_id: String,
    /// The user whose token was used (`None`: no valid token).
    pub user_id: Option<String>,
    /// HTTP status answered.
    pub http_status: u16,
}

/// A draft workspace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Draft {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Standard ids of the objects written into it.
    pub objects: Vec<String>,
}

/// A stored file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct File {
    /// Id (storage path).
    pub id: String,
    /// MIME type.
    pub mime_type: String,
    /// Size in bytes.
    pub size: u64,
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
    /// The gate reset the connector's state before this run (`resetStateConnector`): a
    /// connector that skipped its second run because its interval had not elapsed is run
    /// once more, from scratch, to see whether the same data creates anything.
    #[serde(default)]
    pub after_state_reset: bool,
    /// The signal that ended it, when one did (pycti stops itself with SIGTERM: 15).
    #[serde(default)]
    pub signal: Option<i32>,
    /// The platform stopped what the connector reads during this run (the STREAM plan's
    /// 410): exiting is then what it must do, not a crash.
    #[serde(default)]
    pub platform_stopped: bool,
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
    /// The ids of its objects (empty when the bundle was too large to keep).
    #[serde(default)]
    pub object_ids: Vec<String>,
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
    /// The job the platform created it for (enrichment, file import).
    #[serde(default)]
    pub job: Option<u64>,
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

    /// Bundles pushed for a work.
    pub fn bundles_of<'a>(&'a self, work_id: &'a str) -> impl Iterator<Item = &'a Bundle> + 'a {
        self.bundles.iter().filter(move |b| b.work_id.as_deref() == Some(work_id))
    }

    /// Jobs sent for a reason.
    pub fn jobs_with_role<'a>(&'a self, role: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.jobs.iter().filter(move |j| j.role == role)
    }

    /// Operations asking for a root field, in order.
    pub fn calls(&self, root_field: &str) -> impl Iterator<Item = &Operation> {
        self.operations.iter().filter(move |o| o.is(root_field))
    }
}
