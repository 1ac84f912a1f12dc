//! Stored STIX objects as the GraphQL objects the entity API answers.
//!
//! A projection starts from the stored STIX body (every STIX property is a GraphQL field
//! of the same name) and adds what is not a plain copy (`src/graphql/knowledge.md`, "Fields
//! that are not a plain copy"): the platform's ids and types, the OpenCTI and MITRE
//! extension values under their `x_opencti_*` / `x_mitre_*` names, renamed properties
//! (`abstract` → `attribute_abstract`, sighting `count` → `attribute_count`...), hashes as
//! `[{algorithm, hash}]`, the observable's representative value, and `__typename` for values
//! of interface type. Fields that need other objects (`createdBy`, `objectLabel`,
//! `from`...) are resolved lazily by `fields.rs`, from the STIX reference properties the
//! projection keeps (`created_by_ref`, `labels`, `source_ref`...).
//!
//! Non-null scalar fields the object has no value for get the type's neutral value (`""`,
//! `0`, `false`, `[]`, the creation date), so that a partial object never turns a whole
//! answer into an error.

use serde_json::{Map, Value as Json, json};

use crate::graphql::sdl::named;
use crate::graphql::knowledge::types::{IDENTITY_CLASSES, graphql_type, parent_types};
use crate::graphql::knowledge::view::View;
use crate::stix::OPENCTI_EXTENSION;
use crate::store::clock::iso;
use crate::store::knowledge::StoredObject;

/// The OpenCTI extension carried by observables.
pub const OPENCTI_SCO_EXTENSION: &str = "extension-definition--f93e2c80-4231-4f9a-af8b-95c9bd566a82";
/// The MITRE ATT&CK extension.
pub const MITRE_EXTENSION: &str = "extension-definition--322b8f77-262a-4cb8-a915-1e441e00329b";

/// Keys of the OpenCTI extensions that are platform bookkeeping, not `x_opencti_*` fields.
const INTERNAL_EXTENSION_KEYS: &[&str] = &[
    "extension_type",
    "id",
    "type",
    "created_at",
    "updated_at",
    "is_inferred",
    "stix_ids",
    "creator_ids",
    "files",
    "granted_refs",
    "labels_ids",
    "created_by_ref_id",
    "assignee_ids",
    "participant_ids",
    "authorized_members",
    "linked_to_refs",
    "workflow_id",
];

/// The default colour of a label created without one.
pub fn label_color(value: &str) -> String {
    const PALETTE: &[&str] =
        &["#ff9800", "#2196f3", "#4caf50", "#e91e63", "#9c27b0", "#00bcd4", "#795548", "#607d8b", "#f44336", "#3f51b5"];
    let h = value.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
    PALETTE[h % PALETTE.len()].to_string()
}

/// The OpenCTI extension of a body (domain objects and relationships use one definition,
/// observables another).
pub fn opencti_extension(body: &Json) -> Option<&Map<String, Json>> {
    let ext = body.get("extensions")?;
    ext.get(OPENCTI_EXTENSION).or_else(|| ext.get(OPENCTI_SCO_EXTENSION)).and_then(Json::as_object)
}

/// The GraphQL object of a stored object whose body is `body`.
pub fn project(v: &View<'_>, obj: &StoredObject, body: Json) -> Json {
    let mut m = match body {
        Json::Object(m) => m,
        _ => Map::new(),
    };
    let stix_type: &str = &obj.stix_type;
    let entity_type: &str = &obj.entity_type;
    let body_ids = m.get("x_opencti_stix_ids").cloned();
    let extensions = m.remove("extensions");
    if let Some(ext) = &extensions {
        for def in [OPENCTI_EXTENSION, OPENCTI_SCO_EXTENSION] {
            if let Some(e) = ext.get(def).and_then(Json::as_object) {
                extension_fields(&mut m, e, v, obj);
            }
        }
        if let Some(e) = ext.get(MITRE_EXTENSION).and_then(Json::as_object) {
            for (k, val) in e.iter().filter(|(k, _)| *k != "extension_type") {
                let key = if k.starts_with("x_mitre_") { k.clone() } else { format!("x_mitre_{k}") };
                m.entry(key).or_insert_with(|| val.clone());
            }
        }
        // The GraphQL `extensions` of files and network traffic is the STIX value as text.
        let rest: Map<String, Json> = ext
            .as_object()
            .map(|e| {
                e.iter()
                    .filter(|(k, _)| *k != OPENCTI_EXTENSION && *k != OPENCTI_SCO_EXTENSION)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if !rest.is_empty() {
            m.insert("extensions".into(), Json::String(Json::Object(rest).to_string()));
        }
    }
    renames(&mut m, stix_type);
    if let Some(Json::Object(h)) = m.get("hashes") {
        let list: Vec<Json> = h.iter().map(|(a, v)| json!({"algorithm": a, "hash": v})).collect();
        m.insert("hashes".into(), Json::Array(list));
    }
    type_specific(&mut m, obj);
    let gql = graphql_type(obj);
    let mut stix_ids: Vec<Json> = obj.stix_ids.iter().map(|s| Json::String(s.clone())).collect();
    for id in body_ids.iter().flat_map(|v| v.as_array().cloned().unwrap_or_default()) {
        if id.as_str() != Some(obj.standard_id.as_str()) && !stix_ids.contains(&id) {
            stix_ids.push(id);
        }
    }
    m.insert("id".into(), json!(obj.internal_id.to_string()));
    m.insert("standard_id".into(), json!(obj.standard_id));
    m.insert("entity_type".into(), json!(entity_type));
    m.insert("parent_types".into(), json!(parent_types(stix_type, entity_type)));
    m.insert("x_opencti_stix_ids".into(), Json::Array(stix_ids));
    m.insert("created_at".into(), json!(iso(obj.created_at)));
    m.insert("updated_at".into(), json!(iso(obj.updated_at)));
    m.entry("spec_version").or_insert_with(|| json!("2.1"));
    m.entry("customFieldValues").or_insert_with(|| json!([]));
    m.entry("creators").or_insert_with(|| json!([]));
    m.entry("importFiles").or_insert_with(|| json!({"edges": []}));
    defaults(&mut m, v, &gql, &iso(obj.created_at));
    m.insert("__typename".into(), Json::String(gql));
    Json::Object(m)
}

/// Copies the OpenCTI extension's values to their GraphQL names.
fn extension_fields(m: &mut Map<String, Json>, e: &Map<String, Json>, v: &View<'_>, obj: &StoredObject) {
    for (k, val) in e {
        if INTERNAL_EXTENSION_KEYS.contains(&k.as_str()) {
            continue;
        }
        let key = if k.starts_with("x_opencti_") { k.clone() } else { format!("x_opencti_{k}") };
        m.entry(key).or_insert_with(|| val.clone());
    }
    if let Some(w) = e.get("workflow_id") {
        m.entry("x_opencti_workflow_id").or_insert_with(|| w.clone());
    }
    if let Some(ids) = e.get("creator_ids").and_then(Json::as_array) {
        let creators: Vec<Json> = ids
            .iter()
            .filter_map(Json::as_str)
            .map(|id| json!({"id": id, "name": v.user_name(id).unwrap_or("Unknown"), "entity_type": "User"}))
            .collect();
        m.insert("creators".into(), Json::Array(creators));
    }
    if let Some(granted) = e.get("granted_refs") {
        m.insert("__granted_refs".into(), granted.clone());
    }
    if let Some(files) = e.get("files").and_then(Json::as_array) {
        let edges: Vec<Json> = files.iter().map(|f| json!({"node": file_node(f, obj)})).collect();
        m.insert("importFiles".into(), json!({"edges": edges}));
    }
}

/// A `File` from a file entry of the OpenCTI extension of `obj` (its id is the platform's
/// storage path, `import/<entity type>/<internal id>/<name>`).
pub fn file_node(f: &Json, obj: &StoredObject) -> Json {
    let name = f.get("name").and_then(Json::as_str).unwrap_or_default();
    json!({
        "id": format!("import/{}/{}/{name}", obj.entity_type, obj.internal_id),
        "entity_type": "InternalFile",
        "name": f.get("name").cloned().unwrap_or(json!("")),
        "size": f.get("size").cloned().unwrap_or(Json::Null),
        "uploadStatus": "complete",
        "metaData": {"mimetype": f.get("mime_type").cloned().unwrap_or(Json::Null), "version": f.get("version").cloned().unwrap_or(Json::Null)},
        "__markings": f.get("object_marking_refs").cloned().unwrap_or(json!([])),
    })
}

/// STIX properties whose GraphQL name differs.
fn renames(m: &mut Map<String, Json>, stix_type: &str) {
    let pairs: &[(&str, &str)] = match stix_type {
        "note" => &[("abstract", "attribute_abstract")],
        "sighting" => &[("count", "attribute_count")],
        "email-message" => &[("date", "attribute_date")],
        "windows-registry-key" => &[("key", "attribute_key")],
        "data-source" | "x-mitre-data-source" => &[("platforms", "x_mitre_platforms"), ("x_mitre_collection_layers", "collection_layers")],
        "security-coverage" => &[
            ("last_result", "coverage_last_result"),
            ("valid_from", "coverage_valid_from"),
            ("valid_to", "coverage_valid_to"),
        ],
        _ => &[],
    };
    for (from, to) in pairs {
        if let Some(val) = m.get(*from).cloned() {
            m.entry(to.to_string()).or_insert(val);
        }
    }
    // The STIX `coverage` ([{name, score}]) of security coverages and their results.
    if let Some(Json::Array(items)) = m.get("coverage").filter(|_| stix_type.starts_with("security-coverage")) {
        let list: Vec<Json> = items.iter().map(|c| json!({"coverage_name": c["name"], "coverage_score": c["score"]})).collect();
        m.entry("coverage_information").or_insert(Json::Array(list));
    }
}

fn s<'m>(m: &'m Map<String, Json>, k: &str) -> Option<&'m str> {
    m.get(k).and_then(Json::as_str).filter(|s| !s.is_empty())
}

/// Fields that depend on the type.
fn type_specific(m: &mut Map<String, Json>, obj: &StoredObject) {
    let entity_type: &str = &obj.entity_type;
    match &*obj.stix_type {
        "identity" => {
            let class = IDENTITY_CLASSES.iter().find(|(e, _)| *e == entity_type).map(|(_, c)| *c).unwrap_or("organization");
            m.entry("identity_class").or_insert_with(|| json!(class));
        }
        "marking-definition" => marking_fields(m),
        "label" => {
            let value = s(m, "value").unwrap_or_default().to_string();
            m.entry("color").or_insert_with(|| json!(label_color(&value)));
        }
        "kill-chain-phase" => {
            m.entry("x_opencti_order").or_insert(json!(0));
        }
        "vocabulary" => {
            let category = s(m, "category").unwrap_or_default().to_string();
            m.insert("category".into(), crate::graphql::knowledge::vocabularies::definition(&category));
        }
        "sighting" => {
            m.insert("relationship_type".into(), json!("stix-sighting-relationship"));
            m.entry("attribute_count").or_insert(json!(1));
            m.entry("x_opencti_negative").or_insert(json!(false));
        }
        "indicator" => {
            if let Some(p) = s(m, "pattern") {
                m.insert("x_opencti_observable_values".into(), Json::Array(pattern_values(p)));
            }
        }
        "attack-pattern" | "course-of-action" if !m.contains_key("x_mitre_id") => {
            let mitre = m.get("external_references").and_then(Json::as_array).and_then(|refs| {
                refs.iter()
                    .rev()
                    .find(|r| r["source_name"] == "mitre-attack")
                    .and_then(|r| r["external_id"].as_str().map(str::to_string))
            });
            if let Some(id) = mitre {
                m.insert("x_mitre_id".into(), json!(id));
            }
        }
        "process" => {
            if let Some(Json::Object(vars)) = m.get("environment_variables") {
                let list: Vec<Json> =
                    vars.iter().map(|(k, v)| json!(format!("{k}={}", v.as_str().unwrap_or_default()))).collect();
                m.insert("environment_variables".into(), Json::Array(list));
            }
        }
        "x509-certificate" => {
            if let Some(Json::Object(ext)) = m.get("x509_v3_extensions").cloned() {
                for (k, v) in ext {
                    m.entry(k).or_insert(v);
                }
            }
        }
        _ => {}
    }
    if crate::stix::is_observable_type(&obj.stix_type) {
        let value = crate::stix::representative::observable_value(m, entity_type);
        m.insert("observable_value".into(), json!(value));
    }
}

/// The platform's `definition_type` / `definition` of a marking (the OpenCTI names, not the
/// STIX definition dictionary).
fn marking_fields(m: &mut Map<String, Json>) {
    let stix_type = s(m, "definition_type").map(str::to_string);
    let def_type = s(m, "x_opencti_definition_type").map(str::to_string).or_else(|| match stix_type.as_deref() {
        Some("tlp") => Some("TLP".into()),
        other => other.map(str::to_string),
    });
    let definition =
        s(m, "x_opencti_definition").map(str::to_string).or_else(|| s(m, "name").map(str::to_string)).or_else(|| {
            let d = m.get("definition")?;
            d.get("tlp")
                .and_then(Json::as_str)
                .map(|l| format!("TLP:{}", l.to_uppercase()))
                .or_else(|| d.get("statement").and_then(Json::as_str).map(str::to_string))
        });
    m.insert("definition_type".into(), def_type.map(Json::String).unwrap_or(Json::Null));
    m.insert("definition".into(), definition.map(Json::String).unwrap_or(Json::Null));
    m.entry("x_opencti_order").or_insert(json!(0));
}

/// `[{type, value, hashes}]` of the simple comparisons of a STIX pattern.
pub fn pattern_values(pattern: &str) -> Vec<Json> {
    let mut out = Vec::new();
    for cmp in pattern.split(['[', ']']).flat_map(|p| p.split(" AND ")).flat_map(|p| p.split(" OR ")) {
        let Some((path, value)) = cmp.split_once('=') else { continue };
        let path = path.trim().trim_end_matches('!').trim();
        let value = value.trim();
        let Some(value) = value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) else { continue };
        let value = value.replace("\\'", "'").replace("\\\\", "\\");
        let Some((stix_type, prop)) = path.split_once(':') else { continue };
        let entity = crate::stix::OBSERVABLE_TYPES.iter().find(|(s, _)| *s == stix_type).map(|(_, e)| *e).unwrap_or(stix_type);
        if let Some(alg) = prop.strip_prefix("hashes.") {
            let alg = alg.trim_matches('\'');
            out.push(json!({"type": entity, "value": value, "hashes": [{"algorithm": alg, "hash": value}]}));
        } else {
            out.push(json!({"type": entity, "value": value, "hashes": []}));
        }
    }
    out
}

/// Neutral values for the non-null scalar fields of `gql` the object has no value for.
fn defaults(m: &mut Map<String, Json>, v: &View<'_>, gql: &str, created_at: &str) {
    let Some(fields) = v.api.info.objects.get(gql) else { return };
    for (name, f) in fields {
        if !matches!(f.ty, async_graphql::dynamic::TypeRef::NonNull(_)) || m.get(name).is_some_and(|x| !x.is_null()) {
            continue;
        }
        if f.is_list() {
            m.insert(name.clone(), json!([]));
            continue;
        }
        let value = match named(&f.ty) {
            "String" | "ID" => json!(""),
            "Int" => json!(0),
            "Float" => json!(0.0),
            "Boolean" => json!(false),
            "DateTime" => json!(created_at),
            _ => continue,
        };
        m.insert(name.clone(), value);
    }
}

/// The GraphQL object of a meta value embedded in another object but not stored on its
/// own (an external reference, kill chain phase or label the store never received);
/// `created_at` is the embedding object's.
pub fn embedded_meta(entity_type: &str, stix_type: &str, value: &Json, created_at: &Json, updated_at: &Json) -> Json {
    let mut m = value.as_object().cloned().unwrap_or_default();
    let mut stix = m.clone();
    stix.insert("type".into(), json!(stix_type));
    let id = crate::stix::standard_id::standard_id(&Json::Object(stix))
        .unwrap_or_else(|| format!("{stix_type}--{}", uuid::Uuid::new_v4()));
    if entity_type == "Label" {
        let value = m.get("value").and_then(Json::as_str).unwrap_or_default().to_string();
        m.entry("color").or_insert_with(|| json!(label_color(&value)));
    }
    if entity_type == "Kill-Chain-Phase" {
        m.entry("x_opencti_order").or_insert(json!(0));
    }
    m.insert("id".into(), json!(id));
    m.insert("standard_id".into(), json!(id));
    m.insert("entity_type".into(), json!(entity_type));
    m.insert("parent_types".into(), json!(parent_types(stix_type, entity_type)));
    m.insert("spec_version".into(), json!("2.1"));
    m.insert("created_at".into(), created_at.clone());
    m.insert("updated_at".into(), updated_at.clone());
    m.insert("importFiles".into(), json!({"edges": []}));
    m.insert("__typename".into(), json!(entity_type.replace('-', "")));
    Json::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_values_reads_simple_comparisons_and_hashes() {
        let v = pattern_values("[ipv4-addr:value = '198.51.100.7'] OR [file:hashes.'SHA-256' = 'abc']");
        assert_eq!(v[0], json!({"type": "IPv4-Addr", "value": "198.51.100.7", "hashes": []}));
        assert_eq!(v[1]["type"], "StixFile");
        assert_eq!(v[1]["hashes"][0], json!({"algorithm": "SHA-256", "hash": "abc"}));
    }

    #[test]
    fn label_colours_are_stable() {
        assert_eq!(label_color("ransomware"), label_color("ransomware"));
        assert!(label_color("x").starts_with('#'));
    }
}
