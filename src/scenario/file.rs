//! The scenario file: its fields and what it asks of a platform (how it is read and its
//! errors: `read.rs`).
//!
//! ```yaml
//! name: stale-ping-state
//! issue: OpenCTI-Platform/opencti#17472
//! title: pingConnector answers a stale connector_state
//! symptom: the state the connector just saved is replaced by an older one
//! profile: "7"
//! faults:
//!   - when: { operation: PingConnector, call: 2 }
//!     do: { kind: stale_state }
//! ```
//!
//! Unknown keys are refused: a misspelt `from_cal` would otherwise silently do nothing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::{CallbackAuth, Settings};
use crate::profile::Profile;
use crate::store::faults::{CallbackAction, CallbackFault, FaultAction, FaultSpec};

/// A scenario as written.
///
/// ```
/// use opencti_mock::Scenario;
/// let s = Scenario::from_yaml("name: slow\ntitle: a slow platform\nfaults:\n  - when: { operation: workAdd }\n    do: { kind: delay, ms: 50 }\n", "slow.yaml").unwrap();
/// assert_eq!((s.name.as_str(), s.faults.len()), ("slow", 1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name (the file's stem, by convention), used in reports and `scenario show`.
    pub name: String,
    /// The public issue it reproduces, `owner/repo#number` (absent for a scenario of one's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue: Option<String>,
    /// One line: what goes wrong.
    pub title: String,
    /// How it happens in the field, for a reader of the file.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// What a connector shows (a log line, an exception), as reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub symptom: Option<String>,
    /// The pycti version the field ran, when the bug is pycti's and fixed since.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pycti: Option<String>,
    /// Where the bug was fixed (a version or a pull request), when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_in: Option<String>,
    /// The platform version profile (`"7"` or `"6.9"`); the platform's own when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
    /// Limits and settings the scenario needs.
    #[serde(default)]
    pub limits: Limits,
    /// Live stream collections the platform has from the start (a stream connector's
    /// `CONNECTOR_LIVE_STREAM_ID`; `stream_stop` and friends act on them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub streams: Vec<Stream>,
    /// Faults, each at its point.
    #[serde(default)]
    pub faults: Vec<Fault>,
}

/// Settings a scenario sets; absent ones keep the platform's.
///
/// ```
/// use opencti_mock::Scenario;
/// let s = Scenario::from_yaml("name: slow\ntitle: a slow worker\nlimits: { ingest_delay_ms: 250 }\n", "slow.yaml").unwrap();
/// assert_eq!(s.limits.ingest_delay_ms, Some(250));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// `app:max_payload_body_size` (`"1mb"`): larger GraphQL bodies are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_payload_body_size: Option<String>,
    /// Time the worker takes per message (a throttled ingest: the backlog pycti's buffering
    /// reads through `connector_queue_details`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_delay_ms: Option<u64>,
    /// The worker consumes nothing until told (a stuck ingest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingest_paused: Option<bool>,
    /// How the worker authenticates to HTTP listen callbacks (`profile`, `user-token`,
    /// `foreign-key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen_auth: Option<CallbackAuth>,
    /// The worker's timeout on a listen callback (`worker.listen_api_timeout_ms`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_timeout_ms: Option<u64>,
    /// The worker's wait between two attempts of a failed delivery (both bounds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_retry_ms: Option<u64>,
    /// The live stream's heartbeat period (`app:live_stream:heartbeat_period`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_heartbeat_ms: Option<u64>,
    /// The broker host the registration hands connectors (`config.connection.host`), e.g.
    /// the `rabbitmq` of a docker-compose network a connector outside it cannot resolve.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_advertised_host: Option<String>,
    /// The broker's `max_message_size` in bytes (RabbitMQ 4.0 lowered its default to
    /// 16 MiB). A whole-broker setting: the platform sets it with `rabbitmqctl` when the
    /// scenario starts and puts the old value back when it stops; every client of the broker
    /// sees it meanwhile, so such a scenario runs alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broker_max_message_size: Option<u64>,
}

/// A live stream collection a scenario starts with.
///
/// ```
/// use opencti_mock::Scenario;
/// let s = Scenario::from_yaml("name: s\ntitle: t\nstreams:\n  - { id: 5a2c6f0e-8a41-4d0b-9d3e-1f2a3b4c5d6e, name: feed }\n", "s.yaml").unwrap();
/// assert!(s.streams[0].live);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stream {
    /// Its id (what the connector is configured with).
    pub id: String,
    /// Its name.
    pub name: String,
    /// Started (`true`, the default) or stopped (readers get `410`).
    #[serde(default = "yes")]
    pub live: bool,
}

fn yes() -> bool {
    true
}

/// One fault: when, and what.
///
/// ```
/// use opencti_mock::{Scenario, ScenarioAction, ScenarioWhen};
/// let s = Scenario::from_yaml("name: r\ntitle: t\nfaults:\n  - when: { after_pushes: 2 }\n    do: { kind: state_reset }\n", "r.yaml").unwrap();
/// assert_eq!((&s.faults[0].when, &s.faults[0].action), (&ScenarioWhen::AfterPushes(2), &ScenarioAction::StateReset));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// The point at which it fires.
    pub when: When,
    /// What it does.
    #[serde(rename = "do")]
    pub action: Action,
}

/// The point at which a fault fires. Exactly one of `operation`, `after_pushes`, `callback`
/// and `at` is given.
///
/// ```
/// use std::time::Duration;
/// use opencti_mock::{Scenario, ScenarioWhen};
/// let s = Scenario::from_yaml("name: t\ntitle: t\nfaults:\n  - when: { at: 1.5s }\n    do: { kind: stream_close }\n", "t.yaml").unwrap();
/// assert_eq!(s.faults[0].when, ScenarioWhen::At(Duration::from_millis(1500)));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "WhenFields", into = "WhenFields")]
pub enum When {
    /// The `call`-th request (from 1) naming this operation or root field, and the
    /// `times - 1` after it (`times` absent: every one from then on; `call` and `times` both
    /// absent: every call). A fault acting on the request acts on that request; one acting
    /// on the platform acts once that request was answered.
    Operation {
        /// Operation name (`PingConnector`) or root field (`pingConnector`).
        name: String,
        /// First call on which it fires.
        call: u32,
        /// How many times it fires.
        times: Option<u32>,
    },
    /// Once the platform has received this many bundles (pushes over GraphQL or messages
    /// from the broker's push queues).
    AfterPushes(u64),
    /// The `n`-th delivery attempt (from 1) to a listen callback, and the `times - 1` after
    /// it.
    Callback {
        /// First attempt on which it fires.
        n: u32,
        /// How many times it fires.
        times: Option<u32>,
    },
    /// This long after the platform started.
    At(Duration),
}

/// The file's spelling of [`When`].
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WhenFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    call: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    times: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_pushes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    callback: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    at: Option<String>,
}

impl TryFrom<WhenFields> for When {
    type Error = String;

    fn try_from(f: WhenFields) -> Result<Self, String> {
        let given = [f.operation.is_some(), f.after_pushes.is_some(), f.callback.is_some(), f.at.is_some()];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err("give exactly one of `operation`, `after_pushes`, `callback` and `at`".into());
        }
        let repeats = f.call.is_some() || f.times.is_some();
        if repeats && f.operation.is_none() && f.callback.is_none() {
            return Err("`call` and `times` go with `operation` (and `times` with `callback`)".into());
        }
        if f.times == Some(0) {
            return Err("`times: 0` would never fire".into());
        }
        if let Some(name) = f.operation {
            if name.trim().is_empty() {
                return Err("`operation` is empty".into());
            }
            let times = match (f.call, f.times) {
                (Some(_), None) => Some(1),
                (_, t) => t,
            };
            return Ok(When::Operation { name, call: f.call.unwrap_or(1).max(1), times });
        }
        if let Some(n) = f.after_pushes {
            return Ok(When::AfterPushes(n));
        }
        if let Some(n) = f.callback {
            if f.call.is_some() {
                return Err("`callback` is itself the attempt number: drop `call`".into());
            }
            return Ok(When::Callback { n: n.max(1), times: f.times.or(Some(1)) });
        }
        let at = f.at.unwrap_or_default();
        parse_duration(&at).map(When::At)
    }
}

impl From<When> for WhenFields {
    fn from(w: When) -> Self {
        match w {
            When::Operation { name, call, times } => {
                WhenFields { operation: Some(name), call: Some(call), times, ..Default::default() }
            }
            When::AfterPushes(n) => WhenFields { after_pushes: Some(n), ..Default::default() },
            When::Callback { n, times } => WhenFields { callback: Some(n), times, ..Default::default() },
            When::At(d) => WhenFields { at: Some(format!("{}ms", d.as_millis())), ..Default::default() },
        }
    }
}

fn one() -> u32 {
    1
}

/// `"500ms"`, `"5s"`, `"2m"` (a bare number is seconds).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit() && c != '.') {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, "s"),
    };
    let value: f64 = number.parse().map_err(|_| format!("`at: {text}` is not a duration (write 500ms, 5s or 2m)"))?;
    let millis = match unit {
        "ms" => value,
        "s" => value * 1000.0,
        "m" | "min" => value * 60_000.0,
        _ => return Err(format!("`at: {text}`: unknown unit `{unit}` (ms, s or m)")),
    };
    Ok(Duration::from_millis(millis as u64))
}

/// Which of a connector's queues.
///
/// ```
/// use opencti_mock::{QueueKind, Scenario, ScenarioAction};
/// let s = Scenario::from_yaml("name: q\ntitle: t\nfaults:\n  - when: { at: 1s }\n    do: { kind: queue_delete, queue: push }\n", "q.yaml").unwrap();
/// assert_eq!(s.faults[0].action, ScenarioAction::QueueDelete { queue: QueueKind::Push });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// `listen_<id>`: the jobs the platform sends the connector.
    Listen,
    /// `push_<id>`: the bundles the connector sends the platform.
    Push,
}

/// What a fault does.
///
/// The first group acts on the request it fires on and needs an `operation` trigger; the
/// second acts on a delivery attempt and needs a `callback` trigger; the rest act on the
/// running platform and fire at any trigger.
///
/// ```
/// use opencti_mock::{Scenario, ScenarioAction};
/// let s = Scenario::from_yaml("name: d\ntitle: t\nfaults:\n  - when: { callback: 1 }\n    do: { kind: callback_status, status: 503 }\n", "d.yaml").unwrap();
/// assert_eq!(s.faults[0].action, ScenarioAction::CallbackStatus { status: 503 });
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Action {
    /// A GraphQL error of the platform's shape (HTTP 200) instead of executing.
    Error {
        /// `extensions.code` / `name` (`DATABASE_ERROR`, `FUNCTIONAL_ERROR`…).
        code: String,
        /// The message.
        message: String,
    },
    /// The request executes after this delay.
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// A bare HTTP status, as a proxy in front of the platform answers (502, 413…).
    HttpStatus {
        /// Status code.
        status: u16,
        /// Body text.
        #[serde(default)]
        body: String,
    },
    /// `pingConnector` answers the state stored before the ping (opencti#17472).
    StaleState,
    /// The delivery to the connector's callback is answered with this status by a proxy.
    CallbackStatus {
        /// Status code.
        status: u16,
    },
    /// The delivery gets no answer (the worker's timeout runs out).
    CallbackTimeout,
    /// The delivery reaches the connector after this delay.
    CallbackSlow {
        /// Milliseconds.
        ms: u64,
    },
    /// A token is revoked (with an `operation` trigger, the caller's by default; otherwise
    /// the token given, or the connectors' users' tokens): every later request with it gets
    /// `AUTH_REQUIRED`.
    RevokeToken {
        /// The token; see above when absent.
        #[serde(default)]
        token: Option<String>,
    },
    /// The broker closes the connectors' consuming connections (through its management API:
    /// this platform's connectors only).
    BrokerDrop,
    /// The whole broker restarts (`rabbitmqctl stop_app`, then `start_app` after `down_ms`):
    /// every client's connection drops, the platform's too. Needs `rabbitmqctl` on the
    /// machine (`OPENCTI_MOCK_RABBITMQCTL` names another command, e.g. `docker exec rabbit
    /// rabbitmqctl`); a scenario with it runs alone.
    BrokerRestart {
        /// How long the broker stays down.
        #[serde(default)]
        down_ms: u64,
    },
    /// The broker raises its memory alarm for this long: it blocks every publishing
    /// connection (`connection.blocked`), as a broker short of memory or disk does
    /// (client-python#732). Needs `rabbitmqctl` as `broker_restart` does; runs alone.
    BrokerAlarm {
        /// How long publishers stay blocked.
        ms: u64,
    },
    /// A connector queue disappears from the broker (every registered connector's).
    QueueDelete {
        /// Which queue.
        queue: QueueKind,
    },
    /// A live stream collection is stopped: readers get `410 This live stream is stopped`.
    StreamStop {
        /// The collection id (every collection when absent).
        #[serde(default)]
        stream: Option<String>,
    },
    /// The next live stream requests are answered with a bare status (`500 Internal Server
    /// Error`, as opencti#1332's platform answered), `count` of them (default 1).
    StreamError {
        /// Status code.
        status: u16,
        /// How many requests.
        #[serde(default = "one")]
        count: u32,
    },
    /// The open live stream connections end, as on a platform restart.
    StreamClose,
    /// The live stream sends nothing, not even heartbeats, for this long.
    StreamSilence {
        /// Milliseconds.
        ms: u64,
    },
    /// The platform resets the connectors' state, as `resetStateConnector` from the UI.
    StateReset,
    /// The worker's pace changes: paused, or this long per message.
    Ingest {
        /// Pause or resume.
        #[serde(default)]
        paused: Option<bool>,
        /// Time per message.
        #[serde(default)]
        delay_ms: Option<u64>,
    },
}

impl Action {
    pub(super) fn acts_on_request(&self) -> bool {
        matches!(self, Action::Error { .. } | Action::Delay { .. } | Action::HttpStatus { .. } | Action::StaleState)
    }

    pub(super) fn acts_on_callback(&self) -> bool {
        matches!(self, Action::CallbackStatus { .. } | Action::CallbackTimeout | Action::CallbackSlow { .. })
    }

    pub(super) fn kind(&self) -> &'static str {
        match self {
            Action::Error { .. } => "error",
            Action::Delay { .. } => "delay",
            Action::HttpStatus { .. } => "http_status",
            Action::StaleState => "stale_state",
            Action::CallbackStatus { .. } => "callback_status",
            Action::CallbackTimeout => "callback_timeout",
            Action::CallbackSlow { .. } => "callback_slow",
            Action::RevokeToken { .. } => "revoke_token",
            Action::BrokerDrop => "broker_drop",
            Action::BrokerRestart { .. } => "broker_restart",
            Action::BrokerAlarm { .. } => "broker_alarm",
            Action::QueueDelete { .. } => "queue_delete",
            Action::StreamStop { .. } => "stream_stop",
            Action::StreamError { .. } => "stream_error",
            Action::StreamClose => "stream_close",
            Action::StreamSilence { .. } => "stream_silence",
            Action::StateReset => "state_reset",
            Action::Ingest { .. } => "ingest",
        }
    }
}

impl Scenario {
    /// Sets what the scenario sets on a platform's settings (profile, limits).
    ///
    /// ```
    /// use opencti_mock::{Profile, Scenario, Settings};
    /// let s = Scenario::from_yaml("name: old\ntitle: a 6.9 platform\nprofile: \"6.9\"\nlimits: { ingest_delay_ms: 20 }\n", "old.yaml").unwrap();
    /// let mut settings = Settings::default();
    /// s.apply(&mut settings);
    /// assert_eq!((settings.mock.profile, settings.mock.ingest_delay_ms), (Profile::V6_9, 20));
    /// ```
    pub fn apply(&self, settings: &mut Settings) {
        if let Some(p) = self.profile {
            settings.mock.profile = p;
        }
        let l = &self.limits;
        if let Some(v) = &l.max_payload_body_size {
            settings.app.max_payload_body_size = v.clone();
        }
        if let Some(v) = l.ingest_delay_ms {
            settings.mock.ingest_delay_ms = v;
        }
        if let Some(v) = l.ingest_paused {
            settings.mock.ingest_paused = v;
        }
        if let Some(v) = l.listen_auth {
            settings.mock.callback_auth = v;
        }
        if let Some(v) = l.callback_timeout_ms {
            settings.worker.listen_api_timeout_ms = v;
        }
        if let Some(v) = l.callback_retry_ms {
            settings.worker.listen_api_retry_min_ms = v;
            settings.worker.listen_api_retry_max_ms = v;
        }
        if let Some(v) = &l.broker_advertised_host {
            settings.mock.amqp_advertised_host = Some(v.clone());
        }
        if let Some(v) = l.stream_heartbeat_ms {
            settings.app.live_stream.heartbeat_period = v;
        }
    }

    /// The faults that act on a GraphQL request, as the platform's fault rules.
    pub(crate) fn graphql_faults(&self) -> Vec<FaultSpec> {
        self.faults
            .iter()
            .filter_map(|f| {
                let When::Operation { name, call, times } = &f.when else { return None };
                let action = match &f.action {
                    Action::Error { code, message } => FaultAction::Error { code: code.clone(), message: message.clone() },
                    Action::Delay { ms } => FaultAction::Delay { ms: *ms },
                    Action::HttpStatus { status, body } => FaultAction::HttpStatus { status: *status, body: body.clone() },
                    Action::StaleState => FaultAction::StaleState,
                    Action::RevokeToken { token } => FaultAction::RevokeToken { token: token.clone() },
                    _ => return None,
                };
                Some(FaultSpec { operation: name.clone(), from_call: *call, times: *times, action })
            })
            .collect()
    }

    /// The faults that act on deliveries to listen callbacks.
    pub(crate) fn callback_faults(&self) -> Vec<CallbackFault> {
        self.faults
            .iter()
            .filter_map(|f| {
                let When::Callback { n, times } = &f.when else { return None };
                let action = match &f.action {
                    Action::CallbackStatus { status } => CallbackAction::Status { status: *status },
                    Action::CallbackTimeout => CallbackAction::Timeout,
                    Action::CallbackSlow { ms } => CallbackAction::Slow { ms: *ms },
                    _ => return None,
                };
                Some(CallbackFault { from_call: *n, times: *times, connector_id: None, action })
            })
            .collect()
    }

    /// The faults that act on the running platform: everything not a request or callback
    /// fault, and `revoke_token` away from an `operation` trigger.
    pub(crate) fn platform_faults(&self) -> Vec<&Fault> {
        self.faults
            .iter()
            .filter(|f| {
                let request_level = matches!(f.when, When::Operation { .. }) && matches!(f.action, Action::RevokeToken { .. });
                !f.action.acts_on_request() && !f.action.acts_on_callback() && !request_level
            })
            .collect()
    }

    /// Whether the scenario changes the broker for every client (its `max_message_size`, a
    /// restart, a memory alarm): run such a scenario alone.
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let restart = Scenario::from_yaml("name: r\ntitle: t\nfaults:\n  - when: { at: 1s }\n    do: { kind: broker_restart }\n", "r.yaml").unwrap();
    /// assert!(restart.touches_whole_broker());
    /// ```
    pub fn touches_whole_broker(&self) -> bool {
        self.limits.broker_max_message_size.is_some() || self.faults.iter().any(|f| matches!(f.action, Action::BrokerRestart { .. } | Action::BrokerAlarm { .. }))
    }

    /// The scenario as YAML (what `scenario show` prints and a transcript is turned into).
    ///
    /// ```
    /// use opencti_mock::Scenario;
    /// let s = Scenario::from_yaml("name: x\ntitle: y\n", "x.yaml").unwrap();
    /// assert_eq!(Scenario::from_yaml(&s.to_yaml(), "again").unwrap(), s);
    /// ```
    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::read::ScenarioError;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_yaml(text, "t.yaml")
    }

    #[test]
    fn a_full_scenario_reads_and_splits_into_rules() {
        let s = parse(
            "name: t\ntitle: all kinds\nprofile: 6.9\nlimits:\n  ingest_delay_ms: 5\nfaults:\n  - when: { operation: PingConnector, call: 2 }\n    do: { kind: stale_state }\n  - when: { callback: 1, times: 3 }\n    do: { kind: callback_status, status: 503 }\n  - when: { after_pushes: 2 }\n    do: { kind: broker_drop }\n  - when: { at: 1.5s }\n    do: { kind: stream_silence, ms: 100 }\n",
        )
        .unwrap();
        assert_eq!(s.profile, Some(Profile::V6_9));
        assert_eq!(s.graphql_faults(), vec![FaultSpec { operation: "PingConnector".into(), from_call: 2, times: Some(1), action: FaultAction::StaleState }]);
        assert_eq!(s.callback_faults()[0].times, Some(3));
        assert_eq!(s.platform_faults().len(), 2);
        assert_eq!(s.platform_faults()[1].when, When::At(Duration::from_millis(1500)));
    }

    #[test]
    fn an_unknown_key_is_named_with_its_line() {
        let err = parse("name: t\ntitle: x\nfaults:\n  - when: { operation: workAdd, from_cal: 2 }\n    do: { kind: stale_state }\n").unwrap_err();
        assert_eq!(err.line, Some(4));
        assert!(err.key.starts_with("faults[0].when"), "{err}");
        assert!(err.message.contains("from_cal"), "{err}");
    }

    #[test]
    fn a_trigger_needs_exactly_one_point() {
        let err = parse("name: t\ntitle: x\nfaults:\n  - when: { operation: a, at: 5s }\n    do: { kind: broker_drop }\n").unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (Some(4), "faults[0].when"));
        assert!(err.message.contains("exactly one"), "{err}");
    }

    #[test]
    fn an_action_at_a_point_it_cannot_fire_at_is_refused_with_its_line() {
        let err = parse("name: t\ntitle: x\nfaults:\n  - when: { at: 5s }\n    do: { kind: broker_drop }\n  - when: { after_pushes: 1 }\n    do: { kind: stale_state }\n").unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (Some(7), "faults[1].do"));
        assert!(err.message.contains("stale_state"), "{err}");
    }

    #[test]
    fn missing_fields_and_bad_values_say_so() {
        let err = parse("title: x\n").unwrap_err();
        assert!(err.message.contains("name"), "{err}");
        let err = parse("name: t\ntitle: x\nprofile: \"8\"\n").unwrap_err();
        assert_eq!((err.line, err.key.as_str()), (Some(3), "profile"));
        let err = parse("name: t\ntitle: x\nfaults:\n  - when: { at: soon }\n    do: { kind: state_reset }\n").unwrap_err();
        assert!(err.message.contains("not a duration"), "{err}");
        let err = parse("name: t\ntitle: x\nfaults: [\n").unwrap_err();
        assert!(err.line.is_some(), "{err}");
    }

    #[test]
    fn durations_read_in_several_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
    }

    #[test]
    fn a_scenario_written_out_reads_back_the_same() {
        let s = parse("name: t\ntitle: x\nissue: a/b#1\nfaults:\n  - when: { callback: 2 }\n    do: { kind: callback_timeout }\n  - when: { at: 2s }\n    do: { kind: queue_delete, queue: listen }\n").unwrap();
        assert_eq!(parse(&s.to_yaml()), Ok(s));
    }
}
