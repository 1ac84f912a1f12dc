//! What the platform does with pushed objects: standard ids and upserts, references the
//! worker retries, relationship types, observable syntax, patterns, markings — each refusal
//! recorded on the work exactly as pycti's worker records it.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, REGISTER, TO_PROCESSED, WORK_ADD, gql, registration};
use opencti_mock::store::works::Work;
use opencti_mock::{MockPlatform, MockPlatformBuilder};
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// A platform whose worker retries missing references after 1–5 ms instead of 1–3 s.
fn fast_retries() -> MockPlatformBuilder {
    MockPlatform::builder().missing_ref_retry_delay(Duration::from_millis(1), Duration::from_millis(5))
}

async fn connector(p: &MockPlatform) -> String {
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Importer")).await;
    id
}

/// Pushes `objects` in one bundle on a new work, closes the work and waits for it.
async fn push(p: &MockPlatform, connector: &str, objects: Value) -> Work {
    let (_, body) =
        gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": connector, "friendlyName": "run", "isMultiPartWork": false}))
            .await;
    let work = body["data"]["workAdd"]["id"].as_str().unwrap().to_string();
    let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects});
    let (_, pushed) =
        gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": connector, "bundle": bundle.to_string(), "work_id": work}))
            .await;
    assert_eq!(pushed["data"]["stixBundlePush"], true, "{pushed}");
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    p.wait_for_work_complete(&work, Duration::from_secs(20)).await.expect("the work completes")
}

fn malware(id: &str, name: &str) -> Value {
    json!({"type": "malware", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "name": name, "is_family": true})
}

fn relationship(id: &str, rel: &str, from: &str, to: &str) -> Value {
    json!({"type": "relationship", "spec_version": "2.1", "id": id, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "relationship_type": rel, "source_ref": from, "target_ref": to})
}

#[tokio::test]
async fn objects_are_stored_under_the_standard_id_and_upserted_from_any_of_their_ids() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let first = "malware--11111111-1111-4111-8111-111111111111";
    let second = "malware--22222222-2222-4222-8222-222222222222";

    let w1 = push(&p, &c, json!([malware(first, "Emotet")])).await;
    let w2 = push(&p, &c, json!([malware(second, "  emotet ")])).await;
    let w3 = push(&p, &c, json!([malware(first, "Emotet")])).await;

    assert!(w1.errors.is_empty() && w2.errors.is_empty() && w3.errors.is_empty());
    let malwares: Vec<_> = p.objects().into_iter().filter(|o| &*o.entity_type == "Malware").collect();
    assert_eq!(malwares.len(), 1, "the same name is the same malware: {malwares:?}");
    let m = &malwares[0];
    // pycti: Malware.generate_id("Emotet") (name lower-cased and stripped).
    assert_eq!(m.standard_id, "malware--36297121-bf18-56e1-b200-d39c9f9f5cee");
    assert_eq!(m.stix_ids, vec![first.to_string(), second.to_string()]);
    assert_eq!(m.writes, 3);
    assert_ne!(m.internal_id.to_string(), m.standard_id, "internal ids are not standard ids");
    assert_eq!(p.object(second).map(|o| o.internal_id), Some(m.internal_id));
}

#[tokio::test]
async fn a_relationship_to_an_unknown_object_is_retried_then_reported_as_pycti_does() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let m = "malware--11111111-1111-4111-8111-111111111111";
    let absent = "intrusion-set--99999999-9999-4999-8999-999999999999";
    let rel = relationship("relationship--33333333-3333-4333-8333-333333333333", "uses", absent, m);

    let w = push(&p, &c, json!([malware(m, "Emotet"), rel])).await;

    assert_eq!((w.import_expected_number, w.completed_number), (2, 2));
    assert_eq!(w.errors.len(), 1, "{:?}", w.errors);
    assert_eq!(
        w.errors[0].message,
        format!(
            "{{'name': 'MISSING_REFERENCE_ERROR', 'error_message': 'Element(s) not found', 'http_status': 404, \
             'genre': 'BUSINESS', 'unresolvedIds': ['{absent}'], 'doc_code': 'ELEMENT_NOT_FOUND'}}"
        )
    );
    let source = w.errors[0].source.as_deref().unwrap();
    assert!(source.starts_with("{\"type\": \"relationship\", \"spec_version\": \"2.1\""), "{source}");
    assert!(source.ends_with("\"nb_deps\": 1, \"x_opencti_stix_ids\": null, \"x_opencti_granted_refs\": null, \"x_opencti_workflow_id\": null, \"x_opencti_modified_at\": null, \"opencti_upsert_operations\": null}"), "{source}");
    let retries = p.read(|s| {
        s.transcript
            .entries()
            .iter()
            .filter(|e| {
                matches!(
                    &e.kind,
                    opencti_mock::store::transcript::EntryKind::Worker {
                        event: opencti_mock::store::transcript::WorkerEvent::Retried,
                        ..
                    }
                )
            })
            .count()
    });
    assert_eq!(retries, 4, "pycti retries a missing reference 4 times (5 attempts)");
    assert!(p.objects().iter().all(|o| &*o.entity_type != "uses"));
}

#[tokio::test]
async fn a_reference_arriving_while_the_worker_retries_resolves() {
    // Retries 300 ms apart: after the first retry is seen, the ends arrive well within the
    // remaining retries.
    let p = MockPlatform::builder()
        .missing_ref_retry_delay(Duration::from_millis(300), Duration::from_millis(300))
        .connector_user("importer", TOKEN)
        .start()
        .await;
    let c = connector(&p).await;
    let m = "malware--11111111-1111-4111-8111-111111111111";
    let is_id = "intrusion-set--44444444-4444-4444-8444-444444444444";
    let is = json!({"type": "intrusion-set", "spec_version": "2.1", "id": is_id, "name": "APT0",
        "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z"});
    let rel = relationship("relationship--33333333-3333-4333-8333-333333333333", "uses", is_id, m);
    let (_, body) =
        gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": c, "friendlyName": "run", "isMultiPartWork": false})).await;
    let work = body["data"]["workAdd"]["id"].as_str().unwrap().to_string();
    let send = |objects: Value| {
        let bundle = json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects});
        gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": c, "bundle": bundle.to_string(), "work_id": work}))
    };

    send(json!([rel])).await;
    p.wait_until("a first retry", Duration::from_secs(10), |s| {
        s.transcript.entries().iter().any(|e| format!("{:?}", e.kind).contains("object retried"))
    })
    .await
    .unwrap();
    send(json!([is, malware(m, "Emotet")])).await;
    gql(p.url(), Some(TOKEN), TO_PROCESSED, json!({"id": work, "message": "done", "inError": false})).await;
    let w = p.wait_for_work_complete(&work, Duration::from_secs(20)).await.unwrap();

    assert!(w.errors.is_empty(), "{:?}", w.errors);
    assert_eq!((w.import_expected_number, w.completed_number), (3, 3));
    assert_eq!(p.objects().iter().filter(|o| &*o.entity_type == "uses").count(), 1);
}

#[tokio::test]
async fn an_unknown_optional_reference_is_dropped_on_the_fourth_attempt_without_error() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let mut m = malware("malware--11111111-1111-4111-8111-111111111111", "Emotet");
    m["created_by_ref"] = json!("identity--99999999-9999-4999-8999-999999999999");

    let w = push(&p, &c, json!([m])).await;

    assert!(w.errors.is_empty(), "{:?}", w.errors);
    let stored = p.object("malware--11111111-1111-4111-8111-111111111111").expect("stored");
    assert!(stored.json().get("created_by_ref").is_none(), "the unresolved reference is dropped");
}

#[tokio::test]
async fn relationships_the_platform_does_not_allow_are_refused_without_retry() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let country = json!({"type": "location", "spec_version": "2.1", "id": "location--55555555-5555-4555-8555-555555555555",
        "name": "France", "country": "FR", "x_opencti_location_type": "Country"});
    let m = "malware--11111111-1111-4111-8111-111111111111";
    let rel = relationship(
        "relationship--33333333-3333-4333-8333-333333333333",
        "uses",
        "location--55555555-5555-4555-8555-555555555555",
        m,
    );

    let w = push(&p, &c, json!([country, malware(m, "Emotet"), rel])).await;

    assert_eq!(w.errors.len(), 1);
    assert_eq!(
        w.errors[0].message,
        "{'name': 'FUNCTIONAL_ERROR', 'error_message': 'The relationship type uses is not allowed between Country and Malware', \
         'http_status': 400, 'genre': 'BUSINESS'}"
    );
    let retried = p.read(|s| s.transcript.entries().iter().any(|e| format!("{:?}", e.kind).contains("object retried")));
    assert!(!retried);
}

#[tokio::test]
async fn malformed_observables_and_patterns_are_refused_and_valid_ones_stored() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let objects = json!([
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--4b1e8c2a-7d3f-5a6b-9c8d-1e2f3a4b5c6d", "value": "999.1.1"},
        {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--4b1e8c2a-7d3f-5a6b-9c8d-1e2f3a4b5c6e", "value": "example.com"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2f4a6b-1c3d-4e5f-a6b7-c8d9e0f1a2b3",
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "Bad",
         "pattern": "[ipv4-addr:value = ", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--8e2f4a6b-1c3d-4e5f-a6b7-c8d9e0f1a2b4",
         "created": "2024-01-01T00:00:00.000Z", "modified": "2024-01-01T00:00:00.000Z", "name": "Good",
         "pattern": "[domain-name:value = 'example.com']", "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}
    ]);

    let w = push(&p, &c, objects).await;

    let messages: Vec<&str> = w.errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(messages.contains(
        &"{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Observable is not correctly formatted', 'http_status': 400, 'genre': 'BUSINESS', 'type': 'IPv4-Addr', 'doc_code': 'INCORRECT_OBSERVABLE_FORMAT'}"
    ));
    assert!(messages.contains(
        &"{'name': 'FUNCTIONAL_ERROR', 'error_message': 'Indicator of type stix is not correctly formatted.', 'http_status': 400, 'genre': 'BUSINESS', 'doc_code': 'INCORRECT_INDICATOR_FORMAT'}"
    ));
    let types: Vec<String> = p.objects().iter().map(|o| o.entity_type.to_string()).collect();
    assert!(types.contains(&"Domain-Name".to_string()) && types.contains(&"Indicator".to_string()), "{types:?}");
    assert!(!types.contains(&"IPv4-Addr".to_string()));
}

#[tokio::test]
async fn a_user_limited_to_markings_cannot_write_data_marked_otherwise() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    assert!(p.limit_to_markings(TOKEN, &[TLP_GREEN]));
    let mut green = malware("malware--11111111-1111-4111-8111-111111111111", "Green");
    green["object_marking_refs"] = json!([TLP_GREEN]);
    let mut red = malware("malware--22222222-2222-4222-8222-222222222222", "Red");
    red["object_marking_refs"] = json!([TLP_RED]);

    let w = push(&p, &c, json!([green, red])).await;

    assert_eq!(w.errors.len(), 1, "{:?}", w.errors);
    assert!(w.errors[0].message.contains("User trying to create the data has missing markings"), "{}", w.errors[0].message);
    let names: Vec<String> = p.objects().iter().filter_map(|o| o.json()["name"].as_str().map(str::to_string)).collect();
    assert_eq!(names, vec!["Green"]);
}

#[tokio::test]
async fn labels_and_external_references_become_objects_of_their_own() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let mut m = malware("malware--11111111-1111-4111-8111-111111111111", "Emotet");
    m["labels"] = json!(["banker", "loader"]);
    m["external_references"] =
        json!([{"source_name": "mitre-attack", "external_id": "S0367", "url": "https://attack.mitre.org/software/S0367"}]);

    push(&p, &c, json!([m.clone()])).await;
    m["labels"] = json!(["banker", "botnet"]);
    push(&p, &c, json!([m])).await;

    let objects = p.objects();
    let labels: Vec<String> =
        objects.iter().filter(|o| &*o.entity_type == "Label").map(|o| o.json()["value"].as_str().unwrap().to_string()).collect();
    assert_eq!(labels, vec!["banker", "loader", "botnet"]);
    assert_eq!(objects.iter().filter(|o| &*o.entity_type == "External-Reference").count(), 1);
    let stored = p.object("malware--11111111-1111-4111-8111-111111111111").unwrap().json();
    assert_eq!(stored["labels"], json!(["banker", "loader", "botnet"]), "labels are united on upsert");
}

#[tokio::test]
async fn a_missing_nested_reference_keeps_the_observable_and_reports_missing_elements() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    let dn = json!({"type": "domain-name", "spec_version": "2.1", "id": "domain-name--0f1e2d3c-4b5a-5697-8877-665544332211",
        "value": "example.com", "resolves_to_refs": ["ipv4-addr--0f1e2d3c-4b5a-5697-8877-665544332212"]});

    let w = push(&p, &c, json!([dn])).await;

    assert_eq!(w.errors.len(), 1);
    let stored = p.objects().into_iter().find(|o| &*o.entity_type == "Domain-Name").expect("the observable stays");
    assert_eq!(
        w.errors[0].message,
        format!(
            "{{'name': 'FUNCTIONAL_ERROR', 'error_message': 'MISSING_ELEMENTS', 'http_status': 400, 'genre': 'BUSINESS', \
             'from': '{}', 'from_missing': False, 'to': 'ipv4-addr--0f1e2d3c-4b5a-5697-8877-665544332212', 'to_missing': True}}",
            stored.internal_id
        )
    );
}

#[tokio::test]
async fn the_built_in_markings_exist_from_the_start() {
    let p = MockPlatform::start().await;
    let tlp: Vec<String> = p.read(|s| {
        s.knowledge.all().filter(|o| o.is_built_in()).map(|o| o.json()["name"].as_str().unwrap_or_default().to_string()).collect()
    });
    assert_eq!(tlp.len(), 9, "{tlp:?}");
    assert!(tlp.contains(&"TLP:RED".to_string()) && tlp.contains(&"PAP:CLEAR".to_string()));
    assert!(p.object(TLP_GREEN).is_some(), "found by its fixed STIX id");
    assert!(p.objects().is_empty(), "nothing received yet");
}

#[tokio::test]
async fn stix_findings_are_recorded_and_never_change_the_work() {
    let p = fast_retries().connector_user("importer", TOKEN).start().await;
    let c = connector(&p).await;
    // Accepted by the platform, but not valid STIX 2.1: no `created`/`modified`, and
    // `modified` before `created` on the second one.
    let mut sloppy = malware("malware--11111111-1111-4111-8111-111111111111", "Sloppy");
    sloppy.as_object_mut().unwrap().remove("created");
    let mut backwards = malware("malware--22222222-2222-4222-8222-222222222222", "Backwards");
    backwards["modified"] = json!("2023-01-01T00:00:00.000Z");

    let w = push(&p, &c, json!([sloppy, backwards])).await;

    assert!(w.errors.is_empty(), "findings are not work errors: {:?}", w.errors);
    assert_eq!(p.objects().iter().filter(|o| &*o.entity_type == "Malware").count(), 2, "both stored");
    let findings = p.findings();
    let on = |id: &str| findings.iter().filter(|f| f.object_id == id).collect::<Vec<_>>();
    let first = on("malware--11111111-1111-4111-8111-111111111111");
    assert!(first.iter().any(|f| f.message.contains("created")), "{first:?}");
    let second = on("malware--22222222-2222-4222-8222-222222222222");
    assert!(second.iter().any(|f| f.path == "/modified" && f.rule == "time-order"), "{second:?}");
    assert!(findings.iter().all(|f| f.work_id.as_deref() == Some(w.id.as_str())));
    assert!(findings.iter().all(|f| f.connector_id.as_deref() == Some(c.as_str())));
}

#[tokio::test]
async fn bundles_are_seeded_from_the_builder_and_the_control_api() {
    let seed = json!({"type": "bundle", "id": "bundle--1", "objects": [malware("malware--11111111-1111-4111-8111-111111111111", "Emotet")]});
    let p = MockPlatform::builder().seed(seed.to_string()).start().await;
    assert!(p.object("malware--11111111-1111-4111-8111-111111111111").is_some(), "seeded before the first request");

    let more = json!({"type": "bundle", "id": "bundle--2", "objects": [
        malware("malware--22222222-2222-4222-8222-222222222222", "Emotet"),
        {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--11111111-1111-4111-8111-111111111111", "value": "nope"}
    ]});
    let resp = reqwest::Client::new()
        .post(format!("{}/_mock/seed", p.url()))
        .bearer_auth(p.token())
        .body(more.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let report: Value = resp.json().await.unwrap();
    assert_eq!((report["objects"].as_u64(), report["created"].as_u64(), report["updated"].as_u64()), (Some(2), Some(0), Some(1)));
    assert_eq!(report["refused"][0]["id"], "ipv4-addr--11111111-1111-4111-8111-111111111111");
    let m = p.object("malware--11111111-1111-4111-8111-111111111111").unwrap();
    assert!(m.stix_ids.contains(&"malware--22222222-2222-4222-8222-222222222222".to_string()), "upserted by name");

    let bad =
        reqwest::Client::new().post(format!("{}/_mock/seed", p.url())).bearer_auth(p.token()).body("[]").send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let anonymous = reqwest::Client::new().post(format!("{}/_mock/seed", p.url())).body(more.to_string()).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn a_sightings_opencti_ends_are_taken_before_its_stix_ones_as_the_importer_does() {
    // Arrange: an observable sighted, the STIX property holding a placeholder indicator (as
    // connectors that sight observables write it).
    let p = fast_retries().connector_user("c", TOKEN).start().await;
    let id = connector(&p).await;
    let ip = "ipv4-addr--4c3b2a19-0000-4000-8000-00000000c0de";
    let org = "identity--4c3b2a19-0000-4000-8000-0000000000aa";
    let sighting = json!({"type": "sighting", "spec_version": "2.1", "id": "sighting--4c3b2a19-0000-4000-8000-0000000000bb",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "sighting_of_ref": "indicator--c1034564-a9fb-429b-a1c1-c80116cc8e1e", "x_opencti_sighting_of_ref": ip,
        "where_sighted_refs": [org], "count": 3});

    // Act
    let work = push(
        &p,
        &id,
        json!([
            {"type": "ipv4-addr", "spec_version": "2.1", "id": ip, "value": "198.51.100.99"},
            {"type": "identity", "spec_version": "2.1", "id": org, "name": "Sighting source", "identity_class": "organization",
             "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"},
            sighting
        ]),
    )
    .await;

    // Assert
    assert!(work.errors.is_empty(), "{:?}", work.errors);
    let stored = p.read(|s| s.knowledge.all().find(|o| &*o.stix_type == "sighting").map(|o| o.json())).expect("stored");
    let ip_standard = p.object(ip).expect("the address").standard_id;
    assert_eq!(stored["sighting_of_ref"], ip_standard.as_str(), "{stored}");
    assert!(stored.get("x_opencti_sighting_of_ref").is_none());
}
