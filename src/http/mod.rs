//! The HTTP surface of a platform: `/graphql`, `/health`, `/storage`, the live stream
//! (`/stream`), and the mock's control API under `/_mock/`.
//!
//! [`router`] builds the whole application from a [`Core`], so tests can drive it without
//! a socket; [`crate::platform::Platform::serve`] is the only place that binds one, and
//! [`serve`] the accept loop it runs.

pub mod auth;
pub mod body;
pub mod control;
pub mod graphql;
pub mod multipart;
pub mod serve;
pub mod storage;
pub mod stream;
pub mod stream_control;

use std::collections::HashMap;

use async_graphql::dynamic::Schema;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use crate::core::Core;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// Platform services.
    pub core: Core,
    /// Executable GraphQL schema.
    pub schema: Schema,
    /// JSON body limit in bytes.
    pub limit: u64,
    /// Introspection enabled (for authenticated users).
    pub introspection: bool,
    /// GraphiQL at `GET /graphql`.
    pub playground: bool,
}

/// The application router of one platform.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", post(graphql::post).get(graphiql))
        .route("/health", get(health))
        .route("/storage/get/{*id}", get(storage::get))
        .route("/stream", get(stream::raw))
        .route("/stream/{id}", get(stream::named))
        .nest("/_mock", control::router(state.clone()))
        .fallback(not_found)
        .with_state(state)
}

async fn graphiql(State(state): State<AppState>) -> Response {
    if !state.playground {
        return not_found().await;
    }
    Html(async_graphql::http::GraphiQLSource::build().endpoint("/graphql").title("opencti-mock").finish()).into_response()
}

/// `GET /health?health_access_key=…` as on the platform: 401 with a wrong key or while
/// no key is configured (the platform refuses its default `ChangeMe`).
async fn health(State(state): State<AppState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let configured = state.core.settings.app.health_access_key.as_deref().filter(|k| !k.is_empty() && *k != "ChangeMe");
    match (configured, q.get("health_access_key")) {
        (Some(k), Some(given)) if k == given => axum::Json(json!({"status": "success"})).into_response(),
        _ => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, axum::Json(json!({"status": "error", "error": "Not found"}))).into_response()
}
