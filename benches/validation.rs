//! STIX validation speed (a bench binary): `cargo bench --bench validation [-- rust|python|cli]`.
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
//! - `opencti-mock validate` as a process (`cli`): a 4-object file, from the spawn to the
//!   exit and its peak resident memory; and a 90,000-object file, its peak memory against
//!   the file's size.
//!
//! Targets: ≥ 200,000 objects/s on one core, ≤ 3× the parse time, ≥ 200× the Python
//! validator; `validate` of a small file ≤ 20 ms and ≤ 15 MB, of a large one a peak ≤ 3×
//! the file. Quick mode (`BENCH_QUICK=1`): 3,000 objects, a 300-object Python slice. Times are the thread's CPU time (Linux `schedstat`; wall time elsewhere),
//! best of five, so other work on the machine does not count; Python's is its process CPU
//! time around `validate_file`. The allocator is the binary's (mimalloc). Nothing is
//! committed: the bundle is generated on each run.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

mod support;
use support::{Figure, mb, percentile, quick, selected, size, sorted};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Objects in the Python slice: Python needs seconds for a few thousand.
fn python_objects() -> usize {
    size(3_000, 300)
}

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
    let python = std::panic::catch_unwind(support::common::pycti_python)
        .map_err(|_| "the pinned Python venv could not be created".to_string())?;
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

/// Runs `opencti-mock validate <args>` to its end: wall time from the spawn to the exit
/// (ms), its peak resident memory (bytes, the kernel's `ru_maxrss`) and its exit code.
///
/// Not spawned from here: Linux keeps a process's peak across `execve`, and a child spawned
/// the vfork way shares its parent's memory until then, so a child of this process (which
/// holds the bundles above, hundreds of MB) would be charged with the bench's own peak. A
/// fresh copy of this binary ([`SPAWNER`], a few MB) spawns it and reports what `wait4`
/// says; the kernel keeps the larger of the two peaks, and the spawner's is smaller than
/// any figure it reports.
fn run_validate(args: &[&std::ffi::OsStr]) -> (f64, u64, i32) {
    let out = Command::new(std::env::current_exe().expect("the bench binary's path"))
        .arg(SPAWNER)
        .arg(env!("CARGO_BIN_EXE_opencti-mock"))
        .arg("validate")
        .args(args)
        .output()
        .expect("the spawner runs");
    assert!(out.status.success(), "the spawner failed: {}", String::from_utf8_lossy(&out.stderr));
    let line = String::from_utf8_lossy(&out.stdout);
    let mut fields = line.split_whitespace().map(|f| f.parse::<f64>().expect("the spawner prints numbers"));
    let (wall, peak, code) = (fields.next(), fields.next(), fields.next());
    (wall.expect("wall"), peak.expect("peak") as u64, code.expect("exit code") as i32)
}

/// The first argument that makes this binary the spawner of [`run_validate`].
const SPAWNER: &str = "--spawn-and-measure";

/// The spawner: runs `program args…` (stdout discarded), prints `wall_ms peak_bytes exit_code`.
fn spawn_and_measure(program: &std::ffi::OsStr, args: &[std::ffi::OsString]) {
    let t0 = Instant::now();
    // Reaped by `wait4` below, which also gives its peak memory.
    #[allow(clippy::zombie_processes)]
    let child = Command::new(program).args(args).stdout(std::process::Stdio::null()).spawn().expect("the program starts");
    let mut status = 0;
    // SAFETY: `rusage` is plain old data that `wait4` fills in; the pid is our own child,
    // reaped here and nowhere else (the `Child` handle is dropped without waiting).
    let (pid, usage) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        (libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage), usage)
    };
    let wall = t0.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 reaped the child");
    assert!(libc::WIFEXITED(status), "the program exited normally");
    println!("{wall} {} {}", usage.ru_maxrss as u64 * 1024, libc::WEXITSTATUS(status));
}

/// `opencti-mock validate` on a small and a large file.
fn cli() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let small = dir.path().join("small.json");
    let indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
    let observable = "ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd";
    std::fs::write(
        &small,
        json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            {"type": "identity", "spec_version": "2.1", "id": "identity--311b2d2d-f010-4473-83ec-1edf84858f4c",
             "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "name": "Bench feed", "identity_class": "organization"},
            {"type": "indicator", "spec_version": "2.1", "id": indicator, "created": "2026-11-01T00:00:00.000Z",
             "modified": "2026-11-01T00:00:00.000Z", "name": "198.51.100.7", "pattern": "[ipv4-addr:value = '198.51.100.7']",
             "pattern_type": "stix", "valid_from": "2026-11-01T00:00:00Z", "created_by_ref": "identity--311b2d2d-f010-4473-83ec-1edf84858f4c"},
            {"type": "ipv4-addr", "spec_version": "2.1", "id": observable, "value": "198.51.100.7"},
            {"type": "relationship", "spec_version": "2.1", "id": "relationship--44298a74-ba52-4f0c-87a3-1824e67d7fad",
             "created": "2026-11-01T00:00:00.000Z", "modified": "2026-11-01T00:00:00.000Z", "relationship_type": "based-on",
             "source_ref": indicator, "target_ref": observable}]})
        .to_string(),
    )
    .expect("the small file is written");
    let runs = size(10, 2);
    let mut walls = Vec::new();
    let mut peaks = Vec::new();
    for _ in 0..runs {
        let (wall, peak, code) = run_validate(&[small.as_os_str()]);
        assert_eq!(code, 0, "the small file is valid");
        walls.push(wall);
        peaks.push(mb(peak));
    }
    let (walls, peaks) = (sorted(walls), sorted(peaks));
    Figure::new(
        "validate.small_time",
        format!("`opencti-mock validate` of a 4-object file, spawn → exit (median of {runs})"),
        percentile(&walls, 0.5),
        "ms",
    )
    .compared(format!("max {:.1} ms", walls[walls.len() - 1]))
    .at_most(20.0)
    .report();
    Figure::new("validate.small_peak", "  its peak RSS", peaks[peaks.len() - 1], "MB").at_most(15.0).report();

    let triples = size(30_000, 1_000);
    let large = dir.path().join("large.json");
    std::fs::write(&large, generate(triples, false)).expect("the large file is written");
    let bytes = std::fs::metadata(&large).expect("the large file").len();
    let (wall, peak, code) = run_validate(&[std::ffi::OsStr::new("--format"), std::ffi::OsStr::new("json"), large.as_os_str()]);
    assert_eq!(code, 0, "the large file is valid");
    Figure::new(
        "validate.large_peak",
        format!("`opencti-mock validate` of a {:.1} MB, {}-object file: peak RSS × the file", mb(bytes), triples * 3),
        peak as f64 / bytes as f64,
        "×",
    )
    .compared(format!("peak {:.1} MB, {:.0} ms spawn → exit", mb(peak), wall))
    .at_most(3.0)
    .report();
}

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    if args.first().is_some_and(|a| a == SPAWNER) {
        return spawn_and_measure(&args[1], &args[2..]);
    }
    let triples = size(39_000, 1_000);
    let n = triples * 3;
    let bundle = generate(triples, false);
    println!("bundle: {:.1} MB, {n} objects", bundle.len() as f64 / 1e6);
    let clock = if thread_cpu().is_some() { "thread CPU time" } else { "wall time" };

    let mut rust_rate = None;
    if selected("rust") {
        let (parse, _) = best_of(5, || serde_json::from_str::<Value>(&bundle).expect("parses"));
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
        Figure::new(
            "validation.rate",
            format!("STIX validation of a {n}-object bundle, 1 core ({clock}, best of 5)"),
            rate,
            "objects/s",
        )
        .compared(format!("{:.0} ms", validate * 1000.0))
        .at_least(200_000.0)
        .report();
        Figure::new(
            "validation.vs_parse",
            "  validation time × `serde_json` parsing the bundle into a `Value`",
            validate / parse,
            "×",
        )
        .compared(format!("parse {:.0} ms", parse * 1000.0))
        .at_most(3.0)
        .report();
        rust_rate = Some(rate);

        let compound = generate(triples, true);
        let (validate, report) =
            best_of(5, || opencti_mock::validate::bundle::validate_bundle(&compound, &|_| false).expect("a bundle"));
        assert_eq!(
            (report.objects, report.findings.len()),
            (n, 0),
            "the compound bundle is valid: {:?}",
            report.findings.first()
        );
        Figure::new(
            "validation.rate_compound",
            "  the same with `[file:hashes.MD5 = '…' AND file:size > 1024]` patterns (all through the full parser)",
            n as f64 / validate,
            "objects/s",
        )
        .compared(format!("{:.0} ms", validate * 1000.0))
        .report();
    }

    if selected("python") {
        let slice_objects: Vec<Value> =
            serde_json::from_str::<Value>(&bundle).expect("parses")["objects"].as_array().expect("objects")[..python_objects()]
                .to_vec();
        let slice =
            json!({"type": "bundle", "id": "bundle--0e7a62aa-7d3a-4d4f-9c2c-5c7f8e0c8a11", "objects": slice_objects}).to_string();
        match python_rate(&slice, python_objects()) {
            Ok((rate, version)) => {
                let what = format!("Python stix2-validator {version} on {} objects (process CPU time)", python_objects());
                Figure::new("validation.python_rate", what, rate, "objects/s").report();
                if let Some(ours) = rust_rate {
                    Figure::new(
                        "validation.vs_python",
                        "  opencti-mock's validation speed × the Python validator's",
                        ours / rate,
                        "×",
                    )
                    .at_least(200.0)
                    .report();
                }
            }
            // No figure is not a pass: the table shows the reason.
            Err(why) => {
                Figure::new("validation.python_rate", format!("Python stix2-validator: no figure ({why})"), f64::NAN, "objects/s")
                    .report()
            }
        }
    }

    if selected("cli") {
        cli();
    }
    if quick() {
        println!("validation: quick mode, figures not judged");
    }
}
