//! Which relationship types the platform allows between two entity types.
//!
//! The table is data (`relationships.json`, derived from the platform's `stix.ts` mapping
//! and its modules; `relationships.md` says how): `related-to` and `revoked-by` are allowed
//! between any two types; every other core relationship type only between the pairs the
//! table lists (abstract types already expanded); a type that is not a core relationship
//! type at all is refused with another message. Sightings are not type-checked.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use serde::Deserialize;

#[derive(Deserialize)]
struct Rule {
    from: String,
    to: String,
    types: Vec<String>,
}

#[derive(Deserialize)]
struct Table {
    rules: Vec<Rule>,
    relationship_types: Vec<String>,
}

/// The loaded table.
pub struct Relationships {
    allowed: HashMap<(String, String), HashSet<String>>,
    core_types: HashSet<String>,
}

impl std::fmt::Debug for Relationships {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relationships").field("pairs", &self.allowed.len()).finish()
    }
}

/// Relationship types allowed between any two entity types.
pub const ANY_TO_ANY: &[&str] = &["related-to", "revoked-by"];

static TABLE: LazyLock<Relationships> = LazyLock::new(|| {
    let table: Table = serde_json::from_str(include_str!("relationships.json")).expect("relationships.json is valid (tested)");
    let mut allowed: HashMap<(String, String), HashSet<String>> = HashMap::new();
    for rule in table.rules {
        allowed.entry((rule.from, rule.to)).or_default().extend(rule.types);
    }
    Relationships { allowed, core_types: table.relationship_types.into_iter().collect() }
});

/// Why a relationship is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// Not a core relationship type at all.
    NotCoreType,
    /// Not allowed between these two entity types.
    NotAllowed,
}

impl Relationships {
    /// The table (immutable data, loaded once per process).
    pub fn get() -> &'static Relationships {
        &TABLE
    }

    /// Checks a relationship between two OpenCTI entity types.
    pub fn check(&self, relationship_type: &str, from_type: &str, to_type: &str) -> Result<(), Refused> {
        if ANY_TO_ANY.contains(&relationship_type) {
            return Ok(());
        }
        if !self.core_types.contains(relationship_type) {
            return Err(Refused::NotCoreType);
        }
        let ok = self
            .allowed
            .get(&(from_type.to_string(), to_type.to_string()))
            .is_some_and(|types| types.contains(relationship_type));
        if ok { Ok(()) } else { Err(Refused::NotAllowed) }
    }

    /// Every pair of entity types with the relationship types allowed between them (besides
    /// the any-to-any ones), sorted: the platform's `schemaRelationsTypesMapping`.
    pub fn mapping(&self) -> Vec<(&str, &str, Vec<&str>)> {
        let mut out: Vec<(&str, &str, Vec<&str>)> = self
            .allowed
            .iter()
            .map(|((from, to), types)| {
                let mut types: Vec<&str> = types.iter().map(String::as_str).collect();
                types.sort_unstable();
                (from.as_str(), to.as_str(), types)
            })
            .collect();
        out.sort_unstable();
        out
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_like_the_platform() {
        let t = Relationships::get();
        assert_eq!(t.check("indicates", "Indicator", "Malware"), Ok(()));
        assert_eq!(t.check("based-on", "Indicator", "IPv4-Addr"), Ok(()));
        assert_eq!(t.check("uses", "Intrusion-Set", "Malware"), Ok(()));
        assert_eq!(t.check("related-to", "IPv4-Addr", "Report"), Ok(()));
        assert_eq!(t.check("indicates", "IPv4-Addr", "Malware"), Err(Refused::NotAllowed));
        assert_eq!(t.check("friends-with", "Malware", "Malware"), Err(Refused::NotCoreType));
    }
}
