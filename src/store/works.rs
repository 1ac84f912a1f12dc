//! Works: the platform's record of one connector run or job, and its completion rules.
//!
//! The rules are the platform's (`domain/work.js`), with the profile deciding the
//! details that changed between 6.9 and 7.x:
//! - `workAdd` creates a work with `received_time = now`, so it starts in `progress`;
//!   platform-created job works start in `wait`.
//! - `addExpectations(n)` adds to the expected count; `reportExpectation` adds one to the
//!   processed count (and records an error if given).
//! - A work is *finished* when processed ≥ expected (7.x) or processed = expected (6.9).
//!   `reportExpectation` completes a finished work, except a 7.x multipart work that has
//!   not yet been closed with `toProcessed`; `toProcessed` completes a finished work and
//!   otherwise only records the processed time (and, for multipart works, that it was
//!   closed).
//! - Edits of a work that no longer exists are ignored and answer the work id, as on the
//!   platform. A work is *alive* while its Redis key exists: until deleted (both
//!   profiles) or, in 6.9, until `toProcessed` completes it.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::profile::Profile;
use crate::store::clock::iso;

/// `State` enum of the platform.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, WorkStatus};
/// let platform = MockPlatform::start().await;
/// assert!(platform.works().iter().all(|w| w.status != WorkStatus::Timeout));
/// # }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkStatus {
    /// Created, not yet received by the connector.
    Wait,
    /// Received / running.
    Progress,
    /// Completed.
    Complete,
    /// Timed out (export works only).
    Timeout,
}

impl WorkStatus {
    /// The enum value as GraphQL returns it.
    ///
    /// ```
    /// use opencti_mock::WorkStatus;
    /// // what `work(id:) { status }` answers for a running work
    /// assert_eq!(WorkStatus::Progress.as_str(), "progress");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            WorkStatus::Wait => "wait",
            WorkStatus::Progress => "progress",
            WorkStatus::Complete => "complete",
            WorkStatus::Timeout => "timeout",
        }
    }
}

/// A message or error recorded on a work.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// for work in platform.works() {
///     for e in &work.errors {
///         println!("{}: {} ({:?})", work.id, e.message, e.source);
///     }
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct WorkMessage {
    /// When it was recorded.
    pub timestamp: DateTime<Utc>,
    /// The text.
    pub message: String,
    /// Where it came from (errors reported by the worker carry the object).
    pub source: Option<String>,
}

/// A work.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// // after the connector opened a work:
/// if let Some(work) = platform.works().pop() {
///     let work = platform.wait_for_work_complete(&work.id, Duration::from_secs(30)).await.unwrap();
///     assert_eq!(work.import_processed_number, work.import_expected_number);
/// }
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Work {
    /// `work_<connector id>_<ISO timestamp>`.
    pub id: String,
    /// Friendly name.
    pub name: Option<String>,
    /// Connector responsible.
    pub connector_id: String,
    /// User who asked for it.
    pub user_id: String,
    /// Creation time.
    pub timestamp: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Status.
    pub status: WorkStatus,
    /// Connector type at creation.
    pub event_type: String,
    /// Source (connector id, entity id or file id).
    pub event_source_id: Option<String>,
    /// Received time.
    pub received_time: Option<DateTime<Utc>>,
    /// Processed time.
    pub processed_time: Option<DateTime<Utc>>,
    /// Completion time.
    pub completed_time: Option<DateTime<Utc>>,
    /// Completed count.
    pub completed_number: i64,
    /// Expected count.
    pub import_expected_number: i64,
    /// Processed count.
    pub import_processed_number: i64,
    /// Last processed object.
    pub import_last_processed: Option<DateTime<Utc>>,
    /// 7.x multipart work.
    pub is_multipart: bool,
    /// A multipart work received its `toProcessed` before it was finished.
    pub marked_processed: bool,
    /// Redis key present.
    pub alive: bool,
    /// Messages.
    pub messages: Vec<WorkMessage>,
    /// Errors (capped at 100 for worker reports, as on the platform).
    pub errors: Vec<WorkMessage>,
    /// Linked draft.
    pub draft_context: Option<String>,
}

impl Work {
    /// Whether the work is complete.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use serde_json::json;
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let graphql = |query: &str, variables: serde_json::Value| reqwest::Client::new().post(format!("{}/graphql", platform.url()))
    ///     .bearer_auth(platform.token()).json(&json!({"query": query, "variables": variables})).send();
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// graphql("mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///     json!({"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}})).await.unwrap();
    /// graphql("mutation WorkAdd($connectorId: String!) { workAdd(connectorId: $connectorId) { id } }", json!({"connectorId": id})).await.unwrap();
    /// let work = platform.works().remove(0);
    /// assert!(!work.is_complete());
    /// // the connector closes it, nothing being expected
    /// graphql("mutation WorkToProcessed($id: ID!) { workEdit(id: $id) { toProcessed } }", json!({"id": work.id})).await.unwrap();
    /// assert!(platform.work(&work.id).is_some_and(|w| w.is_complete()));
    /// # }
    /// ```
    pub fn is_complete(&self) -> bool {
        self.status == WorkStatus::Complete
    }
}

/// Parameters of a new work.
#[derive(Debug, Clone)]
pub struct NewWork {
    /// Connector.
    pub connector_id: String,
    /// Connector type.
    pub connector_type: String,
    /// Friendly name.
    pub name: Option<String>,
    /// Requesting user.
    pub user_id: String,
    /// Source id.
    pub source_id: Option<String>,
    /// Starts in `progress` (connector-created works) rather than `wait` (jobs).
    pub received: bool,
    /// 7.x multipart work.
    pub multipart: bool,
}

/// Every work of a platform.
#[derive(Debug, Default)]
pub struct Works {
    items: HashMap<String, Work>,
    order: Vec<String>,
}

const MAX_REPORTED_ERRORS: usize = 100;

impl Works {
    /// A work by id.
    pub fn get(&self, id: &str) -> Option<&Work> {
        self.items.get(id)
    }

    /// Works in creation order.
    pub fn all(&self) -> impl Iterator<Item = &Work> {
        self.order.iter().filter_map(|id| self.items.get(id))
    }

    /// Works of one connector, in creation order.
    pub fn of_connector<'a>(&'a self, connector_id: &'a str) -> impl Iterator<Item = &'a Work> + 'a {
        self.all().filter(move |w| w.connector_id == connector_id)
    }

    /// Whether the work's Redis key exists.
    pub fn is_alive(&self, id: &str) -> bool {
        self.items.get(id).is_some_and(|w| w.alive)
    }

    /// Creates a work. Ids have the platform's shape; a clash within the same millisecond
    /// moves the timestamp forward so ids stay unique.
    pub fn create(&mut self, new: NewWork, now: DateTime<Utc>) -> &Work {
        let mut ts = now;
        let mut id = format!("work_{}_{}", new.connector_id, iso(ts));
        while self.items.contains_key(&id) {
            ts += chrono::TimeDelta::milliseconds(1);
            id = format!("work_{}_{}", new.connector_id, iso(ts));
        }
        let work = Work {
            id: id.clone(),
            name: new.name,
            connector_id: new.connector_id,
            user_id: new.user_id,
            timestamp: ts,
            updated_at: now,
            status: if new.received { WorkStatus::Progress } else { WorkStatus::Wait },
            event_type: new.connector_type,
            event_source_id: new.source_id,
            received_time: new.received.then_some(now),
            processed_time: None,
            completed_time: None,
            completed_number: 0,
            import_expected_number: 0,
            import_processed_number: 0,
            import_last_processed: None,
            is_multipart: new.multipart,
            marked_processed: false,
            alive: true,
            messages: Vec::new(),
            errors: Vec::new(),
            draft_context: None,
        };
        self.items.insert(id.clone(), work);
        self.order.push(id.clone());
        &self.items[&id]
    }

    /// `toReceived`.
    pub fn mark_received(&mut self, id: &str, message: Option<&str>, now: DateTime<Utc>) {
        let Some(w) = self.items.get_mut(id) else { return };
        w.status = WorkStatus::Progress;
        w.received_time = Some(now);
        w.updated_at = now;
        push_message(&mut w.messages, message, None, now);
    }

    /// `addExpectations`.
    pub fn add_expectations(&mut self, id: &str, n: i64, now: DateTime<Utc>) {
        let Some(w) = self.items.get_mut(id) else { return };
        if !w.alive {
            return;
        }
        w.import_expected_number += n;
        w.updated_at = now;
    }

    /// `reportExpectation` (one processed object, possibly in error).
    pub fn report_expectation(
        &mut self,
        profile: Profile,
        id: &str,
        error: Option<(String, Option<String>)>,
        now: DateTime<Utc>,
    ) {
        let Some(w) = self.items.get_mut(id) else { return };
        if !w.alive {
            return;
        }
        w.import_processed_number += 1;
        w.import_last_processed = Some(now);
        let multipart_pending = profile.supports_multipart_works() && w.is_multipart && !w.marked_processed;
        let finished = profile.is_finished(w.import_expected_number, w.import_processed_number);
        if finished && !multipart_pending {
            w.status = WorkStatus::Complete;
            w.completed_number = w.import_processed_number;
            w.completed_time = Some(now);
        }
        if let Some((message, source)) = error
            && w.errors.len() < MAX_REPORTED_ERRORS
        {
            w.errors.push(WorkMessage { timestamp: now, message, source });
        }
        w.updated_at = now;
    }

    /// Adds a message to a work without counting an expectation or making it an error:
    /// what the platform's splitter drops is neither counted nor reported by the platform
    /// (its worker drops it silently), but the mock says so where the user looks, without
    /// changing what a connector or a gate reading `errors` sees.
    pub fn add_message(&mut self, id: &str, message: String, source: Option<String>, now: DateTime<Utc>) {
        let Some(w) = self.items.get_mut(id) else { return };
        if w.messages.len() < MAX_REPORTED_ERRORS {
            w.messages.push(WorkMessage { timestamp: now, message, source });
        }
        w.updated_at = now;
    }

    /// `toProcessed`.
    pub fn mark_processed(&mut self, profile: Profile, id: &str, message: Option<&str>, in_error: bool, now: DateTime<Utc>) {
        let Some(w) = self.items.get_mut(id) else { return };
        let finished = w.import_expected_number == 0 || profile.is_finished(w.import_expected_number, w.import_processed_number);
        if profile.supports_multipart_works() && w.is_multipart && !finished {
            w.marked_processed = true;
        }
        w.processed_time = Some(now);
        if finished {
            let total = if w.import_processed_number > 0 { w.import_processed_number } else { 1 };
            w.status = WorkStatus::Complete;
            w.import_expected_number = total;
            w.completed_number = total;
            w.completed_time = Some(now);
            if profile.completion_kills_work() {
                w.alive = false;
            }
        }
        let target = if in_error { &mut w.errors } else { &mut w.messages };
        push_message(target, message, None, now);
        w.updated_at = now;
    }

    /// `ping` (keeps a long job's work fresh).
    pub fn ping(&mut self, id: &str, now: DateTime<Utc>) {
        if let Some(w) = self.items.get_mut(id) {
            w.updated_at = now;
        }
    }

    /// `addDraftContext`.
    pub fn add_draft_context(&mut self, id: &str, draft: Option<&str>, now: DateTime<Utc>) {
        if let Some(w) = self.items.get_mut(id) {
            w.draft_context = draft.map(str::to_string);
            w.updated_at = now;
        }
    }

    /// Deletes a work (`workEdit.delete`).
    pub fn delete(&mut self, id: &str) -> bool {
        self.order.retain(|x| x != id);
        self.items.remove(id).is_some()
    }

    /// Deletes every work of a connector (`deleteConnector`, `workDelete`).
    pub fn delete_of_connector(&mut self, connector_id: &str) -> usize {
        let ids: Vec<String> = self.of_connector(connector_id).map(|w| w.id.clone()).collect();
        for id in &ids {
            self.delete(id);
        }
        ids.len()
    }
}

fn push_message(target: &mut Vec<WorkMessage>, message: Option<&str>, source: Option<String>, now: DateTime<Utc>) {
    if let Some(m) = message.filter(|m| !m.is_empty()) {
        target.push(WorkMessage { timestamp: now, message: m.to_string(), source });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_work(works: &mut Works, multipart: bool) -> String {
        let now = Utc::now();
        works
            .create(
                NewWork {
                    connector_id: "c".into(),
                    connector_type: "EXTERNAL_IMPORT".into(),
                    name: Some("run".into()),
                    user_id: "u".into(),
                    source_id: None,
                    received: true,
                    multipart,
                },
                now,
            )
            .id
            .clone()
    }

    #[test]
    fn to_processed_without_expectations_completes_the_work() {
        let mut works = Works::default();
        let id = new_work(&mut works, false);
        works.mark_processed(Profile::V7, &id, Some("done"), false, Utc::now());
        let w = works.get(&id).unwrap();
        assert!(w.is_complete());
        assert_eq!(w.completed_number, 1);
        assert_eq!(w.messages.len(), 1);
    }

    #[test]
    fn work_completes_on_the_last_reported_expectation_after_to_processed() {
        let mut works = Works::default();
        let id = new_work(&mut works, false);
        works.add_expectations(&id, 2, Utc::now());
        works.mark_processed(Profile::V7, &id, Some("done"), false, Utc::now());
        assert!(!works.get(&id).unwrap().is_complete());
        works.report_expectation(Profile::V7, &id, None, Utc::now());
        assert!(!works.get(&id).unwrap().is_complete());
        works.report_expectation(Profile::V7, &id, Some(("boom".into(), Some("x".into()))), Utc::now());
        let w = works.get(&id).unwrap();
        assert!(w.is_complete());
        assert_eq!(w.completed_number, 2);
        assert_eq!(w.errors.len(), 1);
    }

    #[test]
    fn multipart_work_waits_for_to_processed_even_when_all_expectations_are_reported() {
        let mut works = Works::default();
        let id = new_work(&mut works, true);
        works.add_expectations(&id, 1, Utc::now());
        works.report_expectation(Profile::V7, &id, None, Utc::now());
        assert!(!works.get(&id).unwrap().is_complete());
        works.mark_processed(Profile::V7, &id, None, false, Utc::now());
        assert!(works.get(&id).unwrap().is_complete());
    }

    #[test]
    fn multipart_work_closed_early_completes_on_the_last_expectation() {
        let mut works = Works::default();
        let id = new_work(&mut works, true);
        works.add_expectations(&id, 1, Utc::now());
        works.mark_processed(Profile::V7, &id, None, false, Utc::now());
        assert!(!works.get(&id).unwrap().is_complete());
        works.report_expectation(Profile::V7, &id, None, Utc::now());
        assert!(works.get(&id).unwrap().is_complete());
    }

    #[test]
    fn completion_by_to_processed_kills_the_work_only_in_the_6_9_profile() {
        let mut works = Works::default();
        let a = new_work(&mut works, false);
        works.mark_processed(Profile::V6_9, &a, None, false, Utc::now());
        assert!(!works.is_alive(&a));
        let b = new_work(&mut works, false);
        works.mark_processed(Profile::V7, &b, None, false, Utc::now());
        assert!(works.is_alive(&b));
    }

    #[test]
    fn edits_of_a_deleted_work_are_ignored() {
        let mut works = Works::default();
        let id = new_work(&mut works, false);
        assert!(works.delete(&id));
        works.add_expectations(&id, 3, Utc::now());
        works.mark_processed(Profile::V7, &id, None, false, Utc::now());
        assert!(works.get(&id).is_none());
        assert!(!works.is_alive(&id));
    }
}
