//! The platform's input coercion of variables, which async-graphql validates but does not
//! perform.
//!
//! The platform runs graphql-js, whose `coerceVariableValues` turns each variable's JSON
//! value into a value of its declared type before any resolver sees it. The one coercion
//! clients rely on is the list rule of the GraphQL specification (§3.11 "Input Coercion"):
//! a single value given where a list is expected *is* a list of that one value. pycti's
//! users send filters such as `{"key": "name", "values": "Emotet"}` (the platform wraps
//! `values` in a list), `relationship_type: "uses"` to a `[String]` argument, or `key:
//! "name"` to `EditInput.key: [String!]`. async-graphql accepts such a value in validation
//! (its `is_valid_input_value` checks a non-list against the item type) but hands the raw
//! value on, so a resolver reading a list finds a string.
//!
//! Every variable is therefore rewritten once per request, before execution, by walking its
//! declared type through the schema's input types (generally, from the types: no argument is
//! special-cased), applying graphql-js's coercions:
//! - a non-list, non-null value for a list type becomes a one-item list, at any depth
//!   (`[[String]]` given `"a"` becomes `[["a"]]`);
//! - `ID` given an integer becomes its decimal string (graphql-js `GraphQLID.parseValue`);
//! - `Int` given an integral float (`5.0`; JSON has one number type in JavaScript) becomes
//!   the integer; `Float` takes integers as they are;
//! - input objects are walked field by field, and an explicit `null` stays `null`.
//!
//! What graphql-js *refuses* (a string for an `Int`, an unknown input field, `null` for a
//! non-null type) is left as it is, for async-graphql's validation to refuse with its
//! message. Literal arguments written in the document are not rewritten (clients that send
//! lists as literals write them as lists; pycti only uses variables).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::parser::types::{BaseType, Type, TypeDefinition, TypeKind};
use async_graphql::{Name, Request, ServerResult, Value};

/// The input types of a schema, as coercion needs them.
#[derive(Debug, Default)]
pub struct InputTypes {
    /// Input object types: field name → declared type.
    objects: HashMap<String, HashMap<String, Type>>,
}

impl InputTypes {
    /// Reads the input object types of parsed type definitions.
    pub fn of(types: &[TypeDefinition]) -> InputTypes {
        let objects = types
            .iter()
            .filter_map(|t| match &t.kind {
                TypeKind::InputObject(io) => Some((
                    t.name.node.to_string(),
                    io.fields.iter().map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone())).collect(),
                )),
                _ => None,
            })
            .collect();
        InputTypes { objects }
    }

    /// `value` coerced to `ty`.
    pub fn coerce(&self, value: Value, ty: &Type) -> Value {
        if matches!(value, Value::Null) {
            return value;
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Value::List(items) => Value::List(items.into_iter().map(|v| self.coerce(v, item)).collect()),
                single => Value::List(vec![self.coerce(single, item)]),
            },
            BaseType::Named(name) => self.coerce_named(value, name.as_str()),
        }
    }

    fn coerce_named(&self, value: Value, name: &str) -> Value {
        match (name, value) {
            ("ID", Value::Number(n)) if n.is_i64() || n.is_u64() => Value::String(n.to_string()),
            ("Int", Value::Number(n)) => match n.as_f64() {
                Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
                    // The check above bounds `f` to the Int range: the cast is exact.
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    Value::Number(i.into())
                }
                _ => Value::Number(n),
            },
            (_, Value::Object(fields)) => match self.objects.get(name) {
                Some(declared) => Value::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| {
                            let v = match declared.get(k.as_str()) {
                                Some(ty) => self.coerce(v, ty),
                                None => v,
                            };
                            (k, v)
                        })
                        .collect(),
                ),
                None => Value::Object(fields),
            },
            (_, other) => other,
        }
    }
}

/// Coerces each request's variables to their declared types before it runs.
pub struct CoerceVariables {
    types: Arc<InputTypes>,
}

impl CoerceVariables {
    /// The extension for a schema with these input types.
    pub fn new(types: InputTypes) -> CoerceVariables {
        CoerceVariables { types: Arc::new(types) }
    }
}

impl ExtensionFactory for CoerceVariables {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(CoerceRequest { types: self.types.clone() })
    }
}

struct CoerceRequest {
    types: Arc<InputTypes>,
}

#[async_graphql::async_trait::async_trait]
impl Extension for CoerceRequest {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let declared = declared_variables(&mut request);
        if !declared.is_empty() {
            let variables = std::mem::take(&mut request.variables);
            let mut coerced = async_graphql::Variables::default();
            for (name, value) in variables.iter() {
                let value = match declared.get(name.as_str()) {
                    Some(ty) => self.types.coerce(value.clone(), ty),
                    None => value.clone(),
                };
                coerced.insert(name.clone(), value);
            }
            request.variables = coerced;
        }
        next.run(ctx, request).await
    }
}

/// The declared types of the variables of the operation the request runs (none when the
/// document does not parse or names no such operation: execution reports that).
fn declared_variables(request: &mut Request) -> HashMap<Name, Type> {
    let operation_name = request.operation_name.clone();
    let Ok(doc) = request.parsed_query() else { return HashMap::new() };
    let operation = match operation_name {
        Some(name) => doc.operations.iter().find(|(n, _)| n.is_some_and(|n| n.as_str() == name)).map(|(_, op)| op),
        None => doc.operations.iter().next().map(|(_, op)| op),
    };
    operation
        .map(|op| {
            op.node
                .variable_definitions
                .iter()
                .map(|v| (v.node.name.node.clone(), v.node.var_type.node.clone()))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_schema;
    use async_graphql::parser::types::TypeSystemDefinition;
    use serde_json::json;

    fn types() -> InputTypes {
        let doc = parse_schema(
            "input Filter { key: [String!]! values: [Any!]! nested: [[String]] }
             input FilterGroup { mode: String filters: [Filter!]! filterGroups: [FilterGroup!]! }
             input Edit { key: String! value: [Any] count: Int id: ID }
             scalar Any",
        )
        .expect("parses");
        let defs: Vec<TypeDefinition> = doc
            .definitions
            .into_iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some(t.node),
                _ => None,
            })
            .collect();
        InputTypes::of(&defs)
    }

    fn ty(text: &str) -> Type {
        Type::new(text).expect("a type")
    }

    fn coerce(value: serde_json::Value, declared: &str) -> serde_json::Value {
        types().coerce(Value::from_json(value).expect("JSON"), &ty(declared)).into_json().expect("JSON")
    }

    #[test]
    fn a_single_value_for_a_list_becomes_a_list_of_it_at_every_depth() {
        let group = json!({"mode": "and", "filters": {"key": "name", "values": "Emotet", "nested": "x"}, "filterGroups": []});

        let coerced = coerce(group, "FilterGroup");

        assert_eq!(
            coerced,
            json!({"mode": "and", "filters": [{"key": ["name"], "values": ["Emotet"], "nested": [["x"]]}], "filterGroups": []})
        );
    }

    #[test]
    fn lists_and_nulls_stay_as_they_are() {
        assert_eq!(coerce(json!(["a", "b"]), "[String]"), json!(["a", "b"]));
        assert_eq!(coerce(json!(null), "[String]"), json!(null));
        assert_eq!(coerce(json!({"key": "k", "value": null}), "Edit"), json!({"key": "k", "value": null}));
        assert_eq!(coerce(json!([null, "a"]), "[String]"), json!([null, "a"]));
    }

    #[test]
    fn scalars_are_coerced_as_graphql_js_does() {
        assert_eq!(coerce(json!(42), "ID"), json!("42"));
        assert_eq!(coerce(json!([7]), "[ID!]"), json!(["7"]));
        assert_eq!(coerce(json!({"key": "k", "count": 5.0, "id": 9}), "Edit"), json!({"key": "k", "count": 5, "id": "9"}));
    }

    #[test]
    fn what_graphql_js_refuses_is_left_for_validation_to_refuse() {
        assert_eq!(coerce(json!("5"), "Int"), json!("5"));
        assert_eq!(coerce(json!(5.5), "Int"), json!(5.5));
        assert_eq!(coerce(json!(1.0e12), "Int"), json!(1.0e12));
        assert_eq!(coerce(json!({"key": "k", "unknown": "x"}), "Edit"), json!({"key": "k", "unknown": "x"}));
    }
}
