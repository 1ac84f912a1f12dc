//! Users, groups, roles and capabilities as the GraphQL objects `admin.graphql` declares.
//!
//! Nested values are projected once, without cycles: a group lists its members only at the
//! top level, and the groups a member shows do not list members again.

use serde_json::{Value as Json, json};

use crate::graphql::knowledge::list::connection;
use crate::graphql::knowledge::view::View;
use crate::store::clock::iso;
use crate::store::groups::{CAPABILITIES, Group, Role, capability_id};
use crate::store::users::User;

const PARENTS: [&str; 2] = ["Basic-Object", "Internal-Object"];

/// A capability by name.
pub fn capability(v: &View<'_>, name: &str) -> Json {
    let since = iso(v.state.users.admin().created_at);
    let order = CAPABILITIES.iter().position(|(n, _)| *n == name);
    let description = order.map(|i| CAPABILITIES[i].1);
    let id = capability_id(name);
    json!({
        "id": id, "standard_id": format!("capability--{id}"), "entity_type": "Capability", "parent_types": PARENTS,
        "name": name, "description": description, "attribute_order": order.map(|i| (i + 1) * 100),
        "created_at": since, "updated_at": since,
    })
}

/// A role.
pub fn role(v: &View<'_>, r: &Role) -> Json {
    let caps: Vec<Json> = r.capabilities.iter().map(|c| capability(v, c)).collect();
    json!({
        "id": r.id, "standard_id": format!("role--{}", r.id), "entity_type": "Role", "parent_types": PARENTS,
        "name": r.name, "description": r.description, "created_at": iso(r.created_at), "updated_at": iso(r.updated_at),
        "capabilities": caps, "capabilitiesInDraft": [], "can_manage_sensitive_config": null,
    })
}

/// The marking definitions among `ids` the caller may see.
fn markings(v: &View<'_>, ids: &[String]) -> Vec<Json> {
    ids.iter().filter_map(|id| v.get_as(id, "MarkingDefinition")).map(|o| v.project(o)).collect()
}

/// A group; `members`: list its members (top level only).
pub fn group(v: &View<'_>, g: &Group, members: bool) -> Json {
    let roles: Vec<Json> = g.roles.iter().filter_map(|id| v.state.users.role(id)).map(|r| role(v, r)).collect();
    let allowed = match &g.allowed_markings {
        Some(ids) => markings(v, ids),
        // Every marking: the install's groups.
        None => v.knowledge().all().filter(|o| &*o.entity_type == "Marking-Definition" && v.visible(o)).map(|o| v.project(o)).collect(),
    };
    let defaults: Vec<Json> =
        g.default_marking.iter().map(|(ty, ids)| json!({"entity_type": ty, "values": markings(v, ids)})).collect();
    let member_nodes: Vec<Json> = if members {
        v.state.users.all().iter().filter(|u| u.group_ids.contains(&g.id)).map(|u| user(v, u, false)).collect()
    } else {
        Vec::new()
    };
    let total = member_nodes.len();
    json!({
        "id": g.id, "standard_id": format!("group--{}", g.id), "entity_type": "Group", "parent_types": PARENTS,
        "auto_integration_assignation": [], "name": g.name, "description": g.description,
        "default_assignation": g.default_assignation, "no_creators": g.no_creators, "restrict_delete": g.restrict_delete,
        "auto_new_marking": g.auto_new_marking, "created_at": iso(g.created_at), "updated_at": iso(g.updated_at),
        "members": if members { connection(member_nodes, 0, total) } else { Json::Null },
        "roles": connection(roles.clone(), 0, roles.len()),
        "allowed_marking": allowed, "default_marking": defaults,
        "not_shareable_marking_types": [], "max_shareable_marking": [], "default_hidden_types": [],
        "group_confidence_level": g.confidence,
    })
}

/// The user's effective confidence: BYPASS → 100; its own level when set; else the highest
/// of its groups'.
fn effective_confidence(v: &View<'_>, u: &User) -> Json {
    if u.is_bypass() {
        return json!({"max_confidence": 100, "overrides": [], "source": {"type": "Bypass", "object": null}});
    }
    if let Some(max) = u.profile.get("user_confidence_level").and_then(|c| c["max_confidence"].as_i64()) {
        let object = json!({"__typename": "User", "id": u.id, "name": u.name, "entity_type": "User"});
        return json!({"max_confidence": max, "overrides": [], "source": {"type": "User", "object": object}});
    }
    let best = u
        .group_ids
        .iter()
        .filter_map(|id| v.state.users.group(id))
        .filter_map(|g| g.confidence["max_confidence"].as_i64().map(|m| (m, g)))
        .max_by_key(|(m, _)| *m);
    match best {
        Some((max, g)) => {
            let object = json!({"__typename": "Group", "id": g.id, "name": g.name, "entity_type": "Group"});
            json!({"max_confidence": max, "overrides": [], "source": {"type": "Group", "object": object}})
        }
        None => Json::Null,
    }
}

/// A user; `top`: its groups are listed with their members' view of them (no members).
pub fn user(v: &View<'_>, u: &User, top: bool) -> Json {
    let groups: Vec<&Group> = u.group_ids.iter().filter_map(|id| v.state.users.group(id)).collect();
    let mut role_ids: Vec<&String> = groups.iter().flat_map(|g| g.roles.iter()).collect();
    role_ids.dedup();
    let roles: Vec<Json> = role_ids.into_iter().filter_map(|id| v.state.users.role(id)).map(|r| role(v, r)).collect();
    let caps: Vec<Json> = u.capabilities.iter().map(|c| capability(v, c)).collect();
    let group_nodes: Vec<Json> = if top { groups.iter().map(|g| group(v, g, false)).collect() } else { Vec::new() };
    let orgs: Vec<Json> =
        u.organization_ids.iter().filter_map(|id| v.get_as(id, "Organization")).map(|o| v.project(o)).collect();
    let tokens: Vec<Json> = u.api_tokens.iter().filter(|t| !t.revoked).map(|t| json!({"id": t.id, "name": t.name})).collect();
    let p = |k: &str| u.profile.get(k).cloned().unwrap_or(Json::Null);
    let flag = |k: &str, default: bool| u.profile.get(k).and_then(Json::as_bool).unwrap_or(default);
    json!({
        "id": u.id, "standard_id": format!("user--{}", u.id), "entity_type": "User", "parent_types": PARENTS,
        "user_email": u.user_email, "name": u.name, "individual_id": null,
        "description": p("description"), "firstname": p("firstname"), "lastname": p("lastname"),
        "language": u.profile.get("language").cloned().unwrap_or(json!("auto")), "theme": p("theme"),
        "unit_system": p("unit_system"), "external": false, "otp_activated": false, "otp_mandatory": false,
        "user_service_account": flag("user_service_account", false),
        "restrict_delete": groups.iter().any(|g| g.restrict_delete), "no_creators": groups.iter().any(|g| g.no_creators),
        "account_status": u.profile.get("account_status").cloned().unwrap_or(json!("Active")),
        "account_lock_after_date": p("account_lock_after_date"),
        "submenu_show_icons": flag("submenu_show_icons", false), "submenu_auto_collapse": flag("submenu_auto_collapse", true),
        "monochrome_labels": flag("monochrome_labels", false),
        "created_at": iso(u.created_at), "updated_at": iso(u.updated_at),
        "roles": roles, "capabilities": caps.clone(), "capabilitiesInDraft": [], "default_hidden_types": [],
        "groups": if top { connection(group_nodes.clone(), 0, group_nodes.len()) } else { Json::Null },
        "objectOrganization": connection(orgs.clone(), 0, orgs.len()), "administrated_organizations": [],
        "user_confidence_level": p("user_confidence_level"), "effective_confidence_level": effective_confidence(v, u),
        "sessions": [], "api_tokens": tokens,
        "api_token": u.api_tokens.iter().find(|t| !t.revoked).map(|t| t.token.clone()),
        "allowed_marking": match &u.allowed_markings {
            Some(ids) => markings(v, ids),
            None => v.knowledge().all().filter(|o| &*o.entity_type == "Marking-Definition").map(|o| v.project(o)).collect(),
        },
    })
}
