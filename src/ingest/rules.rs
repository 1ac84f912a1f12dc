//! What the platform (and pycti's worker in front of it) does with one incoming object:
//! the checks that need no stored knowledge, the references it resolves, and the item as
//! the worker holds it when it reports an error.
//!
//! The texts and codes come from [`crate::stix::refusals`] (see `refusals.md` next to it):
//! a refused object becomes a work error exactly as pycti's worker records it —
//! `error` = `str(ValueError(dict))`, `source` = `json.dumps(item)` of the item *after*
//! pycti added its keys ([`worker_item`]).
//!
//! The same rules serve `opencti-mock validate` on bundle files
//! ([`super::bundle_file`]).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value, json};

use crate::stix::observable_syntax::{self, IndicatorError};
use crate::stix::refusals::{self, Refusal};
use crate::stix::relationships::{Refused, Relationships};
use crate::stix::{OPENCTI_EXTENSION, is_observable_type, pattern};

/// An object the worker could not import: the work error text, and the platform's refusal
/// when the platform refused it (`None` when pycti failed before calling the platform).
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// The work error text (`str(exception)` in pycti).
    pub error: String,
    /// The refusal behind it.
    pub refusal: Option<Refusal>,
}

impl From<Refusal> for Failure {
    fn from(r: Refusal) -> Self {
        Failure { error: r.work_error_text(), refusal: Some(r) }
    }
}

impl Failure {
    /// A failure of pycti itself (e.g. `KeyError('name')` → `'name'`).
    pub fn worker(text: impl Into<String>) -> Self {
        Failure { error: text.into(), refusal: None }
    }
}

/// The outcome of the checks made before any reference is resolved.
#[derive(Debug, Clone, PartialEq)]
pub enum Precheck {
    /// Import it.
    Import,
    /// pycti does not send it and counts it as processed (the reason is what it logs).
    Skip(String),
    /// Refused.
    Fail(Failure),
}

/// STIX domain types whose pycti importer reads `name` unconditionally (a missing name is
/// a `KeyError` in the worker).
const NAME_REQUIRED: &[&str] = &[
    "attack-pattern",
    "campaign",
    "case-incident",
    "case-rfi",
    "case-rft",
    "channel",
    "course-of-action",
    "data-component",
    "data-source",
    "event",
    "feedback",
    "grouping",
    "identity",
    "incident",
    "infrastructure",
    "intrusion-set",
    "language",
    "malware",
    "narrative",
    "report",
    "security-coverage",
    "security-coverage-result",
    "task",
    "threat-actor",
    "tool",
    "vulnerability",
];

/// Observable properties pycti's `stixCyberObservableAdd` builder reads unconditionally.
const OBSERVABLE_REQUIRED: &[(&str, &str)] =
    &[("autonomous-system", "number"), ("directory", "path"), ("domain-name", "value"), ("email-addr", "value")];

/// The checks the worker and the platform make on an object alone, in their order.
pub fn precheck(stix_type: &str, entity_type: &str, obj: &Value) -> Precheck {
    let stix_type = canonical_type(stix_type);
    if NAME_REQUIRED.contains(&stix_type) && obj.get("name").is_none() {
        return Precheck::Fail(Failure::worker("'name'"));
    }
    match stix_type {
        "indicator" => indicator(obj),
        "relationship" => {
            let (from, to) = (obj.get("source_ref"), obj.get("target_ref"));
            match (from.and_then(Value::as_str), to.and_then(Value::as_str)) {
                (Some(f), Some(t)) if f == t => {
                    let rel = obj.get("relationship_type").and_then(Value::as_str).unwrap_or_default();
                    Precheck::Fail(refusals::self_referencing_relation(f, rel).into())
                }
                _ => Precheck::Import,
            }
        }
        t if is_observable_type(t) => observable(t, entity_type, obj),
        _ => Precheck::Import,
    }
}

fn indicator(obj: &Value) -> Precheck {
    match observable_syntax::check_indicator(obj) {
        Err(IndicatorError::NotSent(e)) => return Precheck::Skip(e.message),
        Err(IndicatorError::WorkerFailure(text)) => return Precheck::Fail(Failure::worker(text)),
        Err(IndicatorError::Refused { code, error }) => {
            let refusal = match code {
                refusals::VALIDATION_ERROR if error.field == "x_opencti_score" => refusals::invalid_score(),
                refusals::VALIDATION_ERROR => refusals::invalid_validity_period(),
                _ => Refusal::new(code, error.message.clone(), vec![]),
            };
            return Precheck::Fail(refusal.into());
        }
        Ok(()) => {}
    }
    let pattern_type = obj.get("pattern_type").and_then(Value::as_str).unwrap_or_default();
    if pattern_type.eq_ignore_ascii_case("stix") {
        let text = obj.get("pattern").and_then(Value::as_str).unwrap_or_default();
        // Most feeds send plain patterns, which the full parser would accept: a scan decides.
        if !crate::stix::plain_pattern::is_plain_pattern(text) && pattern::parse_pattern(text).is_err() {
            return Precheck::Fail(refusals::invalid_pattern(pattern_type).into());
        }
    }
    Precheck::Import
}

fn observable(stix_type: &str, entity_type: &str, obj: &Value) -> Precheck {
    if let Some((_, key)) = OBSERVABLE_REQUIRED.iter().find(|(t, k)| *t == stix_type && obj.get(*k).is_none()) {
        return Precheck::Fail(Failure::worker(format!("'{key}'")));
    }
    if observable_syntax::check_score(obj).is_err() {
        return Precheck::Fail(refusals::invalid_score().into());
    }
    if stix_type == "artifact" && truthy(obj.get("payload_bin")) && truthy(obj.get("url")) {
        return Precheck::Fail(refusals::payload_bin_and_url().into());
    }
    if observable_syntax::check_observable(stix_type, obj).is_err() {
        return Precheck::Fail(refusals::invalid_observable(entity_type, obj.clone()).into());
    }
    Precheck::Import
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    }
}

/// `x-opencti-…` aliases of STIX types, as pycti reads them.
fn canonical_type(stix_type: &str) -> &str {
    match stix_type {
        "x-opencti-case-incident" => "case-incident",
        "x-opencti-case-rfi" => "case-rfi",
        "x-opencti-case-rft" => "case-rft",
        "x-opencti-feedback" => "feedback",
        "x-opencti-task" => "task",
        "x-mitre-data-component" => "data-component",
        "x-mitre-data-source" => "data-source",
        other => other,
    }
}

/// How the platform treats a reference it cannot resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefKind {
    /// A relationship's or sighting's end: refused on every attempt.
    End,
    /// Any other reference the platform resolves on creation (`createdBy`, markings,
    /// `objects`, `samples`, …): refused while the worker's retry number is at most 2, then
    /// dropped silently.
    Optional,
    /// A nested reference of an observable (`resolves_to_refs`…), added by pycti after the
    /// observable is created: a missing target is a `MISSING_ELEMENTS` error, not retried,
    /// and the observable stays.
    Nested,
}

/// One reference of an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The property holding it (`source_ref`, `object_refs`…).
    pub field: String,
    /// The id as sent.
    pub id: String,
    /// How a missing target is treated.
    pub kind: RefKind,
}

/// Observable references pycti passes as creation inputs rather than nested refs.
const OBSERVABLE_INPUT_REFS: &[&str] =
    &["created_by_ref", "object_marking_refs", "x_opencti_created_by_ref", "x_opencti_granted_refs", "src_ref", "dst_ref"];

/// The references of an object the platform resolves, in property order.
pub fn references(stix_type: &str, obj: &Map<String, Value>) -> Vec<Reference> {
    let observable = is_observable_type(stix_type);
    let mut out = Vec::new();
    for (field, value) in obj {
        let is_ref = field.ends_with("_ref") || field.ends_with("_refs");
        if !is_ref || field == "id" {
            continue;
        }
        let kind = match (stix_type, field.as_str()) {
            ("relationship", "source_ref" | "target_ref") => RefKind::End,
            ("sighting", "sighting_of_ref" | "where_sighted_refs") => RefKind::End,
            // Sightings' observed data are not resolved by pycti's importer.
            ("sighting", "observed_data_refs") => continue,
            _ if observable && !OBSERVABLE_INPUT_REFS.contains(&field.as_str()) => RefKind::Nested,
            _ => RefKind::Optional,
        };
        let ids: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        out.extend(ids.into_iter().map(|id| Reference { field: field.clone(), id: id.to_string(), kind }));
    }
    if let Some(granted) = obj.get("extensions").and_then(|e| e.get(OPENCTI_EXTENSION)).and_then(|e| e.get("granted_refs"))
        && let Some(items) = granted.as_array()
        && !obj.contains_key("x_opencti_granted_refs")
    {
        out.extend(items.iter().filter_map(Value::as_str).map(|id| Reference {
            field: "x_opencti_granted_refs".into(),
            id: id.to_string(),
            kind: RefKind::Optional,
        }));
    }
    out
}

/// The relationship check once both ends are known: `Ok` or the platform's refusal.
pub fn check_relationship(relationship_type: &str, from_type: &str, to_type: &str) -> Result<(), Refusal> {
    match Relationships::get().check(relationship_type, from_type, to_type) {
        Ok(()) => Ok(()),
        Err(Refused::NotAllowed) => Err(refusals::relationship_not_allowed(relationship_type, from_type, to_type)),
        Err(Refused::NotCoreType) => Err(refusals::not_a_core_relationship()),
    }
}

/// Whether an entity type is an identity (the only valid `created_by_ref` target).
pub fn is_identity_type(entity_type: &str) -> bool {
    matches!(entity_type, "Organization" | "Individual" | "Sector" | "System" | "SecurityPlatform" | "Identity")
}

/// Builds the process-wide tables the checks use (the relationship table, regular
/// expressions; the STIX schemas are compiled per type, when first needed), so that the
/// first bundle does not pay for them. Idempotent.
pub fn warm_up() {
    let _ = Relationships::get();
    // The STIX schemas are compiled per type when an object of that type first arrives.
    let _ = crate::validate::StixValidator::get();
    let _ = LazyLock::force(&ITEM_KEYS);
    for (t, et) in crate::stix::OBSERVABLE_TYPES {
        let _ = observable_syntax::check_observable(t, &json!({"type": t, "value": "x"}));
        let _ = precheck(t, et, &json!({"type": t, "value": "x"}));
    }
    let _ = pattern::parse_pattern("[ipv4-addr:value = '10.0.0.1']");
}

// ---------------------------------------------------------------------------------------
// The item as pycti's worker holds it

/// `(key, source, attribute, only_when_set)` per STIX type; see
/// `fixtures/python/extract_worker_item_keys.py`, which generates the file from pycti.
type KeyRule = (String, String, String, bool);

static ITEM_KEYS: LazyLock<HashMap<String, Vec<KeyRule>>> = LazyLock::new(|| {
    serde_json::from_str(include_str!("worker_item_keys.json")).expect("worker_item_keys.json is valid (tested)")
});

/// The MITRE ATT&CK extension definition pycti reads `x_mitre_*` attributes from.
const MITRE_EXTENSION: &str = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b";
/// The extension of OpenCTI observables.
const OPENCTI_SCO_EXTENSION: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";

fn extension_attribute<'a>(obj: &'a Map<String, Value>, source: &str, attribute: &str) -> Option<&'a Value> {
    let ext = |id: &str| obj.get("extensions").and_then(|e| e.get(id)).and_then(|e| e.get(attribute));
    match source {
        "mitre" => ext(MITRE_EXTENSION),
        _ => ext(OPENCTI_EXTENSION).or_else(|| ext(OPENCTI_SCO_EXTENSION)),
    }
}

/// The item as pycti's worker holds it when it calls the platform: `nb_deps` set to 1 (in
/// place, or appended), then the keys the type's importer copies from the extensions when
/// absent (null when the extension has none). This is what the work error `source` shows.
pub fn worker_item(obj: &Value) -> Value {
    let Some(map) = obj.as_object() else { return obj.clone() };
    let mut item = map.clone();
    item.insert("nb_deps".into(), json!(1));
    let stix_type = map.get("type").and_then(Value::as_str).unwrap_or_default();
    for (key, source, attribute, only_when_set) in ITEM_KEYS.get(stix_type).map(Vec::as_slice).unwrap_or_default() {
        if source == "content" {
            if let Some(c) = map.get("x_opencti_content") {
                item.insert("content".into(), c.clone());
            } else {
                let v = extension_attribute(map, "ext", attribute).cloned().unwrap_or(Value::Null);
                item.insert("content".into(), v);
            }
            continue;
        }
        if item.contains_key(key.as_str()) {
            continue;
        }
        let value = extension_attribute(map, source, attribute).filter(|v| !v.is_null()).cloned();
        match value {
            Some(v) => {
                item.insert(key.clone(), v);
            }
            None if !only_when_set => {
                item.insert(key.clone(), Value::Null);
            }
            None => {}
        }
    }
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_item_gets_nb_deps_and_the_importers_keys_in_pycti_order() {
        let rel = json!({"type": "relationship", "spec_version": "2.1", "id": "relationship--1", "relationship_type": "uses",
            "source_ref": "intrusion-set--1", "target_ref": "malware--1"});
        let item = worker_item(&rel);
        let keys: Vec<&str> = item.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys[6..],
            [
                "nb_deps",
                "x_opencti_stix_ids",
                "x_opencti_granted_refs",
                "x_opencti_workflow_id",
                "x_opencti_modified_at",
                "opencti_upsert_operations"
            ]
        );
        // Values come from the OpenCTI extension when it has them.
        let malware = json!({"type": "malware", "id": "malware--1", "name": "x",
            "extensions": {OPENCTI_EXTENSION: {"stix_ids": ["malware--2"]}}});
        assert_eq!(worker_item(&malware)["x_opencti_stix_ids"], json!(["malware--2"]));
        // Observables only get nb_deps.
        let ip = json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4", "nb_deps": 3});
        assert_eq!(worker_item(&ip), json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4", "nb_deps": 1}));
        // The sighting's negative flag only when set.
        let s = worker_item(&json!({"type": "sighting", "id": "sighting--1"}));
        assert!(s.get("x_opencti_negative").is_none() && s["x_opencti_workflow_id"].is_null());
    }

    #[test]
    fn the_worked_example_of_a_refused_indicator_reads_as_pycti_records_it() {
        let ind = json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2f4a6b-1c3d-4e5f-a6b7-c8d9e0f1a2b3",
            "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "Bad",
            "pattern": "[ipv4-addr:value = ", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"});
        let Precheck::Fail(f) = precheck("indicator", "Indicator", &ind) else { panic!("a broken pattern is refused") };
        assert_eq!(
            f.error,
            "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Indicator of type stix is not correctly formatted.', \
             'http_status': 400, 'genre': 'BUSINESS', 'doc_code': 'INCORRECT_INDICATOR_FORMAT'}"
        );
        let source = refusals::work_error_source(&worker_item(&ind));
        assert!(
            source.ends_with(
                "\"nb_deps\": 1, \"x_opencti_score\": null, \"x_opencti_detection\": null, \"x_opencti_create_observables\": null, \
                 \"x_opencti_stix_ids\": null, \"x_opencti_granted_refs\": null, \"x_opencti_workflow_id\": null, \
                 \"x_mitre_platforms\": null, \"x_opencti_modified_at\": null, \"opencti_upsert_operations\": null}"
            ),
            "{source}"
        );
    }

    #[test]
    fn prechecks_follow_the_worker_and_the_platform() {
        let fail = |t: &str, et: &str, o: Value| match precheck(t, et, &o) {
            Precheck::Fail(f) => f.error,
            other => panic!("{o} should fail, got {other:?}"),
        };
        assert_eq!(fail("report", "Report", json!({"type": "report"})), "'name'");
        assert_eq!(fail("domain-name", "Domain-Name", json!({"type": "domain-name"})), "'value'");
        assert!(fail("ipv4-addr", "IPv4-Addr", json!({"value": "999.1.1"})).contains("INCORRECT_OBSERVABLE_FORMAT"));
        assert!(fail("ipv4-addr", "IPv4-Addr", json!({"value": "1.2.3.4", "x_opencti_score": 101})).contains("VALIDATION_ERROR"));
        assert!(
            fail("relationship", "uses", json!({"relationship_type": "uses", "source_ref": "a--1", "target_ref": "a--1"}))
                .contains("SELF_REFERENCING_RELATION")
        );
        let skipped = precheck("indicator", "Indicator", &json!({"name": "x", "pattern": "[a:b = 1]"}));
        assert!(matches!(skipped, Precheck::Skip(_)), "no pattern_type: pycti sends nothing");
        // What only the specification forbids is not refused.
        let ok = json!({"name": "x", "pattern": "[a:b = 1] REPEATS 0 TIMES", "pattern_type": "stix"});
        assert_eq!(precheck("indicator", "Indicator", &ok), Precheck::Import);
        // Non-STIX patterns are not parsed.
        let sigma = json!({"name": "x", "pattern": "title: x", "pattern_type": "sigma"});
        assert_eq!(precheck("indicator", "Indicator", &sigma), Precheck::Import);
    }

    #[test]
    fn references_are_classified_as_the_platform_resolves_them() {
        let rel = json!({"type": "relationship", "source_ref": "a--1", "target_ref": "b--1", "created_by_ref": "identity--1",
            "object_marking_refs": ["marking-definition--1", "marking-definition--2"]});
        let refs = references("relationship", rel.as_object().unwrap());
        let kinds: Vec<(&str, RefKind)> = refs.iter().map(|r| (r.id.as_str(), r.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("a--1", RefKind::End),
                ("b--1", RefKind::End),
                ("identity--1", RefKind::Optional),
                ("marking-definition--1", RefKind::Optional),
                ("marking-definition--2", RefKind::Optional)
            ]
        );
        let dn = json!({"type": "domain-name", "value": "x.com", "resolves_to_refs": ["ipv4-addr--1"], "created_by_ref": "identity--1"});
        let refs = references("domain-name", dn.as_object().unwrap());
        assert_eq!(refs[0].kind, RefKind::Nested);
        assert_eq!(refs[1].kind, RefKind::Optional);
    }
}
