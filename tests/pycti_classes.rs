//! Every entity class pycti 7.261026.0's `OpenCTIApiClient` exposes, driven by real pycti
//! (unchanged) against `opencti-mock serve`: one test per class, each a realistic round
//! trip (create → read → list with a filter given as a single value and as a list → update
//! → the class's own methods → delete) whose results are checked
//! (`fixtures/python/class_roundtrip/`, run by `fixtures/python/run_class_roundtrip.py`).
//!
//! The classes come from `fixtures/python/pycti-entity-classes.json`, enumerated from the
//! installed package by `fixtures/python/pycti_entity_classes.py`; the test
//! `the_class_list_is_pycti_s_own` fails when pycti exposes a class or a public method the
//! committed list lacks (regenerate it, and a round trip must then cover the new method).
//! A round trip fails when a public method of its class is neither called nor listed as
//! unsupported with the platform behaviour it would need.
//!
//! A custom harness (libtest-mimic) so that each class is a test of its own under nextest.

mod common;

use std::process::Command;

use common::{ServeProcess, pycti_python, root};
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

const CLASS_LIST: &str = "fixtures/python/pycti-entity-classes.json";

fn committed() -> Value {
    let text = std::fs::read_to_string(root().join(CLASS_LIST)).expect("the class list is readable");
    serde_json::from_str(&text).expect("the class list is JSON")
}

fn the_class_list_is_pycti_s_own() -> Result<(), Failed> {
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/pycti_entity_classes.py"))
        .output()
        .map_err(|e| format!("the enumeration runs: {e}"))?;
    if !out.status.success() {
        return Err(format!("the enumeration failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let live: Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("the enumeration prints JSON: {e}"))?;
    let committed = committed();
    if live != committed {
        let names = |v: &Value| v["classes"].as_object().map(|m| m.keys().cloned().collect::<Vec<_>>()).unwrap_or_default();
        return Err(format!(
            "pycti's entity classes differ from {CLASS_LIST} (regenerate it with \
             `python fixtures/python/pycti_entity_classes.py > {CLASS_LIST}` and cover what is new)\n\
             live: {:?}\ncommitted: {:?}",
            names(&live),
            names(&committed)
        )
        .into());
    }
    Ok(())
}

fn round_trip(class: &str) -> Result<(), Failed> {
    let serve = ServeProcess::start(&[], &[]);
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/run_class_roundtrip.py"))
        .arg(class)
        .env("OPENCTI_URL", &serve.url)
        .env("OPENCTI_TOKEN", &serve.admin_token)
        .output()
        .map_err(|e| format!("python runs: {e}"))?;
    let report: Value = serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "the driver prints a JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })?;
    let failures = report["failures"].as_array().cloned().unwrap_or_default();
    if !out.status.success() || !failures.is_empty() {
        return Err(format!(
            "{class}: {} of {} checks failed:\n{}\nstderr:\n{}",
            failures.len(),
            report["checks"],
            serde_json::to_string_pretty(&failures).unwrap_or_default(),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    if report["checks"].as_u64().unwrap_or(0) < 3 {
        return Err(format!("{class}: the round trip checked almost nothing: {report}").into());
    }
    println!("{class}: {} checks; called {}; unsupported {}", report["checks"], report["called"], report["unsupported"]);
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![Trial::test("the_class_list_is_pycti_s_own", the_class_list_is_pycti_s_own)];
    let classes: Vec<String> = committed()["classes"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    assert!(classes.len() >= 50, "{CLASS_LIST} lists the classes ({} listed)", classes.len());
    for class in classes {
        trials.push(Trial::test(format!("round_trip::{class}"), move || round_trip(&class)));
    }
    libtest_mimic::run(&args, trials).exit();
}
