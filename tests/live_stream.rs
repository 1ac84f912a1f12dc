//! The live stream on the wire, read as raw server-sent events: who may read what (with
//! the platform's reason phrases), the head and the order of messages, each event's keys,
//! positions and recovery, heartbeats, collection filters and their re-labelling of
//! updates, stream collections over GraphQL. The pycti side is `pycti_stream.rs`.

mod common;

use std::time::Duration;

use common::gql;
use common::sse::{Sse, status_line};
use opencti_mock::{MockPlatform, StreamCollection};
use serde_json::{Value, json};

const OCTI: &str = "extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba";
const GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";

fn bundle(objects: Value) -> String {
    json!({"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": objects}).to_string()
}

fn malware(id: &str, name: &str, extra: Value) -> Value {
    let mut m = json!({"type": "malware", "spec_version": "2.1", "id": id, "name": name, "is_family": false,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    m
}

const M1: &str = "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697801";
const M2: &str = "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697802";

async fn platform() -> MockPlatform {
    MockPlatform::builder().stream_heartbeat(Duration::from_millis(300)).start().await
}

/// Opens `/stream/<id>` from the current position (live only), past its `connected`.
async fn tail(p: &MockPlatform, stream: &str, token: &str, headers: &[(&str, &str)]) -> Sse {
    let from = p.stream_position().to_string();
    let mut all = vec![("Last-Event-ID", from.as_str())];
    all.extend_from_slice(headers);
    let mut sse = Sse::open(&format!("{}/stream/{stream}", p.url()), Some(token), &all).await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.next().await.event, "connected");
    sse
}

async fn delete(p: &MockPlatform, id: &str) {
    let (_, answer) =
        gql(p.url(), Some(p.token()), "mutation($id: ID!) { stixCoreObjectEdit(id: $id) { delete } }", json!({"id": id})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
}

#[tokio::test]
async fn the_head_and_the_first_event_are_the_platforms() {
    let p = platform().await;
    let at_open = p.stream_position();
    let mut sse = Sse::open(&format!("{}/stream/live", p.url()), Some(p.token()), &[]).await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.headers["content-type"], "text/event-stream; charset=utf-8");
    assert_eq!(sse.headers["cache-control"], "no-cache, no-transform");
    assert_eq!(sse.headers["access-control-allow-origin"], "*");
    let connected = sse.next().await;
    assert_eq!((connected.event.as_str(), connected.id.as_deref()), ("connected", None), "connected has no id");
    let info = connected.json();
    let keys: Vec<&str> = info.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["lastEventId", "firstEventId", "firstEventDate", "lastEventDate", "streamSize", "connectionId"]);
    assert_eq!(info["lastEventId"], at_open.to_string());
    // Idle: heartbeats carry the position, which moves to now; their data is its date.
    let first = sse.next().await;
    let second = sse.next().await;
    assert_eq!((first.event.as_str(), second.event.as_str()), ("heartbeat", "heartbeat"));
    let (a, b): (opencti_mock::EventId, opencti_mock::EventId) =
        (first.id.unwrap().parse().unwrap(), second.id.unwrap().parse().unwrap());
    assert!(a >= at_open && b > a, "idle heartbeats move to now: {a} then {b}");
    let date: String = serde_json::from_str(&second.data).expect("a JSON string");
    assert_eq!(date, b.date().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
}

#[tokio::test]
async fn refusals_carry_the_reason_in_the_status_line_and_nothing_else() {
    let p = platform().await;
    let connector = p.add_connector_user("[C] stream");
    let stopped = p.add_stream(StreamCollection::new("stopped").stopped()).unwrap();
    let open = p.add_stream(StreamCollection::new("open")).unwrap();
    let bearer = |t: &str| format!("Bearer {t}");
    let (admin, conn) = (bearer(p.token()), bearer(&connector));
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case<'_>> = vec![
        ("/stream".into(), vec![], "401 You are not authenticated, please check your credentials"),
        (
            "/stream".into(),
            vec![("Authorization", conn.as_str())],
            "401 Consume generic stream is only authorized for bypass user",
        ),
        ("/stream/live".into(), vec![], "401 You are not authenticated, please check your credentials"),
        (
            "/stream/live".into(),
            vec![("Authorization", conn.as_str())],
            "401 You are not authorized, please check your credentials",
        ),
        (
            "/stream/raw".into(),
            vec![("Authorization", admin.as_str())],
            "401 You are not authorized, please check your credentials",
        ),
        (format!("/stream/{open}"), vec![], "401 You are not authorized, please check your credentials"),
        (format!("/stream/{stopped}"), vec![], "410 This live stream is stopped"),
        (format!("/stream/{stopped}"), vec![("Authorization", conn.as_str())], "410 This live stream is stopped"),
        (
            format!("/stream/{open}?recover=2026-01-01T00:00:00Z"),
            vec![("Authorization", conn.as_str())],
            "500 Error in stream __OPEN__: Recovery mode is only possible with a start date.",
        ),
    ];
    for (path, headers, expected) in cases {
        let (status, body) = status_line(p.url(), &path, &headers).await;
        let expected = expected.replace("__OPEN__", &open);
        assert_eq!(status, format!("HTTP/1.1 {expected}"), "{path} {headers:?}");
        assert_eq!(body, "", "an empty body: {path}");
    }
    // Every attempt is recorded, with what it was answered.
    let refused =
        p.stream_connections().iter().filter(|c| matches!(c.end, Some(opencti_mock::ConnectionEnd::Refused { .. }))).count();
    assert_eq!(refused, 9);
    // The Connector role reads a named collection.
    let mut sse = Sse::open(&format!("{}/stream/{open}", p.url()), Some(&connector), &[]).await;
    assert_eq!(sse.status, 200);
    assert_eq!(sse.next().await.event, "connected");
}

#[tokio::test]
async fn live_events_carry_the_platform_keys_in_order_and_updates_their_patches() {
    let p = platform().await;
    let mut sse = tail(&p, "live", p.token(), &[]).await;
    p.seed(&bundle(json!([malware(M1, "Emotet", json!({}))]))).unwrap();
    let created = sse.next_data().await;
    assert_eq!(created.event, "create");
    let payload = created.json();
    let keys: Vec<&str> = payload.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["version", "type", "scope", "message", "origin", "data", "event_id"]);
    assert_eq!(
        (payload["version"].as_str(), payload["type"].as_str(), payload["scope"].as_str()),
        (Some("4"), Some("create"), Some("external"))
    );
    assert_eq!(payload["message"], "creates a Malware `Emotet`");
    assert_eq!(payload["data"]["id"], p.object(M1).unwrap().standard_id, "the standard id");
    let ext = &payload["data"]["extensions"][OCTI];
    assert_eq!(ext["type"], "Malware");
    assert!(ext["id"].is_string() && ext["created_at"].is_string(), "{ext}");

    p.seed(&bundle(json!([malware(
        M1,
        "Emotet",
        json!({"description": "Banking trojan", "modified": "2026-02-01T00:00:00.000Z"})
    )])))
    .unwrap();
    let updated = sse.next_data().await;
    assert_eq!(updated.event, "update");
    let u = updated.json();
    let keys: Vec<&str> = u.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["version", "type", "scope", "message", "origin", "data", "context", "event_id"]);
    assert!(u["message"].as_str().unwrap().contains("`Banking trojan` in `Description`"), "{}", u["message"]);
    // The reverse patch applied to the data gives the state before, the patch the way back.
    let before = {
        let mut d = u["data"].clone();
        let reverse: json_patch::Patch = serde_json::from_value(u["context"]["reverse_patch"].clone()).unwrap();
        json_patch::patch(&mut d, &reverse).unwrap();
        d
    };
    assert!(before.get("description").is_none());
    let mut again = before.clone();
    let forward: json_patch::Patch = serde_json::from_value(u["context"]["patch"].clone()).unwrap();
    json_patch::patch(&mut again, &forward).unwrap();
    assert_eq!(again, u["data"]);

    // An upsert that changes nothing is no event.
    p.seed(&bundle(json!([malware(
        M1,
        "Emotet",
        json!({"description": "Banking trojan", "modified": "2026-02-01T00:00:00.000Z"})
    )])))
    .unwrap();
    delete(&p, M1).await;
    let deleted = sse.next_data().await;
    assert_eq!(deleted.event, "delete");
    assert_eq!(deleted.json()["message"], "deletes a Malware `Emotet`");
    assert!(created.id < updated.id && updated.id < deleted.id, "ids increase");
}

#[tokio::test]
async fn references_not_yet_sent_come_first_as_dependencies_under_the_trigger_id() {
    let p = platform().await;
    let mut sse = tail(&p, "live", p.token(), &[("no-dependencies", "true")]).await;
    let identity = json!({"type": "identity", "spec_version": "2.1", "id": "identity--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697810",
        "name": "ACME", "identity_class": "organization", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"});
    p.seed(&bundle(json!([identity]))).unwrap();
    assert_eq!(sse.next_data().await.json()["data"]["type"], "identity");
    p.seed(&bundle(json!([malware(
        M1,
        "Emotet",
        json!({"object_marking_refs": [GREEN],
        "created_by_ref": "identity--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697810"})
    )])))
    .unwrap();
    let marking = sse.next_data().await;
    let element = sse.next_data().await;
    assert_eq!(marking.event, "create");
    let dep = marking.json();
    assert_eq!(dep["data"]["id"], GREEN, "the marking, not sent before; the identity was");
    let keys: Vec<&str> = dep.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["data", "message", "origin", "version"]);
    assert_eq!(dep["origin"]["referer"], "init-dependencies");
    assert_eq!(marking.id, element.id, "a dependency reuses its trigger's id");
    assert_eq!(element.json()["data"]["name"], "Emotet");
}

#[tokio::test]
async fn a_reader_resumes_strictly_after_its_position_and_recovers_only_before_it() {
    let p = platform().await;
    p.seed(&bundle(json!([malware(M1, "One", json!({}))]))).unwrap();
    let after_first = p.stream_position();
    p.seed(&bundle(json!([malware(M2, "Two", json!({}))]))).unwrap();
    let url = format!("{}/stream/live", p.url());
    let from = after_first.to_string();
    let mut sse = Sse::open(&url, Some(p.token()), &[("Last-Event-ID", from.as_str())]).await;
    sse.next().await;
    let next = sse.next_data().await;
    assert_eq!(next.json()["data"]["name"], "Two", "the event after the position, not the one at it");

    // A first run: 0-0 and a recovery date — every object as create (init-create) under
    // its updated_at, then the live tail.
    let mut first_run =
        Sse::open(&format!("{url}?recover=2099-01-01T00:00:00Z"), Some(p.token()), &[("Last-Event-ID", "0-0")]).await;
    first_run.next().await;
    let mut recovered = Vec::new();
    loop {
        let m = first_run.next().await;
        if m.event == "heartbeat" {
            break;
        }
        let payload = m.json();
        assert_eq!(payload["origin"]["referer"], "init-create");
        assert!(payload.get("type").is_none() && payload.get("event_id").is_none(), "{payload}");
        let id: opencti_mock::EventId = m.id.unwrap().parse().unwrap();
        assert_eq!(id.seq, 0, "<updated_at ms>-0");
        recovered.push(payload["data"]["name"].as_str().unwrap_or_default().to_string());
        if payload["data"]["id"] == GREEN {
            recovered.push("TLP:GREEN".into());
        }
    }
    assert!(recovered.contains(&"One".to_string()) && recovered.contains(&"TLP:GREEN".to_string()), "{recovered:?}");
}

#[tokio::test]
async fn a_collection_filters_and_relabels_updates_that_move_objects_in_or_out() {
    let p = platform().await;
    let filters = json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["objectLabel"], "values": ["forward"], "operator": "eq", "mode": "or"}]});
    let id = p.add_stream(StreamCollection::new("labelled").filters(filters)).unwrap();
    let connector = p.add_connector_user("[C] stream");
    let mut sse = tail(&p, &id, &connector, &[]).await;
    p.seed(&bundle(json!([malware(M1, "Hidden", json!({}))]))).unwrap();
    p.seed(&bundle(json!([malware(M2, "Shown", json!({"labels": ["forward"]}))]))).unwrap();
    let shown = sse.next_data().await;
    assert_eq!((shown.event.as_str(), shown.json()["data"]["name"].as_str()), ("create", Some("Shown")));
    // M1 gains the label: an update the reader sees as a creation (its type stays update).
    p.seed(&bundle(json!([malware(M1, "Hidden", json!({"labels": ["forward"]}))]))).unwrap();
    let moved_in = sse.next_data().await;
    assert_eq!((moved_in.event.as_str(), moved_in.json()["type"].as_str()), ("create", Some("update")));
    assert_eq!(moved_in.json()["data"]["name"], "Hidden");

    // An update that takes an object out of what a reader sees is a deletion for it.
    let confident = json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["confidence"], "values": ["50"], "operator": "gte", "mode": "or"}]});
    let id = p.add_stream(StreamCollection::new("confident").filters(confident)).unwrap();
    let mut sse = tail(&p, &id, &connector, &[]).await;
    p.seed(&bundle(json!([malware(M2, "Shown", json!({"confidence": 80}))]))).unwrap();
    assert_eq!(sse.next_data().await.event, "create", "confidence 80: it comes into view");
    p.seed(&bundle(json!([malware(M2, "Shown", json!({"confidence": 90}))]))).unwrap();
    assert_eq!(sse.next_data().await.event, "update", "visible before and after");
    p.seed(&bundle(json!([malware(M2, "Shown", json!({"confidence": 10}))]))).unwrap();
    let moved_out = sse.next_data().await;
    assert_eq!((moved_out.event.as_str(), moved_out.json()["type"].as_str()), ("delete", Some("update")));
}

#[tokio::test]
async fn listen_delete_false_leaves_deletions_out() {
    let p = platform().await;
    let mut sse = tail(&p, "live", p.token(), &[("listen-delete", "false")]).await;
    p.seed(&bundle(json!([malware(M1, "One", json!({}))]))).unwrap();
    assert_eq!(sse.next_data().await.event, "create");
    delete(&p, M1).await;
    p.seed(&bundle(json!([malware(M2, "Two", json!({}))]))).unwrap();
    let next = sse.next_data().await;
    assert_eq!((next.event.as_str(), next.json()["data"]["name"].as_str()), ("create", Some("Two")), "the deletion was skipped");
}

#[tokio::test]
async fn injected_events_and_closed_connections() {
    let p = platform().await;
    let mut sse = tail(&p, "live", p.token(), &[]).await;
    let id = p.inject_event("merge", json!({"version": "4", "type": "merge", "data": {"id": "malware--x"}}));
    let m = sse.next_data().await;
    assert_eq!((m.event.as_str(), m.id.as_deref()), ("merge", Some(id.to_string().as_str())));
    assert_eq!(p.close_stream_connections(Some("live")), 1);
    assert!(sse.ended_within(Duration::from_secs(5)).await, "the platform ended the stream");
    let c = p.stream_connections().pop().unwrap();
    assert_eq!(c.end, Some(opencti_mock::ConnectionEnd::ServerClosed));
    assert!(c.sent_ids.contains(&id.to_string()));
}

#[tokio::test]
async fn stream_collections_over_graphql() {
    let p = platform().await;
    let url = p.url();
    let add = "mutation($input: StreamCollectionAddInput!) { streamCollectionAdd(input: $input) { id name filters stream_live stream_public } }";
    let bad = json!({"input": {"name": "bad", "stream_live": true,
        "filters": json!({"mode": "and", "filterGroups": [], "filters": [{"key": ["name"], "values": ["x"]}]}).to_string()}});
    let (_, refused) = gql(url, Some(p.token()), add, bad).await;
    assert_eq!(refused["errors"][0]["message"], "Stix filtering is not compatible with the provided filter key");
    let (_, created) = gql(url, Some(p.token()), add, json!({"input": {"name": "feed", "stream_live": true}})).await;
    let id = created["data"]["streamCollectionAdd"]["id"].as_str().expect("created").to_string();
    assert_eq!(p.stream(&id).unwrap().name, "feed");
    // What pycti's get_stream_collection() asks.
    let connector = p.add_connector_user("[C] stream");
    let (_, read) = gql(
        url,
        Some(&connector),
        "query($id: String!) { streamCollection(id: $id) { id name description stream_live stream_public } }",
        json!({"id": id}),
    )
    .await;
    assert_eq!(read["data"]["streamCollection"]["stream_live"], true);
    // Stopped through fieldPatch: new readers get 410.
    let patch = "mutation($id: ID!, $input: [EditInput]!) { streamCollectionEdit(id: $id) { fieldPatch(input: $input) { stream_live } } }";
    let (_, patched) =
        gql(url, Some(p.token()), patch, json!({"id": id, "input": [{"key": "stream_live", "value": [false]}]})).await;
    assert_eq!(patched["data"]["streamCollectionEdit"]["fieldPatch"]["stream_live"], false, "{patched}");
    let (status, _) = status_line(url, &format!("/stream/{id}"), &[]).await;
    assert_eq!(status, "HTTP/1.1 410 This live stream is stopped");
    // Anonymous readers list only public collections.
    p.add_stream(StreamCollection::new("public feed").public()).unwrap();
    let list = "{ streamCollections { edges { node { name } } } }";
    let (_, anonymous) = gql(url, None, list, json!({})).await;
    let names: Vec<&str> = anonymous["data"]["streamCollections"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["name"].as_str())
        .collect();
    assert_eq!(names, ["public feed"]);
    let (_, deleted) =
        gql(url, Some(p.token()), "mutation($id: ID!) { streamCollectionEdit(id: $id) { delete } }", json!({"id": id})).await;
    assert_eq!(deleted["data"]["streamCollectionEdit"]["delete"], id);
    assert!(p.stream(&id).is_none());
}

#[tokio::test]
async fn a_position_older_than_the_retention_starts_at_the_oldest_kept() {
    let p = MockPlatform::builder().stream_retention(5).start().await;
    for i in 0..30 {
        let id = format!("malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a6979{i:02}");
        p.seed(&bundle(json!([malware(&id, &format!("M{i}"), json!({}))]))).unwrap();
    }
    let mut sse = Sse::open(&format!("{}/stream/live", p.url()), Some(p.token()), &[("Last-Event-ID", "1-0")]).await;
    let info = sse.next().await.json();
    assert!(info["streamSize"].as_u64().unwrap() <= 6, "{info}");
    let first = sse.next_data().await;
    assert_eq!(first.id.as_deref(), info["firstEventId"].as_str(), "the oldest kept event");
}

#[tokio::test]
async fn a_merge_is_one_merge_event_with_its_sources_and_their_ids_go_to_the_target() {
    let p = platform().await;
    p.seed(&bundle(json!([
        malware(M1, "Emotet", json!({"labels": ["banker"]})),
        malware(M2, "Geodo", json!({"labels": ["loader"]}))
    ])))
    .unwrap();
    let mut sse = tail(&p, "live", p.token(), &[]).await;
    let target = p.object(M1).unwrap().internal_id.to_string();
    let (_, merged) = gql(
        p.url(),
        Some(p.token()),
        "mutation($id: ID!, $ids: [String]!) { stixEdit(id: $id) { merge(stixObjectsIds: $ids) { id entity_type } } }",
        json!({"id": target, "ids": [M2]}),
    )
    .await;
    assert_eq!(merged["data"]["stixEdit"]["merge"]["id"], target, "{merged}");
    let event = sse.next_data().await;
    assert_eq!(event.event, "merge");
    let m = event.json();
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["version", "type", "scope", "message", "origin", "data", "context", "event_id"]);
    assert_eq!(m["message"], "merges Malware `Geodo` in `Emotet`");
    assert_eq!(m["context"]["sources"][0]["name"], "Geodo");
    assert_eq!(m["data"]["aliases"], json!(["Geodo"]));
    assert_eq!(m["data"]["labels"], json!(["banker", "loader"]));
    // The source's ids now find the target; nothing else was published.
    assert_eq!(p.object(M2).unwrap().internal_id.to_string(), target);
    assert!(sse.next_within(Duration::from_millis(700)).await.is_some_and(|h| h.event == "heartbeat"));
}

#[tokio::test]
async fn a_collection_with_origin_filters_recovers_nothing_and_says_no_recover() {
    let p = platform().await;
    p.seed(&bundle(json!([malware(M1, "Before", json!({}))]))).unwrap();
    let by_system = json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["members_user"], "values": ["6a4b11e1-90ca-4e42-ba42-db7bc7f7d505"], "operator": "eq", "mode": "or"}]});
    let id = p.add_stream(StreamCollection::new("origins").origin_filters(by_system)).unwrap();
    let url = format!("{}/stream/{id}?recover=2099-01-01T00:00:00Z", p.url());
    let mut sse = Sse::open(&url, Some(p.token()), &[("Last-Event-ID", "0-0")]).await;
    assert_eq!(sse.next().await.event, "connected");
    let told = sse.next().await;
    assert_eq!(told.event, "no-recover");
    assert_eq!(told.id.as_deref(), Some("4070908800000-0"), "the recovery position, where the stream resumes");
    // Events whose origin does not pass are not sent: the administrator's seed is not the
    // system's doing.
    let mut live = tail(&p, &id, p.token(), &[]).await;
    p.seed(&bundle(json!([malware(M2, "By the administrator", json!({}))]))).unwrap();
    assert_eq!(live.next().await.event, "heartbeat");
}

#[tokio::test]
async fn consumer_metrics_come_with_heartbeat_ids_when_configured() {
    let mut settings = opencti_mock::Settings::default();
    settings.app.port = 0;
    settings.mock.broker = opencti_mock::BrokerMode::Off;
    settings.app.live_stream.heartbeat_period = 100;
    settings.app.live_stream.consumer_metrics_period = 100;
    let p = MockPlatform::builder().settings(settings).start().await;
    let mut sse = tail(&p, "live", p.token(), &[]).await;
    let heartbeat = sse.next().await;
    let metrics = sse.next().await;
    assert_eq!((heartbeat.event.as_str(), metrics.event.as_str()), ("heartbeat", "consumer_metrics"));
    assert_eq!(metrics.id, heartbeat.id, "pycti saves its id as it saves a heartbeat's");
    let m = metrics.json();
    assert!(m["deliveryRate"].is_number() && m["timeLag"].is_number(), "{m}");
}

#[tokio::test]
async fn an_event_caused_by_a_user_carries_that_user_as_its_origin() {
    let p = platform().await;
    let mut sse = tail(&p, "live", p.token(), &[]).await;
    let connector = p.add_connector_user("[C] writer");
    let (_, added) = gql(
        p.url(),
        Some(&connector),
        "mutation($input: MalwareAddInput!) { malwareAdd(input: $input) { id } }",
        json!({"input": {"name": "Written by a connector", "is_family": false}}),
    )
    .await;
    assert!(added.get("errors").is_none(), "{added}");
    let origin = sse.next_data().await.json()["origin"].clone();
    let keys: Vec<&str> = origin.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["socket", "ip", "user_id", "group_ids", "organization_ids", "user_metadata", "applicant_id"]);
    assert_eq!(origin["socket"], "query");
    assert_ne!(origin["user_id"], "6a4b11e1-90ca-4e42-ba42-db7bc7f7d505", "the user, not the platform");
    // A deletion too: here by the administrator.
    let id = added["data"]["malwareAdd"]["id"].as_str().unwrap().to_string();
    delete(&p, &id).await;
    let deleted_by = sse.next_data().await.json()["origin"]["user_id"].clone();
    assert!(deleted_by.is_string() && deleted_by != origin["user_id"], "{deleted_by}");
}

#[tokio::test]
async fn heartbeats_keep_their_time_while_events_the_reader_does_not_see_flow() {
    let p = platform().await;
    let malware_only = json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["entity_type"], "values": ["Malware"], "operator": "eq", "mode": "or"}]});
    let id = p.add_stream(StreamCollection::new("malware").filters(malware_only)).unwrap();
    let mut sse = tail(&p, &id, p.token(), &[]).await;
    // A steady flow of addresses, none of which this reader sees, for 1.5 s (heartbeats
    // every 300 ms).
    let started = std::time::Instant::now();
    let mut n = 0;
    let mut heartbeats = Vec::new();
    while started.elapsed() < Duration::from_millis(1500) {
        n += 1;
        let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": format!("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a{n:06}"),
            "value": format!("198.51.{}.{}", n / 250, n % 250)});
        p.seed(&bundle(json!([ip]))).unwrap();
        while let Some(m) = sse.next_within(Duration::from_millis(20)).await {
            assert_eq!(m.event, "heartbeat", "nothing but heartbeats: {m:?}");
            heartbeats.push(m.id.unwrap());
        }
    }
    assert!(heartbeats.len() >= 3, "heartbeats while the stream was busy: {heartbeats:?}");
    // Their ids follow the unseen events: a reader that saves one resumes past them.
    let ids: Vec<opencti_mock::EventId> = heartbeats.iter().map(|h| h.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] <= w[1]), "{ids:?}");
    assert!(*ids.last().unwrap() > ids[0], "{ids:?}");
}
