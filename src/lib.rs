//! A mock OpenCTI platform that real connectors — the official Python client pycti 7.x
//! included — run against unchanged, for tests and for reproducing field issues.
//!
//! Start one in a test, point a connector at [`MockPlatform::url`], assert on what it
//! received, and let expectations be verified when the platform is dropped:
//!
//! ```
//! use std::time::Duration;
//! use opencti_mock::{Expect, MockPlatform, Work, matchers::{completed, connector}};
//!
//! # #[tokio::main] async fn main() -> opencti_mock::Result<()> {
//! let platform = MockPlatform::builder().connector_user("importer", "tok-1").start().await;
//! let env = platform.connector_env("EXTERNAL_IMPORT", "tok-1");
//! Expect::<Work>::given(connector(env.connector_id())).and(completed()).expect(..=1).mount(&platform);
//! // run the connector: Command::new("python3").arg("main.py").envs(env) …
//! platform.wait_idle(Duration::from_secs(30)).await?;
//! assert!(platform.received_bundles().iter().all(|b| b.objects > 0));
//! # Ok(()) }
//! ```
//!
//! The same platform runs standalone (`opencti-mock serve`) with a control API under
//! `/_mock/` for connectors written in any language. See the README for both.

//! # The API
//!
//! Everything a connector test needs is at the root: the platform ([`MockPlatform`], its
//! [`MockPlatformBuilder`], the [`ConnectorEnv`] a connector process runs with, its
//! [`Activity`]), expectations ([`Expect`], [`matchers`], any [`Subject`]), and the values
//! a test reads ([`Work`], [`ReceivedBundle`], [`Refusal`], [`StoredObject`], [`Job`]…).
//! The rest is the implementation, private to the crate. (This workspace's own integration
//! tests, benches and fuzz targets see it through the `internals` feature, which is not
//! covered by semver; the binary's command line is the hidden `cli` module.)

#![warn(clippy::unwrap_used)]

/// Declares implementation items (modules, and a few methods of the handle) private to the
/// crate, or public with the `internals` feature, which only this workspace's own
/// integration tests, benches and fuzz targets turn on (a dev-dependency of the package on
/// itself). Without it, as every dependent crate builds it, the dead-code lint sees the whole
/// implementation.
macro_rules! internal {
    ($(mod $module:ident;)*) => {$(
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        pub mod $module;
        #[cfg(not(feature = "internals"))]
        mod $module;
    )*};
    ($(#[$attr:meta])* fn $($item:tt)*) => {
        #[cfg(feature = "internals")]
        #[doc(hidden)]
        $(#[$attr])* pub fn $($item)*
        #[cfg(not(feature = "internals"))]
        $(#[$attr])* pub(crate) fn $($item)*
    };
}

internal! {
    mod amqp;
    mod buffer;
    mod config;
    mod core;
    mod embedded_broker;
    mod graphql;
    mod http;
    mod ingest;
    mod jobs;
    mod profile;
    mod scenario;
    mod stix;
    mod store;
    mod stream;
    mod tasks;
    mod validate;
}
// The conformance gate (`opencti-mock conform`), with its suites.
#[cfg(feature = "gate")]
internal! {
    mod conform;
}
mod activity;
#[cfg(feature = "cli")]
#[doc(hidden)]
pub mod cli;
mod error;
mod expect;
mod filters;
mod keys;
mod naming;
mod platform;
mod status;

// The platform and what a test does with it.
pub use activity::Activity;
pub use platform::{ConnectorEnv, MockPlatform, MockPlatformBuilder};
// Expectations.
pub use expect::{Expect, ExpectGuard, Matcher, Subject, Times, matchers};
// Errors.
pub use error::{Error, Result};
// Options of the builder.
pub use config::{BrokerMode, CallbackAuth, ConfigError, Settings};
pub use profile::Profile;
pub use scenario::{
    Action as ScenarioAction, Fault as ScenarioFault, Limits as ScenarioLimits, QueueKind, Scenario, ScenarioError,
    Stream as ScenarioStream, When as ScenarioWhen,
};
pub use store::Clock;
pub use store::faults::{CallbackAction, CallbackFault, FaultAction, FaultSpec};
// What a test reads.
pub use ingest::seed::{SeedError, SeedRefusal, SeedReport};
pub use jobs::export_ask::{ExportAsk, ExportTarget};
pub use jobs::{ImportOptions, JobError, Upload};
pub use store::connectors::{Connector, ConnectorInfo, Registration};
pub use store::drafts::Draft;
pub use store::events::EventId;
pub use store::files::StoredFile;
pub use store::findings::RecordedFinding;
pub use store::jobs::{Attempt, Job, JobKind, JobStatus, Transport};
pub use store::knowledge::StoredObject;
pub use store::playbooks::{PlaybookResult, PlaybookStep};
pub use store::streams::{ConnectionEnd, StreamCollection, StreamConnection};
pub use store::transcript::{ReceivedBundle, ReceivedOperation, Refusal, RefusalKind};
pub use store::works::{Work, WorkMessage, WorkStatus};

/// The sections of [`Settings`], as the platform's configuration names them
/// (`app`, `rabbitmq`, `minio`, `worker`, and the mock's own `mock`).
pub mod settings {
    pub use crate::config::{
        Admin, App, BatchingProtection, Graphql, GraphqlLimits, LiveStream, Minio, Mock, Playground, RabbitMq, Worker,
    };
}

/// One platform instance ready to serve on a socket of your own (what `opencti-mock serve`
/// and [`MockPlatform`] run), for this workspace's fuzz targets (the `internals` feature).
#[cfg(feature = "internals")]
#[doc(hidden)]
pub use platform::Platform;

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
