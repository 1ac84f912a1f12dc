//! The conformance checks under cargo nextest: one test per check ID (a libtest-mimic
//! harness), judged on an unchanged pycti EXTERNAL_IMPORT connector
//! (`fixtures/connectors/conformance/correct.py`) that must give the committed verdicts.
//! Select by ID prefix: `cargo nextest run --test conformance -E 'test(/^EXT-IMPORT/)'`.
//!
//! nextest runs each test in its own process: the connector is run once per nextest run
//! (`NEXTEST_RUN_ID`), its evidence kept under `target/conformance-evidence/` and shared by
//! the other processes; outside nextest, once per process.

mod common;

use std::path::PathBuf;

use common::{pycti_python, root};
use libtest_mimic::{Arguments, Failed, Trial};
use opencti_conformance::{Evidence, Outcome, registry};
use opencti_mock::conform::{Session, run};

const CONNECTOR: &str = "correct";

fn expected_verdict(id: &str) -> Option<String> {
    let path = root().join(format!("fixtures/connectors/conformance/expected/{CONNECTOR}.verdicts"));
    std::fs::read_to_string(path).ok()?.lines().find_map(|l| {
        let (i, v) = l.split_once(' ')?;
        (i == id).then(|| v.trim().to_string())
    })
}

fn evidence_file() -> Option<PathBuf> {
    let run_id = std::env::var("NEXTEST_RUN_ID").ok()?;
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
        .join("conformance-evidence");
    std::fs::create_dir_all(&dir).ok()?;
    Some(dir.join(format!("{CONNECTOR}-{run_id}.json")))
}

fn record() -> Evidence {
    let python = pycti_python().to_string_lossy().into_owned();
    let script = root().join(format!("fixtures/connectors/conformance/{CONNECTOR}.py")).to_string_lossy().into_owned();
    let session = Session::new("EXTERNAL_IMPORT", vec![python, script]);
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(run(&session, |_| {})).expect("the session runs")
}

/// The evidence of this run: recorded by the first process, read by the others.
fn evidence() -> Evidence {
    static LOCAL: std::sync::OnceLock<Evidence> = std::sync::OnceLock::new();
    LOCAL
        .get_or_init(|| {
            let Some(path) = evidence_file() else { return record() };
            let lock = std::fs::File::create(path.with_extension("lock")).expect("lock file");
            lock.lock().expect("lock the evidence");
            if let Some(e) = std::fs::read_to_string(&path).ok().and_then(|t| serde_json::from_str(&t).ok()) {
                return e;
            }
            let e = record();
            std::fs::write(&path, serde_json::to_string(&e).expect("evidence serialises")).expect("evidence written");
            e
        })
        .clone()
}

fn judge(check: &'static opencti_conformance::Check) -> Result<(), Failed> {
    let outcome = (check.verify)(&evidence());
    let want = expected_verdict(check.id).ok_or_else(|| format!("{} has no committed verdict for {CONNECTOR}.py", check.id))?;
    if outcome.verdict() == want {
        return Ok(());
    }
    let detail = match &outcome {
        Outcome::Fail { expected, actual } => format!("expected {expected}; actual {actual}"),
        Outcome::Blocked { reason } => format!("blocked: {reason}"),
        Outcome::Pass => "passed".into(),
    };
    Err(format!(
        "{}: {want} expected for {CONNECTOR}.py, got {} ({detail})\nRequirement: {}\nCites: {}",
        check.id,
        outcome.verdict(),
        check.requirement,
        check.cites
    )
    .into())
}

fn main() {
    let args = Arguments::from_args();
    let trials = registry::select("EXTERNAL_IMPORT", &[])
        .into_iter()
        .map(|check| Trial::test(format!("{} {}", check.id, check.title), move || judge(check)))
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
