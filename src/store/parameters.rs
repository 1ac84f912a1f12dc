//! The platform's parameters as administrators change them: `settingsEdit`'s field
//! patches and the platform messages (`editMessage`, `deleteMessage`).
//!
//! The settings object itself (`settings`, `src/graphql/settings.rs`) is the platform's
//! defaults for a fresh install; what is kept here overrides them, so an accepted edit
//! changes what `settings` answers. Only the attributes an administrator can change on the
//! platform's settings form are editable ([`EDITABLE`]); the platform's identity,
//! cluster, licence and modules are computed and cannot be patched.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use uuid::Uuid;

/// The settings attributes a field patch may change (`platform_organization` is not one
/// yet: the settings would have to answer the organization object).
pub const EDITABLE: &[&str] = &[
    "platform_title",
    "platform_favicon",
    "platform_email",
    "platform_language",
    "platform_login_message",
    "platform_consent_message",
    "platform_consent_confirm_text",
    "platform_banner_text",
    "platform_banner_level",
    "platform_whitemark",
    "platform_session_idle_timeout",
    "platform_session_timeout",
    "analytics_google_analytics_v4",
    "otp_mandatory",
    "password_policy_min_length",
    "password_policy_max_length",
    "password_policy_min_symbols",
    "password_policy_min_numbers",
    "password_policy_min_words",
    "password_policy_min_lowercase",
    "password_policy_min_uppercase",
];

/// A platform message (`SettingsMessage`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Message {
    /// Its id.
    pub id: String,
    /// The text.
    pub message: String,
    /// Shown or not.
    pub activated: bool,
    /// Users may close it.
    pub dismissible: bool,
    /// Banner color.
    pub color: Option<String>,
    /// Member ids it is for (empty: everyone).
    pub recipients: Vec<String>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// What administrators changed.
#[derive(Debug, Clone, Default)]
pub struct Parameters {
    /// Patched attributes (values as the settings answer them).
    pub fields: Map<String, Value>,
    /// Platform messages, oldest first.
    pub messages: Vec<Message>,
    /// When the settings last changed (`None`: never).
    pub updated_at: Option<DateTime<Utc>>,
}

impl Parameters {
    /// Sets an editable attribute. Returns `false` (nothing changed) for another key.
    pub fn set(&mut self, key: &str, value: Value, now: DateTime<Utc>) -> bool {
        if !EDITABLE.contains(&key) {
            return false;
        }
        self.fields.insert(key.to_string(), value);
        self.updated_at = Some(now);
        true
    }

    /// Adds a message, or replaces the one with the same id (`editMessage`).
    pub fn put_message(&mut self, mut message: Message, now: DateTime<Utc>) {
        if message.id.is_empty() {
            message.id = Uuid::new_v4().to_string();
        }
        message.updated_at = now;
        match self.messages.iter_mut().find(|m| m.id == message.id) {
            Some(m) => *m = message,
            None => self.messages.push(message),
        }
        self.updated_at = Some(now);
    }

    /// Removes a message. Returns whether it existed.
    pub fn delete_message(&mut self, id: &str, now: DateTime<Utc>) -> bool {
        let before = self.messages.len();
        self.messages.retain(|m| m.id != id);
        let removed = self.messages.len() != before;
        if removed {
            self.updated_at = Some(now);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_editable_attributes_change_and_messages_are_kept_by_id() {
        let now = Utc::now();
        let mut p = Parameters::default();
        assert!(p.set("platform_title", Value::from("Mine"), now));
        assert!(!p.set("platform_enterprise_edition", Value::from(true), now));
        assert_eq!(p.fields.len(), 1);
        let msg = |id: &str, text: &str| Message {
            id: id.into(), message: text.into(), activated: true, dismissible: false, color: None, recipients: vec![], updated_at: now,
        };
        p.put_message(msg("", "hello"), now);
        let id = p.messages[0].id.clone();
        assert!(!id.is_empty());
        p.put_message(msg(&id, "changed"), now);
        assert_eq!((p.messages.len(), p.messages[0].message.as_str()), (1, "changed"));
        assert!(p.delete_message(&id, now) && p.messages.is_empty() && !p.delete_message(&id, now));
    }
}
