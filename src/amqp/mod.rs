//! RabbitMQ: the platform's side of the AMQP transport, on a real broker.
//!
//! A [`Broker`] belongs to one platform instance. It
//! - provisions exactly what the platform provisions (`rabbitmq.js`
//!   `registerConnectorQueues`): the durable direct exchanges `amqp.connector.exchange`
//!   and `amqp.worker.exchange`, and per connector the durable queues `listen_<id>` and
//!   `push_<id>` with the arguments `{name, config: {id, type, scope}, x-queue-type:
//!   classic}`, bound with `listen_routing_<id>` / `push_routing_<id>`; plus the internal
//!   dead-letter queue `listen_too-large-bundle`. It re-declares on every registration and
//!   every ping, deletes on `deleteConnector`, purges through the management API on
//!   `resetStateConnector`. Every name carries the instance's `rabbitmq:queue_prefix`, so
//!   parallel platforms on one broker never collide; what the instance declared is removed
//!   when it stops (unless `mock.keep_broker_objects`);
//! - plays the worker: one consumer per push queue (prefetch `mock.amqp_prefetch`), each
//!   delivery decoded ([`crate::ingest::message`]) and handed to the same ingest worker as
//!   `stixBundlePush`; it is acknowledged only once the worker has processed it, rejected
//!   without requeue when invalid (as the worker nacks), and a message redelivered after
//!   a lost connection is not counted twice;
//! - publishes (persistent, confirmed) to `listen_<id>` for jobs and to the dead-letter
//!   queue;
//! - reconnects on its own when the connection drops (broker restart, connection closed
//!   from the management UI), re-declares everything and resumes consuming.

pub mod container;
pub mod management;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions, BasicRejectOptions, ConfirmSelectOptions,
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use serde_json::{Value as Json, json};
use tokio::sync::{oneshot, watch};

use crate::config::RabbitMq;
use crate::ingest::Worker;
use crate::naming::QueueNames;
use crate::store::queues::PushMessage;
use crate::store::queues::{Outcome, Settle};
use crate::store::transcript::{EntryKind, ReceivedBundle, Refusal, RefusalKind};

use container::BrokerContainer;
use management::Management;

/// How long the first connection may take before the platform gives up on the broker.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reconnection back-off bounds.
const RECONNECT_MIN: Duration = Duration::from_millis(200);
const RECONNECT_MAX: Duration = Duration::from_secs(5);
/// Acknowledgements sent this long before a connection was lost may not have reached the
/// broker: their messages can come back and must not be counted twice.
const ACK_DOUBT: Duration = Duration::from_secs(2);
/// Processed messages remembered for redelivery detection.
const RECENT_ACKS: usize = 16_384;

/// The dead-letter queue's connector id (`too-large-bundle`).
pub const DEAD_LETTER_ID: &str = "too-large-bundle";

/// Where a broker is reached: what registration hands to connectors, less the advertised
/// host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host.
    pub host: String,
    /// AMQP port.
    pub port: u16,
    /// Virtual host.
    pub vhost: String,
    /// User.
    pub username: String,
    /// Password.
    pub password: String,
    /// TLS.
    pub use_ssl: bool,
    /// Management API host.
    pub management_host: String,
    /// Management API port.
    pub management_port: u16,
}

impl Endpoint {
    /// The broker of the `rabbitmq:*` settings.
    pub fn from_settings(r: &RabbitMq) -> Endpoint {
        Endpoint {
            host: r.hostname.clone(),
            port: r.port,
            vhost: r.vhost.clone(),
            username: r.username.clone(),
            password: r.password.clone(),
            use_ssl: r.use_ssl,
            management_host: r.hostname_management.clone().unwrap_or_else(|| r.hostname.clone()),
            management_port: r.port_management,
        }
    }

    /// `amqp://user@host:port/vhost`, without the password.
    pub fn display(&self) -> String {
        let scheme = if self.use_ssl { "amqps" } else { "amqp" };
        let vhost = if self.vhost == "/" { "%2F".to_string() } else { self.vhost.clone() };
        format!("{scheme}://{}@{}:{}/{vhost}", self.username, self.host, self.port)
    }

    fn uri(&self) -> lapin::uri::AMQPUri {
        lapin::uri::AMQPUri {
            scheme: if self.use_ssl { lapin::uri::AMQPScheme::AMQPS } else { lapin::uri::AMQPScheme::AMQP },
            authority: lapin::uri::AMQPAuthority {
                userinfo: lapin::uri::AMQPUserInfo { username: self.username.clone(), password: self.password.clone() },
                host: self.host.clone(),
                port: self.port,
            },
            vhost: self.vhost.clone(),
            query: Default::default(),
        }
    }
}

/// What a platform's queues are declared with: the connector's registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorSpec {
    /// Connector id.
    pub id: String,
    /// Name (queue argument `name`).
    pub name: String,
    /// Type (queue argument `config.type`).
    pub connector_type: String,
    /// Scope (queue argument `config.scope`; `null` when absent).
    pub scope: Option<Vec<String>>,
}

impl From<&crate::store::connectors::Connector> for ConnectorSpec {
    fn from(c: &crate::store::connectors::Connector) -> Self {
        ConnectorSpec {
            id: c.id().to_string(),
            name: c.registration.name.clone(),
            connector_type: c.registration.connector_type.clone(),
            scope: c.registration.scope.clone(),
        }
    }
}

/// The worker's dead letters go to the broker's dead-letter queue when there is a broker.
impl crate::ingest::dead_letters::DeadLetters for Link {
    fn send<'a>(
        &'a self,
        connector_id: &'a str,
        body: &'a [u8],
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send + 'a>> {
        Box::pin(async move {
            match self.broker() {
                Some(b) => match b.publish_dead_letter(connector_id, body).await {
                    Ok(()) => format!("to {}listen_{}", b.names().prefix(), DEAD_LETTER_ID),
                    Err(e) => format!("not published: {e}"),
                },
                None => crate::ingest::dead_letters::Kept.send(connector_id, body).await,
            }
        })
    }
}

/// The platform's broker, once known: set at start-up, or never (HTTP-only).
#[derive(Debug, Default)]
pub struct Link {
    broker: OnceLock<Broker>,
    http_only: OnceLock<String>,
}

impl Link {
    /// The connected broker, if any.
    pub fn broker(&self) -> Option<&Broker> {
        self.broker.get()
    }

    /// Installs the broker.
    pub fn set_broker(&self, broker: Broker) {
        let _ = self.broker.set(broker);
    }

    /// Records why the platform runs HTTP-only.
    pub fn set_http_only(&self, reason: String) {
        let _ = self.http_only.set(reason);
    }

    /// Why the platform runs HTTP-only, if it does.
    pub fn http_only_reason(&self) -> Option<&str> {
        self.http_only.get().map(String::as_str)
    }

    /// `/_mock/health`'s view of the transport.
    pub fn status(&self) -> Json {
        match self.broker() {
            Some(b) => json!({
                "mode": "amqp",
                "url": b.endpoint().display(),
                "management": b.management().base().as_str(),
                "connected": b.is_connected(),
                "queue_prefix": b.names().prefix(),
                "source": b.source(),
            }),
            None => json!({
                "mode": "http-only",
                "reason": self.http_only_reason().unwrap_or("no broker configured"),
            }),
        }
    }
}

/// One platform's connection to RabbitMQ. Cheap to clone.
#[derive(Clone)]
pub struct Broker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker").field("endpoint", &self.inner.endpoint.display()).finish_non_exhaustive()
    }
}

struct Inner {
    endpoint: Endpoint,
    names: QueueNames,
    connection_name: String,
    prefetch: u16,
    keep: bool,
    worker: Worker,
    management: Management,
    source: String,
    session: tokio::sync::RwLock<Option<Session>>,
    generation: Arc<AtomicU64>,
    connected: watch::Sender<bool>,
    connectors: Mutex<BTreeMap<String, ConnectorSpec>>,
    consumers: Mutex<HashMap<String, Consumer>>,
    dedup: Arc<Mutex<Dedup>>,
    stopping: AtomicBool,
    supervisor: Mutex<Option<tokio::task::JoinHandle<()>>>,
    _container: Option<BrokerContainer>,
}

/// A push-queue consumer: the connection generation it belongs to, its task, its channel.
type Consumer = (u64, tokio::task::JoinHandle<()>, Channel);

#[derive(Clone)]
struct Session {
    conn: Arc<Connection>,
    publish: Channel,
    generation: u64,
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
}

impl Broker {
    /// Connects to the broker and declares the platform's exchanges and internal queue;
    /// the error says why the broker cannot be used.
    pub async fn connect(endpoint: Endpoint, options: BrokerOptions, worker: Worker) -> Result<Broker, String> {
        Broker::connect_with(endpoint, options, worker, None, "configured broker".into()).await
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
        Broker::connect_with(endpoint, options, worker, Some(container), source).await
    }

    async fn connect_with(
        endpoint: Endpoint,
        options: BrokerOptions,
        worker: Worker,
        container: Option<BrokerContainer>,
        source: String,
    ) -> Result<Broker, String> {
        let management = Management::new(
            &endpoint.management_host,
            endpoint.management_port,
            &endpoint.username,
            &endpoint.password,
            &endpoint.vhost,
        )?;
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
                management,
                source,
                session: tokio::sync::RwLock::new(None),
                generation: Arc::new(AtomicU64::new(0)),
                connected,
                connectors: Mutex::default(),
                consumers: Mutex::default(),
                dedup: Arc::default(),
                stopping: AtomicBool::new(false),
                supervisor: Mutex::new(None),
                _container: container,
            }),
        };
        let session = broker.open().await?;
        // The platform reads queue figures and purges through the management API.
        if let Err(e) = broker.inner.management.check().await {
            broker.note(format!("broker management API unavailable ({e}): queue figures read 0 and resets purge over AMQP"));
        }
        let events = session.conn.events_listener();
        *broker.inner.session.write().await = Some(session);
        broker.inner.connected.send_replace(true);
        let supervisor = tokio::spawn(broker.clone().supervise(events));
        *broker.inner.supervisor.lock().expect("supervisor lock") = Some(supervisor);
        Ok(broker)
    }

    /// The broker's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The management API client.
    pub fn management(&self) -> &Management {
        &self.inner.management
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
    pub fn connection_name(&self) -> &str {
        &self.inner.connection_name
    }

    /// Whether the connection is up right now.
    pub fn is_connected(&self) -> bool {
        *self.inner.connected.borrow()
    }

    /// Waits until the connection is up (after a reconnection), at most `timeout`.
    pub async fn wait_connected(&self, timeout: Duration) -> bool {
        let mut rx = self.inner.connected.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|c| *c)).await.is_ok_and(|r| r.is_ok())
    }

    /// How many times the platform (re)connected.
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::SeqCst)
    }

    fn note(&self, message: String) {
        tracing::info!("{message}");
        let store = self.inner.worker.store();
        let now = store.clock().now();
        store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
    }

    fn worker_note(&self, connector_id: &str, work_id: Option<String>, message: String) {
        let store = self.inner.worker.store();
        let now = store.clock().now();
        store.write(|s| s.transcript.push(now, EntryKind::Worker { connector_id: connector_id.to_string(), work_id, message }));
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
        self.declare_exchanges(&channel).await?;
        let dead_letter = ConnectorSpec {
            id: DEAD_LETTER_ID.into(),
            name: "Dead letter queue".into(),
            connector_type: "INTERNAL_INGESTION".into(),
            scope: Some(vec!["dead letter".into()]),
        };
        self.declare_listen(&channel, &dead_letter).await?;
        let known: Vec<ConnectorSpec> = self.inner.connectors.lock().expect("connectors lock").values().cloned().collect();
        for spec in &known {
            self.declare_connector(&channel, spec).await?;
        }
        close_channel(&channel, "declared").await;
        for spec in &known {
            self.ensure_consumer(&session, &spec.id).await?;
        }
        Ok(session)
    }

    async fn declare_exchanges(&self, channel: &Channel) -> Result<(), String> {
        for exchange in [self.inner.names.connector_exchange(), self.inner.names.worker_exchange()] {
            channel
                .exchange_declare(
                    ShortString::from(exchange.clone()),
                    ExchangeKind::Direct,
                    ExchangeDeclareOptions { durable: true, ..Default::default() },
                    FieldTable::default(),
                )
                .await
                .map_err(|e| format!("cannot declare exchange {exchange}: {e}"))?;
        }
        Ok(())
    }

    /// The platform's queue arguments.
    fn queue_arguments(spec: &ConnectorSpec) -> FieldTable {
        let mut config = FieldTable::default();
        config.insert(ShortString::from("id"), AMQPValue::LongString(LongString::from(spec.id.clone())));
        config.insert(ShortString::from("type"), AMQPValue::LongString(LongString::from(spec.connector_type.clone())));
        let scope = match &spec.scope {
            Some(scope) => AMQPValue::FieldArray(FieldArray::from(
                scope.iter().map(|s| AMQPValue::LongString(LongString::from(s.clone()))).collect::<Vec<_>>(),
            )),
            None => AMQPValue::Void,
        };
        config.insert(ShortString::from("scope"), scope);
        let mut args = FieldTable::default();
        args.insert(ShortString::from("name"), AMQPValue::LongString(LongString::from(spec.name.clone())));
        args.insert(ShortString::from("config"), AMQPValue::FieldTable(config));
        args.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("classic")));
        args
    }

    async fn declare_queue(&self, channel: &Channel, queue: &str, spec: &ConnectorSpec) -> Result<(), String> {
        channel
            .queue_declare(
                ShortString::from(queue.to_string()),
                QueueDeclareOptions { durable: true, exclusive: false, auto_delete: false, ..Default::default() },
                Broker::queue_arguments(spec),
            )
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot declare queue {queue}: {e}"))
    }

    async fn bind(&self, channel: &Channel, queue: &str, exchange: &str, routing: &str) -> Result<(), String> {
        channel
            .queue_bind(
                ShortString::from(queue.to_string()),
                ShortString::from(exchange.to_string()),
                ShortString::from(routing.to_string()),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot bind {queue} to {exchange}: {e}"))
    }

    async fn declare_listen(&self, channel: &Channel, spec: &ConnectorSpec) -> Result<(), String> {
        let q = self.inner.names.connector(&spec.id);
        self.declare_queue(channel, &q.listen, spec).await?;
        self.bind(channel, &q.listen, &q.listen_exchange, &q.listen_routing).await
    }

    async fn declare_connector(&self, channel: &Channel, spec: &ConnectorSpec) -> Result<(), String> {
        self.declare_listen(channel, spec).await?;
        let q = self.inner.names.connector(&spec.id);
        self.declare_queue(channel, &q.push, spec).await?;
        self.bind(channel, &q.push, &q.push_exchange, &q.push_routing).await
    }

    async fn current(&self) -> Result<Session, String> {
        match self.inner.session.read().await.clone() {
            Some(s) if s.conn.status().connected() => Ok(s),
            _ => Err(format!("the broker {} is unreachable (reconnecting)", self.inner.endpoint.display())),
        }
    }

    /// `registerConnectorQueues`: declares the exchanges and the connector's queues and
    /// bindings (idempotent; called on registration and on every ping) and makes sure the
    /// worker consumes its push queue.
    pub async fn provision(&self, spec: ConnectorSpec) -> Result<(), String> {
        self.inner.connectors.lock().expect("connectors lock").insert(spec.id.clone(), spec.clone());
        let session = self.current().await?;
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        let result = async {
            self.declare_exchanges(&channel).await?;
            self.declare_connector(&channel, &spec).await
        }
        .await;
        close_channel(&channel, "declared").await;
        result?;
        self.ensure_consumer(&session, &spec.id).await
    }

    /// `deleteConnector`: stops consuming and deletes both queues (the exchanges stay).
    pub async fn remove(&self, connector_id: &str) -> Result<(), String> {
        self.inner.connectors.lock().expect("connectors lock").remove(connector_id);
        let consumer = self.inner.consumers.lock().expect("consumers lock").remove(connector_id);
        if let Some((_, task, channel)) = consumer {
            close_channel(&channel, "connector deleted").await;
            task.abort();
        }
        let session = self.current().await?;
        let q = self.inner.names.connector(connector_id);
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        for queue in [&q.listen, &q.push] {
            channel
                .queue_delete(ShortString::from(queue.clone()), QueueDeleteOptions::default())
                .await
                .map_err(|e| format!("cannot delete queue {queue}: {e}"))?;
        }
        close_channel(&channel, "deleted").await;
        Ok(())
    }

    /// `resetStateConnector`: empties both queues through the management API, as the
    /// platform does (over AMQP when the API is unavailable).
    pub async fn purge(&self, connector_id: &str) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        let mut failure = None;
        for queue in [&q.push, &q.listen] {
            if let Err(e) = self.inner.management.purge(queue).await {
                failure = Some(e);
            }
        }
        if let Some(e) = failure {
            let session = self.current().await?;
            let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
            for queue in [&q.push, &q.listen] {
                let _ = channel.queue_purge(ShortString::from(queue.clone()), Default::default()).await;
            }
            close_channel(&channel, "purged").await;
            self.note(format!("queues of {connector_id} purged over AMQP: the management API failed ({e})"));
        }
        Ok(())
    }

    /// Messages and bytes in a connector's push and listen queues, from the management API
    /// (which refreshes its figures every few seconds), summed as the platform sums them.
    pub async fn queue_figures(&self, connector_id: &str) -> Option<(u64, u64)> {
        let q = self.inner.names.connector(connector_id);
        let mut total = None;
        for queue in [&q.push, &q.listen] {
            if let Ok(Some(info)) = self.inner.management.queue(queue).await {
                let (n, b) = total.unwrap_or((0, 0));
                total = Some((n + info.messages, b + info.message_bytes));
            }
        }
        total
    }

    /// Messages ready in a connector's push queue right now (a passive declare: exact, unlike
    /// the management API's periodic figures); unacknowledged ones are not counted.
    pub async fn push_ready(&self, connector_id: &str) -> Result<u32, String> {
        let session = self.current().await?;
        let q = self.inner.names.connector(connector_id);
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        let declared = channel
            .queue_declare(
                ShortString::from(q.push.clone()),
                QueueDeclareOptions { passive: true, ..Default::default() },
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("{} is not declared: {e}", q.push));
        close_channel(&channel, "counted").await;
        declared.map(|d| d.message_count())
    }

    /// Publishes a persistent message and waits for the broker's confirmation.
    pub async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8]) -> Result<(), String> {
        let session = self.current().await?;
        let confirm = session
            .publish
            .basic_publish(
                ShortString::from(exchange.to_string()),
                ShortString::from(routing_key.to_string()),
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .map_err(|e| format!("publish to {exchange}/{routing_key} failed: {e}"))?;
        let confirmation = confirm.await.map_err(|e| format!("publish to {exchange}/{routing_key} failed: {e}"))?;
        if confirmation.is_nack() {
            return Err(format!("the broker refused the message for {exchange}/{routing_key} (basic.nack)"));
        }
        Ok(())
    }

    /// Sends a job to a connector: persistent publish to `amqp.connector.exchange` with
    /// `listen_routing_<id>`, landing in `listen_<id>` (`pushToConnector`).
    pub async fn publish_job(&self, connector_id: &str, job: &Json) -> Result<(), String> {
        self.publish_raw_job(connector_id, job.to_string().as_bytes()).await
    }

    /// [`Broker::publish_job`] with the message's exact bytes.
    pub async fn publish_raw_job(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.listen_exchange, &q.listen_routing, body).await
    }

    /// Puts a message on a connector's push queue, as `pushToWorkerForConnector` does.
    pub async fn publish_to_worker(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.push_exchange, &q.push_routing, body).await
    }

    /// Sends a message to the dead-letter queue (`listen_too-large-bundle`).
    pub async fn publish_dead_letter(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.listen_exchange, &q.dead_letter_routing, body).await
    }

    async fn ensure_consumer(&self, session: &Session, connector_id: &str) -> Result<(), String> {
        {
            let consumers = self.inner.consumers.lock().expect("consumers lock");
            if let Some((generation, task, _)) = consumers.get(connector_id)
                && *generation == session.generation
                && !task.is_finished()
            {
                return Ok(());
            }
        }
        let q = self.inner.names.connector(connector_id);
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        channel
            .basic_qos(self.inner.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("basic.qos refused: {e}"))?;
        let consumer = channel
            .basic_consume(
                ShortString::from(q.push.clone()),
                ShortString::from(format!("opencti-mock-worker-{connector_id}")),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume {}: {e}", q.push))?;
        let task = tokio::spawn(self.clone().consume(connector_id.to_string(), session.generation, channel.clone(), consumer));
        if let Some((_, old, _)) = self
            .inner
            .consumers
            .lock()
            .expect("consumers lock")
            .insert(connector_id.to_string(), (session.generation, task, channel))
        {
            old.abort();
        }
        Ok(())
    }

    async fn consume(self, connector_id: String, generation: u64, channel: Channel, mut consumer: lapin::Consumer) {
        while let Some(delivery) = consumer.next().await {
            let delivery = match delivery {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(connector_id, "push-queue consumer ended: {e}");
                    break;
                }
            };
            self.handle(&connector_id, generation, delivery).await;
        }
        drop(channel);
    }

    async fn handle(&self, connector_id: &str, generation: u64, delivery: lapin::message::Delivery) {
        let hash = {
            let mut h = rustc_hash::FxHasher::default();
            delivery.data.hash(&mut h);
            h.finish()
        };
        if self.inner.dedup.lock().expect("dedup lock").take_in_doubt(connector_id, hash) {
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            self.worker_note(
                connector_id,
                None,
                "redelivered message already processed before the connection was lost: acknowledged, not counted twice".into(),
            );
            return;
        }
        let decoded = match crate::ingest::message::decode(&delivery.data) {
            Ok(d) => d,
            Err(reason) => {
                let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
                let refusal = Refusal {
                    connector_id: connector_id.to_string(),
                    work_id: None,
                    kind: RefusalKind::Message,
                    reason,
                    source: None,
                };
                let store = self.inner.worker.store();
                let now = store.clock().now();
                store.write(|s| s.transcript.push(now, EntryKind::Refused(refusal)));
                return;
            }
        };
        let store = self.inner.worker.store();
        let now = store.clock().now();
        if let crate::store::queues::Content::Bundle { text, .. } = &decoded.content {
            let objects = crate::stix::BundleEnvelope::count_objects(text);
            store.write(|s| {
                s.transcript.push_bundle(
                    now,
                    ReceivedBundle {
                        connector_id: connector_id.to_string(),
                        work_id: decoded.meta.work_id.clone(),
                        transport: "amqp".into(),
                        bytes: decoded.content_bytes,
                        objects,
                        content: None,
                    },
                    text,
                )
            });
        }
        let (settle, done) = Settle::new(generation, self.inner.generation.clone());
        let mut push = PushMessage::new(Arc::new(decoded.meta), decoded.content);
        push.settle = Some(settle);
        self.inner.worker.enqueue(connector_id, push);
        let dedup = self.inner.dedup.clone();
        let connector_id = connector_id.to_string();
        tokio::spawn(async move { settle_delivery(delivery.acker, done, dedup, connector_id, generation, hash).await });
    }

    async fn supervise(self, events: impl futures_util::Stream<Item = lapin::Event> + Send + 'static) {
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
        let prefix = self.inner.names.prefix().to_string();
        if self.inner.keep || prefix.is_empty() {
            return;
        }
        let management = self.inner.management.clone();
        let exchanges = [self.inner.names.connector_exchange(), self.inner.names.worker_exchange()];
        let cleanup = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async {
                if let Ok(queues) = management.queues_with_prefix(&prefix).await {
                    for q in queues {
                        let _ = management.delete_queue(&q.name).await;
                    }
                }
                for e in &exchanges {
                    let _ = management.delete_exchange(e).await;
                }
            });
        });
        let _ = cleanup.join();
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
        if !self.inner.keep
            && let Ok(channel) = session.conn.create_channel().await
        {
            let ids: Vec<String> = self.inner.connectors.lock().expect("connectors lock").keys().cloned().collect();
            for id in ids.iter().map(String::as_str).chain([DEAD_LETTER_ID]) {
                let q = self.inner.names.connector(id);
                for queue in [q.listen, q.push] {
                    let _ = channel.queue_delete(ShortString::from(queue), QueueDeleteOptions::default()).await;
                }
            }
            // Exchanges are only removed when they are this platform's own (prefixed).
            if !self.inner.names.prefix().is_empty() {
                for exchange in [self.inner.names.connector_exchange(), self.inner.names.worker_exchange()] {
                    let _ = channel.exchange_delete(ShortString::from(exchange), ExchangeDeleteOptions::default()).await;
                }
            }
            close_channel(&channel, "cleaned up").await;
        }
        close_channel(&session.publish, "platform stopped").await;
        let _ = session.conn.close(200, ShortString::from("platform stopped")).await;
        self.inner.connected.send_replace(false);
    }
}

/// Closes a channel unless the broker already closed it (a failed declare closes the
/// channel on the broker's side; closing it again only logs an error).
async fn close_channel(channel: &Channel, reason: &str) {
    if channel.status().connected() {
        let _ = channel.close(200, ShortString::from(reason.to_string())).await;
    }
}

async fn settle_delivery(
    acker: lapin::Acker,
    done: oneshot::Receiver<Outcome>,
    dedup: Arc<Mutex<Dedup>>,
    connector_id: String,
    generation: u64,
    hash: u64,
) {
    // The platform stopped before processing it: the broker keeps it.
    let Ok(outcome) = done.await else { return };
    match outcome {
        Outcome::Ack => {
            let token = dedup.lock().expect("dedup lock").processed(&connector_id, generation, hash);
            if acker.ack(BasicAckOptions::default()).await.is_err() {
                dedup.lock().expect("dedup lock").ack_failed(token);
            }
        }
        Outcome::Reject(_) => {
            let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
        }
    }
}

/// Which processed messages may come back from the broker.
///
/// A message is acknowledged only after it has been processed. If the connection drops
/// between the two, or the acknowledgement is lost with it, the broker delivers the message
/// again and it must not be counted twice. A processed message is "in doubt" when its
/// acknowledgement failed, was sent on a connection already lost, or was sent shortly
/// before the connection was lost; a later delivery with the same body takes one doubt
/// instead of being processed. (The `redelivered` flag is not relied on: a broker restart
/// does not always keep it.)
#[derive(Debug, Default)]
struct Dedup {
    recent: VecDeque<Processed>,
    in_doubt: HashMap<(String, u64), u32>,
    /// The newest connection generation known to be lost.
    lost_up_to: u64,
    next_token: u64,
}

/// A processed message whose acknowledgement is being sent or was sent.
#[derive(Debug)]
struct Processed {
    token: u64,
    generation: u64,
    at: Instant,
    connector_id: String,
    hash: u64,
    doubted: bool,
}

impl Dedup {
    /// Records a processed message about to be acknowledged on connection `generation`.
    fn processed(&mut self, connector_id: &str, generation: u64, hash: u64) -> u64 {
        self.next_token += 1;
        let mut entry = Processed {
            token: self.next_token,
            generation,
            at: Instant::now(),
            connector_id: connector_id.to_string(),
            hash,
            doubted: false,
        };
        // An acknowledgement sent on a connection already lost never reaches the broker.
        if generation <= self.lost_up_to {
            self.doubt(&mut entry);
        }
        if self.recent.len() >= RECENT_ACKS {
            self.recent.pop_front();
        }
        self.recent.push_back(entry);
        self.next_token
    }

    fn doubt_entry(in_doubt: &mut HashMap<(String, u64), u32>, entry: &mut Processed) {
        if !entry.doubted {
            entry.doubted = true;
            *in_doubt.entry((entry.connector_id.clone(), entry.hash)).or_default() += 1;
        }
    }

    fn doubt(&mut self, entry: &mut Processed) {
        Dedup::doubt_entry(&mut self.in_doubt, entry);
    }

    /// The acknowledgement of `token` failed.
    fn ack_failed(&mut self, token: u64) {
        let Dedup { recent, in_doubt, .. } = self;
        if let Some(entry) = recent.iter_mut().rev().find(|e| e.token == token) {
            Dedup::doubt_entry(in_doubt, entry);
        }
    }

    fn connection_lost(&mut self, generation: u64) {
        self.lost_up_to = self.lost_up_to.max(generation);
        let horizon = Instant::now().checked_sub(ACK_DOUBT);
        let Dedup { recent, in_doubt, .. } = self;
        for entry in recent.iter_mut() {
            if entry.generation <= generation && horizon.is_none_or(|h| entry.at >= h) {
                Dedup::doubt_entry(in_doubt, entry);
            }
        }
    }

    fn take_in_doubt(&mut self, connector_id: &str, hash: u64) -> bool {
        if self.in_doubt.is_empty() {
            return false;
        }
        let key = (connector_id.to_string(), hash);
        match self.in_doubt.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                true
            }
            Some(_) => {
                self.in_doubt.remove(&key);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_ack_makes_the_redelivery_a_duplicate() {
        let mut d = Dedup::default();
        let token = d.processed("c", 1, 42);
        assert!(!d.take_in_doubt("c", 42), "not in doubt while its ack may succeed");
        d.ack_failed(token);
        d.ack_failed(token);
        assert!(d.take_in_doubt("c", 42));
        assert!(!d.take_in_doubt("c", 42), "each doubt is taken once");
    }

    #[test]
    fn acks_just_before_a_lost_connection_are_in_doubt() {
        let mut d = Dedup::default();
        d.processed("c", 1, 7);
        d.processed("c", 2, 8);
        d.connection_lost(1);
        d.connection_lost(1);
        assert!(d.take_in_doubt("c", 7));
        assert!(!d.take_in_doubt("c", 7), "doubted once");
        assert!(!d.take_in_doubt("c", 8), "acked on another connection");
        assert!(!d.take_in_doubt("other", 7));
        d.processed("c", 1, 9);
        assert!(d.take_in_doubt("c", 9), "acknowledged on a connection already lost");
    }

    #[test]
    fn queue_arguments_are_the_platform_s() {
        let spec = ConnectorSpec {
            id: "id1".into(),
            name: "Importer".into(),
            connector_type: "EXTERNAL_IMPORT".into(),
            scope: Some(vec!["a".into()]),
        };
        let args = Broker::queue_arguments(&spec);
        let inner = args.inner();
        assert!(matches!(inner.get("name"), Some(AMQPValue::LongString(_))));
        assert!(matches!(inner.get("x-queue-type"), Some(AMQPValue::LongString(s)) if s.to_string() == "classic"));
        let Some(AMQPValue::FieldTable(config)) = inner.get("config") else { panic!("config is a table") };
        assert!(matches!(config.inner().get("scope"), Some(AMQPValue::FieldArray(a)) if a.as_slice().len() == 1));
    }
}
