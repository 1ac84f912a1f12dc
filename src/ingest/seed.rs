//! Seeding: a whole STIX bundle put into the knowledge store before (or while) connectors
//! run — the data an enrichment or export test needs to exist, written as the platform's
//! administrator.
//!
//! A seed goes through the same path as a connector's push — split as the worker splits
//! (dependencies first), then each object checked, identified and stored by
//! [`object::prepare`] and [`object::commit`] — but synchronously and without a work: when
//! [`seed_bundle`] returns, everything accepted is readable. An object the platform would
//! refuse is reported in the [`SeedReport`], never stored. References that stay missing are
//! treated as the worker's last attempt treats them: a relationship's missing end refuses
//! the relationship, other missing references are dropped.
//!
//! The built-in markings every platform has from its first start ([`seed_built_ins`]) are
//! seeded here too, object by object through the same ingest path.

use serde::Serialize;

use crate::ingest::object::{self, Committed, IngestContext};
use crate::ingest::split::{Shape, split_bundle_with};
use crate::stix::refusals::OPTIONAL_REFS_ACCEPTED_FROM_RETRY;
use crate::store::Store;
use crate::store::users::ADMIN_USER_ID;

/// What a seed did.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
///   {"type": "malware", "spec_version": "2.1", "id": "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697882", "name": "Emotet", "is_family": true,
///    "created": "2026-01-01T00:00:00Z", "modified": "2026-01-01T00:00:00Z"}]}"#;
/// let report = platform.seed(bundle).expect("a bundle");
/// assert_eq!((report.objects, report.created, report.refused.len()), (1, 1, 0));
/// # }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SeedReport {
    /// Objects in the bundle.
    pub objects: usize,
    /// Objects created.
    pub created: usize,
    /// Objects merged into existing ones (upserts).
    pub updated: usize,
    /// Objects refused, with the work error the platform would give.
    pub refused: Vec<SeedRefusal>,
}

/// One object a seed could not store.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, SeedRefusal};
/// let platform = MockPlatform::start().await;
/// let report = platform.seed(r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697884", "value": "not an address"}]}"#)
///     .expect("a bundle");
/// // the invalid address is not stored: the refusal names it, with the error a work would record
/// let refusal: &SeedRefusal = &report.refused[0];
/// assert_eq!(refusal.id.as_deref(), Some("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697884"));
/// assert!(refusal.error.contains("INCORRECT_OBSERVABLE_FORMAT"), "{}", refusal.error);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeedRefusal {
    /// Its id in the bundle (when it has one).
    pub id: Option<String>,
    /// The error, as the worker would record it on a work.
    pub error: String,
}

/// Why a seed could not start.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let err = platform.seed("not json").expect_err("not a bundle");
/// println!("{err}");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    /// The text is not a STIX bundle.
    #[error("not a STIX bundle: {0}")]
    NotABundle(String),
}

/// Stores every object of `bundle` (JSON text) as the administrator.
pub fn seed_bundle(store: &Store, bundle: &str) -> Result<SeedReport, SeedError> {
    let split = split_bundle_with(bundle, None, false, Shape::Objects).map_err(|e| SeedError::NotABundle(e.to_string()))?;
    let ctx = IngestContext {
        applicant_id: Some(ADMIN_USER_ID.to_string()),
        draft_id: None,
        types: Default::default(),
        standard_id: None,
};
    let mut report = SeedReport { objects: split.bundles.len() + split.dropped.len(), ..SeedReport::default() };
    for dropped in &split.dropped {
        let e = object::incompatible(&dropped.id);
        report.refused.push(SeedRefusal { id: Some(dropped.id.clone()), error: e.message });
    }
    for raw in &split.bundles {
        let id = serde_json::from_str::<serde_json::Value>(raw)
            .ok()
            .and_then(|v| v.get("id").and_then(serde_json::Value::as_str).map(str::to_string));
        let result = object::prepare(raw, &ctx).and_then(|p| {
            let now = store.clock().now();
            store.write(|s| object::commit(s, p, now, OPTIONAL_REFS_ACCEPTED_FROM_RETRY))
        });
        match result {
            Ok(Committed::Stored(u)) if u.created => report.created += 1,
            Ok(Committed::Stored(_)) => report.updated += 1,
            Ok(Committed::StoredWithError(u, e)) => {
                if u.created {
                    report.created += 1;
                } else {
                    report.updated += 1;
                }
                report.refused.push(SeedRefusal { id, error: e.message });
            }
            Ok(Committed::Skipped | Committed::Retried) => {}
            Err(e) => report.refused.push(SeedRefusal { id, error: e.message }),
        }
    }
    Ok(report)
}

/// Creates what the platform has from its first start (the built-in TLP and PAP markings),
/// through the ingest path.
pub fn seed_built_ins(store: &Store) -> Result<(), object::ObjectError> {
    for marking in crate::stix::markings::built_in_objects() {
        object::ingest_object(store, &marking.to_string(), &object::IngestContext::default())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;
    use crate::store::Clock;

    #[test]
    fn a_seed_stores_in_dependency_order_and_reports_refusals() {
        let retention = crate::config::Settings::default().transcript_retention().expect("default retention parses");
        let store = Store::new(Profile::V7, "admin", Clock::system(), retention);
        let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--11111111-1111-4111-8111-111111111111",
             "relationship_type": "uses", "source_ref": "intrusion-set--11111111-1111-4111-8111-111111111111",
             "target_ref": "malware--11111111-1111-4111-8111-111111111111"},
            {"type": "intrusion-set", "spec_version": "2.1", "id": "intrusion-set--11111111-1111-4111-8111-111111111111", "name": "APT0"},
            {"type": "malware", "spec_version": "2.1", "id": "malware--11111111-1111-4111-8111-111111111111", "name": "Emotet",
             "created_by_ref": "identity--99999999-9999-4999-8999-999999999999"},
            {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--11111111-1111-4111-8111-111111111111", "value": "nope"}
        ]})
        .to_string();

        let report = seed_bundle(&store, &bundle).unwrap();

        assert_eq!((report.objects, report.created, report.updated), (4, 3, 0));
        assert_eq!(report.refused.len(), 1, "{report:?}");
        assert!(report.refused[0].error.contains("INCORRECT_OBSERVABLE_FORMAT"));
        let malware = store.read(|s| s.knowledge.get("malware--11111111-1111-4111-8111-111111111111").map(|o| o.json()));
        assert!(malware.unwrap().get("created_by_ref").is_none(), "a missing optional reference is dropped");
        assert!(seed_bundle(&store, "{}").is_err());
    }
}
