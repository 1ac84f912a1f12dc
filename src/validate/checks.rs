//! The checks no schema makes: identifiers, real calendar timestamps and their order,
//! STIX patterns, and where an object's references are.
//!
//! Each runs in the single pass [`super::StixValidator`] makes over an object's members,
//! so an absent property costs nothing.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::doc::Doc;

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

/// Whether `pattern` is certainly a valid STIX pattern, decided without the full parser:
/// `true` only for the shapes most feeds send — observations joined by `AND`, `OR` or
/// `FOLLOWEDBY` without qualifiers, each of comparisons joined by `AND` / `OR`, each
/// comparison `type:path = 'string'` (or `!=`) with plain spaces and lower-case
/// identifiers, or `type:hashes.ALG = 'digest'` where ALG is MD5, SHA-1, SHA-256 or SHA-512
/// (bare or quoted) and the digest is hex of that algorithm's length. Everything else,
/// valid or not, answers `false` and goes to [`crate::stix::pattern::check_pattern`].
///
/// Every pattern this accepts is accepted by `check_pattern` (the grammar in
/// `src/stix/pattern.pest`: such a pattern has no qualifier, timestamp, number or list
/// index, and its only hash comparisons carry well-formed digests — the only things the
/// strict checks look at); `tests/validation.rs` checks the implication on every pattern of
/// the fixtures and the OASIS examples and on near misses. The full parser costs 6 to 9 µs
/// a pattern, more than all other checks of an indicator together; this costs a scan.
pub fn is_plain_pattern(pattern: &str) -> bool {
    let mut s = Scanner { b: pattern.as_bytes(), i: 0 };
    loop {
        if !s.observation() {
            return false;
        }
        if s.i == s.b.len() {
            return true;
        }
        if !(s.spaces() && (s.word(b"AND") || s.word(b"OR") || s.word(b"FOLLOWEDBY")) && s.spaces()) {
            return false;
        }
    }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    /// `[comparison ((AND|OR) comparison)*]`.
    fn observation(&mut self) -> bool {
        if !self.eat(b'[') {
            return false;
        }
        self.spaces();
        loop {
            if !self.comparison() {
                return false;
            }
            let had_space = self.spaces();
            if self.eat(b']') {
                return true;
            }
            if !(had_space && (self.word(b"AND") || self.word(b"OR")) && self.spaces()) {
                return false;
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        let hit = self.peek() == Some(c);
        self.i += usize::from(hit);
        hit
    }

    /// Plain spaces; whether there was at least one.
    fn spaces(&mut self) -> bool {
        let start = self.i;
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
        self.i > start
    }

    fn word(&mut self, w: &[u8]) -> bool {
        let hit = self.b[self.i..].starts_with(w);
        self.i += if hit { w.len() } else { 0 };
        hit
    }

    /// `[a-z_][a-z0-9_]*` (plus `-` inside an object type), not `true`/`false`, not `hashes`.
    fn identifier(&mut self, hyphens: bool) -> bool {
        let start = self.i;
        if !matches!(self.peek(), Some(b'a'..=b'z' | b'_')) {
            return false;
        }
        while matches!(self.peek(), Some(b'a'..=b'z' | b'0'..=b'9' | b'_')) || (hyphens && self.peek() == Some(b'-')) {
            self.i += 1;
        }
        !matches!(&self.b[start..self.i], b"true" | b"false" | b"hashes")
    }

    /// `type:prop(.prop)* (=|!=) 'string'`, or `type:hashes.ALG (=|!=) 'digest'`.
    fn comparison(&mut self) -> bool {
        if !(self.identifier(true) && self.eat(b':')) {
            return false;
        }
        let digest_len = if self.word(b"hashes.") {
            match self.hash_algorithm() {
                Some(len) => Some(len),
                None => return false,
            }
        } else {
            if !self.identifier(false) {
                return false;
            }
            while self.eat(b'.') {
                if !self.identifier(false) {
                    return false;
                }
            }
            None
        };
        // An identifier never runs into `-` in a property path.
        if self.peek() == Some(b'-') {
            return false;
        }
        self.spaces();
        let _ = self.eat(b'!');
        if !self.eat(b'=') {
            return false;
        }
        self.spaces();
        match digest_len {
            Some(len) => self.hex_string(len),
            None => self.string(),
        }
    }

    /// `MD5`, `SHA1`, `'SHA-256'`… (any case) after `hashes.`: the digest length in hex
    /// digits, for the four algorithms whose digests the platform checks by length.
    fn hash_algorithm(&mut self) -> Option<usize> {
        let quoted = self.eat(b'\'');
        let start = self.i;
        while matches!(self.peek(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9')) || (quoted && self.peek() == Some(b'-')) {
            self.i += 1;
        }
        let name: Vec<u8> = self.b[start..self.i].iter().filter(|&&c| c != b'-').map(u8::to_ascii_uppercase).collect();
        if quoted && !self.eat(b'\'') {
            return None;
        }
        match name.as_slice() {
            b"MD5" => Some(32),
            b"SHA1" => Some(40),
            b"SHA256" => Some(64),
            b"SHA512" => Some(128),
            _ => None,
        }
    }

    /// `'...'` holding exactly `len` hex digits.
    fn hex_string(&mut self, len: usize) -> bool {
        let digits = self.b.get(self.i + 1..self.i + 1 + len);
        let ok = self.peek() == Some(b'\'')
            && digits.is_some_and(|d| d.iter().all(u8::is_ascii_hexdigit))
            && self.b.get(self.i + 1 + len) == Some(&b'\'');
        if ok {
            self.i += len + 2;
        }
        ok
    }

    /// `'...'` where only `\'` and `\\` are escapes.
    fn string(&mut self) -> bool {
        if !self.eat(b'\'') {
            return false;
        }
        loop {
            match self.peek() {
                None => return false,
                Some(b'\'') => {
                    self.i += 1;
                    return true;
                }
                Some(b'\\') => {
                    if !matches!(self.b.get(self.i + 1), Some(b'\'' | b'\\')) {
                        return false;
                    }
                    self.i += 2;
                }
                Some(_) => self.i += 1,
            }
        }
    }
}

/// Where a reference sits in its object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RefAt<'d> {
    /// A `*_ref` property.
    Key(&'d str),
    /// An element of a `*_refs` property.
    Item(&'d str, usize),
    /// The `marking_ref` of a granular marking.
    Granular(usize),
}

impl RefAt<'_> {
    /// The JSON pointer, relative to the object.
    pub(crate) fn pointer(&self) -> String {
        match self {
            RefAt::Key(k) => format!("/{k}"),
            RefAt::Item(k, i) => format!("/{k}/{i}"),
            RefAt::Granular(i) => format!("/granular_markings/{i}/marking_ref"),
        }
    }
}

/// Every reference an object holds: top-level `*_ref` / `*_refs` properties and the
/// `marking_ref` of granular markings.
pub(crate) fn for_each_reference<'d, 'a>(members: &'d [(Cow<'a, str>, Doc<'a>)], mut f: impl FnMut(RefAt<'d>, &'d Cow<'a, str>)) {
    for (key, value) in members {
        if key.ends_with("_refs") {
            for (i, r) in value.as_array().into_iter().flatten().enumerate() {
                if let Doc::String(r) = r {
                    f(RefAt::Item(key, i), r);
                }
            }
        } else if key.ends_with("_ref") {
            if let Doc::String(r) = value {
                f(RefAt::Key(key), r);
            }
        } else if key == "granular_markings" {
            for (i, gm) in value.as_array().into_iter().flatten().enumerate() {
                if let Some(Doc::String(r)) = gm.get("marking_ref") {
                    f(RefAt::Granular(i), r);
                }
            }
        }
    }
}
