//! The worker's decisions: what one message means, before anything is stored.
//!
//! [`decide_with`] (with the worker's `objects_max_refs`) reads a message
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
//! the state's lock. That is why it is a file of its own, and why it is unit-tested here
//! without a store.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::{message, object, split};
use crate::stix::BundleEnvelope;
use crate::store::queues::{Content, MessageMeta, MessageType, Origin, Outcome, PushMessage};
use crate::store::transcript::WorkerEvent;

/// What processing one message decided, before it is applied to the state.
pub struct Decision {
    pub(super) outcome: Outcome,
    pub(super) requeue: Vec<PushMessage>,
    /// One entry per object, one expectation each.
    pub(super) objects: Vec<Result<object::Prepared, object::ObjectError>>,
    pub(super) add_expectations: i64,
    pub(super) notes: Vec<(WorkerEvent, String)>,
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

    /// The message is rejected without requeue (recorded as a
    /// [`RefusalKind::Message`](crate::store::transcript::RefusalKind::Message) refusal
    /// when applied).
    fn reject(reason: String) -> Decision {
        Decision { outcome: Outcome::Reject(reason), ..Decision::ack() }
    }
}

/// [`decide_with`] without a reference limit, for the tests.
#[cfg(test)]
pub fn decide(message: &PushMessage, work_alive: bool) -> Decision {
    decide_with(message, work_alive, 0)
}

/// Everything about a message that does not need the state: parsing, splitting, checking
/// and identifying objects. With the worker's `objects_max_refs` (0: off), an object with
/// at least that many references is not imported; its expectation is reported with pycti's
/// error and it goes to the dead-letter queue.
pub fn decide_with(message: &PushMessage, work_alive: bool, objects_max_refs: u64) -> Decision {
    let mut decision = decide_inner(message, work_alive);
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

fn decide_inner(message: &PushMessage, work_alive: bool) -> Decision {
    let meta = &message.meta;
    if let Some(w) = meta.work_id.as_deref().filter(|_| !work_alive) {
        return Decision {
            notes: vec![(WorkerEvent::Dropped, format!("message dropped: work {w} is no longer alive"))],
            ..Decision::ack()
        };
    }
    let ctx = object::IngestContext {
        applicant_id: meta.applicant_id.clone(),
        draft_id: meta.draft_id.clone(),
        types: meta.entities_types.clone(),
        standard_id: None,
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

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::store::queues::TypeFilter;

    const MALWARE: &str = "malware--11111111-1111-4111-8111-111111111111";
    const INTRUSION_SET: &str = "intrusion-set--11111111-1111-4111-8111-111111111111";
    const USES: &str = "relationship--11111111-1111-4111-8111-111111111111";
    const HALF: &str = "relationship--22222222-2222-4222-8222-222222222222";

    fn meta(kind: MessageType, work_id: Option<&str>) -> Arc<MessageMeta> {
        Arc::new(MessageMeta {
            kind,
            applicant_id: Some("user-1".into()),
            work_id: work_id.map(str::to_string),
            update: false,
            draft_id: None,
            entities_types: TypeFilter::None,
            origin: Origin::ApiPush,
        })
    }

    fn bundle_message(objects: Vec<Value>, no_split: bool) -> PushMessage {
        let text = json!({"type": "bundle", "id": "bundle--1", "objects": objects}).to_string();
        PushMessage::new(meta(MessageType::Bundle, Some("work-1")), Content::Bundle { text, no_split })
    }

    fn event_message(event: Value) -> PushMessage {
        PushMessage::new(meta(MessageType::Event, Some("work-1")), Content::Bundle { text: event.to_string(), no_split: false })
    }

    fn malware() -> Value {
        json!({"type": "malware", "spec_version": "2.1", "id": MALWARE, "name": "Emotet", "is_family": true,
               "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"})
    }

    fn intrusion_set() -> Value {
        json!({"type": "intrusion-set", "spec_version": "2.1", "id": INTRUSION_SET, "name": "APT0",
               "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"})
    }

    fn uses() -> Value {
        json!({"type": "relationship", "spec_version": "2.1", "id": USES, "relationship_type": "uses",
               "source_ref": INTRUSION_SET, "target_ref": MALWARE,
               "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"})
    }

    /// A relationship without its target: the splitter drops it as incompatible.
    fn half_relationship() -> Value {
        json!({"type": "relationship", "spec_version": "2.1", "id": HALF, "relationship_type": "uses",
               "source_ref": INTRUSION_SET, "target_ref": null})
    }

    /// The id of each object a decision will import (`Err` for a refused one: its message).
    fn object_ids(d: &Decision) -> Vec<Result<String, String>> {
        d.objects
            .iter()
            .map(|o| match o {
                Ok(p) => Ok(serde_json::from_str::<Value>(p.raw()).expect("raw JSON")["id"].as_str().unwrap_or("?").to_string()),
                Err(e) => Err(e.message.clone()),
            })
            .collect()
    }

    fn assert_rejected(d: &Decision, reason: &str) {
        assert_eq!(d.outcome, Outcome::Reject(reason.to_string()));
        // The refusal is typed, recorded when applied; no free-text note besides.
        assert!(d.notes.is_empty(), "{:?}", d.notes);
        assert!(d.objects.is_empty() && d.requeue.is_empty() && d.deletes.is_empty());
        assert_eq!(d.add_expectations, 0);
    }

    fn assert_rejected_starting(d: &Decision, start: &str) {
        let Outcome::Reject(reason) = &d.outcome else { panic!("not rejected") };
        assert!(reason.starts_with(start), "{reason}");
        assert!(d.notes.is_empty(), "{:?}", d.notes);
    }

    #[test]
    fn a_message_for_a_dead_work_is_acknowledged_and_dropped() {
        let message = bundle_message(vec![malware(), intrusion_set()], false);
        let d = decide(&message, false);
        assert_eq!(d.outcome, Outcome::Ack);
        assert_eq!(d.notes, vec![(WorkerEvent::Dropped, "message dropped: work work-1 is no longer alive".to_string())]);
        assert!(d.objects.is_empty() && d.requeue.is_empty() && d.meta.is_none());
        assert_eq!(d.add_expectations, 0);
    }

    #[test]
    fn a_message_without_a_work_is_never_dropped() {
        let mut message = bundle_message(vec![malware()], false);
        message.meta = Arc::new(MessageMeta { work_id: None, ..(*message.meta).clone() });
        let d = decide(&message, false);
        assert_eq!(object_ids(&d), vec![Ok(MALWARE.to_string())]);
        assert!(d.notes.is_empty());
    }

    #[test]
    fn a_multi_object_bundle_is_split_into_pieces_and_expectations() {
        let message = bundle_message(vec![uses(), half_relationship(), malware(), intrusion_set()], false);
        let d = decide(&message, true);
        assert_eq!(d.outcome, Outcome::Ack);
        assert!(d.objects.is_empty(), "nothing is imported before the pieces come back");
        assert_eq!(d.add_expectations, 3, "one expectation a piece; the dropped object is not counted");
        assert_eq!(d.dropped, vec![split::Dropped { id: HALF.into(), stix_type: Some("relationship".into()) }]);
        assert_eq!(d.requeue.len(), 3);
        let pieces: Vec<String> = d
            .requeue
            .iter()
            .map(|piece| {
                assert_eq!(piece.meta.origin, Origin::WorkerSplit);
                assert_eq!(piece.meta.work_id.as_deref(), Some("work-1"));
                assert_eq!(piece.meta.applicant_id.as_deref(), Some("user-1"));
                assert_eq!(piece.attempt, 0);
                let Content::Bundle { text, no_split: false } = &piece.content else { panic!("a piece is a bundle to split") };
                let object: Value = serde_json::from_str(&piece_object(text).expect("a one-object piece")).unwrap();
                object["id"].as_str().unwrap().to_string()
            })
            .collect();
        assert_eq!(pieces[2], USES, "the relationship comes after both its ends");
        let mut ends = pieces[..2].to_vec();
        ends.sort();
        assert_eq!(ends, vec![INTRUSION_SET.to_string(), MALWARE.to_string()]);
    }

    #[test]
    fn a_no_split_bundle_is_imported_whole_in_the_splitter_s_order() {
        let message = bundle_message(vec![uses(), half_relationship(), malware(), intrusion_set()], true);
        let d = decide(&message, true);
        assert_eq!(d.outcome, Outcome::Ack);
        assert!(d.requeue.is_empty());
        assert_eq!(d.add_expectations, 0, "no expectation is added: each object reports the one it was counted as");
        assert!(d.meta.is_some());
        let ids = object_ids(&d);
        assert_eq!(ids.len(), 4);
        assert_eq!(ids[0], Err(object::incompatible(HALF).message), "dropped objects are reported first, as errors");
        assert_eq!(ids[3], Ok(USES.to_string()));
        let mut ends = vec![ids[1].clone(), ids[2].clone()];
        ends.sort();
        assert_eq!(ends, vec![Ok(INTRUSION_SET.to_string()), Ok(MALWARE.to_string())]);
    }

    #[test]
    fn a_one_object_bundle_is_imported() {
        let message = bundle_message(vec![malware()], false);
        let d = decide(&message, true);
        assert_eq!(d.outcome, Outcome::Ack);
        assert_eq!(object_ids(&d), vec![Ok(MALWARE.to_string())]);
        assert!(d.requeue.is_empty());
        assert_eq!(d.add_expectations, 0);
        assert_eq!(d.meta.as_ref().and_then(|m| m.work_id.as_deref()), Some("work-1"));
        assert!(d.dead_letters.is_empty());
    }

    #[test]
    fn an_object_message_is_imported() {
        let message = PushMessage::new(meta(MessageType::Bundle, Some("work-1")), Content::Object(intrusion_set().to_string()));
        let d = decide(&message, true);
        assert_eq!(object_ids(&d), vec![Ok(INTRUSION_SET.to_string())]);
        assert!(d.requeue.is_empty());
    }

    #[test]
    fn stix_findings_are_made_on_the_first_attempt_only() {
        let sloppy = json!({"type": "malware", "id": MALWARE, "name": "Emotet"}).to_string();
        let mut message = PushMessage::new(meta(MessageType::Bundle, None), Content::Object(sloppy));
        let first = decide(&message, true);
        assert_eq!(object_ids(&first), vec![Ok(MALWARE.to_string())], "the platform accepts what the specification does not");
        assert!(!first.findings.is_empty());
        assert!(first.findings.iter().all(|f| f.object_id.as_deref() == Some(MALWARE)));
        message.attempt = 1;
        let retry = decide(&message, true);
        assert_eq!(retry.attempt, 1);
        assert!(retry.findings.is_empty(), "a retried object was already checked");
    }

    #[test]
    fn invalid_messages_are_rejected() {
        let text = |text: &str| {
            PushMessage::new(meta(MessageType::Bundle, None), Content::Bundle { text: text.to_string(), no_split: false })
        };
        assert_rejected_starting(&decide(&text("{not json"), true), "message content is not JSON: ");
        assert_rejected(
            &decide(&text(r#"{"type": "report", "objects": []}"#), true),
            "JSON data type is not a STIX2 bundle",
        );
        assert_rejected(&decide(&text(r#"{"type": "bundle", "objects": []}"#), true), "JSON data objects is empty");
        assert_rejected(&decide(&text(r#"{"type": "bundle"}"#), true), "JSON data objects is empty");
        let no_id = bundle_message(vec![malware(), json!({"type": "malware", "name": "no id"})], false);
        assert_rejected(&decide(&no_id, true), "object #1 of the bundle has no id");
    }

    #[test]
    fn an_object_with_too_many_references_is_refused_and_dead_lettered() {
        let mut heavy = malware();
        heavy["external_references"] = json!([{"source_name": "a"}, {"source_name": "b"}, {"source_name": "c"}]);
        let message = bundle_message(vec![heavy], false);

        let d = decide_with(&message, true, 3);
        let Err(e) = &d.objects[0] else { panic!("refused") };
        assert_eq!(e.message, "Too large element in bundle");
        assert_eq!(e.source, format!("Element {MALWARE} is too large and couldn't be processed"));
        assert_eq!(d.dead_letters.len(), 1);
        assert_eq!(d.dead_letters[0]["id"], MALWARE);
        assert_eq!(d.outcome, Outcome::Ack, "the message itself is processed");

        let under = decide_with(&message, true, 4);
        assert_eq!(object_ids(&under), vec![Ok(MALWARE.to_string())]);
        assert!(under.dead_letters.is_empty());
        let off = decide_with(&message, true, 0);
        assert_eq!(object_ids(&off), vec![Ok(MALWARE.to_string())]);
        assert!(off.dead_letters.is_empty());
    }

    #[test]
    fn create_and_update_events_import_their_data() {
        for kind in ["create", "update"] {
            let message = event_message(json!({"type": kind, "data": malware(), "context": {}}));
            let d = decide(&message, true);
            assert_eq!(d.outcome, Outcome::Ack);
            assert_eq!(object_ids(&d), vec![Ok(MALWARE.to_string())], "{kind}");
            assert!(d.requeue.is_empty() && d.deletes.is_empty());
        }
    }

    #[test]
    fn delete_events_delete_their_object() {
        for kind in ["delete", "delete_force"] {
            let message = event_message(json!({"type": kind, "data": {"id": MALWARE}}));
            let d = decide(&message, true);
            assert_eq!(d.outcome, Outcome::Ack);
            assert_eq!(d.deletes, vec![MALWARE.to_string()], "{kind}");
            assert!(d.objects.is_empty());
            assert!(d.meta.is_some(), "the delete reports its expectation to the work");
        }
    }

    #[test]
    fn events_the_mock_cannot_apply_are_rejected() {
        let event = |event: Value| decide(&event_message(event), true);
        assert_rejected(&event(json!({"type": "delete", "data": {}})), "delete event without data.id");
        assert_rejected(&event(json!({"type": "create", "data": "text"})), "event without a data object");
        assert_rejected(&event(json!({"type": "update"})), "event without a data object");
        assert_rejected(
            &event(json!({"type": "merge", "data": malware()})),
            "Unsupported operation type 'merge' for the mock (it imports create, update and delete events)",
        );
        assert_rejected(&event(json!({"data": malware()})), "event content has no type");
        let not_json = PushMessage::new(meta(MessageType::Event, None), Content::Bundle { text: "{".into(), no_split: false });
        assert_rejected_starting(&decide(&not_json, true), "event content is not JSON: ");
    }

    #[test]
    fn an_event_for_a_dead_work_is_dropped_too() {
        let d = decide(&event_message(json!({"type": "delete", "data": {"id": MALWARE}})), false);
        assert_eq!(d.outcome, Outcome::Ack);
        assert!(d.deletes.is_empty());
        assert_eq!(d.notes, vec![(WorkerEvent::Dropped, "message dropped: work work-1 is no longer alive".to_string())]);
    }
}
