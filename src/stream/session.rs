//! One connection to the live stream: who may open it, and what it is sent, in order.
//!
//! [`admit`] applies the platform's rules (`computeUserAndCollection`, `stream.md` §1) and
//! answers a refusal as the platform does — a status and a reason phrase, nothing else.
//! [`open`] starts the connection's task, which sends, through a bounded channel (a slow
//! reader slows only itself, as the platform's `drain` wait):
//! 1. `connected`, without an id;
//! 2. in recovery mode, every matching object changed in the window, as `create` with
//!    `init-create` and the id `<updated_at ms>-0`, each after its missing references;
//! 3. the live events after its position, each after its missing references (and, without
//!    `no-dependencies`, its core relationships), re-labelled as the platform does when an
//!    update moves an object into (`create`) or out of (`delete`) what the reader sees;
//! 4. a `heartbeat` every period carrying the position: the last event read, or — while
//!    the stream is idle — `<now>-0`, which every later event's id is above.
//!
//! Heartbeats are real events with ids, not comment lines: pycti ignores an event without
//! an id, so only they feed its 45-second watchdog and move its saved `start_from`.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::filter::{OriginFilter, StreamFilter};
use super::params::StreamParams;
use super::render;
use crate::core::Core;
use crate::stix::OPENCTI_EXTENSION;
use crate::store::State;
use crate::store::access::Clearance;
use crate::store::events::{EventBody, EventId, EventKind};
use crate::store::knowledge::{Knowledge, StoredObject};
use crate::store::streams::{ConnectionEnd, StreamCollection, StreamConnection};
use crate::store::users::User;

/// A refusal: the status and the reason phrase (the body is empty, as the platform's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// HTTP status.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
}

impl Refusal {
    fn new(status: u16, reason: &str) -> Self {
        Refusal { status, reason: reason.to_string() }
    }
}

/// `You are not authenticated, please check your credentials`.
pub const NOT_AUTHENTICATED: &str = "You are not authenticated, please check your credentials";
/// `You are not authorized, please check your credentials`.
pub const NOT_AUTHORIZED: &str = "You are not authorized, please check your credentials";
/// `This live stream is stopped`.
pub const STOPPED: &str = "This live stream is stopped";
/// The raw stream's refusal of a user without BYPASS.
pub const RAW_BYPASS_ONLY: &str = "Consume generic stream is only authorized for bypass user";
/// A collection filtered on markings the user is allowed none of.
pub const MARKINGS_NEEDED: &str = "You need to have access to specific markings for this live stream";

/// Which stream a request reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `GET /stream`: every event, unchanged, for BYPASS users.
    Raw,
    /// `GET /stream/live`, or a collection id.
    Named(String),
}

impl Route {
    /// The name recorded for the connection (`raw`, `live` or the collection id).
    pub fn name(&self) -> &str {
        match self {
            Route::Raw => "raw",
            Route::Named(id) => id,
        }
    }
}

/// An admitted request.
#[derive(Debug, Clone)]
pub struct Admitted {
    /// The route.
    pub route: Route,
    /// The collection read (`None`: raw or live).
    pub collection: Option<StreamCollection>,
    /// The user (`None`: a public collection read anonymously).
    pub user: Option<User>,
}

/// The platform's admission rules, in its order.
pub fn admit(s: &State, route: &Route, user: Option<&User>) -> Result<Admitted, Refusal> {
    let admitted = |collection: Option<StreamCollection>| Admitted { route: route.clone(), collection, user: user.cloned() };
    let id = match route {
        Route::Raw => {
            return match user {
                None => Err(Refusal::new(401, NOT_AUTHENTICATED)),
                Some(u) if !u.is_bypass() => Err(Refusal::new(401, RAW_BYPASS_ONLY)),
                Some(_) => Ok(admitted(None)),
            };
        }
        Route::Named(id) => id,
    };
    if id == "live" {
        return match user {
            // Without a user the platform goes on as SYSTEM, then refuses a private stream.
            None => Err(Refusal::new(401, NOT_AUTHENTICATED)),
            Some(u) if !u.is_bypass() => Err(Refusal::new(401, NOT_AUTHORIZED)),
            Some(_) => Ok(admitted(None)),
        };
    }
    let Some(collection) = s.streams.get(id) else { return Err(Refusal::new(401, NOT_AUTHORIZED)) };
    if !collection.stream_live {
        return Err(Refusal::new(410, STOPPED));
    }
    if collection.stream_public {
        return Ok(admitted(Some(collection.clone())));
    }
    let Some(u) = user.filter(|u| u.has_any_capability(&["TAXIIAPI"])) else {
        return Err(Refusal::new(401, NOT_AUTHORIZED));
    };
    if !collection.authorized_members.is_empty()
        && !u.is_bypass()
        && !collection.authorized_members.iter().any(|m| *m == u.id || u.groups.contains(m))
    {
        return Err(Refusal::new(401, NOT_AUTHORIZED));
    }
    let filter = StreamFilter::parse(collection.filters.as_deref(), &s.knowledge).unwrap_or_default();
    let markings = filter.marking_values();
    let clearance = Clearance::of(u, &s.knowledge);
    if !markings.is_empty() && !markings.iter().any(|m| clearance.allows(&s.knowledge, m)) {
        return Err(Refusal::new(401, MARKINGS_NEEDED));
    }
    Ok(admitted(Some(collection.clone())))
}

/// The connector a user is the user of (the last registered), for the connection records.
pub fn connector_of(s: &State, user_id: &str) -> Option<String> {
    s.connectors.all().filter(|c| c.connector_user_id == user_id).last().map(|c| c.id().to_string())
}

/// One message on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// `id:` (none for `connected`).
    pub id: Option<EventId>,
    /// `event:`.
    pub name: String,
    /// `data:`, one line of JSON.
    pub data: String,
}

/// Messages buffered per connection before the reader must catch up.
const CHANNEL: usize = 256;
/// Events read per batch (the platform's `XREAD COUNT 100`).
const BATCH: usize = 100;

/// Opens a connection: records it and starts its task. `Err` for a recovery asked without
/// a start (the platform's 500).
pub fn open(core: &Core, admitted: Admitted, params: StreamParams) -> Result<(String, mpsc::Receiver<Frame>), Refusal> {
    let recovery = params.recovery().map_err(|e| Refusal::new(500, &format!("Error in stream {}: {e}", admitted.route.name())))?;
    let now = core.store.clock().now();
    let mut record = StreamConnection::new(admitted.route.name(), admitted.user.as_ref().map(|u| u.id.clone()), now);
    record.start_from = params.start_raw.clone();
    record.recover = params.recover_raw.clone();
    record.flags = params.flags.clone();
    let connection_id = record.connection_id.clone();
    core.store.write(|s| {
        record.connector_id = admitted.user.as_ref().and_then(|u| connector_of(s, &u.id));
        s.streams.connect(record);
    });
    let (tx, rx) = mpsc::channel(CHANNEL);
    let session = Session {
        core: core.clone(),
        connection_id: connection_id.clone(),
        admitted,
        params,
        cache: Cache::new(core.settings.app.live_stream.cache_max_size),
        tx,
    };
    core.tasks.spawn("live stream connection", session.run(recovery));
    Ok((connection_id, rx))
}

/// STIX ids already sent on a connection (not sent again as dependencies), the oldest
/// forgotten first.
struct Cache {
    ids: HashSet<String>,
    order: VecDeque<String>,
    max: usize,
}

impl Cache {
    fn new(max: usize) -> Self {
        Cache { ids: HashSet::new(), order: VecDeque::new(), max: max.max(1) }
    }

    fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn insert(&mut self, id: &str) {
        if self.ids.insert(id.to_string()) {
            self.order.push_back(id.to_string());
            if self.order.len() > self.max
                && let Some(old) = self.order.pop_front()
            {
                self.ids.remove(&old);
            }
        }
    }
}

/// The reference properties whose targets the platform sends before an element.
const REF_FIELDS: &[&str] =
    &["created_by_ref", "object_marking_refs", "object_refs", "source_ref", "target_ref", "sighting_of_ref", "where_sighted_refs"];

struct Session {
    core: Core,
    connection_id: String,
    admitted: Admitted,
    params: StreamParams,
    cache: Cache,
    tx: mpsc::Sender<Frame>,
}

/// Why the task stops.
enum Stop {
    Client,
    Server,
}

impl Session {
    fn raw(&self) -> bool {
        self.admitted.route == Route::Raw
    }

    /// What the reader may see now: its clearance and the collection's filters (`None` when
    /// the collection was stopped or deleted since: the platform then sends nothing more).
    fn view(&self, s: &State) -> Option<(Clearance, StreamFilter, OriginFilter)> {
        let clearance = self.admitted.user.as_ref().map_or_else(Clearance::unlimited, |u| Clearance::of(u, &s.knowledge));
        match &self.admitted.collection {
            None => Some((clearance, StreamFilter::none(), OriginFilter::default())),
            Some(c) => {
                let current = s.streams.get(&c.id).filter(|c| c.stream_live)?;
                Some((
                    clearance,
                    StreamFilter::parse(current.filters.as_deref(), &s.knowledge).unwrap_or_default(),
                    OriginFilter::parse(current.origin_filters.as_deref()).unwrap_or_default(),
                ))
            }
        }
    }

    async fn send(&self, frame: Frame) -> Result<(), Stop> {
        self.tx.send(frame).await.map_err(|_| Stop::Client)
    }

    fn closed_by_server(&self, s: &State) -> bool {
        // A connection pushed out of the record by newer ones stays open.
        s.streams.connections().iter().rev().find(|c| c.connection_id == self.connection_id).is_some_and(|c| c.end.is_some())
    }

    async fn run(mut self, recovery: Option<(EventId, EventId)>) {
        let end = match self.serve(recovery).await {
            Stop::Client => ConnectionEnd::ClientClosed,
            Stop::Server => ConnectionEnd::ServerClosed,
        };
        let now = self.core.store.clock().now();
        let id = self.connection_id.clone();
        self.core.store.write(|s| {
            if let Some(c) = s.streams.connection_mut(&id)
                && c.end.is_none()
            {
                c.end = Some(end);
                c.ended_at = Some(now);
            }
        });
    }

    async fn serve(&mut self, recovery: Option<(EventId, EventId)>) -> Stop {
        let connected = self.core.store.read(|s| {
            let log = s.knowledge.event_log();
            let last = log.last_id();
            let (first, size) = log.first().map_or((last, 0), |e| (e.id, log.all().len()));
            json!({
                "lastEventId": last.to_string(),
                "firstEventId": first.to_string(),
                "firstEventDate": crate::store::clock::iso(first.date()),
                "lastEventDate": crate::store::clock::iso(last.date()),
                "streamSize": size,
                "connectionId": self.connection_id,
            })
        });
        if let Err(stop) = self.send(Frame { id: None, name: "connected".into(), data: connected.to_string() }).await {
            return stop;
        }
        // The heartbeat's id: the reader's own start until something is read.
        let mut last_id: Option<EventId> = self.params.start;
        // 7.x: a collection with origin filters recovers nothing; the reader is told, and
        // resumes from the recovery position.
        let origin_filtered = self.admitted.collection.as_ref().is_some_and(|c| {
            OriginFilter::parse(c.origin_filters.as_deref()).is_ok_and(|f| f.is_set())
        });
        let mut position = match (self.params.start, recovery) {
            (_, Some((_, until))) if origin_filtered => {
                let data = json!({"lastEventId": until.to_string()}).to_string();
                if let Err(stop) = self.send(Frame { id: Some(until), name: "no-recover".into(), data }).await {
                    return stop;
                }
                last_id = Some(until);
                until
            }
            (_, Some((from, until))) => {
                if let Err(stop) = self.recover(from, until).await {
                    return stop;
                }
                last_id = Some(until);
                until
            }
            (Some(start), None) => start,
            (None, None) => self.core.store.read(|s| s.knowledge.event_log().last_id()),
        };
        let period = Duration::from_millis(self.core.settings.app.live_stream.heartbeat_period.max(1));
        let metrics_every = Duration::from_millis(self.core.settings.app.live_stream.consumer_metrics_period);
        let mut metrics_at = tokio::time::Instant::now();
        let opened = tokio::time::Instant::now();
        // Heartbeats keep their own time, as the platform's timer does: a busy stream whose
        // events this reader does not see still tells it where it stands.
        let mut next_heartbeat = tokio::time::Instant::now() + period;
        let mut changes = self.core.store.subscribe();
        loop {
            changes.borrow_and_update();
            // A scenario's stream silence: nothing is written, not even a heartbeat, until it
            // ends (a platform stuck resolving dependencies; pycti's 45 s watchdog).
            if self.core.store.read(|s| s.faults.stream_silent()) {
                tokio::select! {
                    _ = self.core.tasks.cancelled() => return Stop::Server,
                    _ = self.tx.closed() => return Stop::Client,
                    changed = changes.changed() => if changed.is_err() { return Stop::Server },
                }
                next_heartbeat = tokio::time::Instant::now() + period;
                continue;
            }
            let store = self.core.store.clone();
            let (frames, next, closed) = store.read(|s| {
                let closed = self.closed_by_server(s);
                let (frames, next) = self.batch(s, position);
                (frames, next, closed)
            });
            if closed {
                return Stop::Server;
            }
            if let Some(next) = next {
                let sent: Vec<EventId> = frames.iter().filter_map(|f| f.id).collect();
                for frame in frames {
                    if let Err(stop) = self.send(frame).await {
                        return stop;
                    }
                }
                position = next;
                last_id = Some(next);
                self.record(|c| sent.iter().for_each(|id| c.sent(*id)));
                if tokio::time::Instant::now() >= next_heartbeat {
                    next_heartbeat = tokio::time::Instant::now() + period;
                    if let Err(stop) = self.heartbeat(next, &mut metrics_at, metrics_every, opened).await {
                        return stop;
                    }
                }
                continue;
            }
            tokio::select! {
                _ = self.core.tasks.cancelled() => return Stop::Server,
                _ = self.tx.closed() => return Stop::Client,
                changed = changes.changed() => {
                    if changed.is_err() {
                        return Stop::Server;
                    }
                }
                _ = tokio::time::sleep_until(next_heartbeat) => {
                    next_heartbeat = tokio::time::Instant::now() + period;
                    // Idle: the position moves to now, as the platform's empty read does.
                    let now = self.core.store.clock().now();
                    let mark = self.core.store.write_quiet(|s| {
                        let caught_up = s.knowledge.event_log().after(position).is_empty();
                        caught_up.then(|| s.knowledge.event_log_mut().watermark(now))
                    });
                    if let Some(mark) = mark {
                        // A reader that asked for a position ahead of now keeps it.
                        position = position.max(mark);
                        last_id = Some(mark);
                    }
                    if let Some(id) = last_id
                        && let Err(stop) = self.heartbeat(id, &mut metrics_at, metrics_every, opened).await
                    {
                        return stop;
                    }
                }
            }
        }
    }

    /// A heartbeat with the position — only when nothing is waiting to be written, as the
    /// platform's — and, when configured and due, `consumer_metrics` with the same id.
    async fn heartbeat(
        &self,
        id: EventId,
        metrics_at: &mut tokio::time::Instant,
        metrics_every: Duration,
        opened: tokio::time::Instant,
    ) -> Result<(), Stop> {
        if self.tx.capacity() != self.tx.max_capacity() {
            return Ok(());
        }
        let date = crate::store::clock::iso(id.date());
        self.send(Frame { id: Some(id), name: "heartbeat".into(), data: json!(date).to_string() }).await?;
        self.record(|c| c.heartbeat(id));
        if !metrics_every.is_zero() && metrics_at.elapsed() >= metrics_every {
            *metrics_at = tokio::time::Instant::now();
            let data = self.metrics(id, opened.elapsed());
            self.send(Frame { id: Some(id), name: "consumer_metrics".into(), data }).await?;
        }
        Ok(())
    }

    /// The 7.x `consumer_metrics` payload: the connection's rates and lag (events per
    /// second since it opened; the lag in seconds from its position to the stream's head).
    fn metrics(&self, position: EventId, open_for: Duration) -> String {
        let (sent, head) = self.core.store.read(|s| {
            let sent = s.streams.connections().iter().rev().find(|c| c.connection_id == self.connection_id).map_or(0, |c| c.events_sent);
            (sent, s.knowledge.event_log().last_id())
        });
        let rate = sent as f64 / open_for.as_secs_f64().max(1.0);
        let rate = (rate * 100.0).round() / 100.0;
        let lag = head.ms.saturating_sub(position.ms) as f64 / 1000.0;
        json!({
            "connectionId": self.connection_id, "lastEventId": position.to_string(),
            "deliveryRate": rate, "processingRate": rate, "resolutionRate": rate, "productionRate": rate,
            "timeLag": lag, "estimatedOutOfDepth": null,
        })
        .to_string()
    }

    fn record(&self, f: impl FnOnce(&mut StreamConnection)) {
        let id = &self.connection_id;
        self.core.store.write_quiet(|s| {
            if let Some(c) = s.streams.connection_mut(id) {
                f(c);
            }
        });
    }

    /// Sends every matching object changed in `(from, until]` as `create` (`init-create`).
    async fn recover(&mut self, from: EventId, until: EventId) -> Result<(), Stop> {
        let (from_date, until_date) = (from.date(), until.date());
        let store = self.core.store.clone();
        let frames = store.read(|s| {
            let Some((clearance, filter, _)) = self.view(s) else { return Vec::new() };
            let mut objects: Vec<Arc<StoredObject>> = s
                .knowledge
                .all()
                .filter(|o| o.updated_at >= from_date && o.updated_at <= until_date)
                .filter_map(|o| s.knowledge.get_shared(&o.internal_id.to_string()))
                .collect();
            objects.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then_with(|| a.internal_id.cmp(&b.internal_id)));
            let mut frames = Vec::new();
            let mut relations = Relations::default();
            for obj in objects {
                if self.cache.contains(&obj.standard_id) || !clearance.can_see(&s.knowledge, &obj) {
                    continue;
                }
                let data = render::data(&obj);
                if !filter.matches(&data) || (!self.params.with_inferences && inferred(&data)) {
                    continue;
                }
                let id = EventId::at(obj.updated_at);
                self.dependencies(s, &clearance, &data, id, &mut frames, &mut relations);
                let payload = render::initial(&obj, &s.knowledge, render::INIT_CREATE);
                self.cache.insert(&obj.standard_id);
                frames.push(Frame { id: Some(id), name: "create".into(), data: payload.to_string() });
            }
            frames
        });
        let sent: Vec<EventId> = frames.iter().filter_map(|f| f.id).collect();
        for frame in frames {
            self.send(frame).await?;
        }
        self.record(|c| sent.iter().for_each(|id| c.sent(*id)));
        Ok(())
    }

    /// The frames of the next batch after `position`, and the batch's last id (`None`: no
    /// event after `position`).
    fn batch(&mut self, s: &State, position: EventId) -> (Vec<Frame>, Option<EventId>) {
        let events = s.knowledge.event_log().after(position);
        let Some(last) = events[..events.len().min(BATCH)].last().map(|e| e.id) else { return (Vec::new(), None) };
        let Some((clearance, filter, origins)) = self.view(s) else { return (Vec::new(), Some(last)) };
        let mut frames = Vec::new();
        let mut relations = Relations::default();
        for (index, event) in events.iter().take(BATCH).enumerate() {
            let rendered = s.knowledge.event_log().derived().get_or_derive(event.id, || render::live(event, &s.knowledge));
            if self.raw() {
                if event.object().is_none_or(|o| clearance.can_see(&s.knowledge, o)) {
                    frames.push(Frame { id: Some(event.id), name: rendered.name.clone(), data: rendered.wire(None) });
                }
                continue;
            }
            if !rendered.current_version || (!self.params.with_inferences && inferred(&rendered.data)) {
                continue;
            }
            if !origins.matches(&rendered.origin) {
                continue;
            }
            let sees =
                |data: &Value, obj: Option<&StoredObject>| obj.is_none_or(|o| clearance.can_see(&s.knowledge, o)) && filter.matches(data);
            let (object, previous) = match &event.body {
                EventBody::Change { object, previous, .. } => (Some(&**object), previous.as_deref()),
                EventBody::Injected { .. } => (None, None),
            };
            let now_visible = sees(&rendered.data, object);
            let name = match event.kind {
                EventKind::Update => {
                    let before = rendered.previous.as_ref().is_some_and(|p| sees(p, previous));
                    match (before, now_visible) {
                        (true, false) if !self.params.no_deletes => Some("delete"),
                        (false, true) => Some("create"),
                        (true, true) => Some("update"),
                        _ => None,
                    }
                }
                EventKind::Delete => (now_visible && !self.params.no_deletes).then_some("delete"),
                _ => now_visible.then_some(""),
            };
            let Some(name) = name else { continue };
            let name = if name.is_empty() { rendered.name.clone() } else { name.to_string() };
            if name != "delete" {
                self.dependencies(s, &clearance, &rendered.data, event.id, &mut frames, &mut relations);
            }
            if let Some(id) = rendered.data.get("id").and_then(Value::as_str) {
                self.cache.insert(id);
            }
            frames.push(Frame { id: Some(event.id), name, data: rendered.wire(Some(index)) });
        }
        (frames, Some(last))
    }

    /// The element's references not sent yet on this connection (deepest first), then —
    /// without `no-dependencies` — its core relationships not sent yet, each as `create`
    /// with `init-dependencies` under the trigger's id.
    fn dependencies(&mut self, s: &State, clearance: &Clearance, data: &Value, id: EventId, frames: &mut Vec<Frame>, relations: &mut Relations) {
        self.missing_refs(&s.knowledge, clearance, data, id, frames, 0);
        if self.params.no_dependencies {
            return;
        }
        let Some(element) = data.get("id").and_then(Value::as_str) else { return };
        let touching: Vec<Arc<StoredObject>> =
            relations.of(&s.knowledge).iter().filter(|o| o.body.contains(element)).cloned().collect();
        for rel in touching {
            if self.cache.contains(&rel.standard_id) || !clearance.can_see(&s.knowledge, &rel) {
                continue;
            }
            let rel_data = render::data(&rel);
            self.cache.insert(&rel.standard_id);
            self.missing_refs(&s.knowledge, clearance, &rel_data, id, frames, 0);
            let payload = render::initial(&rel, &s.knowledge, render::INIT_DEPENDENCIES);
            frames.push(Frame { id: Some(id), name: "create".into(), data: payload.to_string() });
        }
    }

    fn missing_refs(&mut self, k: &Knowledge, clearance: &Clearance, data: &Value, id: EventId, frames: &mut Vec<Frame>, depth: u8) {
        if depth > 4 {
            return;
        }
        let self_id = data.get("id").and_then(Value::as_str).unwrap_or("");
        let mut refs: Vec<String> = Vec::new();
        for field in REF_FIELDS {
            match data.get(*field) {
                Some(Value::String(r)) => refs.push(r.clone()),
                Some(Value::Array(items)) => refs.extend(items.iter().filter_map(Value::as_str).map(str::to_string)),
                _ => {}
            }
        }
        for r in refs {
            if r == self_id || self.cache.contains(&r) {
                continue;
            }
            let Some(obj) = k.get_shared(&r) else { continue };
            if !clearance.can_see(k, &obj) || self.cache.contains(&obj.standard_id) {
                continue;
            }
            self.cache.insert(&r);
            self.cache.insert(&obj.standard_id);
            let dep_data = render::data(&obj);
            self.missing_refs(k, clearance, &dep_data, id, frames, depth + 1);
            let payload = render::initial(&obj, k, render::INIT_DEPENDENCIES);
            frames.push(Frame { id: Some(id), name: "create".into(), data: payload.to_string() });
        }
    }
}

/// The stored relationships and sightings, listed once per batch (and only when a batch
/// needs them): an element's core relationships are looked up among them.
#[derive(Default)]
struct Relations(Option<Vec<Arc<StoredObject>>>);

impl Relations {
    fn of(&mut self, k: &Knowledge) -> &[Arc<StoredObject>] {
        self.0.get_or_insert_with(|| {
            k.all()
                .filter(|o| matches!(&*o.stix_type, "relationship" | "sighting"))
                .filter_map(|o| k.get_shared(&o.internal_id.to_string()))
                .collect()
        })
    }
}

/// Whether the STIX is inferred data (the OpenCTI extension's `is_inferred`).
fn inferred(data: &Value) -> bool {
    data.get("extensions").and_then(|e| e.get(OPENCTI_EXTENSION)).and_then(|x| x.get("is_inferred")) == Some(&Value::Bool(true))
}
