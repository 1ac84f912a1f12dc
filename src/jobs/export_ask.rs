//! Asking for an export: the connectors the platform picks, the file name it composes, the
//! work it opens for each connector and the job message it sends (`export.md` §2 next to
//! this file, with its citations).
//!
//! - **Who gets it**: every *active* `INTERNAL_EXPORT_FILE` connector whose scope holds the
//!   format (lower-cased, exact; an empty scope takes every format), each with its own
//!   work and job. None in scope is not an error: the ask returns no work.
//! - **The file name**: `<now, ISO with ms>_<content max markings' definitions joined by
//!   _, or TLP:ALL>_(<connector name>)_<part>.<ext>`, where the part is
//!   `<entity type>-<entity name>_<export type>` for one entity and
//!   `<entity type>_<export type>` for a list.
//! - **The work**: named after the file, source `export/<entity type>[/<entity id>]` (the
//!   folder the file will land in, which is how listings find the work while it runs),
//!   expecting nothing (so the connector's `toProcessed` completes it), in `wait`.
//! - **The filters**: from the asker's shareable markings and the content max markings,
//!   `access_filter` excludes every marking above the maximum of its type (and, when
//!   anything is excluded, every marking of a type the asker cannot share); `main_filter`
//!   adds the ids of the entity or the selection.
//! - **The message**: byte for byte what the platform's `JSON.stringify` gives
//!   ([`super::message::export`]); a query export's `list_params.filters` has its keys
//!   converted to database keys as the platform does ([`crate::filters::convert_keys`]).
//!
//! What the mock does not model: a user's `max_shareable_marking` is taken from the
//! markings the user may see (the highest of each type), since the mock has no group
//! settings; the platform's `command`/`export` activity entry is not recorded.

use serde_json::{Map, Value as Json, json};

use super::{Asker, Created, JobError, create, deliver_all, message, user_or_admin};
use crate::store::State;
use crate::store::access::Clearance;
use crate::store::clock::iso;
use crate::store::connectors::Connector;
use crate::store::files::export_extension;
use crate::store::jobs::JobKind;
use crate::store::works::Work;

use super::Dispatcher;

/// What to export.
///
/// ```
/// use opencti_mock::{ExportAsk, ExportTarget};
/// let ask = ExportAsk::list("text/csv", "Malware").selected(["malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883"]);
/// assert!(matches!(ask.target, ExportTarget::List { ref selected_ids, .. } if selected_ids.len() == 1));
/// assert_eq!(ask.export_type, "simple");
/// ```
#[derive(Debug, Clone)]
pub struct ExportAsk {
    /// The MIME type asked for (connectors are picked by it).
    pub format: String,
    /// `simple` (the entity and its nested references) or `full` (its relationships too).
    pub export_type: String,
    /// At most one marking definition (any id) per marking type: content marked above it
    /// is left out of the export.
    pub content_max_markings: Vec<String>,
    /// Markings of the file to produce (`None`: the key is absent from the message, as
    /// when the platform's caller leaves `fileMarkings` out).
    pub file_markings: Option<Vec<String>>,
    /// One entity, or a list.
    pub target: ExportTarget,
}

/// What an export covers.
///
/// ```
/// use opencti_mock::{ExportAsk, ExportTarget};
/// // a query export of the malware a search finds, with the list's own parameters
/// let mut list_params = serde_json::Map::new();
/// list_params.insert("search".into(), "emotet".into());
/// list_params.insert("orderBy".into(), "name".into());
/// let target = ExportTarget::List { entity_type: "Malware".into(), entity_id: None, selected_ids: vec![], list_params };
/// let ask = ExportAsk { target, ..ExportAsk::list("text/csv", "Malware") };
/// assert!(matches!(&ask.target, ExportTarget::List { selected_ids, .. } if selected_ids.is_empty()));
/// ```
#[derive(Debug, Clone)]
pub enum ExportTarget {
    /// One entity (any of its ids): `export_scope: single`.
    Entity(String),
    /// A list: the selected elements (`export_scope: selection`) or, with no selection,
    /// whatever the list's parameters match (`export_scope: query`).
    List {
        /// The list's entity type (`exportContext.entity_type`; may be abstract, such as
        /// `Stix-Core-Object` or `stix-core-relationship`).
        entity_type: String,
        /// The entity whose list it is (`exportContext.entity_id`), if any.
        entity_id: Option<String>,
        /// The selected ids.
        selected_ids: Vec<String>,
        /// The list's parameters as the platform passes them on (`search`, `orderBy`,
        /// `orderMode`, `filters`, and per list `types` or relationship keys); `filters`
        /// keys are converted to database keys when the job is built.
        list_params: Map<String, Json>,
    },
}

impl ExportAsk {
    /// A `simple` export of one entity, with no marking limit and no file marking.
    ///
    /// ```
    /// use opencti_mock::ExportAsk;
    /// let ask = ExportAsk::entity("application/vnd.oasis.stix+json", "report--6a1f0f5e-0000-4000-8000-000000000001");
    /// assert_eq!((ask.export_type.as_str(), ask.file_markings), ("simple", Some(vec![])));
    /// ```
    pub fn entity(format: impl Into<String>, entity_id: impl Into<String>) -> ExportAsk {
        ExportAsk::new(format, ExportTarget::Entity(entity_id.into()))
    }

    /// A `simple` query export of a list of `entity_type` (no selection, no parameters).
    ///
    /// ```
    /// use opencti_mock::{ExportAsk, ExportTarget};
    /// let ask = ExportAsk::list("text/plain", "Stix-Cyber-Observable");
    /// assert!(matches!(ask.target, ExportTarget::List { entity_id: None, .. }));
    /// ```
    pub fn list(format: impl Into<String>, entity_type: impl Into<String>) -> ExportAsk {
        ExportAsk::new(
            format,
            ExportTarget::List {
                entity_type: entity_type.into(),
                entity_id: None,
                selected_ids: Vec::new(),
                list_params: Map::new(),
            },
        )
    }

    fn new(format: impl Into<String>, target: ExportTarget) -> ExportAsk {
        ExportAsk {
            format: format.into(),
            export_type: "simple".into(),
            content_max_markings: Vec::new(),
            file_markings: Some(Vec::new()),
            target,
        }
    }

    /// The same ask as a `full` export.
    ///
    /// ```
    /// use opencti_mock::ExportAsk;
    /// assert_eq!(ExportAsk::entity("text/csv", "x").full().export_type, "full");
    /// ```
    #[must_use]
    pub fn full(mut self) -> ExportAsk {
        self.export_type = "full".into();
        self
    }

    /// The same list ask limited to the selected ids (a selection export); no effect on
    /// a single-entity ask.
    ///
    /// ```
    /// use opencti_mock::{ExportAsk, ExportTarget};
    /// let ask = ExportAsk::entity("text/csv", "x").selected(["y"]);
    /// assert!(matches!(ask.target, ExportTarget::Entity(_)));
    /// ```
    #[must_use]
    pub fn selected<I: IntoIterator<Item = S>, S: Into<String>>(mut self, ids: I) -> ExportAsk {
        if let ExportTarget::List { selected_ids, .. } = &mut self.target {
            *selected_ids = ids.into_iter().map(Into::into).collect();
        }
        self
    }
}

/// A marking definition as the export filters see it.
#[derive(Debug, Clone)]
struct Marking {
    internal_id: String,
    standard_id: String,
    definition_type: String,
    definition: String,
    order: i64,
}

fn markings(s: &State) -> Vec<Marking> {
    s.knowledge
        .all()
        .filter(|o| !o.deleted && &*o.stix_type == "marking-definition")
        .map(|o| {
            let body = o.json();
            let text = |k: &str| body.get(k).and_then(Json::as_str).filter(|v| !v.is_empty()).map(str::to_string);
            let definition_type = text("x_opencti_definition_type")
                .or_else(|| text("definition_type").map(|t| if t == "tlp" { "TLP".into() } else { t }))
                .unwrap_or_default();
            let definition = text("x_opencti_definition").or_else(|| text("name")).unwrap_or_default();
            Marking {
                internal_id: o.internal_id.to_string(),
                standard_id: o.standard_id.clone(),
                definition_type,
                definition,
                order: body.get("x_opencti_order").and_then(Json::as_i64).unwrap_or(0),
            }
        })
        .collect()
}

/// The export's `access_filter` and the markings excluded by it (internal ids).
fn access_filters(s: &State, user_id: &str, content_max: &[Marking]) -> Result<Vec<Json>, JobError> {
    let all = markings(s);
    let clearance = s.users.by_id(user_id).map_or_else(Clearance::unlimited, |u| Clearance::of(u, &s.knowledge));
    let shareable: Vec<&Marking> = all.iter().filter(|m| clearance.allows(&s.knowledge, &m.standard_id)).collect();
    // checkUserCanShareMarkings
    for wanted in content_max {
        if !shareable.iter().any(|m| m.definition_type == wanted.definition_type && m.order >= wanted.order) {
            return Err(JobError::Forbidden("You are not allowed to share these markings".into()));
        }
    }
    // the highest shareable marking of each type
    let mut max_shareable: Vec<&Marking> = Vec::new();
    for m in &shareable {
        match max_shareable.iter_mut().find(|x| x.definition_type == m.definition_type) {
            Some(x) if x.order < m.order => *x = m,
            Some(_) => {}
            None => max_shareable.push(m),
        }
    }
    let not_shareable: Vec<String> = all
        .iter()
        .filter(|m| !max_shareable.iter().any(|x| x.definition_type == m.definition_type))
        .map(|m| m.internal_id.clone())
        .collect();
    let mut excluded: Vec<String> = Vec::new();
    for ceiling in &max_shareable {
        let effective = match content_max.iter().find(|c| c.definition_type == ceiling.definition_type) {
            Some(c) if c.order <= ceiling.order => c.order,
            _ => ceiling.order,
        };
        excluded.extend(
            all.iter().filter(|m| m.definition_type == ceiling.definition_type && m.order > effective).map(|m| m.internal_id.clone()),
        );
    }
    if excluded.is_empty() {
        return Ok(Vec::new());
    }
    excluded.extend(not_shareable);
    Ok(vec![json!({"key": "objectMarking", "mode": "and", "operator": "not_eq", "values": excluded})])
}

/// The export filters: `(main_filter, access_filter)`.
fn filters(access: Vec<Json>, ids: &[String]) -> (Json, Json) {
    let access_filter = json!({"mode": "and", "filters": access, "filterGroups": []});
    let mut main = access;
    if !ids.is_empty() {
        main.push(json!({"key": "ids", "values": ids, "mode": "or", "operator": "eq"}));
    }
    (json!({"mode": "and", "filters": main, "filterGroups": []}), access_filter)
}

/// Whether a connector takes an export of `format`.
fn takes(connector: &Connector, format: &str, now: chrono::DateTime<chrono::Utc>) -> bool {
    let scope = connector.scope();
    connector.registration.connector_type == JobKind::InternalExportFile.connector_type()
        && connector.is_active(now)
        && (scope.is_empty() || scope.iter().any(|s| s.to_lowercase() == format.to_lowercase()))
}

/// `list_params` as the platform passes them on: members kept in their order, `filters`
/// converted to database keys, null members dropped (`undefined` in the platform).
fn transform(params: &Map<String, Json>) -> Json {
    let out: Map<String, Json> = params
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), if k == "filters" { crate::filters::convert_keys(v) } else { v.clone() }))
        .collect();
    Json::Object(out)
}

/// Asks for an export: one work and one job per connector that takes the format; the
/// works, in `wait`.
pub fn ask_export(jobs: &Dispatcher, ask: &ExportAsk, asker: &Asker) -> Result<Vec<Work>, JobError> {
    let now = jobs.store().clock().now();
    let created = jobs.store().write(|s| -> Result<Vec<Created>, JobError> {
        let user_id = user_or_admin(s, asker);
        if s.users.by_id(&user_id).is_none() {
            return Err(JobError::Invalid(format!("User {user_id} not found")));
        }
        let all = markings(s);
        let content_max: Vec<Marking> = ask
            .content_max_markings
            .iter()
            .map(|id| {
                let obj = s.knowledge.get(id).filter(|o| !o.deleted && &*o.stix_type == "marking-definition");
                obj.and_then(|o| all.iter().find(|m| m.internal_id == o.internal_id.to_string()).cloned())
                    .ok_or_else(|| JobError::Invalid(format!("Marking definition {id} not found")))
            })
            .collect::<Result<_, _>>()?;
        let access = access_filters(s, &user_id, &content_max)?;
        let marking_part = if content_max.is_empty() {
            "TLP:ALL".to_string()
        } else {
            content_max.iter().map(|m| m.definition.as_str()).collect::<Vec<_>>().join("_")
        };
        let ext = export_extension(&ask.format);
        let stamp = iso(now);
        let seven = s.profile == crate::profile::Profile::V7;
        let event = match &ask.target {
            ExportTarget::Entity(id) => {
                let clearance = s.users.by_id(&user_id).map_or_else(Clearance::unlimited, |u| Clearance::of(u, &s.knowledge));
                let obj = s
                    .knowledge
                    .get(id)
                    .filter(|o| !o.deleted && clearance.can_see(&s.knowledge, o))
                    .ok_or_else(|| JobError::UnknownEntity(id.clone()))?;
                let body = obj.json();
                let name = crate::stix::representative::representative_name(
                    body.as_object().unwrap_or(&Map::new()),
                    &obj.entity_type,
                    crate::stix::is_observable_type(&obj.stix_type),
                );
                let internal_id = obj.internal_id.to_string();
                let (main_filter, access_filter) = filters(access, std::slice::from_ref(&internal_id));
                message::ExportEvent {
                    scope: message::ExportScope::Single,
                    file_name: format!("{}-{name}_{}.{ext}", obj.entity_type, ask.export_type),
                    format: ask.format.clone(),
                    export_type: ask.export_type.clone(),
                    entity_id: Some(internal_id),
                    entity_name: name,
                    entity_type: obj.entity_type.to_string(),
                    file_markings: ask.file_markings.clone(),
                    selected_ids: Vec::new(),
                    list_params: None,
                    main_filter,
                    access_filter,
                }
            }
            ExportTarget::List { entity_type, entity_id, selected_ids, list_params } => {
                if entity_type.is_empty() {
                    return Err(JobError::Invalid("entity_type is missing from askListExport".into()));
                }
                let entity = match entity_id.as_deref().filter(|id| !id.is_empty()) {
                    Some(id) => {
                        let o = s.knowledge.get(id).filter(|o| !o.deleted).ok_or_else(|| JobError::UnknownEntity(id.into()))?;
                        let body = o.json();
                        let name = crate::stix::representative::representative_name(
                            body.as_object().unwrap_or(&Map::new()),
                            &o.entity_type,
                            crate::stix::is_observable_type(&o.stix_type),
                        );
                        Some((o.internal_id.to_string(), name))
                    }
                    None => None,
                };
                let (main_filter, access_filter) = filters(access, selected_ids);
                let selection = !selected_ids.is_empty();
                message::ExportEvent {
                    scope: if selection { message::ExportScope::Selection } else { message::ExportScope::Query },
                    file_name: format!("{entity_type}_{}.{ext}", ask.export_type),
                    format: ask.format.clone(),
                    export_type: ask.export_type.clone(),
                    entity_name: entity.as_ref().map_or_else(|| "global".to_string(), |(_, n)| n.clone()),
                    entity_id: entity.map(|(id, _)| id),
                    entity_type: entity_type.clone(),
                    file_markings: ask.file_markings.clone(),
                    selected_ids: selected_ids.clone(),
                    list_params: (!selection || seven).then(|| transform(list_params)),
                    main_filter,
                    access_filter,
                }
            }
        };
        let source = super::export::folder(&event.entity_type, event.entity_id.as_deref());
        let connectors: Vec<Connector> = s.connectors.all().filter(|c| takes(c, &ask.format, now)).cloned().collect();
        Ok(connectors
            .iter()
            .map(|c| {
                let file_name = format!("{stamp}_{marking_part}_({})_{}", c.registration.name, event.file_name);
                let event = message::ExportEvent { file_name: file_name.clone(), ..event.clone() };
                create(jobs, s, c, JobKind::InternalExportFile, file_name, &source, &user_id, |work_id| {
                    message::export(work_id, &user_id, &event)
                })
            })
            .collect())
    })?;
    Ok(deliver_all(jobs, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_put_access_filters_before_the_ids() {
        let access = vec![json!({"key": "objectMarking", "mode": "and", "operator": "not_eq", "values": ["m4"]})];
        let (main, access_filter) = filters(access, &["e1".to_string()]);
        assert_eq!(
            main.to_string(),
            r#"{"mode":"and","filters":[{"key":"objectMarking","mode":"and","operator":"not_eq","values":["m4"]},{"key":"ids","values":["e1"],"mode":"or","operator":"eq"}],"filterGroups":[]}"#
        );
        assert_eq!(access_filter["filters"].as_array().map(Vec::len), Some(1));
        let (main, _) = filters(Vec::new(), &[]);
        assert_eq!(main.to_string(), r#"{"mode":"and","filters":[],"filterGroups":[]}"#);
    }

    #[test]
    fn list_params_drop_nulls_and_convert_filter_keys() {
        let mut p = Map::new();
        p.insert("search".into(), Json::Null);
        p.insert("orderBy".into(), json!("name"));
        p.insert("filters".into(), json!({"mode": "and", "filters": [{"key": "objectLabel", "values": ["x"]}], "filterGroups": []}));
        assert_eq!(
            transform(&p).to_string(),
            r#"{"orderBy":"name","filters":{"mode":"and","filters":[{"key":["rel_object-label.*"],"values":["x"]}],"filterGroups":[]}}"#
        );
    }

    #[test]
    fn a_content_max_marking_excludes_the_markings_above_it_for_an_unlimited_user() {
        let retention = crate::config::Settings::default().transcript_retention().expect("default retention parses");
        let store = crate::store::Store::new(crate::profile::Profile::V7, "admin", crate::store::Clock::system(), retention);
        crate::ingest::seed_built_ins(&store).expect("the built-in markings are stored");
        store.read(|s| {
            let all = markings(s);
            let by_def = |d: &str| all.iter().find(|m| m.definition == d).cloned().expect("built in");
            let admin = s.users.admin().id.clone();
            assert!(access_filters(s, &admin, &[]).expect("no limit").is_empty(), "nothing above the highest markings");
            let filters = access_filters(s, &admin, &[by_def("TLP:GREEN")]).expect("the admin shares everything");
            let values: Vec<&str> = filters[0]["values"].as_array().expect("values").iter().filter_map(Json::as_str).collect();
            let want: Vec<String> =
                ["TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"].iter().map(|d| by_def(d).internal_id).collect();
            assert_eq!(values, want.iter().map(String::as_str).collect::<Vec<_>>());
            assert_eq!(filters[0]["operator"], "not_eq");
        });
    }
}
