//! The platform's live stream (server-sent events), what STREAM connectors consume.
//!
//! The knowledge's event log ([`crate::store::events`]) is the platform's Redis stream;
//! this module serves it as the platform's `sseMiddleware.js` does: who may read which
//! stream ([`session::admit`]), where a reader starts and what it asks to leave out
//! ([`params`]), what a collection lets through ([`filter`]), how each event reads on the
//! wire ([`render`]) and what one connection is sent, in order ([`session`]). The HTTP
//! routes are `crate::http::stream`. The upstream facts, with citations, are in
//! `stream.md` beside this file.

pub mod filter;
pub mod params;
pub mod render;
pub mod session;
