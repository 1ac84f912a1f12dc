//! The files export connectors push, and where the platform lists them
//! (`src/jobs/export.md` §3): `exportPush` on one entity, the list pushes
//! (`stixCoreObjectsExportPush` and its kin), `exportFiles` on an entity and the list
//! listings (`stixCoreObjectsExportFiles` and its kin). Storage rules are the jobs
//! layer's ([`crate::jobs::export`]).

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::jobs::file_node;
use crate::graphql::knowledge::input::upload;
use crate::graphql::knowledge::view::{Api, Shared, View, arg, arg_str, arg_strs, parent_str, with_view};
use crate::jobs::export::{ExportFile, folder, store_export};
use crate::store::files::StoredFile;

/// The list pushes.
const LIST_PUSHES: &[&str] =
    &["stixCoreObjectsExportPush", "stixDomainObjectsExportPush", "stixCyberObservablesExportPush", "stixCoreRelationshipsExportPush"];

/// The list listings.
const LIST_FILES: &[&str] =
    &["stixCoreObjectsExportFiles", "stixDomainObjectsExportFiles", "stixCyberObservablesExportFiles", "stixCoreRelationshipsExportFiles"];

/// Registers a root field of this module; false when `field` is not one.
pub fn register_root(r: &mut Registry, api: &Shared, field: &str) -> bool {
    if LIST_PUSHES.contains(&field) {
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

/// The stored files of one export folder, newest first, at most `first`.
fn listing(v: &View<'_>, folder: &str, first: Option<i64>) -> Json {
    let prefix = format!("{folder}/");
    let mut files: Vec<&StoredFile> =
        v.state.files.under(&prefix).filter(|f| !f.id[prefix.len()..].contains('/')).collect();
    files.sort_by(|a, b| b.last_modified.cmp(&a.last_modified).then_with(|| a.id.cmp(&b.id)));
    let limit = first.and_then(|n| usize::try_from(n).ok()).unwrap_or(usize::MAX);
    let edges: Vec<Json> = files.into_iter().take(limit).map(|f| json!({"node": file_node(f)})).collect();
    json!({"edges": edges})
}

/// `exportFiles(first)` of an entity: the files under `export/<entity_type>/<internal id>`.
pub fn export_files(ctx: &ResolverContext<'_>, v: &View<'_>) -> Result<Json, Error> {
    let (Some(entity_type), Some(id)) = (parent_str(ctx, "entity_type"), parent_str(ctx, "id")) else {
        return Ok(json!({"edges": []}));
    };
    Ok(listing(v, &folder(&entity_type, Some(&id)), arg(ctx, "first").as_i64()))
}

/// `stixCoreObjectsExportFiles(first, exportContext)` and its kin: the files under
/// `export/<exportContext.entity_type>[/<exportContext.entity_id>]`.
fn list_files(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let context = arg(ctx, "exportContext");
    let entity_type = context.get("entity_type").and_then(Json::as_str).unwrap_or_default().to_string();
    let entity_id = context.get("entity_id").and_then(Json::as_str).map(str::to_string);
    with_view(ctx, api, |v| Ok(listing(v, &folder(&entity_type, entity_id.as_deref()), arg(ctx, "first").as_i64())))
}
