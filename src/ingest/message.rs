//! Messages on a `push_<id>` queue, as the worker reads them and as the platform writes them.
//!
//! Two producers write to a push queue:
//! - pycti's `_send_bundle` (`queue_protocol=amqp`): `{"bundle_type": "QUEUE_BUNDLE",
//!   "applicant_id", "action_sequence", "entities_types", "content", "update", "draft_id",
//!   "no_split", "work_id"?}` — no `type` key;
//! - the platform itself (`stixBundlePush`, playbooks, sync, background tasks):
//!   `{"type": "bundle" | "event", "applicant_id", "content", "work_id"?, "update",
//!   "draft_id"?, "no_split"?, …}`.
//!
//! The worker (`opencti-worker` `push_handler.py`) treats a missing `type` as `"bundle"`,
//! base64-decodes `content` (standard alphabet, padded) and reads it as UTF-8 JSON. Anything
//! else is an invalid message: the worker nacks it without requeue (it is lost).

use base64::Engine;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::store::queues::{Content, MessageMeta, MessageType, Origin, TypeFilter};

/// A push-queue message the worker can process.
#[derive(Debug)]
pub struct Decoded {
    /// Metadata shared with the other transports.
    pub meta: MessageMeta,
    /// The decoded payload.
    pub content: Content,
    /// Size of the decoded content in bytes.
    pub content_bytes: usize,
}

#[derive(Deserialize)]
struct Wire {
    #[serde(rename = "type")]
    kind: Option<String>,
    bundle_type: Option<String>,
    applicant_id: Option<String>,
    #[serde(default)]
    entities_types: Option<Json>,
    content: Option<String>,
    #[serde(default)]
    update: Option<bool>,
    draft_id: Option<String>,
    #[serde(default)]
    no_split: Option<bool>,
    work_id: Option<String>,
}

/// Decodes a message body; the error says why the worker would refuse it.
pub fn decode(body: &[u8]) -> Result<Decoded, String> {
    let wire: Wire = serde_json::from_slice(body).map_err(|e| format!("message is not a JSON object the worker reads: {e}"))?;
    let kind = match wire.kind.as_deref() {
        None | Some("bundle") => MessageType::Bundle,
        Some("event") => MessageType::Event,
        Some(other) => return Err(format!("Unsupported event type '{other}' (expected bundle or event)")),
    };
    if let Some(bt) = wire.bundle_type.as_deref()
        && bt != "QUEUE_BUNDLE"
    {
        return Err(format!("unknown bundle_type '{bt}' (pycti sends QUEUE_BUNDLE)"));
    }
    let content = wire.content.ok_or("message has no content")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(content.as_bytes())
        .map_err(|e| format!("content is not base64: {e}"))?;
    let text = String::from_utf8(raw).map_err(|e| format!("content is not UTF-8: {e}"))?;
    let content_bytes = text.len();
    let meta = MessageMeta {
        kind,
        applicant_id: wire.applicant_id.filter(|a| !a.is_empty()),
        work_id: wire.work_id.filter(|w| !w.is_empty()),
        update: wire.update.unwrap_or(false),
        draft_id: wire.draft_id.filter(|d| !d.is_empty()),
        entities_types: type_filter(wire.entities_types)?,
        origin: Origin::Amqp,
    };
    Ok(Decoded {
        meta,
        content: Content::Bundle { text, no_split: wire.no_split.unwrap_or(false) },
        content_bytes,
    })
}

/// `entities_types` as the worker passes it to pycti's importer: a list, or a string (what
/// real connectors send: their scope, comma-separated). Anything else would make the
/// importer's `in` fail on every object.
fn type_filter(value: Option<Json>) -> Result<TypeFilter, String> {
    match value {
        None | Some(Json::Null) => Ok(TypeFilter::None),
        Some(Json::String(s)) => Ok(TypeFilter::Text(s)),
        Some(Json::Array(items)) => items
            .into_iter()
            .map(|i| match i {
                Json::String(s) => Ok(s),
                other => Err(format!("entities_types holds {other}, not a type name")),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TypeFilter::List),
        Some(other) => Err(format!("entities_types is {other}, neither a list nor a string")),
    }
}

/// The message the platform publishes on a push queue (`pushToWorkerForConnector`): keys
/// in the platform's order, `work_id` and `draft_id` only when set.
#[cfg(any(test, feature = "internals"))]
pub fn platform_bundle_message(meta: &MessageMeta, bundle: &str, no_split: bool) -> Vec<u8> {
    let mut m = serde_json::Map::new();
    m.insert(
        "type".into(),
        json!(match meta.kind {
            MessageType::Bundle => "bundle",
            MessageType::Event => "event",
        }),
    );
    m.insert("applicant_id".into(), json!(meta.applicant_id));
    m.insert("content".into(), Json::String(base64::engine::general_purpose::STANDARD.encode(bundle)));
    if let Some(w) = &meta.work_id {
        m.insert("work_id".into(), json!(w));
    }
    m.insert("update".into(), json!(meta.update));
    if let Some(d) = &meta.draft_id {
        m.insert("draft_id".into(), json!(d));
    }
    if no_split {
        m.insert("no_split".into(), json!(true));
    }
    serde_json::to_vec(&Json::Object(m)).unwrap_or_default()
}

/// What the worker publishes to the dead-letter queue for an object with too many
/// references: the original message with its content replaced by the object, which
/// carries `rejection_info` (`reject_reason`, `objects_max_refs`, `original_connector_id`).
pub fn dead_letter_message(original: &MessageMeta, object: &Json, objects_max_refs: u64, connector_id: &str) -> Vec<u8> {
    let mut object = object.clone();
    if let Some(o) = object.as_object_mut() {
        o.insert(
            "rejection_info".into(),
            json!({"reject_reason": "ELEMENT_TOO_LARGE", "objects_max_refs": objects_max_refs, "original_connector_id": connector_id}),
        );
    }
    let text = object.to_string();
    let mut m = serde_json::Map::new();
    m.insert("applicant_id".into(), json!(original.applicant_id));
    m.insert("content".into(), Json::String(base64::engine::general_purpose::STANDARD.encode(text)));
    if let Some(w) = &original.work_id {
        m.insert("work_id".into(), json!(w));
    }
    m.insert("update".into(), json!(original.update));
    m.insert("draft_id".into(), json!(original.draft_id));
    serde_json::to_vec(&Json::Object(m)).unwrap_or_default()
}

/// pycti's `compute_object_refs_number`: every `*_refs` list, every `*_ref`, external
/// references and kill-chain phases.
pub fn refs_number(object: &Json) -> u64 {
    let Some(o) = object.as_object() else { return 0 };
    o.iter()
        .map(|(k, v)| {
            if k.ends_with("_refs") && !v.is_null() {
                v.as_array().map_or(0, |a| a.len() as u64)
            } else if k.ends_with("_ref") {
                1
            } else if (k == "external_references" || k == "kill_chain_phases") && !v.is_null() {
                v.as_array().map_or(0, |a| a.len() as u64)
            } else {
                0
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn pycti_queue_bundle_decodes() {
        let body = json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": "u1", "action_sequence": 3,
            "entities_types": [], "content": b64(r#"{"type":"bundle","objects":[]}"#), "update": false,
            "draft_id": null, "no_split": false, "work_id": "w1"});
        let d = decode(body.to_string().as_bytes()).expect("decodes");
        assert_eq!(d.meta.kind, MessageType::Bundle);
        assert_eq!(d.meta.work_id.as_deref(), Some("w1"));
        assert_eq!(d.meta.applicant_id.as_deref(), Some("u1"));
        assert!(matches!(d.content, Content::Bundle { no_split: false, .. }));
    }

    #[test]
    fn entities_types_are_taken_as_a_list_or_as_a_connectors_scope_string() {
        let with = |types: Json| {
            let body = json!({"entities_types": types, "content": b64(r#"{"type":"bundle","objects":[]}"#)});
            decode(body.to_string().as_bytes()).map(|d| d.meta.entities_types)
        };
        assert_eq!(with(json!(["ipv4-addr"])), Ok(TypeFilter::List(vec!["ipv4-addr".into()])));
        assert_eq!(with(json!("ipv4-addr,domain-name")), Ok(TypeFilter::Text("ipv4-addr,domain-name".into())));
        assert_eq!(with(Json::Null), Ok(TypeFilter::None));
        assert!(with(json!(3)).unwrap_err().contains("neither a list nor a string"));
    }

    #[test]
    fn invalid_messages_say_why() {
        assert!(decode(b"not json").unwrap_err().contains("not a JSON object"));
        assert!(decode(br#"{"type":"weird","content":""}"#).unwrap_err().contains("Unsupported event type"));
        assert!(decode(br#"{"content":"%%%"}"#).unwrap_err().contains("not base64"));
        assert!(decode(br#"{"applicant_id":"x"}"#).unwrap_err().contains("no content"));
        let not_utf8 = base64::engine::general_purpose::STANDARD.encode([0xff, 0xfe]);
        assert!(decode(json!({"content": not_utf8}).to_string().as_bytes()).unwrap_err().contains("UTF-8"));
    }

    #[test]
    fn platform_messages_round_trip() {
        let meta = MessageMeta {
            kind: MessageType::Bundle,
            applicant_id: Some("u".into()),
            work_id: Some("w".into()),
            update: true,
            draft_id: None,
            entities_types: TypeFilter::None,
            origin: Origin::ApiPush,
        };
        let body = platform_bundle_message(&meta, "{}", false);
        let text = String::from_utf8(body.clone()).expect("utf-8");
        assert!(
            text.starts_with(r#"{"type":"bundle","applicant_id":"u","content":"e30=","work_id":"w","update":true}"#),
            "{text}"
        );
        let d = decode(&body).expect("decodes");
        assert!(d.meta.update);
    }

    #[test]
    fn refs_are_counted_as_pycti_counts_them() {
        let o = json!({"type": "report", "object_refs": ["a", "b"], "created_by_ref": "c",
            "external_references": [{}], "kill_chain_phases": null, "object_marking_refs": null});
        assert_eq!(refs_number(&o), 4);
    }
}
