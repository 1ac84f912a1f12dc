//! The conformance checks under cargo nextest: one test per check ID and connector type (a
//! libtest-mimic harness), judged on the unchanged pycti connector of each type that passes
//! its suite — `fixtures/connectors/conformance/correct.py` (EXTERNAL_IMPORT),
//! `…/enrichment/correct.py` (INTERNAL_ENRICHMENT), `…/import_file/correct.py`
//! (INTERNAL_IMPORT_FILE), `…/export_file/correct.py` (INTERNAL_EXPORT_FILE),
//! `…/stream/correct.py` (STREAM) — which must
//! give the committed verdicts. Tests are named
//! `<ID> <title> [<TYPE>]`; select by ID prefix:
//! `cargo nextest run --test conformance -E 'test(/^EXT-IMPORT/)'`.
//!
//! nextest runs each test in its own process: each connector is run once per nextest run
//! (`NEXTEST_RUN_ID`), its evidence kept under `target/conformance-evidence/` and shared by
//! the other processes; outside nextest, once per process.

mod common;

use std::path::PathBuf;

use common::{pycti_python, root};
use libtest_mimic::{Arguments, Failed, Trial};
use opencti_conformance::{Evidence, Outcome, registry};
use opencti_mock::conform::{Session, run};

const CONNECTOR: &str = "correct";

/// Each type with a suite, and the folder of its connectors.
const TYPES: &[(&str, &str)] = &[
    ("EXTERNAL_IMPORT", "conformance"),
    ("INTERNAL_ENRICHMENT", "enrichment"),
    ("INTERNAL_IMPORT_FILE", "import_file"),
    ("INTERNAL_EXPORT_FILE", "export_file"),
    ("STREAM", "stream"),
];

fn expected_verdict(folder: &str, id: &str) -> Option<String> {
    let path = root().join(format!("fixtures/connectors/{folder}/expected/{CONNECTOR}.verdicts"));
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (i, v) = l.split_once(' ')?;
        (i == id).then(|| v.trim().to_string())
    })
}

fn evidence_file(folder: &str) -> Option<PathBuf> {
    let run_id = std::env::var("NEXTEST_RUN_ID").ok()?;
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("conformance-evidence");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join(format!("{folder}-{CONNECTOR}-{run_id}.json")))
}

fn record(connector_type: &str, folder: &str) -> Evidence {
    let python = pycti_python().to_string_lossy().into_owned();
    let script = root().join(format!("fixtures/connectors/{folder}/{CONNECTOR}.py")).to_string_lossy().into_owned();
    // Deployed as the fixture connectors of each folder are (see their README).
    let mut session = Session::new(connector_type, vec![python, script]);
    match connector_type {
        "EXTERNAL_IMPORT" => {
            session.scope = Some("ipv4-addr,ipv6-addr,domain-name,url,indicator,identity,malware,relationship".into());
            session.env.push(("CONNECTOR_RUN_AND_TERMINATE".into(), "true".into()));
        }
        "INTERNAL_ENRICHMENT" => {
            session.scope = Some("IPv4-Addr,Domain-Name".into());
            session.job.settings.insert("max_tlp".into(), "CONNECTOR_MAX_TLP".into());
        }
        "INTERNAL_EXPORT_FILE" => session.scope = Some("application/vnd.oasis.stix+json".into()),
        "STREAM" => {}
        _ => session.scope = Some("application/json".into()),
    }
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(run(&session, |_| {})).expect("the session runs")
}

/// The evidence of this run for a type: recorded by the first process, read by the others.
fn evidence(connector_type: &'static str, folder: &'static str) -> Evidence {
    static LOCAL: std::sync::Mutex<Vec<(&str, Evidence)>> = std::sync::Mutex::new(Vec::new());
    let mut local = LOCAL.lock().expect("evidence lock");
    if let Some((_, e)) = local.iter().find(|(t, _)| *t == connector_type) {
        return e.clone();
    }
    let e = shared_evidence(connector_type, folder);
    local.push((connector_type, e.clone()));
    e
}

fn shared_evidence(connector_type: &str, folder: &str) -> Evidence {
    let Some(path) = evidence_file(folder) else { return record(connector_type, folder) };
    let lock = std::fs::File::create(path.with_extension("lock")).expect("lock file");
    lock.lock().expect("lock the evidence");
    if let Some(e) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()) {
        return e;
    }
    let e = record(connector_type, folder);
    std::fs::write(&path, serde_json::to_string(&e).expect("evidence serialises")).expect("evidence written");
    e
}

fn judge(check: &'static opencti_conformance::Check, connector_type: &'static str, folder: &'static str) -> Result<(), Failed> {
    let outcome = (check.verify)(&evidence(connector_type, folder));
    let want = expected_verdict(folder, check.id)
        .ok_or_else(|| format!("{} has no committed verdict for {folder}/{CONNECTOR}.py", check.id))?;
    if outcome.verdict() == want {
        return Ok(());
    }
    let detail = match &outcome {
        Outcome::Fail { expected, actual } => format!("expected {expected}; actual {actual}"),
        Outcome::Blocked { reason } => format!("blocked: {reason}"),
        Outcome::NotApplicable { reason } => format!("not applicable: {reason}"),
        Outcome::Pass => "passed".into(),
    };
    Err(format!(
        "{}: {want} expected for {folder}/{CONNECTOR}.py, got {} ({detail})\nRequirement: {}\nCites: {}",
        check.id,
        outcome.verdict(),
        check.requirement,
        check.cites
    )
    .into())
}

fn main() {
    let args = Arguments::from_args();
    let trials = TYPES
        .iter()
        .flat_map(|&(connector_type, folder)| {
            registry::select(connector_type, &[]).into_iter().map(move |check| {
                Trial::test(format!("{} {} [{connector_type}]", check.id, check.title), move || {
                    judge(check, connector_type, folder)
                })
            })
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
