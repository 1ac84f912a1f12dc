//! Creation mutations (`malwareAdd`, `stixCyberObservableAdd`, `labelAdd`...): the input as
//! a STIX object (`input.rs`), handed to the single ingest path, which computes the
//! standard id, resolves references, checks what the platform checks and upserts (an
//! object with the same standard id, or one of the input's STIX ids, is updated and
//! returned). A refusal is answered as the platform's GraphQL error.
//!
//! After an upsert, `upsertOperations` are applied as patches. `createIndicator` (on an
//! observable), `createObservables` and `basedOn` (on an indicator) create the indicator /
//! observables and their `based-on` relationships, as the platform does.

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use serde_json::{Map, Value as Json, json};
use uuid::Uuid;

use crate::graphql::builder::Registry;
use crate::graphql::context::parts;
use crate::graphql::errors::functional;
use crate::graphql::knowledge::edit;
use crate::graphql::knowledge::input::{
    Resolver, complete, copy_fields, extension_mut, keep_extension, record_creation, refusal_error,
};
use crate::graphql::knowledge::project::label_color;
use crate::graphql::knowledge::types::{IDENTITY_CLASSES, LOCATION_TYPES, stix_type_of};
use crate::graphql::knowledge::view::{Api, Shared, View, arg, strings, with_view};
use crate::ingest::object::{Committed, IngestContext, ingest_object};
use crate::stix::standard_id::standard_id;
use crate::store::clock::iso;

/// The entity type of a GraphQL type name (`CourseOfAction` → `Course-Of-Action`).
fn entity_type_of_graphql(name: &str) -> String {
    if name == "SecurityPlatform" {
        return name.to_string();
    }
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            out.push('-');
        }
        out.push(c);
    }
    out
}

/// Input fields the mock does not serve (pycti never sends them), and why.
const UNSERVED_INPUTS: &[(&str, &str)] = &[
    ("dataComponents", "a data source's components are set from each component's dataSource"),
    ("caseTemplates", "case templates are not modelled"),
];

/// Registers the creation mutation `field` returning `returns`.
pub fn register(r: &mut Registry, api: &Shared, field: &str, returns: &str) {
    let a = api.clone();
    match field {
        "stixCyberObservableAdd" => r.json("Mutation", field, move |ctx| observable_add(ctx, &a)),
        "artifactImport" => r.json("Mutation", field, move |ctx| crate::graphql::knowledge::artifact::artifact_import(ctx, &a)),
        "stixCoreRelationshipAdd" => r.json("Mutation", field, move |ctx| relationship_add(ctx, &a, false)),
        "stixSightingRelationshipAdd" => r.json("Mutation", field, move |ctx| relationship_add(ctx, &a, true)),
        "stixRefRelationshipAdd" => {
            r.json("Mutation", field, move |ctx| crate::graphql::knowledge::refs::ref_relationship_add(ctx, &a))
        }
        "labelAdd" => r.json("Mutation", field, move |ctx| label_add(ctx, &a)),
        "markingDefinitionAdd" => r.json("Mutation", field, move |ctx| meta_add(ctx, &a, "marking-definition")),
        "externalReferenceAdd" => r.json("Mutation", field, move |ctx| meta_add(ctx, &a, "external-reference")),
        "killChainPhaseAdd" => r.json("Mutation", field, move |ctx| meta_add(ctx, &a, "kill-chain-phase")),
        "vocabularyAdd" => r.json("Mutation", field, move |ctx| meta_add(ctx, &a, "vocabulary")),
        "identityAdd" | "locationAdd" => r.json("Mutation", field, move |ctx| {
            let field = ctx.field().name();
            let input = input_map(ctx, "input");
            let ty = input.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
            let known = IDENTITY_CLASSES.iter().any(|(e, _)| *e == ty) || LOCATION_TYPES.contains(&ty.as_str());
            if !known {
                return Err(functional(format!("{ty} is not a valid identity or location type"), json!({"type": ty})));
            }
            let declared = if field == "identityAdd" { "Identity" } else { "Location" };
            entity_add(ctx, &a, &ty, input, declared)
        }),
        name if name.ends_with("Add") => {
            let (entity_type, declared) = (entity_type_of_graphql(returns), returns.to_string());
            r.json("Mutation", field, move |ctx| entity_add(ctx, &a, &entity_type, input_map(ctx, "input"), &declared))
        }
        _ => {}
    }
}

/// An input argument as a JSON object.
pub fn input_map(ctx: &ResolverContext<'_>, name: &str) -> Map<String, Json> {
    match arg(ctx, name) {
        Json::Object(m) => m,
        _ => Map::new(),
    }
}

/// The result of a creation: the stored object's internal id and whether it was new.
pub struct Created {
    /// Internal id.
    pub id: String,
    /// False when an existing object was updated.
    pub created: bool,
}

/// Hands a STIX object to the ingest path as the caller; a refusal becomes the platform's
/// error.
pub fn ingest(ctx: &ResolverContext<'_>, stix: &Map<String, Json>) -> Result<Created, Error> {
    ingest_as(ctx, stix, None)
}

/// [`ingest`], the object identified by `standard` when given.
fn ingest_as(ctx: &ResolverContext<'_>, stix: &Map<String, Json>, standard: Option<String>) -> Result<Created, Error> {
    let (core, caller) = parts(ctx)?;
    let user = caller.user()?;
    let ictx = IngestContext {
        applicant_id: Some(user.id.clone()),
        draft_id: caller.draft_id.clone(),
        types: Default::default(),
        standard_id: standard,
    };
    let text = Json::Object(stix.clone()).to_string();
    match ingest_object(&core.store, &text, &ictx) {
        Ok(Committed::Stored(u)) | Ok(Committed::StoredWithError(u, _)) => {
            Ok(Created { id: u.internal_id.to_string(), created: u.created })
        }
        Ok(Committed::Skipped) | Ok(Committed::Retried) => Err(functional(
            "The object was not created: the platform does not import it as given",
            json!({"type": stix.get("type"), "id": stix.get("id")}),
        )),
        Err(e) => Err(match &e.refusal {
            Some(r) => refusal_error(r),
            None => functional(e.message.clone(), json!({"source": e.source})),
        }),
    }
}

/// The id an object is written under: the input's STIX id, else its standard id, else a
/// random one.
fn assign_id(stix: &mut Map<String, Json>, stix_type: &str) {
    if stix.get("id").and_then(Json::as_str).is_some() {
        return;
    }
    let mut probe = stix.clone();
    probe.insert("type".into(), json!(stix_type));
    let id = standard_id(&Json::Object(probe)).unwrap_or_else(|| format!("{stix_type}--{}", Uuid::new_v4()));
    stix.insert("id".into(), json!(id));
}

/// The standard id of an object created without a `created` date, when it differs from the
/// complete object's: the platform computes the id from the input, before it gives the
/// object its creation date (only a grouping's id takes the date when there is one).
fn input_standard_id(stix: &Map<String, Json>, input: &Map<String, Json>) -> Option<String> {
    if input.get("created").is_some_and(|c| !c.is_null()) || stix.get("type").and_then(Json::as_str) != Some("grouping") {
        return None;
    }
    let mut probe = stix.clone();
    probe.remove("created");
    standard_id(&Json::Object(probe))
}

/// The stored object an incoming STIX object will upsert, if any (by its ids).
fn existing_body(v: &View<'_>, stix: &Map<String, Json>) -> Option<Json> {
    let mut probe = stix.clone();
    probe.remove("id");
    let standard = standard_id(&Json::Object(probe));
    let mut ids: Vec<String> = standard.into_iter().collect();
    ids.extend(stix.get("id").and_then(Json::as_str).map(str::to_string));
    ids.extend(strings(stix.get("x_opencti_stix_ids").unwrap_or(&Json::Null)));
    ids.iter().find_map(|id| v.knowledge().get(id)).map(|o| o.json())
}

/// Leaves out the STIX ids of an input that name a stored object of another entity type:
/// the platform only upserts within a type (the new object keeps its other ids), and the
/// mock's store cannot give one id to two objects.
fn drop_foreign_ids(v: &View<'_>, stix: &mut Map<String, Json>) {
    let stix_type = stix.get("type").and_then(Json::as_str).unwrap_or_default().to_string();
    let Some(entity_type) = crate::stix::entity_type_of(&stix_type, &Json::Object(stix.clone())) else { return };
    let foreign = |id: &str| v.knowledge().get(id).is_some_and(|o| *o.entity_type != *entity_type);
    if stix.get("id").and_then(Json::as_str).is_some_and(foreign) {
        stix.remove("id");
    }
    if let Some(Json::Array(ids)) = stix.get_mut("x_opencti_stix_ids") {
        ids.retain(|i| !i.as_str().is_some_and(foreign));
    }
}

/// Builds a STIX object from an input under the caller's view: fields copied, references
/// resolved, creator and files recorded, id assigned; `shape` adds the type's own
/// properties.
pub(super) fn build(
    ctx: &ResolverContext<'_>,
    api: &Api,
    stix_type: &str,
    input: &Map<String, Json>,
    shape: impl FnOnce(&mut Map<String, Json>, &mut Resolver<'_, '_>),
) -> Result<Map<String, Json>, Error> {
    let (core, caller) = parts(ctx)?;
    let user_id = caller.user()?.id.clone();
    let now = iso(core.store.clock().now());
    with_view(ctx, api, |v| {
        let mut r = Resolver::new(v);
        let mut stix = Map::new();
        stix.insert("type".into(), json!(stix_type));
        copy_fields(&mut stix, input, &mut r, stix_type);
        shape(&mut stix, &mut r);
        record_creation(ctx, &mut stix, input, &mut r, &user_id, stix_type, &now);
        r.finish()?;
        complete(&mut stix, stix_type, &now);
        drop_foreign_ids(v, &mut stix);
        if let Some(old) = existing_body(v, &stix) {
            keep_extension(&mut stix, &old, stix_type);
        }
        assign_id(&mut stix, stix_type);
        Ok(stix)
    })
}

/// Projects a stored object for the answer.
pub fn answer(ctx: &ResolverContext<'_>, api: &Api, id: &str) -> Result<Json, Error> {
    with_view(ctx, api, |v| Ok(v.get(id).map(|o| v.project(o)).unwrap_or(Json::Null)))
}

/// Projects the object a creation stored, which must be of the mutation's return type (an
/// input whose STIX ids name an object of another type upserts that object).
fn answer_as(ctx: &ResolverContext<'_>, api: &Api, id: &str, declared: &str) -> Result<Json, Error> {
    with_view(ctx, api, |v| match v.get(id) {
        Some(o) if v.fits(o, declared) => Ok(v.project(o)),
        Some(o) => Err(functional(
            format!("The input names an existing {} ({}), which is not a {declared}", o.entity_type, o.standard_id),
            json!({"id": o.internal_id.to_string(), "entity_type": &*o.entity_type}),
        )),
        None => Ok(Json::Null),
    })
}

/// Ingests, applies `upsertOperations` on an update, and answers the stored object (of
/// GraphQL type `declared`).
pub(super) fn finish(
    ctx: &ResolverContext<'_>,
    api: &Api,
    stix: &Map<String, Json>,
    input: &Map<String, Json>,
    declared: &str,
) -> Result<(Created, Json), Error> {
    let created = ingest_as(ctx, stix, input_standard_id(stix, input))?;
    if !created.created
        && let Some(Json::Array(ops)) = input.get("upsertOperations")
        && !ops.is_empty()
    {
        edit::patch(ctx, api, &created.id, None, ops)?;
    }
    let json = answer_as(ctx, api, &created.id, declared)?;
    Ok((created, json))
}

/// A domain object of `entity_type` (identities, locations and threat actors carry their
/// type in the OpenCTI extension, as the platform's export does).
fn entity_add(
    ctx: &ResolverContext<'_>,
    api: &Api,
    entity_type: &str,
    input: Map<String, Json>,
    declared: &str,
) -> Result<Json, Error> {
    let stix_type = stix_type_of(entity_type);
    if let Some((field, why)) = UNSERVED_INPUTS.iter().find(|(f, _)| input.get(*f).is_some_and(|v| !v.is_null())) {
        return Err(crate::graphql::knowledge::not_supported(&format!("{}.{field}", ctx.field().name()), why));
    }
    let (core, _) = parts(ctx)?;
    let now = iso(core.store.clock().now());
    let stix = build(ctx, api, &stix_type, &input, |stix, _| {
        stix.remove("type");
        stix.insert("type".into(), json!(stix_type));
        match stix_type.as_str() {
            "identity" => {
                let class = IDENTITY_CLASSES.iter().find(|(e, _)| *e == entity_type).map(|(_, c)| *c).unwrap_or("organization");
                stix.insert("identity_class".into(), json!(class));
                extension_mut(stix, "identity").insert("type".into(), json!(entity_type));
            }
            "location" => {
                stix.insert("x_opencti_location_type".into(), json!(entity_type));
                extension_mut(stix, "location").insert("type".into(), json!(entity_type));
            }
            "threat-actor" => {
                extension_mut(stix, "threat-actor").insert("type".into(), json!(entity_type));
            }
            "indicator" => {
                stix.entry("valid_from").or_insert_with(|| json!(now));
                stix.entry("pattern_type").or_insert_with(|| json!("stix"));
                stix.entry("x_opencti_score").or_insert(json!(crate::stix::observable_syntax::INDICATOR_DEFAULT_SCORE));
            }
            _ => {}
        }
    })?;
    let (created, json) = finish(ctx, api, &stix, &input, declared)?;
    if stix_type == "indicator" {
        let based_on = strings(input.get("basedOn").unwrap_or(&Json::Null));
        for target in based_on {
            based_on_relationship(ctx, api, &created.id, &target, &stix)?;
        }
        if input.get("createObservables").and_then(Json::as_bool) == Some(true) {
            observables_of_indicator(ctx, api, &created.id, &stix)?;
        }
    }
    Ok(json)
}

/// A `based-on` relationship from an indicator to an observable, with the indicator's
/// author and markings.
fn based_on_relationship(
    ctx: &ResolverContext<'_>,
    api: &Api,
    from: &str,
    to: &str,
    like: &Map<String, Json>,
) -> Result<(), Error> {
    let (core, _) = parts(ctx)?;
    let now = iso(core.store.clock().now());
    let (from_id, to_id) = with_view(ctx, api, |v| {
        let id = |x: &str| v.get(x).map(|o| o.standard_id.clone());
        Ok((id(from), id(to)))
    })?;
    let (Some(from_id), Some(to_id)) = (from_id, to_id) else {
        return Err(refusal_error(&crate::stix::refusals::missing_reference(&[to.to_string()])));
    };
    let mut rel = Map::new();
    rel.insert("type".into(), json!("relationship"));
    rel.insert("spec_version".into(), json!("2.1"));
    rel.insert("relationship_type".into(), json!("based-on"));
    rel.insert("source_ref".into(), json!(from_id));
    rel.insert("target_ref".into(), json!(to_id));
    rel.insert("created".into(), json!(now));
    rel.insert("modified".into(), json!(now));
    for k in ["created_by_ref", "object_marking_refs"] {
        if let Some(v) = like.get(k) {
            rel.insert(k.into(), v.clone());
        }
    }
    assign_id(&mut rel, "relationship");
    ingest(ctx, &rel).map(|_| ())
}

/// The observables of an indicator's pattern (simple comparisons), each `based-on`.
fn observables_of_indicator(
    ctx: &ResolverContext<'_>,
    api: &Api,
    indicator: &str,
    like: &Map<String, Json>,
) -> Result<(), Error> {
    let pattern = like.get("pattern").and_then(Json::as_str).unwrap_or_default();
    for value in crate::graphql::knowledge::project::pattern_values(pattern) {
        let entity_type = value["type"].as_str().unwrap_or_default();
        let stix_type = stix_type_of(entity_type);
        if !crate::stix::is_observable_type(&stix_type) {
            continue;
        }
        let mut obs = Map::new();
        obs.insert("type".into(), json!(stix_type));
        obs.insert("spec_version".into(), json!("2.1"));
        match value["hashes"].as_array().and_then(|h| h.first()) {
            Some(h) => {
                obs.insert("hashes".into(), json!({h["algorithm"].as_str().unwrap_or_default(): h["hash"]}));
            }
            None => {
                obs.insert("value".into(), value["value"].clone());
            }
        }
        for k in ["created_by_ref", "object_marking_refs", "labels"] {
            if let Some(v) = like.get(k) {
                obs.insert(k.into(), v.clone());
            }
        }
        assign_id(&mut obs, &stix_type);
        let created = ingest(ctx, &obs)?;
        based_on_relationship(ctx, api, indicator, &created.id, like)?;
    }
    Ok(())
}

/// The STIX pattern of an observable (`[ipv4-addr:value = '…']`, a file by hash...).
pub fn pattern_of(stix: &Map<String, Json>) -> Option<String> {
    let stix_type = stix.get("type")?.as_str()?;
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    if let Some(Json::Object(h)) = stix.get("hashes") {
        let (alg, hash) = ["SHA-256", "SHA-512", "SHA-1", "MD5"]
            .iter()
            .find_map(|a| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(a)))
            .or_else(|| h.iter().next())?;
        return Some(format!("[{stix_type}:hashes.'{alg}' = '{}']", quote(hash.as_str()?)));
    }
    for key in ["value", "name", "number", "key", "path", "account_login", "iban", "card_number", "persona_name"] {
        match stix.get(key) {
            Some(Json::String(s)) => return Some(format!("[{stix_type}:{key} = '{}']", quote(s))),
            Some(Json::Number(n)) => return Some(format!("[{stix_type}:{key} = {n}]")),
            _ => {}
        }
    }
    None
}

/// An indicator for an observable (`createIndicator`, `promoteToIndicator`), `based-on` it.
pub fn indicator_for(ctx: &ResolverContext<'_>, api: &Api, observable_id: &str) -> Result<Json, Error> {
    let (core, _) = parts(ctx)?;
    let now = iso(core.store.clock().now());
    let (stix, entity_type, value) = with_view(ctx, api, |v| {
        let o = v.get(observable_id).ok_or_else(|| functional("Cannot find the observable", json!({"id": observable_id})))?;
        let value = v.project(o)["observable_value"].as_str().unwrap_or_default().to_string();
        Ok((o.json().as_object().cloned().unwrap_or_default(), o.entity_type.to_string(), value))
    })?;
    let pattern = pattern_of(&stix).ok_or_else(|| {
        functional(format!("Cannot create an indicator from an observable of type {entity_type}"), json!({"type": entity_type}))
    })?;
    let mut ind = Map::new();
    ind.insert("type".into(), json!("indicator"));
    ind.insert("spec_version".into(), json!("2.1"));
    ind.insert("name".into(), json!(value));
    ind.insert("pattern".into(), json!(pattern));
    ind.insert("pattern_type".into(), json!("stix"));
    ind.insert("valid_from".into(), json!(now));
    ind.insert("created".into(), json!(now));
    ind.insert("modified".into(), json!(now));
    ind.insert("x_opencti_main_observable_type".into(), json!(entity_type));
    let score = stix.get("x_opencti_score").cloned().unwrap_or(json!(crate::stix::observable_syntax::INDICATOR_DEFAULT_SCORE));
    ind.insert("x_opencti_score".into(), score);
    for k in ["created_by_ref", "object_marking_refs", "labels", "external_references"] {
        if let Some(v) = stix.get(k) {
            ind.insert(k.into(), v.clone());
        }
    }
    assign_id(&mut ind, "indicator");
    let created = ingest(ctx, &ind)?;
    based_on_relationship(ctx, api, &created.id, observable_id, &ind)?;
    answer(ctx, api, &created.id)
}

/// `stixCyberObservableAdd(type, <GraphQL type>: {...}, common arguments)`.
fn observable_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let entity_type = arg(ctx, "type").as_str().unwrap_or_default().to_string();
    let entity_type = if entity_type.eq_ignore_ascii_case("X-OpenCTI-Hostname") { "Hostname".to_string() } else { entity_type };
    let Some((stix_type, _)) = crate::stix::OBSERVABLE_TYPES.iter().find(|(_, e)| e.eq_ignore_ascii_case(&entity_type)) else {
        return Err(refusal_error(&crate::stix::refusals::unsupported_type(&entity_type)));
    };
    let argument = entity_type.replace('-', "");
    let Json::Object(specific) = arg(ctx, &argument) else {
        return Err(functional(
            format!("Missing input {argument} for an observable of type {entity_type}"),
            json!({"type": entity_type, "argument": argument}),
        ));
    };
    let mut input = specific;
    for common in [
        "stix_id",
        "x_opencti_score",
        "x_opencti_description",
        "createdBy",
        "objectMarking",
        "objectLabel",
        "objectOrganization",
        "externalReferences",
        "upsertOperations",
    ] {
        let v = arg(ctx, common);
        if !v.is_null() {
            input.insert(common.to_string(), v);
        }
    }
    let stix = build(ctx, api, stix_type, &input, |_, _| {})?;
    let (created, json) = finish(ctx, api, &stix, &input, "StixCyberObservable")?;
    if arg(ctx, "createIndicator").as_bool() == Some(true) {
        indicator_for(ctx, api, &created.id)?;
    }
    Ok(json)
}

/// `stixCoreRelationshipAdd` / `stixSightingRelationshipAdd`.
fn relationship_add(ctx: &ResolverContext<'_>, api: &Api, sighting: bool) -> Result<Json, Error> {
    let input = input_map(ctx, "input");
    let (from, to) = (input.get("fromId").cloned().unwrap_or(Json::Null), input.get("toId").cloned().unwrap_or(Json::Null));
    let stix_type = if sighting { "sighting" } else { "relationship" };
    let stix = build(ctx, api, stix_type, &input, |stix, r| {
        let from = from.as_str().and_then(|f| r.one(f));
        let to = to.as_str().and_then(|t| r.one(t));
        if sighting {
            stix.insert("sighting_of_ref".into(), json!(from));
            stix.insert("where_sighted_refs".into(), json!(to.into_iter().collect::<Vec<_>>()));
            stix.remove("relationship_type");
        } else {
            stix.insert("source_ref".into(), json!(from));
            stix.insert("target_ref".into(), json!(to));
        }
    })?;
    let declared = if sighting { "StixSightingRelationship" } else { "StixCoreRelationship" };
    finish(ctx, api, &stix, &input, declared).map(|(_, j)| j)
}

/// `labelAdd`: an existing label with the same value (case-insensitively) is returned.
fn label_add(ctx: &ResolverContext<'_>, api: &Api) -> Result<Json, Error> {
    let input = input_map(ctx, "input");
    let value = input.get("value").and_then(Json::as_str).unwrap_or_default().to_string();
    if value.trim().is_empty() {
        return Err(functional("A label needs a value", json!({"value": value})));
    }
    let found = with_view(ctx, api, |v| {
        Ok(crate::graphql::knowledge::fields::label_object(v, &value)
            .or_else(|| {
                v.knowledge().all().find(|o| {
                    &*o.entity_type == "Label" && o.json()["value"].as_str().is_some_and(|x| x.eq_ignore_ascii_case(&value))
                })
            })
            .map(|o| o.internal_id.to_string()))
    })?;
    if let Some(id) = found {
        return answer(ctx, api, &id);
    }
    meta_add(ctx, api, "label")
}

/// Meta objects: labels, marking definitions, external references, kill chain phases,
/// vocabulary entries.
fn meta_add(ctx: &ResolverContext<'_>, api: &Api, stix_type: &str) -> Result<Json, Error> {
    let input = input_map(ctx, "input");
    let stix = build(ctx, api, stix_type, &input, |stix, _| match stix_type {
        "label" => {
            let value = stix.get("value").and_then(Json::as_str).unwrap_or_default().to_string();
            stix.entry("color").or_insert_with(|| json!(label_color(&value)));
        }
        "kill-chain-phase" => {
            stix.entry("x_opencti_order").or_insert(json!(0));
        }
        "marking-definition" => marking(stix),
        _ => {}
    })?;
    let declared = match stix_type {
        "label" => "Label",
        "marking-definition" => "MarkingDefinition",
        "external-reference" => "ExternalReference",
        "kill-chain-phase" => "KillChainPhase",
        _ => "Vocabulary",
    };
    finish(ctx, api, &stix, &input, declared).map(|(_, j)| j)
}

/// A marking definition's STIX shape from the platform's `definition_type` / `definition`.
fn marking(stix: &mut Map<String, Json>) {
    let def_type = stix.get("definition_type").and_then(Json::as_str).unwrap_or_default().to_string();
    let definition = stix.get("definition").and_then(Json::as_str).unwrap_or_default().to_string();
    stix.insert("name".into(), json!(definition));
    stix.insert("x_opencti_definition_type".into(), json!(def_type));
    stix.insert("x_opencti_definition".into(), json!(definition));
    let level = definition.strip_prefix("TLP:").map(str::to_lowercase);
    match level {
        Some(level) if def_type.eq_ignore_ascii_case("TLP") => {
            let level = if level == "clear" { "white".to_string() } else { level };
            stix.insert("definition_type".into(), json!("tlp"));
            stix.insert("definition".into(), json!({"tlp": level}));
        }
        _ => {
            stix.insert("definition_type".into(), json!("statement"));
            stix.insert("definition".into(), json!({"statement": definition}));
        }
    }
    stix.entry("x_opencti_order").or_insert(json!(0));
}
