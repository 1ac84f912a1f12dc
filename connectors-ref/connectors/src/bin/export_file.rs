//! Reference INTERNAL_EXPORT_FILE connector: exports knowledge as a STIX 2.1 bundle or CSV.
//!
//! For each job it reads the knowledge **as the user who asked** (the job's applicant, sent
//! as `opencti-applicant-id`), restricted by the job's `access_filter` (the ask's max
//! markings) and, for a selection, its `main_filter`: one entity and what it contains
//! (`single`), the selected elements (`selection`), or what the list's parameters match
//! (`query`). It writes the format asked (`application/vnd.oasis.stix+json`: a bundle;
//! `text/csv`: `id,type,name` lines) and pushes the file under the job's `file_name` with
//! the job's `file_markings`, on the entity or on the list.

use connector_kit::{Client, Connector, FileOut, Job, RegisterOptions};
use opencti_reference_connectors::{Fault, JobFaults, answer_jobs, start, stix};
use serde_json::{Value, json};

const FIELDS: &str = "id standard_id entity_type
  objectMarking { standard_id }
  createdBy { standard_id }
  ... on Report { report_name: name description published objects(first: 5000) { edges { node { ... on StixCoreObject { standard_id } ... on StixCoreRelationship { standard_id } } } } }
  ... on Malware { malware_name: name description is_family }
  ... on AttackPattern { attack_pattern_name: name description }
  ... on IntrusionSet { intrusion_set_name: name description }
  ... on Indicator { indicator_name: name pattern pattern_type valid_from }
  ... on Identity { identity_name: name identity_class }
  ... on StixCyberObservable { observable_value }";

fn main() -> std::process::ExitCode {
    opencti_reference_connectors::main(run)
}

async fn run(fault: Fault) -> connector_kit::Result<()> {
    let connector = start(&fault, RegisterOptions::default()).await?;
    let faults = JobFaults {
        no_received: "EXPORT-FILE-006",
        unanswered: "EXPORT-FILE-001",
        // The file is pushed; the work of a list export is left for the platform to close.
        leaves_open: |job, _| job.text("export_scope") == Some("query"),
    };
    answer_jobs(&connector, &fault, faults, async |job: &Job| export(&connector, job, &fault).await).await?;
    connector.stop().await
}

async fn export(connector: &Connector, job: &Job, fault: &Fault) -> Result<String, String> {
    let scope = job.text("export_scope").ok_or("the job has no export_scope")?;
    let reader = match (&job.applicant_id, fault.is("EXPORT-FILE-004")) {
        (Some(user), false) => connector.api().impersonate(user),
        _ => connector.api().clone(),
    };
    let access = if fault.is("EXPORT-FILE-005") { Value::Null } else { job.event["access_filter"].clone() };
    let nodes = match scope {
        "single" => {
            let id = job.text("entity_id").ok_or("a single export needs entity_id")?;
            let mut nodes = read(&reader, &[ids_filter(&[id.to_string()]), access.clone()], None, &[]).await?;
            let contained: Vec<String> = nodes
                .first()
                .and_then(|n| n["objects"]["edges"].as_array())
                .map(|e| e.iter().filter_map(|e| e["node"]["standard_id"].as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            if !contained.is_empty() {
                nodes.extend(read(&reader, &[ids_filter(&contained), access], None, &[]).await?);
            }
            nodes
        }
        "selection" if !fault.is("EXPORT-FILE-003") => {
            read(&reader, &[job.event["main_filter"].clone(), access], None, &[]).await?
        }
        "query" if !fault.is("EXPORT-FILE-003") => {
            let params = &job.event["list_params"];
            let types: Vec<String> = job.text("entity_type").map(|t| vec![t.to_string()]).unwrap_or_default();
            read(&reader, &[params["filters"].clone(), access], params["search"].as_str(), &types).await?
        }
        other => return Err(format!("export scope {other} is not supported")),
    };
    let format = job.text("format").unwrap_or("application/vnd.oasis.stix+json");
    let mut objects: Vec<Value> = nodes.iter().map(to_stix).collect();
    // A container refers only to what the requester may read of it.
    let exported: std::collections::HashSet<String> =
        objects.iter().filter_map(|o| o["id"].as_str().map(str::to_string)).collect();
    for o in &mut objects {
        if let Some(refs) = o.get_mut("object_refs").and_then(Value::as_array_mut) {
            refs.retain(|r| r.as_str().is_some_and(|r| exported.contains(r)));
        }
    }
    let (data, mime) = if format == "text/csv" || fault.is("EXPORT-FILE-007") {
        let mut csv = String::from("id,type,name\n");
        for o in &objects {
            let name = o["name"].as_str().or(o["value"].as_str()).unwrap_or("").replace(',', " ");
            csv.push_str(&format!("{},{},{name}\n", o["id"].as_str().unwrap_or(""), o["type"].as_str().unwrap_or("")));
        }
        (csv.into_bytes(), "text/csv")
    } else {
        (serde_json::to_vec_pretty(&stix::bundle(objects.clone())).map_err(|e| e.to_string())?, "application/json")
    };
    let name = if fault.is("EXPORT-FILE-002") {
        format!("export-{}.json", chrono::Utc::now().timestamp())
    } else {
        job.text("file_name").ok_or("the job has no file_name")?.to_string()
    };
    let markings: Vec<String> = if fault.is("EXPORT-FILE-008") {
        Vec::new()
    } else {
        job.event["file_markings"]
            .as_array()
            .map(|m| m.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    };
    let file = FileOut { name: name.clone(), mime: mime.into(), data };
    if scope == "single" {
        let id = job.text("entity_id").unwrap_or_default();
        connector.api().push_entity_export(id, file, &markings).await.map_err(|e| e.to_string())?;
    } else {
        let list_filters = if scope == "selection" { "selected_ids".to_string() } else { job.event["list_params"].to_string() };
        let entity_type = job.text("entity_type").unwrap_or("Stix-Core-Object");
        connector
            .api()
            .push_list_export(job.text("entity_id"), entity_type, file, &markings, &list_filters)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(format!("{} objects exported to {name}", objects.len()))
}

fn ids_filter(ids: &[String]) -> Value {
    json!({ "mode": "and", "filters": [{ "key": ["ids"], "values": ids }], "filterGroups": [] })
}

/// Every page of the objects matching all of `groups` (null ones skipped).
async fn read(reader: &Client, groups: &[Value], search: Option<&str>, types: &[String]) -> Result<Vec<Value>, String> {
    let groups: Vec<Value> = groups.iter().filter(|g| g.is_object()).cloned().collect();
    let filters = json!({ "mode": "and", "filters": [], "filterGroups": groups });
    let document = format!(
        "query ExportObjects($filters: FilterGroup, $search: String, $types: [String], $first: Int, $after: ID) {{
          stixCoreObjects(filters: $filters, search: $search, types: $types, first: $first, after: $after) {{
            edges {{ node {{ {FIELDS} }} }}
            pageInfo {{ endCursor hasNextPage }}
          }}
        }}"
    );
    let mut out = Vec::new();
    let mut after = Value::Null;
    loop {
        let types = if types.is_empty() { Value::Null } else { json!(types) };
        let data = reader
            .query(&document, json!({ "filters": filters, "search": search, "types": types, "first": 500, "after": after }))
            .await
            .map_err(|e| e.to_string())?;
        let page = &data["stixCoreObjects"];
        out.extend(page["edges"].as_array().into_iter().flatten().map(|e| e["node"].clone()));
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return Ok(out);
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
}

/// The STIX 2.1 object of a node (what the export reads of it).
fn to_stix(node: &Value) -> Value {
    let id = node["standard_id"].as_str().unwrap_or_default();
    let mut o = json!({ "type": id.split("--").next().unwrap_or_default(), "spec_version": "2.1", "id": id });
    for (alias, key) in [
        ("report_name", "name"),
        ("malware_name", "name"),
        ("attack_pattern_name", "name"),
        ("intrusion_set_name", "name"),
        ("indicator_name", "name"),
        ("identity_name", "name"),
        ("observable_value", "value"),
        ("description", "description"),
        ("published", "published"),
        ("is_family", "is_family"),
        ("pattern", "pattern"),
        ("pattern_type", "pattern_type"),
        ("valid_from", "valid_from"),
        ("identity_class", "identity_class"),
    ] {
        if !node[alias].is_null() {
            o[key] = node[alias].clone();
        }
    }
    let markings: Vec<&Value> = node["objectMarking"].as_array().into_iter().flatten().map(|m| &m["standard_id"]).collect();
    if !markings.is_empty() {
        o["object_marking_refs"] = json!(markings);
    }
    if let Some(author) = node["createdBy"]["standard_id"].as_str() {
        o["created_by_ref"] = json!(author);
    }
    if let Some(edges) = node["objects"]["edges"].as_array() {
        o["object_refs"] = json!(edges.iter().filter_map(|e| e["node"]["standard_id"].as_str()).collect::<Vec<_>>());
    }
    o
}
