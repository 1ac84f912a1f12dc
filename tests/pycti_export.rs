//! Interop: the files export connectors push back, with pycti 7.261026.0 unchanged
//! (`fixtures/python/export_push.py`): a single-entity export (`push_entity_export`) and a
//! list export (`push_list_export`) are stored where the platform stores them, with the
//! MIME type of their extension, their file markings and list filters, listed by
//! `exportFiles` / `stixCoreObjectsExportFiles` and downloaded byte for byte.

mod common;

use std::process::Command;

use common::{pycti_python, root};
use opencti_mock::MockPlatform;
use serde_json::{Value, json};

const TOKEN: &str = "tok-exporter";
const REPORT: &str = "report--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b7";
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";

fn seeded_report() -> String {
    json!({"type": "bundle", "id": "bundle--6a1f3c2e-7b8d-4e9f-a0b1-c2d3e4f5a6b8", "objects": [
        {"type": "report", "spec_version": "2.1", "id": REPORT, "name": "Operation Foo",
         "published": "2026-10-01T00:00:00.000Z", "created": "2026-10-01T00:00:00.000Z",
         "modified": "2026-10-01T00:00:00.000Z", "object_refs": []}
    ]})
    .to_string()
}

async fn run_driver(platform: &MockPlatform) -> Value {
    let (url, script) = (platform.url().to_string(), root().join("fixtures/python/export_push.py"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new(pycti_python())
            .arg(script)
            .env("OPENCTI_URL", url)
            .env("OPENCTI_TOKEN", TOKEN)
            .env("REPORT_ID", REPORT)
            .env("MARKING_ID", TLP_GREEN)
            .output()
            .expect("python runs")
    })
    .await
    .expect("the driver's thread");
    assert!(out.status.success(), "the pycti driver failed:\n{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("a JSON report ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

#[tokio::test(flavor = "multi_thread")]
async fn pushed_exports_are_stored_listed_and_downloaded_as_the_platform_does() {
    // Arrange
    let platform = MockPlatform::builder().connector_user("exporter", TOKEN).seed(seeded_report()).start().await;

    // Act
    let report = run_driver(&platform).await;

    // Assert: the single-entity export, under the report's internal id, lower-cased key
    let internal_id = report["report_id"].as_str().expect("the report's internal id");
    let single_name = "2026-10-27T09:15:02.114Z_TLP:ALL_(ExportFileStix)_Report-Operation Foo_simple.json";
    let single_id = format!("export/Report/{internal_id}/{}", single_name.to_lowercase());
    let entity_files = report["entity_files"].as_array().expect("exportFiles edges");
    assert_eq!(entity_files.len(), 1, "{report}");
    assert_eq!(entity_files[0]["id"], single_id.as_str());
    assert_eq!(entity_files[0]["name"], single_name);
    assert_eq!(entity_files[0]["uploadStatus"], "complete");
    // pycti sends text/plain; the platform guesses from the extension
    assert_eq!(entity_files[0]["metaData"]["mimetype"], "application/json");
    let green = platform.object(TLP_GREEN).expect("TLP:GREEN is built in");
    assert_eq!(entity_files[0]["metaData"]["file_markings"], json!([green.internal_id.to_string()]));
    assert_eq!(report["downloads"][&single_id], report["sent"][single_name], "downloaded byte for byte");

    // the list export, under the type's folder, with its list filters
    let list_name = "2026-10-27T09:15:02.114Z_TLP:ALL_(ExportFileCsv)_Malware_simple.csv";
    let list_id = format!("export/Malware/{}", list_name.to_lowercase());
    let list_files = report["list_files"].as_array().expect("stixCoreObjectsExportFiles edges");
    assert_eq!(list_files.len(), 1, "{report}");
    assert_eq!(list_files[0]["id"], list_id.as_str());
    assert_eq!(list_files[0]["metaData"]["mimetype"], "text/csv");
    let kept: Value = serde_json::from_str(list_files[0]["metaData"]["list_filters"].as_str().expect("list_filters"))
        .expect("the list filters as pushed");
    assert_eq!(kept, report["list_params"]);
    assert_eq!(report["downloads"][&list_id], report["sent"][list_name]);

    // an export for an element the platform does not have is refused, and nothing stored
    let refused = report["refused"].as_str().expect("pycti raised");
    assert!(refused.contains("Cant upload a file an none existing element"), "{refused}");
    let stored: Vec<String> = platform.files().into_iter().map(|f| f.id).collect();
    assert_eq!(stored, [list_id, single_id]);
}
