//! Ref relationships: the references of a STIX body (`created-by`, `object-marking`,
//! `object-label`, `external-reference`, `kill-chain-phase`, a container's `object`s, an
//! organisation's `object-organization`, and the nested refs of observables such as
//! `obs_resolves-to` or `parent-directory`) seen as the platform's `StixRefRelationship`s.
//!
//! They are not stored objects on the mock: a `StixRefRelationship` is built on demand from
//! a reference property of its source, with an id derived from both ends and the type, so
//! that `stixRefRelationship(id)` finds it again. Adding or removing one edits the source's
//! body ([`relation_add`], [`relation_delete`]).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::filters::FilterGroup;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::add::{answer, input_map};
use crate::graphql::knowledge::edit::{apply, list_op, load, replace};
use crate::graphql::knowledge::fields;
use crate::graphql::knowledge::input::{Resolver, extension_mut, refusal_error};
use crate::graphql::knowledge::list::{ListArgs, connection, of_types, resolve_ids};
use crate::graphql::knowledge::project::opencti_extension;
use crate::graphql::knowledge::view::{Api, View, arg_str, arg_strs, strings, with_view};
use crate::stix::standard_id::STIX_ID_NAMESPACE;
use crate::store::clock::iso;
use crate::store::knowledge::StoredObject;

/// STIX reference properties holding one target (the rest hold lists).
const SINGLE_REFS: &[&str] = &[
    "from",
    "sender",
    "raw-email",
    "body-raw",
    "parent-directory",
    "content",
    "src",
    "dst",
    "src-payload",
    "dst-payload",
    "encapsulated-by",
    "creator-user",
    "image",
    "parent",
    "born-in",
];

/// Nested ref relationship types the platform names with an `obs_` prefix (its STIX
/// property has none: `obs_resolves-to` is `resolves_to_refs`).
const OBS_PREFIXED: &[&str] = &["resolves-to", "belongs-to", "content"];

/// The STIX property of a nested ref relationship type (`obs_resolves-to` →
/// `resolves_to_refs`, `parent-directory` → `parent_directory_ref`).
fn nested_property(body: &Map<String, Json>, relationship_type: &str) -> String {
    let relationship_type = relationship_type.strip_prefix("obs_").unwrap_or(relationship_type);
    let base = relationship_type.replace('-', "_");
    let (single, multi) = (format!("{base}_ref"), format!("{base}_refs"));
    if body.contains_key(&single) {
        single
    } else if body.contains_key(&multi) || !SINGLE_REFS.contains(&relationship_type) {
        multi
    } else {
        single
    }
}

/// The ref relationship type of a STIX reference property, `None` for the meta references
/// and relationship ends.
fn nested_name(prop: &str) -> Option<String> {
    const NOT_NESTED: &[&str] = &[
        "created_by_ref",
        "object_marking_refs",
        "object_refs",
        "source_ref",
        "target_ref",
        "sighting_of_ref",
        "where_sighted_refs",
        "observed_data_refs",
    ];
    if NOT_NESTED.contains(&prop) {
        return None;
    }
    let name = prop.strip_suffix("_refs").or_else(|| prop.strip_suffix("_ref"))?.replace('_', "-");
    Some(if OBS_PREFIXED.contains(&name.as_str()) { format!("obs_{name}") } else { name })
}

/// Every reference of a body as `(relationship type, target id)`; `nested_only` leaves out
/// the meta references (markings, labels, author, container objects...).
fn refs_of(v: &View<'_>, body: &Json, nested_only: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let Some(map) = body.as_object() else { return out };
    for (k, val) in map {
        if !(k.ends_with("_ref") || k.ends_with("_refs")) {
            continue;
        }
        let name = match (nested_name(k), k.as_str()) {
            (Some(n), _) => n,
            (None, "created_by_ref") => "created-by".into(),
            (None, "object_marking_refs") => "object-marking".into(),
            (None, "object_refs") => "object".into(),
            _ => continue,
        };
        if nested_only && nested_name(k).is_none() {
            continue;
        }
        out.extend(strings(val).into_iter().map(|t| (name.clone(), t)));
    }
    if !nested_only {
        for l in strings(&body["labels"]) {
            if let Some(o) = fields::label_object(v, &l) {
                out.push(("object-label".into(), o.standard_id.clone()));
            }
        }
        for (prop, ty, rel) in [
            ("external_references", "external-reference", "external-reference"),
            ("kill_chain_phases", "kill-chain-phase", "kill-chain-phase"),
        ] {
            for mut e in body[prop].as_array().cloned().unwrap_or_default() {
                e["type"] = json!(ty);
                if let Some(id) = crate::stix::standard_id::standard_id(&e) {
                    out.push((rel.into(), id));
                }
            }
        }
        if let Some(granted) = opencti_extension(body).and_then(|e| e.get("granted_refs")) {
            out.extend(strings(granted).into_iter().map(|t| ("object-organization".to_string(), t)));
        }
    }
    out
}

/// The internal id of the ref relationship `relationship_type` from `from` to `to`.
fn ref_id(from: &StoredObject, relationship_type: &str, to: &StoredObject) -> String {
    Uuid::new_v5(&STIX_ID_NAMESPACE, format!("{}|{relationship_type}|{}", from.internal_id, to.internal_id).as_bytes())
        .to_string()
}

/// A `StixRefRelationship` object.
fn ref_json(from: &StoredObject, relationship_type: &str, to: &StoredObject) -> Json {
    let id = ref_id(from, relationship_type, to);
    json!({
        "__typename": "StixRefRelationship",
        "id": id,
        "standard_id": format!("relationship-meta--{id}"),
        "entity_type": relationship_type,
        "relationship_type": relationship_type,
        "parent_types": ["basic-relationship", "stix-relationship", "stix-ref-relationship"],
        "spec_version": "2.1",
        "created_at": iso(from.updated_at),
        "updated_at": iso(from.updated_at),
        "source_ref": from.standard_id,
        "target_ref": to.standard_id,
    })
}

/// `stixRefRelationship(id)`: the ref relationship with this id, found among the
/// references of every object (`null` when none).
pub fn ref_relationship_by_id(v: &View<'_>, id: &str) -> Json {
    let id = id.strip_prefix("relationship-meta--").unwrap_or(id);
    for from in v.knowledge().all().filter(|o| o.body.contains("_ref") || o.body.contains("\"labels\"")) {
        if !v.visible(from) {
            continue;
        }
        for (rel, target) in refs_of(v, &from.json(), false) {
            if let Some(to) = v.get(&target)
                && ref_id(from, &rel, to) == id
            {
                return ref_json(from, &rel, to);
            }
        }
    }
    Json::Null
}

/// `stixNestedRefRelationships`: the nested references of observables (and other objects),
/// narrowed by from / to ids and types and relationship types, filtered and paged.
pub fn nested_refs(ctx: &ResolverContext<'_>, api: &Api, args: &ListArgs) -> Result<Json, Error> {
    let rel_types = arg_strs(ctx, "relationship_type");
    let (from_types, to_types) = (arg_strs(ctx, "fromTypes"), arg_strs(ctx, "toTypes"));
    let filters: Option<FilterGroup> = args.filters.clone();
    with_view(ctx, api, |v| {
        let from_ids = resolve_ids(v, &arg_strs(ctx, "fromId"));
        let to_ids = resolve_ids(v, &arg_strs(ctx, "toId"));
        let either = resolve_ids(v, &arg_strs(ctx, "fromOrToId"));
        let sources: Vec<&StoredObject> = if from_ids.is_empty() {
            v.knowledge()
                .all()
                .filter(|o| !matches!(&*o.stix_type, "relationship" | "sighting") && o.body.contains("_ref"))
                .collect()
        } else {
            let mut seen = std::collections::HashSet::new();
            from_ids.iter().filter_map(|i| v.knowledge().get(i)).filter(|o| seen.insert(o.internal_id)).collect()
        };
        let mut found = Vec::new();
        for from in sources.into_iter().filter(|o| v.visible(o) && of_types(o, &from_types)) {
            for (rel, target) in refs_of(v, &from.json(), true) {
                let same =
                    |t: &String| *t == rel || t.strip_prefix("obs_").unwrap_or(t) == rel.strip_prefix("obs_").unwrap_or(&rel);
                if !rel_types.is_empty() && !rel_types.iter().any(|t| same(t) || t == "stix-ref-relationship") {
                    continue;
                }
                let Some(to) = v.get(&target) else { continue };
                if !to_ids.is_empty() && !to_ids.contains(&to.standard_id) && !to_ids.contains(&to.internal_id.to_string()) {
                    continue;
                }
                let touches = |o: &StoredObject| either.contains(&o.standard_id) || either.contains(&o.internal_id.to_string());
                if !either.is_empty() && !touches(from) && !touches(to) {
                    continue;
                }
                if !of_types(to, &to_types) {
                    continue;
                }
                let node = ref_json(from, &rel, to);
                let lookup = |k: &str| match &node[k] {
                    Json::Array(a) => a.clone(),
                    Json::Null => Vec::new(),
                    x => vec![x.clone()],
                };
                if filters.as_ref().is_some_and(|g| !g.matches(&lookup)) {
                    continue;
                }
                found.push(node);
            }
        }
        let total = found.len();
        let page = found.into_iter().skip(args.offset).take(args.first).collect();
        Ok(connection(page, args.offset, total))
    })
}

/// Adds the reference `relationship_type` from `id` to `to_id`; answers the ref
/// relationship (a sighting answers itself).
pub fn relation_add(
    ctx: &ResolverContext<'_>,
    api: &Api,
    id: &str,
    declared: &str,
    input: &Map<String, Json>,
) -> Result<Json, Error> {
    let rel = input.get("relationship_type").and_then(Json::as_str).unwrap_or_default().to_string();
    let to_id = input.get("toId").and_then(Json::as_str).unwrap_or_default().to_string();
    let (obj, body, to) = with_view(ctx, api, |v| {
        let (obj, mut body) = load(v, id, Some(declared))
            .ok_or_else(|| functional(format!("Cannot add the relation, {declared} cannot be found."), json!({"id": id})))?;
        let mut r = Resolver::new(v);
        let to = v.get(&to_id).cloned();
        let op = json!({"key": ref_key(&rel), "value": [to_id], "operation": "add"});
        match ref_key(&rel) {
            "" => {
                let prop = nested_property(&body, &rel);
                let target = r.one(&to_id);
                match (prop.ends_with("_refs"), target) {
                    (true, Some(t)) => list_op(&mut body, &prop, "add", vec![json!(t)]),
                    (false, Some(t)) => {
                        body.insert(prop, json!(t));
                    }
                    _ => {}
                }
            }
            _ => apply(&mut body, &op, &mut r, v, &crate::graphql::knowledge::types::graphql_type(&obj), &obj.stix_type)?,
        }
        r.finish()?;
        Ok((obj, body, to))
    })?;
    replace(ctx, &obj, body)?;
    if declared == "StixSightingRelationship" {
        return answer(ctx, api, &obj.internal_id.to_string());
    }
    let from = with_view(ctx, api, |v| Ok(v.get(&obj.internal_id.to_string()).cloned()))?.unwrap_or(obj);
    Ok(to.map(|t| ref_json(&from, &rel, &t)).unwrap_or(Json::Null))
}

/// The `EditInput` key of a meta ref relationship type (`""` for nested refs).
fn ref_key(relationship_type: &str) -> &'static str {
    match relationship_type {
        "created-by" => "createdBy",
        "object-marking" => "objectMarking",
        "object-label" => "objectLabel",
        "external-reference" => "externalReferences",
        "kill-chain-phase" => "killChainPhases",
        "object" => "objects",
        "object-organization" => "objectOrganization",
        _ => "",
    }
}

/// Removes the reference `relationship_type` from `id` to `toId`; answers the object.
pub fn relation_delete(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let rel = arg_str(ctx, "relationship_type").unwrap_or_default();
    let to_id = arg_str(ctx, "toId").unwrap_or_default();
    let (obj, body) = with_view(ctx, api, |v| {
        let (obj, mut body) = load(v, id, Some(declared))
            .ok_or_else(|| functional(format!("Cannot delete the relation, {declared} cannot be found."), json!({"id": id})))?;
        let target = v.get(&to_id);
        let mut targets: Vec<Json> = vec![json!(to_id)];
        if let Some(t) = target {
            targets.extend(crate::graphql::knowledge::list::all_ids(t).into_iter().map(Json::String));
        }
        match ref_key(&rel) {
            "objectLabel" => {
                let value = target.map(|t| t.json()["value"].clone()).unwrap_or(json!(to_id));
                list_op(&mut body, "labels", "remove", vec![value]);
            }
            "externalReferences" | "killChainPhases" => {
                let (prop, ty) = if rel == "external-reference" {
                    ("external_references", "external-reference")
                } else {
                    ("kill_chain_phases", "kill-chain-phase")
                };
                let standard = target.map(|t| t.standard_id.clone()).unwrap_or(to_id.clone());
                let keep: Vec<Json> = body
                    .get(prop)
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter(|e| {
                        let mut e = e.clone();
                        e["type"] = json!(ty);
                        crate::stix::standard_id::standard_id(&e).as_deref() != Some(standard.as_str())
                    })
                    .collect();
                list_op(&mut body, prop, "replace", keep);
            }
            "createdBy" => {
                if body.get("created_by_ref").is_some_and(|c| targets.contains(c)) {
                    body.remove("created_by_ref");
                }
            }
            "objectOrganization" => {
                let ext = extension_mut(&mut body, &obj.stix_type);
                list_op(ext, "granted_refs", "remove", targets);
            }
            "objectMarking" => list_op(&mut body, "object_marking_refs", "remove", targets),
            "objects" => list_op(&mut body, "object_refs", "remove", targets),
            _ => {
                let prop = nested_property(&body, &rel);
                if prop.ends_with("_refs") {
                    list_op(&mut body, &prop, "remove", targets);
                } else if body.get(&prop).is_some_and(|c| targets.contains(c)) {
                    body.remove(&prop);
                }
            }
        }
        Ok((obj, body))
    })?;
    replace(ctx, &obj, body)?;
    answer(ctx, api, &obj.internal_id.to_string())
}

/// `...EditMutations.relationAdd(input)`.
pub fn relation_add_op(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    relation_add(ctx, api, id, declared, &input_map(ctx, "input"))
}

/// `...EditMutations.relationDelete(toId, relationship_type)`.
pub fn relation_delete_op(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    relation_delete(ctx, api, id, declared)
}

/// `stixRefRelationshipAdd(input: {fromId, toId, relationship_type})`.
pub fn ref_relationship_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let input = input_map(ctx, "input");
    let from = input.get("fromId").and_then(Json::as_str).unwrap_or_default().to_string();
    let to = input.get("toId").and_then(Json::as_str).unwrap_or_default().to_string();
    let (from_ok, to_ok) = with_view(ctx, api, |v| Ok((v.get(&from).is_some(), v.get(&to).is_some())))?;
    if !from_ok || !to_ok {
        return Err(refusal_error(&crate::stix::refusals::ref_target_missing(&from, !from_ok, &to, !to_ok)));
    }
    relation_add(ctx, api, &from, "BasicObject", &input)
}
