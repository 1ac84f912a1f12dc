//! Hostile GraphQL documents, with and without a token, get a validation error in the
//! platform's words and cost nothing: fragment cycles (which overflowed the stack), doubled
//! spreads nested k times (2^k fields), root fields over the platform's batching limits,
//! and bracket nesting deeper than the parser can take. The server keeps serving.

mod common;

use std::time::{Duration, Instant};

use common::{error_code, gql};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";

async fn platform() -> MockPlatform {
    MockPlatform::builder().connector_user("connector-user", TOKEN).start().await
}

async fn still_serving(p: &MockPlatform) {
    let (status, body) = gql(p.url(), Some(TOKEN), "{ about { version } }", json!({})).await;
    assert_eq!((status, body["data"]["about"]["version"].as_str()), (200, Some("7.261026.0")), "the server keeps serving");
}

fn message(body: &Value) -> String {
    body["errors"][0]["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn fragment_cycles_are_refused_with_or_without_a_token() {
    let p = platform().await;
    let documents = [
        ("query { ...A } fragment A on Query { ...A }", "Cannot spread fragment \"A\" within itself."),
        (
            "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
            "Cannot spread fragment \"A\" within itself via \"B\".",
        ),
        (
            "mutation { workEdit(id: \"w\") { ...E } } fragment E on WorkEditMutations { ...E }",
            "Cannot spread fragment \"E\" within itself.",
        ),
    ];
    for (document, expected) in documents {
        for token in [None, Some(TOKEN)] {
            let (status, body) = gql(p.url(), token, document, json!({})).await;
            assert_eq!(status, 200, "{document}: {body}");
            assert_eq!(message(&body), expected, "{document}");
            assert_eq!(error_code(&body).as_deref(), Some("GRAPHQL_VALIDATION_FAILED"));
            assert_eq!(body["errors"][0]["name"], "GRAPHQL_VALIDATION_FAILED");
        }
    }
    still_serving(&p).await;
}

/// `query { ...F0 }` with `F_i { ...F_i+1 ...F_i+1 }`: 2^k fields once expanded.
fn doubled_spreads(k: usize) -> String {
    let mut doc = String::from("query { ...F0 }\n");
    for i in 0..k {
        doc.push_str(&format!("fragment F{i} on Query {{ ...F{} ...F{} }}\n", i + 1, i + 1));
    }
    doc.push_str(&format!("fragment F{k} on Query {{ about {{ version }} }}\n"));
    doc
}

#[tokio::test]
async fn doubled_spreads_are_refused_before_any_field_runs() {
    let p = platform().await;
    for k in [18, 32] {
        let started = Instant::now();
        let (status, body) = gql(p.url(), None, &doubled_spreads(k), json!({})).await;
        assert_eq!(status, 200);
        let expected =
            format!("The operation resolves {} fields once its fragments are expanded; the limit is 50000.", 2u64 << k);
        assert_eq!(message(&body), expected);
        assert!(started.elapsed() < Duration::from_secs(5), "k={k} took {:?}", started.elapsed());
    }
    // The same nesting under a root field.
    let nested = doubled_spreads(20).replace("query { ...F0 }", "query { about { ...G0 } }").replace("on Query", "on AppInfo");
    let nested = nested.replace("about { version }", "version").replace("...F", "...G").replace("fragment F", "fragment G");
    let (_, body) = gql(p.url(), Some(TOKEN), &nested, json!({})).await;
    assert!(message(&body).starts_with("The operation resolves 1048577 fields"), "{body}");
    still_serving(&p).await;
}

#[tokio::test]
async fn root_fields_follow_the_platform_batching_limits() {
    let p = platform().await;

    let (_, twice) = gql(p.url(), Some(TOKEN), "{ a: about { version } b: about { version } }", json!({})).await;
    let (_, thrice) = gql(p.url(), None, "{ a: about { version } b: about { version } c: about { version } }", json!({})).await;
    let (_, mutations) = gql(
        p.url(),
        Some(TOKEN),
        "mutation { a: workEdit(id: \"x\") { toReceived } b: workEdit(id: \"y\") { toReceived } }",
        json!({}),
    )
    .await;

    assert_eq!(twice["data"]["b"]["version"], "7.261026.0", "{twice}");
    assert_eq!(message(&thrice), "Allowed number of calls for Query->about has been exceeded (max: 2)");
    assert_eq!(message(&mutations), "Allowed number of calls for Mutation->workEdit has been exceeded (max: 1)");
    assert_eq!(error_code(&mutations).as_deref(), Some("GRAPHQL_VALIDATION_FAILED"));
    assert!(p.works().is_empty());
}

#[tokio::test]
async fn bracket_nesting_deeper_than_the_parser_takes_is_refused_unparsed() {
    let p = platform().await;
    let deep = format!("query {}{}", "{ about ".repeat(200_000), "}".repeat(200_000));
    let values = format!("query {{ stix(id: {}\"x\"{}) }}", "[".repeat(200_000), "]".repeat(200_000));
    for document in [deep, values] {
        let (status, body) = gql(p.url(), None, &document, json!({})).await;
        assert_eq!(status, 200);
        assert!(message(&body).starts_with("Document is nested too deeply: 200"), "{body}");
        assert!(message(&body).ends_with("levels of brackets, the limit is 128."), "{body}");
    }
    still_serving(&p).await;
}
