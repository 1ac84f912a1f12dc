//! The connection: one platform's session with RabbitMQ, and keeping it up.
//!
//! A [`Broker`] owns the connection, its confirmed publishing channel and the state every
//! other part of the broker reads (names, known connectors, consumers, the redelivery
//! bookkeeping). This file holds what concerns the connection as a whole: connecting (to
//! a configured broker or a container), opening a session — which re-declares what the
//! platform declares ([`super::provision`]) and restarts the consumers
//! ([`super::consume`]) — supervising it and reconnecting with back-off when it drops, and
//! shutting down. What is done *over* the connection lives beside it, one concern a file,
//! as further `impl Broker` blocks.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::options::ConfirmSelectOptions;
use lapin::types::{LongString, ShortString};
use lapin::{Channel, Connection, ConnectionProperties};
use tokio::sync::watch;

use crate::ingest::Worker;
use crate::naming::QueueNames;
use crate::store::transcript::EntryKind;
use crate::tasks::Tasks;

use super::consume::Consumer;
use super::BrokerAdmin;
use super::container::{self, BrokerContainer};
use super::dedup::Dedup;
use super::management::Management;
use crate::embedded_broker::EmbeddedBroker;
use super::{ConnectorSpec, Endpoint};

/// How long the first connection may take before the platform gives up on the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection back-off bounds.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// One platform's connection to RabbitMQ. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("endpoint", &self.inner.endpoint.display()).finish_non_exhaustive()
    }
}

/// What every part of the broker shares: fixed at connection, or guarded.
pub(super) struct Inner {
    endpoint: Endpoint,
    pub(super) names: QueueNames,
    connection_name: String,
    pub(super) prefetch: u16,
    keep: bool,
    pub(super) worker: Worker,
    pub(super) admin: Arc<dyn BrokerAdmin>,
    source: String,
    kind: BrokerKind,
    session: tokio::sync::RwLock<Option<Session>>,
    pub(super) generation: Arc<AtomicU64>,
    connected: watch::Sender<bool>,
    pub(super) connectors: Mutex<BTreeMap<String, ConnectorSpec>>,
    pub(super) consumers: Mutex<HashMap<String, Consumer>>,
    pub(super) dedup: Arc<Mutex<Dedup>>,
    stopping: AtomicBool,
    /// The platform's tasks: the supervisor, the consumers and the settlements run under
    /// them and end when the token is cancelled.
    pub(super) tasks: Tasks,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// What must live as long as the connection: a container, the embedded broker.
    owned: Owned,
}

/// Which broker a platform talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerKind {
    /// A RabbitMQ the user pointed at, or the local one.
    RabbitMq,
    /// A RabbitMQ container started for this platform.
    Container,
    /// The broker inside the mock ([`crate::embedded_broker`]).
    Embedded,
}

impl BrokerKind {
    /// `rabbitmq`, `container` or `embedded`.
    pub fn name(self) -> &'static str {
        match self {
            BrokerKind::RabbitMq => "rabbitmq",
            BrokerKind::Container => "container",
            BrokerKind::Embedded => "embedded",
        }
    }
}

/// What a [`Broker`] keeps alive.
enum Owned {
    Nothing,
    // Held for its drop (which stops the container).
    #[allow(dead_code)]
    Container(Box<BrokerContainer>),
    Embedded(EmbeddedBroker),
}

/// One connection: the connection, its confirmed publishing channel, its generation.
#[derive(Clone)]
pub(super) struct Session {
    pub(super) conn: Arc<Connection>,
    pub(super) publish: Channel,
    pub(super) generation: u64,
}

/// Options for [`Broker::connect`].
#[derive(Debug, Clone)]
pub struct BrokerOptions {
    /// Names (with the instance's prefix).
    pub names: QueueNames,
    /// Prefetch per push-queue consumer.
    pub prefetch: u16,
    /// Keep declared objects at shutdown.
    pub keep: bool,
    /// The platform's tasks, which the broker's own are spawned through.
    pub tasks: Tasks,
}

impl Broker {
    /// Connects to the broker and declares the platform's exchanges and internal queue;
    /// the error says why the broker cannot be used.
    pub async fn connect(endpoint: Endpoint, options: BrokerOptions, worker: Worker) -> Result<Broker, String> {
        let admin = management_of(&endpoint)?;
        Broker::connect_with(endpoint, options, worker, admin, Owned::Nothing, "configured broker".into(), BrokerKind::RabbitMq).await
    }

    /// [`Broker::connect`] to an embedded broker, which lives as long as the broker and
    /// answers the platform's administration in-process.
    pub async fn connect_embedded(embedded: EmbeddedBroker, options: BrokerOptions, worker: Worker) -> Result<Broker, String> {
        let o = embedded.options();
        let addr = embedded.local_addr();
        let endpoint = Endpoint {
            host: addr.ip().to_string(),
            port: addr.port(),
            vhost: o.vhost.clone(),
            username: o.username.clone(),
            password: o.password.clone(),
            use_ssl: false,
            management_host: String::new(),
            management_port: 0,
        };
        let admin: Arc<dyn BrokerAdmin> = Arc::new(embedded.clone());
        let source = format!("embedded broker listening on {addr}");
        Broker::connect_with(endpoint, options, worker, admin, Owned::Embedded(embedded), source, BrokerKind::Embedded).await
    }

    /// [`Broker::connect`] to a container started for this platform, which lives as long
    /// as the broker.
    pub async fn connect_container(container: BrokerContainer, options: BrokerOptions, worker: Worker) -> Result<Broker, String> {
        let endpoint = Endpoint {
            host: container.host.clone(),
            port: container.amqp_port,
            vhost: "/".into(),
            username: "guest".into(),
            password: "guest".into(),
            use_ssl: false,
            management_host: container.host.clone(),
            management_port: container.management_port,
        };
        let source = format!("container {}:{}", container::IMAGE, container::TAG);
        let admin = management_of(&endpoint)?;
        Broker::connect_with(endpoint, options, worker, admin, Owned::Container(Box::new(container)), source, BrokerKind::Container).await
    }

    async fn connect_with(
        endpoint: Endpoint,
        options: BrokerOptions,
        worker: Worker,
        admin: Arc<dyn BrokerAdmin>,
        owned: Owned,
        source: String,
        kind: BrokerKind,
    ) -> Result<Broker, String> {
        let prefix = options.names.prefix().trim_end_matches('_');
        let connection_name = format!("opencti-mock {}", if prefix.is_empty() { "(no prefix)" } else { prefix });
        let (connected, _) = watch::channel(false);
        let broker = Broker {
            inner: Arc::new(Inner {
                endpoint,
                names: options.names,
                connection_name,
                prefetch: options.prefetch.max(1),
                keep: options.keep,
                worker,
                admin,
                source,
                kind,
                session: tokio::sync::RwLock::new(None),
                generation: Arc::new(AtomicU64::new(0)),
                connected,
                connectors: Mutex::default(),
                consumers: Mutex::default(),
                dedup: Arc::default(),
                stopping: AtomicBool::new(false),
                tasks: options.tasks,
                supervisor: Mutex::new(None),
                owned,
            }),
        };
        let session = broker.open().await?;
        // The platform reads queue figures and purges through the management API.
        if let Err(e) = broker.inner.admin.check().await {
            broker.note(format!("broker management API unavailable ({e}): queue figures read 0 and resets purge over AMQP"));
        }
        let events = session.conn.events_listener();
        *broker.inner.session.write().await = Some(session);
        broker.inner.connected.send_replace(true);
        let supervisor = broker.inner.tasks.spawn("amqp supervisor", broker.clone().supervise(events));
        *broker.inner.supervisor.lock().expect("supervisor lock") = Some(supervisor);
        Ok(broker)
    }

    /// The broker's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The broker's administration: RabbitMQ's management API, or the embedded broker.
    pub fn admin(&self) -> Arc<dyn BrokerAdmin> {
        self.inner.admin.clone()
    }

    /// Which broker this is.
    pub fn kind(&self) -> BrokerKind {
        self.inner.kind
    }

    /// The embedded broker, when that is the one in use.
    pub fn embedded(&self) -> Option<&EmbeddedBroker> {
        match &self.inner.owned {
            Owned::Embedded(e) => Some(e),
            _ => None,
        }
    }

    /// Queue names of this platform.
    pub fn names(&self) -> &QueueNames {
        &self.inner.names
    }

    /// Where the broker came from (configured, or a container).
    pub fn source(&self) -> &str {
        &self.inner.source
    }

    /// The name this platform's connections carry (`connection_name` client property).
    #[cfg(feature = "internals")]
    pub fn connection_name(&self) -> &str {
        &self.inner.connection_name
    }

    /// Whether the connection is up right now.
    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// Waits until the connection is up (after a reconnection), at most `timeout`.
    #[cfg(feature = "internals")]
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c)).await.is_ok_and(|r| r.is_ok())
    }

    /// How many times the platform (re)connected.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    /// A note in the transcript (and the log).
    pub(super) fn note(&self, message: String) {
        tracing::info!("{message}");
        let store = self.inner.worker.store();
        let now = store.clock().now();
        store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
    }

    /// Opens a connection, a confirmed publishing channel, and declares the exchanges, the
    /// dead-letter queue and every known connector's queues; starts their consumers.
    async fn open(&self) -> Result<Session, String> {
        let props = ConnectionProperties::default().with_connection_name(LongString::from(self.inner.connection_name.clone()));
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, Connection::connect_uri(self.inner.endpoint.uri(), props))
            .await
            .map_err(|_| format!("no answer from {} within {:?}", self.inner.endpoint.display(), CONNECT_TIMEOUT))?
            .map_err(|e| format!("cannot connect to {}: {e}", self.inner.endpoint.display()))?;
        let publish = conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        publish.confirm_select(ConfirmSelectOptions::default()).await.map_err(|e| format!("confirm.select refused: {e}"))?;
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let session = Session { conn: Arc::new(conn), publish, generation };
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        let known = self.declare_all(&channel).await?;
        close_channel(&channel, "declared").await;
        for spec in &known {
            self.ensure_consumer(&session, &spec.id).await?;
        }
        Ok(session)
    }

    /// The current session, if the connection is up.
    pub(super) async fn current(&self) -> Result<Session, String> {
        match self.inner.session.read().await.clone() {
            Some(s) if s.conn.status().connected() => Ok(s),
            _ => Err(format!("the broker {} is unreachable (reconnecting)", self.inner.endpoint.display())),
        }
    }

    async fn supervise(self, events: impl futures_util::Stream<Item = lapin::Event> + Send + 'static) {
        let tasks = self.inner.tasks.clone();
        tokio::select! {
            () = self.supervise_until_stopped(events) => {}
            () = tasks.cancelled() => {}
        }
    }

    async fn supervise_until_stopped(&self, events: impl futures_util::Stream<Item = lapin::Event> + Send + 'static) {
        let mut events: std::pin::Pin<Box<dyn futures_util::Stream<Item = lapin::Event> + Send>> = Box::pin(events);
        loop {
            // Wait for the current connection to fail.
            let reason = loop {
                match events.next().await {
                    Some(lapin::Event::Error(e)) => break e.to_string(),
                    Some(lapin::Event::ConnectionBlocked(r)) => self.note(format!("the broker blocked the connection: {r}")),
                    Some(lapin::Event::ConnectionUnblocked) => self.note("the broker unblocked the connection".into()),
                    Some(_) => {}
                    None => break "connection closed".into(),
                }
            };
            if self.inner.stopping.load(Ordering::SeqCst) {
                return;
            }
            let lost = self.generation();
            self.inner.connected.send_replace(false);
            self.inner.dedup.lock().expect("dedup lock").connection_lost(lost);
            // Messages taken on the lost connection and not yet processed are orphaned: the
            // broker still holds them and delivers them again after the reconnection.
            self.inner.generation.fetch_add(1, Ordering::SeqCst);
            self.note(format!("broker connection lost ({reason}); reconnecting"));
            let mut wait = RECONNECT_MIN;
            let session = loop {
                tokio::time::sleep(wait).await;
                if self.inner.stopping.load(Ordering::SeqCst) {
                    return;
                }
                match self.open().await {
                    Ok(s) => break s,
                    Err(e) => {
                        tracing::debug!("reconnection failed: {e}");
                        wait = (wait * 2).min(RECONNECT_MAX);
                    }
                }
            };
            events = Box::pin(session.conn.events_listener());
            let known = self.inner.connectors.lock().expect("connectors lock").len();
            *self.inner.session.write().await = Some(session);
            self.inner.connected.send_replace(true);
            self.note(format!("broker connection restored; re-declared the exchanges and the queues of {known} connector(s)"));
        }
    }

    /// Clean-up for when the platform's runtime may be gone (a dropped test handle): stops
    /// the tasks and, unless asked to keep them, deletes this platform's prefixed queues and
    /// exchanges through the management API, from a thread of its own, before returning.
    pub fn shutdown_blocking(&self) {
        if self.inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(s) = self.inner.supervisor.lock().expect("supervisor lock").take() {
            s.abort();
        }
        for (_, (_, task, _)) in self.inner.consumers.lock().expect("consumers lock").drain() {
            task.abort();
        }
        if !self.inner.keep {
            self.undeclare_blocking();
        }
    }

    /// Stops consuming and, unless asked to keep them, deletes what this platform declared
    /// (its queues and its prefixed exchanges), then closes the connection.
    pub async fn shutdown(&self) {
        if self.inner.stopping.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(s) = self.inner.supervisor.lock().expect("supervisor lock").take() {
            s.abort();
        }
        let consumers: Vec<_> = self.inner.consumers.lock().expect("consumers lock").drain().map(|(_, c)| c).collect();
        for (_, task, channel) in consumers {
            // Closed cleanly, so the connection never closes under a channel still closing.
            close_channel(&channel, "platform stopped").await;
            task.abort();
        }
        let Some(session) = self.inner.session.write().await.take() else { return };
        if !self.inner.keep {
            self.undeclare(&session).await;
        }
        close_channel(&session.publish, "platform stopped").await;
        let _ = session.conn.close(200, ShortString::from("platform stopped")).await;
        self.inner.connected.send_replace(false);
        // The embedded broker stops with its platform: its clients are told
        // (`CONNECTION_FORCED`), as a RabbitMQ node going down tells them.
        if let Some(embedded) = self.embedded() {
            embedded.shutdown().await;
        }
    }
}

/// Closes a channel unless the broker already closed it (a failed declare closes the
/// channel on the broker's side; closing it again only logs an error).
pub(super) async fn close_channel(channel: &Channel, reason: &str) {
    if channel.status().connected() {
        let _ = channel.close(200, ShortString::from(reason.to_string())).await;
    }
}

/// RabbitMQ's management API for the broker at `endpoint`.
fn management_of(endpoint: &Endpoint) -> Result<Arc<dyn BrokerAdmin>, String> {
    let m = Management::new(
        &endpoint.management_host,
        endpoint.management_port,
        &endpoint.username,
        &endpoint.password,
        &endpoint.vhost,
    )?;
    Ok(Arc::new(m))
}
