//! Analyses over GraphQL (`src/jobs/export.md` §4): `askAnalysis` and `analysisClear` on
//! an element, the `analysisPush` of an analysis connector, and `stixCoreObjectAnalysis`
//! (the mapping a connector found, each matched string with the entity it names). What an
//! ask does and how an analysis is stored are the jobs layer's ([`crate::jobs::analysis`]).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::jobs::{asker, file_node, job_error};
use crate::graphql::knowledge::input::upload;
use crate::graphql::knowledge::view::{Api, Shared, arg, arg_str, with_view};
use crate::jobs::analysis::{self, AnalysisFile};
use crate::store::works::WorkStatus;

/// The only analysis type the platform reads.
const MAPPING_ANALYSIS: &str = "mapping_analysis";

/// Registers a root field of this module; false when `field` is not one.
pub fn register_root(r: &mut Registry, api: &Shared, field: &str) -> bool {
    if field != "stixCoreObjectAnalysis" {
        return false;
    }
    let api = api.clone();
    r.json("Query", field, move |ctx| read(ctx, &api));
    true
}

/// The `contentType` argument (an `AnalysisContentType` value, read as its name).
fn content_type(ctx: &ResolverContext<'_>) -> String {
    arg(ctx, "contentType").as_str().unwrap_or_default().to_string()
}

/// `stixCoreObjectEdit(id).askAnalysis(contentSource, contentType, connectorId)`: the work.
pub fn ask_analysis(ctx: &ResolverContext<'_>, _api: &Api, id: &str, _declared: &str) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let source = arg_str(ctx, "contentSource").unwrap_or_default();
    let content_type = content_type(ctx);
    let connector = arg_str(ctx, "connectorId").filter(|c| !c.is_empty());
    let work = analysis::ask_analysis(&core.jobs, id, &source, &content_type, connector.as_deref(), &asker(ctx)?)
        .map_err(job_error)?;
    Ok(core.store.read(|s| crate::graphql::project::work(&work, s.users.by_id(&work.user_id).map(|u| u.name.as_str()))))
}

/// `stixCoreObjectEdit(id).analysisPush(file, contentSource, contentType, analysisType)`:
/// the stored analysis.
pub fn analysis_push(ctx: &ResolverContext<'_>, _api: &Api, id: &str, _declared: &str) -> Result<Json, Error> {
    let (core, caller) = parts(ctx)?;
    let file = upload(ctx, &arg(ctx, "file")).ok_or_else(|| functional("an analysis push needs a file (multipart upload)", json!({})))?;
    let stored = analysis::store_analysis(
        &core.store,
        AnalysisFile {
            entity_id: id.to_string(),
            filename: file.name,
            content: file.content,
            content_source: arg_str(ctx, "contentSource").unwrap_or_default(),
            content_type: content_type(ctx),
            analysis_type: arg_str(ctx, "analysisType").unwrap_or_default(),
            uploaded_by: caller.user.as_ref().map(|u| u.id.clone()),
        },
    )
    .map_err(job_error)?;
    Ok(file_node(&stored, core.store.clock().now()))
}

/// `stixCoreObjectEdit(id).analysisClear(contentSource, contentType)`: deletes the
/// element's analyses of that content; `true`.
pub fn analysis_clear(ctx: &ResolverContext<'_>, api: &Api, id: &str, _declared: &str) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let source = arg_str(ctx, "contentSource").unwrap_or_default();
    let content_type = content_type(ctx);
    let element = with_view(ctx, api, |v| Ok(v.get(id).map(|o| analysis::folder(&o.entity_type, &o.internal_id.to_string()))))?;
    let folder = element.ok_or_else(|| functional("Cant find element to clear its analysis", json!({"id": id})))?;
    core.store.write(|s| {
        let prefix = format!("{folder}/");
        let ids: Vec<String> =
            s.files.under(&prefix).filter(|f| analysis::is_analysis_of(f, &source, &content_type)).map(|f| f.id.clone()).collect();
        for file in ids {
            s.files.remove(&file);
        }
    });
    Ok(json!(true))
}

/// `stixCoreObjectAnalysis(id, contentSource, contentType)`: while an analysis of the
/// element is running without error, its status; then the newest stored analysis, its
/// matched strings resolved to the entities the caller can see.
fn read(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let id = arg_str(ctx, "id").unwrap_or_default();
    let source = arg_str(ctx, "contentSource").unwrap_or_default();
    let content_type = content_type(ctx);
    with_view(ctx, api, |v| {
        let Some(element) = v.get(&id) else { return Ok(Json::Null) };
        let running = v.state.works.all().filter(|w| {
            w.event_type == "INTERNAL_ANALYSIS"
                && w.event_source_id.as_deref() == Some(element.standard_id.as_str())
                && w.status != WorkStatus::Complete
                && w.errors.is_empty()
        });
        if let Some(w) = running.max_by_key(|w| w.timestamp) {
            return Ok(json!({"__typename": "MappingAnalysis", "analysisType": MAPPING_ANALYSIS,
                              "analysisStatus": w.status.as_str(), "analysisDate": null, "mappedEntities": null}));
        }
        let prefix = format!("{}/", analysis::folder(&element.entity_type, &element.internal_id.to_string()));
        let newest = v
            .state
            .files
            .under(&prefix)
            .filter(|f| analysis::is_analysis_of(f, &source, &content_type))
            .filter(|f| f.metadata.get("analysis_type").and_then(Json::as_str) == Some(MAPPING_ANALYSIS))
            .max_by_key(|f| f.last_modified);
        let Some(file) = newest else { return Ok(Json::Null) };
        let mapping: serde_json::Map<String, Json> = serde_json::from_slice(&file.content).unwrap_or_default();
        let contained: Vec<String> = element.json()["object_refs"]
            .as_array()
            .map(|a| a.iter().filter_map(Json::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let mapped: Vec<Json> = mapping
            .iter()
            .filter_map(|(matched, target)| {
                let entity = v.get(target.as_str()?)?;
                let in_container = contained.iter().any(|r| v.get(r).is_some_and(|o| o.internal_id == entity.internal_id));
                Some(json!({"matchedString": matched, "matchedEntity": v.project(entity), "isEntityInContainer": in_container}))
            })
            .collect();
        Ok(json!({"__typename": "MappingAnalysis", "analysisType": MAPPING_ANALYSIS, "analysisStatus": "complete",
                  "analysisDate": crate::store::clock::iso(file.last_modified), "mappedEntities": mapped}))
    })
}
