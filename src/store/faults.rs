//! Fault rules: make a named GraphQL operation fail, slow down, or lose its token.
//!
//! A rule matches a request whose operation name (`PingConnector`) or any root field
//! (`pingConnector`) equals [`FaultSpec::operation`]. It fires from the `from_call`-th
//! matching request on, at most `times` times (unlimited when absent). Firing is decided
//! here; the HTTP layer applies the action and the transcript records it.

use serde::{Deserialize, Serialize};

/// What a fault does to the request it fires on.
///
/// ```
/// use opencti_mock::FaultAction;
/// let database_down = FaultAction::Error { code: "DATABASE_ERROR".into(), message: "Elasticsearch is down".into() };
/// assert!(matches!(database_down, FaultAction::Error { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultAction {
    /// Answer with a GraphQL error of the platform's shape (HTTP 200) instead of executing.
    Error {
        /// `extensions.code` / `name`, e.g. `DATABASE_ERROR`, `FUNCTIONAL_ERROR`.
        code: String,
        /// Error message.
        message: String,
    },
    /// Execute normally after a delay.
    Delay {
        /// Delay in milliseconds.
        ms: u64,
    },
    /// Revoke a token before executing (the caller's when `token` is absent): the request
    /// and every later one with that token get `AUTH_REQUIRED`.
    RevokeToken {
        /// Token to revoke.
        #[serde(default)]
        token: Option<String>,
    },
    /// Answer with a bare HTTP status and body, as a proxy in front of the platform would
    /// (e.g. 502 Bad Gateway, 413 from nginx).
    HttpStatus {
        /// Status code.
        status: u16,
        /// Body text.
        #[serde(default)]
        body: String,
    },
}

/// A fault rule as configured.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{FaultAction, FaultSpec, MockPlatform};
/// let platform = MockPlatform::builder()
///     .fault(FaultSpec::on_call("PingConnector", 2, FaultAction::HttpStatus { status: 502, body: "Bad Gateway".into() }))
///     .start()
///     .await;
/// platform.add_fault(FaultSpec::always("workEdit", FaultAction::Delay { ms: 50 }));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultSpec {
    /// Operation name or root field name to match.
    pub operation: String,
    /// First matching call (1-based) on which the rule fires.
    #[serde(default = "one")]
    pub from_call: u32,
    /// How many times it fires (unlimited when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// What it does.
    pub action: FaultAction,
}

fn one() -> u32 {
    1
}

impl FaultSpec {
    /// A rule firing on the `n`-th call of `operation` only (calls count from 1; `n` = 0
    /// fires on the first call, as 1 does).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{FaultAction, FaultSpec, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// platform.add_fault(FaultSpec::on_call("Health", 2, FaultAction::Error { code: "DATABASE_ERROR".into(), message: "down".into() }));
    /// for _ in 0..3 {
    ///     reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///         .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// }
    /// // the second call fails, the ones around it do not
    /// let failed: Vec<bool> = platform.received_operations().iter().map(|op| !op.error_codes.is_empty()).collect();
    /// assert_eq!(failed, [false, true, false]);
    /// # }
    /// ```
    pub fn on_call(operation: impl Into<String>, n: u32, action: FaultAction) -> Self {
        FaultSpec { operation: operation.into(), from_call: n, times: Some(1), action }
    }

    /// A rule firing on every call of `operation`.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{FaultAction, FaultSpec, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// // a proxy in front of the platform that answers `about` (root field) with 502, every time
    /// platform.add_fault(FaultSpec::always("about", FaultAction::HttpStatus { status: 502, body: "Bad Gateway".into() }));
    /// for _ in 0..2 {
    ///     reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///         .json(&serde_json::json!({"query": "query Health { about { version } }"})).send().await.unwrap();
    /// }
    /// let statuses: Vec<u16> = platform.received_operations().iter().map(|op| op.http_status).collect();
    /// assert_eq!(statuses, [502, 502]);
    /// # }
    /// ```
    pub fn always(operation: impl Into<String>, action: FaultAction) -> Self {
        FaultSpec { operation: operation.into(), from_call: 1, times: None, action }
    }
}

/// A rule with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRule {
    /// Rule id (for removal).
    pub id: u64,
    /// The configuration.
    #[serde(flatten)]
    pub spec: FaultSpec,
    /// Matching requests seen.
    pub seen: u32,
    /// Times fired.
    pub fired: u32,
}

/// Every fault rule of a platform.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<FaultRule>,
    next_id: u64,
}

impl Faults {
    /// Adds a rule and returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        self.rules.push(FaultRule { id: self.next_id, spec, seen: 0, fired: 0 });
        self.next_id
    }

    /// Removes a rule.
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len();
        self.rules.retain(|r| r.id != id);
        before != self.rules.len()
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// Every rule with its counters.
    pub fn rules(&self) -> &[FaultRule] {
        &self.rules
    }

    /// Counts a request against the rules and returns the actions that fire, with their
    /// rule ids. `names` are the operation name and root field names of the request.
    pub fn on_request(&mut self, names: &[&str]) -> Vec<(u64, FaultAction)> {
        let mut fired = Vec::new();
        for rule in self.rules.iter_mut().filter(|r| names.contains(&r.spec.operation.as_str())) {
            rule.seen += 1;
            let due = rule.seen >= rule.spec.from_call;
            let left = rule.spec.times.is_none_or(|t| rule.fired < t);
            if due && left {
                rule.fired += 1;
                fired.push((rule.id, rule.spec.action.clone()));
            }
        }
        fired
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_on_the_third_call_fires_once() {
        let mut f = Faults::default();
        f.add(FaultSpec::on_call("PingConnector", 3, FaultAction::Delay { ms: 1 }));
        let fired: Vec<usize> = (0..5).map(|_| f.on_request(&["PingConnector", "pingConnector"]).len()).collect();
        assert_eq!(fired, vec![0, 0, 1, 0, 0]);
    }

    #[test]
    fn a_rule_matches_root_fields_too() {
        let mut f = Faults::default();
        f.add(FaultSpec::always("workAdd", FaultAction::Delay { ms: 1 }));
        assert_eq!(f.on_request(&["anything", "workAdd"]).len(), 1);
        assert_eq!(f.on_request(&["other"]).len(), 0);
    }
}
