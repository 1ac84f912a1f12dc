//! Bad input at every layer gets the platform's own answer, and the server stays up:
//! the payload limit, unparsable bodies, bad GraphQL, unknown operations and fields,
//! introspection rules, multipart requests.

mod common;

use common::{REGISTER, gql, registration};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";
const LIMIT: usize = 4096;

async fn platform() -> MockPlatform {
    MockPlatform::builder().connector_user("connector-user", TOKEN).max_payload_body_size(LIMIT.to_string()).start().await
}

/// A JSON body of exactly `size` bytes: a valid `about` query padded with a variable.
fn body_of_size(size: usize) -> Vec<u8> {
    let head = r#"{"query":"query healthCheck { about { version } }","variables":{"pad":""#;
    let tail = r#""}}"#;
    let pad = size - head.len() - tail.len();
    format!("{head}{}{tail}", "x".repeat(pad)).into_bytes()
}

async fn post_raw(p: &MockPlatform, body: Vec<u8>, content_type: &str, chunked: bool) -> (u16, String) {
    let client = reqwest::Client::new();
    let req = client.post(format!("{}/graphql", p.url())).bearer_auth(TOKEN).header("content-type", content_type);
    let req = if chunked {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = body.chunks(1000).map(|c| Ok(c.to_vec())).collect();
        req.body(reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
    } else {
        req.body(body)
    };
    let resp = req.send().await.expect("the server answers instead of resetting the connection");
    (resp.status().as_u16(), resp.text().await.unwrap())
}

async fn still_serving(p: &MockPlatform) {
    let (status, body) = gql(p.url(), Some(TOKEN), "{ about { version } }", json!({})).await;
    assert_eq!((status, body["data"]["about"]["version"].as_str()), (200, Some("7.261026.0")), "the server keeps serving");
}

#[tokio::test]
async fn a_body_of_exactly_the_limit_and_one_byte_less_is_accepted() {
    let p = platform().await;
    for size in [LIMIT - 1, LIMIT] {
        for chunked in [false, true] {
            let (status, text) = post_raw(&p, body_of_size(size), "application/json", chunked).await;
            assert_eq!(status, 200, "{size} bytes (chunked: {chunked}): {text}");
            assert!(text.contains("7.261026.0"));
        }
    }
}

#[tokio::test]
async fn one_byte_over_the_limit_gets_the_platform_answer() {
    let p = platform().await;
    for chunked in [false, true] {
        let (status, text) = post_raw(&p, body_of_size(LIMIT + 1), "application/json", chunked).await;
        assert_eq!(status, 500, "chunked: {chunked}");
        assert_eq!(text, r#"{"status":"error","error":"request entity too large"}"#);
    }
    still_serving(&p).await;
}

#[tokio::test]
async fn far_over_the_limit_is_drained_and_answered() {
    let p = platform().await;
    for chunked in [false, true] {
        let (status, text) = post_raw(&p, vec![b'x'; LIMIT * 100], "application/json", chunked).await;
        assert_eq!((status, text.as_str()), (500, r#"{"status":"error","error":"request entity too large"}"#));
    }
    let rejected = p.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter(|e| matches!(e.kind, opencti_mock::store::transcript::EntryKind::Rejected(_)))
            .count()
    });
    assert_eq!(rejected, 2, "visible in the transcript");
    still_serving(&p).await;
}

#[tokio::test]
async fn malformed_json_gets_the_platform_express_error_shape() {
    let p = platform().await;

    let (status, text) = post_raw(&p, b"{\"query\": ".to_vec(), "application/json", false).await;

    assert_eq!(status, 500);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["status"], "error");
    assert!(body["error"].as_str().unwrap().contains("JSON"), "{body}");
    still_serving(&p).await;
}

#[tokio::test]
async fn a_request_without_a_query_is_a_graphql_error() {
    let p = platform().await;

    let (status, text) = post_raw(&p, br#"{"variables": {}}"#.to_vec(), "application/json", false).await;

    assert_eq!(status, 200);
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["errors"][0]["name"], "BAD_REQUEST");
}

#[tokio::test]
async fn unparsable_graphql_is_a_parse_error_with_http_200() {
    let p = platform().await;

    let (status, body) = gql(p.url(), Some(TOKEN), "query { about { version }", json!({})).await;

    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["name"], "GRAPHQL_PARSE_FAILED", "{body}");
}

#[tokio::test]
async fn unknown_operations_and_fields_fail_with_a_message_naming_them() {
    let p = platform().await;

    let (_, op) = gql(p.url(), Some(TOKEN), "mutation { stixDomainObjectAdd(input: {}) { id } }", json!({})).await;
    let (_, field) = gql(p.url(), Some(TOKEN), "query { about { version dependencies } }", json!({})).await;
    let (_, arg) = gql(p.url(), Some(TOKEN), "query { connector(id: \"x\", extra: 1) { id } }", json!({})).await;

    assert_eq!(op["errors"][0]["name"], "GRAPHQL_VALIDATION_FAILED");
    assert!(op["errors"][0]["message"].as_str().unwrap().contains("stixDomainObjectAdd"), "{op}");
    assert!(field["errors"][0]["message"].as_str().unwrap().contains("dependencies"), "{field}");
    assert!(arg["errors"][0]["message"].as_str().unwrap().contains("extra"), "{arg}");
    assert_eq!(op["data"], Value::Null, "never a silent null without an error");
}

#[tokio::test]
async fn wrong_variable_types_are_refused() {
    let p = platform().await;

    let (_, body) =
        gql(p.url(), Some(TOKEN), REGISTER, json!({"input": {"id": "x", "name": "Importer", "type": "NOT_A_TYPE"}})).await;

    assert!(!body["errors"].as_array().unwrap().is_empty(), "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("NOT_A_TYPE"), "{body}");
}

#[tokio::test]
async fn introspection_is_allowed_for_users_by_default_and_refused_when_disabled() {
    let on = platform().await;
    let off = MockPlatform::builder().connector_user("connector-user", TOKEN).introspection(false).start().await;
    let q = "{ __type(name: \"RegisterConnectorInput\") { inputFields { name } } }";

    let (_, allowed) = gql(on.url(), Some(TOKEN), q, json!({})).await;
    let (_, anonymous) = gql(on.url(), None, q, json!({})).await;
    let (_, refused) = gql(off.url(), Some(TOKEN), q, json!({})).await;

    let fields: Vec<&str> =
        allowed["data"]["__type"]["inputFields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert!(fields.contains(&"xtm_one_intent") && fields.contains(&"slug"));
    assert_eq!(anonymous["errors"][0]["message"], "GraphQL introspection not authorized!");
    assert_eq!(refused["errors"][0]["message"], "GraphQL introspection not authorized!");
}

#[tokio::test]
async fn multipart_requests_are_parsed() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    let operations = json!({"query": REGISTER, "variables": registration(&id, "Importer")}).to_string();
    let form = reqwest::multipart::Form::new().text("operations", operations).text("map", "{}");

    let resp =
        reqwest::Client::new().post(format!("{}/graphql", p.url())).bearer_auth(TOKEN).multipart(form).send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["registerConnector"]["id"], id.as_str());
}

#[tokio::test]
async fn an_oversized_multipart_operations_field_is_refused_as_the_upload_parser_does() {
    let p = platform().await;
    let operations = json!({"query": "{ about { version } }", "variables": {"pad": "x".repeat(1_000_001)}}).to_string();
    let form = reqwest::multipart::Form::new().text("operations", operations).text("map", "{}");

    let resp =
        reqwest::Client::new().post(format!("{}/graphql", p.url())).bearer_auth(TOKEN).multipart(form).send().await.unwrap();

    assert_eq!(resp.status().as_u16(), 500);
    let body: Value = resp.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("'operations'"), "{body}");
    still_serving(&p).await;
}

#[tokio::test]
async fn health_needs_the_configured_access_key() {
    let p = platform().await;

    let resp = reqwest::get(format!("{}/health?health_access_key=ChangeMe", p.url())).await.unwrap();

    assert_eq!(resp.status().as_u16(), 401, "refused while no key is configured, as the platform does");
}
