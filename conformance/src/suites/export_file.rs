//! INTERNAL_EXPORT_FILE: a connector the platform asks for files of its knowledge (one
//! entity, a selection, a query), one job at a time, for the user who asked.
//!
//! What the gate sends (`src/conform/jobs.rs` in the mock), in the first format of the
//! connector's scope, every file to be marked TLP:GREEN: `single` a simple export of a
//! report, `single-full` a full one, `selection` one malware of two, `query` every malware;
//! `impersonation` every malware, the report and a malware (full), asked by a user cleared
//! for every TLP marking and no PAP one — the PAP:RED malware and attack pattern must stay
//! out; `max-marking` the same three asked by the administrator with TLP:GREEN as the
//! content max marking — the TLP:RED ones must stay out.

use crate::check::{Check, Level, Outcome};
use crate::evidence::{Evidence, ExportedFile, Job};
use crate::verify::{self, describe_job, jobs_of, no_job, sample};

const TYPES: &[&str] = &["INTERNAL_EXPORT_FILE"];

/// The INTERNAL_EXPORT_FILE suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "EXPORT-FILE-001",
            title: "Every export job is answered",
            level: Level::Must,
            requirement: "An export connector MUST close the work of every job it is sent (workEdit.toProcessed, in error when the \
                          export fails): the user's file stays 'in progress' until then, and times out after 20 minutes.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received, then to_processed); platform askEntityExport / \
                    askListExport (domain/stix.js: the work, import_expected_number 0) and workToExportFile (domain/work.js: \
                    timeout after 20 idle minutes)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: verify::jobs_answered,
        },
        Check {
            id: "EXPORT-FILE-002",
            title: "A finished export leaves its file where the platform lists it",
            level: Level::Must,
            requirement: "When an export connector closes a job's work without error, it MUST have pushed the file under the job's \
                          file_name for the job's entity (exportPush) or list (stixCoreObjectsExportPush and its kin, with the \
                          job's entity_type and entity_id): that is where the platform lists it for the user.",
            cites: "platform stixCoreObjectExportPush / stixCoreObjectsExportPush (domain/stixCoreObject.js: folder \
                    export/<type>[/<id>]) and paginatedForPathWithEnrichment (listing by folder); the job's file_name \
                    (domain/stix.js)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: file_where_listed,
        },
        Check {
            id: "EXPORT-FILE-003",
            title: "Each export scope is served",
            level: Level::Should,
            requirement: "An export connector SHOULD serve the three export scopes the platform asks for — one entity (single), a \
                          selection and a query — in both export types: a scope it refuses fails every user who asks for it.",
            cites: "platform askEntityExport (export_scope single, export_type simple|full) and askListExport (selection, query) \
                    in domain/stix.js",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: scopes_served,
        },
        Check {
            id: "EXPORT-FILE-004",
            title: "The export reads the knowledge as the requester",
            level: Level::Must,
            requirement: "An export connector MUST read the knowledge as the user who asked (pycti's api_impersonate, which sends \
                          the job's applicant_id as opencti-applicant-id): what that user may not see MUST NOT be in the file.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (api_impersonate.set_applicant_id_header(applicant_id)); platform \
                    internalAuthenticateUser (domain/user.js: opencti-applicant-id honoured for a BYPASS token); deployment \
                    documentation (export connectors run with an administrator token to impersonate)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: |ev| nothing_withheld(ev, "impersonation"),
        },
        Check {
            id: "EXPORT-FILE-005",
            title: "No content above the ask's max marking",
            level: Level::Must,
            requirement: "An export connector MUST apply the job's access_filter (main_filter for a selection) to what it reads: \
                          content marked above the ask's content max marking MUST NOT be in the file.",
            cites: "platform getExportFilter (utils/getExportFilter.ts: access_filter excludes markings above contentMaxMarkings); \
                    pycti 7.261026.0 OpenCTIStix2 export helpers (access_filter on every read)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: |ev| nothing_withheld(ev, "max-marking"),
        },
        Check {
            id: "EXPORT-FILE-006",
            title: "Each job's work is reported received before it is closed",
            level: Level::Must,
            requirement: "A connector MUST report a job's work received (workEdit.toReceived) before completing it: the file shows \
                          as in progress meanwhile.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received 'Connector ready to process the operation'); platform \
                    reportExpectation/updateReceivedTime (domain/work.js: status progress)",
            applies_to: TYPES,
            enforced_by_pycti: true,
            verify: verify::jobs_received_before_completed,
        },
        Check {
            id: "EXPORT-FILE-007",
            title: "The file holds the format asked",
            level: Level::Should,
            requirement: "An export connector SHOULD write the format the job asks for (event.format) — JSON for a JSON format \
                          such as STIX, a PDF for application/pdf, text for text formats: the platform names and types the file by \
                          that format's extension.",
            cites: "platform askEntityExport / askListExport (file name extension from the format, domain/stix.js) and upload \
                    (database/file-storage.ts: MIME type guessed from the extension)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: format_kept,
        },
        Check {
            id: "EXPORT-FILE-008",
            title: "The file carries the job's file markings",
            level: Level::Must,
            requirement: "An export connector MUST push the file with the job's file_markings: the platform marks the file with \
                          them only when the connector sends them back, and an unmarked file is open to every user who may read \
                          exports.",
            cites: "platform askEntityExport / askListExport (event.file_markings, domain/stix.js) and upload \
                    (database/file-storage.ts: file_markings from the push); pycti 7.261026.0 push_entity_export / \
                    push_list_export (file_markings)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: file_markings_kept,
        },
    ]
}

/// The file of a job: pushed in its folder under its name — or under its name with another
/// extension: the platform names a file of a format without a known extension
/// `….unknown`, connectors rename it (export-file-yara pushes `….yar`), and the platform
/// lists the folder, whatever the names in it.
fn file_of(j: &Job) -> Option<&ExportedFile> {
    let name = j.file_name.as_deref()?;
    let stem = |n: &str| n.rsplit_once('.').map_or(n, |(s, _)| s).to_lowercase();
    let in_folder = || j.exported.iter().filter(|f| f.folder == j.subject);
    in_folder().find(|f| f.name == name).or_else(|| in_folder().find(|f| stem(&f.name) == stem(name)))
}

fn export_jobs(ev: &Evidence) -> Vec<&Job> {
    ev.jobs.iter().filter(|j| j.kind == "INTERNAL_EXPORT_FILE").collect()
}

fn file_where_listed(ev: &Evidence) -> Outcome {
    let jobs = export_jobs(ev);
    if jobs.is_empty() {
        return no_job(ev, "no export job", &["single", "query"]);
    }
    let done: Vec<&&Job> = jobs.iter().filter(|j| j.processed && !j.in_error).collect();
    if done.is_empty() {
        return Outcome::blocked("no export job was closed without error (see EXPORT-FILE-001 and EXPORT-FILE-003)");
    }
    let bad: Vec<String> = done
        .iter()
        .filter(|j| file_of(j).is_none())
        .map(|j| {
            let pushed: Vec<String> = j.exported.iter().map(|f| f.id.clone()).collect();
            format!(
                "{}: expected {}/{}, pushed {}",
                describe_job(j),
                j.subject,
                j.file_name.as_deref().unwrap_or("?"),
                if pushed.is_empty() { "nothing".to_string() } else { pushed.join(", ") }
            )
        })
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("the job's file in the job's folder for every export closed without error", sample(&bad, 3))
    }
}

fn scopes_served(ev: &Evidence) -> Outcome {
    let jobs = export_jobs(ev);
    if jobs.is_empty() {
        return no_job(ev, "no export job", &["single", "query"]);
    }
    let mut refused = Vec::new();
    for role in ["single", "single-full", "selection", "query"] {
        let of_role: Vec<&&Job> = jobs.iter().filter(|j| j.role == role).collect();
        if of_role.is_empty() {
            continue;
        }
        if !of_role.iter().any(|j| j.processed && !j.in_error && file_of(j).is_some()) {
            let why: Vec<String> = of_role
                .iter()
                .map(|j| match (j.processed, j.in_error) {
                    (true, true) => format!("{}: in error: {}", describe_job(j), j.message.as_deref().unwrap_or("no message")),
                    (true, false) => format!("{}: closed without its file", describe_job(j)),
                    _ => format!("{}: not answered", describe_job(j)),
                })
                .collect();
            refused.push(sample(&why, 1));
        }
    }
    if refused.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("a file for one entity (simple and full), a selection and a query", sample(&refused, 4))
    }
}

/// The jobs of `role` (a list export and a full export of the report, so that a connector
/// serving one scope only is judged on the one it serves) are judged on every file the
/// gate can search; blocked only when none can be.
fn nothing_withheld(ev: &Evidence, role: &str) -> Outcome {
    let jobs = match jobs_of(ev, role) {
        Ok(j) => j,
        Err(o) => return o,
    };
    let (mut leaked, mut judged, mut why_not) = (Vec::new(), 0, Vec::new());
    for j in &jobs {
        let file = match (j.processed, j.in_error, file_of(j)) {
            (false, ..) => {
                why_not.push(format!("{}: not answered (see EXPORT-FILE-001)", describe_job(j)));
                continue;
            }
            (true, true, _) => {
                why_not.push(format!("{}: the export failed: {}", describe_job(j), j.message.as_deref().unwrap_or("no message")));
                continue;
            }
            (true, false, None) => {
                why_not.push(format!("{}: no file where the platform lists it (see EXPORT-FILE-002)", describe_job(j)));
                continue;
            }
            (true, false, Some(f)) => f,
        };
        let Some(markers) = &file.withheld_markers else {
            why_not.push(format!(
                "{}: the file is {} ({} bytes), which the gate cannot search",
                describe_job(j),
                file.content_kind,
                file.size
            ));
            continue;
        };
        judged += 1;
        if !markers.is_empty() {
            // Only the markers found are named: a file may hold one withheld object and not
            // the other.
            leaked.push(format!("{}: {} holds {}", describe_job(j), file.name, markers.join(", ")));
        }
    }
    if !leaked.is_empty() {
        let what = jobs[0].withheld.as_deref().unwrap_or("the withheld entity");
        return Outcome::fail(format!("no trace of {what} in the file"), sample(&leaked, 2));
    }
    if judged == 0 {
        return Outcome::blocked(format!("no file to judge: {}", sample(&why_not, 2)));
    }
    Outcome::Pass
}

/// The content kind a format calls for, when the gate can tell.
fn wanted_kind(format: &str) -> Option<&'static [&'static str]> {
    let f = format.to_ascii_lowercase();
    if f.ends_with("json") || f.ends_with("+json") {
        Some(&["json"])
    } else if f == "application/pdf" {
        Some(&["pdf"])
    } else if f.contains("opendocument") || f.contains("openxmlformats") || f == "application/zip" {
        Some(&["zip"])
    } else if f.starts_with("text/") {
        Some(&["text", "json"])
    } else {
        None
    }
}

/// The export jobs and, for those that pushed one, their file; blocked without any.
#[allow(clippy::type_complexity)]
fn pushed_files(ev: &Evidence) -> Result<(Vec<&Job>, Vec<(&Job, &ExportedFile)>), Outcome> {
    let jobs = export_jobs(ev);
    if jobs.is_empty() {
        return Err(no_job(ev, "no export job", &["single", "query"]));
    }
    let files: Vec<(&Job, &ExportedFile)> = jobs.iter().filter_map(|j| file_of(j).map(|f| (*j, f))).collect();
    if files.is_empty() {
        return Err(Outcome::blocked("no export file was pushed where the platform lists it (see EXPORT-FILE-002)"));
    }
    Ok((jobs, files))
}

fn format_kept(ev: &Evidence) -> Outcome {
    let (jobs, files) = match pushed_files(ev) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let format = jobs[0].format.clone().unwrap_or_default();
    let Some(wanted) = wanted_kind(&format) else {
        return Outcome::not_applicable(format!("the gate cannot tell a {format} file by its content"));
    };
    let bad: Vec<String> = files
        .iter()
        .filter(|(_, f)| !wanted.contains(&f.content_kind.as_str()))
        .map(|(j, f)| format!("{}: {} is {}", describe_job(j), f.name, f.content_kind))
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail(format!("{} content for {format}", wanted.join(" or ")), sample(&bad, 3))
    }
}

fn file_markings_kept(ev: &Evidence) -> Outcome {
    let (_, files) = match pushed_files(ev) {
        Ok(x) => x,
        Err(o) => return o,
    };
    if files.iter().all(|(j, _)| j.file_markings.is_empty()) {
        return Outcome::not_applicable("no job asked for file markings");
    }
    let bad: Vec<String> = files
        .iter()
        .filter(|(j, f)| !j.file_markings.iter().all(|m| f.markings.contains(m)))
        .map(|(j, f)| {
            format!("{}: {} carries {} of the {} asked", describe_job(j), f.name, f.markings.len(), j.file_markings.len())
        })
        .collect();
    if bad.is_empty() { Outcome::Pass } else { Outcome::fail("every file with its job's file_markings", sample(&bad, 3)) }
}
