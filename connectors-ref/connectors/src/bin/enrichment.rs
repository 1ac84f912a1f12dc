//! Reference INTERNAL_ENRICHMENT connector: scores observables with an external lookup API.
//!
//! For each job it reads the entity from the platform (it may have been deleted since the
//! job was sent), checks its type against the connector's scope and its TLP against
//! `LOOKUP_MAX_TLP` (TLP:AMBER by default), asks the lookup API
//! (`LOOKUP_API_URL`/`lookup?value=…` → `{"score", "tags"}`) and sends back the entity
//! itself with its new score, and a note on it with what the lookup said. A job it will not
//! or cannot handle is closed with why; the next job starts from nothing.

use connector_kit::{Connector, Job, RegisterOptions, Settings};
use opencti_reference_connectors::{Fault, JobFaults, answer_jobs, start, stix};
use serde_json::{Value, json};

const ENTITY: &str = "query Entity($id: String!) {
  stixCoreObject(id: $id) {
    id standard_id entity_type
    objectMarking { definition_type definition }
    ... on StixCyberObservable { observable_value }
  }
}";

const TLP_ORDER: [&str; 5] = ["TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];

fn tlp_rank(tlp: &str) -> usize {
    let tlp = if tlp == "TLP:WHITE" { "TLP:CLEAR" } else { tlp };
    TLP_ORDER.iter().position(|t| t.eq_ignore_ascii_case(tlp)).unwrap_or(TLP_ORDER.len())
}

fn main() -> std::process::ExitCode {
    opencti_reference_connectors::main(run)
}

struct Lookup {
    api_url: String,
    max_tlp: String,
    fault: Fault,
    /// ENRICH-007's fault: the TLPs of the previous jobs, never reset.
    last_tlps: Vec<String>,
}

async fn run(fault: Fault) -> connector_kit::Result<()> {
    let settings = Settings::load()?;
    let api_url = settings.require(&["lookup", "api_url"])?;
    let max_tlp = settings.get(&["lookup", "max_tlp"]).unwrap_or_else(|| "TLP:AMBER".into());
    let connector = start(&fault, RegisterOptions::default()).await?;
    if fault.is("STOP-001") {
        // A work for its periodic cache refresh, opened at start and never closed.
        connector.initiate_work("Lookup cache refresh").await?;
    }
    let mut lookup = Lookup { api_url, max_tlp, fault: fault.clone(), last_tlps: Vec::new() };
    let faults = JobFaults {
        no_received: "ENRICH-005",
        unanswered: "ENRICH-001",
        // Nothing to say about an entity it may not enrich: the work stays open.
        leaves_open: |_, outcome| outcome.as_ref().is_ok_and(|m| m.contains("above")),
    };
    answer_jobs(&connector, &fault, faults, async |job: &Job| lookup.enrich(&connector, job).await).await?;
    if fault.is("PING-001") {
        // Exits at once when told to stop, without its last ping.
        return Ok(());
    }
    connector.stop().await
}

impl Lookup {
    async fn enrich(&mut self, connector: &Connector, job: &Job) -> Result<String, String> {
        let id = job.text("entity_id").ok_or("Internal enrichment must be based on a specific id")?;
        let read = connector.api().query(ENTITY, json!({ "id": id })).await.map_err(|e| e.to_string())?;
        let entity = &read["stixCoreObject"];
        if entity.is_null() {
            return Err("Unable to read/access the entity, please check the connector permissions".into());
        }
        let entity_type = entity["entity_type"].as_str().unwrap_or_default();
        let scope = &connector.settings().scope;
        if !scope.iter().any(|s| s.eq_ignore_ascii_case(entity_type)) {
            if self.fault.is("ENRICH-003") {
                panic!("unexpected entity type {entity_type}");
            }
            return Ok(format!("{entity_type} is not in this connector's scope: nothing to enrich"));
        }
        let mut tlps: Vec<String> = entity["objectMarking"]
            .as_array()
            .map(|m| {
                m.iter()
                    .filter(|m| m["definition_type"] == "TLP")
                    .filter_map(|m| m["definition"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if self.fault.is("ENRICH-007") {
            // The TLPs seen so far accumulate: one job's markings decide the next ones.
            self.last_tlps.append(&mut tlps);
            tlps = self.last_tlps.clone();
        }
        let above = tlps.iter().any(|t| tlp_rank(t) > tlp_rank(&self.max_tlp));
        if above && !self.fault.is("ENRICH-004") {
            return Ok(format!("marked above {}: not enriched", self.max_tlp));
        }
        let value = entity["observable_value"].as_str().ok_or("the entity has no observable value")?;
        let answer: Value = connector
            .api()
            .http()
            .get(format!("{}/lookup", self.api_url.trim_end_matches('/')))
            .query(&[("value", value)])
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("lookup failed: {e}"))?
            .json()
            .await
            .map_err(|e| format!("lookup answered no JSON: {e}"))?;
        let score = answer["score"].as_u64().unwrap_or(0);
        let tags: Vec<&str> = answer["tags"].as_array().map(|t| t.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        let mut stix_entity: Value =
            job.text("stix_entity").and_then(|t| serde_json::from_str(t).ok()).ok_or("the job carries no STIX entity")?;
        stix_entity["x_opencti_score"] = json!(score);
        let entity_stix_id = stix_entity["id"].as_str().unwrap_or_default().to_string();
        let content =
            format!("Lookup of {value}: score {score}; tags: {}", if tags.is_empty() { "none".into() } else { tags.join(", ") });
        let note = json!({
            "type": "note", "spec_version": "2.1", "id": connector_kit::ids::note(&content, None),
            "created": stix::now(), "modified": stix::now(), "abstract": "Lookup result", "content": content,
            "object_refs": [entity_stix_id], "object_marking_refs": stix_entity["object_marking_refs"].clone()
        });
        let mut objects = vec![note];
        if !self.fault.is("ENRICH-002") {
            objects.insert(0, stix_entity.clone());
        }
        if self.fault.is("ENRICH-006") {
            // The lookup's "related malware" tied to the observable with a relationship the
            // platform does not allow from an observable.
            let family_id = connector_kit::ids::malware("LookupBot");
            let at = stix::now();
            objects.push(json!({ "type": "malware", "spec_version": "2.1", "id": family_id, "name": "LookupBot", "is_family": true, "created": at, "modified": at }));
            let mut uses = stix::relationship("uses", &entity_stix_id, &family_id, "");
            uses.as_object_mut().map(|o| o.remove("created_by_ref"));
            objects.push(uses);
        }
        let n = objects.len();
        connector.push(&stix::bundle(objects), &job.push_options()).await.map_err(|e| e.to_string())?;
        Ok(format!("{value}: score {score}, {n} objects sent"))
    }
}
