//! The state of one platform instance, and nothing else.
//!
//! A [`Store`] is a cheap-to-clone handle (`Arc<Shared>`) owning every piece of
//! platform state: users and tokens, connectors, works, the knowledge store, the ingest
//! queues, the fault rules and the transcript. There is no global state: two platforms
//! in one process (or nextest's parallel processes) never see each other.
//!
//! The state sits behind a `std::sync::Mutex`, not a Tokio one. Every critical section
//! is short and synchronous (a few map operations), and no lock is ever held across an
//! `.await` (clippy's `await_holding_lock` is denied crate-wide). A synchronous mutex is
//! cheaper and lets `Drop` implementations (expectation verification) read the state
//! without an executor — the reasoning mini-redis gives for its `Db`.
//!
//! Lock poisoning means a thread panicked while mutating the state; nothing sensible can
//! follow, so `lock()` failures are turned into a panic with a clear message in one
//! place (`Store::lock`).
//!
//! This module is transport-free: it imports neither axum, async-graphql nor lapin.
//! Writers bump a version counter on a `tokio::sync::watch` channel so that waiters
//! (`wait_until`, throttled ingest, the control API) wake up on any change.

pub mod access;
pub mod clock;
pub mod connectors;
pub mod drafts;
pub mod events;
pub mod faults;
pub mod files;
pub mod findings;
pub mod groups;
pub mod jobs;
pub mod knowledge;
pub mod parameters;
pub mod playbooks;
pub mod queues;
pub mod streams;
pub mod transcript;
pub mod users;
pub mod works;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;

use crate::profile::Profile;

pub use clock::Clock;

/// Everything one platform instance knows.
#[derive(Debug)]
pub struct State {
    /// Behaviour profile (6.9 or 7.x).
    pub profile: Profile,
    /// Users, groups, roles and API tokens.
    pub users: users::Users,
    /// Registered connectors.
    pub connectors: connectors::Connectors,
    /// Works (connector jobs).
    pub works: works::Works,
    /// Stored knowledge (STIX objects).
    pub knowledge: knowledge::Knowledge,
    /// Per-connector ingest queues (the HTTP-mode stand-in for `push_<id>`).
    pub queues: queues::Queues,
    /// Fault rules driven by tests and the control API.
    pub faults: faults::Faults,
    /// STIX 2.1 findings on received objects (advisory).
    pub findings: findings::Findings,
    /// Everything received, in order.
    pub transcript: transcript::Transcript,
    /// Objects the worker sent to the dead-letter queue (too many references).
    pub dead_letters: Vec<DeadLetter>,
    /// Stored files.
    pub files: files::Files,
    /// Jobs sent to connectors.
    pub jobs: jobs::Jobs,
    /// Draft workspaces.
    pub drafts: drafts::Drafts,
    /// Playbook steps sent to connectors, and their answers.
    pub playbooks: playbooks::Playbooks,
    /// Live stream collections (kept by a reset, as users are).
    pub streams: streams::StreamCollections,
    /// Settings edits and platform messages (kept by a reset, as users are).
    pub parameters: parameters::Parameters,
    /// How many times the state was reset (`POST /_mock/reset`).
    pub resets: u64,
}

impl State {
    /// `POST /_mock/reset`: forgets everything the platform received — connectors, works,
    /// knowledge, queues (messages from RabbitMQ are acknowledged), faults, findings, the
    /// transcript, dead letters, files, jobs, drafts and playbook steps. Kept: the profile, the users and
    /// their tokens, groups and roles, the settings edits, and the settings the queues carry; numbering (transcript, queues,
    /// jobs) goes on, so what a reader remembers never names something new. The built-in
    /// markings are the caller's to create again (they come through the worker).
    ///
    /// Every field is named here: a new one does not compile until it is decided whether
    /// a reset forgets it.
    pub fn reset(&mut self) {
        let State {
            profile: _,
            users: _,
            connectors,
            works,
            knowledge,
            queues,
            faults,
            findings,
            transcript,
            dead_letters,
            files,
            jobs,
            drafts,
            playbooks,
            streams: _,
            parameters: _,
            resets,
        } = self;
        *connectors = connectors::Connectors::default();
        *works = works::Works::default();
        knowledge.clear();
        queues.clear();
        *faults = faults::Faults::default();
        *findings = findings::Findings::default();
        transcript.clear();
        dead_letters.clear();
        *files = files::Files::default();
        jobs.clear();
        *drafts = drafts::Drafts::default();
        *playbooks = playbooks::Playbooks::default();
        *resets += 1;
    }

    /// The knowledge a request reads: its draft's (`opencti-draft-id`) when that draft
    /// exists, else the main one.
    pub fn knowledge_in(&self, draft_id: Option<&str>) -> &knowledge::Knowledge {
        draft_id.and_then(|d| self.drafts.get(d)).map_or(&self.knowledge, |d| &d.knowledge)
    }
}

/// An object the worker sent to the dead-letter queue (`listen_too-large-bundle`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeadLetter {
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Connector whose queue it came from.
    pub connector_id: String,
    /// The object's id.
    pub object_id: String,
    /// The message as published (JSON with base64 content).
    #[serde(skip)]
    pub body: Vec<u8>,
}

struct Shared {
    state: Mutex<State>,
    version: watch::Sender<u64>,
    clock: Clock,
}

/// Handle to one platform's state. Clones share the same state.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    /// A store with the given profile, admin token, clock and transcript retention.
    pub fn new(profile: Profile, admin_token: &str, clock: Clock, retention: transcript::Retention) -> Self {
        let state = State {
            profile,
            users: users::Users::new(admin_token, clock.now()),
            connectors: connectors::Connectors::default(),
            works: works::Works::default(),
            knowledge: knowledge::Knowledge::default(),
            queues: queues::Queues::default(),
            faults: faults::Faults::default(),
            findings: findings::Findings::default(),
            transcript: transcript::Transcript::new(retention),
            dead_letters: Vec::new(),
            files: files::Files::default(),
            jobs: jobs::Jobs::default(),
            drafts: drafts::Drafts::default(),
            playbooks: playbooks::Playbooks::default(),
            streams: streams::StreamCollections::default(),
            parameters: parameters::Parameters::default(),
            resets: 0,
        };
        let (version, _) = watch::channel(0);
        Store { shared: Arc::new(Shared { state: Mutex::new(state), version, clock }) }
    }

    /// The clock every timestamp of this platform comes from.
    pub fn clock(&self) -> &Clock {
        &self.shared.clock
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Poisoning means a panic in the middle of a state change: fatal by convention.
        self.shared.state.lock().expect("platform state lock poisoned: a previous panic corrupted it")
    }

    /// Reads the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.lock())
    }

    /// Changes the state and wakes every waiter.
    pub fn write<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let result = f(&mut self.lock());
        self.shared.version.send_modify(|v| *v = v.wrapping_add(1));
        result
    }

    /// Changes the state without waking the waiters: for bookkeeping no waiter waits on (a
    /// live stream reader's own counters and idle position). With hundreds of readers, each
    /// heartbeat waking all of them would cost more than the heartbeats.
    pub fn write_quiet<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.lock())
    }

    /// A receiver that changes whenever the state changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }

    /// Waits until `predicate` holds, re-checking after every state change.
    /// Returns `false` if `timeout` elapsed first.
    pub async fn wait_until(&self, timeout: Duration, mut predicate: impl FnMut(&State) -> bool) -> bool {
        let mut changes = self.subscribe();
        let check = async {
            loop {
                if self.read(&mut predicate) {
                    return;
                }
                if changes.changed().await.is_err() {
                    // The sender lives as long as the store: unreachable while `self` exists.
                    std::future::pending::<()>().await;
                }
            }
        };
        tokio::time::timeout(timeout, check).await.is_ok()
    }
}
