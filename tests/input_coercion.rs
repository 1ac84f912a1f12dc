//! The platform's input coercion of variables and literals (graphql-js, GraphQL spec §3.11): a single
//! value where the schema's type is a list is a list of that value — in filter `values`
//! and `key`, in list arguments, at any depth of an input object, in variables and in
//! literals written in the document — and `ID` accepts an integer; what graphql-js refuses
//! is still refused with the platform's error.

mod common;

use common::gql;
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const MALWARE_ADD: &str = "mutation MalwareAdd($input: MalwareAddInput!) { malwareAdd(input: $input) { id } }";
const MALWARES: &str = "query Malwares($filters: FilterGroup) { malwares(filters: $filters) { edges { node { id name } } pageInfo { globalCount } } }";
const RELATIONSHIPS: &str = "query Rels($fromId: [String], $relationship_type: [String]) { stixCoreRelationships(fromId: $fromId, relationship_type: $relationship_type) { edges { node { id relationship_type } } } }";
const REL_ADD: &str = "mutation RelAdd($input: StixCoreRelationshipAddInput!) { stixCoreRelationshipAdd(input: $input) { id } }";
const EDIT: &str =
    "mutation Edit($id: ID!, $input: [EditInput]!) { stixDomainObjectEdit(id: $id) { fieldPatch(input: $input) { id } } }";
const MALWARE: &str = "query Malware($id: String) { malware(id: $id) { id description } }";
const FIRST: &str = "query Malwares($first: Int) { malwares(first: $first) { edges { node { id } } } }";

async fn call(p: &MockPlatform, query: &str, variables: Value) -> Value {
    gql(p.url(), Some(p.token()), query, variables).await.1
}

async fn malware(p: &MockPlatform, name: &str) -> String {
    let body = call(p, MALWARE_ADD, json!({"input": {"name": name, "is_family": true}})).await;
    body["data"]["malwareAdd"]["id"].as_str().unwrap_or_else(|| panic!("malwareAdd failed: {body}")).to_string()
}

fn names(body: &Value) -> Vec<String> {
    let edges = body["data"]["malwares"]["edges"].as_array().unwrap_or_else(|| panic!("a connection: {body}"));
    edges.iter().map(|e| e["node"]["name"].as_str().unwrap_or_default().to_string()).collect()
}

#[tokio::test]
async fn a_filter_whose_values_and_key_are_single_strings_is_a_filter_of_one_value() {
    // Arrange
    let p = MockPlatform::start().await;
    malware(&p, "Emotet").await;
    malware(&p, "TrickBot").await;
    let single = json!({"mode": "and", "filters": [{"key": "name", "values": "Emotet"}], "filterGroups": []});
    let listed = json!({"mode": "and", "filters": [{"key": ["name"], "values": ["Emotet"]}], "filterGroups": []});
    let one_filter = json!({"mode": "and", "filters": {"key": "name", "values": "TrickBot"}, "filterGroups": []});

    // Act
    let (from_single, from_list, from_one_filter) = (
        call(&p, MALWARES, json!({"filters": single})).await,
        call(&p, MALWARES, json!({"filters": listed})).await,
        call(&p, MALWARES, json!({"filters": one_filter})).await,
    );

    // Assert
    assert_eq!(names(&from_single), ["Emotet"], "{from_single}");
    assert_eq!(names(&from_list), ["Emotet"], "{from_list}");
    assert_eq!(names(&from_one_filter), ["TrickBot"], "a single filter object for `filters: [Filter!]!`: {from_one_filter}");
}

#[tokio::test]
async fn list_arguments_and_list_fields_of_inputs_take_a_single_value_at_any_depth() {
    // Arrange
    let p = MockPlatform::start().await;
    let (emotet, trickbot) = (malware(&p, "Emotet").await, malware(&p, "TrickBot").await);
    let rel = call(&p, REL_ADD, json!({"input": {"fromId": emotet, "toId": trickbot, "relationship_type": "uses"}})).await;
    assert!(rel["errors"].is_null(), "{rel}");

    // Act
    let found = call(&p, RELATIONSHIPS, json!({"fromId": emotet, "relationship_type": "uses"})).await;
    let edited = call(&p, EDIT, json!({"id": emotet, "input": {"key": "description", "value": "a banking trojan"}})).await;
    let read = call(&p, MALWARE, json!({"id": emotet})).await;
    let nested = json!({"mode": "or", "filters": [], "filterGroups": {"mode": "and", "filters": {"key": "name", "values": "TrickBot"}, "filterGroups": []}});
    let by_nested_group = call(&p, MALWARES, json!({"filters": nested})).await;

    // Assert
    let edges = found["data"]["stixCoreRelationships"]["edges"].as_array().cloned().unwrap_or_default();
    assert_eq!(edges.len(), 1, "{found}");
    assert!(edited["errors"].is_null(), "a single EditInput for `[EditInput]!`, and a single value for its `value`: {edited}");
    assert_eq!(read["data"]["malware"]["description"], "a banking trojan");
    assert_eq!(
        names(&by_nested_group),
        ["TrickBot"],
        "a single nested group for `filterGroups: [FilterGroup!]!`: {by_nested_group}"
    );
}

#[tokio::test]
async fn literal_arguments_written_in_the_document_are_coerced_too() {
    // Arrange
    let p = MockPlatform::start().await;
    malware(&p, "Emotet").await;
    malware(&p, "TrickBot").await;
    let query = r#"query { malwares(filters: {mode: and, filters: {key: "name", values: "Emotet"}, filterGroups: []}) { edges { node { id name } } } }"#;

    // Act
    let body = call(&p, query, json!({})).await;

    // Assert
    assert_eq!(names(&body), ["Emotet"], "a literal filter whose `values` is a string: {body}");
}

#[tokio::test]
async fn what_graphql_js_refuses_is_still_refused_with_the_platform_s_error() {
    // Arrange
    let p = MockPlatform::start().await;

    // Act
    let body = call(&p, FIRST, json!({"first": "ten"})).await;

    // Assert
    assert_eq!(body["errors"][0]["name"], "BAD_USER_INPUT", "{body}");
    assert!(body["data"].is_null() || body["data"]["malwares"].is_null(), "{body}");
}
