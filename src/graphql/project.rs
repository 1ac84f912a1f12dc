//! Projections: domain records turned into the GraphQL object values resolvers return.
//!
//! Each function builds the full set of fields the SDL declares for the type (plus hidden
//! keys, such as a work's `connector_id`, that computed fields read). Values are
//! `serde_json` built and converted once.

use async_graphql::Value;
use async_graphql::dynamic::FieldValue;
use serde_json::{Value as Json, json};

use crate::core::Core;
use crate::store::clock::iso;
use crate::store::connectors::Connector;
use crate::store::users::User;
use crate::store::works::{Work, WorkMessage};

/// A JSON value as a GraphQL field value (`None` for null).
pub fn field(json: Json) -> Option<FieldValue<'static>> {
    match json {
        Json::Null => None,
        other => Some(FieldValue::value(to_value(other))),
    }
}

/// A JSON value as a GraphQL value.
pub fn to_value(json: Json) -> Value {
    // Every serde_json value has a GraphQL counterpart (numbers, strings, lists, objects).
    Value::from_json(json).unwrap_or(Value::Null)
}

/// The `config` block of a connector (`connectorConfig` on the platform).
pub fn connector_config(core: &Core, id: &str, listen_callback_uri: Option<&str>) -> Json {
    let q = core.names.connector(id);
    let m = &core.settings.minio;
    // The broker actually in use (a container's mapped port, say), else the settings;
    // the advertised host, when set, replaces the host.
    let e = core
        .amqp
        .broker()
        .map(|b| b.endpoint().clone())
        .unwrap_or_else(|| crate::amqp::Endpoint::from_settings(&core.settings.rabbitmq));
    let host = core.settings.mock.amqp_advertised_host.clone().unwrap_or(e.host);
    json!({
        "connection": {
            "host": host, "vhost": e.vhost, "use_ssl": e.use_ssl, "port": e.port,
            "user": e.username, "pass": e.password,
        },
        "s3": {
            "endpoint": m.endpoint, "port": m.port, "use_ssl": m.use_ssl, "bucket_name": m.bucket_name,
            "bucket_region": m.bucket_region, "access_key": m.access_key, "secret_key": m.secret_key,
        },
        "listen": q.listen, "listen_routing": q.listen_routing, "listen_exchange": q.listen_exchange,
        "listen_callback_uri": listen_callback_uri,
        "push": q.push, "push_routing": q.push_routing, "push_exchange": q.push_exchange,
        "dead_letter_routing": q.dead_letter_routing,
    })
}

/// A registered connector.
pub fn connector(core: &Core, c: &Connector) -> Json {
    let now = core.store.clock().now();
    let r = &c.registration;
    json!({
        "id": r.id,
        "standard_id": format!("connector--{}", r.id),
        "entity_type": "Connector",
        "parent_types": ["Basic-Object", "Internal-Object"],
        "name": r.name,
        "title": r.name,
        "active": c.is_active(now),
        "auto": r.auto,
        "auto_update": r.auto_update,
        "enrichment_resolution": r.enrichment_resolution,
        "only_contextual": r.only_contextual,
        "playbook_compatible": r.playbook_compatible.unwrap_or(false),
        "connector_trigger_filters": null,
        "connector_type": r.connector_type,
        "connector_scope": c.scope(),
        "connector_state": c.connector_state,
        "connector_state_reset": c.connector_state_reset,
        "connector_state_timestamp": iso(c.connector_state_timestamp),
        "connector_user_id": c.connector_user_id,
        "connector_info": c.connector_info,
        "connector_priority_group": "DEFAULT",
        "updated_at": iso(c.updated_at),
        "created_at": iso(c.created_at),
        "refreshed_at": null,
        "last_seen_at": c.last_seen_at.map(iso),
        "config": connector_config(core, &r.id, r.listen_callback_uri.as_deref()),
        "built_in": false,
        "is_managed": false,
        "jwks": core.keys.jwks(),
        "version": r.version,
        "slug": r.slug,
        "xtm_one_intent": r.xtm_one_intent,
    })
}

/// A pseudo-connector of `connectorsForWorker` (internal queues the worker also consumes).
pub fn pseudo_connector(core: &Core, id: &str, name: &str) -> Json {
    json!({
        "id": id, "standard_id": format!("connector--{id}"), "entity_type": "Connector",
        "parent_types": ["Basic-Object", "Internal-Object"], "name": name, "title": name, "active": true,
        "connector_scope": [], "connector_priority_group": "DEFAULT", "built_in": true, "is_managed": false,
        "config": connector_config(core, id, None), "jwks": core.keys.jwks(),
    })
}

/// A user as `Connector.connector_user` shows it.
pub fn user(u: &User) -> Json {
    let tokens: Vec<Json> = u.api_tokens.iter().filter(|t| !t.revoked).map(|t| json!({"id": t.id, "name": t.name})).collect();
    json!({
        "id": u.id, "name": u.name, "user_email": u.user_email, "entity_type": "User",
        "api_tokens": tokens,
        "api_token": u.api_tokens.iter().find(|t| !t.revoked).map(|t| t.token.clone()),
    })
}

pub fn messages(list: &[WorkMessage]) -> Json {
    Json::Array(
        list.iter()
            .enumerate()
            .map(|(i, m)| json!({"timestamp": iso(m.timestamp), "message": m.message, "sequence": i, "source": m.source}))
            .collect(),
    )
}

/// A work. `user_name` is the name of the user who created it.
pub fn work(w: &Work, user_name: Option<&str>) -> Json {
    let tracking = if w.is_complete() {
        json!({"import_expected_number": w.import_expected_number, "import_processed_number": w.completed_number,
               "import_last_processed": w.import_last_processed.map(iso)})
    } else if w.alive {
        json!({"import_expected_number": w.import_expected_number, "import_processed_number": w.import_processed_number,
               "import_last_processed": w.import_last_processed.map(iso)})
    } else {
        json!({"import_expected_number": null, "import_processed_number": null, "import_last_processed": null})
    };
    json!({
        "id": w.id,
        "name": w.name,
        "user": {"id": w.user_id, "name": user_name.unwrap_or("Unknown"), "entity_type": "User"},
        "timestamp": iso(w.timestamp),
        "status": w.status.as_str(),
        "event_type": w.event_type,
        "event_source_id": w.event_source_id,
        "received_time": w.received_time.map(iso),
        "processed_time": w.processed_time.map(iso),
        "completed_time": w.completed_time.map(iso),
        "completed_number": w.completed_number,
        "messages": messages(&w.messages),
        "errors": messages(&w.errors),
        "tracking": tracking,
        "draft_context": w.draft_context,
        "is_multipart": w.is_multipart,
        "connector_id": w.connector_id,
        "updated_at": iso(w.updated_at),
    })
}
