//! Jobs with the official Python client, unchanged: INTERNAL_ENRICHMENT and
//! INTERNAL_IMPORT_FILE connectors (`fixtures/connectors/enrichment`, `…/import_file`)
//! in both listen modes — HTTP (`CONNECTOR_LISTEN_PROTOCOL=API`: the platform's worker
//! POSTs each job with a signed JWT that pycti verifies) and RabbitMQ (`listen_<id>`) —
//! the workbench and draft paths, a callback that is down then up, and the JWTs pycti
//! refuses.

mod common;

use common::connector::{launch, listen_env, processed, start_connector, wait_for};

use std::time::Duration;

use opencti_mock::config::CallbackAuth;
use opencti_mock::jobs::{ImportOptions, Upload};
use opencti_mock::store::jobs::{JobStatus, Transport};
use opencti_mock::store::transcript::EntryKind;
use opencti_mock::store::works::WorkStatus;
use opencti_mock::{MockPlatform, Profile};
use rstest::rstest;

async fn platform(listen: &str) -> MockPlatform {
    let builder = MockPlatform::builder().callback_retry_delay(Duration::from_millis(100), Duration::from_millis(200));
    let builder = common::connector::with_case_broker(builder, listen);
    builder.start().await
}

const IPV4_GREEN: &str = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4b0b-9b1e-0a1d1d6b4c11","objects":[
 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10","value":"198.51.100.7",
  "object_marking_refs":["marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da"]}]}"#;

fn feed_bundle() -> String {
    serde_json::json!({"type": "bundle", "id": "bundle--8a0e3c1e-6a8e-4c8a-9a53-4d5c0f3b2a10", "objects": [
        {"type": "identity", "spec_version": "2.1", "id": "identity--1c3f1b5e-2b7e-5f0a-8a53-0e7c7d1f9b20",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "name": "File Import Author", "identity_class": "organization"},
        {"type": "malware", "spec_version": "2.1", "id": "malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b",
         "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
         "name": "FileBot", "is_family": true, "created_by_ref": "identity--1c3f1b5e-2b7e-5f0a-8a53-0e7c7d1f9b20"}
    ]})
    .to_string()
}

#[rstest]
#[case::http("api")]
#[case::amqp("amqp")]
#[case::amqp_embedded("amqp-embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycti_enrichment_gets_its_job_and_sends_the_enriched_entity_back(#[case] listen: &str) {
    // Arrange
    let platform = platform(listen).await;
    let listen = common::connector::wire(listen);
    platform.seed(IPV4_GREEN).expect("seeded");
    let env = listen_env(listen, "IPv4-Addr,Domain-Name");
    let (connector, id, _) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;

    // Act
    let work = platform.ask_enrichment(&id, "198.51.100.7").expect_err("an address is not an id");
    assert!(matches!(work, opencti_mock::jobs::JobError::UnknownEntity(_)));
    let work = platform.ask_enrichment(&id, "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("job sent");
    let done = processed(&platform, &connector, &work.id).await;

    // Assert
    assert_eq!(work.name.as_deref(), Some("Manual enrichment"));
    assert_eq!(work.status, WorkStatus::Wait, "a job's work waits for the connector");
    assert!(done.errors.is_empty(), "nothing refused: {:?}", done.errors);
    assert_eq!(done.messages.last().map(|m| m.message.as_str()), Some("4 objects sent"), "{:?}", done.messages);
    let job = &platform.jobs()[0];
    assert_eq!(job.status, JobStatus::Delivered);
    if listen == "api" {
        assert_eq!(job.transport, Transport::Http);
        // Attempts before pycti's HTTP server is up find no listener; the first answer is 202.
        let answered: Vec<_> = job.attempts.iter().filter_map(|a| a.status).collect();
        assert_eq!(answered, [202], "pycti accepted the JWT at once: {:?}", job.attempts);
    } else {
        assert_eq!(job.transport, Transport::Amqp);
    }
    let entity = platform.object("ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("the entity");
    assert_eq!(entity.json()["x_opencti_description"], "Enriched by Jobs INTERNAL_ENRICHMENT", "{}", entity.json());
    let objects = platform.objects();
    assert!(objects.iter().any(|o| &*o.entity_type == "Autonomous-System" && o.json()["number"] == 64519), "AS added");
    assert!(objects.iter().any(|o| &*o.entity_type == "related-to"), "relationship added");
}

#[rstest]
#[case::http("api")]
#[case::amqp("amqp")]
#[case::amqp_embedded("amqp-embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycti_file_import_fetches_the_uploaded_file_and_imports_it(#[case] listen: &str) {
    // Arrange
    let platform = platform(listen).await;
    let listen = common::connector::wire(listen);
    let mut env = listen_env(listen, "application/json,text/plain");
    env.push(("CONNECTOR_AUTO".into(), "true".into()));
    let (connector, _, _) = launch(&platform, "import_file/correct.py", "INTERNAL_IMPORT_FILE", &env).await;

    // Act: an upload starts the automatic import.
    let (file, works) = platform.upload_file("feed.json", "application/json", feed_bundle());
    assert_eq!(file.id, "import/global/feed.json");
    assert_eq!(works.len(), 1, "the auto import connector in scope gets a job");
    let done = processed(&platform, &connector, &works[0].id).await;

    // Assert
    assert_eq!(done.name.as_deref(), Some("Manual import of feed.json"));
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    assert_eq!(done.messages.last().map(|m| m.message.as_str()), Some("2 objects sent"));
    assert!(platform.object("malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b").is_some(), "the file's objects are stored");
    let fetched = platform.read(|s| {
        s.transcript.entries().iter().any(|e| {
            matches!(&e.kind, EntryKind::Download { file_id, user_name: Some(u), http_status: 200, .. }
                if file_id == "import/global/feed.json" && u == "[C] import")
        })
    });
    assert!(fetched, "the connector fetched the file with its own token");
}

#[rstest]
#[case::http("api")]
#[case::amqp("amqp")]
#[case::amqp_embedded("amqp-embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycti_file_import_with_validation_uses_the_workbench_then_the_draft(#[case] listen: &str) {
    // Arrange: over RabbitMQ, pycti's messages carry the draft id; over HTTP, the work does.
    let platform = platform(listen).await;
    let listen = common::connector::wire(listen);
    let env = listen_env(listen, "application/json");
    let (connector, id, _) = launch(&platform, "import_file/correct.py", "INTERNAL_IMPORT_FILE", &env).await;
    let upload = Upload {
        filename: "feed.json".into(),
        mime_type: "application/json".into(),
        content: feed_bundle().into(),
        markings: vec![],
        entity_id: None,
        pending: false,
        no_trigger_import: true,
    };
    let (file, auto) = platform.upload(upload).expect("stored");
    assert!(auto.is_empty(), "noTriggerImport");

    // Act 1: workbench.
    let workbench = ImportOptions { validation_mode: Some("workbench".into()), force_validation: true, ..Default::default() };
    let works = platform.ask_import(&file.id, Some(&id), &workbench).expect("job sent");
    let done = processed(&platform, &connector, &works[0].id).await;

    // Assert 1: a workbench file, nothing imported.
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let pending = platform.file("import/pending/feed.json").expect("the workbench is stored under import/pending/");
    assert_eq!(pending.mime_type, "application/json");
    assert!(platform.object("malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b").is_none(), "nothing imported before validation");

    // Act 2: draft.
    let draft = ImportOptions { validation_mode: Some("draft".into()), force_validation: true, ..Default::default() };
    let works = platform.ask_import(&file.id, Some(&id), &draft).expect("job sent");
    let done = processed(&platform, &connector, &works[0].id).await;

    // Assert 2: the objects are in a draft, not in the main knowledge.
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    let drafts = platform.drafts();
    assert_eq!(drafts.len(), 1, "pycti created a draft");
    assert_eq!(drafts[0].name, "import/global/feed.json");
    assert_eq!(done.draft_context.as_deref(), Some(drafts[0].id.as_str()), "the work is linked to the draft");
    let in_draft = platform.draft_object(&drafts[0].id, "malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b").expect("in the draft");
    assert!(drafts[0].touched.contains(&in_draft.standard_id), "listed as written into the draft: {:?}", drafts[0].touched);
    assert!(platform.object("malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b").is_none(), "the main knowledge is untouched");
}

#[rstest]
#[case::http("api")]
#[case::amqp("amqp")]
#[case::amqp_embedded("amqp-embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validating_a_workbench_imports_it_through_ask_job_import_with_bypass_validation(#[case] listen: &str) {
    // Arrange: the file is imported into a workbench first, as with validate-before-import.
    let platform = platform(listen).await;
    let listen = common::connector::wire(listen);
    let env = listen_env(listen, "application/json");
    let (connector, id, _) = launch(&platform, "import_file/correct.py", "INTERNAL_IMPORT_FILE", &env).await;
    let upload = Upload {
        filename: "feed.json".into(),
        mime_type: "application/json".into(),
        content: feed_bundle().into(),
        markings: vec![],
        entity_id: None,
        pending: false,
        no_trigger_import: true,
    };
    let (file, _) = platform.upload(upload).expect("stored");
    let workbench = ImportOptions { validation_mode: Some("workbench".into()), force_validation: true, ..Default::default() };
    let works = platform.ask_import(&file.id, Some(&id), &workbench).expect("job sent");
    processed(&platform, &connector, &works[0].id).await;
    let pending = platform.file("import/pending/feed.json").expect("the workbench");

    // Act: the UI's "validate": askJobImport on the workbench file with bypassValidation.
    let (_, answer) = common::gql(
        platform.url(),
        Some(platform.token()),
        "mutation Validate($file: ID!, $connector: String) { askJobImport(fileName: $file, connectorId: $connector, bypassValidation: true) { id } }",
        serde_json::json!({"file": pending.id, "connector": id}),
    )
    .await;
    assert_eq!(answer["data"]["askJobImport"]["id"], pending.id.as_str(), "{answer}");
    let job = platform.jobs().into_iter().last().expect("a job for the workbench");
    let done = processed(&platform, &connector, job.work_id.as_deref().expect("a work")).await;

    // Assert: the job said so, and pycti imported the objects directly.
    let message: serde_json::Value = serde_json::from_str(&job.message).expect("JSON");
    assert_eq!(message["event"]["bypass_validation"], true, "{message}");
    assert!(done.errors.is_empty(), "{:?}", done.errors);
    platform
        .wait_until("the objects imported", Duration::from_secs(30), |s| {
            s.knowledge.get("malware--6b8f4a2e-0c1d-5e3f-9a7b-2c4d6e8f0a1b").is_some()
        })
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", connector.output()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_callback_that_is_down_then_up_gets_the_job_once() {
    // Arrange: the connector registers, then goes away.
    let platform = platform("api").await;
    platform.seed(IPV4_GREEN).expect("seeded");
    let env = listen_env("api", "IPv4-Addr");
    let (mut connector, id, token) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;
    connector.kill();

    // Act: a job while the callback is down.
    let work = platform.ask_enrichment(&id, "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("job sent");
    wait_for("failed attempts", Duration::from_secs(30), &connector, || platform.jobs()[0].attempts.len() >= 2).await;

    // Assert: retried, said in the connector's status, nothing lost.
    let job = &platform.jobs()[0];
    assert!(job.attempts.iter().all(|a| a.status.is_none()), "connection errors: {:?}", job.attempts);
    assert_ne!(job.status, JobStatus::Delivered);
    let status = platform.connector(&id).expect("registered").listen_callback_error.expect("the status says why");
    assert!(status.contains("cannot be reached"), "{status}");

    // Act: the connector comes back on the same port.
    let connector = start_connector("enrichment/correct.py", &platform, &token, &id, "INTERNAL_ENRICHMENT", &env);
    let done = processed(&platform, &connector, &work.id).await;

    // Assert: delivered once, processed once.
    let job = &platform.jobs()[0];
    assert_eq!(job.status, JobStatus::Delivered);
    assert_eq!(job.attempts.iter().filter(|a| a.status == Some(202)).count(), 1);
    assert!(platform.connector(&id).expect("registered").listen_callback_error.is_none(), "cleared once acknowledged");
    let received = platform
        .received_operations()
        .iter()
        .filter(|op| op.edits.iter().any(|e| e == "workEdit.toReceived") && op.variables["id"] == work.id.as_str())
        .count();
    assert_eq!(received, 1, "the job was processed once");
    assert_eq!(done.messages.last().map(|m| m.message.as_str()), Some("4 objects sent"));
}

#[rstest]
#[case::a_jwt_signed_by_another_key(Profile::V7, CallbackAuth::ForeignKey)]
#[case::the_user_token_a_6_9_platform_sends(Profile::V6_9, CallbackAuth::Profile)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycti_refuses_a_job_without_a_valid_platform_jwt(#[case] profile: Profile, #[case] auth: CallbackAuth) {
    // Arrange
    let platform = MockPlatform::builder()
        .profile(profile)
        .callback_auth(auth)
        .callback_retry_delay(Duration::from_millis(100), Duration::from_millis(200))
        .start()
        .await;
    platform.seed(IPV4_GREEN).expect("seeded");
    let env = listen_env("api", "IPv4-Addr");
    let (mut connector, id, _) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;

    // Act
    let work = platform.ask_enrichment(&id, "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("job sent");
    wait_for("refused attempts", Duration::from_secs(60), &connector, || {
        platform.jobs()[0].attempts.iter().filter(|a| a.status.is_some()).count() >= 2
    })
    .await;

    // Assert: 401 every time pycti answers (before its listener is up, nothing answers),
    // retried, the work never received.
    let job = &platform.jobs()[0];
    let answered: Vec<_> = job.attempts.iter().filter(|a| a.status.is_some()).collect();
    assert!(answered.iter().all(|a| a.status == Some(401)), "{:?}", job.attempts);
    assert!(answered[0].detail.contains("Invalid credentials"), "{:?}", answered[0]);
    assert_eq!(platform.work(&work.id).expect("work").status, WorkStatus::Wait);
    let status = platform.connector(&id).expect("registered").listen_callback_error.expect("said");
    assert!(status.contains("HTTP 401"), "{status}");
    assert!(connector.is_running(), "pycti keeps running");
}

#[rstest]
#[case::without_certificate_verification(false)]
#[case::with_certificate_verification(true)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_callbacks_reach_a_connector_with_a_self_signed_certificate_unless_verified(#[case] verify: bool) {
    // Arrange: pycti serves its listener over TLS with a self-signed certificate.
    let platform = MockPlatform::builder()
        .callback_ssl_verify(verify)
        .callback_retry_delay(Duration::from_millis(100), Duration::from_millis(200))
        .start()
        .await;
    platform.seed(IPV4_GREEN).expect("seeded");
    let certified =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("a certificate");
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).expect("written");
    std::fs::write(&key, certified.key_pair.serialize_pem()).expect("written");
    let mut env = listen_env("api", "IPv4-Addr");
    let port = env.iter().find(|(k, _)| k == "CONNECTOR_LISTEN_PROTOCOL_API_PORT").map(|(_, v)| v.clone()).expect("a port");
    env.retain(|(k, _)| k != "CONNECTOR_LISTEN_PROTOCOL_API_URI");
    env.push(("CONNECTOR_LISTEN_PROTOCOL_API_URI".into(), format!("https://127.0.0.1:{port}")));
    env.push(("CONNECTOR_LISTEN_PROTOCOL_API_SSL".into(), "true".into()));
    env.push(("LISTEN_PROTOCOL_API_SSL_CERT".into(), cert.display().to_string()));
    env.push(("LISTEN_PROTOCOL_API_SSL_KEY".into(), key.display().to_string()));
    let (connector, id, _) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;
    assert_eq!(
        platform.connector(&id).and_then(|c| c.registration.listen_callback_uri),
        Some(format!("https://127.0.0.1:{port}/api/callback"))
    );

    // Act
    let work = platform.ask_enrichment(&id, "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("job sent");

    // Assert
    if !verify {
        let done = processed(&platform, &connector, &work.id).await;
        assert_eq!(done.messages.last().map(|m| m.message.as_str()), Some("4 objects sent"));
        assert_eq!(platform.jobs()[0].attempts.last().and_then(|a| a.status), Some(202));
    } else {
        wait_for("refused TLS handshakes", Duration::from_secs(60), &connector, || {
            platform.jobs()[0].attempts.iter().filter(|a| a.detail.contains("certificate")).count() >= 2
        })
        .await;
        let job = &platform.jobs()[0];
        assert!(job.attempts.iter().all(|a| a.status.is_none()), "no answer over an unverified TLS session: {:?}", job.attempts);
        assert_ne!(job.status, JobStatus::Delivered);
        let status = platform.connector(&id).expect("registered").listen_callback_error.expect("said");
        assert!(status.contains("certificate"), "{status}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_update_enrichment_runs_once_per_update_of_an_entity_in_its_scope() {
    // Arrange: an enrichment connector that asks for updates only (not creations)
    let platform = platform("api").await;
    platform.seed(IPV4_GREEN).expect("seeded");
    let mut env = listen_env("api", "IPv4-Addr");
    env.push(("CONNECTOR_AUTO_UPDATE".into(), "true".into()));
    let (connector, id, _) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;
    assert_eq!(platform.connector(&id).and_then(|c| c.registration.auto_update), Some(true));
    let patch =
        "mutation E($id: ID!, $input: [EditInput]!) { stixCyberObservableEdit(id: $id) { fieldPatch(input: $input) { id } } }";
    let edit = |score: &str| {
        let input = serde_json::json!([{"key": "x_opencti_score", "value": [score]}]);
        common::gql(
            platform.url(),
            Some(platform.token()),
            patch,
            serde_json::json!({"id": "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10", "input": input}),
        )
    };
    let jobs_of = |platform: &MockPlatform| platform.jobs().into_iter().filter(|j| j.connector_id == id).collect::<Vec<_>>();

    // Act 1: an update of an entity in scope
    let (_, answer) = edit("40").await;
    assert!(answer["errors"].is_null(), "{answer}");
    wait_for("the update's job", Duration::from_secs(30), &connector, || !jobs_of(&platform).is_empty()).await;
    let first = jobs_of(&platform)[0].clone();
    let done = processed(&platform, &connector, first.work_id.as_deref().expect("a work")).await;

    // Assert 1: trigger update, automatic; the connector's own push back does not re-trigger it
    let message: serde_json::Value = serde_json::from_str(&first.message).expect("JSON");
    assert_eq!((message["internal"]["trigger"].as_str(), message["internal"]["mode"].as_str()), (Some("update"), Some("auto")));
    assert!(done.name.as_deref().is_some_and(|n| n.starts_with("Enrichment (ipv4-addr--")), "{:?}", done.name);
    assert!(done.errors.is_empty(), "{:?}", done.errors);

    // Act 2: a second update, then an edit that changes nothing
    edit("60").await;
    wait_for("the second update's job", Duration::from_secs(30), &connector, || jobs_of(&platform).len() >= 2).await;
    let second = jobs_of(&platform)[1].clone();
    processed(&platform, &connector, second.work_id.as_deref().expect("a work")).await;
    edit("60").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;

    // Assert 2: one job per update that changed something, none for creations (auto is off)
    assert_eq!(jobs_of(&platform).len(), 2, "{:#?}", jobs_of(&platform).iter().map(|j| &j.message).collect::<Vec<_>>());
    assert!(
        platform.objects().iter().any(|o| &*o.entity_type == "Autonomous-System"),
        "the enrichment created an AS, which is no update of an entity in scope"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_playbook_step_is_enriched_and_its_bundle_returned_without_a_work_or_a_push() {
    // Arrange: a playbook-compatible enrichment connector
    let platform = platform("api").await;
    platform.seed(IPV4_GREEN).expect("seeded");
    let mut env = listen_env("api", "IPv4-Addr");
    env.push(("ENRICHMENT_PLAYBOOK_COMPATIBLE".into(), "true".into()));
    let (connector, id, _) = launch(&platform, "enrichment/correct.py", "INTERNAL_ENRICHMENT", &env).await;
    assert_eq!(platform.connector(&id).and_then(|c| c.registration.playbook_compatible), Some(true));
    let works_before = platform.works().len();

    // Act
    let step = platform.run_playbook_step(&id, "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10").expect("step sent");
    wait_for("the connector's answer", Duration::from_secs(60), &connector, || {
        platform.playbook_steps().first().is_some_and(|s| !s.results.is_empty())
    })
    .await;

    // Assert: the enriched bundle comes back through playbookStepExecution…
    let answered = platform.playbook_steps().remove(0);
    assert_eq!((answered.execution_id.as_str(), answered.step_id.as_str()), (step.execution_id.as_str(), step.step_id.as_str()));
    let bundle: serde_json::Value = serde_json::from_str(&answered.results[0].bundle).expect("a JSON bundle");
    let objects = bundle["objects"].as_array().cloned().unwrap_or_default();
    assert!(objects.iter().any(|o| o["type"] == "autonomous-system"), "the new knowledge: {bundle}");
    assert!(
        objects
            .iter()
            .any(|o| o["id"] == step.data_instance_id.as_str()
                && o["x_opencti_description"] == "Enriched by Jobs INTERNAL_ENRICHMENT"),
        "the entity enriched: {bundle}"
    );
    let sent: serde_json::Value = serde_json::from_str(&platform.jobs()[0].message).expect("JSON");
    assert!(sent["internal"]["work_id"].is_null() && sent["event"]["bundle"].is_object(), "{sent}");
    // …and nothing else: no work, nothing pushed into the knowledge
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(platform.works().len(), works_before, "a playbook step has no work");
    assert!(!platform.objects().iter().any(|o| &*o.entity_type == "Autonomous-System"), "the playbook goes on with the bundle");
}

const REPORT_WITH_MALWARE: &str = r#"{"type":"bundle","id":"bundle--2b0c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e","objects":[
 {"type":"malware","spec_version":"2.1","id":"malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883","name":"Emotet","is_family":true,
  "created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z"},
 {"type":"malware","spec_version":"2.1","id":"malware--7d2e9f1a-3b4c-4d5e-8f6a-1b2c3d4e5f60","name":"Redline","is_family":true,
  "created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z"},
 {"type":"report","spec_version":"2.1","id":"report--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b7","name":"Operation Foo",
  "description":"The actor loaded Emotet first.","published":"2026-10-01T00:00:00.000Z",
  "created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",
  "object_refs":["malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883"]}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_analysis_connector_maps_an_elements_fields_and_files_and_the_platform_reads_the_mapping() {
    // Arrange: an INTERNAL_ANALYSIS connector for text files, a report naming one malware in
    // its description and another in an attached file
    let platform = platform("api").await;
    platform.seed(REPORT_WITH_MALWARE).expect("seeded");
    let token = platform.add_connector_user("[C] analysis");
    let id = uuid::Uuid::new_v4().to_string();
    let env = listen_env("api", "text/plain");
    let connector = start_connector("analysis/correct.py", &platform, &token, &id, "INTERNAL_ANALYSIS", &env);
    wait_for("the connector to register", Duration::from_secs(60), &connector, || platform.connector(&id).is_some()).await;
    let report = "report--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b7";
    let upload = Upload {
        entity_id: Some(report.into()),
        no_trigger_import: true,
        ..Upload::new("brief.txt", "text/plain", "Later waves dropped Redline.")
    };
    let (file, _) = platform.upload(upload).expect("stored");
    let read = "query A($id: ID!, $s: String!, $t: AnalysisContentType!) { stixCoreObjectAnalysis(id: $id, contentSource: $s, contentType: $t) { ... on MappingAnalysis { analysisType analysisStatus mappedEntities { matchedString isEntityInContainer matchedEntity { ... on Malware { name } } } } } }";

    // Act 1: the fields, asked through the platform's GraphQL
    let ask = "mutation Ask($id: ID!) { stixCoreObjectEdit(id: $id) { askAnalysis(contentSource: \"content_mapping\", contentType: fields) { id name status } } }";
    let (_, asked) = common::gql(platform.url(), Some(platform.token()), ask, serde_json::json!({"id": report})).await;
    let work = asked["data"]["stixCoreObjectEdit"]["askAnalysis"].clone();
    assert_eq!((work["name"].as_str(), work["status"].as_str()), (Some("Content fields analysis"), Some("wait")), "{asked}");
    let done = processed(&platform, &connector, work["id"].as_str().expect("a work")).await;
    let (_, fields) = common::gql(
        platform.url(),
        Some(platform.token()),
        read,
        serde_json::json!({"id": report, "s": "content_mapping", "t": "fields"}),
    )
    .await;

    // Assert 1: the mapping the connector pushed, resolved
    assert_eq!(done.messages.last().map(|m| m.message.as_str()), Some("1 entities found"), "{:?}", done.errors);
    let analysis = &fields["data"]["stixCoreObjectAnalysis"];
    assert_eq!(analysis["analysisStatus"], "complete", "{fields}");
    assert_eq!(
        analysis["mappedEntities"],
        serde_json::json!([{"matchedString": "Emotet", "isEntityInContainer": true, "matchedEntity": {"name": "Emotet"}}])
    );

    // Act 2: the attached file, from the Rust API
    let work = platform.ask_analysis(report, "file", &file.id, None).expect("a connector in scope");
    processed(&platform, &connector, &work.id).await;
    let (_, files) =
        common::gql(platform.url(), Some(platform.token()), read, serde_json::json!({"id": report, "s": file.id, "t": "file"}))
            .await;

    // Assert 2: the file's analysis, stored under the report's analysis folder
    assert_eq!(work.name.as_deref(), Some("Content file analysis"));
    let mapped = &files["data"]["stixCoreObjectAnalysis"]["mappedEntities"];
    assert_eq!(
        mapped,
        &serde_json::json!([{"matchedString": "Redline", "isEntityInContainer": false, "matchedEntity": {"name": "Redline"}}]),
        "{files}"
    );
    let internal = platform.object(report).expect("the report").internal_id.to_string();
    let stored: Vec<String> = platform.files().into_iter().map(|f| f.id).filter(|f| f.starts_with("analysis/")).collect();
    assert_eq!(stored.len(), 2, "{stored:?}");
    assert!(stored.iter().all(|f| f.starts_with(&format!("analysis/Report/{internal}/"))), "{stored:?}");
}
