//! Work lifecycle over raw GraphQL: the documents pycti's `OpenCTIApiWork` sends.

mod common;

use common::{REGISTER, TO_PROCESSED, WORK_ADD, gql, registration};
use opencti_mock::{MockPlatform, Profile};
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";
const WORK_QUERY: &str = "query WorkQuery($id: ID!) { work(id: $id) { id name user { name } timestamp status event_source_id received_time processed_time completed_time tracking { import_expected_number import_processed_number } messages { timestamp message sequence source } errors { timestamp message sequence source } } }";
const ADD_EXPECTATIONS: &str = "mutation addExpectations($id: ID!, $expectations: Int) { workEdit(id: $id) { addExpectations(expectations: $expectations) } }";
const REPORT: &str =
    "mutation reportExpectation($id: ID!, $error: WorkErrorInput) { workEdit(id: $id) { reportExpectation(error: $error) } }";

async fn with_connector(profile: Profile) -> (MockPlatform, String) {
    let p = MockPlatform::builder().profile(profile).connector_user("connector-user", TOKEN).start().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    (p, id)
}

async fn add_work(p: &MockPlatform, connector: &str, multipart: bool) -> String {
    let (_, body) = gql(
        p.url(),
        Some(TOKEN),
        WORK_ADD,
        json!({"connectorId": connector, "friendlyName": "run", "isMultiPartWork": multipart}),
    )
    .await;
    body["data"]["workAdd"]["id"].as_str().unwrap_or_else(|| panic!("workAdd failed: {body}")).to_string()
}

async fn work(p: &MockPlatform, id: &str) -> Value {
    gql(p.url(), Some(TOKEN), WORK_QUERY, json!({"id": id})).await.1["data"]["work"].clone()
}

#[tokio::test]
async fn work_add_creates_a_work_in_progress_with_the_platform_id_shape() {
    let (p, connector) = with_connector(Profile::V7).await;

    let id = add_work(&p, &connector, false).await;

    assert!(id.starts_with(&format!("work_{connector}_")), "{id}");
    let w = work(&p, &id).await;
    assert_eq!(w["status"], "progress");
    assert_eq!(w["name"], "run");
    assert_eq!(w["user"]["name"], "connector-user");
    assert_eq!(w["tracking"], json!({"import_expected_number": 0, "import_processed_number": 0}));
}

#[tokio::test]
async fn work_add_for_an_unknown_connector_is_a_named_error() {
    let (p, _) = with_connector(Profile::V7).await;

    let (_, body) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": "nope", "friendlyName": "run"})).await;

    assert_eq!(body["errors"][0]["name"], "FUNCTIONAL_ERROR");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn to_received_and_to_processed_record_messages_and_errors() {
    let (p, connector) = with_connector(Profile::V7).await;
    let id = add_work(&p, &connector, false).await;
    let received = "mutation workToReceived($id: ID!, $message: String) { workEdit(id: $id) { toReceived (message: $message) } }";

    let (_, r) =
        gql(p.url(), Some(TOKEN), received, json!({"id": id, "message": "Connector ready to process the operation"})).await;
    let (_, done) = gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": id, "message": "boom", "inError": true})).await;

    assert_eq!(r["data"]["workEdit"]["toReceived"], id.as_str());
    assert_eq!(done["data"]["workEdit"]["toProcessed"], id.as_str());
    let w = work(&p, &id).await;
    assert_eq!(w["status"], "complete");
    assert_eq!(w["messages"][0]["message"], "Connector ready to process the operation");
    assert_eq!(w["errors"][0]["message"], "boom");
    assert!(w["processed_time"].is_string() && w["completed_time"].is_string());
}

#[tokio::test]
async fn expectations_complete_the_work_on_the_last_report_after_to_processed() {
    let (p, connector) = with_connector(Profile::V7).await;
    let id = add_work(&p, &connector, false).await;

    gql(p.url(), Some(TOKEN), ADD_EXPECTATIONS, json!({"id": id, "expectations": 2})).await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": id, "message": "done", "inError": false})).await;
    let after_processed = work(&p, &id).await["status"].clone();
    gql(p.url(), Some(TOKEN), REPORT, json!({"id": id, "error": null})).await;
    gql(p.url(), Some(TOKEN), REPORT, json!({"id": id, "error": {"error": "bad object", "source": "{\"id\": 1}"}})).await;

    assert_eq!(after_processed, "progress");
    let w = work(&p, &id).await;
    assert_eq!(w["status"], "complete");
    assert_eq!(w["tracking"], json!({"import_expected_number": 2, "import_processed_number": 2}));
    assert_eq!(w["errors"][0]["message"], "bad object");
    assert_eq!(w["errors"][0]["source"], "{\"id\": 1}");
}

#[tokio::test]
async fn a_multipart_work_completes_only_once_closed() {
    let (p, connector) = with_connector(Profile::V7).await;
    let id = add_work(&p, &connector, true).await;

    gql(p.url(), Some(TOKEN), ADD_EXPECTATIONS, json!({"id": id, "expectations": 1})).await;
    gql(p.url(), Some(TOKEN), REPORT, json!({"id": id, "error": null})).await;
    let before = work(&p, &id).await["status"].clone();
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": id, "message": "done"})).await;

    assert_eq!(before, "progress");
    assert_eq!(work(&p, &id).await["status"], "complete");
}

#[tokio::test]
async fn is_work_alive_and_the_6_9_profile_kills_a_work_completed_by_to_processed() {
    let (p7, c7) = with_connector(Profile::V7).await;
    let (p69, c69) = with_connector(Profile::V6_9).await;
    let w7 = add_work(&p7, &c7, false).await;
    let w69 = add_work(&p69, &c69, false).await;
    let alive = "query WorkAliveQuery($id: ID!) { isWorkAlive(id: $id) }";

    gql(p7.url(), Some(TOKEN), TO_PROCESSED, json!({"id": w7, "message": "done"})).await;
    gql(p69.url(), Some(TOKEN), TO_PROCESSED, json!({"id": w69, "message": "done"})).await;

    assert_eq!(gql(p7.url(), Some(TOKEN), alive, json!({"id": w7})).await.1["data"]["isWorkAlive"], true);
    assert_eq!(gql(p69.url(), Some(TOKEN), alive, json!({"id": w69})).await.1["data"]["isWorkAlive"], false);
    assert_eq!(gql(p7.url(), Some(TOKEN), alive, json!({"id": "work_nope"})).await.1["data"]["isWorkAlive"], false);
}

#[tokio::test]
async fn edits_of_a_deleted_work_answer_its_id_and_change_nothing() {
    let (p, connector) = with_connector(Profile::V7).await;
    let id = add_work(&p, &connector, false).await;
    let delete = "mutation ConnectorWorksMutation($workId: ID!) { workEdit(id: $workId) { delete } }";

    let (_, del) = gql(p.url(), Some(TOKEN), delete, json!({"workId": id})).await;
    let (_, add) = gql(p.url(), Some(TOKEN), ADD_EXPECTATIONS, json!({"id": id, "expectations": 3})).await;

    assert_eq!(del["data"]["workEdit"]["delete"], id.as_str());
    assert_eq!(add["data"]["workEdit"]["addExpectations"], id.as_str());
    assert!(add["errors"].is_null());
    assert_eq!(work(&p, &id).await, Value::Null);
}

#[tokio::test]
async fn a_request_in_the_context_of_a_dead_work_is_refused_with_work_not_alive() {
    let (p, connector) = with_connector(Profile::V7).await;
    let id = add_work(&p, &connector, false).await;
    gql(p.url(), Some(TOKEN), "mutation D($id: ID!) { workEdit(id: $id) { delete } }", json!({"id": id})).await;

    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .header("opencti-work-id", &id)
        .json(&json!({"query": ADD_EXPECTATIONS, "variables": {"id": id, "expectations": 1}}))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 500, "a context-creation failure");
    let text = resp.text().await.unwrap();
    assert!(text.contains("WORK_NOT_ALIVE"), "pycti's add_expectations looks for this text: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["message"], "Work is no longer alive, no request can be done within the context of this work");
}

#[tokio::test]
async fn works_lists_a_connector_works_with_pycti_filter_shape() {
    let (p, connector) = with_connector(Profile::V7).await;
    let a = add_work(&p, &connector, false).await;
    let b = add_work(&p, &connector, false).await;
    let q = "query ConnectorWorksQuery($count: Int $orderBy: WorksOrdering $orderMode: OrderingMode $filters: FilterGroup) { works(first: $count orderBy: $orderBy orderMode: $orderMode filters: $filters) { edges { node { id name status } } } }";
    let filters =
        |key: &str, value: &str| json!({"mode": "and", "filters": [{"key": key, "values": [value]}], "filterGroups": []});

    let (_, mine) = gql(p.url(), Some(TOKEN), q, json!({"count": 50, "filters": filters("connector_id", &connector)})).await;
    let (_, none) = gql(p.url(), Some(TOKEN), q, json!({"count": 50, "filters": filters("connector_id", "other")})).await;

    let ids: Vec<&str> =
        mine["data"]["works"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(ids.contains(&a.as_str()) && ids.contains(&b.as_str()));
    assert_eq!(none["data"]["works"]["edges"], json!([]));
}

#[tokio::test]
async fn ping_draft_context_and_work_delete_answer_as_the_platform() {
    let (p, connector) = with_connector(Profile::V7).await;
    let a = add_work(&p, &connector, false).await;
    let b = add_work(&p, &connector, false).await;
    let ping = "mutation pingWork($id: ID!) { workEdit(id: $id) { ping } }";
    let draft = "mutation addDraftContext($id: ID!, $draftContext: String) { workEdit(id: $id) { addDraftContext(draftContext: $draftContext) } }";

    let (_, pinged) = gql(p.url(), Some(TOKEN), ping, json!({"id": a})).await;
    let (_, drafted) = gql(p.url(), Some(TOKEN), draft, json!({"id": a, "draftContext": "draft-123"})).await;
    let draft_seen = gql(p.url(), Some(TOKEN), "query W($id: ID!) { work(id: $id) { draft_context } }", json!({"id": a})).await.1;
    let (_, deleted) =
        gql(p.url(), Some(TOKEN), "mutation D($c: String!) { workDelete(connectorId: $c) }", json!({"c": connector})).await;

    assert_eq!(pinged["data"]["workEdit"]["ping"], a.as_str());
    assert_eq!(drafted["data"]["workEdit"]["addDraftContext"], a.as_str());
    assert_eq!(draft_seen["data"]["work"]["draft_context"], "draft-123");
    assert_eq!(deleted["data"]["workDelete"], true);
    assert!(p.work(&a).is_none() && p.work(&b).is_none(), "every work of the connector is gone");
}
