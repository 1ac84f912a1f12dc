//! Groups, roles and the capability tree: where a platform user's rights come from.
//!
//! On the platform a user is a member of groups (`member-of`); a group has roles
//! (`has-role`) and the marking definitions its members may see (`accesses-to`); a role
//! has capabilities (`has-capability`), nodes of a fixed tree created at install
//! (`data-initialization.js`, the names the schema's `@auth(for: [...])` use). A user's
//! capabilities are those of its groups' roles; its allowed markings those of its groups.
//! [`crate::store::users::Users`] resolves them for the users the API creates.
//!
//! Ids: groups and roles get random internal ids and the platform's standard ids
//! (`group--<uuid>`, `role--<uuid>`); capabilities get ids derived from their names, so
//! a capability has the same id on every platform the mock starts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// The capability tree of the platform (names, and what each allows), in the platform's
/// order (`attribute_order`).
pub const CAPABILITIES: &[(&str, &str)] = &[
    ("BYPASS", "Bypass all capabilities"),
    ("KNOWLEDGE", "Access knowledge"),
    ("KNOWLEDGE_KNPARTICIPATE", "Access to collaborative creation"),
    ("KNOWLEDGE_KNUPDATE", "Create / Update knowledge"),
    ("KNOWLEDGE_KNUPDATE_KNORGARESTRICT", "Restrict organization access"),
    ("KNOWLEDGE_KNUPDATE_KNDELETE", "Delete knowledge"),
    ("KNOWLEDGE_KNUPDATE_KNMERGE", "Merge knowledge"),
    ("KNOWLEDGE_KNUPDATE_KNMANAGEAUTHMEMBERS", "Manage authorized members"),
    ("KNOWLEDGE_KNUPDATE_KNBYPASSREFERENCE", "Bypass enforced reference"),
    ("KNOWLEDGE_KNUPDATE_KNBYPASSFIELDS", "Bypass mandatory fields"),
    ("KNOWLEDGE_KNUPLOAD", "Upload knowledge files"),
    ("KNOWLEDGE_KNASKIMPORT", "Import knowledge"),
    ("KNOWLEDGE_KNGETEXPORT", "Download knowledge export"),
    ("KNOWLEDGE_KNGETEXPORT_KNASKEXPORT", "Generate knowledge export"),
    ("KNOWLEDGE_KNENRICHMENT", "Ask for knowledge enrichment"),
    ("KNOWLEDGE_KNDISSEMINATION", "Disseminate files by email"),
    ("EXPLORE", "Access exploration"),
    ("EXPLORE_EXUPDATE", "Create / Update exploration"),
    ("EXPLORE_EXUPDATE_EXDELETE", "Delete exploration"),
    ("EXPLORE_EXUPDATE_PUBLISH", "Manage public dashboards"),
    ("INVESTIGATION", "Access investigations"),
    ("INVESTIGATION_INUPDATE", "Create / Update investigations"),
    ("INVESTIGATION_INUPDATE_INDELETE", "Delete investigations"),
    ("MODULES", "Access connectors"),
    ("MODULES_MODMANAGE", "Manage connector state"),
    ("CONNECTORAPI", "Connectors API usage: register, ping, export push ..."),
    ("TAXIIAPI", "Access data sharing"),
    ("TAXIIAPI_SETCOLLECTIONS", "Manage data sharing"),
    ("INGESTION", "Access ingestion"),
    ("INGESTION_SETINGESTIONS", "Manage ingestion"),
    ("CSVMAPPERS", "Manage CSV mappers"),
    ("AUTOMATION", "Access automation"),
    ("AUTOMATION_AUTMANAGE", "Manage automations"),
    ("PIRAPI", "Access priority intelligence requirements"),
    ("PIRAPI_PIRUPDATE", "Create / Update priority intelligence requirements"),
    ("SETTINGS", "Access administration"),
    ("SETTINGS_SETPARAMETERS", "Manage parameters"),
    ("SETTINGS_SETACCESSES", "Manage credentials"),
    ("SETTINGS_SETMARKINGS", "Manage marking definitions"),
    ("SETTINGS_SETDISSEMINATION", "Manage dissemination lists"),
    ("SETTINGS_SETLABELS", "Manage labels"),
    ("SETTINGS_SETVOCABULARIES", "Manage taxonomies"),
    ("SETTINGS_SETKILLCHAINPHASES", "Manage kill chain phases"),
    ("SETTINGS_SETCASETEMPLATES", "Manage case templates"),
    ("SETTINGS_SETSTATUSTEMPLATES", "Manage status templates"),
    ("SETTINGS_SETCUSTOMIZATION", "Manage customization"),
    ("SETTINGS_SECURITYACTIVITY", "Access security activity"),
    ("SETTINGS_FILEINDEXING", "Access to file indexing"),
    ("SETTINGS_SUPPORT", "Access to support data"),
    ("SETTINGS_SETMANAGEXTMHUB", "Manage XTM Hub"),
    ("APIACCESS", "Access the API"),
    ("APIACCESS_USETOKEN", "Use API tokens"),
];

/// The internal id of a capability (stable: derived from its name).
pub fn capability_id(name: &str) -> String {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("opencti-capability:{name}").as_bytes()).to_string()
}

/// The capability name with this internal id, standard id or name.
pub fn capability_named(id: &str) -> Option<&'static str> {
    let id = id.strip_prefix("capability--").unwrap_or(id);
    CAPABILITIES.iter().map(|(n, _)| *n).find(|n| *n == id || capability_id(n) == id)
}

/// A role: a named set of capabilities.
#[derive(Debug, Clone, Serialize)]
pub struct Role {
    /// Internal id.
    pub id: String,
    /// Name (unique on the platform).
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Capability names.
    pub capabilities: Vec<String>,
    /// Creation date.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A group: members get its roles' capabilities and see its allowed markings.
#[derive(Debug, Clone, Serialize)]
pub struct Group {
    /// Internal id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// New users join it unless they ask not to (`prevent_default_groups`).
    pub default_assignation: bool,
    /// Members are not shown as creators.
    pub no_creators: bool,
    /// Members may not delete.
    pub restrict_delete: bool,
    /// New markings are added to `allowed_markings`.
    pub auto_new_marking: bool,
    /// Role ids.
    pub roles: Vec<String>,
    /// Marking definitions its members may see (ids as given); `None`: every marking
    /// (the install's Administrators and Connectors groups).
    pub allowed_markings: Option<Vec<String>>,
    /// Default markings by entity type (`editDefaultMarking`): `(entity_type, marking ids)`.
    pub default_marking: Vec<(String, Vec<String>)>,
    /// `group_confidence_level` as given (`{max_confidence, overrides}`).
    pub confidence: serde_json::Value,
    /// Creation date.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Group {
    /// A new group with the platform's defaults for what is not given.
    pub fn new(name: &str, now: DateTime<Utc>) -> Group {
        Group {
            id: Uuid::new_v4().to_string(),
            name: name.to_string(),
            description: None,
            default_assignation: false,
            no_creators: false,
            restrict_delete: false,
            auto_new_marking: false,
            roles: Vec::new(),
            allowed_markings: Some(Vec::new()),
            default_marking: Vec::new(),
            confidence: serde_json::json!({"max_confidence": 100, "overrides": []}),
            created_at: now,
            updated_at: now,
        }
    }
}

impl Role {
    /// A new role without capabilities.
    pub fn new(name: &str, description: Option<String>, now: DateTime<Utc>) -> Role {
        Role { id: Uuid::new_v4().to_string(), name: name.to_string(), description, capabilities: Vec::new(), created_at: now, updated_at: now }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_are_found_by_name_internal_id_and_standard_id() {
        let id = capability_id("KNOWLEDGE_KNUPDATE");
        assert_eq!(capability_named(&id), Some("KNOWLEDGE_KNUPDATE"));
        assert_eq!(capability_named(&format!("capability--{id}")), Some("KNOWLEDGE_KNUPDATE"));
        assert_eq!(capability_named("KNOWLEDGE"), Some("KNOWLEDGE"));
        assert_eq!(capability_named("NOT_A_CAPABILITY"), None);
        assert_ne!(capability_id("KNOWLEDGE"), capability_id("KNOWLEDGE_KNUPDATE"));
    }
}
