//! One minimal valid document per root field, generated from the schema text at test
//! time, so that a field added to the SDL is in the matrix without anyone listing it.
//! The operations of the platform's edit mutations (`workEdit(id) { toProcessed }`,
//! `stixCoreObjectEdit(id) { delete }`: the fields of a `…Mutations` type a root mutation
//! returns) carry their own `@auth`, so each gets a document too.
//!
//! `extend type` blocks are merged into their base type, as the platform merges its
//! module schemas. Each required argument becomes a variable with a dummy value built
//! from its type (ids and strings a UUID-looking string, the first value of an enum, the
//! required fields of an input object, one element of a list, `Upload` a file part of a
//! GraphQL multipart request); an object, interface or union result selects `__typename`.

use std::collections::HashMap;

use async_graphql::Value as ConstValue;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    BaseType, ConstDirective, FieldDefinition, InputValueDefinition, Type, TypeKind, TypeSystemDefinition,
};
use serde_json::{Map, Value as Json, json};

use crate::rules::Auth;

/// The dummy id and string of every document: looks like the platform's UUIDs, names
/// nothing stored.
pub const DUMMY: &str = "7c3e9a52-4d1f-4b8e-9a61-2f5d8c0b1e47";

/// The operation a root field belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// A field of the query root.
    Query,
    /// A field of the mutation root.
    Mutation,
}

/// The document of one root field (or of one operation of an edit mutation).
#[derive(Debug, Clone)]
pub struct FieldDocument {
    /// Query or mutation.
    pub operation: Operation,
    /// The response path: the root field, then the edit operation if any.
    pub path: Vec<String>,
    /// The `@auth` directive of each field of the path (`None`: the field has none).
    pub auth: Vec<Option<Auth>>,
    /// The document: this one field, once.
    pub query: String,
    /// The variables (required arguments only).
    pub variables: Json,
    /// Variable paths (`variables.file`) that take a file part of a multipart request.
    pub uploads: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Scalar,
    Object,
    Interface,
    Union,
    Enum,
    InputObject,
}

#[derive(Debug)]
struct Merged {
    kind: Kind,
    fields: Vec<FieldDefinition>,
    enum_values: Vec<String>,
    input_fields: Vec<InputValueDefinition>,
}

/// The SDL read as data, extensions merged.
pub struct Sdl {
    types: HashMap<String, Merged>,
    roots: Vec<(Operation, String)>,
}

impl Sdl {
    /// Parses the schema text and merges `extend type` blocks.
    pub fn parse(text: &str) -> Sdl {
        let doc = async_graphql::parser::parse_schema(text).expect("the SDL parses");
        let mut types: HashMap<String, Merged> = HashMap::new();
        let mut query = None;
        let mut mutation = None;
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Schema(s) => {
                    query = s.node.query.map(|n| n.node.to_string()).or(query);
                    mutation = s.node.mutation.map(|n| n.node.to_string()).or(mutation);
                }
                TypeSystemDefinition::Type(t) => {
                    let t = t.node;
                    let kind = match &t.kind {
                        TypeKind::Scalar => Kind::Scalar,
                        TypeKind::Object(_) => Kind::Object,
                        TypeKind::Interface(_) => Kind::Interface,
                        TypeKind::Union(_) => Kind::Union,
                        TypeKind::Enum(_) => Kind::Enum,
                        TypeKind::InputObject(_) => Kind::InputObject,
                    };
                    let merged = types.entry(t.name.node.to_string()).or_insert_with(|| Merged {
                        kind,
                        fields: Vec::new(),
                        enum_values: Vec::new(),
                        input_fields: Vec::new(),
                    });
                    assert_eq!(merged.kind, kind, "`{}` is extended as another kind of type", t.name.node);
                    match t.kind {
                        TypeKind::Object(o) => merged.fields.extend(o.fields.into_iter().map(|f| f.node)),
                        TypeKind::Interface(i) => merged.fields.extend(i.fields.into_iter().map(|f| f.node)),
                        TypeKind::Enum(e) => {
                            merged.enum_values.extend(e.values.into_iter().map(|v| v.node.value.node.to_string()))
                        }
                        TypeKind::InputObject(i) => merged.input_fields.extend(i.fields.into_iter().map(|f| f.node)),
                        TypeKind::Scalar | TypeKind::Union(_) => {}
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        let query = query.unwrap_or_else(|| "Query".into());
        let mutation = mutation.or_else(|| types.contains_key("Mutation").then(|| "Mutation".into()));
        let mut roots = vec![(Operation::Query, query)];
        roots.extend(mutation.map(|m| (Operation::Mutation, m)));
        Sdl { types, roots }
    }

    /// Every field of the query and mutation roots, each with its document.
    pub fn root_fields(&self) -> Vec<FieldDocument> {
        let mut out = Vec::new();
        for (operation, root) in &self.roots {
            let def = self.types.get(root).unwrap_or_else(|| panic!("the root type {root} is defined"));
            out.extend(def.fields.iter().map(|f| self.document(*operation, &[f])));
        }
        out
    }

    /// Every operation of an edit mutation: each field of a `…Mutations` object type that a
    /// root mutation field returns, under that root field.
    pub fn edit_operations(&self) -> Vec<FieldDocument> {
        let mut out = Vec::new();
        for (operation, root) in self.roots.iter().filter(|(o, _)| *o == Operation::Mutation) {
            for field in &self.types[root].fields {
                let returns = named(&field.ty.node);
                let Some(edits) = self.types.get(returns).filter(|t| t.kind == Kind::Object && returns.ends_with("Mutations"))
                else {
                    continue;
                };
                out.extend(edits.fields.iter().map(|op| self.document(*operation, &[field, op])));
            }
        }
        out
    }

    /// The document of a path of fields (a root field, then an edit operation), each with
    /// its required arguments as variables (`$id`, then `$op_input`).
    fn document(&self, operation: Operation, path: &[&FieldDefinition]) -> FieldDocument {
        let mut declarations = Vec::new();
        let mut variables = Map::new();
        let mut uploads = Vec::new();
        let mut calls = Vec::new();
        for (depth, field) in path.iter().enumerate() {
            let prefix = if depth == 0 { "" } else { "op_" };
            let mut arguments = Vec::new();
            for arg in field.arguments.iter().map(|a| &a.node) {
                if arg.ty.node.nullable || arg.default_value.is_some() {
                    continue;
                }
                let arg_name = arg.name.node.as_str();
                let variable = format!("{prefix}{arg_name}");
                declarations.push(format!("${variable}: {}", arg.ty.node));
                arguments.push(format!("{arg_name}: ${variable}"));
                let value = self.value(&arg.ty.node, &format!("variables.{variable}"), &mut uploads, 0);
                variables.insert(variable, value);
            }
            let arguments = if arguments.is_empty() { String::new() } else { format!("({})", arguments.join(", ")) };
            calls.push(format!("{}{arguments}", field.name.node));
        }
        let keyword = match operation {
            Operation::Query => "query",
            Operation::Mutation => "mutation",
        };
        let declarations = if declarations.is_empty() { String::new() } else { format!("({})", declarations.join(", ")) };
        let leaf = path.last().expect("a path has a field");
        let selection = match self.types.get(named(&leaf.ty.node)).map(|t| t.kind) {
            Some(Kind::Object | Kind::Interface | Kind::Union) => " { __typename }",
            _ => "",
        };
        let body = nest(&calls, selection);
        FieldDocument {
            operation,
            path: path.iter().map(|f| f.name.node.to_string()).collect(),
            auth: path.iter().map(|f| auth(&f.directives)).collect(),
            query: format!("{keyword} AuthMatrix{declarations} {{ {body} }}"),
            variables: Json::Object(variables),
            uploads,
        }
    }

    /// A dummy value of an input type; `Upload` positions are recorded in `uploads`.
    fn value(&self, ty: &Type, path: &str, uploads: &mut Vec<String>, depth: usize) -> Json {
        assert!(depth < 32, "required input fields nest without end at {path}");
        let name = match &ty.base {
            BaseType::List(inner) => return json!([self.value(inner, &format!("{path}.0"), uploads, depth + 1)]),
            BaseType::Named(n) => n.as_str(),
        };
        match name {
            "Upload" => {
                uploads.push(path.to_string());
                Json::Null
            }
            "Int" => json!(1),
            "Float" => json!(1.5),
            "Boolean" => json!(false),
            "ID" | "String" => json!(DUMMY),
            other => {
                let def = self.types.get(other).unwrap_or_else(|| panic!("{path}: type {other} is not defined"));
                match def.kind {
                    Kind::Scalar => json!(DUMMY),
                    Kind::Enum => json!(def.enum_values.first().unwrap_or_else(|| panic!("enum {other} has values"))),
                    Kind::InputObject => {
                        let mut object = Map::new();
                        for f in def.input_fields.iter().filter(|f| !f.ty.node.nullable && f.default_value.is_none()) {
                            let field_path = format!("{path}.{}", f.name.node);
                            object.insert(f.name.node.to_string(), self.value(&f.ty.node, &field_path, uploads, depth + 1));
                        }
                        Json::Object(object)
                    }
                    Kind::Object | Kind::Interface | Kind::Union => panic!("{path}: {other} is not an input type"),
                }
            }
        }
    }
}

/// `root(args) { op(args) { __typename } }` from the calls of a path and the leaf's selection.
fn nest(calls: &[String], leaf_selection: &str) -> String {
    let mut text = String::new();
    for (i, call) in calls.iter().enumerate() {
        text.push_str(call);
        if i + 1 < calls.len() {
            text.push_str(" { ");
        }
    }
    text.push_str(leaf_selection);
    text.push_str(&" }".repeat(calls.len() - 1));
    text
}

/// The named type under any list wrappers.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Reads `@auth` / `@auth(for: [...], and: ...)`; an argument the matrix does not know
/// fails the test rather than being ignored.
fn auth(directives: &[Positioned<ConstDirective>]) -> Option<Auth> {
    let directive = directives.iter().find(|d| d.node.name.node == "auth")?;
    let mut auth = Auth { capabilities: Vec::new(), all: false };
    for (name, value) in &directive.node.arguments {
        let capability = |v: &ConstValue| match v {
            ConstValue::Enum(e) => e.to_string(),
            ConstValue::String(s) => s.clone(),
            other => panic!("@auth(for:) holds {other}, not a capability"),
        };
        match (name.node.as_str(), &value.node) {
            ("for", ConstValue::List(items)) => auth.capabilities = items.iter().map(capability).collect(),
            ("for", single) => auth.capabilities = vec![capability(single)],
            ("and", ConstValue::Boolean(all)) => auth.all = *all,
            (other, v) => panic!("@auth({other}: {v}) is not an argument the matrix understands"),
        }
    }
    Some(auth)
}
