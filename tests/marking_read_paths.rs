//! Markings hold on every read path: what a user may not see is not answered by `stix(id:)`
//! nor served by `/storage/get/…`, as the typed readers already did; and a file needs the
//! capabilities the platform's `loadFile` asks for.

mod common;

use common::gql;
use opencti_mock::MockPlatform;
use serde_json::json;

const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";
const TLP_CLEAR: &str = "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9";
const RED_MALWARE: &str = "malware--0b1c4a6e-0000-4000-8000-0000000000aa";
const CLEAR_MALWARE: &str = "malware--0b1c4a6e-0000-4000-8000-0000000000bb";

async fn platform() -> (MockPlatform, String, String, String) {
    let p = MockPlatform::builder().start().await;
    let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
        {"type": "malware", "spec_version": "2.1", "id": RED_MALWARE, "name": "Red", "is_family": true,
         "object_marking_refs": [TLP_RED]},
        {"type": "malware", "spec_version": "2.1", "id": CLEAR_MALWARE, "name": "Clear", "is_family": true,
         "object_marking_refs": [TLP_CLEAR]}
    ]});
    p.seed(&bundle.to_string()).expect("seeded");
    let limited = p.add_connector_user("limited");
    assert!(p.limit_to_markings(&limited, &[TLP_CLEAR]));
    let connector = p.add_connector_user("connector");
    let nobody = p.add_user("no capability", &[]);
    (p, limited, connector, nobody)
}

#[tokio::test]
async fn stix_answers_only_what_the_caller_may_see() {
    let (p, limited, connector, _) = platform().await;
    let q = "query S($id: String!) { stix(id: $id) }";

    let (_, red_for_limited) = gql(p.url(), Some(&limited), q, json!({"id": RED_MALWARE})).await;
    let (_, clear_for_limited) = gql(p.url(), Some(&limited), q, json!({"id": CLEAR_MALWARE})).await;
    let (_, red_for_unlimited) = gql(p.url(), Some(&connector), q, json!({"id": RED_MALWARE})).await;
    let (_, typed_for_limited) =
        gql(p.url(), Some(&limited), "query M($id: String!) { malware(id: $id) { id } }", json!({"id": RED_MALWARE})).await;

    assert_eq!(red_for_limited["data"]["stix"], json!(null), "{red_for_limited}");
    assert_eq!(typed_for_limited["data"]["malware"], json!(null), "the typed reader agrees");
    assert!(clear_for_limited["data"]["stix"].as_str().is_some_and(|s| s.contains("Clear")));
    assert!(red_for_unlimited["data"]["stix"].as_str().is_some_and(|s| s.contains("Red")));
}

async fn download(p: &MockPlatform, id: &str, token: &str) -> (u16, String) {
    let resp = reqwest::Client::new().get(format!("{}/storage/get/{id}", p.url())).bearer_auth(token).send().await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test]
async fn storage_serves_a_file_only_to_users_who_may_read_it() {
    let (p, limited, connector, nobody) = platform().await;
    let upload = |name: &str, markings: &[&str], entity: Option<&str>| opencti_mock::jobs::Upload {
        filename: name.into(),
        mime_type: "application/json".into(),
        content: bytes::Bytes::from_static(b"{}"),
        markings: markings.iter().map(|m| m.to_string()).collect(),
        entity_id: entity.map(str::to_string),
        pending: false,
        no_trigger_import: true,
    };
    let (red, _) = p.upload(upload("red.json", &[TLP_RED], None)).unwrap();
    let (clear, _) = p.upload(upload("clear.json", &[TLP_CLEAR], None)).unwrap();
    let (of_red_entity, _) = p.upload(upload("report.json", &[], Some(RED_MALWARE))).unwrap();

    let refused = (503, json!({"status": "error", "error": "File not found or restricted"}).to_string());
    assert_eq!(download(&p, &red.id, &limited).await, refused, "a marking the user lacks");
    assert_eq!(download(&p, &of_red_entity.id, &limited).await, refused, "an entity the user cannot see");
    assert_eq!(download(&p, &clear.id, &nobody).await, refused, "no KNOWLEDGE capability");
    assert_eq!(download(&p, &clear.id, &limited).await, (200, "{}".to_string()));
    assert_eq!(download(&p, &red.id, &connector).await, (200, "{}".to_string()));
    assert_eq!(download(&p, &of_red_entity.id, p.token()).await, (200, "{}".to_string()));
}
