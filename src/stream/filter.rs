//! A stream collection's filters, evaluated on the STIX an event carries.
//!
//! The platform tests stream events with its "stix testers" (`filtering-stix`), not with
//! its database filters: each key reads the STIX object of the event — `entity_type` the
//! OpenCTI type *and its parent types*, `ids` any of the internal id, the STIX id and the
//! other STIX ids, `objectLabel` the labels (the observable extension's too),
//! `objectMarking` the marking refs. A collection's filters name labels and markings by
//! internal id; like the platform, the values are resolved once to what the STIX says
//! (a label's value, a marking's standard id) before testing. A collection is refused at
//! creation when a key has no tester or is not a one-key list, with the platform's
//! messages.

use serde_json::Value;

use crate::filters::{Filter, FilterError, FilterGroup, Subject};
use crate::stix::OPENCTI_EXTENSION;
use crate::stix::hierarchy::parent_types;
use crate::store::knowledge::Knowledge;

/// The observables' extension.
const SCO_EXTENSION: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";

/// Keys the platform's stix testers evaluate (`stix-testers.ts`).
pub const STIX_KEYS: &[&str] = &[
    "ids",
    "entity_type",
    "objectLabel",
    "objectMarking",
    "createdBy",
    "creator_id",
    "confidence",
    "revoked",
    "x_opencti_detection",
    "x_opencti_score",
    "pattern_type",
    "indicator_types",
    "report_types",
    "x_opencti_main_observable_type",
    "workflow_id",
    "fromId",
    "toId",
    "fromTypes",
    "toTypes",
    "objects",
    "relationship_type",
    "x_opencti_cisa_kev",
    "x_opencti_epss_score",
    "x_opencti_epss_percentile",
    "x_opencti_cvss_base_score",
    "x_opencti_cvss_base_severity",
];

/// A collection's filters, resolved and ready to test events with.
#[derive(Debug, Clone, Default)]
pub struct StreamFilter {
    group: Option<FilterGroup>,
}

/// A collection's filters (or origin filters) as the platform keeps them: the JSON text of a
/// FilterGroup given as an object or as that text; nothing for `null` or a blank string.
pub fn filter_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) if text.trim().is_empty() => None,
        Value::String(text) => Some(text.clone()),
        group => Some(group.to_string()),
    }
}

/// Checks a collection's filters as the platform does at creation and edit
/// (`validateFilterGroupForStixMatch`).
pub fn validate(filters: &str) -> Result<(), FilterError> {
    let value: Value = serde_json::from_str(filters).map_err(|e| FilterError(format!("invalid filter group: {e}")))?;
    check_keys(&value)?;
    FilterGroup::from_json(&value).map(|_| ())
}

fn check_keys(group: &Value) -> Result<(), FilterError> {
    for f in group.get("filters").and_then(Value::as_array).into_iter().flatten() {
        let Some(keys) = f.get("key").and_then(Value::as_array) else {
            return Err(FilterError("The provided filter key is not an array".into()));
        };
        if keys.len() != 1 {
            return Err(FilterError("Stix filtering can only be executed on a unique filter key".into()));
        }
        if !keys[0].as_str().is_some_and(|k| STIX_KEYS.contains(&k)) {
            return Err(FilterError("Stix filtering is not compatible with the provided filter key".into()));
        }
    }
    for g in group.get("filterGroups").and_then(Value::as_array).into_iter().flatten() {
        check_keys(g)?;
    }
    Ok(())
}

impl StreamFilter {
    /// No filter: every event.
    pub fn none() -> Self {
        StreamFilter::default()
    }

    /// A collection's filters with their label and marking ids resolved against the
    /// knowledge. `Err` when they do not parse.
    pub fn parse(filters: Option<&str>, knowledge: &Knowledge) -> Result<Self, FilterError> {
        let Some(text) = filters.filter(|t| !t.trim().is_empty()) else { return Ok(StreamFilter::none()) };
        let mut value: Value =
            serde_json::from_str(text).map_err(|e| FilterError(format!("invalid filter group: {e}")))?;
        resolve(&mut value, knowledge);
        Ok(StreamFilter { group: FilterGroup::from_json(&value)? })
    }

    /// Whether the STIX object passes.
    pub fn matches(&self, stix: &Value) -> bool {
        self.group.as_ref().is_none_or(|g| g.matches_subject(&StixSubject(stix)))
    }

    /// The `objectMarking` values of its `eq` filters (the platform refuses the stream to
    /// a user allowed none of them).
    pub fn marking_values(&self) -> Vec<String> {
        let Some(g) = &self.group else { return Vec::new() };
        g.all_filters()
            .into_iter()
            .filter(|f| f.key.names() == ["objectMarking"] && f.operator.as_deref().unwrap_or("eq") == "eq")
            .flat_map(|f| f.values.iter().filter_map(Value::as_str).map(str::to_string))
            .collect()
    }
}

/// Label and marking ids to what the STIX carries: a label's value, a marking's (and a
/// creator's) standard id. Values that name nothing stored stay as given.
fn resolve(group: &mut Value, knowledge: &Knowledge) {
    if let Some(filters) = group.get_mut("filters").and_then(Value::as_array_mut) {
        for f in filters {
            let key = f.get("key").and_then(|k| k.get(0).or(Some(k))).and_then(Value::as_str).unwrap_or("").to_string();
            let Some(values) = f.get_mut("values") else { continue };
            if !values.is_array() {
                *values = Value::Array(vec![values.take()]);
            }
            for v in values.as_array_mut().into_iter().flatten() {
                let Some(id) = v.as_str() else { continue };
                let Some(obj) = knowledge.get(id) else { continue };
                match key.as_str() {
                    "objectLabel" if &*obj.entity_type == "Label" => {
                        if let Some(value) = obj.json().get("value").and_then(Value::as_str) {
                            *v = Value::String(value.to_string());
                        }
                    }
                    "objectMarking" | "createdBy" | "objects" => *v = Value::String(obj.standard_id.clone()),
                    _ => {}
                }
            }
        }
    }
    if let Some(groups) = group.get_mut("filterGroups").and_then(Value::as_array_mut) {
        for g in groups {
            resolve(g, knowledge);
        }
    }
}

/// A collection's 7.x origin filters: who caused an event (`members_user` → the origin's
/// `user_id`, `members_group` → `group_ids`, `members_organization` → `organization_ids`).
#[derive(Debug, Clone, Default)]
pub struct OriginFilter {
    group: Option<FilterGroup>,
}

impl OriginFilter {
    /// The filters of a collection (`None` or empty: every origin).
    pub fn parse(filters: Option<&str>) -> Result<Self, FilterError> {
        let Some(text) = filters.filter(|t| !t.trim().is_empty()) else { return Ok(OriginFilter::default()) };
        let value: Value = serde_json::from_str(text).map_err(|e| FilterError(format!("invalid filter group: {e}")))?;
        Ok(OriginFilter { group: FilterGroup::from_json(&value)? })
    }

    /// Whether there are any.
    pub fn is_set(&self) -> bool {
        self.group.as_ref().is_some_and(|g| !g.all_filters().is_empty())
    }

    /// Whether an event's origin passes.
    pub fn matches(&self, origin: &Value) -> bool {
        self.group.as_ref().is_none_or(|g| {
            g.matches(&|key| {
                let field = match key {
                    "members_user" => "user_id",
                    "members_group" => "group_ids",
                    "members_organization" => "organization_ids",
                    other => other,
                };
                flat([origin.get(field).cloned()])
            })
        })
    }
}

/// A STIX object under the platform's stix testers.
struct StixSubject<'a>(&'a Value);

impl StixSubject<'_> {
    fn octi(&self, key: &str) -> Option<&Value> {
        self.0.get("extensions")?.get(OPENCTI_EXTENSION)?.get(key)
    }

    fn sco(&self, key: &str) -> Option<&Value> {
        self.0.get("extensions")?.get(SCO_EXTENSION)?.get(key)
    }
}

fn flat(values: impl IntoIterator<Item = Option<Value>>) -> Vec<Value> {
    let mut out = Vec::new();
    for v in values.into_iter().flatten() {
        match v {
            Value::Array(items) => out.extend(items),
            Value::Null => {}
            other => out.push(other),
        }
    }
    out
}

impl Subject for StixSubject<'_> {
    fn values(&self, key: &str) -> Vec<Value> {
        let top = |k: &str| self.0.get(k).cloned();
        let octi = |k: &str| self.octi(k).cloned();
        let sco = |k: &str| self.sco(k).cloned();
        match key {
            "ids" => flat([octi("id"), top("id"), octi("stix_ids")]),
            "entity_type" => {
                let entity_type = self.octi("type").and_then(Value::as_str).unwrap_or_default();
                let stix_type = self.0.get("type").and_then(Value::as_str).unwrap_or_default();
                let mut out = vec![Value::String(entity_type.to_string())];
                out.extend(parent_types(stix_type, entity_type).into_iter().map(|p| Value::String(p.to_string())));
                out
            }
            "objectLabel" => flat([top("labels"), sco("labels")]),
            "objectMarking" => flat([top("object_marking_refs")]),
            "createdBy" => flat([top("created_by_ref"), sco("created_by_ref")]),
            "creator_id" => flat([octi("creator_ids")]),
            "x_opencti_score" => flat([top("x_opencti_score"), sco("score")]),
            "x_opencti_detection" => flat([top("x_opencti_detection"), octi("detection")]),
            "x_opencti_main_observable_type" => flat([top("x_opencti_main_observable_type"), octi("main_observable_type")]),
            "workflow_id" => flat([octi("workflow_id")]),
            "fromId" => flat([octi("source_ref"), top("source_ref"), top("sighting_of_ref")]),
            "toId" => flat([octi("target_ref"), top("target_ref"), top("where_sighted_refs")]),
            "fromTypes" => flat([octi("source_type")]),
            "toTypes" => flat([octi("target_type")]),
            "objects" => flat([top("object_refs")]),
            other => flat([top(other), octi(other)]),
        }
    }

    fn special(&self, _filter: &Filter) -> Option<bool> {
        None
    }

    fn is_id_key(&self, key: &str) -> bool {
        matches!(key, "ids" | "objectMarking" | "createdBy" | "creator_id" | "fromId" | "toId" | "objects")
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ip() -> Value {
        json!({"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "1.2.3.4", "labels": ["bad"],
            "object_marking_refs": ["marking-definition--green"],
            "extensions": {OPENCTI_EXTENSION: {"id": "int-1", "type": "IPv4-Addr"}}})
    }

    fn filter(key: &str, values: Value) -> StreamFilter {
        let text = json!({"mode": "and", "filterGroups": [], "filters": [{"key": [key], "values": values, "operator": "eq", "mode": "or"}]});
        StreamFilter::parse(Some(&text.to_string()), &Knowledge::default()).unwrap()
    }

    #[test]
    fn entity_type_matches_parent_types_too() {
        assert!(filter("entity_type", json!(["IPv4-Addr"])).matches(&ip()));
        assert!(filter("entity_type", json!(["Stix-Cyber-Observable"])).matches(&ip()));
        assert!(!filter("entity_type", json!(["Malware"])).matches(&ip()));
    }

    #[test]
    fn ids_labels_and_markings() {
        assert!(filter("ids", json!(["int-1"])).matches(&ip()));
        assert!(filter("ids", json!(["ipv4-addr--1"])).matches(&ip()));
        assert!(filter("objectLabel", json!(["bad"])).matches(&ip()));
        assert!(!filter("objectLabel", json!(["good"])).matches(&ip()));
        assert!(filter("objectMarking", json!(["marking-definition--green"])).matches(&ip()));
        assert!(filter("objectMarking", json!("marking-definition--green")).matches(&ip()), "a single value is a list of one");
    }

    #[test]
    fn keys_without_a_stix_tester_are_refused_as_the_platform_does() {
        let f = |key: Value| json!({"mode": "and", "filterGroups": [], "filters": [{"key": key, "values": ["x"]}]}).to_string();
        assert_eq!(validate(&f(json!(["name"]))).unwrap_err().0, "Stix filtering is not compatible with the provided filter key");
        assert_eq!(validate(&f(json!("entity_type"))).unwrap_err().0, "The provided filter key is not an array");
        assert_eq!(
            validate(&f(json!(["entity_type", "ids"]))).unwrap_err().0,
            "Stix filtering can only be executed on a unique filter key"
        );
        assert!(validate(&f(json!(["entity_type"]))).is_ok());
    }
}
