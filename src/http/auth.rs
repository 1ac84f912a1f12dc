//! Who is calling: bearer token, impersonation, draft header.
//!
//! As on the platform: an unknown or revoked token is not an error by itself — the
//! request simply has no user, and every `@auth` field answers `AUTH_REQUIRED`, exactly
//! as with no token. `opencti-applicant-id` switches the effective user only when the
//! token's user holds BYPASS (an unknown applicant then leaves the request
//! unauthenticated); for anyone else the header is ignored.

use axum::http::HeaderMap;

use crate::graphql::context::Caller;
use crate::store::Store;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim().to_string()).filter(|t| !t.is_empty())
}

/// A header's value, `None` when absent or empty.
pub fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

/// Resolves the caller of a request.
pub fn caller(store: &Store, headers: &HeaderMap) -> Caller {
    let draft_id = header(headers, "opencti-draft-id");
    store.read(|s| {
        let token_user = bearer(headers).and_then(|t| s.users.by_token(&t).cloned());
        let applicant = header(headers, "opencti-applicant-id");
        let user = match (&token_user, applicant) {
            (Some(u), Some(applicant)) if u.is_bypass() => s.users.by_id(&applicant).cloned(),
            (u, _) => u.clone(),
        };
        Caller { user, token_user, draft_id }
    })
}
