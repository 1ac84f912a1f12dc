//! An AMQP 0-9-1 broker inside the mock, for machines without RabbitMQ.
//!
//! pycti's default transport is RabbitMQ, and so is almost every connector's deployment:
//! without a broker an unchanged connector cannot run in its default mode. No
//! production-grade AMQP 0-9-1 server exists in Rust to reuse, but the protocol's codec
//! does — `amq-protocol`, the one lapin is built on — so this broker implements the
//! protocol's *behaviour* on it: exactly what pika's `BlockingConnection` (as pycti drives
//! it) and lapin (as the platform and the Rust connector kit drive it) need, answered as
//! RabbitMQ answers, and a clear `NOT_IMPLEMENTED` naming anything else. It is a product
//! feature, proven against the real broker by differential tests (the same client
//! conversations against both, compared); the tests of the platform's RabbitMQ behaviour
//! keep running on the real broker.
//!
//! What it implements: the handshake with PLAIN authentication against one user and one
//! vhost, heartbeats, channels, `basic.qos` (per consumer and per channel), direct,
//! fanout and topic exchanges and the default exchange, queue and exchange declaration
//! with RabbitMQ's equivalence rules and errors, bindings, purge, delete (`if-unused`,
//! `if-empty`), exclusive and auto-delete queues, `basic.publish` (`mandatory` returns),
//! publisher confirms, `basic.consume`/`deliver`/`ack`/`nack`/`reject` with requeue to the
//! original place and `redelivered`, `basic.get`, `basic.cancel` (and cancel notification
//! when a queue goes), `basic.recover`, the largest message accepted, memory alarms
//! (`connection.blocked`/`unblocked`, publishers not read), clean close. What it does not:
//! persistence to disk (a [`EmbeddedBroker::restart`] keeps durable objects and
//! persistent messages in memory), transactions, exchange-to-exchange bindings, headers
//! exchanges, queue arguments other than `x-queue-type: classic`, TLS, other vhosts.
//!
//! The files, one concern each:
//! - `wire.rs`: frames in and out through the codec, the frame-size check ([`wire`]);
//! - `reply.rs`: errors as RabbitMQ words them, channel or connection ([`reply`]);
//! - `exchange.rs`: exchange types and routing ([`exchange`]);
//! - `queue.rs`: a queue's messages in order, its consumers, its arguments;
//! - `state.rs`: the broker's state under one lock: connections, channels, delivery;
//! - `methods.rs`: the methods of the exchange, queue, basic and confirm classes;
//! - `connection.rs`: a socket: the handshake, reading frames, writing them, heartbeats;
//! - this file: [`EmbeddedBroker`], starting and stopping it, and what an operator sees and
//!   does (what RabbitMQ's management API and `rabbitmqctl` give: queue figures, purges,
//!   deletions, closing connections, alarms, restarts).

pub mod exchange;
pub mod reply;
pub mod wire;

mod connection;
mod methods;
mod queue;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use reply::{Reply, code};
use state::State;

/// How an embedded broker is set up.
///
/// ```
/// use opencti_mock::embedded_broker::EmbeddedOptions;
/// let o = EmbeddedOptions::default();
/// // loopback, an ephemeral port, RabbitMQ's defaults
/// assert_eq!((o.listen.port(), o.username.as_str(), o.vhost.as_str(), o.heartbeat), (0, "guest", "/", 60));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedOptions {
    /// Where it listens (default `127.0.0.1:0`: loopback, a free port).
    pub listen: SocketAddr,
    /// The one user.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The one vhost.
    pub vhost: String,
    /// The heartbeat proposed to clients, in seconds (RabbitMQ: 60).
    pub heartbeat: u16,
    /// The largest frame proposed (RabbitMQ: 131072).
    pub frame_max: u32,
    /// The largest message body accepted (RabbitMQ 3.x: 128 MiB).
    pub max_message_size: u64,
}

impl Default for EmbeddedOptions {
    fn default() -> Self {
        EmbeddedOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            username: "guest".into(),
            password: "guest".into(),
            vhost: "/".into(),
            heartbeat: 60,
            frame_max: 131_072,
            max_message_size: 134_217_728,
        }
    }
}

/// What the broker's tasks share.
struct Shared {
    options: EmbeddedOptions,
    state: Mutex<State>,
    alarm: watch::Sender<bool>,
    /// Restarting: connections are accepted and closed at once.
    down: watch::Sender<bool>,
    token: CancellationToken,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Stops the broker when the last handle goes.
struct Stop(CancellationToken);

impl Drop for Stop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

/// A running embedded broker. Cheap to clone; it stops when the last clone is dropped
/// (or at [`EmbeddedBroker::shutdown`]).
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::embedded_broker::{EmbeddedBroker, EmbeddedOptions};
/// let broker = EmbeddedBroker::start(EmbeddedOptions::default()).await.unwrap();
/// assert!(broker.url().starts_with("amqp://guest:guest@127.0.0.1:"));
/// assert!(broker.queues().is_empty());
/// # }
/// ```
#[derive(Clone)]
pub struct EmbeddedBroker {
    shared: Arc<Shared>,
    addr: SocketAddr,
    _stop: Arc<Stop>,
}

impl std::fmt::Debug for EmbeddedBroker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedBroker").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// A queue as an operator sees it (RabbitMQ's management API fields).
#[derive(Debug, Clone, PartialEq)]
pub struct QueueFigures {
    /// Name.
    pub name: String,
    /// Ready plus unacknowledged messages.
    pub messages: u64,
    /// Ready messages.
    pub messages_ready: u64,
    /// Delivered, not yet acknowledged.
    pub messages_unacknowledged: u64,
    /// Bytes of those messages' bodies.
    pub message_bytes: u64,
    /// Consumers attached.
    pub consumers: u64,
    /// Durable.
    pub durable: bool,
    /// Declared arguments, as JSON.
    pub arguments: serde_json::Value,
}

/// A connection as an operator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionFigures {
    /// The client's `connection_name`, if any.
    pub name: Option<String>,
    /// Where it comes from.
    pub peer: SocketAddr,
    /// The user.
    pub user: String,
    /// Open channels.
    pub channels: usize,
    /// Blocked by a memory alarm.
    pub blocked: bool,
    /// The queues its consumers read.
    pub consuming: Vec<String>,
}

impl EmbeddedBroker {
    /// Starts listening and serving.
    pub async fn start(options: EmbeddedOptions) -> std::io::Result<EmbeddedBroker> {
        let listener = TcpListener::bind(options.listen).await?;
        let addr = listener.local_addr()?;
        let token = CancellationToken::new();
        let (alarm, _) = watch::channel(false);
        let (down, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(options.vhost.clone(), options.max_message_size)),
            options,
            alarm,
            down,
            token: token.clone(),
        });
        let accepting = shared.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    () = accepting.token.cancelled() => break,
                };
                match accepted {
                    Ok((socket, _)) if *accepting.down.borrow() => drop(socket),
                    Ok((socket, peer)) => {
                        tokio::spawn(connection::serve(accepting.clone(), socket, peer));
                    }
                    Err(e) => {
                        tracing::warn!("embedded broker: accept failed: {e}");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                }
            }
        });
        tracing::info!("embedded AMQP broker listening on {addr}");
        Ok(EmbeddedBroker { shared, addr, _stop: Arc::new(Stop(token)) })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The options it runs with.
    pub fn options(&self) -> &EmbeddedOptions {
        &self.shared.options
    }

    /// `amqp://user:password@host:port/vhost` (the vhost percent-encoded).
    #[cfg(feature = "internals")]
    pub fn url(&self) -> String {
        let o = &self.shared.options;
        let vhost = if o.vhost == "/" { "%2F".to_string() } else { o.vhost.replace('%', "%25").replace('/', "%2F") };
        format!("amqp://{}:{}@{}/{vhost}", o.username, o.password, self.addr)
    }

    /// A queue's figures; `None` when it does not exist.
    pub fn queue(&self, name: &str) -> Option<QueueFigures> {
        self.shared.state().queues.get(name).map(figures)
    }

    /// Every queue's figures, by name.
    pub fn queues(&self) -> Vec<QueueFigures> {
        self.shared.state().queues.values().map(figures).collect()
    }

    /// Empties a queue's ready messages; `None` when it does not exist.
    pub fn purge(&self, queue: &str) -> Option<usize> {
        self.shared.state().queues.get_mut(queue).map(|q| q.purge())
    }

    /// Deletes a queue (its consumers are cancelled); whether it existed.
    pub fn delete_queue(&self, queue: &str) -> bool {
        let mut state = self.shared.state();
        let existed = state.queues.contains_key(queue);
        state.remove_queue(queue);
        existed
    }

    /// Deletes an exchange; whether it existed.
    pub fn delete_exchange(&self, name: &str) -> bool {
        self.shared.state().exchanges.remove(name).is_some()
    }

    /// The open connections.
    pub fn connections(&self) -> Vec<ConnectionFigures> {
        let state = self.shared.state();
        let mut all: Vec<(u64, ConnectionFigures)> =
            state.connections.iter().filter(|(_, c)| !c.closing).map(|(id, c)| (*id, connection_figures(c))).collect();
        all.sort_by_key(|(id, _)| *id);
        all.into_iter().map(|(_, c)| c).collect()
    }

    /// Closes the connections `which` selects, with `CONNECTION_FORCED` and `reason` (as
    /// closing one from RabbitMQ's management UI); returns how many.
    pub fn close_connections(&self, which: impl Fn(&ConnectionFigures) -> bool, reason: &str) -> usize {
        let mut state = self.shared.state();
        let ids: Vec<u64> = state.connections.iter().filter(|(_, c)| !c.closing && which(&connection_figures(c))).map(|(id, _)| *id).collect();
        for id in &ids {
            state.close_connection(*id, Reply::connection(code::CONNECTION_FORCED, reason, (0, 0)));
        }
        ids.len()
    }

    /// Closes the connections that consume from `queue`; returns how many.
    pub fn close_consumers_of(&self, queue: &str, reason: &str) -> usize {
        self.close_connections(|c| c.consuming.iter().any(|q| q == queue), reason)
    }

    /// Raises (or clears) a memory alarm, as RabbitMQ's memory watermark does: publishing
    /// connections are blocked — told with `connection.blocked` — and not read until it
    /// clears.
    pub fn set_memory_alarm(&self, on: bool) {
        self.shared.state().set_alarm(on);
        self.shared.alarm.send_replace(on);
    }

    /// Whether a memory alarm is raised.
    pub fn memory_alarm(&self) -> bool {
        self.shared.state().alarm
    }

    /// Sets the largest message body accepted (RabbitMQ's `max_message_size`).
    pub fn set_max_message_size(&self, bytes: u64) {
        self.shared.state().max_message_size = bytes;
    }

    /// The largest message body accepted.
    pub fn max_message_size(&self) -> u64 {
        self.shared.state().max_message_size
    }

    /// Restarts the broker as a node restart would (`rabbitmqctl stop_app`, `start_app`):
    /// every connection is closed (`CONNECTION_FORCED`), connections are refused for
    /// `down`, and it comes back with its durable exchanges and queues and their persistent
    /// messages; everything else is gone.
    pub async fn restart(&self, down: std::time::Duration) {
        self.shared.down.send_replace(true);
        self.stop_state();
        tokio::time::sleep(down).await;
        self.shared.down.send_replace(false);
    }

    fn stop_state(&self) {
        let mut state = self.shared.state();
        state.close_all();
        state.queues.retain(|_, q| q.durable);
        for q in state.queues.values_mut() {
            q.keep_persistent();
            q.consumers.clear();
            q.unacked = 0;
            q.unacked_bytes = 0;
        }
        let queues: std::collections::BTreeSet<String> = state.queues.keys().cloned().collect();
        state.exchanges.retain(|_, x| x.durable);
        for x in state.exchanges.values_mut() {
            x.bindings.retain(|b| queues.contains(&b.queue));
        }
    }

    /// Stops: every connection is closed (`CONNECTION_FORCED`; each client has up to a
    /// second to answer), then the listener.
    pub async fn shutdown(&self) {
        self.shared.state().close_all();
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1);
        while !self.shared.state().connections.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.shared.token.cancel();
    }
}

fn figures(q: &queue::Queue) -> QueueFigures {
    QueueFigures {
        name: q.name.clone(),
        messages: (q.ready.len() + q.unacked) as u64,
        messages_ready: q.ready.len() as u64,
        messages_unacknowledged: q.unacked as u64,
        message_bytes: q.ready_bytes + q.unacked_bytes,
        consumers: q.consumers.len() as u64,
        durable: q.durable,
        arguments: queue::arguments_json(&q.arguments),
    }
}

fn connection_figures(c: &state::Conn) -> ConnectionFigures {
    let mut consuming: Vec<String> = c.channels.values().flat_map(|ch| ch.consumers.values().cloned()).collect();
    consuming.sort();
    consuming.dedup();
    ConnectionFigures {
        name: c.name.clone(),
        peer: c.peer,
        user: c.user.clone(),
        channels: c.channels.len(),
        blocked: c.blocked,
        consuming,
    }
}
