//! Work operations: creation, the `workEdit` sub-mutations, reads and listings.

use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::filters::FilterGroup;
use crate::graphql::builder::{Registry, Resolved};
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::project::{self, field};
use crate::store::works::NewWork;

/// Registers the work resolvers.
pub fn register(r: &mut Registry) {
    r.sync("Mutation", "workAdd", work_add);
    r.sync("Mutation", "workEdit", work_edit);
    r.sync("Mutation", "workDelete", work_delete);
    r.sync("WorkEditMutations", "toReceived", to_received);
    r.sync("WorkEditMutations", "toProcessed", to_processed);
    r.sync("WorkEditMutations", "addExpectations", add_expectations);
    r.sync("WorkEditMutations", "reportExpectation", report_expectation);
    r.sync("WorkEditMutations", "addDraftContext", add_draft_context);
    r.sync("WorkEditMutations", "ping", ping);
    r.sync("WorkEditMutations", "delete", delete);
    r.sync("Query", "work", work);
    r.sync("Query", "works", works);
    r.sync("Query", "isWorkAlive", is_work_alive);
    r.sync("Work", "connector", work_connector);
}

fn arg_str(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args.get(name).and_then(|v| v.string().ok().map(str::to_string))
}

fn arg_bool(ctx: &ResolverContext<'_>, name: &str) -> Option<bool> {
    ctx.args.get(name).and_then(|v| v.boolean().ok())
}

/// The work id a `workEdit(id)` sub-mutation applies to.
fn edited_id(ctx: &ResolverContext<'_>) -> String {
    match ctx.parent_value.as_value() {
        Some(async_graphql::Value::Object(m)) => match m.get("id") {
            Some(async_graphql::Value::String(s)) => s.clone(),
            _ => String::new(),
        },
        _ => String::new(),
    }
}

fn work_add(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let connector_id = arg_str(ctx, "connectorId").unwrap_or_default();
    let name = arg_str(ctx, "friendlyName");
    let multipart = arg_bool(ctx, "isMultiPartWork").unwrap_or(false);
    let now = core.store.clock().now();
    let created = core.store.write(|s| {
        let c = s.connectors.get(&connector_id)?.clone();
        let w = s.works.create(
            NewWork {
                connector_id: c.id().to_string(),
                connector_type: c.registration.connector_type.clone(),
                name,
                user_id: user.id.clone(),
                source_id: Some(c.id().to_string()),
                received: true,
                multipart,
            },
            now,
        );
        Some(project::work(w, Some(&user.name)))
    });
    match created {
        Some(w) => Ok(field(w)),
        None => Err(functional(format!("Connector {connector_id} is not registered"), json!({"connectorId": connector_id}))),
    }
}

fn work_edit(ctx: &ResolverContext<'_>) -> Resolved {
    Ok(field(json!({"id": arg_str(ctx, "id").unwrap_or_default()})))
}

fn work_delete(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let connector_id = arg_str(ctx, "connectorId").unwrap_or_default();
    core.store.write(|s| s.works.delete_of_connector(&connector_id));
    Ok(field(Json::Bool(true)))
}

/// Every `workEdit` sub-mutation answers the work id, whether or not the work exists: the
/// platform only logs "The work cannot be found in database" for an unknown one. The mock
/// says so in the transcript, where the test or the user sees it.
fn edit(ctx: &ResolverContext<'_>, f: impl FnOnce(&mut crate::store::State, &str, chrono::DateTime<chrono::Utc>)) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = edited_id(ctx);
    let now = core.store.clock().now();
    let operation = ctx.field().name();
    core.store.write(|s| {
        if s.works.get(&id).is_none() {
            let message = format!(
                "workEdit(id: \"{id}\") {{ {operation} }}: no work has this id; answered with the id as the platform \
                 does (it only logs that the work cannot be found in database), nothing was changed"
            );
            s.transcript.push(now, crate::store::transcript::EntryKind::Note { message });
        }
        f(s, &id, now)
    });
    Ok(field(Json::String(id)))
}

fn to_received(ctx: &ResolverContext<'_>) -> Resolved {
    let message = arg_str(ctx, "message");
    edit(ctx, |s, id, now| s.works.mark_received(id, message.as_deref(), now))
}

fn to_processed(ctx: &ResolverContext<'_>) -> Resolved {
    let message = arg_str(ctx, "message");
    let in_error = arg_bool(ctx, "inError").unwrap_or(false);
    edit(ctx, |s, id, now| {
        let profile = s.profile;
        s.works.mark_processed(profile, id, message.as_deref(), in_error, now)
    })
}

fn add_expectations(ctx: &ResolverContext<'_>) -> Resolved {
    let n = ctx.args.get("expectations").and_then(|v| v.i64().ok()).unwrap_or(0);
    edit(ctx, |s, id, now| s.works.add_expectations(id, n, now))
}

fn report_expectation(ctx: &ResolverContext<'_>) -> Resolved {
    let error = ctx.args.get("error").and_then(|v| v.object().ok()).map(|o| {
        let get = |k: &str| o.get(k).and_then(|v| v.string().ok().map(str::to_string));
        (get("error").unwrap_or_default(), get("source"))
    });
    edit(ctx, |s, id, now| {
        let profile = s.profile;
        s.works.report_expectation(profile, id, error, now)
    })
}

fn add_draft_context(ctx: &ResolverContext<'_>) -> Resolved {
    let draft = arg_str(ctx, "draftContext");
    edit(ctx, |s, id, now| s.works.add_draft_context(id, draft.as_deref(), now))
}

fn ping(ctx: &ResolverContext<'_>) -> Resolved {
    edit(ctx, |s, id, now| s.works.ping(id, now))
}

fn delete(ctx: &ResolverContext<'_>) -> Resolved {
    edit(ctx, |s, id, _| {
        s.works.delete(id);
    })
}

fn work(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    let w = core.store.read(|s| s.works.get(&id).map(|w| project::work(w, s.users.by_id(&w.user_id).map(|u| u.name.as_str()))));
    Ok(w.and_then(field))
}

fn is_work_alive(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    Ok(field(Json::Bool(core.store.read(|s| s.works.is_alive(&id)))))
}

fn works(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let first = ctx.args.get("first").and_then(|v| v.i64().ok()).unwrap_or(50).max(0) as usize;
    let offset: usize = arg_str(ctx, "after").and_then(|a| a.parse().ok()).unwrap_or(0);
    let order_by = ctx.args.get("orderBy").and_then(|v| v.enum_name().ok().map(str::to_string)).unwrap_or("timestamp".into());
    let asc = ctx.args.get("orderMode").and_then(|v| v.enum_name().ok().map(str::to_string)).as_deref() == Some("asc");
    let search = arg_str(ctx, "search").map(|s| s.to_lowercase());
    let filters_json =
        ctx.args.get("filters").map(|v| v.as_value().clone().into_json().unwrap_or(Json::Null)).unwrap_or(Json::Null);
    let filters = FilterGroup::from_json(&filters_json).map_err(|e| functional(e.0, json!({})))?;
    let mut list: Vec<Json> = core
        .store
        .read(|s| s.works.all().map(|w| project::work(w, s.users.by_id(&w.user_id).map(|u| u.name.as_str()))).collect());
    list.retain(|w| {
        let lookup = |k: &str| match w.get(k) {
            Some(Json::Array(a)) => a.clone(),
            Some(v) => vec![v.clone()],
            None => vec![],
        };
        let name_ok = search.as_ref().is_none_or(|q| w["name"].as_str().unwrap_or_default().to_lowercase().contains(q));
        name_ok && filters.as_ref().is_none_or(|f| f.matches(&lookup))
    });
    let key = |w: &Json| w.get(&order_by).map(|v| v.to_string()).unwrap_or_default();
    list.sort_by(|a, b| if asc { key(a).cmp(&key(b)) } else { key(b).cmp(&key(a)) });
    let total = list.len();
    let page: Vec<Json> = list
        .into_iter()
        .enumerate()
        .skip(offset)
        .take(first)
        .map(|(i, w)| json!({"cursor": (i + 1).to_string(), "node": w}))
        .collect();
    let end = offset + page.len();
    Ok(field(json!({
        "edges": page,
        "pageInfo": {
            "startCursor": offset.to_string(), "endCursor": end.to_string(),
            "hasNextPage": end < total, "hasPreviousPage": offset > 0, "globalCount": total,
        },
    })))
}

fn work_connector(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = match ctx.parent_value.as_value() {
        Some(async_graphql::Value::Object(m)) => match m.get("connector_id") {
            Some(async_graphql::Value::String(s)) => s.clone(),
            _ => return Ok(None),
        },
        _ => return Ok(None),
    };
    let c = core.store.read(|s| s.connectors.get(&id).cloned());
    Ok(c.and_then(|c| field(project::connector(core, &c))))
}
