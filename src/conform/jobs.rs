//! Driving a job connector (enrichment, file import) during a session: a plan made from
//! the scope the connector registered, and the jobs the platform sends it, one at a time,
//! each awaited until the connector closes its work (or the job timeout, or its exit).
//!
//! Enrichment plan, for the entity types of the scope the gate can build
//! ([`crate::conform::samples`]): `in-scope` an entity of the first type (TLP:GREEN),
//! `in-scope` one of the second type (or the first), `out-of-scope` an entity of a type
//! outside the scope, `unknown-entity` an in-scope entity deleted as soon as the job is
//! sent, `above-max-tlp` an in-scope entity marked TLP:RED — only when the session knows
//! which of the connector's settings holds its max TLP (`--setting max_tlp=VAR`; the gate
//! sets it to TLP:AMBER) — and a last `in-scope` one (the connector still works after the
//! odd ones).
//!
//! File-import plan, for the MIME types of the scope the gate has a file of (one the user
//! gave with `--sample-file` first, else ones it makes): `valid-file` a file to import of
//! the first type, `workbench` another with validation asked (workbench), `corrupt-file`
//! one that cannot be parsed, of the first type that can be corrupt (text cannot), `draft`
//! the second with validation asked in a draft, then a `valid-file` of each other type.
//!
//! Export plan, in the first format of the scope, about [`samples::export_knowledge`]
//! (stored first): `single` a simple export of its report, `single-full` a full one,
//! `selection` one malware of two, `query` every malware, `impersonation` every malware
//! asked by a user cleared for TLP markings only, `max-marking`
//! every malware asked by the administrator with TLP:GREEN as the content max marking — the
//! last two also as full exports of the report, which holds both restricted malware, and
//! of the TLP:GREEN malware, which uses a restricted attack pattern of each kind.
//! After each, the export files pushed while it ran are recorded with what their content
//! is and whether it holds what the ask withholds: for `impersonation` the PAP:RED malware
//! and attack pattern the user (cleared for every TLP marking, no PAP one) may not see and
//! the ask's `access_filter` does not exclude; for `max-marking` the TLP:RED ones.
//!
//! What the plan leaves out, and why, goes to the evidence: a check whose jobs were not
//! sent is not applicable, not failed. After each job, the objects the connector created
//! or changed and the workbenches it uploaded are recorded with it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::MockPlatform;
use crate::conform::samples::{self, Form};
use crate::jobs::export_ask::ExportAsk;
use crate::jobs::{Asker, ImportOptions, Upload};

/// The max TLP the gate gives an enrichment connector (through the setting the user names),
/// unless the user gives the setting a value of their own with `--env`.
pub const ENRICHMENT_MAX_TLP: &str = "TLP:AMBER";
/// The TLPs pycti's `check_max_tlp` knows, lowest first.
pub const TLP_LEVELS: &[&str] = &["TLP:CLEAR", "TLP:WHITE", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"];
const TLP_GREEN: &str = "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da";
const TLP_RED: &str = "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed";

/// Whether a connector type is driven by jobs.
pub fn is_job_type(connector_type: &str) -> bool {
    matches!(connector_type, "INTERNAL_ENRICHMENT" | "INTERNAL_IMPORT_FILE" | "INTERNAL_EXPORT_FILE")
}

/// What the session knows of a job connector: its own settings and the samples given.
#[derive(Debug, Clone, Default)]
pub struct JobOptions {
    /// The connector's own variables for what checks need: `max_tlp` → e.g.
    /// `ISMALICIOUS_MAX_TLP`.
    pub settings: BTreeMap<String, String>,
    /// Sample files given by the user: MIME type → content and file name.
    pub samples: Vec<(String, String, Vec<u8>)>,
    /// The max TLP the user gave the connector's setting (`--env VAR=TLP:…`), if any: the
    /// connector is judged against it instead of [`ENRICHMENT_MAX_TLP`].
    pub max_tlp_given: Option<String>,
}

impl JobOptions {
    /// The max TLP the connector runs with: the user's, else the gate's.
    pub fn max_tlp(&self) -> &str {
        self.max_tlp_given.as_deref().unwrap_or(ENRICHMENT_MAX_TLP)
    }

    /// The environment the session adds for them (the max TLP, in the connector's own
    /// variable).
    pub fn environment(&self, connector_type: &str) -> Vec<(String, String)> {
        match (connector_type, self.settings.get("max_tlp")) {
            ("INTERNAL_ENRICHMENT", Some(var)) => vec![(var.clone(), self.max_tlp().into())],
            _ => Vec::new(),
        }
    }

    /// What the checks read of them.
    pub fn evidence(&self, connector_type: &str) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let ("INTERNAL_ENRICHMENT", Some(var)) = (connector_type, self.settings.get("max_tlp")) {
            out.insert("max_tlp".into(), self.max_tlp().into());
            out.insert("max_tlp_setting".into(), var.clone());
        }
        out
    }
}

/// A job sent, with the reason it was sent and what came of it.
#[derive(Debug, Clone)]
pub struct Sent {
    /// The platform's job sequence number.
    pub seq: u64,
    /// Why.
    pub role: &'static str,
    /// Transcript position when sent.
    pub sent_at: u64,
    /// The connector process was running once the job was answered or given up.
    pub alive_after: bool,
    /// The entity's type or the file's MIME type, and the sample's origin.
    pub about: String,
    /// Objects created or changed while the job ran.
    pub changed: Vec<String>,
    /// Workbenches uploaded while the job ran.
    pub workbenches: Vec<String>,
    /// The workbenches holding the job's file byte for byte.
    pub forwarded_unchanged: Vec<String>,
    /// Export jobs: the format asked for.
    pub format: Option<String>,
    /// Export jobs: what the file must not hold, if anything.
    pub withheld: Option<String>,
    /// Export jobs: the files pushed while the job ran.
    pub exported: Vec<opencti_conformance::evidence::ExportedFile>,
    /// Export jobs: the markings the file must carry, by internal id.
    pub file_markings: Vec<String>,
}

/// What driving the connector did: the jobs sent, and the roles left out with the reason.
#[derive(Debug, Clone, Default)]
pub struct Driven {
    /// Jobs sent.
    pub sent: Vec<Sent>,
    /// `(role, why it was not sent)`.
    pub notes: Vec<(String, String)>,
}

/// One step of a plan.
enum Step {
    Enrich { role: &'static str, entity: serde_json::Value, delete_first: bool, about: String },
    Import { role: &'static str, file: Upload, options: ImportOptions, about: String },
    Export { role: &'static str, ask: ExportAsk, asker: Option<String>, withheld: Option<&'static [(&'static str, &'static str)]>, about: String },
}

/// The export plan: the first format of the scope, about [`samples::export_knowledge`];
/// `analyst` is the user cleared for TLP markings only.
fn export_plan(scope: &[String], analyst: Option<String>, notes: &mut Vec<(String, String)>) -> Vec<Step> {
    let Some(format) = scope.iter().map(|s| s.trim()).find(|s| !s.is_empty()) else {
        for role in ["single", "single-full", "selection", "query", "impersonation", "max-marking"] {
            notes.push((role.into(), "the connector registered no format (CONNECTOR_SCOPE is empty)".into()));
        }
        return Vec::new();
    };
    let about = |what: &str| format!("{what}, as {format}");
    let mut steps = vec![
        Step::Export {
            role: "single",
            ask: ExportAsk::entity(format, samples::EXPORT_REPORT),
            asker: None,
            withheld: None,
            about: about("a report, simple"),
        },
        Step::Export {
            role: "single-full",
            ask: ExportAsk::entity(format, samples::EXPORT_REPORT).full(),
            asker: None,
            withheld: None,
            about: about("a report, full"),
        },
        Step::Export {
            role: "selection",
            ask: ExportAsk::list(format, "Malware").selected([samples::EXPORT_MALWARE]),
            asker: None,
            withheld: None,
            about: about("one malware of two"),
        },
        Step::Export {
            role: "query",
            ask: ExportAsk::list(format, "Malware"),
            asker: None,
            withheld: None,
            about: about("every malware"),
        },
    ];
    // What must stay out, asked as a list export, as a full export of the report (which
    // holds the restricted malware) and of the malware (which uses the restricted attack
    // patterns), so that a connector serving one scope or one entity type only is judged on
    // what it serves.
    let asks = || {
        [
            (ExportAsk::list(format, "Malware"), "every malware"),
            (ExportAsk::entity(format, samples::EXPORT_REPORT).full(), "a report holding it, full"),
            (ExportAsk::entity(format, samples::EXPORT_MALWARE).full(), "a malware using it, full"),
        ]
    };
    match analyst {
        Some(user) => {
            for (ask, what) in asks() {
                steps.push(Step::Export {
                    role: "impersonation",
                    ask,
                    asker: Some(user.clone()),
                    withheld: Some(samples::EXPORT_HIDDEN),
                    about: about(&format!("{what}, asked by a user cleared for TLP markings only")),
                });
            }
        }
        None => notes.push(("impersonation".into(), "the gate could not create its user cleared for TLP markings".into())),
    }
    for (mut ask, what) in asks() {
        ask.content_max_markings = vec![TLP_GREEN.to_string()];
        steps.push(Step::Export {
            role: "max-marking",
            ask,
            asker: None,
            withheld: Some(samples::EXPORT_ABOVE_MAX),
            about: about(&format!("{what}, content max marking TLP:GREEN")),
        });
    }
    // Every file is to be marked TLP:GREEN, which the connector must pass back.
    for step in &mut steps {
        if let Step::Export { ask, .. } = step {
            ask.file_markings = Some(vec![TLP_GREEN.to_string()]);
        }
    }
    steps
}

/// Stores what export connectors are asked about and creates the user cleared for every
/// TLP marking and no PAP one; that user's id.
fn export_setup(platform: &MockPlatform, notes: &mut Vec<(String, String)>) -> Option<String> {
    if let Err(e) = platform.seed(&samples::export_knowledge()) {
        for role in ["single", "single-full", "selection", "query", "impersonation", "max-marking"] {
            notes.push((role.into(), format!("the gate could not store its sample knowledge: {e}")));
        }
        return None;
    }
    let token = platform.add_user(
        "[gate] analyst cleared for TLP markings",
        &["KNOWLEDGE", "KNOWLEDGE_KNGETEXPORT", "KNOWLEDGE_KNGETEXPORT_KNASKEXPORT"],
    );
    let tlp: Vec<String> = crate::stix::markings::built_in_objects()
        .into_iter()
        .filter(|m| m["x_opencti_definition_type"] == "TLP")
        .filter_map(|m| m["id"].as_str().map(str::to_string))
        .collect();
    platform.limit_to_markings(&token, &tlp.iter().map(String::as_str).collect::<Vec<_>>());
    platform.read(|s| s.users.by_token(&token).map(|u| u.id.clone()))
}

/// What an exported file's content is (see [`opencti_conformance::evidence::ExportedFile`]).
fn content_kind(content: &[u8]) -> &'static str {
    if content.starts_with(b"%PDF") {
        "pdf"
    } else if content.starts_with(b"PK\x03\x04") {
        "zip"
    } else if let Ok(text) = std::str::from_utf8(content) {
        if serde_json::from_str::<serde_json::Value>(text).is_ok() { "json" } else { "text" }
    } else {
        "binary"
    }
}

/// What an export must not hold, in words, and its markers.
type Withheld = (String, Vec<String>);

/// What an export withholds, in words, and its markers: the name of each object, every
/// id the platform knows it by, and its MITRE id (what an ATT&CK Navigator layer names a
/// technique by).
fn withheld_markers(platform: &MockPlatform, withheld: &[(&str, &str)]) -> Withheld {
    let (mut words, mut markers) = (Vec::new(), Vec::new());
    for (id, name) in withheld {
        markers.extend([name.to_string(), id.to_string()]);
        let obj = platform.object(id);
        let (mut marking, mut kind) = (String::new(), String::new());
        if let Some(o) = &obj {
            markers.push(o.standard_id.clone());
            markers.push(o.internal_id.to_string());
            let body = o.json();
            markers.extend(body["x_mitre_id"].as_str().map(str::to_string));
            kind = o.entity_type.to_lowercase().replace('-', " ");
            marking = body["object_marking_refs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m.as_str().and_then(|m| platform.object(m)))
                .filter_map(|m| m.json()["name"].as_str().map(str::to_string))
                .collect::<Vec<_>>()
                .join(", ");
        }
        let standard = obj.map_or_else(|| id.to_string(), |o| o.standard_id);
        words.push(format!("the {marking} {kind} {name} ({standard})"));
    }
    (words.join(" and "), markers)
}

/// The export files stored since `before` (id → last modified) was taken.
fn exported_since(
    platform: &MockPlatform,
    before: &HashMap<String, chrono::DateTime<chrono::Utc>>,
    markers: &[String],
) -> Vec<opencti_conformance::evidence::ExportedFile> {
    platform.read(|s| {
        s.files
            .under("export/")
            .filter(|f| before.get(&f.id) != Some(&f.last_modified))
            .map(|f| {
                let kind = content_kind(&f.content);
                let found = std::str::from_utf8(&f.content)
                    .ok()
                    .map(|text| markers.iter().filter(|m| text.contains(m.as_str())).cloned().collect::<Vec<_>>());
                opencti_conformance::evidence::ExportedFile {
                    id: f.id.clone(),
                    folder: f.id.rsplit_once('/').map_or_else(String::new, |(folder, _)| folder.to_string()),
                    name: f.name.clone(),
                    size: f.size,
                    content_kind: kind.to_string(),
                    withheld_markers: found,
                    markings: f.markings.clone(),
                }
            })
            .collect()
    })
}

fn export_files(platform: &MockPlatform) -> HashMap<String, chrono::DateTime<chrono::Utc>> {
    platform.read(|s| s.files.under("export/").map(|f| (f.id.clone(), f.last_modified)).collect())
}

/// The enrichment plan for a scope.
fn enrichment_plan(scope: &[String], options: &JobOptions, notes: &mut Vec<(String, String)>) -> Vec<Step> {
    let buildable: Vec<&String> = scope.iter().filter(|t| samples::can_build(t)).collect();
    let outside = ["Malware", "IPv4-Addr", "Report"].into_iter().find(|t| !scope.iter().any(|s| samples::same_type(s, t)));
    let enrich = |role, kind: &str, n, markings: &[&str], delete_first| {
        samples::entity(kind, n, markings).map(|entity| Step::Enrich { role, entity, delete_first, about: kind.to_string() })
    };
    let mut steps = Vec::new();
    let Some(first) = buildable.first() else {
        let why = format!(
            "the connector's scope ({}) holds no entity type the gate can build",
            if scope.is_empty() { "empty".to_string() } else { scope.join(", ") }
        );
        for role in ["in-scope", "unknown-entity", "above-max-tlp"] {
            notes.push((role.into(), why.clone()));
        }
        steps.extend(outside.and_then(|t| enrich("out-of-scope", t, 1, &[], false)));
        return steps;
    };
    let second = buildable.get(1).unwrap_or(first);
    steps.extend(enrich("in-scope", first, 1, &[TLP_GREEN], false));
    steps.extend(enrich("in-scope", second, 2, &[], false));
    match outside {
        Some(t) => steps.extend(enrich("out-of-scope", t, 1, &[], false)),
        None => notes.push(("out-of-scope".into(), "every type the gate builds is in the connector's scope".into())),
    }
    steps.extend(enrich("unknown-entity", first, 3, &[], true));
    if options.settings.contains_key("max_tlp") && options.max_tlp() == "TLP:RED" {
        notes.push(("above-max-tlp".into(), "the connector's max TLP is TLP:RED: no marking is above it".into()));
    } else if options.settings.contains_key("max_tlp") {
        steps.extend(enrich("above-max-tlp", first, 4, &[TLP_RED], false));
    } else {
        notes.push((
            "above-max-tlp".into(),
            "the gate does not know which of the connector's settings holds its max TLP (give it with --setting max_tlp=VAR)"
                .into(),
        ));
    }
    steps.extend(enrich("in-scope", first, 5, &[], false));
    steps
}

/// The file-import plan for a scope: a valid file of each type of the scope the gate has a
/// file of (the user's own sample first); the validation jobs with the first of them; a
/// corrupt file of the first type that can be corrupt.
fn import_plan(scope: &[String], options: &JobOptions, notes: &mut Vec<(String, String)>) -> Vec<Step> {
    let given = |mime: &str| options.samples.iter().find(|(m, ..)| m.eq_ignore_ascii_case(mime));
    let mut types: Vec<&String> = Vec::new();
    for m in scope.iter().filter(|m| given(m).is_some() || samples::file(m, Form::Valid).is_some()) {
        if !types.iter().any(|t| t.eq_ignore_ascii_case(m)) {
            types.push(m);
        }
    }
    // A sample the user gave is the format the connector reads: it leads.
    types.sort_by_key(|m| given(m).is_none());
    let Some(&first) = types.first() else {
        let why = format!(
            "the connector's scope ({}) holds no MIME type the gate has a file of (give one with --sample-file MIME=PATH)",
            if scope.is_empty() { "empty".to_string() } else { scope.join(", ") }
        );
        for role in ["valid-file", "workbench", "corrupt-file", "draft"] {
            notes.push((role.into(), why.clone()));
        }
        return Vec::new();
    };
    let upload = |mime: &str, name: String, content: Vec<u8>| Upload {
        filename: name,
        mime_type: mime.to_string(),
        content: content.into(),
        markings: Vec::new(),
        entity_id: None,
        pending: false,
        no_trigger_import: true,
    };
    // A type's valid and review files, and what to say of them.
    let files_of = |mime: &str| match given(mime) {
        Some((_, name, content)) => {
            let (stem, ext) = name.rsplit_once('.').unwrap_or((name.as_str(), "bin"));
            let review = upload(mime, format!("{stem}-review.{ext}"), content.clone());
            (upload(mime, name.clone(), content.clone()), review, format!("{mime} (given)"))
        }
        None => {
            let make = |form| samples::file(mime, form).map(|(n, c)| upload(mime, n, c)).expect("a type of the plan has files");
            (make(Form::Valid), make(Form::Review), format!("{mime} (made by the gate)"))
        }
    };
    let options_of = |mode: Option<&str>, force| ImportOptions {
        validation_mode: mode.map(str::to_string),
        force_validation: force,
        ..ImportOptions::default()
    };
    let (valid, review, about) = files_of(first);
    let mut steps = vec![
        Step::Import { role: "valid-file", file: valid, options: options_of(None, false), about: about.clone() },
        Step::Import {
            role: "workbench",
            file: review.clone(),
            options: options_of(Some("workbench"), true),
            about: about.clone(),
        },
    ];
    let corrupt = types.iter().find_map(|m| samples::file(m, Form::Corrupt).map(|(name, content)| (m, name, content)));
    match corrupt {
        Some((mime, name, content)) => steps.push(Step::Import {
            role: "corrupt-file",
            file: upload(mime, name, content),
            options: options_of(None, false),
            about: format!("{mime} (made by the gate)"),
        }),
        None => notes.push((
            "corrupt-file".into(),
            format!(
                "every file of {} is readable: the gate has no corrupt one",
                types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
            ),
        )),
    }
    steps.push(Step::Import { role: "draft", file: review, options: options_of(Some("draft"), true), about });
    for mime in &types[1..] {
        let (valid, _, about) = files_of(mime);
        steps.push(Step::Import { role: "valid-file", file: valid, options: options_of(None, false), about });
    }
    steps
}

/// The objects of the knowledge, each with a fingerprint of what it says: its stored body
/// with keys in order, without what the platform and pycti add when they export an object
/// (the OpenCTI extension, `x_opencti_id`, `x_opencti_type`, `x_opencti_stix_ids`) and
/// without the booleans STIX 2.1 defines as false when absent (`revoked: false` is what
/// pycti's export of an entity carries, read from the platform's field) — an object sent
/// back unchanged keeps its fingerprint.
fn fingerprints(platform: &MockPlatform) -> HashMap<String, u64> {
    const EXPORT_METADATA: &[&str] = &["extensions", "nb_deps", "x_opencti_id", "x_opencti_type", "x_opencti_stix_ids"];
    // STIX 2.1: `revoked` (§3.2), `defanged` (§6.1), a sighting's `summary` (§5.2),
    // an X.509 certificate's `is_self_signed` (§6.17): "the default value is false".
    const FALSE_BY_DEFAULT: &[&str] = &["revoked", "defanged", "summary", "is_self_signed"];
    use std::hash::{Hash, Hasher};
    fn canonical(v: &serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => serde_json::Value::Object(
                m.iter()
                    .filter(|(k, _)| !EXPORT_METADATA.contains(&k.as_str()))
                    .filter(|(k, v)| !(FALSE_BY_DEFAULT.contains(&k.as_str()) && **v == serde_json::Value::Bool(false)))
                    .map(|(k, v)| (k.clone(), canonical(v)))
                    .collect::<std::collections::BTreeMap<_, _>>()
                    .into_iter()
                    .collect(),
            ),
            serde_json::Value::Array(a) => serde_json::Value::Array(a.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    platform.read(|s| {
        s.knowledge
            .received()
            .map(|o| {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                canonical(&o.json()).to_string().hash(&mut h);
                (o.standard_id.clone(), h.finish())
            })
            .collect()
    })
}

/// Sends the plan's jobs once the connector has registered (in HTTP mode the dispatcher
/// retries until its listener answers), each awaited until its work is closed,
/// `job_timeout` passes or the connector exits (`alive` turns false).
pub async fn drive(
    platform: &MockPlatform,
    connector_id: &str,
    connector_type: &str,
    options: &JobOptions,
    (job_timeout, start_timeout): (Duration, Duration),
    alive: Arc<AtomicBool>,
) -> Driven {
    let store = platform.core().store.clone();
    let mut driven = Driven::default();
    let registered = store.wait_until(start_timeout, |s| s.connectors.get(connector_id).is_some()).await;
    if !registered || !alive.load(Ordering::SeqCst) {
        return driven;
    }
    let scope = platform.connector(connector_id).map(|c| c.scope()).unwrap_or_default();
    let plan = match connector_type {
        "INTERNAL_ENRICHMENT" => enrichment_plan(&scope, options, &mut driven.notes),
        "INTERNAL_IMPORT_FILE" => import_plan(&scope, options, &mut driven.notes),
        "INTERNAL_EXPORT_FILE" => {
            let analyst = export_setup(platform, &mut driven.notes);
            export_plan(&scope, analyst, &mut driven.notes)
        }
        _ => Vec::new(),
    };
    for step in plan {
        if !alive.load(Ordering::SeqCst) {
            break;
        }
        let sent_at = platform.read(|s| s.transcript.last_seq());
        // What the job is about is stored first, so that it is not counted as the
        // connector's writing.
        // The job's file, to tell a workbench holding it unchanged from one the connector made.
        let mut original: Option<bytes::Bytes> = None;
        // An export step: the format asked, and what it withholds (in words, and its markers).
        let mut export: Option<(String, Option<Withheld>, Vec<String>)> = None;
        let (role, about, ask): (_, _, Box<dyn FnOnce() -> Result<crate::store::works::Work, String>>) = match step {
            Step::Enrich { role, entity, delete_first, about } => {
                let id = entity["id"].as_str().unwrap_or_default().to_string();
                let bundle =
                    serde_json::json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": [entity]});
                let seeded = platform.seed(&bundle.to_string()).map_err(|e| e.to_string());
                let store = store.clone();
                let ask = move || {
                    seeded?;
                    let work = platform.ask_enrichment(connector_id, &id).map_err(|e| e.to_string());
                    if delete_first {
                        let now = store.clock().now();
                        store.write(|s| s.knowledge.remove_cascade(&id, now));
                    }
                    work
                };
                (role, about, Box::new(ask))
            }
            Step::Import { role, file, options, about } => {
                let stored = platform.upload(file).map_err(|e| e.to_string());
                original = stored.as_ref().ok().map(|(f, _)| f.content.clone());
                let ask = move || {
                    let (f, _) = stored?;
                    let works = platform.ask_import(&f.id, Some(connector_id), &options).map_err(|e| e.to_string())?;
                    works.into_iter().next().ok_or_else(|| "the connector was not selected".to_string())
                };
                (role, about, Box::new(ask))
            }
            Step::Export { role, ask, asker, withheld, about } => {
                let markings = ask
                    .file_markings
                    .iter()
                    .flatten()
                    .map(|m| platform.object(m).map_or_else(|| m.clone(), |o| o.internal_id.to_string()))
                    .collect();
                export = Some((ask.format.clone(), withheld.map(|w| withheld_markers(platform, w)), markings));
                let ask = move || {
                    let asker = Asker { user_id: asker, draft_id: None };
                    let works = crate::jobs::export_ask::ask_export(&platform.core().jobs, &ask, &asker).map_err(|e| e.to_string())?;
                    works
                        .into_iter()
                        .find(|w| w.connector_id == connector_id)
                        .ok_or_else(|| format!("the connector does not take {} (not active, or not in its scope)", ask.format))
                };
                (role, about, Box::new(ask))
            }
        };
        let files_before = export_files(platform);
        let before = fingerprints(platform);
        let work = ask();
        let work = match work {
            Ok(w) => w,
            Err(why) => {
                driven.notes.push((role.into(), format!("the platform could not send it: {why}")));
                continue;
            }
        };
        let seq = platform.read(|s| s.jobs.all().iter().rev().find(|j| j.work_id.as_deref() == Some(&work.id)).map(|j| j.seq));
        let mut ticks = tokio::time::interval(Duration::from_millis(100));
        let deadline = tokio::time::Instant::now() + job_timeout;
        loop {
            ticks.tick().await;
            let closed = platform.read(|s| s.works.get(&work.id).is_some_and(|w| w.processed_time.is_some()));
            if closed || !alive.load(Ordering::SeqCst) || tokio::time::Instant::now() >= deadline {
                break;
            }
        }
        // What it pushed for the job, processed before the next one.
        crate::conform::collect::wait_for_ingestion(platform, connector_id, Duration::from_secs(20)).await;
        let after = fingerprints(platform);
        let changed: Vec<String> =
            after.iter().filter(|(id, print)| before.get(*id) != Some(print)).map(|(id, _)| id.clone()).collect();
        let (workbenches, forwarded_unchanged) = platform.read(|s| {
            let uploaded: Vec<_> = s.files.under("import/pending/").filter(|f| f.last_modified >= work.timestamp).collect();
            let all = uploaded.iter().map(|f| f.id.clone()).collect();
            let same = uploaded.iter().filter(|f| original.as_ref() == Some(&f.content)).map(|f| f.id.clone()).collect();
            (all, same)
        });
        let (format, withheld, exported, file_markings) = match export {
            Some((format, withheld, markings)) => {
                let markers = withheld.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
                (Some(format), withheld.map(|(text, _)| text), exported_since(platform, &files_before, &markers), markings)
            }
            None => (None, None, Vec::new(), Vec::new()),
        };
        if let Some(seq) = seq {
            let alive_after = alive.load(Ordering::SeqCst);
            driven.sent.push(Sent {
                seq,
                role,
                sent_at,
                alive_after,
                about,
                changed,
                workbenches,
                forwarded_unchanged,
                format,
                withheld,
                exported,
                file_markings,
            });
        }
    }
    driven
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(steps: &[Step]) -> Vec<&'static str> {
        steps
            .iter()
            .map(|s| match s {
                Step::Enrich { role, .. } | Step::Import { role, .. } | Step::Export { role, .. } => *role,
            })
            .collect()
    }

    #[test]
    fn an_enrichment_plan_follows_the_scope_and_the_known_settings() {
        let mut notes = Vec::new();
        let with_tlp = JobOptions { settings: [("max_tlp".into(), "X_MAX_TLP".into())].into(), ..JobOptions::default() };
        let steps = enrichment_plan(&["Vulnerability".into()], &with_tlp, &mut notes);
        assert_eq!(roles(&steps), ["in-scope", "in-scope", "out-of-scope", "unknown-entity", "above-max-tlp", "in-scope"]);
        assert!(notes.is_empty());
        let steps = enrichment_plan(&["report".into(), "malware".into()], &JobOptions::default(), &mut notes);
        assert_eq!(roles(&steps), ["in-scope", "in-scope", "out-of-scope", "unknown-entity", "in-scope"]);
        assert_eq!(notes[0].0, "above-max-tlp");
        notes.clear();
        let steps = enrichment_plan(&["x-unknown".into()], &JobOptions::default(), &mut notes);
        assert_eq!(roles(&steps), ["out-of-scope"]);
        assert!(notes.iter().any(|(r, why)| r == "in-scope" && why.contains("x-unknown")));
        notes.clear();
        let red = JobOptions { max_tlp_given: Some("TLP:RED".into()), ..with_tlp.clone() };
        let steps = enrichment_plan(&["Vulnerability".into()], &red, &mut notes);
        assert_eq!(roles(&steps), ["in-scope", "in-scope", "out-of-scope", "unknown-entity", "in-scope"]);
        assert_eq!(
            notes,
            [("above-max-tlp".to_string(), "the connector's max TLP is TLP:RED: no marking is above it".to_string())]
        );
        let green = JobOptions { max_tlp_given: Some("TLP:GREEN".into()), ..with_tlp };
        assert_eq!(green.environment("INTERNAL_ENRICHMENT"), [("X_MAX_TLP".to_string(), "TLP:GREEN".to_string())]);
        assert_eq!(green.evidence("INTERNAL_ENRICHMENT")["max_tlp"], "TLP:GREEN");
    }

    #[test]
    fn an_import_plan_takes_the_first_type_it_has_a_file_of() {
        let mut notes = Vec::new();
        let steps = import_plan(&["application/vnd.custom".into(), "text/plain".into()], &JobOptions::default(), &mut notes);
        assert_eq!(roles(&steps), ["valid-file", "workbench", "draft"]);
        assert_eq!(
            notes,
            [("corrupt-file".to_string(), "every file of text/plain is readable: the gate has no corrupt one".to_string())]
        );
        notes.clear();
        // A valid file of each type; the corrupt one of the first type that has one.
        let scope = ["text/plain".into(), "application/pdf".into(), "TEXT/PLAIN".into(), "text/csv".into()];
        let steps = import_plan(&scope, &JobOptions::default(), &mut notes);
        assert_eq!(roles(&steps), ["valid-file", "workbench", "corrupt-file", "draft", "valid-file", "valid-file"]);
        let types: Vec<&str> = steps
            .iter()
            .map(|s| match s {
                Step::Import { file, .. } => file.mime_type.as_str(),
                Step::Enrich { .. } | Step::Export { .. } => "",
            })
            .collect();
        assert_eq!(types, ["text/plain", "text/plain", "application/pdf", "text/plain", "application/pdf", "text/csv"]);
        assert!(notes.is_empty());
        notes.clear();
        let given = JobOptions {
            samples: vec![("application/json".into(), "event.json".into(), b"{}".to_vec())],
            ..JobOptions::default()
        };
        let steps = import_plan(&["application/json".into()], &given, &mut notes);
        let Step::Import { file, about, .. } = &steps[0] else { panic!() };
        assert_eq!((file.filename.as_str(), about.as_str()), ("event.json", "application/json (given)"));
        assert!(import_plan(&["application/x-nothing".into()], &JobOptions::default(), &mut notes).is_empty());
    }

    #[test]
    fn an_export_plan_asks_in_the_first_format_for_each_scope_and_both_limits() {
        let mut notes = Vec::new();
        let scope = ["text/csv".to_string(), "application/json".to_string()];
        let steps = export_plan(&scope, Some("analyst".into()), &mut notes);
        assert_eq!(
            roles(&steps),
            [
                "single",
                "single-full",
                "selection",
                "query",
                "impersonation",
                "impersonation",
                "impersonation",
                "max-marking",
                "max-marking",
                "max-marking"
            ]
        );
        assert!(notes.is_empty());
        for s in &steps {
            if let Step::Export { ask, role, asker, withheld, .. } = s {
                assert_eq!(ask.format, "text/csv");
                assert_eq!(ask.file_markings.as_deref(), Some(&[TLP_GREEN.to_string()][..]));
                assert_eq!(asker.is_some(), *role == "impersonation");
                assert_eq!(withheld.is_some(), ["impersonation", "max-marking"].contains(role));
            }
        }
        let steps = export_plan(&scope, None, &mut notes);
        assert!(!roles(&steps).contains(&"impersonation"));
        assert_eq!(notes.len(), 1);
        notes.clear();
        assert!(export_plan(&[], None, &mut notes).is_empty());
        assert_eq!(notes.len(), 6, "every role is said not applicable: {notes:?}");
    }
}
