//! Groups, roles and the capability tree: `group(s)`, `groupAdd`, `groupEdit`, `role(s)`,
//! `roleAdd`, `roleEdit`, `capabilities`.
//!
//! The relationships pycti adds and removes: `member-of` (user → group), `has-role`
//! (group → role), `accesses-to` (group → marking definition, which must exist) and
//! `has-capability` (role → capability of the tree). Each change recomputes the rights of
//! the users it concerns (see [`crate::store::users`]).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use chrono::{DateTime, Utc};
use serde_json::{Value as Json, json};

use crate::graphql::admin::users::relationship;
use crate::graphql::admin::{admin_error, cant_find, input_name, project, register_edit, register_list};
use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::edit::edit_inputs;
use crate::graphql::knowledge::list::connection;
use crate::graphql::knowledge::view::{Api, Shared, View, arg, arg_str, parent_str, with_view};
use crate::store::clock::iso;
use crate::store::groups::{CAPABILITIES, Group, Role, capability_named};
use crate::store::users::Users;

/// Registers the resolvers.
pub fn register(r: &mut Registry, api: &Shared) {
    let a = api.clone();
    r.json("Query", "group", move |ctx| read_group(ctx, &a, &arg_str(ctx, "id").unwrap_or_default()));
    register_list(r, api, "groups", |v| v.state.users.groups().iter().map(|g| project::group(v, g, true)).collect(), &["name", "description"]);
    let a = api.clone();
    r.json("Query", "role", move |ctx| read_role(ctx, &a, &arg_str(ctx, "id").unwrap_or_default()));
    register_list(r, api, "roles", |v| v.state.users.roles().iter().map(|r| project::role(v, r)).collect(), &["name", "description"]);
    let a = api.clone();
    r.json("Query", "capabilities", move |ctx| {
        let first = ctx.args.get("first").and_then(|f| f.i64().ok()).map_or(usize::MAX, |f| usize::try_from(f).unwrap_or(0));
        with_view(ctx, &a, |v| {
            let nodes: Vec<Json> = CAPABILITIES.iter().take(first).map(|(n, _)| project::capability(v, n)).collect();
            Ok(connection(nodes, 0, CAPABILITIES.len()))
        })
    });
    let a = api.clone();
    r.json("Mutation", "groupAdd", move |ctx| group_add(ctx, &a));
    register_edit(r, "groupEdit", "GroupEditMutations", Users::delete_group);
    let a = api.clone();
    r.json("GroupEditMutations", "fieldPatch", move |ctx| group_patch(ctx, &a));
    let a = api.clone();
    r.json("GroupEditMutations", "relationAdd", move |ctx| group_relation_add(ctx, &a));
    let a = api.clone();
    r.json("GroupEditMutations", "relationDelete", move |ctx| group_relation_delete(ctx, &a));
    let a = api.clone();
    r.json("GroupEditMutations", "editDefaultMarking", move |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        let input = arg(ctx, "input");
        let ty = input["entity_type"].as_str().unwrap_or_default().to_string();
        let values: Vec<String> = input["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect();
        let now = core.store.clock().now();
        core.store
            .write(|s| {
                s.users.edit_group(&id, now, |g| {
                    g.default_marking.retain(|(t, _)| *t != ty);
                    g.default_marking.push((ty, values));
                })
            })
            .ok_or_else(|| cant_find(&id))?;
        read_group(ctx, &a, &id)
    });
    let a = api.clone();
    r.json("Mutation", "roleAdd", move |ctx| {
        let (core, _) = parts(ctx)?;
        let input = arg(ctx, "input");
        let name = input_name(&input)?;
        let now = core.store.clock().now();
        let role = Role::new(&name, input["description"].as_str().map(str::to_string), now);
        let role = core.store.write(|s| s.users.add_role(role));
        read_role(ctx, &a, &role.id)
    });
    register_edit(r, "roleEdit", "RoleEditMutations", Users::delete_role);
    let a = api.clone();
    r.json("RoleEditMutations", "fieldPatch", move |ctx| {
        let id = field_patch_with(ctx, "role", |users, id, now, ops| users.edit_role(id, now, |r| apply_ops(r, ops, role_field)))?;
        read_role(ctx, &a, &id)
    });
    let a = api.clone();
    r.json("RoleEditMutations", "relationAdd", move |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        let input = arg(ctx, "input");
        let kind = input["relationship_type"].as_str().unwrap_or_default().to_string();
        let to = input["toId"].as_str().unwrap_or_default().to_string();
        let capability = capability_for(&kind, &to)?;
        let now = core.store.clock().now();
        core.store
            .write(|s| {
                s.users.edit_role(&id, now, |r| {
                    if !r.capabilities.iter().any(|c| c == capability) {
                        r.capabilities.push(capability.to_string());
                    }
                })
            })
            .ok_or_else(|| cant_find(&id))?;
        with_view(ctx, &a, |v| {
            let role = v.state.users.role(&id).ok_or_else(|| cant_find(&id))?;
            let mut from = project::role(v, role);
            from["__typename"] = json!("Role");
            let mut to = project::capability(v, capability);
            to["__typename"] = json!("Capability");
            Ok(relationship(&kind, from, to, &iso(now)))
        })
    });
    let a = api.clone();
    r.json("RoleEditMutations", "relationDelete", move |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        let kind = arg_str(ctx, "relationship_type").unwrap_or_default();
        let capability = capability_for(&kind, &arg_str(ctx, "toId").unwrap_or_default())?;
        let now = core.store.clock().now();
        core.store
            .write(|s| s.users.edit_role(&id, now, |r| r.capabilities.retain(|c| c != capability)))
            .ok_or_else(|| cant_find(&id))?;
        read_role(ctx, &a, &id)
    });
}

fn first(value: &Json) -> Json {
    match value {
        Json::Array(items) => items.first().cloned().unwrap_or(Json::Null),
        other => other.clone(),
    }
}

/// The capability a `has-capability` relationship names.
fn capability_for(kind: &str, to: &str) -> Result<&'static str, Error> {
    if kind != "has-capability" {
        return Err(functional(format!("Cannot handle a {kind} relationship of a role"), json!({"relationship_type": kind})));
    }
    capability_named(to).ok_or_else(|| functional("Cant find element to update", json!({"id": to})))
}

fn read_group(ctx: &ResolverContext<'_>, api: &Api, id: &str) -> Result<Json, Error> {
    with_view(ctx, api, |v| Ok(v.state.users.group(id).map(|g| project::group(v, g, true)).unwrap_or(Json::Null)))
}

fn read_role(ctx: &ResolverContext<'_>, api: &Api, id: &str) -> Result<Json, Error> {
    with_view(ctx, api, |v| Ok(v.state.users.role(id).map(|r| project::role(v, r)).unwrap_or(Json::Null)))
}

fn group_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let input = arg(ctx, "input");
    let name = input_name(&input)?;
    let now = core.store.clock().now();
    let mut g = Group::new(&name, now);
    g.description = input["description"].as_str().map(str::to_string);
    let flag = |k: &str| input[k].as_bool().unwrap_or(false);
    (g.default_assignation, g.no_creators, g.restrict_delete, g.auto_new_marking) =
        (flag("default_assignation"), flag("no_creators"), flag("restrict_delete"), flag("auto_new_marking"));
    if input["group_confidence_level"].is_object() {
        g.confidence = input["group_confidence_level"].clone();
    }
    let g = core.store.write(|s| s.users.add_group(g));
    read_group(ctx, api, &g.id)
}

fn group_patch(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let id = field_patch_with(ctx, "group", |users, id, now, ops| users.edit_group(id, now, |g| apply_ops(g, ops, group_field)))?;
    read_group(ctx, api, &id)
}

/// A field patch of the element the parent `…EditMutations` names: `edit` applies the
/// operations (`None`: no such element; `Some(Some(key))`: a key it cannot edit). Answers
/// the element's id.
fn field_patch_with(
    ctx: &ResolverContext<'_>,
    kind: &str,
    edit: impl FnOnce(&mut Users, &str, DateTime<Utc>, &[Json]) -> Option<Option<String>>,
) -> Result<String, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let ops = edit_inputs(&arg(ctx, "input"));
    let now = core.store.clock().now();
    match core.store.write(|s| edit(&mut s.users, &id, now, &ops)) {
        None => Err(cant_find(&id)),
        Some(Some(key)) => Err(functional(format!("{key} is not an attribute of a {kind} that can be edited"), json!({"key": key}))),
        Some(None) => Ok(id),
    }
}

/// Applies edit operations with `set` (which answers `false` for a key it does not edit);
/// answers the first refused key.
fn apply_ops<T>(target: &mut T, ops: &[Json], set: fn(&mut T, &str, Json) -> bool) -> Option<String> {
    ops.iter().find_map(|op| {
        let key = op["key"].as_str().unwrap_or_default();
        (!set(target, key, first(&op["value"]))).then(|| key.to_string())
    })
}

fn role_field(r: &mut Role, key: &str, value: Json) -> bool {
    match key {
        "name" => r.name = value.as_str().unwrap_or(&r.name).to_string(),
        "description" => r.description = value.as_str().map(str::to_string),
        _ => return false,
    }
    true
}

fn group_field(g: &mut Group, key: &str, value: Json) -> bool {
    let flag = |v: &Json| v.as_bool().or_else(|| v.as_str().map(|s| s == "true")).unwrap_or(false);
    match key {
        "name" => g.name = value.as_str().unwrap_or(&g.name).to_string(),
        "description" => g.description = value.as_str().map(str::to_string),
        "default_assignation" => g.default_assignation = flag(&value),
        "no_creators" => g.no_creators = flag(&value),
        "restrict_delete" => g.restrict_delete = flag(&value),
        "auto_new_marking" => g.auto_new_marking = flag(&value),
        "group_confidence_level" => g.confidence = value,
        _ => return false,
    }
    true
}

/// The internal id of a marking definition the caller may see.
fn marking_id(v: &View<'_>, id: &str) -> Option<String> {
    v.get_as(id, "MarkingDefinition").map(|o| o.internal_id.to_string())
}

fn group_relation_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let input = arg(ctx, "input");
    let kind = input["relationship_type"].as_str().unwrap_or_default().to_string();
    let (from_id, to_id) = (input["fromId"].as_str().unwrap_or_default().to_string(), input["toId"].as_str().unwrap_or_default().to_string());
    let now = core.store.clock().now();
    match kind.as_str() {
        "member-of" => core.store.write(|s| s.users.join(&from_id, &id, now)).map_err(admin_error)?,
        "has-role" => {
            let role = core.store.read(|s| s.users.role(&to_id).map(|r| r.id.clone())).ok_or_else(|| cant_find(&to_id))?;
            core.store
                .write(|s| s.users.edit_group(&id, now, |g| if !g.roles.contains(&role) { g.roles.push(role) }))
                .ok_or_else(|| cant_find(&id))?;
        }
        "accesses-to" => {
            let marking = with_view(ctx, api, |v| Ok(marking_id(v, &to_id)))?.ok_or_else(|| cant_find(&to_id))?;
            core.store
                .write(|s| {
                    s.users.edit_group(&id, now, |g| {
                        let list = g.allowed_markings.get_or_insert_with(Vec::new);
                        if !list.contains(&marking) {
                            list.push(marking);
                        }
                    })
                })
                .ok_or_else(|| cant_find(&id))?;
        }
        other => {
            return Err(functional(format!("Cannot add a {other} relationship to a group"), json!({"relationship_type": other})));
        }
    }
    with_view(ctx, api, |v| {
        let users = &v.state.users;
        let group = users.group(&id).ok_or_else(|| cant_find(&id))?;
        let mut g = project::group(v, group, true);
        g["__typename"] = json!("Group");
        let (from, to) = match kind.as_str() {
            "member-of" => {
                let mut u = users.user(&from_id).map(|u| project::user(v, u, true)).unwrap_or(Json::Null);
                u["__typename"] = json!("User");
                (u, g)
            }
            "has-role" => {
                let mut r = users.role(&to_id).map(|r| project::role(v, r)).unwrap_or(Json::Null);
                r["__typename"] = json!("Role");
                (g, r)
            }
            // A marking definition is no internal object: `to` stays empty.
            _ => (g, Json::Null),
        };
        Ok(relationship(&kind, from, to, &iso(now)))
    })
}

fn group_relation_delete(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let kind = arg_str(ctx, "relationship_type").unwrap_or_default();
    let (from_id, to_id) = (arg_str(ctx, "fromId").unwrap_or_default(), arg_str(ctx, "toId").unwrap_or_default());
    let now = core.store.clock().now();
    match kind.as_str() {
        "member-of" => core.store.write(|s| s.users.leave(&from_id, &id, now)).map_err(admin_error)?,
        "has-role" => {
            let role = core.store.read(|s| s.users.role(&to_id).map(|r| r.id.clone())).unwrap_or(to_id.clone());
            core.store.write(|s| s.users.edit_group(&id, now, |g| g.roles.retain(|r| *r != role))).ok_or_else(|| cant_find(&id))?;
        }
        "accesses-to" => {
            let marking = with_view(ctx, api, |v| Ok(marking_id(v, &to_id)))?.unwrap_or(to_id.clone());
            core.store
                .write(|s| s.users.edit_group(&id, now, |g| g.allowed_markings.iter_mut().for_each(|l| l.retain(|m| *m != marking))))
                .ok_or_else(|| cant_find(&id))?;
        }
        other => {
            return Err(functional(format!("Cannot delete a {other} relationship of a group"), json!({"relationship_type": other})));
        }
    }
    read_group(ctx, api, &id)
}
