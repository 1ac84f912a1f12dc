//! STIX validation speed (a bench binary): `cargo bench --bench validation`.
//!
//! On a generated ~117k-object bundle (indicators, the observables they are based on,
//! relationships — the shape of a large threat-intel feed), compares:
//! - `serde_json` parsing the whole bundle into a `Value` (the floor),
//! - opencti-mock's validation (per-type schemas + extra checks + dangling references),
//!   single-threaded, in objects per second;
//! - and, when the pinned Python environment exists (`target/pycti-venv-*`, created by the
//!   interop tests), the Python `stix2-validator` on a 3,000-object slice of it.
//!
//! Nothing is committed: the bundle is generated on each run.

use std::time::Instant;

use serde_json::{Value, json};

fn generate(triples: usize) -> String {
    let mut objects = Vec::with_capacity(triples * 3);
    for i in 0..triples as u64 {
        let ip = format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255);
        let ind = format!("indicator--{}", uuid::Uuid::new_v4());
        let obs = format!("ipv4-addr--{}", uuid::Uuid::new_v4());
        objects.push(json!({"type": "indicator", "spec_version": "2.1", "id": ind, "created": "2026-11-01T00:00:00.000Z",
            "modified": "2026-11-01T00:00:00.000Z", "name": ip, "description": "Generated for the opencti-mock validation benchmark; a few words of context to give the object a realistic size.",
            "pattern": format!("[ipv4-addr:value = '{ip}']"), "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z",
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

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::MAX;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let out = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(out);
    }
    (best, last.expect("at least one run"))
}

fn python_validator(bundle_slice: &str, objects: usize) {
    let venv = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/target")).ok().and_then(|d| {
        d.filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("pycti-venv-")))
    });
    let Some(venv) = venv else {
        println!("python stix2-validator: skipped (no target/pycti-venv-*; run the interop tests once to create it)");
        return;
    };
    let python = venv.join("bin/python");
    let has = std::process::Command::new(&python).args(["-c", "import stix2validator"]).status().is_ok_and(|s| s.success());
    if !has {
        let _ = std::process::Command::new(&python).args(["-m", "pip", "install", "-q", "stix2-validator==3.3.2"]).status();
    }
    let file = std::env::temp_dir().join("opencti-mock-validation-slice.json");
    std::fs::write(&file, bundle_slice).expect("temp file writable");
    let script = "import sys,time\nfrom stix2validator import validate_file, ValidationOptions\nt=time.time()\nr=validate_file(sys.argv[1], ValidationOptions(version='2.1'))\nprint(time.time()-t)";
    let out = std::process::Command::new(&python).args(["-c", script]).arg(&file).output().expect("python runs");
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().lines().last().and_then(|l| l.parse().ok()).unwrap_or(f64::NAN);
    println!("python stix2-validator 3.3.2 on {objects} objects: {secs:.2} s = {:.0} objects/s", objects as f64 / secs);
}

fn main() {
    let bundle = generate(39_000);
    let value: Value = serde_json::from_str(&bundle).expect("generated JSON");
    let n = value["objects"].as_array().map_or(0, Vec::len);
    drop(value);
    println!("bundle: {:.1} MB, {n} objects", bundle.len() as f64 / 1e6);

    let (parse, _) = best_of(3, || serde_json::from_str::<Value>(&bundle).expect("parses"));
    println!("serde_json parse to Value: {:.0} ms", parse * 1000.0);

    let validator = opencti_mock::validate::StixValidator::get();
    let _ = validator.types().count();
    let (validate, report) =
        best_of(3, || opencti_mock::validate::bundle::validate_bundle(&bundle, &|_| false).expect("a bundle"));
    let rate = n as f64 / validate;
    println!(
        "opencti-mock validation (1 core): {:.0} ms = {:.0} objects/s (target ≥ 200,000), {:.2}× the parse time (target ≤ 3×), {} findings",
        validate * 1000.0,
        rate,
        validate / parse,
        report.findings.len()
    );

    let slice_objects: Vec<Value> =
        serde_json::from_str::<Value>(&bundle).expect("parses")["objects"].as_array().expect("objects")[..3000].to_vec();
    let slice =
        json!({"type": "bundle", "id": "bundle--0e7a62aa-7d3a-4d4f-9c2c-5c7f8e0c8a11", "objects": slice_objects}).to_string();
    python_validator(&slice, 3000);
    println!("(speed-up = opencti-mock objects/s ÷ python objects/s; target ≥ 200×)");
}
