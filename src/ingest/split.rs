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

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::rc::Rc;

use serde::Deserialize;

use crate::stix::BundleEnvelope;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::stix::OPENCTI_EXTENSION;
use crate::stix::supported_types::is_id_supported;

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

/// Text borrowed from the input when it has no escapes (ids never do).
type Text<'a> = Cow<'a, str>;

/// A JSON string, borrowed from the input when possible.
struct Str<'a>(Text<'a>);

impl<'de> Deserialize<'de> for Str<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// A JSON string as borrowed text, `None` for any other value.
fn as_text<'a>(raw: &'a RawValue) -> Option<Text<'a>> {
    serde_json::from_str::<Str<'a>>(raw.get()).ok().map(|s| s.0)
}

/// The top-level fields of an object, in order, with their raw values: enough to walk
/// references without building the object's tree.
struct Fields<'a>(Vec<(Text<'a>, &'a RawValue)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields = Vec::with_capacity(map.size_hint().unwrap_or(8));
                while let Some((k, v)) = map.next_entry::<Str<'de>, &'de RawValue>()? {
                    fields.push((k.0, v));
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Fields<'a> {
    fn parse(raw: &'a RawValue) -> Fields<'a> {
        serde_json::from_str(raw.get()).unwrap_or(Fields(Vec::new()))
    }

    fn raw(&self, key: &str) -> Option<&'a RawValue> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| *v)
    }

    fn text(&self, key: &str) -> Option<Text<'a>> {
        self.raw(key).and_then(as_text)
    }

    /// `x_opencti_id` and the OpenCTI extension's `id`: the internal ids the object
    /// answers to (only looked for when the object mentions them).
    fn aliases(&self, raw: &RawValue) -> Vec<Text<'a>> {
        static X_OPENCTI_ID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new("x_opencti_id"));
        static EXTENSION: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
            std::sync::LazyLock::new(|| memchr::memmem::Finder::new(OPENCTI_EXTENSION));
        let text = raw.get().as_bytes();
        if X_OPENCTI_ID.find(text).is_none() && EXTENSION.find(text).is_none() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if let Some(s) = self.text("x_opencti_id").filter(|s| !s.is_empty()) {
            out.push(s);
        }
        let ext = self
            .raw("extensions")
            .and_then(|r| serde_json::from_str::<HashMap<String, Value>>(r.get()).ok())
            .and_then(|e| e.get(OPENCTI_EXTENSION).and_then(|x| x.get("id")).and_then(Value::as_str).map(str::to_string));
        if let Some(s) = ext.filter(|s| !s.is_empty()) {
            out.push(Cow::Owned(s));
        }
        out
    }
}

/// What the dependency walk does with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldKind {
    Refs,
    Ref,
    ExternalReferences,
    KillChainPhases,
    Other,
}

impl FieldKind {
    fn of(key: &str) -> FieldKind {
        if key.ends_with("_refs") {
            FieldKind::Refs
        } else if key.ends_with("_ref") {
            FieldKind::Ref
        } else if key == "external_references" {
            FieldKind::ExternalReferences
        } else if key == "kill_chain_phases" {
            FieldKind::KillChainPhases
        } else {
            FieldKind::Other
        }
    }
}

/// A field's value as the walk changed it.
enum Override<'a> {
    /// A `*_refs` list: the strings kept so far, shared with the loop still filling it.
    Refs(Rc<RefCell<Vec<Text<'a>>>>),
    /// Any other value.
    Value(Value),
}

/// An object under the dependency walk: its raw fields and the values the walk changed.
struct ItemState<'a> {
    fields: Fields<'a>,
    overrides: FxHashMap<usize, Override<'a>>,
}

impl<'a> ItemState<'a> {
    /// The strings of a `*_refs` field as they stand now, and whether every item was a
    /// string (`None` when the field is not a list).
    fn refs(&self, index: usize) -> Option<(Vec<Text<'a>>, bool)> {
        match self.overrides.get(&index) {
            Some(Override::Refs(r)) => Some((r.borrow().clone(), true)),
            Some(Override::Value(Value::Array(a))) => {
                let strings: Vec<Text<'a>> = a.iter().filter_map(|v| v.as_str().map(|s| Cow::Owned(s.to_string()))).collect();
                let all = strings.len() == a.len();
                Some((strings, all))
            }
            Some(Override::Value(_)) => None,
            None => {
                let raw = self.fields.0[index].1;
                let items: Vec<&'a RawValue> = serde_json::from_str(raw.get()).ok()?;
                let count = items.len();
                let strings: Vec<Text<'a>> = items.into_iter().filter_map(as_text).collect();
                let all = strings.len() == count;
                Some((strings, all))
            }
        }
    }

    /// The text of a `*_ref` field as it stands now.
    fn reference(&self, index: usize) -> Option<Text<'a>> {
        match self.overrides.get(&index) {
            Some(Override::Value(Value::String(s))) => Some(Cow::Owned(s.clone())),
            Some(_) => None,
            None => as_text(self.fields.0[index].1),
        }
    }

    fn value(&self, index: usize) -> Value {
        match self.overrides.get(&index) {
            Some(Override::Value(v)) => v.clone(),
            Some(Override::Refs(r)) => Value::Array(r.borrow().iter().map(|s| Value::String(s.to_string())).collect()),
            None => serde_json::from_str(self.fields.0[index].1.get()).unwrap_or(Value::Null),
        }
    }

    fn value_of(&self, key: &str) -> Value {
        match self.fields.0.iter().rposition(|(k, _)| k == key) {
            Some(i) => self.value(i),
            None => Value::Null,
        }
    }

    /// Replaces a field's value, unless it is unchanged from the input.
    fn set(&mut self, index: usize, value: Value) {
        if !self.overrides.contains_key(&index) {
            let original: Value = serde_json::from_str(self.fields.0[index].1.get()).unwrap_or(Value::Null);
            if original == value {
                return;
            }
        }
        self.overrides.insert(index, Override::Value(value));
    }

    /// The object's final text: untouched fields copied from the input, changed ones
    /// serialised, `nb_deps` appended when asked.
    fn render(&self, original: &RawValue, nb_deps: Option<i64>) -> String {
        if self.overrides.is_empty() {
            let text = original.get();
            let Some(n) = nb_deps else { return text.to_string() };
            let body = text.trim_end().strip_suffix('}').unwrap_or(text).trim_end();
            let sep = if body.trim_start() == "{" { "" } else { ", " };
            return format!("{body}{sep}\"nb_deps\": {n}}}");
        }
        let mut out = String::with_capacity(original.get().len() + 32);
        out.push('{');
        for (i, (k, raw)) in self.fields.0.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            out.push_str(&Value::String(k.to_string()).to_string());
            out.push_str(": ");
            match self.overrides.get(&i) {
                Some(_) => out.push_str(&self.value(i).to_string()),
                None => out.push_str(raw.get()),
            }
        }
        if let Some(n) = nb_deps {
            if !self.fields.0.is_empty() {
                out.push_str(", ");
            }
            out.push_str(&format!("\"nb_deps\": {n}"));
        }
        out.push('}');
        out
    }
}

type Item<'a> = Rc<RefCell<ItemState<'a>>>;

/// A key id: the dense number of an id or alias present in the bundle.
type KeyId = u32;

const NONE: u32 = u32::MAX;

/// The walk's bookkeeping mirrors pycti's dictionaries, keyed by dense numbers instead of
/// strings: `index` is pycti's `raw_data` (every id and alias of the bundle → key id),
/// `cached` its `cache_index` (key id → position of the object cached under it) and `deps`
/// its `cache_refs` (the pairs (from, to) of references followed; references absent from
/// the bundle are left out, as no walk can start from them).
///
/// pycti's walk is recursive; this one keeps its frames on the heap ([`Frame`]) so that a
/// chain of references as long as the bundle (object i created by object i+1) costs memory
/// in proportion, never the thread's stack. pycti's `parent_acc` (the references on the
/// path from the top-level object) is `on_path`, a count per key id.
struct Splitter<'a> {
    raw: Vec<&'a RawValue>,
    index: FxHashMap<Text<'a>, KeyId>,
    keys: Vec<(Text<'a>, u32)>,
    cleanup: bool,
    shape: Shape,
    live: FxHashMap<usize, Item<'a>>,
    finished: Vec<Option<String>>,
    nb_deps: Vec<i64>,
    cached: Vec<u32>,
    deps: rustc_hash::FxHashSet<(KeyId, KeyId)>,
    on_path: Vec<u32>,
    elements: Vec<usize>,
    incompatible: Vec<(String, Option<String>)>,
    wrapper: Wrapper,
}

/// How a piece is wrapped: `{"type": "bundle", "id": …, "spec_version": "2.1",
/// "x_opencti_seq": n, "objects": [object]}` (+ the event version), as pycti writes it.
struct Wrapper {
    id_json: String,
    version_json: Option<String>,
}

impl Wrapper {
    fn wrap(&self, object: &str, seq: i64) -> String {
        let seq = seq.to_string();
        let head = [
            r#"{"type": "bundle", "id": "#,
            &self.id_json,
            r#", "spec_version": "2.1", "x_opencti_seq": "#,
            &seq,
            r#", "objects": ["#,
        ];
        let tail_version = self.version_json.as_ref().map(|v| [r#", "x_opencti_event_version": "#, v.as_str()]);
        let len = head.iter().map(|p| p.len()).sum::<usize>()
            + object.len()
            + 1
            + tail_version.as_ref().map_or(0, |t| t[0].len() + t[1].len())
            + 1;
        let mut b = String::with_capacity(len);
        for p in head {
            b.push_str(p);
        }
        b.push_str(object);
        b.push(']');
        if let Some(t) = tail_version {
            b.push_str(t[0]);
            b.push_str(t[1]);
        }
        b.push('}');
        b
    }
}

/// What the pieces of a split look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// As pycti and the worker produce them: one-object bundles whose object carries
    /// `nb_deps`.
    Bundles,
    /// The bare objects, unannotated (pieces the platform ingests itself).
    Objects,
}

/// Splits a bundle (JSON text) as the worker does; every object gains its `nb_deps` key,
/// as pycti's splitter adds it.
pub fn split_bundle(text: &str, event_version: Option<&str>, cleanup_inconsistent: bool) -> Result<Split, SplitError> {
    split_bundle_with(text, event_version, cleanup_inconsistent, Shape::Bundles)
}

/// [`split_bundle`] with a choice of [`Shape`]; `Split::bundles` then holds bare objects
/// for [`Shape::Objects`].
pub fn split_bundle_with(
    text: &str,
    event_version: Option<&str>,
    cleanup_inconsistent: bool,
    shape: Shape,
) -> Result<Split, SplitError> {
    let env: BundleEnvelope = serde_json::from_str(text).map_err(|e| SplitError::NotJson(e.to_string()))?;
    let raw = env.objects.ok_or(SplitError::NotABundle)?;
    let bundle_id = env.id.unwrap_or_else(|| format!("bundle--{}", uuid::Uuid::new_v4()));

    let n = raw.len();
    let wrapper = Wrapper {
        id_json: Value::String(bundle_id).to_string(),
        version_json: event_version.map(|v| Value::String(v.to_string()).to_string()),
    };
    let mut index: FxHashMap<Text, KeyId> = FxHashMap::with_capacity_and_hasher(n, Default::default());
    let mut keys: Vec<(Text, u32)> = Vec::with_capacity(n);
    let mut top: Vec<KeyId> = Vec::with_capacity(n);
    for (pos, obj) in raw.iter().enumerate() {
        let fields: Fields = serde_json::from_str(obj.get()).map_err(|e| SplitError::NotJson(e.to_string()))?;
        let Some(id) = fields.text("id") else { return Err(SplitError::MissingId(pos)) };
        top.push(insert_key(&mut index, &mut keys, id, pos));
        for alias in fields.aliases(obj) {
            insert_key(&mut index, &mut keys, alias, pos);
        }
    }
    let key_count = keys.len();

    let mut s = Splitter {
        raw,
        index,
        keys,
        cleanup: cleanup_inconsistent,
        shape,
        live: FxHashMap::default(),
        finished: vec![None; n],
        nb_deps: vec![1; n],
        cached: vec![NONE; key_count],
        deps: rustc_hash::FxHashSet::default(),
        on_path: vec![0; key_count],
        elements: Vec::with_capacity(n),
        incompatible: Vec::new(),
        wrapper,
    };
    for key in top {
        s.enlist(key);
        s.flush();
    }

    // Stable sort by dependency count, as Python's `list.sort` is stable.
    let mut elements = std::mem::take(&mut s.elements);
    elements.sort_by_key(|pos| s.nb_deps[*pos]);
    let bundles: Vec<String> = elements.iter().map(|pos| s.finished[*pos].take().unwrap_or_default()).collect();
    let dropped = s.incompatible.into_iter().map(|(id, stix_type)| Dropped { id, stix_type }).collect();
    Ok(Split { expectations: bundles.len(), bundles, dropped })
}

/// pycti's `raw_data[id] = item`: the last object with a given id or alias wins.
fn insert_key<'a>(index: &mut FxHashMap<Text<'a>, KeyId>, keys: &mut Vec<(Text<'a>, u32)>, text: Text<'a>, pos: usize) -> KeyId {
    let pos = pos as u32;
    match index.get(&text) {
        Some(&k) => {
            keys[k as usize].1 = pos;
            k
        }
        None => {
            let k = keys.len() as KeyId;
            keys.push((text.clone(), pos));
            index.insert(text, k);
            k
        }
    }
}

impl<'a> Splitter<'a> {
    fn item(&mut self, pos: usize) -> Item<'a> {
        if let Some(item) = self.live.get(&pos) {
            return item.clone();
        }
        let item = Rc::new(RefCell::new(ItemState { fields: Fields::parse(self.raw[pos]), overrides: FxHashMap::default() }));
        self.live.insert(pos, item.clone());
        item
    }

    /// Renders every object touched by the last top-level walk as its final one-object
    /// bundle (each piece is written once, at its final size).
    fn flush(&mut self) {
        for (pos, item) in self.live.drain() {
            let piece = match self.shape {
                Shape::Bundles => {
                    let object = item.borrow().render(self.raw[pos], Some(self.nb_deps[pos]));
                    self.wrapper.wrap(&object, self.nb_deps[pos])
                }
                Shape::Objects => item.borrow().render(self.raw[pos], None),
            };
            self.finished[pos] = Some(piece);
        }
    }

    /// The key id of a reference present in the bundle.
    fn key(&self, r: &str) -> Option<KeyId> {
        self.index.get(r).copied()
    }

    /// pycti's condition for following a reference from `item` (the path to it is
    /// `on_path`).
    fn follows(&self, r: &str, r_key: Option<KeyId>, item: KeyId) -> bool {
        let missing = r_key.is_none();
        is_id_supported(r)
            && !(r_key.is_some_and(|k| self.on_path[k as usize] > 0) || missing && self.cleanup)
            && r != self.keys[item as usize].0
            && !r_key.is_some_and(|k| self.deps.contains(&(k, item)))
    }

    /// pycti's `enlist_element` from a top-level object, with explicit frames: a frame
    /// advances through its fields until it must walk a reference (a child frame) or is
    /// done; a child's dependency count is added to its parent where pycti's recursive
    /// call returns.
    fn enlist(&mut self, root: KeyId) {
        let Some(first) = self.open(root) else { return };
        let mut frames = vec![first];
        let mut returned: Option<i64> = None;
        while let Some(frame) = frames.last_mut() {
            if let Some(child_deps) = returned.take() {
                frame.nb_deps += child_deps;
                self.after_child(frame);
            }
            match self.advance(frame) {
                Step::Descend(k) => {
                    if let Some(cached) = self.cached_deps(k) {
                        returned = Some(cached);
                        continue;
                    }
                    self.on_path[k as usize] += 1;
                    let child = self.open(k).expect("an uncached key opens a frame");
                    frames.push(child);
                }
                Step::Done => {
                    let done = frames.pop().expect("the frame being advanced");
                    let nb_deps = self.finish(&done);
                    if !frames.is_empty() {
                        self.on_path[done.item as usize] -= 1;
                    }
                    returned = Some(nb_deps);
                }
            }
        }
    }

    /// The dependency count of an object already walked (pycti's cache hit).
    fn cached_deps(&self, item: KeyId) -> Option<i64> {
        let pos = self.cached[item as usize];
        (pos != NONE).then(|| self.nb_deps[pos as usize])
    }

    /// A frame for an object not walked yet.
    fn open(&mut self, item: KeyId) -> Option<Frame<'a>> {
        if self.cached[item as usize] != NONE {
            return None;
        }
        let pos = self.keys[item as usize].1 as usize;
        let state = self.item(pos);
        let field_count = state.borrow().fields.0.len();
        Some(Frame { item, pos, state, field_count, field: 0, nb_deps: 1, refs: None })
    }

    /// Walks a frame's fields until a reference must be followed into an object of the
    /// bundle, or every field is done.
    fn advance(&mut self, frame: &mut Frame<'a>) -> Step {
        loop {
            if let Some(cursor) = frame.refs.as_mut() {
                while cursor.i < cursor.refs.len() {
                    let r = cursor.refs[cursor.i].clone();
                    let r_key = self.key(&r);
                    if self.follows(&r, r_key, frame.item) {
                        if let Some(k) = r_key {
                            self.deps.insert((frame.item, k));
                            cursor.pending = Some(r);
                            return Step::Descend(k);
                        }
                        // A reference absent from the bundle: followed, adds nothing.
                        cursor.keep_ref(r);
                    }
                    cursor.next_ref(&frame.state, frame.field);
                }
                if cursor.all_strings && *cursor.keep.borrow() == cursor.refs {
                    frame.state.borrow_mut().overrides.remove(&frame.field);
                }
                frame.refs = None;
                frame.field += 1;
                continue;
            }
            if frame.field >= frame.field_count {
                return Step::Done;
            }
            let index = frame.field;
            let kind = FieldKind::of(&frame.state.borrow().fields.0[index].0);
            match kind {
                FieldKind::Refs => {
                    let refs = frame.state.borrow().refs(index);
                    match refs {
                        Some((refs, all_strings)) => {
                            // As in pycti, after each element the field holds the references kept
                            // so far, which a cycle coming back to this object reads.
                            frame.refs = Some(RefsCursor {
                                refs,
                                all_strings,
                                i: 0,
                                keep: Rc::default(),
                                kept: rustc_hash::FxHashSet::default(),
                                pending: None,
                            });
                        }
                        None => frame.field += 1,
                    }
                    continue;
                }
                FieldKind::Ref => {
                    let r = frame.state.borrow().reference(index);
                    let r_key = r.as_deref().and_then(|r| self.key(r));
                    frame.field += 1;
                    match r {
                        Some(r) if self.follows(&r, r_key, frame.item) => {
                            if let Some(k) = r_key {
                                self.deps.insert((frame.item, k));
                                return Step::Descend(k);
                            }
                        }
                        _ => frame.state.borrow_mut().set(index, Value::Null),
                    }
                }
                FieldKind::ExternalReferences | FieldKind::KillChainPhases => {
                    let value = frame.state.borrow().value(index);
                    if !value.is_null() {
                        let deduped = if kind == FieldKind::ExternalReferences {
                            dedup_external_references(&value)
                        } else {
                            dedup_kill_chain_phases(&value)
                        };
                        frame.state.borrow_mut().set(index, Value::Array(deduped));
                    }
                    frame.field += 1;
                }
                FieldKind::Other => frame.field += 1,
            }
        }
    }

    /// What pycti does after a recursive call returns inside a `*_refs` loop: keep the
    /// reference, then move to the next one (a `*_ref` field has moved on already).
    fn after_child(&mut self, frame: &mut Frame<'a>) {
        if let Some(cursor) = frame.refs.as_mut()
            && let Some(r) = cursor.pending.take()
        {
            cursor.keep_ref(r);
            cursor.next_ref(&frame.state, frame.field);
        }
    }

    /// The end of pycti's `enlist_element` for an object: its final count, and the list it
    /// goes to (compatible elements, or incompatible ones) the first time it is finished.
    fn finish(&mut self, frame: &Frame<'a>) -> i64 {
        let (item, pos, nb_deps) = (frame.item, frame.pos, frame.nb_deps);
        self.nb_deps[pos] = nb_deps;
        if self.cached[item as usize] == NONE {
            let item_id = self.keys[item as usize].0.clone();
            let (compatible, stix_type, aliases) = {
                let it = frame.state.borrow();
                let present = |k: &str| !it.value_of(k).is_null();
                let stix_type = it.fields.text("type").map(|t| t.into_owned());
                let compatible = match stix_type.as_deref() {
                    Some("relationship") => present("source_ref") && present("target_ref"),
                    Some("sighting") => {
                        present("sighting_of_ref") && it.value_of("where_sighted_refs").as_array().is_some_and(|a| !a.is_empty())
                    }
                    Some(_) => is_id_supported(&item_id),
                    None => false,
                };
                (compatible, stix_type, it.fields.aliases(self.raw[pos]))
            };
            if compatible {
                self.elements.push(pos);
            } else {
                self.incompatible.push((item_id.to_string(), stix_type));
            }
            self.cached[item as usize] = pos as u32;
            for alias in aliases {
                if let Some(k) = self.key(&alias) {
                    self.cached[k as usize] = pos as u32;
                }
            }
        }
        nb_deps
    }
}

/// One object under the walk: where it stands in its fields.
struct Frame<'a> {
    item: KeyId,
    pos: usize,
    state: Item<'a>,
    field_count: usize,
    /// The field being walked.
    field: usize,
    nb_deps: i64,
    /// The `*_refs` field being walked, if any.
    refs: Option<RefsCursor<'a>>,
}

/// Where the walk stands in a `*_refs` list.
struct RefsCursor<'a> {
    refs: Vec<Text<'a>>,
    all_strings: bool,
    i: usize,
    /// The references kept so far, shared with the object's override.
    keep: Rc<RefCell<Vec<Text<'a>>>>,
    kept: rustc_hash::FxHashSet<Text<'a>>,
    /// The reference whose object is being walked.
    pending: Option<Text<'a>>,
}

impl<'a> RefsCursor<'a> {
    fn keep_ref(&mut self, r: Text<'a>) {
        if self.kept.insert(r.clone()) {
            self.keep.borrow_mut().push(r);
        }
    }

    /// Moves past the current element; after the first, the field holds the kept list.
    fn next_ref(&mut self, state: &Item<'a>, field: usize) {
        if self.i == 0 {
            state.borrow_mut().overrides.insert(field, Override::Refs(self.keep.clone()));
        }
        self.i += 1;
    }
}

/// What a frame needs next.
enum Step {
    /// Walk the object of this key, then come back.
    Descend(KeyId),
    /// Every field is done.
    Done,
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
