//! Starting a platform: the one serve function, the public test handle, its builder.
//!
//! [`Platform::new`] assembles the services of one instance ([`Core`]) from settings;
//! [`Platform::serve`] is the only place in the workspace that runs an HTTP server, and
//! both the CLI (`opencti-mock serve`) and [`MockPlatform`] go through it. A
//! [`MockPlatform`] is the in-process handle for Rust tests: it binds a random port by
//! default, exposes the state and transcript, and verifies mounted expectations when it
//! is dropped (logging instead of panicking if the thread is already panicking).
//!
//! Every task a platform starts runs under its [`Tasks`] (in [`Core`]): one cancellation
//! token, one tracker. [`Platform::serve`] ends by cancelling the token, shutting the
//! broker down and waiting for the tracker, so once it returns — and so once
//! [`MockPlatform::close`] returns — nothing the platform started is running. Dropping a
//! [`MockPlatform`] cannot wait, but cancels the token: every task then ends on its own.

mod builder;
mod connector_env;
mod handle;
pub mod scenario;
mod streams;

pub use builder::MockPlatformBuilder;
pub use connector_env::ConnectorEnv;
pub use handle::MockPlatform;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::tasks::Tasks;

use crate::amqp::{Broker, BrokerOptions, Endpoint};
use crate::config::{BrokerMode, Settings};
use crate::core::Core;
use crate::error::{Error, Result};
use crate::http::{AppState, router};
use crate::ingest::Worker;
use crate::keys::ConnectorKeys;
use crate::naming::QueueNames;
use crate::store::transcript::EntryKind;
use crate::store::{Clock, Store};

/// How long in-flight requests get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long the platform's tasks get to end once cancelled. They end as soon as they see
/// the cancellation; past this, the stop logs the ones left and returns anyway.
const TASKS_BOUND: Duration = Duration::from_secs(10);

/// One platform instance, ready to serve.
pub struct Platform {
    core: Core,
    schema: async_graphql::dynamic::Schema,
}

impl Platform {
    /// Assembles a platform from settings. `public_url` is what connectors are told to use
    /// (the bound address when `app.base_url` is not set).
    pub fn new(settings: Settings, clock: Clock, public_url: String) -> Result<Platform> {
        let admin_token = settings.app.admin.token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let retention = settings.transcript_retention().map_err(|e| Error::Config(e.to_string()))?;
        // The checks' tables are built once per process, off the start-up path. A plain
        // thread, not a platform task: it is the process's (a `OnceLock`), owes nothing to
        // this platform, holds none of its state and ends on its own in milliseconds.
        std::thread::spawn(crate::ingest::rules::warm_up);
        let store = Store::new(settings.mock.profile, &admin_token, clock, retention);
        let now = store.clock().now();
        store.write(|s| {
            s.queues.throttle.delay = Duration::from_millis(settings.mock.ingest_delay_ms);
            s.queues.throttle.paused = settings.mock.ingest_paused;
            let (min, max) = (settings.mock.missing_ref_retry_min_ms, settings.mock.missing_ref_retry_max_ms);
            s.queues.retry_delay = (Duration::from_millis(min.min(max)), Duration::from_millis(max.max(min)));
            s.knowledge.event_log_mut().set_retention(settings.app.live_stream.retention);
            for spec in &settings.mock.connector_users {
                let (name, token) = match spec.split_once('=') {
                    Some((n, t)) => (n, Some(t)),
                    None => (spec.as_str(), None),
                };
                if let Some(holder) = token.and_then(|t| s.users.token_holder(t)) {
                    return Err(Error::Config(format!(
                        "connector user '{name}': its token is already the token of user '{}'; every token must be unique",
                        holder.name
                    )));
                }
                s.users.add_connector_user(name, token, now);
            }
            Ok(())
        })?;
        crate::ingest::seed_built_ins(&store).map_err(|e| Error::Config(format!("built-in marking refused: {e}")))?;
        store.write(|s| s.queues.objects_max_refs = settings.mock.objects_max_refs);
        let tasks = Tasks::new();
        let amqp = Arc::new(crate::amqp::Link::default());
        let worker = Worker::new(store.clone(), tasks.clone(), amqp.clone());
        // Platforms sharing a broker must not share queues: unless a prefix is configured,
        // each instance that may use a broker takes its own.
        let prefix = match (&settings.rabbitmq.queue_prefix, settings.mock.broker) {
            (Some(p), _) => Some(p.clone()),
            (None, BrokerMode::Off) => None,
            (None, _) => Some(format!("mock{}", &uuid::Uuid::new_v4().simple().to_string()[..8])),
        };
        let names = QueueNames::new(prefix.as_deref());
        let (settings, keys) = (Arc::new(settings), Arc::new(ConnectorKeys::generate()));
        let jobs = crate::jobs::Dispatcher::new(store.clone(), settings.clone(), keys.clone(), amqp.clone(), tasks.clone());
        let core = Core { store, worker, settings, keys, names, public_url: public_url.into(), amqp, jobs, tasks };
        let schema = crate::graphql::shared_schema().map_err(Error::Other)?;
        Ok(Platform { core, schema })
    }

    /// The platform's services.
    pub fn core(&self) -> &Core {
        &self.core
    }

    /// The admin token.
    pub fn admin_token(&self) -> String {
        self.core.store.read(|s| s.users.admin().api_tokens[0].token.clone())
    }

    /// Connects the platform to its broker according to `mock.broker`: the configured
    /// RabbitMQ, else (`auto`) the embedded broker; the embedded broker (`embedded`); a
    /// throwaway container (`container`); none (`off`). A broker asked for and not usable is
    /// an error. The outcome is logged and written to the transcript.
    pub async fn connect_broker(&self) -> Result<()> {
        let settings = &self.core.settings;
        let note = |message: String| {
            tracing::info!("{message}");
            let now = self.core.store.clock().now();
            self.core.store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
        };
        if settings.mock.broker == BrokerMode::Off {
            let reason = "broker disabled (mock.broker = off)".to_string();
            note(format!("HTTP-only mode: {reason}; bundles go through stixBundlePush"));
            self.core.amqp.set_http_only(reason);
            return Ok(());
        }
        let options = BrokerOptions {
            names: self.core.names.clone(),
            prefetch: settings.mock.amqp_prefetch,
            keep: settings.mock.keep_broker_objects,
            tasks: self.core.tasks.clone(),
        };
        let worker = self.core.worker.clone();
        let endpoint = Endpoint::from_settings(&settings.rabbitmq);
        let connected = match settings.mock.broker {
            BrokerMode::Off => unreachable!("handled above"),
            BrokerMode::RabbitMq => Broker::connect(endpoint, options, worker)
                .await
                .map_err(|e| format!("a RabbitMQ broker is required (mock.broker = rabbitmq) but it is not usable: {e}")),
            BrokerMode::Embedded => self.embedded(options).await,
            BrokerMode::Container => match crate::amqp::container::docker_available() {
                Ok(()) => {
                    note(format!(
                        "starting a RabbitMQ container ({}:{})",
                        crate::amqp::container::IMAGE,
                        crate::amqp::container::TAG
                    ));
                    match crate::amqp::container::start().await {
                        Ok(c) => Broker::connect_container(c, options, worker).await,
                        Err(e) => Err(format!("a RabbitMQ container was asked for (mock.broker = container): {e}")),
                    }
                }
                Err(d) => Err(format!("a RabbitMQ container was asked for (mock.broker = container) but {d}")),
            },
            BrokerMode::Auto => match Broker::connect(endpoint, options.clone(), worker).await {
                Ok(b) => Ok(b),
                Err(e) => {
                    note(format!("no RabbitMQ: {e}; starting the embedded broker"));
                    self.embedded(options).await
                }
            },
        };
        match connected {
            Ok(broker) => {
                note(format!(
                    "broker ({}): connected to {} ({}), queue prefix '{}'",
                    broker.kind().name(),
                    broker.endpoint().display(),
                    broker.source(),
                    broker.names().prefix()
                ));
                self.core.amqp.set_broker(broker);
                Ok(())
            }
            Err(reason) => Err(Error::Config(reason)),
        }
    }

    /// Starts the embedded broker (on `mock.embedded_broker_address`, with the `rabbitmq:*`
    /// user and vhost) and connects the platform to it.
    async fn embedded(&self, options: BrokerOptions) -> std::result::Result<Broker, String> {
        let settings = &self.core.settings;
        let address = &settings.mock.embedded_broker_address;
        let listen = address
            .parse()
            .map_err(|e| format!("mock.embedded_broker_address '{address}' is not an address (host:port): {e}"))?;
        let embedded_options = crate::embedded_broker::EmbeddedOptions {
            listen,
            username: settings.rabbitmq.username.clone(),
            password: settings.rabbitmq.password.clone(),
            vhost: settings.rabbitmq.vhost.clone(),
            ..Default::default()
        };
        let embedded = crate::embedded_broker::EmbeddedBroker::start(embedded_options)
            .await
            .map_err(|e| format!("the embedded broker cannot listen on {address}: {e}"))?;
        Broker::connect_embedded(embedded, options, self.core.worker.clone()).await
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then stops the platform: the
    /// token is cancelled, the broker shut down, and every task the platform started has
    /// ended when this returns (or, past a generous bound, is logged by kind).
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        let settings = self.core.settings.clone();
        let state = AppState {
            core: self.core.clone(),
            schema: self.schema.clone(),
            limit: settings.max_payload_bytes().map_err(|e| Error::Config(e.to_string()))?,
            introspection: !settings.app.graphql.playground.force_disabled_introspection,
            playground: settings.app.graphql.playground.enabled,
        };
        let tasks = self.core.tasks.clone();
        tasks.spawn("auto enrichment", crate::jobs::run_auto_enrichment(self.core.jobs.clone(), tasks.token().clone()));
        let (grace_tx, mut grace_rx) = watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = grace_tx.send(true);
        };
        let timeouts = crate::http::serve::Timeouts::of(&self.core.settings);
        let server = crate::http::serve::serve(listener, router(state), timeouts, &tasks, signal);
        tokio::pin!(server);
        tokio::select! {
            () = &mut server => {},
            _ = async {
                let _ = grace_rx.wait_for(|v| *v).await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } => {},
        };
        tasks.cancel();
        if let Some(broker) = self.core.amqp.broker() {
            broker.shutdown().await;
        }
        if let Err(left) = tasks.close_and_wait(TASKS_BOUND).await {
            let left: Vec<String> = left.iter().map(|(kind, n)| format!("{n} {kind}")).collect();
            tracing::error!("platform stopped with tasks still running after {TASKS_BOUND:?}: {}", left.join(", "));
        }
        Ok(())
    }
}

/// The URL a listener is reachable at, for connectors on this host.
pub fn local_url(addr: SocketAddr) -> String {
    let host = if addr.ip().is_unspecified() { "127.0.0.1".to_string() } else { addr.ip().to_string() };
    match addr.ip() {
        std::net::IpAddr::V6(_) if !addr.ip().is_unspecified() => format!("http://[{host}]:{}", addr.port()),
        _ => format!("http://{host}:{}", addr.port()),
    }
}
