//! Job messages exactly as the platform builds them (`JSON.stringify` of its objects:
//! keys in the platform's order, `null` kept, `undefined` keys absent).
//!
//! Quirks kept on purpose, because connectors depend on them:
//! - enrichment: `stix_entity` is a JSON *string*, `stix_objects` is `null` (the platform
//!   only resolves a bundle for a few types, and pycti registers `enrichment_resolution:
//!   none`); manual asks carry `trigger: "update"`, `mode: "manual"`;
//! - file import: no `event_type`, `trigger`/`mode` hard-coded to `update`/`auto` even for
//!   a manual ask, `entity_id` absent for a global import, a top-level `configuration`;
//! - file export: a single export's `internal` has `trigger: null` and `mode: "manual"`, a
//!   list export's only `work_id` and `applicant_id`; a query export has no `event_type`;
//!   a list's `entity_id` is absent without an entity (then `entity_name` is `global`);
//!   `file_markings` is absent when the ask left it out; a selection carries
//!   `list_params` only from 7.x on (`export.md` §2.6).
//!
//! - analysis: `applicant_id: null`, `mode` before `trigger`, `content_fields` for fields,
//!   `file_id`/`file_mime`/`file_fetch` for a file;
//! - playbook step: `work_id: null`, the playbook's ids under `internal.playbook`, the
//!   bundle as an object.
//!
//! Golden files in `fixtures/jobs/` pin the bytes.

use serde_json::{Map, Value as Json, json};

/// The `internal` part of a job.
#[derive(Debug, Clone)]
pub struct Internal {
    /// The work created for the job.
    pub work_id: String,
    /// Requesting user (`null` for enrichment).
    pub applicant_id: Option<String>,
    /// Draft the job runs in.
    pub draft_id: Option<String>,
    /// `create` or `update`.
    pub trigger: &'static str,
    /// `auto` or `manual`.
    pub mode: &'static str,
}

fn internal(i: &Internal) -> Json {
    json!({
        "work_id": i.work_id,
        "applicant_id": i.applicant_id,
        "draft_id": i.draft_id,
        "trigger": i.trigger,
        "mode": i.mode,
    })
}

/// An `INTERNAL_ENRICHMENT` job: `stix_entity` is the entity's STIX 2.1 representation
/// (serialised), `stix_objects` the resolved bundle when the connector asked for one
/// (`None`: `null`, what the platform sends in practice).
pub fn enrichment(i: &Internal, standard_id: &str, entity_type: &str, stix_entity: &Json, stix_objects: Option<&Json>) -> String {
    json!({
        "internal": internal(i),
        "event": {
            "event_type": "INTERNAL_ENRICHMENT",
            "entity_id": standard_id,
            "entity_type": entity_type,
            "stix_entity": stix_entity.to_string(),
            "stix_objects": stix_objects.map(|o| o.to_string()),
        }
    })
    .to_string()
}

/// The event of an `INTERNAL_IMPORT_FILE` job.
#[derive(Debug, Clone)]
pub struct ImportEvent {
    /// Storage path.
    pub file_id: String,
    /// MIME type.
    pub file_mime: String,
    /// Marking definitions of the file.
    pub file_markings: Vec<String>,
    /// Internal id of the entity the file belongs to (`None`: global import).
    pub entity_id: Option<String>,
    /// `workbench` or `draft`.
    pub validation_mode: String,
    /// In a draft the platform bypasses validation.
    pub bypass_validation: bool,
    /// Asked by the user.
    pub force_validation: bool,
}

/// An `INTERNAL_IMPORT_FILE` job.
pub fn import_file(i: &Internal, e: &ImportEvent, configuration: Option<&str>) -> String {
    let mut event = Map::new();
    event.insert("file_id".into(), json!(e.file_id));
    event.insert("file_mime".into(), json!(e.file_mime));
    event.insert("file_markings".into(), json!(e.file_markings));
    event.insert("file_fetch".into(), json!(format!("/storage/get/{}", e.file_id)));
    if let Some(id) = &e.entity_id {
        event.insert("entity_id".into(), json!(id));
    }
    event.insert("validation_mode".into(), json!(e.validation_mode));
    event.insert("bypass_validation".into(), json!(e.bypass_validation));
    event.insert("force_validation".into(), json!(e.force_validation));
    json!({"internal": internal(i), "event": event, "configuration": configuration}).to_string()
}

/// The event of an `INTERNAL_ANALYSIS` job.
#[derive(Debug, Clone)]
pub struct AnalysisEvent {
    /// The element's standard id.
    pub entity_id: String,
    /// Its type.
    pub entity_type: String,
    /// `fields` or `file`.
    pub content_type: String,
    /// `content_mapping` for fields; the file id for a file.
    pub content_source: String,
    /// A file analysis: the file's id and MIME type.
    pub file: Option<(String, String)>,
    /// `<content type>_analysis_<source or file name>.analysis`.
    pub analysis_name: String,
}

/// An `INTERNAL_ANALYSIS` job: `applicant_id` null, `mode` before `trigger`; the fields
/// analysed are `description content`; a file analysis names the file three ways (source,
/// id, fetch path).
pub fn analysis(work_id: &str, e: &AnalysisEvent) -> String {
    let mut event = Map::new();
    event.insert("event_type".into(), json!("INTERNAL_ANALYSIS"));
    event.insert("entity_id".into(), json!(e.entity_id));
    event.insert("entity_type".into(), json!(e.entity_type));
    event.insert("content_type".into(), json!(e.content_type));
    event.insert("content_source".into(), json!(e.content_source));
    match &e.file {
        Some((id, mime)) => {
            event.insert("file_id".into(), json!(id));
            event.insert("file_mime".into(), json!(mime));
            event.insert("file_fetch".into(), json!(format!("/storage/get/{id}")));
        }
        None => {
            event.insert("content_fields".into(), json!(crate::jobs::analysis::ANALYSED_FIELDS));
        }
    }
    event.insert("analysis_name".into(), json!(e.analysis_name));
    json!({"internal": {"work_id": work_id, "applicant_id": null, "mode": "manual", "trigger": "update"}, "event": event})
        .to_string()
}

/// The `playbook` part of a playbook step's `internal`.
#[derive(Debug, Clone)]
pub struct PlaybookIds {
    /// The event that started the playbook.
    pub event_id: String,
    /// This run of the playbook.
    pub execution_id: String,
    /// The playbook.
    pub playbook_id: String,
    /// Standard id of the bundle's main object.
    pub data_instance_id: String,
    /// This step.
    pub step_id: String,
    /// The step before it.
    pub previous_step_id: String,
}

/// A playbook's enrichment step (`PLAYBOOK_CONNECTOR_COMPONENT`): no work (`work_id:
/// null`, so pycti reports nothing on a work), the playbook's ids, the automation
/// manager as applicant, and the bundle as a JSON *object* (not a string, unlike
/// `stix_objects`); pycti answers with `playbookStepExecution`.
pub fn playbook(ids: &PlaybookIds, applicant_id: &str, trigger: &str, bundle: &Json) -> String {
    json!({
        "internal": {
            "work_id": null,
            "playbook": {
                "event_id": ids.event_id,
                "execution_id": ids.execution_id,
                "playbook_id": ids.playbook_id,
                "data_instance_id": ids.data_instance_id,
                "step_id": ids.step_id,
                "previous_step_id": ids.previous_step_id,
            },
            "applicant_id": applicant_id,
            "trigger": trigger,
            "mode": "auto",
        },
        "event": {"entity_id": ids.data_instance_id, "bundle": bundle},
    })
    .to_string()
}

/// How much an export covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportScope {
    /// One entity.
    Single,
    /// The selected elements of a list.
    Selection,
    /// Whatever a list's parameters match.
    Query,
}

/// The event of an `INTERNAL_EXPORT_FILE` job.
#[derive(Debug, Clone)]
pub struct ExportEvent {
    /// Single, selection or query.
    pub scope: ExportScope,
    /// The file name the platform composed.
    pub file_name: String,
    /// The MIME type asked for.
    pub format: String,
    /// `simple` or `full`.
    pub export_type: String,
    /// The entity (internal id): the exported one, or the one whose list it is.
    pub entity_id: Option<String>,
    /// Its representative name (`global` for a list without an entity).
    pub entity_name: String,
    /// The entity's type, or the list's.
    pub entity_type: String,
    /// The file's markings (`None`: absent).
    pub file_markings: Option<Vec<String>>,
    /// A selection's ids.
    pub selected_ids: Vec<String>,
    /// A list's parameters (`None`: absent).
    pub list_params: Option<Json>,
    /// Access filter plus the ids.
    pub main_filter: Json,
    /// What the content may carry, as a filter.
    pub access_filter: Json,
}

/// An `INTERNAL_EXPORT_FILE` job asked by `applicant_id`.
pub fn export(work_id: &str, applicant_id: &str, e: &ExportEvent) -> String {
    let mut event = Map::new();
    let mut put = |k: &str, v: Json| {
        event.insert(k.into(), v);
    };
    let internal = match e.scope {
        ExportScope::Single => {
            put("event_type", json!("INTERNAL_EXPORT_FILE"));
            put("file_name", json!(e.file_name));
            put("format", json!(e.format));
            put("export_scope", json!("single"));
            put("entity_id", json!(e.entity_id));
            put("entity_name", json!(e.entity_name));
            put("entity_type", json!(e.entity_type));
            put("export_type", json!(e.export_type));
            if let Some(m) = &e.file_markings {
                put("file_markings", json!(m));
            }
            put("main_filter", e.main_filter.clone());
            put("access_filter", e.access_filter.clone());
            json!({"work_id": work_id, "applicant_id": applicant_id, "trigger": null, "mode": "manual"})
        }
        ExportScope::Selection | ExportScope::Query => {
            if e.scope == ExportScope::Selection {
                put("event_type", json!("INTERNAL_EXPORT_FILE"));
                put("export_scope", json!("selection"));
                put("file_name", json!(e.file_name));
                put("selected_ids", json!(e.selected_ids));
            } else {
                put("export_scope", json!("query"));
                put("file_name", json!(e.file_name));
            }
            if let Some(p) = &e.list_params {
                put("list_params", p.clone());
            }
            put("format", json!(e.format));
            put("export_type", json!(e.export_type));
            if let Some(id) = &e.entity_id {
                put("entity_id", json!(id));
            }
            put("entity_name", json!(e.entity_name));
            put("entity_type", json!(e.entity_type));
            if let Some(m) = &e.file_markings {
                put("file_markings", json!(m));
            }
            put("main_filter", e.main_filter.clone());
            put("access_filter", e.access_filter.clone());
            json!({"work_id": work_id, "applicant_id": applicant_id})
        }
    };
    json!({"internal": internal, "event": event}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn golden(name: &str) -> String {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/jobs").join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).trim_end().to_string()
    }

    fn entity() -> Json {
        json!({"id": "ipv4-addr--3b6f1e1c-2f4b-5c0e-9d8a-1b2c3d4e5f60", "spec_version": "2.1", "type": "ipv4-addr",
               "value": "198.51.100.7"})
    }

    #[test]
    fn manual_enrichment_matches_the_golden_file() {
        let i = Internal {
            work_id: "work_c0ffee00-0000-4000-8000-000000000001_2026-11-26T10:00:00.000Z".into(),
            applicant_id: None,
            draft_id: None,
            trigger: "update",
            mode: "manual",
        };
        let m = enrichment(&i, "ipv4-addr--3b6f1e1c-2f4b-5c0e-9d8a-1b2c3d4e5f60", "IPv4-Addr", &entity(), None);
        assert_eq!(m, golden("enrichment-manual.json"));
    }

    #[test]
    fn auto_enrichment_in_a_draft_matches_the_golden_file() {
        let i = Internal {
            work_id: "work_c0ffee00-0000-4000-8000-000000000001_2026-11-26T10:00:00.000Z".into(),
            applicant_id: None,
            draft_id: Some("5e4a1c2b-0000-4000-8000-00000000d4af".into()),
            trigger: "create",
            mode: "auto",
        };
        let m = enrichment(&i, "ipv4-addr--3b6f1e1c-2f4b-5c0e-9d8a-1b2c3d4e5f60", "IPv4-Addr", &entity(), None);
        assert_eq!(m, golden("enrichment-auto-draft.json"));
    }

    #[test]
    fn global_import_matches_the_golden_file() {
        let i = Internal {
            work_id: "work_c0ffee00-0000-4000-8000-000000000002_2026-11-26T10:00:00.000Z".into(),
            applicant_id: Some("88ec0c6a-13ce-5e39-b486-354fe4a7084f".into()),
            draft_id: None,
            trigger: "update",
            mode: "auto",
        };
        let e = ImportEvent {
            file_id: "import/global/feed.json".into(),
            file_mime: "application/json".into(),
            file_markings: vec![],
            entity_id: None,
            validation_mode: "workbench".into(),
            bypass_validation: false,
            force_validation: false,
        };
        assert_eq!(import_file(&i, &e, None), golden("import-global.json"));
    }

    #[test]
    fn entity_import_in_a_draft_matches_the_golden_file() {
        let i = Internal {
            work_id: "work_c0ffee00-0000-4000-8000-000000000002_2026-11-26T10:00:00.000Z".into(),
            applicant_id: Some("88ec0c6a-13ce-5e39-b486-354fe4a7084f".into()),
            draft_id: Some("5e4a1c2b-0000-4000-8000-00000000d4af".into()),
            trigger: "update",
            mode: "auto",
        };
        let e = ImportEvent {
            file_id: "import/Report/0d9a3f5e-1111-4222-8333-444455556666/report.pdf".into(),
            file_mime: "application/pdf".into(),
            file_markings: vec!["c9819001-d8a2-4d69-a6c2-0e2b4d8b0b1e".into()],
            entity_id: Some("0d9a3f5e-1111-4222-8333-444455556666".into()),
            validation_mode: "draft".into(),
            bypass_validation: true,
            force_validation: false,
        };
        assert_eq!(import_file(&i, &e, Some("{\"pages\":2}")), golden("import-entity-draft.json"));
    }

    fn export_event(scope: ExportScope) -> ExportEvent {
        let list = scope != ExportScope::Single;
        ExportEvent {
            scope,
            file_name: if list {
                "2026-10-27T09:15:02.114Z_TLP:GREEN_(ExportFileCsv)_Malware_simple.csv".into()
            } else {
                "2026-10-27T09:15:02.114Z_TLP:ALL_(ExportFileStix)_Report-Operation Foo_full.json".into()
            },
            format: if list { "text/csv".into() } else { "application/vnd.oasis.stix+json".into() },
            export_type: if list { "simple".into() } else { "full".into() },
            entity_id: (!list).then(|| "3b1d0c8e-0000-4000-8000-000000000001".into()),
            entity_name: if list { "global".into() } else { "Operation Foo".into() },
            entity_type: if list { "Malware".into() } else { "Report".into() },
            file_markings: Some(vec!["c9819001-d8a2-4d69-a6c2-0e2b4d8b0b1e".into()]),
            selected_ids: if scope == ExportScope::Selection { vec!["malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883".into()] } else { vec![] },
            list_params: list.then(|| json!({"search": "apt", "orderBy": "name", "orderMode": "asc",
                "filters": {"mode": "and", "filters": [{"key": ["entity_type"], "values": ["Malware"], "operator": "eq", "mode": "or"}], "filterGroups": []}})),
            main_filter: json!({"mode": "and", "filters": [{"key": "ids", "values": ["3b1d0c8e-0000-4000-8000-000000000001"], "mode": "or", "operator": "eq"}], "filterGroups": []}),
            access_filter: json!({"mode": "and", "filters": [], "filterGroups": []}),
        }
    }

    const EXPORT_WORK: &str = "work_c0ffee00-0000-4000-8000-000000000003_2026-10-27T09:15:02.114Z";
    const APPLICANT: &str = "88ec0c6a-13ce-5e39-b486-354fe4a7084f";

    #[test]
    fn file_analysis_matches_the_golden_file() {
        let e = AnalysisEvent {
            entity_id: "report--6a1f3c2e-7b8d-5e9f-a0b1-c2d3e4f5a6b7".into(),
            entity_type: "Report".into(),
            content_type: "file".into(),
            content_source: "import/Report/0d9a3f5e-1111-4222-8333-444455556666/brief.pdf".into(),
            file: Some(("import/Report/0d9a3f5e-1111-4222-8333-444455556666/brief.pdf".into(), "application/pdf".into())),
            analysis_name: "file_analysis_brief.pdf.analysis".into(),
        };
        assert_eq!(analysis(EXPORT_WORK, &e), golden("analysis-file.json"));
    }

    #[test]
    fn playbook_step_matches_the_golden_file() {
        let ids = PlaybookIds {
            event_id: "1732615200000-0".into(),
            execution_id: "6f1c2d3e-0000-4000-8000-0000000000e1".into(),
            playbook_id: "6f1c2d3e-0000-4000-8000-0000000000b1".into(),
            data_instance_id: "ipv4-addr--3b6f1e1c-2f4b-5c0e-9d8a-1b2c3d4e5f60".into(),
            step_id: "6f1c2d3e-0000-4000-8000-000000000052".into(),
            previous_step_id: "6f1c2d3e-0000-4000-8000-000000000051".into(),
        };
        let bundle = json!({"type": "bundle", "id": "bundle--6f1c2d3e-0000-4000-8000-0000000000ff", "objects": [entity()]});
        let m = playbook(&ids, "c49fe040-2dad-412d-af07-ce639204ad55", "update", &bundle);
        assert_eq!(m, golden("playbook-step.json"));
    }

    #[test]
    fn single_export_matches_the_golden_file() {
        assert_eq!(export(EXPORT_WORK, APPLICANT, &export_event(ExportScope::Single)), golden("export-single.json"));
    }

    #[test]
    fn selection_export_matches_the_golden_file() {
        assert_eq!(export(EXPORT_WORK, APPLICANT, &export_event(ExportScope::Selection)), golden("export-selection.json"));
    }

    #[test]
    fn query_export_without_file_markings_matches_the_golden_file() {
        let e = ExportEvent { file_markings: None, ..export_event(ExportScope::Query) };
        assert_eq!(export(EXPORT_WORK, APPLICANT, &e), golden("export-query.json"));
    }
}
