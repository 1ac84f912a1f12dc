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
            requirement: "An enrichment connector MUST close the work of every job it is sent (workEdit.toProcessed): an \
                          unanswered job leaves its work waiting forever and, in HTTP listen mode, holds the worker's callback until \
                          it times out.",
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
            requirement: "When configured with a max TLP, a connector MUST NOT enrich an entity marked above it: it writes no \
                          result for it (no new object, no change to the knowledge). Sending the job's own objects back unchanged, \
                          for playbook continuity, is not an enrichment.",
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
        Check {
            id: "ENRICH-006",
            title: "The platform refuses none of its objects",
            level: Level::Must,
            requirement: "An enrichment MUST NOT push objects the platform refuses (unresolvable references, relationship types not \
                          allowed between the two entity types, malformed observables or patterns): the refused ones are lost.",
            cites: "platform worker (pycti import_item errors reported on the work); OpenCTI-Platform/connectors \
                    templates/internal-enrichment",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: nothing_refused,
        },
        Check {
            id: "ENRICH-007",
            title: "Each job is handled on its own",
            level: Level::Must,
            requirement: "A connector MUST handle each job on its own entity: after jobs it refused or could not handle (out of \
                          scope, deleted, above the max TLP), an in-scope entity is enriched as the first one was. Nothing of an \
                          earlier job (its TLP, its entity, its error) may decide what happens to the next.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (each message is a job of its own: its entity read afresh, its \
                    work opened and closed); OpenCTI-Platform/connectors templates/internal-enrichment (process_message per \
                    message)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: each_job_on_its_own,
        },
    ]
}

fn entity_in_bundle(ev: &Evidence) -> Outcome {
    let jobs = match jobs_of(ev, "in-scope") {
        Ok(j) => j,
        Err(o) => return o,
    };
    if jobs.iter().all(|j| !j.processed) {
        return Outcome::blocked("no in-scope job was answered (see ENRICH-001)");
    }
    let with_push: Vec<&&Job> =
        jobs.iter().filter(|j| j.work_id.as_deref().is_some_and(|w| ev.bundles_of(w).next().is_some())).collect();
    if with_push.is_empty() {
        let through_api = jobs.iter().any(|j| !j.changed.is_empty());
        return Outcome::not_applicable(if through_api {
            "the connector pushed no bundle for its in-scope jobs: it enriches through the API (the knowledge changed without a \
             bundle), and the requirement is about the bundles it pushes"
        } else {
            "the connector pushed no bundle for its in-scope jobs (it found nothing to add): the requirement is about the bundles it \
             pushes"
        });
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
        return verify::no_job(ev, "no out-of-scope or unknown-entity job", &["out-of-scope", "unknown-entity"]);
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
    let jobs = match jobs_of(ev, "above-max-tlp") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let max = ev.settings.get("max_tlp").map_or("its max TLP", String::as_str);
    let enriched: Vec<String> = jobs
        .iter()
        .filter(|j| !j.changed.is_empty())
        .map(|j| format!("{}: wrote {}", describe_job(j), verify::sample(&j.changed, 3)))
        .collect();
    if enriched.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(format!("nothing written for an entity marked above {max}"), verify::sample(&enriched, 3))
    }
}

fn nothing_refused(ev: &Evidence) -> Outcome {
    let job_works: Vec<&str> = ev.jobs.iter().filter_map(|j| j.work_id.as_deref()).collect();
    if job_works.is_empty() {
        return verify::no_job(ev, "no job", &["in-scope"]);
    }
    if ev.jobs.iter().all(|j| !j.processed) {
        return Outcome::blocked("no job was answered (see ENRICH-001)");
    }
    if !job_works.iter().any(|w| ev.bundles_of(w).next().is_some()) {
        return Outcome::not_applicable("the connector pushed no bundle for its jobs");
    }
    let errors: Vec<String> = verify::work_errors(ev)
        .into_iter()
        // Refusals carry the refused object as their source; the connector's own closing in
        // error (an entity it could not read) does not.
        .filter(|(w, e)| job_works.contains(&w.id.as_str()) && e.source.as_deref().is_some_and(|s| !s.is_empty()))
        .map(|(w, e)| {
            format!("{}: {} ({})", w.id, e.message, e.source.as_deref().unwrap_or_default().chars().take(160).collect::<String>())
        })
        .collect();
    if errors.is_empty() { Outcome::Pass } else { Outcome::fail("no error on its jobs' works", verify::sample(&errors, 3)) }
}

/// What a job wrote: objects it pushed, or the knowledge it changed through the API.
fn did_something(ev: &Evidence, j: &Job) -> bool {
    !j.changed.is_empty() || j.work_id.as_deref().is_some_and(|w| !pushed_ids(ev, w).is_empty())
}

fn each_job_on_its_own(ev: &Evidence) -> Outcome {
    let in_scope = match jobs_of(ev, "in-scope") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let last_odd = ev.jobs.iter().filter(|j| j.role != "in-scope").map(|j| j.sent_at).max();
    let (Some(first), Some(last_odd)) = (in_scope.first(), last_odd) else {
        return verify::no_job(ev, "no job the connector could refuse", &["out-of-scope", "unknown-entity", "above-max-tlp"]);
    };
    let Some(after) = in_scope.iter().rev().find(|j| j.sent_at > last_odd) else {
        return verify::no_job(ev, "no in-scope job after the odd ones", &["in-scope"]);
    };
    if !first.processed || !after.processed {
        return Outcome::blocked("an in-scope job was not answered (see ENRICH-001)");
    }
    if !did_something(ev, first) {
        return Outcome::not_applicable(format!(
            "the connector wrote nothing for the first in-scope entity ({}): there is no enrichment to compare with",
            describe_job(first)
        ));
    }
    if did_something(ev, after) {
        return Outcome::Pass;
    }
    let closed = match (after.in_error, after.message.as_deref()) {
        (true, Some(m)) => format!("closed in error: {m:?}"),
        (true, None) => "closed in error".to_string(),
        (false, Some(m)) => format!("closed with {m:?}"),
        (false, None) => "closed with no message".to_string(),
    };
    Outcome::fail(
        format!("the in-scope entity after the odd jobs enriched as the first one ({}) was", describe_job(first)),
        format!("{}: nothing written ({closed})", describe_job(after)),
    )
}
