//! The control API under `/_mock/`: inspect and drive a running platform from any
//! language. JSON in, JSON out; every route except `health` needs the admin token
//! (`Authorization: Bearer <admin token>`). Errors are `{"status":"error","error":…}`.
//! The routes are documented in the README ("Control API").
//!
//! One layer checks the token in front of every route (`admin_only`), so no body is read
//! for a caller without it; bodies are read within the platform's payload limit
//! (`app:max_payload_body_size`, as `pingConnector` accepts a state that large) by
//! `JsonBody`; and every error — the handlers', and the router's own (a path parameter
//! that does not parse, a method the route lacks) — has the JSON shape (`json_errors`).

use std::time::Duration;

use axum::Router;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value as Json, json};

use crate::http::AppState;
use crate::http::auth::bearer;
use crate::status;
use crate::store::faults::FaultSpec;
use crate::store::transcript::EntryKind;

/// Routes, relative to `/_mock`.
pub fn router(state: AppState) -> Router<AppState> {
    let guarded = Router::new()
        .route("/connectors", get(connectors))
        .route("/connectors/{id}", get(connector))
        .route("/connectors/{id}/state", axum::routing::put(set_state))
        .route("/connectors/{id}/reset-state", post(reset_state))
        .route("/works", get(works))
        .route("/works/{id}", get(work))
        .route("/bundles", get(bundles))
        .route("/bundles/{seq}", get(bundle))
        .route("/objects", get(objects))
        .route("/objects/{id}", get(object))
        .route("/findings", get(findings))
        .route("/seed", post(seed))
        .route("/users", get(users).post(add_user))
        .route("/tokens/{token}", delete(revoke_token))
        .route("/faults", get(faults).post(add_fault).delete(clear_faults))
        .route("/faults/{id}", delete(remove_fault))
        .route("/ingest", get(ingest).put(set_ingest))
        .route("/transcript", get(transcript))
        .route("/refusals", get(refusals))
        .route("/activity", get(activity))
        .route("/reset", post(reset))
        .route("/jobs", get(jobs))
        .route("/jobs/{seq}", get(job))
        .route("/enrichments", post(ask_enrichment))
        .route("/files", get(files).post(upload_file))
        .route("/files/{*id}", get(file))
        .route("/imports", post(ask_import))
        .route("/exports", post(ask_export))
        .route("/playbook-steps", get(playbook_steps).post(run_playbook_step))
        .route("/drafts", get(drafts))
        .merge(super::stream_control::routes())
        .route_layer(middleware::from_fn_with_state(state, admin_only));
    Router::new().route("/health", get(health)).merge(guarded).layer(middleware::map_response(json_errors))
}

pub(super) fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({"status": "error", "error": message.into()}))).into_response()
}

/// Refuses, before anything of the request is read, a caller without the admin token.
async fn admin_only(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let token = bearer(request.headers());
    let admin = token.is_some_and(|t| state.core.store.read(|s| s.users.by_token(&t).is_some_and(|u| u.is_bypass())));
    if !admin {
        return error(StatusCode::UNAUTHORIZED, "the control API needs the admin token (Authorization: Bearer <admin token>)");
    }
    next.run(request).await
}

/// Gives the router's own plain-text errors (a path parameter that does not parse, a
/// method the route does not have) the control API's JSON shape.
async fn json_errors(response: Response) -> Response {
    let plain =
        response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_none_or(|t| t.starts_with("text/plain"));
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || !plain {
        return response;
    }
    let text = match response.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { status.canonical_reason().unwrap_or("error").to_string() } else { text };
    error(status, message)
}

/// A JSON request body read within the platform's payload limit; what is wrong with it is
/// answered in the control API's error shape.
pub(super) struct JsonBody<T>(pub(super) T);

impl<T: serde::de::DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        let bytes = limited_body(request, state).await?;
        serde_json::from_slice(bytes.as_slice())
            .map(JsonBody)
            .map_err(|e| error(StatusCode::BAD_REQUEST, format!("invalid request body: {e}")))
    }
}

/// The whole body of a request, within the platform's payload limit.
async fn limited_body(request: Request, state: &AppState) -> Result<crate::buffer::BodyBuf, Response> {
    let content_length = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    match crate::http::body::read_limited(request.into_body(), state.limit, content_length).await {
        Ok(b) => Ok(b),
        Err(crate::http::body::BodyError::TooLarge { .. }) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than app:max_payload_body_size ({})",
                state.core.settings.app.max_payload_body_size
            ),
        )),
        Err(crate::http::body::BodyError::Io(e)) => {
            Err(error(StatusCode::BAD_REQUEST, format!("the body could not be read: {e}")))
        }
    }
}

/// A raw request body within the payload limit (a STIX bundle to seed).
struct RawBody(crate::buffer::BodyBuf);

impl FromRequest<AppState> for RawBody {
    type Rejection = Response;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, Response> {
        limited_body(request, state).await.map(RawBody)
    }
}

async fn health(State(state): State<AppState>) -> Response {
    axum::Json(status::health(&state.core)).into_response()
}

async fn connectors(State(state): State<AppState>) -> Response {
    axum::Json(status::connectors(&state.core)).into_response()
}

async fn connector(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match status::connector(&state.core, &id) {
        Some(c) => axum::Json(c).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("connector '{id}' is not registered")),
    }
}

#[derive(Deserialize)]
struct StateBody {
    state: Option<Json>,
}

async fn set_state(State(state): State<AppState>, Path(id): Path<String>, JsonBody(body): JsonBody<StateBody>) -> Response {
    let raw = body.state.map(|s| match s {
        Json::String(s) => s,
        other => other.to_string(),
    });
    let now = state.core.store.clock().now();
    match state.core.store.write(|s| s.connectors.set_state(&id, raw, now).is_some()) {
        true => axum::Json(status::connector(&state.core, &id)).into_response(),
        false => error(StatusCode::NOT_FOUND, format!("connector '{id}' is not registered")),
    }
}

async fn reset_state(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let now = state.core.store.clock().now();
    let found = state.core.store.write(|s| {
        let found = s.connectors.reset_state(&id, now).is_some();
        if found {
            s.queues.purge(&id);
        }
        found
    });
    match found {
        true => axum::Json(status::connector(&state.core, &id)).into_response(),
        false => error(StatusCode::NOT_FOUND, format!("connector '{id}' is not registered")),
    }
}

#[derive(Deserialize)]
struct WorksQuery {
    connector_id: Option<String>,
}

async fn works(State(state): State<AppState>, Query(q): Query<WorksQuery>) -> Response {
    axum::Json(status::works(&state.core, q.connector_id.as_deref())).into_response()
}

async fn work(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.core.store.read(|s| s.works.get(&id).cloned()) {
        Some(w) => axum::Json(w).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("work '{id}' does not exist")),
    }
}

async fn bundles(State(state): State<AppState>) -> Response {
    let list: Vec<Json> = state.core.store.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter_map(|e| match &e.kind {
                EntryKind::Bundle(b) => Some(json!({"seq": e.seq, "at": e.at, "connector_id": b.connector_id,
                    "work_id": b.work_id, "transport": b.transport, "bytes": b.bytes, "objects": b.objects,
                    "content_kept": b.content.is_some()})),
                _ => None,
            })
            .collect()
    });
    axum::Json(list).into_response()
}

async fn bundle(State(state): State<AppState>, Path(seq): Path<u64>) -> Response {
    let found = state.core.store.read(|s| {
        s.transcript.entries().iter().find(|e| e.seq == seq).and_then(|e| match &e.kind {
            EntryKind::Bundle(b) => Some(b.content.clone()),
            _ => None,
        })
    });
    match found {
        Some(Some(content)) => ([(axum::http::header::CONTENT_TYPE, "application/json")], content.to_string()).into_response(),
        Some(None) => error(
            StatusCode::GONE,
            format!("bundle #{seq} was larger than the transcript bundle cap; only its metadata was kept"),
        ),
        None => error(StatusCode::NOT_FOUND, format!("transcript entry #{seq} is not a bundle")),
    }
}

#[derive(Deserialize)]
struct ObjectsQuery {
    #[serde(rename = "type")]
    entity_type: Option<String>,
    /// Include the built-in markings.
    #[serde(default)]
    built_in: bool,
}

async fn objects(State(state): State<AppState>, Query(q): Query<ObjectsQuery>) -> Response {
    let list: Vec<Json> = state.core.store.read(|s| {
        s.knowledge
            .all()
            .filter(|o| q.built_in || !o.is_built_in())
            .filter(|o| q.entity_type.as_deref().is_none_or(|t| o.entity_type.eq_ignore_ascii_case(t) || &*o.stix_type == t))
            .map(|o| {
                json!({"internal_id": o.internal_id, "standard_id": o.standard_id, "stix_ids": o.stix_ids,
                "stix_type": o.stix_type, "entity_type": o.entity_type, "created_at": o.created_at,
                "updated_at": o.updated_at, "writes": o.writes})
            })
            .collect()
    });
    axum::Json(list).into_response()
}

async fn object(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.core.store.read(|s| s.knowledge.get(&id).map(|o| o.json())) {
        Some(o) => axum::Json(o).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no object has the id '{id}'")),
    }
}

/// `POST /_mock/seed`: the body is a STIX bundle, stored as the administrator before the
/// answer (within the platform's payload limit).
async fn seed(State(state): State<AppState>, RawBody(bytes): RawBody) -> Response {
    let Ok(text) = std::str::from_utf8(bytes.as_slice()) else {
        return error(StatusCode::BAD_REQUEST, "the bundle is not UTF-8 text");
    };
    let store = state.core.store.clone();
    let text = text.to_string();
    match state.core.tasks.spawn_blocking("seed bundle", move || crate::ingest::seed::seed_bundle(&store, &text)).await {
        Ok(Ok(report)) => axum::Json(report).into_response(),
        Ok(Err(e)) => error(StatusCode::BAD_REQUEST, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("seeding failed: {e}")),
    }
}

#[derive(Deserialize)]
struct FindingsQuery {
    work_id: Option<String>,
    connector_id: Option<String>,
}

async fn findings(State(state): State<AppState>, Query(q): Query<FindingsQuery>) -> Response {
    let (list, dropped) = state.core.store.read(|s| {
        let list: Vec<_> = s
            .findings
            .all()
            .iter()
            .filter(|f| q.work_id.is_none() || f.work_id == q.work_id)
            .filter(|f| q.connector_id.is_none() || f.connector_id == q.connector_id)
            .cloned()
            .collect();
        (list, s.findings.dropped())
    });
    axum::Json(json!({"findings": list, "not_kept": dropped})).into_response()
}

async fn users(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.users.all().to_vec())).into_response()
}

#[derive(Deserialize)]
struct NewUser {
    name: String,
    token: Option<String>,
    /// Explicit capabilities; absent means the platform's Connector role.
    capabilities: Option<Vec<String>>,
    /// The markings the user may see and use (any id of each); absent means no limit.
    allowed_markings: Option<Vec<String>>,
}

async fn add_user(State(state): State<AppState>, JsonBody(body): JsonBody<NewUser>) -> Response {
    if body.name.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "a user needs a non-empty name");
    }
    let now = state.core.store.clock().now();
    let added = state.core.store.write(|s| {
        if let Some(holder) = body.token.as_deref().and_then(|t| s.users.token_holder(t)) {
            return Err(holder.name.clone());
        }
        Ok(match &body.capabilities {
            Some(caps) => {
                let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
                s.users.add_user(&body.name, body.token.as_deref(), &caps, now)
            }
            None => s.users.add_connector_user(&body.name, body.token.as_deref(), now),
        })
    });
    let (user, token) = match added {
        Ok(added) => added,
        Err(holder) => {
            return error(StatusCode::CONFLICT, format!("this token is already the token of user '{holder}'; tokens are unique"));
        }
    };
    if body.allowed_markings.is_some() {
        state.core.store.write(|s| s.users.set_allowed_markings(&user.id, body.allowed_markings.clone()));
    }
    (
        StatusCode::CREATED,
        axum::Json(json!({"id": user.id, "name": user.name, "token": token, "capabilities": user.capabilities,
            "allowed_markings": body.allowed_markings})),
    )
        .into_response()
}

async fn revoke_token(State(state): State<AppState>, Path(token): Path<String>) -> Response {
    match state.core.store.write(|s| s.users.revoke_token(&token)) {
        true => StatusCode::NO_CONTENT.into_response(),
        false => error(StatusCode::NOT_FOUND, "no user has this token"),
    }
}

async fn faults(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.faults.rules().to_vec())).into_response()
}

async fn add_fault(State(state): State<AppState>, JsonBody(spec): JsonBody<FaultSpec>) -> Response {
    let id = state.core.store.write(|s| s.faults.add(spec));
    (StatusCode::CREATED, axum::Json(json!({"id": id}))).into_response()
}

async fn clear_faults(State(state): State<AppState>) -> Response {
    state.core.store.write(|s| s.faults.clear());
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_fault(State(state): State<AppState>, Path(id): Path<u64>) -> Response {
    match state.core.store.write(|s| s.faults.remove(id)) {
        true => StatusCode::NO_CONTENT.into_response(),
        false => error(StatusCode::NOT_FOUND, format!("no fault rule #{id}")),
    }
}

async fn ingest(State(state): State<AppState>) -> Response {
    axum::Json(status::ingest(&state.core)).into_response()
}

#[derive(Deserialize)]
struct ThrottleBody {
    paused: Option<bool>,
    delay_ms: Option<u64>,
}

async fn set_ingest(State(state): State<AppState>, JsonBody(body): JsonBody<ThrottleBody>) -> Response {
    state.core.store.write(|s| {
        if let Some(p) = body.paused {
            s.queues.throttle.paused = p;
        }
        if let Some(d) = body.delay_ms {
            s.queues.throttle.delay = Duration::from_millis(d);
        }
    });
    axum::Json(status::ingest(&state.core)).into_response()
}

#[derive(Deserialize)]
struct TranscriptQuery {
    since: Option<u64>,
}

async fn transcript(State(state): State<AppState>, Query(q): Query<TranscriptQuery>) -> Response {
    let entries = state.core.store.read(|s| s.transcript.since(q.since.unwrap_or(0)).to_vec());
    axum::Json(entries).into_response()
}

async fn refusals(State(state): State<AppState>) -> Response {
    let refused: Vec<crate::store::transcript::Refusal> = state.core.store.read(|s| s.transcript.refusals().cloned().collect());
    axum::Json(refused).into_response()
}

/// The longest `GET /_mock/activity?wait_ms=` waits (the HTTP client's own timeout is
/// usually shorter).
const MAX_IDLE_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

#[derive(Deserialize)]
struct ActivityQuery {
    wait_ms: Option<u64>,
}

/// What the platform still has in progress; with `wait_ms`, waits up to that long for it
/// to be idle. Always 200: `idle` says whether it is.
async fn activity(State(state): State<AppState>, Query(q): Query<ActivityQuery>) -> Response {
    let activity = match q.wait_ms {
        Some(ms) => {
            let wait = std::time::Duration::from_millis(ms).min(MAX_IDLE_WAIT);
            match crate::activity::wait_idle(&state.core, wait).await {
                Ok(()) => crate::activity::Activity::default(),
                Err(busy) => busy,
            }
        }
        None => crate::activity::activity(&state.core).await,
    };
    let mut body = serde_json::to_value(activity).unwrap_or_default();
    body["idle"] = serde_json::Value::Bool(activity.is_idle());
    axum::Json(body).into_response()
}

async fn reset(State(state): State<AppState>) -> Response {
    status::reset(&state.core);
    StatusCode::NO_CONTENT.into_response()
}

fn job_error(e: crate::jobs::JobError) -> Response {
    use crate::jobs::JobError;
    let status = match e {
        JobError::WrongType { .. } | JobError::Invalid(_) => StatusCode::BAD_REQUEST,
        JobError::Forbidden(_) => StatusCode::FORBIDDEN,
        _ => StatusCode::NOT_FOUND,
    };
    error(status, e.to_string())
}

#[derive(Deserialize)]
struct JobsQuery {
    connector_id: Option<String>,
}

async fn jobs(State(state): State<AppState>, Query(q): Query<JobsQuery>) -> Response {
    let list: Vec<crate::store::jobs::Job> = state.core.store.read(|s| {
        s.jobs.all().iter().filter(|j| q.connector_id.as_ref().is_none_or(|c| &j.connector_id == c)).cloned().collect()
    });
    axum::Json(list).into_response()
}

async fn job(State(state): State<AppState>, Path(seq): Path<String>) -> Response {
    let found = seq.parse::<u64>().ok().and_then(|n| state.core.store.read(|s| s.jobs.get(n).cloned()));
    match found {
        Some(j) => axum::Json(j).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("job '{seq}' does not exist")),
    }
}

#[derive(Deserialize)]
struct EnrichmentBody {
    entity_id: String,
    #[serde(default)]
    connector_id: Option<String>,
    #[serde(default)]
    connector_ids: Vec<String>,
}

async fn ask_enrichment(State(state): State<AppState>, JsonBody(body): JsonBody<EnrichmentBody>) -> Response {
    let mut connectors = body.connector_ids;
    connectors.extend(body.connector_id);
    if connectors.is_empty() {
        return error(StatusCode::BAD_REQUEST, "give connector_id or connector_ids");
    }
    match crate::jobs::ask_enrichment(&state.core.jobs, &connectors, &body.entity_id, &Default::default()) {
        Ok(works) => axum::Json(works).into_response(),
        Err(e) => job_error(e),
    }
}

async fn files(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.files.all().cloned().collect::<Vec<_>>())).into_response()
}

async fn file(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    match state.core.store.read(|s| s.files.get(&id).cloned()) {
        Some(f) => axum::Json(f).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("file '{id}' does not exist")),
    }
}

#[derive(Deserialize)]
struct UploadBody {
    name: String,
    #[serde(default)]
    mime_type: Option<String>,
    /// Text content.
    #[serde(default)]
    content: Option<String>,
    /// Binary content, base64.
    #[serde(default)]
    content_base64: Option<String>,
    #[serde(default)]
    markings: Vec<String>,
    #[serde(default)]
    entity_id: Option<String>,
    #[serde(default)]
    pending: bool,
    #[serde(default)]
    no_trigger_import: bool,
}

async fn upload_file(State(state): State<AppState>, JsonBody(body): JsonBody<UploadBody>) -> Response {
    let content = match (body.content, body.content_base64) {
        (Some(text), None) => bytes::Bytes::from(text),
        (None, Some(b64)) => {
            use base64::Engine;
            match base64::engine::general_purpose::STANDARD.decode(b64.trim()) {
                Ok(b) => bytes::Bytes::from(b),
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("content_base64 is not base64: {e}")),
            }
        }
        _ => return error(StatusCode::BAD_REQUEST, "give exactly one of content (text) and content_base64"),
    };
    let upload = crate::jobs::Upload {
        mime_type: body.mime_type.unwrap_or_else(|| crate::store::files::guess_mime(&body.name)),
        filename: body.name,
        content,
        markings: body.markings,
        entity_id: body.entity_id,
        pending: body.pending,
        no_trigger_import: body.no_trigger_import,
    };
    match crate::jobs::upload_file(&state.core.jobs, upload, &Default::default()) {
        Ok((file, works)) => (StatusCode::CREATED, axum::Json(json!({"file": file, "works": works}))).into_response(),
        Err(e) => job_error(e),
    }
}

#[derive(Deserialize)]
struct ImportBody {
    file_id: String,
    #[serde(default)]
    connector_id: Option<String>,
    #[serde(default)]
    validation_mode: Option<String>,
    #[serde(default)]
    force_validation: bool,
    #[serde(default)]
    configuration: Option<String>,
    #[serde(default)]
    bypass_validation: bool,
    #[serde(default)]
    draft_id: Option<String>,
}

async fn ask_import(State(state): State<AppState>, JsonBody(body): JsonBody<ImportBody>) -> Response {
    if let Some(mode) = body.validation_mode.as_deref().filter(|m| !["workbench", "draft"].contains(m)) {
        return error(StatusCode::BAD_REQUEST, format!("validation_mode '{mode}' is neither workbench nor draft"));
    }
    let options = crate::jobs::ImportOptions {
        validation_mode: body.validation_mode,
        force_validation: body.force_validation,
        configuration: body.configuration,
        bypass_validation: body.bypass_validation,
    };
    let asker = crate::jobs::Asker { user_id: None, draft_id: body.draft_id };
    match crate::jobs::ask_import(&state.core.jobs, &body.file_id, body.connector_id.as_deref(), true, &options, &asker) {
        Ok(works) => axum::Json(works).into_response(),
        Err(e) => job_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    format: String,
    #[serde(default = "simple")]
    export_type: String,
    /// One entity …
    #[serde(default)]
    entity_id: Option<String>,
    /// … or a list of this type (with `entity_id` as the list's entity, if any).
    #[serde(default)]
    entity_type: Option<String>,
    #[serde(default)]
    selected_ids: Vec<String>,
    #[serde(default)]
    list_params: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    content_max_markings: Vec<String>,
    #[serde(default)]
    file_markings: Option<Vec<String>>,
    /// The asking user (the administrator by default).
    #[serde(default)]
    user_id: Option<String>,
}

fn simple() -> String {
    "simple".into()
}

async fn ask_export(State(state): State<AppState>, JsonBody(body): JsonBody<ExportBody>) -> Response {
    use crate::jobs::export_ask::{ExportAsk, ExportTarget};
    if !["simple", "full"].contains(&body.export_type.as_str()) {
        return error(StatusCode::BAD_REQUEST, format!("export_type '{}' is neither simple nor full", body.export_type));
    }
    let target = match (body.entity_type, body.entity_id) {
        (Some(entity_type), entity_id) => {
            ExportTarget::List { entity_type, entity_id, selected_ids: body.selected_ids, list_params: body.list_params }
        }
        (None, Some(id)) => ExportTarget::Entity(id),
        (None, None) => {
            return error(StatusCode::BAD_REQUEST, "an export needs entity_id (one entity) or entity_type (a list)".to_string());
        }
    };
    let ask = ExportAsk {
        format: body.format,
        export_type: body.export_type,
        content_max_markings: body.content_max_markings,
        file_markings: Some(body.file_markings.unwrap_or_default()),
        target,
    };
    let asker = crate::jobs::Asker { user_id: body.user_id, draft_id: None };
    match crate::jobs::export_ask::ask_export(&state.core.jobs, &ask, &asker) {
        Ok(works) => axum::Json(works).into_response(),
        Err(e) => job_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaybookStepBody {
    connector_id: String,
    entity_id: String,
    /// `create` or `update` (the default).
    #[serde(default)]
    trigger: Option<String>,
}

async fn run_playbook_step(State(state): State<AppState>, JsonBody(body): JsonBody<PlaybookStepBody>) -> Response {
    let trigger = body.trigger.unwrap_or_else(|| "update".into());
    if !["create", "update"].contains(&trigger.as_str()) {
        return error(StatusCode::BAD_REQUEST, format!("trigger '{trigger}' is neither create nor update"));
    }
    match crate::jobs::playbook::run_step(&state.core.jobs, &body.connector_id, &body.entity_id, &trigger) {
        Ok(step) => axum::Json(step).into_response(),
        Err(e) => job_error(e),
    }
}

async fn playbook_steps(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.playbooks.all().to_vec())).into_response()
}

async fn drafts(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.drafts.all().iter().map(crate::store::drafts::Draft::summary).collect::<Vec<_>>()))
        .into_response()
}
