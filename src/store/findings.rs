//! STIX 2.1 findings on what the platform received: the advisory channel.
//!
//! The platform itself never validates STIX against the specification — it refuses what
//! it cannot store (work errors, see `crate::ingest::rules`) and keeps everything else. The
//! mock also checks every received object against the STIX 2.1 schemas and rules
//! (`crate::validate`) and records what it finds here, per object, with the work and
//! connector it came from. Findings never change a work's status or what is stored; they
//! are for connector authors (`GET /_mock/findings`, [`crate::MockPlatform::findings`]) and
//! the conformance suites.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// At most this many findings are kept per platform; later ones are counted, not kept.
pub const MAX_KEPT: usize = 10_000;

/// One finding on one received object.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// // STIX 2.1 findings on what connectors sent (advisory: they never change a work)
/// for f in platform.findings() {
///     println!("{} {}: {} [{}]", f.object_id, f.path, f.message, f.rule);
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedFinding {
    /// When the object was checked.
    pub at: DateTime<Utc>,
    /// Connector whose queue it came from.
    pub connector_id: Option<String>,
    /// Work it belongs to.
    pub work_id: Option<String>,
    /// The object's id as received.
    pub object_id: String,
    /// JSON pointer of the offending property inside the object (`/created`).
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The rule (schema keyword or check name).
    pub rule: String,
}

/// The findings of one platform.
#[derive(Debug, Default)]
pub struct Findings {
    kept: Vec<RecordedFinding>,
    dropped: u64,
}

impl Findings {
    /// Records findings (those past [`MAX_KEPT`] are only counted).
    pub fn record(&mut self, findings: impl IntoIterator<Item = RecordedFinding>) {
        for f in findings {
            if self.kept.len() < MAX_KEPT {
                self.kept.push(f);
            } else {
                self.dropped += 1;
            }
        }
    }

    /// The kept findings, oldest first.
    pub fn all(&self) -> &[RecordedFinding] {
        &self.kept
    }

    /// How many findings were not kept.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Forgets everything (control API reset).
    pub fn clear(&mut self) {
        *self = Findings::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(i: usize) -> RecordedFinding {
        RecordedFinding {
            at: Utc::now(),
            connector_id: None,
            work_id: None,
            object_id: format!("malware--{i}"),
            path: "$.created".into(),
            message: "missing".into(),
            rule: "required".into(),
        }
    }

    #[test]
    fn findings_past_the_cap_are_counted_not_kept() {
        let mut f = Findings::default();
        f.record((0..MAX_KEPT + 5).map(finding));
        assert_eq!(f.all().len(), MAX_KEPT);
        assert_eq!(f.dropped(), 5);
        f.clear();
        assert!(f.all().is_empty() && f.dropped() == 0);
    }
}
