//! The marking definitions every platform has from its first start.
//!
//! The platform's data initialisation creates the TLP 2.0 markings (TLP:CLEAR, GREEN,
//! AMBER, AMBER+STRICT, RED) and the PAP markings (PAP:CLEAR, GREEN, AMBER, RED). TLP ones
//! keep the identifiers fixed by the STIX specification (TLP:CLEAR shares TLP 1.0 WHITE's,
//! which is how a bundle referring to TLP 1.0 markings resolves), the others get the
//! platform's standard id. They are created through the ordinary ingest path, so they are
//! found, listed and exported like any object.

use serde_json::{Value, json};

use crate::stix::standard_id::standard_id;

/// `(definition_type, definition, colour, order)` of each built-in marking.
pub const BUILT_IN: &[(&str, &str, &str, i64)] = &[
    ("TLP", "TLP:CLEAR", "#ffffff", 1),
    ("TLP", "TLP:GREEN", "#2e7d32", 2),
    ("TLP", "TLP:AMBER", "#d84315", 3),
    ("TLP", "TLP:AMBER+STRICT", "#d84315", 3),
    ("TLP", "TLP:RED", "#c62828", 4),
    ("PAP", "PAP:CLEAR", "#ffffff", 1),
    ("PAP", "PAP:GREEN", "#2e7d32", 2),
    ("PAP", "PAP:AMBER", "#d84315", 3),
    ("PAP", "PAP:RED", "#c62828", 4),
];

/// Standard ids of the built-in markings.
static BUILT_IN_IDS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    built_in_objects().iter().filter_map(|o| o.get("id").and_then(Value::as_str).map(str::to_string)).collect()
});

/// Whether a standard id is one of a built-in marking's.
pub fn is_built_in(standard_id: &str) -> bool {
    BUILT_IN_IDS.iter().any(|id| id == standard_id)
}

/// The built-in markings as STIX 2.1 objects.
pub fn built_in_objects() -> Vec<Value> {
    BUILT_IN
        .iter()
        .map(|(definition_type, definition, color, order)| {
            let mut obj = json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "created": "2017-01-20T00:00:00.000Z",
                "name": definition,
                "x_opencti_definition_type": definition_type,
                "x_opencti_definition": definition,
                "x_opencti_color": color,
                "x_opencti_order": order,
            });
            if *definition_type == "TLP" {
                let level = definition.trim_start_matches("TLP:").to_lowercase();
                obj["definition_type"] = json!("tlp");
                obj["definition"] = json!({"tlp": if level == "clear" { "white".to_string() } else { level }});
            } else {
                obj["definition_type"] = json!("statement");
                obj["definition"] = json!({"statement": definition});
            }
            let id = standard_id(&obj).expect("built-in markings have their contributing properties");
            obj["id"] = json!(id);
            obj
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlp_markings_keep_the_fixed_stix_ids() {
        let objs = built_in_objects();
        let id_of = |d: &str| objs.iter().find(|o| o["name"] == d).map(|o| o["id"].as_str().unwrap().to_string()).unwrap();
        assert_eq!(id_of("TLP:CLEAR"), "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9");
        assert_eq!(id_of("TLP:GREEN"), "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da");
        assert_eq!(id_of("TLP:RED"), "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed");
        assert!(id_of("PAP:RED").starts_with("marking-definition--"));
        assert_eq!(objs.len(), 9);
    }
}
