//! Scenarios: a field issue as a file that anyone can replay.
//!
//! A support engineer who sees "the connector lost its state" or "the stream connector
//! stopped after 45 s" in a bug report should not need a broken production platform to see it
//! again. A scenario file says which platform to be (the version profile, the callback
//! authentication, limits) and which faults to inject at which point (the `n`-th call of an
//! operation, after `n` bundles were received, on the `n`-th delivery to a listen callback,
//! at a time after start). `opencti-mock serve --scenario`, the gate's `conform --scenario`
//! and [`MockPlatformBuilder::scenario`](crate::MockPlatformBuilder::scenario) load the same
//! files; `fixtures/scenarios/` holds the ones that reproduce public issues.
//!
//! This module is the file and its meaning (what a platform must be set to, which fault
//! rules to add); driving the faults that act on a running platform (a dropped broker
//! connection, a deleted queue, a stopped stream) is the platform's
//! (`platform::scenario`). Errors name the line and the key, because a scenario is written by
//! hand and attached to bug reports.

pub mod file;
mod read;
mod library;
pub mod transcript;

pub use file::{Action, Fault, Limits, QueueKind, Scenario, Stream, When};
pub use read::ScenarioError;
