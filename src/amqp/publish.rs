//! Publishing: what the platform puts on the broker.
//!
//! Every message the platform sends is persistent and waits for the broker's confirmation
//! (the publishing channel is in confirm mode): jobs to a connector's `listen_<id>`
//! (`pushToConnector`), messages to a push queue (`pushToWorkerForConnector`) and dead
//! letters to `listen_too-large-bundle`. Kept apart from the consumer because the two
//! travel in opposite directions and share nothing but the session.

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;

use super::Broker;

impl Broker {
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
    #[cfg(feature = "internals")]
    pub async fn publish_job(&self, connector_id: &str, job: &serde_json::Value) -> Result<(), String> {
        self.publish_raw_job(connector_id, job.to_string().as_bytes()).await
    }

    /// Publishes a job with the message's exact bytes (the dispatcher keeps them).
    pub async fn publish_raw_job(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.listen_exchange, &q.listen_routing, body).await
    }

    /// Puts a message on a connector's push queue, as `pushToWorkerForConnector` does.
    #[cfg(feature = "internals")]
    pub async fn publish_to_worker(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.push_exchange, &q.push_routing, body).await
    }

    /// Sends a message to the dead-letter queue (`listen_too-large-bundle`).
    pub async fn publish_dead_letter(&self, connector_id: &str, body: &[u8]) -> Result<(), String> {
        let q = self.inner.names.connector(connector_id);
        self.publish(&q.listen_exchange, &q.dead_letter_routing, body).await
    }
}
