//! `stixBundlePush`: validation, the worker path, and how each profile completes works.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, REGISTER, TO_PROCESSED, WORK_ADD, error_code, gql, ipv4_bundle, registration};
use opencti_mock::{MockPlatform, Profile};
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";

async fn setup(builder: opencti_mock::MockPlatformBuilder) -> (MockPlatform, String) {
    let p = builder.connector_user("connector-user", TOKEN).start().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    (p, id)
}

async fn work_add(p: &MockPlatform, connector: &str) -> String {
    let (_, body) =
        gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": connector, "friendlyName": "run", "isMultiPartWork": false}))
            .await;
    body["data"]["workAdd"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn pushed_objects_are_stored_by_the_worker_and_readable_by_any_id() {
    let (p, connector) = setup(MockPlatform::builder()).await;
    let work = work_add(&p, &connector).await;
    let bundle = ipv4_bundle(4);
    let first_id = serde_json::from_str::<Value>(&bundle).unwrap()["objects"][0]["id"].as_str().unwrap().to_string();

    let (_, body) =
        gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": bundle, "work_id": work})).await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    let done = p.wait_for_work_complete(&work, Duration::from_secs(10)).await.expect("work completes");

    assert_eq!(body["data"]["stixBundlePush"], true);
    assert_eq!((done.import_expected_number, done.completed_number), (4, 4));
    let stored = p.object(&first_id).expect("stored");
    let (_, by_internal) =
        gql(p.url(), Some(p.token()), "query StixQuery($id: String!) { stix(id: $id) }", json!({"id": stored.internal_id})).await;
    let stix: Value = serde_json::from_str(by_internal["data"]["stix"].as_str().unwrap()).unwrap();
    // Stored under the platform's standard id; the id it was pushed with is kept.
    assert_eq!(stix["id"], stored.standard_id.as_str());
    assert_ne!(stored.standard_id, first_id, "the test bundle uses random ids, not standard ones");
    assert!(stored.stix_ids.contains(&first_id));
    assert_eq!(stix["type"], "ipv4-addr");
    let ext = &stix["extensions"]["extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"];
    assert_eq!(ext["id"], stored.internal_id.to_string());
    assert_eq!(ext["type"], "IPv4-Addr");
    let bundles = p.received_bundles();
    assert_eq!(bundles.len(), 1);
    assert_eq!((bundles[0].objects, bundles[0].transport.as_str()), (4, "api"));
}

#[tokio::test]
async fn a_push_without_a_work_creates_one_named_after_the_connector() {
    let (p, connector) = setup(MockPlatform::builder()).await;

    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": ipv4_bundle(2), "work_id": null})).await;

    let works = p.works();
    assert_eq!(works.len(), 1);
    assert!(works[0].name.as_deref().unwrap().starts_with("Importer run @ "), "{:?}", works[0].name);
    let done =
        p.wait_for_work_complete(&works[0].id, Duration::from_secs(10)).await.expect("completes when all objects are stored");
    assert_eq!(done.completed_number, 2);
}

#[tokio::test]
async fn invalid_bundles_and_unknown_connectors_are_the_platform_unsupported_error() {
    let (p, connector) = setup(MockPlatform::builder()).await;
    let cases = [
        (connector.as_str(), "not json".to_string()),
        (connector.as_str(), json!({"type": "bundle", "objects": []}).to_string()),
        (connector.as_str(), json!({"type": "report", "objects": [{"type": "x"}]}).to_string()),
        ("no-such-connector", ipv4_bundle(1)),
    ];
    for (c, bundle) in cases {
        let (status, body) = gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": c, "bundle": bundle})).await;
        assert_eq!(status, 200);
        assert_eq!(error_code(&body).as_deref(), Some("UNSUPPORTED_ERROR"), "{body}");
        assert_eq!(body["errors"][0]["message"], "Invalid bundle");
        assert!(body["errors"][0]["extensions"]["data"]["cause"].is_string(), "the cause is given: {body}");
    }
    assert_eq!(p.read(|s| s.knowledge.received().count()), 0);
}

#[tokio::test]
async fn the_7_profile_adds_expectations_before_returning_so_a_closed_work_waits_for_ingestion() {
    // Arrange: ingestion paused, so nothing is stored while the connector closes its work.
    let (p, connector) = setup(MockPlatform::builder().profile(Profile::V7).ingest_paused(true)).await;
    let work = work_add(&p, &connector).await;

    // Act
    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": ipv4_bundle(3), "work_id": work})).await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    let closed = p.work(&work).unwrap();
    let queued = p.read(|s| s.queues.figures(&connector));
    p.set_ingest_paused(false);
    let done = p.wait_for_work_complete(&work, Duration::from_secs(10)).await.expect("completes once ingested");

    // Assert
    assert_eq!(closed.import_expected_number, 3, "expectations added by the mutation");
    assert!(!closed.is_complete(), "not complete while objects wait in the queue");
    assert_eq!(queued.0, 3, "one message per object in the queue");
    assert!(queued.1 > 0, "queue bytes reported");
    assert_eq!(done.completed_number, 3);
    assert_eq!(p.read(|s| s.knowledge.received().count()), 3);
}

#[tokio::test]
async fn the_6_9_profile_completes_a_work_early_and_then_drops_its_messages() {
    // Arrange
    let (p, connector) = setup(MockPlatform::builder().profile(Profile::V6_9).ingest_paused(true)).await;
    let work = work_add(&p, &connector).await;

    // Act: the 6.9 mutation queues the whole bundle without adding expectations.
    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": ipv4_bundle(3), "work_id": work})).await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    let closed = p.work(&work).unwrap();
    p.set_ingest_paused(false);
    p.wait_until("the queue to drain", Duration::from_secs(10), |s| s.queues.figures(&connector).0 == 0).await.unwrap();

    // Assert: connectors#6302 — complete with nothing ingested; the worker then drops the
    // message of a work that is no longer alive.
    assert!(closed.is_complete(), "complete before the worker ran");
    assert_eq!(closed.import_expected_number, 1, "expected 0 becomes completed_number 1");
    assert_eq!(p.read(|s| s.knowledge.received().count()), 0);
    let dropped = p.read(|s| {
        s.transcript.entries().iter().any(|e| {
            matches!(
                &e.kind,
                opencti_mock::store::transcript::EntryKind::Worker {
                    event: opencti_mock::store::transcript::WorkerEvent::Dropped,
                    ..
                }
            )
        })
    });
    assert!(dropped, "the drop is visible in the transcript");
}

#[tokio::test]
async fn the_6_9_worker_splits_the_bundle_and_adds_expectations_itself() {
    let (p, connector) = setup(MockPlatform::builder().profile(Profile::V6_9)).await;
    let work = work_add(&p, &connector).await;

    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": ipv4_bundle(3), "work_id": work})).await;
    p.wait_until("3 objects", Duration::from_secs(10), |s| s.knowledge.received().count() == 3).await.unwrap();
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;

    let w = p.work(&work).unwrap();
    assert!(w.is_complete());
    assert_eq!((w.import_expected_number, w.completed_number), (3, 3));
}

#[tokio::test]
async fn incompatible_objects_are_dropped_by_the_split_and_not_counted() {
    let (p, connector) = setup(MockPlatform::builder()).await;
    let work = work_add(&p, &connector).await;
    let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "ipv4-addr", "id": "ipv4-addr--0b1c4a6e-0000-4000-8000-000000000001", "value": "1.1.1.1"},
        {"type": "relationship", "id": "relationship--0b1c4a6e-0000-4000-8000-000000000002", "relationship_type": "related-to",
         "source_ref": "ipv4-addr--0b1c4a6e-0000-4000-8000-000000000001", "target_ref": null}
    ]});

    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": bundle.to_string(), "work_id": work}))
        .await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done"})).await;
    let w = p.wait_for_work_complete(&work, Duration::from_secs(10)).await.unwrap();

    assert_eq!((w.import_expected_number, w.completed_number), (1, 1));
    assert_eq!(p.read(|s| s.knowledge.received().count()), 1);
    // Not counted and not an error (the platform's worker drops it silently), but not silent
    // either: the work's messages and the transcript say what was dropped.
    assert!(w.errors.is_empty(), "{:?}", w.errors);
    let dropped: Vec<_> = w.messages.iter().filter_map(|e| e.source.as_deref()).collect();
    assert_eq!(dropped, ["Element relationship--0b1c4a6e-0000-4000-8000-000000000002 is incompatible and couldn't be processed"]);
    assert!(p.read(|s| s.transcript.entries().iter().any(|e| format!("{:?}", e.kind).contains("dropped by the splitter"))));
}
