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
//! message.
//!
//! Arguments written as literals in the document are coerced the same way (graphql-js's
//! `valueFromAST`: `stixCoreObjects(types: "Malware")`, a filter literal whose `values` is a
//! string): the document's fields are walked from the root types through their declared
//! return types (inline fragments and fragment definitions by their type condition), and
//! each argument is rewritten against its declared type; variables inside a literal are
//! left to the variables' own coercion.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest};
use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet, Type, TypeDefinition, TypeKind,
};
use async_graphql::{Name, Positioned, Request, ServerResult, Value};
use async_graphql_value::Value as Literal;

/// A field's arguments and the named type it returns.
#[derive(Debug, Default)]
struct FieldTypes {
    arguments: HashMap<String, Type>,
    returns: String,
}

/// The input types of a schema, as coercion needs them.
#[derive(Debug, Default)]
pub struct InputTypes {
    /// Input object types: field name → declared type.
    objects: HashMap<String, HashMap<String, Type>>,
    /// Object and interface types: field name → its arguments and return type.
    fields: HashMap<String, HashMap<String, FieldTypes>>,
    /// The query and mutation root types.
    roots: (String, Option<String>),
}

impl InputTypes {
    /// Reads the input object types, and the fields' arguments, of parsed type definitions
    /// whose query and mutation roots are `query` and `mutation`.
    pub fn of(types: &[TypeDefinition], query: &str, mutation: Option<&str>) -> InputTypes {
        let mut input = InputTypes { roots: (query.to_string(), mutation.map(str::to_string)), ..InputTypes::default() };
        for t in types {
            let name = t.name.node.to_string();
            let fields = match &t.kind {
                TypeKind::InputObject(io) => {
                    let fields = io.fields.iter().map(|f| (f.node.name.node.to_string(), f.node.ty.node.clone())).collect();
                    input.objects.insert(name, fields);
                    continue;
                }
                TypeKind::Object(o) => &o.fields,
                TypeKind::Interface(i) => &i.fields,
                _ => continue,
            };
            let fields = fields
                .iter()
                .map(|f| {
                    let arguments =
                        f.node.arguments.iter().map(|a| (a.node.name.node.to_string(), a.node.ty.node.clone())).collect();
                    (f.node.name.node.to_string(), FieldTypes { arguments, returns: named(&f.node.ty.node).to_string() })
                })
                .collect();
            input.fields.insert(name, fields);
        }
        input
    }

    /// `value` (a variable's value) coerced to `ty`.
    pub fn coerce(&self, value: Value, ty: &Type) -> Value {
        // A variable's value holds no variables: it comes back constant.
        let literal = self.coerce_literal(value.into_value(), ty);
        literal.into_const().unwrap_or(Value::Null)
    }

    /// `value` (a literal of the document, or a variable's value) coerced to `ty`;
    /// variables inside it are left as they are.
    fn coerce_literal(&self, value: Literal, ty: &Type) -> Literal {
        if matches!(value, Literal::Null | Literal::Variable(_)) {
            return value;
        }
        match &ty.base {
            BaseType::List(item) => match value {
                Literal::List(items) => Literal::List(items.into_iter().map(|v| self.coerce_literal(v, item)).collect()),
                single => Literal::List(vec![self.coerce_literal(single, item)]),
            },
            BaseType::Named(name) => self.coerce_named(value, name.as_str()),
        }
    }

    fn coerce_named(&self, value: Literal, name: &str) -> Literal {
        match (name, value) {
            ("ID", Literal::Number(n)) if n.is_i64() || n.is_u64() => Literal::String(n.to_string()),
            ("Int", Literal::Number(n)) => match n.as_f64() {
                Some(f) if !n.is_i64() && !n.is_u64() && f.fract() == 0.0 && f.abs() <= f64::from(i32::MAX) => {
                    // The check above bounds `f` to the Int range: the cast is exact.
                    #[allow(clippy::cast_possible_truncation)]
                    let i = f as i64;
                    Literal::Number(i.into())
                }
                _ => Literal::Number(n),
            },
            (_, Literal::Object(fields)) => match self.objects.get(name) {
                Some(declared) => Literal::Object(
                    fields
                        .into_iter()
                        .map(|(k, v)| {
                            let v = match declared.get(k.as_str()) {
                                Some(ty) => self.coerce_literal(v, ty),
                                None => v,
                            };
                            (k, v)
                        })
                        .collect(),
                ),
                None => Literal::Object(fields),
            },
            (_, other) => other,
        }
    }

    /// Coerces every literal argument of `doc`; whether anything changed.
    pub fn coerce_document(&self, doc: &mut ExecutableDocument) -> bool {
        let mut changed = false;
        let operations: Vec<&mut Positioned<async_graphql::parser::types::OperationDefinition>> = match &mut doc.operations {
            DocumentOperations::Single(op) => vec![op],
            DocumentOperations::Multiple(ops) => ops.values_mut().collect(),
        };
        for op in operations {
            let root = match op.node.ty {
                OperationType::Query => Some(self.roots.0.as_str()),
                OperationType::Mutation => self.roots.1.as_deref(),
                OperationType::Subscription => None,
            };
            if let Some(root) = root {
                changed |= self.coerce_selections(&mut op.node.selection_set.node, root);
            }
        }
        for fragment in doc.fragments.values_mut() {
            let on = fragment.node.type_condition.node.on.node.to_string();
            changed |= self.coerce_selections(&mut fragment.node.selection_set.node, &on);
        }
        changed
    }

    fn coerce_selections(&self, set: &mut SelectionSet, parent: &str) -> bool {
        let mut changed = false;
        for selection in &mut set.items {
            match &mut selection.node {
                Selection::Field(field) => {
                    let Some(declared) = self.fields.get(parent).and_then(|f| f.get(field.node.name.node.as_str())) else {
                        continue;
                    };
                    for (name, value) in &mut field.node.arguments {
                        let Some(ty) = declared.arguments.get(name.node.as_str()) else { continue };
                        let coerced = self.coerce_literal(value.node.clone(), ty);
                        if coerced != value.node {
                            value.node = coerced;
                            changed = true;
                        }
                    }
                    changed |= self.coerce_selections(&mut field.node.selection_set.node, &declared.returns);
                }
                Selection::InlineFragment(fragment) => {
                    let on = fragment.node.type_condition.as_ref().map_or(parent.to_string(), |c| c.node.on.node.to_string());
                    changed |= self.coerce_selections(&mut fragment.node.selection_set.node, &on);
                }
                Selection::FragmentSpread(_) => {}
            }
        }
        changed
    }
}

/// Whether any field of the document is given an argument that is not a bare variable (only
/// such a literal can need coercing: a variable is coerced on its own).
fn has_literal_arguments(doc: &ExecutableDocument) -> bool {
    fn in_set(set: &SelectionSet) -> bool {
        set.items.iter().any(|selection| match &selection.node {
            Selection::Field(field) => {
                field.node.arguments.iter().any(|(_, value)| !matches!(value.node, Literal::Variable(_)))
                    || in_set(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => in_set(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => false,
        })
    }
    let in_operations = match &doc.operations {
        DocumentOperations::Single(op) => in_set(&op.node.selection_set.node),
        DocumentOperations::Multiple(ops) => ops.values().any(|op| in_set(&op.node.selection_set.node)),
    };
    in_operations || doc.fragments.values().any(|f| in_set(&f.node.selection_set.node))
}

/// The named type under lists and non-null markers.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named(item),
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
        // The document is copied to be rewritten only when it writes an argument as a
        // literal: pycti passes every argument as a variable, and a copy per request would
        // be wasted.
        let coerced_document = match request.parsed_query() {
            Ok(doc) if has_literal_arguments(doc) => {
                let mut doc = doc.clone();
                self.types.coerce_document(&mut doc).then_some(doc)
            }
            _ => None,
        };
        if let Some(doc) = coerced_document {
            request.set_parsed_query(doc);
        }
        let declared = declared_variables(&mut request);
        if !declared.is_empty() {
            // Moved, not copied: a variable can be a whole bundle (`stixBundlePush`).
            let variables = std::mem::take(&mut *request.variables);
            for (name, value) in variables {
                let value = match declared.get(name.as_str()) {
                    Some(ty) => self.types.coerce(value, ty),
                    None => value,
                };
                request.variables.insert(name, value);
            }
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

    fn definitions(sdl: &str) -> Vec<TypeDefinition> {
        parse_schema(sdl)
            .expect("parses")
            .definitions
            .into_iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some(t.node),
                _ => None,
            })
            .collect()
    }

    fn types() -> InputTypes {
        let defs = definitions(
            "input Filter { key: [String!]! values: [Any!]! nested: [[String]] }
             input FilterGroup { mode: String filters: [Filter!]! filterGroups: [FilterGroup!]! }
             input Edit { key: String! value: [Any] count: Int id: ID }
             scalar Any",
        );
        InputTypes::of(&defs, "Query", None)
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
    fn literal_arguments_are_coerced_through_fields_and_fragments_and_variables_are_left() {
        let defs = definitions(
            "type Query { things(types: [String], filters: FilterGroup): [Thing] }
             type Thing { id: ID parts(ids: [ID!]): [Thing] }
             input Filter { key: [String!]! values: [Any!]! }
             input FilterGroup { mode: String filters: [Filter!]! filterGroups: [FilterGroup!]! }
             scalar Any",
        );
        let types = InputTypes::of(&defs, "Query", None);
        let mut query = async_graphql::parser::parse_query(
            r#"query Q($v: Any!) {
                 things(types: "Malware", filters: {mode: "and", filters: {key: "name", values: $v}, filterGroups: []}) {
                   ... on Thing { parts(ids: 7) { id } }
                   ...More
                 }
               }
               fragment More on Thing { parts(ids: "a") { id } }"#,
        )
        .expect("parses");

        let changed = types.coerce_document(&mut query);

        assert!(changed);
        let printed = format!("{query:?}");
        assert!(printed.contains(r#"List([String("Malware")])"#), "{printed}");
        assert!(printed.contains(r#"List([String("name")])"#) && printed.contains("Variable(Name(\"v\"))"), "{printed}");
        assert!(printed.contains(r#"List([String("7")])"#), "an ID literal in an inline fragment: {printed}");
        assert!(printed.contains(r#"List([String("a")])"#), "in a fragment definition: {printed}");
    }

    #[test]
    fn only_a_document_with_a_literal_argument_is_copied_to_be_coerced() {
        let parse = |q: &str| async_graphql::parser::parse_query(q).expect("parses");
        // pycti's way: every argument a variable
        assert!(!has_literal_arguments(&parse("mutation P($b: String!) { push(bundle: $b) { id ... on T { x(a: $b) } } }")));
        assert!(has_literal_arguments(&parse("{ things(types: \"Malware\") { id } }")));
        assert!(has_literal_arguments(&parse("{ a { ... on T { b(first: 5) } } }")), "in an inline fragment");
        assert!(has_literal_arguments(&parse("{ a { ...F } } fragment F on T { b(ids: \"x\") }")), "in a fragment definition");
    }

    #[test]
    fn what_graphql_js_refuses_is_left_for_validation_to_refuse() {
        assert_eq!(coerce(json!("5"), "Int"), json!("5"));
        assert_eq!(coerce(json!(5.5), "Int"), json!(5.5));
        assert_eq!(coerce(json!(1.0e12), "Int"), json!(1.0e12));
        assert_eq!(coerce(json!({"key": "k", "unknown": "x"}), "Edit"), json!({"key": "k", "unknown": "x"}));
    }
}
