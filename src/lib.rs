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

#![warn(clippy::unwrap_used)]

pub mod activity;
pub mod amqp;
pub mod buffer;
#[cfg(feature = "cli")]
pub mod cli;
pub mod config;
pub mod conform;
pub mod core;
pub mod error;
pub mod expect;
pub mod filters;
pub mod graphql;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod keys;
pub mod naming;
pub mod platform;
pub mod profile;
pub mod status;
pub mod stix;
pub mod store;
pub mod tasks;
pub mod validate;

pub use activity::Activity;
pub use error::{Error, Result};
pub use expect::{Expect, ExpectGuard, Matcher, Subject, Times, matchers};
pub use platform::{ConnectorEnv, MockPlatform, MockPlatformBuilder, Platform};
pub use profile::Profile;
pub use store::faults::{FaultAction, FaultSpec};
pub use store::transcript::{ReceivedBundle, ReceivedOperation, Refusal, RefusalKind};
pub use store::works::{Work, WorkStatus};

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
