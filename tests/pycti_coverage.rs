//! Schema coverage: every GraphQL document pycti 7.261026.0's connector helper, API client
//! and work/connector API classes can send is extracted from the installed package and
//! validated against the mock's schema. The documents the mock does not support yet are
//! listed in `fixtures/graphql/unsupported-pycti-documents.txt`; that list may only shrink.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use common::{pycti_python, root};
use opencti_mock::MockPlatform;
use serde_json::Value;

/// The modules whose documents the mock must accept.
const MODULES: &[&str] = &[
    "pycti/connector/opencti_connector_helper.py",
    "pycti/api/opencti_api_client.py",
    "pycti/api/opencti_api_connector.py",
    "pycti/api/opencti_api_work.py",
];

fn listed_unsupported() -> BTreeSet<String> {
    std::fs::read_to_string(root().join("fixtures/graphql/unsupported-pycti-documents.txt"))
        .expect("the list is readable")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_pycti_document_validates_against_the_schema_except_the_listed_ones() {
    // Arrange
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/extract_documents.py"))
        .args(MODULES)
        .output()
        .expect("the extractor runs");
    assert!(out.status.success(), "extractor failed: {}", String::from_utf8_lossy(&out.stderr));
    let extracted: Value = serde_json::from_slice(&out.stdout).expect("the extractor prints JSON");
    assert_eq!(extracted["pycti"], common::PYCTI_VERSION);
    let documents = extracted["documents"].as_array().expect("documents").clone();
    assert!(documents.len() >= 20, "the extractor found the documents ({} found)", documents.len());
    let platform = MockPlatform::start().await;
    let schema = opencti_mock::graphql::schema(platform.core()).expect("the schema builds");

    // Act
    let mut failing = BTreeSet::new();
    let mut report = Vec::new();
    for d in &documents {
        let key = format!(
            "{}::{}::{}",
            d["file"].as_str().unwrap(),
            d["function"].as_str().unwrap(),
            d["operation"].as_str().unwrap_or("?")
        );
        assert_eq!(d["partial"], false, "{key} is assembled from non-literal parts; extend the extractor");
        let errors = opencti_mock::graphql::validate_document(&schema, d["document"].as_str().unwrap(), None).await;
        if !errors.is_empty() {
            report.push(format!("{key}: {}", errors.join("; ")));
            failing.insert(key);
        }
    }

    // Assert
    let listed = listed_unsupported();
    let newly_failing: Vec<_> = failing.difference(&listed).collect();
    let now_passing: Vec<_> = listed.difference(&failing).collect();
    assert!(newly_failing.is_empty(), "documents pycti sends that the mock refuses:\n{}", report.join("\n"));
    assert!(now_passing.is_empty(), "these documents validate now; remove them from the unsupported list: {now_passing:?}");
}

// ---------------------------------------------------------------------------------------
// The entity API: documents recorded by driving pycti's entity classes

/// Documents of the entity classes the mock does not support yet (may only shrink).
const ENTITY_LIST: &str = "fixtures/graphql/unsupported-entity-documents.txt";

/// Error codes that mean the mock's schema or resolvers disagree with what pycti sends
/// (never a platform answer to a well-formed request).
const SCHEMA_ERRORS: &[&str] = &["BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED", "INTERNAL_SERVER_ERROR"];

/// FNV-1a of a document text (keys must tell apart documents of one method).
fn fnv(text: &str) -> String {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{:08x}", h >> 32)
}

fn entity_key(d: &Value) -> String {
    format!(
        "{}.{}::{}::{}",
        d["class"].as_str().unwrap(),
        d["method"].as_str().unwrap(),
        d["operation"].as_str().unwrap_or("?"),
        fnv(d["document"].as_str().unwrap())
    )
}

fn recorded_entity_documents() -> Vec<Value> {
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/record_entity_documents.py"))
        .output()
        .expect("the recorder runs");
    assert!(out.status.success(), "recorder failed: {}", String::from_utf8_lossy(&out.stderr));
    let recorded: Value = serde_json::from_slice(&out.stdout).expect("the recorder prints JSON");
    assert_eq!(recorded["pycti"], common::PYCTI_VERSION);
    for (class, entry) in recorded["classes"].as_object().expect("classes") {
        assert!(
            entry["not_driven"].as_object().is_none_or(|m| m.is_empty()),
            "the recorder could not drive every method of {class}: {}",
            entry["not_driven"]
        );
    }
    let documents = recorded["documents"].as_array().expect("documents").clone();
    assert!(documents.len() >= 300, "the recorder found the documents ({} found)", documents.len());
    documents
}

fn listed(path: &str) -> BTreeSet<String> {
    std::fs::read_to_string(root().join(path))
        .expect("the list is readable")
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Stores the objects of `fixtures/stix/valid/` through the ingest path (references first:
/// objects are retried while they refer to objects not stored yet).
fn seed(platform: &MockPlatform) -> usize {
    let mut pending: Vec<String> = Vec::new();
    for entry in std::fs::read_dir(root().join("fixtures/stix/valid")).expect("fixtures/stix/valid") {
        let path = entry.expect("entry").path();
        let objects: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).expect("readable")).expect("JSON array");
        pending.extend(objects.into_iter().map(|o| o.to_string()));
    }
    let ctx = opencti_mock::ingest::object::IngestContext::default();
    let mut stored = 0;
    for _ in 0..5 {
        let before = pending.len();
        pending.retain(|raw| opencti_mock::ingest::object::ingest_object(&platform.core().store, raw, &ctx).is_err());
        stored += before - pending.len();
        if pending.len() == before {
            break;
        }
    }
    stored
}

/// The ids the recorder uses for existing objects (`record_entity_documents.py`: AUTHOR_ID,
/// LABEL_ID...), and the entity type of the seeded object standing for each.
const RECORDED_IDS: &[(&str, &str)] = &[
    ("0c5dc9e4-2e3b-4a33-9f0e-6b1f8d8a9e01", "Organization"),
    ("4b8a4d9e-8b8e-4b0e-9a2a-1c1c1c1c1c01", "Label"),
    ("5c9b5e0f-9c9f-4c1f-8b3b-2d2d2d2d2d02", "External-Reference"),
    ("6d0c6f1a-0d0a-4d2a-9c4c-3e3e3e3e3e03", "Kill-Chain-Phase"),
    ("7e1d7a2b-1e1b-4e3b-8d5d-4f4f4f4f4f04", "Organization"),
    ("8f2e8b3c-2f2c-4f4c-9e6e-505050505005", "Report"),
    ("9a3f9c4d-3a3d-4a5d-8f7f-616161616106", "IPv4-Addr"),
    ("ab4aad5e-4b4e-4b6e-9a8a-727272727207", "uses"),
];

/// Replaces the recorder's ids by the internal ids of seeded objects of their type, and its
/// synthetic cursor by one of the mock's.
fn substitute(v: &Value, ids: &[(String, String)]) -> Value {
    match v {
        Value::String(s) if s == "WyJjdXJzb3IiXQ==" => Value::String("WzFd".into()),
        Value::String(s) => Value::String(ids.iter().find(|(r, _)| r == s).map(|(_, n)| n.clone()).unwrap_or_else(|| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(m) => Value::Object(m.iter().map(|(k, x)| (k.clone(), substitute(x, ids))).collect()),
        other => other.clone(),
    }
}

/// Sends a document as pycti does: JSON, or a GraphQL multipart request when variables carry
/// files (`uploads` lists their paths, sent as `null` in `operations`).
async fn run(url: &str, token: &str, document: &str, variables: &Value, uploads: &Value) -> (u16, Value) {
    let paths: Vec<&str> = uploads.as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if paths.is_empty() {
        return common::gql(url, Some(token), document, variables.clone()).await;
    }
    let operations = serde_json::json!({"query": document, "variables": variables});
    let map: serde_json::Map<String, Value> =
        paths.iter().enumerate().map(|(i, p)| (i.to_string(), serde_json::json!([format!("variables.{p}")]))).collect();
    let mut form =
        reqwest::multipart::Form::new().text("operations", operations.to_string()).text("map", Value::Object(map).to_string());
    for (i, _) in paths.iter().enumerate() {
        let part = reqwest::multipart::Part::bytes(b"recorded upload".to_vec())
            .file_name(format!("file-{i}.txt"))
            .mime_str("text/plain");
        form = form.part(i.to_string(), part.expect("a valid MIME type"));
    }
    let resp =
        reqwest::Client::new().post(format!("{url}/graphql")).bearer_auth(token).multipart(form).send().await.expect("answers");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn every_entity_document_pycti_sends_validates_and_runs_except_the_listed_ones() {
    // Arrange
    let documents = recorded_entity_documents();
    let platform = MockPlatform::start().await;
    let seeded = seed(&platform);
    assert!(seeded >= 50, "the STIX fixtures were stored ({seeded})");
    let schema = opencti_mock::graphql::schema(platform.core()).expect("the schema builds");
    let ids: Vec<(String, String)> = RECORDED_IDS
        .iter()
        .map(|(recorded, entity_type)| {
            let id =
                platform.read(|s| s.knowledge.all().find(|o| &*o.entity_type == *entity_type).map(|o| o.internal_id.to_string()));
            (recorded.to_string(), id.unwrap_or_else(|| panic!("the fixtures hold a {entity_type}")))
        })
        .collect();

    // Act
    let mut failing = BTreeSet::new();
    let mut report = Vec::new();
    let (mut validated, mut executed, mut answered_with_data) = (0, 0, 0);
    let mut platform_errors = Vec::new();
    for d in &documents {
        let key = entity_key(d);
        let document = d["document"].as_str().unwrap();
        let errors = opencti_mock::graphql::validate_document(&schema, document, None).await;
        if !errors.is_empty() {
            report.push(format!("{key}: does not validate: {}", errors.join("; ")));
            failing.insert(key);
            continue;
        }
        validated += 1;
        let mut variable_sets: Vec<(Value, Value)> = vec![(d["variables"].clone(), d["uploads"].clone())];
        variable_sets
            .extend(d["more_variables"].as_array().into_iter().flatten().map(|m| (m["variables"].clone(), m["uploads"].clone())));
        for (variables, uploads) in variable_sets {
            let variables = substitute(&variables, &ids);
            let (status, body) = run(platform.url(), platform.token(), document, &variables, &uploads).await;
            executed += 1;
            let bad: Vec<String> = body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| {
                    let code = e["extensions"]["code"].as_str().unwrap_or_default();
                    SCHEMA_ERRORS.contains(&code) || e["message"].as_str().unwrap_or_default().starts_with("internal")
                })
                .map(|e| format!("{} ({})", e["message"], e["extensions"]["code"]))
                .collect();
            if status != 200 || !bad.is_empty() {
                report.push(format!("{key}: HTTP {status} with variables {variables}: {}", bad.join("; ")));
                failing.insert(key.clone());
            } else if body["errors"].is_null() {
                answered_with_data += 1;
            } else {
                for e in body["errors"].as_array().into_iter().flatten() {
                    platform_errors.push(format!("{key}: {} {}", e["extensions"]["code"], e["message"]));
                }
            }
        }
    }

    // Assert
    let listed = listed(ENTITY_LIST);
    let newly_failing: Vec<_> = failing.difference(&listed).collect();
    let now_passing: Vec<_> = listed.difference(&failing).collect();
    println!(
        "{} entity documents: {validated} validated, {executed} executions ({answered_with_data} answered without error); \
         platform-shaped errors (unsupported operations, and ids the recorder synthesised that name nothing stored):\n{}",
        documents.len(),
        platform_errors.join("\n")
    );
    assert!(newly_failing.is_empty(), "entity documents pycti sends that the mock refuses or fails on:\n{}", report.join("\n"));
    assert!(now_passing.is_empty(), "these documents work now; remove them from {ENTITY_LIST}: {now_passing:?}");
}

/// The mock's own document limits (`graphql::limits`) must never refuse what pycti sends:
/// every document pycti 7.261026.0 can send stays within a quarter of each limit (and
/// within the platform's batching limits, which are the platform's own).
#[test]
fn every_pycti_document_stays_far_below_the_document_limits() {
    let out = Command::new(pycti_python())
        .arg(root().join("fixtures/python/extract_documents.py"))
        .args(MODULES)
        .output()
        .expect("the extractor runs");
    assert!(out.status.success(), "extractor failed: {}", String::from_utf8_lossy(&out.stderr));
    let extracted: Value = serde_json::from_slice(&out.stdout).expect("the extractor prints JSON");
    let mut documents: Vec<String> = extracted["documents"]
        .as_array()
        .expect("documents")
        .iter()
        .map(|d| d["document"].as_str().unwrap().to_string())
        .collect();
    documents.extend(recorded_entity_documents().iter().map(|d| d["document"].as_str().unwrap().to_string()));
    let limits = opencti_mock::graphql::limits::DocumentLimits::default();
    let quarter = opencti_mock::graphql::limits::DocumentLimits {
        max_nesting: limits.max_nesting / 4,
        max_fields: limits.max_fields / 4,
        max_depth: limits.max_depth / 4,
        ..limits
    };

    let mut refused = Vec::new();
    for document in &documents {
        let checked = opencti_mock::graphql::limits::check_source(document, &quarter).map_err(|e| vec![e]).and_then(|()| {
            // A few of pycti's documents do not parse at all (they are in the lists of
            // unsupported documents); the limits cannot concern them.
            match async_graphql::parser::parse_query(document) {
                Ok(doc) => opencti_mock::graphql::limits::check(&doc, &quarter),
                Err(_) => Ok(()),
            }
        });
        if let Err(errors) = checked {
            refused.push(format!("{}: {}", &document[..document.len().min(80)], errors.join("; ")));
        }
    }

    assert!(documents.len() >= 320, "{} documents", documents.len());
    assert!(refused.is_empty(), "pycti documents near the mock's limits:\n{}", refused.join("\n"));
}
