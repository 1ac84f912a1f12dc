//! The platform's GraphQL API.
//!
//! `schema.graphql` and `knowledge.graphql` (the entity API, appended as `extend type`
//! blocks) are the contract; each domain registers the resolvers of its operations
//! (`connector`, `work`, `stix`, `knowledge`), and [`builder`] turns both into an
//! executable schema (see there for how fields without a resolver are answered and how
//! `@auth` is enforced). Resolvers stay thin: domain rules live in `store` and `ingest`.

pub mod builder;
pub mod connector;
pub mod context;
pub mod errors;
pub mod jobs;
pub mod knowledge;
pub mod limits;
pub mod project;
pub mod settings;
pub mod stix;
pub mod work;

use async_graphql::dynamic::Schema;

use crate::core::Core;
pub use builder::{BuildError, ValidateOnly};

/// The schema text: the platform core and the knowledge layer.
pub const SDL: &str = concat!(
    include_str!("schema.graphql"),
    "\n",
    include_str!("knowledge.graphql"),
    "\n",
    include_str!("jobs.graphql"),
    "\n",
    include_str!("settings.graphql")
);

/// Every resolver of the platform.
pub fn registry() -> builder::Registry {
    let mut r = builder::Registry::default();
    connector::register(&mut r);
    work::register(&mut r);
    stix::register(&mut r);
    jobs::register(&mut r);
    settings::register(&mut r);
    // The SDL is a constant checked by every test that builds the schema.
    let info = builder::TypeInfo::from_sdl(SDL).expect("the built-in SDL parses and its extensions merge");
    knowledge::register(&mut r, info);
    r
}

/// The executable schema shared by every platform of the process: it is a pure function of
/// the constant SDL and resolvers (parsing ~190 KB of SDL costs tens of milliseconds, so it
/// is built once) and holds no platform state — each request carries its platform's
/// [`Core`] as request data.
pub fn shared_schema() -> Result<Schema, String> {
    static SCHEMA: std::sync::OnceLock<Result<Schema, String>> = std::sync::OnceLock::new();
    SCHEMA.get_or_init(|| builder::build(SDL, registry(), true, |b| b).map_err(|e| e.to_string())).clone()
}

/// An executable schema bound to one platform (its [`Core`] as schema data), for running
/// documents without the HTTP layer.
pub fn schema(core: &Core) -> Result<Schema, BuildError> {
    let core = core.clone();
    builder::build(SDL, registry(), true, move |b| b.data(core))
}

/// Parses and validates a document against the schema without executing it. Returns the
/// messages of every parse or validation error (empty when the document is valid).
pub async fn validate_document(schema: &Schema, document: &str, operation_name: Option<&str>) -> Vec<String> {
    let mut request = async_graphql::Request::new(document).data(ValidateOnly);
    if let Some(op) = operation_name {
        request = request.operation_name(op);
    }
    let response = schema.execute(request).await;
    response.errors.into_iter().map(|e| e.message).collect()
}
