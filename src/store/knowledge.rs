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
//! through [`Knowledge::upsert`] and share one event log, which the live stream serves.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rustc_hash::FxHashMap;
use serde::Serialize;
use uuid::Uuid;

/// A stored object.
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
    #[serde(skip)]
    pub body: Box<str>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Number of times it was written (1 = created only).
    pub writes: u32,
}

impl StoredObject {
    /// Whether the platform created it at its first start (the built-in markings), rather
    /// than received it.
    pub fn is_built_in(&self) -> bool {
        crate::stix::markings::is_built_in(&self.standard_id)
    }

    /// The stored STIX body parsed.
    pub fn json(&self) -> serde_json::Value {
        // Bodies are only ever stored after being parsed as JSON objects.
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
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

/// Kind of a knowledge event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    /// Object created.
    Create,
    /// Object updated (upsert).
    Update,
    /// Object deleted.
    Delete,
}

/// One entry of the knowledge event log.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KnowledgeEvent {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// The object (see [`Knowledge::at_slot`]).
    pub slot: u32,
}

/// Result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// Internal id of the stored object.
    pub internal_id: Uuid,
    /// Whether it was created (false: merged into an existing object).
    pub created: bool,
}

/// Objects in fixed-size segments: growing never copies or over-reserves more than one
/// segment (a plain `Vec` would double, leaving up to half its capacity unused).
#[derive(Debug, Default)]
struct Slots {
    segments: Vec<Vec<StoredObject>>,
    len: usize,
}

const SEGMENT: usize = 4096;

impl Slots {
    fn push(&mut self, obj: StoredObject) {
        if self.len.is_multiple_of(SEGMENT) {
            self.segments.push(Vec::with_capacity(SEGMENT));
        }
        if let Some(last) = self.segments.last_mut() {
            last.push(obj);
        }
        self.len += 1;
    }

    fn get(&self, i: usize) -> Option<&StoredObject> {
        self.segments.get(i / SEGMENT)?.get(i % SEGMENT)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut StoredObject> {
        self.segments.get_mut(i / SEGMENT)?.get_mut(i % SEGMENT)
    }

    fn iter(&self) -> impl Iterator<Item = &StoredObject> {
        self.segments.iter().flatten()
    }
}

/// All objects of a platform.
#[derive(Debug, Default)]
pub struct Knowledge {
    slots: Slots,
    by_internal: FxHashMap<Uuid, u32>,
    by_stix_id: FxHashMap<Box<str>, u32>,
    types: HashMap<String, Arc<str>>,
    events: Vec<KnowledgeEvent>,
    built_ins: usize,
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
        self.slot_of(any_id).and_then(|s| self.slots.get(s as usize))
    }

    /// The object of an event slot.
    pub fn at_slot(&self, slot: u32) -> Option<&StoredObject> {
        self.slots.get(slot as usize)
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.slots.len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.slots.len == 0
    }

    /// Objects in creation order.
    pub fn all(&self) -> impl Iterator<Item = &StoredObject> {
        self.slots.iter()
    }

    /// Number of stored objects but the built-in markings.
    pub fn received_len(&self) -> usize {
        self.slots.len - self.built_ins
    }

    /// Objects in creation order, but the built-in markings: what the platform received
    /// (and the meta objects made of it).
    pub fn received(&self) -> impl Iterator<Item = &StoredObject> {
        self.slots.iter().filter(|o| !o.is_built_in())
    }

    /// The event log.
    pub fn events(&self) -> &[KnowledgeEvent] {
        &self.events
    }

    fn intern(&mut self, name: String) -> Arc<str> {
        if let Some(t) = self.types.get(&name) {
            return t.clone();
        }
        let t: Arc<str> = name.as_str().into();
        self.types.insert(name, t.clone());
        t
    }

    /// Stores a new object or merges it into the one sharing its standard id (or any of
    /// its STIX ids). Merging replaces the body and accumulates the ids.
    pub fn upsert(&mut self, c: Candidate, now: DateTime<Utc>) -> Upserted {
        let existing =
            std::iter::once(&c.standard_id).chain(c.stix_ids.iter()).find_map(|id| self.by_stix_id.get(id.as_str()).copied());
        match existing {
            Some(slot) => {
                let obj = self.slots.get_mut(slot as usize).expect("index entries point to stored objects");
                for id in c.stix_ids.into_iter().filter(|id| *id != obj.standard_id) {
                    if !obj.stix_ids.contains(&id) {
                        obj.stix_ids.push(id.clone());
                    }
                    self.by_stix_id.insert(id.into_boxed_str(), slot);
                }
                obj.body = c.body;
                obj.updated_at = now;
                obj.writes += 1;
                let internal_id = obj.internal_id;
                self.events.push(KnowledgeEvent { at: now, kind: EventKind::Update, slot });
                Upserted { internal_id, created: false }
            }
            None => {
                let slot = u32::try_from(self.slots.len).expect("fewer than 4 billion objects");
                if crate::stix::markings::is_built_in(&c.standard_id) {
                    self.built_ins += 1;
                }
                // A version-4 UUID, as the platform's; from a fast per-thread generator (the
                // operating system's one costs a system call per object).
                let internal_id = uuid::Builder::from_random_bytes(fastrand::u128(..).to_le_bytes()).into_uuid();
                let stix_ids: Vec<String> = c.stix_ids.into_iter().filter(|id| *id != c.standard_id).collect();
                for id in &stix_ids {
                    self.by_stix_id.insert(id.as_str().into(), slot);
                }
                self.by_stix_id.insert(c.standard_id.as_str().into(), slot);
                self.by_internal.insert(internal_id, slot);
                let stix_type = self.intern(c.stix_type);
                let entity_type = self.intern(c.entity_type);
                self.slots.push(StoredObject {
                    internal_id,
                    standard_id: c.standard_id,
                    stix_ids,
                    stix_type,
                    entity_type,
                    body: c.body,
                    created_at: now,
                    updated_at: now,
                    writes: 1,
                });
                self.events.push(KnowledgeEvent { at: now, kind: EventKind::Create, slot });
                Upserted { internal_id, created: true }
            }
        }
    }

    /// Removes everything (control API reset).
    pub fn clear(&mut self) {
        *self = Knowledge::default();
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
}
