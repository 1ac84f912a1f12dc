//! INTERNAL_ENRICHMENT: a connector the platform sends entities to enrich, one job at a
//! time (over RabbitMQ or the worker's HTTP callback).

use crate::check::{Check, Level, Outcome};
use crate::evidence::{Evidence, Job};
use crate::verify::{self, describe_job, jobs_of, pushed_ids};

const TYPES: &[&str] = &["INTERNAL_ENRICHMENT"];

/// The INTERNAL_ENRICHMENT suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "ENRICH-001",
            title: "Every job is answered",
            level: Level::Must,
            requirement: "An enrichment connector MUST close the work of every job it is sent (workEdit.toProcessed, in error when it \
                          cannot enrich): an unanswered job leaves its work waiting forever and, in HTTP listen mode, holds the \
                          worker's callback until it times out.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received, then to_processed); platform worker listen_handler.py \
                    (one callback at a time, 300 s timeout)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: verify::jobs_answered,
        },
        Check {
            id: "ENRICH-002",
            title: "The bundle sent back contains the enriched entity",
            level: Level::Must,
            requirement: "An enrichment MUST send the enriched entity itself in the bundle it pushes (with what it added): the platform \
                          and playbooks read the enrichment's result from that entity, and relationships to it are only \
                          consistent when it is in the bundle.",
            cites: "pycti 7.261026.0 send_stix2_bundle(cleanup_inconsistent_bundle) drops relationships whose ends are not in the \
                    bundle; OpenCTI-Platform/connectors templates/internal-enrichment (stix_objects + new objects)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: entity_in_bundle,
        },
        Check {
            id: "ENRICH-003",
            title: "An out-of-scope or unknown entity is handled without a crash",
            level: Level::Must,
            requirement: "A connector MUST survive a job it cannot handle — an entity type outside its scope (a manual ask is not \
                          checked against the scope) or an entity deleted before it is read: it closes the work (in error or \
                          with a message) and keeps answering the next jobs.",
            cites: "platform askEnrichment (no scope check, domain/stixCoreObject.js); pycti 7.261026.0 ListenQueue._data_handler \
                    ('Unable to read/access the entity')",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: survives_odd_jobs,
        },
        Check {
            id: "ENRICH-004",
            title: "The max TLP is respected",
            level: Level::Must,
            requirement: "When configured with a max TLP, a connector MUST NOT enrich (send to its third-party service, or push \
                          results for) an entity marked above it.",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper.check_max_tlp; OpenCTI-Platform/connectors templates/internal-enrichment \
                    (max_tlp_level)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: max_tlp_respected,
        },
        Check {
            id: "ENRICH-005",
            title: "Each job's work is reported received before it is closed",
            level: Level::Must,
            requirement: "A connector MUST report a job's work received (workEdit.toReceived) before completing it, so the platform \
                          shows the job in progress while it runs.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received 'Connector ready to process the operation')",
            applies_to: TYPES,
            enforced_by_pycti: true,
            verify: verify::jobs_received_before_completed,
        },
    ]
}

fn entity_in_bundle(ev: &Evidence) -> Outcome {
    let jobs = match jobs_of(ev, "in-scope") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let with_push: Vec<&&Job> =
        jobs.iter().filter(|j| j.work_id.as_deref().is_some_and(|w| ev.bundles_of(w).next().is_some())).collect();
    if with_push.is_empty() {
        return Outcome::blocked("the connector pushed nothing for the in-scope jobs");
    }
    let missing: Vec<String> = with_push
        .iter()
        .filter(|j| !pushed_ids(ev, j.work_id.as_deref().unwrap_or_default()).contains(j.subject.as_str()))
        .map(|j| describe_job(j))
        .collect();
    if missing.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(
            "the enriched entity in the bundle of every in-scope job",
            format!("absent for {}", verify::sample(&missing, 3)),
        )
    }
}

fn survives_odd_jobs(ev: &Evidence) -> Outcome {
    let mut odd: Vec<&Job> = ev.jobs_with_role("out-of-scope").collect();
    odd.extend(ev.jobs_with_role("unknown-entity"));
    if odd.is_empty() {
        return Outcome::blocked("the session sent no out-of-scope or unknown-entity job");
    }
    let bad: Vec<String> = odd
        .iter()
        .filter_map(|j| match (j.processed, j.connector_alive_after) {
            (true, true) => None,
            (_, false) => Some(format!("{}: the connector exited", describe_job(j))),
            (false, true) => Some(format!("{}: work never closed", describe_job(j))),
        })
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("each such job closed, and the connector still running after it", verify::sample(&bad, 3))
    }
}

fn max_tlp_respected(ev: &Evidence) -> Outcome {
    let Some(max) = ev.settings.get("CONNECTOR_MAX_TLP") else {
        return Outcome::blocked("the session set no max TLP");
    };
    let jobs = match jobs_of(ev, "above-max-tlp") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let pushed: Vec<String> = jobs
        .iter()
        .filter(|j| j.work_id.as_deref().is_some_and(|w| ev.bundles_of(w).next().is_some()))
        .map(|j| describe_job(j))
        .collect();
    if pushed.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(
            format!("nothing pushed for an entity marked above {max}"),
            format!("pushed for {}", verify::sample(&pushed, 3)),
        )
    }
}
