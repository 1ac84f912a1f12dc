//! Connector operations: registration, ping, state reset, deletion, listings.

use async_graphql::dynamic::ResolverContext;
use futures_util::future::BoxFuture;

use crate::amqp::ConnectorSpec;
use crate::graphql::errors::DATABASE_ERROR;
use crate::store::transcript::EntryKind;
use serde_json::{Value as Json, json};

use crate::graphql::builder::{Registry, Resolved};
use crate::graphql::context::parts;
use crate::graphql::errors::{ALREADY_DELETED_ERROR, BAD_USER_INPUT, functional, unsupported};
use crate::graphql::project::{self, field};
use crate::store::connectors::{ConnectorInfo, Registration};

/// Number of background-task queues the platform creates (`task_scheduler:max_queues_breakdown`).
const BACKGROUND_TASK_QUEUES: usize = 4;

/// Registers the connector resolvers.
pub fn register(r: &mut Registry) {
    // Registration and every ping (re-)declare the connector's queues on the broker, a
    // reset purges them and a deletion deletes them, before the mutation answers.
    r.asynchronous("Mutation", "registerConnector", |ctx| {
        let id = arg_json(ctx, "input").get("id").and_then(Json::as_str).map(str::to_string);
        then_broker(ctx, register_connector(ctx), id, BrokerStep::Provision)
    });
    r.asynchronous("Mutation", "pingConnector", |ctx| {
        then_broker(ctx, ping_connector(ctx), arg_str(ctx, "id"), BrokerStep::Provision)
    });
    r.asynchronous("Mutation", "resetStateConnector", |ctx| {
        then_broker(ctx, reset_state(ctx), arg_str(ctx, "id"), BrokerStep::Purge)
    });
    r.asynchronous("Mutation", "deleteConnector", |ctx| {
        then_broker(ctx, delete_connector(ctx), arg_str(ctx, "id"), BrokerStep::Delete)
    });
    r.sync("Mutation", "connectorJWT", connector_jwt);
    r.sync("Query", "connector", connector);
    r.sync("Query", "connectors", connectors);
    r.sync("Query", "connectorsForWorker", connectors_for_worker);
    r.sync("Connector", "connector_user", connector_user);
    r.asynchronous("Connector", "connector_queue_details", queue_details);
    r.sync("Connector", "works", connector_works);
}

/// What a connector mutation does on the broker once the state has changed.
#[derive(Clone, Copy)]
enum BrokerStep {
    /// `registerConnectorQueues`.
    Provision,
    /// Purge both queues (management API).
    Purge,
    /// Delete both queues.
    Delete,
}

/// Runs the broker side of a connector mutation after its state change succeeded. A broker
/// failure fails the mutation, as an unreachable RabbitMQ fails it on the platform.
fn then_broker(
    ctx: &ResolverContext<'_>,
    resolved: Resolved,
    id: Option<String>,
    step: BrokerStep,
) -> BoxFuture<'static, Resolved> {
    let core = parts(ctx).ok().map(|(c, _)| c.clone());
    Box::pin(async move {
        let value = resolved?;
        let (Some(core), Some(id)) = (core, id) else { return Ok(value) };
        let Some(broker) = core.amqp.broker() else { return Ok(value) };
        let result = match step {
            BrokerStep::Provision => match core.store.read(|s| s.connectors.get(&id).map(ConnectorSpec::from)) {
                Some(spec) => broker.provision(spec).await,
                None => Ok(()),
            },
            BrokerStep::Purge => broker.purge(&id).await,
            BrokerStep::Delete => broker.remove(&id).await,
        };
        match result {
            Ok(()) => Ok(value),
            Err(e) => {
                let now = core.store.clock().now();
                core.store.write(|s| {
                    s.transcript
                        .push(now, EntryKind::Note { message: format!("broker operation for connector {id} failed: {e}") })
                });
                Err(DATABASE_ERROR.with(e, Default::default()))
            }
        }
    })
}

fn arg_json(ctx: &ResolverContext<'_>, name: &str) -> Json {
    ctx.args.get(name).map(|v| v.as_value().clone().into_json().unwrap_or(Json::Null)).unwrap_or(Json::Null)
}

fn arg_str(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args.get(name).and_then(|v| v.string().ok().map(str::to_string))
}

fn register_connector(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let input = arg_json(ctx, "input");
    if input.is_null() {
        return Err(unsupported("registerConnector needs an input", json!({})));
    }
    let reg: Registration =
        serde_json::from_value(input).map_err(|e| unsupported(format!("invalid RegisterConnectorInput: {e}"), json!({})))?;
    if reg.name.trim().chars().count() < 2 {
        return Err(BAD_USER_INPUT.with(
            format!(
                "Variable \"$input\" got invalid value \"{}\" at \"input.name\"; Expected type \"name_String_NotNull_minLength_2_format_not-blank\". Must be at least 2 characters in length and not blank",
                reg.name
            ),
            Default::default(),
        ));
    }
    let now = core.store.clock().now();
    let c = core.store.write(|s| s.connectors.register(reg, &user.id, now).clone());
    Ok(field(project::connector(core, &c)))
}

/// Marks a request on which a `StaleState` fault fired: `pingConnector` answers the state
/// stored before the ping, as a platform whose read after the write hit a stale index
/// (opencti#17472).
pub struct StaleStateEcho;

fn ping_connector(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    let state = arg_str(ctx, "state");
    let info_json = arg_json(ctx, "connectorInfo");
    let info: Option<ConnectorInfo> = if info_json.is_null() {
        None
    } else {
        Some(serde_json::from_value(info_json).map_err(|e| unsupported(format!("invalid ConnectorInfoInput: {e}"), json!({})))?)
    };
    let now = core.store.clock().now();
    let stale = ctx.data_opt::<StaleStateEcho>().is_some();
    let c = core.store.write(|s| {
        let before = s.connectors.get(&id).map(|c| c.connector_state.clone());
        s.connectors.ping(&id, state, info, now).map(|(_, c)| {
            let mut c = c.clone();
            if stale && let Some(before) = before {
                c.connector_state = before;
            }
            c
        })
    });
    match c {
        Some(c) => Ok(field(project::connector(core, &c))),
        None => Err(functional("No connector found with the specified ID", json!({"id": id}))),
    }
}

fn reset_state(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    let now = core.store.clock().now();
    let c = core.store.write(|s| {
        let c = s.connectors.reset_state(&id, now).cloned();
        if c.is_some() {
            s.queues.purge(&id);
        }
        c
    });
    match c {
        Some(c) => Ok(field(project::connector(core, &c))),
        None => Err(functional("Cant find element to update", json!({"id": id, "type": "Connector"}))),
    }
}

fn delete_connector(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    let removed = core.store.write(|s| {
        let removed = s.connectors.remove(&id);
        if removed.is_some() {
            s.works.delete_of_connector(&id);
            s.queues.purge(&id);
        }
        removed
    });
    match removed {
        Some(_) => Ok(field(Json::String(id))),
        None => Err(ALREADY_DELETED_ERROR
            .with(ALREADY_DELETED_ERROR.message, json!({"connectorId": id}).as_object().cloned().unwrap_or_default())),
    }
}

fn connector_jwt(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let now = core.store.clock().now().timestamp();
    Ok(field(Json::String(core.keys.connector_jwt(now))))
}

fn connector(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "id").unwrap_or_default();
    let c = core.store.read(|s| s.connectors.get(&id).cloned());
    Ok(c.and_then(|c| field(project::connector(core, &c))))
}

fn connectors(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let list: Vec<Json> = core.store.read(|s| s.connectors.all().map(|c| project::connector(core, c)).collect());
    Ok(field(Json::Array(list)))
}

fn connectors_for_worker(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let mut list: Vec<Json> = core.store.read(|s| s.connectors.all().map(|c| project::connector(core, c)).collect());
    list.push(project::pseudo_connector(core, "sync", "[DEPRECATED] Internal sync manager"));
    list.push(project::pseudo_connector(core, "playbook", "[DEPRECATED] Internal playbook manager"));
    for i in 0..BACKGROUND_TASK_QUEUES {
        list.push(project::pseudo_connector(core, &format!("background-task-{i}"), &format!("Background task {i} queue")));
    }
    Ok(field(Json::Array(list)))
}

fn parent_key(ctx: &ResolverContext<'_>, key: &str) -> Option<String> {
    match ctx.parent_value.as_value()? {
        async_graphql::Value::Object(m) => match m.get(key)? {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The connector's user, only for callers allowed to see users (as the platform does).
fn connector_user(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, caller) = parts(ctx)?;
    let allowed = caller.user.as_ref().is_some_and(|u| u.has_capability("SETTINGS_SETACCESSES"));
    if !allowed {
        return Ok(None);
    }
    let Some(user_id) = parent_key(ctx, "connector_user_id") else { return Ok(None) };
    Ok(core.store.read(|s| s.users.by_id(&user_id).map(project::user)).and_then(field))
}

/// Messages and bytes waiting for the connector: its push and listen queues on the broker
/// (from the management API, as the platform reads them) plus what waits inside the worker (split
/// pieces, retries, HTTP pushes); in HTTP-only mode the worker's queue alone.
fn queue_details(ctx: &ResolverContext<'_>) -> BoxFuture<'static, Resolved> {
    let core = parts(ctx).map(|(c, _)| c.clone());
    let id = parent_key(ctx, "id").unwrap_or_default();
    Box::pin(async move {
        let core = core?;
        let (mut n, mut bytes) = core.store.read(|s| s.queues.figures(&id));
        if let Some(broker) = core.amqp.broker()
            && let Some((bn, bb)) = broker.queue_figures(&id).await
        {
            n += bn;
            bytes += bb;
        }
        Ok(field(json!({"messages_number": n as f64, "messages_size": bytes as f64})))
    })
}

fn connector_works(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = parent_key(ctx, "id").unwrap_or_default();
    let status = arg_str(ctx, "status");
    let list: Vec<Json> = core.store.read(|s| {
        s.works
            .of_connector(&id)
            .filter(|w| status.as_deref().is_none_or(|st| w.status.as_str() == st))
            .map(|w| project::work(w, s.users.by_id(&w.user_id).map(|u| u.name.as_str())))
            .collect()
    });
    Ok(field(Json::Array(list)))
}
