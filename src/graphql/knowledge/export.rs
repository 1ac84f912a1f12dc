//! Exports over GraphQL (`src/jobs/export.md`): the asks (`exportAsk` on one entity,
//! `stixCoreObjectsExportAsk` and its kin for lists), the files export connectors push
//! (`exportPush`, `stixCoreObjectsExportPush` and its kin), and where the platform lists
//! them (`exportFiles` on an entity, `stixCoreObjectsExportFiles` and its kin) — the
//! exports in progress first, as virtual files of their works. What an ask does and how
//! a file is stored are the jobs layer's ([`crate::jobs::export_ask`],
//! [`crate::jobs::export`]).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::jobs::{asker, file_node, job_error, work_file_node};
use crate::graphql::knowledge::input::upload;
use crate::graphql::knowledge::view::{Api, Shared, View, arg, arg_str, arg_strs, parent_str, strings, with_view};
use crate::jobs::export::{ExportFile, folder, store_export};
use crate::jobs::export_ask::{ExportAsk, ExportTarget, ask_export};
use crate::store::works::WorkStatus;
use crate::store::files::StoredFile;

/// The list pushes.
const LIST_PUSHES: &[&str] =
    &["stixCoreObjectsExportPush", "stixDomainObjectsExportPush", "stixCyberObservablesExportPush", "stixCoreRelationshipsExportPush"];

/// The list asks, with the list parameters each passes on besides `search`, `orderBy`,
/// `orderMode` and `filters`, and whether the platform refuses it in a draft.
const LIST_ASKS: &[(&str, &[&str], bool)] = &[
    ("stixCoreObjectsExportAsk", &[], true),
    ("stixDomainObjectsExportAsk", &[], false),
    ("stixCyberObservablesExportAsk", &["types"], false),
    (
        "stixCoreRelationshipsExportAsk",
        &["fromOrToId", "elementWithTargetTypes", "fromId", "fromRole", "fromTypes", "toId", "toRole", "toTypes", "relationship_type"],
        false,
    ),
];

/// The list listings.
const LIST_FILES: &[&str] =
    &["stixCoreObjectsExportFiles", "stixDomainObjectsExportFiles", "stixCyberObservablesExportFiles", "stixCoreRelationshipsExportFiles"];

/// Registers a root field of this module; false when `field` is not one.
pub fn register_root(r: &mut Registry, api: &Shared, field: &str) -> bool {
    if let Some((_, extra, draft_refused)) = LIST_ASKS.iter().find(|(f, _, _)| *f == field) {
        let (name, extra, draft_refused) = (field.to_string(), *extra, *draft_refused);
        r.json("Mutation", field, move |ctx| list_ask(ctx, &name, extra, draft_refused));
    } else if LIST_PUSHES.contains(&field) {
        r.json("Mutation", field, list_push);
    } else if LIST_FILES.contains(&field) {
        let api = api.clone();
        r.json("Query", field, move |ctx| list_files(ctx, &api));
    } else {
        return false;
    }
    true
}

/// `…EditMutations.exportPush(file, file_markings)`: the file of a single-entity export.
/// The element is found by any id, whatever the edited type (pycti pushes observables
/// through `stixDomainObjectEdit`); its folder keeps the id as the connector passed it.
pub fn export_push(ctx: &ResolverContext<'_>, api: &Api, id: &str, _declared: &str) -> Result<Json, Error> {
    let element = with_view(ctx, api, |v| Ok(v.get(id).map(|o| (o.entity_type.to_string(), o.internal_id.to_string()))))?;
    let (entity_type, internal_id) =
        element.ok_or_else(|| functional("Cant upload a file an none existing element", json!({"id": id})))?;
    push(ctx, folder(&entity_type, Some(id)), Some(internal_id), None)
}

/// `stixCoreObjectsExportPush(entity_id, entity_type, file, file_markings, listFilters)`
/// and its kin: the file of a list export, under `export/<entity_type>[/<entity_id>]`.
fn list_push(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let entity_type = arg_str(ctx, "entity_type").unwrap_or_default();
    let entity_id = arg_str(ctx, "entity_id").filter(|id| !id.is_empty());
    let list_filters = Some(arg_str(ctx, "listFilters").unwrap_or_default());
    push(ctx, folder(&entity_type, entity_id.as_deref()), entity_id, list_filters)
}

/// Stores the request's uploaded `file` with its `file_markings` in `folder`; `true`.
fn push(ctx: &ResolverContext<'_>, folder: String, entity_id: Option<String>, list_filters: Option<String>) -> Result<Json, Error> {
    let (core, caller) = parts(ctx)?;
    let file = upload(ctx, &arg(ctx, "file")).ok_or_else(|| functional("an export push needs a file (multipart upload)", json!({})))?;
    store_export(
        &core.store,
        ExportFile {
            folder,
            filename: file.name,
            content: file.content,
            markings: arg_strs(ctx, "file_markings"),
            entity_id,
            list_filters,
            uploaded_by: caller.user.as_ref().map(|u| u.id.clone()),
        },
    );
    Ok(json!(true))
}

/// How many exports in progress a listing shows (`loadExportWorksAsProgressFiles`).
const PROGRESS_FILES: usize = 10;

/// One export folder as the platform lists it: the exports in progress first (the ten
/// newest export works whose source is the folder, unless complete without errors, as
/// virtual files), then the stored files, newest first; at most `first` in all.
fn listing(ctx: &ResolverContext<'_>, v: &View<'_>, folder: &str, first: Option<i64>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let now = core.store.clock().now();
    let mut works: Vec<_> = v
        .state
        .works
        .all()
        .filter(|w| w.event_type == "INTERNAL_EXPORT_FILE" && w.event_source_id.as_deref() == Some(folder))
        .collect();
    works.sort_by_key(|w| std::cmp::Reverse(w.timestamp));
    let progress = works
        .into_iter()
        .take(PROGRESS_FILES)
        .filter(|w| w.status != WorkStatus::Complete || !w.errors.is_empty())
        .map(|w| work_file_node(w, now));
    let prefix = format!("{folder}/");
    let mut files: Vec<&StoredFile> =
        v.state.files.under(&prefix).filter(|f| !f.id[prefix.len()..].contains('/')).collect();
    files.sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then_with(|| a.id.cmp(&b.id)));
    let limit = first.and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
    let edges: Vec<Json> =
        progress.chain(files.into_iter().map(|f| file_node(f, now))).take(limit).map(|node| json!({"node": node})).collect();
    Ok(json!({"edges": edges}))
}

/// `exportFiles(first)` of an entity: the files under `export/<entity_type>/<internal id>`.
pub fn export_files(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let (Some(entity_type), Some(id)) = (parent_str(ctx, "entity_type"), parent_str(ctx, "id")) else {
        return Ok(json!({"edges": []}));
    };
    listing(ctx, v, &folder(&entity_type, Some(&id)), arg(ctx, "first").as_i64())
}

/// `stixCoreObjectsExportFiles(first, exportContext)` and its kin: the files under
/// `export/<exportContext.entity_type>[/<exportContext.entity_id>]`.
fn list_files(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let context = arg(ctx, "exportContext");
    let entity_type = context.get("entity_type").and_then(Json::as_str).unwrap_or_default().to_string();
    let entity_id = context.get("entity_id").and_then(Json::as_str).map(str::to_string);
    with_view(ctx, api, |v| listing(ctx, v, &folder(&entity_type, entity_id.as_deref()), arg(ctx, "first").as_i64()))
}

/// The marking arguments of an ask: `contentMaxMarkings` (absent: none) and
/// `fileMarkings` (absent: absent from the job, as on the platform).
fn markings_of(input: &Json) -> (Vec<String>, Option<Vec<String>>) {
    let file_markings = input.get("fileMarkings").filter(|v| !v.is_null()).map(strings);
    (input.get("contentMaxMarkings").map(strings).unwrap_or_default(), file_markings)
}

/// Runs an ask as the caller and answers the platform's virtual files of its works.
fn answer(ctx: &ResolverContext<'_>, ask: &ExportAsk, draft_refused: bool) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let asker = asker(ctx)?;
    if draft_refused && asker.draft_id.is_some() {
        return Err(functional("Cannot ask for export in draft", json!({})));
    }
    let works = ask_export(&core.jobs, ask, &asker).map_err(job_error)?;
    let now = core.store.clock().now();
    Ok(Json::Array(works.iter().map(|w| work_file_node(w, now)).collect()))
}

/// `…EditMutations.exportAsk(input)`: an export of one entity.
pub fn export_ask(ctx: &ResolverContext<'_>, _api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    let input = arg(ctx, "input");
    let (content_max_markings, file_markings) = markings_of(&input);
    let ask = ExportAsk {
        format: input["format"].as_str().unwrap_or_default().to_string(),
        export_type: input["exportType"].as_str().unwrap_or_default().to_string(),
        content_max_markings,
        file_markings,
        target: ExportTarget::Entity(id.to_string()),
    };
    answer(ctx, &ask, declared == "StixCoreObject")
}

/// `stixCoreObjectsExportAsk(input)` and its kin (`stixDomainObjectsExportAsk` takes the
/// same members as flat arguments): a selection when `selectedIds` is not empty, else a
/// query; `extra` are the list parameters the list passes on besides the common four.
fn list_ask(ctx: &ResolverContext<'_>, field: &str, extra: &[&str], draft_refused: bool) -> Result<Json, Error> {
    let input = if field == "stixDomainObjectsExportAsk" {
        let mut flat = serde_json::Map::new();
        for name in ctx.args.as_index_map().keys() {
            flat.insert(name.to_string(), arg(ctx, name));
        }
        Json::Object(flat)
    } else {
        arg(ctx, "input")
    };
    let context = input.get("exportContext").cloned().unwrap_or(Json::Null);
    let mut entity_type = context.get("entity_type").and_then(Json::as_str).unwrap_or_default().to_string();
    if entity_type.is_empty() && field == "stixCyberObservablesExportAsk" {
        entity_type = "Stix-Cyber-Observable".into();
    }
    let mut list_params = serde_json::Map::new();
    for key in extra.iter().chain(["search", "orderBy", "orderMode", "filters"].iter()) {
        if let Some(v) = input.get(*key).filter(|v| !v.is_null()) {
            list_params.insert((*key).to_string(), v.clone());
        }
    }
    if let Some(columns) = context.get("visible_columns").filter(|v| !v.is_null()) {
        list_params.insert("visible_columns".into(), columns.clone());
    }
    let (content_max_markings, file_markings) = markings_of(&input);
    let selected_ids = input.get("selectedIds").map(strings).unwrap_or_default();
    let ask = ExportAsk {
        format: input["format"].as_str().unwrap_or_default().to_string(),
        export_type: input["exportType"].as_str().unwrap_or_default().to_string(),
        content_max_markings,
        file_markings,
        target: ExportTarget::List {
            entity_type,
            entity_id: context.get("entity_id").and_then(Json::as_str).map(str::to_string),
            selected_ids,
            list_params,
        },
    };
    answer(ctx, &ask, draft_refused)
}
