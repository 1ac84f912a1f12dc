//! The single path by which a STIX object enters the knowledge store.
//!
//! Bundles from any transport and the GraphQL entity API all end here, in two steps:
//! [`prepare`] checks and identifies an object without touching the state (so the worker
//! can do it outside the lock), [`commit`] stores it under the lock, where checks that
//! need the stored knowledge belong. What the platform would refuse becomes an
//! [`ObjectError`], which the worker reports on the work.

use serde_json::Value;

use crate::ingest::split::is_id_supported;
use crate::stix::entity_type_of;
use crate::stix::refusals::Refusal;
use crate::store::State;
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
    /// The platform's refusal behind it, when the platform refused the object (the GraphQL
    /// entity API answers it as the platform's error: [`Refusal::graphql_error`]); `None`
    /// when the worker itself failed before calling the platform.
    pub refusal: Option<Refusal>,
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
    ObjectError { message: message.into(), source, refusal: None }
}

/// The error the worker reports for an object the splitter dropped.
pub fn incompatible(id: &str) -> ObjectError {
    ObjectError {
        message: "Incompatible element in bundle".into(),
        source: format!("Element {id} is incompatible and couldn't be processed"),
        refusal: None,
    }
}

/// An object checked and identified, ready to be committed.
#[derive(Debug, Clone)]
pub struct Prepared {
    candidate: Candidate,
}

/// Checks and identifies one STIX object (JSON text), without touching the state.
pub fn prepare(raw: &str, _ctx: &IngestContext) -> Result<Prepared, ObjectError> {
    let mut obj: Value = serde_json::from_str(raw).map_err(|e| refused(format!("object is not JSON: {e}"), raw))?;
    let map = obj.as_object_mut().ok_or_else(|| refused("object is not a JSON object", raw))?;
    // The splitter's annotation is not part of the object.
    let annotated = map.shift_remove("nb_deps").is_some();
    let stix_type = map.get("type").and_then(Value::as_str).map(str::to_string);
    let id = map.get("id").and_then(Value::as_str).map(str::to_string);
    let (Some(stix_type), Some(id)) = (stix_type, id) else {
        return Err(refused("object has no type or no id", raw));
    };
    if !is_compatible(&stix_type, &id, &obj) {
        return Err(incompatible(&id));
    }
    let entity_type = entity_type_of(&stix_type, &obj).ok_or_else(|| refused(format!("Unsupported type {stix_type}"), raw))?;
    let body = if annotated { obj.to_string().into_boxed_str() } else { raw.trim().into() };
    Ok(Prepared { candidate: Candidate { standard_id: id, stix_ids: Vec::new(), stix_type, entity_type, body } })
}

/// Stores a prepared object.
pub fn commit(state: &mut State, prepared: Prepared, now: chrono::DateTime<chrono::Utc>) -> Result<Upserted, ObjectError> {
    Ok(state.knowledge.upsert(prepared.candidate, now))
}

/// Checks, identifies and stores one object in one step (the GraphQL entity API's path).
pub fn ingest_object(store: &crate::store::Store, raw: &str, ctx: &IngestContext) -> Result<Upserted, ObjectError> {
    let prepared = prepare(raw, ctx)?;
    let now = store.clock().now();
    store.write(|s| commit(s, prepared, now))
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
