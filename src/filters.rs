//! The platform's `FilterGroup` filters, evaluated in memory.
//!
//! `{mode: and|or, filters: [{key, values, operator, mode}], filterGroups: [...]}`; a
//! filter's `key` may be a string or a list of keys (any of them matching). Supported
//! operators: `eq` (default), `not_eq`, `nil`, `not_nil`, `contains`, `not_contains`,
//! `starts_with`, `not_starts_with`, `ends_with`, `not_ends_with`, `gt`, `gte`, `lt`,
//! `lte`, `match` (every word of the value, case-insensitive), `search` (case-insensitive
//! substring), `wildcard` (`*` and `?`) and `within` (two bounds, inclusive; ISO dates or
//! the platform's `now`, `now-7d`, `now+1h` date math). Anything else (the platform's
//! `script` included) is refused with a message that names it, never ignored.
//!
//! What a key means is up to the element being filtered: a [`Subject`] gives the values of
//! a key, may evaluate keys with nested values itself (the platform's `regardingOf`), and
//! says whether text compares case-insensitively (the platform's keyword fields do: they
//! are indexed lower-cased).

use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;
use serde_json::Value;

/// The database keys the platform converts relation filter keys to (`rel_<type>.*`, its
/// `checkAndConvertFilters`), and the filter key each stands for. Export jobs carry
/// filters converted that way (`list_params.filters`) and connectors send them back
/// unchanged, so the mock reads both spellings.
pub const CONVERTED_KEYS: &[(&str, &str)] = &[
    ("rel_object-marking.*", "objectMarking"),
    ("rel_object-label.*", "objectLabel"),
    ("rel_created-by.*", "createdBy"),
    ("rel_object.*", "objects"),
    ("rel_kill-chain-phase.*", "killChainPhases"),
    ("rel_external-reference.*", "externalReferences"),
    ("rel_granted.*", "objectOrganization"),
];

/// The filter key a converted database key stands for (the key itself otherwise).
pub fn canonical_key(key: &str) -> &str {
    CONVERTED_KEYS.iter().find(|(db, _)| *db == key).map_or(key, |(_, k)| k)
}

/// A filter group as the platform hands it to export connectors: every key made a list,
/// relation keys converted to their database keys (`objectMarking` becomes
/// `["rel_object-marking.*"]`), each filter's other members kept in place.
pub fn convert_keys(group: &Value) -> Value {
    let mut out = group.clone();
    if let Some(filters) = out.get_mut("filters").and_then(Value::as_array_mut) {
        for f in filters.iter_mut() {
            let names: Vec<String> = match f.get("key") {
                Some(Value::String(k)) => vec![k.clone()],
                Some(Value::Array(ks)) => ks.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                _ => continue,
            };
            let converted = names
                .iter()
                .map(|k| CONVERTED_KEYS.iter().find(|(_, key)| key == k).map_or(k.as_str(), |(db, _)| db))
                .map(|k| Value::String(k.to_string()))
                .collect();
            f["key"] = Value::Array(converted);
        }
    }
    if let Some(groups) = out.get_mut("filterGroups").and_then(Value::as_array_mut) {
        for g in groups.iter_mut() {
            *g = convert_keys(g);
        }
    }
    out
}

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
    "match",
    "search",
    "wildcard",
    "within",
];

/// An element being filtered.
pub trait Subject {
    /// The element's values for `key` (a list is flattened into its items; none when the
    /// element has no such value).
    fn values(&self, key: &str) -> Vec<Value>;

    /// Evaluates a filter the element understands itself (keys with nested values); `None`
    /// leaves it to the generic evaluation.
    fn special(&self, _filter: &Filter) -> Option<bool> {
        None
    }

    /// Whether text compares case-insensitively.
    fn case_insensitive(&self) -> bool {
        false
    }

    /// Whether `key` holds ids the platform filters with a terms query (its internal id
    /// fields and id attributes): `not_eq` on such a key excludes every value whatever the
    /// filter's mode.
    fn is_id_key(&self, _key: &str) -> bool {
        false
    }
}

/// A closure as a case-sensitive subject.
struct Lookup<'a>(&'a dyn Fn(&str) -> Vec<Value>);

impl Subject for Lookup<'_> {
    fn values(&self, key: &str) -> Vec<Value> {
        (self.0)(key)
    }
}

impl FilterGroup {
    /// Parses a `FilterGroup` from JSON (`null` means no filter).
    pub fn from_json(v: &Value) -> Result<Option<FilterGroup>, FilterError> {
        FilterGroup::parse_with(v, &|_| true)
    }

    /// Parses a `FilterGroup` and checks every key with `known_key`.
    pub fn parse_with(v: &Value, known_key: &dyn Fn(&str) -> bool) -> Result<Option<FilterGroup>, FilterError> {
        if v.is_null() {
            return Ok(None);
        }
        let g: FilterGroup = serde_json::from_value(v.clone()).map_err(|e| FilterError(format!("invalid filter group: {e}")))?;
        g.check(known_key)?;
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
            if op == "within" && f.values.len() != 2 {
                return Err(FilterError(format!(
                    "filter operator 'within' needs exactly two values (from, to), {} given",
                    f.values.len()
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

    /// The filters of every level, nested groups included.
    pub fn all_filters(&self) -> Vec<&Filter> {
        let mut out: Vec<&Filter> = self.filters.iter().collect();
        for g in &self.filter_groups {
            out.extend(g.all_filters());
        }
        out
    }

    /// Whether an element matches. `lookup(key)` returns the element's values for a key
    /// (a list is flattened into its items); text compares case-sensitively.
    pub fn matches(&self, lookup: &dyn Fn(&str) -> Vec<Value>) -> bool {
        self.matches_subject(&Lookup(lookup))
    }

    /// Whether a subject matches.
    pub fn matches_subject(&self, subject: &dyn Subject) -> bool {
        let and = self.mode.as_deref() != Some("or");
        let results = self
            .filters
            .iter()
            .map(|f| subject.special(f).unwrap_or_else(|| filter_matches(f, subject)))
            .chain(self.filter_groups.iter().map(|g| g.matches_subject(subject)));
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
    let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok()));
    match (number(field), number(wanted)) {
        (Some(a), Some(b)) => a.partial_cmp(&b),
        _ => match (date(field), date(wanted)) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => Some(as_text(field).cmp(&as_text(wanted))),
        },
    }
}

/// A date value: ISO-8601 (a plain date is midnight UTC) or the platform's date math
/// (`now`, `now-7d`, `now+12h`; units y, M, w, d, h, m, s).
pub fn date(v: &Value) -> Option<DateTime<Utc>> {
    let s = v.as_str()?.trim();
    if let Some(rest) = s.strip_prefix("now") {
        let now = Utc::now();
        if rest.is_empty() {
            return Some(now);
        }
        let (sign, amount) = match rest.split_at(1) {
            ("-", a) => (-1, a),
            ("+", a) => (1, a),
            _ => return None,
        };
        let unit = amount.chars().last()?;
        let n: i64 = amount[..amount.len() - unit.len_utf8()].parse().ok()?;
        let d = match unit {
            'y' => Duration::days(365 * n),
            'M' => Duration::days(30 * n),
            'w' => Duration::weeks(n),
            'd' => Duration::days(n),
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            's' => Duration::seconds(n),
            _ => return None,
        };
        return Some(now + d * sign);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|d| d.and_utc())
}

fn wildcard(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

fn filter_matches(f: &Filter, subject: &dyn Subject) -> bool {
    let op = f.operator.as_deref().unwrap_or("eq");
    let fields: Vec<Value> = f.key.names().into_iter().flat_map(|k| subject.values(k)).filter(|v| !v.is_null()).collect();
    match op {
        "nil" => return fields.is_empty(),
        "not_nil" => return !fields.is_empty(),
        "within" => {
            let (Some(from), Some(to)) = (f.values.first().and_then(date), f.values.get(1).and_then(date)) else { return false };
            return fields.iter().filter_map(date).any(|d| d >= from && d <= to);
        }
        _ => {}
    }
    let fold = |s: String| if subject.case_insensitive() || matches!(op, "match" | "search") { s.to_lowercase() } else { s };
    let value_matches = |wanted: &Value| -> bool {
        let w = fold(as_text(wanted));
        fields.iter().any(|field| {
            let t = fold(as_text(field));
            match op.trim_start_matches("not_") {
                "eq" => t == w,
                "contains" | "search" => t.contains(&w),
                "match" => w.split_whitespace().all(|word| t.contains(word)),
                "wildcard" => wildcard(&w, &t),
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
        // The platform's query: on id keys, `not_eq` is one `must_not terms` clause (none of
        // the values); otherwise each value is a `must_not` clause combined by the mode —
        // "and": none of the values, "or" (the default): not all of them.
        let terms = op == "not_eq" && !f.key.names().is_empty() && f.key.names().iter().all(|k| subject.is_id_key(k));
        if terms || all { !f.values.iter().any(value_matches) } else { !f.values.iter().all(value_matches) }
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
        for op in ["fuzzy", "script"] {
            let err = FilterGroup::from_json(
                &json!({"mode": "and", "filters": [{"key": "x", "values": [], "operator": op}], "filterGroups": []}),
            )
            .unwrap_err();
            assert!(err.0.contains(&format!("'{op}'")), "{err}");
        }
    }

    #[test]
    fn match_wildcard_search_and_within() {
        let obj = json!({"name": "Emotet Banking Trojan", "created": "2024-03-01T10:00:00.000Z"});
        let one =
            |f: Value| FilterGroup::from_json(&json!({"mode": "and", "filters": [f], "filterGroups": []})).unwrap().unwrap();
        assert!(one(json!({"key": "name", "values": ["banking emotet"], "operator": "match"})).matches(&lookup(&obj)));
        assert!(!one(json!({"key": "name", "values": ["emo*"], "operator": "wildcard"})).matches(&lookup(&obj)));
        assert!(one(json!({"key": "name", "values": ["Emo*Tro?an"], "operator": "wildcard"})).matches(&lookup(&obj)));
        assert!(one(json!({"key": "name", "values": ["TROJAN"], "operator": "search"})).matches(&lookup(&obj)));
        let within = one(json!({"key": "created", "values": ["2024-03-01", "2024-03-02"], "operator": "within"}));
        assert!(within.matches(&lookup(&obj)));
        let past = one(json!({"key": "created", "values": ["now-1d", "now"], "operator": "within"}));
        assert!(!past.matches(&lookup(&obj)));
    }

    #[test]
    fn negated_filters_combine_their_values_as_the_platform_does() {
        let obj = json!({"name": "Emotet", "labels": ["a", "b"]});
        let one =
            |f: Value| FilterGroup::from_json(&json!({"mode": "and", "filters": [f], "filterGroups": []})).unwrap().unwrap();
        // "or" (the default): not all of the values
        assert!(one(json!({"key": "name", "values": ["Emotet", "Other"], "operator": "not_eq"})).matches(&lookup(&obj)));
        // "and": none of them
        assert!(
            !one(json!({"key": "name", "values": ["Emotet", "Other"], "operator": "not_eq", "mode": "and"}))
                .matches(&lookup(&obj))
        );
        assert!(
            one(json!({"key": "name", "values": ["X", "Other"], "operator": "not_eq", "mode": "and"})).matches(&lookup(&obj))
        );
    }

    #[test]
    fn relation_keys_convert_to_database_keys_and_back() {
        let g = json!({"mode": "and", "filters": [{"key": "objectMarking", "values": ["m1"]}, {"key": ["entity_type"], "values": ["Malware"]}],
                       "filterGroups": [{"mode": "or", "filters": [{"key": "createdBy", "values": ["i1"]}], "filterGroups": []}]});
        let c = convert_keys(&g);
        assert_eq!(c["filters"][0], json!({"key": ["rel_object-marking.*"], "values": ["m1"]}));
        assert_eq!(c["filters"][1]["key"], json!(["entity_type"]));
        assert_eq!(c["filterGroups"][0]["filters"][0]["key"], json!(["rel_created-by.*"]));
        assert_eq!(canonical_key("rel_object-marking.*"), "objectMarking");
        assert_eq!(canonical_key("name"), "name");
    }

    #[test]
    fn within_needs_two_bounds() {
        let err = FilterGroup::from_json(
            &json!({"mode": "and", "filters": [{"key": "created", "values": ["now"], "operator": "within"}], "filterGroups": []}),
        )
        .unwrap_err();
        assert!(err.0.contains("within"), "{err}");
    }
}
