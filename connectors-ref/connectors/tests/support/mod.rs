//! Running a reference connector through the conformance gate, in process: its
//! deployment (scope, settings, the external services it talks to, served by wiremock),
//! and the verdicts of its suite.

#![allow(dead_code)]

use std::time::Duration;

use opencti_conformance::{CheckResult, Evidence, Outcome, registry, report};
use opencti_mock::conform::{Session, run};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The five reference connectors: type, binary.
pub const CONNECTORS: &[(&str, &str)] = &[
    ("EXTERNAL_IMPORT", env!("CARGO_BIN_EXE_ref-external-import")),
    ("INTERNAL_ENRICHMENT", env!("CARGO_BIN_EXE_ref-enrichment")),
    ("INTERNAL_IMPORT_FILE", env!("CARGO_BIN_EXE_ref-import-file")),
    ("INTERNAL_EXPORT_FILE", env!("CARGO_BIN_EXE_ref-export-file")),
    ("STREAM", env!("CARGO_BIN_EXE_ref-stream")),
];

/// How the connector sends bundles and gets jobs: `api` or `amqp` each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transport {
    /// `CONNECTOR_QUEUE_PROTOCOL`.
    pub queue: &'static str,
    /// `CONNECTOR_LISTEN_PROTOCOL` (job connectors).
    pub listen: &'static str,
}

/// Both over HTTP.
pub const API: Transport = Transport { queue: "api", listen: "api" };
/// Both over RabbitMQ.
pub const AMQP: Transport = Transport { queue: "amqp", listen: "amqp" };

/// The transports a type is judged in: every value of each dimension it uses.
pub fn transports(connector_type: &str) -> &'static [Transport] {
    match connector_type {
        // A stream connector pushes nothing and gets no jobs: the stream is its transport.
        "STREAM" => &[API],
        _ => &[API, AMQP],
    }
}

/// The binary of a type's reference connector.
pub fn binary(connector_type: &str) -> &'static str {
    CONNECTORS.iter().find(|(t, _)| *t == connector_type).map(|(_, b)| *b).expect("a reference connector of that type")
}

/// The feed the external import reads: C2 addresses, domains and URLs of two families.
pub fn feed() -> serde_json::Value {
    json!({ "indicators": [
        { "type": "ipv4-addr", "value": "198.51.100.7", "malware": "ExampleBot" },
        { "type": "ipv4-addr", "value": "198.51.100.23", "malware": "ExampleBot" },
        { "type": "domain-name", "value": "c2.example.com", "malware": "ExampleBot" },
        { "type": "url", "value": "http://downloads.example.net/stage2.bin", "malware": "SecondBot" },
    ]})
}

/// Starts the external services every reference connector may call: the feed, the lookup
/// API and the event sink.
pub async fn services() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(feed()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/lookup"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "score": 73, "tags": ["scanner", "botnet"] })))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/events")).respond_with(ResponseTemplate::new(202)).mount(&server).await;
    server
}

/// How a type's reference connector is deployed: what a user gives the gate.
pub struct Deployment {
    /// `--scope`.
    pub scope: Option<&'static str>,
    /// `--env`: the kit's short ping period (the gate sees the state at once), the
    /// connector's run mode and the services it calls.
    pub env: Vec<(String, String)>,
    /// `--setting max_tlp=…`: the variable holding its max TLP.
    pub max_tlp: Option<&'static str>,
}

/// The deployment of a type's reference connector, its services at `url`.
pub fn deployment(connector_type: &str, url: &str) -> Deployment {
    let mut env = vec![("CONNECTOR_KIT_PING_PERIOD".to_string(), "0.5".to_string())];
    let (scope, max_tlp) = match connector_type {
        "EXTERNAL_IMPORT" => {
            env.push(("CONNECTOR_RUN_AND_TERMINATE".into(), "true".into()));
            env.push(("FEED_URL".into(), format!("{url}/feed.json")));
            (Some("ipv4-addr,domain-name,url,indicator,identity,malware,relationship,marking-definition"), None)
        }
        "INTERNAL_ENRICHMENT" => {
            env.push(("LOOKUP_API_URL".into(), url.to_string()));
            (Some("IPv4-Addr,Domain-Name"), Some("LOOKUP_MAX_TLP"))
        }
        "INTERNAL_IMPORT_FILE" => (Some("application/json,text/csv"), None),
        "INTERNAL_EXPORT_FILE" => (Some("application/vnd.oasis.stix+json,text/csv"), None),
        "STREAM" => {
            env.push(("SINK_URL".into(), format!("{url}/events")));
            (None, None)
        }
        other => panic!("no reference connector of type {other}"),
    };
    Deployment { scope, env, max_tlp }
}

/// Seconds a connector that keeps running must be quiet before the gate stops it.
pub const SETTLE_SECONDS: u64 = 2;

/// The session deploying a type's reference connector, with an optional fault.
pub fn session(connector_type: &str, transport: Transport, services: &MockServer, fault: Option<&str>) -> Session {
    let mut s = Session::new(connector_type, vec![binary(connector_type).to_string()]);
    s.queue_protocol = transport.queue.into();
    s.listen_protocol = transport.listen.into();
    s.settle = Duration::from_secs(SETTLE_SECONDS);
    // The connectors answer a job in well under a second; an unanswered one is judged soon.
    s.job_timeout = Duration::from_secs(10);
    let d = deployment(connector_type, &services.uri());
    s.scope = d.scope.map(str::to_string);
    s.env = d.env;
    if let Some(var) = d.max_tlp {
        s.job.settings.insert("max_tlp".into(), var.into());
    }
    if let Some(id) = fault {
        s.env.push(("REFERENCE_FAULT".into(), id.into()));
    }
    s
}

/// Runs a session on its own runtime (with the services) and returns the evidence.
pub fn record(connector_type: &str, transport: Transport, fault: Option<&str>) -> Evidence {
    let rt = tokio::runtime::Runtime::new().expect("tokio runtime");
    rt.block_on(async {
        let services = services().await;
        let session = session(connector_type, transport, &services, fault);
        run(&session, |_| {}).await.expect("the session runs")
    })
}

/// Every check of the type's suite, judged.
pub fn judge(connector_type: &str, evidence: &Evidence) -> Vec<CheckResult> {
    report::judge(&registry::select(connector_type, &[]), evidence)
}

/// A result in one line, with the run's output when it did not pass.
pub fn describe(r: &CheckResult) -> String {
    match &r.outcome {
        Outcome::Pass => format!("{} PASS", r.check.id),
        Outcome::Fail { expected, actual } => format!("{} FAIL: expected {expected}; actual {actual}", r.check.id),
        Outcome::Blocked { reason } => format!("{} BLOCKED: {reason}", r.check.id),
        Outcome::NotApplicable { reason } => format!("{} NOT APPLICABLE: {reason}", r.check.id),
    }
}

/// The end of each run's output, for failure messages.
pub fn output(evidence: &Evidence) -> String {
    evidence
        .runs
        .iter()
        .map(|r| format!("--- run {} ({:?}, exit {:?}):\n{}", r.index + 1, r.end, r.exit_code, r.output_tail))
        .collect::<Vec<_>>()
        .join("\n")
}
