//! Edits: `xEdit(id) { fieldPatch relationAdd relationDelete ... }` and the root operations
//! of one entity type, recognised by their names: `xFieldPatch` (`indicatorFieldPatch`,
//! `taskFieldPatch`), `xRelationAdd` / `xRelationDelete` (`groupingRelationAdd`,
//! `taskRelationDelete`) and `xDelete` answering an id (`taskDelete`,
//! `securityCoverageDelete`).
//!
//! `xEdit(id)` answers an object holding the id; each operation loads the object (it must
//! fit the type the edit is for: `stixCyberObservableEdit` edits observables only) and
//! fails as the platform does when it cannot (`Cant find element to update`). An edited
//! body replaces the stored one through the ingest path's checks ([`replace`]): the
//! upsert merge of creations would unite lists that an edit must be able to shrink.
//!
//! Adding and removing references (`relationAdd`, `relationDelete`) and the ref
//! relationships themselves are in `refs.rs`.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Map, Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::sdl::named;
use crate::graphql::context::parts;
use crate::graphql::errors::{ALREADY_DELETED_ERROR, functional};
use crate::graphql::knowledge::add::{answer, indicator_for, input_map};
use crate::graphql::knowledge::input::{Resolver, coverage, extension_mut, refusal_error, stix_property, upload};
use crate::graphql::knowledge::project::file_node;
use crate::graphql::knowledge::view::{Api, Shared, View, arg, arg_str, arg_strs, parent_str, with_view};
use crate::graphql::knowledge::{not_supported, refs};
use crate::ingest::object::{IngestContext, check, prepare, store};
use crate::store::clock::iso;
use crate::store::knowledge::StoredObject;

/// Registers a root field of the edit family; `false` when `field` is not one.
pub fn register_root(r: &mut Registry, api: &Shared, field: &str, returns: &str) -> bool {
    let a = api.clone();
    // The type a root operation of one entity type edits (`taskRelationAdd` → `Task`).
    let own_type = |suffix: &str| field.strip_suffix(suffix).map(crate::graphql::knowledge::upper_first);
    match field {
        f if f.ends_with("FieldPatch") => {
            let declared = returns.to_string();
            r.json("Mutation", field, move |ctx| {
                let id = arg_str(ctx, "id").unwrap_or_default();
                let ops = edit_inputs(&arg(ctx, "input"));
                let internal = patch(ctx, &a, &id, Some(&declared), &ops)?;
                answer(ctx, &a, &internal)
            });
        }
        f if f.ends_with("RelationAdd") => {
            let declared = own_type("RelationAdd").unwrap_or_default();
            r.json("Mutation", field, move |ctx| {
                let id = arg_str(ctx, "id").unwrap_or_default();
                refs::relation_add(ctx, &a, &id, &declared, &input_map(ctx, "input"))
            });
        }
        f if f.ends_with("RelationDelete") => {
            let declared = own_type("RelationDelete").unwrap_or_default();
            r.json("Mutation", field, move |ctx| {
                let id = arg_str(ctx, "id").unwrap_or_default();
                refs::relation_delete(ctx, &a, &id, &declared)
            });
        }
        f if f.ends_with("Delete") && returns == "ID" => {
            let declared = own_type("Delete").unwrap_or_default();
            r.json("Mutation", field, move |ctx| {
                let id = arg_str(ctx, "id").unwrap_or_default();
                delete(ctx, &a, &id, &declared)
            });
        }
        f if f.ends_with("Edit") && returns.ends_with("EditMutations") => {
            r.json("Mutation", field, move |ctx| Ok(json!({"id": arg_str(ctx, "id").unwrap_or_default()})));
        }
        _ => return false,
    }
    true
}

/// An operation of a `...EditMutations` type; `declared` is the type edited.
type Operation = fn(&ResolverContext<'_>, &Api, &str, &str) -> Result<Json, Error>;

const OPERATIONS: &[(&str, Operation)] = &[
    ("fieldPatch", field_patch),
    ("relationAdd", refs::relation_add_op),
    ("relationDelete", refs::relation_delete_op),
    ("delete", delete),
    ("merge", merge),
    ("importPush", import_push),
    ("promoteToIndicator", promote_to_indicator),
    ("promote", promote),
    ("restrictionOrganizationAdd", organization_add),
    ("restrictionOrganizationDelete", organization_delete),
    ("clearAccessRestriction", clear_access_restriction),
    ("askEnrichment", ask_enrichment),
    ("askEnrichments", ask_enrichments),
    ("exportPush", crate::graphql::knowledge::export::export_push),
    ("exportAsk", crate::graphql::knowledge::export::export_ask),
    ("askAnalysis", crate::graphql::knowledge::analysis::ask_analysis),
    ("analysisPush", crate::graphql::knowledge::analysis::analysis_push),
    ("analysisClear", crate::graphql::knowledge::analysis::analysis_clear),
];

/// Operations answered with [`not_supported`], and why.
const REFUSED: &[(&str, &str)] = &[
    ("removeFromDraft", "objects cannot be taken out of a draft"),
];

/// Registers the operations of every `...EditMutations` type.
pub fn register_operations(r: &mut Registry, api: &Shared) {
    for (ty, ops) in &api.info.objects {
        let Some(declared) = ty.strip_suffix("EditMutations") else { continue };
        if declared == "Work" {
            continue;
        }
        // `stixEdit` edits any STIX object.
        let declared = if declared == "Stix" { "StixObject" } else { declared };
        for op in ops.keys() {
            let (ty_name, op_name, declared) = (ty.clone(), op.clone(), declared.to_string());
            if let Some((_, why)) = REFUSED.iter().find(|(n, _)| *n == op) {
                let name = format!("{ty_name}.{op_name}");
                r.json(ty, op, move |_| Err(not_supported(&name, why)));
            } else if declared == "StixRefRelationship" {
                let name = format!("{ty_name}.{op_name}");
                r.json(ty, op, move |_| {
                    Err(not_supported(
                        &name,
                        "ref relationships are references of their source object, with no fields of their own",
                    ))
                });
            } else if let Some((_, f)) = OPERATIONS.iter().find(|(n, _)| *n == op) {
                let (a, f) = (api.clone(), *f);
                r.json(ty, op, move |ctx| {
                    let id = parent_str(ctx, "id").unwrap_or_default();
                    f(ctx, &a, &id, &declared)
                });
            }
        }
    }
}

/// `[EditInput]` as a list of JSON objects (a single object counts as a list of one).
pub(crate) fn edit_inputs(v: &Json) -> Vec<Json> {
    match v {
        Json::Array(items) => items.iter().filter(|i| i.is_object()).cloned().collect(),
        Json::Object(_) => vec![v.clone()],
        _ => Vec::new(),
    }
}

pub(super) fn cant_find(action: &str, id: &str) -> Error {
    functional(format!("Cant find element to {action}"), json!({"id": id}))
}

/// The object an edit applies to, with its parsed body.
pub(super) fn load(v: &View<'_>, id: &str, declared: Option<&str>) -> Option<(StoredObject, Map<String, Json>)> {
    let obj = match declared {
        Some(d) => v.get_as(id, d),
        None => v.get(id),
    }?;
    Some((obj.clone(), obj.json().as_object().cloned().unwrap_or_default()))
}

/// Replaces the body of a stored object, after the ingest path's checks (references,
/// markings the writer may use, patterns, observable syntax...).
pub fn replace(ctx: &ResolverContext<'_>, obj: &StoredObject, mut body: Map<String, Json>) -> Result<(), Error> {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    body.insert("id".into(), json!(obj.standard_id));
    let text = Json::Object(body).to_string();
    let ictx = IngestContext {
        applicant_id: Some(user.id.clone()),
        draft_id: caller.draft_id.clone(),
        types: Default::default(),
        standard_id: None,
};
    let to_error = |e: crate::ingest::object::ObjectError| match &e.refusal {
        Some(r) => refusal_error(r),
        None => functional(e.message.clone(), json!({"id": obj.internal_id.to_string()})),
    };
    let prepared = prepare(&text, &ictx).map_err(to_error)?.replacing();
    let now = core.store.clock().now();
    let in_draft = caller.draft_id.as_deref().is_some_and(|d| !d.is_empty());
    core.store.write(|s| {
        let resolution = check(s, &prepared, 0).map_err(to_error)?;
        let committed = store(s, prepared, resolution, now);
        if let Some(u) = committed.upserted().filter(|_| !in_draft) {
            crate::store::jobs::note_change(s, u, None);
        }
        Ok(())
    })
}

/// Applies `[EditInput]` to the object `id` (of type `declared` when given); answers its
/// internal id.
pub fn patch(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: Option<&str>, ops: &[Json]) -> Result<String, Error> {
    let (core, _) = parts(ctx)?;
    let now = iso(core.store.clock().now());
    let (obj, body) = with_view(ctx, api, |v| {
        let (obj, mut body) = load(v, id, declared).ok_or_else(|| cant_find("update", id))?;
        let gql = crate::graphql::knowledge::types::graphql_type(&obj);
        let mut r = Resolver::new(v);
        for op in ops {
            apply(&mut body, op, &mut r, v, &gql, &obj.stix_type)?;
        }
        r.finish()?;
        if body.contains_key("modified") {
            body.insert("modified".into(), json!(now));
        }
        Ok((obj, body))
    })?;
    replace(ctx, &obj, body)?;
    Ok(obj.internal_id.to_string())
}

/// A value as the declared scalar of a field.
fn coerce(v: &Json, scalar: &str) -> Json {
    match (scalar, v) {
        ("Int", Json::String(s)) => s.trim().parse::<i64>().map(Json::from).unwrap_or(v.clone()),
        ("Float", Json::String(s)) => s.trim().parse::<f64>().map(Json::from).unwrap_or(v.clone()),
        ("Boolean", Json::String(s)) => match s.as_str() {
            "true" => json!(true),
            "false" => json!(false),
            _ => v.clone(),
        },
        _ => v.clone(),
    }
}

/// Adds, removes or replaces the items of a list property.
pub(super) fn list_op(body: &mut Map<String, Json>, prop: &str, operation: &str, items: Vec<Json>) {
    let mut current: Vec<Json> = match body.get(prop) {
        Some(Json::Array(a)) => a.clone(),
        Some(Json::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    match operation {
        "add" => {
            for i in items {
                if !current.contains(&i) {
                    current.push(i);
                }
            }
        }
        "remove" => current.retain(|c| !items.contains(c)),
        _ => current = items,
    }
    if current.is_empty() {
        body.remove(prop);
    } else {
        body.insert(prop.to_string(), Json::Array(current));
    }
}

/// One `EditInput` on a body.
pub(super) fn apply(
    body: &mut Map<String, Json>,
    op: &Json,
    r: &mut Resolver<'_, '_>,
    v: &View<'_>,
    gql: &str,
    stix_type: &str,
) -> Result<(), Error> {
    let key = op["key"].as_str().unwrap_or_default().to_string();
    let operation = op["operation"].as_str().unwrap_or("replace").to_string();
    let values: Vec<Json> = match &op["value"] {
        Json::Array(a) => a.iter().filter(|x| !x.is_null()).cloned().collect(),
        Json::Null => Vec::new(),
        other => vec![other.clone()],
    };
    let ids: Vec<String> = values.iter().filter_map(|x| x.as_str().map(str::to_string)).collect();
    if let Some(path) = op["object_path"].as_str().filter(|p| !p.is_empty()) {
        let mut parts = path.trim_start_matches('/').split('/');
        let head = parts.next().unwrap_or_default().to_string();
        let target = body.entry(head).or_insert_with(|| json!({}));
        if let (Some(m), Some(sub)) = (target.as_object_mut(), parts.next()) {
            match values.first().filter(|_| operation != "remove") {
                Some(x) => m.insert(sub.to_string(), x.clone()),
                None => m.remove(sub),
            };
        }
        return Ok(());
    }
    match key.as_str() {
        "createdBy" => match ids.first().and_then(|i| r.one(i)).filter(|_| operation != "remove") {
            Some(id) => {
                body.insert("created_by_ref".into(), json!(id));
            }
            None => {
                body.remove("created_by_ref");
            }
        },
        "objectMarking" => list_op(body, "object_marking_refs", &operation, r.many(&ids).into_iter().map(Json::String).collect()),
        "objects" => list_op(body, "object_refs", &operation, r.many(&ids).into_iter().map(Json::String).collect()),
        "objectLabel" => list_op(body, "labels", &operation, r.labels(&ids).into_iter().map(Json::String).collect()),
        "externalReferences" => list_op(body, "external_references", &operation, r.external_references(&ids)),
        "killChainPhases" => list_op(body, "kill_chain_phases", &operation, r.kill_chain_phases(&ids)),
        "objectOrganization" => {
            let orgs: Vec<Json> = r.many(&ids).into_iter().map(Json::String).collect();
            let ext = extension_mut(body, stix_type);
            list_op(ext, "granted_refs", &operation, orgs);
        }
        "hashes" => {
            let map: Map<String, Json> = values
                .iter()
                .filter_map(|h| match h {
                    Json::Object(o) => Some((o.get("algorithm")?.as_str()?.to_string(), o.get("hash")?.clone())),
                    Json::String(s) => serde_json::from_str::<Json>(s)
                        .ok()
                        .and_then(|h| Some((h.get("algorithm")?.as_str()?.to_string(), h.get("hash")?.clone()))),
                    _ => None,
                })
                .collect();
            let entry = body.entry("hashes").or_insert_with(|| json!({}));
            if let Some(m) = entry.as_object_mut() {
                if operation == "replace" {
                    m.clear();
                }
                for (k, h) in map {
                    if operation == "remove" {
                        m.remove(&k);
                    } else {
                        m.insert(k, h);
                    }
                }
            }
        }
        _ => {
            let field = v.api.info.field(gql, &key);
            let snake = crate::graphql::knowledge::list::known_key(&key);
            if field.is_none() && !snake {
                return Err(functional(format!("{key} is not a field of {gql} the mock can edit"), json!({"key": key})));
            }
            let prop = stix_property(stix_type, &key).to_string();
            let scalar = field.map(|f| named(&f.ty).to_string()).unwrap_or_default();
            let values: Vec<Json> = match key.as_str() {
                // `[{coverage_name, coverage_score}]` is stored as the STIX `[{name, score}]`.
                "coverage_information" => values.iter().flat_map(|x| coverage(&json!([x])).as_array().cloned().unwrap_or_default()).collect(),
                _ => values.iter().map(|x| coerce(x, &scalar)).collect(),
            };
            if let Some(ext) = body.get_mut("extensions").and_then(Json::as_object_mut) {
                for e in ext.values_mut().filter_map(Json::as_object_mut) {
                    e.remove(prop.strip_prefix("x_opencti_").unwrap_or(&prop));
                }
            }
            if field.is_some_and(|f| f.is_list()) || (field.is_none() && body.get(&prop).is_some_and(Json::is_array)) {
                list_op(body, &prop, &operation, values);
            } else {
                match values.into_iter().next().filter(|_| operation != "remove") {
                    Some(x) => body.insert(prop, x),
                    None => body.remove(&prop),
                };
            }
        }
    }
    Ok(())
}

fn field_patch(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let internal = patch(ctx, api, id, Some(declared), &edit_inputs(&arg(ctx, "input")))?;
    answer(ctx, api, &internal)
}

/// `delete`: removes the object and, as the platform does, the relationships and sightings
/// it is an end of; answers its internal id.
fn delete(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let target = with_view(ctx, api, |v| Ok(v.get_as(id, declared).map(|o| o.internal_id.to_string())))?;
    let Some(internal) = target else {
        return Err(
            ALREADY_DELETED_ERROR.with("Already deleted elements", json!({"id": id}).as_object().cloned().unwrap_or_default())
        );
    };
    let (core, caller) = parts(ctx)?;
    let now = core.store.clock().now();
    let user_id = caller.user()?.id.clone();
    core.store.write(|s| {
        let origin = crate::ingest::object::origin_of(s, &user_id);
        s.knowledge.remove_cascade_by(&internal, now, origin)
    });
    Ok(json!(internal))
}

/// `merge(stixObjectsIds)`: the sources (any of their ids, visible to the caller, of the
/// target's entity type) merged into the target; answers the target.
fn merge(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let sources = arg_strs(ctx, "stixObjectsIds");
    let (target, bodies) = with_view(ctx, api, |v| {
        let target = v.get_as(id, declared).ok_or_else(|| cant_find("merge", id))?;
        let mut bodies = Vec::new();
        for source in &sources {
            let o = v.get_as(source, declared).ok_or_else(|| cant_find("merge", source))?;
            if o.entity_type != target.entity_type {
                return Err(functional(
                    "Cannot merge entities of different types",
                    json!({"id": source, "entity_type": &*o.entity_type, "target_type": &*target.entity_type}),
                ));
            }
            bodies.push((o.internal_id.to_string(), o.body.to_string()));
        }
        Ok((target.clone(), bodies))
    })?;
    let aliases = if matches!(&*target.stix_type, "campaign" | "infrastructure" | "intrusion-set" | "malware" | "threat-actor" | "tool") {
        "aliases"
    } else {
        "x_opencti_aliases"
    };
    let body = bodies.iter().fold(Box::<str>::from(&*target.body), |into, (_, from)| crate::ingest::object::merge_into(&into, from, aliases));
    let (core, _) = parts(ctx)?;
    let now = core.store.clock().now();
    let ids: Vec<String> = bodies.into_iter().map(|(i, _)| i).collect();
    let target_id = target.internal_id.to_string();
    core.store.write(|s| s.knowledge.merge(&target_id, &ids, body, now)).ok_or_else(|| cant_find("merge", id))?;
    answer(ctx, api, &target_id)
}

/// `importPush(file, ...)`: the file's name, size and type are recorded on the object (the
/// mock keeps no content); answers the `File`.
fn import_push(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let now = iso(core.store.clock().now());
    let file =
        upload(ctx, &arg(ctx, "file")).ok_or_else(|| functional("importPush needs a file (multipart upload)", json!({})))?;
    let version = arg_str(ctx, "version").unwrap_or(now);
    let (obj, body, entry) = with_view(ctx, api, |v| {
        let (obj, mut body) = load(v, id, Some(declared)).ok_or_else(|| cant_find("upload to", id))?;
        let mut r = Resolver::new(v);
        let markings = r.many(&arg_strs(ctx, "fileMarkings"));
        r.finish()?;
        let entry = json!({"name": file.name, "mime_type": file.mime_type, "size": file.size, "version": version,
            "object_marking_refs": markings});
        let ext = extension_mut(&mut body, &obj.stix_type);
        let mut files: Vec<Json> = ext.get("files").and_then(Json::as_array).cloned().unwrap_or_default();
        files.retain(|f| f["name"] != entry["name"]);
        files.push(entry.clone());
        ext.insert("files".into(), Json::Array(files));
        Ok((obj, body, entry))
    })?;
    replace(ctx, &obj, body)?;
    // The content is stored under the entity (`import/<type>/<id>/<name>`), and the
    // automatic import starts unless `noTriggerImport`.
    let upload = crate::jobs::Upload {
        mime_type: file.mime_type.clone().unwrap_or_else(|| crate::store::files::guess_mime(&file.name)),
        filename: file.name,
        content: file.content,
        markings: arg_strs(ctx, "fileMarkings"),
        entity_id: Some(obj.internal_id.to_string()),
        pending: false,
        no_trigger_import: arg(ctx, "noTriggerImport").as_bool().unwrap_or(false),
    };
    let asker = crate::graphql::jobs::asker(ctx)?;
    crate::jobs::upload_file(&core.jobs, upload, &asker).map_err(crate::graphql::jobs::job_error)?;
    Ok(file_node(&entry, &obj))
}

/// `askEnrichment(connectorId)`: a manual enrichment job (no active or scope check, as on
/// the platform); answers the work.
fn ask_enrichment(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let connector = arg_str(ctx, "connectorId").unwrap_or_default();
    Ok(enrich(ctx, api, id, declared, &[connector])?.into_iter().next().unwrap_or(Json::Null))
}

/// `askEnrichments(connectorIds)`: one manual enrichment job per connector.
fn ask_enrichments(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    Ok(Json::Array(enrich(ctx, api, id, declared, &arg_strs(ctx, "connectorIds"))?))
}

fn enrich(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str, connectors: &[String]) -> Result<Vec<Json>, Error> {
    let (core, _) = parts(ctx)?;
    let internal = with_view(ctx, api, |v| Ok(v.get_as(id, declared).map(|o| o.internal_id.to_string())))?;
    let internal = internal.ok_or_else(|| cant_find("enrich", id))?;
    let asker = crate::graphql::jobs::asker(ctx)?;
    let works =
        crate::jobs::ask_enrichment(&core.jobs, connectors, &internal, &asker).map_err(crate::graphql::jobs::job_error)?;
    let names = core.store.read(|s| works.iter().map(|w| s.users.by_id(&w.user_id).map(|u| u.name.clone())).collect::<Vec<_>>());
    Ok(works.iter().zip(names).map(|(w, n)| crate::graphql::project::work(w, n.as_deref())).collect())
}

fn promote_to_indicator(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let internal = with_view(ctx, api, |v| Ok(v.get_as(id, declared).map(|o| o.internal_id.to_string())))?;
    let internal = internal.ok_or_else(|| cant_find("promote", id))?;
    indicator_for(ctx, api, &internal)
}

fn promote(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    promote_to_indicator(ctx, api, id, declared)?;
    answer(ctx, api, id)
}

fn organizations(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str, operation: &str) -> Result<Json, Error> {
    let ops = vec![json!({"key": "objectOrganization", "value": arg_strs(ctx, "organizationId"), "operation": operation})];
    let internal = patch(ctx, api, id, Some(declared), &ops)?;
    answer(ctx, api, &internal)
}

fn organization_add(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    organizations(ctx, api, id, declared, "add")
}

fn organization_delete(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    organizations(ctx, api, id, declared, "remove")
}

/// `clearAccessRestriction`: the mock models no authorized members, so there is nothing to
/// clear; answers the object.
fn clear_access_restriction(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let found = with_view(ctx, api, |v| Ok(v.get_as(id, declared).map(|o| v.project(o))))?;
    found.ok_or_else(|| cant_find("update", id))
}
