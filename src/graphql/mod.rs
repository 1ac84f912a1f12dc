//! The platform's GraphQL API.
//!
//! `schema.graphql` and `knowledge.graphql` (the entity API, appended as `extend type`
//! blocks) are the contract; each domain registers the resolvers of its operations
//! (`connector`, `work`, `stix`, `knowledge`), and [`builder`] turns both into an
//! executable schema from the texts read as data ([`sdl`]) (see there for how fields without a resolver are answered and how
//! `@auth` is enforced). Resolvers stay thin: domain rules live in `store` and `ingest`.

pub mod builder;
pub mod coerce;
pub mod connector;
pub mod context;
pub mod errors;
pub mod jobs;
pub mod knowledge;
pub mod limits;
pub mod project;
pub mod sdl;
pub mod settings;
pub mod stix;
pub mod stream;
#[cfg(feature = "internals")]
mod validate_only;
pub mod work;

use async_graphql::dynamic::Schema;

pub use builder::BuildError;
#[cfg(feature = "internals")]
pub use validate_only::{schema, validate_document};

/// The schema's texts: the platform core, the knowledge layer (its root fields are
/// registered by kind, read off its own text), jobs, settings and the live stream's collections.
pub const TEXTS: [&str; 5] = [
    include_str!("schema.graphql"),
    knowledge::SDL,
    include_str!("jobs.graphql"),
    include_str!("settings.graphql"),
    include_str!("stream.graphql"),
];

/// Where the knowledge layer's text is in [`TEXTS`].
const KNOWLEDGE_TEXT: usize = 1;

/// The schema's texts parsed, extensions merged.
pub fn definitions() -> Result<sdl::Definitions, BuildError> {
    Ok(sdl::Definitions::parse(&TEXTS)?)
}

/// Every resolver of the platform, for the schema `definitions` describes.
pub fn registry(definitions: &sdl::Definitions) -> builder::Registry {
    let mut r = builder::Registry::default();
    connector::register(&mut r);
    work::register(&mut r);
    stix::register(&mut r);
    jobs::register(&mut r);
    settings::register(&mut r);
    knowledge::register(&mut r, sdl::TypeInfo::of(definitions), definitions.roots_of(KNOWLEDGE_TEXT));
    // After the knowledge layer, which answers every `…EditMutations` type it finds.
    stream::register(&mut r);
    r
}

/// An executable schema: the texts parsed once, the resolvers registered, `data` added.
///
/// The parse runs on a thread of its own. Its garbage (the parser's tokens, then the syntax
/// tree, dropped once the schema is built) then lies in that thread's allocator pages, not
/// interleaved with the schema, which lives as long as the process: the allocator can hand
/// those pages back whole, and an idle platform keeps ~3 MB less.
fn build(
    introspection: bool,
    data: impl FnOnce(async_graphql::dynamic::SchemaBuilder) -> async_graphql::dynamic::SchemaBuilder,
) -> Result<Schema, BuildError> {
    let definitions =
        std::thread::scope(|s| s.spawn(definitions).join()).unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
    let registry = registry(&definitions);
    builder::build(definitions, registry, introspection, data)
}

/// The executable schema shared by every platform of the process: it is a pure function of
/// the constant SDL and resolvers (parsing ~190 KB of SDL costs tens of milliseconds, so it
/// is built once) and holds no platform state — each request carries its platform's
/// [`Core`](crate::core::Core) as request data.
pub fn shared_schema() -> Result<Schema, String> {
    static SCHEMA: std::sync::OnceLock<Result<Schema, String>> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| build(true, |b| b).map_err(|e| e.to_string())).clone()
}
