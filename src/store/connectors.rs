//! Registered connectors: registration (an upsert), pings, state and its reset.
//!
//! Semantics follow the platform's connector domain (7.x `connector-domain.ts`):
//! registration upserts by id, rebinds the connector to the registering user and keeps
//! the state; a ping stores the state unless a reset is pending (then it only clears the
//! reset flag, so the connector receives `""` and drops its local state); liveness is the
//! last heartbeat (registration or ping) within five minutes.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// What `pingConnector(connectorInfo:)` reports (pycti's `ConnectorInfo.all_details`).
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{ConnectorInfo, MockPlatform};
/// use serde_json::json;
/// let platform = MockPlatform::start().await;
/// let graphql = |query: &str, variables: serde_json::Value| reqwest::Client::new().post(format!("{}/graphql", platform.url()))
///     .bearer_auth(platform.token()).json(&json!({"query": query, "variables": variables})).send();
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// graphql("mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///     json!({"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}})).await.unwrap();
/// // the connector's scheduler skipped a run: its queue is over the threshold
/// graphql("mutation Ping($id: ID!, $info: ConnectorInfoInput) { pingConnector(id: $id, connectorInfo: $info) { id } }",
///     json!({"id": id, "info": {"run_and_terminate": false, "buffering": true, "queue_threshold": 500.0,
///         "queue_messages_size": 612.5}})).await.unwrap();
/// let info: Option<ConnectorInfo> = platform.connector(id).and_then(|c| c.connector_info);
/// assert_eq!(info.map(|i| (i.buffering, i.queue_messages_size)), Some((true, 612.5)));
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectorInfo {
    /// The connector runs once and exits.
    pub run_and_terminate: bool,
    /// The scheduler skipped runs because the queue is over threshold.
    pub buffering: bool,
    /// Queue threshold in MB.
    pub queue_threshold: f64,
    /// Queue size in MB as last seen by the connector.
    pub queue_messages_size: f64,
    /// Next scheduled run.
    pub next_run_datetime: Option<String>,
    /// Last run.
    pub last_run_datetime: Option<String>,
}

/// The fields of `RegisterConnectorInput`.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Registration};
/// let platform = MockPlatform::start().await;
/// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": id, "name": "enricher", "type": "INTERNAL_ENRICHMENT", "scope": [], "auto": true}},
///     }))
///     .send().await.unwrap();
/// // the fields as received, but an empty scope is stored as null, as the platform stores it
/// let registration: Registration = platform.connector(id).expect("registered").registration;
/// let (kind, auto, scope) = (registration.connector_type, registration.auto, registration.scope);
/// assert_eq!((kind.as_str(), auto, scope), ("INTERNAL_ENRICHMENT", Some(true), None));
/// # }
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Registration {
    /// Connector id (a UUID on the platform).
    pub id: String,
    /// Name.
    pub name: String,
    /// `ConnectorType` enum name.
    #[serde(rename = "type")]
    pub connector_type: String,
    /// Scope list.
    #[serde(default)]
    pub scope: Option<Vec<String>>,
    /// Auto enrichment / import.
    #[serde(default)]
    pub auto: Option<bool>,
    /// Auto on update.
    #[serde(default)]
    pub auto_update: Option<bool>,
    /// `none` or `stix_bundle`.
    #[serde(default)]
    pub enrichment_resolution: Option<String>,
    /// Only contextual imports.
    #[serde(default)]
    pub only_contextual: Option<bool>,
    /// Playbook compatible.
    #[serde(default)]
    pub playbook_compatible: Option<bool>,
    /// HTTP listen callback.
    #[serde(default)]
    pub listen_callback_uri: Option<String>,
    /// XTM One intent.
    #[serde(default)]
    pub xtm_one_intent: Option<String>,
    /// Connector version from its manifest.
    #[serde(default)]
    pub version: Option<String>,
    /// Connector slug from its manifest.
    #[serde(default)]
    pub slug: Option<String>,
}

/// A registered connector.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// let env = platform.connector_env("EXTERNAL_IMPORT", platform.token());
/// // the connector registers, as pycti does at start-up
/// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({
///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
///         "variables": {"input": {"id": env.connector_id(), "name": "feed", "type": "EXTERNAL_IMPORT"}},
///     }))
///     .send().await.unwrap();
/// let connector = platform.connector(env.connector_id()).expect("registered");
/// assert_eq!((connector.registration.name.as_str(), connector.connector_state.as_deref()), ("feed", None));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct Connector {
    /// Registration fields as last received.
    #[serde(flatten)]
    pub registration: Registration,
    /// The user that registered it (re-bound on every registration).
    pub connector_user_id: String,
    /// Opaque state string (`None` for a new connector, `""` after a reset).
    pub connector_state: Option<String>,
    /// A reset is pending: the next ping ignores the state it carries.
    pub connector_state_reset: bool,
    /// When the state was created or reset.
    pub connector_state_timestamp: DateTime<Utc>,
    /// Last `connectorInfo` received.
    pub connector_info: Option<ConnectorInfo>,
    /// Last registration or ping.
    pub last_seen_at: Option<DateTime<Utc>>,
    /// Creation date.
    pub created_at: DateTime<Utc>,
    /// Last write.
    pub updated_at: DateTime<Utc>,
    /// Number of registrations received.
    pub registrations: u32,
    /// Number of pings received.
    pub pings: u32,
    /// Why the last job POSTed to its `listen_callback_uri` was not acknowledged (cleared
    /// by the next acknowledged one).
    pub listen_callback_error: Option<String>,
}

impl Connector {
    /// Connector id.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", platform.token());
    /// // the connector registers with the CONNECTOR_ID of its environment
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": env.connector_id(), "name": "feed", "type": "EXTERNAL_IMPORT"}},
    ///     }))
    ///     .send().await.unwrap();
    /// let connector = platform.connector(env.connector_id()).expect("registered");
    /// assert_eq!(connector.id(), env.connector_id());
    /// # }
    /// ```
    pub fn id(&self) -> &str {
        &self.registration.id
    }

    /// Scope list as the platform returns it (`connector_scope`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": id, "name": "importer", "type": "INTERNAL_IMPORT_FILE", "scope": ["text/plain", "text/csv"]}},
    ///     }))
    ///     .send().await.unwrap();
    /// assert_eq!(platform.connector(id).map(|c| c.scope()), Some(vec!["text/plain".to_string(), "text/csv".to_string()]));
    /// # }
    /// ```
    pub fn scope(&self) -> Vec<String> {
        self.registration.scope.clone().unwrap_or_default()
    }

    /// The platform's liveness rule: a heartbeat within the last five minutes.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::{Clock, MockPlatform};
    /// let clock = Clock::manual("2026-01-01T00:00:00Z".parse().unwrap());
    /// let platform = MockPlatform::builder().clock(clock.clone()).start().await;
    /// let id = "8f5a3c1e-2b4d-4e6f-9a7b-0c1d2e3f4a5b";
    /// reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({
    ///         "query": "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id } }",
    ///         "variables": {"input": {"id": id, "name": "feed", "type": "EXTERNAL_IMPORT"}},
    ///     }))
    ///     .send().await.unwrap();
    /// let connector = platform.connector(id).expect("registered");
    /// assert!(connector.is_active(clock.now()));
    /// // five minutes without a ping or a registration
    /// clock.advance(Duration::from_secs(5 * 60));
    /// assert!(!connector.is_active(clock.now()));
    /// # }
    /// ```
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.last_seen_at.is_some_and(|seen| now - seen < TimeDelta::minutes(5))
    }
}

/// Outcome of a ping.
#[derive(Debug, Clone, PartialEq)]
pub enum PingOutcome {
    /// The state carried by the ping was stored.
    Stored,
    /// A reset was pending: the state was ignored and the reset flag cleared.
    ResetConsumed,
}

/// All connectors of a platform, in registration order.
#[derive(Debug, Default)]
pub struct Connectors {
    items: BTreeMap<String, Connector>,
    order: Vec<String>,
}

impl Connectors {
    /// A connector by id.
    pub fn get(&self, id: &str) -> Option<&Connector> {
        self.items.get(id)
    }

    /// A connector by id, to change it.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Connector> {
        self.items.get_mut(id)
    }

    /// Every connector, in registration order.
    pub fn all(&self) -> impl Iterator<Item = &Connector> {
        self.order.iter().filter_map(|id| self.items.get(id))
    }

    /// Number of connectors.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no connector is registered.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Registers (creates or updates) a connector. State is kept on update.
    pub fn register(&mut self, reg: Registration, user_id: &str, now: DateTime<Utc>) -> &Connector {
        let id = reg.id.clone();
        match self.items.get_mut(&id) {
            Some(existing) => {
                existing.registration = Registration {
                    // The platform stores an empty scope as null.
                    scope: reg.scope.clone().filter(|s| !s.is_empty()),
                    ..reg
                };
                existing.connector_user_id = user_id.to_string();
                existing.last_seen_at = Some(now);
                existing.updated_at = now;
                existing.registrations += 1;
            }
            None => {
                let connector = Connector {
                    registration: Registration { scope: reg.scope.clone().filter(|s| !s.is_empty()), ..reg },
                    connector_user_id: user_id.to_string(),
                    connector_state: None,
                    connector_state_reset: false,
                    connector_state_timestamp: now,
                    connector_info: None,
                    last_seen_at: Some(now),
                    created_at: now,
                    updated_at: now,
                    registrations: 1,
                    pings: 0,
                    listen_callback_error: None,
                };
                self.items.insert(id.clone(), connector);
                self.order.push(id.clone());
            }
        }
        &self.items[&id]
    }

    /// Applies a ping. `None` if the connector does not exist.
    pub fn ping(
        &mut self,
        id: &str,
        state: Option<String>,
        info: Option<ConnectorInfo>,
        now: DateTime<Utc>,
    ) -> Option<(PingOutcome, &Connector)> {
        let c = self.items.get_mut(id)?;
        c.last_seen_at = Some(now);
        c.pings += 1;
        let outcome = if c.connector_state_reset {
            c.connector_state_reset = false;
            PingOutcome::ResetConsumed
        } else {
            c.connector_state = state;
            PingOutcome::Stored
        };
        if info.is_some() {
            c.connector_info = info;
        }
        c.updated_at = now;
        Some((outcome, c))
    }

    /// `resetStateConnector`: state `""`, reset pending.
    pub fn reset_state(&mut self, id: &str, now: DateTime<Utc>) -> Option<&Connector> {
        let c = self.items.get_mut(id)?;
        c.connector_state = Some(String::new());
        c.connector_state_reset = true;
        c.connector_state_timestamp = now;
        c.updated_at = now;
        Some(c)
    }

    /// Sets the state directly (control API / Rust API seeding).
    pub fn set_state(&mut self, id: &str, state: Option<String>, now: DateTime<Utc>) -> Option<&Connector> {
        let c = self.items.get_mut(id)?;
        c.connector_state = state;
        c.updated_at = now;
        Some(c)
    }

    /// Removes a connector.
    pub fn remove(&mut self, id: &str) -> Option<Connector> {
        self.order.retain(|x| x != id);
        self.items.remove(id)
    }
}
