//! `settings` and `schemaRelationsTypesMapping`: what the platform says about itself.
//!
//! The settings are one object per platform, with the platform's defaults for a fresh
//! install (community edition, no AI, no messages) and the mock's own URL; pycti's
//! `api.settings.read()` selects every field, and connectors read the platform's id from it
//! (`settings { id }`, e.g. to tag requests to a third-party service). The relationship
//! mapping is the table the platform checks relationships against (`stix/relationships.json`,
//! the same one the worker's checks use), as `From_To` keys and their allowed types.
//!
//! `settingsEdit(id)` changes them: `fieldPatch` sets the attributes an administrator may
//! change ([`crate::store::parameters::EDITABLE`]; another key is refused), `editMessage`
//! and `deleteMessage` keep the platform messages. What was changed is the store's
//! (`State::parameters`) and overrides the defaults in every later `settings` answer. An
//! id that is not the settings' is refused as the platform refuses an edit of an unknown
//! element.

use async_graphql::dynamic::ResolverContext;
use serde_json::{Value as Json, json};

use crate::core::Core;
use crate::graphql::builder::{Registry, Resolved};
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::project::field;
use crate::store::clock::iso;
use crate::store::parameters::Message;

/// Registers the resolvers.
pub fn register(r: &mut Registry) {
    r.sync("Query", "settings", settings);
    r.sync("Query", "schemaRelationsTypesMapping", relations_mapping);
}

/// Registers the settings edits (after the knowledge layer, which answers every
/// `…EditMutations` type it finds).
pub fn register_edits(r: &mut Registry) {
    r.sync("Mutation", "settingsEdit", |ctx| Ok(field(json!({"id": ctx.args.try_get("id")?.string()?}))));
    r.sync("SettingsEditMutations", "fieldPatch", field_patch);
    r.sync("SettingsEditMutations", "editMessage", edit_message);
    r.sync("SettingsEditMutations", "deleteMessage", delete_message);
}

/// The settings' id: one per platform, stable for its URL.
fn settings_id(core: &Core) -> String {
    uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, core.public_url.as_bytes()).to_string()
}

/// The id of the settings an edit names, or the platform's refusal.
fn edited(ctx: &ResolverContext<'_>) -> Result<(), async_graphql::Error> {
    let (core, _) = parts(ctx)?;
    let id = ctx.parent_value.as_value().and_then(|v| match v {
        async_graphql::Value::Object(m) => m.get("id").and_then(|i| match i {
            async_graphql::Value::String(s) => Some(s.clone()),
            _ => None,
        }),
        _ => None,
    });
    let own = settings_id(core);
    match id {
        Some(i) if i == own || i == format!("settings--{own}") => Ok(()),
        other => Err(functional("Cant find element to update", json!({"id": other}))),
    }
}

fn field_patch(ctx: &ResolverContext<'_>) -> Resolved {
    edited(ctx)?;
    let (core, _) = parts(ctx)?;
    let input = ctx.args.try_get("input")?.deserialize::<Json>()?;
    let ops = crate::graphql::knowledge::edit::edit_inputs(&input);
    let now = core.store.clock().now();
    for op in &ops {
        let key = op["key"].as_str().unwrap_or_default();
        if !crate::store::parameters::EDITABLE.contains(&key) {
            return Err(functional(format!("{key} is not a setting that can be edited"), json!({"key": key})));
        }
    }
    core.store.write(|s| {
        for op in &ops {
            let value = match &op["value"] {
                Json::Array(items) => items.first().cloned().unwrap_or(Json::Null),
                other => other.clone(),
            };
            s.parameters.set(op["key"].as_str().unwrap_or_default(), value, now);
        }
    });
    settings(ctx)
}

fn edit_message(ctx: &ResolverContext<'_>) -> Resolved {
    edited(ctx)?;
    let (core, _) = parts(ctx)?;
    let input = ctx.args.try_get("input")?.deserialize::<Json>()?;
    let now = core.store.clock().now();
    let message = Message {
        id: input["id"].as_str().unwrap_or_default().to_string(),
        message: input["message"].as_str().unwrap_or_default().to_string(),
        activated: input["activated"].as_bool().unwrap_or(false),
        dismissible: input["dismissible"].as_bool().unwrap_or(false),
        color: input["color"].as_str().map(str::to_string),
        recipients: input["recipients"].as_array().into_iter().flatten().filter_map(|r| r.as_str().map(str::to_string)).collect(),
        updated_at: now,
    };
    core.store.write(|s| s.parameters.put_message(message, now));
    settings(ctx)
}

fn delete_message(ctx: &ResolverContext<'_>) -> Resolved {
    edited(ctx)?;
    let (core, _) = parts(ctx)?;
    let id = ctx.args.try_get("input")?.string()?.to_string();
    let now = core.store.clock().now();
    if !core.store.write(|s| s.parameters.delete_message(&id, now)) {
        return Err(functional("Message not found", json!({"id": id})));
    }
    settings(ctx)
}

fn settings(ctx: &ResolverContext<'_>) -> Resolved {
    let (core, _) = parts(ctx)?;
    let id = settings_id(core);
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
    // What administrators changed.
    core.store.read(|s| {
        let p = &s.parameters;
        let messages: Vec<Json> = p
            .messages
            .iter()
            .map(|m| {
                let recipients: Vec<Json> = m
                    .recipients
                    .iter()
                    .filter_map(|r| s.users.user(r).map(|u| json!({"id": u.id, "name": u.name, "entity_type": "User"})))
                    .collect();
                json!({"id": m.id, "message": m.message, "activated": m.activated, "dismissible": m.dismissible,
                    "updated_at": iso(m.updated_at), "color": m.color, "recipients": recipients})
            })
            .collect();
        if let Some(map) = settings.as_object_mut() {
            map.extend(p.fields.clone());
            map.insert("platform_messages".into(), Json::Array(messages.iter().filter(|m| m["activated"] == true).cloned().collect()));
            map.insert("messages_administration".into(), Json::Array(messages));
            if let Some(at) = p.updated_at {
                map.insert("updated_at".into(), json!(iso(at)));
            }
        }
    });
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
