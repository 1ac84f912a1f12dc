//! The control API under `/_mock/` and `opencti-mock status`.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, PING, REGISTER, ServeProcess, WORK_ADD, gql, ipv4_bundle, registration};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";

async fn get(p: &MockPlatform, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().get(format!("{}/_mock/{path}", p.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
}

async fn imported(p: &MockPlatform) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    let info = json!({"run_and_terminate": true, "buffering": false, "queue_threshold": 500.0, "queue_messages_size": 0.0,
                      "next_run_datetime": null, "last_run_datetime": "2026-11-26T04:00:00Z"});
    gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "{\"last_run\": 1}", "connectorInfo": info})).await;
    let (_, w) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": id, "friendlyName": "run"})).await;
    let work = w["data"]["workAdd"]["id"].as_str().unwrap().to_string();
    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": id, "bundle": ipv4_bundle(2), "work_id": work})).await;
    p.wait_until("2 objects", Duration::from_secs(10), |s| s.knowledge.received().count() == 2).await.unwrap();
    id
}

#[tokio::test]
async fn every_route_but_health_needs_the_admin_token() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;

    let (health, body) = get(&p, "health", None).await;
    let (anonymous, _) = get(&p, "connectors", None).await;
    let (connector_token, refused) = get(&p, "connectors", Some(TOKEN)).await;
    let (admin, _) = get(&p, "connectors", Some(p.token())).await;

    assert_eq!((health, body["status"].as_str()), (200, Some("ok")));
    assert_eq!(body["version"], "7.261026.0");
    assert_eq!((anonymous, connector_token, admin), (401, 401, 200));
    assert!(refused["error"].as_str().unwrap().contains("admin token"));
}

#[tokio::test]
async fn connectors_show_their_status_as_the_platform_page_does() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let id = imported(&p).await;

    let (_, list) = get(&p, "connectors", Some(p.token())).await;
    let (_, one) = get(&p, &format!("connectors/{id}"), Some(p.token())).await;
    let (missing, _) = get(&p, "connectors/nope", Some(p.token())).await;

    let c = &list[0];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["active"], true);
    assert_eq!(c["state"], "{\"last_run\": 1}");
    assert_eq!(c["connector_info"]["run_and_terminate"], true);
    assert_eq!(c["connector_info"]["last_run_datetime"], "2026-11-26T04:00:00Z");
    assert_eq!(c["queue"], json!({"messages": 0, "bytes": 0}));
    assert_eq!(c["works"]["total"], 1);
    assert_eq!(one["work_list"].as_array().unwrap().len(), 1);
    assert_eq!(missing, 404);
}

#[tokio::test]
async fn objects_bundles_works_users_and_transcript_are_readable() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    imported(&p).await;

    let (_, objects) = get(&p, "objects?type=IPv4-Addr", Some(p.token())).await;
    let first = objects[0]["standard_id"].as_str().unwrap().to_string();
    let (_, object) = get(&p, &format!("objects/{first}"), Some(p.token())).await;
    let (_, bundles) = get(&p, "bundles", Some(p.token())).await;
    let (_, bundle) = get(&p, &format!("bundles/{}", bundles[0]["seq"]), Some(p.token())).await;
    let (_, works) = get(&p, "works", Some(p.token())).await;
    let (_, users) = get(&p, "users", Some(p.token())).await;
    let (_, transcript) = get(&p, "transcript?since=2", Some(p.token())).await;

    assert_eq!(objects.as_array().unwrap().len(), 2);
    assert_eq!(object["type"], "ipv4-addr");
    assert_eq!(bundles[0]["objects"], 2);
    assert_eq!(bundle["objects"].as_array().unwrap().len(), 2);
    assert_eq!(works[0]["expected"], 2);
    assert!(users.as_array().unwrap().iter().any(|u| u["name"] == "c"));
    assert_eq!(transcript[0]["seq"], 3);
}

#[tokio::test]
async fn users_tokens_ingest_controls_state_and_reset() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let id = imported(&p).await;
    let client = reqwest::Client::new();
    let base = format!("{}/_mock", p.url());

    let created: Value = client
        .post(format!("{base}/users"))
        .bearer_auth(p.token())
        .json(&json!({"name": "second"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    let works = gql(p.url(), Some(&token), "{ connectors { id } }", json!({})).await.1;
    client.delete(format!("{base}/tokens/{token}")).bearer_auth(p.token()).send().await.unwrap();
    let revoked = gql(p.url(), Some(&token), "{ connectors { id } }", json!({})).await.1;
    let paused: Value = client
        .put(format!("{base}/ingest"))
        .bearer_auth(p.token())
        .json(&json!({"paused": true, "delay_ms": 5}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let state: Value = client
        .put(format!("{base}/connectors/{id}/state"))
        .bearer_auth(p.token())
        .json(&json!({"state": {"cursor": 7}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reset_state: Value = client
        .post(format!("{base}/connectors/{id}/reset-state"))
        .bearer_auth(p.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let reset = client.post(format!("{base}/reset")).bearer_auth(p.token()).send().await.unwrap().status();

    assert!(works["errors"].is_null());
    assert_eq!(revoked["errors"][0]["name"], "AUTH_REQUIRED");
    assert_eq!((paused["paused"].as_bool(), paused["delay_ms"].as_u64()), (Some(true), Some(5)));
    assert_eq!(state["state"], "{\"cursor\":7}");
    assert_eq!((reset_state["state"].as_str(), reset_state["state_reset_pending"].as_bool()), (Some(""), Some(true)));
    assert_eq!(reset.as_u16(), 204);
    assert_eq!(p.read(|s| (s.connectors.len(), s.knowledge.received().count(), s.works.all().count())), (0, 0, 0));
}

#[test]
fn status_prints_the_connectors_of_a_running_mock() {
    let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], &[]);
    let client = common::Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    client.graphql(Some("tok-importer"), &json!({"query": REGISTER, "variables": registration(&id, "Status Importer")}));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["status", "--url", &serve.url, "--token", &serve.admin_token])
        .output()
        .unwrap();
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock"))
        .args(["status", "--url", &serve.url, "--token", "wrong"])
        .output()
        .unwrap();

    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("Status Importer [EXTERNAL_IMPORT] ACTIVE"), "{text}");
    assert!(text.contains(&id));
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("admin token"));
}

/// Sends a request head announcing a large body, then only a few bytes of it, and reads
/// the answer: a server that reads the body first never answers.
async fn head_only(p: &MockPlatform, head: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = p.url().trim_start_matches("http://").to_string();
    let mut socket = tokio::net::TcpStream::connect(addr).await.unwrap();
    socket.write_all(head.as_bytes()).await.unwrap();
    socket.write_all(b"{\"name\":").await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut answer))
        .await
        .expect("answered before the body was sent")
        .unwrap();
    String::from_utf8_lossy(&answer[..n]).to_string()
}

#[tokio::test]
async fn a_caller_without_the_admin_token_is_refused_before_its_body_is_read() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;

    for (route, token) in [("seed", ""), ("users", "Authorization: Bearer tok-connector\r\n")] {
        let head = format!(
            "POST /_mock/{route} HTTP/1.1\r\nHost: x\r\n{token}Content-Type: application/json\r\nContent-Length: 40000000\r\n\r\n"
        );
        let answer = head_only(&p, &head).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{route}: {answer}");
        assert!(answer.contains("\"status\":\"error\""), "{answer}");
    }
}

#[tokio::test]
async fn every_error_of_the_control_api_has_its_json_shape() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let client = reqwest::Client::new();
    let url = |path: &str| format!("{}/_mock/{path}", p.url());

    let answers = [
        client.delete(url("faults/not-a-number")).bearer_auth(p.token()).send().await.unwrap(),
        client.put(url("health")).bearer_auth(p.token()).send().await.unwrap(),
        client.post(url("users")).bearer_auth(p.token()).body("{not json").send().await.unwrap(),
        client.post(url("users")).bearer_auth(p.token()).header("content-type", "text/plain").body("{}").send().await.unwrap(),
        client.put(url("ingest")).bearer_auth(p.token()).json(&json!({"paused": "yes"})).send().await.unwrap(),
    ];

    let mut statuses = Vec::new();
    for resp in answers {
        statuses.push(resp.status().as_u16());
        let body: Value = resp.json().await.expect("a JSON error body");
        assert_eq!(body["status"], "error", "{body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{body}");
    }
    assert_eq!(statuses, [400, 405, 400, 400, 400]);
}

#[tokio::test]
async fn a_state_as_large_as_ping_accepts_is_accepted_by_the_control_api() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let id = imported(&p).await;
    let state = json!({"blob": "s".repeat(3 << 20)}).to_string();

    let resp = reqwest::Client::new()
        .put(format!("{}/_mock/connectors/{id}/state", p.url()))
        .bearer_auth(p.token())
        .json(&json!({"state": state}))
        .send()
        .await
        .unwrap();

    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(p.connector(&id).unwrap().connector_state.as_deref().map(str::len), Some(state.len()));
}

#[tokio::test]
async fn a_token_names_one_user_only() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let add = |name: &str, token: &str| {
        reqwest::Client::new()
            .post(format!("{}/_mock/users", p.url()))
            .bearer_auth(p.token())
            .json(&json!({"name": name, "token": token}))
            .send()
    };

    let taken = add("thief", TOKEN).await.unwrap();
    let admin_taken = add("thief", p.token()).await.unwrap();
    let fresh = add("newcomer", "tok-new").await.unwrap();

    assert_eq!((taken.status().as_u16(), admin_taken.status().as_u16(), fresh.status().as_u16()), (409, 409, 201));
    let body: Value = taken.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("already the token of user 'c'"), "{body}");
    let duplicate = MockPlatform::builder().connector_user("a", "same").connector_user("b", "same").try_start().await;
    let Err(err) = duplicate else { panic!("two users with one token do not start") };
    let err = err.to_string();
    assert!(err.contains("already the token of user 'a'"), "{err}");
}

#[tokio::test]
async fn activity_waits_for_idle_and_refusals_are_typed() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).ingest_paused(true).start().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    let (_, w) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": id, "friendlyName": "run"})).await;
    let work = w["data"]["workAdd"]["id"].as_str().unwrap().to_string();
    let bad = json!({"type": "bundle", "id": "bundle--5b0c1d2e-3f4a-4b5c-8d6e-7f8091a2b3c4", "objects": [
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "value": "not an address"}]});
    gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": id, "bundle": bad.to_string(), "work_id": work})).await;

    let (status, busy) = get(&p, "activity?wait_ms=200", Some(p.token())).await;
    assert_eq!((status, busy["idle"].as_bool(), busy["queued_messages"].as_u64()), (200, Some(false), Some(1)), "{busy}");
    p.set_ingest_paused(false);
    let (_, idle) = get(&p, "activity?wait_ms=20000", Some(p.token())).await;
    assert_eq!(idle["idle"], true, "{idle}");
    let (_, refusals) = get(&p, "refusals", Some(p.token())).await;

    assert_eq!(refusals.as_array().map(Vec::len), Some(1), "{refusals}");
    assert_eq!(refusals[0]["kind"], "object");
    assert_eq!(refusals[0]["connector_id"], id.as_str());
    assert_eq!(refusals[0]["work_id"], work.as_str());
    assert!(refusals[0]["source"].as_str().is_some_and(|s| s.contains("not an address")), "{refusals}");
}
