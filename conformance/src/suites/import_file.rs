//! INTERNAL_IMPORT_FILE: a connector the platform sends files to import (uploads, manual
//! import asks), one job at a time (over RabbitMQ or the worker's HTTP callback).

use crate::check::{Check, Level, Outcome};
use crate::evidence::{Evidence, Job};
use crate::verify::{self, describe_job, jobs_of, pushed_ids};

const TYPES: &[&str] = &["INTERNAL_IMPORT_FILE"];

/// The INTERNAL_IMPORT_FILE suite.
pub fn checks() -> Vec<Check> {
    vec![
        Check {
            id: "IMPORT-FILE-001",
            title: "Every job is answered",
            level: Level::Must,
            requirement: "An import connector MUST close the work of every job it is sent (workEdit.toProcessed, in error when the \
                          file cannot be imported): an unanswered job leaves its work waiting forever.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received, then to_processed); platform uploadJobImport \
                    (database/file-storage.ts)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: verify::jobs_answered,
        },
        Check {
            id: "IMPORT-FILE-002",
            title: "The file is fetched with the connector's token",
            level: Level::Must,
            requirement: "A connector MUST download the job's file (event.file_fetch) from the platform with its own token: the \
                          storage refuses anonymous requests (403).",
            cites: "platform GET /storage/get/:file(*) (403 without a user); pycti 7.261026.0 OpenCTIApiClient.fetch_opencti_file \
                    (sends the Bearer token)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: fetched_with_token,
        },
        Check {
            id: "IMPORT-FILE-003",
            title: "A valid file's objects are imported",
            level: Level::Must,
            requirement: "For a file it can read, a connector MUST import the file's objects for the job's work: push them, or — when \
                          it validates before importing (its own validate_before_import, the platform's default workbench mode) — \
                          upload them as a workbench for the user to validate.",
            cites: "pycti 7.261026.0 send_stix2_bundle(work_id=…, validate_before_import → uploadPending); OpenCTI-Platform/connectors \
                    internal-import-file/import-file-stix",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: valid_file_imported,
        },
        Check {
            id: "IMPORT-FILE-004",
            title: "A corrupt file closes the work in error, without a crash",
            level: Level::Must,
            requirement: "A connector MUST answer a file it cannot parse by closing the work in error, and keep answering the next \
                          jobs. (A connector that validates before importing forwards the file to a workbench unparsed, as the \
                          platform expects: it parses nothing, so this does not apply to it.)",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_processed(in_error=True) on an exception); send_stix2_bundle \
                    (validate_before_import uploads the file as is)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: corrupt_file_in_error,
        },
        Check {
            id: "IMPORT-FILE-005",
            title: "Validation asked by the platform is respected",
            level: Level::Must,
            requirement: "When a job asks for validation (force_validation, validation_mode workbench or draft), a connector MUST NOT \
                          write to the main knowledge (it uploads a workbench, pushes into a draft, or writes nothing).",
            cites: "pycti 7.261026.0 send_stix2_bundle (validate_before_import / force_validation, validation_mode, \
                    bypass_validation); platform uploadJobImport (validation_mode, bypass_validation in drafts)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: validation_respected,
        },
        Check {
            id: "IMPORT-FILE-006",
            title: "Each job's work is reported received before it is closed",
            level: Level::Must,
            requirement: "A connector MUST report a job's work received (workEdit.toReceived) before completing it.",
            cites: "pycti 7.261026.0 ListenQueue._data_handler (to_received 'Connector ready to process the operation')",
            applies_to: TYPES,
            enforced_by_pycti: true,
            verify: verify::jobs_received_before_completed,
        },
        Check {
            id: "IMPORT-FILE-007",
            title: "A file of each type of its scope is read",
            level: Level::Should,
            requirement: "A connector SHOULD read a file of each MIME type its scope declares: the platform sends it every upload \
                          of those types, and a type it cannot read fails each of those imports. (The gate's sample of a type may \
                          not be the format the connector reads — give one it reads with --sample-file MIME=PATH.)",
            cites: "platform uploadJobImport → connectorsForImport(mimetype) (file-storage.ts: connectors whose scope holds the \
                    file's MIME type); pycti 7.261026.0 ListenQueue._data_handler (an error closes the work in error)",
            applies_to: TYPES,
            enforced_by_pycti: false,
            verify: each_type_read,
        },
    ]
}

fn connector_user(ev: &Evidence) -> Option<&str> {
    ev.calls("registerConnector").find(|o| o.succeeded()).and_then(|o| o.user_id.as_deref())
}

fn fetched_with_token(ev: &Evidence) -> Outcome {
    let Some(user) = connector_user(ev) else { return Outcome::blocked("the connector never registered (see REG-001)") };
    let received: Vec<&Job> = ev.jobs.iter().filter(|j| j.received).collect();
    if received.is_empty() {
        return Outcome::blocked("the connector took no job");
    }
    let bad: Vec<String> = received
        .iter()
        .filter(|j| {
            !ev.downloads.iter().any(|d| {
                d.seq > j.sent_at && d.file_id == j.subject && d.user_id.as_deref() == Some(user) && d.http_status == 200
            })
        })
        .map(|j| {
            let tries: Vec<String> = ev
                .downloads
                .iter()
                .filter(|d| d.seq > j.sent_at && d.file_id == j.subject)
                .map(|d| format!("HTTP {} as {}", d.http_status, d.user_id.as_deref().unwrap_or("no user")))
                .collect();
            format!("{}: {}", describe_job(j), if tries.is_empty() { "never downloaded".into() } else { tries.join(", ") })
        })
        .collect();
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("each job's file downloaded with the connector's token", verify::sample(&bad, 3))
    }
}

fn valid_file_imported(ev: &Evidence) -> Outcome {
    let jobs = match jobs_of(ev, "valid-file") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let (mut bad, mut unreadable, mut how) = (Vec::new(), Vec::new(), Vec::new());
    for j in &jobs {
        let pushed = j.work_id.as_deref().map_or(0, |w| pushed_ids(ev, w).len());
        if pushed > 0 {
            how.push(format!("{}: {pushed} objects pushed", describe_job(j)));
        } else if !j.workbenches.is_empty() {
            how.push(format!("{}: workbench {}", describe_job(j), j.workbenches.join(", ")));
        } else if !downloaded(ev, j) && (!j.processed || download_refused(ev, j)) {
            return Outcome::blocked(format!(
                "{}: the connector did not download the file (see IMPORT-FILE-002)",
                describe_job(j)
            ));
        } else if j.processed && j.in_error {
            unreadable.push(format!(
                "{} ({}): closed in error with {:?}",
                describe_job(j),
                about(j),
                j.message.as_deref().unwrap_or("")
            ));
        } else {
            let closing = j.message.as_deref().map(|m| format!(" (closed with {m:?})")).unwrap_or_default();
            bad.push(format!("{}: nothing pushed and no workbench{closing}", describe_job(j)));
        }
    }
    if !bad.is_empty() {
        return Outcome::fail(
            "the file's objects pushed, or uploaded as a workbench, for the job's work",
            verify::sample(&bad, 3),
        );
    }
    if how.is_empty() {
        return Outcome::not_applicable(format!(
            "the connector could not read the gate's sample file — {} (give one it reads with --sample-file MIME=PATH)",
            verify::sample(&unreadable, 2)
        ));
    }
    Outcome::Pass
}

/// Whether the connector downloaded a job's file after the job was sent.
fn downloaded(ev: &Evidence, j: &Job) -> bool {
    ev.downloads.iter().any(|d| d.seq > j.sent_at && d.file_id == j.subject && d.http_status == 200)
}

/// Whether the connector tried to download a job's file and was refused.
fn download_refused(ev: &Evidence, j: &Job) -> bool {
    ev.downloads.iter().any(|d| d.seq > j.sent_at && d.file_id == j.subject && d.http_status != 200)
}

/// What a job was about (the file's type and where the sample came from).
fn about(j: &Job) -> &str {
    j.about.as_deref().unwrap_or("?")
}

fn corrupt_file_in_error(ev: &Evidence) -> Outcome {
    let jobs = match jobs_of(ev, "corrupt-file") {
        Ok(j) => j,
        Err(o) => return o,
    };
    let (mut bad, mut forwarded) = (Vec::new(), Vec::new());
    for j in &jobs {
        match (j.processed, j.in_error, j.connector_alive_after) {
            (_, _, false) => bad.push(format!("{}: the connector exited", describe_job(j))),
            (true, true, true) => {}
            (true, false, true) if !j.forwarded_unchanged.is_empty() => forwarded.push(describe_job(j)),
            (true, false, true) => bad.push(format!(
                "{}: closed without error ({})",
                describe_job(j),
                j.message.as_deref().map_or("no message".to_string(), |m| format!("{m:?}"))
            )),
            (false, _, true) => bad.push(format!("{}: work never closed", describe_job(j))),
        }
    }
    if !bad.is_empty() {
        return Outcome::fail("the work closed in error and the connector still running", verify::sample(&bad, 3));
    }
    if forwarded.len() == jobs.len() {
        return Outcome::not_applicable(format!(
            "the connector validates before importing: it forwarded the file to a workbench unparsed ({}), as the platform expects",
            verify::sample(&forwarded, 2)
        ));
    }
    Outcome::Pass
}

fn validation_respected(ev: &Evidence) -> Outcome {
    let mut asked: Vec<&Job> = ev.jobs_with_role("workbench").collect();
    asked.extend(ev.jobs_with_role("draft"));
    if asked.is_empty() {
        return verify::no_job(ev, "no job asking for validation", &["workbench", "draft"]);
    }
    if asked.iter().all(|j| !j.processed) {
        return Outcome::blocked("no job asking for validation was answered (see IMPORT-FILE-001)");
    }
    let mut bad = Vec::new();
    for j in asked.iter().filter(|j| j.processed) {
        let work = j.work_id.as_deref().unwrap_or_default();
        let pushed = pushed_ids(ev, work);
        if pushed.is_empty() {
            continue;
        }
        let window = |o: &&crate::evidence::Operation| o.seq > j.sent_at;
        let in_draft = ev.drafts.iter().any(|d| !d.objects.is_empty())
            && ev.operations.iter().filter(window).any(|o| o.edits("workEdit.addDraftContext") && o.var_str("/id") == Some(work));
        if !in_draft {
            bad.push(format!("{}: {} objects pushed to the main knowledge", describe_job(j), pushed.len()));
        }
    }
    if bad.is_empty() {
        Outcome::Pass
    } else {
        Outcome::fail("nothing written to the main knowledge for a job asking for validation", verify::sample(&bad, 3))
    }
}

fn each_type_read(ev: &Evidence) -> Outcome {
    let jobs = match jobs_of(ev, "valid-file") {
        Ok(j) => j,
        Err(o) => return o,
    };
    if jobs.iter().any(|j| !j.processed) {
        return Outcome::blocked("a valid file's job was not answered (see IMPORT-FILE-001)");
    }
    if let Some(j) = jobs.iter().find(|j| !downloaded(ev, j) && download_refused(ev, j)) {
        return Outcome::blocked(format!("{}: the connector did not download the file (see IMPORT-FILE-002)", describe_job(j)));
    }
    let unread: Vec<&&Job> = jobs.iter().filter(|j| j.in_error).collect();
    if unread.is_empty() {
        return Outcome::Pass;
    }
    let described: Vec<String> =
        unread.iter().map(|j| format!("{}: closed in error with {:?}", about(j), j.message.as_deref().unwrap_or(""))).collect();
    if unread.len() == jobs.len() {
        return Outcome::not_applicable(format!(
            "the connector read none of the gate's samples ({}): they are not its format (see IMPORT-FILE-003)",
            verify::sample(&described, 2)
        ));
    }
    Outcome::fail(
        "a valid file of each MIME type of its scope read (or the type left out of its scope)",
        format!(
            "{} (give one it reads with --sample-file MIME=PATH if the gate's is not its format)",
            verify::sample(&described, 3)
        ),
    )
}
