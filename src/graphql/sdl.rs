//! The schema's SDL read as data.
//!
//! The SDL may be split over several texts (`schema.graphql`, `knowledge.graphql`): an
//! `extend type X { ... }` definition is merged into `X` (fields, interfaces, enum values,
//! union members, input fields appended) as the platform merges its module schemas.
//! [`Definitions`] is that merged parse, which the schema builder consumes; [`TypeInfo`] is
//! its read-only view (fields and their types, the implementers of each interface, the
//! members of each union), for resolvers registered generically by field name or return
//! type.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_graphql::dynamic::TypeRef;
use async_graphql::parser::types::{BaseType, Type, TypeDefinition, TypeKind, TypeSystemDefinition};

/// SDL that cannot be read (a bug of the mock, caught by its tests).
#[derive(Debug, thiserror::Error)]
pub enum SdlError {
    /// A text does not parse.
    #[error("schema SDL does not parse: {0}")]
    Parse(String),
    /// An `extend` that fits no definition.
    #[error("schema is invalid: {0}")]
    Extension(String),
}

/// The dynamic schema's type reference for a parsed type.
pub(super) fn type_ref(ty: &Type) -> TypeRef {
    let inner = match &ty.base {
        BaseType::Named(n) => TypeRef::named(n.as_str()),
        BaseType::List(inner) => TypeRef::List(Box::new(type_ref(inner))),
    };
    if ty.nullable { inner } else { TypeRef::NonNull(Box::new(inner)) }
}


/// The SDL parsed, with every `extend type` merged into its base definition.
///
/// Parsed once per schema: pest parsing ~190 KB of SDL is most of a platform's start-up,
/// so the executable schema ([`build`](super::builder::build)), the [`TypeInfo`] the resolvers read and the root
/// fields each text declares ([`Definitions::roots_of`]) all come from this one parse.
pub struct Definitions {
    pub(super) query: String,
    pub(super) mutation: Option<String>,
    pub(super) types: Vec<TypeDefinition>,
    /// The root fields each text declares (`(root type, field)`), in the order of the texts.
    roots: Vec<Vec<(String, String)>>,
}

impl Definitions {
    /// Parses the texts of one schema (`extend type` in any text merges into the
    /// definition of any other).
    pub fn parse(texts: &[&str]) -> Result<Definitions, SdlError> {
        let docs = texts
            .iter()
            .map(|t| async_graphql::parser::parse_schema(t).map_err(|e| SdlError::Parse(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut query = "Query".to_string();
        let mut mutation: Option<String> = None;
        for def in docs.iter().flat_map(|d| &d.definitions) {
            if let TypeSystemDefinition::Schema(s) = def {
                if let Some(q) = &s.node.query {
                    query = q.node.to_string();
                }
                if let Some(m) = &s.node.mutation {
                    mutation = Some(m.node.to_string());
                }
            }
        }
        let mut types: Vec<TypeDefinition> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut extensions = Vec::new();
        let mut roots = Vec::with_capacity(docs.len());
        for doc in docs {
            let mut declared = Vec::new();
            for def in doc.definitions {
                let TypeSystemDefinition::Type(t) = def else { continue };
                let name = t.node.name.node.as_str();
                if let TypeKind::Object(o) = &t.node.kind
                    && (name == query || mutation.as_deref() == Some(name))
                {
                    declared.extend(o.fields.iter().map(|f| (name.to_string(), f.node.name.node.to_string())));
                }
                if t.node.extend {
                    extensions.push(t.node);
                } else {
                    index.insert(name.to_string(), types.len());
                    types.push(t.node);
                }
            }
            roots.push(declared);
        }
        for ext in extensions {
            let name = ext.name.node.to_string();
            match index.get(&name) {
                Some(&i) => merge_into(&mut types[i], ext)?,
                None => {
                    return Err(SdlError::Extension(format!("`extend type {name}` extends a type the schema does not define")));
                }
            }
        }
        Ok(Definitions { query, mutation, types, roots })
    }

    /// The root fields (`(root type, field)`) that the `text`-th text declares, in its
    /// definitions or its extensions of the roots.
    pub fn roots_of(&self, text: usize) -> &[(String, String)] {
        self.roots.get(text).map_or(&[], Vec::as_slice)
    }
}

/// Appends the members of an extension to its base definition.
fn merge_into(base: &mut TypeDefinition, ext: TypeDefinition) -> Result<(), SdlError> {
    let name = base.name.node.to_string();
    base.directives.extend(ext.directives);
    match (&mut base.kind, ext.kind) {
        (TypeKind::Object(b), TypeKind::Object(e)) => {
            b.implements.extend(e.implements);
            b.fields.extend(e.fields);
        }
        (TypeKind::Interface(b), TypeKind::Interface(e)) => {
            b.implements.extend(e.implements);
            b.fields.extend(e.fields);
        }
        (TypeKind::Union(b), TypeKind::Union(e)) => b.members.extend(e.members),
        (TypeKind::Enum(b), TypeKind::Enum(e)) => b.values.extend(e.values),
        (TypeKind::InputObject(b), TypeKind::InputObject(e)) => b.fields.extend(e.fields),
        (TypeKind::Scalar, TypeKind::Scalar) => {}
        _ => return Err(SdlError::Extension(format!("`extend` of {name} is not of the kind of its definition"))),
    }
    Ok(())
}

/// A field of an object or interface type, as declared.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    /// The declared type (`[String!]`, `Malware`...).
    pub ty: TypeRef,
}

impl FieldInfo {

    /// Whether the declared type is a list.
    pub fn is_list(&self) -> bool {
        match &self.ty {
            TypeRef::NonNull(inner) => matches!(inner.as_ref(), TypeRef::List(_)),
            TypeRef::List(_) => true,
            TypeRef::Named(_) => false,
        }
    }
}

/// The named type under lists and non-null markers.
pub fn named(ty: &TypeRef) -> &str {
    match ty {
        TypeRef::Named(n) => n.as_ref(),
        TypeRef::NonNull(inner) | TypeRef::List(inner) => named(inner),
    }
}

/// The SDL read as data: every object and interface type with its fields, what each
/// interface is implemented by and what each union holds.
#[derive(Debug, Clone, Default)]
pub struct TypeInfo {
    /// The query root's name.
    pub query: String,
    /// The mutation root's name.
    pub mutation: Option<String>,
    /// Object types: fields by name, in declaration order of the merged definition.
    pub objects: BTreeMap<String, BTreeMap<String, FieldInfo>>,
    /// Interface types: fields by name.
    pub interfaces: BTreeMap<String, BTreeMap<String, FieldInfo>>,
    /// The interfaces each object or interface type declares it implements.
    pub implements: HashMap<String, HashSet<String>>,
    /// Union members.
    pub unions: HashMap<String, HashSet<String>>,
    /// Input object types: fields and their declared types.
    pub inputs: BTreeMap<String, BTreeMap<String, TypeRef>>,
    /// Enum types and their values.
    pub enums: BTreeMap<String, Vec<String>>,
}

impl TypeInfo {
    /// Reads `sdl` (extensions merged).
    #[cfg(test)]
    pub fn from_sdl(sdl: &str) -> Result<TypeInfo, SdlError> {
        Ok(TypeInfo::of(&Definitions::parse(&[sdl])?))
    }

    /// Reads parsed definitions.
    pub fn of(defs: &Definitions) -> TypeInfo {
        let mut info = TypeInfo { query: defs.query.clone(), mutation: defs.mutation.clone(), ..TypeInfo::default() };
        let fields_of = |fields: &[async_graphql::Positioned<async_graphql::parser::types::FieldDefinition>]| {
            fields
                .iter()
                .map(|f| {
                    (f.node.name.node.to_string(), FieldInfo { ty: type_ref(&f.node.ty.node) })
                })
                .collect::<BTreeMap<_, _>>()
        };
        for t in &defs.types {
            let name = t.name.node.to_string();
            match &t.kind {
                TypeKind::Object(o) => {
                    info.implements.insert(name.clone(), o.implements.iter().map(|i| i.node.to_string()).collect());
                    info.objects.insert(name, fields_of(&o.fields));
                }
                TypeKind::Interface(i) => {
                    info.implements.insert(name.clone(), i.implements.iter().map(|i| i.node.to_string()).collect());
                    info.interfaces.insert(name, fields_of(&i.fields));
                }
                TypeKind::Union(u) => {
                    info.unions.insert(name, u.members.iter().map(|m| m.node.to_string()).collect());
                }
                TypeKind::InputObject(io) => {
                    let fields = io.fields.iter().map(|f| (f.node.name.node.to_string(), type_ref(&f.node.ty.node))).collect();
                    info.inputs.insert(name, fields);
                }
                TypeKind::Enum(e) => {
                    info.enums.insert(name, e.values.iter().map(|v| v.node.value.node.to_string()).collect());
                }
                TypeKind::Scalar => {}
            }
        }
        info
    }

    /// Whether a value of the object type `concrete` can stand where `declared` is expected:
    /// the same type, an interface it implements (directly or through another interface),
    /// or a union it belongs to.
    pub fn fits(&self, concrete: &str, declared: &str) -> bool {
        if concrete == declared {
            return true;
        }
        if let Some(members) = self.unions.get(declared) {
            return members.contains(concrete);
        }
        let mut seen = HashSet::new();
        let mut todo = vec![concrete];
        while let Some(t) = todo.pop() {
            for i in self.implements.get(t).into_iter().flatten() {
                if i == declared {
                    return true;
                }
                if seen.insert(i.as_str()) {
                    todo.push(i);
                }
            }
        }
        false
    }

    /// A field of an object or interface type.
    pub fn field(&self, ty: &str, field: &str) -> Option<&FieldInfo> {
        self.objects.get(ty).or_else(|| self.interfaces.get(ty)).and_then(|f| f.get(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_are_merged_into_their_definitions() {
        let sdl = "
            interface Named { name: String }
            type Thing implements Named { name: String size: Int }
            type Other { id: ID }
            union Any = Thing
            type Query { thing: Named }
            extend type Query { other: Other }
            extend union Any = Other
            extend type Thing { extra: String }
        ";

        let info = TypeInfo::from_sdl(sdl).expect("parses");

        assert!(info.field("Query", "other").is_some() && info.field("Query", "thing").is_some());
        assert!(info.field("Thing", "extra").is_some());
        assert!(info.fits("Other", "Any") && info.fits("Thing", "Named") && !info.fits("Other", "Named"));
    }

    #[test]
    fn each_text_reports_the_root_fields_it_declares() {
        let core = "schema { query: Query mutation: Mutation } type Query { about: String } type Mutation { ping: Int }";
        let module =
            "type Thing { id: ID } extend type Query { thing: Thing things: [Thing] } extend type Mutation { thingAdd: Thing }";

        let defs = Definitions::parse(&[core, module]).expect("parses");

        let pairs = |text| defs.roots_of(text).iter().map(|(t, f)| format!("{t}.{f}")).collect::<Vec<_>>();
        assert_eq!(pairs(0), ["Query.about", "Mutation.ping"]);
        assert_eq!(pairs(1), ["Query.thing", "Query.things", "Mutation.thingAdd"]);
        assert!(defs.roots_of(2).is_empty());
        assert!(TypeInfo::of(&defs).field("Query", "thing").is_some(), "the extension is merged");
    }

    #[test]
    fn an_extension_of_an_undefined_type_fails_by_name() {
        let err = TypeInfo::from_sdl("type Query { a: Int } extend type Ghost { b: Int }").unwrap_err();

        assert!(err.to_string().contains("Ghost"), "{err}");
    }
}
