//! Jobs the platform sent to connectors (enrichment, file import), and how each was
//! delivered: published to `listen_<id>`, or POSTed to the connector's callback by the
//! worker (every attempt kept, with its answer).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a job asks.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{JobKind, MockPlatform};
/// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
/// let platform = MockPlatform::builder().seed(bundle).start().await;
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": id, "name": "enricher", "type": "INTERNAL_ENRICHMENT", "scope": ["IPv4-Addr"]}},
///     }))
///     .send().await.unwrap();
/// platform.ask_enrichment(id, "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883").expect("both exist");
/// // an enrichment, for a connector of the type it names
/// let kind = platform.jobs()[0].kind;
/// assert_eq!((kind, kind.connector_type()), (JobKind::InternalEnrichment, "INTERNAL_ENRICHMENT"));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum JobKind {
    /// `INTERNAL_ENRICHMENT`.
    InternalEnrichment,
    /// `INTERNAL_IMPORT_FILE`.
    InternalImportFile,
    /// `INTERNAL_EXPORT_FILE`.
    InternalExportFile,
    /// `INTERNAL_ANALYSIS`.
    InternalAnalysis,
}

impl JobKind {
    /// The connector type it goes to.
    ///
    /// ```
    /// use opencti_mock::JobKind;
    /// // the `type` the connector registered with
    /// let types = [JobKind::InternalEnrichment, JobKind::InternalImportFile].map(JobKind::connector_type);
    /// assert_eq!(types, ["INTERNAL_ENRICHMENT", "INTERNAL_IMPORT_FILE"]);
    /// ```
    pub fn connector_type(self) -> &'static str {
        match self {
            JobKind::InternalEnrichment => "INTERNAL_ENRICHMENT",
            JobKind::InternalImportFile => "INTERNAL_IMPORT_FILE",
            JobKind::InternalExportFile => "INTERNAL_EXPORT_FILE",
            JobKind::InternalAnalysis => "INTERNAL_ANALYSIS",
        }
    }
}

/// How a job reaches its connector.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{JobStatus, MockPlatform, Transport};
/// let platform = MockPlatform::start().await;
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": id, "name": "importer", "type": "INTERNAL_IMPORT_FILE", "scope": ["text/plain"]}},
///     }))
///     .send().await.unwrap();
/// let (file, _) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
/// platform.ask_import(&file.id, Some(id), &Default::default()).expect("the file is stored");
/// // no broker and no callback URI: the job waits in the platform
/// let job = &platform.jobs()[0];
/// assert_eq!((job.transport, job.status), (Transport::None, JobStatus::Queued));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transport {
    /// Published to `listen_<id>` on the broker.
    Amqp,
    /// POSTed to the registered `listen_callback_uri` (the worker's HTTP dispatch).
    Http,
    /// Neither: no broker and no callback URI; the job waits in the platform.
    None,
}

impl Transport {
    /// `amqp`, `http` or `none`.
    ///
    /// ```
    /// use opencti_mock::Transport;
    /// // the names the control API's `GET /_mock/jobs` gives
    /// let names = [Transport::Amqp, Transport::Http, Transport::None].map(Transport::as_str);
    /// assert_eq!(names, ["amqp", "http", "none"]);
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Amqp => "amqp",
            Transport::Http => "http",
            Transport::None => "none",
        }
    }
}

/// Where a job is.
///
/// ```
/// use opencti_mock::JobStatus;
/// let settled = |s: JobStatus| matches!(s, JobStatus::Delivered | JobStatus::Failed);
/// assert!(settled(JobStatus::Delivered) && !settled(JobStatus::Retrying));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Waiting for its turn (HTTP: one job at a time per connector) or for a transport.
    Queued,
    /// Being POSTed (HTTP) — the connector answers when the job is done.
    Delivering,
    /// Waiting before the next attempt (HTTP).
    Retrying,
    /// Acknowledged: the connector answered 200/202 (HTTP), or the broker confirmed the
    /// publish (AMQP; the connector acknowledges it on the broker).
    Delivered,
    /// The publish failed (AMQP) or the platform stopped before delivery.
    Failed,
}

/// One HTTP delivery attempt.
///
/// ```
/// # #[tokio::main] async fn main() -> opencti_mock::Result<()> {
/// use std::time::Duration;
/// use opencti_mock::{Attempt, MockPlatform};
/// use wiremock::{Mock, MockServer, ResponseTemplate, matchers::method};
/// // the connector's HTTP listener (`listen_protocol=api`), acknowledging every job
/// let listener = MockServer::start().await;
/// Mock::given(method("POST")).respond_with(ResponseTemplate::new(202)).mount(&listener).await;
/// let platform = MockPlatform::start().await;
/// let (id, callback) = ("8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b", format!("{}/api/callback", listener.uri()));
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": id, "name": "importer", "type": "INTERNAL_IMPORT_FILE", "scope": ["text/plain"],
///             "listen_callback_uri": callback}},
///     }))
///     .send().await.unwrap();
/// let (file, _) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
/// platform.ask_import(&file.id, Some(id), &Default::default()).expect("the file is stored");
/// // the worker POSTs the job to the callback: idle once it is acknowledged, at the first attempt
/// platform.wait_idle(Duration::from_secs(10)).await?;
/// let attempts: Vec<Attempt> = platform.jobs()[0].attempts.clone();
/// assert_eq!(attempts.iter().map(|a| a.status).collect::<Vec<_>>(), [Some(202)]);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The HTTP status, when the connector answered.
    pub status: Option<u16>,
    /// The answer's body (shortened), or what went wrong.
    pub detail: String,
    /// How long it took, in milliseconds.
    pub millis: u64,
}

/// A job.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{JobStatus, MockPlatform};
/// let platform = MockPlatform::start().await;
/// // jobs the platform sent to enrichment and import connectors, in order
/// assert!(platform.jobs().iter().all(|j| j.status != JobStatus::Failed));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    /// Sequence number (1-based) within the platform.
    pub seq: u64,
    /// The connector.
    pub connector_id: String,
    /// What it asks.
    pub kind: JobKind,
    /// The work created for it.
    pub work_id: Option<String>,
    /// The entity (enrichment) or file (import) it is about.
    pub subject: String,
    /// The message, exactly as sent.
    pub message: String,
    /// How it travels.
    pub transport: Transport,
    /// Where it is.
    pub status: JobStatus,
    /// HTTP attempts, in order.
    pub attempts: Vec<Attempt>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// Every job of a platform.
#[derive(Debug, Default)]
pub struct Jobs {
    items: Vec<Job>,
    /// Jobs forgotten by resets: numbering goes on, so a job number held by a delivery
    /// task never names a later job.
    forgotten: u64,
    /// Entities created or changed since the last automatic-enrichment pass (internal id,
    /// the connector whose push wrote it, and the change), drained by
    /// [`crate::jobs::run_auto_enrichment`].
    created: Vec<Noted>,
    /// Woken when an entity is noted.
    created_signal: std::sync::Arc<tokio::sync::Notify>,
}

impl Jobs {
    /// Forgets every job and every noted entity (`POST /_mock/reset`); numbering goes on
    /// and the automatic-enrichment task keeps its signal.
    pub fn clear(&mut self) {
        self.forgotten += self.items.len() as u64;
        self.items.clear();
        self.created.clear();
    }

    /// Jobs not yet settled: queued, being delivered or waiting to retry.
    pub fn pending(&self) -> u64 {
        self.items.iter().filter(|j| matches!(j.status, JobStatus::Queued | JobStatus::Delivering | JobStatus::Retrying)).count()
            as u64
    }

    /// Entities created and not yet looked at by the automatic-enrichment pass.
    pub fn awaiting_enrichment(&self) -> u64 {
        self.created.len() as u64
    }

    /// Records a new job (its `seq` is assigned here) and returns its sequence number.
    pub fn add(&mut self, mut job: Job) -> u64 {
        let seq = self.forgotten + self.items.len() as u64 + 1;
        job.seq = seq;
        self.items.push(job);
        seq
    }

    /// A job about to be recorded: queued, not yet attempted.
    pub fn new_job(
        connector_id: &str,
        kind: JobKind,
        work_id: Option<String>,
        subject: String,
        message: String,
        transport: Transport,
        now: DateTime<Utc>,
    ) -> Job {
        Job {
            seq: 0,
            connector_id: connector_id.to_string(),
            kind,
            work_id,
            subject,
            message,
            transport,
            status: JobStatus::Queued,
            attempts: Vec::new(),
            created_at: now,
            delivered_at: None,
        }
    }

    /// What wakes the automatic-enrichment task.
    pub fn created_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.created_signal.clone()
    }

    /// Takes the entities created or changed since the last call.
    pub fn take_created(&mut self) -> Vec<Noted> {
        std::mem::take(&mut self.created)
    }

    /// A job by sequence number.
    pub fn get(&self, seq: u64) -> Option<&Job> {
        self.items.get(seq.checked_sub(self.forgotten + 1)? as usize)
    }

    /// A job by sequence number, to change it.
    pub fn get_mut(&mut self, seq: u64) -> Option<&mut Job> {
        self.items.get_mut(seq.checked_sub(self.forgotten + 1)? as usize)
    }

    /// Every job, in order.
    pub fn all(&self) -> &[Job] {
        &self.items
    }

    /// The jobs of one connector.
    pub fn of_connector<'a>(&'a self, connector_id: &'a str) -> impl Iterator<Item = &'a Job> + 'a {
        self.items.iter().filter(move |j| j.connector_id == connector_id)
    }
}

/// What happened to an entity, for automatic enrichment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Created: connectors registered with `auto: true` enrich it (`trigger: create`).
    Created,
    /// Changed by a merge or an edit: connectors registered with `auto_update: true`
    /// enrich it (`trigger: update`).
    Updated,
}

impl Change {
    /// The job's `trigger`.
    pub fn trigger(self) -> &'static str {
        match self {
            Change::Created => "create",
            Change::Updated => "update",
        }
    }

    /// Whether a connector's registration asks for enrichment on this change.
    pub fn wanted_by(self, registration: &crate::store::connectors::Registration) -> bool {
        match self {
            Change::Created => registration.auto == Some(true),
            Change::Updated => registration.auto_update == Some(true),
        }
    }
}

/// An entity noted for automatic enrichment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Noted {
    /// Its internal id.
    pub internal_id: String,
    /// The connector whose push wrote it, if any (it is not sent its own change).
    pub source_connector: Option<String>,
    /// What happened.
    pub change: Change,
}

/// Notes an entity written (created, or merged with a change) for automatic enrichment
/// when some enrichment connector asks for that change (`auto` on creation, `auto_update`
/// on update) — other than the connector whose push wrote it: an enrichment does not
/// re-trigger itself. A merge that changes nothing is not noted.
pub fn note_change(s: &mut crate::store::State, upserted: &crate::store::knowledge::Upserted, source_connector: Option<&str>) {
    let change = match (upserted.created, upserted.changed) {
        (true, _) => Change::Created,
        (false, true) => Change::Updated,
        (false, false) => return,
    };
    let wanted = s.connectors.all().any(|c| {
        c.registration.connector_type == JobKind::InternalEnrichment.connector_type()
            && change.wanted_by(&c.registration)
            && Some(c.id()) != source_connector
    });
    if wanted {
        s.jobs.created.push(Noted {
            internal_id: upserted.internal_id.to_string(),
            source_connector: source_connector.map(str::to_string),
            change,
        });
        s.jobs.created_signal.notify_one();
    }
}
