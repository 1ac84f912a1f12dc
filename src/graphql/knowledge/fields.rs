//! Fields that need other objects, resolved when selected: the objects behind the STIX
//! references a projection keeps (`createdBy` from `created_by_ref`, `objectLabel` from
//! `labels`, `from` / `to` from the relationship's refs...), reverse lookups (`reports` of
//! an object, `indicators` of an observable) and the STIX export of an indicator.
//!
//! They are registered on every object type that declares the field, so a new type in the
//! SDL gets them without code. Every lookup goes through the caller's [`View`]: references
//! to objects the caller may not see disappear.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::knowledge::list::{connection, offset_of};
use crate::graphql::knowledge::project::embedded_meta;
use crate::graphql::knowledge::view::{Shared, View, arg_str, arg_strs, parent, parent_str, strings, with_view};
use crate::store::knowledge::StoredObject;

type FieldFn = fn(&ResolverContext<'_>, &View<'_>) -> Result<Json, Error>;

/// The computed fields, by field name.
const FIELDS: &[(&str, FieldFn)] = &[
    ("createdBy", created_by),
    ("objectMarking", object_marking),
    ("objectLabel", object_label),
    ("objectOrganization", object_organization),
    ("externalReferences", external_references),
    ("killChainPhases", kill_chain_phases),
    ("reports", reports),
    ("notes", notes),
    ("observedData", observed_data),
    ("opinions", opinions),
    ("objects", objects),
    ("from", from),
    ("to", to),
    ("indicators", indicators),
    ("observables", observables),
    ("samples", samples),
    ("tasks", tasks),
    ("dataSource", data_source),
    ("objectCovered", object_covered),
    ("results", results),
    ("resultOf", result_of),
    ("toStix", to_stix),
    ("exportFiles", crate::graphql::knowledge::export::export_files),
];

/// Registers the computed fields on every non-root object type declaring them.
pub fn register(r: &mut Registry, api: &Shared) {
    let roots: Vec<&str> = std::iter::once(api.info.query.as_str()).chain(api.info.mutation.as_deref()).collect();
    for (ty, fields) in &api.info.objects {
        if roots.contains(&ty.as_str()) || ty.ends_with("EditMutations") {
            continue;
        }
        for (name, f) in FIELDS {
            if fields.contains_key(*name) && !r.contains(ty, name) {
                let api = api.clone();
                let f = *f;
                r.json(ty, name, move |ctx| with_view(ctx, &api, |v| f(ctx, v)));
            }
        }
    }
    let api = api.clone();
    r.json("File", "objectMarking", move |ctx| with_view(ctx, &api, |v| Ok(markings(v, &strings(&parent(ctx, "__markings"))))));
}

fn project_all<'a>(v: &View<'_>, objs: impl Iterator<Item = &'a StoredObject>) -> Json {
    Json::Array(objs.map(|o| v.project(o)).collect())
}

fn created_by(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(parent_str(ctx, "created_by_ref").and_then(|id| v.get_as(&id, "Identity")).map(|o| v.project(o)).unwrap_or(Json::Null))
}

fn markings(v: &View<'_>, refs: &[String]) -> Json {
    project_all(v, refs.iter().filter_map(|id| v.get_as(id, "MarkingDefinition")))
}

fn object_marking(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(markings(v, &strings(&parent(ctx, "object_marking_refs"))))
}

/// The stored label object of a label value (by its standard id, then case-insensitively).
pub fn label_object<'v>(v: &View<'v>, value: &str) -> Option<&'v StoredObject> {
    let id = |val: &str| crate::stix::standard_id::standard_id(&json!({"type": "label", "value": val}));
    id(value).and_then(|i| v.get_as(&i, "Label")).or_else(|| id(&value.to_lowercase()).and_then(|i| v.get_as(&i, "Label")))
}

fn object_label(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let (created, updated) = (parent(ctx, "created_at"), parent(ctx, "updated_at"));
    let labels: Vec<Json> = strings(&parent(ctx, "labels"))
        .iter()
        .map(|l| match label_object(v, l) {
            Some(o) => v.project(o),
            None => embedded_meta("Label", "label", &json!({"value": l}), &created, &updated),
        })
        .collect();
    Ok(Json::Array(labels))
}

fn object_organization(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(project_all(v, strings(&parent(ctx, "__granted_refs")).iter().filter_map(|id| v.get_as(id, "Organization"))))
}

/// The meta objects embedded in the parent under `prop` (stored ones projected, others
/// built from the embedded value).
fn embedded(ctx: &ResolverContext<'_>, v: &View<'_>, prop: &str, stix_type: &str, entity_type: &str) -> Vec<Json> {
    let (created, updated) = (parent(ctx, "created_at"), parent(ctx, "updated_at"));
    let items = match parent(ctx, prop) {
        Json::Array(items) => items,
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|mut item| {
            item["type"] = json!(stix_type);
            let stored = crate::stix::standard_id::standard_id(&item).and_then(|id| v.get_as(&id, &entity_type.replace('-', "")));
            match stored {
                Some(o) => v.project(o),
                None => {
                    if let Some(m) = item.as_object_mut() {
                        m.remove("type");
                    }
                    embedded_meta(entity_type, stix_type, &item, &created, &updated)
                }
            }
        })
        .collect()
}

fn limited(ctx: &ResolverContext<'_>, nodes: Vec<Json>) -> Result<Json, Error> {
    let first = ctx.args.get("first").and_then(|f| f.i64().ok()).map(|f| f.max(0) as usize);
    let offset = offset_of(arg_str(ctx, "after").as_deref())?;
    let total = nodes.len();
    let page: Vec<Json> = nodes.into_iter().skip(offset).take(first.unwrap_or(usize::MAX)).collect();
    Ok(connection(page, offset, total))
}

fn external_references(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    limited(ctx, embedded(ctx, v, "external_references", "external-reference", "External-Reference"))
}

fn kill_chain_phases(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(Json::Array(embedded(ctx, v, "kill_chain_phases", "kill-chain-phase", "Kill-Chain-Phase")))
}

/// Every id of the parent object (internal, standard, other STIX ids).
fn parent_ids(ctx: &ResolverContext<'_>) -> Vec<String> {
    let mut ids: Vec<String> = ["id", "standard_id"].iter().filter_map(|k| parent_str(ctx, k)).collect();
    ids.extend(strings(&parent(ctx, "x_opencti_stix_ids")));
    ids
}

/// The containers of `entity_type` whose `object_refs` name the parent.
fn containers(ctx: &ResolverContext<'_>, v: &View<'_>, entity_type: &str) -> Result<Json, Error> {
    let ids = parent_ids(ctx);
    let found: Vec<Json> = v
        .knowledge()
        .all()
        .filter(|o| &*o.entity_type == entity_type && ids.iter().any(|id| o.body.contains(id.as_str())) && v.visible(o))
        .filter_map(|o| {
            let body = o.json();
            strings(&body["object_refs"]).iter().any(|r| ids.contains(r)).then(|| v.project_body(o, body))
        })
        .collect();
    limited(ctx, found)
}

fn reports(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    containers(ctx, v, "Report")
}

fn notes(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    containers(ctx, v, "Note")
}

fn observed_data(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    containers(ctx, v, "Observed-Data")
}

fn opinions(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    containers(ctx, v, "Opinion")
}

fn objects(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let types = arg_strs(ctx, "types");
    let nodes: Vec<Json> = strings(&parent(ctx, "object_refs"))
        .iter()
        .filter_map(|id| v.get_as(id, "StixObjectOrStixRelationship"))
        .filter(|o| crate::graphql::knowledge::list::of_types(o, &types))
        .map(|o| v.project(o))
        .collect();
    limited(ctx, nodes)
}

fn side(ctx: &ResolverContext<'_>, v: &View<'_>, keys: &[&str]) -> Json {
    keys.iter()
        .find_map(|k| strings(&parent(ctx, k)).into_iter().next())
        .and_then(|id| v.get_as(&id, "StixObjectOrStixRelationshipOrCreator"))
        .map(|o| v.project(o))
        .unwrap_or(Json::Null)
}

fn from(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(side(ctx, v, &["source_ref", "sighting_of_ref"]))
}

fn to(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(side(ctx, v, &["target_ref", "where_sighted_refs"]))
}

/// The value of a top-level string property in compact STIX JSON text, without parsing
/// the whole object (`None` when absent or escaped: the caller then parses).
pub fn raw_str<'b>(body: &'b str, key: &str) -> Option<&'b str> {
    let pattern = format!("\"{key}\"");
    let mut from = 0;
    while let Some(pos) = body[from..].find(&pattern) {
        let at = from + pos;
        from = at + pattern.len();
        if at > 0 && body.as_bytes()[at - 1] == b'\\' {
            continue;
        }
        let rest = body[from..].trim_start();
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let rest = rest.trim_start().strip_prefix('"')?;
        let end = rest.find('"')?;
        let value = &rest[..end];
        return (!value.contains('\\')).then_some(value);
    }
    None
}

/// The `based-on` relationships touching `ids` on `side` (`source_ref` or `target_ref`):
/// the ids on the other side.
pub fn based_on(v: &View<'_>, ids: &[String], side: &str) -> Vec<String> {
    let other = if side == "source_ref" { "target_ref" } else { "source_ref" };
    v.knowledge()
        .all()
        .filter(|o| &*o.entity_type == "based-on" && &*o.stix_type == "relationship")
        .filter_map(|o| match raw_str(&o.body, side) {
            Some(s) if ids.iter().any(|i| i == s) => raw_str(&o.body, other).map(str::to_string),
            Some(_) => None,
            None => {
                let body = o.json();
                let s = body[side].as_str()?;
                ids.iter().any(|i| i == s).then(|| body[other].as_str().map(str::to_string)).flatten()
            }
        })
        .collect()
}

fn indicators(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let sources = match parent(ctx, "__indicators") {
        Json::Array(ids) => ids.iter().filter_map(|i| i.as_str().map(str::to_string)).collect(),
        _ => based_on(v, &parent_ids(ctx), "target_ref"),
    };
    let nodes = dedup(v, &sources, "Indicator");
    limited(ctx, nodes)
}

fn dedup(v: &View<'_>, ids: &[String], declared: &str) -> Vec<Json> {
    let mut seen = std::collections::HashSet::new();
    ids.iter().filter_map(|id| v.get_as(id, declared)).filter(|o| seen.insert(o.internal_id)).map(|o| v.project(o)).collect()
}

fn observables(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let targets = based_on(v, &parent_ids(ctx), "source_ref");
    limited(ctx, dedup(v, &targets, "StixCyberObservable"))
}

fn samples(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(project_all(v, strings(&parent(ctx, "sample_refs")).iter().filter_map(|id| v.get_as(id, "StixCyberObservable"))))
}

/// The tasks of a case: the tasks whose objects include it.
fn tasks(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    containers(ctx, v, "Task")
}

/// The object one reference property of the parent names, if it fits `declared`.
fn referenced(ctx: &ResolverContext<'_>, v: &View<'_>, keys: &[&str], declared: &str) -> Json {
    keys.iter()
        .find_map(|k| parent_str(ctx, k))
        .and_then(|id| v.get_as(&id, declared))
        .map(|o| v.project(o))
        .unwrap_or(Json::Null)
}

/// A data component's data source (`data_source_ref`, or MITRE's `x_mitre_data_source_ref`).
fn data_source(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(referenced(ctx, v, &["data_source_ref", "x_mitre_data_source_ref"], "DataSource"))
}

/// What a security coverage covers (`covered_ref`).
fn object_covered(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(referenced(ctx, v, &["covered_ref"], "StixDomainObject"))
}

/// The coverage a security coverage result is a result of (`result_of_ref`).
fn result_of(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(referenced(ctx, v, &["result_of_ref"], "SecurityCoverage"))
}

/// The results of a security coverage: the results whose `result_of_ref` names it.
fn results(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let ids = parent_ids(ctx);
    let found: Vec<Json> = v
        .knowledge()
        .all()
        .filter(|o| &*o.entity_type == "Security-Coverage-Result" && v.visible(o))
        .filter(|o| raw_str(&o.body, "result_of_ref").map(str::to_string).or_else(|| o.json()["result_of_ref"].as_str().map(str::to_string)).is_some_and(|r| ids.contains(&r)))
        .map(|o| v.project(o))
        .collect();
    Ok(Json::Array(found))
}

fn to_stix(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    Ok(parent_str(ctx, "id").and_then(|id| v.get(&id)).map(|o| Json::String(o.stix().to_string())).unwrap_or(Json::Null))
}

/// For a page of observables: the indicators `based-on` each, by node, in one pass over the
/// relationships (set as `__indicators` on each node for the `indicators` field).
pub fn attach_indicators(v: &View<'_>, nodes: &mut [Json]) {
    let mut by_id: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for (i, n) in nodes.iter().enumerate() {
        for k in ["id", "standard_id"] {
            if let Some(s) = n[k].as_str() {
                by_id.insert(s.to_string(), i);
            }
        }
        for s in strings(&n["x_opencti_stix_ids"]) {
            by_id.insert(s, i);
        }
    }
    let mut found: Vec<Vec<String>> = vec![Vec::new(); nodes.len()];
    for o in v.knowledge().all().filter(|o| &*o.entity_type == "based-on" && &*o.stix_type == "relationship") {
        let (target, source) = match (raw_str(&o.body, "target_ref"), raw_str(&o.body, "source_ref")) {
            (Some(t), Some(s)) => (t.to_string(), s.to_string()),
            _ => {
                let body = o.json();
                (
                    body["target_ref"].as_str().unwrap_or_default().to_string(),
                    body["source_ref"].as_str().unwrap_or_default().to_string(),
                )
            }
        };
        if let Some(&i) = by_id.get(&target) {
            found[i].push(source);
        }
    }
    for (n, f) in nodes.iter_mut().zip(found) {
        n["__indicators"] = json!(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_str_reads_compact_and_spaced_json_and_refuses_escapes() {
        let body = r#"{"type":"relationship","description":"x \"target_ref\": y","target_ref" : "ipv4-addr--1"}"#;
        assert_eq!(raw_str(body, "target_ref"), Some("ipv4-addr--1"));
        assert_eq!(raw_str(r#"{"target_ref":"a\"b"}"#, "target_ref"), None);
        assert_eq!(raw_str(r#"{"source_ref":"x"}"#, "target_ref"), None);
    }
}
