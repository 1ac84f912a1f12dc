//! Fault rules: make a named GraphQL operation fail, slow down, or lose its token; make the
//! worker's deliveries to a connector's HTTP listen callback fail; keep the live stream
//! silent.
//!
//! A GraphQL rule matches a request whose operation name (`PingConnector`) or any root field
//! (`pingConnector`) equals [`FaultSpec::operation`]. It fires from the `from_call`-th
//! matching request on, at most `times` times (unlimited when absent). A callback rule
//! ([`CallbackFault`]) counts the worker's delivery attempts the same way. Firing is decided
//! here; the HTTP layer, the job dispatcher and the stream sessions apply the action and the
//! transcript records it.

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
    /// `pingConnector` stores the state it carries but answers the one stored before it, as
    /// the platform does when its read after the write hits a stale index (opencti#17472).
    /// Other operations execute normally.
    StaleState,
}

/// What a callback fault does to the worker's delivery attempt it fires on: what a proxy or
/// a network between the platform's worker and the connector's HTTP listener would do. The
/// attempt is recorded as the worker would see it, and retried as any failed attempt is.
///
/// ```
/// use opencti_mock::CallbackAction;
/// let unavailable = CallbackAction::Status { status: 503 };
/// assert!(matches!(unavailable, CallbackAction::Status { status: 503 }));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallbackAction {
    /// The job never reaches the connector: the attempt is answered with this status (a
    /// proxy's `502`/`503`).
    Status {
        /// Status code.
        status: u16,
    },
    /// The job never reaches the connector and no answer comes: the attempt ends after the
    /// worker's `listen_api_timeout_ms`, as a timeout.
    Timeout,
    /// The job reaches the connector after this delay (a slow network).
    Slow {
        /// Delay in milliseconds.
        ms: u64,
    },
}

/// A fault rule on the worker's deliveries to HTTP listen callbacks.
///
/// ```
/// use opencti_mock::{CallbackAction, CallbackFault};
/// // the second delivery attempt (to any connector) is answered 503 by "a proxy"
/// let fault = CallbackFault { from_call: 2, times: Some(1), connector_id: None, action: CallbackAction::Status { status: 503 } };
/// assert_eq!(fault.from_call, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallbackFault {
    /// First matching attempt (1-based) on which the rule fires.
    #[serde(default = "one")]
    pub from_call: u32,
    /// How many times it fires (unlimited when absent).
    #[serde(default)]
    pub times: Option<u32>,
    /// Only the deliveries to this connector (every connector when absent).
    #[serde(default)]
    pub connector_id: Option<String>,
    /// What it does.
    pub action: CallbackAction,
}

/// A callback rule with its counters.
#[derive(Debug, Clone, Serialize)]
pub struct CallbackRule {
    /// Rule id (shared numbering with the GraphQL rules).
    pub id: u64,
    /// The configuration.
    #[serde(flatten)]
    pub spec: CallbackFault,
    /// Matching attempts seen.
    pub seen: u32,
    /// Times fired.
    pub fired: u32,
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
    callbacks: Vec<CallbackRule>,
    stream_silent: bool,
    stream_refusals: Option<(u16, u32)>,
    next_id: u64,
}

impl Faults {
    /// Adds a rule and returns its id.
    pub fn add(&mut self, spec: FaultSpec) -> u64 {
        self.next_id += 1;
        self.rules.push(FaultRule { id: self.next_id, spec, seen: 0, fired: 0 });
        self.next_id
    }

    /// Adds a callback rule and returns its id.
    pub fn add_callback(&mut self, spec: CallbackFault) -> u64 {
        self.next_id += 1;
        self.callbacks.push(CallbackRule { id: self.next_id, spec, seen: 0, fired: 0 });
        self.next_id
    }

    /// Removes a rule (GraphQL or callback).
    pub fn remove(&mut self, id: u64) -> bool {
        let before = self.rules.len() + self.callbacks.len();
        self.rules.retain(|r| r.id != id);
        self.callbacks.retain(|r| r.id != id);
        before != self.rules.len() + self.callbacks.len()
    }

    /// Removes every rule, ends a stream silence and forgets the stream refusals left.
    pub fn clear(&mut self) {
        self.rules.clear();
        self.callbacks.clear();
        self.stream_silent = false;
        self.stream_refusals = None;
    }

    /// Every callback rule with its counters.
    pub fn callback_rules(&self) -> &[CallbackRule] {
        &self.callbacks
    }

    /// Whether the live stream sessions keep silent (no heartbeat, no event) for now.
    pub fn stream_silent(&self) -> bool {
        self.stream_silent
    }

    /// The next `count` live stream requests are refused with `status` (a bare status with
    /// its reason phrase, as the platform answers a stream it cannot serve).
    pub fn refuse_streams(&mut self, status: u16, count: u32) {
        self.stream_refusals = (count > 0).then_some((status, count));
    }

    /// Counts a live stream request against the refusals; the status to answer, if any.
    pub fn on_stream_request(&mut self) -> Option<u16> {
        let (status, left) = self.stream_refusals?;
        self.stream_refusals = (left > 1).then_some((status, left - 1));
        Some(status)
    }

    /// Starts or ends a stream silence.
    pub fn set_stream_silent(&mut self, silent: bool) {
        self.stream_silent = silent;
    }

    /// Counts a delivery attempt to `connector_id`'s callback against the callback rules and
    /// returns the first action that fires, with its rule id.
    pub fn on_callback(&mut self, connector_id: &str) -> Option<(u64, CallbackAction)> {
        let mut fired = None;
        for rule in self.callbacks.iter_mut().filter(|r| r.spec.connector_id.as_deref().is_none_or(|c| c == connector_id)) {
            rule.seen += 1;
            let due = rule.seen >= rule.spec.from_call;
            let left = rule.spec.times.is_none_or(|t| rule.fired < t);
            if due && left && fired.is_none() {
                rule.fired += 1;
                fired = Some((rule.id, rule.spec.action.clone()));
            }
        }
        fired
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
    fn a_callback_rule_counts_only_its_connector_and_fires_once_per_attempt() {
        let mut f = Faults::default();
        let status = CallbackAction::Status { status: 503 };
        f.add_callback(CallbackFault { from_call: 2, times: Some(2), connector_id: Some("a".into()), action: status.clone() });
        f.add_callback(CallbackFault { from_call: 1, times: None, connector_id: None, action: CallbackAction::Timeout });
        // "b" only meets the second rule; "a" meets both, the first one due wins
        assert_eq!(f.on_callback("b").map(|(_, a)| a), Some(CallbackAction::Timeout));
        assert_eq!(f.on_callback("a").map(|(_, a)| a), Some(CallbackAction::Timeout));
        assert_eq!(f.on_callback("a").map(|(_, a)| a), Some(status.clone()));
        assert_eq!(f.on_callback("a").map(|(_, a)| a), Some(status));
        assert_eq!(f.on_callback("a").map(|(_, a)| a), Some(CallbackAction::Timeout));
    }

    #[test]
    fn stream_refusals_answer_the_next_requests_then_stop() {
        let mut f = Faults::default();
        f.refuse_streams(500, 2);
        let got: Vec<Option<u16>> = (0..3).map(|_| f.on_stream_request()).collect();
        assert_eq!(got, [Some(500), Some(500), None]);
    }

    #[test]
    fn a_rule_matches_root_fields_too() {
        let mut f = Faults::default();
        f.add(FaultSpec::always("workAdd", FaultAction::Delay { ms: 1 }));
        assert_eq!(f.on_request(&["anything", "workAdd"]).len(), 1);
        assert_eq!(f.on_request(&["other"]).len(), 0);
    }
}
