//! STIX 2.1 validation: the advisory channel.
//!
//! Findings here never change a work's status; they tell a connector author where their
//! objects depart from STIX 2.1. (What the *platform* refuses is the other channel, see
//! `crate::knowledge::rules`.)
//!
//! Each object is checked against the JSON Schema of its own `type`
//! (`src/stix/schemas/`, written for this project from the STIX 2.1 specification and
//! OpenCTI's converters). Dispatching per object matters: the OASIS whole-bundle schema
//! rejects valid bundles (its `oneOf` misses types and its custom-object fallback matches
//! twice). On top of the schemas come the checks no schema expresses: identifiers are
//! `<type>--<RFC 4122 UUID>` of the object's own type, timestamps are real calendar
//! instants, and time ranges are ordered (`modified >= created`, `valid_until > valid_from`,
//! `last_seen >= first_seen`, `stop_time > start_time`, `last_observed >= first_observed`).
//! Bundle-level, references that point to nothing in the bundle are reported.

pub mod bundle;

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

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
    /// Which rule found it: `schema`, `id`, `timestamp`, `time-order`, `reference`, `type`.
    pub rule: &'static str,
}

struct Retriever(HashMap<String, Value>);

impl jsonschema::Retrieve for Retriever {
    fn retrieve(&self, uri: &jsonschema::Uri<String>) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let name = uri.as_str().strip_prefix(BASE).unwrap_or(uri.as_str());
        self.0.get(name.trim_end_matches(".json")).cloned().ok_or_else(|| format!("unknown schema {uri}").into())
    }
}

/// The per-type validators, compiled once per process: the schemas are constants, so
/// the compiled validators are immutable shared data, not state.
pub struct StixValidator {
    by_type: HashMap<String, jsonschema::Validator>,
}

impl std::fmt::Debug for StixValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StixValidator").field("types", &self.by_type.len()).finish()
    }
}

static VALIDATOR: LazyLock<StixValidator> = LazyLock::new(StixValidator::compile);

impl StixValidator {
    /// The shared validator.
    pub fn get() -> &'static StixValidator {
        &VALIDATOR
    }

    fn compile() -> StixValidator {
        let docs: HashMap<String, Value> = embedded::SCHEMAS
            .iter()
            .map(|(name, text)| {
                // The schema files are part of the crate and checked by its tests.
                let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("schema {name}.json is not JSON: {e}"));
                (name.to_string(), v)
            })
            .collect();
        let mut by_type = HashMap::new();
        for (name, schema) in &docs {
            if name == "common" {
                continue;
            }
            let validator = jsonschema::draft202012::options()
                .with_retriever(Retriever(docs.clone()))
                .build(schema)
                .unwrap_or_else(|e| panic!("schema {name}.json does not compile: {e}"));
            by_type.insert(name.clone(), validator);
        }
        StixValidator { by_type }
    }

    /// The STIX types with a schema.
    pub fn types(&self) -> impl Iterator<Item = &str> {
        self.by_type.keys().map(String::as_str)
    }

    /// Whether a type has a schema.
    pub fn knows(&self, stix_type: &str) -> bool {
        self.by_type.contains_key(stix_type)
    }

    /// Every finding for one object (paths relative to the object).
    pub fn check_object(&self, obj: &Value) -> Vec<Finding> {
        let id = obj.get("id").and_then(Value::as_str).map(str::to_string);
        let mut findings = Vec::new();
        let finding = |path: String, message: String, rule: &'static str| Finding { object_id: id.clone(), path, message, rule };
        let Some(map) = obj.as_object() else {
            return vec![finding(String::new(), "an object must be a JSON object".into(), "schema")];
        };
        let Some(stix_type) = map.get("type").and_then(Value::as_str) else {
            return vec![finding("/type".into(), "'type' is a required property".into(), "schema")];
        };
        match self.by_type.get(stix_type) {
            Some(v) => {
                if !v.is_valid(obj) {
                    for e in v.iter_errors(obj) {
                        findings.push(finding(e.instance_path().to_string(), e.to_string(), "schema"));
                    }
                }
            }
            None if stix_type.starts_with("x-") => findings.push(finding(
                "/type".into(),
                format!("custom object type '{stix_type}' has no schema; only the common properties were checked"),
                "type",
            )),
            None => {
                findings.push(finding("/type".into(), format!("'{stix_type}' is not a STIX 2.1 or OpenCTI object type"), "type"))
            }
        }
        findings.extend(check_identifier(map, stix_type, &finding));
        findings.extend(check_timestamps(map, &finding));
        findings
    }
}

/// RFC 4122 UUIDs have the variant bits `10`.
fn is_rfc4122(u: &uuid::Uuid) -> bool {
    u.get_variant() == uuid::Variant::RFC4122 && (1..=8).contains(&u.get_version_num())
}

fn check_identifier(
    map: &serde_json::Map<String, Value>,
    stix_type: &str,
    finding: &dyn Fn(String, String, &'static str) -> Finding,
) -> Vec<Finding> {
    let Some(id) = map.get("id").and_then(Value::as_str) else { return Vec::new() };
    match id.split_once("--") {
        Some((prefix, _)) if prefix != stix_type => {
            vec![finding("/id".into(), format!("identifier '{id}' does not start with the object's type '{stix_type}--'"), "id")]
        }
        Some((_, uuid)) => match uuid::Uuid::parse_str(uuid) {
            Ok(u) if is_rfc4122(&u) => Vec::new(),
            Ok(_) => vec![finding("/id".into(), format!("identifier '{id}' does not end with an RFC 4122 UUID"), "id")],
            Err(_) => vec![finding("/id".into(), format!("identifier '{id}' does not end with a UUID"), "id")],
        },
        None => vec![finding("/id".into(), format!("identifier '{id}' is not of the form <type>--<UUID>"), "id")],
    }
}

/// Top-level timestamp properties and the orders the specification requires between them.
const TIMESTAMPS: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "start_time",
    "stop_time",
    "published",
    "first_observed",
    "last_observed",
    "ctime",
    "mtime",
    "atime",
    "date",
    "submitted",
    "analysis_started",
    "analysis_ended",
    "validity_not_before",
    "validity_not_after",
    "account_created",
    "account_expires",
    "credential_last_changed",
    "account_first_login",
    "account_last_login",
    "created_time",
    "modified_time",
];

const ORDERS: &[(&str, &str, bool)] = &[
    ("created", "modified", false),
    ("valid_from", "valid_until", true),
    ("first_seen", "last_seen", false),
    ("start_time", "stop_time", true),
    ("first_observed", "last_observed", false),
];

/// Parses an RFC 3339 UTC timestamp as STIX requires (`Z` suffix).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if !s.ends_with('Z') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

fn check_timestamps(
    map: &serde_json::Map<String, Value>,
    finding: &dyn Fn(String, String, &'static str) -> Finding,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut parsed: HashMap<&str, DateTime<Utc>> = HashMap::new();
    for key in TIMESTAMPS {
        let Some(Value::String(s)) = map.get(*key) else { continue };
        match parse_timestamp(s) {
            Some(t) => {
                parsed.insert(key, t);
            }
            None => out.push(finding(
                format!("/{key}"),
                format!("'{s}' is not an RFC 3339 UTC timestamp (e.g. 2026-11-26T04:00:00.000Z)"),
                "timestamp",
            )),
        }
    }
    for (first, second, strict) in ORDERS {
        if let (Some(a), Some(b)) = (parsed.get(first), parsed.get(second)) {
            let bad = if *strict { b <= a } else { b < a };
            if bad {
                let relation = if *strict { "later than" } else { "later than or equal to" };
                out.push(finding(format!("/{second}"), format!("'{second}' must be {relation} '{first}'"), "time-order"));
            }
        }
    }
    out
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
}
