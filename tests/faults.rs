//! Fault rules, from the builder and from the control API.

mod common;

use std::time::{Duration, Instant};

use common::{PING, REGISTER, error_code, gql, registration};
use opencti_mock::store::transcript::EntryKind;
use opencti_mock::{FaultAction, FaultSpec, MockPlatform};
use serde_json::json;

const TOKEN: &str = "tok-connector";

#[tokio::test]
async fn an_error_fault_hits_only_the_nth_call_of_the_named_operation() {
    let p = MockPlatform::builder()
        .connector_user("c", TOKEN)
        .fault(FaultSpec::on_call(
            "PingConnector",
            2,
            FaultAction::Error { code: "DATABASE_ERROR".into(), message: "Elastic down".into() },
        ))
        .start()
        .await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;

    let codes: Vec<Option<String>> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(error_code(&gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "null"})).await.1));
        }
        v
    };

    assert_eq!(codes, vec![None, Some("DATABASE_ERROR".into()), None]);
    let fired = p.read(|s| s.transcript.entries().iter().filter(|e| matches!(e.kind, EntryKind::Fault { .. })).count());
    assert_eq!(fired, 1, "visible in the transcript");
}

#[tokio::test]
async fn a_delay_fault_slows_the_operation_down() {
    let p = MockPlatform::builder()
        .connector_user("c", TOKEN)
        .fault(FaultSpec::always("about", FaultAction::Delay { ms: 300 }))
        .start()
        .await;

    let start = Instant::now();
    let (_, body) = gql(p.url(), Some(TOKEN), "query healthCheck { about { version } }", json!({})).await;

    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(body["data"]["about"]["version"], "7.261026.0");
}

#[tokio::test]
async fn a_revoked_token_fault_turns_that_call_and_later_ones_into_auth_required() {
    let p = MockPlatform::builder()
        .connector_user("c", TOKEN)
        .fault(FaultSpec::on_call("healthCheck", 2, FaultAction::RevokeToken { token: None }))
        .start()
        .await;
    let q = "query healthCheck { about { version } }";

    let first = error_code(&gql(p.url(), Some(TOKEN), q, json!({})).await.1);
    let second = error_code(&gql(p.url(), Some(TOKEN), q, json!({})).await.1);
    let third = error_code(&gql(p.url(), Some(TOKEN), "{ connectors { id } }", json!({})).await.1);

    assert_eq!((first, second.as_deref(), third.as_deref()), (None, Some("AUTH_REQUIRED"), Some("AUTH_REQUIRED")));
}

#[tokio::test]
async fn an_http_status_fault_answers_like_a_proxy_in_front_of_the_platform() {
    let p = MockPlatform::builder()
        .connector_user("c", TOKEN)
        .fault(FaultSpec::always(
            "StixBundlePush",
            FaultAction::HttpStatus { status: 413, body: "Request Entity Too Large".into() },
        ))
        .start()
        .await;

    let (status, body) = gql(p.url(), Some(TOKEN), common::BUNDLE_PUSH, json!({"connectorId": "x", "bundle": "{}"})).await;

    assert_eq!(status, 413);
    assert_eq!(body, json!("Request Entity Too Large"));
}

#[tokio::test]
async fn faults_are_managed_through_the_control_api() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/_mock/faults", p.url());

    let created: serde_json::Value = client
        .post(&url)
        .bearer_auth(p.token())
        .json(&json!({"operation": "about", "action": {"kind": "error", "code": "FUNCTIONAL_ERROR", "message": "nope"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let during = error_code(&gql(p.url(), Some(TOKEN), "{ about { version } }", json!({})).await.1);
    let listed: serde_json::Value = client.get(&url).bearer_auth(p.token()).send().await.unwrap().json().await.unwrap();
    let removed = client.delete(format!("{url}/{}", created["id"])).bearer_auth(p.token()).send().await.unwrap().status();
    let after = error_code(&gql(p.url(), Some(TOKEN), "{ about { version } }", json!({})).await.1);
    let refused = client.post(&url).bearer_auth(p.token()).json(&json!({"operation": "about"})).send().await.unwrap().status();

    assert_eq!(during.as_deref(), Some("FUNCTIONAL_ERROR"));
    assert_eq!(listed[0]["fired"], 1);
    assert_eq!(removed.as_u16(), 204);
    assert_eq!(after, None);
    assert_eq!(refused.as_u16(), 400, "a rule without an action is refused");
}
