//! A running connector: registered, pinging, holding its state, until it stops.
//!
//! [`Connector::start`] registers (`registerConnector`, the same id updates the same
//! connector and keeps its state) and starts the ping loop: a first ping at once, then one
//! per ping period, each carrying the state. The platform keeps the state a ping carries
//! and answers with the one it holds; when the two differ the platform's wins (an operator
//! reset it), as in pycti. [`Connector::stop`] stops the loop and sends the state one last
//! time; it does not unregister (`deleteConnector` would erase the state and the works).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::client::Client;
use crate::error::{Error, Result};
use crate::push::Pusher;
use crate::settings::ConnectorSettings;
use crate::stop;

/// What the platform answered the registration.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The connector's id.
    pub id: String,
    /// The user the connector's token belongs to (the default applicant of its pushes).
    pub connector_user_id: Option<String>,
    /// The JWK Set the platform signs its job callbacks with (a JSON string).
    pub jwks: String,
    /// `config`: the broker connection, queue and exchange names.
    pub config: Value,
}

/// A registered connector.
#[derive(Debug, Clone)]
pub struct Connector {
    inner: Arc<Inner>,
    /// What [`Connector::listen`] and [`Connector::listen_stream`] read (a copy the
    /// connector may change with [`Connector::with_settings`]).
    settings: Arc<ConnectorSettings>,
}

#[derive(Debug)]
struct Inner {
    settings: ConnectorSettings,
    api: Client,
    registration: Registration,
    state: Arc<Mutex<Option<Value>>>,
    stop: CancellationToken,
    pinger: CancellationToken,
    pusher: Pusher,
}

const REGISTER: &str = "mutation RegisterConnector($input: RegisterConnectorInput) {
  registerConnector(input: $input) {
    id connector_state jwks connector_user_id
    config { connection { host vhost use_ssl port user pass } listen listen_routing listen_exchange push push_routing push_exchange }
  }
}";

const PING: &str = "mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput) {
  pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state }
}";

/// How to register, beyond the settings.
#[derive(Debug, Clone, Default)]
pub struct RegisterOptions {
    /// `playbook_compatible` (enrichment connectors a playbook may call).
    pub playbook_compatible: bool,
}

impl Connector {
    /// Registers with the platform and starts pinging. Stops when the process is asked to
    /// (SIGTERM, SIGINT) or on [`Connector::stop`].
    pub async fn start(settings: ConnectorSettings, options: RegisterOptions) -> Result<Connector> {
        let api = Client::new(&settings.url, &settings.token)?;
        let input = json!({
            "id": settings.id,
            "name": settings.name,
            "type": settings.connector_type,
            "scope": settings.scope,
            "auto": settings.auto,
            "auto_update": false,
            "enrichment_resolution": "none",
            "only_contextual": false,
            "playbook_compatible": options.playbook_compatible,
            "listen_callback_uri": settings.listen_callback_uri(),
            "version": null,
            "slug": null,
        });
        let data = api.query(REGISTER, json!({ "input": input })).await?;
        let r = &data["registerConnector"];
        let id = r["id"].as_str().ok_or_else(|| Error::Other("registerConnector answered no id".into()))?.to_string();
        let state = parse_state(r["connector_state"].as_str());
        let registration = Registration {
            id,
            connector_user_id: r["connector_user_id"].as_str().map(str::to_string),
            jwks: r["jwks"].as_str().unwrap_or("{\"keys\":[]}").to_string(),
            config: r["config"].clone(),
        };
        let stop = stop::on_signal();
        let pusher = Pusher::new(&settings, &registration);
        let connector = Connector {
            settings: Arc::new(settings.clone()),
            inner: Arc::new(Inner {
                pinger: stop.child_token(),
                stop,
                pusher,
                api,
                registration,
                state: Arc::new(Mutex::new(state)),
                settings,
            }),
        };
        if connector.inner.settings.pings_in_background() {
            connector.spawn_ping_loop();
        }
        Ok(connector)
    }

    /// Its settings.
    pub fn settings(&self) -> &ConnectorSettings {
        &self.settings
    }

    /// The same connector (same registration, state and pings) with other settings for
    /// what it does next: another stream to read, another watchdog period…
    pub fn with_settings(&self, change: impl FnOnce(&mut ConnectorSettings)) -> Connector {
        let mut settings = (*self.settings).clone();
        change(&mut settings);
        Connector { inner: self.inner.clone(), settings: Arc::new(settings) }
    }

    /// What the platform answered the registration.
    pub fn registration(&self) -> &Registration {
        &self.inner.registration
    }

    /// Its id.
    pub fn id(&self) -> &str {
        &self.inner.registration.id
    }

    /// The GraphQL client, as the connector itself.
    pub fn api(&self) -> &Client {
        &self.inner.api
    }

    /// Cancelled when the connector is asked to stop.
    pub fn stopping(&self) -> CancellationToken {
        self.inner.stop.clone()
    }

    /// Its state (a JSON object), if it has one.
    pub fn state(&self) -> Option<Value> {
        self.inner.state.lock().expect("state lock").clone()
    }

    /// Sets its state; the next ping carries it. Anything but an object clears it (pycti).
    pub fn set_state(&self, state: Value) {
        *self.inner.state.lock().expect("state lock") = state.is_object().then_some(state);
    }

    /// Sends the state now (and again if the platform answered another one: the local one
    /// wins here, as in pycti's `force_ping`).
    pub async fn force_ping(&self) -> Result<()> {
        let local = self.state();
        let remote = self.ping_once().await?;
        if remote != local {
            self.ping_with(&local).await?;
        }
        Ok(())
    }

    /// Stops pinging, sends the state one last time. Does not unregister.
    pub async fn stop(&self) -> Result<()> {
        self.inner.pinger.cancel();
        self.inner.stop.cancel();
        self.inner.pusher.close().await;
        self.force_ping().await
    }

    fn spawn_ping_loop(&self) {
        let me = self.clone();
        let period = self.inner.settings.ping_period;
        let cancel = self.inner.pinger.clone();
        tokio::spawn(async move {
            loop {
                match me.ping_once().await {
                    Ok(remote) => {
                        let mut local = me.inner.state.lock().expect("state lock");
                        if remote != *local {
                            tracing::info!("connector state has been remotely updated");
                            *local = remote;
                        }
                    }
                    Err(e) => tracing::warn!("ping failed: {e}"),
                }
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(period) => {}
                }
            }
        });
    }

    /// One ping with the current state; returns the state the platform holds.
    async fn ping_once(&self) -> Result<Option<Value>> {
        let state = self.state();
        self.ping_with(&state).await
    }

    async fn ping_with(&self, state: &Option<Value>) -> Result<Option<Value>> {
        let state_text = state.as_ref().map_or_else(|| "null".to_string(), Value::to_string);
        let info = json!({
            "run_and_terminate": self.inner.settings.run_and_terminate,
            "buffering": false,
            "queue_threshold": 500.0,
            "queue_messages_size": 0.0,
            "next_run_datetime": null,
            "last_run_datetime": null,
        });
        let data = self.inner.api.query(PING, json!({ "id": self.id(), "state": state_text, "connectorInfo": info })).await?;
        Ok(parse_state(data["pingConnector"]["connector_state"].as_str()))
    }

    /// Its bundle sender.
    pub(crate) fn pusher(&self) -> &Pusher {
        &self.inner.pusher
    }
}

/// A state as the platform stores it (a JSON text): an object, else none.
fn parse_state(text: Option<&str>) -> Option<Value> {
    text.and_then(|t| serde_json::from_str::<Value>(t).ok()).filter(|v| v.as_object().is_some_and(|o| !o.is_empty()))
}

/// How long to wait before trying the broker or the platform again.
pub(crate) const RETRY: Duration = Duration::from_secs(2);
