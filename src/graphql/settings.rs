//! `settings` and `schemaRelationsTypesMapping`: what the platform says about itself.
//!
//! The settings are one object per platform, with the platform's defaults for a fresh
//! install (community edition, no AI, no messages) and the mock's own URL; pycti's
//! `api.settings.read()` selects every field, and connectors read the platform's id from it
//! (`settings { id }`, e.g. to tag requests to a third-party service). The relationship
//! mapping is the table the platform checks relationships against (`stix/relationships.json`,
//! the same one the worker's checks use), as `From_To` keys and their allowed types.

use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::graphql::builder::{Registry, Resolved};
use crate::graphql::context::parts;
use crate::graphql::project::field;
use crate::store::clock::iso;

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.sync("Query", "settings", settings);
    r.sync("Query", "schemaRelationsTypesMapping", relations_mapping);
}

fn settings(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    // One id per platform, stable for its URL.
    let id = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, core.public_url.as_bytes()).to_string();
    // The platform was set up when its administrator was created.
    let since = iso(core.store.read(|s| s.users.admin().created_at));
    let off = json!({"enabled": false, "protected_ids": []});
    let mut settings = json!({
        "id": id,
        "standard_id": format!("settings--{id}"),
        "entity_type": "Settings",
        "parent_types": ["Basic-Object", "Internal-Object"],
        "platform_organization": null,
        "platform_title": "OpenCTI - Cyber Threat Intelligence Platform",
        "platform_favicon": null,
        "platform_email": "admin@opencti.io",
        "platform_url": &*core.public_url,
        "platform_language": "auto",
        "platform_cluster": {"instances_number": 1},
        "platform_modules": [],
        "platform_providers": [{"name": "Local", "type": "FORM", "strategy": "LocalStrategy", "provider": "local"}],
        "platform_user_statuses": [],
        "platform_theme": null,
        "platform_ai_enabled": false,
        "platform_openaev_url": null,
        "platform_opengrc_url": null,
        "platform_ai_type": null,
        "platform_ai_model": null,
        "platform_ai_has_token": false,
        "platform_login_message": null,
        "platform_consent_message": null,
        "platform_consent_confirm_text": null,
        "platform_banner_text": null,
        "platform_banner_level": null,
    });
    let rest = json!({
        "platform_session_idle_timeout": 0,
        "platform_session_timeout": core.settings.app.request_timeout,
        "platform_whitemark": false,
        "platform_demo": false,
        "platform_reference_attachment": false,
        "platform_feature_flags": [],
        "platform_critical_alerts": [],
        "platform_trash_enabled": true,
        "platform_protected_sensitive_config": {"enabled": false, "markings": off, "groups": off, "roles": off, "rules": off,
            "ce_ee_toggle": off, "file_indexing": off, "platform_organization": off},
        "created_at": since,
        "updated_at": since,
        "platform_enterprise_edition": {"license_enterprise": false, "license_by_configuration": false, "license_customer": null,
            "license_validated": false, "license_valid_cert": false, "license_expired": false,
            "license_expiration_prevention": false, "license_start_date": null, "license_expiration_date": null,
            "license_platform": null, "license_type": null, "license_platform_match": true, "license_creator": null,
            "license_global": false},
        "analytics_google_analytics_v4": null,
        "activity_listeners": [],
        "otp_mandatory": false,
        "password_policy_min_length": 0,
        "password_policy_max_length": 0,
        "password_policy_min_symbols": 0,
        "password_policy_min_numbers": 0,
        "password_policy_min_words": 0,
        "password_policy_min_lowercase": 0,
        "password_policy_min_uppercase": 0,
        "platform_messages": [],
        "messages_administration": [],
    });
    if let (Some(map), Json::Object(rest)) = (settings.as_object_mut(), rest) {
        map.extend(rest);
    }
    Ok(field(settings))
}

fn relations_mapping(_: &ResolverContext<'_>) -> Resolved {
    let mapping: Vec<Json> = crate::stix::relationships::Relationships::get()
        .mapping()
        .into_iter()
        .map(|(from, to, types)| json!({"key": format!("{from}_{to}"), "values": types}))
        .collect();
    Ok(field(Json::Array(mapping)))
}
