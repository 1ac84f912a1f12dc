//! The worker's decisions: what one message means, before anything is stored.
//!
//! [`decide`] (and [`decide_with`], with the worker's `objects_max_refs`) reads a message
//! and says what the worker does with it, as the platform's worker would:
//! - a message for a work that is no longer alive is acknowledged and dropped;
//! - an event message (`type: event`) imports its `data` (create, update) or deletes an
//!   object (delete), and rejects the other operations;
//! - a message that is not a STIX bundle, or an empty one, is rejected;
//! - a bundle with several objects (and no `no_split`) is split: its one-object pieces go
//!   back on the queue and their expectations are added to the work;
//! - a one-object bundle, a `no_split` one or a single object is checked and identified
//!   object by object, one expectation each (an object with too many references is
//!   refused and becomes a dead letter).
//!
//! Deciding is pure — parsing, splitting, checking and identifying objects, STIX findings —
//! so the worker decides a batch on every core and only [`apply`](fn@super::apply) takes
//! the state's lock. That is why it is a file of its own.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{message, object, split};
use crate::stix::BundleEnvelope;
use crate::store::queues::{Content, MessageMeta, MessageType, Origin, Outcome, PushMessage};

/// What processing one message decided, before it is applied to the state.
pub struct Decision {
    pub(super) outcome: Outcome,
    pub(super) requeue: Vec<PushMessage>,
    /// One entry per object, one expectation each.
    pub(super) objects: Vec<Result<object::Prepared, object::ObjectError>>,
    pub(super) add_expectations: i64,
    pub(super) notes: Vec<String>,
    /// The message's metadata and retry number (for objects the worker retries).
    pub(super) meta: Option<Arc<MessageMeta>>,
    pub(super) attempt: u32,
    /// STIX findings on the message's objects (advisory).
    pub(super) findings: Vec<crate::validate::Finding>,
    /// Objects with too many references, for the dead-letter queue.
    pub(super) dead_letters: Vec<serde_json::Value>,
    /// Objects a `delete` event removes.
    pub(super) deletes: Vec<String>,
    /// Objects the splitter dropped (not counted; recorded on the work).
    pub(super) dropped: Vec<split::Dropped>,
}

impl Decision {
    fn ack() -> Decision {
        Decision {
            outcome: Outcome::Ack,
            requeue: Vec::new(),
            objects: Vec::new(),
            add_expectations: 0,
            notes: Vec::new(),
            meta: None,
            attempt: 0,
            findings: Vec::new(),
            dead_letters: Vec::new(),
            deletes: Vec::new(),
            dropped: Vec::new(),
        }
    }

    fn objects(
        message: &PushMessage,
        objects: Vec<Result<object::Prepared, object::ObjectError>>,
        findings: Vec<crate::validate::Finding>,
    ) -> Decision {
        Decision { objects, meta: Some(message.meta.clone()), attempt: message.attempt, findings, ..Decision::ack() }
    }

    fn reject(reason: String) -> Decision {
        Decision {
            outcome: Outcome::Reject(reason.clone()),
            notes: vec![format!("message rejected: {reason}")],
            ..Decision::ack()
        }
    }
}

/// Everything about a message that does not need the state: parsing, splitting, checking
/// and identifying objects.
pub fn decide(connector_id: &str, message: &PushMessage, work_alive: bool) -> Decision {
    decide_with(connector_id, message, work_alive, 0)
}

/// [`decide`], with the worker's `objects_max_refs` (0: off): an object with at least that
/// many references is not imported; its expectation is reported with pycti's error and it
/// goes to the dead-letter queue.
pub fn decide_with(connector_id: &str, message: &PushMessage, work_alive: bool, objects_max_refs: u64) -> Decision {
    let mut decision = decide_inner(connector_id, message, work_alive);
    if objects_max_refs > 0 {
        for entry in decision.objects.iter_mut() {
            let Ok(prepared) = entry else { continue };
            let Ok(object) = serde_json::from_str::<serde_json::Value>(prepared.raw()) else { continue };
            if message::refs_number(&object) >= objects_max_refs {
                let id = object.get("id").and_then(serde_json::Value::as_str).unwrap_or_default().to_string();
                *entry = Err(object::ObjectError {
                    message: "Too large element in bundle".into(),
                    source: format!("Element {id} is too large and couldn't be processed"),
                    refusal: None,
                });
                decision.dead_letters.push(object);
            }
        }
    }
    decision
}

fn decide_inner(connector_id: &str, message: &PushMessage, work_alive: bool) -> Decision {
    let meta = &message.meta;
    if let Some(w) = meta.work_id.as_deref().filter(|_| !work_alive) {
        return Decision { notes: vec![format!("message dropped: work {w} is no longer alive")], ..Decision::ack() };
    }
    let ctx = object::IngestContext {
        applicant_id: meta.applicant_id.clone(),
        connector_id: Some(connector_id.to_string()),
        draft_id: meta.draft_id.clone(),
        types: meta.entities_types.clone(),
    };
    // STIX findings are made once per object, on its first attempt.
    let mut findings = Vec::new();
    let mut prepare = |raw: &str| {
        if message.attempt == 0 {
            let (prepared, found) = object::prepare_received(raw, &ctx);
            findings.extend(found);
            prepared
        } else {
            object::prepare(raw, &ctx)
        }
    };
    if meta.kind == MessageType::Event {
        return decide_event(message, &mut prepare);
    }
    let (text, no_split) = match &message.content {
        Content::Object(object) => {
            let prepared = vec![prepare(object)];
            return Decision::objects(message, prepared, findings);
        }
        Content::Bundle { text, no_split } => (text, *no_split),
    };
    let env: BundleEnvelope = match serde_json::from_str(text) {
        Ok(env) => env,
        Err(e) => return Decision::reject(format!("message content is not JSON: {e}")),
    };
    if env.kind.as_deref() != Some("bundle") {
        return Decision::reject("JSON data type is not a STIX2 bundle".into());
    }
    let objects = match env.objects {
        Some(objects) if !objects.is_empty() => objects,
        _ => return Decision::reject("JSON data objects is empty".into()),
    };
    if objects.len() == 1 {
        let prepared = vec![prepare(objects[0].get())];
        return Decision::objects(message, prepared, findings);
    }
    let split = match split::split_bundle(text, env.x_opencti_event_version.as_deref(), false) {
        Ok(split) => split,
        Err(e) => return Decision::reject(e.to_string()),
    };
    if no_split {
        // A multi-object `no_split` bundle is imported in the splitter's order
        // (pycti `import_bundle`), incompatible objects reported as errors.
        let mut prepared: Vec<_> = split.dropped.iter().map(|d| Err(object::incompatible(&d.id))).collect();
        for piece in &split.bundles {
            prepared.push(
                piece_object(piece)
                    .map_err(|e| object::ObjectError { message: e, source: String::new(), refusal: None })
                    .and_then(|obj| prepare(&obj)),
            );
        }
        return Decision::objects(message, prepared, findings);
    }
    let piece_meta = Arc::new(MessageMeta { origin: Origin::WorkerSplit, ..(**meta).clone() });
    let requeue =
        split.bundles.into_iter().map(|b| PushMessage::new(piece_meta.clone(), Content::Bundle { text: b, no_split })).collect();
    Decision { requeue, add_expectations: split.expectations as i64, dropped: split.dropped, ..Decision::ack() }
}

/// A platform `event` message (sync, background tasks): `content` is a stream-like event
/// `{type, data, context}`. As the worker does, `create` and `update` import `data` as an
/// upsert and `delete` deletes the object (with the relationships it is an end of); one
/// expectation each. The other operations (merge, restore, share, rules…) act on platform
/// features the mock does not have and are rejected, saying so.
fn decide_event(
    message: &PushMessage,
    prepare: &mut impl FnMut(&str) -> Result<object::Prepared, object::ObjectError>,
) -> Decision {
    let text = match &message.content {
        Content::Bundle { text, .. } | Content::Object(text) => text,
    };
    let event: serde_json::Value = match serde_json::from_str(text) {
        Ok(e) => e,
        Err(e) => return Decision::reject(format!("event content is not JSON: {e}")),
    };
    let data = &event["data"];
    match event["type"].as_str() {
        Some("create" | "update") if data.is_object() => {
            let prepared = vec![prepare(&data.to_string())];
            Decision::objects(message, prepared, Vec::new())
        }
        Some("delete" | "delete_force") => match data["id"].as_str() {
            Some(id) => Decision { deletes: vec![id.to_string()], meta: Some(message.meta.clone()), ..Decision::ack() },
            None => Decision::reject("delete event without data.id".into()),
        },
        Some("create" | "update") => Decision::reject("event without a data object".into()),
        Some(other) => Decision::reject(format!(
            "Unsupported operation type '{other}' for the mock (it imports create, update and delete events)"
        )),
        None => Decision::reject("event content has no type".into()),
    }
}

/// The single object of a one-object bundle produced by the splitter.
fn piece_object(piece: &str) -> Result<String, String> {
    #[derive(Deserialize)]
    struct One<'a> {
        #[serde(borrow)]
        objects: Vec<&'a RawValue>,
    }
    let one: One = serde_json::from_str(piece).map_err(|e| e.to_string())?;
    one.objects.first().map(|o| o.get().to_string()).ok_or_else(|| "empty piece".to_string())
}
