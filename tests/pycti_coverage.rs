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
