//! The errors a broker answers with, worded as RabbitMQ words them.
//!
//! AMQP 0-9-1 has two kinds of error: a *soft* one closes the channel the method came on
//! (`channel.close`), a *hard* one the whole connection (`connection.close`). Clients
//! surface the code and the text (pika: `ChannelClosedByBroker(406, 'PRECONDITION_FAILED -
//! …')`), and connectors log them, so the codes, the scope and the texts follow
//! RabbitMQ's; the differential tests hold them to it. What the embedded broker does not
//! implement is a hard `NOT_IMPLEMENTED` that names the method or argument.

use amq_protocol::protocol::AMQPClass;

/// Reply codes (AMQP 0-9-1 constants).
pub mod code {
    /// `CONNECTION_FORCED`.
    pub const CONNECTION_FORCED: u16 = 320;
    /// `INVALID_PATH`.
    pub const INVALID_PATH: u16 = 402;
    /// `ACCESS_REFUSED`.
    pub const ACCESS_REFUSED: u16 = 403;
    /// `NOT_FOUND`.
    pub const NOT_FOUND: u16 = 404;
    /// `RESOURCE_LOCKED`.
    pub const RESOURCE_LOCKED: u16 = 405;
    /// `PRECONDITION_FAILED`.
    pub const PRECONDITION_FAILED: u16 = 406;
    /// `FRAME_ERROR`.
    pub const FRAME_ERROR: u16 = 501;
    /// `SYNTAX_ERROR`.
    pub const SYNTAX_ERROR: u16 = 502;
    /// `COMMAND_INVALID`.
    pub const COMMAND_INVALID: u16 = 503;
    /// `CHANNEL_ERROR`.
    pub const CHANNEL_ERROR: u16 = 504;
    /// `UNEXPECTED_FRAME`.
    pub const UNEXPECTED_FRAME: u16 = 505;
    /// `NOT_ALLOWED`.
    pub const NOT_ALLOWED: u16 = 530;
    /// `NOT_IMPLEMENTED`.
    pub const NOT_IMPLEMENTED: u16 = 540;
    /// `INTERNAL_ERROR`.
    pub const INTERNAL_ERROR: u16 = 541;
    /// `NO_ROUTE` (a returned message).
    pub const NO_ROUTE: u16 = 312;
}

/// Whether an error closes the channel or the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `channel.close`.
    Channel,
    /// `connection.close`.
    Connection,
}

/// An error answered to a method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// What it closes.
    pub scope: Scope,
    /// The reply code.
    pub code: u16,
    /// `NAME - detail`, as RabbitMQ writes it.
    pub text: String,
    /// The class of the method that failed (0 when none).
    pub class_id: u16,
    /// The method that failed (0 when none).
    pub method_id: u16,
}

fn name_of(code: u16) -> &'static str {
    match code {
        code::CONNECTION_FORCED => "CONNECTION_FORCED",
        code::INVALID_PATH => "INVALID_PATH",
        code::ACCESS_REFUSED => "ACCESS_REFUSED",
        code::NOT_FOUND => "NOT_FOUND",
        code::RESOURCE_LOCKED => "RESOURCE_LOCKED",
        code::PRECONDITION_FAILED => "PRECONDITION_FAILED",
        code::FRAME_ERROR => "FRAME_ERROR",
        code::SYNTAX_ERROR => "SYNTAX_ERROR",
        code::COMMAND_INVALID => "COMMAND_INVALID",
        code::CHANNEL_ERROR => "CHANNEL_ERROR",
        code::UNEXPECTED_FRAME => "UNEXPECTED_FRAME",
        code::NOT_ALLOWED => "NOT_ALLOWED",
        code::NOT_IMPLEMENTED => "NOT_IMPLEMENTED",
        code::NO_ROUTE => "NO_ROUTE",
        _ => "INTERNAL_ERROR",
    }
}

/// The (class, method) ids of a method, for the reply that names it.
pub fn ids_of(method: &AMQPClass) -> (u16, u16) {
    (method.get_amqp_class_id(), method.get_amqp_method_id())
}

impl Reply {
    /// A channel error.
    ///
    /// ```
    /// use opencti_mock::embedded_broker::reply::{Reply, Scope, code};
    /// let r = Reply::channel(code::NOT_FOUND, "no queue 'q' in vhost '/'", (50, 10));
    /// assert_eq!((r.scope, r.text.as_str()), (Scope::Channel, "NOT_FOUND - no queue 'q' in vhost '/'"));
    /// ```
    pub fn channel(code: u16, detail: impl std::fmt::Display, (class_id, method_id): (u16, u16)) -> Reply {
        Reply { scope: Scope::Channel, code, text: format!("{} - {detail}", name_of(code)), class_id, method_id }
    }

    /// A connection error.
    ///
    /// ```
    /// use opencti_mock::embedded_broker::reply::{Reply, Scope, code};
    /// let r = Reply::connection(code::NOT_IMPLEMENTED, "tx.select", (90, 10));
    /// assert_eq!(r.scope, Scope::Connection);
    /// ```
    pub fn connection(code: u16, detail: impl std::fmt::Display, (class_id, method_id): (u16, u16)) -> Reply {
        Reply { scope: Scope::Connection, code, text: format!("{} - {detail}", name_of(code)), class_id, method_id }
    }

    /// What a connector never uses: a connection error naming it.
    ///
    /// ```
    /// use opencti_mock::embedded_broker::reply::Reply;
    /// let r = Reply::unsupported("tx.select", (90, 10));
    /// assert!(r.text.contains("tx.select") && r.text.starts_with("NOT_IMPLEMENTED - "));
    /// ```
    pub fn unsupported(what: impl std::fmt::Display, ids: (u16, u16)) -> Reply {
        Reply::connection(code::NOT_IMPLEMENTED, format!("{what} is not supported by the opencti-mock embedded broker"), ids)
    }

    /// The text as an AMQP short string (at most 255 bytes, cut on a character boundary).
    pub fn short_text(&self) -> amq_protocol::types::ShortString {
        short(&self.text)
    }
}

/// `s` as a short string, cut to 255 bytes on a character boundary (the codec refuses a
/// longer one, and a queue name in an error text can make it longer).
///
/// ```
/// use opencti_mock::embedded_broker::reply::short;
/// assert_eq!(short(&"é".repeat(200)).as_str().len(), 254);
/// ```
pub fn short(s: &str) -> amq_protocol::types::ShortString {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    amq_protocol::types::ShortString::from(&s[..end])
}
