//! Works: what the platform shows of each run and each job (`workAdd`, `workEdit`).
//!
//! An import opens a work per run and closes it; a job comes with its work, which the
//! connector reports received, then processed (in error when it failed). A work closed by
//! nobody stays "in progress" on the platform forever.

use serde_json::json;

use crate::connector::Connector;
use crate::error::{Error, Result};

impl Connector {
    /// Opens a work (`workAdd`); returns its id.
    pub async fn initiate_work(&self, friendly_name: &str) -> Result<String> {
        let data = self
            .api()
            .query(
                "mutation workAdd($connectorId: String!, $friendlyName: String, $isMultiPartWork: Boolean) {
                  workAdd(connectorId: $connectorId, friendlyName: $friendlyName, isMultiPartWork: $isMultiPartWork) { id }
                }",
                json!({ "connectorId": self.id(), "friendlyName": friendly_name, "isMultiPartWork": false }),
            )
            .await?;
        data["workAdd"]["id"].as_str().map(str::to_string).ok_or_else(|| Error::Other("workAdd answered no id".into()))
    }

    /// Reports a work received: the job is in progress.
    pub async fn to_received(&self, work_id: &str, message: &str) -> Result<()> {
        self.api()
            .query(
                "mutation workToReceived($id: ID!, $message: String) { workEdit(id: $id) { toReceived(message: $message) } }",
                json!({ "id": work_id, "message": message }),
            )
            .await
            .map(drop)
    }

    /// Closes a work, in error or not.
    pub async fn to_processed(&self, work_id: &str, message: &str, in_error: bool) -> Result<()> {
        self.api()
            .query(
                "mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) {
                  workEdit(id: $id) { toProcessed(message: $message, inError: $inError) }
                }",
                json!({ "id": work_id, "message": message, "inError": in_error }),
            )
            .await
            .map(drop)
    }

    /// Tells the platform `n` more bundles are coming for a work (before publishing them to
    /// the broker: the worker reports one expectation per bundle it ingests).
    pub async fn add_expectations(&self, work_id: &str, n: u64) -> Result<()> {
        self.api()
            .query(
                "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }",
                json!({ "id": work_id, "expectations": n }),
            )
            .await
            .map(drop)
    }
}
