//! `logs`, `audits`, `log`, `audit`: the platform's history and activity logs.
//!
//! What the mock answers, and why:
//! - `logs` (and `log(id)`) is the knowledge history: one `History` entry per change of the
//!   knowledge, read from the store's event log (the same events the live stream serves),
//!   with the change's user, date and scope (`create`, `update`, `delete`, `merge`).
//! - `audits` follows the platform's `computeAuditTypes` (`domain/log.ts`): a caller
//!   holding `SETTINGS_SECURITYACTIVITY` (administrators: BYPASS) is answered `Activity`
//!   entries, others holding `KNOWLEDGE` the `History` ones, and a caller with neither is
//!   refused (`FORBIDDEN_ACCESS`); `types` narrows. Activity entries are written by the
//!   platform's activity manager only with an enterprise-edition licence; the mock is a
//!   community-edition platform (`settings.platform_enterprise_edition.license_enterprise`
//!   is false), so it has none and answers an empty page for them, as the platform would.

use async_graphql::Error;
use serde_json::{Value as Json, json};

use crate::graphql::admin::page;
use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::FORBIDDEN_ACCESS;
use crate::graphql::knowledge::list::ListArgs;
use crate::graphql::knowledge::view::{arg_str, arg_strs};
use crate::store::State;
use crate::store::clock::iso;
use crate::store::events::{EventBody, KnowledgeEvent};
use crate::store::users::User;

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.json("Query", "logs", |ctx| {
        let args = ListArgs::read(ctx)?;
        let (core, _) = parts(ctx)?;
        Ok(page(core.store.read(history), &args, &["event_scope", "entity_type"]))
    });
    r.json("Query", "log", |ctx| {
        let id = arg_str(ctx, "id").unwrap_or_default();
        let (core, _) = parts(ctx)?;
        Ok(core.store.read(history).into_iter().find(|l| l["id"] == id.as_str()).unwrap_or(Json::Null))
    });
    r.json("Query", "audits", |ctx| {
        let args = ListArgs::read(ctx)?;
        let (core, caller) = parts(ctx)?;
        let types = audit_types(caller.user()?, &arg_strs(ctx, "types"))?;
        let nodes = if types.iter().any(|t| t == "History") { core.store.read(history) } else { Vec::new() };
        Ok(page(nodes, &args, &["event_scope", "entity_type"]))
    });
    r.json("Query", "audit", |ctx| {
        let id = arg_str(ctx, "id").unwrap_or_default();
        let (core, caller) = parts(ctx)?;
        let types = audit_types(caller.user()?, &[])?;
        if !types.iter().any(|t| t == "History") {
            return Ok(Json::Null);
        }
        Ok(core.store.read(history).into_iter().find(|l| l["id"] == id.as_str()).unwrap_or(Json::Null))
    });
}

/// The log types an audit request reads (`computeAuditTypes`).
fn audit_types(user: &User, requested: &[String]) -> Result<Vec<String>, Error> {
    let activity = user.has_capability("SETTINGS_SECURITYACTIVITY");
    let mut types: Vec<String> = if requested.is_empty() {
        vec![if activity { "Activity" } else { "History" }.to_string()]
    } else {
        requested.to_vec()
    };
    if !user.has_any_capability(&["KNOWLEDGE"]) {
        types.retain(|t| t != "History");
    }
    if !activity {
        types.retain(|t| t != "Activity");
    }
    if types.is_empty() {
        return Err(FORBIDDEN_ACCESS.err());
    }
    Ok(types)
}

/// The knowledge history, oldest first.
fn history(s: &State) -> Vec<Json> {
    s.knowledge.events().iter().filter_map(|e| entry(s, e)).collect()
}

/// A history entry for a change of the knowledge (injected test events are none).
fn entry(s: &State, e: &KnowledgeEvent) -> Option<Json> {
    let EventBody::Change { object, .. } = &e.body else { return None };
    let body = object.json();
    let name = ["name", "value", "definition", "pattern"].iter().find_map(|k| body[*k].as_str()).unwrap_or(&object.standard_id).to_string();
    let user_id = e.origin.as_ref().and_then(|o| o["user_id"].as_str()).unwrap_or(&s.users.admin().id).to_string();
    let user = s.users.by_id(&user_id).map(|u| json!({"id": u.id, "name": u.name, "entity_type": "User"}));
    let scope = e.kind.name();
    let verb = match scope {
        "create" => "creates",
        "delete" => "deletes",
        "merge" => "merges",
        _ => "updates",
    };
    Some(json!({
        "id": e.id.to_string(), "entity_type": "History", "event_type": "mutation", "event_scope": scope,
        "event_status": "success", "timestamp": iso(e.at), "user_id": user_id, "user": user, "raw_data": null,
        "context_uri": null, "user_metadata": null,
        "context_data": {
            "entity_id": object.internal_id.to_string(), "entity_name": name, "entity_type": &*object.entity_type,
            "message": format!("{verb} `{name}`"), "commit": null, "from_id": null, "to_id": null,
        },
    }))
}
