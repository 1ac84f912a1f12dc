//! A client library for OpenCTI connectors written in Rust: what pycti's
//! `OpenCTIConnectorHelper` gives Python connectors, over the same wire.
//!
//! ```no_run
//! use connector_kit::{Connector, RegisterOptions, Settings};
//! use serde_json::json;
//!
//! # async fn run() -> connector_kit::Result<()> {
//! // OPENCTI_URL, OPENCTI_TOKEN, CONNECTOR_ID, CONNECTOR_TYPE… (or config.yml), as pycti.
//! let settings = Settings::load()?.connector()?;
//! let connector = Connector::start(settings, RegisterOptions::default()).await?;
//! let work = connector.initiate_work("daily run").await?;
//! let bundle = json!({ "type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000000", "objects": [] });
//! connector.push(&bundle, &connector_kit::PushOptions { work_id: Some(work.clone()), ..Default::default() }).await?;
//! connector.set_state(json!({ "last_run": "2026-12-07T00:00:00Z" }));
//! connector.to_processed(&work, "done", false).await?;
//! connector.stop().await
//! # }
//! ```
//!
//! What it covers:
//! - [`Settings`]: every variable and `config.yml` key as pycti names them, its exceptions
//!   included; two kit-only ones make its timers short in tests
//!   (`CONNECTOR_KIT_PING_PERIOD`, `CONNECTOR_KIT_STREAM_WATCHDOG`).
//! - [`Connector`]: registration, the ping loop carrying the state, clean stop on SIGTERM
//!   (it never unregisters: that would erase the state).
//! - Works ([`Connector::initiate_work`]…), pushes over RabbitMQ or `stixBundlePush`
//!   ([`Connector::push`]), jobs over RabbitMQ or an HTTP listener that verifies the
//!   platform's JWT ([`Connector::listen`]), files ([`Client::fetch_file`],
//!   [`Client::push_entity_export`]…), acting as the requester ([`Client::impersonate`]),
//!   and the live stream with resume and a watchdog ([`Connector::listen_stream`]).
//!
//! It speaks the wire only and depends on nothing of the platform: it works against a real
//! OpenCTI as against a mock.

mod client;
mod connector;
mod error;
mod files;
pub mod ids;
mod jobs;
pub mod jwt;
mod push;
mod settings;
mod stop;
mod stream;
mod works;

pub use client::{Client, Upload};
pub use connector::{Connector, RegisterOptions, Registration};
pub use error::{Error, Result};
pub use files::FileOut;
pub use jobs::Job;
pub use push::PushOptions;
pub use settings::{ConnectorSettings, ListenProtocol, MqOverrides, QueueProtocol, Settings, parse_iso_duration};
pub use stream::{SseParser, StreamEvent, StreamOptions};

/// Logs as connectors do: one line per event on standard error, the level from
/// `CONNECTOR_LOG_LEVEL` (info by default). Returns whether it installed the subscriber.
pub fn init_logging() -> bool {
    let level = std::env::var("CONNECTOR_LOG_LEVEL").unwrap_or_else(|_| "info".into()).to_lowercase();
    let level = match level.as_str() {
        "debug" => "debug",
        "warn" | "warning" => "warn",
        "error" => "error",
        _ => "info",
    };
    // The broker client's and the HTTP stack's own chatter stays out of the connector's log.
    let filter = tracing_subscriber::EnvFilter::new(format!("{level},lapin=warn,hyper=warn,reqwest=warn"));
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(false)
        .try_init()
        .is_ok()
}
