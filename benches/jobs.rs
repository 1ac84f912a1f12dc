//! Job dispatch benchmark (a bench binary, not a timed test): `cargo bench --bench jobs`.
//!
//! The mock's added cost per enrichment job in HTTP listen mode, over 1,000 jobs sent one
//! after the other: an in-process platform, an INTERNAL_ENRICHMENT connector registered
//! with a `listen_callback_uri` served by this process (axum on loopback) that does nothing
//! of its own — on each POST it reports the work received, pushes the entity back
//! (`stixBundlePush`), closes the work and answers 202, as pycti's helper does. Timed per
//! job from the ask (`ask_enrichment`) to the work being complete: the platform's job
//! creation, the worker's signed callback, three GraphQL answers, the ingest of the pushed
//! entity and the completion — everything but a real connector's own work. Also reported:
//! the dispatch alone (ask → the callback received). Target: p99 ≤ 2 ms. Quick mode
//! (`BENCH_QUICK=1`): 50 jobs after 5 warm-up jobs.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use opencti_mock::MockPlatform;
use opencti_mock::store::jobs::JobStatus;
use opencti_mock::store::works::WorkStatus;
use serde_json::{Value, json};

mod support;
use support::{Figure, quick, size};
const TOKEN: &str = "tok-bench-enrich";
const ENTITY: &str = "ipv4-addr--4ba1b3a0-4d8f-5c6b-9f3d-1a2b3c4d5e01";

const REGISTER: &str =
    "mutation RegisterConnector($input: RegisterConnectorInput) { registerConnector(input: $input) { id jwks } }";
const TO_RECEIVED: &str =
    "mutation workToReceived($id: ID!, $message: String) { workEdit(id: $id) { toReceived(message: $message) } }";
const PUSH: &str = "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) { stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id) }";
const TO_PROCESSED: &str = "mutation workToProcessed($id: ID!, $message: String, $inError: Boolean) { workEdit(id: $id) { toProcessed(message: $message, inError: $inError) } }";

#[derive(Clone)]
struct Connector {
    url: String,
    id: String,
    client: reqwest::Client,
    /// When each callback arrived.
    arrivals: Arc<Mutex<Vec<Instant>>>,
}

async fn gql(c: &Connector, query: &str, variables: Value) -> Value {
    let r = c
        .client
        .post(format!("{}/graphql", c.url))
        .bearer_auth(TOKEN)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .expect("the platform answers");
    let body: Value = r.json().await.expect("JSON");
    assert!(body["errors"].is_null(), "{body}");
    body
}

/// The connector's callback: what pycti's helper does around a callback that does nothing.
async fn callback(State(c): State<Connector>, body: String) -> StatusCode {
    c.arrivals.lock().expect("arrivals").push(Instant::now());
    let job: Value = serde_json::from_str(&body).expect("a JSON job");
    let work_id = job["internal"]["work_id"].as_str().expect("work id").to_string();
    let entity: Value = serde_json::from_str(job["event"]["stix_entity"].as_str().expect("stix_entity")).expect("STIX");
    gql(&c, TO_RECEIVED, json!({"id": work_id, "message": "Connector ready to process the operation"})).await;
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": [entity]});
    gql(&c, PUSH, json!({"connectorId": c.id, "bundle": bundle.to_string(), "work_id": work_id})).await;
    gql(&c, TO_PROCESSED, json!({"id": work_id, "message": "enriched", "inError": false})).await;
    StatusCode::ACCEPTED
}

/// p50, p90, p99 and max of the samples, in ms.
fn quantiles(samples: Vec<Duration>) -> [f64; 4] {
    let ms = support::sorted(samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect());
    [support::percentile(&ms, 0.5), support::percentile(&ms, 0.9), support::percentile(&ms, 0.99), ms[ms.len() - 1]]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("jobs: benchmark");
        return;
    }
    let platform = MockPlatform::builder().connector_user("[C] bench enrichment", TOKEN).start().await;
    platform
        .seed(
            &json!({"type": "bundle", "id": "bundle--0b7a3a52-4c44-4a0e-8b61-9e0d3f9a6c01", "objects": [
            {"type": "ipv4-addr", "spec_version": "2.1", "id": ENTITY, "value": "198.51.100.7"}]})
            .to_string(),
        )
        .expect("seeded");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let callback_uri = format!("http://{}/api/callback", listener.local_addr().expect("address"));
    let connector = Connector {
        url: platform.url().to_string(),
        id: uuid::Uuid::new_v4().to_string(),
        client: reqwest::Client::new(),
        arrivals: Arc::default(),
    };
    let app = Router::new().route("/api/callback", post(callback)).with_state(connector.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.expect("the callback server runs") });
    gql(
        &connector,
        REGISTER,
        json!({"input": {"id": connector.id, "name": "Bench Enrichment", "type": "INTERNAL_ENRICHMENT", "scope": ["IPv4-Addr"],
            "auto": false, "auto_update": false, "enrichment_resolution": "none", "only_contextual": false,
            "playbook_compatible": false, "listen_callback_uri": callback_uri, "version": null, "slug": null}}),
    )
    .await;

    let (jobs, warm_up) = (size(1000, 50), size(50, 5));
    let store = platform.core().store.clone();
    let mut total = Vec::with_capacity(jobs);
    let mut dispatch = Vec::with_capacity(jobs);
    for i in 0..warm_up + jobs {
        let before = connector.arrivals.lock().expect("arrivals").len();
        let started = Instant::now();
        let work = platform.ask_enrichment(&connector.id, ENTITY).expect("job sent");
        let done = store
            .wait_until(Duration::from_secs(10), |s| {
                s.works.get(&work.id).is_some_and(|w| w.status == WorkStatus::Complete && w.processed_time.is_some())
            })
            .await;
        let elapsed = started.elapsed();
        assert!(done, "job {i} completed within 10 s");
        if i >= warm_up {
            total.push(elapsed);
            let arrived = connector.arrivals.lock().expect("arrivals")[before];
            dispatch.push(arrived - started);
        }
    }
    let [p50, p90, p99, max] = quantiles(total);
    let [d50, _, d99, _] = quantiles(dispatch);
    Figure::new(
        "jobs.p99",
        format!("enrichment job over an HTTP callback, ask → work complete, p99 of {jobs} (one at a time, after {warm_up} warm-up)"),
        p99,
        "ms",
    )
    .compared(format!("p50 {p50:.3} ms, p90 {p90:.3} ms, max {max:.3} ms; dispatch alone (ask → callback received) p50 {d50:.3} ms, p99 {d99:.3} ms"))
    .at_most(2.0)
    .report();
    // A job's work completes before the connector's 202 is back: wait for the last answer.
    store.wait_until(Duration::from_secs(10), |s| s.jobs.all().iter().all(|j| j.status == JobStatus::Delivered)).await;
    let retried: Vec<_> =
        platform.jobs().into_iter().filter(|j| j.attempts.len() != 1 || j.attempts[0].status != Some(202)).collect();
    println!("jobs not acknowledged at the first attempt: {}", retried.len());
    for j in retried.iter().take(3) {
        println!("  job {}: {:?}", j.seq, j.attempts);
    }
    assert!(retried.is_empty(), "every job is acknowledged at its first attempt");
    if quick() {
        println!("jobs: quick mode, figures not judged");
    }
}
