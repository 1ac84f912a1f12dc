//! The entity API: what pycti's entity classes (`pycti/entities/*.py`) send, served from
//! the knowledge store (`knowledge.graphql`, resolver guide `knowledge.md`).
//!
//! Root fields are registered by kind, read off the SDL, so that the 128 fields need no
//! hand-written table:
//! - readers (`malware(id)`, `stixCoreObject(id)`...) answer the object with that internal,
//!   standard or STIX id when its GraphQL type fits the field's type (`null` otherwise);
//! - lists (`...Connection` fields) select, filter, order and page (`list.rs`);
//! - `...ContainsStixObjectOrStixRelationship` check a container's `object_refs`;
//! - creations (`...Add`) build a STIX object from the input and hand it to the single
//!   ingest path (`add.rs`, `input.rs`);
//! - `...Edit(id)` answer an object whose fields are the edit operations (`edit.rs`,
//!   `refs.rs` for the references they add and remove).
//!
//! Projections (`project.rs`) turn stored STIX into GraphQL objects; computed fields
//! (`fields.rs`) resolve references when selected. Operations the mock cannot serve answer
//! an error naming them ([`not_supported`]).

pub mod add;
pub mod analysis;
pub mod artifact;
pub mod edit;
pub mod export;
pub mod fields;
pub mod input;
pub mod list;
pub mod project;
pub mod refs;
pub mod types;
pub mod view;
pub mod vocabularies;

use std::sync::Arc;

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::sdl::{TypeInfo, named};
use crate::graphql::errors::UNSUPPORTED_ERROR;
use crate::graphql::knowledge::list::{ListArgs, all_ids, connection, resolve_ids, select};
use crate::graphql::knowledge::view::{Api, Shared, View, arg, arg_str, arg_strs, strings, with_view};
use crate::store::knowledge::StoredObject;

/// The knowledge layer's SDL (appended to `schema.graphql`).
pub const SDL: &str = include_str!("../knowledge.graphql");

/// The error of an operation the mock does not serve.
pub fn not_supported(operation: &str, why: &str) -> Error {
    UNSUPPORTED_ERROR.with(
        format!("{operation} is not supported by opencti-mock yet ({why})"),
        json!({"operation": operation}).as_object().cloned().unwrap_or_default(),
    )
}

/// Root fields answered with [`not_supported`], and why.
pub const NOT_SUPPORTED: &[(&str, &str)] = &[
    ("ruleApply", "inference rules are not modelled"),
    ("ruleClear", "inference rules are not modelled"),
    ("rulesRescan", "inference rules are not modelled"),
    ("ruleApplyAsync", "inference rules are not modelled"),
];

/// Registers every resolver of the entity API: `info` is the merged schema, `roots` the
/// root fields `knowledge.graphql` declares (`(root type, field)`).
pub fn register(r: &mut Registry, info: TypeInfo, roots: &[(String, String)]) {
    let api: Shared = Arc::new(Api { info });
    for (root, field) in roots {
        let (root, field) = (root.as_str(), field.as_str());
        let Some(f) = api.info.field(root, field) else { continue };
        let returns = named(&f.ty).to_string();
        if export::register_root(r, &api, field) || analysis::register_root(r, &api, field) {
            continue;
        }
        if let Some((_, why)) = NOT_SUPPORTED.iter().find(|(n, _)| *n == field) {
            let name = field.to_string();
            r.json(root, field, move |_| Err(not_supported(&name, why)));
        } else if root == "Query" {
            register_query(r, &api, field, &returns);
        } else if !edit::register_root(r, &api, field, &returns) {
            add::register(r, &api, field, &returns);
        }
    }
    edit::register_operations(r, &api);
    fields::register(r, &api);
}

fn register_query(r: &mut Registry, api: &Shared, field: &str, returns: &str) {
    let a = api.clone();
    if let Some(container) = field.strip_suffix("ContainsStixObjectOrStixRelationship") {
        let container = upper_first(container);
        r.json("Query", field, move |ctx| contains(ctx, &a, &container));
    } else if returns.ends_with("Connection") {
        let node = node_type(&api.info, returns);
        let name = field.to_string();
        r.json("Query", field, move |ctx| list_root(ctx, &a, &name, &node));
    } else if field == "vocabularyCategories" {
        r.json("Query", field, |_| Ok(vocabularies::categories()));
    } else if field == "stixRefRelationship" {
        r.json("Query", field, move |ctx| {
            with_view(ctx, &a, |v| Ok(refs::ref_relationship_by_id(v, &arg_str(ctx, "id").unwrap_or_default())))
        });
    } else {
        let declared = returns.to_string();
        r.json("Query", field, move |ctx| reader(ctx, &a, &declared));
    }
}

/// `s` with its first letter upper-cased (`caseIncident` → `CaseIncident`).
pub(crate) fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

/// The node type of a connection type (`MalwareConnection` → `Malware`).
fn node_type(info: &TypeInfo, connection: &str) -> String {
    info.field(connection, "edges")
        .and_then(|e| info.field(named(&e.ty), "node"))
        .map(|n| named(&n.ty).to_string())
        .unwrap_or_else(|| connection.trim_end_matches("Connection").to_string())
}

/// `x(id)`: the object if it fits the field's type and the caller may see it.
fn reader(ctx: &ResolverContext<'_>, api: &Api, declared: &str) -> Result<Json, Error> {
    let Some(id) = arg_str(ctx, "id") else { return Ok(Json::Null) };
    with_view(ctx, api, |v| Ok(v.get_as(&id, declared).map(|o| v.project(o)).unwrap_or(Json::Null)))
}

/// `xContainsStixObjectOrStixRelationship(id, stixObjectOrStixRelationshipId)`.
fn contains(ctx: &ResolverContext<'_>, api: &Api, container: &str) -> Result<Json, Error> {
    let id = arg_str(ctx, "id").unwrap_or_default();
    let target = arg_str(ctx, "stixObjectOrStixRelationshipId").unwrap_or_default();
    with_view(ctx, api, |v| {
        let Some(c) = v.get_as(&id, container) else { return Ok(json!(false)) };
        let mut wanted = vec![target.clone()];
        if let Some(t) = v.knowledge().get(&target) {
            wanted.extend(all_ids(t));
        }
        let refs = strings(&c.json()["object_refs"]);
        Ok(json!(refs.iter().any(|r| wanted.contains(r))))
    })
}

/// Projects a page; observables get their `based-on` indicators in one pass when the
/// selection asks for them.
fn page_nodes(ctx: &ResolverContext<'_>, v: &View<'_>, page: Vec<(&StoredObject, Json)>) -> Vec<Json> {
    let mut nodes: Vec<Json> = page.into_iter().map(|(o, body)| v.project_body(o, body)).collect();
    if ctx.ctx.look_ahead().field("edges").field("node").field("indicators").exists() {
        fields::attach_indicators(v, &mut nodes);
    }
    nodes
}

/// A list root field.
fn list_root(ctx: &ResolverContext<'_>, api: &Api, field: &str, node: &str) -> Result<Json, Error> {
    let args = ListArgs::read(ctx)?;
    match field {
        "stixCoreRelationships" | "stixSightingRelationships" => relationships(ctx, api, node, &args),
        "stixNestedRefRelationships" => refs::nested_refs(ctx, api, &args),
        "vocabularies" => {
            let category = arg(ctx, "category").as_str().map(str::to_string);
            with_view(ctx, api, |v| {
                let extra = |_: &View<'_>, _: &StoredObject, body: &Json| {
                    category.as_deref().is_none_or(|c| body["category"].as_str() == Some(c))
                };
                let (page, total) = select(v, node, &args, &[], category.is_some().then_some(&extra as &list::Extra<'_>));
                Ok(connection(page_nodes(ctx, v, page), args.offset, total))
            })
        }
        _ => with_view(ctx, api, |v| {
            let (page, total) = select(v, node, &args, &[], None);
            Ok(connection(page_nodes(ctx, v, page), args.offset, total))
        }),
    }
}

/// A date-time argument compared with a body property: `(property, argument, at least)`.
const WINDOWS: &[(&str, &str, bool)] = &[
    ("start_time", "startTimeStart", true),
    ("start_time", "startTimeStop", false),
    ("stop_time", "stopTimeStart", true),
    ("stop_time", "stopTimeStop", false),
    ("first_seen", "firstSeenStart", true),
    ("first_seen", "firstSeenStop", false),
    ("last_seen", "lastSeenStart", true),
    ("last_seen", "lastSeenStop", false),
    ("created", "startDate", true),
    ("created", "endDate", false),
];

/// `stixCoreRelationships` / `stixSightingRelationships`: the relationship arguments on top
/// of the common list.
fn relationships(ctx: &ResolverContext<'_>, api: &Api, node: &str, args: &ListArgs) -> Result<Json, Error> {
    let rel_types = arg_strs(ctx, "relationship_type");
    let (from_types, to_types) = (arg_strs(ctx, "fromTypes"), arg_strs(ctx, "toTypes"));
    let target_types = arg_strs(ctx, "elementWithTargetTypes");
    let confidences: Vec<i64> = match arg(ctx, "confidences") {
        Json::Array(c) => c.iter().filter_map(Json::as_i64).collect(),
        _ => Vec::new(),
    };
    let windows: Vec<(&str, chrono::DateTime<chrono::Utc>, bool)> =
        WINDOWS.iter().filter_map(|(prop, a, min)| crate::filters::date(&arg(ctx, a)).map(|d| (*prop, d, *min))).collect();
    with_view(ctx, api, |v| {
        let from_ids = resolve_ids(v, &arg_strs(ctx, "fromId"));
        let to_ids = resolve_ids(v, &arg_strs(ctx, "toId"));
        let either = resolve_ids(v, &arg_strs(ctx, "fromOrToId"));
        let mut prefilter: Vec<String> = Vec::new();
        for set in [&from_ids, &to_ids, &either] {
            if !set.is_empty() && prefilter.is_empty() {
                prefilter = set.iter().cloned().collect();
            }
        }
        let type_ok = |id: Option<&String>, types: &[String]| {
            types.is_empty() || id.and_then(|i| v.knowledge().get(i)).is_some_and(|o| list::of_types(o, types))
        };
        let extra = |_: &View<'_>, obj: &StoredObject, body: &Json| {
            let from: Vec<String> = strings(&body["source_ref"]).into_iter().chain(strings(&body["sighting_of_ref"])).collect();
            let to: Vec<String> = strings(&body["target_ref"]).into_iter().chain(strings(&body["where_sighted_refs"])).collect();
            let rel_ok = rel_types.is_empty()
                || rel_types.iter().any(|t| t == &*obj.entity_type || t == "stix-core-relationship" || t == "stix-relationship");
            let either_ok = either.is_empty()
                || from.iter().any(|f| either.contains(f)) && (target_types.is_empty() || type_ok(to.first(), &target_types))
                || to.iter().any(|t| either.contains(t)) && (target_types.is_empty() || type_ok(from.first(), &target_types));
            let windows_ok = windows
                .iter()
                .all(|(prop, d, min)| crate::filters::date(&body[*prop]).is_some_and(|x| if *min { x >= *d } else { x <= *d }));
            rel_ok
                && either_ok
                && windows_ok
                && (from_ids.is_empty() || from.iter().any(|f| from_ids.contains(f)))
                && (to_ids.is_empty() || to.iter().any(|t| to_ids.contains(t)))
                && type_ok(from.first(), &from_types)
                && (to_types.is_empty() || to.iter().any(|t| type_ok(Some(t), &to_types)))
                && (confidences.is_empty() || body["confidence"].as_i64().is_some_and(|c| confidences.contains(&c)))
        };
        let (page, total) = select(v, node, args, &prefilter, Some(&extra));
        Ok(connection(page_nodes(ctx, v, page), args.offset, total))
    })
}
