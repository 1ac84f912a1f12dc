//! The scenarios of `fixtures/scenarios/`, each reproducing a public field issue with real
//! pycti (unchanged) against `opencti-mock serve --scenario`.
//!
//! Each scenario `<name>.yaml` has a check `checks/<name>.py`: a pycti program that does what
//! the field's connector did and prints, as its last line, `{"symptom": bool, "detail": …}`
//! — whether it saw the symptom the issue reports. `python check.py --modes` lists what the
//! check can run; the test runs each:
//! - `fault`: the scenario as written, with the pycti the field ran → the symptom shows;
//! - `control`: the same platform without the scenario's faults and limits → it does not;
//! - `fixed`: the scenario as written, the connector written as the fix says → it does not;
//! - `fixed-pycti`: the scenario as written, with the pinned pycti (where a later pycti
//!   fixed it) → it does not.
//!
//! Scenarios that change the whole broker (`limits.broker_max_message_size`, which the
//! platform sets with `rabbitmqctl` and puts back when it stops; a broker restart or memory
//! alarm) are named `whole_broker::…`, run their modes one after the other and run alone
//! (`.config/nextest.toml`). Scenarios that act on the broker also run on the embedded
//! broker (`embedded_broker::…`), each mode on a broker of its own, beside the others. A
//! custom harness (libtest-mimic): one test per scenario and broker.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{PYCTI_VERSION, ServeProcess, pycti_python_for, root};
use libtest_mimic::{Arguments, Failed, Trial};
use opencti_mock::{Scenario, ScenarioAction};
use serde_json::Value;

fn scenarios_dir() -> PathBuf {
    root().join("fixtures/scenarios")
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir())
        .expect("fixtures/scenarios is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

fn stem(path: &Path) -> String {
    path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Every file reads, is named after its scenario, names a public issue, has a check, and
/// ships in the binary.
fn every_scenario_file_reads_and_ships() -> Result<(), Failed> {
    let mut problems = Vec::new();
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock")).args(["scenario", "list"]).output().map_err(|e| e.to_string())?;
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    for file in files() {
        let name = stem(&file);
        match Scenario::load(&file) {
            Err(e) => problems.push(e.to_string()),
            Ok(s) => {
                if s.name != name {
                    problems.push(format!("{}: `name: {}` is not the file's stem", file.display(), s.name));
                }
                if s.issue.is_none() {
                    problems.push(format!("{name}: no `issue`"));
                }
                if !scenarios_dir().join("checks").join(format!("{name}.py")).exists() {
                    problems.push(format!("{name}: no checks/{name}.py"));
                }
                if !listed.lines().any(|l| l.split_whitespace().next() == Some(name.as_str())) {
                    problems.push(format!("{name}: not built in (add it to src/scenario/library.rs)"));
                }
            }
        }
    }
    if files().len() < 15 {
        problems.push(format!("{} scenarios; the field issues reproduced should be at least 15", files().len()));
    }
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n").into()) }
}

/// A copy of the scenario without its faults and limits (same profile): the control run.
fn without_faults(scenario: &Scenario, dir: &Path) -> PathBuf {
    let mut quiet = scenario.clone();
    quiet.faults.clear();
    quiet.limits = Default::default();
    let path = dir.join(format!("{}-control.yaml", scenario.name));
    std::fs::write(&path, quiet.to_yaml()).expect("the control scenario is written");
    path
}

/// Runs the check once; its verdict.
fn run_check(check: &Path, python: &Path, scenario_file: &Path, mode: &str, broker: &[&str]) -> Result<(bool, String), String> {
    let file = scenario_file.to_string_lossy();
    let mut args = vec!["--scenario", &file];
    args.extend_from_slice(broker);
    let serve = ServeProcess::start(&args, &[]);
    run_check_on(&serve, check, python, mode)
}

/// Runs the check once against a running platform; its verdict.
fn run_check_on(serve: &ServeProcess, check: &Path, python: &Path, mode: &str) -> Result<(bool, String), String> {
    let mut child = Command::new(python)
        .arg(check)
        .env("OPENCTI_URL", &serve.url)
        .env("OPENCTI_TOKEN", &serve.admin_token)
        .env("SCENARIO_MODE", mode)
        .env("PYTHONUNBUFFERED", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("python runs: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(240);
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let verdict: Option<Value> = stdout.lines().rev().find_map(|l| serde_json::from_str(l).ok());
    let Some(verdict) = verdict.filter(|v| v.get("symptom").is_some_and(Value::is_boolean)) else {
        return Err(format!(
            "{mode}: the check printed no verdict (exit {:?})\nstdout:\n{stdout}\nstderr:\n{}",
            out.status.code(),
            tail(&String::from_utf8_lossy(&out.stderr))
        ));
    };
    let detail = verdict["detail"].as_str().unwrap_or_default().to_string();
    Ok((verdict["symptom"] == Value::Bool(true), detail))
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A mode, whether the symptom is wanted in it, and what the check said.
type Outcome = (String, bool, Result<(bool, String), String>);

/// Runs a scenario's check in every mode it lists, on the broker `broker` chooses (none:
/// `auto`, the local RabbitMQ).
fn reproduce(file: &Path, broker: &[&str]) -> Result<(), Failed> {
    let scenario = Scenario::load(file).map_err(|e| e.to_string())?;
    let check = scenarios_dir().join("checks").join(format!("{}.py", scenario.name));
    let field_pycti = scenario.pycti.clone().unwrap_or_else(|| PYCTI_VERSION.to_string());
    let field = pycti_python_for(&field_pycti);
    let modes_out = Command::new(&field).arg(&check).arg("--modes").output().map_err(|e| e.to_string())?;
    let modes: Vec<String> = serde_json::from_slice(&modes_out.stdout).map_err(|e| {
        format!("`{} --modes` prints a JSON list ({e}): {}", check.display(), String::from_utf8_lossy(&modes_out.stderr))
    })?;
    if !modes.iter().any(|m| m == "fault") || !modes.iter().any(|m| m == "control") {
        return Err(format!("{}: a check runs at least `fault` and `control` (it lists {modes:?})", scenario.name).into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let control = without_faults(&scenario, dir.path());
    let plan: Vec<(String, PathBuf, PathBuf, bool)> = modes
        .iter()
        .map(|mode| match mode.as_str() {
            "fault" => Ok((mode.clone(), field.clone(), file.to_path_buf(), true)),
            "control" => Ok((mode.clone(), field.clone(), control.clone(), false)),
            "fixed" => Ok((mode.clone(), field.clone(), file.to_path_buf(), false)),
            "fixed-pycti" => Ok((mode.clone(), pycti_python_for(PYCTI_VERSION), file.to_path_buf(), false)),
            other => Err(format!("{}: unknown mode {other}", scenario.name)),
        })
        .collect::<Result<_, _>>()?;
    let outcomes: Vec<Outcome> = match scenario.touches_whole_broker() && broker.is_empty() {
        // A whole-broker fault one run at a time (the platform sets a broker limit while
        // it runs and puts it back when it stops).
        true => {
            let mut outcomes = Vec::new();
            for (mode, python, f, want) in plan.iter().filter(|p| p.0 != "control") {
                outcomes.push((mode.clone(), *want, run_check(&check, python, f, mode, broker)));
            }
            for (mode, python, f, want) in plan.iter().filter(|p| p.0 == "control") {
                outcomes.push((mode.clone(), *want, run_check(&check, python, f, mode, broker)));
            }
            outcomes
        }
        // Otherwise the modes run side by side (each on its own platform): a check that waits
        // on pycti's 40 s ping costs its wait once.
        false => std::thread::scope(|scope| {
            let handles: Vec<_> = plan
                .iter()
                .map(|(mode, python, f, want)| {
                    let check = &check;
                    scope.spawn(move || (mode.clone(), *want, run_check(check, python, f, mode, broker)))
                })
                .collect();
            handles.into_iter().map(|h| h.join().expect("a mode's thread does not panic")).collect()
        }),
    };
    let mut report = Vec::new();
    let mut wrong = Vec::new();
    for (mode, want, outcome) in outcomes {
        match outcome {
            Err(e) => wrong.push(format!("{mode}: {e}")),
            Ok((symptom, detail)) => {
                report.push(format!("{mode}: symptom {symptom} — {detail}"));
                if symptom != want {
                    let (w, s) = (if want { "" } else { "not " }, if symptom { "" } else { "not " });
                    wrong.push(format!("{mode}: the symptom was {w}expected and {s}seen: {detail}"));
                }
            }
        }
    }
    if !wrong.is_empty() {
        return Err(format!(
            "{} ({}):\n{}\nall modes:\n{}",
            scenario.name,
            scenario.issue.as_deref().unwrap_or(""),
            wrong.join("\n"),
            report.join("\n")
        )
        .into());
    }
    println!("{} ({}):\n  {}", scenario.name, scenario.issue.as_deref().unwrap_or(""), report.join("\n  "));
    Ok(())
}

/// The other direction: a run under a scenario, its transcript saved with `scenario
/// transcript`, turned into a scenario with `scenario from-transcript`; the check run under
/// that scenario sees the same symptom.
fn a_run_s_transcript_replays_as_a_scenario() -> Result<(), Failed> {
    let name = "connectors-1789-auth-required-at-start";
    let check = scenarios_dir().join("checks").join(format!("{name}.py"));
    let python = pycti_python_for(PYCTI_VERSION);
    let serve = ServeProcess::start(&["--scenario", &scenarios_dir().join(format!("{name}.yaml")).to_string_lossy()], &[]);
    let (symptom, detail) = run_check_on(&serve, &check, &python, "fault")?;
    if !symptom {
        return Err(format!("the original scenario did not show the symptom: {detail}").into());
    }
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (run, replay) = (dir.path().join("field-run.json"), dir.path().join("replay.yaml"));
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock")).args(args).output().map_err(|e| e.to_string())?;
        if out.status.success() { Ok(()) } else { Err(format!("{args:?}: {}", String::from_utf8_lossy(&out.stderr))) }
    };
    cli(&["scenario", "transcript", "--url", &serve.url, "--token", &serve.admin_token, "-o", &run.to_string_lossy()])?;
    drop(serve);
    cli(&["scenario", "from-transcript", &run.to_string_lossy(), "-o", &replay.to_string_lossy()])?;
    let written = Scenario::load(&replay).map_err(|e| e.to_string())?;
    if written.faults.is_empty() {
        return Err(format!("the transcript gave a scenario without faults:\n{}", written.to_yaml()).into());
    }
    let (symptom, detail) = run_check(&check, &python, &replay, "fault", &[])?;
    if !symptom {
        return Err(format!("the replayed scenario did not show the symptom: {detail}\n{}", written.to_yaml()).into());
    }
    println!("replayed from a transcript:\n{}\n{detail}", written.to_yaml());
    Ok(())
}

/// Whether a scenario's faults or limits act on the broker (its connections, a queue, the
/// whole broker, the host it is advertised as).
fn uses_the_broker(s: &Scenario) -> bool {
    s.touches_whole_broker()
        || s.limits.broker_advertised_host.is_some()
        || s.faults.iter().any(|f| matches!(f.action, ScenarioAction::BrokerDrop | ScenarioAction::QueueDelete { .. }))
}

fn main() {
    let args = Arguments::from_args();
    let mut trials = vec![
        Trial::test("every_scenario_file_reads_and_ships", every_scenario_file_reads_and_ships),
        Trial::test("a_run_s_transcript_replays_as_a_scenario", a_run_s_transcript_replays_as_a_scenario),
    ];
    for file in files() {
        let Ok(scenario) = Scenario::load(&file) else { continue };
        let group = if scenario.touches_whole_broker() { "whole_broker" } else { "reproduce" };
        if uses_the_broker(&scenario) {
            // On the embedded broker too: each mode has a broker of its own.
            let file = file.clone();
            trials.push(Trial::test(format!("embedded_broker::{}", scenario.name), move || {
                reproduce(&file, &["--broker", "embedded"])
            }));
        }
        trials.push(Trial::test(format!("{group}::{}", scenario.name), move || reproduce(&file, &[])));
    }
    libtest_mimic::run(&args, trials).exit();
}
