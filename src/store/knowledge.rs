//! The knowledge store: STIX objects as the platform holds them.
//!
//! Every object has an internal id (a UUID the platform assigns), a `standard_id` (the
//! STIX id the platform considers canonical) and every other STIX id it was pushed under
//! (`x_opencti_stix_ids`). Any of them finds the object.
//!
//! The layout is compact on purpose — a 45 MB bundle must not cost the process more than a
//! few times its size: objects live in one vector (a slot per object), bodies are exact-size
//! JSON text (never `serde_json::Value` trees), internal ids are 16-byte UUIDs looked up
//! through the slot map, type names are interned, and the event log stores slots.
//!
//! Objects created through the GraphQL entity API and objects ingested from bundles go
//! through [`Knowledge::upsert`] and share one event log ([`EventLog`]), which the live
//! stream serves: a creation, a change (an upsert that changes nothing is not one, as on the
//! platform, whose empty patch publishes nothing), a deletion. Objects sit in their slots
//! behind an `Arc`, so an event's snapshot of an object is the slot's own copy until the
//! object changes again. The log is bounded as the platform bounds its stream and counts
//! what it let go ([`Knowledge::events_dropped`], shown by `/_mock/health`). Unbounded, a
//! connector that pushes the same objects again and again grew the process for as long as
//! it ran (the load bench's soak: 0.5 MB/s).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;
use uuid::Uuid;

pub use super::events::{EventBody, EventKind, EventLog, KnowledgeEvent};

/// A stored object.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// // objects() lists what the platform received, not its built-in markings; object() finds those too
/// assert!(platform.objects().is_empty());
/// let clear = platform.object("marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9").expect("TLP:CLEAR");
/// assert_eq!(&*clear.entity_type, "Marking-Definition");
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
pub struct StoredObject {
    /// Platform internal id.
    pub internal_id: Uuid,
    /// Canonical STIX id.
    pub standard_id: String,
    /// Other STIX ids this object was received under.
    pub stix_ids: Vec<String>,
    /// STIX `type`.
    pub stix_type: Arc<str>,
    /// OpenCTI entity type (`IPv4-Addr`, `Malware`, `indicates`…).
    pub entity_type: Arc<str>,
    /// The STIX object as stored (JSON text, as received; read through [`StoredObject::json`]).
    /// Shared: a new version of the object (its `updated_at`, its write count) shares an
    /// unchanged body with the version the event log keeps.
    #[serde(skip)]
    pub body: Arc<str>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Number of times it was written (1 = created only).
    pub writes: u32,
    /// Deleted (kept in its slot for the event log, found by nothing).
    pub deleted: bool,
}

impl StoredObject {
    /// Whether the platform created it at its first start (the built-in markings), rather
    /// than received it.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
    /// let platform = opencti_mock::MockPlatform::builder().seed(bundle).start().await;
    /// let ip = platform.object("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883").expect("seeded");
    /// let red = platform.object("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed").expect("TLP:RED");
    /// assert!(red.is_built_in() && !ip.is_built_in());
    /// # }
    /// ```
    pub fn is_built_in(&self) -> bool {
        crate::stix::markings::is_built_in(&self.standard_id)
    }

    /// The stored STIX body parsed.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
    /// let platform = opencti_mock::MockPlatform::builder().seed(bundle).start().await;
    /// let ip = platform.object("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883").expect("seeded");
    /// assert_eq!(ip.json()["value"], "198.51.100.7");
    /// # }
    /// ```
    pub fn json(&self) -> serde_json::Value {
        // Bodies are only ever stored after being parsed as JSON objects.
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The STIX 2.1 representation with the platform's OpenCTI extension (what the
    /// platform's `toStix`, its `stix(id)` query, its exports and its job messages give):
    /// the stored body under its standard id, its extension completed with the object's
    /// internal id, entity type, creation and update times and STIX ids. Every read path
    /// uses this one function.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
    /// let platform = opencti_mock::MockPlatform::builder().seed(bundle).start().await;
    /// let ip = platform.object("ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883").expect("seeded");
    /// let stix = ip.stix();
    /// // under the standard id the platform computed, with the platform's extension
    /// assert_eq!(stix["id"], ip.standard_id.as_str());
    /// assert_eq!(stix["extensions"]["extension-definition--ea279b3e-5c71-4632-ac08-831c66a786ba"]["type"], "IPv4-Addr");
    /// # }
    /// ```
    pub fn stix(&self) -> serde_json::Value {
        use serde_json::{Value, json};
        let mut stix = self.json();
        if let Some(map) = stix.as_object_mut() {
            map.insert("id".into(), Value::String(self.standard_id.clone()));
            let extensions = map.entry("extensions").or_insert_with(|| json!({}));
            if let Some(e) = extensions.as_object_mut() {
                let ext =
                    e.entry(crate::stix::OPENCTI_EXTENSION).or_insert_with(|| json!({"extension_type": "property-extension"}));
                if let Some(x) = ext.as_object_mut() {
                    x.insert("id".into(), json!(self.internal_id.to_string()));
                    x.insert("type".into(), json!(&*self.entity_type));
                    x.insert("created_at".into(), json!(super::clock::iso(self.created_at)));
                    x.insert("updated_at".into(), json!(super::clock::iso(self.updated_at)));
                    x.insert("is_inferred".into(), json!(false));
                    x.insert("stix_ids".into(), json!(self.stix_ids));
                }
            }
        }
        stix
    }
}

/// What an upsert is asked to store.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Canonical id computed for the object.
    pub standard_id: String,
    /// Other ids it arrived with.
    pub stix_ids: Vec<String>,
    /// STIX type.
    pub stix_type: String,
    /// OpenCTI entity type.
    pub entity_type: String,
    /// Body to store.
    pub body: Box<str>,
}

/// Result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// Internal id of the stored object.
    pub internal_id: Uuid,
    /// Whether it was created (false: merged into an existing object).
    pub created: bool,
    /// Whether what it says changed (always for a creation; for a merge, whether the
    /// stored body differs from the one it replaced).
    pub changed: bool,
}

/// Events kept by default (see [`EventLog`]).
pub const MAX_EVENTS: usize = super::events::DEFAULT_RETENTION;

/// Objects in fixed-size segments: growing never copies or over-reserves more than one
/// segment (a plain `Vec` would double, leaving up to half its capacity unused).
#[derive(Debug, Default, Clone)]
struct Slots {
    segments: Vec<Vec<Arc<StoredObject>>>,
    len: usize,
}

const SEGMENT: usize = 4096;

impl Slots {
    fn push(&mut self, obj: Arc<StoredObject>) {
        if self.len.is_multiple_of(SEGMENT) {
            self.segments.push(Vec::with_capacity(SEGMENT));
        }
        if let Some(last) = self.segments.last_mut() {
            last.push(obj);
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> Option<&Arc<StoredObject>> {
        self.segments.get(i / SEGMENT)?.get(i % SEGMENT)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut Arc<StoredObject>> {
        self.segments.get_mut(i / SEGMENT)?.get_mut(i % SEGMENT)
    }

    fn iter(&self) -> impl Iterator<Item = &StoredObject> {
        self.segments.iter().flatten().map(|o| &**o)
    }
}

/// All objects of a platform.
#[derive(Debug, Default, Clone)]
pub struct Knowledge {
    slots: Slots,
    by_internal: FxHashMap<Uuid, u32>,
    by_stix_id: FxHashMap<Box<str>, u32>,
    types: HashMap<String, Arc<str>>,
    events: EventLog,
    /// The origin of the write under way ([`Knowledge::upsert_by`]), none otherwise.
    origin: Option<Arc<serde_json::Value>>,
    /// Origins by user id, built once per user (an origin per event would cost more than
    /// the event).
    origins: HashMap<String, Arc<serde_json::Value>>,
    built_ins: usize,
    live: usize,
}

impl Knowledge {
    fn slot_of(&self, any_id: &str) -> Option<u32> {
        match Uuid::parse_str(any_id) {
            Ok(u) => self.by_internal.get(&u).copied(),
            Err(_) => self.by_stix_id.get(any_id).copied(),
        }
    }

    /// An object by internal id, standard id or any STIX id it was received under.
    pub fn get(&self, any_id: &str) -> Option<&StoredObject> {
        self.slot_of(any_id).and_then(|s| self.slots.get(s as usize)).map(|o| &**o)
    }

    /// The shared snapshot of an object (any of its ids), as events hold it.
    pub fn get_shared(&self, any_id: &str) -> Option<Arc<StoredObject>> {
        self.slot_of(any_id).and_then(|s| self.slots.get(s as usize)).cloned()
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Objects in creation order.
    pub fn all(&self) -> impl Iterator<Item = &StoredObject> {
        self.slots.iter().filter(|o| !o.deleted)
    }

    /// Number of stored objects but the built-in markings.
    pub fn received_len(&self) -> usize {
        self.live - self.built_ins
    }

    /// Objects in creation order, but the built-in markings: what the platform received
    /// (and the meta objects made of it).
    pub fn received(&self) -> impl Iterator<Item = &StoredObject> {
        self.all().filter(|o| !o.is_built_in())
    }

    /// The event log: its latest events (see [`EventLog`]).
    pub fn events(&self) -> &[KnowledgeEvent] {
        self.events.all()
    }

    /// The event log itself.
    pub fn event_log(&self) -> &EventLog {
        &self.events
    }

    /// The event log, to inject events or move its watermark.
    pub fn event_log_mut(&mut self) -> &mut EventLog {
        &mut self.events
    }

    /// Events the log let go (the oldest), past its retention.
    pub fn events_dropped(&self) -> u64 {
        self.events.dropped()
    }

    fn log(&mut self, at: DateTime<Utc>, kind: EventKind, object: Arc<StoredObject>, previous: Option<Arc<StoredObject>>) {
        let origin = self.origin.clone();
        self.events.push(at, kind, origin, EventBody::Change { object, previous, sources: Vec::new() });
    }

    /// The origin of `user_id`'s writes, made by `make` the first time.
    pub fn origin_of(&mut self, user_id: &str, make: impl FnOnce() -> Option<serde_json::Value>) -> Option<Arc<serde_json::Value>> {
        if let Some(o) = self.origins.get(user_id) {
            return Some(o.clone());
        }
        let origin = Arc::new(make()?);
        self.origins.insert(user_id.to_string(), origin.clone());
        Some(origin)
    }

    /// Stores as [`Knowledge::upsert`] does, the event it logs carrying `origin` (the
    /// platform's `origin` object of the user who caused it).
    pub fn upsert_by(&mut self, c: Candidate, now: DateTime<Utc>, origin: Option<Arc<serde_json::Value>>) -> Upserted {
        self.origin = origin;
        let upserted = self.upsert(c, now);
        self.origin = None;
        upserted
    }

    fn intern(&mut self, name: String) -> Arc<str> {
        if let Some(t) = self.types.get(&name) {
            return t.clone();
        }
        let t: Arc<str> = name.as_str().into();
        self.types.insert(name, t.clone());
        t
    }

    /// Stores a new object or updates the one of the same entity type sharing its standard
    /// id or any of its STIX ids: the body is replaced (callers merge first, see
    /// `crate::ingest::object`), the ids accumulate, and a changed standard id (an update of
    /// an id-contributing property) becomes the object's standard id, the previous one kept
    /// among its STIX ids. Ids already held by an object of another type are left to it.
    pub fn upsert(&mut self, c: Candidate, now: DateTime<Utc>) -> Upserted {
        let existing = self.find(&c);
        match existing {
            Some(slot) => {
                let shared = self.slots.get_mut(slot as usize).expect("index entries point to stored objects");
                let previous = Arc::clone(shared);
                let obj = Arc::make_mut(shared);
                let mut new_ids = c.stix_ids;
                if c.standard_id != obj.standard_id {
                    new_ids.push(std::mem::replace(&mut obj.standard_id, c.standard_id.clone()));
                    obj.stix_ids.retain(|id| *id != c.standard_id);
                }
                for id in new_ids {
                    if id == obj.standard_id || obj.stix_ids.contains(&id) {
                        continue;
                    }
                    match self.by_stix_id.get(id.as_str()) {
                        Some(other) if *other != slot => continue,
                        _ => {}
                    }
                    obj.stix_ids.push(id.clone());
                    self.by_stix_id.insert(id.into_boxed_str(), slot);
                }
                self.by_stix_id.insert(obj.standard_id.as_str().into(), slot);
                let changed = *obj.body != *c.body || obj.stix_ids != previous.stix_ids || obj.standard_id != previous.standard_id;
                if changed {
                    obj.body = c.body.into();
                }
                obj.updated_at = now;
                obj.writes += 1;
                let internal_id = obj.internal_id;
                if changed {
                    let object = Arc::clone(shared);
                    self.log(now, EventKind::Update, object, Some(previous));
                }
                Upserted { internal_id, created: false, changed }
            }
            None => {
                let slot = u32::try_from(self.slots.len).expect("fewer than 4 billion objects");
                if crate::stix::markings::is_built_in(&c.standard_id) {
                    self.built_ins += 1;
                }
                // A version-4 UUID, as the platform's; from a fast per-thread generator (the
                // operating system's one costs a system call per object).
                let internal_id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
                let mut stix_ids: Vec<String> = Vec::new();
                for id in c.stix_ids {
                    if id != c.standard_id && !stix_ids.contains(&id) && !self.by_stix_id.contains_key(id.as_str()) {
                        stix_ids.push(id);
                    }
                }
                for id in &stix_ids {
                    self.by_stix_id.insert(id.as_str().into(), slot);
                }
                self.by_stix_id.insert(c.standard_id.as_str().into(), slot);
                self.by_internal.insert(internal_id, slot);
                let stix_type = self.intern(c.stix_type);
                let entity_type = self.intern(c.entity_type);
                let object = Arc::new(StoredObject {
                    internal_id,
                    standard_id: c.standard_id,
                    stix_ids,
                    stix_type,
                    entity_type,
                    body: c.body.into(),
                    created_at: now,
                    updated_at: now,
                    writes: 1,
                    deleted: false,
                });
                self.slots.push(Arc::clone(&object));
                self.live += 1;
                self.log(now, EventKind::Create, object, None);
                Upserted { internal_id, created: true, changed: true }
            }
        }
    }

    /// The slot of the object a candidate updates: the first of its ids held by an object of
    /// the same entity type.
    fn find(&self, c: &Candidate) -> Option<u32> {
        std::iter::once(&c.standard_id).chain(c.stix_ids.iter()).find_map(|id| {
            let slot = *self.by_stix_id.get(id.as_str())?;
            let obj = self.slots.get(slot as usize)?;
            (*obj.entity_type == *c.entity_type).then_some(slot)
        })
    }

    /// The stored object a candidate would update, if any.
    pub fn existing(&self, c: &Candidate) -> Option<&StoredObject> {
        self.find(c).and_then(|slot| self.slots.get(slot as usize)).map(|o| &**o)
    }

    /// Deletes an object (any of its ids). Its slot stays (events refer to it) but it is no
    /// longer found, listed or counted.
    pub fn remove(&mut self, any_id: &str, now: DateTime<Utc>) -> Option<StoredObject> {
        let slot = self.slot_of(any_id)?;
        let shared = self.slots.get_mut(slot as usize)?;
        Arc::make_mut(shared).deleted = true;
        let snapshot = Arc::clone(shared);
        let removed = (*snapshot).clone();
        self.by_internal.remove(&removed.internal_id);
        self.by_stix_id.remove(removed.standard_id.as_str());
        for id in &removed.stix_ids {
            self.by_stix_id.remove(id.as_str());
        }
        self.live -= 1;
        if removed.is_built_in() {
            self.built_ins -= 1;
        }
        self.log(now, EventKind::Delete, snapshot, None);
        Some(removed)
    }

    /// Deletes an object and, as the platform does, the relationships and sightings it is
    /// an end of.
    pub fn remove_cascade(&mut self, any_id: &str, now: DateTime<Utc>) -> Option<StoredObject> {
        let removed = self.remove(any_id, now)?;
        let ids: Vec<&str> =
            std::iter::once(removed.standard_id.as_str()).chain(removed.stix_ids.iter().map(String::as_str)).collect();
        let attached: Vec<String> = self
            .all()
            .filter(|o| matches!(&*o.stix_type, "relationship" | "sighting"))
            .filter(|o| {
                let body = o.json();
                let end = |k: &str| body.get(k).and_then(serde_json::Value::as_str).is_some_and(|r| ids.contains(&r));
                let sighted = body
                    .get("where_sighted_refs")
                    .and_then(serde_json::Value::as_array)
                    .is_some_and(|a| a.iter().filter_map(serde_json::Value::as_str).any(|r| ids.contains(&r)));
                end("source_ref") || end("target_ref") || end("sighting_of_ref") || sighted
            })
            .map(|o| o.internal_id.to_string())
            .collect();
        for rel in attached {
            self.remove(&rel, now);
        }
        Some(removed)
    }

    /// Merges `sources` into `target` (internal ids; the caller has checked they are of one
    /// type and computed the merged `body`): the target takes the body and every id of the
    /// sources, the sources are deleted, and what referred to a source refers to the target.
    /// One `merge` event is logged (the platform publishes the merge, not the deletions).
    /// `None` when the target or a source is not stored.
    pub fn merge(&mut self, target: &str, sources: &[String], body: Box<str>, now: DateTime<Utc>) -> Option<Uuid> {
        let target_slot = self.slot_of(target)?;
        let source_slots: Vec<u32> = sources.iter().map(|s| self.slot_of(s)).collect::<Option<_>>()?;
        let previous = Arc::clone(self.slots.get(target_slot as usize)?);
        let mut absorbed = Vec::new();
        let mut renamed: Vec<(String, String)> = Vec::new();
        for slot in source_slots.into_iter().filter(|s| *s != target_slot) {
            let shared = self.slots.get_mut(slot as usize)?;
            absorbed.push(Arc::clone(shared));
            let source = Arc::make_mut(shared);
            source.deleted = true;
            let ids: Vec<String> = std::iter::once(source.standard_id.clone()).chain(source.stix_ids.iter().cloned()).collect();
            self.by_internal.remove(&source.internal_id);
            self.live -= 1;
            for id in ids {
                renamed.push((id.clone(), previous.standard_id.clone()));
                self.by_stix_id.insert(id.into_boxed_str(), target_slot);
            }
        }
        let shared = self.slots.get_mut(target_slot as usize)?;
        let obj = Arc::make_mut(shared);
        for (id, _) in &renamed {
            if !obj.stix_ids.contains(id) && *id != obj.standard_id {
                obj.stix_ids.push(id.clone());
            }
        }
        obj.body = body.into();
        obj.updated_at = now;
        obj.writes += 1;
        let internal_id = obj.internal_id;
        let object = Arc::clone(shared);
        // What referred to a source now refers to the target (the platform moves its relations).
        for slot in 0..self.slots.len {
            let Some(o) = self.slots.get(slot) else { continue };
            if o.deleted || !renamed.iter().any(|(from, _)| o.body.contains(from.as_str())) {
                continue;
            }
            let mut text = o.body.to_string();
            for (from, to) in &renamed {
                text = text.replace(&format!("\"{from}\""), &format!("\"{to}\""));
            }
            if let Some(shared) = self.slots.get_mut(slot) {
                Arc::make_mut(shared).body = text.into();
            }
        }
        self.events.push(now, EventKind::Merge, None, EventBody::Change { object, previous: Some(previous), sources: absorbed });
        Some(internal_id)
    }

    /// Deletes as [`Knowledge::remove_cascade`] does, the events it logs carrying `origin`.
    pub fn remove_cascade_by(&mut self, any_id: &str, now: DateTime<Utc>, origin: Option<Arc<serde_json::Value>>) -> Option<StoredObject> {
        self.origin = origin;
        let removed = self.remove_cascade(any_id, now);
        self.origin = None;
        removed
    }

    /// Removes everything (control API reset). The event log starts again empty, its ids
    /// going on from where they were (a consumer's saved position stays meaningful).
    pub fn clear(&mut self) {
        let events = self.events.restarted();
        *self = Knowledge { events, ..Knowledge::default() };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(standard: &str, ids: &[&str], body: &str) -> Candidate {
        Candidate {
            standard_id: standard.into(),
            stix_ids: ids.iter().map(|s| s.to_string()).collect(),
            stix_type: "malware".into(),
            entity_type: "Malware".into(),
            body: body.into(),
        }
    }

    #[test]
    fn an_object_is_found_by_internal_standard_and_extra_ids() {
        let mut k = Knowledge::default();
        let up = k.upsert(candidate("malware--a", &["malware--x"], "{}"), Utc::now());
        assert!(up.created);
        for id in [up.internal_id.to_string().as_str(), "malware--a", "malware--x"] {
            assert_eq!(k.get(id).map(|o| o.internal_id), Some(up.internal_id), "{id}");
        }
    }

    #[test]
    fn a_second_upsert_merges_ids_and_replaces_the_body() {
        let mut k = Knowledge::default();
        let first = k.upsert(candidate("malware--a", &["malware--x"], "{\"v\":1}"), Utc::now());
        let second = k.upsert(candidate("malware--a", &["malware--y"], "{\"v\":2}"), Utc::now());
        assert_eq!(first.internal_id, second.internal_id);
        assert!(!second.created);
        let obj = k.get("malware--y").unwrap();
        assert_eq!(obj.stix_ids, vec!["malware--x".to_string(), "malware--y".to_string()]);
        assert_eq!(&*obj.body, "{\"v\":2}");
        assert_eq!(k.events().len(), 2);
        assert_eq!(k.len(), 1);
    }

    #[test]
    fn ids_of_another_type_are_not_taken_over() {
        let mut k = Knowledge::default();
        let m = k.upsert(candidate("malware--a", &[], "{}"), Utc::now());
        let mut indicator = candidate("indicator--b", &["malware--a"], "{}");
        indicator.entity_type = "Indicator".into();
        let i = k.upsert(indicator, Utc::now());
        assert!(i.created, "not merged into the malware");
        assert_eq!(k.get("malware--a").map(|o| o.internal_id), Some(m.internal_id));
        assert!(k.get("indicator--b").unwrap().stix_ids.is_empty());
    }

    #[test]
    fn a_changed_standard_id_replaces_the_old_one_which_stays_an_extra_id() {
        let mut k = Knowledge::default();
        let first = k.upsert(candidate("malware--old", &["malware--pushed"], "{}"), Utc::now());
        let second = k.upsert(candidate("malware--new", &["malware--pushed"], "{}"), Utc::now());
        assert_eq!(first.internal_id, second.internal_id);
        let obj = k.get("malware--old").unwrap();
        assert_eq!(obj.standard_id, "malware--new");
        assert_eq!(obj.stix_ids, vec!["malware--pushed".to_string(), "malware--old".to_string()]);
    }

    #[test]
    fn removed_objects_are_no_longer_found_listed_or_counted() {
        let mut k = Knowledge::default();
        let up = k.upsert(candidate("malware--a", &["malware--x"], "{}"), Utc::now());
        k.upsert(candidate("malware--b", &[], "{}"), Utc::now());
        let removed = k.remove("malware--x", Utc::now()).expect("found by any id");
        assert_eq!(removed.internal_id, up.internal_id);
        assert!(k.get("malware--a").is_none() && k.get(&up.internal_id.to_string()).is_none());
        assert_eq!((k.len(), k.all().count()), (1, 1));
        assert_eq!(k.events().last().map(|e| e.kind), Some(EventKind::Delete));
        assert!(k.remove("malware--a", Utc::now()).is_none(), "already deleted");
        // Its ids are free again.
        assert!(k.upsert(candidate("malware--a", &[], "{}"), Utc::now()).created);
    }

    #[test]
    fn events_snapshot_each_change_and_an_unchanged_upsert_is_none() {
        let mut k = Knowledge::default();
        k.upsert(candidate("malware--a", &[], "{\"v\":1}"), Utc::now());
        k.upsert(candidate("malware--a", &[], "{\"v\":1}"), Utc::now());
        k.upsert(candidate("malware--a", &[], "{\"v\":2}"), Utc::now());
        let kinds: Vec<EventKind> = k.events().iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::Create, EventKind::Update]);
        let EventBody::Change { object, previous, .. } = &k.events()[1].body else { panic!("a change") };
        assert_eq!((&*object.body, previous.as_ref().map(|p| &*p.body)), ("{\"v\":2}", Some("{\"v\":1}")));
        let EventBody::Change { object: created, .. } = &k.events()[0].body else { panic!("a change") };
        assert_eq!(&*created.body, "{\"v\":1}", "the creation keeps the object as created");
        assert!(k.events()[0].id < k.events()[1].id);
    }

    #[test]
    fn a_reset_keeps_the_event_ids_going() {
        let mut k = Knowledge::default();
        let now = Utc::now();
        k.upsert(candidate("malware--a", &[], "{}"), now);
        let last = k.event_log().last_id();
        k.clear();
        assert!(k.events().is_empty());
        k.upsert(candidate("malware--a", &[], "{}"), now);
        assert!(k.events()[0].id > last);
    }
}
