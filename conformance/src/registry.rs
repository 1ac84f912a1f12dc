//! The registry: every check, looked up by ID or prefix, and `CHECKS.md`.

use std::sync::LazyLock;

use crate::check::Check;

/// Checks are immutable data, built once per process.
static CHECKS: LazyLock<Vec<Check>> = LazyLock::new(crate::suites::all);

/// IDs no longer in use, with why; they are never given to another check.
pub const RETIRED: &[(&str, &str)] = &[];

/// Every check, in report order.
pub fn all() -> &'static [Check] {
    &CHECKS
}

/// The checks that apply to a connector type, restricted to IDs starting with one of
/// `prefixes` (all when empty).
pub fn select(connector_type: &str, prefixes: &[String]) -> Vec<&'static Check> {
    all()
        .iter()
        .filter(|c| c.applies(connector_type))
        .filter(|c| prefixes.is_empty() || prefixes.iter().any(|p| c.id.starts_with(p.as_str())))
        .collect()
}

/// A check by ID.
pub fn get(id: &str) -> Option<&'static Check> {
    all().iter().find(|c| c.id == id)
}

/// Whether an ID has the form `SUITE-NNN` (`REG-001`, `EXT-IMPORT-004`).
pub fn is_well_formed(id: &str) -> bool {
    let Some((prefix, number)) = id.rsplit_once('-') else { return false };
    let prefix_ok =
        !prefix.is_empty() && prefix.split('-').all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_uppercase()));
    prefix_ok && number.len() == 3 && number.bytes().all(|b| b.is_ascii_digit())
}

/// `conformance/CHECKS.md`, generated from the registry.
pub fn checks_markdown() -> String {
    let mut out = String::from(
        "# Conformance checks\n\n\
         Generated from the registry (`conformance/src/suites/`) by `opencti-mock conform --list --format markdown`; \
         `conformance/tests/registry.rs` fails when this file is out of date. IDs are never renumbered or reused.\n\n\
         Levels: a failed **MUST** fails the gate; a failed **SHOULD** fails it only with `--strict`. \
         *pycti* marks checks an unchanged pycti connector cannot fail (pycti does it for every connector).\n\n\
         | ID | Level | Applies to | Title | Requirement | Cites |\n|---|---|---|---|---|---|\n",
    );
    for c in all() {
        let applies = if c.applies_to.is_empty() { "all".to_string() } else { c.applies_to.join(", ") };
        let level = if c.enforced_by_pycti { format!("{} (*pycti*)", c.level.as_str()) } else { c.level.as_str().to_string() };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            c.id,
            level,
            applies,
            cell(c.title),
            cell(c.requirement),
            cell(c.cites)
        ));
    }
    out.push_str("\n## Retired IDs\n\n");
    if RETIRED.is_empty() {
        out.push_str("None.\n");
    }
    for (id, why) in RETIRED {
        out.push_str(&format!("- {id}: {why}\n"));
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").split_whitespace().collect::<Vec<_>>().join(" ")
}
