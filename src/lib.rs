//! A mock OpenCTI platform that real connectors — the official Python client pycti 7.x
//! included — run against unchanged, for tests and for reproducing field issues.
//!
//! Start one in a test, point a connector at [`MockPlatform::url`], assert on what it
//! received, and let expectations be verified when the platform is dropped:
//!
//! ```no_run
//! use opencti_mock::{Expect, MockPlatform, matchers::operation};
//!
//! # async fn demo() {
//! let platform = MockPlatform::builder().connector_user("importer", "tok-1").start().await;
//! Expect::given(operation("RegisterConnector")).expect(1).named("registers once").mount(&platform);
//! // run the connector with OPENCTI_URL=platform.url(), OPENCTI_TOKEN=tok-1 …
//! assert!(platform.received_bundles().iter().all(|b| b.objects > 0));
//! # }
//! ```
//!
//! The same platform runs standalone (`opencti-mock serve`) with a control API under
//! `/_mock/` for connectors written in any language. See the README for both.

#![warn(clippy::unwrap_used)]

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
pub mod validate;

pub use error::{Error, Result};
pub use expect::{Expect, ExpectGuard, Times, matchers};
pub use platform::{MockPlatform, MockPlatformBuilder, Platform};
pub use profile::Profile;
pub use store::faults::{FaultAction, FaultSpec};

/// The README's Rust examples, compiled as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
