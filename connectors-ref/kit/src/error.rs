//! The kit's error: what went wrong, in words an operator can act on.

/// A failure of the kit.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is missing or malformed.
    #[error("configuration: {0}")]
    Config(String),
    /// The platform could not be reached, or answered with an HTTP error.
    #[error("platform unreachable or refusing: {0}")]
    Http(String),
    /// The platform answered a GraphQL call with an error (its `errors[0]`).
    #[error("{name}: {message}")]
    GraphQl {
        /// `errors[0].name`, else `extensions.code`, else the message (pycti's rule).
        name: String,
        /// `errors[0].message`.
        message: String,
    },
    /// The broker refused or dropped the connection.
    #[error("broker: {0}")]
    Amqp(String),
    /// The live stream answered with an error, or went silent past the watchdog.
    #[error("live stream: {0}")]
    Stream(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl From<reqwest::Error> for Error {
    fn from(e: reqwest::Error) -> Self {
        Error::Http(e.to_string())
    }
}

impl From<lapin::Error> for Error {
    fn from(e: lapin::Error) -> Self {
        Error::Amqp(e.to_string())
    }
}

/// The kit's result.
pub type Result<T> = std::result::Result<T, Error>;
