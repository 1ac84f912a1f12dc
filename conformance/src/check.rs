//! The check model: what a check is, and what running it can say.

use serde::Serialize;

use crate::evidence::Evidence;

/// How strongly a requirement binds a connector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Level {
    /// Breaking it breaks the connector in the field: a failure fails the gate.
    Must,
    /// Good practice: a failure fails the gate only in strict mode.
    Should,
}

impl Level {
    /// `MUST` or `SHOULD`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
        }
    }
}

/// A connector type, as registered (`EXTERNAL_IMPORT`, `INTERNAL_ENRICHMENT`…).
pub type ConnectorType = &'static str;

/// Every connector type.
pub const ALL_TYPES: &[ConnectorType] =
    &["EXTERNAL_IMPORT", "INTERNAL_ENRICHMENT", "INTERNAL_IMPORT_FILE", "INTERNAL_EXPORT_FILE", "STREAM"];

/// One conformance check.
#[derive(Clone)]
pub struct Check {
    /// Stable identifier (`SUITE-NNN`), never renumbered or reused.
    pub id: &'static str,
    /// The stimulus, in a few words.
    pub title: &'static str,
    /// MUST or SHOULD.
    pub level: Level,
    /// What the connector has to do, in MUST / SHOULD language.
    pub requirement: &'static str,
    /// Where the requirement comes from: a pycti function at 7.261026.0, a platform
    /// behaviour, or the deployment documentation.
    pub cites: &'static str,
    /// Connector types it applies to (empty: every type).
    pub applies_to: &'static [ConnectorType],
    /// pycti itself does this for every connector built on it: an unchanged pycti
    /// connector cannot fail the check (its negative controls come from the Rust reference
    /// connectors).
    pub enforced_by_pycti: bool,
    /// Reads the evidence and says whether the connector met the requirement.
    pub verify: fn(&Evidence) -> Outcome,
}

impl std::fmt::Debug for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Check").field("id", &self.id).field("level", &self.level).finish_non_exhaustive()
    }
}

impl Check {
    /// Whether the check applies to a connector type.
    pub fn applies(&self, connector_type: &str) -> bool {
        self.applies_to.is_empty() || self.applies_to.contains(&connector_type)
    }
}

/// What a verifier found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// The requirement is met.
    Pass,
    /// The requirement is broken.
    Fail {
        /// What the requirement needs to see.
        expected: String,
        /// What was seen instead.
        actual: String,
    },
    /// The requirement does not concern this connector: what it asks about never happened
    /// and did not have to (no job of that kind fits the connector's scope, the connector
    /// enriches through the API instead of bundles, it imports into a workbench…). Never a
    /// failure; the reason says why.
    NotApplicable {
        /// Why the check cannot apply.
        reason: String,
    },
    /// The gate could not drive the connector to the point the check judges (the true
    /// reason says where it stopped): the check is undecided, and so is the gate.
    Blocked {
        /// The precondition that failed.
        reason: String,
    },
}

impl Outcome {
    /// A failure.
    pub fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Outcome {
        Outcome::Fail { expected: expected.into(), actual: actual.into() }
    }

    /// A blocked check.
    pub fn blocked(reason: impl Into<String>) -> Outcome {
        Outcome::Blocked { reason: reason.into() }
    }

    /// A check that does not apply.
    pub fn not_applicable(reason: impl Into<String>) -> Outcome {
        Outcome::NotApplicable { reason: reason.into() }
    }

    /// `PASS`, `FAIL`, `NOT APPLICABLE` or `BLOCKED`.
    pub fn verdict(&self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail { .. } => "FAIL",
            Outcome::NotApplicable { .. } => "NOT APPLICABLE",
            Outcome::Blocked { .. } => "BLOCKED",
        }
    }
}

/// A check and its outcome.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// The check.
    pub check: &'static Check,
    /// Its outcome.
    pub outcome: Outcome,
}
