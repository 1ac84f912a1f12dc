//! The services one platform instance is made of, shared by every transport.
//!
//! HTTP handlers, GraphQL resolvers, the control API and the AMQP consumers all
//! receive a [`Core`]: the store, the worker that feeds it, the settings, the connector
//! key pair, the queue naming rules and the platform's [`Tasks`] (every task the platform
//! starts is spawned through them). Cloning is cheap.

use std::sync::Arc;

use crate::config::Settings;
use crate::ingest::Worker;
use crate::keys::ConnectorKeys;
use crate::naming::QueueNames;
use crate::store::Store;
use crate::tasks::Tasks;

/// The services of one platform.
#[derive(Clone, Debug)]
pub struct Core {
    /// Platform state.
    pub store: Store,
    /// The ingest worker.
    pub worker: Worker,
    /// Effective settings.
    pub settings: Arc<Settings>,
    /// Connector HTTP-callback key pair.
    pub keys: Arc<ConnectorKeys>,
    /// Queue naming rules.
    pub names: QueueNames,
    /// The URL connectors should use.
    pub public_url: Arc<str>,
    /// The RabbitMQ broker, when the platform has one.
    pub amqp: Arc<crate::amqp::Link>,
    /// Delivers jobs to enrichment and import connectors.
    pub jobs: crate::jobs::Dispatcher,
    /// The platform's cancellation token and task tracker.
    pub tasks: Tasks,
}
