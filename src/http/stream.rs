//! `GET /stream`, `GET /stream/live`, `GET /stream/<collection id>`: the live stream over
//! server-sent events, with axum's `Sse` response.
//!
//! The head is the platform's (`Content-Type: text/event-stream; charset=utf-8` — without
//! the charset pycti's SSE client decodes UTF-8 as Latin-1 —, `Cache-Control: no-cache,
//! no-transform`, `Access-Control-Allow-Origin: *`). A refusal is the platform's too: the
//! status with the reason in the status line (`HTTP/1.1 410 This live stream is stopped`)
//! and an empty body, which is what pycti's `raise_for_status()` puts in its log. No
//! keep-alive comments are sent: the platform sends none, and its `heartbeat` events (with
//! ids) are what keep a reader alive (`crate::stream::session`).

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;

use super::AppState;
use crate::stream::params::StreamParams;
use crate::stream::session::{self, Frame, Refusal, Route};

/// `GET /stream`.
pub async fn raw(State(state): State<AppState>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    serve(&state, Route::Raw, query, &headers)
}

/// `GET /stream/{id}` (`live` or a collection id).
pub async fn named(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    serve(&state, Route::Named(id), query, &headers)
}

fn serve(state: &AppState, route: Route, query: Option<String>, headers: &HeaderMap) -> Response {
    let core = &state.core;
    let user = super::auth::caller(&core.store, headers).user;
    let pairs = query.as_deref().map(url_pairs).unwrap_or_default();
    let header = |name: &str| super::auth::header(headers, name);
    let mut params = StreamParams::read(&pairs, &header);
    if route == Route::Raw {
        // The raw stream reads only the start position.
        params = StreamParams { start: params.start, start_raw: params.start_raw, ..StreamParams::default() };
    }
    let user_id = user.as_ref().map(|u| u.id.clone());
    // A scenario's stream refusal: the request is answered with a bare status.
    if let Some(status) = core.store.write(|s| s.faults.on_stream_request()) {
        let reason = StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or("Error").to_string();
        return refused(core, &route, user_id, &params, Refusal { status, reason });
    }
    let admitted = match core.store.read(|s| session::admit(s, &route, user.as_ref())) {
        Ok(a) => a,
        Err(refusal) => return refused(core, &route, user_id, &params, refusal),
    };
    let (_, rx) = match session::open(core, admitted, params.clone()) {
        Ok(opened) => opened,
        Err(refusal) => return refused(core, &route, user_id, &params, refusal),
    };
    let events = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|frame| (Ok::<_, Infallible>(event(frame)), rx)) });
    let mut response = Sse::new(events).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream; charset=utf-8"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, no-transform"));
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    response
}

/// A frame as an SSE event: `id:` (when it has one), `event:`, then one `data:` line.
fn event(frame: Frame) -> Event {
    let mut e = Event::default();
    if let Some(id) = frame.id {
        e = e.id(id.to_string());
    }
    e.event(frame.name).data(frame.data)
}

/// The query string's pairs, in order, percent-decoded.
fn url_pairs(query: &str) -> Vec<(String, String)> {
    let Ok(uri) = format!("/?{query}").parse::<axum::http::Uri>() else { return Vec::new() };
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|q| q.0).unwrap_or_default()
}

/// A refusal as the platform sends it, recorded with the connection attempts.
fn refused(core: &crate::core::Core, route: &Route, user_id: Option<String>, params: &StreamParams, refusal: Refusal) -> Response {
    let now = core.store.clock().now();
    core.store.write(|s| {
        let connector_id = user_id.as_deref().and_then(|u| session::connector_of(s, u));
        let mut refused = crate::store::streams::StreamConnection::new(route.name(), user_id, now);
        refused.connector_id = connector_id;
        refused.start_from = params.start_raw.clone();
        refused.recover = params.recover_raw.clone();
        refused.flags = params.flags.clone();
        refused.end = Some(crate::store::streams::ConnectionEnd::Refused { status: refusal.status, reason: refusal.reason.clone() });
        refused.ended_at = Some(now);
        s.streams.connect(refused);
    });
    let status = StatusCode::from_u16(refusal.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, Body::empty()).into_response();
    if let Ok(reason) = hyper::ext::ReasonPhrase::try_from(refusal.reason.into_bytes()) {
        response.extensions_mut().insert(reason);
    }
    response
}
