//! The worker's way out for objects it will not import.
//!
//! The platform's worker sends an object with `objects_max_refs` references or more to the
//! dead-letter queue instead of importing it. The worker does not know how that queue is
//! reached — over RabbitMQ, or nowhere when the platform runs HTTP-only — so it hands the
//! message to a [`DeadLetters`] the transport implements (`crate::amqp::Link`), and keeps
//! its own record in the store either way. The worker never imports the transport.

use std::future::Future;
use std::pin::Pin;

/// Where the worker sends dead letters.
pub trait DeadLetters: Send + Sync {
    /// Sends `body` (a dead-letter message, [`super::message::dead_letter_message`]) for
    /// the connector `connector_id`, and says where it went, for the transcript: the queue
    /// it was published to, why it could not be, or that the platform keeps it.
    fn send<'a>(&'a self, connector_id: &'a str, body: &'a [u8]) -> Pin<Box<dyn Future<Output = String> + Send + 'a>>;
}

/// No transport: the platform keeps dead letters in its own list only.
#[derive(Debug, Default, Clone, Copy)]
pub struct Kept;

impl DeadLetters for Kept {
    fn send<'a>(&'a self, _connector_id: &'a str, _body: &'a [u8]) -> Pin<Box<dyn Future<Output = String> + Send + 'a>> {
        Box::pin(async { "kept by the platform (HTTP-only mode)".to_string() })
    }
}
