//! What the platform asks of a broker beyond AMQP, behind one interface for both brokers.
//!
//! The platform reads queue figures (`connector_queue_details`), purges a connector's
//! queues on `resetStateConnector` and removes its objects when it stops; the fault
//! scenarios close a connector's connection or delete its queue. On RabbitMQ that is the
//! management HTTP API ([`Management`]); on the embedded broker, calls into it
//! ([`EmbeddedBroker`]). [`BrokerAdmin`] is what both give, so the platform's
//! provisioning, worker and clean-up never ask which broker they run on.

use async_trait::async_trait;
use serde_json::{Value as Json, json};

use crate::embedded_broker::EmbeddedBroker;

use super::management::{Management, QueueInfo};

/// A broker's administration: RabbitMQ's management API, or the embedded broker itself.
#[async_trait]
pub trait BrokerAdmin: Send + Sync + std::fmt::Debug {
    /// What `/_mock/health` shows of it (`{"kind": "management-api", "url": …}` or
    /// `{"kind": "in-process"}`).
    fn describe(&self) -> Json;
    /// Whether it answers.
    async fn check(&self) -> Result<(), String>;
    /// A queue's figures; `None` when it does not exist.
    async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, String>;
    /// Every queue whose name starts with `prefix`.
    async fn queues_with_prefix(&self, prefix: &str) -> Result<Vec<QueueInfo>, String>;
    /// Empties a queue (absent is fine).
    async fn purge(&self, queue: &str) -> Result<(), String>;
    /// Deletes a queue (absent is fine).
    async fn delete_queue(&self, name: &str) -> Result<(), String>;
    /// Deletes an exchange (absent is fine).
    async fn delete_exchange(&self, name: &str) -> Result<(), String>;
    /// Closes the connections consuming from `queue`; how many.
    async fn close_consumers_of(&self, queue: &str) -> Result<usize, String>;
    /// Closes the connections whose client-provided name is `name`; how many (for tests
    /// that drop the platform's own connection).
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    async fn close_connections_named(&self, name: &str) -> Result<usize, String>;
}

#[async_trait]
impl BrokerAdmin for Management {
    fn describe(&self) -> Json {
        json!({"kind": "management-api", "url": self.base().as_str()})
    }
    async fn check(&self) -> Result<(), String> {
        Management::check(self).await
    }
    async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, String> {
        Management::queue(self, name).await
    }
    async fn queues_with_prefix(&self, prefix: &str) -> Result<Vec<QueueInfo>, String> {
        Management::queues_with_prefix(self, prefix).await
    }
    async fn purge(&self, queue: &str) -> Result<(), String> {
        Management::purge(self, queue).await
    }
    async fn delete_queue(&self, name: &str) -> Result<(), String> {
        Management::delete_queue(self, name).await
    }
    async fn delete_exchange(&self, name: &str) -> Result<(), String> {
        Management::delete_exchange(self, name).await
    }
    async fn close_consumers_of(&self, queue: &str) -> Result<usize, String> {
        Management::close_consumers_of(self, queue).await
    }
    async fn close_connections_named(&self, name: &str) -> Result<usize, String> {
        Management::close_connections_named(self, name).await
    }
}

fn info(q: crate::embedded_broker::QueueFigures) -> QueueInfo {
    QueueInfo {
        name: q.name,
        messages: q.messages,
        message_bytes: q.message_bytes,
        durable: q.durable,
        arguments: q.arguments,
        consumers: q.consumers,
    }
}

#[async_trait]
impl BrokerAdmin for EmbeddedBroker {
    fn describe(&self) -> Json {
        json!({"kind": "in-process"})
    }
    async fn check(&self) -> Result<(), String> {
        Ok(())
    }
    async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, String> {
        Ok(EmbeddedBroker::queue(self, name).map(info))
    }
    async fn queues_with_prefix(&self, prefix: &str) -> Result<Vec<QueueInfo>, String> {
        Ok(self.queues().into_iter().filter(|q| q.name.starts_with(prefix)).map(info).collect())
    }
    async fn purge(&self, queue: &str) -> Result<(), String> {
        EmbeddedBroker::purge(self, queue);
        Ok(())
    }
    async fn delete_queue(&self, name: &str) -> Result<(), String> {
        EmbeddedBroker::delete_queue(self, name);
        Ok(())
    }
    async fn delete_exchange(&self, name: &str) -> Result<(), String> {
        EmbeddedBroker::delete_exchange(self, name);
        Ok(())
    }
    async fn close_consumers_of(&self, queue: &str) -> Result<usize, String> {
        Ok(EmbeddedBroker::close_consumers_of(self, queue, "closed by an opencti-mock scenario"))
    }
    async fn close_connections_named(&self, name: &str) -> Result<usize, String> {
        Ok(self.close_connections(|c| c.name.as_deref() == Some(name), "closed by opencti-mock"))
    }
}
