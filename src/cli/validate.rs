//! Bundle files on disk (`opencti-mock validate`): both channels for each file, never
//! mixed.
//!
//! - **errors**: what the platform would refuse when a connector sends the bundle
//!   ([`crate::ingest::bundle_file::refusals_in_bundle`]: references resolvable in the file or to a
//!   built-in marking count as resolved), each with the work error text pycti would record;
//! - **findings**: where the objects depart from STIX 2.1 ([`crate::validate::bundle::validate_bundle`],
//!   advisory).
//!
//! The exit code is 0 when no file has an error (with `strict`, no finding either), 1
//! otherwise, and 2 as soon as one file cannot be read as a bundle (not found, not UTF-8,
//! not JSON, not a bundle) — the reason is given for that file.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;
use serde_json::{Value, json};

use crate::ingest::bundle_file::refusals_in_bundle;
use crate::stix::markings;
use crate::validate::Finding;
use crate::validate::bundle::validate_bundle;

/// Something the platform would refuse, found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileError {
    /// The refused object's id.
    pub object_id: String,
    /// JSON pointer of the object in the file (`/objects/3`).
    pub path: String,
    /// The platform's error code (`MISSING_REFERENCE_ERROR`…), absent when pycti's worker
    /// itself fails on the object.
    pub code: Option<&'static str>,
    /// The work error text pycti would record.
    pub message: String,
}

/// What was found in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file is a bundle: its objects were checked.
    Checked {
        /// Objects in the bundle.
        objects: usize,
        /// What the platform would refuse.
        errors: Vec<FileError>,
        /// STIX 2.1 findings (advisory).
        findings: Vec<Finding>,
    },
    /// The file could not be read as a bundle, and why.
    Unreadable(String),
}

/// One file's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The file name as given.
    pub file: String,
    /// What was found.
    pub outcome: Outcome,
}

/// Checks one file.
pub fn check_file(path: &Path) -> FileReport {
    let file = path.display().to_string();
    let outcome = match std::fs::read(path) {
        Err(e) => Outcome::Unreadable(format!("cannot read it: {e}")),
        Ok(bytes) => match String::from_utf8(bytes) {
            Err(e) => Outcome::Unreadable(format!("not UTF-8 text: invalid byte at offset {}", e.utf8_error().valid_up_to())),
            Ok(text) => check_text(&text),
        },
    };
    FileReport { file, outcome }
}

/// Checks bundle text (what [`check_file`] does once the file is read).
pub fn check_text(text: &str) -> Outcome {
    let report = match validate_bundle(text, &markings::is_built_in) {
        Ok(r) => r,
        Err(why) => return Outcome::Unreadable(why),
    };
    let refusals = match refusals_in_bundle(text) {
        Ok(r) => r,
        Err(why) => return Outcome::Unreadable(why),
    };
    let positions = if refusals.is_empty() { HashMap::new() } else { object_positions(text) };
    let errors = refusals
        .into_iter()
        .map(|r| FileError {
            path: positions.get(r.object_id.as_str()).map(|i| format!("/objects/{i}")).unwrap_or_else(|| "/objects".into()),
            code: r.refusal.as_ref().map(|refusal| refusal.code),
            message: r.work_error,
            object_id: r.object_id,
        })
        .collect();
    Outcome::Checked { objects: report.objects, errors, findings: report.findings }
}

/// Index of the first object holding each id.
fn object_positions(text: &str) -> HashMap<String, usize> {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        id: Option<String>,
    }
    let Ok(env) = serde_json::from_str::<crate::stix::BundleEnvelope>(text) else { return HashMap::new() };
    let mut out = HashMap::new();
    for (i, raw) in env.objects.unwrap_or_default().iter().enumerate() {
        if let Ok(IdOnly { id: Some(id) }) = serde_json::from_str(raw.get()) {
            out.entry(id).or_insert(i);
        }
    }
    out
}

/// Totals over several files.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files given.
    pub files: usize,
    /// Files that could not be read as bundles.
    pub unreadable: usize,
    /// Objects checked.
    pub objects: usize,
    /// What the platform would refuse.
    pub errors: usize,
    /// STIX findings.
    pub findings: usize,
    /// Whether findings fail the run.
    pub strict: bool,
    /// The exit code: 0, 1 (errors, or findings with `strict`) or 2 (unreadable file).
    pub exit_code: u8,
}

impl Summary {
    /// Adds up the reports.
    pub fn of(reports: &[FileReport], strict: bool) -> Summary {
        let mut s = Summary { files: reports.len(), strict, ..Summary::default() };
        for r in reports {
            match &r.outcome {
                Outcome::Unreadable(_) => s.unreadable += 1,
                Outcome::Checked { objects, errors, findings } => {
                    s.objects += objects;
                    s.errors += errors.len();
                    s.findings += findings.len();
                }
            }
        }
        s.exit_code = if s.unreadable > 0 {
            2
        } else if s.errors > 0 || (strict && s.findings > 0) {
            1
        } else {
            0
        };
        s
    }
}

fn plural(n: usize, one: &str) -> String {
    if n == 1 { format!("1 {one}") } else { format!("{n} {one}s") }
}

/// The text report: per file, each error and finding with object id, path and message,
/// then one summary line.
pub fn render_text(reports: &[FileReport], strict: bool) -> String {
    let mut out = String::new();
    for r in reports {
        match &r.outcome {
            Outcome::Unreadable(why) => {
                let _ = writeln!(out, "{}: unreadable: {why}", r.file);
            }
            Outcome::Checked { objects, errors, findings } => {
                let _ = writeln!(
                    out,
                    "{}: {}, {} (platform refusals), {} (STIX 2.1, advisory)",
                    r.file,
                    plural(*objects, "object"),
                    plural(errors.len(), "error"),
                    plural(findings.len(), "finding")
                );
                for e in errors {
                    let code = e.code.unwrap_or("worker");
                    let _ = writeln!(out, "  error    {} {}: [{code}] {}", e.object_id, e.path, e.message);
                }
                for f in findings {
                    let id = f.object_id.as_deref().unwrap_or("-");
                    let _ = writeln!(out, "  finding  {id} {}: [{}] {}", f.path, f.rule, f.message);
                }
            }
        }
    }
    let s = Summary::of(reports, strict);
    let _ = writeln!(
        out,
        "{} ({} unreadable), {}: {}, {}{} → exit {}",
        plural(s.files, "file"),
        s.unreadable,
        plural(s.objects, "object"),
        plural(s.errors, "error"),
        plural(s.findings, "finding"),
        if strict { " (strict: findings fail)" } else { "" },
        s.exit_code
    );
    out
}

/// The JSON report: `{"files": [{file, readable, reason?, objects, errors, findings}],
/// "summary": {files, unreadable, objects, errors, findings, strict, exit_code}}`.
pub fn render_json(reports: &[FileReport], strict: bool) -> Value {
    let files: Vec<Value> = reports
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Unreadable(why) => {
                json!({"file": r.file, "readable": false, "reason": why, "objects": 0, "errors": [], "findings": []})
            }
            Outcome::Checked { objects, errors, findings } => {
                json!({"file": r.file, "readable": true, "objects": objects, "errors": errors, "findings": findings})
            }
        })
        .collect();
    json!({"files": files, "summary": Summary::of(reports, strict)})
}
