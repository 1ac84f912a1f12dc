//! Queue, exchange and routing-key names, as the platform derives them from a connector id
//! (`connectorConfig` in `connector-rabbitmq.ts`).
//!
//! Every name carries the platform's `rabbitmq:queue_prefix` (followed by `_`) when one is
//! set; parallel platforms on one broker use distinct prefixes so they never collide.

use serde::Serialize;

/// Name builder for one platform.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueNames {
    prefix: String,
}

/// The names of one connector (the `config` block of a registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConnectorQueues {
    /// Queue the connector consumes jobs from.
    pub listen: String,
    /// Routing key of `listen`.
    pub listen_routing: String,
    /// Exchange of `listen`.
    pub listen_exchange: String,
    /// Queue the worker consumes bundles from.
    pub push: String,
    /// Routing key of `push`.
    pub push_routing: String,
    /// Exchange of `push`.
    pub push_exchange: String,
    /// Routing key of the dead-letter queue (`listen_too-large-bundle`).
    pub dead_letter_routing: String,
}

impl QueueNames {
    /// Names with `rabbitmq:queue_prefix` (none when empty).
    pub fn new(queue_prefix: Option<&str>) -> Self {
        let prefix = match queue_prefix.map(str::trim).filter(|p| !p.is_empty()) {
            Some(p) => format!("{p}_"),
            None => String::new(),
        };
        QueueNames { prefix }
    }

    /// The prefix including its trailing `_` (empty when none).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Exchange of every `listen_<id>` queue.
    pub fn connector_exchange(&self) -> String {
        format!("{}amqp.connector.exchange", self.prefix)
    }

    /// Exchange of every `push_<id>` queue.
    pub fn worker_exchange(&self) -> String {
        format!("{}amqp.worker.exchange", self.prefix)
    }

    /// The names of connector `id`.
    pub fn connector(&self, id: &str) -> ConnectorQueues {
        let p = &self.prefix;
        ConnectorQueues {
            listen: format!("{p}listen_{id}"),
            listen_routing: format!("{p}listen_routing_{id}"),
            listen_exchange: self.connector_exchange(),
            push: format!("{p}push_{id}"),
            push_routing: format!("{p}push_routing_{id}"),
            push_exchange: self.worker_exchange(),
            dead_letter_routing: format!("{p}listen_routing_too-large-bundle"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_platform_with_and_without_prefix() {
        let plain = QueueNames::new(None).connector("abc");
        assert_eq!(plain.listen, "listen_abc");
        assert_eq!(plain.push_routing, "push_routing_abc");
        assert_eq!(plain.push_exchange, "amqp.worker.exchange");
        assert_eq!(plain.dead_letter_routing, "listen_routing_too-large-bundle");
        let prefixed = QueueNames::new(Some("t1")).connector("abc");
        assert_eq!(prefixed.listen, "t1_listen_abc");
        assert_eq!(prefixed.listen_exchange, "t1_amqp.connector.exchange");
    }
}
