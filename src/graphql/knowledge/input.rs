//! Creation inputs (`MalwareAddInput`, `StixCyberObservableAdd` arguments...) as STIX 2.1
//! objects, for the ingest path.
//!
//! Input fields are STIX properties of the same name, except:
//! - references, given as ids of existing objects (internal, standard or STIX): `createdBy`
//!   → `created_by_ref`, `objectMarking` → `object_marking_refs`, `objects` → `object_refs`,
//!   `samples` → `sample_refs`, the observables' `resolvesTo`, `belongsTo`, `networkSrc`...
//!   the malware analysis' `hostVm`, `operatingSystem`, `installedSoftware`, `analysisSco`,
//!   `analysisSample`, the data component's `dataSource`, the security coverage's
//!   `objectCovered` (→ `covered_ref`) and its result's `resultOf` (→ `result_of_ref`)
//!   (written as the targets' standard ids), `objectLabel` → `labels` (the labels' values),
//!   `externalReferences` / `killChainPhases` → the embedded dictionaries of the stored
//!   meta objects, `objectOrganization` → the OpenCTI extension's `granted_refs`; an id
//!   that names nothing the caller can see is the platform's `MISSING_REFERENCE_ERROR`;
//! - renamed properties: `stix_id` → `id`, `attribute_abstract` → `abstract`,
//!   `attribute_count` → `count`, `attribute_date` → `date`, `attribute_key` → `key`;
//!   `hashes` (`[{algorithm, hash}]`) → the STIX dictionary; per type: the data source's
//!   `x_mitre_platforms` → `platforms`, the security coverage's `coverage_last_result` /
//!   `coverage_valid_from` / `coverage_valid_to` → `last_result` / `valid_from` / `valid_to`,
//!   and `coverage_information` (`[{coverage_name, coverage_score}]`) → `coverage`
//!   (`[{name, score}]`) on coverages and their results;
//! - what is not STIX: attached `files` become file entries of the OpenCTI extension (name,
//!   size, type, markings: the mock keeps no content), the creating user goes to the
//!   extension's `creator_ids`; `update`, `upsertOperations`, `customFieldValues` (no custom
//!   field is defined on the mock, so the platform ignores them all), `clientMutationId`,
//!   `noTriggerImport`, `embedded`, assignees and participants are not stored.

use async_graphql::Error;
use async_graphql::ErrorExtensions;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Map, Value as Json, json};

use crate::graphql::knowledge::project::{OPENCTI_SCO_EXTENSION, opencti_extension};
use crate::graphql::knowledge::view::{View, strings};
use crate::stix::OPENCTI_EXTENSION;
use crate::stix::refusals::{Refusal, missing_reference};

/// Input fields that are not stored.
const NOT_STORED: &[&str] = &[
    "update",
    "clientMutationId",
    "upsertOperations",
    "files",
    "filesMarkings",
    "noTriggerImport",
    "embedded",
    "customFieldValues",
    "objectAssignee",
    "objectParticipant",
    "authorized_members",
    "createIndicator",
    "createObservables",
    "basedOn",
    "fromId",
    "toId",
    "file",
    "x_opencti_modified_at",
];

/// Input fields naming other objects, and the STIX property holding them (`true`: a list).
const REFERENCES: &[(&str, &str, bool)] = &[
    ("createdBy", "created_by_ref", false),
    ("objectMarking", "object_marking_refs", true),
    ("objects", "object_refs", true),
    ("samples", "sample_refs", true),
    ("resolvesTo", "resolves_to_refs", true),
    ("belongsTo", "belongs_to_refs", true),
    ("serviceDlls", "service_dll_refs", true),
    ("obsContent", "content_ref", false),
    ("networkSrc", "src_ref", false),
    ("networkDst", "dst_ref", false),
    ("bornIn", "born_in_ref", false),
    ("hostVm", "host_vm_ref", false),
    ("operatingSystem", "operating_system_ref", false),
    ("installedSoftware", "installed_software_refs", true),
    ("analysisSco", "analysis_sco_refs", true),
    ("analysisSample", "sample_ref", false),
    ("dataSource", "data_source_ref", false),
    ("objectCovered", "covered_ref", false),
    ("resultOf", "result_of_ref", false),
];

/// Input fields whose STIX property has another name for one STIX type only: the data
/// source's platforms, the security coverage's dates (the result keeps the `coverage_`
/// prefix), and the coverage scores of both.
const TYPED_RENAMES: &[(&str, &str, &str)] = &[
    ("data-source", "x_mitre_platforms", "platforms"),
    ("security-coverage", "coverage_last_result", "last_result"),
    ("security-coverage", "coverage_valid_from", "valid_from"),
    ("security-coverage", "coverage_valid_to", "valid_to"),
    ("security-coverage", "coverage_information", "coverage"),
    ("security-coverage-result", "coverage_information", "coverage"),
];

/// The STIX property of an input field of an object of `stix_type`.
pub fn stix_property<'k>(stix_type: &str, key: &'k str) -> &'k str {
    if let Some((_, _, to)) = TYPED_RENAMES.iter().find(|(t, from, _)| *t == stix_type && *from == key) {
        return to;
    }
    RENAMED.iter().find(|(k, _)| *k == key).map(|(_, p)| *p).unwrap_or(key)
}

/// `coverage_information` (`[{coverage_name, coverage_score}]`) as the STIX `coverage`
/// (`[{name, score}]`).
pub fn coverage(value: &Json) -> Json {
    let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
    Json::Array(items.iter().map(|c| json!({"name": c["coverage_name"], "score": c["coverage_score"]})).collect())
}

/// Input fields whose STIX property has another name.
pub const RENAMED: &[(&str, &str)] =
    &[("attribute_abstract", "abstract"), ("attribute_count", "count"), ("attribute_date", "date"), ("attribute_key", "key")];

/// The platform's GraphQL error for a refusal (`code`, `message`, `extensions.data`).
pub fn refusal_error(r: &Refusal) -> Error {
    let code = r.code;
    let data = async_graphql::Value::from_json(Json::Object(r.data.clone())).unwrap_or_default();
    Error::new(r.message.clone()).extend_with(move |_, e| {
        e.set("code", code);
        e.set("data", data.clone());
    })
}

/// Resolves the ids an input names, collecting the ones that name nothing.
pub struct Resolver<'a, 'v> {
    view: &'a View<'v>,
    /// Ids that name nothing the caller can see, as given.
    pub missing: Vec<String>,
}

impl<'a, 'v> Resolver<'a, 'v> {
    /// A resolver over the caller's view.
    pub fn new(view: &'a View<'v>) -> Self {
        Resolver { view, missing: Vec::new() }
    }

    /// The standard id of the object `id` names.
    pub fn one(&mut self, id: &str) -> Option<String> {
        match self.view.get(id) {
            Some(o) => Some(o.standard_id.clone()),
            None => {
                self.missing.push(id.to_string());
                None
            }
        }
    }

    /// The standard ids of the objects `ids` name.
    pub fn many(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter().filter_map(|id| self.one(id)).collect()
    }

    /// The body of a meta object of GraphQL type `declared`.
    fn meta(&mut self, id: &str, declared: &str) -> Option<Json> {
        match self.view.get_as(id, declared) {
            Some(o) => Some(o.json()),
            None => {
                self.missing.push(id.to_string());
                None
            }
        }
    }

    /// The values of the labels `ids` name.
    pub fn labels(&mut self, ids: &[String]) -> Vec<String> {
        ids.iter().filter_map(|id| self.meta(id, "Label")).filter_map(|b| b["value"].as_str().map(str::to_string)).collect()
    }

    /// The embedded dictionaries of the external references `ids` name.
    pub fn external_references(&mut self, ids: &[String]) -> Vec<Json> {
        let keep = ["source_name", "description", "url", "hashes", "external_id"];
        ids.iter().filter_map(|id| self.meta(id, "ExternalReference")).map(|b| pick(&b, &keep)).collect()
    }

    /// The embedded dictionaries of the kill chain phases `ids` name.
    pub fn kill_chain_phases(&mut self, ids: &[String]) -> Vec<Json> {
        ids.iter()
            .filter_map(|id| self.meta(id, "KillChainPhase"))
            .map(|b| pick(&b, &["kill_chain_name", "phase_name"]))
            .collect()
    }

    /// `MISSING_REFERENCE_ERROR` when something was missing.
    pub fn finish(&self) -> Result<(), Error> {
        if self.missing.is_empty() { Ok(()) } else { Err(refusal_error(&missing_reference(&self.missing))) }
    }
}

fn pick(body: &Json, keys: &[&str]) -> Json {
    let mut m = Map::new();
    for k in keys {
        if let Some(v) = body.get(*k).filter(|v| !v.is_null()) {
            m.insert(k.to_string(), v.clone());
        }
    }
    Json::Object(m)
}

/// A file attached to a creation (`files` with `filesMarkings`), as an OpenCTI extension
/// file entry.
pub struct Attached {
    /// File name.
    pub name: String,
    /// MIME type.
    pub mime_type: Option<String>,
    /// Size in bytes.
    pub size: u64,
    /// The content.
    pub content: bytes::Bytes,
}

/// The uploaded file a variable value stands for (`#__graphql_file__:<n>`).
pub fn upload(ctx: &ResolverContext<'_>, value: &Json) -> Option<Attached> {
    let n: usize = value.as_str()?.strip_prefix("#__graphql_file__:")?.parse().ok()?;
    let u = async_graphql::Upload(n).value(ctx.ctx).ok()?;
    Some(Attached { size: u.size().unwrap_or(0), name: u.filename, mime_type: u.content_type, content: u.content })
}

/// The OpenCTI extension definition an object of `stix_type` carries.
pub fn extension_id(stix_type: &str) -> &'static str {
    if crate::stix::is_observable_type(stix_type) { OPENCTI_SCO_EXTENSION } else { OPENCTI_EXTENSION }
}

/// The OpenCTI extension of a STIX object under construction, created when absent.
pub fn extension_mut<'m>(stix: &'m mut Map<String, Json>, stix_type: &str) -> &'m mut Map<String, Json> {
    let id = extension_id(stix_type);
    let exts = stix.entry("extensions").or_insert_with(|| json!({}));
    if !exts.is_object() {
        *exts = json!({});
    }
    let ext = exts
        .as_object_mut()
        .map(|e| e.entry(id).or_insert_with(|| json!({"extension_type": "property-extension"})))
        .and_then(Json::as_object_mut);
    match ext {
        Some(e) => e,
        None => unreachable!("the extension was just created as an object"),
    }
}

/// Copies the fields of an input into a STIX object: references resolved, renamed fields
/// renamed, what is not stored left out (see the module documentation).
pub fn copy_fields(stix: &mut Map<String, Json>, input: &Map<String, Json>, r: &mut Resolver<'_, '_>, stix_type: &str) {
    for (key, value) in input {
        if value.is_null() || NOT_STORED.contains(&key.as_str()) {
            continue;
        }
        if let Some((_, prop, list)) = REFERENCES.iter().find(|(k, _, _)| k == key) {
            let ids = r.many(&strings(value));
            match (list, ids.first()) {
                (true, _) if !ids.is_empty() => {
                    stix.insert(prop.to_string(), json!(ids));
                }
                (false, Some(id)) => {
                    stix.insert(prop.to_string(), json!(id));
                }
                _ => {}
            }
            continue;
        }
        match key.as_str() {
            "stix_id" => {
                stix.insert("id".into(), value.clone());
            }
            "objectLabel" => {
                let labels = r.labels(&strings(value));
                if !labels.is_empty() {
                    stix.insert("labels".into(), json!(labels));
                }
            }
            "externalReferences" => {
                let refs = r.external_references(&strings(value));
                if !refs.is_empty() {
                    stix.insert("external_references".into(), json!(refs));
                }
            }
            "killChainPhases" => {
                let phases = r.kill_chain_phases(&strings(value));
                if !phases.is_empty() {
                    stix.insert("kill_chain_phases".into(), json!(phases));
                }
            }
            "objectOrganization" => {
                let orgs = r.many(&strings(value));
                if !orgs.is_empty() {
                    extension_mut(stix, stix_type).insert("granted_refs".into(), json!(orgs));
                }
            }
            "hashes" => {
                if let Some(list) = value.as_array() {
                    let map: Map<String, Json> = list
                        .iter()
                        .filter_map(|h| Some((h["algorithm"].as_str()?.to_string(), h["hash"].clone())))
                        .filter(|(_, h)| !h.is_null())
                        .collect();
                    if !map.is_empty() {
                        stix.insert("hashes".into(), Json::Object(map));
                    }
                } else if value.is_object() {
                    stix.insert("hashes".into(), value.clone());
                }
            }
            "coverage_information" => {
                stix.insert(stix_property(stix_type, key).to_string(), coverage(value));
            }
            other => {
                stix.insert(stix_property(stix_type, other).to_string(), value.clone());
            }
        }
    }
}

/// Records the creating user and the attached files on the OpenCTI extension.
pub fn record_creation(
    ctx: &ResolverContext<'_>,
    stix: &mut Map<String, Json>,
    input: &Map<String, Json>,
    r: &mut Resolver<'_, '_>,
    user_id: &str,
    stix_type: &str,
    now: &str,
) {
    let files: Vec<Json> = match input.get("files") {
        Some(Json::Array(files)) => files
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let a = upload(ctx, f)?;
                let markings = input.get("filesMarkings").and_then(|m| m.get(i)).map(strings).unwrap_or_default();
                let markings = r.many(&markings);
                Some(json!({"name": a.name, "mime_type": a.mime_type, "size": a.size, "version": now, "object_marking_refs": markings}))
            })
            .collect(),
        _ => Vec::new(),
    };
    let ext = extension_mut(stix, stix_type);
    ext.insert("creator_ids".into(), json!([user_id]));
    if !files.is_empty() {
        ext.insert("files".into(), Json::Array(files));
    }
}

/// Unites the OpenCTI extension of an object being upserted with the stored one's (the
/// ingest path replaces extensions wholesale): creators, files and organisations stay. A
/// file is known by its name (its path `import/<type>/<id>/<name>` on the platform): one
/// uploaded again under the same name replaces the stored one.
pub fn keep_extension(stix: &mut Map<String, Json>, existing: &Json, stix_type: &str) {
    let Some(old) = opencti_extension(existing) else { return };
    let old = old.clone();
    let ext = extension_mut(stix, stix_type);
    for key in ["creator_ids", "files", "granted_refs"] {
        let Some(Json::Array(before)) = old.get(key) else { continue };
        let mut merged = before.clone();
        if let Some(Json::Array(now)) = ext.get(key) {
            for item in now {
                // A file uploaded again under the same name replaces the former version.
                if key == "files" {
                    merged.retain(|f| f.get("name") != item.get("name"));
                }
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
        }
        ext.insert(key.into(), Json::Array(merged));
    }
    for (k, v) in old {
        ext.entry(k).or_insert(v);
    }
}

/// STIX properties every object of its kind has, when the input gave none: `spec_version`,
/// and `created` / `modified` for domain objects and relationships.
pub fn complete(stix: &mut Map<String, Json>, stix_type: &str, now: &str) {
    let meta = matches!(stix_type, "label" | "external-reference" | "kill-chain-phase" | "vocabulary");
    if !meta {
        stix.entry("spec_version").or_insert_with(|| json!("2.1"));
    }
    if !meta && !crate::stix::is_observable_type(stix_type) {
        stix.entry("created").or_insert_with(|| json!(now));
        stix.entry("modified").or_insert_with(|| json!(now));
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upsert_keeps_the_stored_files_and_creators_and_replaces_a_file_of_the_same_name() {
        let mut stored = Map::new();
        let ext = extension_mut(&mut stored, "report");
        ext.insert("files".into(), json!([{"name": "a.txt", "version": "1"}, {"name": "b.txt", "version": "1"}]));
        ext.insert("creator_ids".into(), json!(["u1"]));
        let mut incoming = Map::new();
        let ext = extension_mut(&mut incoming, "report");
        ext.insert("files".into(), json!([{"name": "a.txt", "version": "2"}]));
        ext.insert("creator_ids".into(), json!(["u2"]));

        keep_extension(&mut incoming, &Json::Object(stored), "report");

        let ext = extension_mut(&mut incoming, "report");
        assert_eq!(ext["files"], json!([{"name": "b.txt", "version": "1"}, {"name": "a.txt", "version": "2"}]));
        assert_eq!(ext["creator_ids"], json!(["u1", "u2"]));
    }
}
