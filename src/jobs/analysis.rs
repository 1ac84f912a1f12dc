//! Analysis jobs (`INTERNAL_ANALYSIS`, the sixth connector type pycti defines): asking for
//! an analysis of an element's fields or of one of its files, storing the analysis a
//! connector pushes back, and reading it (`export.md` §4 next to this file).
//!
//! - **Who gets it**: the *first* active analysis connector whose scope holds the file's
//!   MIME type (any, for fields; an empty scope takes everything), or the one named; none
//!   is the platform's `No connector found for analysis`.
//! - **The work**: `Content fields analysis` / `Content file analysis`, source the
//!   element's standard id, in `wait`. For fields the platform opens the work *before* it
//!   checks the content source, so a source other than `content_mapping` leaves a waiting
//!   work behind and sends nothing; the mock does the same.
//! - **The result**: a file under `analysis/<entity type>/<internal id>/` with its
//!   content source, content type and analysis type in its metadata; a newer push of the
//!   same name replaces it.

use bytes::Bytes;

use super::{Asker, Created, Dispatcher, JobError, create, deliver_all, message, user_or_admin};
use crate::store::files::{StoredFile, base_name, guess_mime, stored_name};
use crate::store::jobs::JobKind;
use crate::store::works::Work;

/// The fields the platform analyses (`content_fields`).
pub const ANALYSED_FIELDS: &str = "description content";
/// The only fields content source the platform handles.
pub const CONTENT_MAPPING: &str = "content_mapping";

/// Asks for an analysis of `entity_id`'s `content_type` (`fields` or `file`) from
/// `content_source` (`content_mapping`, or a file id); the work.
pub fn ask_analysis(
    jobs: &Dispatcher,
    entity_id: &str,
    content_source: &str,
    content_type: &str,
    connector_id: Option<&str>,
    asker: &Asker,
) -> Result<Work, JobError> {
    if asker.draft_id.is_some() {
        return Err(JobError::Invalid("Cannot ask for analysis in draft".into()));
    }
    let now = jobs.store().clock().now();
    let created = jobs.store().write(|s| -> Result<Created, JobError> {
        let obj = s.knowledge.get(entity_id).filter(|o| !o.deleted).cloned().ok_or_else(|| JobError::UnknownEntity(entity_id.into()))?;
        let (scope, file) = match content_type {
            "fields" => (None, None),
            "file" => {
                let f = s.files.get(content_source).cloned().ok_or_else(|| JobError::UnknownFile(content_source.into()))?;
                (Some(f.mime_type.clone()), Some(f))
            }
            other => return Err(JobError::Invalid(format!("Content type not recognized: {other}"))),
        };
        let connector = s
            .connectors
            .all()
            .filter(|c| c.registration.connector_type == JobKind::InternalAnalysis.connector_type() && c.is_active(now))
            .filter(|c| {
                scope.as_deref().is_none_or(|m| c.scope().is_empty() || c.scope().iter().any(|x| x.eq_ignore_ascii_case(m)))
            })
            .find(|c| connector_id.is_none_or(|id| c.id() == id))
            .cloned()
            .ok_or_else(|| JobError::NoConnector("No connector found for analysis".into()))?;
        let user_id = user_or_admin(s, asker);
        let (name, event) = match &file {
            None => (
                "Content fields analysis",
                message::AnalysisEvent {
                    entity_id: obj.standard_id.clone(),
                    entity_type: obj.entity_type.to_string(),
                    content_type: "fields".into(),
                    content_source: content_source.into(),
                    file: None,
                    analysis_name: format!("fields_analysis_{content_source}.analysis"),
                },
            ),
            Some(f) => (
                "Content file analysis",
                message::AnalysisEvent {
                    entity_id: obj.standard_id.clone(),
                    entity_type: obj.entity_type.to_string(),
                    content_type: "file".into(),
                    content_source: f.id.clone(),
                    file: Some((f.id.clone(), f.mime_type.clone())),
                    analysis_name: format!("file_analysis_{}.analysis", f.name),
                },
            ),
        };
        if file.is_none() && content_source != CONTENT_MAPPING {
            // The platform throws once the work is open: the work stays, waiting, and no
            // job is sent.
            s.works.create(
                crate::store::works::NewWork {
                    connector_id: connector.id().to_string(),
                    connector_type: connector.registration.connector_type.clone(),
                    name: Some(name.to_string()),
                    user_id,
                    source_id: Some(obj.standard_id.clone()),
                    received: false,
                    multipart: false,
                },
                now,
            );
            return Err(JobError::Invalid("Fields content source not handled".into()));
        }
        Ok(create(jobs, s, &connector, JobKind::InternalAnalysis, name.to_string(), &obj.standard_id, &user_id, |w| {
            message::analysis(w, &event)
        }))
    })?;
    Ok(deliver_all(jobs, vec![created]).remove(0))
}

/// An analysis pushed back by a connector (`analysisPush`).
#[derive(Debug, Clone)]
pub struct AnalysisFile {
    /// The element (any id).
    pub entity_id: String,
    /// The multipart file name.
    pub filename: String,
    /// The content (for `mapping_analysis`: a JSON object `{matched string: entity id}`).
    pub content: Bytes,
    /// What was analysed: `content_mapping`, or the file id.
    pub content_source: String,
    /// `fields` or `file`.
    pub content_type: String,
    /// `mapping_analysis`.
    pub analysis_type: String,
    /// The pushing user.
    pub uploaded_by: Option<String>,
}

/// Stores an analysis under `analysis/<entity type>/<internal id>/` with its metadata.
pub fn store_analysis(store: &crate::store::Store, a: AnalysisFile) -> Result<StoredFile, JobError> {
    let now = store.clock().now();
    store.write(|s| {
        let obj = s.knowledge.get(&a.entity_id).filter(|o| !o.deleted).ok_or_else(|| JobError::UnknownEntity(a.entity_id.clone()))?;
        let name = stored_name(base_name(&a.filename));
        let mut metadata = serde_json::Map::new();
        metadata.insert("analysis_content_source".into(), a.content_source.into());
        metadata.insert("analysis_content_type".into(), a.content_type.into());
        metadata.insert("analysis_type".into(), a.analysis_type.into());
        let file = StoredFile {
            id: format!("{}/{}", folder(&obj.entity_type, &obj.internal_id.to_string()), name.to_lowercase()),
            mime_type: guess_mime(&name),
            name,
            size: a.content.len() as u64,
            markings: Vec::new(),
            entity_id: Some(obj.internal_id.to_string()),
            uploaded_by: a.uploaded_by,
            last_modified: now,
            metadata,
            content: a.content,
        };
        Ok(s.files.put(file).clone())
    })
}

/// The folder of an element's analyses.
pub fn folder(entity_type: &str, internal_id: &str) -> String {
    format!("analysis/{entity_type}/{internal_id}")
}

/// Whether a stored file is the analysis of `content_source` / `content_type`.
pub fn is_analysis_of(f: &StoredFile, content_source: &str, content_type: &str) -> bool {
    f.metadata.get("analysis_content_source").and_then(serde_json::Value::as_str) == Some(content_source)
        && f.metadata.get("analysis_content_type").and_then(serde_json::Value::as_str) == Some(content_type)
}
