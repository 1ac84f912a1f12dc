//! The registry's own rules: IDs unique, well formed and never reused; every check says
//! what it requires and where that comes from; `CHECKS.md` is what the registry generates.

use opencti_conformance::registry::{self, RETIRED};

#[test]
fn ids_are_unique_well_formed_and_not_retired() {
    let mut seen = std::collections::HashSet::new();
    for c in registry::all() {
        assert!(registry::is_well_formed(c.id), "{} is not SUITE-NNN", c.id);
        assert!(seen.insert(c.id), "{} is used twice", c.id);
        assert!(!RETIRED.iter().any(|(id, _)| *id == c.id), "{} is retired and may not be reused", c.id);
    }
    assert!(!registry::is_well_formed("REG-1") && !registry::is_well_formed("reg-001") && !registry::is_well_formed("REG-0011"));
}

#[test]
fn every_check_has_a_title_a_requirement_in_must_or_should_words_and_a_citation() {
    for c in registry::all() {
        assert!(!c.title.trim().is_empty(), "{}", c.id);
        assert!(c.requirement.contains(c.level.as_str()), "{}: the requirement says {}", c.id, c.level.as_str());
        assert!(!c.cites.trim().is_empty(), "{}", c.id);
    }
}

#[test]
fn checks_md_is_generated_from_the_registry() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/CHECKS.md");
    let generated = registry::checks_markdown();
    if std::env::var_os("CONFORMANCE_BLESS").is_some() {
        std::fs::write(path, &generated).expect("CHECKS.md writable");
    }
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        committed == generated,
        "conformance/CHECKS.md is out of date: regenerate it with `CONFORMANCE_BLESS=1 cargo nextest run -p opencti-conformance` \
         (or `opencti-mock conform --list --format markdown > conformance/CHECKS.md`)"
    );
}
