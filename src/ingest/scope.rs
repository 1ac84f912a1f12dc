//! Which objects of a push message the worker imports: pycti's importer (`import_item`,
//! pycti 7.261026.0 `utils/opencti_stix2.py`) filters by the message's `entities_types`.
//!
//! Its rules, kept exactly, including Python's `in` on a string (a substring test: real
//! connectors send their scope as one comma-separated string, so `url` passes a scope of
//! `ipv4-addr,url` and `identity` one of `indicator,identity`):
//! - relationships, sightings, labels, vocabularies, external references and kill chain
//!   phases are always imported;
//! - an observable when there is no filter, or its type or `observable` is in it;
//! - anything else when there is no filter or it is a marking definition or its type is
//!   in the filter, else an identity whose `identity_class` is in it (a `class` identity
//!   also for `class` or `sector`), a location whose `x_opencti_location_type` (or the
//!   OpenCTI extension's `location_type`), lowercased, is in it.
//!
//! An object left out is not an error: the importer still reports its expectation, so the
//! worker counts it as processed and stores nothing.

use serde_json::Value;

use crate::stix::OPENCTI_EXTENSION;
use crate::stix::is_observable_type;
use crate::store::queues::TypeFilter;

/// Whether the importer imports `obj` under `types`.
pub fn admits(types: &TypeFilter, obj: &Value) -> bool {
    let stix_type = obj.get("type").and_then(Value::as_str).unwrap_or_default();
    match stix_type {
        "relationship" | "sighting" | "label" | "vocabulary" | "external-reference" | "kill-chain-phase" => return true,
        _ => {}
    }
    if types.is_none() {
        return true;
    }
    if is_observable_type(stix_type) {
        return types.contains(stix_type) || types.contains("observable");
    }
    if stix_type == "marking-definition" || types.contains(stix_type) {
        return true;
    }
    match stix_type {
        "identity" => match obj.get("identity_class").and_then(Value::as_str) {
            Some("class") if types.contains("class") || types.contains("sector") => true,
            Some(class) => types.contains(class),
            None => false,
        },
        "location" => {
            let declared = obj
                .get("x_opencti_location_type")
                .or_else(|| obj.pointer(&format!("/extensions/{OPENCTI_EXTENSION}/location_type")))
                .and_then(Value::as_str);
            declared.is_some_and(|t| types.contains(&t.to_lowercase()))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn no_filter_imports_everything() {
        for filter in [TypeFilter::None, TypeFilter::List(vec![]), TypeFilter::Text(String::new())] {
            assert!(admits(&filter, &json!({"type": "malware"})));
            assert!(admits(&filter, &json!({"type": "ipv4-addr"})));
        }
    }

    #[test]
    fn a_scope_string_is_a_substring_test_as_python_in() {
        let scope = TypeFilter::Text("ipv4-addr,url,indicator".into());
        assert!(admits(&scope, &json!({"type": "ipv4-addr"})));
        assert!(admits(&scope, &json!({"type": "url"})));
        assert!(!admits(&scope, &json!({"type": "domain-name"})));
        assert!(!admits(&scope, &json!({"type": "malware"})));
        assert!(admits(&scope, &json!({"type": "marking-definition"})), "markings always pass");
        assert!(admits(&scope, &json!({"type": "relationship"})), "relationships are never filtered");
        // A substring, not an element: "ipv4" is in "ipv4-addr,…".
        assert!(admits(&TypeFilter::Text("x-ipv4-addr-list".into()), &json!({"type": "ipv4-addr"})));
    }

    #[test]
    fn a_list_is_a_membership_test() {
        let list = TypeFilter::List(vec!["ipv4-addr,url".into()]);
        assert!(!admits(&list, &json!({"type": "ipv4-addr"})), "no element is ipv4-addr");
        let list = TypeFilter::List(vec!["observable".into(), "organization".into(), "city".into()]);
        assert!(admits(&list, &json!({"type": "domain-name"})), "observable admits every observable");
        assert!(admits(&list, &json!({"type": "identity", "identity_class": "organization"})));
        assert!(!admits(&list, &json!({"type": "identity", "identity_class": "individual"})));
        assert!(admits(&list, &json!({"type": "location", "x_opencti_location_type": "City"})));
        assert!(!admits(&list, &json!({"type": "malware"})));
    }
}
