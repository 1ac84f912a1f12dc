//! Jobs for enrichment and file-import connectors: what triggers them, the connectors the
//! platform picks, the work it opens for each, the message it builds, and how the message
//! reaches the connector.
//!
//! Selection follows the platform (`domain/enrichment.js`, `database/file-storage.ts`):
//! - a manual enrichment (`askEnrichment`) goes to the named connector with no active or
//!   scope check; the work is `Manual enrichment`;
//! - an automatic enrichment (an entity created, or changed by a merge or an edit) goes to
//!   every active enrichment connector registered with `auto: true` (creation) or
//!   `auto_update: true` (update) whose scope holds the entity type (case-insensitive),
//!   but the connector whose push wrote it; the work is `Enrichment (<standard id>)`;
//! - an export (`exportAsk` and the list asks, [`export_ask`]) goes to every active export
//!   connector whose scope holds the format; the work is named after the file to produce;
//! - an analysis (`askAnalysis`, [`analysis`]) goes to the first active analysis connector
//!   in scope (the file's MIME type; any for fields), or the one named;
//! - a file import goes to every active import connector whose scope holds the file's
//!   MIME type — only `auto` ones for an upload, any for `askJobImport` — minus the
//!   `only_contextual` ones when the file belongs to no entity; the work is
//!   `Manual import of <file name>`.
//!
//! Every work starts in `wait` (no received time) with the entity's standard id or the
//! file id as its source; in a draft its name ends with ` in draft <id>`.
//!
//! Delivery (see [`dispatch`]): a connector registered with a `listen_callback_uri` gets
//! the message POSTed by the worker (signed JWT, retried until acknowledged, one job at a
//! time); otherwise the message is published to its `listen_<id>` queue when the platform
//! has a broker; otherwise it waits, and the transcript says why.

pub mod analysis;
pub mod dispatch;
pub mod export;
pub mod export_ask;
pub mod message;
pub mod playbook;

use bytes::Bytes;

use crate::store::State;
use crate::store::connectors::Connector;
use crate::store::files::{StoredFile, base_name, import_path};
use crate::store::jobs::{Change, JobKind, Noted, Transport};
use crate::store::transcript::EntryKind;
use crate::store::works::{NewWork, Work};

pub use dispatch::Dispatcher;

/// Why a job could not be created.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{JobError, MockPlatform};
/// let platform = MockPlatform::start().await;
/// let err = platform.ask_enrichment("no-such-connector", "no-such-entity").expect_err("unknown");
/// assert_eq!(err, JobError::UnknownEntity("no-such-entity".into()));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JobError {
    /// No connector with that id.
    #[error("Connector {0} not found")]
    UnknownConnector(String),
    /// The connector is not of the type the job needs.
    #[error("Connector {id} is a {actual} connector, not {expected}")]
    WrongType {
        /// Connector id.
        id: String,
        /// Its type.
        actual: String,
        /// The type the job needs.
        expected: &'static str,
    },
    /// No entity with that id.
    #[error("Entity {0} not found")]
    UnknownEntity(String),
    /// No file with that id.
    #[error("File {0} not found")]
    UnknownFile(String),
    /// The asker may not ask this (the platform's `FORBIDDEN_ACCESS`), e.g. an export
    /// limited by a marking the asker cannot share.
    #[error("{0}")]
    Forbidden(String),
    /// The ask itself is invalid (the platform's functional error), e.g. a list export
    /// without an entity type.
    #[error("{0}")]
    Invalid(String),
    /// No connector can take the job (the platform's `RESOURCE_NOT_FOUND`), e.g. an
    /// analysis with no active analysis connector in scope.
    #[error("{0}")]
    NoConnector(String),
}

/// Who asks, and in which draft.
#[derive(Debug, Clone, Default)]
pub struct Asker {
    /// The requesting user (the admin when `None`).
    pub user_id: Option<String>,
    /// The draft the request runs in (`opencti-draft-id`).
    pub draft_id: Option<String>,
}

/// A job built in the state, to deliver once the state lock is released.
#[derive(Debug, Clone)]
pub struct Created {
    /// The job's sequence number.
    pub seq: u64,
    /// Its work.
    pub work: Work,
}

fn user_or_admin(s: &State, asker: &Asker) -> String {
    asker.user_id.clone().unwrap_or_else(|| s.users.admin().id.clone())
}

fn draft_suffix(draft_id: Option<&str>) -> String {
    draft_id.map(|d| format!(" in draft {d}")).unwrap_or_default()
}

fn transport_of(jobs: &Dispatcher, connector: &Connector) -> Transport {
    if connector.registration.listen_callback_uri.as_deref().is_some_and(|u| !u.is_empty()) {
        Transport::Http
    } else if jobs.amqp().broker().is_some() {
        Transport::Amqp
    } else {
        Transport::None
    }
}

fn connector_of_type<'a>(s: &'a State, id: &str, kind: JobKind) -> Result<&'a Connector, JobError> {
    let c = s.connectors.get(id).ok_or_else(|| JobError::UnknownConnector(id.to_string()))?;
    if c.registration.connector_type != kind.connector_type() {
        return Err(JobError::WrongType {
            id: id.to_string(),
            actual: c.registration.connector_type.clone(),
            expected: kind.connector_type(),
        });
    }
    Ok(c)
}

fn in_scope(connector: &Connector, value: &str) -> bool {
    connector.scope().iter().any(|s| s.eq_ignore_ascii_case(value))
}

/// Creates the work and the job record for one connector (inside the state lock).
#[allow(clippy::too_many_arguments)]
fn create(
    jobs: &Dispatcher,
    s: &mut State,
    connector: &Connector,
    kind: JobKind,
    work_name: String,
    source: &str,
    user_id: &str,
    build: impl FnOnce(&str) -> String,
) -> Created {
    let now = jobs.store().clock().now();
    let work = s
        .works
        .create(
            NewWork {
                connector_id: connector.id().to_string(),
                connector_type: connector.registration.connector_type.clone(),
                name: Some(work_name),
                user_id: user_id.to_string(),
                source_id: Some(source.to_string()),
                received: false,
                multipart: false,
            },
            now,
        )
        .clone();
    let message = build(&work.id);
    let what = format!("({}) for connector {} ({source}), work {}", kind.connector_type(), connector.id(), work.id);
    let seq = add_job(jobs, s, connector, kind, Some(&work.id), source, message, &what);
    Created { seq, work }
}

/// Records a job for `connector` (its transport decided here) and notes it in the
/// transcript as `job <seq> <what>, via <transport>`; its sequence number.
#[allow(clippy::too_many_arguments)]
fn add_job(
    jobs: &Dispatcher,
    s: &mut State,
    connector: &Connector,
    kind: JobKind,
    work_id: Option<&str>,
    source: &str,
    message: String,
    what: &str,
) -> u64 {
    let now = jobs.store().clock().now();
    let transport = transport_of(jobs, connector);
    let job = crate::store::jobs::Jobs::new_job(
        connector.id(),
        kind,
        work_id.map(str::to_string),
        source.to_string(),
        message,
        transport,
        now,
    );
    let seq = s.jobs.add(job);
    let via = match transport {
        Transport::Http => "HTTP callback",
        Transport::Amqp => "RabbitMQ",
        Transport::None => "nothing yet (no broker, no callback URI)",
    };
    s.transcript.push(now, EntryKind::Note { message: format!("job {seq} {what}, via {via}") });
    seq
}

/// `askEnrichment` / `askEnrichments`: one job per named connector for the entity.
pub fn ask_enrichment(
    jobs: &Dispatcher,
    connector_ids: &[String],
    entity_id: &str,
    asker: &Asker,
) -> Result<Vec<Work>, JobError> {
    enrich(jobs, connector_ids, entity_id, asker, "manual", "update")
}

fn enrich(
    jobs: &Dispatcher,
    connector_ids: &[String],
    entity_id: &str,
    asker: &Asker,
    mode: &'static str,
    trigger: &'static str,
) -> Result<Vec<Work>, JobError> {
    let created = jobs.store().write(|s| -> Result<Vec<Created>, JobError> {
        let obj = s.knowledge.get(entity_id).filter(|o| !o.deleted).ok_or_else(|| JobError::UnknownEntity(entity_id.into()))?;
        let (standard_id, entity_type) = (obj.standard_id.clone(), obj.entity_type.to_string());
        let stix = obj.stix();
        let connectors: Vec<Connector> = connector_ids
            .iter()
            .map(|id| connector_of_type(s, id, JobKind::InternalEnrichment).cloned())
            .collect::<Result<_, _>>()?;
        let user_id = user_or_admin(s, asker);
        let draft = asker.draft_id.as_deref();
        let name = match mode {
            "manual" => format!("Manual enrichment{}", draft_suffix(draft)),
            _ => format!("Enrichment ({standard_id}){}", draft_suffix(draft)),
        };
        Ok(connectors
            .iter()
            .map(|c| {
                create(jobs, s, c, JobKind::InternalEnrichment, name.clone(), &standard_id, &user_id, |work_id| {
                    let internal = message::Internal {
                        work_id: work_id.to_string(),
                        applicant_id: None,
                        draft_id: asker.draft_id.clone(),
                        trigger,
                        mode,
                    };
                    message::enrichment(&internal, &standard_id, &entity_type, &stix, None)
                })
            })
            .collect())
    })?;
    Ok(deliver_all(jobs, created))
}

/// Automatic enrichment of the entities created or changed (see
/// [`crate::store::jobs::note_change`]): every active enrichment connector whose scope
/// holds the entity type and that asks for the change (`auto: true` on creation, `trigger:
/// create`; `auto_update: true` on update, `trigger: update`) gets a job — except the
/// connector whose push wrote it.
pub fn auto_enrich(jobs: &Dispatcher, noted: &[Noted]) -> Vec<Work> {
    let now = jobs.store().clock().now();
    let targets: Vec<(String, Vec<String>, Change)> = jobs.store().read(|s| {
        let candidates: Vec<&Connector> = s
            .connectors
            .all()
            .filter(|c| c.registration.connector_type == JobKind::InternalEnrichment.connector_type() && c.is_active(now))
            .collect();
        noted
            .iter()
            .filter_map(|n| {
                let obj = s.knowledge.get(&n.internal_id).filter(|o| !o.deleted)?;
                let ids: Vec<String> = candidates
                    .iter()
                    .filter(|c| n.change.wanted_by(&c.registration))
                    .filter(|c| in_scope(c, &obj.entity_type) && Some(c.id()) != n.source_connector.as_deref())
                    .map(|c| c.id().to_string())
                    .collect();
                (!ids.is_empty()).then(|| (n.internal_id.clone(), ids, n.change))
            })
            .collect()
    });
    targets
        .into_iter()
        .filter_map(|(id, connectors, change)| enrich(jobs, &connectors, &id, &Asker::default(), "auto", change.trigger()).ok())
        .flatten()
        .collect()
}

/// Sends the automatic enrichment jobs of the entities created since the last pass,
/// whenever one is noted, until `stop` is cancelled (one task per platform).
pub async fn run_auto_enrichment(jobs: Dispatcher, stop: tokio_util::sync::CancellationToken) {
    let signal = jobs.store().read(|s| s.jobs.created_signal());
    loop {
        let created = jobs.store().write(|s| s.jobs.take_created());
        if !created.is_empty() {
            auto_enrich(&jobs, &created);
        }
        tokio::select! {
            _ = signal.notified() => {}
            () = stop.cancelled() => return,
        }
    }
}

/// A file to store.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Upload};
/// let platform = MockPlatform::start().await;
/// let upload = Upload { pending: true, ..Upload::new("iocs.csv", "text/csv", &b"ip\n198.51.100.7\n"[..]) };
/// let (file, works) = platform.upload(upload).expect("stored");
/// assert!(file.id.starts_with("import/pending/") && works.is_empty());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Upload {
    /// File name (only its base name is kept).
    pub filename: String,
    /// MIME type.
    pub mime_type: String,
    /// Content.
    pub content: Bytes,
    /// Marking definitions.
    pub markings: Vec<String>,
    /// The entity it belongs to (any id), if any.
    pub entity_id: Option<String>,
    /// A workbench (`uploadPending`): stored under `import/pending/`, never imported.
    pub pending: bool,
    /// Do not start the automatic import (`noTriggerImport`).
    pub no_trigger_import: bool,
}

impl Upload {
    /// A global file (no entity, no marking) that starts the automatic import.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, Upload};
    /// let platform = MockPlatform::start().await;
    /// // stored under import/global/, by its base name
    /// let (file, _) = platform.upload(Upload::new("exports/iocs.txt", "text/plain", "198.51.100.7")).expect("stored");
    /// assert_eq!(file.id, "import/global/iocs.txt");
    /// # }
    /// ```
    pub fn new(filename: impl Into<String>, mime_type: impl Into<String>, content: impl Into<Bytes>) -> Upload {
        Upload {
            filename: filename.into(),
            mime_type: mime_type.into(),
            content: content.into(),
            markings: Vec::new(),
            entity_id: None,
            pending: false,
            no_trigger_import: false,
        }
    }
}

/// Stores an uploaded file under the platform's path and, for an import (not a
/// workbench) unless told otherwise, starts the automatic import: a job for every
/// active `auto` import connector whose scope holds the MIME type.
pub fn upload_file(jobs: &Dispatcher, upload: Upload, asker: &Asker) -> Result<(StoredFile, Vec<Work>), JobError> {
    let now = jobs.store().clock().now();
    let file = jobs.store().write(|s| -> Result<StoredFile, JobError> {
        let entity = match &upload.entity_id {
            Some(id) => {
                let o = s.knowledge.get(id).filter(|o| !o.deleted).ok_or_else(|| JobError::UnknownEntity(id.clone()))?;
                Some((o.entity_type.to_string(), o.internal_id.to_string()))
            }
            None => None,
        };
        let id = import_path(&upload.filename, entity.as_ref().map(|(t, i)| (t.as_str(), i.as_str())), upload.pending);
        let file = StoredFile {
            name: base_name(&id).to_string(),
            id,
            mime_type: upload.mime_type.clone(),
            size: upload.content.len() as u64,
            markings: upload.markings.clone(),
            entity_id: entity.map(|(_, i)| i),
            uploaded_by: Some(user_or_admin(s, asker)),
            last_modified: now,
            metadata: Default::default(),
            content: upload.content.clone(),
        };
        s.transcript.push(
            now,
            EntryKind::Note { message: format!("file stored: {} ({}, {} bytes)", file.id, file.mime_type, file.size) },
        );
        Ok(s.files.put(file).clone())
    })?;
    let works = if upload.pending || upload.no_trigger_import {
        Vec::new()
    } else {
        ask_import(jobs, &file.id, None, false, &ImportOptions::default(), asker)?
    };
    Ok((file, works))
}

/// Options of an import job.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{ImportOptions, MockPlatform};
/// let platform = MockPlatform::start().await;
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": id, "name": "importer", "type": "INTERNAL_IMPORT_FILE", "scope": ["text/plain"]}},
///     }))
///     .send().await.unwrap();
/// let (file, _) = platform.upload_file("iocs.txt", "text/plain", "198.51.100.7");
/// // an import into a draft rather than a workbench: the job's message says so
/// let options = ImportOptions { validation_mode: Some("draft".into()), ..ImportOptions::default() };
/// platform.ask_import(&file.id, Some(id), &options).expect("the file is stored");
/// let message: serde_json::Value = serde_json::from_str(&platform.jobs()[0].message).unwrap();
/// assert_eq!(message["event"]["validation_mode"], "draft");
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `workbench` (the default) or `draft`.
    pub validation_mode: Option<String>,
    /// The user asked for validation.
    pub force_validation: bool,
    /// Connector-specific configuration (a JSON string), sent as is.
    pub configuration: Option<String>,
    /// `askJobImport(bypassValidation: true)`: import without a workbench (the UI's
    /// "validate" of a workbench asks it); forced on in a draft, as the platform does
    /// (`bypass_validation: draftContext ? true : bypassValidation`).
    pub bypass_validation: bool,
}

/// `askJobImport` (`manual`: any active import connector in scope, or the named one) and
/// the automatic import of an upload (`auto` connectors only).
pub fn ask_import(
    jobs: &Dispatcher,
    file_id: &str,
    connector_id: Option<&str>,
    manual: bool,
    options: &ImportOptions,
    asker: &Asker,
) -> Result<Vec<Work>, JobError> {
    let now = jobs.store().clock().now();
    let created = jobs.store().write(|s| -> Result<Vec<Created>, JobError> {
        let file = s.files.get(file_id).cloned().ok_or_else(|| JobError::UnknownFile(file_id.into()))?;
        if let Some(id) = connector_id {
            connector_of_type(s, id, JobKind::InternalImportFile)?;
        }
        let connectors: Vec<Connector> = s
            .connectors
            .all()
            .filter(|c| c.registration.connector_type == JobKind::InternalImportFile.connector_type())
            .filter(|c| c.is_active(now) && in_scope(c, &file.mime_type))
            .filter(|c| manual || c.registration.auto == Some(true))
            .filter(|c| file.entity_id.is_some() || c.registration.only_contextual != Some(true))
            .filter(|c| connector_id.is_none_or(|id| c.id() == id))
            .cloned()
            .collect();
        let user_id = user_or_admin(s, asker);
        let in_draft = asker.draft_id.is_some();
        let event = message::ImportEvent {
            file_id: file.id.clone(),
            file_mime: file.mime_type.clone(),
            file_markings: file.markings.clone(),
            entity_id: file.entity_id.clone(),
            validation_mode: if in_draft {
                "draft".into()
            } else {
                options.validation_mode.clone().unwrap_or_else(|| "workbench".into())
            },
            bypass_validation: in_draft || options.bypass_validation,
            force_validation: options.force_validation,
        };
        let name = format!("Manual import of {}{}", file.name, draft_suffix(asker.draft_id.as_deref()));
        Ok(connectors
            .iter()
            .map(|c| {
                create(jobs, s, c, JobKind::InternalImportFile, name.clone(), &file.id, &user_id, |work_id| {
                    let internal = message::Internal {
                        work_id: work_id.to_string(),
                        applicant_id: Some(user_id.clone()),
                        draft_id: asker.draft_id.clone(),
                        trigger: "update",
                        mode: "auto",
                    };
                    message::import_file(&internal, &event, options.configuration.as_deref())
                })
            })
            .collect())
    })?;
    Ok(deliver_all(jobs, created))
}

fn deliver_all(jobs: &Dispatcher, created: Vec<Created>) -> Vec<Work> {
    created
        .into_iter()
        .map(|c| {
            jobs.deliver(c.seq);
            c.work
        })
        .collect()
}

/// `draftWorkspaceAdd`: a new draft, starting from the current knowledge.
pub fn add_draft(jobs: &Dispatcher, name: &str, entity_id: Option<&str>, user_id: &str) -> crate::store::drafts::Draft {
    let now = jobs.store().clock().now();
    jobs.store().write(|s| {
        let summary = crate::store::drafts::Draft {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.to_string(),
            entity_id: entity_id.map(str::to_string),
            created_by: user_id.to_string(),
            created_at: now,
            touched: Default::default(),
            knowledge: Default::default(),
        };
        s.transcript.push(now, EntryKind::Note { message: format!("draft {} created: {name}", summary.id) });
        s.drafts.add(crate::store::drafts::Draft { knowledge: s.knowledge.clone(), ..summary.summary() });
        summary
    })
}
