//! Connector lifecycle over raw GraphQL: registration, ping and state, reset, deletion,
//! listings, and the auth rules around them.

mod common;

use common::{PING, REGISTER, error_code, gql, registration};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";

async fn platform() -> MockPlatform {
    MockPlatform::builder().connector_user("connector-user", TOKEN).start().await
}

fn info() -> Value {
    json!({"run_and_terminate": false, "buffering": false, "queue_threshold": 500.0, "queue_messages_size": 0.0,
           "next_run_datetime": null, "last_run_datetime": null})
}

#[tokio::test]
async fn registration_returns_every_field_pycti_reads() {
    // Arrange
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();

    // Act
    let (status, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;

    // Assert
    assert_eq!(status, 200);
    let c = &body["data"]["registerConnector"];
    assert_eq!(c["id"], id.as_str());
    assert_eq!(c["connector_state"], Value::Null);
    let jwks: Value = serde_json::from_str(c["jwks"].as_str().expect("jwks is a JSON string")).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["alg"], "EdDSA");
    assert!(jwks["keys"][0]["kid"].as_str().is_some_and(|k| !k.is_empty()));
    let conn = &c["config"]["connection"];
    for key in ["host", "vhost", "use_ssl", "port", "user", "pass"] {
        assert!(!conn[key].is_null(), "config.connection.{key} present");
    }
    assert!(c["config"]["s3"].is_object(), "s3 is an object, never null");
    assert_eq!(c["config"]["listen"], format!("listen_{id}"));
    assert_eq!(c["config"]["listen_routing"], format!("listen_routing_{id}"));
    assert_eq!(c["config"]["listen_exchange"], "amqp.connector.exchange");
    assert_eq!(c["config"]["push"], format!("push_{id}"));
    assert_eq!(c["config"]["push_routing"], format!("push_routing_{id}"));
    assert_eq!(c["config"]["push_exchange"], "amqp.worker.exchange");
    let user_id = p.read(|s| s.users.by_token(TOKEN).unwrap().id.clone());
    assert_eq!(c["connector_user_id"], user_id.as_str());
}

#[tokio::test]
async fn registration_accepts_version_slug_and_xtm_one_intent() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    let mut vars = registration(&id, "Importer");
    vars["input"]["version"] = json!("6.8.12");
    vars["input"]["slug"] = json!("importer");
    vars["input"]["xtm_one_intent"] = json!("threat-intel");

    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, vars).await;

    assert!(body["errors"].is_null(), "{body}");
    let c = p.connector(&id).unwrap();
    assert_eq!(c.registration.version.as_deref(), Some("6.8.12"));
    assert_eq!(c.registration.slug.as_deref(), Some("importer"));
    assert_eq!(c.registration.xtm_one_intent.as_deref(), Some("threat-intel"));
}

#[tokio::test]
async fn a_one_character_name_is_refused_as_the_platform_constraint_does() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();

    let (_, body) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "x")).await;

    assert_eq!(error_code(&body).as_deref(), Some("BAD_USER_INPUT"));
    assert!(p.connector(&id).is_none());
}

#[tokio::test]
async fn ping_stores_and_echoes_the_state_and_registration_keeps_it() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;

    let (_, pinged) =
        gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "{\"last_run\": 1}", "connectorInfo": info()})).await;
    let (_, again) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer renamed")).await;

    assert_eq!(pinged["data"]["pingConnector"]["connector_state"], "{\"last_run\": 1}");
    assert_eq!(pinged["data"]["pingConnector"]["connector_info"]["queue_threshold"], 500.0);
    assert_eq!(again["data"]["registerConnector"]["connector_state"], "{\"last_run\": 1}");
    let c = p.connector(&id).unwrap();
    assert_eq!(c.registration.name, "Importer renamed");
    assert_eq!(c.registrations, 2);
    assert_eq!(c.pings, 1);
}

#[tokio::test]
async fn reset_state_makes_the_next_ping_answer_empty_and_ignore_the_sent_state() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "{\"a\": 1}"})).await;

    let (_, reset) = gql(
        p.url(),
        Some(TOKEN),
        "mutation R($id: ID!) { resetStateConnector(id: $id) { id connector_state } }",
        json!({"id": id}),
    )
    .await;
    let (_, first) = gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "{\"a\": 1}"})).await;
    let (_, second) = gql(p.url(), Some(TOKEN), PING, json!({"id": id, "state": "null"})).await;

    assert_eq!(reset["data"]["resetStateConnector"]["connector_state"], "");
    assert_eq!(first["data"]["pingConnector"]["connector_state"], "", "the reset ping ignores the stale state");
    assert_eq!(second["data"]["pingConnector"]["connector_state"], "null", "later pings store again");
}

#[tokio::test]
async fn pinging_an_unknown_connector_is_the_platform_functional_error() {
    let p = platform().await;

    let (status, body) = gql(p.url(), Some(TOKEN), PING, json!({"id": "unknown-id", "state": "null"})).await;

    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["message"], "No connector found with the specified ID");
    assert_eq!(body["errors"][0]["name"], "FUNCTIONAL_ERROR");
    assert_eq!(body["errors"][0]["extensions"]["code"], "FUNCTIONAL_ERROR");
    assert_eq!(body["errors"][0]["extensions"]["data"]["http_status"], 400);
    assert_eq!(body["errors"][0]["extensions"]["data"]["id"], "unknown-id");
}

#[tokio::test]
async fn get_connector_answers_queue_details_and_connectors_lists_it() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    let get = "query GetConnector($id: String!) { connector(id: $id) { id name active auto only_contextual connector_type connector_scope connector_state connector_queue_details { messages_number messages_size } updated_at created_at config { listen listen_exchange push push_exchange push_routing } built_in } }";

    let (_, one) = gql(p.url(), Some(TOKEN), get, json!({"id": id})).await;
    let (_, missing) = gql(p.url(), Some(TOKEN), get, json!({"id": "nope"})).await;
    let (_, all) = gql(p.url(), Some(TOKEN), "{ connectors { id name } }", json!({})).await;

    let c = &one["data"]["connector"];
    assert_eq!(c["active"], true);
    assert_eq!(c["connector_type"], "EXTERNAL_IMPORT");
    assert_eq!(c["connector_scope"], json!(["ipv4-addr"]));
    assert_eq!(c["connector_queue_details"], json!({"messages_number": 0.0, "messages_size": 0.0}));
    assert_eq!(c["built_in"], false);
    assert_eq!(missing["data"]["connector"], Value::Null);
    assert_eq!(all["data"]["connectors"], json!([{"id": id, "name": "Importer"}]));
}

#[tokio::test]
async fn connectors_for_worker_shows_the_user_tokens_only_to_administrators() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    let q = "query GetConnectors { connectorsForWorker { id name connector_user { api_tokens { id name } } connector_priority_group config { connection { host vhost use_ssl port user pass } listen listen_exchange listen_callback_uri push push_exchange push_routing dead_letter_routing } } }";

    let (_, as_admin) = gql(p.url(), Some(p.token()), q, json!({})).await;
    let (_, as_connector) = gql(p.url(), Some(TOKEN), q, json!({})).await;

    let list = as_admin["data"]["connectorsForWorker"].as_array().unwrap();
    let mine = list.iter().find(|c| c["id"] == id.as_str()).expect("registered connector listed");
    assert_eq!(mine["connector_user"]["api_tokens"][0]["name"], "Default");
    assert_eq!(mine["config"]["dead_letter_routing"], "listen_routing_too-large-bundle");
    assert!(list.iter().any(|c| c["id"] == "background-task-0"), "internal queues listed as the platform does");
    let mine =
        as_connector["data"]["connectorsForWorker"].as_array().unwrap().iter().find(|c| c["id"] == id.as_str()).cloned().unwrap();
    assert_eq!(mine["connector_user"], Value::Null, "no SETTINGS_SETACCESSES, no user");
}

#[tokio::test]
async fn delete_connector_removes_it_and_its_works_and_a_second_delete_is_already_deleted() {
    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    gql(p.url(), Some(TOKEN), common::WORK_ADD, json!({"connectorId": id, "friendlyName": "run", "isMultiPartWork": false}))
        .await;
    let del = "mutation ConnectorDeletionMutation($id: ID!) { deleteConnector(id: $id) }";

    let (_, first) = gql(p.url(), Some(TOKEN), del, json!({"id": id})).await;
    let (_, second) = gql(p.url(), Some(TOKEN), del, json!({"id": id})).await;

    assert_eq!(first["data"]["deleteConnector"], id.as_str());
    assert!(p.connector(&id).is_none());
    assert!(p.works().is_empty());
    assert_eq!(error_code(&second).as_deref(), Some("ALREADY_DELETED_ERROR"));
}

#[tokio::test]
async fn no_token_and_a_bad_token_are_both_auth_required() {
    let p = platform().await;
    let q = "query healthCheck { about { version } }";

    let (s1, none) = gql(p.url(), None, q, json!({})).await;
    let (s2, bad) = gql(p.url(), Some("not-a-token"), q, json!({})).await;

    assert_eq!((s1, s2), (200, 200));
    assert_eq!(none["errors"], bad["errors"]);
    assert_eq!(none["errors"][0]["name"], "AUTH_REQUIRED");
    assert_eq!(none["errors"][0]["message"], "You must be logged in to do this.");
    assert_eq!(none["errors"][0]["extensions"]["data"], json!({"http_status": 401, "genre": "TECHNICAL"}));
}

#[tokio::test]
async fn a_user_without_the_capability_gets_forbidden_access() {
    let p = platform().await;
    let reader = p.add_user("reader", &["KNOWLEDGE"]);

    let (_, delete) = gql(p.url(), Some(&reader), "mutation D($id: ID!) { deleteConnector(id: $id) }", json!({"id": "x"})).await;
    let (_, about) = gql(p.url(), Some(&reader), "{ about { version } }", json!({})).await;

    assert_eq!(delete["errors"][0]["name"], "FORBIDDEN_ACCESS");
    assert_eq!(delete["errors"][0]["message"], "You are not allowed to do this.");
    assert_eq!(delete["errors"][0]["extensions"]["data"], json!({"http_status": 403, "genre": "TECHNICAL"}));
    assert_eq!(about["data"]["about"]["version"], "7.261026.0", "about only needs a user");
}

#[tokio::test]
async fn the_connector_role_satisfies_modules_through_modules_manage() {
    let p = platform().await;

    let (_, body) = gql(p.url(), Some(TOKEN), "{ connectors { id } }", json!({})).await;

    assert!(body["errors"].is_null(), "{body}");
}

async fn register_with_headers(p: &MockPlatform, token: &str, applicant: &str, id: &str) -> Value {
    reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(token)
        .header("opencti-applicant-id", applicant)
        .json(&json!({"query": REGISTER, "variables": registration(id, "Importer")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_applicant_header_is_honoured_only_for_bypass_users() {
    let p = platform().await;
    let connector_user = p.read(|s| s.users.by_token(TOKEN).unwrap().id.clone());
    let other = p.add_connector_user("other");
    let (a, b, c) = (uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string(), uuid::Uuid::new_v4().to_string());

    let as_admin = register_with_headers(&p, p.token(), &connector_user, &a).await;
    let as_connector = register_with_headers(&p, &other, &connector_user, &b).await;
    let unknown = register_with_headers(&p, p.token(), "no-such-user", &c).await;

    assert_eq!(as_admin["data"]["registerConnector"]["connector_user_id"], connector_user.as_str(), "admin impersonates");
    let other_id = p.read(|s| s.users.by_token(&other).unwrap().id.clone());
    assert_eq!(as_connector["data"]["registerConnector"]["connector_user_id"], other_id.as_str(), "header ignored");
    assert_eq!(error_code(&unknown).as_deref(), Some("AUTH_REQUIRED"), "unknown applicant: unauthenticated");
}

#[tokio::test]
async fn about_answers_the_profile_version() {
    let p7 = platform().await;
    let p69 = MockPlatform::builder().profile(opencti_mock::Profile::V6_9).start().await;

    let (_, v7) = gql(p7.url(), Some(p7.token()), "{ about { version } }", json!({})).await;
    let (_, v69) = gql(p69.url(), Some(p69.token()), "{ about { version } }", json!({})).await;

    assert_eq!(v7["data"]["about"]["version"], "7.261026.0");
    assert_eq!(v69["data"]["about"]["version"], "6.9.17");
}

#[tokio::test]
async fn connector_jwt_is_an_eddsa_token_verifiable_with_the_registered_jwks() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use ed25519_dalek::{Signature, Verifier, VerifyingKey};

    let p = platform().await;
    let id = uuid::Uuid::new_v4().to_string();
    let (_, reg) = gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    let jwks: Value = serde_json::from_str(reg["data"]["registerConnector"]["jwks"].as_str().unwrap()).unwrap();

    let (_, body) = gql(p.url(), Some(TOKEN), "mutation ConnectorJWT { connectorJWT }", json!({})).await;

    let jwt = body["data"]["connectorJWT"].as_str().expect("a token");
    let parts: Vec<&str> = jwt.split('.').collect();
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], jwks["keys"][0]["kid"]);
    assert_eq!((claims["iss"].as_str(), claims["sub"].as_str()), (Some("opencti"), Some("connector")));
    assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 3600);
    let x: [u8; 32] = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap().try_into().unwrap();
    let key = VerifyingKey::from_bytes(&x).unwrap();
    let sig = Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).expect("signed with the published key");
}

#[tokio::test]
async fn graphiql_is_served_unless_the_playground_is_disabled() {
    let p = platform().await;

    let page = reqwest::get(format!("{}/graphql", p.url())).await.unwrap();

    assert_eq!(page.status().as_u16(), 200);
    assert!(page.text().await.unwrap().to_lowercase().contains("graphiql"));
}
