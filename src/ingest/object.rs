//! The single path by which a STIX object enters the knowledge store.
//!
//! Bundles from any transport and the GraphQL entity API all end here. The object is
//! checked the way the worker and the platform check it (what the platform would refuse
//! becomes an [`ObjectError`], reported on the work by the caller), given its canonical
//! id, and upserted.

use std::sync::Arc;

use serde_json::Value;

use crate::ingest::split::is_id_supported;
use crate::stix::entity_type_of;
use crate::store::Store;
use crate::store::knowledge::{Candidate, Upserted};

/// Who writes the object, and where.
#[derive(Debug, Clone, Default)]
pub struct IngestContext {
    /// User the data is written as.
    pub applicant_id: Option<String>,
    /// Connector whose queue it came from.
    pub connector_id: Option<String>,
    /// Draft it goes into.
    pub draft_id: Option<String>,
}

/// An object the platform refuses, as the worker reports it on the work
/// (`reportExpectation(error: {error, source})`).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectError {
    /// The error text.
    pub message: String,
    /// The source: the object's JSON (or a short description when it is large).
    pub source: String,
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ObjectError {}

/// pycti reports the object itself as the source unless it is this large.
const MAX_REPORTED_SOURCE_LENGTH: usize = 50_000;

fn refused(message: impl Into<String>, raw: &str) -> ObjectError {
    let source = if raw.len() < MAX_REPORTED_SOURCE_LENGTH { raw.to_string() } else { "Bundle too large".to_string() };
    ObjectError { message: message.into(), source }
}

/// Checks, identifies and stores one STIX object (JSON text).
pub fn ingest_object(store: &Store, raw: &str, _ctx: &IngestContext) -> Result<Upserted, ObjectError> {
    let mut obj: Value = serde_json::from_str(raw).map_err(|e| refused(format!("object is not JSON: {e}"), raw))?;
    let map = obj.as_object_mut().ok_or_else(|| refused("object is not a JSON object", raw))?;
    map.shift_remove("nb_deps");
    let stix_type = map.get("type").and_then(Value::as_str).map(str::to_string);
    let id = map.get("id").and_then(Value::as_str).map(str::to_string);
    let (Some(stix_type), Some(id)) = (stix_type, id) else {
        return Err(refused("object has no type or no id", raw));
    };
    if !is_compatible(&stix_type, &id, &obj) {
        return Err(incompatible(&id));
    }
    let entity_type = entity_type_of(&stix_type, &obj).ok_or_else(|| refused(format!("Unsupported type {stix_type}"), raw))?;
    let body: Arc<str> = obj.to_string().into();
    let candidate = Candidate { standard_id: id.clone(), stix_ids: vec![id], stix_type, entity_type, body };
    let now = store.clock().now();
    Ok(store.write(|s| s.knowledge.upsert(candidate, now)))
}

/// The error the worker reports for an object the splitter dropped.
pub fn incompatible(id: &str) -> ObjectError {
    ObjectError {
        message: "Incompatible element in bundle".into(),
        source: format!("Element {id} is incompatible and couldn't be processed"),
    }
}

/// The splitter's compatibility rule, applied to objects that reach the worker unsplit.
fn is_compatible(stix_type: &str, id: &str, obj: &Value) -> bool {
    let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    match stix_type {
        "relationship" => present("source_ref") && present("target_ref"),
        "sighting" => {
            present("sighting_of_ref") && obj.get("where_sighted_refs").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
        }
        _ => is_id_supported(id),
    }
}
