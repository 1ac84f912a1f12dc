//! Export jobs with the official Python client, unchanged: an INTERNAL_EXPORT_FILE
//! connector (`fixtures/connectors/export_file/correct.py`, pycti 7.261026.0's export
//! helpers) asked through the platform's GraphQL (`exportAsk`, `stixCoreObjectsExportAsk`)
//! in both listen modes, for one entity (`simple` and `full`), a selection and a query;
//! the file it pushes back is listed as complete and downloaded byte for byte. And the
//! reason export connectors run with an administrator's token: they read as the user who
//! asked, so what that user may not see stays out of the file.

mod common;

use std::time::Duration;

use common::connector::{Connector, listen_env, processed, start_connector, wait_for};
use common::gql;
use opencti_mock::MockPlatform;
use opencti_mock::store::works::WorkStatus;
use rstest::rstest;
use serde_json::{Value, json};

const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const REPORT: &str = "report--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b7";
const EMOTET: &str = "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883";
const REDLINE: &str = "malware--7d2e9f1a-3b4c-4d5e-8f6a-1b2c3d4e5f60";
const PHISHING: &str = "attack-pattern--2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f";
const USES: &str = "relationship--9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const STIX: &str = "application/vnd.oasis.stix+json";

fn knowledge() -> String {
    let at = "2026-10-01T00:00:00.000Z";
    json!({"type": "bundle", "id": "bundle--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b8", "objects": [
        {"type": "malware", "spec_version": "2.1", "id": EMOTET, "name": "Emotet", "is_family": true,
         "created": at, "modified": at, "object_marking_refs": [TLP_GREEN]},
        {"type": "malware", "spec_version": "2.1", "id": REDLINE, "name": "Redline", "is_family": true,
         "created": at, "modified": at, "object_marking_refs": [TLP_RED]},
        {"type": "attack-pattern", "spec_version": "2.1", "id": PHISHING, "name": "Phishing",
         "created": at, "modified": at, "object_marking_refs": [TLP_GREEN]},
        {"type": "relationship", "spec_version": "2.1", "id": USES, "relationship_type": "uses",
         "source_ref": EMOTET, "target_ref": PHISHING, "created": at, "modified": at,
         "object_marking_refs": [TLP_GREEN]},
        {"type": "report", "spec_version": "2.1", "id": REPORT, "name": "Operation Foo", "published": at,
         "created": at, "modified": at, "object_refs": [EMOTET, REDLINE], "object_marking_refs": [TLP_GREEN]}
    ]})
    .to_string()
}

async fn platform(listen: &str) -> MockPlatform {
    let builder = MockPlatform::builder().seed(knowledge());
    let builder = common::connector::with_case_broker(builder, listen);
    builder.start().await
}

/// Starts the export connector with the administrator's token (what the deployment
/// documentation prescribes, so that it may impersonate) and waits for its registration.
async fn exporter(platform: &MockPlatform, listen: &str) -> Connector {
    let id = uuid::Uuid::new_v4().to_string();
    let env = listen_env(listen, STIX);
    let connector = start_connector("export_file/correct.py", platform, platform.token(), &id, "INTERNAL_EXPORT_FILE", &env);
    wait_for("the connector to register", Duration::from_secs(60), &connector, || platform.connector(&id).is_some()).await;
    connector
}

/// Runs a GraphQL ask as `token` and returns the virtual files it answers.
async fn ask(platform: &MockPlatform, token: &str, query: &str, variables: Value) -> Vec<Value> {
    let (status, body) = gql(platform.url(), Some(token), query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "the ask is refused: {body}");
    let data = body["data"].as_object().expect("data").values().next().cloned().expect("one root field");
    let files = data.get("exportAsk").cloned().unwrap_or(data);
    files.as_array().cloned().unwrap_or_else(|| panic!("a list of files: {body}"))
}

async fn ask_entity(platform: &MockPlatform, id: &str, export_type: &str) -> Vec<Value> {
    let query = "mutation Ask($id: ID!, $input: ExportAskInput!) { stixDomainObjectEdit(id: $id) { exportAsk(input: $input) { id name uploadStatus } } }";
    let input = json!({"format": STIX, "exportType": export_type, "contentMaxMarkings": [], "fileMarkings": []});
    ask(platform, platform.token(), query, json!({"id": id, "input": input})).await
}

async fn ask_list(platform: &MockPlatform, token: &str, selected: &[&str]) -> Vec<Value> {
    let query = "mutation Ask($input: StixCoreObjectsExportAskInput!) { stixCoreObjectsExportAsk(input: $input) { id name uploadStatus } }";
    let input = json!({"format": STIX, "exportType": "simple", "contentMaxMarkings": [], "fileMarkings": [],
        "exportContext": {"entity_type": "Malware"}, "orderBy": "name", "orderMode": "asc", "selectedIds": selected,
        "filters": {"mode": "and", "filters": [{"key": "entity_type", "values": ["Malware"]}], "filterGroups": []}});
    ask(platform, token, query, json!({"input": input})).await
}

/// Waits for the work of the single virtual file an ask answered, and returns the stored
/// file named after it.
async fn exported(platform: &MockPlatform, connector: &Connector, files: &[Value]) -> opencti_mock::StoredFile {
    assert_eq!(files.len(), 1, "one export connector in scope: {files:?}");
    assert_eq!(files[0]["uploadStatus"], "wait", "the export starts waiting: {files:?}");
    let work_id = files[0]["id"].as_str().expect("the work's id");
    let work = processed(platform, connector, work_id).await;
    assert!(work.errors.is_empty(), "the export succeeded: {:?}\n{}", work.errors, connector.output());
    let name = files[0]["name"].as_str().expect("the file's name");
    platform.files().into_iter().find(|f| f.name == name).unwrap_or_else(|| panic!("{name} is stored"))
}

/// The standard id the platform gave a seeded object (exports carry standard ids).
fn sid(platform: &MockPlatform, id: &str) -> String {
    platform.object(id).unwrap_or_else(|| panic!("{id} is seeded")).standard_id
}

/// The STIX ids in a stored bundle, downloaded through `/storage/get` like a user would.
async fn ids_in(platform: &MockPlatform, file: &opencti_mock::StoredFile) -> Vec<String> {
    let url = format!("{}/storage/get/{}", platform.url(), file.id);
    let resp = reqwest::Client::new().get(url).bearer_auth(platform.token()).send().await.expect("a download");
    assert_eq!(resp.status(), 200);
    let bytes = resp.bytes().await.expect("the file");
    assert_eq!(bytes, file.content, "downloaded byte for byte");
    let bundle: Value = serde_json::from_slice(&bytes).expect("a JSON bundle");
    assert_eq!(bundle["type"], "bundle");
    let mut ids: Vec<String> =
        bundle["objects"].as_array().expect("objects").iter().filter_map(|o| o["id"].as_str().map(str::to_string)).collect();
    ids.sort();
    ids
}

#[rstest]
#[case::http("api")]
#[case::amqp("amqp")]
#[case::amqp_embedded("amqp-embedded")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pycti_export_connector_exports_an_entity_a_selection_and_a_query(#[case] listen: &str) {
    // Arrange
    let platform = platform(listen).await;
    let listen = common::connector::wire(listen);
    let connector = exporter(&platform, listen).await;
    let report = platform.object(REPORT).expect("the report").internal_id.to_string();

    // Act + Assert 1: a simple export of the report: the report, without its contents
    let files = ask_entity(&platform, REPORT, "simple").await;
    let name = files[0]["name"].as_str().unwrap_or_default().to_string();
    assert!(name.ends_with("_TLP:ALL_(Jobs INTERNAL_EXPORT_FILE)_Report-Operation Foo_simple.json"), "{name}");
    let simple = exported(&platform, &connector, &files).await;
    assert!(simple.id.starts_with(&format!("export/Report/{report}/")), "{}", simple.id);
    assert_eq!(simple.mime_type, "application/json");
    let ids = ids_in(&platform, &simple).await;
    assert!(ids.contains(&sid(&platform, REPORT)) && !ids.contains(&sid(&platform, EMOTET)), "{ids:?}");

    // the entity's listing: the file, complete; the finished export is no longer in progress
    let (_, body) = gql(
        platform.url(),
        Some(platform.token()),
        "query R($id: String!) { report(id: $id) { exportFiles(first: 10) { edges { node { id uploadStatus } } } } }",
        json!({"id": REPORT}),
    )
    .await;
    assert_eq!(body["data"]["report"]["exportFiles"]["edges"], json!([{"node": {"id": simple.id, "uploadStatus": "complete"}}]));

    // Act + Assert 2: a full export of the report: its contents too
    let files = ask_entity(&platform, REPORT, "full").await;
    let full = exported(&platform, &connector, &files).await;
    let ids = ids_in(&platform, &full).await;
    for id in [REPORT, EMOTET, REDLINE] {
        assert!(ids.contains(&sid(&platform, id)), "{id} in the full export of the report: {ids:?}");
    }
    // and of a malware: its relationships and what they point to
    let files = ask_entity(&platform, EMOTET, "full").await;
    let full = exported(&platform, &connector, &files).await;
    let ids = ids_in(&platform, &full).await;
    for id in [EMOTET, USES, PHISHING] {
        assert!(ids.contains(&sid(&platform, id)), "{id} in the full export of the malware: {ids:?}");
    }
    assert!(!ids.contains(&sid(&platform, REPORT)), "the report is no relationship of the malware: {ids:?}");

    // Act + Assert 3: a selection of one malware
    let files = ask_list(&platform, platform.token(), &[EMOTET]).await;
    let selection = exported(&platform, &connector, &files).await;
    assert!(selection.id.starts_with("export/Malware/"), "{}", selection.id);
    assert_eq!(selection.metadata.get("list_filters"), Some(&json!("selected_ids")));
    let ids = ids_in(&platform, &selection).await;
    assert!(ids.contains(&sid(&platform, EMOTET)) && !ids.contains(&sid(&platform, REDLINE)), "{ids:?}");

    // Act + Assert 4: a query over every malware
    let files = ask_list(&platform, platform.token(), &[]).await;
    let query = exported(&platform, &connector, &files).await;
    let ids = ids_in(&platform, &query).await;
    assert!(ids.contains(&sid(&platform, EMOTET)) && ids.contains(&sid(&platform, REDLINE)), "{ids:?}");
    let kept: Value = serde_json::from_str(query.metadata["list_filters"].as_str().expect("list_filters")).expect("JSON");
    assert_eq!(kept["filters"]["filters"][0]["key"], json!(["entity_type"]), "the platform's converted keys: {kept}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_impersonating_export_leaves_out_what_the_requester_may_not_see() {
    // Arrange: an analyst cleared for TLP:GREEN only
    let platform = platform("api").await;
    let connector = exporter(&platform, "api").await;
    let analyst = platform.add_user("analyst", &["KNOWLEDGE", "KNOWLEDGE_KNGETEXPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"]);
    assert!(platform.limit_to_markings(&analyst, &[TLP_GREEN]));

    // Act
    let files = ask_list(&platform, &analyst, &[]).await;
    let analysts = exported(&platform, &connector, &files).await;
    let files = ask_list(&platform, platform.token(), &[]).await;
    let admins = exported(&platform, &connector, &files).await;

    // Assert
    let analysts = ids_in(&platform, &analysts).await;
    assert!(analysts.contains(&sid(&platform, EMOTET)), "{analysts:?}");
    assert!(!analysts.contains(&sid(&platform, REDLINE)), "the TLP:RED malware stays out of the analyst's export: {analysts:?}");
    let admins = ids_in(&platform, &admins).await;
    assert!(admins.contains(&sid(&platform, REDLINE)), "the administrator's export has it: {admins:?}");
    let work = platform.works().into_iter().find(|w| w.status == WorkStatus::Complete).expect("a finished work");
    assert_eq!(work.event_type, "INTERNAL_EXPORT_FILE");
}
