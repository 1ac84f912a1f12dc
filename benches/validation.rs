//! STIX validation speed (a bench binary): `cargo bench --bench validation [-- rust|python]`.
//!
//! On a generated 117,000-object bundle (indicators with STIX patterns, the observables they
//! are based on, relationships — the shape of a large threat-intel feed), compares (and
//! reports the same bundle with patterns that take the full pattern parser):
//! - `serde_json` parsing the whole bundle into a `Value` (the floor),
//! - opencti-mock's validation (`validate_bundle`: per-type schemas, identifier, timestamp
//!   and pattern checks, dangling references), single-threaded, in objects per second;
//! - the Python `stix2-validator` (the version pinned in `fixtures/python/requirements.txt`)
//!   validating a 3,000-object slice of the same bundle as a file, in the pinned venv that
//!   the tests use (created on first use, as the tests create it).
//!
//! Targets: ≥ 200,000 objects/s on one core, ≤ 3× the parse time, ≥ 200× the Python
//! validator. Times are the thread's CPU time (Linux `schedstat`; wall time elsewhere),
//! best of five, so other work on the machine does not count; Python's is its process CPU
//! time around `validate_file`. The allocator is the binary's (mimalloc). Nothing is
//! committed: the bundle is generated on each run.

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Objects in the Python slice: Python needs seconds for a few thousand.
const PYTHON_OBJECTS: usize = 3_000;

/// A feed-shaped bundle: `triples` × (indicator, observable, relationship). With
/// `compound`, each indicator's pattern also compares a file size (`[file:hashes.MD5 = '…'
/// AND file:size > 1024]`), a shape the plain pattern scanner leaves to the full pattern
/// parser.
fn generate(triples: usize, compound: bool) -> String {
    let mut objects = Vec::with_capacity(triples * 3);
    for i in 0..triples as u64 {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        let pattern = if compound {
            let digest = u128::from(i) * 0x9e37_79b9_7f4a_7c15;
            format!("[file:hashes.MD5 = '{digest:032x}' AND file:size > 1024]")
        } else {
            format!("[ipv4-addr:value = '{ip}']")
        };
        let ind = format!("indicator--{}", uuid::Uuid::new_v4());
        let obs = format!("ipv4-addr--{}", uuid::Uuid::new_v4());
        objects.push(json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": "2026-11-01T00:00:00.000Z",
            "modified": "2026-11-01T00:00:00.000Z", "name": ip, "description": "Generated for the opencti-mock validation benchmark; a few words of context to give the object a realistic size.",
            "pattern": pattern, "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
            "indicator_types": ["malicious-activity"], "labels": ["c2", "botnet"], "confidence": 80, "x_opencti_score": 80,
            "x_opencti_main_observable_type": "IPv4-Addr"}));
        objects.push(json!({"type": "ipv4-addr", "spec_version": "2.1", "id": obs, "value": ip, "x_opencti_score": 80}));
        objects.push(
            json!({"type": "relationship", "spec_version": "2.1", "id": format!("relationship--{}", uuid::Uuid::new_v4()),
            "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "relationship_type": "based-on",
            "source_ref": ind, "target_ref": obs, "confidence": 80}),
        );
    }
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string()
}

/// The calling thread's CPU time, when the system tells it.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

/// Best of `runs` (CPU time of this thread, or wall time) and the last result. The result
/// of a run is dropped outside its measure.
fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let (cpu, wall) = (thread_cpu(), Instant::now());
        let out = f();
        let took = match (cpu, thread_cpu()) {
            (Some(a), Some(b)) => b - a,
            _ => wall.elapsed(),
        };
        best = best.min(took.as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

/// Objects per second of the Python `stix2-validator` on `bundle` (written to a file), or
/// why there is no figure.
fn python_rate(bundle: &str, objects: usize) -> Result<(f64, String), String> {
    let python =
        std::panic::catch_unwind(common::pycti_python).map_err(|_| "the pinned Python venv could not be created".to_string())?;
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary directory: {e}"))?;
    let file = dir.path().join("slice.json");
    std::fs::write(&file, bundle).map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    let script = r#"
import json, sys, time
import stix2validator
from stix2validator import validate_file, ValidationOptions
options = ValidationOptions(version="2.1", silent=True)
start = time.process_time()
result = validate_file(sys.argv[1], options)
took = time.process_time() - start
print(json.dumps({"seconds": took, "valid": result.is_valid, "version": stix2validator.__version__,
                  "fatal": str(result.fatal) if result.fatal else None}))
"#;
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(&file)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!("python failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value =
        stdout.lines().last().and_then(|l| serde_json::from_str(l).ok()).ok_or_else(|| format!("unexpected output: {stdout}"))?;
    if report["valid"] != json!(true) {
        return Err(format!("stix2-validator rejected the slice, so it did not do the whole job: {report}"));
    }
    let seconds = report["seconds"].as_f64().filter(|s| *s > 0.0).ok_or_else(|| format!("no time in {report}"))?;
    Ok((objects as f64 / seconds, report["version"].as_str().unwrap_or("?").to_string()))
}

fn main() {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let run = |name: &str| only.as_deref().is_none_or(|o| name.contains(o));
    let bundle = generate(39_000, false);
    let n = 117_000;
    println!("bundle: {:.1} MB, {n} objects", bundle.len() as f64 / 1e6);
    let clock = if thread_cpu().is_some() { "thread CPU time" } else { "wall time" };

    let mut rust_rate = None;
    if run("rust") {
        let (parse, _) = best_of(5, || serde_json::from_str::<Value>(&bundle).expect("parses"));
        println!("serde_json parse to Value: {:.0} ms ({clock}, best of 5)", parse * 1000.0);
        let validator = opencti_mock::validate::StixValidator::get();
        assert!(validator.knows("indicator"), "schemas compiled before timing");
        let (validate, report) =
            best_of(5, || opencti_mock::validate::bundle::validate_bundle(&bundle, &|_| false).expect("a bundle"));
        assert_eq!(
            (report.objects, report.findings.len()),
            (n, 0),
            "the generated bundle is valid: {:?}",
            report.findings.first()
        );
        let rate = n as f64 / validate;
        println!(
            "opencti-mock validation (1 core): {:.0} ms = {:.0} objects/s (target ≥ 200,000), {:.2}× the parse time (target ≤ 3×)",
            validate * 1000.0,
            rate,
            validate / parse,
        );
        rust_rate = Some(rate);

        let compound = generate(39_000, true);
        let (validate, report) =
            best_of(5, || opencti_mock::validate::bundle::validate_bundle(&compound, &|_| false).expect("a bundle"));
        assert_eq!(
            (report.objects, report.findings.len()),
            (n, 0),
            "the compound bundle is valid: {:?}",
            report.findings.first()
        );
        println!(
            "  the same with `[file:hashes.MD5 = '…' AND file:size > 1024]` patterns (all through the full parser): {:.0} ms = {:.0} objects/s",
            validate * 1000.0,
            n as f64 / validate
        );
    }

    if run("python") {
        let slice_objects: Vec<Value> =
            serde_json::from_str::<Value>(&bundle).expect("parses")["objects"].as_array().expect("objects")[..PYTHON_OBJECTS]
                .to_vec();
        let slice =
            json!({"type": "bundle", "id": "bundle--0e7a62aa-7d3a-4d4f-9c2c-5c7f8e0c8a11", "objects": slice_objects}).to_string();
        match python_rate(&slice, PYTHON_OBJECTS) {
            Ok((rate, version)) => {
                println!("python stix2-validator {version} on {PYTHON_OBJECTS} objects: {rate:.0} objects/s (process CPU time)");
                if let Some(ours) = rust_rate {
                    println!("speed-up: {:.0}× the Python validator (target ≥ 200×)", ours / rate);
                }
            }
            Err(why) => println!("python stix2-validator: no figure ({why})"),
        }
    }
}
