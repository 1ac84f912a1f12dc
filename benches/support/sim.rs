//! A simulated pycti connector speaking GraphQL over HTTP to a mock in another process:
//! the documents pycti 7.261026.0 sends (the strings the black-box tests use,
//! `tests/common`), its `User-Agent`, one connection pool per connector as pycti's
//! `requests` session. Every call is timed by operation and checked: an HTTP status other
//! than 200, a GraphQL error or an unexpected answer counts as an error, and the first few
//! are kept to be shown.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::{BUNDLE_PUSH, PING, REGISTER, TO_PROCESSED, WORK_ADD, registration};

/// pycti's `addExpectations` document.
pub const ADD_EXPECTATIONS: &str = "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }";

/// Errors kept word for word per connector.
const KEPT_ERRORS: usize = 5;

/// What a connector's calls cost and how they went.
#[derive(Debug, Default)]
pub struct Stats {
    /// Latencies in ms, by operation (`push`, `ping`, `workAdd`…).
    pub latencies: BTreeMap<&'static str, Vec<f64>>,
    /// Calls that failed, by operation.
    pub errors: BTreeMap<&'static str, u64>,
    /// The first failures, word for word.
    pub first_errors: Vec<String>,
}

impl Stats {
    /// Adds another connector's figures.
    pub fn merge(&mut self, other: Stats) {
        for (op, mut l) in other.latencies {
            self.latencies.entry(op).or_default().append(&mut l);
        }
        for (op, n) in other.errors {
            *self.errors.entry(op).or_default() += n;
        }
        for e in other.first_errors {
            if self.first_errors.len() < 2 * KEPT_ERRORS {
                self.first_errors.push(e);
            }
        }
    }

    /// Calls made, errors included.
    pub fn calls(&self) -> usize {
        self.latencies.values().map(Vec::len).sum()
    }

    /// Failed calls, all operations (or those for which `counted` holds).
    pub fn errors_where(&self, counted: impl Fn(&str) -> bool) -> u64 {
        self.errors.iter().filter(|(op, _)| counted(op)).map(|(_, n)| n).sum()
    }

    /// Latencies of every call, sorted.
    pub fn all_latencies(&self) -> Vec<f64> {
        super::sorted(self.latencies.values().flatten().copied().collect())
    }

    /// Latencies of one operation, sorted.
    pub fn latencies_of(&self, op: &str) -> Vec<f64> {
        super::sorted(self.latencies.get(op).cloned().unwrap_or_default())
    }

    /// `N op, …` for people.
    pub fn breakdown(&self) -> String {
        self.latencies.iter().map(|(op, l)| format!("{} {op}", l.len())).collect::<Vec<_>>().join(", ")
    }
}

/// One simulated connector.
pub struct Connector {
    /// Its id (a UUID, as pycti's `CONNECTOR_ID`).
    pub id: String,
    url: String,
    token: String,
    client: reqwest::Client,
    /// Its calls so far.
    pub stats: Stats,
}

impl Connector {
    /// A connector of the mock at `url` whose user has `token`.
    pub fn new(url: &str, token: &str) -> Connector {
        let client = reqwest::Client::builder()
            .user_agent(format!("pycti/{}", super::common::PYCTI_VERSION))
            .timeout(Duration::from_secs(120))
            .build()
            .expect("an HTTP client");
        Connector {
            id: uuid::Uuid::new_v4().to_string(),
            url: format!("{}/graphql", url.trim_end_matches('/')),
            token: token.to_string(),
            client,
            stats: Stats::default(),
        }
    }

    /// Posts `{"query": query, "variables": <variables, JSON text>}`; the `data` of the
    /// answer, or `None` (counted and kept as an error).
    async fn call(&mut self, op: &'static str, query: &str, variables: &str) -> Option<Value> {
        let body = format!(r#"{{"query":{},"variables":{variables}}}"#, Value::from(query));
        let t0 = Instant::now();
        let outcome = async {
            let resp = self
                .client
                .post(&self.url)
                .bearer_auth(&self.token)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map_err(|e| format!("no answer: {e}"))?;
            let status = resp.status();
            let text = resp.text().await.map_err(|e| format!("HTTP {status}, body unreadable: {e}"))?;
            let answer: Value = serde_json::from_str(&text).map_err(|_| format!("HTTP {status}: {text:.300}"))?;
            if !status.is_success() || !answer["errors"].is_null() {
                return Err(format!("HTTP {status}: {:.300}", answer.to_string()));
            }
            Ok(answer["data"].clone())
        }
        .await;
        self.stats.latencies.entry(op).or_default().push(t0.elapsed().as_secs_f64() * 1000.0);
        match outcome {
            Ok(data) => Some(data),
            Err(e) => {
                self.error(op, e);
                None
            }
        }
    }

    fn error(&mut self, op: &'static str, message: String) {
        *self.stats.errors.entry(op).or_default() += 1;
        if self.stats.first_errors.len() < KEPT_ERRORS {
            self.stats.first_errors.push(format!("{op}: {message}"));
        }
    }

    /// `registerConnector` as an EXTERNAL_IMPORT connector; the answer's `config` (queue
    /// names and broker connection).
    pub async fn register(&mut self, name: &str) -> Option<Value> {
        let variables = registration(&self.id, name).to_string();
        let data = self.call("registerConnector", REGISTER, &variables).await?;
        Some(data["registerConnector"]["config"].clone())
    }

    /// `pingConnector` with a state, as pycti's ping thread sends it.
    pub async fn ping(&mut self, state: &str) -> bool {
        let variables = json!({"id": self.id, "state": state, "connectorInfo": {"run_and_terminate": false, "buffering": false,
            "queue_threshold": 500.0, "queue_messages_size": 0.0, "next_run_datetime": null, "last_run_datetime": null}});
        self.call("pingConnector", PING, &variables.to_string()).await.is_some()
    }

    /// `workAdd`: a new work's id.
    pub async fn work_add(&mut self, name: &str) -> Option<String> {
        let variables = json!({"connectorId": self.id, "friendlyName": name, "isMultiPartWork": false}).to_string();
        let data = self.call("workAdd", WORK_ADD, &variables).await?;
        let id = data["workAdd"]["id"].as_str().map(str::to_string);
        if id.is_none() {
            self.error("workAdd", format!("no work id in {data}"));
        }
        id
    }

    /// `addExpectations`, as pycti announces the pieces it publishes to the broker.
    pub async fn add_expectations(&mut self, work_id: &str, n: usize) -> bool {
        let variables = json!({"id": work_id, "expectations": n}).to_string();
        self.call("addExpectations", ADD_EXPECTATIONS, &variables).await.is_some()
    }

    /// `stixBundlePush` of a bundle given as JSON string literal text (the bundle's JSON
    /// already escaped as a string, so it is encoded once, not on every push).
    pub async fn push(&mut self, work_id: &str, bundle_literal: &str) -> bool {
        let variables = format!(r#"{{"connectorId":"{}","bundle":{bundle_literal},"work_id":"{work_id}"}}"#, self.id);
        match self.call("stixBundlePush", BUNDLE_PUSH, &variables).await {
            Some(data) if data["stixBundlePush"] == json!(true) => true,
            Some(data) => {
                self.error("stixBundlePush", format!("answered {data}"));
                false
            }
            None => false,
        }
    }

    /// `toProcessed`: the connector closes its work.
    pub async fn work_to_processed(&mut self, work_id: &str, message: &str) -> bool {
        let variables = json!({"id": work_id, "message": message, "inError": false}).to_string();
        self.call("workToProcessed", TO_PROCESSED, &variables).await.is_some()
    }
}

/// The message pycti's `_send_bundle` publishes to a push queue for one piece of a split
/// bundle (`bundle` is the piece's JSON text).
pub fn amqp_message(bundle: &str, sequence: usize, work_id: &str) -> Vec<u8> {
    use base64::Engine;
    json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": null, "action_sequence": sequence, "entities_types": [],
        "content": base64::engine::general_purpose::STANDARD.encode(bundle), "update": false, "draft_id": null,
        "no_split": false, "work_id": work_id})
    .to_string()
    .into_bytes()
}
