//! The platform's side of the AMQP transport, on RabbitMQ or on the embedded broker.
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
//!
//! Its tasks (the supervisor, a consumer per push queue, a settlement per delivery) are
//! spawned through the platform's [`crate::tasks::Tasks`] ([`BrokerOptions::tasks`]) and
//! end when the platform's token is cancelled; an unsettled delivery stays with the broker.
//!
//! One concept a file, because each changes for its own reasons (a platform version
//! changes queue arguments, a lapin upgrade the connection, a redelivery bug the dedup):
//! - `endpoint.rs`: [`Endpoint`], where a broker is reached (plain data, no connection);
//! - `link.rs`: [`Link`], the platform's handle on a broker it may never get (HTTP-only),
//!   and the worker's dead letters through it;
//! - `broker.rs`: [`Broker`] itself, the connection and its session: connecting,
//!   supervising and reconnecting, shutting down;
//! - `provision.rs`: what the platform declares ([`ConnectorSpec`], [`DEAD_LETTER_ID`]):
//!   declaring, deleting, purging and counting queues, removing them at shutdown;
//! - `consume.rs`: the push-queue consumers, a delivery's way into the worker and its
//!   acknowledgement;
//! - `dedup.rs`: which processed messages may come back after a lost connection (pure
//!   bookkeeping, unit-tested);
//! - `publish.rs`: confirmed, persistent publishing (jobs, push messages, dead letters);
//! - [`container`] (a throwaway RabbitMQ, on request) and [`management`] (the
//!   management API client: queue figures, purges, clean-up without a runtime);
//! - `admin.rs`: [`BrokerAdmin`], what the platform asks of a broker beyond AMQP, which
//!   RabbitMQ's management API and the embedded broker ([`crate::embedded_broker`]) both
//!   give: the platform runs unchanged on either.
//!
//! The `impl Broker` is spread over `broker.rs`, `provision.rs`, `consume.rs` and
//! `publish.rs`; the state they share is `broker.rs`'s `Inner`.

pub mod container;
pub mod management;

mod admin;
mod broker;
mod consume;
mod dedup;
mod endpoint;
mod link;
mod provision;
mod publish;

pub use admin::BrokerAdmin;
pub use broker::{Broker, BrokerKind, BrokerOptions};
pub use endpoint::Endpoint;
pub use link::Link;
pub use provision::{ConnectorSpec, DEAD_LETTER_ID};
