//! Running a connector against a fresh platform and collecting the evidence the
//! conformance checks judge (`opencti-mock conform`, the nextest conformance harness).
//!
//! A session starts an in-process platform, creates the connector's user with the role
//! its type needs, and launches the connector's command — twice by default, because some
//! requirements are about the second run (the state the first one saved, ids that do not
//! change) — with `OPENCTI_URL`, `OPENCTI_TOKEN` and `CONNECTOR_*` in its environment. A
//! run ends when the connector exits; a connector that keeps running is stopped (SIGTERM,
//! then SIGKILL) once it has been quiet for the settle period, or when the run timeout
//! expires; either way its output is kept. Between runs the worker drains what was pushed.
//! An EXTERNAL_IMPORT connector whose second run pushed nothing (its interval had not
//! elapsed, as its state says) is run a third time after the gate resets its state, so
//! that "the same data again" can still be judged. The evidence ([`opencti_conformance::Evidence`]) is then read off the platform's
//! transcript and state: verifiers see the wire, nothing else.

mod collect;
pub mod jobs;
mod process;
pub mod samples;
pub mod stream;

use std::time::{Duration, Instant};

use opencti_conformance::Evidence;
use opencti_conformance::evidence::{Run, RunEnd};

use crate::MockPlatform;
use crate::error::{Error, Result};

/// How to run a session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The connector type under test (`EXTERNAL_IMPORT`…).
    pub connector_type: String,
    /// The command that starts the connector: program, then arguments.
    pub command: Vec<String>,
    /// `CONNECTOR_QUEUE_PROTOCOL` handed to the connector (`api` or `amqp`; `amqp` runs
    /// the platform on a RabbitMQ broker: `OPENCTI_MOCK_AMQP_URL`, else the local one).
    pub queue_protocol: String,
    /// How many times the connector is launched (2: the second run is judged too).
    pub runs: usize,
    /// Longest a run may take before it is stopped.
    pub run_timeout: Duration,
    /// How long a connector that keeps running must be quiet (no call but pings) before it
    /// is stopped.
    pub settle: Duration,
    /// How long a stopped connector has to exit before it is killed.
    pub stop_grace: Duration,
    /// The platform's payload limit (`50mb` by default).
    pub max_payload_body_size: String,
    /// `CONNECTOR_SCOPE` handed to the connector (`None`: its own; the plan of a job
    /// connector follows the scope it registers either way).
    pub scope: Option<String>,
    /// More environment for the connector.
    pub env: Vec<(String, String)>,
    /// How job connectors (enrichment, file import) get their jobs: `api` (the worker POSTs
    /// them to the connector's HTTP listener) or `amqp` (`listen_<id>` on the broker).
    pub listen_protocol: String,
    /// Longest a job connector may take to close a job's work.
    pub job_timeout: Duration,
    /// What the session knows of a job connector: its own settings, samples given.
    pub job: jobs::JobOptions,
    /// A scenario the platform runs (its settings win over the session's).
    pub scenario: Option<crate::scenario::Scenario>,
    /// Which broker the platform uses when the session needs one (`None`: the RabbitMQ of
    /// `OPENCTI_MOCK_AMQP_URL` when set, else `auto`: the local RabbitMQ when it answers,
    /// else the embedded broker).
    pub broker: Option<crate::config::BrokerMode>,
}

impl Session {
    /// A session for a connector type and command, with the defaults.
    pub fn new(connector_type: impl Into<String>, command: Vec<String>) -> Self {
        let connector_type: String = connector_type.into();
        let job_type = jobs::is_job_type(&connector_type);
        Session {
            scope: None,
            // A job connector is launched once: it keeps running and is sent every job.
            runs: if job_type { 1 } else { 2 },
            connector_type,
            command,
            queue_protocol: "api".into(),
            run_timeout: Duration::from_secs(180),
            settle: Duration::from_secs(5),
            stop_grace: Duration::from_secs(10),
            max_payload_body_size: "50mb".into(),
            env: Vec::new(),
            listen_protocol: "api".into(),
            job_timeout: Duration::from_secs(60),
            job: jobs::JobOptions::default(),
            scenario: None,
            broker: None,
        }
    }
}

/// What happens during a session, for live progress.
#[derive(Debug, Clone)]
pub enum Progress {
    /// The platform is up.
    PlatformUp {
        /// Its URL.
        url: String,
        /// Its broker: `RabbitMQ amqp://…`, `the embedded broker amqp://…`, or none.
        broker: Option<String>,
    },
    /// A run started.
    RunStarted {
        /// 0-based.
        index: usize,
    },
    /// A run ended.
    RunEnded(Run),
}

/// The user a connector type runs as: export connectors need an Administrator, the others
/// the Connector role.
fn needs_admin(connector_type: &str) -> bool {
    connector_type == "INTERNAL_EXPORT_FILE"
}

/// Runs a session and returns what the platform observed.
pub async fn run(session: &Session, mut progress: impl FnMut(Progress)) -> Result<Evidence> {
    if session.command.is_empty() {
        return Err(Error::Config("no connector command given (after `--`)".into()));
    }
    let job_type = jobs::is_job_type(&session.connector_type);
    let mut builder = MockPlatform::builder()
        .max_payload_body_size(session.max_payload_body_size.clone())
        .missing_ref_retry_delay(Duration::from_millis(50), Duration::from_millis(150))
        .callback_retry_delay(Duration::from_millis(200), Duration::from_millis(500));
    if session.queue_protocol == "amqp" || (job_type && session.listen_protocol == "amqp") {
        builder = match (session.broker, std::env::var("OPENCTI_MOCK_AMQP_URL")) {
            (Some(mode), _) => builder.broker_mode(mode),
            (None, Ok(url)) if !url.is_empty() => builder.amqp_url(&url)?,
            (None, _) => builder.with_broker(),
        };
    }
    if let Some(scenario) = &session.scenario {
        builder = builder.scenario(scenario.clone());
    }
    let platform = builder.try_start().await?;
    let limit = platform.core().settings.max_payload_bytes().map_err(|e| Error::Config(e.to_string()))?;
    let broker = platform.core().amqp.broker().map(|b| match b.kind() {
        crate::amqp::BrokerKind::Embedded => format!("the embedded broker {}", b.endpoint().display()),
        _ => format!("RabbitMQ {}", b.endpoint().display()),
    });
    progress(Progress::PlatformUp { url: platform.url().to_string(), broker });
    let token = if needs_admin(&session.connector_type) {
        platform.token().to_string()
    } else {
        platform.add_connector_user(&format!("[C] conformance {}", session.connector_type.to_lowercase()))
    };
    // The connector's id: the one the user gives it, else a fresh UUID.
    let connector_id = session
        .env
        .iter()
        .find(|(k, _)| k == "CONNECTOR_ID")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    // A STREAM connector reads a collection of the gate's (its own id when it has one).
    let stream_plan = (session.connector_type == "STREAM").then(|| {
        let collection = session
            .env
            .iter()
            .find(|(k, _)| k == "CONNECTOR_LIVE_STREAM_ID")
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        stream::prepare(&platform, &collection)
    });
    let mut runs = Vec::new();
    let mut snapshots = Vec::new();
    let mut driven = jobs::Driven::default();
    let mut previous = collect::Knowledge::default();
    let mut index = 0;
    let mut after_state_reset = false;
    loop {
        progress(Progress::RunStarted { index });
        let first_seq = platform.read(|s| s.transcript.last_seq()) + 1;
        let started = Instant::now();
        let mut env = process::environment(session, platform.url(), &token, &connector_id);
        let alive = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let driver: Option<process::Driver<'_>> = if let Some(plan) = &stream_plan {
            if index == 1 {
                stream::while_down(&platform, plan);
            }
            let collection = stream::collection_id(plan);
            if !env.iter().any(|(k, _)| k == "CONNECTOR_LIVE_STREAM_ID") {
                env.push(("CONNECTOR_LIVE_STREAM_ID".into(), collection));
            }
            stream::run_started(&platform, plan);
            Some(Box::pin(stream::drive(&platform, &connector_id, index, plan.clone(), alive.clone())))
        } else if job_type {
            Some(Box::pin(jobs::drive(
                &platform,
                &connector_id,
                &session.connector_type,
                &session.job,
                (session.job_timeout, session.run_timeout),
                alive.clone(),
            )))
        } else {
            None
        };
        let outcome = process::launch(session, &env, &platform, &connector_id, driver, alive).await;
        driven.sent.extend(outcome.driven.sent);
        driven.notes.extend(outcome.driven.notes);
        collect::wait_for_ingestion(&platform, &connector_id, Duration::from_secs(60)).await;
        let last_seq = platform.read(|s| s.transcript.last_seq());
        let run = Run {
            index,
            first_seq,
            last_seq,
            end: outcome.end,
            exit_code: outcome.exit_code,
            seconds: started.elapsed().as_secs_f64(),
            output_tail: outcome.output_tail,
            after_state_reset,
            signal: outcome.signal,
            platform_stopped: stream_plan.as_ref().is_some_and(|plan| stream::stopped_in(plan, index)),
        };
        if let Some(plan) = &stream_plan {
            stream::run_ended(&platform, plan, &connector_id);
        }
        progress(Progress::RunEnded(run.clone()));
        let stopped_early = run.end == RunEnd::NotStarted;
        runs.push(run);
        let (snapshot, now) = collect::snapshot(&platform, &connector_id, &previous);
        snapshots.push(snapshot);
        previous = now;
        index += 1;
        if stopped_early {
            break;
        }
        if index < session.runs {
            continue;
        }
        // A second run that pushed nothing: once more, from a reset state.
        let second_pushed = platform.read(|s| {
            s.transcript
                .since(first_seq - 1)
                .iter()
                .any(|e| matches!(&e.kind, crate::store::transcript::EntryKind::Bundle(b) if b.connector_id == connector_id))
        });
        if session.connector_type == "EXTERNAL_IMPORT" && index == 2 && session.runs == 2 && !second_pushed {
            let now = platform.core().store.clock().now();
            platform.core().store.write(|s| {
                s.connectors.reset_state(&connector_id, now);
                s.queues.purge(&connector_id);
            });
            after_state_reset = true;
            continue;
        }
        break;
    }
    let mut evidence = collect::evidence(&platform, session, &connector_id, limit, runs, snapshots, &driven);
    evidence.stream = stream_plan.as_ref().map(|plan| stream::evidence(&platform, &connector_id, plan));
    platform.close().await;
    Ok(evidence)
}
