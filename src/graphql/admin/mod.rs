//! Administration (`admin.graphql`): users, groups, roles and the capability tree, and the
//! knowledge history and audit logs, as pycti's `User`, `Group`, `Role`, `Capability`,
//! `Log` and `Audit` classes use them.
//!
//! Users, groups and roles are the store's ([`crate::store::users`],
//! [`crate::store::groups`]): a user created here authenticates with its tokens and gets
//! exactly the capabilities of its groups' roles and the markings its groups allow, as the
//! store's access rules read them. Answers are plain JSON projections
//! ([`project`]); marking definitions and organizations they show are the knowledge
//! store's objects, projected through the caller's view (so a caller never sees a marking
//! it may not see).
//!
//! Refusals are the platform's: an unknown id to edit is `FUNCTIONAL_ERROR` ("Cant find
//! element to update", the platform's wording for edits of unknown elements), a duplicate
//! e-mail "User already exists", a missing capability `FORBIDDEN_ACCESS` (the builder's
//! `@auth`). `sendUserMail` needs an e-mail template (an enterprise-edition module the
//! mock does not have): it answers the error naming it.

pub mod groups;
pub mod logs;
pub mod project;
pub mod users;

use async_graphql::Error;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::list::{ListArgs, connection};
use crate::graphql::context::parts;
use crate::graphql::knowledge::view::{Shared, View, arg_str, parent_str, with_view};
use crate::store::users::{AdminError, Users};

/// Registers the resolvers (after the knowledge layer, which answers every
/// `…EditMutations` type it finds: these replace its handlers for the types here).
pub fn register(r: &mut Registry, api: &Shared) {
    // Fields the knowledge layer computes from STIX references on every type declaring
    // them are plain values of the projections here.
    for (ty, name) in
        [("InternalRelationship", "from"), ("InternalRelationship", "to"), ("User", "objectOrganization"), ("MeUser", "objectOrganization")]
    {
        r.json(ty, name, move |ctx| Ok(crate::graphql::knowledge::view::parent(ctx, name)));
    }
    // The mock runs no inference rules: nothing it stores is inferred.
    r.json("Organization", "is_inferred", |_| Ok(json!(false)));
    users::register(r, api);
    groups::register(r, api);
    logs::register(r);
}

/// The platform's error for a refused administration change.
pub fn admin_error(e: AdminError) -> Error {
    match &e {
        AdminError::DuplicateEmail(email) => functional("User already exists", json!({"email": email})),
        AdminError::Missing(kind, id) => functional("Cant find element to update", json!({"id": id, "type": kind})),
        AdminError::Admin => functional("Cannot delete the platform administrator", json!({})),
    }
}

/// The `name` of a creation input: at least two characters once trimmed (the platform's
/// `@constraint(minLength: 2, format: "not-blank")`).
pub fn input_name(input: &Json) -> Result<String, Error> {
    let name = input["name"].as_str().unwrap_or_default().trim().to_string();
    if name.chars().count() < 2 {
        return Err(functional("Name must be at least 2 characters", json!({"field": "name"})));
    }
    Ok(name)
}

/// The platform's error for an edit of an element that does not exist.
pub fn cant_find(id: &str) -> Error {
    functional("Cant find element to update", json!({"id": id}))
}

/// Registers an `xEdit(id)` root field (its value carries the id to the operations) and
/// the `delete` operation of its `…EditMutations` type.
pub fn register_edit(r: &mut Registry, field: &str, ty: &str, delete: fn(&mut Users, &str) -> Result<String, AdminError>) {
    r.json("Mutation", field, |ctx| Ok(json!({"id": arg_str(ctx, "id").unwrap_or_default()})));
    r.json(ty, "delete", move |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        core.store.write(|s| delete(&mut s.users, &id)).map(Json::from).map_err(admin_error)
    });
}

/// Registers a list root field over the projected nodes `nodes` gives.
pub fn register_list(r: &mut Registry, api: &Shared, field: &str, nodes: fn(&View<'_>) -> Vec<Json>, search_keys: &'static [&'static str]) {
    let a = api.clone();
    r.json("Query", field, move |ctx| {
        let args = ListArgs::read(ctx)?;
        with_view(ctx, &a, |v| Ok(page(nodes(v), &args, search_keys)))
    });
}

/// Filters (keys read off the projected node), searches (`search_keys`), orders and pages
/// projected nodes as a connection.
pub fn page(mut nodes: Vec<Json>, args: &ListArgs, search_keys: &[&str]) -> Json {
    nodes.retain(|n| {
        let searched = args.search.iter().all(|w| {
            search_keys.iter().any(|k| n[*k].as_str().is_some_and(|s| s.to_lowercase().contains(w.as_str())))
        });
        let lookup = |key: &str| -> Vec<Json> {
            match &n[key] {
                Json::Null => Vec::new(),
                Json::Array(a) => a.clone(),
                v => vec![v.clone()],
            }
        };
        searched && args.filters.as_ref().is_none_or(|f| f.matches(&lookup))
    });
    if let Some(key) = &args.order_by {
        nodes.sort_by(|a, b| {
            let (x, y) = (a[key.as_str()].to_string().to_lowercase(), b[key.as_str()].to_string().to_lowercase());
            if args.asc { x.cmp(&y) } else { y.cmp(&x) }
        });
    }
    let total = nodes.len();
    let page: Vec<Json> = nodes.into_iter().skip(args.offset).take(args.first).collect();
    connection(page, args.offset, total)
}
