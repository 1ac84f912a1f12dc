//! EXTERNAL_IMPORT: a connector that fetches data on a schedule and pushes it.

use crate::check::{Check, Level, Outcome};
use crate::evidence::Evidence;
use crate::verify::{self, closings, opened_works, opening_of, pushes, require_push};

const TYPES: &[&str] = &["EXTERNAL_IMPORT"];

/// The EXTERNAL_IMPORT suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "EXT-IMPORT-001",
            title: "A work is opened before anything is pushed",
            level: Level::Must,
            requirement: "An import MUST open a work (workAdd) and push its bundles for that work: without one the platform makes an \
                          anonymous work the connector never closes, and operators cannot follow the run.",
            cites: "pycti 7.261026.0 api/opencti_api_work.py initiate_work; OpenCTIConnectorHelper.send_stix2_bundle(work_id=…)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: work_before_push,
        },
        Check {
            id: "EXT-IMPORT-002",
            title: "Every work it opens is closed",
            level: Level::Must,
            requirement: "An import MUST close every work it opens (workEdit.toProcessed), in error when the run fails: the worker \
                          completes a work whose pushed objects are all processed, but a work closed by nobody stays in progress \
                          whenever the run pushes nothing (a failure before the push, an empty feed).",
            cites: "pycti 7.261026.0 api/opencti_api_work.py to_processed; platform work completion rules",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: works_closed,
        },
        Check {
            id: "EXT-IMPORT-003",
            title: "The platform refuses none of its objects",
            level: Level::Must,
            requirement: "An import MUST NOT push objects the platform refuses (unresolvable references, relationship types not allowed \
                          between the two entity types, malformed observables, patterns that do not parse): they are lost, as work errors.",
            cites: "platform worker: import errors reported on the work (pycti 7.261026.0 utils/opencti_stix2.py import_item_with_retries); \
                    opencti-mock src/stix/refusals.md",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: nothing_refused,
        },
        Check {
            id: "EXT-IMPORT-004",
            title: "Its objects are valid STIX 2.1",
            level: Level::Should,
            requirement: "An import SHOULD push valid STIX 2.1 objects (required properties, id formats, timestamps, modified ≥ created), \
                          which other tools reading the platform's data rely on.",
            cites: "STIX Version 2.1, OASIS Standard (10 June 2021), sections 3 to 6",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: valid_stix,
        },
        Check {
            id: "EXT-IMPORT-005",
            title: "Pushing the same data again creates nothing",
            level: Level::Must,
            requirement: "An import MUST give the same ids to the same data on every run (pycti's generate_id): pushing the same \
                          data again — the second run, or a run after its state is reset when the second one skipped — creates no \
                          object and adds no STIX id.",
            cites: "pycti 7.261026.0 entities/*.py generate_id; platform upsert by standard id and x_opencti_stix_ids",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: deterministic,
        },
        Check {
            id: "EXT-IMPORT-006",
            title: "Every request fits within the payload limit",
            level: Level::Must,
            requirement: "An import MUST keep every request body within the platform's payload limit (app:max_payload_body_size, 50 MB by \
                          default): larger ones are refused whole.",
            cites: "platform body parser limit (app:max_payload_body_size), answered 500 {\"status\":\"error\",\"error\":\"request entity too large\"}",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: within_limit,
        },
        Check {
            id: "EXT-IMPORT-007",
            title: "It saves its state after a run",
            level: Level::Must,
            requirement: "An import MUST save a state (a JSON object, e.g. its last run) so that a restart does not fetch everything again.",
            cites: "pycti 7.261026.0 OpenCTIConnectorHelper.set_state; connectors' external-import template",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: state_saved,
        },
        Check {
            id: "EXT-IMPORT-008",
            title: "Everything it pushes is ingested",
            level: Level::Must,
            requirement: "An import's works MUST complete with every pushed object processed, and every message it pushes MUST be \
                          one the worker reads (a message the worker refuses is lost).",
            cites: "platform work completion rules (import_expected_number = import_processed_number, work closed); opencti-worker \
                    push_handler (an unreadable message is rejected without requeue)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: works_complete,
        },
    ]
}

fn work_before_push(ev: &Evidence) -> Outcome {
    if let Err(o) = require_push(ev) {
        return o;
    }
    let opened = opened_works(ev);
    let bad: Vec<String> = pushes(ev)
        .into_iter()
        .filter(|p| {
            let work = p.var_str("/work_id").and_then(|id| opened.iter().find(|w| w.id == id));
            work.and_then(|w| opening_of(ev, w)).is_none_or(|open| open.seq >= p.seq)
        })
        .map(|p| format!("{} work_id={}", p.describe(), p.var("/work_id").cloned().unwrap_or_default()))
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("every stixBundlePush names a work the connector opened before", verify::sample(&bad, 3))
    }
}

fn works_closed(ev: &Evidence) -> Outcome {
    let opened = opened_works(ev);
    if opened.is_empty() {
        return Outcome::blocked("the connector opened no work (see EXT-IMPORT-001)");
    }
    let unclosed: Vec<String> = opened.iter().filter(|w| closings(ev, &w.id).next().is_none()).map(|w| w.id.clone()).collect();
    if unclosed.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(
            "a workEdit.toProcessed call for every work opened",
            format!("never closed: {}", verify::sample(&unclosed, 3)),
        )
    }
}

fn nothing_refused(ev: &Evidence) -> Outcome {
    if let Err(o) = require_push(ev) {
        return o;
    }
    let errors: Vec<String> = verify::work_errors(ev).into_iter().map(|(w, e)| format!("{}: {}", w.id, e.message)).collect();
    if errors.is_empty() { Outcome::Pass } else { Outcome::fail("no error on its works", verify::sample(&errors, 3)) }
}

fn valid_stix(ev: &Evidence) -> Outcome {
    if let Err(o) = require_push(ev) {
        return o;
    }
    let found: Vec<String> = ev.findings.iter().map(|f| format!("{} {}: {}", f.object_id, f.path, f.message)).collect();
    if found.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("no STIX 2.1 finding", format!("{} findings: {}", found.len(), verify::sample(&found, 3)))
    }
}

fn deterministic(ev: &Evidence) -> Outcome {
    if let Err(o) = verify::require_second_run(ev).and_then(|()| require_push(ev)) {
        return o;
    }
    // The second run, or — when it pushed nothing (its interval had not elapsed) — the run
    // after the gate reset the connector's state.
    let compared = [1, 2].into_iter().find(|i| ev.bundles.iter().any(|b| b.run == Some(*i)) && ev.snapshots.len() > *i);
    let Some(index) = compared else {
        let reset = ev.runs.iter().any(|r| r.after_state_reset);
        return Outcome::not_applicable(if reset {
            "the second run pushed nothing (a connector whose interval has not elapsed skips it), and neither did a run from a \
             reset state: no data was pushed again"
        } else {
            "the second run pushed nothing: no data was pushed again"
        });
    };
    let later = &ev.snapshots[index];
    if later.new_objects.is_empty() && later.new_stix_ids.is_empty() {
        return Outcome::Pass;
    }
    let which =
        if ev.runs.get(index).is_some_and(|r| r.after_state_reset) { "the run after the state reset" } else { "the second run" };
    Outcome::fail(
        format!("no object created and no STIX id added by {which}"),
        format!(
            "new objects: [{}]; new STIX ids: [{}]",
            verify::sample(&later.new_objects, 3),
            verify::sample(&later.new_stix_ids, 3)
        ),
    )
}

fn within_limit(ev: &Evidence) -> Outcome {
    if ev.operations.is_empty() && ev.rejections.is_empty() {
        return Outcome::blocked("the connector made no call");
    }
    let too_large: Vec<String> =
        ev.rejections.iter().map(|r| format!("{} bytes to {} ({})", r.bytes, r.path, r.reason)).collect();
    if too_large.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(format!("every request body within {} bytes", ev.payload_limit), verify::sample(&too_large, 3))
    }
}

fn state_saved(ev: &Evidence) -> Outcome {
    if let Err(o) = verify::registration(ev) {
        return o;
    }
    let state = ev.snapshots.first().and_then(|s| s.state.as_deref());
    if verify::is_json_object(state) {
        Outcome::Pass
    } else {
        Outcome::fail("a JSON object as state after the first run", format!("{state:?}"))
    }
}

fn works_complete(ev: &Evidence) -> Outcome {
    if !ev.worker_refusals.is_empty() {
        return Outcome::fail(
            "every message it pushes read by the worker",
            format!("refused: {}", verify::sample(&ev.worker_refusals, 3)),
        );
    }
    if let Err(o) = require_push(ev) {
        return o;
    }
    let incomplete: Vec<String> = ev
        .works
        .iter()
        .filter(|w| w.status != "complete" || w.processed < w.expected)
        .map(|w| format!("{} {} ({}/{} processed)", w.id, w.status, w.processed, w.expected))
        .collect();
    if incomplete.is_empty() { Outcome::Pass } else { Outcome::fail("every work complete", verify::sample(&incomplete, 3)) }
}
