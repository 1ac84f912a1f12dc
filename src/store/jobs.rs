//! Jobs the platform sent to connectors (enrichment, file import), and how each was
//! delivered: published to `listen_<id>`, or POSTed to the connector's callback by the
//! worker (every attempt kept, with its answer).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// What a job asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobKind {
    /// `INTERNAL_ENRICHMENT`.
    InternalEnrichment,
    /// `INTERNAL_IMPORT_FILE`.
    InternalImportFile,
}

impl JobKind {
    /// The connector type it goes to.
    pub fn connector_type(self) -> &'static str {
        match self {
            JobKind::InternalEnrichment => "INTERNAL_ENRICHMENT",
            JobKind::InternalImportFile => "INTERNAL_IMPORT_FILE",
        }
    }
}

/// How a job reaches its connector.
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
    /// Entities created since the last automatic-enrichment pass (internal id, and the
    /// connector whose push created it), drained by [`crate::jobs::run_auto_enrichment`].
    created: Vec<(String, Option<String>)>,
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

    /// Takes the entities created since the last call.
    pub fn take_created(&mut self) -> Vec<(String, Option<String>)> {
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

/// Notes a newly created entity for automatic enrichment when some enrichment connector is
/// registered with `auto: true` (other than the connector whose push created it: an
/// enrichment does not re-trigger itself).
pub fn note_created(s: &mut crate::store::State, internal_id: uuid::Uuid, source_connector: Option<&str>) {
    let wanted = s.connectors.all().any(|c| {
        c.registration.connector_type == JobKind::InternalEnrichment.connector_type()
            && c.registration.auto == Some(true)
            && Some(c.id()) != source_connector
    });
    if wanted {
        s.jobs.created.push((internal_id.to_string(), source_connector.map(str::to_string)));
        s.jobs.created_signal.notify_one();
    }
}
