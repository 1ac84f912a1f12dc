//! Files, imports, drafts and playbook steps: `uploadImport`, `uploadPending`,
//! `askJobImport`, `deleteImport`, `draftWorkspaceAdd`, `playbookStepExecution` (the enrichment and export
//! asks are edit operations, in `knowledge::edit` and `knowledge::export`). The work itself is done by [`crate::jobs`].

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::input::{Attached, upload};
use crate::graphql::knowledge::view::{arg, arg_str, arg_strs};
use crate::jobs::{self, Asker, ImportOptions, JobError, Upload};
use crate::store::clock::iso;
use crate::store::files::StoredFile;
use crate::store::works::{Work, WorkStatus};
use chrono::{DateTime, Utc};

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.json("Mutation", "uploadImport", upload_import);
    r.json("Mutation", "uploadPending", upload_pending);
    r.json("Mutation", "askJobImport", ask_job_import);
    r.json("Mutation", "draftWorkspaceAdd", draft_workspace_add);
    r.json("Mutation", "playbookStepExecution", playbook_step_execution);
    r.json("Mutation", "deleteImport", delete_import);
}

fn arg_bool(ctx: &ResolverContext<'_>, name: &str) -> bool {
    arg(ctx, name).as_bool().unwrap_or(false)
}

/// The caller as a job asker (its draft header included).
pub fn asker(ctx: &ResolverContext<'_>) -> Result<Asker, Error> {
    let (_, caller) = parts(ctx)?;
    let user = caller.user()?;
    Ok(Asker { user_id: Some(user.id.clone()), draft_id: caller.draft_id.clone().filter(|d| !d.is_empty()) })
}

/// A job error as the platform's functional error.
pub fn job_error(e: JobError) -> Error {
    let data = match &e {
        JobError::UnknownConnector(id) | JobError::UnknownEntity(id) | JobError::UnknownFile(id) => json!({"id": id}),
        JobError::WrongType { id, .. } => json!({"id": id}),
        JobError::Forbidden(message) => {
            return crate::graphql::errors::FORBIDDEN_ACCESS.with(message.clone(), serde_json::Map::new());
        }
        JobError::NoConnector(message) => {
            return crate::graphql::errors::RESOURCE_NOT_FOUND.with(message.clone(), serde_json::Map::new());
        }
        _ => json!({}),
    };
    functional(e.to_string(), data)
}

/// The platform's `File` for a stored file.
pub fn file_node(f: &StoredFile, now: DateTime<Utc>) -> Json {
    json!({
        "id": f.id,
        "entity_type": "InternalFile",
        "name": f.name,
        "size": f.size,
        "lastModified": iso(f.last_modified),
        "lastModifiedSinceMin": (now - f.last_modified).num_minutes(),
        "uploadStatus": "complete",
        "metaData": {"mimetype": f.mime_type, "version": iso(f.last_modified), "entity_id": f.entity_id,
                      "file_markings": f.markings, "creator_id": f.uploaded_by,
                      "list_filters": f.metadata.get("list_filters"), "messages": [], "errors": []},
        "__markings": f.markings,
    })
}

/// How long an export's work may stay idle before its file shows as `timeout`.
const EXPORT_TIMEOUT_MINUTES: i64 = 20;

/// The platform's virtual `File` for an export in progress (`workToExportFile`): the
/// work's id and name, no content, the work's status as `uploadStatus` (`timeout` when it
/// is not complete and has been idle for 20 minutes), its messages and errors.
pub fn work_file_node(w: &Work, now: DateTime<Utc>) -> Json {
    let idle = (now - w.updated_at).num_minutes();
    let status = if w.status != WorkStatus::Complete && idle >= EXPORT_TIMEOUT_MINUTES { "timeout" } else { w.status.as_str() };
    json!({
        "id": w.id,
        "entity_type": "InternalFile",
        "name": w.name.as_deref().unwrap_or("Unknown"),
        "size": 0,
        "lastModified": iso(w.updated_at),
        "lastModifiedSinceMin": idle,
        "uploadStatus": status,
        "metaData": {"messages": crate::graphql::project::messages(&w.messages),
                     "errors": crate::graphql::project::messages(&w.errors)},
        "__markings": [],
    })
}

fn the_upload(ctx: &ResolverContext<'_>) -> Result<Attached, Error> {
    upload(ctx, &arg(ctx, "file")).ok_or_else(|| functional("A file is required (GraphQL multipart upload)", json!({})))
}

fn store(ctx: &ResolverContext<'_>, up: Upload) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let (file, _) = jobs::upload_file(&core.jobs, up, &asker(ctx)?).map_err(job_error)?;
    Ok(file_node(&file, core.store.clock().now()))
}

fn upload_import(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    store_upload(ctx, "fileMarkings", None, false, arg_bool(ctx, "noTriggerImport"))
}

fn upload_pending(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    store_upload(ctx, "file_markings", arg_str(ctx, "entityId").filter(|s| !s.is_empty()), true, true)
}

/// Stores the request's file (the markings argument's name differs between mutations).
fn store_upload(
    ctx: &ResolverContext<'_>,
    markings: &str,
    entity_id: Option<String>,
    pending: bool,
    no_trigger_import: bool,
) -> Result<Json, Error> {
    let file = the_upload(ctx)?;
    store(
        ctx,
        Upload {
            mime_type: file.mime_type.clone().unwrap_or_else(|| crate::store::files::guess_mime(&file.name)),
            filename: file.name,
            content: file.content,
            markings: arg_strs(ctx, markings),
            entity_id,
            pending,
            no_trigger_import,
        },
    )
}

fn ask_job_import(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let file_id = arg_str(ctx, "fileName").unwrap_or_default();
    let connector_id = arg_str(ctx, "connectorId").filter(|s| !s.is_empty());
    let options = ImportOptions {
        validation_mode: arg_str(ctx, "validationMode"),
        force_validation: arg_bool(ctx, "forceValidation"),
        configuration: arg_str(ctx, "configuration"),
        bypass_validation: arg_bool(ctx, "bypassValidation"),
    };
    jobs::ask_import(&core.jobs, &file_id, connector_id.as_deref(), true, &options, &asker(ctx)?).map_err(job_error)?;
    let file = core.store.read(|s| s.files.get(&file_id).cloned());
    Ok(file.map(|f| file_node(&f, core.store.clock().now())).unwrap_or(Json::Null))
}

fn draft_workspace_add(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let input = arg(ctx, "input");
    let name = input["name"].as_str().unwrap_or_default();
    if name.is_empty() {
        return Err(functional("A draft needs a name", json!({})));
    }
    let d = jobs::add_draft(&core.jobs, name, input["entity_id"].as_str().filter(|s| !s.is_empty()), &user.id);
    Ok(json!({"id": d.id, "name": d.name, "entity_id": d.entity_id, "created_at": crate::store::clock::iso(d.created_at),
              "draft_status": "open", "entity_type": "DraftWorkspace"}))
}


/// `playbookStepExecution`: a connector's answer to a playbook step (its bundle, a JSON
/// string); refused when the step was never sent or the bundle is not JSON.
fn playbook_step_execution(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, caller) = parts(ctx)?;
    let execution_id = arg_str(ctx, "execution_id").unwrap_or_default();
    let step_id = arg_str(ctx, "step_id").unwrap_or_default();
    let bundle = arg_str(ctx, "bundle").unwrap_or_default();
    if let Err(e) = serde_json::from_str::<Json>(&bundle) {
        return Err(functional(format!("The playbook step's bundle is not JSON: {e}"), json!({"step_id": step_id})));
    }
    let previous = arg_str(ctx, "previous_bundle").unwrap_or_default();
    let user = caller.user.as_ref().map(|u| u.id.clone());
    if jobs::playbook::record_result(&core.store, &execution_id, &step_id, bundle, previous, user) {
        Ok(json!(true))
    } else {
        Err(functional(
            format!("Playbook step {step_id} of execution {execution_id} was never sent"),
            json!({"execution_id": execution_id, "step_id": step_id}),
        ))
    }
}

/// `deleteImport(fileName)`: deletes a stored file by id (pycti's `internal_file.delete`,
/// the UI's delete of an import or an export file); its id.
fn delete_import(ctx: &ResolverContext<'_>) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let id = arg_str(ctx, "fileName").unwrap_or_default();
    let now = core.store.clock().now();
    let removed = core.store.write(|s| {
        let removed = s.files.remove(&id).is_some();
        if removed {
            s.transcript.push(now, crate::store::transcript::EntryKind::Note { message: format!("file deleted: {id}") });
        }
        removed
    });
    if removed { Ok(json!(id)) } else { Err(functional(format!("File {id} not found"), json!({"fileName": id}))) }
}
