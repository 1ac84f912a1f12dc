//! STIX validation against its references:
//! - every STIX type pycti's splitter knows has a schema, a passing and a failing fixture;
//! - the OASIS example objects shipped in the pinned `stix2-validator` wheel pass (read from
//!   the test venv, never copied into the repository);
//! - a corpus of broken objects generated from the fixtures and those examples (a required
//!   property dropped, another type's id prefix, an impossible or malformed timestamp, a
//!   dangling reference, a broken pattern) fails at the expected path;
//! - verdicts agree with the Python `stix2-validator` on the shared corpus (≥ 95 %), and
//!   every disagreement is listed with its reason in
//!   `fixtures/stix/validator-disagreements.txt`, a list that may only shrink.
//!
//! `opencti-mock validate` itself is tested in `validate_cli.rs`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use opencti_mock::stix::markings;
use opencti_mock::stix::pattern::check_pattern;
use opencti_mock::stix::plain_pattern::is_plain_pattern;
use opencti_mock::stix::supported_types::{INTERNAL_OBJECT_TYPES as INTERNAL_OBJECTS, STIX_TYPES, is_supported_type};
use opencti_mock::validate::bundle::validate_bundle;
use opencti_mock::validate::{Finding, StixValidator};
use serde_json::{Value, json};

/// The agreement the issue asks for, in percent.
const MIN_AGREEMENT: f64 = 95.0;

fn stix_fixtures() -> PathBuf {
    common::root().join("fixtures/stix")
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `fixtures/stix/<dir>/*.json` by type.
fn fixture_files(dir: &str) -> BTreeMap<String, Value> {
    std::fs::read_dir(stix_fixtures().join(dir))
        .expect("fixture directory")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| (p.file_stem().expect("a file name").to_string_lossy().into_owned(), read_json(&p)))
        .collect()
}

/// One invalid case: `{"why", "object", "path"}`.
struct Case {
    why: String,
    object: Value,
    path: String,
}

fn invalid_cases(file: &Value) -> Vec<Case> {
    file.as_array()
        .expect("an array of cases")
        .iter()
        .map(|c| Case {
            why: c["why"].as_str().expect("why").to_string(),
            object: c["object"].clone(),
            path: c["path"].as_str().expect("path").to_string(),
        })
        .collect()
}

fn check(obj: &Value) -> Vec<Finding> {
    StixValidator::get().check_object(obj)
}

/// What a schema says when a rule over several properties fails (`anyOf`, `oneOf`, `not`):
/// the error is on the object holding them, not on one property.
const COMBINATOR_ERRORS: &[&str] = &[
    "is not valid under any of the schemas listed in the 'anyOf' keyword",
    "is not valid under any of the schemas listed in the 'oneOf' keyword",
    "is valid under more than one of the schemas listed in the 'oneOf' keyword",
    "is not allowed for",
];

/// Whether a finding points at `path`, inside it, or — for a rule over several
/// properties — at the object holding it.
fn has_finding_at(findings: &[Finding], path: &str) -> bool {
    findings.iter().any(|f| {
        f.path == path
            || f.path.starts_with(&format!("{path}/"))
            || (path.starts_with(&format!("{}/", f.path)) && COMBINATOR_ERRORS.iter().any(|m| f.message.contains(m)))
    })
}

fn describe(findings: &[Finding]) -> String {
    findings.iter().map(|f| format!("  [{}] {}: {}", f.rule, f.path, f.message)).collect::<Vec<_>>().join("\n")
}

// ---------------------------------------------------------------------------------------
// Coverage

#[test]
fn every_stix_type_the_splitter_knows_has_a_schema_a_passing_and_a_failing_fixture() {
    // Arrange
    let validator = StixValidator::get();
    let valid = fixture_files("valid");
    let invalid = fixture_files("invalid");
    let stix_types: Vec<&str> = STIX_TYPES.to_vec();
    let mut problems = Vec::new();

    // Act
    for t in INTERNAL_OBJECTS {
        if !is_supported_type(t) {
            problems.push(format!("{t}: listed as internal but the splitter does not know it"));
        }
        let findings = check(&json!({"type": t, "id": format!("{t}--5d0092c5-5f74-4287-9642-33f4c354e56d")}));
        if !findings.iter().any(|f| f.rule == "type" && f.message.contains("internal object")) {
            problems.push(format!("{t}: an internal object should be reported as outside STIX:\n{}", describe(&findings)));
        }
    }
    let every_type: BTreeSet<&str> = stix_types.iter().copied().chain(validator.types()).collect();
    for t in every_type {
        if !validator.knows(t) {
            problems.push(format!("{t}: no schema in src/stix/schemas/"));
        }
        match valid.get(t).and_then(Value::as_array) {
            None => problems.push(format!("{t}: no fixtures/stix/valid/{t}.json")),
            Some(objects) if objects.is_empty() => problems.push(format!("{t}: valid/{t}.json is empty")),
            Some(objects) => {
                for (i, obj) in objects.iter().enumerate() {
                    let findings = check(obj);
                    if obj["type"] != t || !findings.is_empty() {
                        problems.push(format!("valid/{t}.json #{i} does not pass as a {t}:\n{}", describe(&findings)));
                    }
                }
            }
        }
        let Some(file) = invalid.get(t) else {
            problems.push(format!("{t}: no fixtures/stix/invalid/{t}.json"));
            continue;
        };
        let cases = invalid_cases(file);
        if cases.is_empty() {
            problems.push(format!("{t}: invalid/{t}.json is empty"));
        }
        for (i, case) in cases.iter().enumerate() {
            let findings = check(&case.object);
            if case.object["type"] != t || !has_finding_at(&findings, &case.path) {
                problems.push(format!(
                    "invalid/{t}.json #{i} ({}) has no finding at {}:\n{}",
                    case.why,
                    case.path,
                    describe(&findings)
                ));
            }
        }
    }

    // Assert
    assert!(stix_types.len() >= 80, "{} STIX types", stix_types.len());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// The OASIS examples, from the stix2-validator wheel installed in the test venv

/// A Python program run in the pinned venv.
fn python(script: &str, args: &[&str]) -> String {
    let out = Command::new(common::pycti_python()).arg("-c").arg(script).args(args).output().expect("python runs");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `(file relative to the examples directory, JSON)` of every example the wheel ships.
fn oasis_example_files() -> Vec<(String, Value)> {
    let package = python("import os, stix2validator; print(os.path.dirname(stix2validator.__file__))", &[]);
    let examples = PathBuf::from(package.trim()).join("schemas-2.1/examples");
    let mut files = Vec::new();
    let mut dirs = vec![examples.clone()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "json") {
                let name = path.strip_prefix(&examples).expect("under examples").display().to_string();
                files.push((name, read_json(&path)));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

/// Every object of the OASIS examples: `(key, object)`.
fn oasis_objects(files: &[(String, Value)]) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (name, doc) in files {
        match doc["objects"].as_array() {
            Some(objects) if doc["type"] == "bundle" => {
                out.extend(objects.iter().enumerate().map(|(i, o)| (format!("oasis/{name}#{i}"), o.clone())));
            }
            _ => out.push((format!("oasis/{name}"), doc.clone())),
        }
    }
    out
}

#[test]
fn the_oasis_examples_shipped_in_the_stix2_validator_wheel_pass() {
    // Arrange
    let files = oasis_example_files();
    let mut problems = Vec::new();
    let mut objects = 0;

    // Act
    for (name, doc) in &files {
        if doc["type"] == "bundle" {
            let report = validate_bundle(&doc.to_string(), &markings::is_built_in).expect("a bundle");
            objects += report.objects;
            if !report.findings.is_empty() {
                problems.push(format!("{name}:\n{}", describe(&report.findings)));
            }
        } else {
            objects += 1;
            let findings = check(doc);
            if !findings.is_empty() {
                problems.push(format!("{name}:\n{}", describe(&findings)));
            }
        }
    }

    // Assert
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert!(files.len() >= 8 && objects >= 250, "the wheel ships {} example files, {objects} objects: {names:?}", files.len());
    assert!(problems.is_empty(), "OASIS examples with findings:\n{}", problems.join("\n"));
}

// ---------------------------------------------------------------------------------------
// Generated broken objects

/// The properties a type's schema always requires: its `required`, and those of the
/// `common.json` definitions it includes through `allOf`.
fn required_properties(stix_type: &str) -> BTreeSet<String> {
    let dir = common::root().join("src/stix/schemas");
    let common = read_json(&dir.join("common.json"));
    fn collect(schema: &Value, common: &Value, out: &mut BTreeSet<String>) {
        for r in schema["required"].as_array().into_iter().flatten() {
            out.extend(r.as_str().map(str::to_string));
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            if let Some(name) = part["$ref"].as_str().and_then(|r| r.rsplit_once("#/$defs/")).map(|(_, n)| n) {
                collect(&common["$defs"][name], common, out);
            }
        }
    }
    let mut out = BTreeSet::new();
    collect(&read_json(&dir.join(format!("{stix_type}.json"))), &common, &mut out);
    out
}

const TIMESTAMP_PROPERTIES: &[&str] = &[
    "created",
    "modified",
    "valid_from",
    "valid_until",
    "first_seen",
    "last_seen",
    "published",
    "first_observed",
    "last_observed",
    "start_time",
    "stop_time",
    "submitted",
    "ctime",
    "mtime",
    "atime",
    "date",
];

/// One generated broken object and where it must fail.
struct Broken {
    key: String,
    object: Value,
    /// Where a finding must point (from the object, or from the bundle for references).
    path: String,
    /// The rule that must report it, when only one can.
    rule: Option<&'static str>,
    /// Checked in a one-object bundle (a dangling reference is a bundle-level finding).
    in_bundle: bool,
}

/// Patterns broken for the specification: (name, pattern). The platform accepts the last.
const BROKEN_PATTERNS: &[(&str, &str)] = &[
    ("unclosed", "[ipv4-addr:value = '198.51.100.1'"),
    ("no-operator", "[ipv4-addr:value '198.51.100.1']"),
    ("lowercase-keyword", "[ipv4-addr:value = '198.51.100.1' and ipv4-addr:value = '198.51.100.2']"),
    ("impossible-date", "[file:name = 'a.exe'] START t'2023-02-29T00:00:00Z' STOP t'2023-03-01T00:00:00Z'"),
];

fn broken_corpus(sources: &[(String, Value)]) -> Vec<Broken> {
    let mut out = Vec::new();
    for (key, obj) in sources {
        let Some(t) = obj["type"].as_str() else { continue };
        let Some(map) = obj.as_object() else { continue };
        for prop in required_properties(t) {
            if map.contains_key(&prop) {
                let mut o = obj.clone();
                o.as_object_mut().expect("an object").remove(&prop);
                out.push(Broken {
                    key: format!("{key} drop:{prop}"),
                    object: o,
                    path: format!("/{prop}"),
                    rule: None,
                    in_bundle: false,
                });
            }
        }
        if let Some(id) = obj["id"].as_str()
            && let Some((_, uuid)) = id.split_once("--")
        {
            let other = if t == "malware" { "tool" } else { "malware" };
            let mut o = obj.clone();
            o["id"] = json!(format!("{other}--{uuid}"));
            out.push(Broken {
                key: format!("{key} id-prefix"),
                object: o,
                path: "/id".into(),
                rule: Some("id"),
                in_bundle: false,
            });
        }
        if let Some(prop) = TIMESTAMP_PROPERTIES.iter().find(|p| map.get(**p).is_some_and(Value::is_string)) {
            for (name, value, rule) in
                [("impossible", "2023-02-29T10:00:00.000Z", Some("timestamp")), ("malformed", "2023-02-28 10:00:00", None)]
            {
                let mut o = obj.clone();
                o[*prop] = json!(value);
                out.push(Broken {
                    key: format!("{key} {name}:{prop}"),
                    object: o,
                    path: format!("/{prop}"),
                    rule,
                    in_bundle: false,
                });
            }
        }
        if t == "indicator" && obj["pattern_type"] == "stix" {
            for (name, pattern) in BROKEN_PATTERNS {
                // The impossible date is one fault whatever the indicator: the fixtures carry
                // it, the OASIS indicators get the grammar faults.
                if *name == "impossible-date" && !key.starts_with("valid/") {
                    continue;
                }
                let mut o = obj.clone();
                o["pattern"] = json!(pattern);
                out.push(Broken {
                    key: format!("{key} pattern:{name}"),
                    object: o,
                    path: "/pattern".into(),
                    rule: Some("pattern"),
                    in_bundle: false,
                });
            }
        }
        // Alone in a bundle, a reference to anything but a built-in marking dangles.
        let doc = json!({"type": "bundle", "objects": [obj]});
        let mut refs: Vec<(String, String)> = opencti_mock::validate::bundle::references(obj);
        refs.retain(|(_, target)| !markings::is_built_in(target) && Some(target.as_str()) != obj["id"].as_str());
        if let Some((path, _)) = refs.first() {
            out.push(Broken {
                key: format!("{key} dangling:{path}"),
                object: doc,
                path: format!("/objects/0{path}"),
                rule: Some("reference"),
                in_bundle: true,
            });
        }
    }
    out
}

/// The valid fixtures as `(key, object)`.
fn valid_objects() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for (t, objects) in fixture_files("valid") {
        for (i, o) in objects.as_array().expect("an array").iter().enumerate() {
            out.push((format!("valid/{t}.json#{i}"), o.clone()));
        }
    }
    out
}

#[test]
fn every_generated_broken_object_fails_at_the_expected_path() {
    // Arrange
    let mut sources = valid_objects();
    sources.extend(oasis_objects(&oasis_example_files()));
    let corpus = broken_corpus(&sources);
    let mut problems = Vec::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();

    // Act
    for b in &corpus {
        let kind = b.key.rsplit(' ').next().and_then(|k| k.split(':').next()).unwrap_or("?");
        *kinds.entry(kind).or_default() += 1;
        let findings = if b.in_bundle {
            validate_bundle(&b.object.to_string(), &markings::is_built_in).expect("a bundle").findings
        } else {
            check(&b.object)
        };
        let at: Vec<&Finding> = findings.iter().filter(|f| f.path == b.path).collect();
        let ok = match b.rule {
            Some(rule) => at.iter().any(|f| f.rule == rule),
            None => !at.is_empty(),
        };
        if !ok {
            problems.push(format!(
                "{}: no {} finding at {}:\n{}",
                b.key,
                b.rule.unwrap_or("schema"),
                b.path,
                describe(&findings)
            ));
        }
    }

    // Assert
    for kind in ["drop", "id-prefix", "impossible", "malformed", "pattern", "dangling"] {
        assert!(kinds.get(kind).copied().unwrap_or(0) >= 10, "too few '{kind}' cases: {kinds:?}");
    }
    assert!(problems.is_empty(), "{} of {} broken objects not caught:\n{}", problems.len(), corpus.len(), problems.join("\n"));
}

/// Every pattern the plain-shape scanner vouches for is a valid pattern, and near misses
/// go to the full checker.
#[test]
fn plain_patterns_are_valid_patterns_and_near_misses_are_not_plain() {
    // Arrange
    let mut patterns: Vec<String> = Vec::new();
    let mut sources = valid_objects();
    sources.extend(oasis_objects(&oasis_example_files()));
    for (_, o) in &sources {
        patterns.extend(o["pattern"].as_str().map(str::to_string));
    }
    for case in fixture_files("invalid").values().flat_map(invalid_cases) {
        patterns.extend(case.object["pattern"].as_str().map(str::to_string));
    }
    let near_misses = [
        "[ipv4-addr:value = '198.51.100.1'",
        "ipv4-addr:value = '198.51.100.1']",
        "[ipv4-addr:value = '198.51.100.1'] ",
        "[ipv4-addr:value = 'it's']",
        "[ipv4-addr:value = 'a\\b']",
        "[ipv4-addr:value = 198]",
        "[ipv4-addr:value = true]",
        "[true:value = 'x']",
        "[ipv4-addr:true = 'x']",
        "[file:hashes.md5 = 'x']",
        "[file:hashes.'SHA-256' = 'x']",
        "[x:a-b = 'x']",
        "[ipv4-addr:value = 'a' and ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a' ANDipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'ANDipv4-addr:value = 'b']",
        "[ipv4-addr:value\t= 'a']",
        "[ipv4-addr:value = 'a'] AND [ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'] WITHIN 0 SECONDS",
        "[Ipv4-addr:value = 'a']",
        "[ipv4-addr:Value = 'a']",
        "[ipv4-addr:value == 'a']",
        "[ipv4-addr:value <> 'a']",
        "[ipv4-addr:value = 'a' OR]",
        "[ipv4-addr:value = 'a' OR ]",
        "[:value = 'a']",
        "[ipv4-addr: = 'a']",
        "[ipv4-addr:value. = 'a']",
        "[ipv4-addr:value = 'a']]",
        "[]",
        "",
    ];
    patterns.extend(near_misses.iter().map(|p| p.to_string()));
    for (algorithm, len) in [
        ("MD5", 32),
        ("md5", 32),
        ("'SHA-1'", 40),
        ("SHA1", 40),
        ("'SHA-256'", 64),
        ("'sha-256'", 64),
        ("SHA256", 64),
        ("'SHA-512'", 128),
        ("SHA512", 128),
        ("'SHA3-256'", 64),
        ("SSDEEP", 32),
    ] {
        for digest in
            ["a".repeat(len), "F".repeat(len), "a".repeat(len - 1), "a".repeat(len + 1), format!("{}g", "a".repeat(len - 1))]
        {
            patterns.push(format!("[file:hashes.{algorithm} = '{digest}']"));
            patterns.push(format!("[artifact:hashes.{algorithm} != '{digest}' OR file:name = 'x']"));
        }
    }
    for compound in [
        "[ipv4-addr:value = 'a'] OR [ipv4-addr:value = 'b'] AND [domain-name:value = 'c'] FOLLOWEDBY [url:value = 'd']",
        "[ipv4-addr:value = 'a' OR ipv4-addr:value = 'b'] AND [file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']",
        "[ipv4-addr:value = 'a']AND [ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'] AND[ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'] ANDOR [ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'] and [ipv4-addr:value = 'b']",
        "[ipv4-addr:value = 'a'] OR [ipv4-addr:value = 'b'] WITHIN 0 SECONDS",
        "[ipv4-addr:value = 'a'] OR ([ipv4-addr:value = 'b'])",
        "[ipv4-addr:value = 'a'] OR [ipv4-addr:value = 'b'",
        "[ipv4-addr:value = 'a'] FOLLOWEDBY",
    ] {
        patterns.push(compound.to_string());
    }
    for near in [
        "[file:hashes.SHA-256 = 'aa']",
        "[file:hashes.'SHA-256 = 'aa']",
        "[file:hashes.'SHA-256'.x = 'aa']",
        "[file:hashes = 'aa']",
        "[file:x.hashes.MD5 = 'aa']",
    ] {
        patterns.push(near.to_string());
    }
    for value in ["198.51.100.1", "a b", "", "\\'", "\\\\", "é", "]", "[", " OR ", "/*"] {
        patterns.push(format!("[ipv4-addr:value = '{value}']"));
        patterns.push(format!("[network-traffic:src_ref.value != '{value}' AND url:value='{value}' OR x_custom:x_a.b_c = 'z']"));
    }

    // Act
    let vouched_but_invalid: Vec<(&String, String)> = patterns
        .iter()
        .filter(|p| is_plain_pattern(p))
        .filter_map(|p| check_pattern(p).err().map(|e| (p, e.to_string())))
        .collect();
    let plain = patterns.iter().filter(|p| is_plain_pattern(p)).count();

    // Assert
    assert!(vouched_but_invalid.is_empty(), "plain but invalid: {vouched_but_invalid:#?}");
    assert!(plain >= 20, "only {plain} of {} patterns are plain: the fast path is not exercised", patterns.len());
    for p in ["[ipv4-addr:value = '198.51.100.1'", "[ipv4-addr:value = 'it's']", "[file:hashes.md5 = 'x']", "[true:value = 'x']"]
    {
        assert!(!is_plain_pattern(p), "{p} must go to the full checker");
    }
    assert!(is_plain_pattern("[ipv4-addr:value = '198.51.100.1']"));
    assert!(is_plain_pattern(&format!("[file:hashes.'SHA-256' = '{}']", "a".repeat(64))));
    assert!(is_plain_pattern("[ipv4-addr:value = 'a'] OR [domain-name:value = 'b']"));
    assert!(!is_plain_pattern("[ipv4-addr:value = 'a'] OR [ipv4-addr:value = 'b'] WITHIN 0 SECONDS"));
    assert!(!is_plain_pattern(&format!("[file:hashes.'SHA-256' = '{}']", "a".repeat(63))));
}

// ---------------------------------------------------------------------------------------
// Agreement with the Python stix2-validator

/// Reads a JSON array of objects from the file in `argv[1]` and prints, for each, whether
/// `stix2-validator` finds it valid (STIX 2.1, default options: errors count, warnings do
/// not), with its first errors.
const PYTHON_VERDICTS: &str = r#"
import json, sys
from stix2validator import validate_instance, ValidationOptions
options = ValidationOptions(version="2.1", silent=True)
out = []
for obj in json.load(open(sys.argv[1], encoding="utf-8")):
    try:
        result = validate_instance(obj, options)
        out.append({"valid": bool(result.is_valid), "errors": [str(e) for e in result.errors][:3]})
    except Exception as e:
        out.append({"valid": False, "errors": ["%s: %s" % (type(e).__name__, e)]})
print(json.dumps(out))
"#;

/// The types both validators have a schema for: the OASIS schemas of the wheel's `sdos`,
/// `sros` and `observables` directories, and the three meta objects of `common`.
fn shared_types() -> BTreeSet<String> {
    let listing = python(
        "import os, stix2validator\nroot = os.path.join(os.path.dirname(stix2validator.__file__), 'schemas-2.1', 'schemas')\nfor d in ('sdos', 'sros', 'observables'):\n    for f in os.listdir(os.path.join(root, d)):\n        print(f[:-5])",
        &[],
    );
    let mut types: BTreeSet<String> = listing.lines().map(str::to_string).collect();
    types.extend(["marking-definition", "language-content", "extension-definition"].map(String::from));
    types
}

/// One line of the disagreement list: `key | ours: v | python: v | reason`.
struct Listed {
    ours_valid: bool,
    python_valid: bool,
    reason: String,
}

fn verdict(valid: bool) -> &'static str {
    if valid { "valid" } else { "invalid" }
}

fn disagreement_list() -> BTreeMap<String, Listed> {
    let path = stix_fixtures().join("validator-disagreements.txt");
    let text = std::fs::read_to_string(&path).expect("fixtures/stix/validator-disagreements.txt");
    let mut out = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let parts: Vec<&str> = line.split(" | ").collect();
        let [key, ours, python, reason] = parts[..] else { panic!("not `key | ours: v | python: v | reason`: {line}") };
        let parse = |s: &str, who: &str| match s.strip_prefix(who) {
            Some("valid") => true,
            Some("invalid") => false,
            _ => panic!("expected `{who}valid` or `{who}invalid` in: {line}"),
        };
        assert!(reason.trim().len() > 10, "a disagreement needs its reason: {line}");
        let listed = Listed { ours_valid: parse(ours, "ours: "), python_valid: parse(python, "python: "), reason: reason.into() };
        assert!(listed.ours_valid != listed.python_valid, "not a disagreement: {line}");
        assert!(out.insert(key.to_string(), listed).is_none(), "listed twice: {key}");
    }
    out
}

#[test]
fn verdicts_agree_with_the_python_stix2_validator_and_every_disagreement_is_justified() {
    // Arrange: the shared corpus — OASIS examples, fixtures and the generated broken
    // objects (but the dangling references, which stix2-validator does not check), of the
    // types both validators have a schema for.
    let shared = shared_types();
    let oasis = oasis_objects(&oasis_example_files());
    let mut corpus: Vec<(String, Value)> = oasis.clone();
    let mut sources = valid_objects();
    corpus.extend(sources.iter().cloned());
    for (t, file) in fixture_files("invalid") {
        for (i, case) in invalid_cases(&file).into_iter().enumerate() {
            corpus.push((format!("invalid/{t}.json#{i}"), case.object));
        }
    }
    sources.extend(oasis);
    corpus.extend(broken_corpus(&sources).into_iter().filter(|b| !b.in_bundle).map(|b| (b.key, b.object)));
    corpus.retain(|(_, o)| o["type"].as_str().is_some_and(|t| shared.contains(t)));
    let objects: Vec<&Value> = corpus.iter().map(|(_, o)| o).collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("corpus.json");
    std::fs::write(&file, serde_json::to_string(&objects).expect("JSON")).expect("corpus written");

    // Act
    let python_verdicts: Vec<Value> =
        serde_json::from_str(python(PYTHON_VERDICTS, &[file.to_str().expect("UTF-8 path")]).trim()).expect("verdicts");
    let mut disagreements: BTreeMap<String, (bool, bool, String)> = BTreeMap::new();
    for ((key, obj), py) in corpus.iter().zip(&python_verdicts) {
        let findings = check(obj);
        let (ours, theirs) = (findings.is_empty(), py["valid"] == json!(true));
        if ours != theirs {
            let detail = if ours { py["errors"].to_string() } else { describe(&findings) };
            disagreements.insert(key.clone(), (ours, theirs, detail));
        }
    }
    let agreement = 100.0 * (corpus.len() - disagreements.len()) as f64 / corpus.len() as f64;
    fn source(key: &str) -> &str {
        match (key.split('/').next(), key.contains(' ')) {
            (_, true) => "generated",
            (Some(kind), false) => kind,
            (None, false) => "?",
        }
    }
    let mut by_source: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (key, _) in &corpus {
        let entry = by_source.entry(source(key)).or_default();
        entry.0 += 1;
        entry.1 += usize::from(disagreements.contains_key(key));
    }
    println!("by source (objects, disagreements): {by_source:?}");
    println!(
        "shared corpus: {} objects of {} types, {} disagreements, agreement {agreement:.2} %",
        corpus.len(),
        shared.len(),
        disagreements.len()
    );

    // Assert
    assert_eq!(python_verdicts.len(), corpus.len(), "one verdict per object");
    let listed = disagreement_list();
    let unlisted: Vec<String> = disagreements
        .iter()
        .filter(|(k, (ours, theirs, _))| listed.get(*k).is_none_or(|l| (l.ours_valid, l.python_valid) != (*ours, *theirs)))
        .map(|(k, (ours, theirs, detail))| format!("{k} | ours: {} | python: {} | ?\n{detail}", verdict(*ours), verdict(*theirs)))
        .collect();
    let gone: Vec<String> =
        listed.iter().filter(|(k, _)| !disagreements.contains_key(*k)).map(|(k, l)| format!("{k} ({})", l.reason)).collect();
    assert!(
        unlisted.is_empty(),
        "{} disagreement(s) without a justification in validator-disagreements.txt:\n{}",
        unlisted.len(),
        unlisted.join("\n")
    );
    assert!(
        gone.is_empty(),
        "listed disagreements that no longer occur (remove them: the list may only shrink):\n{}",
        gone.join("\n")
    );
    assert!(agreement >= MIN_AGREEMENT, "agreement {agreement:.2} % < {MIN_AGREEMENT} % on {} objects", corpus.len());
    assert!(corpus.len() >= 1000, "the shared corpus shrank to {} objects", corpus.len());
}
