//! List queries: type narrowing, `FilterGroup` filters, free-text search, ordering and
//! cursor pagination, as the platform's `listEntitiesPaginated` answers them.
//!
//! One pass over the store decides membership: the root field's node type and the `types`
//! argument are checked on the stored entity type first (memoised per type, no parsing);
//! only the survivors have their body parsed for filters, search and the sort key, and
//! only the requested page is projected. Cursors are base64 of `[offset]`; `hasNextPage`
//! is true while objects remain after the page, which is what pycti's `getAll=True` loop
//! follows; `globalCount` is the number of matches.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use async_graphql::Error;
use async_graphql::dynamic::ResolverContext;
use base64::Engine;
use serde_json::{Value as Json, json};

use crate::filters::{Filter, FilterGroup, Subject};
use crate::graphql::errors::functional;
use crate::graphql::knowledge::project::opencti_extension;
use crate::graphql::knowledge::types::{TypeFilter, TypesArg, is_of_types, parent_types};
use crate::graphql::knowledge::view::{View, arg, arg_str, strings};
use crate::store::clock::iso;
use crate::store::knowledge::StoredObject;

/// Filter keys with a meaning of their own (besides STIX property names).
const SPECIAL_KEYS: &[&str] = &[
    "id",
    "ids",
    "standard_id",
    "entity_type",
    "parent_types",
    "created_at",
    "updated_at",
    "x_opencti_stix_ids",
    "objectLabel",
    "objectMarking",
    "createdBy",
    "creator_id",
    "objects",
    "objectOrganization",
    "killChainPhases",
    "externalReferences",
    "regardingOf",
    "fromId",
    "toId",
    "fromTypes",
    "toTypes",
    "relationship_type",
    "workflow_id",
];

/// Properties free-text search looks into.
const SEARCHED: &[&str] = &[
    "name",
    "value",
    "description",
    "aliases",
    "x_opencti_aliases",
    "pattern",
    "content",
    "abstract",
    "source_name",
    "external_id",
    "url",
    "phase_name",
    "kill_chain_name",
    "x_opencti_definition",
    "display_name",
    "subject",
    "body",
    "path",
    "number",
    "iban",
    "x_mitre_id",
    "x_opencti_additional_names",
    "opinion",
    "explanation",
    "context",
    "key",
    "result_name",
    "title",
    "persona_name",
    "card_number",
    "account_login",
    "user_id",
    "command_line",
    "cpe",
];

/// Whether the mock evaluates a filter key: a key of its own (or its converted database
/// key), or a STIX / OpenCTI property name (lower-case, digits, `_`, with a `.path` for
/// dictionaries such as `hashes.MD5`).
pub fn known_key(key: &str) -> bool {
    let key = crate::filters::canonical_key(key);
    if SPECIAL_KEYS.contains(&key) {
        return true;
    }
    let head = key.split('.').next().unwrap_or_default();
    head.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && head.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// The `filters` argument, checked.
pub fn filters_arg(ctx: &ResolverContext<'_>, name: &str) -> Result<Option<FilterGroup>, Error> {
    FilterGroup::parse_with(&arg(ctx, name), &known_key).map_err(|e| functional(e.0, json!({"filters": arg(ctx, name)})))
}

/// A cursor for the position after `offset` elements.
pub fn cursor(offset: usize) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("[{offset}]"))
}

/// The offset a cursor stands for.
pub fn offset_of(after: Option<&str>) -> Result<usize, Error> {
    let Some(after) = after.filter(|a| !a.is_empty()) else { return Ok(0) };
    let decoded = base64::engine::general_purpose::STANDARD.decode(after).ok().and_then(|b| String::from_utf8(b).ok());
    let offset = decoded
        .as_deref()
        .and_then(|d| serde_json::from_str::<Json>(d).ok())
        .and_then(|j| j.get(0).cloned())
        .and_then(|o| o.as_u64().or_else(|| o.as_str().and_then(|s| s.parse().ok())));
    match offset {
        Some(o) => usize::try_from(o).map_err(|_| functional("Invalid pagination cursor", json!({"after": after}))),
        None => Err(functional(
            format!("Invalid pagination cursor '{after}': pass the endCursor of the previous page"),
            json!({"after": after}),
        )),
    }
}

/// A connection over already selected nodes: `edges` with cursors and `pageInfo`.
pub fn connection(nodes: Vec<Json>, offset: usize, total: usize) -> Json {
    let len = nodes.len();
    let edges: Vec<Json> =
        nodes.into_iter().enumerate().map(|(i, n)| json!({"cursor": cursor(offset + i + 1), "node": n})).collect();
    let (start, end) = if len == 0 { (String::new(), String::new()) } else { (cursor(offset + 1), cursor(offset + len)) };
    json!({
        "edges": edges,
        "pageInfo": {
            "startCursor": start, "endCursor": end,
            "hasNextPage": offset + len < total, "hasPreviousPage": offset > 0, "globalCount": total,
        },
    })
}

/// `first` (at least 0) and the offset of `after`.
pub fn page_args(ctx: &ResolverContext<'_>, default_first: usize) -> Result<(usize, usize), Error> {
    let first = ctx.args.get("first").and_then(|v| v.i64().ok()).map(|f| f.max(0) as usize).unwrap_or(default_first);
    Ok((first, offset_of(arg_str(ctx, "after").as_deref())?))
}

/// Every id an object is known by.
pub fn all_ids(obj: &StoredObject) -> Vec<String> {
    let mut ids = vec![obj.internal_id.to_string(), obj.standard_id.clone()];
    ids.extend(obj.stix_ids.iter().cloned());
    ids
}

/// The ids of the objects `given` names (any of their ids), plus the given texts.
pub fn resolve_ids(v: &View<'_>, given: &[String]) -> HashSet<String> {
    let mut set: HashSet<String> = given.iter().cloned().collect();
    for id in given {
        if let Some(o) = v.knowledge().get(id) {
            set.extend(all_ids(o));
        }
    }
    set
}

/// The value of a property path (`hashes.MD5`) of a body, with the OpenCTI extension's
/// value for `x_opencti_*` keys.
fn property(body: &Json, key: &str) -> Json {
    let mut parts = key.splitn(2, '.');
    let head = parts.next().unwrap_or_default();
    let head = match head {
        "attribute_abstract" => "abstract",
        "attribute_count" => "count",
        "attribute_date" => "date",
        "attribute_key" => "key",
        other => other,
    };
    let mut v = body.get(head).cloned().unwrap_or(Json::Null);
    if v.is_null()
        && let Some(ext) = opencti_extension(body)
    {
        v = ext.get(head.strip_prefix("x_opencti_").unwrap_or(head)).cloned().unwrap_or(Json::Null);
    }
    match parts.next() {
        Some(rest) => {
            let rest = rest.trim_matches('\'');
            v.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(rest)).map(|(_, v)| v.clone()))
                .unwrap_or(Json::Null)
        }
        None => v,
    }
}

fn flatten(v: Json) -> Vec<Json> {
    match v {
        Json::Null => Vec::new(),
        Json::Array(items) => items,
        other => vec![other],
    }
}

/// Ids of the stored objects `refs` name, with the refs themselves.
fn ref_ids(v: &View<'_>, refs: &[String]) -> Vec<Json> {
    let mut out = Vec::new();
    for r in refs {
        out.push(json!(r));
        if let Some(o) = v.knowledge().get(r) {
            out.push(json!(o.internal_id.to_string()));
            out.push(json!(o.standard_id));
        }
    }
    out
}

/// Sets of related ids precomputed for `regardingOf` filters (by filter address).
pub type Regarding = HashMap<usize, HashSet<String>>;

/// Precomputes what every `regardingOf` filter of `group` relates to: the ids of the
/// objects on the other side of a relationship of the given types with the given ids.
pub fn regarding(v: &View<'_>, group: &FilterGroup) -> Regarding {
    let mut out = Regarding::new();
    for f in group.all_filters().into_iter().filter(|f| f.key.names().contains(&"regardingOf")) {
        let sub =
            |k: &str| -> Vec<String> { f.values.iter().filter(|x| x["key"] == k).flat_map(|x| strings(&x["values"])).collect() };
        let ids = resolve_ids(v, &sub("id"));
        let types = sub("relationship_type");
        let mut related = HashSet::new();
        for rel in v.knowledge().all().filter(|o| matches!(&*o.stix_type, "relationship" | "sighting")) {
            if !types.is_empty() && !types.iter().any(|t| t == &*rel.entity_type) {
                continue;
            }
            if !ids.iter().any(|id| rel.body.contains(id.as_str())) {
                continue;
            }
            let body = rel.json();
            let from = strings(&body["source_ref"]).into_iter().chain(strings(&body["sighting_of_ref"]));
            let to = strings(&body["target_ref"]).into_iter().chain(strings(&body["where_sighted_refs"]));
            let (from, to): (Vec<String>, Vec<String>) = (from.collect(), to.collect());
            if from.iter().any(|x| ids.contains(x)) {
                related.extend(to.iter().cloned());
            }
            if to.iter().any(|x| ids.contains(x)) {
                related.extend(from.iter().cloned());
            }
        }
        out.insert(f as *const Filter as usize, related);
    }
    out
}

/// A stored object being filtered.
pub struct Element<'a, 'v> {
    /// The caller's view.
    pub view: &'a View<'v>,
    /// The object.
    pub obj: &'a StoredObject,
    /// Its parsed body.
    pub body: &'a Json,
    /// Precomputed `regardingOf` sets.
    pub regarding: &'a Regarding,
}

impl Element<'_, '_> {
    fn side(&self, key: &str) -> Vec<String> {
        match key {
            "from" => strings(&self.body["source_ref"]).into_iter().chain(strings(&self.body["sighting_of_ref"])).collect(),
            _ => strings(&self.body["target_ref"]).into_iter().chain(strings(&self.body["where_sighted_refs"])).collect(),
        }
    }
}

impl Subject for Element<'_, '_> {
    fn values(&self, key: &str) -> Vec<Json> {
        let (obj, body, v) = (self.obj, self.body, self.view);
        match crate::filters::canonical_key(key) {
            "id" => vec![json!(obj.internal_id.to_string())],
            "ids" => {
                let mut ids: Vec<Json> = all_ids(obj).into_iter().map(Json::String).collect();
                ids.extend(flatten(body["x_opencti_stix_ids"].clone()));
                ids
            }
            "standard_id" => vec![json!(obj.standard_id)],
            "entity_type" | "parent_types" => {
                let mut t: Vec<Json> = parent_types(&obj.stix_type, &obj.entity_type).into_iter().map(|p| json!(p)).collect();
                if key == "entity_type" {
                    t.insert(0, json!(&*obj.entity_type));
                }
                t
            }
            "created_at" => vec![json!(iso(obj.created_at))],
            "updated_at" => vec![json!(iso(obj.updated_at))],
            "x_opencti_stix_ids" => obj.stix_ids.iter().map(|s| json!(s)).collect(),
            "objectLabel" => strings(&body["labels"])
                .into_iter()
                .flat_map(|l| {
                    let label = json!({"type": "label", "value": l});
                    let mut out = vec![json!(l)];
                    if let Some(o) = crate::stix::standard_id::standard_id(&label).and_then(|id| v.knowledge().get(&id)) {
                        out.push(json!(o.internal_id.to_string()));
                        out.push(json!(o.standard_id));
                    }
                    out
                })
                .collect(),
            "objectMarking" => ref_ids(v, &strings(&body["object_marking_refs"])),
            "createdBy" => ref_ids(v, &strings(&body["created_by_ref"])),
            "objects" => ref_ids(v, &strings(&body["object_refs"])),
            "objectOrganization" => {
                ref_ids(v, &opencti_extension(body).map(|e| strings(&e["granted_refs"].clone())).unwrap_or_default())
            }
            "creator_id" => opencti_extension(body).map(|e| flatten(e["creator_ids"].clone())).unwrap_or_default(),
            "workflow_id" => flatten(property(body, "x_opencti_workflow_id")),
            "killChainPhases" | "externalReferences" => {
                let (prop, ty) = if key == "killChainPhases" {
                    ("kill_chain_phases", "kill-chain-phase")
                } else {
                    ("external_references", "external-reference")
                };
                flatten(body[prop].clone())
                    .into_iter()
                    .filter_map(|mut e| {
                        e["type"] = json!(ty);
                        crate::stix::standard_id::standard_id(&e)
                    })
                    .flat_map(|id| ref_ids(v, &[id]))
                    .collect()
            }
            "fromId" => ref_ids(v, &self.side("from")),
            "toId" => ref_ids(v, &self.side("to")),
            "fromTypes" | "toTypes" => self
                .side(if key == "fromTypes" { "from" } else { "to" })
                .iter()
                .filter_map(|id| v.knowledge().get(id))
                .flat_map(|o| {
                    let mut t = vec![json!(&*o.entity_type)];
                    t.extend(parent_types(&o.stix_type, &o.entity_type).into_iter().map(|p| json!(p)));
                    t
                })
                .collect(),
            "relationship_type" => match &*obj.stix_type {
                "relationship" | "sighting" => vec![json!(&*obj.entity_type)],
                _ => flatten(property(body, key)),
            },
            k if k.ends_with("_day") => flatten(property(body, &k[..k.len() - 4]))
                .into_iter()
                .filter_map(|d| d.as_str().map(|s| json!(s.chars().take(10).collect::<String>())))
                .collect(),
            "definition" if &*obj.stix_type == "marking-definition" => {
                vec![property(body, "x_opencti_definition"), property(body, "name")]
                    .into_iter()
                    .filter(|x| !x.is_null())
                    .collect()
            }
            "definition_type" if &*obj.stix_type == "marking-definition" => {
                let t = property(body, "x_opencti_definition_type");
                if t.is_null() {
                    flatten(property(body, key)).into_iter().map(|d| json!(d.as_str().map(str::to_uppercase))).collect()
                } else {
                    vec![t]
                }
            }
            other => flatten(property(body, other)),
        }
    }

    fn special(&self, f: &Filter) -> Option<bool> {
        if !f.key.names().contains(&"regardingOf") {
            return None;
        }
        let related = self.regarding.get(&(f as *const Filter as usize))?;
        Some(all_ids(self.obj).iter().any(|id| related.contains(id)))
    }

    fn case_insensitive(&self) -> bool {
        true
    }

    fn is_id_key(&self, key: &str) -> bool {
        matches!(
            crate::filters::canonical_key(key),
            "id" | "ids"
                | "standard_id"
                | "x_opencti_stix_ids"
                | "objectLabel"
                | "objectMarking"
                | "createdBy"
                | "objects"
                | "objectOrganization"
                | "killChainPhases"
                | "externalReferences"
                | "creator_id"
        )
    }
}

/// Whether every word of `terms` (lower-cased) occurs in a searched property.
pub fn search_matches(body: &Json, terms: &[String]) -> bool {
    if terms.is_empty() {
        return true;
    }
    let mut text = String::new();
    for k in SEARCHED {
        for v in flatten(property(body, k)) {
            match v {
                Json::String(s) => text.push_str(&s.to_lowercase()),
                Json::Number(n) => text.push_str(&n.to_string()),
                _ => {}
            }
            text.push('\n');
        }
    }
    if let Some(h) = body.get("hashes").and_then(Json::as_object) {
        for v in h.values().filter_map(Json::as_str) {
            text.push_str(&v.to_lowercase());
            text.push('\n');
        }
    }
    terms.iter().all(|t| text.contains(t.as_str()))
}

/// A sort key.
#[derive(Debug, Clone, PartialEq)]
pub enum SortKey {
    /// No value (sorted last in both directions, as Elasticsearch's `_last`).
    Missing,
    /// A number.
    Number(f64),
    /// Text, lower-cased.
    Text(String),
}

impl SortKey {
    fn of(v: Option<&Json>) -> SortKey {
        match v {
            Some(Json::Number(n)) => n.as_f64().map(SortKey::Number).unwrap_or(SortKey::Missing),
            Some(Json::String(s)) => SortKey::Text(s.to_lowercase()),
            Some(Json::Bool(b)) => SortKey::Number(f64::from(u8::from(*b))),
            _ => SortKey::Missing,
        }
    }

    fn cmp(&self, other: &SortKey, asc: bool) -> Ordering {
        let o = match (self, other) {
            (SortKey::Missing, SortKey::Missing) => return Ordering::Equal,
            (SortKey::Missing, _) => return Ordering::Greater,
            (_, SortKey::Missing) => return Ordering::Less,
            (SortKey::Number(a), SortKey::Number(b)) => a.partial_cmp(b).unwrap_or(Ordering::Equal),
            (SortKey::Text(a), SortKey::Text(b)) => a.cmp(b),
            (SortKey::Number(_), SortKey::Text(_)) => Ordering::Less,
            (SortKey::Text(_), SortKey::Number(_)) => Ordering::Greater,
        };
        if asc { o } else { o.reverse() }
    }
}

/// The sort key of an element for `order_by`.
pub fn sort_key(e: &Element<'_, '_>, order_by: &str) -> SortKey {
    match order_by {
        "created_at" => SortKey::Text(iso(e.obj.created_at)),
        "updated_at" => SortKey::Text(iso(e.obj.updated_at)),
        "entity_type" => SortKey::Text(e.obj.entity_type.to_lowercase()),
        "standard_id" => SortKey::Text(e.obj.standard_id.clone()),
        "definition" | "relationship_type" | "objectLabel" | "objectMarking" | "createdBy" => {
            SortKey::of(e.values(order_by).first())
        }
        other => SortKey::of(e.values(other).first()),
    }
}

/// The arguments every list has.
pub struct ListArgs {
    /// Page size.
    pub first: usize,
    /// Offset of the page.
    pub offset: usize,
    /// Filters.
    pub filters: Option<FilterGroup>,
    /// Search words, lower-cased.
    pub search: Vec<String>,
    /// `types`.
    pub types: Vec<String>,
    /// `orderBy` (`None` and `_score`: storage order).
    pub order_by: Option<String>,
    /// `orderMode` ascending (default).
    pub asc: bool,
}

impl ListArgs {
    /// Reads the common arguments of a list field.
    pub fn read(ctx: &ResolverContext<'_>) -> Result<ListArgs, Error> {
        let (first, offset) = page_args(ctx, 500)?;
        let order_by = ctx.args.get("orderBy").and_then(|v| v.enum_name().ok().map(str::to_string)).filter(|o| o != "_score");
        let asc = ctx.args.get("orderMode").and_then(|v| v.enum_name().ok().map(str::to_string)).as_deref() != Some("desc");
        let search =
            arg_str(ctx, "search").map(|s| s.to_lowercase().split_whitespace().map(str::to_string).collect()).unwrap_or_default();
        let types = crate::graphql::knowledge::view::arg_strs(ctx, "types");
        Ok(ListArgs { first, offset, filters: filters_arg(ctx, "filters")?, search, types, order_by, asc })
    }
}

/// Texts an element's body must contain for the filters and search to possibly match: per
/// entry, one of the (lower-cased) texts. Only `eq` filters on STIX properties of the
/// top-level `and` group, and search words, are used; values a JSON serialiser could escape
/// are left out (the final evaluation decides anyway: this only skips parsing).
fn needles(args: &ListArgs) -> Vec<Vec<String>> {
    let plain =
        |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '"' | '\\' | '/'));
    let mut out: Vec<Vec<String>> = args.search.iter().filter(|w| plain(w)).map(|w| vec![w.clone()]).collect();
    let Some(g) = args.filters.as_ref().filter(|g| g.mode.as_deref() != Some("or")) else { return out };
    for f in &g.filters {
        let keys = f.key.names();
        let property = keys.iter().all(|k| !SPECIAL_KEYS.contains(k) && !k.ends_with("_day") && !k.contains('.'));
        let eq = f.operator.as_deref().unwrap_or("eq") == "eq" && f.mode.as_deref() != Some("and");
        let texts: Vec<String> =
            f.values.iter().filter_map(|v| v.as_str()).filter(|s| plain(s)).map(str::to_ascii_lowercase).collect();
        if property && eq && !texts.is_empty() && texts.len() == f.values.len() {
            out.push(texts);
        }
    }
    out
}

/// An extra membership test of a list (relationship arguments), given the parsed body.
pub type Extra<'x> = dyn Fn(&View<'_>, &StoredObject, &Json) -> bool + 'x;

/// Selects, orders and pages the objects of type `node_type` matching `args` and `extra`;
/// answers the page's objects and the number of matches.
pub fn select<'v>(
    v: &View<'v>,
    node_type: &str,
    args: &ListArgs,
    prefilter: &[String],
    extra: Option<&Extra<'_>>,
) -> (Vec<(&'v StoredObject, Json)>, usize) {
    let mut fits = TypeFilter::new(&v.api.info, node_type);
    let mut types = TypesArg::new(&args.types);
    let regarding = args.filters.as_ref().map(|g| regarding(v, g)).unwrap_or_default();
    let needs_body = args.filters.is_some() || !args.search.is_empty() || args.order_by.is_some();
    let needles = needles(args);
    let mut matched: Vec<(usize, &'v StoredObject, SortKey)> = Vec::new();
    for (slot, obj) in v.knowledge().all().enumerate() {
        if !fits.accepts(obj) || !types.accepts(obj) {
            continue;
        }
        if !prefilter.is_empty() && !prefilter.iter().any(|p| obj.body.contains(p.as_str())) {
            continue;
        }
        if !needles.is_empty() {
            let lower = obj.body.to_ascii_lowercase();
            if !needles.iter().all(|any| any.iter().any(|n| lower.contains(n.as_str()))) {
                continue;
            }
        }
        if !v.visible(obj) {
            continue;
        }
        let mut key = SortKey::Missing;
        if needs_body || extra.is_some() {
            let body = obj.json();
            if extra.is_some_and(|x| !x(v, obj, &body)) || !search_matches(&body, &args.search) {
                continue;
            }
            let e = Element { view: v, obj, body: &body, regarding: &regarding };
            if args.filters.as_ref().is_some_and(|g| !g.matches_subject(&e)) {
                continue;
            }
            if let Some(o) = &args.order_by {
                key = sort_key(&e, o);
            }
        }
        matched.push((slot, obj, key));
    }
    if args.order_by.is_some() {
        matched.sort_by(|a, b| a.2.cmp(&b.2, args.asc).then(a.0.cmp(&b.0)));
    }
    let total = matched.len();
    let page = matched.into_iter().skip(args.offset).take(args.first).map(|(_, o, _)| (o, o.json())).collect();
    (page, total)
}

/// Whether `obj`'s entity type is one of `types` (empty: any).
pub fn of_types(obj: &StoredObject, types: &[String]) -> bool {
    types.is_empty() || is_of_types(&obj.stix_type, &obj.entity_type, types)
}
