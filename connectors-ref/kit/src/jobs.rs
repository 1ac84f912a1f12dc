//! Jobs: what the platform asks of enrichment, import, export and analysis connectors.
//!
//! Jobs arrive on the connector's `listen_<id>` queue (`CONNECTOR_LISTEN_PROTOCOL=AMQP`,
//! acknowledged on delivery, before processing, so a job that crashes the connector is not
//! sent again) or as POSTs to its HTTP listener (`API`: the platform's worker calls
//! `listen_callback_uri` with a JWT the listener verifies against the registration's
//! `jwks`, and waits for the job to finish before it gets its `202`). One job at a time,
//! in order, either way.
//!
//! [`Connector::listen`] reports each job's work received, runs the handler and closes the
//! work with the handler's message, in error when it fails. [`Connector::listen_unmanaged`]
//! hands the job over as it came and leaves its work to the handler.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::{FieldTable, ShortString};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::connector::{Connector, RETRY};
use crate::error::{Error, Result};
use crate::jwt::KeySet;
use crate::push::{PushOptions, broker_uri, open_channel};
use crate::settings::ListenProtocol;

/// A job, as the platform sent it.
#[derive(Debug, Clone)]
pub struct Job {
    /// `internal.work_id`: the work to report on (none for a playbook step).
    pub work_id: Option<String>,
    /// `internal.applicant_id`: the user who asked (none: the connector's own user).
    pub applicant_id: Option<String>,
    /// `internal.draft_id`: the draft the job works in.
    pub draft_id: Option<String>,
    /// `event`: what to do (its keys depend on the connector type).
    pub event: Value,
    /// The whole message.
    pub message: Value,
}

impl Job {
    /// Reads a job message; `None` when it has no `event` object (pycti drops those).
    pub fn from_message(message: Value) -> Option<Job> {
        let text = |p: &str| message.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        message.get("event").filter(|e| e.is_object())?;
        Some(Job {
            work_id: text("/internal/work_id"),
            applicant_id: text("/internal/applicant_id"),
            draft_id: text("/internal/draft_id"),
            event: message["event"].clone(),
            message: message.clone(),
        })
    }

    /// A string of the event.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.event.get(key).and_then(Value::as_str)
    }

    /// Options for pushing this job's results: its work, for its applicant, in its draft.
    pub fn push_options(&self) -> PushOptions {
        PushOptions { work_id: self.work_id.clone(), applicant_id: self.applicant_id.clone(), draft_id: self.draft_id.clone() }
    }
}

/// A job and, in HTTP mode, who waits for its end.
type Delivery = (Value, Option<oneshot::Sender<()>>);

impl Connector {
    /// Answers jobs until the connector stops: each job's work is reported received, the
    /// handler runs, the work is closed with its message (`Ok`) or in error (`Err`).
    pub async fn listen<F>(&self, mut handler: F) -> Result<()>
    where
        F: AsyncFnMut(&Job) -> std::result::Result<String, String>,
    {
        self.listen_unmanaged(async |job: Job| {
            let Some(work) = job.work_id.clone() else {
                let _ = handler(&job).await;
                return;
            };
            if let Err(e) = self.to_received(&work, "Connector ready to process the operation").await {
                tracing::warn!("cannot report work {work} received: {e}");
            }
            let (message, in_error) = match handler(&job).await {
                Ok(m) => (m, false),
                Err(e) => {
                    tracing::error!("job failed: {e}");
                    (e, true)
                }
            };
            if let Err(e) = self.to_processed(&work, &message, in_error).await {
                tracing::warn!("cannot close work {work}: {e}");
            }
        })
        .await
    }

    /// Hands each job to `handler` as it came, until the connector stops; the handler
    /// reports on the job's work itself.
    pub async fn listen_unmanaged<F>(&self, mut handler: F) -> Result<()>
    where
        F: AsyncFnMut(Job),
    {
        let (tx, mut rx) = mpsc::channel::<Delivery>(1);
        let stop = self.stopping();
        let source = match self.settings().listen_protocol {
            ListenProtocol::Api => tokio::spawn(serve_http(self.clone(), tx)),
            ListenProtocol::Amqp => tokio::spawn(consume_amqp(self.clone(), tx)),
        };
        loop {
            let next = tokio::select! {
                next = rx.recv() => next,
                () = stop.cancelled() => break,
            };
            let Some((message, done)) = next else { break };
            match Job::from_message(message) {
                Some(job) => handler(job).await,
                None => tracing::error!("a job without an event object was dropped"),
            }
            if let Some(done) = done {
                let _ = done.send(());
            }
        }
        source.abort();
        match source.await {
            Ok(Err(e)) => Err(e),
            _ => Ok(()),
        }
    }
}

/// Consumes `listen_<id>`: prefetch 1, acknowledged on delivery; reconnects after a pause
/// when the broker drops the connection.
async fn consume_amqp(connector: Connector, tx: mpsc::Sender<Delivery>) -> Result<()> {
    let uri = broker_uri(connector.settings(), connector.registration());
    let queue = connector.registration().config["listen"]
        .as_str()
        .ok_or_else(|| Error::Other("the registration named no listen queue".into()))?
        .to_string();
    loop {
        match consume_once(&uri, &queue, &tx).await {
            Ok(()) => return Ok(()),
            Err(e) => tracing::warn!("listening on {queue}: {e}; again in {RETRY:?}"),
        }
        tokio::time::sleep(RETRY).await;
    }
}

async fn consume_once(uri: &str, queue: &str, tx: &mpsc::Sender<Delivery>) -> Result<()> {
    let (_conn, channel) = open_channel(uri).await?;
    channel.basic_qos(1, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            ShortString::from(queue.to_string()),
            ShortString::from(""),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    while let Some(delivery) = consumer.next().await {
        let delivery = delivery?;
        delivery.ack(BasicAckOptions::default()).await?;
        match serde_json::from_slice::<Value>(&delivery.data) {
            Ok(message) => {
                let (done, wait) = oneshot::channel();
                if tx.send((message, Some(done))).await.is_err() {
                    return Ok(());
                }
                // One job at a time: the next delivery waits for this one.
                let _ = wait.await;
            }
            Err(e) => tracing::error!("a job that is not JSON was dropped: {e}"),
        }
    }
    Err(Error::Amqp("the consumer was cancelled".into()))
}

struct Listener {
    keys: KeySet,
    jobs: mpsc::Sender<Delivery>,
}

/// The HTTP listener: `GET /health`, and `POST <path>` for jobs.
async fn serve_http(connector: Connector, tx: mpsc::Sender<Delivery>) -> Result<()> {
    let settings = connector.settings();
    let keys = KeySet::from_jwks(&connector.registration().jwks).map_err(Error::Other)?;
    let state = Arc::new(Listener { keys, jobs: tx });
    let app = axum::Router::new()
        .route("/health", axum::routing::get(async || axum::Json(json!({ "status": "ok" }))))
        .route(&settings.listen_path, axum::routing::post(callback))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", settings.listen_port))
        .await
        .map_err(|e| Error::Other(format!("cannot listen on port {}: {e}", settings.listen_port)))?;
    tracing::info!("listening for jobs on port {}{}", settings.listen_port, settings.listen_path);
    axum::serve(listener, app).await.map_err(|e| Error::Other(format!("HTTP listener: {e}")))
}

async fn callback(State(state): State<Arc<Listener>>, headers: HeaderMap, body: axum::body::Bytes) -> impl IntoResponse {
    let authorized = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let mut parts = v.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(scheme), Some(token), None) if scheme.eq_ignore_ascii_case("bearer") => Some(token.to_string()),
                _ => None,
            }
        })
        .is_some_and(|token| match state.keys.verify(&token, chrono::Utc::now().timestamp()) {
            Ok(()) => true,
            Err(why) => {
                tracing::warn!("job callback refused: {why}");
                false
            }
        });
    if !authorized {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({ "error": "Invalid credentials" })));
    }
    let Ok(message) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({ "error": "Invalid JSON payload" })));
    };
    let (done, wait) = oneshot::channel();
    if state.jobs.send((message, Some(done))).await.is_err() || wait.await.is_err() {
        return (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({ "error": "Error processing message" })));
    }
    (StatusCode::ACCEPTED, axum::Json(json!({ "message": "Message successfully received" })))
}
