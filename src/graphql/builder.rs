//! Builds the executable schema from the SDL and a registry of resolvers.
//!
//! The schema is written as SDL (`schema.graphql`), like the platform's own
//! `opencti.graphql`: it is the contract, reviewed as text and snapshot-tested. Resolution
//! is split in two:
//! - fields with a registered [`Handler`] (every root field, and a few computed fields
//!   such as `Connector.connector_user` or `WorkEditMutations.toProcessed`) run Rust code;
//! - every other field is read from its parent, a GraphQL object value built by the
//!   domain projections. Values of interface or union type carry their concrete type in a
//!   `__typename` key.
//!
//! Building fails if a root field has no handler or a handler names a field the SDL does
//! not declare, so "declared" always means "implemented". An operation or field the SDL
//! does not declare is refused by validation with a message naming it.
//!
//! `@auth` / `@auth(for: [CAPABILITIES])` on a field definition is enforced here, exactly
//! as the platform's directive: no user → `AUTH_REQUIRED`; missing capability →
//! `FORBIDDEN_ACCESS`.
//!
//! It builds from [`Definitions`], the SDL's texts parsed with their `extend type` blocks
//! merged (see [`super::sdl`]). `scalar Upload` is async-graphql's own upload type
//! (`SchemaBuilder::enable_uploading`), so multipart requests bind files to it.
//!
//! A [`Handler::Json`] resolver returns plain JSON; the builder
//! converts it to the field's declared type (abstract values tagged with their
//! `__typename`, scalars coerced), as it does for fields read from their parent.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Interface, InterfaceField, Object, ResolverContext, Scalar,
    Schema, SchemaBuilder, TypeRef, Union,
};
use async_graphql::parser::types::{
    ConstDirective, InputValueDefinition, TypeKind,
};
use async_graphql::{Error, Name, Value};
use futures_util::future::BoxFuture;

use crate::graphql::context::Caller;
use crate::graphql::sdl::{Definitions, SdlError, type_ref};
use crate::graphql::errors::{AUTH_REQUIRED, FORBIDDEN_ACCESS};

/// What a resolver returns.
pub type Resolved = Result<Option<FieldValue<'static>>, Error>;

/// A resolver that completes without awaiting.
pub type SyncFn = Arc<dyn Fn(&ResolverContext<'_>) -> Resolved + Send + Sync>;
/// A resolver that awaits (network calls, delays); it must copy what it needs from the
/// context before returning its future.
pub type AsyncFn = Arc<dyn for<'a> Fn(&ResolverContext<'a>) -> BoxFuture<'static, Resolved> + Send + Sync>;

/// A resolver that answers plain JSON, converted by the builder to the field's declared
/// type (`null` is a null value).
pub type JsonFn = Arc<dyn Fn(&ResolverContext<'_>) -> Result<serde_json::Value, Error> + Send + Sync>;

/// A resolver.
#[derive(Clone)]
pub enum Handler {
    /// Runs to completion without awaiting.
    Sync(SyncFn),
    /// Awaits.
    Async(AsyncFn),
    /// Runs to completion and answers JSON shaped like the declared type.
    Json(JsonFn),
}

/// Resolvers by `(type, field)`.
#[derive(Default, Clone)]
pub struct Registry {
    handlers: HashMap<(String, String), Handler>,
}

impl Registry {
    /// Registers a synchronous resolver.
    pub fn sync(&mut self, ty: &str, field: &str, f: impl Fn(&ResolverContext<'_>) -> Resolved + Send + Sync + 'static) {
        self.handlers.insert((ty.to_string(), field.to_string()), Handler::Sync(Arc::new(f)));
    }

    /// Registers an asynchronous resolver.
    pub fn asynchronous(
        &mut self,
        ty: &str,
        field: &str,
        f: impl for<'a> Fn(&ResolverContext<'a>) -> BoxFuture<'static, Resolved> + Send + Sync + 'static,
    ) {
        self.handlers.insert((ty.to_string(), field.to_string()), Handler::Async(Arc::new(f)));
    }

    /// Registers a resolver answering JSON (see [`Handler::Json`]).
    pub fn json(
        &mut self,
        ty: &str,
        field: &str,
        f: impl Fn(&ResolverContext<'_>) -> Result<serde_json::Value, Error> + Send + Sync + 'static,
    ) {
        self.handlers.insert((ty.to_string(), field.to_string()), Handler::Json(Arc::new(f)));
    }

    /// Whether a resolver is registered for `ty.field`.
    pub fn contains(&self, ty: &str, field: &str) -> bool {
        self.handlers.contains_key(&(ty.to_string(), field.to_string()))
    }
}

/// A schema build problem (a bug of the mock, caught by its tests).
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The SDL cannot be read.
    #[error(transparent)]
    Sdl(#[from] SdlError),
    /// A root field has no resolver.
    #[error("root field {0}.{1} is declared in the schema but has no resolver")]
    Unresolved(String, String),
    /// A resolver has no field.
    #[error("a resolver is registered for {0}.{1}, which the schema does not declare")]
    Undeclared(String, String),
    /// async-graphql refused the schema.
    #[error("schema is invalid: {0}")]
    Invalid(String),
}

fn auth_requirement(directives: &[async_graphql::Positioned<ConstDirective>]) -> Option<Vec<String>> {
    let d = directives.iter().find(|d| d.node.name.node == "auth")?;
    let caps = d
        .node
        .arguments
        .iter()
        .find(|(n, _)| n.node == "for")
        .map(|(_, v)| match &v.node {
            Value::List(items) => items
                .iter()
                .filter_map(|i| match i {
                    Value::Enum(e) => Some(e.to_string()),
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        })
        .unwrap_or_default();
    Some(caps)
}

/// Checks the platform's `@auth` rule for the current request.
pub fn check_auth(ctx: &ResolverContext<'_>, required: &[String]) -> Result<(), Error> {
    let caller = ctx.data::<Caller>()?;
    let Some(user) = &caller.user else { return Err(AUTH_REQUIRED.err()) };
    let required: Vec<&str> = required.iter().map(String::as_str).collect();
    if user.has_any_capability(&required) { Ok(()) } else { Err(FORBIDDEN_ACCESS.err()) }
}

fn input_value(def: &InputValueDefinition) -> InputValue {
    let mut iv = InputValue::new(def.name.node.as_str(), type_ref(&def.ty.node));
    if let Some(d) = &def.description {
        iv = iv.description(d.node.as_str());
    }
    if let Some(v) = &def.default_value {
        iv = iv.default_value(v.node.clone());
    }
    iv
}

/// Converts a stored value into a field value of the declared type, tagging values of
/// abstract types with their `__typename` and coercing scalars to the declared scalar.
fn to_field_value(value: Value, ty: &TypeRef, abstract_types: &HashSet<String>) -> Option<FieldValue<'static>> {
    match (ty, value) {
        (_, Value::Null) => None,
        (TypeRef::NonNull(inner), v) => to_field_value(v, inner, abstract_types),
        (TypeRef::List(inner), Value::List(items)) => Some(FieldValue::list(
            items.into_iter().map(|i| to_field_value(i, inner, abstract_types).unwrap_or(FieldValue::NULL)),
        )),
        (TypeRef::Named(name), Value::Object(map)) if abstract_types.contains(name.as_ref()) => {
            let concrete = match map.get("__typename") {
                Some(Value::String(t)) => t.clone(),
                _ => name.to_string(),
            };
            Some(FieldValue::value(Value::Object(map)).with_type(concrete))
        }
        (TypeRef::Named(name), v) => coerce_scalar(name, v).map(FieldValue::value),
        (_, v) => Some(FieldValue::value(v)),
    }
}

/// A value as the built-in scalar `name` expects it (numbers and booleans written as text
/// for `String`, numeric text read for `Int` / `Float`, JSON text for an object in a
/// `String`); other types pass unchanged. A value that cannot be read is null.
fn coerce_scalar(name: &str, v: Value) -> Option<Value> {
    match (name, v) {
        ("String" | "ID", Value::Number(n)) => Some(Value::String(n.to_string())),
        ("String" | "ID", Value::Boolean(b)) => Some(Value::String(b.to_string())),
        ("String", v @ (Value::Object(_) | Value::List(_))) => {
            Some(Value::String(v.into_json().map(|j| j.to_string()).unwrap_or_default()))
        }
        ("Int", Value::String(s)) => s.trim().parse::<i64>().ok().map(Value::from),
        ("Int", Value::Number(n)) if !n.is_i64() && !n.is_u64() => n.as_f64().map(|f| Value::from(f.trunc() as i64)),
        ("Float", Value::String(s)) => s.trim().parse::<f64>().ok().map(Value::from),
        ("Boolean", Value::String(s)) => match s.as_str() {
            "true" => Some(Value::Boolean(true)),
            "false" => Some(Value::Boolean(false)),
            _ => None,
        },
        (_, v) => Some(v),
    }
}

fn stored_field(ctx: &ResolverContext<'_>, name: &str) -> Option<Value> {
    match ctx.parent_value.as_value()? {
        Value::Object(map) => map.get(&Name::new(name)).cloned(),
        _ => None,
    }
}

fn make_field(
    name: &str,
    ty: TypeRef,
    handler: Option<Handler>,
    auth: Option<Vec<String>>,
    abstract_types: Arc<HashSet<String>>,
) -> Field {
    let field_name = name.to_string();
    let declared = ty.clone();
    Field::new(name, ty, move |ctx| {
        if let Some(required) = &auth
            && let Err(e) = check_auth(&ctx, required)
        {
            return fail(e);
        }
        match &handler {
            Some(Handler::Sync(f)) => match f(&ctx) {
                Ok(v) => FieldFuture::Value(v),
                Err(e) => fail(e),
            },
            Some(Handler::Async(f)) => {
                let fut = f(&ctx);
                FieldFuture::new(async move { fut.await.map(|o| o.map(shorten)) })
            }
            Some(Handler::Json(f)) => match f(&ctx) {
                Ok(json) => {
                    // Every serde_json value has a GraphQL counterpart.
                    let value = Value::from_json(json).unwrap_or(Value::Null);
                    FieldFuture::Value(to_field_value(value, &declared, &abstract_types))
                }
                Err(e) => fail(e),
            },
            None => {
                let value = stored_field(&ctx, &field_name).unwrap_or(Value::Null);
                FieldFuture::Value(to_field_value(value, &declared, &abstract_types))
            }
        }
    })
}

fn fail<'a>(e: Error) -> FieldFuture<'a> {
    FieldFuture::new(async move { Err::<Option<FieldValue<'a>>, _>(e) })
}

/// `FieldValue` is covariant: a `'static` value can stand for any lifetime.
fn shorten<'a>(v: FieldValue<'static>) -> FieldValue<'a> {
    v
}

/// Builds the executable schema from the parsed SDL and `registry`, with `data` available
/// to every resolver and introspection on or off.
pub fn build(
    definitions: Definitions,
    registry: Registry,
    introspection: bool,
    data: impl FnOnce(SchemaBuilder) -> SchemaBuilder,
) -> Result<Schema, BuildError> {
    let Definitions { query, mutation, types, .. } = definitions;
    let abstract_types: HashSet<String> = types
        .iter()
        .filter(|t| matches!(t.kind, TypeKind::Interface(_) | TypeKind::Union(_)))
        .map(|t| t.name.node.to_string())
        .collect();
    let abstract_types = Arc::new(abstract_types);
    let roots: Vec<&str> = std::iter::once(query.as_str()).chain(mutation.as_deref()).collect();

    let mut declared: HashSet<(String, String)> = HashSet::new();
    // Limits first: they parse the document the coercion then reads.
    let mut builder = Schema::build(&query, mutation.as_deref(), None)
        .extension(crate::graphql::limits::LimitsExtension)
        .extension(crate::graphql::coerce::CoerceVariables::new(crate::graphql::coerce::InputTypes::of(
            &types,
            &query,
            mutation.as_deref(),
        )));
    if !introspection {
        builder = builder.disable_introspection();
    }
    for t in &types {
        let name = t.name.node.as_str();
        let description = t.description.as_ref().map(|d| d.node.clone());
        match &t.kind {
            TypeKind::Scalar if name == TypeRef::UPLOAD => builder = builder.enable_uploading(),
            TypeKind::Scalar => {
                let mut s = Scalar::new(name);
                if let Some(d) = description {
                    s = s.description(d);
                }
                builder = builder.register(s);
            }
            TypeKind::Object(o) => {
                let mut obj = Object::new(name);
                if let Some(d) = description {
                    obj = obj.description(d);
                }
                for i in &o.implements {
                    obj = obj.implement(i.node.as_str());
                }
                for f in &o.fields {
                    let f = &f.node;
                    let fname = f.name.node.as_str();
                    declared.insert((name.to_string(), fname.to_string()));
                    let handler = registry.handlers.get(&(name.to_string(), fname.to_string())).cloned();
                    if handler.is_none() && roots.contains(&name) {
                        return Err(BuildError::Unresolved(name.into(), fname.into()));
                    }
                    let mut field =
                        make_field(fname, type_ref(&f.ty.node), handler, auth_requirement(&f.directives), abstract_types.clone());
                    if let Some(d) = &f.description {
                        field = field.description(d.node.as_str());
                    }
                    for a in &f.arguments {
                        field = field.argument(input_value(&a.node));
                    }
                    obj = obj.field(field);
                }
                builder = builder.register(obj);
            }
            TypeKind::Interface(i) => {
                let mut itf = Interface::new(name);
                if let Some(d) = description {
                    itf = itf.description(d);
                }
                for parent in &i.implements {
                    itf = itf.implement(parent.node.as_str());
                }
                for f in &i.fields {
                    let f = &f.node;
                    let mut field = InterfaceField::new(f.name.node.as_str(), type_ref(&f.ty.node));
                    if let Some(d) = &f.description {
                        field = field.description(d.node.as_str());
                    }
                    for a in &f.arguments {
                        field = field.argument(input_value(&a.node));
                    }
                    itf = itf.field(field);
                }
                builder = builder.register(itf);
            }
            TypeKind::Union(u) => {
                let mut un = Union::new(name);
                if let Some(d) = description {
                    un = un.description(d);
                }
                for m in &u.members {
                    un = un.possible_type(m.node.as_str());
                }
                builder = builder.register(un);
            }
            TypeKind::Enum(e) => {
                let mut en = Enum::new(name);
                if let Some(d) = description {
                    en = en.description(d);
                }
                for v in &e.values {
                    let mut item = async_graphql::dynamic::EnumItem::new(v.node.value.node.as_str());
                    if let Some(d) = &v.node.description {
                        item = item.description(d.node.as_str());
                    }
                    en = en.item(item);
                }
                builder = builder.register(en);
            }
            TypeKind::InputObject(io) => {
                let mut inp = InputObject::new(name);
                if let Some(d) = description {
                    inp = inp.description(d);
                }
                for f in &io.fields {
                    inp = inp.field(input_value(&f.node));
                }
                builder = builder.register(inp);
            }
        }
    }
    if let Some((ty, field)) = registry.handlers.keys().find(|k| !declared.contains(*k)) {
        return Err(BuildError::Undeclared(ty.clone(), field.clone()));
    }
    data(builder).finish().map_err(|e| BuildError::Invalid(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = "
        interface Named { name: String }
        type Thing implements Named { name: String size: Int }
        type Other { id: ID }
        type Query { thing: Named }
        extend type Query { other: Other }
    ";

    #[tokio::test]
    async fn json_resolvers_are_tagged_with_their_concrete_type_and_scalars_coerced() {
        let mut r = Registry::default();
        r.json("Query", "thing", |_| Ok(serde_json::json!({"__typename": "Thing", "name": 42, "size": "7"})));
        r.json("Query", "other", |_| Ok(serde_json::Value::Null));
        let schema = build(Definitions::parse(&[SDL]).expect("parses"), r, false, |b| b.data(Caller::default())).expect("builds");

        let response = schema.execute("{ thing { name ... on Thing { size } } other { id } }").await;

        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let data = response.data.into_json().expect("json");
        assert_eq!(data, serde_json::json!({"thing": {"name": "42", "size": 7}, "other": null}));
    }
}
