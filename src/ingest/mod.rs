//! The worker: turns queued bundles into stored knowledge, as the platform's worker does.
//!
//! Every bundle, whatever its transport, becomes a
//! [`PushMessage`](crate::store::queues::PushMessage) on its connector's queue. One worker
//! loop per connector pops messages (honouring the platform's ingest
//! [`Throttle`](crate::store::queues::Throttle)) and hands each to [`decide_with`]
//! and [`apply`](fn@apply) (`apply::process` is both, for one message):
//! - a message for a work that is no longer alive is acknowledged and dropped;
//! - a bundle with several objects (and no `no_split`) is split, its expectations are
//!   added to the work, and the one-object pieces go back on the queue;
//! - a one-object bundle (or a `no_split` one) is ingested object by object through
//!   [`object::ingest_object`], and one expectation per object is reported to the work,
//!   with the error when the object is refused.
//!
//! `stixBundlePush` itself lives in [`push`]: it validates and enqueues, and in the 7.x
//! profile splits first and adds the expectations before the mutation returns.
//!
//! The worker is three concepts, one file each, re-exported here:
//! - `worker.rs`: the [`Worker`] and its per-connector loops (tasks, wake-ups, batches,
//!   settling RabbitMQ deliveries, sending dead letters);
//! - `decide.rs`: what a message means ([`Decision`]), pure, so a batch is decided on
//!   every core and the decisions are unit-tested without a store;
//! - `apply.rs`: writing a decision into the state (expectations, objects, retries,
//!   drafts).
//!
//! Beside them, what the worker is made of: the push-queue format ([`message`]), the
//! splitter ([`split`]), the per-object checks and identity ([`object`], [`rules`],
//! [`scope`]), the way out for dead letters ([`dead_letters`]), and seeding ([`seed`]: a
//! bundle, or the built-in markings, stored synchronously).

#[cfg(any(feature = "cli", feature = "internals"))]
pub mod bundle_file;
pub mod dead_letters;
pub mod message;
pub mod object;
pub mod push;
pub mod rules;
pub mod scope;
pub mod seed;
pub mod split;

mod apply;
mod decide;
mod worker;

pub(crate) use apply::in_draft;
pub use apply::apply;
#[cfg(feature = "internals")]
pub use apply::process;
pub use decide::{Decision, decide_with};
pub use seed::seed_built_ins;
pub use worker::Worker;
