//! Jobs without pycti: the triggers (GraphQL, control API), connector selection, the
//! file storage route, and the worker's HTTP dispatch as a connector's endpoint sees it
//! (a wiremock server in its place): headers, the signed JWT, retries, one job at a time,
//! the 6.9 bearer, the proxy and the timeout.

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{REGISTER, gql};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use opencti_mock::store::jobs::JobStatus;
use opencti_mock::{MockPlatform, Profile};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-jobs";
const ENTITY: &str = "ipv4-addr--4ba1b3a0-4d8f-5c6b-9f3d-1a2b3c4d5e01";
const ASK: &str = "mutation Ask($id: ID!, $c: ID!) { stixCoreObjectEdit(id: $id) { askEnrichment(connectorId: $c) { id name status event_source_id } } }";
const UPLOAD_IMPORT: &str = "mutation UploadImport($file: Upload!, $fileMarkings: [String]) { uploadImport(file: $file, fileMarkings: $fileMarkings) { id name metaData { mimetype } } }";
const UPLOAD_PENDING: &str = "mutation UploadPending($file: Upload!, $entityId: String, $file_markings: [String!]) { uploadPending(file: $file, entityId: $entityId, file_markings: $file_markings) { id name } }";
const ASK_IMPORT: &str = "mutation AskJobImport($fileName: ID!, $connectorId: String) { askJobImport(fileName: $fileName, connectorId: $connectorId) { id } }";

fn seed() -> String {
    json!({"type": "bundle", "id": "bundle--0b7a3a52-4c44-4a0e-8b61-9e0d3f9a6c01", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": ENTITY, "value": "198.51.100.7"}]})
    .to_string()
}

async fn platform(profile: Profile) -> MockPlatform {
    let p = MockPlatform::builder()
        .profile(profile)
        .connector_user("[C] jobs", TOKEN)
        .callback_retry_delay(Duration::from_millis(20), Duration::from_millis(40))
        .start()
        .await;
    p.seed(&seed()).expect("seeded");
    p
}

/// Registers a connector the way pycti does; returns its id and the registration answer.
async fn register(
    p: &MockPlatform,
    kind: &str,
    scope: &[&str],
    auto: bool,
    only_contextual: bool,
    callback: Option<&str>,
) -> (String, Value) {
    let id = uuid::Uuid::new_v4().to_string();
    let input = json!({"input": {"id": id, "name": format!("{kind} connector"), "type": kind, "scope": scope, "auto": auto,
        "auto_update": false, "enrichment_resolution": "none", "only_contextual": only_contextual, "playbook_compatible": false,
        "listen_callback_uri": callback, "version": null, "slug": null}});
    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, input).await;
    assert!(body["errors"].is_null(), "{body}");
    (id, body["data"]["registerConnector"].clone())
}

/// A GraphQL multipart request with one file bound to `variables.file`.
async fn multipart(p: &MockPlatform, query: &str, variables: Value, filename: &str, mime: &str, content: &str) -> Value {
    let operations = json!({"query": query, "variables": variables});
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::text(content.to_string()).file_name(filename.to_string()).mime_str(mime).expect("mime"),
        );
    reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .multipart(form)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn ask_enrichment_opens_a_waiting_work_named_as_the_platform_names_it() {
    // Arrange
    let p = platform(Profile::V7).await;
    let (enricher, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, None).await;
    let (importer, _) = register(&p, "INTERNAL_IMPORT_FILE", &["application/json"], false, false, None).await;

    // Act
    let (_, ok) = gql(p.url(), Some(TOKEN), ASK, json!({"id": ENTITY, "c": enricher})).await;
    let (_, wrong_type) = gql(p.url(), Some(TOKEN), ASK, json!({"id": ENTITY, "c": importer})).await;
    let (_, unknown) = gql(p.url(), Some(TOKEN), ASK, json!({"id": ENTITY, "c": "nope"})).await;

    // Assert
    let work = &ok["data"]["stixCoreObjectEdit"]["askEnrichment"];
    assert_eq!(work["name"], "Manual enrichment", "{ok}");
    assert_eq!(work["status"], "wait");
    let standard = p.object(ENTITY).expect("seeded").standard_id;
    assert_eq!(work["event_source_id"], standard.as_str());
    let job = &p.jobs()[0];
    let message: Value = serde_json::from_str(&job.message).expect("JSON");
    assert_eq!(
        message["internal"],
        json!({"work_id": work["id"], "applicant_id": null, "draft_id": null, "trigger": "update", "mode": "manual"})
    );
    assert_eq!(message["event"]["entity_id"], standard.as_str());
    assert_eq!(message["event"]["entity_type"], "IPv4-Addr");
    assert!(message["event"]["stix_objects"].is_null());
    let stix: Value = serde_json::from_str(message["event"]["stix_entity"].as_str().expect("a JSON string")).expect("STIX");
    assert_eq!(stix["value"], "198.51.100.7");
    assert_eq!(job.status, JobStatus::Queued, "no broker, no callback: the job waits");
    assert_eq!(wrong_type["errors"][0]["name"], "FUNCTIONAL_ERROR", "{wrong_type}");
    assert!(wrong_type["errors"][0]["message"].as_str().unwrap_or_default().contains("not INTERNAL_ENRICHMENT"));
    assert!(unknown["errors"][0]["message"].as_str().unwrap_or_default().contains("nope"), "{unknown}");
}

#[tokio::test]
async fn an_upload_starts_the_import_of_active_auto_connectors_in_scope_only() {
    // Arrange: auto and in scope; auto but contextual only; in scope but manual; auto, other scope.
    let p = platform(Profile::V7).await;
    let (auto, _) = register(&p, "INTERNAL_IMPORT_FILE", &["application/json"], true, false, None).await;
    register(&p, "INTERNAL_IMPORT_FILE", &["application/json"], true, true, None).await;
    let (manual, _) = register(&p, "INTERNAL_IMPORT_FILE", &["application/json"], false, false, None).await;
    register(&p, "INTERNAL_IMPORT_FILE", &["application/pdf"], true, false, None).await;

    // Act
    let uploaded =
        multipart(&p, UPLOAD_IMPORT, json!({"file": null, "fileMarkings": []}), "feed.json", "application/json", "{}").await;
    let (_, asked) =
        gql(p.url(), Some(TOKEN), ASK_IMPORT, json!({"fileName": "import/global/feed.json", "connectorId": manual})).await;

    // Assert
    assert_eq!(uploaded["data"]["uploadImport"]["id"], "import/global/feed.json", "{uploaded}");
    assert_eq!(uploaded["data"]["uploadImport"]["metaData"]["mimetype"], "application/json");
    let jobs = p.jobs();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0].connector_id, auto, "the upload went to the auto connector in scope only");
    assert_eq!(jobs[1].connector_id, manual, "askJobImport reaches a manual connector");
    assert!(asked["errors"].is_null(), "{asked}");
    let message: Value = serde_json::from_str(&jobs[0].message).expect("JSON");
    assert!(message["event"].get("event_type").is_none(), "no event_type for imports");
    assert!(message["event"].get("entity_id").is_none(), "absent for a global file");
    assert_eq!(message["event"]["file_fetch"], "/storage/get/import/global/feed.json");
    assert_eq!(message["internal"]["applicant_id"], p.read(|s| s.users.by_token(TOKEN).map(|u| u.id.clone())).expect("user"));
    assert_eq!(
        p.work(jobs[0].work_id.as_deref().expect("work")).expect("work").name.as_deref(),
        Some("Manual import of feed.json")
    );
}

#[tokio::test]
async fn a_workbench_is_stored_under_its_base_name_and_imports_nothing() {
    // Arrange
    let p = platform(Profile::V7).await;
    register(&p, "INTERNAL_IMPORT_FILE", &["application/json"], true, false, None).await;

    // Act: pycti names workbenches after the job's file id, slashes included.
    let body = multipart(
        &p,
        UPLOAD_PENDING,
        json!({"file": null, "entityId": null, "file_markings": []}),
        "import/global/feed.json",
        "application/json",
        "{\"type\":\"bundle\"}",
    )
    .await;

    // Assert
    assert_eq!(body["data"]["uploadPending"], json!({"id": "import/pending/feed.json", "name": "feed.json"}), "{body}");
    assert!(p.jobs().is_empty(), "a workbench starts no import");
    assert_eq!(p.file("import/pending/feed.json").expect("stored").content.as_ref(), b"{\"type\":\"bundle\"}");
}

#[tokio::test]
async fn the_storage_serves_files_to_users_only_with_their_type_and_charset() {
    // Arrange
    let p = platform(Profile::V7).await;
    p.upload_file("feed.json", "application/json", "{\"é\":1}");
    let client = reqwest::Client::new();
    let get = |path: &str, token: Option<&str>| {
        let mut r = client.get(format!("{}{path}", p.url()));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send()
    };

    // Act
    let served = get("/storage/get/import/global/feed.json", Some(TOKEN)).await.expect("answer");
    let encoded = get("/storage/get/import%2Fglobal%2Ffeed.json", Some(TOKEN)).await.expect("answer");
    let anonymous = get("/storage/get/import/global/feed.json", None).await.expect("answer");
    let wrong_token = get("/storage/get/import/global/feed.json", Some("nope")).await.expect("answer");
    let missing = get("/storage/get/import/global/other.json", Some(TOKEN)).await.expect("answer");

    // Assert
    assert_eq!(served.status(), 200);
    assert_eq!(served.headers()["content-type"], "application/json; charset=utf-8");
    assert_eq!(served.headers()["content-disposition"], "attachment; filename=\"feed.json\"");
    assert_eq!(served.text().await.expect("body"), "{\"é\":1}");
    assert_eq!(encoded.status(), 200, "URL-encoded ids are decoded");
    assert_eq!(anonymous.status(), 403);
    assert_eq!(wrong_token.status(), 403);
    let missing_status = missing.status();
    let body: Value = missing.json().await.expect("JSON");
    assert_eq!(missing_status, 503);
    assert_eq!(body["status"], "error");
    assert_eq!(body["error"], "File not found or restricted", "the platform's loadFile error: {body}");
}

#[tokio::test]
async fn the_control_api_triggers_jobs_and_says_what_is_wrong_with_a_request() {
    // Arrange
    let p = platform(Profile::V7).await;
    let (enricher, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, None).await;
    let client = reqwest::Client::new();
    let post =
        |route: &str, body: String| client.post(format!("{}/_mock/{route}", p.url())).bearer_auth(p.token()).body(body).send();

    // Act
    let asked = post("enrichments", json!({"entity_id": ENTITY, "connector_id": enricher}).to_string()).await.expect("answer");
    let unknown =
        post("enrichments", json!({"entity_id": "ipv4-addr--nope", "connector_id": enricher}).to_string()).await.expect("answer");
    let garbage = post("files", "{not json".into()).await.expect("answer");
    let both =
        post("files", json!({"name": "a.txt", "content": "x", "content_base64": "eA=="}).to_string()).await.expect("answer");
    let stored = post("files", json!({"name": "a.txt", "content_base64": "aGVsbG8="}).to_string()).await.expect("answer");
    let jobs: Value = client
        .get(format!("{}/_mock/jobs", p.url()))
        .bearer_auth(p.token())
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON");

    // Assert
    assert_eq!(asked.status(), 200);
    assert_eq!(unknown.status(), 404);
    assert_eq!(garbage.status(), 400);
    let garbage: Value = garbage.json().await.expect("JSON");
    assert_eq!(garbage["status"], "error");
    assert!(garbage["error"].as_str().unwrap_or_default().starts_with("invalid request body"), "{garbage}");
    assert_eq!(both.status(), 400);
    assert_eq!(stored.status(), 201);
    assert_eq!(p.file("import/global/a.txt").expect("stored").content.as_ref(), b"hello");
    assert_eq!(p.file("import/global/a.txt").expect("stored").mime_type, "text/plain");
    assert_eq!(jobs.as_array().map(Vec::len), Some(1), "{jobs}");
    assert_eq!(jobs[0]["kind"], "INTERNAL_ENRICHMENT");
}

/// The public key of the registration's `jwks`, and its `kid`.
fn jwk(registration: &Value) -> (VerifyingKey, String) {
    let jwks: Value = serde_json::from_str(registration["jwks"].as_str().expect("jwks is a JSON string")).expect("JSON");
    let key = &jwks["keys"][0];
    let x = URL_SAFE_NO_PAD.decode(key["x"].as_str().expect("x")).expect("base64url");
    let bytes: [u8; 32] = x.try_into().expect("32 bytes");
    (VerifyingKey::from_bytes(&bytes).expect("an Ed25519 key"), key["kid"].as_str().expect("kid").to_string())
}

#[tokio::test]
async fn the_worker_posts_the_raw_job_with_a_jwt_signed_by_the_registration_key() {
    // Arrange
    let p = platform(Profile::V7).await;
    let endpoint = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/callback")).respond_with(ResponseTemplate::new(202)).mount(&endpoint).await;
    let uri = format!("{}/api/callback", endpoint.uri());
    let (id, registration) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, Some(&uri)).await;

    // Act
    p.ask_enrichment(&id, ENTITY).expect("sent");
    let delivered = p.core().store.wait_until(Duration::from_secs(10), |s| s.jobs.all()[0].status == JobStatus::Delivered).await;

    // Assert
    assert!(delivered, "{:?}", p.jobs());
    let requests = endpoint.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    let r = &requests[0];
    assert_eq!(String::from_utf8_lossy(&r.body), p.jobs()[0].message, "the message exactly as built");
    assert_eq!(r.headers["user-agent"], "pycti/7.261026.0");
    assert_eq!(r.headers["content-type"], "application/json");
    let bearer = r.headers["authorization"].to_str().expect("ASCII").strip_prefix("Bearer ").expect("a bearer").to_string();
    let parts: Vec<&str> = bearer.split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).expect("b64")).expect("JSON");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("b64")).expect("JSON");
    let (key, kid) = jwk(&registration);
    assert_eq!(header, json!({"alg": "EdDSA", "typ": "JWT", "kid": kid}));
    assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("opencti"), Some("connector")));
    assert_eq!(claims["exp"].as_i64().expect("exp") - claims["iat"].as_i64().expect("iat"), 3600);
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).expect("b64")).expect("64 bytes");
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).expect("signed by the registration's key");
}

#[tokio::test]
async fn a_refused_callback_is_retried_until_acknowledged_one_job_at_a_time() {
    // Arrange: the endpoint answers 500 once, then 202 after 100 ms.
    let p = platform(Profile::V7).await;
    let endpoint = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .up_to_n_times(1)
        .mount(&endpoint)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_millis(100)))
        .mount(&endpoint)
        .await;
    let uri = format!("{}/api/callback", endpoint.uri());
    let (id, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, Some(&uri)).await;

    // Act: two jobs at once.
    let first = p.ask_enrichment(&id, ENTITY).expect("sent");
    p.ask_enrichment(&id, ENTITY).expect("sent");
    let delivered = p
        .core()
        .store
        .wait_until(Duration::from_secs(10), |s| s.jobs.all().iter().all(|j| j.status == JobStatus::Delivered))
        .await;

    // Assert
    assert!(delivered, "{:?}", p.jobs());
    let jobs = p.jobs();
    let statuses: Vec<_> = jobs[0].attempts.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [Some(500), Some(202)]);
    assert_eq!(jobs[0].attempts[0].detail, "boom");
    assert_eq!(jobs[1].attempts.len(), 1);
    let requests = endpoint.received_requests().await.expect("recorded");
    let work_of = |body: &[u8]| serde_json::from_slice::<Value>(body).expect("JSON")["internal"]["work_id"].clone();
    assert_eq!(requests.iter().map(|r| work_of(&r.body)).filter(|w| w == first.id.as_str()).count(), 2);
    assert_eq!(work_of(&requests[2].body), jobs[1].work_id.as_deref().expect("work"), "the second job only after the first");
    assert!(jobs[1].attempts[0].at >= jobs[0].delivered_at.expect("delivered"), "one callback at a time");
    let transcript = p.read(|s| format!("{:?}", s.transcript.entries()));
    assert!(transcript.contains("answered HTTP 500 (boom); retrying in"), "said in the transcript");
}

#[tokio::test]
async fn a_6_9_platform_sends_the_connector_users_token_and_a_slow_callback_times_out() {
    // Arrange
    let p = MockPlatform::builder()
        .profile(Profile::V6_9)
        .connector_user("[C] jobs", TOKEN)
        .callback_retry_delay(Duration::from_millis(20), Duration::from_millis(40))
        .callback_timeout(Duration::from_millis(200))
        .start()
        .await;
    p.seed(&seed()).expect("seeded");
    let endpoint = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(2)))
        .up_to_n_times(1)
        .mount(&endpoint)
        .await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).mount(&endpoint).await;
    let (id, _) =
        register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, Some(&format!("{}/cb", endpoint.uri()))).await;

    // Act
    p.ask_enrichment(&id, ENTITY).expect("sent");
    let delivered = p.core().store.wait_until(Duration::from_secs(10), |s| s.jobs.all()[0].status == JobStatus::Delivered).await;

    // Assert
    assert!(delivered, "{:?}", p.jobs());
    let job = &p.jobs()[0];
    assert_eq!(job.attempts[0].status, None);
    assert!(job.attempts[0].detail.contains("no answer within 200 ms"), "{:?}", job.attempts[0]);
    assert_eq!(job.attempts[1].status, Some(200), "200 acknowledges too");
    let requests = endpoint.received_requests().await.expect("recorded");
    assert_eq!(requests.last().expect("a request").headers["authorization"], format!("Bearer {TOKEN}").as_str());
}

#[tokio::test]
async fn callbacks_go_through_the_configured_http_proxy() {
    // Arrange: the "proxy" answers for a callback host that does not resolve.
    let proxy = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/callback")).respond_with(ResponseTemplate::new(202)).mount(&proxy).await;
    let mut settings = opencti_mock::config::Settings::default();
    settings.worker.listen_api_http_proxy = proxy.uri();
    settings.worker.listen_api_retry_min_ms = 20;
    settings.worker.listen_api_retry_max_ms = 40;
    settings.mock.broker = opencti_mock::config::BrokerMode::Off;
    let p = MockPlatform::builder().settings(settings).connector_user("[C] jobs", TOKEN).start().await;
    p.seed(&seed()).expect("seeded");
    let (id, _) =
        register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, Some("http://connector.invalid:7070/api/callback"))
            .await;

    // Act
    p.ask_enrichment(&id, ENTITY).expect("sent");
    let delivered = p.core().store.wait_until(Duration::from_secs(10), |s| s.jobs.all()[0].status == JobStatus::Delivered).await;

    // Assert
    assert!(delivered, "{:?}", p.jobs());
    let requests = proxy.received_requests().await.expect("recorded");
    assert_eq!(requests[0].headers["host"], "connector.invalid:7070", "the proxy was asked for the connector's host");
}

const ADD_IPV4: &str =
    "mutation O($v: IPv4AddrAddInput) { stixCyberObservableAdd(type: \"IPv4-Addr\", IPv4Addr: $v) { id standard_id } }";
const ADD_DOMAIN: &str =
    "mutation O($v: DomainNameAddInput) { stixCyberObservableAdd(type: \"Domain-Name\", DomainName: $v) { id } }";

fn one_ipv4(value: &str) -> String {
    json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": format!("ipv4-addr--{}", uuid::Uuid::new_v4()), "value": value}]})
    .to_string()
}

#[tokio::test]
async fn a_new_entity_is_enriched_by_auto_connectors_in_scope_but_not_by_the_one_that_created_it() {
    // Arrange: an auto enrichment connector for IPv4 addresses, and an import connector.
    let p = platform(Profile::V7).await;
    let endpoint = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(202)).mount(&endpoint).await;
    let uri = format!("{}/api/callback", endpoint.uri());
    let (enricher, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], true, false, Some(&uri)).await;
    let importer = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, common::registration(&importer, "Importer")).await;

    // Act 1: created through the entity API, in scope and out of scope.
    let (_, added) = gql(p.url(), Some(TOKEN), ADD_IPV4, json!({"v": {"value": "192.0.2.10"}})).await;
    gql(p.url(), Some(TOKEN), ADD_DOMAIN, json!({"v": {"value": "auto.example.com"}})).await;
    let one = p.core().store.wait_until(Duration::from_secs(5), |s| s.jobs.all().len() == 1).await;

    // Assert 1
    assert!(one, "one job: {:?}", p.jobs());
    let standard = added["data"]["stixCyberObservableAdd"]["standard_id"].as_str().expect("standard id").to_string();
    let job = &p.jobs()[0];
    let message: Value = serde_json::from_str(&job.message).expect("JSON");
    assert_eq!((message["internal"]["mode"].as_str(), message["internal"]["trigger"].as_str()), (Some("auto"), Some("create")));
    assert_eq!(message["event"]["entity_id"], standard.as_str());
    let work = p.work(job.work_id.as_deref().expect("work")).expect("work");
    assert_eq!(work.name, Some(format!("Enrichment ({standard})")));

    // Act 2: pushed by the enrichment connector itself, then by another connector.
    for (connector, value) in [(&enricher, "192.0.2.11"), (&importer, "192.0.2.12")] {
        let (_, pushed) =
            gql(p.url(), Some(TOKEN), common::BUNDLE_PUSH, json!({"connectorId": connector, "bundle": one_ipv4(value)})).await;
        assert!(pushed["errors"].is_null(), "{pushed}");
    }
    let two = p.core().store.wait_until(Duration::from_secs(5), |s| s.jobs.all().len() == 2).await;

    // Assert 2
    assert!(two, "{:?}", p.jobs());
    // Every pushed object ingested and looked at by the automatic-enrichment pass: no
    // job can still come.
    let settled = p
        .core()
        .store
        .wait_until(Duration::from_secs(5), |s| {
            s.queues.total_pending() == 0 && s.queues.in_flight() == 0 && s.jobs.awaiting_enrichment() == 0
        })
        .await;
    assert!(settled, "{}", p.activity().await);
    assert_eq!(p.jobs().len(), 2, "the enrichment's own creation triggered nothing");
    let second: Value = serde_json::from_str(&p.jobs()[1].message).expect("JSON");
    let imported = p.objects().into_iter().find(|o| o.json()["value"] == "192.0.2.12").expect("stored").standard_id;
    assert_eq!(second["event"]["entity_id"], imported.as_str(), "the other connector's creation is enriched");
}

#[tokio::test]
async fn an_entity_file_is_stored_under_the_entity_and_imported_by_contextual_connectors() {
    // Arrange
    let p = platform(Profile::V7).await;
    let (contextual, _) = register(&p, "INTERNAL_IMPORT_FILE", &["text/plain"], true, true, None).await;
    let entity = p.object(ENTITY).expect("seeded");
    let push = "mutation P($id: ID!, $file: Upload!, $fileMarkings: [String], $noTriggerImport: Boolean) { stixCyberObservableEdit(id: $id) { importPush(file: $file, fileMarkings: $fileMarkings, noTriggerImport: $noTriggerImport) { id name } } }";

    // Act
    let body = multipart(
        &p,
        push,
        json!({"id": ENTITY, "file": null, "fileMarkings": [], "noTriggerImport": false}),
        "notes.txt",
        "text/plain",
        "seen at",
    )
    .await;

    // Assert
    let id = format!("import/IPv4-Addr/{}/notes.txt", entity.internal_id);
    assert_eq!(body["data"]["stixCyberObservableEdit"]["importPush"]["id"], id.as_str(), "{body}");
    assert_eq!(p.file(&id).expect("stored").content.as_ref(), b"seen at");
    let jobs = p.jobs();
    assert_eq!(jobs.len(), 1, "the contextual connector gets the entity's file");
    assert_eq!(jobs[0].connector_id, contextual);
    let message: Value = serde_json::from_str(&jobs[0].message).expect("JSON");
    assert_eq!(message["event"]["entity_id"], entity.internal_id.to_string().as_str());
    assert_eq!(message["event"]["file_fetch"], format!("/storage/get/{id}").as_str());
}

/// A GraphQL request with `opencti-draft-id`.
async fn in_draft_request(p: &MockPlatform, draft: &str, body: &Value) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .header("opencti-draft-id", draft)
        .json(body)
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("JSON")
}

#[tokio::test]
async fn a_push_with_the_draft_header_stays_in_the_draft_and_reads_in_it_see_it() {
    // Arrange
    let p = platform(Profile::V7).await;
    let connector = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, common::registration(&connector, "Importer")).await;
    let add = "mutation draftWorkspaceAdd($input: DraftWorkspaceAddInput!) { draftWorkspaceAdd(input: $input) { id } }";
    let (_, draft) = gql(p.url(), Some(TOKEN), add, json!({"input": {"name": "review", "entity_id": null}})).await;
    let draft = draft["data"]["draftWorkspaceAdd"]["id"].as_str().expect("a draft id").to_string();
    let body = json!({"query": common::BUNDLE_PUSH, "variables": {"connectorId": connector, "bundle": one_ipv4("192.0.2.99")}});

    // Act
    let pushed = in_draft_request(&p, &draft, &body).await;
    let stored =
        p.core().store.wait_until(Duration::from_secs(5), |s| s.drafts.get(&draft).is_some_and(|d| !d.touched.is_empty())).await;

    // Assert
    assert!(pushed["errors"].is_null(), "{pushed}");
    assert!(stored, "written into the draft: {:?}", p.drafts());
    assert!(p.objects().iter().all(|o| o.json()["value"] != "192.0.2.99"), "not in the main knowledge");
    let drafts = p.drafts();
    let in_draft = p.draft_object(&draft, drafts[0].touched.iter().next().expect("one")).expect("readable in the draft");
    assert_eq!(in_draft.json()["value"], "192.0.2.99");
    // Reads with the header see the draft; reads without it do not.
    let read = "query Q($id: String!) { stixCyberObservable(id: $id) { observable_value } }";
    let body = json!({"query": read, "variables": {"id": in_draft.standard_id}});
    let with_header = in_draft_request(&p, &draft, &body).await;
    let (_, without) = gql(p.url(), Some(TOKEN), read, body["variables"].clone()).await;
    assert_eq!(with_header["data"]["stixCyberObservable"]["observable_value"], "192.0.2.99", "{with_header}");
    assert!(without["data"]["stixCyberObservable"].is_null(), "{without}");
}

#[tokio::test]
async fn a_reset_forgets_jobs_files_drafts_and_works_and_numbers_new_jobs_after_the_old_ones() {
    // Arrange: one of each thing a reset must forget.
    let p = platform(Profile::V7).await;
    let (enricher, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, None).await;
    let (_, asked) = gql(p.url(), Some(TOKEN), ASK, json!({"id": ENTITY, "c": enricher})).await;
    assert!(asked["errors"].is_null(), "{asked}");
    p.upload_file("report.json", "application/json", seed());
    let admin = p.core().store.read(|s| s.users.admin().id.clone());
    opencti_mock::jobs::add_draft(&p.core().jobs, "a draft", None, &admin);
    let first_job = p.jobs()[0].seq;
    assert!(!p.files().is_empty() && !p.drafts().is_empty() && !p.works().is_empty());

    // Act
    let reset =
        reqwest::Client::new().post(format!("{}/_mock/reset", p.url())).bearer_auth(p.token()).send().await.expect("answer");

    // Assert
    assert_eq!(reset.status(), 204);
    assert!(p.jobs().is_empty(), "jobs survive: {:?}", p.jobs());
    assert!(p.files().is_empty(), "files survive: {:?}", p.files());
    assert!(p.drafts().is_empty(), "drafts survive");
    assert!(p.works().is_empty(), "works survive");
    assert!(p.object(ENTITY).is_none(), "knowledge survives");
    // Users and tokens are kept: the connector user registers again, and its next job
    // takes a number no earlier job had (a delivery task may still hold an old one).
    p.seed(&seed()).expect("seeded");
    let (again, _) = register(&p, "INTERNAL_ENRICHMENT", &["IPv4-Addr"], false, false, None).await;
    let (_, asked) = gql(p.url(), Some(TOKEN), ASK, json!({"id": ENTITY, "c": again})).await;
    assert!(asked["errors"].is_null(), "{asked}");
    assert!(p.jobs()[0].seq > first_job, "job {} after job {first_job}", p.jobs()[0].seq);
}

const EXPORT_ASK: &str = "mutation Ask($input: StixCoreObjectsExportAskInput!) { stixCoreObjectsExportAsk(input: $input) { id name size uploadStatus } }";
const EXPORT_FILES: &str = "query Files($c: ExportContext!) { stixCoreObjectsExportFiles(first: 10, exportContext: $c) { edges { node { id name uploadStatus metaData { errors { message } } } } } }";

#[tokio::test]
async fn an_export_ask_reaches_every_active_export_connector_of_its_format_and_lists_its_progress() {
    // Arrange: a STIX exporter, a CSV exporter and one with no scope (every format)
    let p = platform(Profile::V7).await;
    let (stix, _) = register(&p, "INTERNAL_EXPORT_FILE", &["application/vnd.oasis.stix+json"], false, false, None).await;
    let (csv, _) = register(&p, "INTERNAL_EXPORT_FILE", &["text/csv"], false, false, None).await;
    let (any, _) = register(&p, "INTERNAL_EXPORT_FILE", &[], false, false, None).await;
    let input = json!({"format": "application/vnd.oasis.stix+json", "exportType": "simple", "contentMaxMarkings": [],
        "fileMarkings": [], "exportContext": {"entity_type": "IPv4-Addr"}, "search": "198",
        "filters": {"mode": "and", "filters": [{"key": "objectMarking", "values": []}], "filterGroups": []}});

    // Act
    let (_, asked) = gql(p.url(), Some(TOKEN), EXPORT_ASK, json!({"input": input})).await;

    // Assert: one work (a virtual file) per connector in scope, named by the platform
    let files = asked["data"]["stixCoreObjectsExportAsk"].as_array().cloned().unwrap_or_else(|| panic!("{asked}"));
    assert_eq!(files.len(), 2, "{asked}");
    let works = p.works();
    let owners: Vec<&str> = files
        .iter()
        .map(|f| works.iter().find(|w| w.id == f["id"]).map(|w| w.connector_id.as_str()).expect("a work per file"))
        .collect();
    assert!(owners.contains(&stix.as_str()) && owners.contains(&any.as_str()) && !owners.contains(&csv.as_str()), "{owners:?}");
    for f in &files {
        assert_eq!((f["size"].as_i64(), f["uploadStatus"].as_str()), (Some(0), Some("wait")));
        let name = f["name"].as_str().unwrap_or_default();
        assert!(name.contains("_TLP:ALL_(INTERNAL_EXPORT_FILE connector)_IPv4-Addr_simple.json"), "{name}");
    }
    let work = works.iter().find(|w| w.id == files[0]["id"]).expect("the work");
    assert_eq!((work.event_type.as_str(), work.event_source_id.as_deref()), ("INTERNAL_EXPORT_FILE", Some("export/IPv4-Addr")));
    // the job: a query, asked by the caller, its filters converted as the platform does
    let job = p.jobs().into_iter().find(|j| j.work_id.as_deref() == Some(work.id.as_str())).expect("the job");
    let message: Value = serde_json::from_str(&job.message).expect("JSON");
    let caller = p.read(|s| s.users.by_token(TOKEN).map(|u| u.id.clone())).expect("the caller");
    assert_eq!(message["internal"], json!({"work_id": work.id, "applicant_id": caller}));
    assert_eq!(message["event"]["export_scope"], "query");
    assert!(message["event"].get("event_type").is_none(), "a query export has no event_type");
    assert_eq!(message["event"]["list_params"]["filters"]["filters"][0]["key"], json!(["rel_object-marking.*"]));

    // the listing shows the exports in progress; one finished without error drops out, one in error stays
    let (_, listed) = gql(p.url(), Some(TOKEN), EXPORT_FILES, json!({"c": {"entity_type": "IPv4-Addr"}})).await;
    assert_eq!(listed["data"]["stixCoreObjectsExportFiles"]["edges"].as_array().map(Vec::len), Some(2), "{listed}");
    let close = "mutation Close($id: ID!, $e: Boolean) { workEdit(id: $id) { toProcessed(message: \"done\", inError: $e) } }";
    gql(p.url(), Some(TOKEN), close, json!({"id": files[0]["id"], "e": false})).await;
    gql(p.url(), Some(TOKEN), close, json!({"id": files[1]["id"], "e": true})).await;
    let (_, listed) = gql(p.url(), Some(TOKEN), EXPORT_FILES, json!({"c": {"entity_type": "IPv4-Addr"}})).await;
    let edges = listed["data"]["stixCoreObjectsExportFiles"]["edges"].as_array().cloned().unwrap_or_default();
    assert_eq!(edges.len(), 1, "{listed}");
    assert_eq!(edges[0]["node"]["id"], files[1]["id"]);
    assert_eq!(edges[0]["node"]["uploadStatus"], "complete");
    assert_eq!(edges[0]["node"]["metaData"]["errors"][0]["message"], "done");

    // a stored export file is deleted by id (pycti's internal_file.delete); an unknown one is an error
    let stored = p.upload(opencti_mock::jobs::Upload::new("x.csv", "text/csv", "a")).expect("stored").0;
    let delete = "mutation D($f: String) { deleteImport(fileName: $f) }";
    let (_, deleted) = gql(p.url(), Some(TOKEN), delete, json!({"f": stored.id})).await;
    let (_, again) = gql(p.url(), Some(TOKEN), delete, json!({"f": stored.id})).await;
    assert_eq!(deleted["data"]["deleteImport"], stored.id.as_str(), "{deleted}");
    assert!(p.file(&stored.id).is_none());
    assert_eq!(common::error_code(&again).as_deref(), Some("FUNCTIONAL_ERROR"), "{again}");
}

#[tokio::test]
async fn an_export_ask_is_refused_as_the_platform_refuses_it() {
    // Arrange
    let p = platform(Profile::V7).await;
    register(&p, "INTERNAL_EXPORT_FILE", &["text/csv"], false, false, None).await;
    let analyst = p.add_user("analyst", &["KNOWLEDGE", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"]);
    p.limit_to_markings(&analyst, &["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]);
    let red = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
    let client = reqwest::Client::new();
    let post = |body: Value| client.post(format!("{}/_mock/exports", p.url())).bearer_auth(p.token()).json(&body).send();
    let single =
        "mutation Ask($id: ID!, $input: ExportAskInput!) { stixCoreObjectEdit(id: $id) { exportAsk(input: $input) { id } } }";
    let input = json!({"format": "text/csv", "exportType": "simple", "contentMaxMarkings": [red], "fileMarkings": []});

    // Act
    let (_, above) = gql(p.url(), Some(&analyst), single, json!({"id": ENTITY, "input": input})).await;
    let (_, untyped) =
        gql(p.url(), Some(TOKEN), EXPORT_ASK, json!({"input": {"format": "text/csv", "exportType": "simple"}})).await;
    let add = "mutation Add($input: DraftWorkspaceAddInput!) { draftWorkspaceAdd(input: $input) { id } }";
    let (_, draft) = gql(p.url(), Some(TOKEN), add, json!({"input": {"name": "exports"}})).await;
    let draft = draft["data"]["draftWorkspaceAdd"]["id"].as_str().unwrap_or_else(|| panic!("a draft: {draft}")).to_string();
    let in_draft = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .header("opencti-draft-id", &draft)
        .json(&json!({"query": single, "variables": {"id": ENTITY, "input": {"format": "text/csv", "exportType": "simple"}}}))
        .send()
        .await
        .expect("answer")
        .json::<Value>()
        .await
        .expect("JSON");
    let asked = post(json!({"format": "text/csv", "entity_id": ENTITY, "export_type": "full"})).await.expect("answer");
    let neither = post(json!({"format": "text/csv"})).await.expect("answer");
    let odd_type = post(json!({"format": "text/csv", "entity_id": ENTITY, "export_type": "partial"})).await.expect("answer");

    // Assert
    assert_eq!(common::error_code(&above).as_deref(), Some("FORBIDDEN_ACCESS"), "{above}");
    assert_eq!(above["errors"][0]["message"], "You are not allowed to share these markings");
    assert_eq!(untyped["errors"][0]["message"], "entity_type is missing from askListExport", "{untyped}");
    assert_eq!(in_draft["errors"][0]["message"], "Cannot ask for export in draft", "{in_draft}");
    assert_eq!(asked.status(), 200);
    let works: Value = asked.json().await.expect("JSON");
    assert!(works[0]["name"].as_str().is_some_and(|n| n.ends_with("_IPv4-Addr-198.51.100.7_full.csv")), "{works}");
    assert_eq!(neither.status(), 400);
    assert_eq!(odd_type.status(), 400);
}
