//! What a user may see and write, by marking.
//!
//! On the platform a user's groups carry the marking definitions it may use
//! (`allowed_marking`); a user holding `BYPASS` or a group without a limit sees every
//! marking. Data marked with a marking the user lacks is invisible to that user (readers
//! answer `null`, lists leave it out), and creating data with such a marking is refused with
//! `MISSING_REFERENCE_ERROR` ("User trying to create the data has missing markings").
//!
//! The mock keeps the allowed markings on the [`User`] (`allowed_markings`, any id of each
//! marking definition). The list is taken as given: allowing `TLP:AMBER` does not imply
//! `TLP:GREEN`; list every marking the user's groups would allow.

use std::collections::HashSet;

use crate::store::files::StoredFile;
use crate::store::knowledge::{Knowledge, StoredObject};
use crate::store::users::User;

/// The markings one user may see and use, resolved against the stored markings.
#[derive(Debug, Clone)]
pub struct Clearance {
    /// Standard ids (and, for markings not stored, the ids as given); `None` = unlimited.
    allowed: Option<HashSet<String>>,
}

impl Clearance {
    /// No limit (administrators, users without `allowed_markings`, internal writes).
    pub fn unlimited() -> Self {
        Clearance { allowed: None }
    }

    /// The clearance of `user` against the markings in `knowledge`.
    pub fn of(user: &User, knowledge: &Knowledge) -> Self {
        if user.is_bypass() {
            return Clearance::unlimited();
        }
        let allowed = user.allowed_markings.as_ref().map(|ids| ids.iter().map(|id| canonical(knowledge, id)).collect());
        Clearance { allowed }
    }

    /// Whether the user may see and use the marking `marking_id` (any of its ids).
    pub fn allows(&self, knowledge: &Knowledge, marking_id: &str) -> bool {
        match &self.allowed {
            None => true,
            Some(set) => set.contains(&canonical(knowledge, marking_id)),
        }
    }

    /// The markings among `marking_ids` the user may not use.
    pub fn missing<'a>(&self, knowledge: &Knowledge, marking_ids: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        marking_ids.into_iter().filter(|id| !self.allows(knowledge, id)).map(str::to_string).collect()
    }

    /// Whether the user may see a stored object: every marking on it is allowed.
    pub fn can_see(&self, knowledge: &Knowledge, obj: &StoredObject) -> bool {
        if self.allowed.is_none() {
            return true;
        }
        let body = obj.json();
        let markings = body.get("object_marking_refs").and_then(serde_json::Value::as_array);
        markings.into_iter().flatten().filter_map(serde_json::Value::as_str).all(|m| self.allows(knowledge, m))
    }
}

/// Whether `user` may read a stored file, by the platform's `loadFile` rules
/// (`database/file-storage.js`): `support/` files need `SETTINGS_SUPPORT`; `import/`,
/// `embedded/`, `export/` and `fromTemplate/` files need a `KNOWLEDGE` capability, and
/// `import/global/` ones `KNOWLEDGE_KNASKIMPORT`; the file's markings must all be the
/// user's (its index entry is invisible otherwise); a file attached to an entity needs
/// `KNOWLEDGE` and an entity the user can see. Capabilities match as the platform's
/// `isUserHasCapability` does: BYPASS, or a capability that contains the name.
pub fn can_read_file(user: &User, file: &StoredFile, knowledge: &Knowledge) -> bool {
    let path = file.id.as_str();
    let needs = |capability: &str| user.has_any_capability(&[capability]);
    let knowledge_path = ["import/", "embedded/", "export/", "fromTemplate/"].iter().any(|p| path.starts_with(p));
    if path.starts_with("support/") && !needs("SETTINGS_SUPPORT")
        || knowledge_path && !needs("KNOWLEDGE")
        || path.starts_with("import/global") && !needs("KNOWLEDGE_KNASKIMPORT")
    {
        return false;
    }
    let clearance = Clearance::of(user, knowledge);
    if !file.markings.iter().all(|m| clearance.allows(knowledge, m)) {
        return false;
    }
    match &file.entity_id {
        None => true,
        Some(entity) => needs("KNOWLEDGE") && knowledge.get(entity).is_some_and(|o| clearance.can_see(knowledge, o)),
    }
}

/// The standard id of a stored object known under `id`, else `id` itself.
fn canonical(knowledge: &Knowledge, id: &str) -> String {
    knowledge.get(id).map(|o| o.standard_id.clone()).unwrap_or_else(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::store::knowledge::Candidate;
    use crate::store::users::Users;

    fn marking(k: &mut Knowledge, id: &str, extra: &str) {
        k.upsert(
            Candidate {
                standard_id: id.into(),
                stix_ids: vec![extra.into()],
                stix_type: "marking-definition".into(),
                entity_type: "Marking-Definition".into(),
                body: format!(r#"{{"type":"marking-definition","id":"{id}"}}"#).into(),
            },
            Utc::now(),
        );
    }

    fn malware(k: &mut Knowledge, id: &str, markings: &[&str]) {
        k.upsert(
            Candidate {
                standard_id: id.into(),
                stix_ids: vec![],
                stix_type: "malware".into(),
                entity_type: "Malware".into(),
                body: serde_json::json!({"type": "malware", "id": id, "object_marking_refs": markings}).to_string().into(),
            },
            Utc::now(),
        );
    }

    #[test]
    fn a_limited_user_sees_only_objects_whose_every_marking_is_allowed() {
        let mut k = Knowledge::default();
        marking(&mut k, "marking-definition--green", "marking-definition--green-alias");
        marking(&mut k, "marking-definition--red", "marking-definition--red-alias");
        malware(&mut k, "malware--open", &[]);
        malware(&mut k, "malware--green", &["marking-definition--green-alias"]);
        malware(&mut k, "malware--both", &["marking-definition--green", "marking-definition--red"]);
        let mut users = Users::new("admin-token", Utc::now());
        let (user, _) = users.add_connector_user("limited", None, Utc::now());
        users.set_allowed_markings(&user.id, Some(vec!["marking-definition--green".into()]));
        let user = users.by_id(&user.id).unwrap().clone();
        let c = Clearance::of(&user, &k);
        let visible: Vec<&str> = k.all().filter(|o| c.can_see(&k, o)).map(|o| o.standard_id.as_str()).collect();
        assert!(visible.contains(&"malware--open") && visible.contains(&"malware--green"));
        assert!(!visible.contains(&"malware--both"));
        assert_eq!(
            c.missing(&k, ["marking-definition--red-alias", "marking-definition--green"]),
            vec!["marking-definition--red-alias"]
        );
        // The administrator and unlimited users see everything.
        let admin = Clearance::of(users.admin(), &k);
        assert!(k.all().all(|o| admin.can_see(&k, o)));
    }
}
