//! The checks no schema makes: identifiers, real calendar timestamps and their order,
//! STIX patterns, and where an object's references are.
//!
//! Each runs in the single pass [`super::StixValidator`] makes over an object's members,
//! so an absent property costs nothing.


use chrono::{DateTime, Utc};


/// RFC 4122 UUIDs have the variant bits `10`.
fn is_rfc4122(u: &uuid::Uuid) -> bool {
    u.get_variant() == uuid::Variant::RFC4122 && (1..=8).contains(&u.get_version_num())
}

/// What is wrong with `id` for an object of type `stix_type`, if anything.
pub(crate) fn identifier_problem(id: &str, stix_type: &str) -> Option<String> {
    match id.split_once("--") {
        Some((prefix, _)) if prefix != stix_type => {
            Some(format!("identifier '{id}' does not start with the object's type '{stix_type}--'"))
        }
        Some((_, uuid)) => match uuid::Uuid::try_parse(uuid) {
            Ok(u) if is_rfc4122(&u) => None,
            Ok(_) => Some(format!("identifier '{id}' does not end with an RFC 4122 UUID")),
            Err(_) => Some(format!("identifier '{id}' does not end with a UUID")),
        },
        None => Some(format!("identifier '{id}' is not of the form <type>--<UUID>")),
    }
}

/// Parses an RFC 3339 UTC timestamp as STIX requires (`Z` suffix).
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if !s.ends_with('Z') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc))
}

/// Top-level properties that hold a timestamp: `Some(slot)` for those taking part in an
/// order the specification requires (the slot indexes [`ORDERS`]' operands), `Some(None)`
/// for the others, `None` for any other property. `start` and `end` are timestamps of
/// network traffic only.
pub(crate) fn timestamp_slot(stix_type: &str, key: &str) -> Option<Option<usize>> {
    Some(match key {
        "created" => Some(0),
        "modified" => Some(1),
        "valid_from" => Some(2),
        "valid_until" => Some(3),
        "first_seen" => Some(4),
        "last_seen" => Some(5),
        "start_time" => Some(6),
        "stop_time" => Some(7),
        "first_observed" => Some(8),
        "last_observed" => Some(9),
        "start" if stix_type == "network-traffic" => Some(10),
        "end" if stix_type == "network-traffic" => Some(11),
        "published"
        | "ctime"
        | "mtime"
        | "atime"
        | "date"
        | "submitted"
        | "analysis_started"
        | "analysis_ended"
        | "validity_not_before"
        | "validity_not_after"
        | "account_created"
        | "account_expires"
        | "credential_last_changed"
        | "account_first_login"
        | "account_last_login"
        | "created_time"
        | "modified_time"
        | "object_modified" => None,
        _ => return None,
    })
}

/// Number of slots [`timestamp_slot`] hands out.
pub(crate) const SLOTS: usize = 12;

/// The orders between timestamps: (earlier, later, strictly later?), by property name and
/// slot.
pub(crate) const ORDERS: &[(&str, usize, &str, usize, bool)] = &[
    ("created", 0, "modified", 1, false),
    ("valid_from", 2, "valid_until", 3, true),
    ("first_seen", 4, "last_seen", 5, false),
    ("start_time", 6, "stop_time", 7, true),
    ("first_observed", 8, "last_observed", 9, false),
    ("start", 10, "end", 11, false),
];

