//! Deterministic STIX ids, as pycti's `generate_id` computes them, so that the same data
//! gets the same id on every run and the platform upserts instead of duplicating.
//!
//! An id is `<type>--` + UUIDv5 in the STIX namespace over the canonical JSON (sorted
//! keys, no whitespace) of the type's contributing properties. Names are lower-cased and
//! trimmed first, as pycti does.

use serde_json::{Value, json};
use uuid::Uuid;

/// The STIX 2.1 namespace of deterministic ids.
const NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);

/// `<stix_type>--uuid5(canonical(data))`.
pub fn from_data(stix_type: &str, data: &Value) -> String {
    format!("{stix_type}--{}", Uuid::new_v5(&NAMESPACE, canonical(data).as_bytes()))
}

/// Canonical JSON: object keys sorted, no whitespace (enough for strings and integers).
pub fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            let fields: Vec<String> =
                keys.into_iter().map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k]))).collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

fn name(n: &str) -> String {
    n.trim().to_lowercase()
}

/// An identity (`organization`, `individual`, `system`…).
pub fn identity(name_: &str, identity_class: &str) -> String {
    from_data("identity", &json!({ "name": name(name_), "identity_class": identity_class }))
}

/// A malware.
pub fn malware(name_: &str) -> String {
    from_data("malware", &json!({ "name": name(name_) }))
}

/// An indicator, by its pattern.
pub fn indicator(pattern: &str) -> String {
    from_data("indicator", &json!({ "pattern": pattern.trim() }))
}

/// A relationship between two objects.
pub fn relationship(relationship_type: &str, source_ref: &str, target_ref: &str) -> String {
    from_data(
        "relationship",
        &json!({ "relationship_type": relationship_type, "source_ref": source_ref, "target_ref": target_ref }),
    )
}

/// An observable whose id comes from its `value` (`ipv4-addr`, `domain-name`, `url`…).
pub fn observable(stix_type: &str, value: &str) -> String {
    from_data(stix_type, &json!({ "value": value }))
}

/// A note, by its content (and creation time, when pycti has one).
pub fn note(content: &str, created: Option<&str>) -> String {
    match created {
        Some(c) => from_data("note", &json!({ "content": content, "created": c })),
        None => from_data("note", &json!({ "content": content })),
    }
}

#[cfg(test)]
mod tests {
    /// Ids computed by pycti 7.261026.0 (`Identity.generate_id`, `Malware.generate_id`,
    /// `Indicator.generate_id`, `StixCoreRelationship.generate_id`) and the stix2 library
    /// (`IPv4Address(value=…).id`), `Note.generate_id(None, …)`.
    #[test]
    fn the_ids_pycti_computes() {
        assert_eq!(super::identity(" Conformance Test Feed ", "organization"), "identity--4ecca5fb-ff07-5f41-874b-a0bb867f0985");
        assert_eq!(super::malware("ExampleBot"), "malware--3a41da75-9320-566c-8b48-2931de413bed");
        assert_eq!(super::indicator("[ipv4-addr:value = '198.51.100.7']"), "indicator--3ae0b0a2-7289-5fda-8a85-02d057ba0968");
        assert_eq!(
            super::relationship("indicates", "indicator--a", "malware--b"),
            "relationship--81e8997a-4402-50f5-86fa-eb471553a322"
        );
        assert_eq!(super::observable("ipv4-addr", "198.51.100.7"), "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db");
        assert_eq!(super::note("Lookup of x", None), "note--cfc71851-d4ad-5d40-876a-04adb43a8548");
    }
}
