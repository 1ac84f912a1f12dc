//! The platform's `FilterGroup` filters, evaluated in memory.
//!
//! `{mode: and|or, filters: [{key, values, operator, mode}], filterGroups: [...]}`; a
//! filter's `key` may be a string or a list of keys (any of them matching). Supported
//! operators: `eq` (default), `not_eq`, `nil`, `not_nil`, `contains`, `not_contains`,
//! `starts_with`, `not_starts_with`, `ends_with`, `not_ends_with`, `gt`, `gte`, `lt`,
//! `lte`. Anything else is refused with a message that names it, never ignored.

use serde::Deserialize;
use serde_json::Value;

/// A filter group.
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct FilterGroup {
    /// `and` (default) or `or`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Filters.
    #[serde(default)]
    pub filters: Vec<Filter>,
    /// Nested groups.
    #[serde(default)]
    pub filter_groups: Vec<FilterGroup>,
}

/// One filter.
#[derive(Debug, Clone, Deserialize)]
pub struct Filter {
    /// Key or keys.
    pub key: KeyList,
    /// Values to compare with.
    #[serde(default)]
    pub values: Vec<Value>,
    /// Operator (`eq` when absent).
    #[serde(default)]
    pub operator: Option<String>,
    /// How values combine: `or` (default) or `and`.
    #[serde(default)]
    pub mode: Option<String>,
}

/// A filter key: one name or several.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    /// One key.
    One(String),
    /// Several keys (any matching).
    Many(Vec<String>),
}

impl KeyList {
    /// The key names.
    pub fn names(&self) -> Vec<&str> {
        match self {
            KeyList::One(k) => vec![k.as_str()],
            KeyList::Many(ks) => ks.iter().map(String::as_str).collect(),
        }
    }
}

/// A filter the mock cannot evaluate.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0}")]
pub struct FilterError(pub String);

const OPERATORS: &[&str] = &[
    "eq",
    "not_eq",
    "nil",
    "not_nil",
    "contains",
    "not_contains",
    "starts_with",
    "not_starts_with",
    "ends_with",
    "not_ends_with",
    "gt",
    "gte",
    "lt",
    "lte",
];

impl FilterGroup {
    /// Parses a `FilterGroup` from JSON (`null` means no filter).
    pub fn from_json(v: &Value) -> Result<Option<FilterGroup>, FilterError> {
        if v.is_null() {
            return Ok(None);
        }
        let g: FilterGroup = serde_json::from_value(v.clone()).map_err(|e| FilterError(format!("invalid filter group: {e}")))?;
        g.check(&|_| true)?;
        Ok(Some(g))
    }

    /// Checks operators, modes and that every key is known to `known_key`.
    pub fn check(&self, known_key: &dyn Fn(&str) -> bool) -> Result<(), FilterError> {
        check_mode(self.mode.as_deref())?;
        for f in &self.filters {
            let op = f.operator.as_deref().unwrap_or("eq");
            if !OPERATORS.contains(&op) {
                return Err(FilterError(format!(
                    "filter operator '{op}' is not supported by the mock (supported: {})",
                    OPERATORS.join(", ")
                )));
            }
            check_mode(f.mode.as_deref())?;
            for k in f.key.names() {
                if !known_key(k) {
                    return Err(FilterError(format!("filter key '{k}' is not supported by the mock")));
                }
            }
        }
        self.filter_groups.iter().try_for_each(|g| g.check(known_key))
    }

    /// Whether an element matches. `lookup(key)` returns the element's values for a key
    /// (a list is flattened into its items).
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Vec<Value>) -> bool {
        let and = self.mode.as_deref() != Some("or");
        let results =
            self.filters.iter().map(|f| filter_matches(f, lookup)).chain(self.filter_groups.iter().map(|g| g.matches(lookup)));
        let mut any = false;
        for r in results {
            if and && !r {
                return false;
            }
            any |= r;
        }
        and || any
    }
}

fn check_mode(mode: Option<&str>) -> Result<(), FilterError> {
    match mode {
        None | Some("and") | Some("or") => Ok(()),
        Some(other) => Err(FilterError(format!("filter mode '{other}' is not 'and' or 'or'"))),
    }
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn compare(field: &Value, wanted: &Value) -> Option<std::cmp::Ordering> {
    match (field.as_f64(), wanted.as_f64().or_else(|| wanted.as_str().and_then(|s| s.parse().ok()))) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => Some(as_text(field).cmp(&as_text(wanted))),
    }
}

fn filter_matches(f: &Filter, lookup: &dyn Fn(&str) -> Vec<Value>) -> bool {
    let op = f.operator.as_deref().unwrap_or("eq");
    let fields: Vec<Value> = f.key.names().into_iter().flat_map(lookup).filter(|v| !v.is_null()).collect();
    match op {
        "nil" => return fields.is_empty(),
        "not_nil" => return !fields.is_empty(),
        _ => {}
    }
    let value_matches = |wanted: &Value| -> bool {
        let w = as_text(wanted);
        fields.iter().any(|field| {
            let t = as_text(field);
            match op.trim_start_matches("not_") {
                "eq" => t == w,
                "contains" => t.contains(&w),
                "starts_with" => t.starts_with(&w),
                "ends_with" => t.ends_with(&w),
                "gt" => compare(field, wanted) == Some(std::cmp::Ordering::Greater),
                "gte" => compare(field, wanted) != Some(std::cmp::Ordering::Less),
                "lt" => compare(field, wanted) == Some(std::cmp::Ordering::Less),
                "lte" => compare(field, wanted) != Some(std::cmp::Ordering::Greater),
                _ => false,
            }
        })
    };
    let negated = op.starts_with("not_");
    let all = f.mode.as_deref() == Some("and");
    if negated {
        // "field is none of the values" ("and" mode: "not all of them").
        if all { !f.values.iter().all(value_matches) } else { !f.values.iter().any(value_matches) }
    } else if all {
        f.values.iter().all(value_matches)
    } else {
        f.values.iter().any(value_matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn lookup(obj: &Value) -> impl Fn(&str) -> Vec<Value> + '_ {
        move |k| match obj.get(k) {
            Some(Value::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => vec![],
        }
    }

    #[test]
    fn eq_and_not_eq_with_nested_groups() {
        let obj = json!({"connector_id": "c1", "status": "complete", "labels": ["a", "b"]});
        let g = FilterGroup::from_json(&json!({"mode": "and", "filters": [{"key": "connector_id", "values": ["c1"]}],
            "filterGroups": [{"mode": "or", "filters": [{"key": "status", "values": ["wait"]}, {"key": "labels", "values": ["b"]}], "filterGroups": []}]}))
        .unwrap()
        .unwrap();
        assert!(g.matches(&lookup(&obj)));
        let g = FilterGroup::from_json(&json!({"mode": "and", "filters": [{"key": ["status"], "values": ["complete"], "operator": "not_eq"}], "filterGroups": []}))
            .unwrap()
            .unwrap();
        assert!(!g.matches(&lookup(&obj)));
    }

    #[test]
    fn unknown_operators_are_refused_by_name() {
        let err = FilterGroup::from_json(
            &json!({"mode": "and", "filters": [{"key": "x", "values": [], "operator": "fuzzy"}], "filterGroups": []}),
        )
        .unwrap_err();
        assert!(err.0.contains("'fuzzy'"));
    }
}
