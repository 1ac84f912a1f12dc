//! STIX 2.1 validation: the advisory channel.
//!
//! Findings here never change a work's status; they tell a connector author where their
//! objects depart from STIX 2.1. (What the *platform* refuses is the other channel:
//! `crate::stix::refusals` and the ingest rules.)
//!
//! Each object is checked against the JSON Schema of its own `type`
//! (`src/stix/schemas/`, written for this project from the STIX 2.1 specification and
//! OpenCTI's converters). Dispatching per object matters: the OASIS whole-bundle schema
//! rejects valid bundles (its `oneOf` misses types and its custom-object fallback matches
//! twice). On top of the schemas come the checks no schema expresses ([`checks`]):
//! identifiers are `<type>--<RFC 4122 UUID>` of the object's own type, timestamps are real
//! calendar instants, time ranges are ordered (`modified >= created`, `valid_until >
//! valid_from`, `last_seen >= first_seen`, `stop_time > start_time`, `last_observed >=
//! first_observed`, a network traffic's `end >= start`), and the pattern of a `pattern_type: "stix"` indicator follows the
//! specification ([`crate::stix::pattern::check_pattern`], stricter than what the platform
//! refuses). Bundle-level ([`bundle`]), references that point to nothing are reported.
//!
//! # Speed
//!
//! Validation is measured against `serde_json` parsing the same bundle into a `Value`
//! (`cargo bench --bench validation`), and stays within a small multiple of it. Three
//! decisions make that possible:
//! - each object is parsed once, into a [`doc::Doc`] that borrows its strings from the
//!   input and keeps members in a vector, and the schemas run on that tree directly
//!   (`jsonschema`'s custom representations) — no `Value`, no re-serialising, no hashing;
//! - the extra checks run in one pass over the object's members, so an absent property
//!   costs nothing, and the full pattern parser only sees patterns the plain-shape scanner
//!   ([`crate::stix::plain_pattern::is_plain_pattern`]) cannot vouch for;
//! - [`bundle::validate_bundle`] streams the `objects` array: one object is alive at a time.

#[cfg(any(feature = "cli", feature = "internals"))]
pub mod bundle;
pub mod checks;
pub mod doc;

use std::sync::{LazyLock, OnceLock};

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;
use serde_json::Value;

pub use checks::parse_timestamp;
use doc::{Doc, DocJson};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/stix_schemas.rs"));
}

/// Base URI of the schemas' `$id`s.
const BASE: &str = "https://opencti-mock.invalid/stix/";

/// One thing wrong with an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The object's `id` (when it has one).
    pub object_id: Option<String>,
    /// JSON pointer of the offending property, relative to the object (`/created`), or to
    /// the bundle (`/objects/3/created`) for bundle-level validation.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Which rule found it: `schema`, `id`, `timestamp`, `time-order`, `pattern`,
    /// `reference`, `type`.
    pub rule: &'static str,
}

/// Hands `jsonschema` the referenced documents (`common.json`, ...), parsed from the
/// embedded text when a compilation asks for them.
struct Retriever;

impl jsonschema::Retrieve for Retriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().strip_prefix(BASE).unwrap_or(uri.as_str());
        schema_document(name.trim_end_matches(".json")).ok_or_else(|| format!("unknown schema {uri}").into())
    }
}

/// The per-type validators, each compiled the first time an object of its type is checked
/// (a file of four malwares compiles one schema, not ninety) and kept for the process: the
/// schemas are constants, so the compiled validators are immutable shared data, not state.
pub struct StixValidator {
    by_type: FxHashMap<&'static str, OnceLock<jsonschema::Validator<DocJson>>>,
}

impl std::fmt::Debug for StixValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let compiled = self.by_type.values().filter(|v| v.get().is_some()).count();
        f.debug_struct("StixValidator").field("types", &self.by_type.len()).field("compiled", &compiled).finish()
    }
}

static VALIDATOR: LazyLock<StixValidator> = LazyLock::new(StixValidator::load);

/// The schema document of a file stem (`indicator`, `common`, ...), parsed from the
/// embedded text; `None` for a name with no file.
fn schema_document(name: &str) -> Option<Value> {
    let (_, text) = embedded::SCHEMAS.iter().find(|(n, _)| *n == name)?;
    // The schema files are part of the crate and checked by its tests.
    Some(serde_json::from_str(text).unwrap_or_else(|e| panic!("schema {name}.json is not JSON: {e}")))
}

impl StixValidator {
    /// The shared validator.
    pub fn get() -> &'static StixValidator {
        &VALIDATOR
    }

    fn load() -> StixValidator {
        let by_type =
            embedded::SCHEMAS.iter().filter(|(name, _)| *name != "common").map(|(name, _)| (*name, OnceLock::new())).collect();
        StixValidator { by_type }
    }

    /// The validator of a type with a schema, compiled on first use.
    fn validator(&self, stix_type: &str) -> Option<&jsonschema::Validator<DocJson>> {
        let slot = self.by_type.get(stix_type)?;
        Some(slot.get_or_init(|| {
            jsonschema::options_for::<DocJson>()
                .with_draft(jsonschema::Draft::Draft202012)
                // The schemas' patterns use no look-around or back-reference: the `regex`
                // engine (linear time, faster than the default fancy-regex) suffices.
                .with_pattern_options(jsonschema::PatternOptions::regex())
                .with_retriever(Retriever)
                .build(&schema_document(stix_type).expect("a type with a slot has a schema file"))
                .unwrap_or_else(|e| panic!("schema {stix_type}.json does not compile: {e}"))
        }))
    }

    /// The STIX types with a schema.
    #[cfg(feature = "internals")]
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(|k| &**k)
    }

    /// Whether a type has a schema.
    #[cfg(feature = "internals")]
    pub fn knows(&self, stix_type: &str) -> bool {
        self.by_type.contains_key(stix_type)
    }

    /// Every finding for one object (paths relative to the object).
    pub fn check_object(&self, obj: &Value) -> Vec<Finding> {
        let mut findings = Vec::new();
        self.check_doc(&Doc::from_value(obj), &mut findings);
        findings
    }

    /// Appends every finding for one object to `out` (paths relative to the object).
    pub fn check_doc(&self, obj: &Doc<'_>, out: &mut Vec<Finding>) {
        let id = obj.get("id").and_then(Doc::as_str);
        let finding = |path: String, message: String, rule: &'static str| Finding {
            object_id: id.map(str::to_string),
            path,
            message,
            rule,
        };
        let Some(members) = obj.members() else {
            out.push(finding(String::new(), "an object must be a JSON object".into(), "schema"));
            return;
        };
        let Some(stix_type) = obj.get("type").and_then(Doc::as_str) else {
            out.push(finding("/type".into(), "'type' is a required property".into(), "schema"));
            return;
        };
        match self.validator(stix_type) {
            Some(v) => {
                if !v.is_valid(obj) {
                    for e in v.iter_errors(obj) {
                        out.push(finding(schema_error_path(&e), e.to_string(), "schema"));
                    }
                }
            }
            None if stix_type.starts_with("x-") => out.push(finding(
                "/type".into(),
                format!("custom object type '{stix_type}' has no schema; only the common properties were checked"),
                "type",
            )),
            None if crate::stix::supported_types::is_supported_type(stix_type) => out.push(finding(
                "/type".into(),
                format!(
                    "'{stix_type}' is an OpenCTI internal object, not a STIX 2.1 object: it has no schema and was not checked"
                ),
                "type",
            )),
            None => out.push(finding("/type".into(), format!("'{stix_type}' is not a STIX 2.1 or OpenCTI object type"), "type")),
        }
        if let Some(id) = id
            && let Some(message) = checks::identifier_problem(id, stix_type)
        {
            out.push(finding("/id".into(), message, "id"));
        }
        let mut times: [Option<DateTime<Utc>>; checks::SLOTS] = [None; checks::SLOTS];
        let mut stix_pattern: Option<&str> = None;
        let mut is_stix_pattern = false;
        for (key, value) in members {
            if let Some(slot) = checks::timestamp_slot(stix_type, key) {
                let Doc::String(s) = value else { continue };
                match parse_timestamp(s) {
                    Some(t) => {
                        if let Some(slot) = slot {
                            times[slot] = Some(t);
                        }
                    }
                    None => out.push(finding(
                        format!("/{key}"),
                        format!("'{s}' is not an RFC 3339 UTC timestamp (e.g. 2026-11-26T04:00:00.000Z)"),
                        "timestamp",
                    )),
                }
            } else if stix_type == "indicator" {
                match (&**key, value) {
                    ("pattern", Doc::String(p)) => stix_pattern = Some(p),
                    ("pattern_type", Doc::String(t)) => is_stix_pattern = t == "stix",
                    _ => {}
                }
            }
        }
        for &(first, a, second, b, strict) in checks::ORDERS {
            if let (Some(a), Some(b)) = (times[a], times[b])
                && (if strict { b <= a } else { b < a })
            {
                let relation = if strict { "later than" } else { "later than or equal to" };
                out.push(finding(format!("/{second}"), format!("'{second}' must be {relation} '{first}'"), "time-order"));
            }
        }
        if is_stix_pattern
            && let Some(pattern) = stix_pattern
            && !crate::stix::plain_pattern::is_plain_pattern(pattern)
            && let Err(e) = crate::stix::pattern::check_pattern(pattern)
        {
            out.push(finding("/pattern".into(), e.to_string(), "pattern"));
        }
    }
}

/// Where a schema error points: the offending value, or for a missing property, where the
/// property should have been (`/pattern` rather than the object itself).
fn schema_error_path(e: &jsonschema::ValidationError<'_>) -> String {
    let mut path = e.instance_path().to_string();
    if let jsonschema::error::ValidationErrorKind::Required { property: Value::String(name) } = e.kind() {
        path.push('/');
        path.push_str(&name.replace('~', "~0").replace('/', "~1"));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_embedded_schema_compiles() {
        let v = StixValidator::get();
        assert!(v.knows("indicator") && v.knows("ipv4-addr") && v.knows("relationship") && v.knows("x-opencti-task"));
        assert!(v.types().count() >= 80);
        let types: Vec<String> = v.types().map(str::to_string).collect();
        for t in types {
            assert!(v.validator(&t).is_some(), "{t} compiles");
        }
    }

    #[test]
    fn a_valid_object_has_no_finding() {
        let obj = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "10.0.0.1"});
        assert_eq!(StixValidator::get().check_object(&obj), vec![]);
    }

    #[test]
    fn checks_no_schema_makes_are_reported_with_paths() {
        let obj = json!({"type": "malware", "spec_version": "2.1", "id": "tool--ff26c055-6336-4bc5-b98d-13d6226742dd",
            "created": "2026-02-30T00:00:00Z", "modified": "2025-01-01T00:00:00Z", "name": "x", "is_family": false});
        let findings = StixValidator::get().check_object(&obj);
        let rules: Vec<(&str, &str)> = findings.iter().map(|f| (f.rule, f.path.as_str())).collect();
        assert!(rules.contains(&("id", "/id")), "{findings:?}");
        assert!(rules.contains(&("timestamp", "/created")), "{findings:?}");
    }

    #[test]
    fn modified_before_created_is_reported() {
        let obj = json!({"type": "malware", "spec_version": "2.1", "id": "malware--ff26c055-6336-4bc5-b98d-13d6226742dd",
            "created": "2026-01-02T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "name": "x", "is_family": false});
        let findings = StixValidator::get().check_object(&obj);
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!((findings[0].rule, findings[0].path.as_str()), ("time-order", "/modified"));
    }

    fn indicator(pattern: &str, pattern_type: &str) -> Value {
        json!({"type": "indicator", "spec_version": "2.1", "id": "indicator--ff26c055-6336-4bc5-b98d-13d6226742dd",
            "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "pattern": pattern,
            "pattern_type": pattern_type, "valid_from": "2026-01-01T00:00:00Z"})
    }

    #[test]
    fn a_stix_pattern_is_checked_with_the_specifications_rules() {
        let v = StixValidator::get();
        assert_eq!(v.check_object(&indicator("[ipv4-addr:value = '198.51.100.1']", "stix")), vec![]);
        // The platform accepts this one (stix2-patterns does not check the calendar); the
        // specification does not.
        let leap = "[file:name = 'a'] START t'2023-02-29T00:00:00Z' STOP t'2023-03-01T00:00:00Z'";
        assert!(crate::stix::pattern::parse_pattern(leap).is_ok());
        let findings = v.check_object(&indicator(leap, "stix"));
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!((findings[0].rule, findings[0].path.as_str()), ("pattern", "/pattern"));
        assert!(findings[0].message.contains("2023-02-29"), "{findings:?}");
        // Other pattern languages are not STIX patterns.
        assert_eq!(v.check_object(&indicator("alert tcp any any -> any any (msg:\"x\";)", "snort")), vec![]);
    }

    /// The schemas give the same verdicts and errors on `Doc` trees as on `serde_json`
    /// values (the representation `jsonschema` ships), for every fixture object.
    #[test]
    fn schemas_read_doc_trees_as_they_read_serde_values() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/stix");
        let mut compared = 0;
        for (dir, wrapped) in [("valid", false), ("invalid", true)] {
            for entry in std::fs::read_dir(format!("{root}/{dir}")).unwrap() {
                let path = entry.unwrap().path();
                let stem = path.file_stem().unwrap().to_string_lossy().to_string();
                let items: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                let reference =
                    jsonschema::draft202012::options().with_retriever(Retriever).build(&schema_document(&stem).unwrap()).unwrap();
                let ours = StixValidator::get().validator(stem.as_str()).expect("a schema of the type");
                for item in items {
                    let obj = if wrapped { item["object"].clone() } else { item };
                    let doc = Doc::from_value(&obj);
                    let expected: Vec<(String, String)> =
                        reference.iter_errors(&obj).map(|e| (e.instance_path().to_string(), e.to_string())).collect();
                    let got: Vec<(String, String)> =
                        ours.iter_errors(&doc).map(|e| (e.instance_path().to_string(), e.to_string())).collect();
                    assert_eq!(got, expected, "{}", path.display());
                    assert_eq!(ours.is_valid(&doc), reference.is_valid(&obj));
                    compared += 1;
                }
            }
        }
        assert!(compared > 500, "{compared}");
    }
}
