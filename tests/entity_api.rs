//! The entity API over raw GraphQL: readers, lists (filters, pagination), creations and
//! their errors, edits, visibility by marking, files, and list speed on a large store.

mod common;

use std::time::{Duration, Instant};

use common::gql;
use opencti_mock::MockPlatform;
use opencti_mock::store::knowledge::Candidate;
use serde_json::{Value, json};

const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";

const MALWARE_ADD: &str = "mutation MalwareAdd($input: MalwareAddInput!) { malwareAdd(input: $input) { id standard_id entity_type parent_types name } }";
const MALWARE: &str = "query Malware($id: String) { malware(id: $id) { id standard_id name createdBy { ... on Identity { name } } objectMarking { definition } objectLabel { value } } }";
const INDICATOR: &str = "query Indicator($id: String!) { indicator(id: $id) { id } }";
const LABELS: &str = "query Labels($first: Int, $after: ID, $filters: FilterGroup, $search: String) { labels(first: $first, after: $after, filters: $filters, search: $search) { edges { node { id value } } pageInfo { startCursor endCursor hasNextPage hasPreviousPage globalCount } } }";
const LABEL_ADD: &str = "mutation LabelAdd($input: LabelAddInput!) { labelAdd(input: $input) { id value color } }";
const ORG_ADD: &str =
    "mutation OrganizationAdd($input: OrganizationAddInput!) { organizationAdd(input: $input) { id standard_id } }";

async fn call(p: &MockPlatform, query: &str, variables: Value) -> Value {
    gql(p.url(), Some(p.token()), query, variables).await.1
}

async fn add_malware(p: &MockPlatform, input: Value) -> Value {
    let body = call(p, MALWARE_ADD, json!({"input": input})).await;
    assert!(body["errors"].is_null(), "malwareAdd failed: {body}");
    body["data"]["malwareAdd"].clone()
}

fn error(body: &Value) -> (&str, &str) {
    (body["errors"][0]["name"].as_str().unwrap_or("none"), body["errors"][0]["message"].as_str().unwrap_or(""))
}

#[tokio::test]
async fn readers_answer_null_for_unknown_ids_and_for_objects_of_another_type() {
    // Arrange
    let p = MockPlatform::start().await;
    let malware = add_malware(&p, json!({"name": "Emotet"})).await;

    // Act
    let as_indicator = call(&p, INDICATOR, json!({"id": malware["id"]})).await;
    let unknown = call(&p, MALWARE, json!({"id": "malware--00000000-0000-4000-8000-000000000000"})).await;
    let found = call(&p, MALWARE, json!({"id": malware["standard_id"]})).await;

    // Assert
    assert_eq!(as_indicator["data"]["indicator"], Value::Null);
    assert!(as_indicator["errors"].is_null(), "{as_indicator}");
    assert_eq!(unknown["data"]["malware"], Value::Null);
    assert_eq!(found["data"]["malware"]["id"], malware["id"]);
    assert_eq!(malware["entity_type"], "Malware");
    assert_eq!(malware["parent_types"], json!(["Basic-Object", "Stix-Object", "Stix-Core-Object", "Stix-Domain-Object"]));
}

#[tokio::test]
async fn an_object_created_under_a_stix_id_is_found_by_every_id_and_upserted_by_any() {
    // Arrange
    let p = MockPlatform::start().await;
    let given = "malware--0d4c8f0e-0000-4a4b-8c8d-0e0f10111213";

    // Act
    let first = add_malware(&p, json!({"name": "Emotet", "stix_id": given})).await;
    let second = add_malware(&p, json!({"name": "EMOTET ", "description": "same standard id"})).await;
    let by_given = call(&p, MALWARE, json!({"id": given})).await;

    // Assert
    assert_ne!(first["standard_id"], given, "the standard id is computed from the name");
    assert_eq!(second["id"], first["id"], "the same standard id upserts");
    assert_eq!(by_given["data"]["malware"]["id"], first["id"], "{by_given}");
    assert_eq!(p.object(given).map(|o| o.stix_ids), Some(vec![given.to_string()]));
}

#[tokio::test]
async fn lists_page_with_cursors_until_has_next_page_is_false() {
    // Arrange
    let p = MockPlatform::start().await;
    for v in ["alpha", "bravo", "charlie", "delta", "echo"] {
        call(&p, LABEL_ADD, json!({"input": {"value": v}})).await;
    }

    // Act
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let body = call(&p, LABELS, json!({"first": 2, "after": after})).await;
        let data = &body["data"]["labels"];
        assert_eq!(data["pageInfo"]["globalCount"], 5, "{body}");
        seen.extend(data["edges"].as_array().unwrap().iter().map(|e| e["node"]["value"].as_str().unwrap().to_string()));
        pages += 1;
        if data["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = data["pageInfo"]["endCursor"].clone();
        assert!(pages < 10, "pagination does not end");
    }

    // Assert
    assert_eq!(pages, 3);
    assert_eq!(seen, ["alpha", "bravo", "charlie", "delta", "echo"]);
    let searched = call(&p, LABELS, json!({"search": "RAV"})).await;
    assert_eq!(searched["data"]["labels"]["edges"][0]["node"]["value"], "bravo");
    let filtered = call(
        &p,
        LABELS,
        json!({"filters": {"mode": "and", "filters": [{"key": "value", "values": ["DELTA"]}], "filterGroups": []}}),
    )
    .await;
    assert_eq!(filtered["data"]["labels"]["pageInfo"]["globalCount"], 1, "eq is case-insensitive: {filtered}");
}

#[tokio::test]
async fn unknown_filter_operators_keys_and_cursors_are_refused_by_name() {
    // Arrange
    let p = MockPlatform::start().await;
    let filter = |key: &str, op: &str| json!({"mode": "and", "filters": [{"key": key, "values": ["x"], "operator": op}], "filterGroups": []});

    // Act
    let script = call(&p, LABELS, json!({"filters": filter("value", "script")})).await;
    let camel = call(&p, LABELS, json!({"filters": filter("objectAssignee", "eq")})).await;
    let cursor = call(&p, LABELS, json!({"after": "not-a-cursor"})).await;

    // Assert
    assert_eq!(error(&script).0, "FUNCTIONAL_ERROR");
    assert!(error(&script).1.contains("'script'"), "{script}");
    assert!(error(&camel).1.contains("'objectAssignee'"), "{camel}");
    assert!(error(&cursor).1.contains("not-a-cursor"), "{cursor}");
}

#[tokio::test]
async fn a_creation_naming_a_missing_reference_is_refused_with_the_platform_error() {
    // Arrange
    let p = MockPlatform::start().await;
    let missing = "identity--00000000-0000-4000-8000-00000000dead";

    // Act
    let body = call(&p, MALWARE_ADD, json!({"input": {"name": "Emotet", "createdBy": missing}})).await;

    // Assert
    assert_eq!(error(&body), ("MISSING_REFERENCE_ERROR", "Element(s) not found"));
    assert_eq!(body["errors"][0]["extensions"]["data"]["unresolvedIds"], json!([missing]));
    assert_eq!(body["errors"][0]["extensions"]["data"]["http_status"], 404);
    assert_eq!(p.read(|s| s.knowledge.all().filter(|o| &*o.entity_type == "Malware").count()), 0);
}

#[tokio::test]
async fn references_are_resolved_and_answered_as_objects() {
    // Arrange
    let p = MockPlatform::start().await;
    let org = call(&p, ORG_ADD, json!({"input": {"name": "ACME"}})).await["data"]["organizationAdd"].clone();
    let label = call(&p, LABEL_ADD, json!({"input": {"value": "trojan"}})).await["data"]["labelAdd"].clone();

    // Act
    let malware = add_malware(
        &p,
        json!({"name": "Emotet", "createdBy": org["id"], "objectMarking": [TLP_GREEN], "objectLabel": [label["id"]]}),
    )
    .await;
    let read = call(&p, MALWARE, json!({"id": malware["id"]})).await["data"]["malware"].clone();

    // Assert
    assert_eq!(read["createdBy"]["name"], "ACME");
    assert_eq!(read["objectMarking"], json!([{"definition": "TLP:GREEN"}]));
    assert_eq!(read["objectLabel"], json!([{"value": "trojan"}]));
    let stored = p.object(malware["id"].as_str().unwrap()).expect("stored").json();
    assert_eq!(stored["created_by_ref"], org["standard_id"], "references are stored as standard ids");
    assert_eq!(stored["labels"], json!(["trojan"]));
}

#[tokio::test]
async fn objects_marked_beyond_the_callers_clearance_are_invisible() {
    // Arrange
    let p = MockPlatform::start().await;
    let red = add_malware(&p, json!({"name": "Secret", "objectMarking": [TLP_RED]})).await;
    let green = add_malware(&p, json!({"name": "Shared", "objectMarking": [TLP_GREEN]})).await;
    let token = p.add_user("limited", &["KNOWLEDGE"]);
    p.core().store.write(|s| {
        let id = s.users.by_token(&token).expect("user").id.clone();
        s.users.set_allowed_markings(&id, Some(vec![TLP_GREEN.to_string()]))
    });
    let list = "query { malwares(first: 10) { edges { node { name } } pageInfo { globalCount } } }";

    // Act
    let read_red = gql(p.url(), Some(&token), MALWARE, json!({"id": red["id"]})).await.1;
    let read_green = gql(p.url(), Some(&token), MALWARE, json!({"id": green["id"]})).await.1;
    let listed = gql(p.url(), Some(&token), list, json!({})).await.1;

    // Assert
    assert_eq!(read_red["data"]["malware"], Value::Null);
    assert_eq!(read_green["data"]["malware"]["name"], "Shared");
    assert_eq!(listed["data"]["malwares"]["edges"], json!([{"node": {"name": "Shared"}}]));
    assert_eq!(listed["data"]["malwares"]["pageInfo"]["globalCount"], 1);
}

#[tokio::test]
async fn edits_patch_fields_and_remove_references() {
    // Arrange
    let p = MockPlatform::start().await;
    let malware = add_malware(&p, json!({"name": "Emotet", "objectMarking": [TLP_GREEN, TLP_RED], "aliases": ["Geodo"]})).await;
    let patch = "mutation Patch($id: ID!, $input: [EditInput]!) { stixDomainObjectEdit(id: $id) { fieldPatch(input: $input) { ... on Malware { description aliases confidence } } } }";
    let delete = "mutation Del($id: ID!, $toId: StixRef!, $type: String!) { stixDomainObjectEdit(id: $id) { relationDelete(toId: $toId, relationship_type: $type) { id } } }";
    let on_observable =
        "mutation E($id: ID!, $input: [EditInput]!) { stixCyberObservableEdit(id: $id) { fieldPatch(input: $input) { id } } }";

    // Act
    let patched = call(
        &p,
        patch,
        json!({"id": malware["id"], "input": [
            {"key": "description", "value": ["Updated"]},
            {"key": "aliases", "value": ["Heodo"], "operation": "add"},
            {"key": "confidence", "value": ["90"]},
        ]}),
    )
    .await;
    let removed = call(&p, delete, json!({"id": malware["id"], "toId": TLP_RED, "type": "object-marking"})).await;
    let wrong_type =
        call(&p, on_observable, json!({"id": malware["id"], "input": [{"key": "x_opencti_score", "value": ["10"]}]})).await;

    // Assert
    let m = &patched["data"]["stixDomainObjectEdit"]["fieldPatch"];
    assert_eq!(m["description"], "Updated", "{patched}");
    assert_eq!(m["aliases"], json!(["Geodo", "Heodo"]));
    assert_eq!(m["confidence"], 90, "numbers sent as text are stored as numbers");
    assert!(removed["errors"].is_null(), "{removed}");
    let read = call(&p, MALWARE, json!({"id": malware["id"]})).await;
    assert_eq!(read["data"]["malware"]["objectMarking"], json!([{"definition": "TLP:GREEN"}]));
    assert_eq!(error(&wrong_type), ("FUNCTIONAL_ERROR", "Cant find element to update"));
}

#[tokio::test]
async fn operations_the_mock_does_not_serve_answer_an_error_naming_them() {
    // Arrange
    let p = MockPlatform::start().await;
    let malware = add_malware(&p, json!({"name": "Emotet"})).await;
    let undraft = "mutation E($id: ID!) { stixCoreObjectEdit(id: $id) { removeFromDraft } }";
    let rule = "mutation R($e: ID!, $r: ID!) { ruleApply(elementId: $e, ruleId: $r) }";

    // Act
    let answers =
        [call(&p, undraft, json!({"id": malware["id"]})).await, call(&p, rule, json!({"e": malware["id"], "r": "x"})).await];

    // Assert
    for (body, name) in answers.iter().zip(["removeFromDraft", "ruleApply"]) {
        let (code, message) = error(body);
        assert_eq!(code, "UNSUPPORTED_ERROR", "{body}");
        assert!(message.contains(name) && message.contains("not supported by opencti-mock"), "{message}");
    }
}

#[tokio::test]
async fn observables_carry_their_based_on_indicators_in_lists() {
    // Arrange
    let p = MockPlatform::start().await;
    let add = "mutation O($v: IPv4AddrAddInput) { stixCyberObservableAdd(type: \"IPv4-Addr\", IPv4Addr: $v, createIndicator: true, x_opencti_score: 70) { id observable_value } }";
    let list = "query { stixCyberObservables(first: 10, types: [\"IPv4-Addr\"]) { edges { node { observable_value x_opencti_score indicators { edges { node { pattern x_opencti_score } } } } } } }";

    // Act
    let created = call(&p, add, json!({"v": {"value": "198.51.100.7"}})).await;
    call(&p, add, json!({"v": {"value": "198.51.100.8"}})).await;
    let listed = call(&p, list, json!({})).await;

    // Assert
    assert_eq!(created["data"]["stixCyberObservableAdd"]["observable_value"], "198.51.100.7", "{created}");
    let edges = listed["data"]["stixCyberObservables"]["edges"].as_array().expect("edges").clone();
    assert_eq!(edges.len(), 2, "{listed}");
    let node = &edges[0]["node"];
    assert_eq!(node["x_opencti_score"], 70);
    assert_eq!(
        node["indicators"]["edges"],
        json!([{"node": {"pattern": "[ipv4-addr:value = '198.51.100.7']", "x_opencti_score": 70}}])
    );
}

#[tokio::test]
async fn relationships_are_narrowed_by_their_ends_and_types() {
    // Arrange
    let p = MockPlatform::start().await;
    let org = call(&p, ORG_ADD, json!({"input": {"name": "ACME"}})).await["data"]["organizationAdd"].clone();
    let m1 = add_malware(&p, json!({"name": "Emotet"})).await;
    let m2 = add_malware(&p, json!({"name": "Trickbot"})).await;
    let rel = "mutation R($input: StixCoreRelationshipAddInput) { stixCoreRelationshipAdd(input: $input) { id relationship_type from { ... on Malware { name } } to { ... on Organization { name } } } }";
    let list = "query L($from: [String], $types: [String]) { stixCoreRelationships(fromId: $from, relationship_type: $types) { edges { node { from { ... on Malware { name } } } } pageInfo { globalCount } } }";

    // Act
    let created = call(&p, rel, json!({"input": {"fromId": m1["id"], "toId": org["id"], "relationship_type": "targets"}})).await;
    call(&p, rel, json!({"input": {"fromId": m2["standard_id"], "toId": org["standard_id"], "relationship_type": "targets"}}))
        .await;
    let refused = call(&p, rel, json!({"input": {"fromId": org["id"], "toId": m1["id"], "relationship_type": "targets"}})).await;
    let from_m2 = call(&p, list, json!({"from": [m2["id"]]})).await;
    let all = call(&p, list, json!({"types": ["targets"]})).await;

    // Assert
    let r = &created["data"]["stixCoreRelationshipAdd"];
    assert_eq!((&r["from"]["name"], &r["to"]["name"]), (&json!("Emotet"), &json!("ACME")), "{created}");
    assert_eq!(error(&refused).0, "FUNCTIONAL_ERROR", "{refused}");
    assert_eq!(from_m2["data"]["stixCoreRelationships"]["edges"], json!([{"node": {"from": {"name": "Trickbot"}}}]));
    assert_eq!(all["data"]["stixCoreRelationships"]["pageInfo"]["globalCount"], 2);
}

#[tokio::test]
async fn files_pushed_in_multipart_requests_are_listed_in_import_files() {
    // Arrange
    let p = MockPlatform::start().await;
    let malware = add_malware(&p, json!({"name": "Emotet"})).await;
    let push = "mutation P($id: ID!, $file: Upload!) { stixDomainObjectEdit(id: $id) { importPush(file: $file) { id name } } }";
    let operations = json!({"query": push, "variables": {"id": malware["id"], "file": null}});
    let form = reqwest::multipart::Form::new()
        .text("operations", operations.to_string())
        .text("map", json!({"0": ["variables.file"]}).to_string())
        .part(
            "0",
            reqwest::multipart::Part::bytes(b"report body".to_vec())
                .file_name("report.txt")
                .mime_str("text/plain")
                .expect("mime"),
        );
    let files = "query F($id: String!) { stixCoreObject(id: $id) { importFiles { edges { node { id name size metaData { mimetype } } } } } }";

    // Act
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(p.token())
        .multipart(form)
        .send()
        .await
        .expect("answers");
    let pushed: Value = resp.json().await.expect("json");
    let listed = call(&p, files, json!({"id": malware["id"]})).await;

    // Assert
    let expected_id = format!("import/Malware/{}/report.txt", malware["id"].as_str().unwrap());
    assert_eq!(
        pushed["data"]["stixDomainObjectEdit"]["importPush"],
        json!({"id": expected_id, "name": "report.txt"}),
        "{pushed}"
    );
    assert_eq!(
        listed["data"]["stixCoreObject"]["importFiles"]["edges"],
        json!([{"node": {"id": expected_id, "name": "report.txt", "size": 11, "metaData": {"mimetype": "text/plain"}}}])
    );
}

#[tokio::test]
async fn calls_without_a_user_or_capability_get_the_platform_errors() {
    // Arrange
    let p = MockPlatform::start().await;
    let reader = p.add_user("reader", &["KNOWLEDGE"]);

    // Act
    let anonymous = gql(p.url(), None, "query { malwares { edges { node { id } } } }", json!({})).await.1;
    let forbidden = gql(p.url(), Some(&reader), MALWARE_ADD, json!({"input": {"name": "Emotet"}})).await.1;

    // Assert
    assert_eq!(error(&anonymous).0, "AUTH_REQUIRED");
    assert_eq!(error(&forbidden).0, "FORBIDDEN_ACCESS");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_a_list_over_150k_objects_answers_within_a_second() {
    // Arrange: the store is filled directly (the ingest path is not what is measured).
    let p = MockPlatform::start().await;
    let now = chrono::Utc::now();
    p.core().store.write(|s| {
        for i in 0..150_000u32 {
            let id = format!("ipv4-addr--{}", uuid::Uuid::new_v4());
            let value = format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255);
            let body = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": id, "value": value}).to_string();
            let c = Candidate {
                standard_id: id,
                stix_ids: vec![],
                stix_type: "ipv4-addr".into(),
                entity_type: "IPv4-Addr".into(),
                body: body.into(),
            };
            s.knowledge.upsert(c, now);
        }
    });
    let list = "query L($filters: FilterGroup) { stixCyberObservables(first: 100, filters: $filters) { edges { node { id observable_value indicators { edges { node { id } } } } } pageInfo { globalCount hasNextPage } } }";

    // Act
    let start = Instant::now();
    let page = call(&p, list, json!({})).await;
    let elapsed = start.elapsed();

    // Assert
    assert_eq!(page["data"]["stixCyberObservables"]["pageInfo"], json!({"globalCount": 150_000, "hasNextPage": true}), "{page}");
    assert_eq!(page["data"]["stixCyberObservables"]["edges"].as_array().map(Vec::len), Some(100));
    assert!(elapsed < Duration::from_secs(1), "a page took {elapsed:?}");
}

#[tokio::test]
async fn delete_removes_the_object_and_the_relationships_it_is_an_end_of() {
    // Arrange
    let p = MockPlatform::start().await;
    let malware = add_malware(&p, json!({"name": "Emotet"})).await;
    let other = add_malware(&p, json!({"name": "TrickBot"})).await;
    let rel = "mutation R($input: StixCoreRelationshipAddInput) { stixCoreRelationshipAdd(input: $input) { id } }";
    let added =
        call(&p, rel, json!({"input": {"fromId": other["id"], "toId": malware["id"], "relationship_type": "variant-of"}})).await;
    let rel_id = added["data"]["stixCoreRelationshipAdd"]["id"].as_str().expect("relationship created").to_string();
    let delete = "mutation D($id: ID!) { stixDomainObjectEdit(id: $id) { delete } }";

    // Act
    let first = call(&p, delete, json!({"id": malware["id"]})).await;
    let again = call(&p, delete, json!({"id": malware["id"]})).await;

    // Assert
    assert_eq!(first["data"]["stixDomainObjectEdit"]["delete"], malware["id"], "{first}");
    assert!(call(&p, MALWARE, json!({"id": malware["id"]})).await["data"]["malware"].is_null());
    assert!(p.object(&rel_id).is_none(), "the relationship went with its end");
    assert!(p.object(other["id"].as_str().unwrap()).is_some());
    assert_eq!(error(&again).0, "ALREADY_DELETED_ERROR");
    let deletes =
        p.read(|s| s.knowledge.events().iter().filter(|e| e.kind == opencti_mock::store::knowledge::EventKind::Delete).count());
    assert_eq!(deletes, 2, "one event per deleted object");
}
