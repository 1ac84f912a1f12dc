//! Live stream collections over GraphQL: `streamCollection`, `streamCollections`,
//! `streamCollectionAdd`, `streamCollectionEdit { fieldPatch delete }`.
//!
//! As the platform's `streamCollection` domain: the filters are checked as the stream will
//! test them (`crate::stream::filter::validate`), `stream_live` and `stream_public` are
//! stored as given (left out, `stream_live` is false and the stream answers 410), users
//! with `TAXIIAPI` list every collection and anyone else only the public ones.

use async_graphql::dynamic::ResolverContext;
use async_graphql::Error;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::edit::edit_inputs;
use crate::graphql::knowledge::list::{connection, page_args};
use crate::graphql::knowledge::view::{arg, arg_str, parent_str};
use crate::store::State;
use crate::store::streams::StreamCollection;

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.json("Query", "streamCollection", |ctx| {
        let (core, _) = parts(ctx)?;
        let id = arg_str(ctx, "id").unwrap_or_default();
        Ok(core.store.read(|s| s.streams.get(&id).map(|c| project(s, c)).unwrap_or(Json::Null)))
    });
    r.json("Query", "streamCollections", collections);
    r.json("Mutation", "streamCollectionAdd", add);
    r.json("Mutation", "streamCollectionEdit", |ctx| Ok(json!({"id": arg_str(ctx, "id").unwrap_or_default()})));
    r.json("StreamCollectionEditMutations", "fieldPatch", field_patch);
    r.json("StreamCollectionEditMutations", "delete", |ctx| {
        let (core, _) = parts(ctx)?;
        let id = parent_str(ctx, "id").unwrap_or_default();
        if core.store.write(|s| s.streams.delete(&id)) { Ok(json!(id)) } else { Err(not_found(&id)) }
    });
}

fn not_found(id: &str) -> Error {
    functional("Cant find element to update", json!({"id": id}))
}

/// A collection as the API answers it, with its open connections as `consumers`.
fn project(s: &State, c: &StreamCollection) -> Json {
    let consumers: Vec<Json> = s
        .streams
        .connections()
        .iter()
        .filter(|k| k.stream == c.id && k.end.is_none())
        .map(|k| {
            let email = k.user_id.as_deref().and_then(|u| s.users.by_id(u)).map(|u| u.user_email.clone());
            let last_date = k
                .last_event_id
                .as_deref()
                .and_then(|id| id.parse::<crate::store::events::EventId>().ok())
                .map(|id| crate::store::clock::iso(id.date()));
            json!({
                "connectionId": k.connection_id, "userId": k.user_id, "userEmail": email,
                "connectedAt": crate::store::clock::iso(k.connected_at), "lastEventId": k.last_event_id,
                "lastEventDate": last_date, "productionRate": 0.0, "deliveryRate": 0.0, "processingRate": 0.0,
                "resolutionRate": 0.0, "timeLag": 0.0, "estimatedOutOfDepth": null,
            })
        })
        .collect();
    json!({
        "id": c.id,
        "entity_type": "StreamCollection",
        "name": c.name,
        "description": c.description,
        "filters": c.filters,
        "stream_live": c.stream_live,
        "stream_public": c.stream_public,
        "stream_public_user_id": null,
        "origin_filters": c.origin_filters,
        "authorized_members": c.authorized_members.iter().map(|m| json!({"id": m, "name": m, "entity_type": "User", "access_right": "view"})).collect::<Vec<_>>(),
        "consumers": consumers,
    })
}

fn collections(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, caller) = parts(ctx)?;
    let (first, offset) = page_args(ctx, 500)?;
    let search = arg_str(ctx, "search").unwrap_or_default().to_lowercase();
    let all_visible = caller.user.as_ref().is_some_and(|u| u.has_any_capability(&["TAXIIAPI"]));
    Ok(core.store.read(|s| {
        let mut matching: Vec<&StreamCollection> = s
            .streams
            .all()
            .iter()
            .filter(|c| all_visible || c.stream_public)
            .filter(|c| search.is_empty() || c.name.to_lowercase().contains(&search))
            .collect();
        if arg_str(ctx, "orderBy").as_deref() == Some("name") {
            matching.sort_by(|a, b| a.name.cmp(&b.name));
            if arg_str(ctx, "orderMode").as_deref() == Some("desc") {
                matching.reverse();
            }
        }
        let total = matching.len();
        let nodes = matching.into_iter().skip(offset).take(first).map(|c| project(s, c)).collect();
        connection(nodes, offset, total)
    }))
}

/// A `filters` value: checked as the stream will test it.
fn checked_filters(v: &Json) -> Result<Option<String>, Error> {
    let Some(text) = crate::stream::filter::filter_text(v) else { return Ok(None) };
    crate::stream::filter::validate(&text).map_err(|e| functional(e.0, json!({"filters": text})))?;
    Ok(Some(text))
}

/// An `origin_filters` value: a FilterGroup.
fn checked_origin_filters(v: &Json) -> Result<Option<String>, Error> {
    let Some(text) = crate::stream::filter::filter_text(v) else { return Ok(None) };
    crate::stream::filter::OriginFilter::parse(Some(&text)).map_err(|e| functional(e.0, json!({"origin_filters": text})))?;
    Ok(Some(text))
}

fn members(v: &Json) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|m| m.get("id").or(Some(m)).and_then(Json::as_str)).map(str::to_string).collect()
}

fn add(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let input = arg(ctx, "input");
    let name = input.get("name").and_then(Json::as_str).unwrap_or_default().to_string();
    if name.trim().chars().count() < 2 {
        return Err(functional("The name of a live stream must have at least 2 characters", json!({"name": name})));
    }
    let mut c = StreamCollection::new(name);
    c.description = input.get("description").and_then(Json::as_str).map(str::to_string);
    c.filters = checked_filters(input.get("filters").unwrap_or(&Json::Null))?;
    c.stream_live = input.get("stream_live").and_then(Json::as_bool).unwrap_or(false);
    c.stream_public = input.get("stream_public").and_then(Json::as_bool).unwrap_or(false);
    c.authorized_members = members(input.get("authorized_members").unwrap_or(&Json::Null));
    c.origin_filters = checked_origin_filters(input.get("origin_filters").unwrap_or(&Json::Null))?;
    Ok(core.store.write(|s| {
        s.streams.add(c.clone());
        project(s, &c)
    }))
}

fn boolean(v: &Json) -> Option<bool> {
    match v {
        Json::Bool(b) => Some(*b),
        Json::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn field_patch(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = parent_str(ctx, "id").unwrap_or_default();
    let ops = edit_inputs(&arg(ctx, "input"));
    // Checked before anything changes: an edit applies whole or not at all.
    const KEYS: &[&str] = &["name", "description", "filters", "origin_filters", "stream_live", "stream_public", "authorized_members"];
    if let Some(other) = ops.iter().filter_map(|op| op.get("key").and_then(Json::as_str)).find(|k| !KEYS.contains(k)) {
        return Err(functional(format!("Cannot edit {other} of a live stream"), json!({"key": other})));
    }
    let (mut filters, mut origin_filters) = (None, None);
    for op in &ops {
        let value = op.get("value").map(|v| v.get(0).cloned().unwrap_or(v.clone())).unwrap_or(Json::Null);
        match op.get("key").and_then(Json::as_str) {
            Some("filters") => filters = Some(checked_filters(&value)?),
            Some("origin_filters") => origin_filters = Some(checked_origin_filters(&value)?),
            _ => {}
        }
    }
    core.store.write(|s| {
        let Some(c) = s.streams.get_mut(&id) else { return Err(not_found(&id)) };
        for op in &ops {
            let key = op.get("key").and_then(Json::as_str).unwrap_or_default();
            let value = op.get("value").cloned().unwrap_or(Json::Null);
            let first = value.get(0).cloned().unwrap_or(value.clone());
            match key {
                "name" => c.name = first.as_str().unwrap_or_default().to_string(),
                "description" => c.description = first.as_str().map(str::to_string),
                "filters" => c.filters = filters.clone().flatten(),
                "origin_filters" => c.origin_filters = origin_filters.clone().flatten(),
                "stream_live" => c.stream_live = boolean(&first).unwrap_or(c.stream_live),
                "stream_public" => c.stream_public = boolean(&first).unwrap_or(c.stream_public),
                "authorized_members" => c.authorized_members = members(&value),
                _ => {}
            }
        }
        let c = c.clone();
        Ok(project(s, &c))
    })
}
