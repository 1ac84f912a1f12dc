//! The platform's handle on its broker, which may never come.
//!
//! A [`Link`] exists from the start of a platform, before it knows whether a broker
//! answers: it is filled once with a [`Broker`], or with the reason the platform runs
//! HTTP-only. The services that outlive that decision (the job dispatcher, the ingest
//! worker's dead letters, `/_mock/health`) hold the link, not the broker, so they are built
//! before the connection and work in both modes.

use std::sync::OnceLock;

use serde_json::{Value as Json, json};

use super::{Broker, BrokerKind, DEAD_LETTER_ID};

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
                "admin": b.admin().describe(),
                "broker": b.kind().name(),
                "embedded": b.embedded().filter(|_| b.kind() == BrokerKind::Embedded).map(|e| json!({
                    "listen": e.local_addr().to_string(),
                    "connections": e.connections().len(),
                    "memory_alarm": e.memory_alarm(),
                    "max_message_size": e.max_message_size(),
                })),
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
