//! Reference INTERNAL_IMPORT_FILE connector: imports STIX 2.1 bundles and CSV lists of
//! indicators.
//!
//! For each job it downloads the file with its own token and reads it by its MIME type:
//! `application/json` is a STIX bundle, `text/csv` has a `type,value,description` header
//! and one observable per line, each with an indicator `based-on` it. When the job asks for
//! validation (`force_validation`, or the connector's `CONNECTOR_VALIDATE_BEFORE_IMPORT`)
//! nothing goes to the main knowledge: a workbench is uploaded for the user to validate
//! (`validation_mode: workbench`), or the objects go into a new draft (`draft`). A file it
//! cannot read closes the work in error.

use connector_kit::{Connector, FileOut, Job, PushOptions, RegisterOptions};
use opencti_reference_connectors::{Fault, JobFaults, answer_jobs, start, stix};
use serde_json::{Value, json};

const AUTHOR: &str = "Reference File Import";

fn main() -> std::process::ExitCode {
    opencti_reference_connectors::main(run)
}

async fn run(fault: Fault) -> connector_kit::Result<()> {
    let connector = start(&fault, RegisterOptions::default()).await?;
    let faults = JobFaults {
        no_received: "IMPORT-FILE-006",
        unanswered: "IMPORT-FILE-001",
        // The file went to validation: nothing more to say, the work stays open.
        leaves_open: |_, outcome| outcome.as_ref().is_ok_and(|m| m.contains("validation")),
    };
    answer_jobs(&connector, &fault, faults, async |job: &Job| import(&connector, job, &fault).await).await?;
    connector.stop().await
}

async fn import(connector: &Connector, job: &Job, fault: &Fault) -> Result<String, String> {
    let fetch = job.text("file_fetch").ok_or("the job names no file (file_fetch)")?;
    let mime = job.text("file_mime").unwrap_or("application/json");
    let file_id = job.text("file_id").unwrap_or("file");
    let content = if fault.is("IMPORT-FILE-002") {
        // Downloaded like any URL, without the connector's token.
        let url = format!("{}{fetch}", connector.settings().url);
        let response = reqwest::get(&url).await.map_err(|e| e.to_string())?;
        if !response.status().is_success() {
            return Err(format!("GET {fetch} answered {}", response.status()));
        }
        response.bytes().await.map_err(|e| e.to_string())?.to_vec()
    } else {
        connector.api().fetch_file(fetch).await.map_err(|e| e.to_string())?
    };
    if fault.is("IMPORT-FILE-007") && mime.starts_with("text/csv") {
        // Declares text/csv in its scope but reads STIX only.
        return Err(format!("{mime} files are not read by this connector"));
    }
    let objects = match read(mime, &content) {
        Ok(o) => o,
        Err(e) if fault.is("IMPORT-FILE-004") => return Ok(format!("nothing to import ({e})")),
        Err(e) => return Err(e),
    };

    let validate = job.event["force_validation"] == json!(true) || connector.settings().validate_before_import;
    let bypass = job.event["bypass_validation"] == json!(true);
    let markings: Vec<String> = job.event["file_markings"]
        .as_array()
        .map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
        .unwrap_or_default();
    let n = objects.len();
    if validate && !bypass && !fault.is("IMPORT-FILE-005") {
        let bundle = stix::bundle(objects);
        let entity = job.text("entity_id");
        if job.text("validation_mode") == Some("workbench") {
            let name = file_id.rsplit('/').next().unwrap_or(file_id);
            let name = if name.ends_with(".json") { name.to_string() } else { format!("{name}.json") };
            let file = FileOut { name, mime: "application/json".into(), data: bundle.to_string().into_bytes() };
            connector.api().upload_pending(file, entity, &markings).await.map_err(|e| e.to_string())?;
            return Ok(format!("{n} objects sent for validation (workbench)"));
        }
        let draft = connector
            .api()
            .query(
                "mutation draftWorkspaceAdd($input: DraftWorkspaceAddInput!) { draftWorkspaceAdd(input: $input) { id } }",
                json!({ "input": { "name": file_id, "entity_id": entity } }),
            )
            .await
            .map_err(|e| e.to_string())?;
        let draft_id = draft["draftWorkspaceAdd"]["id"].as_str().ok_or("draftWorkspaceAdd answered no id")?.to_string();
        if let Some(work) = &job.work_id {
            connector
                .api()
                .query(
                    "mutation addDraftContext($id: ID!, $draftContext: String) { workEdit(id: $id) { addDraftContext(draftContext: $draftContext) } }",
                    json!({ "id": work, "draftContext": draft_id }),
                )
                .await
                .map_err(|e| e.to_string())?;
        }
        let options = PushOptions { draft_id: Some(draft_id.clone()), ..job.push_options() };
        connector.push(&bundle, &options).await.map_err(|e| e.to_string())?;
        return Ok(format!("{n} objects sent for validation (draft {draft_id})"));
    }
    let mut options = job.push_options();
    if fault.is("IMPORT-FILE-003") {
        // Sent without the job's work: the platform makes a work of its own for them.
        options.work_id = None;
    }
    connector.push(&stix::bundle(objects), &options).await.map_err(|e| e.to_string())?;
    Ok(format!("{n} objects imported"))
}

/// The file's STIX objects.
fn read(mime: &str, content: &[u8]) -> Result<Vec<Value>, String> {
    let mime = mime.split(';').next().unwrap_or_default().trim();
    let text = std::str::from_utf8(content).map_err(|_| "the file is not UTF-8 text".to_string())?;
    match mime {
        "application/json" | "application/stix+json" | "text/json" => {
            let bundle: Value = serde_json::from_str(text).map_err(|e| format!("the file is not JSON: {e}"))?;
            match bundle["objects"].as_array() {
                Some(objects) if bundle["type"] == "bundle" => Ok(objects.clone()),
                _ => Err("the file is not a STIX 2.1 bundle".into()),
            }
        }
        "text/csv" => read_csv(text),
        other => Err(format!("{other} files are not read by this connector")),
    }
}

/// `type,value,description` lines: an observable each, with an indicator based on it.
fn read_csv(text: &str) -> Result<Vec<Value>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines.next().ok_or("the file is empty")?.split(',').map(|h| h.trim().to_lowercase()).collect();
    let column = |name: &str| header.iter().position(|h| h == name).ok_or(format!("the CSV has no {name} column"));
    let (t, v, d) = (column("type")?, column("value")?, column("description").ok());
    let author = stix::organization(AUTHOR, "Imported by the reference file import connector.");
    let author_id = author["id"].as_str().unwrap_or_default().to_string();
    let mut objects = vec![author, stix::tlp_green()];
    for (i, line) in lines.enumerate() {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(kind), Some(value)) = (cells.get(t), cells.get(v)) else {
            return Err(format!("line {}: fewer cells than the header", i + 2));
        };
        if !matches!(*kind, "ipv4-addr" | "ipv6-addr" | "domain-name" | "url") {
            return Err(format!("line {}: unknown type {kind}", i + 2));
        }
        let observable = stix::observable(kind, value, &author_id, 50);
        let mut indicator = stix::indicator_for(&observable, &author_id, "2026-01-01T00:00:00Z");
        if let Some(description) = d.and_then(|d| cells.get(d)) {
            indicator["description"] = json!(description);
        }
        let rel = stix::relationship(
            "based-on",
            indicator["id"].as_str().unwrap_or_default(),
            observable["id"].as_str().unwrap_or_default(),
            &author_id,
        );
        objects.extend([observable, indicator, rel]);
    }
    Ok(objects)
}
