//! Status views: what the platform's connector pages show, as JSON.
//!
//! Shared by the control API (`/_mock/…`), the Rust API and `opencti-mock status`.

use serde_json::{Value as Json, json};

use crate::core::Core;
use crate::store::clock::iso;
use crate::store::connectors::Connector;
use crate::store::works::WorkStatus;

/// `GET /_mock/health`.
pub fn health(core: &Core) -> Json {
    let (profile, connectors, objects, works, retention, dropped, findings_dropped, events_dropped) = core.store.read(|s| {
        (
            s.profile,
            s.connectors.len(),
            s.knowledge.received_len(),
            s.works.all().count(),
            s.transcript.retention(),
            s.transcript.dropped(),
            s.findings.dropped(),
            s.knowledge.events_dropped(),
        )
    });
    json!({
        "status": "ok",
        "version": profile.version(),
        "profile": profile.to_string(),
        "url": &*core.public_url,
        "transports": {
            "queue": if core.amqp.broker().is_some() { json!(["amqp", "api"]) } else { json!(["api"]) },
            "listen": [],
            "broker": core.amqp.status(),
        },
        "connectors": connectors,
        "works": works,
        "objects": objects,
        // What a long-lived platform keeps, and what it let go (`mock.transcript_*`).
        "retention": {
            "transcript_max_entries": retention.max_entries,
            "transcript_bundle_cap_bytes": retention.body_cap,
            "transcript_body_budget_bytes": retention.body_budget,
            "findings_max_kept": crate::store::findings::MAX_KEPT,
            "knowledge_events_max_kept": crate::store::knowledge::MAX_EVENTS,
            "dropped": {
                "transcript_entries": dropped.entries,
                "bundle_bodies": dropped.bundle_bodies,
                "findings": findings_dropped,
                "knowledge_events": events_dropped,
            },
        },
    })
}

fn connector_view(core: &Core, c: &Connector) -> Json {
    let now = core.store.clock().now();
    core.store.read(|s| {
        let (messages, bytes) = s.queues.figures(c.id());
        let works: Vec<_> = s.works.of_connector(c.id()).collect();
        let count = |st: WorkStatus| works.iter().filter(|w| w.status == st).count();
        json!({
            "id": c.id(),
            "name": c.registration.name,
            "type": c.registration.connector_type,
            "scope": c.scope(),
            "active": c.is_active(now),
            "last_seen_at": c.last_seen_at.map(iso),
            "registrations": c.registrations,
            "pings": c.pings,
            "state": c.connector_state,
            "state_reset_pending": c.connector_state_reset,
            "connector_info": c.connector_info,
            "listen_callback_uri": c.registration.listen_callback_uri,
            "listen_callback_error": c.listen_callback_error,
            "jobs": {
                "total": s.jobs.of_connector(c.id()).count(),
                "undelivered": s.jobs.of_connector(c.id()).filter(|j| j.status != crate::store::jobs::JobStatus::Delivered).count(),
            },
            "queue": {"messages": messages, "bytes": bytes},
            "works": {"total": works.len(), "wait": count(WorkStatus::Wait), "progress": count(WorkStatus::Progress),
                      "complete": count(WorkStatus::Complete),
                      "with_errors": works.iter().filter(|w| !w.errors.is_empty()).count()},
        })
    })
}

/// `GET /_mock/connectors`.
pub fn connectors(core: &Core) -> Json {
    let list: Vec<Connector> = core.store.read(|s| s.connectors.all().cloned().collect());
    Json::Array(list.iter().map(|c| connector_view(core, c)).collect())
}

/// `GET /_mock/connectors/{id}`: the connector view with its works.
pub fn connector(core: &Core, id: &str) -> Option<Json> {
    let c = core.store.read(|s| s.connectors.get(id).cloned())?;
    let mut view = connector_view(core, &c);
    view["work_list"] = works(core, Some(id));
    Some(view)
}

/// `GET /_mock/works`.
pub fn works(core: &Core, connector_id: Option<&str>) -> Json {
    core.store.read(|s| {
        Json::Array(
            s.works
                .all()
                .filter(|w| connector_id.is_none_or(|c| w.connector_id == c))
                .map(|w| {
                    json!({"id": w.id, "name": w.name, "connector_id": w.connector_id, "status": w.status,
                        "alive": w.alive, "expected": w.import_expected_number, "processed": w.import_processed_number,
                        "completed_number": w.completed_number, "messages": w.messages, "errors": w.errors,
                        "timestamp": iso(w.timestamp), "completed_time": w.completed_time.map(iso)})
                })
                .collect(),
        )
    })
}

/// `GET /_mock/ingest`.
pub fn ingest(core: &Core) -> Json {
    core.store.read(|s| {
        let queues: Vec<Json> = s
            .connectors
            .all()
            .map(|c| {
                let (messages, bytes) = s.queues.figures(c.id());
                json!({"connector_id": c.id(), "messages": messages, "bytes": bytes})
            })
            .collect();
        json!({"paused": s.queues.throttle.paused, "delay_ms": s.queues.throttle.delay.as_millis() as u64, "queues": queues})
    })
}

/// `POST /_mock/reset`: the state forgets what it received ([`crate::store::State::reset`]);
/// users and tokens are kept, and the built-in markings are created again.
pub fn reset(core: &Core) {
    core.store.write(crate::store::State::reset);
    // Built-in data, as on a platform's first start; it was accepted at start-up.
    let _ = crate::ingest::seed_built_ins(&core.store);
}
