//! Reference EXTERNAL_IMPORT connector: imports a threat feed on a schedule.
//!
//! The feed (`FEED_URL`, a JSON document `{"indicators": [{"type", "value", "malware"}]}`)
//! lists IPv4 addresses, domain names and URLs seen as command and control of malware
//! families. Each run opens a work, sends the feed as STIX 2.1 — the author, TLP:GREEN, each
//! malware family, each observable with an indicator `based-on` it that `indicates` the
//! family, every id deterministic — saves its state (`last_run`) and closes the work (in
//! error when the run failed). With `CONNECTOR_RUN_AND_TERMINATE=true` it runs once and
//! exits; otherwise it runs every `CONNECTOR_DURATION_PERIOD` (PT1H by default), starting
//! when the state says the last run is that old.

use std::time::Duration;

use connector_kit::{Connector, PushOptions, RegisterOptions, Settings};
use opencti_reference_connectors::{Fault, start, stix};
use serde_json::{Value, json};

const AUTHOR: &str = "Reference Feed";
/// Items per bundle: each bundle stays far below the platform's payload limit.
const ITEMS_PER_BUNDLE: usize = 500;

fn main() -> std::process::ExitCode {
    opencti_reference_connectors::main(run)
}

async fn run(fault: Fault) -> connector_kit::Result<()> {
    let feed_url = Settings::load()?.require(&["feed", "url"])?;
    let connector = start(&fault, RegisterOptions::default()).await?;
    let period = connector.settings().duration_period.unwrap_or(Duration::from_secs(3600));
    let stop = connector.stopping();
    loop {
        let due = connector
            .state()
            .and_then(|s| s["last_run"].as_str().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()))
            .map(|last| last.with_timezone(&chrono::Utc) + period);
        let wait = due.map_or(Duration::ZERO, |d| (d - chrono::Utc::now()).to_std().unwrap_or(Duration::ZERO));
        if wait.is_zero() {
            import(&connector, &feed_url, &fault).await;
        } else {
            tracing::info!("last run less than {period:?} ago; next run in {wait:?}");
        }
        if connector.settings().run_and_terminate {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(if wait.is_zero() { period } else { wait }) => {}
            () = stop.cancelled() => break,
        }
    }
    connector.stop().await?;
    if fault.is("STOP-002") {
        // Unregisters on the way out, as pycti's helper.stop() does.
        connector.api().query("mutation Delete($id: ID!) { deleteConnector(id: $id) }", json!({ "id": connector.id() })).await?;
    }
    if fault.is("RUN-001") {
        // Its final report fails on its way out, unhandled.
        return Err(connector_kit::Error::Other("cannot write the run report: no such file or directory".into()));
    }
    Ok(())
}

/// One run: a work, the feed, the state.
async fn import(connector: &Connector, feed_url: &str, fault: &Fault) {
    let now = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let work = if fault.is("EXT-IMPORT-001") {
        None
    } else {
        match connector.initiate_work(&format!("{} run @ {now}", connector.settings().name)).await {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!("cannot open a work: {e}");
                return;
            }
        }
    };
    let outcome = send_feed(connector, feed_url, work.clone(), fault).await;
    if outcome.is_ok() && !fault.is("EXT-IMPORT-007") {
        connector.set_state(json!({ "last_run": now }));
    }
    let (message, in_error) = match outcome {
        Ok(n) => (format!("{n} objects sent"), false),
        Err(e) => (format!("run failed: {e}"), true),
    };
    tracing::info!("{message}");
    if let Some(work) = work
        && !fault.is("EXT-IMPORT-002")
        && let Err(e) = connector.to_processed(&work, &message, in_error).await
    {
        tracing::error!("cannot close the work: {e}");
    }
}

async fn send_feed(
    connector: &Connector,
    feed_url: &str,
    work_id: Option<String>,
    fault: &Fault,
) -> connector_kit::Result<usize> {
    let feed: Value = connector.api().http().get(feed_url).send().await?.error_for_status()?.json().await?;
    let items = feed["indicators"].as_array().cloned().unwrap_or_default();
    let author = stix::organization(AUTHOR, "A reference threat feed for OpenCTI connectors.");
    let author_id = author["id"].as_str().unwrap_or_default().to_string();
    let options = PushOptions { work_id, ..PushOptions::default() };
    let mut head = vec![author, stix::tlp_green()];
    let mut families = std::collections::BTreeSet::new();
    for item in &items {
        if let Some(name) = item["malware"].as_str()
            && families.insert(name.to_string())
        {
            let mut malware = stix::malware(name, &author_id);
            if fault.is("EXT-IMPORT-004") {
                // Modified before created.
                malware["modified"] = json!("2000-01-01T00:00:00.000Z");
            }
            head.push(malware);
        }
    }
    let mut sent = head.len();
    connector.push(&stix::bundle(head), &options).await?;
    for chunk in items.chunks(ITEMS_PER_BUNDLE) {
        let mut objects = Vec::new();
        for item in chunk {
            let (Some(kind), Some(value)) = (item["type"].as_str(), item["value"].as_str()) else { continue };
            let observable = stix::observable(kind, value, &author_id, 80);
            let mut indicator = stix::indicator_for(&observable, &author_id, "2026-01-01T00:00:00Z");
            if fault.is("EXT-IMPORT-005") {
                indicator["id"] = json!(format!("indicator--{}", uuid::Uuid::new_v4()));
            }
            if fault.is("EXT-IMPORT-006") {
                // The feed's raw record embedded whole, however large.
                indicator["description"] = json!("x".repeat(51 * 1024 * 1024));
            }
            let (o, i) = (observable["id"].as_str().unwrap_or_default(), indicator["id"].as_str().unwrap_or_default());
            let mut rels = vec![stix::relationship("based-on", i, o, &author_id)];
            if let Some(name) = item["malware"].as_str() {
                let family = connector_kit::ids::malware(name);
                rels.push(stix::relationship("indicates", i, &family, &author_id));
                if fault.is("EXT-IMPORT-003") {
                    // An observable cannot "use" a malware: the platform refuses it.
                    rels.push(stix::relationship("uses", o, &family, &author_id));
                }
            }
            objects.push(observable);
            objects.push(indicator);
            objects.extend(rels);
        }
        sent += objects.len();
        if fault.is("EXT-IMPORT-008") {
            // A bundle the worker cannot read: the objects without their envelope.
            connector.push_text(&Value::Array(objects).to_string(), &options).await?;
        } else {
            connector.push(&stix::bundle(objects), &options).await?;
        }
    }
    if fault.is("AUTH-001") {
        // Shares each family with its author's organization: sharing needs the
        // organization-restriction capability, which the Connector role does not have.
        for family in &families {
            let shared = connector
                .api()
                .query(
                    "mutation Share($id: ID!, $organizationId: [ID!]!) {
                      stixCoreObjectEdit(id: $id) { restrictionOrganizationAdd(organizationId: $organizationId) { id } }
                    }",
                    json!({ "id": connector_kit::ids::malware(family), "organizationId": [author_id] }),
                )
                .await;
            if let Err(e) = shared {
                tracing::warn!("cannot share {family}: {e}");
            }
        }
    }
    Ok(sent)
}
