//! `stixBundlePush`, `stix(id)` and `about`.

use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::{Registry, Resolved};
use crate::graphql::context::{parts, take_string_arg};
use crate::graphql::errors::unsupported;
use crate::graphql::project::field;
use crate::ingest::push::{ApiPush, api_push};
use crate::store::access::Clearance;

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.sync("Mutation", "stixBundlePush", stix_bundle_push);
    r.sync("Query", "stix", stix);
    r.sync("Query", "about", about);
}

fn about(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let profile = core.store.read(|s| s.profile);
    Ok(field(json!({"version": profile.version()})))
}

/// Queues the bundle for the worker; never stores anything itself.
fn stix_bundle_push(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let connector_id = ctx.args.try_get("connectorId")?.string()?;
    let bundle = take_string_arg(ctx, "bundle")?;
    let work_id = ctx.args.get("work_id").and_then(|v| v.string().ok());
    let cleanup = ctx.args.get("cleanup_inconsistent_bundle").and_then(|v| v.boolean().ok()).unwrap_or(false);
    let push = ApiPush {
        connector_id,
        bundle,
        work_id,
        user_id: &user.id,
        cleanup_inconsistent: cleanup,
        draft_id: caller.draft_id.as_deref(),
    };
    match api_push(&core.worker, push) {
        Ok(_) => Ok(field(Json::Bool(true))),
        Err(e) => Err(unsupported("Invalid bundle", json!({"cause": e.to_string()}))),
    }
}

/// The STIX 2.1 representation of a stored object (by internal, standard or any STIX
/// id), with the platform's OpenCTI extension, as a JSON string — `null` for an object
/// the caller may not see (a marking it lacks), as the typed readers answer.
fn stix(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let id = ctx.args.try_get("id")?.string()?;
    let obj = core.store.read(|s| {
        let knowledge = s.knowledge_in(caller.draft_id.as_deref());
        let clearance = Clearance::of(user, knowledge);
        knowledge.get(id).filter(|o| clearance.can_see(knowledge, o)).cloned()
    });
    let Some(obj) = obj else { return Ok(None) };
    let stix = obj.stix();
    Ok(field(Json::String(stix.to_string())))
}
