//! The knowledge store: STIX objects as the platform holds them.
//!
//! Every object has an internal id (a UUID the platform assigns), a `standard_id` (the
//! STIX id the platform considers canonical) and every other STIX id it was pushed under
//! (`x_opencti_stix_ids`). Any of them finds the object. Bodies are kept as compact JSON
//! text, not as `serde_json::Value` trees: a 45 MB bundle stays ≈45 MB in memory.
//!
//! Objects created through the GraphQL entity API and objects ingested from bundles go
//! through [`Knowledge::upsert`] and share one event log, which the live stream serves.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A stored object.
#[derive(Debug, Clone, Serialize)]
pub struct StoredObject {
    /// Platform internal id.
    pub internal_id: String,
    /// Canonical STIX id.
    pub standard_id: String,
    /// Other STIX ids this object was received under.
    pub stix_ids: Vec<String>,
    /// STIX `type`.
    pub stix_type: String,
    /// OpenCTI entity type (`IPv4-Addr`, `Malware`, `stix-core-relationship`…).
    pub entity_type: String,
    /// The STIX object as stored (JSON text; its `id` is the standard id).
    #[serde(skip)]
    pub body: Arc<str>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last update.
    pub updated_at: DateTime<Utc>,
    /// Number of times it was written (1 = created only).
    pub writes: u32,
}

impl StoredObject {
    /// The stored STIX body parsed.
    pub fn json(&self) -> serde_json::Value {
        // Bodies are only ever stored after being produced by serde_json.
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// What an upsert is asked to store.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// Canonical id computed for the object.
    pub standard_id: String,
    /// Ids it arrived with (including the one in the bundle).
    pub stix_ids: Vec<String>,
    /// STIX type.
    pub stix_type: String,
    /// OpenCTI entity type.
    pub entity_type: String,
    /// Body to store (its `id` already the standard id).
    pub body: Arc<str>,
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
#[derive(Debug, Clone, Serialize)]
pub struct KnowledgeEvent {
    /// Position in the log (1-based).
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened.
    pub kind: EventKind,
    /// Object internal id.
    pub internal_id: String,
    /// Object standard id.
    pub standard_id: String,
    /// Entity type.
    pub entity_type: String,
}

/// Result of an upsert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upserted {
    /// Internal id of the stored object.
    pub internal_id: String,
    /// Whether it was created (false: merged into an existing object).
    pub created: bool,
}

/// All objects of a platform.
#[derive(Debug, Default)]
pub struct Knowledge {
    objects: HashMap<String, StoredObject>,
    index: HashMap<String, String>,
    order: Vec<String>,
    events: Vec<KnowledgeEvent>,
}

impl Knowledge {
    /// An object by internal id, standard id or any STIX id it was received under.
    pub fn get(&self, any_id: &str) -> Option<&StoredObject> {
        let internal = self.index.get(any_id)?;
        self.objects.get(internal)
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Objects in creation order.
    pub fn all(&self) -> impl Iterator<Item = &StoredObject> {
        self.order.iter().filter_map(|id| self.objects.get(id))
    }

    /// The event log.
    pub fn events(&self) -> &[KnowledgeEvent] {
        &self.events
    }

    /// Stores a new object or merges it into the one sharing its standard id (or any of
    /// its STIX ids). Merging replaces the body and accumulates the ids.
    pub fn upsert(&mut self, c: Candidate, now: DateTime<Utc>) -> Upserted {
        let existing = std::iter::once(&c.standard_id).chain(c.stix_ids.iter()).find_map(|id| self.index.get(id).cloned());
        match existing {
            Some(internal_id) => {
                let obj = self.objects.get_mut(&internal_id).expect("index entries point to stored objects");
                for id in c.stix_ids.iter().filter(|id| **id != obj.standard_id) {
                    if !obj.stix_ids.contains(id) {
                        obj.stix_ids.push(id.clone());
                    }
                    self.index.insert(id.clone(), internal_id.clone());
                }
                obj.body = c.body;
                obj.updated_at = now;
                obj.writes += 1;
                let event = event(&self.events, now, EventKind::Update, obj);
                self.events.push(event);
                Upserted { internal_id, created: false }
            }
            None => {
                let internal_id = uuid::Uuid::new_v4().to_string();
                let stix_ids: Vec<String> = c.stix_ids.into_iter().filter(|id| *id != c.standard_id).collect();
                self.index.insert(internal_id.clone(), internal_id.clone());
                self.index.insert(c.standard_id.clone(), internal_id.clone());
                for id in &stix_ids {
                    self.index.insert(id.clone(), internal_id.clone());
                }
                let obj = StoredObject {
                    internal_id: internal_id.clone(),
                    standard_id: c.standard_id,
                    stix_ids,
                    stix_type: c.stix_type,
                    entity_type: c.entity_type,
                    body: c.body,
                    created_at: now,
                    updated_at: now,
                    writes: 1,
                };
                let event = event(&self.events, now, EventKind::Create, &obj);
                self.events.push(event);
                self.objects.insert(internal_id.clone(), obj);
                self.order.push(internal_id.clone());
                Upserted { internal_id, created: true }
            }
        }
    }

    /// Removes everything (control API reset).
    pub fn clear(&mut self) {
        *self = Knowledge::default();
    }
}

fn event(log: &[KnowledgeEvent], at: DateTime<Utc>, kind: EventKind, obj: &StoredObject) -> KnowledgeEvent {
    KnowledgeEvent {
        seq: log.len() as u64 + 1,
        at,
        kind,
        internal_id: obj.internal_id.clone(),
        standard_id: obj.standard_id.clone(),
        entity_type: obj.entity_type.clone(),
    }
}
