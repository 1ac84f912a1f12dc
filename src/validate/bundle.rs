//! Validating a whole bundle: every object against its type, and references that point
//! to nothing in the bundle. Objects are parsed one at a time from raw slices of the
//! input, never as one tree.

use std::collections::HashSet;

use serde::Deserialize;

use crate::stix::BundleEnvelope;
use serde_json::Value;

use crate::validate::{Finding, StixValidator};

/// The result of validating a bundle.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BundleReport {
    /// Number of objects checked.
    pub objects: usize,
    /// Every finding, in object order (paths from the bundle root).
    pub findings: Vec<Finding>,
}

#[derive(Deserialize)]
struct IdOnly {
    id: Option<String>,
}

/// Every reference an object holds: `(JSON pointer, referenced id)` for top-level
/// `*_ref` / `*_refs` properties and the `marking_ref` of granular markings.
pub fn references(obj: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = obj.as_object() else { return out };
    for (key, value) in map {
        if key.ends_with("_refs") {
            for (i, r) in value.as_array().into_iter().flatten().enumerate() {
                if let Some(r) = r.as_str() {
                    out.push((format!("/{key}/{i}"), r.to_string()));
                }
            }
        } else if key.ends_with("_ref")
            && let Some(r) = value.as_str()
        {
            out.push((format!("/{key}"), r.to_string()));
        }
    }
    for (i, gm) in map.get("granular_markings").and_then(Value::as_array).into_iter().flatten().enumerate() {
        if let Some(r) = gm.get("marking_ref").and_then(Value::as_str) {
            out.push((format!("/granular_markings/{i}/marking_ref"), r.to_string()));
        }
    }
    out
}

/// Validates a bundle (JSON text). `known` answers whether an id outside the bundle
/// exists anyway (the platform's built-in markings, stored objects).
pub fn validate_bundle(text: &str, known: &dyn Fn(&str) -> bool) -> Result<BundleReport, String> {
    let env: BundleEnvelope = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if env.kind.as_deref() != Some("bundle") {
        return Err("not a STIX bundle: its `type` is not \"bundle\"".into());
    }
    let objects = env.objects.ok_or("not a STIX bundle: it has no `objects` array")?;
    let validator = StixValidator::get();
    let ids: HashSet<String> =
        objects.iter().filter_map(|o| serde_json::from_str::<IdOnly>(o.get()).ok().and_then(|i| i.id)).collect();
    let mut report = BundleReport { objects: objects.len(), findings: Vec::new() };
    for (i, raw) in objects.iter().enumerate() {
        let obj: Value = match serde_json::from_str(raw.get()) {
            Ok(v) => v,
            Err(e) => {
                report.findings.push(Finding {
                    object_id: None,
                    path: format!("/objects/{i}"),
                    message: format!("not JSON: {e}"),
                    rule: "schema",
                });
                continue;
            }
        };
        for mut f in validator.check_object(&obj) {
            f.path = format!("/objects/{i}{}", f.path);
            report.findings.push(f);
        }
        let id = obj.get("id").and_then(Value::as_str);
        for (path, r) in references(&obj) {
            if !ids.contains(&r) && !known(&r) {
                report.findings.push(Finding {
                    object_id: id.map(str::to_string),
                    path: format!("/objects/{i}{path}"),
                    message: format!("'{r}' is not in the bundle"),
                    rule: "reference",
                });
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_dangling_reference_is_reported_with_its_path() {
        let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "value": "10.0.0.1",
             "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--5d0092c5-5f74-4287-9642-33f4c354e56d",
             "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z", "relationship_type": "related-to",
             "source_ref": "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd", "target_ref": "identity--5d0092c5-5f74-4287-9642-33f4c354e56e"}
        ]});
        let known = |id: &str| id == "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
        let report = validate_bundle(&bundle.to_string(), &known).unwrap();
        assert_eq!(report.objects, 2);
        let paths: Vec<&str> = report.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, vec!["/objects/1/target_ref"], "{:?}", report.findings);
    }
}
