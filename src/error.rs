//! The library's error type.

/// Errors of the `opencti-mock` library API.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use opencti_mock::{Error, MockPlatform};
/// let platform = MockPlatform::start().await;
/// match platform.wait_for_work_complete("no-such-work", Duration::from_millis(10)).await {
///     Err(Error::Timeout { state, .. }) => assert_eq!(state, "it does not exist"),
///     other => panic!("{other:?}"),
/// }
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A socket or file operation failed.
    #[error("I/O error: {0}")]
    Io(String),
    /// Something the mock was asked about does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A wait timed out; `state` says what the awaited thing looked like then.
    #[error("timed out after {after:?} waiting for {what}; {state}")]
    Timeout {
        /// What was awaited.
        what: String,
        /// How long.
        after: std::time::Duration,
        /// What was seen when the wait ended (a work's counts, the queues and jobs…).
        state: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// An error from any message (escape hatch).
    ///
    /// ```
    /// use opencti_mock::Error;
    /// let error = Error::other("the connector exited with status 1");
    /// // shown as given, with no prefix
    /// assert_eq!(error.to_string(), "the connector exited with status 1");
    /// ```
    pub fn other(message: impl Into<String>) -> Self {
        Error::Other(message.into())
    }
}

/// `Result` with [`Error`].
///
/// ```
/// use std::time::Duration;
/// use opencti_mock::{MockPlatform, Result};
///
/// // a test helper that hands the platform's errors on with `?`
/// async fn works_once_idle(platform: &MockPlatform) -> Result<usize> {
///     platform.wait_idle(Duration::from_secs(10)).await?;
///     Ok(platform.works().len())
/// }
/// # #[tokio::main] async fn main() {
/// let platform = MockPlatform::start().await;
/// assert_eq!(works_once_idle(&platform).await.ok(), Some(0));
/// # }
/// ```
pub type Result<T, E = Error> = std::result::Result<T, E>;
