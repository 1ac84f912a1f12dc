//! What the platform would refuse in a bundle file (`opencti-mock validate`): the worker's
//! rules ([`super::rules`]) applied to every object of the file, where a reference counts
//! as resolved when the file itself or the built-in markings hold its target.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::Value;

use super::rules::{Failure, Precheck, RefKind, check_relationship, precheck, references};
use crate::stix::refusals::{self, Refusal};
use crate::stix::{BundleEnvelope, entity_type_of, markings};


/// A refusal found in a bundle file.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectRefusal {
    /// The object's id.
    pub object_id: String,
    /// The platform's refusal (`None` when pycti itself fails on it, e.g. a missing `name`).
    pub refusal: Option<Refusal>,
    /// The work error text pycti would record.
    pub work_error: String,
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<String>,
    id: Option<String>,
}

/// What the platform would refuse in a bundle, object by object: the checks of
/// [`precheck`], references the bundle (or the built-in markings) cannot resolve — ends
/// of relationships and sightings always, other references too (the platform refuses them
/// until the worker's fourth attempt, then drops them: reported so they can be fixed) — and
/// relationship types the platform does not allow between the two entity types.
pub fn refusals_in_bundle(text: &str) -> Result<Vec<ObjectRefusal>, String> {
    let env: BundleEnvelope = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    if env.kind.as_deref() != Some("bundle") {
        return Err("not a STIX bundle (its type is not \"bundle\")".into());
    }
    let raws = env.objects.unwrap_or_default();
    // Two passes over the raw objects, each parsed when it is looked at and dropped after:
    // memory stays near the size of the file, however many objects it holds.
    let parse = |raw: &serde_json::value::RawValue| -> Result<Value, String> {
        serde_json::from_str(raw.get()).map_err(|e| format!("an object is not JSON: {e}"))
    };
    // Entity types of everything the bundle holds, plus the built-in markings.
    let mut known: HashMap<String, String> = HashMap::new();
    for m in markings::built_in_objects() {
        if let Some(id) = m.get("id").and_then(Value::as_str) {
            known.insert(id.to_string(), "Marking-Definition".into());
        }
    }
    for raw in &raws {
        let obj = parse(raw)?;
        let head: Option<(&str, &str)> = obj.get("type").and_then(Value::as_str).zip(obj.get("id").and_then(Value::as_str));
        if let Some((t, id)) = head
            && let Some(et) = entity_type_of(t, &obj)
        {
            known.insert(id.to_string(), et);
        }
    }
    let mut out = Vec::new();
    for raw in &raws {
        let obj = &parse(raw)?;
        let Head { kind: Some(stix_type), id: Some(id) } = Head::deserialize(obj).unwrap_or(Head { kind: None, id: None }) else {
            continue;
        };
        let Some(map) = obj.as_object() else { continue };
        let mut refuse = |f: Failure| {
            out.push(ObjectRefusal { object_id: id.clone(), work_error: f.error, refusal: f.refusal });
        };
        let Some(entity_type) = entity_type_of(&stix_type, obj) else {
            let e = refusals::incompatible_element(&id);
            refuse(Failure::worker(e.error));
            continue;
        };
        match precheck(&stix_type, &entity_type, obj) {
            Precheck::Fail(f) => {
                refuse(f);
                continue;
            }
            Precheck::Skip(_) => continue,
            Precheck::Import => {}
        }
        let refs = references(&stix_type, map);
        let missing_ends: Vec<String> =
            refs.iter().filter(|r| r.kind == RefKind::End && !known.contains_key(&r.id)).map(|r| r.id.clone()).collect();
        if !missing_ends.is_empty() {
            refuse(refusals::missing_reference(&missing_ends).into());
            continue;
        }
        let missing_other: Vec<String> =
            refs.iter().filter(|r| r.kind == RefKind::Optional && !known.contains_key(&r.id)).map(|r| r.id.clone()).collect();
        if !missing_other.is_empty() {
            refuse(refusals::missing_reference(&missing_other).into());
        }
        if stix_type == "relationship" {
            let end = |k: &str| map.get(k).and_then(Value::as_str).and_then(|id| known.get(id));
            let rel = map.get("relationship_type").and_then(Value::as_str).unwrap_or_default();
            if let (Some(from), Some(to)) = (end("source_ref"), end("target_ref"))
                && let Err(r) = check_relationship(rel, from, to)
            {
                refuse(r.into());
                continue;
            }
        }
        for r in refs.iter().filter(|r| r.kind == RefKind::Nested && !known.contains_key(&r.id)) {
            refuse(refusals::ref_target_missing(&id, false, &r.id, true).into());
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_bundle_file_gets_every_refusal_with_its_object() {
        let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "malware", "spec_version": "2.1", "id": "malware--11111111-1111-4111-8111-111111111111", "name": "m",
             "object_marking_refs": ["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]},
            {"type": "location", "spec_version": "2.1", "id": "location--11111111-1111-4111-8111-111111111111", "name": "France",
             "country": "FR", "x_opencti_location_type": "Country"},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--11111111-1111-4111-8111-111111111111",
             "relationship_type": "uses", "source_ref": "location--11111111-1111-4111-8111-111111111111",
             "target_ref": "malware--11111111-1111-4111-8111-111111111111"},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--22222222-2222-4222-8222-222222222222",
             "relationship_type": "uses", "source_ref": "intrusion-set--99999999-9999-4999-8999-999999999999",
             "target_ref": "malware--11111111-1111-4111-8111-111111111111"},
            {"type": "x-acme-widget", "id": "x-acme-widget--1"}
        ]})
        .to_string();
        let found = refusals_in_bundle(&bundle).unwrap();
        let ids: Vec<&str> = found.iter().map(|r| r.object_id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "relationship--11111111-1111-4111-8111-111111111111",
                "relationship--22222222-2222-4222-8222-222222222222",
                "x-acme-widget--1"
            ]
        );
        assert!(found[0].work_error.contains("The relationship type uses is not allowed between Country and Malware"));
        assert!(found[1].work_error.contains("MISSING_REFERENCE_ERROR") && found[1].work_error.contains("intrusion-set--9999"));
        assert_eq!(found[2].work_error, "Incompatible element in bundle");
        assert!(refusals_in_bundle("{").is_err());
    }
}
