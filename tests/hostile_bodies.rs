//! Legitimate-looking but extreme bodies: a chain of references as long as the bundle
//! (which overflowed the stack in every splitting path), a multipart body of hundreds of
//! megabytes sent without a token (which was buffered whole), and what used to be lost
//! silently — a push into a draft that does not exist, objects without a type, edits of a
//! work that does not exist.

mod common;

use std::time::Duration;

use common::{BUNDLE_PUSH, REGISTER, WORK_ADD, error_code, gql, registration};
use opencti_mock::{MockPlatform, Profile};
use serde_json::{Value, json};

const TOKEN: &str = "tok-connector";
/// Well above the ~2,650 objects that used to overflow the stack.
const CHAIN: usize = 6_000;

/// Organisations each created by the next one: one chain of `n` references.
fn chain_bundle(n: usize) -> String {
    let id = |i: usize| format!("identity--{:08x}-0000-4000-8000-{:012x}", i, i);
    let objects: Vec<Value> = (0..n)
        .map(|i| {
            let mut o = json!({"type": "identity", "spec_version": "2.1", "id": id(i), "name": format!("org {i}"),
                "identity_class": "organization", "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"});
            if i + 1 < n {
                o["created_by_ref"] = json!(id(i + 1));
            }
            o
        })
        .collect();
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}).to_string()
}

async fn connector(p: &MockPlatform) -> (String, String) {
    let id = uuid::Uuid::new_v4().to_string();
    gql(p.url(), Some(TOKEN), REGISTER, registration(&id, "Chains")).await;
    let (_, w) = gql(p.url(), Some(TOKEN), WORK_ADD, json!({"connectorId": id, "friendlyName": "run"})).await;
    (id, w["data"]["workAdd"]["id"].as_str().expect("a work id").to_string())
}

async fn push_chain_and_wait(p: &MockPlatform) {
    let (id, work) = connector(p).await;
    let (status, body) =
        gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": id, "bundle": chain_bundle(CHAIN), "work_id": work})).await;
    assert_eq!((status, &body["data"]["stixBundlePush"]), (200, &json!(true)), "{body}");
    p.wait_until("the whole chain", Duration::from_secs(120), |s| s.knowledge.received().count() == CHAIN).await.unwrap();
    let stored = p.object(&format!("identity--{:08x}-0000-4000-8000-{:012x}", 0, 0)).expect("the head of the chain");
    assert!(stored.json()["created_by_ref"].as_str().is_some(), "its reference resolved");
}

#[tokio::test]
async fn a_chain_of_references_as_long_as_the_bundle_is_split_at_push_time() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    push_chain_and_wait(&p).await;
}

#[tokio::test]
async fn a_chain_of_references_as_long_as_the_bundle_is_split_by_the_6_9_worker() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).profile(Profile::V6_9).start().await;
    push_chain_and_wait(&p).await;
}

#[tokio::test]
async fn a_chain_of_references_as_long_as_the_bundle_is_seeded() {
    let p = MockPlatform::builder().start().await;
    let report = p.seed(&chain_bundle(CHAIN)).expect("the chain is seeded");
    assert_eq!(report.objects, CHAIN);
    assert!(report.refused.is_empty(), "{:?}", &report.refused[..report.refused.len().min(3)]);
}

/// Resident memory of this process, in MiB.
fn rss_mib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("procfs");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kb / 1024
}

/// A multipart body streamed from a generator (never held whole by the client either):
/// `operations`, `map` naming part `0`, part `0` of `mapped` MiB, then an unmapped part of
/// `unmapped` MiB.
fn streamed_upload(mapped: usize, unmapped: usize) -> (String, reqwest::Body) {
    let boundary = "hostile-boundary-7f3a";
    let operations =
        json!({"query": "mutation($file: Upload!) { uploadImport(file: $file) { id } }", "variables": {"file": null}});
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n{operations}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n{{\"0\": [\"variables.file\"]}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"0\"; filename=\"big.json\"\r\nContent-Type: application/json\r\n\r\n"
    );
    let middle = format!(
        "\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"junk\"; filename=\"junk.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{boundary}--\r\n");
    let mib = vec![b'x'; 1 << 20];
    let chunks = std::iter::once(head.into_bytes())
        .chain(std::iter::repeat_n(mib.clone(), mapped))
        .chain(std::iter::once(middle.into_bytes()))
        .chain(std::iter::repeat_n(mib, unmapped))
        .chain(std::iter::once(tail.into_bytes()))
        .map(Ok::<_, std::io::Error>);
    (format!("multipart/form-data; boundary={boundary}"), reqwest::Body::wrap_stream(futures_util::stream::iter(chunks)))
}

#[tokio::test]
async fn a_huge_multipart_body_without_a_token_is_read_in_bounded_memory_then_refused() {
    let p = MockPlatform::builder().start().await;
    let before = rss_mib();

    let (content_type, body) = streamed_upload(64, 300);
    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the server reads the whole body and answers");
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.expect("JSON");
    let grown = rss_mib().saturating_sub(before);

    assert_eq!(status, 200);
    assert_eq!(error_code(&answer).as_deref(), Some("AUTH_REQUIRED"), "{answer}");
    assert!(grown < 48, "364 MiB of multipart parts grew this process by {grown} MiB");
    assert!(p.files().is_empty());
}

#[tokio::test]
async fn an_upload_streamed_to_disk_is_stored_whole_for_an_authorised_caller() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let (content_type, body) = streamed_upload(3, 1);

    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("answer");
    let answer: Value = resp.json().await.expect("JSON");

    assert_eq!(answer["data"]["uploadImport"]["id"], "import/global/big.json", "{answer}");
    let file = p.file("import/global/big.json").expect("stored");
    assert_eq!(file.size, 3 << 20);
    assert!(file.content.iter().all(|b| *b == b'x'));
}

#[tokio::test]
async fn a_push_into_a_draft_that_does_not_exist_is_refused_whole() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let (id, work) = connector(&p).await;
    let bundle = common::ipv4_bundle(2);

    let resp = reqwest::Client::new()
        .post(format!("{}/graphql", p.url()))
        .bearer_auth(TOKEN)
        .header("opencti-draft-id", "8c4b0d5e-0000-4000-8000-00000000dead")
        .json(&json!({"query": BUNDLE_PUSH, "variables": {"connectorId": id, "bundle": bundle, "work_id": work}}))
        .send()
        .await
        .expect("answer");
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.expect("JSON");

    assert_eq!(status, 500, "refused while the request context is made, as the platform does");
    assert_eq!(body["errors"][0]["message"], "Could not find draft workspace");
    assert_eq!(error_code(&body).as_deref(), Some("DRAFT_LOCKED"));
    let w = p.work(&work).expect("the work");
    assert_eq!((w.import_expected_number, w.is_complete()), (0, false), "nothing was queued: {w:?}");
    assert!(p.received_bundles().is_empty());
}

#[tokio::test]
async fn objects_without_a_type_are_said_to_be_dropped() {
    for profile in [Profile::V7, Profile::V6_9] {
        let p = MockPlatform::builder().connector_user("c", TOKEN).profile(profile).start().await;
        let (id, work) = connector(&p).await;
        let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"id": "malware--0b1c4a6e-0000-4000-8000-000000000001", "name": "no type"},
            {"id": "malware--0b1c4a6e-0000-4000-8000-000000000002", "name": "no type either"}
        ]});

        gql(p.url(), Some(TOKEN), BUNDLE_PUSH, json!({"connectorId": id, "bundle": bundle.to_string(), "work_id": work})).await;
        p.wait_until("the drops are recorded", Duration::from_secs(10), |s| {
            s.works.get(&work).is_some_and(|w| w.messages.len() == 2)
        })
        .await
        .unwrap_or_else(|e| panic!("{profile:?}: {e}: {:?}", p.work(&work)));

        let w = p.work(&work).unwrap();
        // Messages, not errors: the platform's worker drops them silently and reports nothing.
        assert!(w.errors.is_empty(), "{profile:?}: {:?}", w.errors);
        assert!(w.messages.iter().all(|e| e.message.contains("Incompatible element")), "{profile:?}: {:?}", w.messages);
        let notes = p.read(|s| format!("{:?}", s.transcript.entries()));
        assert!(notes.contains("malware--0b1c4a6e-0000-4000-8000-000000000001 (no type) dropped by the splitter"), "{profile:?}");
    }
}

#[tokio::test]
async fn an_edit_of_a_work_that_does_not_exist_is_noted() {
    let p = MockPlatform::builder().connector_user("c", TOKEN).start().await;
    let document = "mutation { workEdit(id: \"work_unknown\") { toProcessed(message: \"done\", inError: false) } }";

    let (_, body) = gql(p.url(), Some(TOKEN), document, json!({})).await;

    assert_eq!(body["data"]["workEdit"]["toProcessed"], "work_unknown", "the platform's answer: the id");
    let notes = p.read(|s| format!("{:?}", s.transcript.entries()));
    assert!(notes.contains("workEdit(id: \\\"work_unknown\\\") { toProcessed }: no work has this id"), "{notes}");
}
