//! Driving a job connector (enrichment, file import) during a session: the knowledge and
//! files it works on, and the jobs the platform sends it, one at a time, each awaited
//! until the connector closes its work (or the job timeout, or the connector's exit).
//!
//! Enrichment jobs (the connector's scope must hold `IPv4-Addr` and `Domain-Name`;
//! `CONNECTOR_MAX_TLP=TLP:AMBER` is handed to it):
//! `in-scope` an IPv4 address marked TLP:GREEN, `in-scope` a domain name, `out-of-scope`
//! a malware, `unknown-entity` an address deleted as soon as the job is sent,
//! `above-max-tlp` an address marked TLP:RED, `in-scope` a last address (the connector
//! still works after the odd ones).
//!
//! File-import jobs (scope `application/json`): `valid-file` a STIX bundle to import,
//! `workbench` another one with validation asked (workbench), `corrupt-file` a truncated
//! JSON file, `draft` the second bundle with validation asked in a draft.
//! The files are `fixtures/conformance/`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::MockPlatform;
use crate::jobs::{ImportOptions, Upload};

/// The knowledge enrichment jobs are about.
pub const ENRICHMENT_KNOWLEDGE: &str = include_str!("../../fixtures/conformance/enrichment-knowledge.json");
/// A valid STIX bundle to import.
pub const IMPORT_FEED: &str = include_str!("../../fixtures/conformance/import-feed.json");
/// A second one, imported only after validation.
pub const IMPORT_WORKBENCH: &str = include_str!("../../fixtures/conformance/import-workbench.json");
/// A truncated JSON file.
pub const IMPORT_CORRUPT: &str = include_str!("../../fixtures/conformance/import-corrupt.json");

/// The max TLP handed to enrichment connectors (`CONNECTOR_MAX_TLP`).
pub const ENRICHMENT_MAX_TLP: &str = "TLP:AMBER";

/// Whether a connector type is driven by jobs.
pub fn is_job_type(connector_type: &str) -> bool {
    matches!(connector_type, "INTERNAL_ENRICHMENT" | "INTERNAL_IMPORT_FILE")
}

/// What the session hands to a job connector besides the usual environment.
pub fn environment(connector_type: &str) -> Vec<(String, String)> {
    match connector_type {
        "INTERNAL_ENRICHMENT" => vec![("CONNECTOR_MAX_TLP".into(), ENRICHMENT_MAX_TLP.into())],
        _ => Vec::new(),
    }
}

/// The default scope of a job connector type.
pub fn default_scope(connector_type: &str) -> Option<&'static str> {
    match connector_type {
        "INTERNAL_ENRICHMENT" => Some("IPv4-Addr,Domain-Name"),
        "INTERNAL_IMPORT_FILE" => Some("application/json"),
        _ => None,
    }
}

/// A job sent, with the reason it was sent and whether the connector was alive after.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The platform's job sequence number.
    pub seq: u64,
    /// Why.
    pub role: &'static str,
    /// Transcript position when sent.
    pub sent_at: u64,
    /// The connector process was running once the job was answered or given up.
    pub alive_after: bool,
}

/// Prepares the platform (knowledge, files) before the connector starts.
pub fn prepare(platform: &MockPlatform, connector_type: &str) -> Result<(), String> {
    match connector_type {
        "INTERNAL_ENRICHMENT" => platform.seed(ENRICHMENT_KNOWLEDGE).map(|_| ()).map_err(|e| e.to_string()),
        "INTERNAL_IMPORT_FILE" => {
            for (name, content) in [
                ("conformance-feed.json", IMPORT_FEED),
                ("conformance-review.json", IMPORT_WORKBENCH),
                ("conformance-corrupt.json", IMPORT_CORRUPT),
            ] {
                platform
                    .upload(Upload {
                        filename: name.into(),
                        mime_type: "application/json".into(),
                        content: content.as_bytes().to_vec().into(),
                        markings: Vec::new(),
                        entity_id: None,
                        pending: false,
                        no_trigger_import: true,
                    })
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One step of a plan.
enum Step {
    Enrich { role: &'static str, entity: &'static str, delete_first: bool },
    Import { role: &'static str, file: &'static str, options: ImportOptions },
}

fn plan(connector_type: &str) -> Vec<Step> {
    let enrich = |role, entity, delete_first| Step::Enrich { role, entity, delete_first };
    let import = |role, file, mode: Option<&str>, force| Step::Import {
        role,
        file,
        options: ImportOptions { validation_mode: mode.map(str::to_string), force_validation: force, ..ImportOptions::default() },
    };
    match connector_type {
        "INTERNAL_ENRICHMENT" => vec![
            enrich("in-scope", "ipv4-addr--4ba1b3a0-4d8f-5c6b-9f3d-1a2b3c4d5e01", false),
            enrich("in-scope", "domain-name--2f6c1d3e-8a9b-5c0d-9e1f-2a3b4c5d6e02", false),
            enrich("out-of-scope", "malware--7d3e9b5a-1c2f-5a4b-8c6d-3e4f5a6b7c03", false),
            enrich("unknown-entity", "ipv4-addr--9c8b7a6d-5e4f-5a3b-8c2d-1e0f9a8b7c04", true),
            enrich("above-max-tlp", "ipv4-addr--1d2e3f4a-5b6c-5d7e-8f9a-0b1c2d3e4f05", false),
            enrich("in-scope", "ipv4-addr--6a5b4c3d-2e1f-5a0b-9c8d-7e6f5a4b3c06", false),
        ],
        "INTERNAL_IMPORT_FILE" => vec![
            import("valid-file", "import/global/conformance-feed.json", None, false),
            import("workbench", "import/global/conformance-review.json", Some("workbench"), true),
            import("corrupt-file", "import/global/conformance-corrupt.json", None, false),
            import("draft", "import/global/conformance-review.json", Some("draft"), true),
        ],
        _ => Vec::new(),
    }
}

/// Sends the plan's jobs once the connector has registered (in HTTP mode the dispatcher
/// retries until its listener answers), each awaited until its work is closed,
/// `job_timeout` passes or the connector exits (`alive` turns false). Returns what was sent.
pub async fn drive(
    platform: &MockPlatform,
    connector_id: &str,
    connector_type: &str,
    job_timeout: Duration,
    start_timeout: Duration,
    alive: Arc<AtomicBool>,
) -> Vec<Sent> {
    let store = platform.core().store.clone();
    let registered = store.wait_until(start_timeout, |s| s.connectors.get(connector_id).is_some()).await;
    if !registered || !alive.load(Ordering::SeqCst) {
        return Vec::new();
    }
    let mut sent = Vec::new();
    for step in plan(connector_type) {
        if !alive.load(Ordering::SeqCst) {
            break;
        }
        let sent_at = platform.read(|s| s.transcript.entries().last().map_or(0, |e| e.seq));
        let (role, work) = match step {
            Step::Enrich { role, entity, delete_first } => {
                let work = platform.ask_enrichment(connector_id, entity);
                if delete_first {
                    let now = store.clock().now();
                    store.write(|s| s.knowledge.remove_cascade(entity, now));
                }
                (role, work.map_err(|e| e.to_string()))
            }
            Step::Import { role, file, options } => {
                let works = platform.ask_import(file, Some(connector_id), &options).map_err(|e| e.to_string());
                (role, works.and_then(|w| w.into_iter().next().ok_or_else(|| "the connector was not selected".to_string())))
            }
        };
        let work = match work {
            Ok(w) => w,
            Err(why) => {
                tracing::warn!("conformance job {role} not sent: {why}");
                continue;
            }
        };
        let seq = platform.read(|s| s.jobs.all().iter().rev().find(|j| j.work_id.as_deref() == Some(&work.id)).map(|j| j.seq));
        let mut ticks = tokio::time::interval(Duration::from_millis(100));
        let deadline = tokio::time::Instant::now() + job_timeout;
        loop {
            ticks.tick().await;
            let closed = platform.read(|s| s.works.get(&work.id).is_some_and(|w| w.processed_time.is_some()));
            if closed || !alive.load(Ordering::SeqCst) || tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        if let Some(seq) = seq {
            sent.push(Sent { seq, role, sent_at, alive_after: alive.load(Ordering::SeqCst) });
        }
    }
    // Let the last pushes reach the worker before the connector is stopped.
    tokio::time::sleep(Duration::from_millis(500)).await;
    sent
}

/// The settings the checks read, for a job type.
pub fn settings(connector_type: &str) -> BTreeMap<String, String> {
    environment(connector_type).into_iter().collect()
}
