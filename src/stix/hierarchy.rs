//! The platform's type hierarchy: which abstract types (`Stix-Domain-Object`,
//! `Stix-Cyber-Observable`, `Identity`, `stix-core-relationship`…) an entity type belongs
//! to. GraphQL lists filter on it, and so do the live stream's `entity_type` filters (the
//! platform's stix tester compares an element's type *and* its parent types), which is why
//! it lives here, below both.

use crate::stix::OBSERVABLE_TYPES;

/// Identity entity types and their `identity_class`.
pub const IDENTITY_CLASSES: &[(&str, &str)] = &[
    ("Organization", "organization"),
    ("Individual", "individual"),
    ("Sector", "class"),
    ("System", "system"),
    ("SecurityPlatform", "securityplatform"),
];

/// Location entity types.
pub const LOCATION_TYPES: &[&str] = &["Region", "Country", "Administrative-Area", "City", "Position"];

/// Container entity types (they have `objects`).
pub const CONTAINERS: &[&str] =
    &["Report", "Note", "Opinion", "Grouping", "Observed-Data", "Case-Incident", "Case-Rfi", "Case-Rft", "Feedback", "Task"];

/// Meta entity types.
pub const META: &[&str] = &["Marking-Definition", "Label", "External-Reference", "Kill-Chain-Phase", "Vocabulary"];

/// The platform's `parent_types` of an object.
pub fn parent_types(stix_type: &str, entity_type: &str) -> Vec<&'static str> {
    match stix_type {
        "relationship" => return vec!["basic-relationship", "stix-relationship", "stix-core-relationship"],
        "sighting" => return vec!["basic-relationship", "stix-relationship", "stix-sighting-relationship"],
        _ => {}
    }
    if META.contains(&entity_type) {
        return vec!["Basic-Object", "Stix-Object", "Stix-Meta-Object"];
    }
    if OBSERVABLE_TYPES.iter().any(|(s, _)| *s == stix_type) {
        let mut p = vec!["Basic-Object", "Stix-Object", "Stix-Core-Object", "Stix-Cyber-Observable"];
        if matches!(entity_type, "Artifact" | "StixFile" | "X509-Certificate") {
            p.push("Hashed-Observable");
        }
        return p;
    }
    let mut p = vec!["Basic-Object", "Stix-Object", "Stix-Core-Object", "Stix-Domain-Object"];
    if IDENTITY_CLASSES.iter().any(|(e, _)| *e == entity_type) {
        p.push("Identity");
    }
    if LOCATION_TYPES.contains(&entity_type) {
        p.push("Location");
    }
    if CONTAINERS.contains(&entity_type) {
        p.push("Container");
    }
    if matches!(entity_type, "Case-Incident" | "Case-Rfi" | "Case-Rft" | "Feedback") {
        p.push("Case");
    }
    if matches!(entity_type, "Threat-Actor-Group" | "Threat-Actor-Individual") {
        p.push("Threat-Actor");
    }
    p
}

/// Whether an object is of one of `types` (entity types or the platform's abstract types
/// such as `Stix-Domain-Object`, `Identity`, `Stix-Cyber-Observable`, `stix-core-relationship`),
/// compared case-insensitively as the platform's keyword fields are.
pub fn is_of_types(stix_type: &str, entity_type: &str, types: &[String]) -> bool {
    types.iter().any(|t| {
        t.eq_ignore_ascii_case(entity_type)
            || parent_types(stix_type, entity_type).iter().any(|p| p.eq_ignore_ascii_case(t))
            || (t.eq_ignore_ascii_case("Stix-Core-Object") && !matches!(stix_type, "relationship" | "sighting"))
            || t.eq_ignore_ascii_case("Basic-Object") && !matches!(stix_type, "relationship" | "sighting")
    })
}

