//! The STIX 2.1 objects the reference connectors build, with pycti's deterministic ids.

use connector_kit::ids;
use serde_json::{Value, json};

/// TLP:GREEN, as the STIX 2.1 specification defines it.
pub fn tlp_green() -> Value {
    json!({
        "type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:GREEN",
        "definition": { "tlp": "green" }
    })
}

/// The id of TLP:GREEN.
pub fn tlp_green_id() -> &'static str {
    "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"
}

/// Now, as STIX timestamps are written.
pub fn now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// An organization (the author of what a connector sends).
pub fn organization(name: &str, description: &str) -> Value {
    json!({
        "type": "identity", "spec_version": "2.1", "id": ids::identity(name, "organization"),
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "name": name, "identity_class": "organization", "description": description,
        "object_marking_refs": [tlp_green_id()]
    })
}

/// A malware family.
pub fn malware(name: &str, author: &str) -> Value {
    let at = now();
    json!({
        "type": "malware", "spec_version": "2.1", "id": ids::malware(name), "created": at, "modified": at,
        "name": name, "is_family": true, "malware_types": ["bot"], "created_by_ref": author,
        "object_marking_refs": [tlp_green_id()]
    })
}

/// An observable of a type whose id comes from its value (`ipv4-addr`, `domain-name`, `url`).
pub fn observable(stix_type: &str, value: &str, author: &str, score: u32) -> Value {
    json!({
        "type": stix_type, "spec_version": "2.1", "id": ids::observable(stix_type, value), "value": value,
        "object_marking_refs": [tlp_green_id()],
        "x_opencti_created_by_ref": author, "x_opencti_score": score
    })
}

/// The OpenCTI type of an observable's STIX type.
pub fn opencti_type(stix_type: &str) -> &'static str {
    match stix_type {
        "ipv4-addr" => "IPv4-Addr",
        "ipv6-addr" => "IPv6-Addr",
        "domain-name" => "Domain-Name",
        "url" => "Url",
        _ => "Unknown",
    }
}

/// An indicator detecting an observable.
pub fn indicator_for(observable: &Value, author: &str, valid_from: &str) -> Value {
    let stix_type = observable["type"].as_str().unwrap_or_default();
    let value = observable["value"].as_str().unwrap_or_default();
    let pattern = format!("[{stix_type}:value = '{}']", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let at = now();
    json!({
        "type": "indicator", "spec_version": "2.1", "id": ids::indicator(&pattern), "created": at, "modified": at,
        "name": value, "pattern": pattern, "pattern_type": "stix", "valid_from": valid_from,
        "created_by_ref": author, "object_marking_refs": [tlp_green_id()],
        "x_opencti_main_observable_type": opencti_type(stix_type)
    })
}

/// A relationship.
pub fn relationship(relationship_type: &str, source: &str, target: &str, author: &str) -> Value {
    let at = now();
    json!({
        "type": "relationship", "spec_version": "2.1", "id": ids::relationship(relationship_type, source, target),
        "created": at, "modified": at, "relationship_type": relationship_type, "source_ref": source, "target_ref": target,
        "created_by_ref": author, "object_marking_refs": [tlp_green_id()]
    })
}

/// A bundle of objects.
pub fn bundle(objects: Vec<Value>) -> Value {
    json!({ "type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects })
}
