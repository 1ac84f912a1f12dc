//! What the platform declares on the broker, and taking it away again.
//!
//! The platform's `rabbitmq.js` `registerConnectorQueues`, `deleteConnector` and
//! `resetStateConnector`: the durable direct exchanges, per connector the durable queues
//! `listen_<id>` and `push_<id>` with the platform's arguments ([`ConnectorSpec`]) and their
//! bindings, the internal dead-letter queue ([`DEAD_LETTER_ID`]); deleting and purging them;
//! their figures; and removing what this instance declared when it stops. These are the
//! names and arguments a connector sees on the broker, so they are kept in one place, apart
//! from keeping the connection up ([`super::broker`]), which re-declares all of it through
//! these functions after every reconnection.

use lapin::Channel;
use lapin::ExchangeKind;
use lapin::options::{ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldArray, FieldTable, LongString, ShortString};

use super::Broker;
use super::broker::{Session, close_channel};

/// The dead-letter queue's connector id (`too-large-bundle`).
pub const DEAD_LETTER_ID: &str = "too-large-bundle";

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

impl Broker {
    /// Declares what the platform declares on a new connection: the exchanges, the
    /// dead-letter queue and the queues of every known connector, which it returns.
    pub(super) async fn declare_all(&self, channel: &Channel) -> Result<Vec<ConnectorSpec>, String> {
        self.declare_exchanges(channel).await?;
        let dead_letter = ConnectorSpec {
            id: DEAD_LETTER_ID.into(),
            name: "Dead letter queue".into(),
            connector_type: "INTERNAL_INGESTION".into(),
            scope: Some(vec!["dead letter".into()]),
        };
        self.declare_listen(channel, &dead_letter).await?;
        let known: Vec<ConnectorSpec> = self.inner.connectors.lock().expect("connectors lock").values().cloned().collect();
        for spec in &known {
            self.declare_connector(channel, spec).await?;
        }
        Ok(known)
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

    /// `resetStateConnector`: empties both queues through the broker's administration (the
    /// management API, as the platform does; over AMQP when the API is unavailable).
    pub async fn purge(&self, connector_id: &str) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        let mut failure = None;
        for queue in [&q.push, &q.listen] {
            if let Err(e) = self.inner.admin.purge(queue).await {
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
            if let Ok(Some(info)) = self.inner.admin.queue(queue).await {
                let (n, b) = total.unwrap_or((0, 0));
                total = Some((n + info.messages, b + info.message_bytes));
            }
        }
        total
    }

    /// Messages ready in these connectors' push queues right now, summed (passive declares:
    /// exact, unlike the management API's periodic figures); unacknowledged ones are not
    /// counted, nor queues the broker does not know (being re-declared after a
    /// reconnection, they hold nothing yet).
    ///
    /// One channel for all of them: the broker closes a channel whose passive declare names
    /// no queue, so only then is another opened, for the queues left.
    pub async fn push_ready(&self, connector_ids: &[String]) -> Result<u64, String> {
        let session = self.current().await?;
        let mut channel = None;
        let mut ready = 0;
        for id in connector_ids {
            let open = match channel.take() {
                Some(c) => c,
                None => session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?,
            };
            let declared = open
                .queue_declare(
                    ShortString::from(self.inner.names.connector(id).push),
                    QueueDeclareOptions { passive: true, ..Default::default() },
                    FieldTable::default(),
                )
                .await;
            if let Ok(d) = declared {
                ready += u64::from(d.message_count());
                channel = Some(open);
            }
        }
        if let Some(c) = channel {
            close_channel(&c, "counted").await;
        }
        Ok(ready)
    }

    /// Deletes, over AMQP, the queues this platform declared and its exchanges when they are
    /// its own (prefixed).
    pub(super) async fn undeclare(&self, session: &Session) {
        if let Ok(channel) = session.conn.create_channel().await {
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
    }

    /// Deletes this platform's prefixed queues and exchanges through the broker's administration,
    /// from a thread of its own (the platform's runtime may be gone), before returning.
    pub(super) fn undeclare_blocking(&self) {
        let prefix = self.inner.names.prefix().to_string();
        if prefix.is_empty() {
            return;
        }
        let management = self.inner.admin.clone();
        let exchanges = [self.inner.names.connector_exchange(), self.inner.names.worker_exchange()];
        // A plain thread, not a platform task: the platform's runtime may be gone (this runs
        // from a dropped handle), and the thread is joined before this returns.
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
