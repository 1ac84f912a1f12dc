//! `stixBundlePush`: how a bundle sent over HTTP reaches the worker.
//!
//! As on the platform (`domain/stix.js` `sendStixBundle`), the bundle must parse as a
//! bundle with objects and the connector must exist; a work named
//! `"<connector name> run @ <now>"` is created when none is given; the message is queued
//! with the caller as applicant and `update: true`; any failure answers
//! `UNSUPPORTED_ERROR` "Invalid bundle". The profiles differ in who splits:
//! - 7.x splits here (as `pushBundleToWorker` does) and adds the expectations to the work
//!   before the mutation returns, queueing one `no_split` message per object;
//! - 6.9 queues the whole bundle; the worker splits it later and only then adds the
//!   expectations — so a connector that closes its work right after pushing sees it
//!   complete early (connectors#6302). The 6.9 mutation adds one expectation itself only
//!   for a one-object bundle pushed without a work.
//!
//! The mutation never stores anything: storing is the worker's job.

use crate::stix::BundleEnvelope;

use crate::ingest::Worker;
use crate::ingest::split::{Shape, split_bundle_with};
use crate::store::clock::iso;
use crate::store::queues::{Content, MessageMeta, MessageType, Origin, PushMessage};
use crate::store::transcript::ReceivedBundle;
use crate::store::works::NewWork;

/// A bundle pushed over HTTP.
#[derive(Debug)]
pub struct ApiPush<'a> {
    /// `connectorId` argument.
    pub connector_id: &'a str,
    /// `bundle` argument (JSON text), owned: it is released as soon as it has been split.
    pub bundle: crate::buffer::LargeText,
    /// `work_id` argument.
    pub work_id: Option<&'a str>,
    /// The caller (becomes the applicant).
    pub user_id: &'a str,
    /// 7.x `cleanup_inconsistent_bundle` argument.
    pub cleanup_inconsistent: bool,
    /// The request's `opencti-draft-id` header.
    pub draft_id: Option<&'a str>,
}

/// Why a push is refused. Every variant answers `UNSUPPORTED_ERROR` "Invalid bundle";
/// the detail goes to `extensions.data.cause` and the transcript.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    /// Not a bundle with objects.
    #[error("Invalid stix bundle: {0}")]
    InvalidBundle(String),
    /// Unknown connector.
    #[error("Invalid connector")]
    InvalidConnector,
}

/// Objects the splitter drops (no type, unsupported, a relationship without both ends) are
/// not counted and not errors, as on the platform (its worker's `split_bundle_with_expectations`
/// drops them silently; only pycti's own `import_bundle` reports them), but never lost
/// silently: each becomes a message on the work, worded as pycti's importer words it, and a
/// transcript note.
pub fn record_dropped(
    s: &mut crate::store::State,
    work_id: Option<&str>,
    dropped: &[crate::ingest::split::Dropped],
    now: chrono::DateTime<chrono::Utc>,
) {
    for d in dropped {
        let e = crate::ingest::object::incompatible(&d.id);
        if let Some(w) = work_id {
            s.works.add_message(w, e.message, Some(e.source.clone()), now);
        }
        let kind = d.stix_type.as_deref().map_or_else(|| "no type".to_string(), |t| format!("type '{t}'"));
        let work = work_id.map(|w| format!("work {w}: ")).unwrap_or_default();
        let message = format!("{work}object {} ({kind}) dropped by the splitter, not imported: {}", d.id, e.source);
        s.transcript.push(now, crate::store::transcript::EntryKind::Note { message });
    }
}

/// Validates and queues a pushed bundle according to the platform profile; returns the id
/// of the work it was pushed under (the given one, or the one opened for it).
pub fn api_push(worker: &Worker, push: ApiPush<'_>) -> Result<String, PushError> {
    let store = worker.store();
    let env: BundleEnvelope = serde_json::from_str(&push.bundle).map_err(|e| PushError::InvalidBundle(e.to_string()))?;
    let object_count = match (&env.kind, &env.objects) {
        (Some(k), Some(o)) if k == "bundle" && !o.is_empty() => o.len(),
        (Some(k), _) if k != "bundle" => return Err(PushError::InvalidBundle(format!("type is '{k}', not 'bundle'"))),
        (None, _) => return Err(PushError::InvalidBundle("no type".into())),
        _ => return Err(PushError::InvalidBundle("no objects".into())),
    };
    drop(env);
    let (profile, connector) = store.read(|s| (s.profile, s.connectors.get(push.connector_id).cloned()));
    let connector = connector.ok_or(PushError::InvalidConnector)?;
    let split = if profile.splits_on_push() {
        Some(
            split_bundle_with(&push.bundle, None, push.cleanup_inconsistent, Shape::Objects)
                .map_err(|e| PushError::InvalidBundle(e.to_string()))?,
        )
    } else {
        None
    };

    let now = store.clock().now();
    let (work_id, draft_id) = store.write(|s| {
        let work_id = match push.work_id.filter(|w| !w.is_empty()) {
            Some(w) => w.to_string(),
            None => {
                let w = s.works.create(
                    NewWork {
                        connector_id: connector.id().to_string(),
                        connector_type: connector.registration.connector_type.clone(),
                        name: Some(format!("{} run @ {}", connector.registration.name, iso(now))),
                        user_id: push.user_id.to_string(),
                        source_id: Some(connector.id().to_string()),
                        received: true,
                        multipart: false,
                    },
                    now,
                );
                let id = w.id.clone();
                if split.is_none() && object_count == 1 {
                    s.works.add_expectations(&id, 1, now);
                }
                id
            }
        };
        if let Some(split) = &split {
            s.works.add_expectations(&work_id, split.expectations as i64, now);
            record_dropped(s, Some(&work_id), &split.dropped, now);
        }
        s.transcript.push_bundle(
            now,
            ReceivedBundle {
                connector_id: connector.id().to_string(),
                work_id: Some(work_id.clone()),
                transport: "api".into(),
                bytes: push.bundle.len(),
                objects: object_count,
                content: None,
            },
            &push.bundle,
        );
        // The draft: the request's header, else the work's draft context — the only link in
        // API mode, where `stixBundlePush` carries no draft id.
        let draft_id = push
            .draft_id
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .or_else(|| s.works.get(&work_id).and_then(|w| w.draft_context.clone()));
        (work_id, draft_id)
    });

    // 7.x: the pieces are copies; the request's bundle is released before they are queued.
    let bundle = if split.is_some() {
        drop(push.bundle);
        String::new()
    } else {
        push.bundle.into_string()
    };
    let meta = std::sync::Arc::new(MessageMeta {
        kind: MessageType::Bundle,
        applicant_id: Some(push.user_id.to_string()),
        work_id: Some(work_id.clone()),
        update: true,
        draft_id,
        entities_types: crate::store::queues::TypeFilter::None,
        origin: Origin::ApiPush,
    });
    match split {
        Some(split) => {
            let pieces: Vec<PushMessage> =
                split.bundles.into_iter().map(|object| PushMessage::new(meta.clone(), Content::Object(object))).collect();
            worker.enqueue_all(connector.id(), pieces);
        }
        None => {
            let content = Content::Bundle { text: bundle, no_split: false };
            worker.enqueue(connector.id(), PushMessage::new(meta, content));
        }
    }
    Ok(work_id)
}
