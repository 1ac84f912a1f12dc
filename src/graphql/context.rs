//! Per-request context: who is calling, and in which draft / work context.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;

use crate::buffer::LargeText;
use crate::core::Core;
use crate::graphql::errors::AUTH_REQUIRED;
use crate::store::users::User;

/// The caller of one GraphQL request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The effective user (after impersonation), `None` when unauthenticated.
    pub user: Option<User>,
    /// `opencti-draft-id` header (empty means no draft).
    pub draft_id: Option<String>,
}

impl Caller {
    /// The user, or `AUTH_REQUIRED`.
    pub fn user(&self) -> Result<&User, Error> {
        self.user.as_ref().ok_or_else(|| AUTH_REQUIRED.err())
    }

}

/// The platform core and the caller of a resolver.
pub fn parts<'a>(ctx: &'a ResolverContext<'_>) -> Result<(&'a Core, &'a Caller), Error> {
    Ok((ctx.data::<Core>()?, ctx.data::<Caller>()?))
}

/// Large string variables of a request, kept out of the variables map.
///
/// async-graphql copies argument values out of the variables when it resolves a field,
/// which for a 45 MB `stixBundlePush` bundle means a second 45 MB copy. The HTTP layer
/// moves string variables larger than [`Blobs::THRESHOLD`] here and leaves a placeholder;
/// resolvers take such arguments with [`take_string_arg`], which moves the string out so
/// its memory goes as soon as the resolver is done with it.
#[derive(Debug, Default)]
pub struct Blobs(std::sync::Mutex<Vec<Option<LargeText>>>);

const BLOB_MARK: &str = "\u{0}opencti-mock-blob:";

impl Blobs {
    /// Strings at least this long are moved out of the variables.
    pub const THRESHOLD: usize = 64 * 1024;

    fn slots(&mut self) -> &mut Vec<Option<LargeText>> {
        self.0.get_mut().unwrap_or_else(|e| e.into_inner())
    }

    fn slot(value: &str) -> Option<usize> {
        value.strip_prefix(BLOB_MARK).and_then(|i| i.parse::<usize>().ok())
    }

    /// Keeps a large string and returns the placeholder standing for it.
    pub fn keep(&mut self, value: impl Into<LargeText>) -> String {
        let (slot, placeholder) = self.reserve();
        self.fill(slot, value);
        placeholder
    }

    /// Reserves a slot for a string decoded later; returns it with its placeholder.
    pub fn reserve(&mut self) -> (usize, String) {
        let slots = self.slots();
        slots.push(None);
        (slots.len() - 1, format!("{BLOB_MARK}{}", slots.len() - 1))
    }

    /// Fills a reserved slot.
    pub fn fill(&mut self, slot: usize, value: impl Into<LargeText>) {
        if let Some(s) = self.slots().get_mut(slot) {
            *s = Some(value.into());
        }
    }

    /// Moves the large top-level string variables out, leaving placeholders.
    pub fn extract(&mut self, variables: &mut async_graphql::Variables) {
        for (_, value) in variables.iter_mut() {
            if let async_graphql::Value::String(s) = value
                && s.len() >= Blobs::THRESHOLD
            {
                let original = std::mem::take(s);
                *s = self.keep(original);
            }
        }
    }

    /// The length of the string a variable value stands for.
    pub fn len_of(&mut self, value: &str) -> usize {
        match Blobs::slot(value).and_then(|i| self.slots().get(i)) {
            Some(Some(s)) => s.len(),
            _ => value.len(),
        }
    }
}

/// A string argument, owned: a large value is moved out of the request's [`Blobs`] (its
/// memory goes when the caller drops it); taking it twice is an error.
pub fn take_string_arg(ctx: &ResolverContext<'_>, name: &str) -> Result<LargeText, Error> {
    let value = ctx.args.try_get(name)?.string()?;
    let (Some(blobs), Some(slot)) = (ctx.data_opt::<Blobs>(), Blobs::slot(value)) else { return Ok(value.to_string().into()) };
    let mut slots = blobs.0.lock().unwrap_or_else(|e| e.into_inner());
    slots.get_mut(slot).and_then(Option::take).ok_or_else(|| Error::new(format!("argument {name} was already consumed")))
}
