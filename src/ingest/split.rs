//! Splitting a bundle into one-object bundles, the way the worker (and pycti) does it.
//!
//! This reproduces the behaviour of pycti's `OpenCTIStix2Splitter.split_bundle_with_expectations`
//! (pycti 7.261026.0, `utils/opencti_stix2_splitter.py`), which the platform's worker uses
//! to split multi-object messages: every supported object becomes its own bundle
//! (`x_opencti_seq` = its dependency count, the object gains an `nb_deps` key), bundles are
//! ordered by ascending dependency count (dependencies first), references that are
//! unsupported, self-referencing or circular are removed (`*_refs`) or nulled (`*_ref`),
//! external references and kill chain phases are de-duplicated, and relationships without
//! both ends or sightings without a sighted object and a place are dropped. The number of
//! bundles is the number of expectations added to the work.
//!
//! The bundle is never turned into one JSON tree: objects stay as raw slices of the input,
//! each is parsed when the dependency walk reaches it and serialised again as soon as the
//! walk that started from a top-level object is over.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::stix::OPENCTI_EXTENSION;

/// STIX types the splitter keeps (pycti's `supported_types`: entities, internal objects,
/// observables, relationships and `pir`). Ids without `--` are not filtered.
pub const SUPPORTED_TYPES: &[&str] = &[
    "label",
    "vocabulary",
    "kill-chain-phase",
    "attack-pattern",
    "campaign",
    "case-incident",
    "x-opencti-case-incident",
    "case-rfi",
    "x-opencti-case-rfi",
    "case-rft",
    "x-opencti-case-rft",
    "channel",
    "course-of-action",
    "data-component",
    "x-mitre-data-component",
    "data-source",
    "x-mitre-data-source",
    "event",
    "external-reference",
    "feedback",
    "x-opencti-feedback",
    "grouping",
    "identity",
    "incident",
    "indicator",
    "infrastructure",
    "intrusion-set",
    "language",
    "location",
    "malware",
    "malware-analysis",
    "marking-definition",
    "narrative",
    "note",
    "observed-data",
    "opinion",
    "report",
    "task",
    "x-opencti-task",
    "threat-actor",
    "tool",
    "vulnerability",
    "security-coverage",
    "security-coverage-result",
    "user",
    "group",
    "capability",
    "role",
    "settings",
    "notification",
    "work",
    "trash",
    "draftworkspace",
    "playbook",
    "deleteoperation",
    "workspace",
    "publicdashboard",
    "autonomous-system",
    "directory",
    "domain-name",
    "email-addr",
    "email-message",
    "email-mime-part-type",
    "artifact",
    "file",
    "x509-certificate",
    "ipv4-addr",
    "ipv6-addr",
    "mac-addr",
    "mutex",
    "network-traffic",
    "process",
    "software",
    "url",
    "user-account",
    "windows-registry-key",
    "windows-registry-value-type",
    "hostname",
    "cryptographic-key",
    "cryptocurrency-wallet",
    "text",
    "user-agent",
    "bank-account",
    "phone-number",
    "credential",
    "tracking-number",
    "payment-card",
    "media-content",
    "simple-observable",
    "persona",
    "ssh-key",
    "ai-prompt",
    "imei",
    "iccid",
    "imsi",
    "relationship",
    "sighting",
    "pir",
];

/// Whether the splitter keeps an id: ids of a supported type, and anything without `--`.
pub fn is_id_supported(id: &str) -> bool {
    match id.split_once("--") {
        Some((prefix, _)) => SUPPORTED_TYPES.contains(&prefix),
        None => true,
    }
}

/// Why splitting failed (the worker nacks such a message).
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SplitError {
    /// Not JSON.
    #[error("File data is not a valid JSON: {0}")]
    NotJson(String),
    /// No `objects` array.
    #[error("File data is not a valid bundle")]
    NotABundle,
    /// An object without an `id`.
    #[error("object #{0} of the bundle has no id")]
    MissingId(usize),
}

/// An object the splitter dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct Dropped {
    /// Its id.
    pub id: String,
    /// Its type, if any.
    pub stix_type: Option<String>,
}

/// The result of a split.
#[derive(Debug, Default)]
pub struct Split {
    /// Number of bundles (= expectations).
    pub expectations: usize,
    /// One-object bundles, dependencies first.
    pub bundles: Vec<String>,
    /// Objects dropped as incompatible.
    pub dropped: Vec<Dropped>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    id: Option<String>,
    #[serde(borrow)]
    objects: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Ids {
    id: Option<Value>,
    x_opencti_id: Option<Value>,
    extensions: Option<HashMap<String, Value>>,
}

fn internal_ids(ids: &Ids) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(Value::String(s)) = &ids.x_opencti_id
        && !s.is_empty()
    {
        out.push(s.clone());
    }
    if let Some(Value::String(s)) = ids.extensions.as_ref().and_then(|e| e.get(OPENCTI_EXTENSION)).and_then(|e| e.get("id"))
        && !s.is_empty()
    {
        out.push(s.clone());
    }
    out
}

type Item = Rc<RefCell<Map<String, Value>>>;

struct Splitter<'a> {
    raw: Vec<&'a RawValue>,
    raw_index: HashMap<String, usize>,
    cleanup: bool,
    live: HashMap<usize, Item>,
    finished: HashMap<usize, String>,
    nb_deps: HashMap<usize, i64>,
    cache_index: HashMap<String, usize>,
    cache_refs: HashMap<String, Vec<String>>,
    elements: Vec<usize>,
    incompatible: Vec<usize>,
}

/// Splits a bundle (JSON text) as the worker does.
pub fn split_bundle(text: &str, event_version: Option<&str>, cleanup_inconsistent: bool) -> Result<Split, SplitError> {
    let env: Envelope = serde_json::from_str(text).map_err(|e| SplitError::NotJson(e.to_string()))?;
    let raw = env.objects.ok_or(SplitError::NotABundle)?;
    let bundle_id = env.id.unwrap_or_else(|| format!("bundle--{}", uuid::Uuid::new_v4()));

    let mut raw_index = HashMap::new();
    let mut top_ids = Vec::with_capacity(raw.len());
    for (pos, obj) in raw.iter().enumerate() {
        let ids: Ids = serde_json::from_str(obj.get()).map_err(|e| SplitError::NotJson(e.to_string()))?;
        let Some(Value::String(id)) = &ids.id else { return Err(SplitError::MissingId(pos)) };
        raw_index.insert(id.clone(), pos);
        for iid in internal_ids(&ids) {
            raw_index.insert(iid, pos);
        }
        top_ids.push(id.clone());
    }

    let mut s = Splitter {
        raw,
        raw_index,
        cleanup: cleanup_inconsistent,
        live: HashMap::new(),
        finished: HashMap::new(),
        nb_deps: HashMap::new(),
        cache_index: HashMap::new(),
        cache_refs: HashMap::new(),
        elements: Vec::new(),
        incompatible: Vec::new(),
    };
    for id in &top_ids {
        s.enlist(id, &[]);
        s.flush();
    }

    // Stable sort by dependency count, as Python's `list.sort` is stable.
    let mut elements = s.elements.clone();
    elements.sort_by_key(|pos| s.nb_deps.get(pos).copied().unwrap_or(1));
    let mut bundles = Vec::with_capacity(elements.len());
    for pos in &elements {
        let obj = s.finished.get(pos).map(String::as_str).unwrap_or("null");
        let seq = s.nb_deps.get(pos).copied().unwrap_or(1);
        let mut b = String::with_capacity(obj.len() + 128);
        b.push_str(r#"{"type": "bundle", "id": "#);
        b.push_str(&Value::String(bundle_id.clone()).to_string());
        b.push_str(r#", "spec_version": "2.1", "x_opencti_seq": "#);
        b.push_str(&seq.to_string());
        b.push_str(r#", "objects": ["#);
        b.push_str(obj);
        b.push(']');
        if let Some(v) = event_version {
            b.push_str(r#", "x_opencti_event_version": "#);
            b.push_str(&Value::String(v.to_string()).to_string());
        }
        b.push('}');
        bundles.push(b);
    }
    let dropped = s
        .incompatible
        .iter()
        .map(|pos| {
            let v: Value = serde_json::from_str(s.finished.get(pos).map(String::as_str).unwrap_or("null")).unwrap_or(Value::Null);
            Dropped {
                id: v.get("id").and_then(Value::as_str).unwrap_or_default().to_string(),
                stix_type: v.get("type").and_then(Value::as_str).map(str::to_string),
            }
        })
        .collect();
    Ok(Split { expectations: bundles.len(), bundles, dropped })
}

impl Splitter<'_> {
    fn item(&mut self, pos: usize) -> Item {
        if let Some(item) = self.live.get(&pos) {
            return item.clone();
        }
        let source = self.finished.remove(&pos);
        let text = source.as_deref().unwrap_or_else(|| self.raw[pos].get());
        let map = match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let item = Rc::new(RefCell::new(map));
        self.live.insert(pos, item.clone());
        item
    }

    /// Serialises every object touched by the last top-level walk and drops its tree.
    fn flush(&mut self) {
        for (pos, item) in self.live.drain() {
            let text = serde_json::to_string(&*item.borrow()).unwrap_or_else(|_| "null".into());
            self.finished.insert(pos, text);
        }
    }

    fn current_nb_deps(&self, pos: usize) -> i64 {
        match self.live.get(&pos) {
            Some(item) => item.borrow().get("nb_deps").and_then(Value::as_i64).unwrap_or(1),
            None => self.nb_deps.get(&pos).copied().unwrap_or(1),
        }
    }

    fn is_dependency_of(&self, candidate: &str, item_id: &str) -> bool {
        self.cache_refs.get(candidate).is_some_and(|refs| refs.iter().any(|r| r == item_id))
    }

    fn enlist(&mut self, item_id: &str, parent_acc: &[String]) -> i64 {
        let mut nb_deps: i64 = 1;
        let Some(&pos) = self.raw_index.get(item_id) else { return 0 };
        if let Some(&cached) = self.cache_index.get(item_id) {
            return self.current_nb_deps(cached);
        }
        let item = self.item(pos);
        self.cache_refs.entry(item_id.to_string()).or_default();
        let keys: Vec<String> = item.borrow().keys().cloned().collect();
        for key in keys {
            let value = item.borrow().get(&key).cloned().unwrap_or(Value::Null);
            if key.ends_with("_refs") {
                let Value::Array(refs) = value else { continue };
                let mut keep: Vec<Value> = Vec::new();
                for r in refs {
                    let Value::String(r) = r else { continue };
                    let missing = !self.raw_index.contains_key(&r);
                    if is_id_supported(&r)
                        && !(missing && self.cleanup)
                        && !parent_acc.contains(&r)
                        && r != item_id
                        && !self.is_dependency_of(&r, item_id)
                    {
                        self.cache_refs.entry(item_id.to_string()).or_default().push(r.clone());
                        let mut acc = parent_acc.to_vec();
                        acc.push(r.clone());
                        nb_deps += self.enlist(&r, &acc);
                        if !keep.iter().any(|k| k.as_str() == Some(r.as_str())) {
                            keep.push(Value::String(r));
                        }
                    }
                    item.borrow_mut().insert(key.clone(), Value::Array(keep.clone()));
                }
            } else if key.ends_with("_ref") {
                let keep = match &value {
                    Value::String(r) => {
                        let missing = !self.raw_index.contains_key(r);
                        !(parent_acc.contains(r) || missing && self.cleanup)
                            && is_id_supported(r)
                            && r != item_id
                            && !self.is_dependency_of(r, item_id)
                    }
                    _ => false,
                };
                if keep {
                    let r = value.as_str().unwrap_or_default().to_string();
                    self.cache_refs.entry(item_id.to_string()).or_default().push(r.clone());
                    let mut acc = parent_acc.to_vec();
                    acc.push(r.clone());
                    nb_deps += self.enlist(&r, &acc);
                } else {
                    item.borrow_mut().insert(key.clone(), Value::Null);
                }
            } else if key == "external_references" && !value.is_null() {
                item.borrow_mut().insert(key.clone(), Value::Array(dedup_external_references(&value)));
            } else if key == "kill_chain_phases" && !value.is_null() {
                item.borrow_mut().insert(key.clone(), Value::Array(dedup_kill_chain_phases(&value)));
            }
        }
        item.borrow_mut().insert("nb_deps".into(), Value::from(nb_deps));
        self.nb_deps.insert(pos, nb_deps);
        if !self.cache_index.contains_key(item_id) {
            let compatible = {
                let it = item.borrow();
                match it.get("type").and_then(Value::as_str) {
                    Some("relationship") => {
                        !it.get("source_ref").unwrap_or(&Value::Null).is_null()
                            && !it.get("target_ref").unwrap_or(&Value::Null).is_null()
                    }
                    Some("sighting") => {
                        !it.get("sighting_of_ref").unwrap_or(&Value::Null).is_null()
                            && it.get("where_sighted_refs").and_then(Value::as_array).is_some_and(|a| !a.is_empty())
                    }
                    Some(_) => is_id_supported(item_id),
                    None => false,
                }
            };
            if compatible {
                self.elements.push(pos);
            } else {
                self.incompatible.push(pos);
            }
            self.cache_index.insert(item_id.to_string(), pos);
            let aliases = {
                let it = item.borrow();
                let ids = Ids {
                    id: None,
                    x_opencti_id: it.get("x_opencti_id").cloned(),
                    extensions: it.get("extensions").and_then(|e| serde_json::from_value(e.clone()).ok()),
                };
                internal_ids(&ids)
            };
            for alias in aliases {
                self.cache_index.insert(alias, pos);
            }
        }
        nb_deps
    }
}

fn dedup_external_references(value: &Value) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for r in value.as_array().into_iter().flatten() {
        let url = r.get("url").filter(|v| !v.is_null());
        let source = r.get("source_name").filter(|v| !v.is_null());
        let ext = r.get("external_id").filter(|v| !v.is_null());
        let key = match (url, source, ext) {
            (Some(u), _, _) => format!("url:{u}"),
            (None, Some(s), Some(e)) => format!("src:{s}|{e}"),
            _ => continue,
        };
        if seen.insert(key) {
            out.push(r.clone());
        }
    }
    out
}

fn dedup_kill_chain_phases(value: &Value) -> Vec<Value> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for p in value.as_array().into_iter().flatten() {
        let key = format!("{}|{}", p.get("phase_name").unwrap_or(&Value::Null), p.get("kill_chain_name").unwrap_or(&Value::Null));
        if seen.insert(key) {
            out.push(p.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn objects_of(split: &Split) -> Vec<Value> {
        split.bundles.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()["objects"][0].clone()).collect()
    }

    #[test]
    fn dependencies_come_first_with_their_counts() {
        let bundle = json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "relationship", "id": "relationship--r", "relationship_type": "related-to",
             "source_ref": "identity--a", "target_ref": "ipv4-addr--b"},
            {"type": "identity", "id": "identity--a", "name": "A"},
            {"type": "ipv4-addr", "id": "ipv4-addr--b", "value": "1.2.3.4"}
        ]});
        let split = split_bundle(&bundle.to_string(), None, false).unwrap();
        assert_eq!(split.expectations, 3);
        let objs = objects_of(&split);
        assert_eq!(objs[2]["id"], "relationship--r");
        assert_eq!(objs[2]["nb_deps"], 3);
        let seqs: Vec<i64> =
            split.bundles.iter().map(|b| serde_json::from_str::<Value>(b).unwrap()["x_opencti_seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, vec![1, 1, 3]);
    }

    #[test]
    fn relationships_without_both_ends_are_dropped() {
        let bundle = json!({"type": "bundle", "objects": [
            {"type": "relationship", "id": "relationship--r", "source_ref": "identity--a", "target_ref": null}
        ]});
        let split = split_bundle(&bundle.to_string(), None, false).unwrap();
        assert_eq!(split.expectations, 0);
        assert_eq!(split.dropped.len(), 1);
    }

    #[test]
    fn unsupported_and_self_references_are_removed() {
        let bundle = json!({"type": "bundle", "objects": [
            {"type": "report", "id": "report--1", "object_refs": ["report--1", "x-custom--2", "ipv4-addr--3", "ipv4-addr--3"],
             "created_by_ref": "x-unknown--9"}
        ]});
        let split = split_bundle(&bundle.to_string(), None, false).unwrap();
        let obj = &objects_of(&split)[0];
        assert_eq!(obj["object_refs"], json!(["ipv4-addr--3"]));
        assert_eq!(obj["created_by_ref"], Value::Null);
    }

    #[test]
    fn missing_references_are_kept_unless_cleanup_is_asked() {
        let bundle = json!({"type": "bundle", "objects": [
            {"type": "report", "id": "report--1", "object_refs": ["ipv4-addr--absent"]}
        ]});
        let kept = split_bundle(&bundle.to_string(), None, false).unwrap();
        assert_eq!(objects_of(&kept)[0]["object_refs"], json!(["ipv4-addr--absent"]));
        let cleaned = split_bundle(&bundle.to_string(), None, true).unwrap();
        assert_eq!(objects_of(&cleaned)[0]["object_refs"], json!([]));
    }

    #[test]
    fn circular_references_are_cut_once() {
        let bundle = json!({"type": "bundle", "objects": [
            {"type": "note", "id": "note--a", "object_refs": ["note--b"]},
            {"type": "note", "id": "note--b", "object_refs": ["note--a"]}
        ]});
        let split = split_bundle(&bundle.to_string(), None, false).unwrap();
        let objs = objects_of(&split);
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[0]["id"], "note--b");
        assert_eq!(objs[0]["object_refs"], json!([]));
        assert_eq!(objs[1]["object_refs"], json!(["note--b"]));
    }

    #[test]
    fn external_references_are_deduplicated() {
        let bundle = json!({"type": "bundle", "objects": [
            {"type": "malware", "id": "malware--1", "external_references": [
                {"source_name": "a", "url": "http://x"}, {"source_name": "b", "url": "http://x"},
                {"source_name": "c"}, {"source_name": "d", "external_id": "T1"}]}
        ]});
        let split = split_bundle(&bundle.to_string(), None, false).unwrap();
        let refs = objects_of(&split)[0]["external_references"].as_array().unwrap().len();
        assert_eq!(refs, 2);
    }

    #[test]
    fn not_a_bundle_is_an_error() {
        assert_eq!(split_bundle("{\"type\": \"bundle\"}", None, false).unwrap_err(), SplitError::NotABundle);
        assert!(matches!(split_bundle("nope", None, false), Err(SplitError::NotJson(_))));
    }
}
