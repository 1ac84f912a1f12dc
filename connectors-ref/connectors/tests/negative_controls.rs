//! Every check can fail: for each check ID of every suite, the reference connector that
//! carries its fault (`REFERENCE_FAULT=<ID>`) is run through the gate, and the check must
//! fail — with its requirement — and nothing else fail but the consequences listed here. One test per ID in the
//! registry (a libtest-mimic harness): a check added without a negative control here fails
//! its test.
//!
//! The faults are realistic mistakes in the connectors (`src/bin/*.rs`, `src/lib.rs`); the
//! checks enforced by pycti itself (a pycti connector cannot break them) have theirs too.

mod support;

use libtest_mimic::{Arguments, Failed, Trial};
use opencti_conformance::{Outcome, registry};
use support::{AMQP, API, Transport, describe, judge, output, record};

/// A check's negative control: the connector type carrying the fault, the transport it
/// runs in, and the other checks the fault may fail too (its consequences: a crash is also
/// RUN-001, an unanswered job also leaves its scope unserved…). Some depend on timing (what
/// an unregistering connector's purged queue still held), so they may, not must, fail.
struct Control {
    id: &'static str,
    connector_type: &'static str,
    transport: Transport,
    also_fails: &'static [&'static str],
}

const EXT: &str = "EXTERNAL_IMPORT";
const ENRICH: &str = "INTERNAL_ENRICHMENT";
const IMPORT: &str = "INTERNAL_IMPORT_FILE";
const EXPORT: &str = "INTERNAL_EXPORT_FILE";
const STREAM: &str = "STREAM";

const fn control(
    id: &'static str,
    connector_type: &'static str,
    transport: Transport,
    also_fails: &'static [&'static str],
) -> Control {
    Control { id, connector_type, transport, also_fails }
}

const CONTROLS: &[Control] = &[
    control("REG-001", EXT, API, &[]),
    control("REG-002", EXT, API, &["PING-001", "STOP-002", "EXT-IMPORT-001", "EXT-IMPORT-007"]),
    control("REG-003", EXT, API, &[]),
    control("REG-004", EXT, API, &["REG-001", "RUN-001"]),
    control("REG-005", EXT, API, &[]),
    control("AUTH-001", EXT, API, &[]),
    control("PING-001", ENRICH, API, &[]),
    control("PING-002", STREAM, API, &[]),
    control("RUN-001", EXT, API, &[]),
    control("STOP-001", ENRICH, API, &[]),
    control("STOP-002", EXT, API, &["EXT-IMPORT-001", "EXT-IMPORT-005", "EXT-IMPORT-007"]),
    control("EXT-IMPORT-001", EXT, API, &[]),
    control("EXT-IMPORT-002", EXT, API, &[]),
    control("EXT-IMPORT-003", EXT, API, &[]),
    control("EXT-IMPORT-004", EXT, API, &[]),
    control("EXT-IMPORT-005", EXT, API, &[]),
    control("EXT-IMPORT-006", EXT, API, &["EXT-IMPORT-003", "EXT-IMPORT-007"]),
    control("EXT-IMPORT-007", EXT, API, &[]),
    control("EXT-IMPORT-008", EXT, AMQP, &["STOP-001"]),
    control("ENRICH-001", ENRICH, API, &[]),
    control("ENRICH-002", ENRICH, API, &[]),
    control("ENRICH-003", ENRICH, API, &["RUN-001", "ENRICH-001"]),
    control("ENRICH-004", ENRICH, API, &[]),
    control("ENRICH-005", ENRICH, API, &[]),
    control("ENRICH-006", ENRICH, API, &[]),
    control("ENRICH-007", ENRICH, API, &[]),
    control("IMPORT-FILE-001", IMPORT, API, &[]),
    control("IMPORT-FILE-002", IMPORT, API, &[]),
    control("IMPORT-FILE-003", IMPORT, API, &[]),
    control("IMPORT-FILE-004", IMPORT, API, &[]),
    control("IMPORT-FILE-005", IMPORT, API, &[]),
    control("IMPORT-FILE-006", IMPORT, API, &[]),
    control("IMPORT-FILE-007", IMPORT, API, &[]),
    control("EXPORT-FILE-001", EXPORT, API, &["EXPORT-FILE-003"]),
    control("EXPORT-FILE-002", EXPORT, API, &["EXPORT-FILE-003"]),
    control("EXPORT-FILE-003", EXPORT, API, &[]),
    control("EXPORT-FILE-004", EXPORT, API, &[]),
    control("EXPORT-FILE-005", EXPORT, API, &[]),
    control("EXPORT-FILE-006", EXPORT, API, &[]),
    control("EXPORT-FILE-007", EXPORT, API, &[]),
    control("EXPORT-FILE-008", EXPORT, API, &[]),
    control("STREAM-001", STREAM, API, &["RUN-001"]),
    control("STREAM-002", STREAM, API, &[]),
    control("STREAM-003", STREAM, API, &[]),
    control("STREAM-004", STREAM, API, &["STREAM-005"]),
    control("STREAM-005", STREAM, API, &["RUN-001"]),
    control("STREAM-006", STREAM, API, &[]),
];

fn negative_control(id: &str) -> Result<(), Failed> {
    let control = CONTROLS
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| format!("{id} has no negative control: add a fault for it to a reference connector and a line here"))?;
    let evidence = record(control.connector_type, control.transport, Some(id));
    let results = judge(control.connector_type, &evidence);
    let summary = results.iter().map(describe).collect::<Vec<_>>().join("\n");
    let target =
        results.iter().find(|r| r.check.id == id).ok_or_else(|| format!("{id} does not apply to {}", control.connector_type))?;
    if !matches!(target.outcome, Outcome::Fail { .. }) {
        return Err(format!("{id}'s fault did not fail it\n{summary}\n{}", output(&evidence)).into());
    }
    let unexplained: Vec<&str> = results
        .iter()
        .filter(|r| r.check.id != id && matches!(r.outcome, Outcome::Fail { .. }) && !control.also_fails.contains(&r.check.id))
        .map(|r| r.check.id)
        .collect();
    if !unexplained.is_empty() {
        return Err(format!(
            "{id}'s fault fails {unexplained:?} too, which it does not explain\n{summary}\n{}",
            output(&evidence)
        )
        .into());
    }
    // The report says which requirement is broken.
    let line = opencti_conformance::report::details(target);
    if !line.contains(target.check.requirement) {
        return Err(format!("{id}'s report does not give its requirement: {line}").into());
    }
    Ok(())
}

/// The fault switch is the connectors' own: nothing of the gate or the platform reads it.
fn no_verifier_reads_the_fault_switch() -> Result<(), Failed> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut readers = Vec::new();
    let mut folders = vec![root.join("src"), root.join("conformance/src")];
    while let Some(dir) = folders.pop() {
        for entry in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))? {
            let path = entry.map_err(|e| e.to_string())?.path();
            if path.is_dir() {
                folders.push(path);
            } else if std::fs::read_to_string(&path)
                .is_ok_and(|text| text.contains(opencti_reference_connectors::Fault::VARIABLE))
            {
                readers.push(path.display().to_string());
            }
        }
    }
    if readers.is_empty() { Ok(()) } else { Err(format!("the fault switch is read by {readers:?}").into()) }
}

fn main() {
    let args = Arguments::from_args();
    let mut trials: Vec<Trial> = registry::all()
        .iter()
        .map(|check| Trial::test(format!("{} can fail", check.id), move || negative_control(check.id)))
        .collect();
    trials.push(Trial::test("no verifier reads the fault switch", no_verifier_reads_the_fault_switch));
    libtest_mimic::run(&args, trials).exit();
}
