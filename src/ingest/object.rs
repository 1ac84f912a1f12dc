//! The single path by which a STIX object enters the knowledge store.
//!
//! Bundles from any transport and the GraphQL entity API all end here, in two steps:
//! [`prepare`] checks and identifies an object without touching the state (so the worker
//! can do it outside the lock), [`commit`] stores it under the lock, where the checks that
//! need the stored knowledge belong. What the platform would refuse becomes an
//! [`ObjectError`], which the worker reports on the work exactly as pycti's worker does.
//!
//! What happens to an object, in the platform's order (see `src/stix/refusals.md`):
//! 1. the worker's own checks and the platform's checks on the object alone
//!    ([`rules::precheck`]): missing `name`, indicator parameters, STIX patterns, observable
//!    syntax and score, self-referencing relationships;
//! 2. identity: the `standard_id` the platform computes
//!    ([`crate::stix::standard_id::standard_id`]); the id the object came with, its
//!    `x_opencti_stix_ids` and the extension's `stix_ids` are kept as extra STIX ids, so
//!    re-pushing under any of them upserts the same entity;
//! 3. references ([`rules::references`]): a relationship's or sighting's missing end is
//!    refused on every attempt (`MISSING_REFERENCE_ERROR`, which the worker retries); other
//!    missing references are refused until the worker's retry number reaches 3, then
//!    dropped; markings the writing user may not use are refused; `created_by_ref` must be
//!    an identity;
//! 4. relationship types allowed between the two resolved entity types;
//! 5. the store: labels, external references and kill chain phases the object embeds
//!    become objects of their own (created on first use, as the platform does), then the
//!    object is created, or merged into the entity it upserts (lists of references and
//!    labels are united, other properties replaced);
//! 6. nested references of observables (`resolves_to_refs`…) whose target is missing:
//!    the observable stays, and a `MISSING_ELEMENTS` error is reported (not retried).

use serde_json::{Map, Value, json};

use crate::ingest::rules::{self, Failure, Precheck, RefKind};
use crate::stix::refusals::{self, Refusal};
use crate::stix::standard_id::standard_id;
use crate::stix::supported_types::is_id_supported;
use crate::stix::{OPENCTI_EXTENSION, entity_type_of};
use crate::store::State;
use crate::store::access::Clearance;
use crate::store::knowledge::{Candidate, Upserted};
use crate::validate::{Finding, StixValidator};

/// Who writes the object, and where.
#[derive(Debug, Clone, Default)]
pub struct IngestContext {
    /// User the data is written as.
    pub applicant_id: Option<String>,
    /// Draft it goes into.
    pub draft_id: Option<String>,
    /// The message's `entities_types`: what is not in it is counted, not stored
    /// ([`crate::ingest::scope`]).
    pub types: crate::store::queues::TypeFilter,
    /// The standard id a creation through the API computed from its input, when it differs
    /// from the one the complete object gives: the platform derives the id from what the
    /// caller sent, before it defaults `created` (a grouping created without a date is
    /// identified by its name and context, and creating it again upserts it).
    pub standard_id: Option<String>,
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
    /// entity API answers it as the platform's error); `None`
    /// when the worker itself failed before calling the platform.
    pub refusal: Option<Box<Refusal>>,
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ObjectError {}

impl ObjectError {
    fn new(failure: Failure, obj: &Value) -> Self {
        ObjectError {
            message: failure.error,
            source: refusals::work_error_source(&rules::worker_item(obj)),
            refusal: failure.refusal.map(Box::new),
        }
    }

    fn plain(message: impl Into<String>, raw: &str) -> Self {
        let source = if raw.len() < refusals::MAX_REPORTED_SOURCE_LENGTH {
            raw.to_string()
        } else {
            refusals::BUNDLE_TOO_LARGE.to_string()
        };
        ObjectError { message: message.into(), source, refusal: None }
    }

    /// Whether the worker retries the object after this error at attempt `attempt` (0-based
    /// retry number), as pycti's worker does.
    pub fn is_retried_at(&self, attempt: u32) -> bool {
        self.refusal.as_ref().is_some_and(|r| r.worker_handling(attempt) == refusals::WorkerHandling::Retry)
    }
}

/// The author as the worker's importer finds it (pycti `extract_embedded_relationships`):
/// `created_by_ref`, else `x_opencti_created_by_ref` (what connectors-sdk models emit),
/// else the OpenCTI extension's `created_by_ref`; the platform stores it as the author
/// (`createdBy`), so the stored object carries it as `created_by_ref`. Returns whether the
/// object changed.
fn take_author(map: &mut serde_json::Map<String, Value>) -> bool {
    if map.contains_key("created_by_ref") {
        return false;
    }
    let author = match map.get("x_opencti_created_by_ref").filter(|v| v.is_string()).cloned() {
        Some(author) => {
            map.shift_remove("x_opencti_created_by_ref");
            author
        }
        None => {
            match map.get("extensions").and_then(|e| e.get(crate::stix::OPENCTI_EXTENSION)).and_then(|e| e.get("created_by_ref"))
            {
                Some(author) if author.is_string() => author.clone(),
                _ => return false,
            }
        }
    };
    map.insert("created_by_ref".into(), author);
    true
}

/// A sighting's ends as the worker's importer takes them (pycti `import_item`): its source
/// from `x_opencti_sighting_of_ref` before `sighting_of_ref`, its places from
/// `x_opencti_where_sighted_refs` before `where_sighted_refs` (connectors put a placeholder
/// indicator in the STIX property when the real source is an observable, which STIX does not
/// allow there). Returns whether the object changed.
fn take_sighting_ends(map: &mut serde_json::Map<String, Value>) -> bool {
    let mut changed = false;
    for (opencti, stix) in
        [("x_opencti_sighting_of_ref", "sighting_of_ref"), ("x_opencti_where_sighted_refs", "where_sighted_refs")]
    {
        if let Some(value) = map.shift_remove(opencti).filter(|v| !v.is_null()) {
            map.insert(stix.into(), value);
            changed = true;
        }
    }
    changed
}

/// The error the worker reports for an object the splitter dropped.
pub fn incompatible(id: &str) -> ObjectError {
    let e = refusals::incompatible_element(id);
    ObjectError { message: e.error, source: e.source, refusal: None }
}

/// An object checked and identified, ready to be committed.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The object as received (for retries and error sources).
    raw: Box<str>,
    /// What pycti's worker does not send at all (counted as processed).
    skipped: bool,
    candidate: Option<Candidate>,
    refs: Vec<rules::Reference>,
    meta: Vec<Candidate>,
    applicant_id: Option<String>,
    /// Store as the whole new state of the object (an edit), not as an upsert to merge.
    replace: bool,
    /// The id it was received with.
    received_id: String,
}

impl Prepared {
    /// The object as received.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Marks it as the whole new state of the entity it updates (an edit through the entity
    /// API: properties and references it no longer has are removed), instead of an upsert
    /// merged into it.
    pub fn replacing(mut self) -> Self {
        self.replace = true;
        self
    }
}

/// What committing an object did.
#[derive(Debug, Clone, PartialEq)]
pub enum Committed {
    /// Stored (created or merged).
    Stored(Upserted),
    /// Stored, but one of its nested references could not be added: the error the worker
    /// reports (the object stays).
    StoredWithError(Upserted, ObjectError),
    /// Not sent by pycti's worker (e.g. an indicator without `pattern_type`): nothing
    /// stored, counted as processed.
    Skipped,
    /// Put back on the queue by the worker, to be tried again (nothing reported yet).
    Retried,
}

impl Committed {
    /// The stored object, if any.
    pub fn upserted(&self) -> Option<&Upserted> {
        match self {
            Committed::Stored(u) | Committed::StoredWithError(u, _) => Some(u),
            Committed::Skipped | Committed::Retried => None,
        }
    }
}

/// Checks and identifies one STIX object (JSON text), without touching the state.
pub fn prepare(raw: &str, ctx: &IngestContext) -> Result<Prepared, ObjectError> {
    let obj: Value = serde_json::from_str(raw).map_err(|e| ObjectError::plain(format!("object is not JSON: {e}"), raw))?;
    prepare_value(raw, obj, ctx)
}

/// [`prepare`] for an object a connector sent, with the STIX 2.1 findings on it (the
/// advisory channel, [`crate::validate`]): what the mock found wrong by the specification,
/// whether the platform accepts the object or not. The splitter's `nb_deps` is not part of
/// the object and is not checked.
pub fn prepare_received(raw: &str, ctx: &IngestContext) -> (Result<Prepared, ObjectError>, Vec<Finding>) {
    let mut obj: Value = match serde_json::from_str(raw) {
        Ok(obj) => obj,
        Err(e) => return (Err(ObjectError::plain(format!("object is not JSON: {e}"), raw)), Vec::new()),
    };
    let findings = match obj.as_object_mut() {
        Some(map) => {
            let nb_deps = map.shift_remove("nb_deps");
            let findings = StixValidator::get().check_object(&obj);
            if let (Some(v), Some(map)) = (nb_deps, obj.as_object_mut()) {
                map.insert("nb_deps".into(), v);
            }
            findings
        }
        None => Vec::new(),
    };
    (prepare_value(raw, obj, ctx), findings)
}

fn prepare_value(raw: &str, mut obj: Value, ctx: &IngestContext) -> Result<Prepared, ObjectError> {
    let map = obj.as_object_mut().ok_or_else(|| ObjectError::plain("object is not a JSON object", raw))?;
    // The splitter's annotation is not part of the object.
    let mut rewritten = map.shift_remove("nb_deps").is_some();
    let stix_type = map.get("type").and_then(Value::as_str).map(str::to_string);
    let id = map.get("id").and_then(Value::as_str).map(str::to_string);
    let (Some(stix_type), Some(id)) = (stix_type, id) else {
        return Err(ObjectError::plain("object has no type or no id", raw));
    };
    if !is_compatible(&stix_type, &id, &obj) {
        return Err(incompatible(&id));
    }
    let Some(entity_type) = entity_type_of(&stix_type, &obj) else {
        return Err(incompatible(&id));
    };
    let base = Prepared {
        raw: raw.trim().into(),
        skipped: false,
        candidate: None,
        refs: Vec::new(),
        meta: Vec::new(),
        applicant_id: ctx.applicant_id.clone(),
        replace: false,
        received_id: id.clone(),
    };
    if !crate::ingest::scope::admits(&ctx.types, &obj) {
        return Ok(Prepared { skipped: true, ..base });
    }
    match rules::precheck(&stix_type, &entity_type, &obj) {
        Precheck::Import => {}
        Precheck::Skip(_) => return Ok(Prepared { skipped: true, ..base }),
        Precheck::Fail(f) => return Err(ObjectError::new(f, &obj)),
    }
    let standard = ctx.standard_id.clone().or_else(|| standard_id(&obj)).unwrap_or_else(|| id.clone());
    let mut stix_ids = Vec::new();
    if standard != id {
        stix_ids.push(id.clone());
    }
    for extra in extra_stix_ids(&obj) {
        if extra != standard && !stix_ids.contains(&extra) {
            stix_ids.push(extra);
        }
    }
    let meta = embedded_meta_objects(&obj);
    let map = obj.as_object_mut().expect("checked above");
    if standard != id {
        map.insert("id".into(), json!(standard));
        rewritten = true;
    }
    rewritten |= take_author(map);
    if stix_type == "sighting" {
        rewritten |= take_sighting_ends(map);
    }
    let refs = rules::references(&stix_type, map);
    let body: Box<str> = if rewritten { obj.to_string().into() } else { raw.trim().into() };
    let candidate = Candidate { standard_id: standard, stix_ids, stix_type, entity_type, body };
    Ok(Prepared { candidate: Some(candidate), refs, meta, ..base })
}

/// STIX ids an object carries besides its `id`: `x_opencti_stix_ids` and the OpenCTI
/// extension's `stix_ids`.
fn extra_stix_ids(obj: &Value) -> Vec<String> {
    let from = |v: Option<&Value>| -> Vec<String> {
        v.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default()
    };
    let mut ids = from(obj.get("x_opencti_stix_ids"));
    ids.extend(from(obj.pointer(&format!("/extensions/{OPENCTI_EXTENSION}/stix_ids"))));
    ids
}

/// The labels, external references and kill chain phases an object embeds, as the objects
/// the platform makes of them.
fn embedded_meta_objects(obj: &Value) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut push = |meta: Value, entity_type: &str| {
        if let Some(id) = standard_id(&meta) {
            let stix_type = meta["type"].as_str().unwrap_or_default().to_string();
            let mut meta = meta;
            meta["id"] = json!(id);
            out.push(Candidate {
                standard_id: id,
                stix_ids: Vec::new(),
                stix_type,
                entity_type: entity_type.to_string(),
                body: meta.to_string().into(),
            });
        }
    };
    let list = |k: &str| obj.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    for label in list("labels").iter().filter_map(Value::as_str) {
        push(json!({"type": "label", "value": label}), "Label");
    }
    for ext in list("external_references").iter().filter_map(Value::as_object) {
        let mut meta = Map::new();
        meta.insert("type".into(), json!("external-reference"));
        meta.extend(ext.iter().map(|(k, v)| (k.clone(), v.clone())));
        push(Value::Object(meta), "External-Reference");
    }
    for phase in list("kill_chain_phases").iter().filter_map(Value::as_object) {
        let mut meta = Map::new();
        meta.insert("type".into(), json!("kill-chain-phase"));
        meta.extend(phase.iter().map(|(k, v)| (k.clone(), v.clone())));
        meta.entry("x_opencti_order").or_insert(json!(0));
        push(Value::Object(meta), "Kill-Chain-Phase");
    }
    out
}

/// Reference fields whose values the platform unites on upsert.
const UNITED_ON_UPSERT: &[&str] =
    &["object_marking_refs", "labels", "external_references", "kill_chain_phases", "object_refs", "x_opencti_granted_refs"];

/// What [`check`] found out about a prepared object's references.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// References to rewrite to their target's standard id (`Some`) or to drop (`None`).
    renamed: Vec<(String, Option<String>)>,
    /// Nested references of an observable whose target is missing.
    nested_missing: Vec<String>,
}

/// Stores a prepared object: [`check`], then [`store`]. `attempt` is the worker's retry
/// number for it (0 on the first try; the GraphQL entity API always uses 0).
pub fn commit(
    state: &mut State,
    prepared: Prepared,
    now: chrono::DateTime<chrono::Utc>,
    attempt: u32,
) -> Result<Committed, ObjectError> {
    let resolution = check(state, &prepared, attempt)?;
    Ok(store(state, prepared, resolution, now))
}

/// The checks that need the stored knowledge (steps 3 and 4), without changing it.
pub fn check(state: &State, prepared: &Prepared, attempt: u32) -> Result<Resolution, ObjectError> {
    let Prepared { raw, candidate, refs, applicant_id, .. } = prepared;
    let Some(candidate) = candidate.as_ref().filter(|_| !prepared.skipped) else { return Ok(Resolution::default()) };
    let fail = |f: Failure| {
        let obj: Value = serde_json::from_str(raw).unwrap_or(Value::Null);
        ObjectError::new(f, &obj)
    };
    // 3. References.
    let k = &state.knowledge;
    let resolve = |id: &str| k.get(id).map(|o| (o.standard_id.clone(), o.entity_type.clone()));
    let missing_ends: Vec<String> =
        refs.iter().filter(|r| r.kind == RefKind::End && resolve(&r.id).is_none()).map(|r| r.id.clone()).collect();
    if !missing_ends.is_empty() {
        return Err(fail(refusals::missing_reference(&missing_ends).into()));
    }
    let missing_optional: Vec<String> =
        refs.iter().filter(|r| r.kind == RefKind::Optional && resolve(&r.id).is_none()).map(|r| r.id.clone()).collect();
    if !missing_optional.is_empty() && attempt < refusals::OPTIONAL_REFS_ACCEPTED_FROM_RETRY {
        return Err(fail(refusals::missing_reference(&missing_optional).into()));
    }
    let user = applicant_id.as_deref().and_then(|id| state.users.by_id(id));
    let clearance = user.map_or_else(Clearance::unlimited, |u| Clearance::of(u, k));
    let markings = refs.iter().filter(|r| r.field == "object_marking_refs" && resolve(&r.id).is_some()).map(|r| r.id.as_str());
    if !clearance.missing(k, markings).is_empty() {
        return Err(fail(refusals::missing_markings().into()));
    }
    if let Some(r) = refs.iter().find(|r| r.field == "created_by_ref")
        && let Some((_, et)) = resolve(&r.id)
        && !rules::is_identity_type(&et)
    {
        return Err(fail(refusals::created_by_not_identity(&et).into()));
    }
    // 4. Relationship types.
    if candidate.stix_type == "relationship" {
        let end = |field: &str| refs.iter().find(|r| r.field == field).and_then(|r| resolve(&r.id));
        if let (Some((_, from)), Some((_, to))) = (end("source_ref"), end("target_ref"))
            && let Err(r) = rules::check_relationship(&candidate.entity_type, &from, &to)
        {
            return Err(fail(r.into()));
        }
    }
    // References are stored as the standard ids of their targets; dropped when missing.
    let nested_missing: Vec<String> =
        refs.iter().filter(|r| r.kind == RefKind::Nested && resolve(&r.id).is_none()).map(|r| r.id.clone()).collect();
    let renamed: Vec<(String, Option<String>)> = refs
        .iter()
        .filter(|r| r.kind != RefKind::Nested)
        .filter_map(|r| match resolve(&r.id) {
            Some((standard, _)) if standard != r.id => Some((r.id.clone(), Some(standard))),
            Some(_) => None,
            None => Some((r.id.clone(), None)),
        })
        .collect();
    Ok(Resolution { renamed, nested_missing })
}

/// Stores a checked object (steps 5 and 6).
pub fn store(state: &mut State, prepared: Prepared, resolution: Resolution, now: chrono::DateTime<chrono::Utc>) -> Committed {
    let Prepared { raw, skipped, candidate, meta, replace, received_id, applicant_id, .. } = prepared;
    let Some(mut candidate) = candidate.filter(|_| !skipped) else { return Committed::Skipped };
    let Resolution { renamed, nested_missing } = resolution;
    if !renamed.is_empty() {
        candidate = rewrite_references(candidate, &renamed, &received_id);
    }
    // 5. The store.
    let origin = applicant_id.as_deref().and_then(|id| origin_of(state, id));
    for m in meta {
        if state.knowledge.get(&m.standard_id).is_none() {
            state.knowledge.upsert_by(m, now, origin.clone());
        }
    }
    if !replace && let Some(existing) = state.knowledge.existing(&candidate) {
        candidate.body = merge(&existing.body, &candidate.body);
    }
    let upserted = state.knowledge.upsert_by(candidate, now, origin);
    // 6. Nested references of observables (pycti adds them after the creation and stops at
    // the first failure).
    match nested_missing.first() {
        Some(to) => {
            let obj: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
            let refusal = refusals::ref_target_missing(&upserted.internal_id.to_string(), false, to, true);
            Committed::StoredWithError(upserted, ObjectError::new(refusal.into(), &obj))
        }
        None => Committed::Stored(upserted),
    }
}

/// The platform's upsert: the incoming properties replace the stored ones, lists of
/// references, labels, external references and kill chain phases are united, and each
/// extension's properties are merged into the stored extension.
fn merge(existing: &str, incoming: &str) -> Box<str> {
    let (Ok(Value::Object(mut old)), Ok(Value::Object(new))) =
        (serde_json::from_str::<Value>(existing), serde_json::from_str::<Value>(incoming))
    else {
        return incoming.into();
    };
    for (k, v) in new {
        match (UNITED_ON_UPSERT.contains(&k.as_str()), old.get_mut(&k), v) {
            (true, Some(Value::Array(have)), Value::Array(add)) => {
                for item in add {
                    if !have.contains(&item) {
                        have.push(item);
                    }
                }
            }
            (_, Some(Value::Object(have)), Value::Object(add)) if k == "extensions" => {
                for (ext, props) in add {
                    match (have.get_mut(&ext), props) {
                        (Some(Value::Object(stored)), Value::Object(props)) => stored.extend(props),
                        (_, props) => {
                            have.insert(ext, props);
                        }
                    }
                }
            }
            (_, _, v) => {
                old.insert(k, v);
            }
        }
    }
    Value::Object(old).to_string().into()
}

/// The platform's `origin` of a change made by `user_id` (its `userWithOrigin`): the user,
/// its groups and organisations, and — as for every write the worker makes for a
/// connector — the applicant it acts for. `None` for an unknown user.
pub fn origin_of(state: &mut State, user_id: &str) -> Option<std::sync::Arc<Value>> {
    let user = state.users.by_id(user_id)?.id.clone();
    state.knowledge.origin_of(&user, || {
        Some(serde_json::json!({
            "socket": "query",
            "ip": "::ffff:127.0.0.1",
            "user_id": user,
            "group_ids": [],
            "organization_ids": [],
            "user_metadata": {},
            "applicant_id": user,
        }))
    })
}

/// A merge's body: the target's, with each list property the upsert unites extended by the
/// source's items, and the source's name (and aliases) among the target's aliases — as the
/// platform's `mergeEntities` keeps the target's values and gathers the sources' names.
pub fn merge_into(target: &str, source: &str, aliases_key: &str) -> Box<str> {
    let (Ok(Value::Object(mut into)), Ok(Value::Object(from))) =
        (serde_json::from_str::<Value>(target), serde_json::from_str::<Value>(source))
    else {
        return target.into();
    };
    for (k, v) in &from {
        if let (true, Value::Array(add)) = (UNITED_ON_UPSERT.contains(&k.as_str()), v) {
            let have = into.entry(k.clone()).or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(have) = have {
                for item in add {
                    if !have.contains(item) {
                        have.push(item.clone());
                    }
                }
            }
        }
    }
    let target_name = into.get("name").cloned();
    let mut names: Vec<Value> = from.get("name").into_iter().cloned().collect();
    names.extend(from.get(aliases_key).and_then(Value::as_array).into_iter().flatten().cloned());
    for name in names.into_iter().filter(|n| Some(n) != target_name.as_ref()) {
        let have = into.entry(aliases_key.to_string()).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(have) = have
            && !have.contains(&name)
        {
            have.push(name);
        }
    }
    Value::Object(into).to_string().into()
}

/// Replaces referenced ids by the standard ids of their targets (`Some`) or drops them
/// (`None`), then recomputes a relationship's standard id from its resolved ends, as the
/// platform computes it (the id computed from the ends as sent is not kept, unless it is
/// the id the relationship was received with).
fn rewrite_references(mut c: Candidate, renamed: &[(String, Option<String>)], received_id: &str) -> Candidate {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(&c.body) else { return c };
    let lookup = |id: &str| renamed.iter().find(|(from, _)| from == id).map(|(_, to)| to.clone());
    let keys: Vec<String> = map.keys().filter(|k| k.ends_with("_ref") || k.ends_with("_refs")).cloned().collect();
    for key in keys {
        let Some(value) = map.get_mut(&key) else { continue };
        match value {
            Value::String(id) => match lookup(id) {
                Some(Some(standard)) => *id = standard,
                Some(None) => {
                    map.shift_remove(&key);
                }
                None => {}
            },
            Value::Array(items) => {
                items.retain_mut(|item| match item.as_str().map(lookup) {
                    Some(Some(Some(standard))) => {
                        *item = json!(standard);
                        true
                    }
                    Some(Some(None)) => false,
                    _ => true,
                });
            }
            _ => {}
        }
    }
    if let Some(Value::Array(items)) =
        map.get_mut("extensions").and_then(|e| e.get_mut(OPENCTI_EXTENSION)).and_then(|e| e.get_mut("granted_refs"))
    {
        items.retain_mut(|item| match item.as_str().map(lookup) {
            Some(Some(Some(standard))) => {
                *item = json!(standard);
                true
            }
            Some(Some(None)) => false,
            _ => true,
        });
    }
    let mut obj = Value::Object(map);
    if c.stix_type == "relationship" || c.stix_type == "sighting" {
        let original_id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        if let Some(standard) = standard_id(&obj)
            && Some(&standard) != original_id.as_ref()
        {
            if let Some(old) = original_id.filter(|old| old == received_id)
                && !c.stix_ids.contains(&old)
            {
                c.stix_ids.push(old);
            }
            obj["id"] = json!(standard);
            c.stix_ids.retain(|s| *s != standard);
            c.standard_id = standard;
        }
    }
    c.body = obj.to_string().into();
    c
}

/// Checks, identifies and stores one object in one step (the GraphQL entity API's path and
/// the seeding of built-in data), as a first attempt.
pub fn ingest_object(store: &crate::store::Store, raw: &str, ctx: &IngestContext) -> Result<Committed, ObjectError> {
    let prepared = prepare(raw, ctx)?;
    let now = store.clock().now();
    store.write(|s| match ctx.draft_id.as_deref() {
        // In a draft (`opencti-draft-id`), the draft's knowledge is written.
        Some(d) if s.drafts.get(d).is_some() => crate::ingest::in_draft(s, d, |s| {
            let committed = commit(s, prepared, now, 0);
            let stored = committed.as_ref().ok().and_then(Committed::upserted).map(|u| u.internal_id).into_iter().collect();
            (committed, stored)
        }),
        _ => {
            let committed = commit(s, prepared, now, 0)?;
            if let Some(u) = committed.upserted() {
                crate::store::jobs::note_change(s, u, None);
            }
            Ok(committed)
        }
    })
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
