//! Shared helpers of the black-box tests: the pinned pycti environment, the mock as a
//! process, and running connector scripts with a deadline.

#![allow(dead_code)]

pub mod amqp_conversations;
pub mod connector;
pub mod sse;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The pinned pycti release.
pub const PYCTI_VERSION: &str = "7.261026.0";

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"))
}

/// The Python interpreter of a venv under `target/` with pycti and its pinned
/// dependencies (`fixtures/python/requirements.txt`), created on first use. Parallel test
/// processes serialise on a lock file; a finished venv is marked by a stamp file that
/// records the requirements it was built from.
pub fn pycti_python() -> PathBuf {
    pycti_python_for(PYCTI_VERSION)
}

/// As [`pycti_python`], for another pycti release: the one a field issue ran
/// (`fixtures/python/requirements-<version>.txt`, its own venv).
pub fn pycti_python_for(version: &str) -> PathBuf {
    let file = if version == PYCTI_VERSION { "requirements.txt".to_string() } else { format!("requirements-{version}.txt") };
    let requirements = root().join("fixtures/python").join(&file);
    let wanted = std::fs::read_to_string(&requirements).unwrap_or_else(|e| panic!("fixtures/python/{file} is readable: {e}"));
    let base = target_dir();
    std::fs::create_dir_all(&base).expect("target dir can be created");
    let venv = base.join(format!("pycti-venv-{version}"));
    let stamp = venv.join("requirements.stamp");
    let lock = std::fs::File::create(base.join("pycti-venv.lock")).expect("lock file can be created");
    lock.lock().expect("lock on the venv lock file");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let _ = std::fs::remove_dir_all(&venv);
        let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
        run_checked(
            Command::new(&python).args(["-m", "venv"]).arg(&venv),
            "create the pycti venv (is python3 with venv installed?)",
        );
        run_checked(
            Command::new(venv.join("bin/python"))
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "-r"])
                .arg(&requirements),
            "install pycti from PyPI into the venv",
        );
        std::fs::write(&stamp, &wanted).expect("stamp can be written");
    }
    drop(lock);
    venv.join("bin/python")
}

fn run_checked(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot {what}: {e}"));
    assert!(
        out.status.success(),
        "cannot {what}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A connector script under `fixtures/connectors/`.
pub fn connector_script(name: &str) -> PathBuf {
    root().join("fixtures/connectors").join(name)
}

/// `opencti-mock serve` running as a child process on a free port.
pub struct ServeProcess {
    child: Child,
    /// `OPENCTI_URL`.
    pub url: String,
    /// Admin token.
    pub admin_token: String,
    /// Lines printed at start-up.
    pub banner: Vec<String>,
}

impl ServeProcess {
    /// Starts `opencti-mock serve --port 0 --admin-token … <args>` and waits for its banner.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut all = vec!["--port", "0", "--admin-token", "admin-token-for-tests"];
        all.extend_from_slice(args);
        ServeProcess::start_raw(&all, env)
    }

    /// Starts `opencti-mock serve <args>` (nothing added) and waits for its banner.
    pub fn start_raw(args: &[&str], env: &[(&str, &str)]) -> ServeProcess {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opencti-mock"));
        cmd.arg("serve").args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("opencti-mock starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut reader = BufReader::new(stdout);
        let mut banner = Vec::new();
        let mut url = None;
        let mut admin_token = None;
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            if let Some(u) = line.trim().strip_prefix("OPENCTI_URL=") {
                url = Some(u.to_string());
            }
            if let Some(t) = line.trim().strip_prefix("admin token (OPENCTI_TOKEN): ") {
                admin_token = Some(t.to_string());
            }
            let done = line.trim().starts_with("control API:");
            banner.push(line.trim_end().to_string());
            if done {
                break;
            }
        }
        // Keep draining stdout so the child never blocks on a full pipe.
        std::thread::spawn(move || for _ in reader.lines() {});
        let url = url.unwrap_or_else(|| panic!("opencti-mock printed no URL; banner: {banner:?}"));
        ServeProcess { child, url, admin_token: admin_token.expect("admin token printed"), banner }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `(VmRSS, VmHWM)` of the process in bytes, from `/proc/<pid>/status`.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("/proc is readable");
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb * 1024)
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> std::process::ExitStatus {
        self.signal("-TERM")
    }

    /// Sends a signal (`-TERM`, `-INT`) and waits for the exit status.
    pub fn signal(mut self, signal: &str) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args([signal, &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return status;
            }
            assert!(Instant::now() < deadline, "opencti-mock did not stop within 15 s of {signal}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for ServeProcess {
    /// SIGTERM first, so the platform removes what it declared on the broker; SIGKILL when
    /// it has not stopped within 10 s.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(25));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of the EXTERNAL_IMPORT fixture connector (`fixtures/connectors/
/// external_import.py`), run and terminate, plus `extra`.
pub fn import_env(
    url: &str,
    token: &str,
    id: &str,
    name: &str,
    queue_protocol: &str,
    extra: &[(&str, &str)],
) -> Vec<(&'static str, String)> {
    let mut env: Vec<(&'static str, String)> = vec![
        ("OPENCTI_URL", url.to_string()),
        ("OPENCTI_TOKEN", token.to_string()),
        ("CONNECTOR_ID", id.to_string()),
        ("CONNECTOR_NAME", name.to_string()),
        ("CONNECTOR_TYPE", "EXTERNAL_IMPORT".into()),
        ("CONNECTOR_SCOPE", "ipv4-addr,identity".into()),
        ("CONNECTOR_QUEUE_PROTOCOL", queue_protocol.to_string()),
        ("CONNECTOR_RUN_AND_TERMINATE", "true".into()),
        ("CONNECTOR_LOG_LEVEL", "info".into()),
    ];
    for (k, v) in extra {
        // A later entry wins when the connector reads its environment.
        let key: &'static str = Box::leak(k.to_string().into_boxed_str());
        env.push((key, v.to_string()));
    }
    env
}

/// Runs a Python connector script with the venv's interpreter and a deadline; returns its
/// output (stdout and stderr captured).
pub fn run_connector(script: &Path, env: &[(&str, String)], deadline: Duration) -> Output {
    let mut cmd = Command::new(pycti_python());
    cmd.arg(script).env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).env("PYTHONUNBUFFERED", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("python starts");
    let start = Instant::now();
    loop {
        if child.try_wait().expect("child status").is_some() {
            return child.wait_with_output().expect("output collected");
        }
        if start.elapsed() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output collected");
            panic!(
                "connector {} did not finish within {deadline:?}\nstdout:\n{}\nstderr:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A blocking client for the control API and raw GraphQL.
pub struct Client {
    /// Base URL.
    pub url: String,
    http: reqwest::blocking::Client,
}

impl Client {
    /// A client for a mock at `url`.
    pub fn new(url: &str) -> Client {
        Client { url: url.trim_end_matches('/').to_string(), http: reqwest::blocking::Client::new() }
    }

    /// `GET /_mock/<path>` with a token.
    pub fn control(&self, token: &str, path: &str) -> serde_json::Value {
        let resp = self.http.get(format!("{}/_mock/{path}", self.url)).bearer_auth(token).send().expect("control API answers");
        assert!(resp.status().is_success(), "GET /_mock/{path} answered {}", resp.status());
        resp.json().expect("control API answers JSON")
    }

    /// `POST /_mock/<path>` with a body (JSON, or a STIX bundle); returns (status, body).
    pub fn post(&self, token: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}/_mock/{path}", self.url))
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .expect("control API answers");
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(serde_json::Value::Null))
    }

    /// `POST /graphql` with a token; returns (status, body).
    pub fn graphql(&self, token: Option<&str>, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let mut req = self.http.post(format!("{}/graphql", self.url)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().expect("graphql answers");
        let status = resp.status().as_u16();
        (status, resp.json().unwrap_or(serde_json::Value::Null))
    }
}

/// Async GraphQL call against an in-process platform: `(HTTP status, body)`.
pub async fn gql(url: &str, token: Option<&str>, query: &str, variables: serde_json::Value) -> (u16, serde_json::Value) {
    let mut req =
        reqwest::Client::new().post(format!("{url}/graphql")).json(&serde_json::json!({"query": query, "variables": variables}));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.expect("the platform answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

/// The first error code of a GraphQL response, if any.
pub fn error_code(body: &serde_json::Value) -> Option<String> {
    body["errors"][0]["name"].as_str().map(str::to_string)
}

/// pycti's registration document (pycti 7.261026.0 `OpenCTIApiConnector.register`).
pub const REGISTER: &str = "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id connector_state jwks config { connection { host vhost use_ssl port user pass } s3 { endpoint port use_ssl bucket_name bucket_region access_key secret_key } listen listen_routing listen_exchange push push_routing push_exchange } connector_user_id } }";

/// pycti's ping document.
pub const PING: &str = "mutation PingConnector($id: ID!, $state: String, $connectorInfo: ConnectorInfoInput ) { pingConnector(id: $id, state: $state, connectorInfo: $connectorInfo) { id connector_state connector_info { run_and_terminate buffering queue_threshold queue_messages_size next_run_datetime last_run_datetime } } }";

/// pycti's `workAdd` document.
pub const WORK_ADD: &str = "mutation workAdd($connectorId: String!, $friendlyName: String, $isMultiPartWork: Boolean) { workAdd(connectorId: $connectorId, friendlyName: $friendlyName, isMultiPartWork: $isMultiPartWork) { id } }";

/// pycti's `stixBundlePush` document.
pub const BUNDLE_PUSH: &str = "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }";

/// pycti's `toProcessed` document.
pub const TO_PROCESSED: &str = "mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) { workEdit(id: $id) { toProcessed (message: $message, inError: $inError) } }";

/// Registration variables of an EXTERNAL_IMPORT connector, as pycti sends them.
pub fn registration(id: &str, name: &str) -> serde_json::Value {
    serde_json::json!({"input": {"id": id, "name": name, "type": "EXTERNAL_IMPORT", "scope": ["ipv4-addr"], "auto": false,
        "auto_update": false, "enrichment_resolution": "none", "only_contextual": false, "playbook_compatible": false,
        "listen_callback_uri": null, "version": null, "slug": null}})
}

/// A bundle of `n` IPv4 observables with random ids.
pub fn ipv4_bundle(n: usize) -> String {
    let objects: Vec<serde_json::Value> = (0..n)
        .map(|i| serde_json::json!({"type": "ipv4-addr", "spec_version": "2.1", "id": format!("ipv4-addr--{}", uuid::Uuid::new_v4()), "value": format!("10.0.{}.{}", i / 256, i % 256)}))
        .collect();
    serde_json::json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects}).to_string()
}

/// Runs a pycti driver under `fixtures/python/` against `serve` as `token` and parses the
/// JSON report it prints: `(exited successfully, report)`.
pub fn python_report(script: &str, args: &[&str], serve: &ServeProcess, token: &str) -> (bool, serde_json::Value) {
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python").join(script))
        .args(args)
        .env("OPENCTI_URL", &serve.url)
        .env("OPENCTI_TOKEN", token)
        .output()
        .expect("python runs");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{script} prints a JSON report ({e}):\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.success(), report)
}
