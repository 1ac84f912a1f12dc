//! The knowledge's event log: every change, in order, under the id the live stream gives it.
//!
//! The platform writes one event per change to a Redis stream (`XADD … *`), and its live
//! stream serves that stream: ids are `<ms>-<seq>` (the time of the write and a counter
//! within the millisecond), strictly increasing, and a consumer resumes *strictly after*
//! the id it saved. The log keeps what the stream needs to render an event as the platform
//! would at the time of the change — the object as it was then (and before, for an
//! update), so a patch can be computed — without copying bodies: a snapshot is an
//! `Arc<StoredObject>` shared with the store's slot until the object changes again.
//!
//! The log is bounded as the platform bounds its stream (`MAXLEN ~ redis:trimming`):
//! the oldest events go first, a tenth of the limit at a time, and are counted. An id is
//! never reused, not even after a platform reset, and the idle heartbeat's `<now>-0`
//! ([`EventLog::watermark`]) is below every later event's id.

use std::any::Any;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::knowledge::StoredObject;

/// A stream position, `<ms>-<seq>` as the platform's (Redis) ids.
///
/// ```
/// use opencti_mock::EventId;
/// let id: EventId = "1761550000000-3".parse().unwrap();
/// assert_eq!((id.ms, id.seq), (1761550000000, 3));
/// assert_eq!(id.to_string(), "1761550000000-3");
/// assert!(id > "1761550000000-2".parse().unwrap());
/// assert_eq!(EventId::ZERO.to_string(), "0-0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct EventId {
    /// Milliseconds since the epoch.
    pub ms: u64,
    /// Counter within the millisecond.
    pub seq: u64,
}

impl EventId {
    /// `0-0`: before every event.
    pub const ZERO: EventId = EventId { ms: 0, seq: 0 };

    /// `<ms>-0`: the first id of a millisecond (the platform's `streamEventId(date)`).
    ///
    /// ```
    /// assert_eq!(opencti_mock::EventId::at_ms(1761550000000).to_string(), "1761550000000-0");
    /// ```
    pub fn at_ms(ms: u64) -> EventId {
        EventId { ms, seq: 0 }
    }

    /// `<ms of the date>-0`: where a recovery up to `date` resumes, the id of an object
    /// recovered with that `updated_at`.
    ///
    /// ```
    /// let date = "2026-01-01T00:00:00Z".parse().unwrap();
    /// assert_eq!(opencti_mock::EventId::at(date).to_string(), "1767225600000-0");
    /// ```
    pub fn at(date: DateTime<Utc>) -> EventId {
        EventId::at_ms(u64::try_from(date.timestamp_millis()).unwrap_or(0))
    }

    /// The date of the id's millisecond (what a heartbeat's data says).
    ///
    /// ```
    /// let id: opencti_mock::EventId = "1767225600000-7".parse().unwrap();
    /// assert_eq!(id.date().to_rfc3339(), "2026-01-01T00:00:00+00:00");
    /// ```
    pub fn date(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(i64::try_from(self.ms).unwrap_or(i64::MAX)).unwrap_or_default()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Not `<ms>-<seq>` with two unsigned integers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a stream id (<ms>-<seq>): {0}")]
pub struct BadEventId(pub String);

impl FromStr for EventId {
    type Err = BadEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadEventId(s.to_string());
        let (ms, seq) = s.split_once('-').ok_or_else(bad)?;
        Ok(EventId { ms: ms.parse().map_err(|_| bad())?, seq: seq.parse().map_err(|_| bad())? })
    }
}

/// Kind of a knowledge event: the platform's event `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum EventKind {
    /// Object created.
    Create,
    /// Object changed.
    Update,
    /// Object deleted.
    Delete,
    /// Other objects merged into this one.
    Merge,
}

impl EventKind {
    /// The kind an event name stands for (an unknown name is taken as an update: what the
    /// stream's filters treat it as).
    pub fn from_name(name: &str) -> EventKind {
        match name {
            "create" => EventKind::Create,
            "delete" => EventKind::Delete,
            "merge" => EventKind::Merge,
            _ => EventKind::Update,
        }
    }

    /// The event's `type` (and SSE event name).
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Create => "create",
            EventKind::Update => "update",
            EventKind::Delete => "delete",
            EventKind::Merge => "merge",
        }
    }
}

/// What an event says.
#[derive(Debug, Clone)]
pub enum EventBody {
    /// A change of a stored object.
    Change {
        /// The object after the change (a deletion: as it was last).
        object: Arc<StoredObject>,
        /// The object before an update or a merge.
        previous: Option<Arc<StoredObject>>,
        /// The objects a merge absorbed, as they were.
        sources: Vec<Arc<StoredObject>>,
    },
    /// An event given whole (a test's or a scenario's): the SSE event name and its data
    /// payload, sent as they are.
    Injected {
        /// SSE event name (`create`, `update`, `merge`, or anything a test wants to send).
        name: Arc<str>,
        /// The `data:` payload.
        payload: Arc<Value>,
    },
}

/// One entry of the event log.
#[derive(Debug, Clone)]
pub struct KnowledgeEvent {
    /// Its stream id.
    pub id: EventId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened (an injected event: the kind its name says, `Update` when it names none).
    pub kind: EventKind,
    /// Who did it: the platform's `origin` object (`None`: the platform itself).
    pub origin: Option<Arc<Value>>,
    /// What it says.
    pub body: EventBody,
}

impl KnowledgeEvent {
    /// The object of a change event.
    pub fn object(&self) -> Option<&Arc<StoredObject>> {
        match &self.body {
            EventBody::Change { object, .. } => Some(object),
            EventBody::Injected { .. } => None,
        }
    }
}

/// Events kept by default: the platform's deployments trim their stream at
/// `redis:trimming`, 2,000,000 in the documented configuration.
pub const DEFAULT_RETENTION: usize = 2_000_000;

/// What readers derive from recent events (the live stream's wire form of each), kept
/// for the latest [`DERIVED_KEPT`] events so that N readers of the stream compute it once
/// rather than N times. Type-erased: the store does not know what the stream renders.
#[derive(Default)]
pub struct Derived {
    kept: std::sync::Mutex<Kept>,
}

/// Derived values by event, and the order they came in (the oldest go first).
type Kept = (HashMap<EventId, Arc<dyn Any + Send + Sync>>, VecDeque<EventId>);

/// Events whose derived form is kept.
pub const DERIVED_KEPT: usize = 8192;

impl Derived {
    /// The value derived from event `id`, computed by `derive` on the first call.
    pub fn get_or_derive<T: Any + Send + Sync>(&self, id: EventId, derive: impl FnOnce() -> T) -> Arc<T> {
        let mut kept = self.kept.lock().expect("derived events lock");
        if let Some(found) = kept.0.get(&id).cloned().and_then(|v| v.downcast::<T>().ok()) {
            return found;
        }
        let value = Arc::new(derive());
        let (map, order) = &mut *kept;
        map.insert(id, value.clone());
        order.push_back(id);
        while order.len() > DERIVED_KEPT {
            if let Some(old) = order.pop_front() {
                map.remove(&old);
            }
        }
        value
    }
}

impl Clone for Derived {
    /// A copy derives again (drafts copy the knowledge; what was derived is only a cache).
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl fmt::Debug for Derived {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Derived").finish_non_exhaustive()
    }
}

/// The event log of one knowledge store.
#[derive(Debug, Clone)]
pub struct EventLog {
    events: Vec<KnowledgeEvent>,
    dropped: u64,
    last: EventId,
    retention: usize,
    derived: Derived,
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog { events: Vec::new(), dropped: 0, last: EventId::ZERO, retention: DEFAULT_RETENTION, derived: Derived::default() }
    }
}

impl EventLog {
    /// The id the next event written at `now` gets: `<now>-0`, or the next counter of the
    /// last id when the clock has not moved past it (a manual clock, or many writes in one
    /// millisecond).
    fn next_id(&mut self, now: DateTime<Utc>) -> EventId {
        let at = EventId::at(now);
        self.last = if at > self.last { at } else { EventId { ms: self.last.ms, seq: self.last.seq + 1 } };
        self.last
    }

    /// Appends an event written at `at`; returns its id.
    pub fn push(&mut self, at: DateTime<Utc>, kind: EventKind, origin: Option<Arc<Value>>, body: EventBody) -> EventId {
        let id = self.next_id(at);
        self.events.push(KnowledgeEvent { id, at, kind, origin, body });
        let max = self.retention;
        if self.events.len() > max + max / 10 {
            let excess = self.events.len() - max;
            self.events.drain(..excess);
            self.dropped += excess as u64;
        }
        id
    }

    /// The id an idle stream reports at `now` (`<now>-0`, as the platform's empty read):
    /// from now on every new event's id is above it, so a consumer that saved it misses
    /// nothing. Never below the last event's id.
    pub fn watermark(&mut self, now: DateTime<Utc>) -> EventId {
        let at = EventId::at(now);
        if at > self.last {
            self.last = at;
        }
        self.last.max(at)
    }

    /// The events kept, oldest first.
    pub fn all(&self) -> &[KnowledgeEvent] {
        &self.events
    }

    /// The events strictly after `id`, oldest first.
    pub fn after(&self, id: EventId) -> &[KnowledgeEvent] {
        let from = self.events.partition_point(|e| e.id <= id);
        &self.events[from..]
    }

    /// The last id given (0-0 before any).
    pub fn last_id(&self) -> EventId {
        self.last
    }

    /// The first event kept.
    pub fn first(&self) -> Option<&KnowledgeEvent> {
        self.events.first()
    }

    /// Events let go, past the retention.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// How many events are kept (at least 1; the oldest go first, a tenth at a time).
    pub fn set_retention(&mut self, events: usize) {
        self.retention = events.max(1);
    }

    /// The retention in events.
    pub fn retention(&self) -> usize {
        self.retention
    }

    /// What readers derived from recent events.
    pub fn derived(&self) -> &Derived {
        &self.derived
    }

    /// An empty log that goes on from where `self` ended (ids are never reused) with the
    /// same retention.
    pub fn restarted(&self) -> EventLog {
        EventLog { events: Vec::new(), dropped: 0, last: self.last, retention: self.retention, derived: Derived::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injected() -> EventBody {
        EventBody::Injected { name: "update".into(), payload: Arc::new(Value::Null) }
    }

    #[test]
    fn ids_increase_within_a_millisecond_and_follow_the_clock() {
        let mut log = EventLog::default();
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let a = log.push(t, EventKind::Update, None, injected());
        let b = log.push(t, EventKind::Update, None, injected());
        let c = log.push(t + chrono::TimeDelta::milliseconds(5), EventKind::Update, None, injected());
        assert_eq!((a.seq, b.seq, c.seq), (0, 1, 0));
        assert_eq!(b.ms, a.ms);
        assert_eq!(log.after(a).len(), 2, "strictly after");
        assert_eq!(log.after(EventId::ZERO).len(), 3);
        assert!(log.after(c).is_empty());
    }

    #[test]
    fn an_idle_watermark_is_below_every_later_event() {
        let mut log = EventLog::default();
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let mark = log.watermark(t);
        assert_eq!(mark, EventId::at(t));
        let next = log.push(t, EventKind::Create, None, injected());
        assert!(next > mark, "{next} after {mark}");
        assert_eq!(log.after(mark).len(), 1);
    }

    #[test]
    fn retention_drops_the_oldest_and_counts_them() {
        let mut log = EventLog::default();
        log.set_retention(10);
        let t: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        for _ in 0..100 {
            log.push(t, EventKind::Update, None, injected());
        }
        assert!(log.all().len() <= 11);
        assert_eq!(log.dropped(), 100 - log.all().len() as u64);
        let restarted = log.restarted();
        assert!(restarted.all().is_empty());
        assert_eq!(restarted.last_id(), log.last_id(), "ids are never reused");
    }
}
