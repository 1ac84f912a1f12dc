//! The three names of a knowledge type: the platform's `entity_type` (`Attack-Pattern`,
//! `IPv4-Addr`, `uses`), the STIX `type` (`attack-pattern`, `ipv4-addr`, `relationship`) and
//! the GraphQL type (`AttackPattern`, `IPv4Addr`, `StixCoreRelationship`), plus the
//! platform's `parent_types` of each.
//!
//! The GraphQL name of an entity type is the entity type without its hyphens (the platform
//! names its GraphQL types that way: `Course-Of-Action` → `CourseOfAction`, `SSH-Key` →
//! `SSHKey`); relationships are `StixCoreRelationship` / `StixSightingRelationship`.
//! Whether a stored object can answer a field of a given GraphQL type is decided against
//! the schema ([`TypeInfo::fits`]), memoised per entity type for lists.

use std::collections::HashMap;
use std::sync::Arc;

use crate::graphql::sdl::TypeInfo;
use crate::stix::OBSERVABLE_TYPES;
pub use crate::stix::hierarchy::{IDENTITY_CLASSES, LOCATION_TYPES, is_of_types, parent_types};
use crate::store::knowledge::StoredObject;

/// The GraphQL type name of a stored object (the schema may lack it: check with
/// [`TypeInfo`]).
pub fn graphql_type(obj: &StoredObject) -> String {
    graphql_type_of(&obj.stix_type, &obj.entity_type)
}

/// The GraphQL type of an entity type with its STIX type.
pub fn graphql_type_of(stix_type: &str, entity_type: &str) -> String {
    match stix_type {
        "relationship" => "StixCoreRelationship".into(),
        "sighting" => "StixSightingRelationship".into(),
        _ => entity_type.replace('-', ""),
    }
}

/// The STIX type of an entity type.
pub fn stix_type_of(entity_type: &str) -> String {
    if let Some((stix, _)) = OBSERVABLE_TYPES.iter().find(|(_, e)| *e == entity_type) {
        return (*stix).to_string();
    }
    if IDENTITY_CLASSES.iter().any(|(e, _)| *e == entity_type) {
        return "identity".into();
    }
    if LOCATION_TYPES.contains(&entity_type) {
        return "location".into();
    }
    match entity_type {
        "Threat-Actor-Group" | "Threat-Actor-Individual" => "threat-actor".into(),
        "stix-sighting-relationship" => "sighting".into(),
        other => other.to_lowercase(),
    }
}

/// Which stored objects can stand for one GraphQL type (a root field's return type or a
/// connection's node type), decided once per distinct entity type.
pub struct TypeFilter<'a> {
    info: &'a TypeInfo,
    declared: &'a str,
    memo: HashMap<(usize, usize), bool>,
}

impl<'a> TypeFilter<'a> {
    /// A filter for `declared`.
    pub fn new(info: &'a TypeInfo, declared: &'a str) -> Self {
        TypeFilter { info, declared, memo: HashMap::new() }
    }

    /// Whether `obj` fits the declared type.
    pub fn accepts(&mut self, obj: &StoredObject) -> bool {
        let key = (Arc::as_ptr(&obj.stix_type) as *const u8 as usize, Arc::as_ptr(&obj.entity_type) as *const u8 as usize);
        if let Some(v) = self.memo.get(&key) {
            return *v;
        }
        let ty = graphql_type(obj);
        let ok = self.info.objects.contains_key(&ty) && self.info.fits(&ty, self.declared);
        self.memo.insert(key, ok);
        ok
    }
}

/// A memo of [`is_of_types`] per distinct entity type (for lists).
pub struct TypesArg<'a> {
    types: &'a [String],
    memo: HashMap<(usize, usize), bool>,
}

impl<'a> TypesArg<'a> {
    /// The memo for `types` (empty: everything passes).
    pub fn new(types: &'a [String]) -> Self {
        TypesArg { types, memo: HashMap::new() }
    }

    /// Whether `obj` is of one of the types.
    pub fn accepts(&mut self, obj: &StoredObject) -> bool {
        if self.types.is_empty() {
            return true;
        }
        let key = (Arc::as_ptr(&obj.stix_type) as *const u8 as usize, Arc::as_ptr(&obj.entity_type) as *const u8 as usize);
        *self.memo.entry(key).or_insert_with(|| is_of_types(&obj.stix_type, &obj.entity_type, self.types))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_names_drop_the_hyphens_of_entity_types() {
        assert_eq!(graphql_type_of("course-of-action", "Course-Of-Action"), "CourseOfAction");
        assert_eq!(graphql_type_of("ssh-key", "SSH-Key"), "SSHKey");
        assert_eq!(graphql_type_of("relationship", "uses"), "StixCoreRelationship");
        assert_eq!(stix_type_of("StixFile"), "file");
        assert_eq!(stix_type_of("Sector"), "identity");
        assert_eq!(stix_type_of("Threat-Actor-Individual"), "threat-actor");
    }

    #[test]
    fn abstract_types_match_through_parent_types() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_of_types("identity", "Organization", &t(&["Identity"])));
        assert!(is_of_types("file", "StixFile", &t(&["Stix-Cyber-Observable"])));
        assert!(is_of_types("relationship", "uses", &t(&["stix-core-relationship"])));
        assert!(!is_of_types("malware", "Malware", &t(&["Identity", "Indicator"])));
    }
}
