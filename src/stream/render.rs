//! Events as the platform writes them on the wire: keys in its order, its messages, its
//! patches.
//!
//! A live data event is `{version, type, scope, message, origin, data, [context], event_id}`
//! (`stream-utils.ts`: `buildCreateEvent`…); `data` is the object's STIX with the OpenCTI
//! extension as it was at the change ([`StoredObject::stix`]); an update's and a merge's
//! `context` holds RFC 6902 `patch`/`reverse_patch` computed over the whole STIX object,
//! extensions included (the platform's `fast-json-patch` `compare`). Recovery and
//! dependency events carry only `data`, `message`, `origin` (`init-create`,
//! `init-dependencies`) and `version`.

use serde_json::{Map, Value, json};

use crate::stix::OBSERVABLE_TYPES;
use crate::stix::representative::representative_name;
use crate::store::events::{EventBody, KnowledgeEvent};
use crate::store::knowledge::{Knowledge, StoredObject};

/// The platform's `EVENT_CURRENT_VERSION`.
pub const EVENT_VERSION: &str = "4";

/// `origin.referer` of a recovered object.
pub const INIT_CREATE: &str = "init-create";

/// `origin.referer` of a dependency.
pub const INIT_DEPENDENCIES: &str = "init-dependencies";

/// The platform's system user (`OPENCTI_SYSTEM_UUID`): the origin of what the platform
/// does by itself.
pub const SYSTEM_USER_ID: &str = "6a4b11e1-90ca-4e42-ba42-db7bc7f7d505";

/// The event's `data`: the object's STIX as it was.
pub fn data(obj: &StoredObject) -> Value {
    obj.stix()
}

fn name_of(obj: &StoredObject) -> String {
    let body = obj.json();
    let empty = Map::new();
    let m = body.as_object().unwrap_or(&empty);
    let observable = OBSERVABLE_TYPES.iter().any(|(s, _)| *s == &*obj.stix_type);
    representative_name(m, &obj.entity_type, observable)
}

fn shown_type(entity_type: &str) -> &str {
    if entity_type == "StixFile" { "File" } else { entity_type }
}

/// ``` creates a <type> `<name>` ``` (or the relation form), as `generate-message.js`.
fn create_or_delete_message(verb: &str, obj: &StoredObject, knowledge: &Knowledge) -> String {
    if matches!(&*obj.stix_type, "relationship" | "sighting") {
        let body = obj.json();
        let end = |field: &str| {
            body.get(field).and_then(Value::as_str).and_then(|id| knowledge.get(id)).map(|o| (name_of(o), o.entity_type.to_string()))
        };
        let (from, to) = match &*obj.stix_type {
            "sighting" => (
                end("sighting_of_ref"),
                body.get("where_sighted_refs")
                    .and_then(|r| r.get(0))
                    .and_then(Value::as_str)
                    .and_then(|id| knowledge.get(id))
                    .map(|o| (name_of(o), o.entity_type.to_string())),
            ),
            _ => (end("source_ref"), end("target_ref")),
        };
        let (from, to) = (from.unwrap_or_else(|| ("Unknown".into(), "Unknown".into())), to.unwrap_or_else(|| ("Unknown".into(), "Unknown".into())));
        return format!(
            "{verb} the relation {} from `{}` ({}) to `{}` ({})",
            obj.entity_type,
            from.0,
            shown_type(&from.1),
            to.0,
            shown_type(&to.1)
        );
    }
    format!("{verb} a {} `{}`", shown_type(&obj.entity_type), name_of(obj))
}

/// A creation's message.
pub fn create_message(obj: &StoredObject, knowledge: &Knowledge) -> String {
    create_or_delete_message("creates", obj, knowledge)
}

/// The label the platform gives an attribute in update messages (its schema label), for
/// the common ones; the attribute name otherwise.
fn attribute_label(path: &str) -> String {
    let key = path.trim_start_matches('/').split('/').next_back().unwrap_or(path);
    let attribute = path.trim_start_matches('/').split('/').find(|s| !s.starts_with("extension-definition--") && *s != "extensions");
    let key = attribute.filter(|a| *a != key && !a.chars().all(|c| c.is_ascii_digit())).unwrap_or(key);
    match key {
        "description" => "Description".into(),
        "name" => "Name".into(),
        "score" | "x_opencti_score" => "Score".into(),
        "labels" => "Label".into(),
        "object_marking_refs" => "Marking".into(),
        "created_by_ref" => "Author".into(),
        "external_references" => "External reference".into(),
        "kill_chain_phases" => "Kill chain phase".into(),
        "confidence" => "Confidence".into(),
        "revoked" => "Revoked".into(),
        "pattern" => "Pattern".into(),
        "valid_from" => "Valid from".into(),
        "valid_until" => "Valid until".into(),
        "object_refs" => "Contains".into(),
        "value" => "Value".into(),
        other => other.to_string(),
    }
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(", "),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// An update's message from its patch: one part per operation type (`adds`, `replaces`,
/// `removes`), each ``` `values` in `attribute` ```, joined by ` | ` (technical fields the
/// platform maintains itself — `modified`, `updated_at` — are not named).
pub fn update_message(patch: &Value) -> String {
    let ops: Vec<&Value> = patch
        .as_array()
        .into_iter()
        .flatten()
        .filter(|op| {
            let path = op.get("path").and_then(Value::as_str).unwrap_or("");
            !(path == "/modified" || path.ends_with("/updated_at") || path.ends_with("/stix_ids") || path.contains("/stix_ids/"))
        })
        .collect();
    let mut parts = Vec::new();
    for (op_name, verb) in [("add", "adds"), ("replace", "replaces"), ("remove", "removes")] {
        let of_kind: Vec<String> = ops
            .iter()
            .filter(|op| op.get("op").and_then(Value::as_str) == Some(op_name))
            .map(|op| {
                let path = op.get("path").and_then(Value::as_str).unwrap_or("");
                let value = op.get("value").map(value_text).unwrap_or_default();
                format!("`{}` in `{}`", value, attribute_label(path))
            })
            .collect();
        if of_kind.is_empty() {
            continue;
        }
        let mut part = format!("{verb} {}", of_kind.iter().take(3).cloned().collect::<Vec<_>>().join(" - "));
        if of_kind.len() > 3 {
            part.push_str(&format!(" and {} more operations", of_kind.len() - 3));
        }
        parts.push(part);
    }
    if parts.is_empty() { "-".into() } else { parts.join(" | ") }
}

/// RFC 6902 operations turning `from` into `to`.
pub fn patch(from: &Value, to: &Value) -> Value {
    serde_json::to_value(json_patch::diff(from, to)).unwrap_or_else(|_| json!([]))
}

/// The `changes` of an update: one entry per top-level attribute the patch touches.
fn changes(previous: &Value, data: &Value, patch: &Value) -> Value {
    let mut fields: Vec<String> = Vec::new();
    for op in patch.as_array().into_iter().flatten() {
        let path = op.get("path").and_then(Value::as_str).unwrap_or("");
        let top = path.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
        if top.is_empty() || top == "extensions" || top == "modified" || fields.contains(&top) {
            continue;
        }
        fields.push(top);
    }
    let as_list = |v: Option<&Value>| match v {
        None | Some(Value::Null) => json!([]),
        Some(Value::Array(a)) => Value::Array(a.iter().map(|x| json!(value_text(x))).collect()),
        Some(other) => json!([value_text(other)]),
    };
    Value::Array(
        fields
            .iter()
            .map(|f| json!({"field": attribute_label(f), "previous": as_list(previous.get(f)), "new": as_list(data.get(f))}))
            .collect(),
    )
}

/// The origin of an event (the platform itself when none was recorded).
fn origin(event: &KnowledgeEvent) -> Value {
    event.origin.as_deref().cloned().unwrap_or_else(|| json!({"socket": "internal", "user_id": SYSTEM_USER_ID}))
}

/// A live data event as every reader is sent it — but its `event_id`, which depends on the
/// reader's batch — with what readers filter on. Rendered once per event and shared by
/// every reader (`crate::store::events::Derived`).
pub struct Rendered {
    /// SSE event name (the event's `type`).
    pub name: String,
    /// The payload's JSON text, `event_id` left out (see [`Rendered::wire`]).
    pub body: String,
    /// The millisecond of the platform's fallback `event_id` (`None`: the payload is sent
    /// as it is, an injected event).
    pub event_id_ms: Option<i64>,
    /// The payload's `version` is 4 or more (the platform drops older events).
    pub current_version: bool,
    /// The payload's `origin`.
    pub origin: Value,
    /// The STIX the event carries.
    pub data: Value,
    /// The STIX before an update or a merge (an injected update: from its reverse patch).
    pub previous: Option<Value>,
}

impl Rendered {
    /// The `data:` line for a reader: the payload with `event_id` last, `<updated_at
    /// ms>-<index>` where `index` is the event's place in the reader's batch (the
    /// platform's fallback), or without it (`None`: the raw stream).
    pub fn wire(&self, index: Option<usize>) -> String {
        match (self.event_id_ms, index) {
            (Some(ms), Some(index)) => {
                let open = self.body.strip_suffix('}').unwrap_or(&self.body);
                format!("{open},\"event_id\":\"{ms}-{index}\"}}")
            }
            _ => self.body.clone(),
        }
    }
}

/// The previous state of an injected update: its data with its reverse patch applied.
fn previous_of(payload: &Value) -> Option<Value> {
    let mut data = payload.get("data")?.clone();
    let reverse: json_patch::Patch = serde_json::from_value(payload.get("context")?.get("reverse_patch")?.clone()).ok()?;
    json_patch::patch(&mut data, &reverse).ok()?;
    Some(data)
}

/// Renders a live event.
pub fn live(event: &KnowledgeEvent, knowledge: &Knowledge) -> Rendered {
    match &event.body {
        EventBody::Injected { name, payload } => {
            let data = payload.get("data").cloned().unwrap_or(Value::Null);
            let version = payload.get("version").and_then(Value::as_str).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
            Rendered {
                name: name.to_string(),
                body: payload.to_string(),
                event_id_ms: None,
                current_version: version >= 4,
                origin: payload.get("origin").cloned().unwrap_or(Value::Null),
                data,
                previous: previous_of(payload),
            }
        }
        EventBody::Change { object, previous, sources } => {
            let data = data(object);
            let kind = event.kind.name();
            let mut m = Map::new();
            m.insert("version".into(), json!(EVENT_VERSION));
            m.insert("type".into(), json!(kind));
            m.insert("scope".into(), json!("external"));
            let previous_data = previous.as_deref().map(super::render::data);
            let message;
            let mut context = None;
            match (kind, &previous_data) {
                ("update", Some(before)) => {
                    let forward = patch(before, &data);
                    let reverse = patch(&data, before);
                    message = update_message(&forward);
                    let changes = changes(before, &data, &forward);
                    context = Some(json!({"patch": forward, "reverse_patch": reverse, "changes": changes}));
                }
                ("merge", before) => {
                    let names: Vec<String> = sources.iter().map(|s| name_of(s)).collect();
                    message = format!("merges {} `{}` in `{}`", shown_type(&object.entity_type), names.join(", "), name_of(object));
                    let before = before.clone().unwrap_or_else(|| data.clone());
                    let sources: Vec<Value> = sources.iter().map(|s| super::render::data(s)).collect();
                    context = Some(
                        json!({"patch": patch(&before, &data), "reverse_patch": patch(&data, &before), "sources": sources}),
                    );
                }
                ("delete", _) => message = create_or_delete_message("deletes", object, knowledge),
                _ => message = create_message(object, knowledge),
            }
            let origin = origin(event);
            m.insert("message".into(), json!(message));
            m.insert("origin".into(), origin.clone());
            m.insert("data".into(), data.clone());
            if let Some(c) = context {
                m.insert("context".into(), c);
            }
            Rendered {
                name: kind.to_string(),
                body: Value::Object(m).to_string(),
                event_id_ms: Some(object.updated_at.timestamp_millis()),
                current_version: true,
                origin,
                data,
                previous: previous_data,
            }
        }
    }
}

/// A recovered object (`init-create`) or a dependency (`init-dependencies`):
/// `{data, message, origin, version}` only.
pub fn initial(obj: &StoredObject, knowledge: &Knowledge, referer: &str) -> Value {
    json!({
        "data": data(obj),
        "message": create_message(obj, knowledge),
        "origin": {"referer": referer},
        "version": EVENT_VERSION,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_message_names_the_values_and_attributes_changed() {
        let before = json!({"description": "old", "modified": "a", "labels": ["x"]});
        let after = json!({"description": "Malicious host", "modified": "b", "labels": ["x", "phishing"]});
        let p = patch(&before, &after);
        assert_eq!(update_message(&p), "adds `phishing` in `Label` | replaces `Malicious host` in `Description`");
        assert_eq!(update_message(&json!([{"op": "replace", "path": "/modified", "value": "c"}])), "-");
    }

    #[test]
    fn patches_apply_both_ways() {
        let before = json!({"a": 1, "b": [1, 2]});
        let after = json!({"a": 2, "b": [1], "c": "x"});
        let mut doc = before.clone();
        let forward: json_patch::Patch = serde_json::from_value(patch(&before, &after)).unwrap();
        json_patch::patch(&mut doc, &forward).unwrap();
        assert_eq!(doc, after);
        let reverse: json_patch::Patch = serde_json::from_value(patch(&after, &before)).unwrap();
        json_patch::patch(&mut doc, &reverse).unwrap();
        assert_eq!(doc, before);
    }
}
