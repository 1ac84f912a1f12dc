//! Playbook steps run by playbook-compatible enrichment connectors: what the platform sent
//! each (its execution, step and bundle) and what each answered through
//! `playbookStepExecution` — the bundle the playbook goes on with.
//!
//! The mock runs no playbook of its own: a step is asked from the Rust or the control API
//! (`crate::jobs::playbook`), and its answer is kept for the test to read.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One playbook step sent to a connector.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{JobError, MockPlatform};
/// let platform = MockPlatform::start().await;
/// let err = platform.run_playbook_step("no-such-connector", "no-such-entity").expect_err("nothing to run");
/// assert_eq!(err, JobError::UnknownConnector("no-such-connector".into()));
/// assert!(platform.playbook_steps().is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookStep {
    /// The job that carried it.
    pub job_seq: u64,
    /// The connector.
    pub connector_id: String,
    /// `playbook.playbook_id`.
    pub playbook_id: String,
    /// `playbook.execution_id`.
    pub execution_id: String,
    /// `playbook.event_id`.
    pub event_id: String,
    /// `playbook.step_id`.
    pub step_id: String,
    /// `playbook.previous_step_id`.
    pub previous_step_id: String,
    /// `playbook.data_instance_id`: the standard id of the bundle's main object.
    pub data_instance_id: String,
    /// The bundle sent.
    pub bundle: serde_json::Value,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// What the connector answered (`playbookStepExecution`), in order.
    pub results: Vec<PlaybookResult>,
}

/// One `playbookStepExecution` call.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, PlaybookResult};
/// let platform = MockPlatform::start().await;
/// // every answer to every step sent (none yet)
/// let answers: Vec<PlaybookResult> = platform.playbook_steps().into_iter().flat_map(|s| s.results).collect();
/// assert!(answers.is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct PlaybookResult {
    /// When it came.
    pub at: DateTime<Utc>,
    /// The bundle the playbook goes on with (as sent: a JSON string).
    pub bundle: String,
    /// The bundle the step was given, as the connector echoes it.
    pub previous_bundle: String,
    /// The calling user.
    pub user_id: Option<String>,
}

/// Every playbook step sent.
#[derive(Debug, Default)]
pub struct Playbooks {
    steps: Vec<PlaybookStep>,
}

impl Playbooks {
    /// Records a step sent.
    pub fn add(&mut self, step: PlaybookStep) {
        self.steps.push(step);
    }

    /// Every step, in order.
    pub fn all(&self) -> &[PlaybookStep] {
        &self.steps
    }

    /// The step of an execution and step id, to record its result.
    pub fn get_mut(&mut self, execution_id: &str, step_id: &str) -> Option<&mut PlaybookStep> {
        self.steps.iter_mut().find(|s| s.execution_id == execution_id && s.step_id == step_id)
    }
}
