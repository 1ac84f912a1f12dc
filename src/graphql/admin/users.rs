//! `me`, `user`, `users`, `userAdd`, `userEdit`, the 7.x token mutations and
//! `sendUserMail`.
//!
//! Tokens: a 6.9 platform gives every new user a token (its `api_token`); on 7.x users get
//! tokens only through `userAdminTokenAdd`, whose secret is answered once. The mock keeps
//! a token's duration as its `expires_at` answer but does not expire tokens.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Map, Value as Json, json};

use crate::graphql::admin::{admin_error, cant_find, input_name, project, register_edit, register_list};
use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::edit::edit_inputs;
use crate::graphql::knowledge::not_supported;
use crate::graphql::knowledge::view::{Api, Shared, arg, arg_str, parent_str, with_view};
use crate::profile::Profile;
use crate::store::clock::iso;
use crate::store::users::{NewUser, Users};

/// User attributes a field patch or a creation may set, besides `name` and `user_email`.
const PROFILE: &[&str] = &[
    "firstname",
    "lastname",
    "description",
    "language",
    "theme",
    "account_status",
    "account_lock_after_date",
    "unit_system",
    "submenu_show_icons",
    "submenu_auto_collapse",
    "monochrome_labels",
    "user_confidence_level",
    "user_service_account",
    "unsubscribed_news_feed_types",
];

/// Registers the resolvers.
pub fn register(r: &mut Registry, api: &Shared) {
    let a = api.clone();
    r.json("Query", "me", move |ctx| {
        let id = parts(ctx)?.1.user()?.id.clone();
        let me = read_user(ctx, &a, &id)?;
        if me.is_null() {
            return Err(cant_find(&id));
        }
        Ok(me)
    });
    let a = api.clone();
    r.json("Query", "user", move |ctx| read_user(ctx, &a, &arg_str(ctx, "id").unwrap_or_default()));
    register_list(r, api, "users", |v| v.state.users.all().iter().map(|u| project::user(v, u, true)).collect(), &[
        "name",
        "user_email",
        "firstname",
        "lastname",
    ]);
    let a = api.clone();
    r.json("Mutation", "userAdd", move |ctx| user_add(ctx, &a));
    register_edit(r, "userEdit", "UserEditMutations", Users::delete_user);
    let a = api.clone();
    r.json("UserEditMutations", "fieldPatch", move |ctx| field_patch(ctx, &a));
    let a = api.clone();
    r.json("UserEditMutations", "relationAdd", move |ctx| relation_add(ctx, &a));
    let a = api.clone();
    r.json("UserEditMutations", "relationDelete", move |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        let to = arg_str(ctx, "toId").unwrap_or_default();
        let kind = arg_str(ctx, "relationship_type").unwrap_or_default();
        if kind != "member-of" {
            return Err(functional(format!("Cannot delete a {kind} relationship of a user"), json!({"relationship_type": kind})));
        }
        let now = core.store.clock().now();
        core.store.write(|s| s.users.leave(&id, &to, now)).map_err(admin_error)?;
        read_user(ctx, &a, &id)
    });
    for (op, add) in [("organizationAdd", true), ("organizationDelete", false)] {
        let a = api.clone();
        r.json("UserEditMutations", op, move |ctx| organization(ctx, &a, add));
    }
    r.json("Mutation", "userAdminTokenAdd", token_add);
    r.json("Mutation", "userAdminTokenRevoke", |ctx| {
        let (core, _) = parts(ctx)?;
        let (user, token) = (arg_str(ctx, "userId").unwrap_or_default(), arg_str(ctx, "id").unwrap_or_default());
        let now = core.store.clock().now();
        if core.store.write(|s| s.users.revoke_token_id(&user, &token, now)) {
            Ok(json!(token))
        } else {
            Err(functional("Token not found", json!({"userId": user, "id": token})))
        }
    });
    r.json("Mutation", "sendUserMail", |_| {
        Err(not_supported("sendUserMail", "e-mail templates are an enterprise-edition module the mock does not have"))
    });
}

/// A user by id as the caller sees it; `null` when unknown.
fn read_user(ctx: &ResolverContext<'_>, api: &Api, id: &str) -> Result<Json, Error> {
    with_view(ctx, api, |v| Ok(v.state.users.user(id).map(|u| project::user(v, u, true)).unwrap_or(Json::Null)))
}

/// The first value of an edit, or the whole list for list attributes.
fn edit_value(key: &str, value: &Json) -> Json {
    match value {
        Json::Array(items) if key != "unsubscribed_news_feed_types" => items.first().cloned().unwrap_or(Json::Null),
        other => other.clone(),
    }
}

fn user_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let input = arg(ctx, "input");
    let name = input_name(&input)?;
    let email = input["user_email"].as_str().map(str::to_string).unwrap_or_else(|| format!("{}@opencti.invalid", uuid::Uuid::new_v4()));
    if !email.contains('@') {
        return Err(functional("The email address is invalid", json!({"user_email": email})));
    }
    let strings = |k: &str| -> Vec<String> {
        input[k].as_array().into_iter().flatten().filter_map(|v| v.as_str().map(str::to_string)).collect()
    };
    let profile: Map<String, Json> =
        PROFILE.iter().filter(|k| !input[**k].is_null()).map(|k| (k.to_string(), input[*k].clone())).collect();
    let new = NewUser {
        name,
        user_email: email,
        groups: strings("groups"),
        organizations: strings("objectOrganization"),
        prevent_default_groups: input["prevent_default_groups"].as_bool().unwrap_or(false),
        profile,
        with_token: core.store.read(|s| s.profile) == Profile::V6_9,
    };
    let now = core.store.clock().now();
    let user = core.store.write(|s| s.users.create(new, now)).map_err(admin_error)?;
    read_user(ctx, api, &user.id)
}

fn field_patch(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let ops = edit_inputs(&arg(ctx, "input"));
    for op in &ops {
        let key = op["key"].as_str().unwrap_or_default();
        if !(key == "name" || key == "user_email" || key == "password" || PROFILE.contains(&key)) {
            return Err(functional(format!("{key} is not an attribute of a user that can be edited"), json!({"key": key})));
        }
    }
    let now = core.store.clock().now();
    let duplicate = ops.iter().find_map(|op| {
        let email = edit_value("user_email", &op["value"]).as_str().map(str::to_lowercase)?;
        (op["key"] == "user_email")
            .then(|| core.store.read(|s| s.users.all().iter().any(|u| u.user_email == email && u.id != id)).then_some(email))
            .flatten()
    });
    if let Some(email) = duplicate {
        return Err(functional("User already exists", json!({"email": email})));
    }
    core.store
        .write(|s| {
            s.users.edit_user(&id, now, |u| {
                for op in &ops {
                    let key = op["key"].as_str().unwrap_or_default();
                    let value = edit_value(key, &op["value"]);
                    match key {
                        "name" => u.name = value.as_str().unwrap_or(&u.name).to_string(),
                        "user_email" => u.user_email = value.as_str().unwrap_or(&u.user_email).to_lowercase(),
                        // The platform keeps only a hash; the mock has no login to check it with.
                        "password" => {}
                        _ if value.is_null() => {
                            u.profile.remove(key);
                        }
                        _ => {
                            u.profile.insert(key.to_string(), value);
                        }
                    }
                }
            })
        })
        .ok_or_else(|| cant_find(&id))?;
    read_user(ctx, api, &id)
}

/// An internal relationship as `relationAdd` answers it.
pub fn relationship(kind: &str, from: Json, to: Json, now: &str) -> Json {
    let id = uuid::Uuid::new_v4().to_string();
    json!({
        "id": id, "standard_id": format!("internal-relationship--{id}"), "entity_type": kind,
        "parent_types": ["basic-relationship", "internal-relationship"], "fromRole": format!("{kind}_from"),
        "toRole": format!("{kind}_to"), "created_at": now, "updated_at": now, "from": from, "to": to,
    })
}

fn relation_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let input = arg(ctx, "input");
    let kind = input["relationship_type"].as_str().unwrap_or_default();
    let to = input["toId"].as_str().unwrap_or_default().to_string();
    if kind != "member-of" {
        return Err(functional(format!("Cannot add a {kind} relationship to a user"), json!({"relationship_type": kind})));
    }
    let now = core.store.clock().now();
    core.store.write(|s| s.users.join(&id, &to, now)).map_err(admin_error)?;
    with_view(ctx, api, |v| {
        let users = &v.state.users;
        let (Some(u), Some(g)) = (users.user(&id), users.group(&to)) else { return Err(cant_find(&id)) };
        let mut from = project::user(v, u, true);
        from["__typename"] = json!("User");
        let mut to = project::group(v, g, true);
        to["__typename"] = json!("Group");
        Ok(relationship(kind, from, to, &iso(now)))
    })
}

fn organization(ctx: &ResolverContext<'_>, api: &Api, add: bool) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let org = arg_str(ctx, "organizationId").unwrap_or_default();
    let internal = with_view(ctx, api, |v| Ok(v.get_as(&org, "Organization").map(|o| o.internal_id.to_string())))?;
    let internal = match (internal, add) {
        (Some(i), _) => i,
        (None, false) => org.clone(),
        (None, true) => return Err(functional("Cant find element to update", json!({"id": org}))),
    };
    let now = core.store.clock().now();
    core.store
        .write(|s| {
            s.users.edit_user(&id, now, |u| {
                u.organization_ids.retain(|o| *o != internal);
                if add {
                    u.organization_ids.push(internal.clone());
                }
            })
        })
        .ok_or_else(|| cant_find(&id))?;
    read_user(ctx, api, &id)
}

fn token_add(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let user = arg_str(ctx, "userId").unwrap_or_default();
    let input = arg(ctx, "input");
    let name = input["name"].as_str().unwrap_or("Token").to_string();
    let days = match input["duration"].as_str().unwrap_or("UNLIMITED") {
        "DAYS_30" => Some(30),
        "DAYS_60" => Some(60),
        "DAYS_90" => Some(90),
        "DAYS_365" => Some(365),
        _ => None,
    };
    let now = core.store.clock().now();
    let token = core.store.write(|s| s.users.add_token(&user, &name, now)).ok_or_else(|| cant_find(&user))?;
    let masked: String = format!("{}{}", "*".repeat(token.token.len().saturating_sub(4)), &token.token[token.token.len().saturating_sub(4)..]);
    Ok(json!({
        "token_id": token.id, "plaintext_token": token.token, "masked_token": masked,
        "expires_at": days.map(|d| iso(now + chrono::Duration::days(d))),
    }))
}
