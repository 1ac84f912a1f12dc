//! `opencti-mock validate`: both channels for bundle files on disk — exit codes, the text
//! report and `--format json`.

use std::process::Command;

use serde_json::{Value, json};

fn run_validate(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_opencti-mock")).arg("validate").args(args).output().expect("opencti-mock runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const INDICATOR: &str = "indicator--8e2f4a6b-1c3d-4e5f-a6b7-c8d9e0f1a2b3";
const RELATIONSHIP: &str = "relationship--5d0092c5-5f74-4287-9642-33f4c354e56d";

fn indicator(pattern: &str) -> Value {
    json!({"type": "indicator", "spec_version": "2.1", "id": INDICATOR, "created": "2024-01-01T00:00:00.000Z",
        "modified": "2024-01-01T00:00:00.000Z", "name": "C2", "pattern": pattern, "pattern_type": "stix",
        "valid_from": "2024-01-01T00:00:00Z", "object_marking_refs": ["marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9"]})
}

fn bundle(objects: Vec<Value>) -> String {
    json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": objects}).to_string()
}

/// Writes files into a temporary directory; returns it and the paths.
fn files(contents: &[(&str, &str)]) -> (tempfile::TempDir, Vec<String>) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let paths = contents
        .iter()
        .map(|(name, text)| {
            let p = dir.path().join(name);
            std::fs::write(&p, text).expect("file written");
            p.display().to_string()
        })
        .collect();
    (dir, paths)
}

#[test]
fn validate_exits_0_on_a_clean_bundle_and_says_so() {
    // Arrange
    let (_dir, paths) = files(&[("clean.json", &bundle(vec![indicator("[ipv4-addr:value = '198.51.100.1']")]))]);

    // Act
    let (code, stdout, _) = run_validate(&[&paths[0]]);

    // Assert
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("clean.json: 1 object, 0 errors (platform refusals), 0 findings"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 file (0 unreadable), 1 object: 0 errors, 0 findings → exit 0"), "{stdout}");
}

#[test]
fn validate_exits_0_on_findings_alone_and_1_with_strict() {
    // Arrange: a pattern the platform accepts but the specification does not (no 29
    // February in 2023).
    let pattern = "[file:name = 'a.exe'] START t'2023-02-29T00:00:00Z' STOP t'2023-03-01T00:00:00Z'";
    let (_dir, paths) = files(&[("advisory.json", &bundle(vec![indicator(pattern)]))]);

    // Act
    let (lenient, stdout, _) = run_validate(&[&paths[0]]);
    let (strict, strict_stdout, _) = run_validate(&["--strict", &paths[0]]);

    // Assert
    assert_eq!(lenient, 0, "{stdout}");
    assert!(
        stdout.contains(&format!("  finding  {INDICATOR} /objects/0/pattern: [pattern] pattern is not valid STIX")),
        "{stdout}"
    );
    assert!(stdout.contains("2023-02-29"), "{stdout}");
    assert_eq!(strict, 1, "{strict_stdout}");
    assert!(strict_stdout.trim_end().ends_with("1 finding (strict: findings fail) → exit 1"), "{strict_stdout}");
}

#[test]
fn validate_exits_1_when_the_platform_would_refuse_an_object_and_lists_both_channels() {
    // Arrange: a pattern the platform refuses, and a relationship to an identity the file
    // does not hold.
    let rel = json!({"type": "relationship", "spec_version": "2.1", "id": RELATIONSHIP, "created": "2026-01-01T00:00:00Z",
        "modified": "2026-01-01T00:00:00Z", "relationship_type": "indicates", "source_ref": INDICATOR,
        "target_ref": "identity--5d0092c5-5f74-4287-9642-33f4c354e56e"});
    let (_dir, paths) = files(&[("refused.json", &bundle(vec![indicator("[ipv4-addr:value = "), rel]))]);

    // Act
    let (code, stdout, _) = run_validate(&[&paths[0]]);

    // Assert
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("  error    {INDICATOR} /objects/0: [FUNCTIONAL_ERROR] {{'name': 'FUNCTIONAL_ERROR'")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("  error    {RELATIONSHIP} /objects/1: [MISSING_REFERENCE_ERROR]")), "{stdout}");
    assert!(stdout.contains(&format!("  finding  {INDICATOR} /objects/0/pattern: [pattern]")), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "  finding  {RELATIONSHIP} /objects/1/target_ref: [reference] 'identity--5d0092c5-5f74-4287-9642-33f4c354e56e' is not in the bundle"
        )),
        "{stdout}"
    );
    assert!(stdout.trim_end().ends_with("2 objects: 2 errors, 2 findings → exit 1"), "{stdout}");
}

#[test]
fn validate_exits_2_and_names_the_file_that_is_not_a_readable_bundle() {
    // Arrange
    let (dir, paths) = files(&[
        ("clean.json", &bundle(vec![indicator("[ipv4-addr:value = '198.51.100.1']")])),
        ("truncated.json", "{\"type\": \"bundle\", \"objects\": ["),
        ("object.json", &indicator("[ipv4-addr:value = '198.51.100.1']").to_string()),
    ]);
    std::fs::write(dir.path().join("latin1.json"), b"{\"type\": \"bundle\", \"name\": \"caf\xe9\"}").expect("file written");
    let missing = dir.path().join("missing.json").display().to_string();
    let latin1 = dir.path().join("latin1.json").display().to_string();

    // Act
    let (code, stdout, _) = run_validate(&[&paths[0], &paths[1], &paths[2], &latin1, &missing]);

    // Assert
    assert_eq!(code, 2, "{stdout}");
    assert!(stdout.contains(&format!("{}: unreadable: not JSON: EOF while parsing", paths[1])), "{stdout}");
    assert!(stdout.contains(&format!("{}: unreadable: not a STIX bundle", paths[2])), "{stdout}");
    assert!(stdout.contains(&format!("{latin1}: unreadable: not UTF-8 text")), "{stdout}");
    assert!(stdout.contains(&format!("{missing}: unreadable: cannot read it:")), "{stdout}");
    assert!(stdout.contains("clean.json: 1 object, 0 errors"), "{stdout}");
    assert!(stdout.trim_end().ends_with("5 files (4 unreadable), 1 object: 0 errors, 0 findings → exit 2"), "{stdout}");
}

#[test]
fn validate_format_json_gives_files_with_both_channels_and_a_summary() {
    // Arrange
    let (_dir, paths) =
        files(&[("refused.json", &bundle(vec![indicator("[ipv4-addr:value = ")])), ("truncated.json", "{\"type\": \"bundle\"")]);

    // Act
    let (code, stdout, _) = run_validate(&["--format", "json", &paths[0], &paths[1]]);
    let report: Value = serde_json::from_str(&stdout).expect("one JSON document");

    // Assert
    assert_eq!(code, 2);
    assert_eq!(
        report["summary"],
        json!({"files": 2, "unreadable": 1, "objects": 1, "errors": 1, "findings": 1, "strict": false, "exit_code": 2})
    );
    let refused = &report["files"][0];
    assert_eq!(
        (refused["file"].as_str(), refused["readable"].as_bool(), refused["objects"].as_u64()),
        (Some(paths[0].as_str()), Some(true), Some(1))
    );
    let error = &refused["errors"][0];
    assert_eq!(
        (error["object_id"].as_str(), error["path"].as_str(), error["code"].as_str()),
        (Some(INDICATOR), Some("/objects/0"), Some("FUNCTIONAL_ERROR"))
    );
    assert!(error["message"].as_str().is_some_and(|m| m.contains("INCORRECT_INDICATOR_FORMAT")), "{error}");
    let finding = &refused["findings"][0];
    assert_eq!(
        (finding["object_id"].as_str(), finding["path"].as_str(), finding["rule"].as_str()),
        (Some(INDICATOR), Some("/objects/0/pattern"), Some("pattern"))
    );
    assert!(finding["message"].as_str().is_some_and(|m| m.starts_with("pattern is not valid STIX")), "{finding}");
    let truncated = &report["files"][1];
    assert_eq!(truncated["readable"], json!(false));
    assert!(truncated["reason"].as_str().is_some_and(|r| r.starts_with("not JSON")), "{truncated}");
    assert_eq!((truncated["errors"].clone(), truncated["findings"].clone()), (json!([]), json!([])));
}

#[test]
fn validate_without_a_file_is_a_usage_error() {
    // Act
    let (code, _, stderr) = run_validate(&[]);

    // Assert
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("<FILES>..."), "{stderr}");
}
