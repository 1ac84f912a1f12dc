//! Per-request context: who is calling, and in which draft / work context.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;

use crate::core::Core;
use crate::graphql::errors::{AUTH_REQUIRED, FORBIDDEN_ACCESS};
use crate::store::users::User;

/// The caller of one GraphQL request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The effective user (after impersonation), `None` when unauthenticated.
    pub user: Option<User>,
    /// The token's own user (differs from `user` under impersonation).
    pub token_user: Option<User>,
    /// `opencti-draft-id` header (empty means no draft).
    pub draft_id: Option<String>,
}

impl Caller {
    /// The user, or `AUTH_REQUIRED`.
    pub fn user(&self) -> Result<&User, Error> {
        self.user.as_ref().ok_or_else(|| AUTH_REQUIRED.err())
    }

    /// The user if it holds one of `caps`; `AUTH_REQUIRED` / `FORBIDDEN_ACCESS` otherwise.
    pub fn require(&self, caps: &[&str]) -> Result<&User, Error> {
        let user = self.user()?;
        if user.has_any_capability(caps) { Ok(user) } else { Err(FORBIDDEN_ACCESS.err()) }
    }
}

/// The platform core and the caller of a resolver.
pub fn parts<'a>(ctx: &'a ResolverContext<'_>) -> Result<(&'a Core, &'a Caller), Error> {
    Ok((ctx.data::<Core>()?, ctx.data::<Caller>()?))
}
