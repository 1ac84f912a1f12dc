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

/// The bearer token of a request, if any. As the platform's `extractTokenFromBearer`
/// (`domain/user.js`: `authorization.startsWith('Bearer ')`, then the rest): the scheme is
/// `Bearer` exactly, case included, followed by one space, and the token is the rest as
/// sent — `bearer <token>` or `Bearer  <token>` authenticate nobody there, so not here
/// either (the HTTP layer has already stripped the spaces around the whole value).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    value.trim().strip_prefix("Bearer ").filter(|t| !t.is_empty()).map(str::to_string)
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
        Caller { user, draft_id }
    })
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header::AUTHORIZATION};

    use super::bearer;

    fn token_of(value: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        bearer(&headers)
    }

    #[test]
    fn only_the_platform_spelling_of_the_bearer_scheme_carries_a_token() {
        assert_eq!(token_of("Bearer tok-1").as_deref(), Some("tok-1"));
        assert_eq!(token_of(" Bearer tok-1 ").as_deref(), Some("tok-1"));
        assert_eq!(token_of("bearer tok-1"), None);
        assert_eq!(token_of("BEARER tok-1"), None);
        assert_eq!(token_of("Bearer  tok-1").as_deref(), Some(" tok-1"), "the rest, as the platform takes it");
        assert_eq!(token_of("Bearer "), None);
        assert_eq!(token_of("tok-1"), None);
        assert_eq!(token_of("Basic dG9rOjE="), None);
    }
}
