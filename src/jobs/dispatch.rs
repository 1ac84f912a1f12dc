//! Delivering jobs: the broker publish (`pushToConnector`), or the worker's HTTP dispatch
//! to connectors in `listen_protocol=api` mode.
//!
//! The HTTP dispatch does what the platform's worker does (`listen_handler.py`): POST the
//! raw message to the registered `listen_callback_uri` with `User-Agent: pycti/<v>`,
//! `Content-Type: application/json` and `Authorization: Bearer <token>` — a platform-signed
//! EdDSA JWT (`iss: opencti`, `sub: connector`, header `kid` from the registration's
//! `jwks`) on 7.x, the connector user's API token on 6.9 (which a 7.x pycti refuses with
//! 401). 200 and 202 acknowledge the job; any other status, a connection error or a
//! timeout is retried after a wait drawn between `worker.listen_api_retry_min_ms` and
//! `…_max_ms`, until acknowledged. Jobs of one connector go one at a time, in order (the
//! connector answers when the job is done). Every attempt is kept on the job; failures go
//! to the transcript and the connector's status (`listen_callback_error`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::config::{CallbackAuth, Settings, Worker as WorkerSettings};
use crate::keys::ConnectorKeys;
use crate::profile::Profile;
use crate::store::Store;
use crate::store::jobs::{Attempt, JobStatus, Transport};
use crate::store::faults::CallbackAction;
use crate::store::transcript::EntryKind;
use crate::tasks::Tasks;

/// The `User-Agent` of the worker's callbacks (the worker is a pycti program).
pub const WORKER_USER_AGENT: &str = "pycti/7.261026.0";

/// Longest answer body kept on an attempt.
const DETAIL_CAP: usize = 300;

/// Delivers jobs; one per platform (cloning shares it).
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    /// Platform state (the jobs' records, the connectors, the users).
    store: Store,
    /// Effective settings (the worker's HTTP settings, the callback authentication).
    settings: Arc<Settings>,
    /// Signs the callbacks' JWTs.
    keys: Arc<ConnectorKeys>,
    /// The broker, for connectors listening over RabbitMQ.
    amqp: Arc<crate::amqp::Link>,
    /// One lane (a task taking jobs in order) per connector in HTTP mode.
    lanes: Mutex<HashMap<String, mpsc::UnboundedSender<u64>>>,
    /// The worker's HTTP client, built on first use (the settings are fixed).
    client: std::sync::OnceLock<Result<reqwest::Client, String>>,
    /// The platform's tasks: lanes and publishes are spawned through them and a lane ends
    /// when the token is cancelled.
    tasks: Tasks,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// A dispatcher over the platform's services, whose tasks run under `tasks` and end
    /// when its token is cancelled.
    pub fn new(
        store: Store,
        settings: Arc<Settings>,
        keys: Arc<ConnectorKeys>,
        amqp: Arc<crate::amqp::Link>,
        tasks: Tasks,
    ) -> Self {
        let inner = Inner { store, settings, keys, amqp, lanes: Mutex::default(), client: std::sync::OnceLock::new(), tasks };
        Dispatcher { inner: Arc::new(inner) }
    }

    /// The platform state.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The platform's settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    fn keys(&self) -> &ConnectorKeys {
        &self.inner.keys
    }

    /// The platform's broker link.
    pub fn amqp(&self) -> &crate::amqp::Link {
        &self.inner.amqp
    }

    /// Sends job `seq` the way its record says (HTTP lane, broker publish, or nothing).
    pub fn deliver(&self, seq: u64) {
        let jobs = self;
        let Some((transport, connector_id)) =
            jobs.store().read(|s| s.jobs.get(seq).map(|j| (j.transport, j.connector_id.clone())))
        else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            fail(jobs, seq, "no async runtime to deliver the job from".into());
            return;
        };
        match transport {
            Transport::Http => {
                let mut lanes = self.inner.lanes.lock().expect("lanes lock");
                let sender = lanes.entry(connector_id.clone()).or_insert_with(|| self.open_lane(&runtime, &connector_id));
                if let Err(mpsc::error::SendError(seq)) = sender.send(seq) {
                    // The lane ended (platform stopping): open a new one for this job.
                    let fresh = self.open_lane(&runtime, &connector_id);
                    let _ = fresh.send(seq);
                    *sender = fresh;
                }
            }
            Transport::Amqp => {
                let jobs = jobs.clone();
                let tasks = jobs.inner.tasks.clone();
                // A publish is short (bounded by the broker's answer), and ends with the platform.
                tasks.spawn_on(
                    "job publish",
                    async move {
                        tokio::select! {
                            () = publish(&jobs, seq, &connector_id) => {}
                            () = jobs.inner.tasks.cancelled() => {}
                        }
                    },
                    &runtime,
                );
            }
            Transport::None => {}
        }
    }

    fn open_lane(&self, runtime: &tokio::runtime::Handle, connector_id: &str) -> mpsc::UnboundedSender<u64> {
        let (tx, rx) = mpsc::unbounded_channel();
        let (jobs, id) = (self.clone(), connector_id.to_string());
        self.inner.tasks.spawn_on("job lane", lane(jobs, id, rx), runtime);
        tx
    }

    /// The HTTP client of the worker settings (built once).
    fn client(&self, settings: &WorkerSettings) -> Result<reqwest::Client, String> {
        self.inner.client.get_or_init(|| build_client(settings)).clone()
    }
}

fn build_client(settings: &WorkerSettings) -> Result<reqwest::Client, String> {
    let mut builder = reqwest::Client::builder()
        .danger_accept_invalid_certs(!settings.listen_api_ssl_verify)
        .timeout(Duration::from_millis(settings.listen_api_timeout_ms))
        .no_proxy();
    if !settings.listen_api_http_proxy.is_empty() {
        builder =
            builder.proxy(reqwest::Proxy::http(&settings.listen_api_http_proxy).map_err(|e| format!("invalid HTTP proxy: {e}"))?);
    }
    if !settings.listen_api_https_proxy.is_empty() {
        builder = builder
            .proxy(reqwest::Proxy::https(&settings.listen_api_https_proxy).map_err(|e| format!("invalid HTTPS proxy: {e}"))?);
    }
    builder.build().map_err(|e| format!("cannot build the worker's HTTP client: {e}"))
}

fn fail(jobs: &Dispatcher, seq: u64, why: String) {
    let now = jobs.store().clock().now();
    jobs.store().write(|s| {
        if let Some(j) = s.jobs.get_mut(seq) {
            j.status = JobStatus::Failed;
        }
        s.transcript.push(now, EntryKind::Note { message: format!("job {seq} not delivered: {why}") });
    });
}

async fn publish(jobs: &Dispatcher, seq: u64, connector_id: &str) {
    let Some(message) = jobs.store().read(|s| s.jobs.get(seq).map(|j| j.message.clone())) else { return };
    let Some(broker) = jobs.amqp().broker() else {
        fail(jobs, seq, "the platform has no broker".into());
        return;
    };
    // The connector's queues are declared at registration, but that runs after the
    // registration is stored: a job sent right then must not find its queue missing (an
    // unroutable message is dropped). Declaring is idempotent.
    let spec = jobs.store().read(|s| s.connectors.get(connector_id).map(crate::amqp::ConnectorSpec::from));
    if let Some(spec) = spec
        && let Err(e) = broker.provision(spec).await
    {
        return fail(jobs, seq, format!("cannot declare the connector's queues: {e}"));
    }
    match broker.publish_raw_job(connector_id, message.as_bytes()).await {
        Ok(()) => {
            let now = jobs.store().clock().now();
            jobs.store().write(|s| {
                if let Some(j) = s.jobs.get_mut(seq) {
                    j.status = JobStatus::Delivered;
                    j.delivered_at = Some(now);
                }
            });
        }
        Err(e) => fail(jobs, seq, format!("publish to the listen queue failed: {e}")),
    }
}

async fn lane(jobs: Dispatcher, connector_id: String, mut queue: mpsc::UnboundedReceiver<u64>) {
    let tasks = jobs.inner.tasks.clone();
    loop {
        let seq = tokio::select! {
            next = queue.recv() => match next { Some(seq) => seq, None => return },
            () = tasks.cancelled() => return,
        };
        tokio::select! {
            _ = post_until_acknowledged(&jobs, &connector_id, seq) => {}
            () = tasks.cancelled() => return,
        }
    }
}

/// What one POST needs, read from the state.
struct Request {
    uri: String,
    body: String,
    bearer: String,
}

fn prepare(jobs: &Dispatcher, connector_id: &str, seq: u64) -> Result<Request, String> {
    let now = jobs.store().clock().now();
    jobs.store().write(|s| {
        let c = s.connectors.get(connector_id).ok_or("the connector was deleted")?;
        let uri = c
            .registration
            .listen_callback_uri
            .clone()
            .filter(|u| !u.is_empty())
            .ok_or("the connector no longer has a callback URI")?;
        let user_token = || {
            s.users
                .by_id(&c.connector_user_id)
                .and_then(|u| u.api_tokens.iter().find(|t| !t.revoked))
                .map(|t| t.token.clone())
                .ok_or("the connector's user has no API token")
        };
        let bearer = match (jobs.settings().mock.callback_auth, s.profile) {
            (CallbackAuth::Profile, Profile::V7) => jobs.keys().connector_jwt(now.timestamp()),
            // 6.9: the connector user's own API token.
            (CallbackAuth::Profile, _) | (CallbackAuth::UserToken, _) => user_token()?,
            (CallbackAuth::ForeignKey, _) => jobs.keys().impostor().connector_jwt(now.timestamp()),
        };
        let job = s.jobs.get_mut(seq).ok_or("the job is gone")?;
        job.status = JobStatus::Delivering;
        Ok(Request { uri, body: job.message.clone(), bearer })
    })
}

async fn post_until_acknowledged(jobs: &Dispatcher, connector_id: &str, seq: u64) {
    let settings = jobs.settings().worker.clone();
    loop {
        let request = match prepare(jobs, connector_id, seq) {
            Ok(r) => r,
            Err(why) => return fail(jobs, seq, why.to_string()),
        };
        let client = match jobs.client(&settings) {
            Ok(c) => c,
            Err(why) => return fail(jobs, seq, why),
        };
        let at = jobs.store().clock().now();
        let started = Instant::now();
        let fault = jobs.store().write(|s| {
            let fired = s.faults.on_callback(connector_id);
            if let Some((rule, action)) = &fired {
                let entry = EntryKind::Fault { rule: *rule, operation: format!("callback of job {seq}"), action: format!("{action:?}") };
                s.transcript.push(at, entry);
            }
            fired
        });
        let injected = match fault {
            Some((rule, CallbackAction::Status { status })) => Some((Some(status), format!("answered by callback fault {rule}"))),
            Some((rule, CallbackAction::Timeout)) => {
                tokio::time::sleep(Duration::from_millis(settings.listen_api_timeout_ms)).await;
                let why = format!("no answer within {} ms (worker.listen_api_timeout_ms; callback fault {rule})", settings.listen_api_timeout_ms);
                Some((None, why))
            }
            Some((_, CallbackAction::Slow { ms })) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                None
            }
            None => None,
        };
        let (status, detail) = match injected {
            Some(answer) => answer,
            None => {
                let answer = client
                    .post(&request.uri)
                    .header(reqwest::header::USER_AGENT, WORKER_USER_AGENT)
                    .header(reqwest::header::AUTHORIZATION, format!("Bearer {}", request.bearer))
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(request.body)
                    .send()
                    .await;
                match answer {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        (Some(status), shorten(&r.text().await.unwrap_or_default()))
                    }
                    Err(e) => (None, describe(&e, &settings)),
                }
            }
        };
        let millis = started.elapsed().as_millis() as u64;
        let acknowledged = matches!(status, Some(200 | 202));
        let wait = retry_wait(&settings);
        let now = jobs.store().clock().now();
        jobs.store().write(|s| {
            if let Some(j) = s.jobs.get_mut(seq) {
                j.attempts.push(Attempt { at, status, detail: detail.clone(), millis });
                j.status = if acknowledged { JobStatus::Delivered } else { JobStatus::Retrying };
                if acknowledged {
                    j.delivered_at = Some(now);
                }
            }
            if let Some(c) = s.connectors.get_mut(connector_id) {
                c.listen_callback_error = (!acknowledged).then(|| match status {
                    Some(code) => format!("{} answered HTTP {code}: {detail}", request.uri),
                    None => format!("{} cannot be reached: {detail}", request.uri),
                });
            }
            if !acknowledged {
                let what = match status {
                    Some(code) => format!("answered HTTP {code} ({detail})"),
                    None => format!("could not be reached: {detail}"),
                };
                s.transcript.push(
                    now,
                    EntryKind::Note {
                        message: format!(
                            "job {seq}: the callback {} of connector {connector_id} {what}; retrying in {} ms",
                            request.uri,
                            wait.as_millis()
                        ),
                    },
                );
            }
        });
        if acknowledged {
            return;
        }
        tokio::time::sleep(wait).await;
    }
}

fn retry_wait(settings: &WorkerSettings) -> Duration {
    let (min, max) = (settings.listen_api_retry_min_ms, settings.listen_api_retry_max_ms);
    let (lo, hi) = (min.min(max), min.max(max));
    Duration::from_millis(if hi > lo { fastrand::u64(lo..=hi) } else { lo })
}

fn shorten(body: &str) -> String {
    if body.len() <= DETAIL_CAP {
        return body.to_string();
    }
    let mut end = DETAIL_CAP;
    while !body.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &body[..end])
}

/// A transport error in words, with its causes, and a hint for the usual mistakes.
fn describe(e: &reqwest::Error, settings: &WorkerSettings) -> String {
    let mut text = if e.is_timeout() {
        format!("no answer within {} ms (worker.listen_api_timeout_ms)", settings.listen_api_timeout_ms)
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let c = cause.to_string();
        if !text.contains(&c) {
            text.push_str(": ");
            text.push_str(&c);
        }
        source = cause.source();
    }
    if e.is_connect() {
        text.push_str(
            " — is the connector running, and is the URI it registered (CONNECTOR_LISTEN_PROTOCOL_API_URI + \
             CONNECTOR_LISTEN_PROTOCOL_API_PATH) reachable from the platform? pycti listens on \
             CONNECTOR_LISTEN_PROTOCOL_API_PORT (default 7070); a `listen_protocol_port` key is ignored",
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_stay_within_the_bounds() {
        let s = WorkerSettings { listen_api_retry_min_ms: 10, listen_api_retry_max_ms: 30, ..WorkerSettings::default() };
        for _ in 0..100 {
            let w = retry_wait(&s).as_millis();
            assert!((10..=30).contains(&w), "{w}");
        }
        let fixed = WorkerSettings { listen_api_retry_min_ms: 5, listen_api_retry_max_ms: 5, ..WorkerSettings::default() };
        assert_eq!(retry_wait(&fixed), Duration::from_millis(5));
    }

    #[test]
    fn long_answers_are_shortened_on_a_char_boundary() {
        let long = "é".repeat(400);
        let s = shorten(&long);
        assert!(s.ends_with('…') && s.len() <= DETAIL_CAP + 3);
        assert_eq!(shorten("ok"), "ok");
    }
}
