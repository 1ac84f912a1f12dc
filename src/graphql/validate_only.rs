//! Documents checked against the schema without running them, for this workspace's own tests
//! (the `internals` feature): the coverage test validates every document pycti sends.
//!
//! A schema built here carries an extension that stops a request marked [`ValidateOnly`]
//! after parsing and validation, so a mutation is checked without changing anything.

use std::sync::Arc;

use async_graphql::dynamic::Schema;
use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{Response, Value};

use super::{BuildError, build};
use crate::core::Core;

/// Marks a request that must only be parsed and validated, never executed.
#[derive(Debug, Clone, Copy)]
struct ValidateOnly;

struct ValidateOnlyExtension;

#[async_graphql::async_trait::async_trait]
impl Extension for ValidateOnlyExtension {
    async fn execute(&self, ctx: &ExtensionContext<'_>, operation_name: Option<&str>, next: NextExecute<'_>) -> Response {
        if ctx.data_opt::<ValidateOnly>().is_some() {
            return Response::new(Value::Null);
        }
        next.run(ctx, operation_name).await
    }
}

impl ExtensionFactory for ValidateOnlyExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ValidateOnlyExtension)
    }
}

/// An executable schema bound to one platform (its [`Core`] as schema data), for running
/// documents without the HTTP layer, or only validating them ([`validate_document`]).
pub fn schema(core: &Core) -> Result<Schema, BuildError> {
    let core = core.clone();
    build(true, move |b| b.data(core).extension(ValidateOnlyExtension))
}

/// Parses and validates a document against a [`schema`] without executing it. Returns the
/// messages of every parse or validation error (empty when the document is valid).
pub async fn validate_document(schema: &Schema, document: &str, operation_name: Option<&str>) -> Vec<String> {
    let mut request = async_graphql::Request::new(document).data(ValidateOnly);
    if let Some(op) = operation_name {
        request = request.operation_name(op);
    }
    let response = schema.execute(request).await;
    response.errors.into_iter().map(|e| e.message).collect()
}
