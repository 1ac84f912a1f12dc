//! The platform's open-vocabulary definitions (`modules/vocabulary/vocabulary-types.ts`,
//! `vocabularyDefinitions`): for each category, the entity types it serves and their
//! fields (whether one is required, whether it holds a list).
//!
//! `vocabularyCategories` serves them, and a stored vocabulary entry's `category` reads
//! them. pycti's importer asks `vocabularyCategories` before its first object
//! (`import_bundle_from_json`, and the real worker through it) and maps every open
//! vocabulary field of an object to an entry of its category; without the query, the first
//! object fails and the others import without that mapping.

use serde_json::{Value as Json, json};

/// One category: `(key, entity types, fields as (key, required, multiple))`.
type Definition = (&'static str, &'static [&'static str], &'static [(&'static str, bool, bool)]);

const CASES: &[&str] = &["Case-Incident", "Case-Rfi", "Case-Rft"];
const IDENTITIES_WITH_RELIABILITY: &[&str] = &["Report", "Organization", "Individual", "System"];

/// Every category the platform defines, in its order.
pub const DEFINITIONS: &[Definition] = &[
    ("account_type_ov", &["User-Account"], &[("account_type", false, false)]),
    (
        "attack_motivation_ov",
        &["Threat-Actor-Group", "Intrusion-Set"],
        &[("primary_motivation", false, false), ("secondary_motivations", false, true), ("personal_motivations", false, true)],
    ),
    ("attack_resource_level_ov", &["Threat-Actor-Group", "Intrusion-Set"], &[("resource_level", false, false)]),
    ("case_severity_ov", CASES, &[("severity", false, false)]),
    ("case_priority_ov", CASES, &[("priority", false, false)]),
    ("channel_types_ov", &["Channel"], &[("channel_types", false, true)]),
    ("collection_layers_ov", &["Data-Source"], &[("collection_layers", false, true)]),
    ("event_type_ov", &["Event"], &[("event_types", false, true)]),
    ("grouping_context_ov", &["Grouping"], &[("context", true, false)]),
    ("implementation_language_ov", &["Malware"], &[("implementation_languages", false, true)]),
    ("incident_response_types_ov", &["Case-Incident"], &[("response_types", false, true)]),
    ("incident_type_ov", &["Incident"], &[("incident_type", false, false)]),
    ("incident_severity_ov", &["Incident"], &[("severity", false, false)]),
    ("indicator_type_ov", &["Indicator"], &[("indicator_types", false, true)]),
    ("infrastructure_type_ov", &["Infrastructure"], &[("infrastructure_types", false, true)]),
    ("integrity_level_ov", &["Process"], &[("integrity_level", false, false)]),
    ("malware_capabilities_ov", &["Malware"], &[("capabilities", false, true)]),
    ("malware_result_ov", &["Malware-Analysis"], &[("result", false, false)]),
    ("malware_type_ov", &["Malware"], &[("malware_types", false, true)]),
    ("note_types_ov", &["Note"], &[("note_types", false, true)]),
    ("opinion_ov", &["Opinion"], &[("opinion", true, false)]),
    ("organization_type_ov", &["Organization"], &[("x_opencti_organization_type", false, false)]),
    ("platforms_ov", &["Data-Source", "Indicator", "Attack-Pattern"], &[("x_mitre_platforms", false, true)]),
    ("pattern_type_ov", &["Indicator"], &[("pattern_type", true, false)]),
    ("processor_architecture_ov", &["Malware"], &[("architecture_execution_envs", false, true)]),
    ("permissions_ov", &["Attack-Pattern"], &[("x_mitre_permissions_required", false, true)]),
    ("persona_type_ov", &["Persona"], &[("persona_type", false, false)]),
    ("reliability_ov", IDENTITIES_WITH_RELIABILITY, &[("x_opencti_reliability", false, false)]),
    ("report_types_ov", &["Report"], &[("report_types", false, true)]),
    ("request_for_information_types_ov", &["Case-Rfi"], &[("information_types", false, true)]),
    ("request_for_takedown_types_ov", &["Case-Rft"], &[("takedown_types", false, true)]),
    ("service_status_ov", &["Process"], &[("service_status", false, false)]),
    ("service_type_ov", &["Process"], &[("service_type", false, false)]),
    ("start_type_ov", &["Process"], &[("start_type", false, false)]),
    ("threat_actor_group_type_ov", &["Threat-Actor-Group"], &[("threat_actor_types", false, true)]),
    ("threat_actor_group_role_ov", &["Threat-Actor-Group"], &[("roles", false, true)]),
    ("threat_actor_group_sophistication_ov", &["Threat-Actor-Group"], &[("sophistication", false, false)]),
    ("threat_actor_individual_type_ov", &["Threat-Actor-Individual"], &[("threat_actor_types", false, true)]),
    ("threat_actor_individual_role_ov", &["Threat-Actor-Individual"], &[("roles", false, true)]),
    ("threat_actor_individual_sophistication_ov", &["Threat-Actor-Individual"], &[("sophistication", false, false)]),
    ("tool_types_ov", &["Tool"], &[("tool_types", false, true)]),
    ("gender_ov", &["Threat-Actor-Individual"], &[("gender", false, false)]),
    ("marital_status_ov", &["Threat-Actor-Individual"], &[("marital_status", false, false)]),
    ("hair_color_ov", &["Threat-Actor-Individual"], &[("hair_color", false, false)]),
    ("eye_color_ov", &["Threat-Actor-Individual"], &[("eye_color", false, false)]),
];

/// A category as GraphQL's `VocabularyDefinition` (`key`, `entity_types`, `fields`); an
/// unknown key (a category the platform version defines and this table does not) has no
/// entity types and no fields.
pub fn definition(key: &str) -> Json {
    let found = DEFINITIONS.iter().find(|(k, ..)| *k == key);
    let (types, fields): (&[&str], &[(&str, bool, bool)]) = found.map_or((&[], &[]), |(_, t, f)| (*t, *f));
    json!({
        "key": key,
        "entity_types": types,
        "fields": fields.iter().map(|(k, required, multiple)| json!({"key": k, "required": required, "multiple": multiple})).collect::<Vec<_>>(),
    })
}

/// `vocabularyCategories`: every definition.
pub fn categories() -> Json {
    Json::Array(DEFINITIONS.iter().map(|(k, ..)| definition(k)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_category_of_the_schema_enum_with_a_definition_is_served() {
        let sdl = crate::graphql::knowledge::SDL;
        let start = sdl.find("enum VocabularyCategory {").expect("the enum");
        let body = &sdl[start..start + sdl[start..].find('}').expect("its end")];
        let in_enum: Vec<&str> = body.lines().skip(1).map(str::trim).filter(|l| !l.is_empty()).collect();
        for (key, ..) in DEFINITIONS {
            assert!(in_enum.contains(key), "{key} is a value of the VocabularyCategory enum");
        }
        assert_eq!(
            definition("malware_type_ov")["fields"][0],
            json!({"key": "malware_types", "required": false, "multiple": true})
        );
        assert_eq!(definition("unknown_ov")["fields"], json!([]));
    }
}
