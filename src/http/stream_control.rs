//! The control API's live stream routes (under `/_mock`, admin token): collections,
//! connections, injected events.
//!
//! `GET/POST /_mock/streams`, `PUT /_mock/streams/{id}/live`, `GET /_mock/stream/connections`,
//! `POST /_mock/stream/close`, `POST /_mock/stream/events` — what a connector author in any
//! language needs to drive a STREAM connector: give it a collection, stop it (410), drop
//! its connection (it resumes), send it events of your own, and read what it was sent.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::Deserialize;
use serde_json::{Value as Json, json};

use super::AppState;
use super::control::{JsonBody, error};
use crate::store::events::{EventBody, EventKind};
use crate::store::streams::StreamCollection;

/// Routes, relative to `/_mock`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/streams", get(list).post(add))
        .route("/streams/{id}/live", put(set_live))
        .route("/stream/connections", get(connections))
        .route("/stream/close", post(close))
        .route("/stream/events", post(inject))
}

async fn list(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.streams.all().to_vec())).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddBody {
    id: Option<String>,
    name: String,
    description: Option<String>,
    /// A FilterGroup (object) or its JSON text.
    filters: Option<Json>,
    #[serde(default = "yes")]
    stream_live: bool,
    #[serde(default)]
    stream_public: bool,
    #[serde(default)]
    authorized_members: Vec<String>,
    /// 7.x origin filters (a FilterGroup object or its JSON text).
    origin_filters: Option<Json>,
}

fn yes() -> bool {
    true
}

async fn add(State(state): State<AppState>, JsonBody(body): JsonBody<AddBody>) -> Response {
    let mut c = StreamCollection::new(body.name);
    if let Some(id) = body.id {
        c = c.with_id(id);
    }
    c.description = body.description;
    let text = |v: Option<Json>| v.as_ref().and_then(crate::stream::filter::filter_text);
    c.filters = text(body.filters);
    c.origin_filters = text(body.origin_filters);
    if let Err(e) = crate::stream::filter::OriginFilter::parse(c.origin_filters.as_deref()) {
        return error(StatusCode::BAD_REQUEST, e.0);
    }
    if let Some(filters) = &c.filters
        && let Err(e) = crate::stream::filter::validate(filters)
    {
        return error(StatusCode::BAD_REQUEST, e.0);
    }
    c.stream_live = body.stream_live;
    c.stream_public = body.stream_public;
    c.authorized_members = body.authorized_members;
    state.core.store.write(|s| s.streams.add(c.clone()));
    (StatusCode::CREATED, axum::Json(c)).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LiveBody {
    live: bool,
}

async fn set_live(State(state): State<AppState>, Path(id): Path<String>, JsonBody(body): JsonBody<LiveBody>) -> Response {
    let found = state.core.store.write(|s| s.streams.get_mut(&id).map(|c| c.stream_live = body.live).is_some());
    match found {
        true => axum::Json(state.core.store.read(|s| s.streams.get(&id).cloned())).into_response(),
        false => error(StatusCode::NOT_FOUND, format!("no stream collection '{id}'")),
    }
}

async fn connections(State(state): State<AppState>) -> Response {
    axum::Json(state.core.store.read(|s| s.streams.connections().to_vec())).into_response()
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CloseBody {
    stream: Option<String>,
}

async fn close(State(state): State<AppState>, JsonBody(body): JsonBody<CloseBody>) -> Response {
    let now = state.core.store.clock().now();
    let closed = state.core.store.write(|s| s.streams.close_open(body.stream.as_deref(), now));
    axum::Json(json!({"closed": closed})).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventBodyIn {
    /// SSE event name.
    event: String,
    /// The `data:` payload.
    data: Json,
}

async fn inject(State(state): State<AppState>, JsonBody(body): JsonBody<EventBodyIn>) -> Response {
    if body.event.is_empty() || body.event.contains(['\n', '\r']) {
        return error(StatusCode::BAD_REQUEST, "event must be a non-empty name on one line");
    }
    let kind = EventKind::from_name(&body.event);
    let now = state.core.store.clock().now();
    let event = EventBody::Injected { name: body.event.as_str().into(), payload: std::sync::Arc::new(body.data) };
    let id = state.core.store.write(|s| s.knowledge.event_log_mut().push(now, kind, None, event));
    (StatusCode::CREATED, axum::Json(json!({"id": id.to_string()}))).into_response()
}
