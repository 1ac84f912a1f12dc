//! A playbook's enrichment step: what the platform's playbook engine sends a
//! playbook-compatible enrichment connector (`PLAYBOOK_CONNECTOR_COMPONENT`), and the
//! connector's answer (`playbookStepExecution`).
//!
//! The platform offers only connectors registered with `playbook_compatible: true` as
//! playbook components; the message carries no work (pycti reports nothing on one), the
//! automation manager as applicant, the playbook's ids and the bundle the playbook holds
//! (here: the entity's STIX representation). pycti's `send_stix2_bundle` then answers with
//! `playbookStepExecution(…, bundle)` instead of pushing, and that bundle is recorded on the
//! step ([`crate::store::playbooks`]).

use serde_json::json;

use super::{Dispatcher, JobError, add_job, connector_of_type, message};
use crate::store::jobs::JobKind;
use crate::store::playbooks::{PlaybookResult, PlaybookStep};
use crate::store::transcript::EntryKind;

/// The platform's automation manager, the applicant of every playbook step
/// (`AUTOMATION_MANAGER_USER_UUID`).
pub const AUTOMATION_MANAGER_USER_ID: &str = "c49fe040-2dad-412d-af07-ce639204ad55";

/// Sends a playbook step to `connector_id` about `entity_id` (any id) with `trigger`
/// (`create` or `update`): the step, as recorded.
pub fn run_step(jobs: &Dispatcher, connector_id: &str, entity_id: &str, trigger: &str) -> Result<PlaybookStep, JobError> {
    let now = jobs.store().clock().now();
    let step = jobs.store().write(|s| -> Result<PlaybookStep, JobError> {
        let connector = connector_of_type(s, connector_id, JobKind::InternalEnrichment)?.clone();
        if connector.registration.playbook_compatible != Some(true) {
            return Err(JobError::Invalid(format!(
                "Connector {connector_id} is not playbook compatible (it registered playbook_compatible: false)"
            )));
        }
        let obj =
            s.knowledge.get(entity_id).filter(|o| !o.deleted).cloned().ok_or_else(|| JobError::UnknownEntity(entity_id.into()))?;
        let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": [obj.stix()]});
        let ids = message::PlaybookIds {
            event_id: format!("{}-0", now.timestamp_millis()),
            execution_id: uuid::Uuid::new_v4().to_string(),
            playbook_id: uuid::Uuid::new_v4().to_string(),
            data_instance_id: obj.standard_id.clone(),
            step_id: uuid::Uuid::new_v4().to_string(),
            previous_step_id: uuid::Uuid::new_v4().to_string(),
        };
        let text = message::playbook(&ids, AUTOMATION_MANAGER_USER_ID, trigger, &bundle);
        let what = format!(
            "(playbook step {} of execution {}) for connector {connector_id} ({})",
            ids.step_id, ids.execution_id, obj.standard_id
        );
        let seq = add_job(jobs, s, &connector, JobKind::InternalEnrichment, None, &obj.standard_id, text, &what);
        let step = PlaybookStep {
            job_seq: seq,
            connector_id: connector_id.to_string(),
            playbook_id: ids.playbook_id,
            execution_id: ids.execution_id,
            event_id: ids.event_id,
            step_id: ids.step_id,
            previous_step_id: ids.previous_step_id,
            data_instance_id: ids.data_instance_id,
            bundle,
            sent_at: now,
            results: Vec::new(),
        };
        s.playbooks.add(step.clone());
        Ok(step)
    })?;
    jobs.deliver(step.job_seq);
    Ok(step)
}

/// `playbookStepExecution`: records the bundle a connector answered for a step the
/// platform sent; `false` when no such step was sent.
pub fn record_result(
    store: &crate::store::Store,
    execution_id: &str,
    step_id: &str,
    bundle: String,
    previous_bundle: String,
    user_id: Option<String>,
) -> bool {
    let now = store.clock().now();
    store.write(|s| {
        let Some(step) = s.playbooks.get_mut(execution_id, step_id) else { return false };
        step.results.push(PlaybookResult { at: now, bundle, previous_bundle, user_id });
        s.transcript.push(
            now,
            EntryKind::Note { message: format!("playbook step {step_id} of execution {execution_id} answered") },
        );
        true
    })
}
