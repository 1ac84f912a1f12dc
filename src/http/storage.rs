//! `GET /storage/get/{id…}`: the files connectors download (`file_fetch` of an import
//! job, an entity's `importFiles`), as the platform serves them from its object storage.
//!
//! Ids are storage paths (`import/global/feed.json`), given as path segments or
//! URL-encoded (`import%2Fglobal%2Ffeed.json`). No user → 403; a file that does not exist
//! or that the user may not read (capabilities, markings, the entity it belongs to:
//! [`crate::store::access::can_read_file`]) → 503 `{"status":"error","error":"File not
//! found or restricted"}`, the platform's `loadFile` error through its Express error
//! handler — the same answer for both, so the answer does not tell which.
//! Text types are served with `charset=utf-8` so that clients (pycti reads `r.text`)
//! do not fall back to ISO-8859-1.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::http::AppState;
use crate::http::auth::caller;
use crate::store::transcript::EntryKind;

/// The route's handler.
pub async fn get(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let core = &state.core;
    let user = caller(&core.store, &headers).user;
    let now = core.store.clock().now();
    let found = core.store.write(|s| {
        let found = user
            .as_ref()
            .and_then(|u| s.files.get(&id).filter(|f| crate::store::access::can_read_file(u, f, &s.knowledge)).cloned());
        let http_status = match (&user, &found) {
            (None, _) => 403,
            (Some(_), None) => 503,
            (Some(_), Some(_)) => 200,
        };
        s.transcript.push(
            now,
            EntryKind::Download {
                file_id: id.clone(),
                user_id: user.as_ref().map(|u| u.id.clone()),
                user_name: user.as_ref().map(|u| u.name.clone()),
                http_status,
            },
        );
        found
    });
    if user.is_none() {
        return (StatusCode::FORBIDDEN, axum::Json(json!({"status": "error", "error": "You are not authenticated"})))
            .into_response();
    }
    let Some(file) = found else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({"status": "error", "error": "File not found or restricted"})),
        )
            .into_response();
    };
    let mut response = file.content.clone().into_response();
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type(&file.mime_type)) {
        h.insert(header::CONTENT_TYPE, v);
    }
    let disposition = format!("attachment; filename=\"{}\"", file.name.replace(['"', '\\'], "_"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// The `Content-Type` a file is served with: text-like types get `charset=utf-8`.
pub fn content_type(mime: &str) -> String {
    let textual = mime.starts_with("text/")
        || mime == "application/json"
        || mime.ends_with("+json")
        || mime == "application/xml"
        || mime.ends_with("+xml");
    if textual && !mime.contains("charset") { format!("{mime}; charset=utf-8") } else { mime.to_string() }
}

#[cfg(test)]
mod tests {
    use super::content_type;

    #[test]
    fn text_types_carry_a_charset() {
        assert_eq!(content_type("application/json"), "application/json; charset=utf-8");
        assert_eq!(content_type("text/plain"), "text/plain; charset=utf-8");
        assert_eq!(content_type("application/stix+json"), "application/stix+json; charset=utf-8");
        assert_eq!(content_type("application/pdf"), "application/pdf");
        assert_eq!(content_type("text/csv; charset=latin1"), "text/csv; charset=latin1");
    }
}
