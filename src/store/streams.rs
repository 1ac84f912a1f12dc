//! Live stream collections (the platform's named streams) and the connections made to the
//! live stream.
//!
//! A STREAM connector with the platform's Connector role cannot read the raw or the `live`
//! stream (both need BYPASS): it reads a named collection, `/stream/<collection id>`,
//! which filters the events (its `filters`, a FilterGroup kept as JSON text as the
//! platform keeps it), may be public, and may be stopped (`stream_live: false`: 410).
//!
//! Every connection is recorded — who, on which stream, from which position, what it was
//! sent, how it ended — so tests, the control API and the conformance gate can tell what a
//! connector consumed; the platform shows the same as a collection's `consumers` (7.x).

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::events::EventId;

/// A live stream collection.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, StreamCollection};
/// let platform = MockPlatform::start().await;
/// let malware = StreamCollection::new("Malware only")
///     .filters(serde_json::json!({"mode": "and", "filterGroups": [],
///         "filters": [{"key": ["entity_type"], "values": ["Malware"], "operator": "eq", "mode": "or"}]}));
/// let id = platform.add_stream(malware).expect("valid filters");
/// assert!(platform.stream(&id).expect("stored").stream_live);
/// # }
/// ```
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StreamCollection {
    /// Internal id (a UUID v4, as the platform's); the path of `/stream/<id>`.
    pub id: String,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Its FilterGroup as JSON text (`None`: every event).
    pub filters: Option<String>,
    /// Started (`false`: the stream answers 410 `This live stream is stopped`).
    pub stream_live: bool,
    /// Readable without a token.
    pub stream_public: bool,
    /// Who may read it besides BYPASS users (user, group or organisation ids; empty:
    /// every user with `TAXIIAPI`).
    pub authorized_members: Vec<String>,
    /// 7.x origin filters (a FilterGroup on `members_user`, `members_group`,
    /// `members_organization`, matched against each event's origin). A collection with
    /// them recovers nothing: a reader asking for a recovery is sent `no-recover` instead.
    pub origin_filters: Option<String>,
}

impl StreamCollection {
    /// A started, private collection of every event.
    ///
    /// ```
    /// use opencti_mock::StreamCollection;
    /// let feed = StreamCollection::new("feed");
    /// assert!(feed.stream_live && !feed.stream_public && feed.filters.is_none());
    /// // a fresh UUID v4 each time, as the platform's
    /// assert_ne!(feed.id, StreamCollection::new("feed").id);
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        StreamCollection {
            id: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            description: None,
            filters: None,
            stream_live: true,
            stream_public: false,
            authorized_members: Vec::new(),
            origin_filters: None,
        }
    }

    /// With 7.x origin filters (a FilterGroup on `members_user`, `members_group`,
    /// `members_organization`): only events whose origin matches are sent, and recovery is
    /// off (`no-recover`).
    ///
    /// ```
    /// let mine = opencti_mock::StreamCollection::new("mine").origin_filters(serde_json::json!({"mode": "and", "filterGroups": [],
    ///     "filters": [{"key": ["members_user"], "values": ["a-user-id"], "operator": "eq", "mode": "or"}]}));
    /// assert!(mine.origin_filters.is_some());
    /// ```
    pub fn origin_filters(mut self, filters: serde_json::Value) -> Self {
        self.origin_filters = Some(filters.to_string());
        self
    }

    /// With this id instead of a fresh one.
    ///
    /// ```
    /// let feed = opencti_mock::StreamCollection::new("feed").with_id("5a2c6f0e-8a41-4d0b-9d3e-1f2a3b4c5d6e");
    /// assert_eq!(feed.id, "5a2c6f0e-8a41-4d0b-9d3e-1f2a3b4c5d6e");
    /// ```
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// With these filters (a FilterGroup).
    ///
    /// ```
    /// let labelled = opencti_mock::StreamCollection::new("labelled").filters(serde_json::json!({"mode": "and", "filterGroups": [],
    ///     "filters": [{"key": ["objectLabel"], "values": ["forward"], "operator": "eq", "mode": "or"}]}));
    /// // kept as JSON text, as the platform keeps it
    /// assert!(labelled.filters.unwrap().contains("objectLabel"));
    /// ```
    pub fn filters(mut self, filters: serde_json::Value) -> Self {
        self.filters = Some(filters.to_string());
        self
    }

    /// With a description.
    ///
    /// ```
    /// let feed = opencti_mock::StreamCollection::new("feed").description("what the SIEM reads");
    /// assert_eq!(feed.description.as_deref(), Some("what the SIEM reads"));
    /// ```
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = Some(description.into());
        self
    }

    /// Readable without a token.
    ///
    /// ```
    /// assert!(opencti_mock::StreamCollection::new("open feed").public().stream_public);
    /// ```
    pub fn public(mut self) -> Self {
        self.stream_public = true;
        self
    }

    /// Stopped: readers get 410.
    ///
    /// ```
    /// assert!(!opencti_mock::StreamCollection::new("paused").stopped().stream_live);
    /// ```
    pub fn stopped(mut self) -> Self {
        self.stream_live = false;
        self
    }

    /// Only these members (and BYPASS users) may read it.
    ///
    /// ```
    /// let restricted = opencti_mock::StreamCollection::new("restricted").members(["a-user-id"]);
    /// assert_eq!(restricted.authorized_members, ["a-user-id"]);
    /// ```
    pub fn members(mut self, ids: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.authorized_members = ids.into_iter().map(Into::into).collect();
        self
    }
}

/// How a stream connection ended, or why it was refused.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{ConnectionEnd, MockPlatform, StreamCollection};
/// let platform = MockPlatform::start().await;
/// let id = platform.add_stream(StreamCollection::new("paused").stopped()).unwrap();
/// reqwest::Client::new().get(format!("{}/stream/{id}", platform.url())).send().await.unwrap();
/// let refused = ConnectionEnd::Refused { status: 410, reason: "This live stream is stopped".into() };
/// assert_eq!(platform.stream_connections()[0].end, Some(refused));
/// # }
/// ```
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConnectionEnd {
    /// Refused before the stream began: the status and the reason phrase sent.
    Refused {
        /// HTTP status.
        status: u16,
        /// Reason phrase.
        reason: String,
    },
    /// The client went away.
    ClientClosed,
    /// The platform closed it (its close, a test dropping connections).
    ServerClosed,
}

/// One request to the live stream.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::MockPlatform;
/// let platform = MockPlatform::start().await;
/// // every request to /stream…, refused ones included, in order
/// assert!(platform.stream_connections().is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StreamConnection {
    /// The connection's id (`connectionId` of its `connected` event).
    pub connection_id: String,
    /// The stream: `raw` (`/stream`), `live`, or a collection id.
    pub stream: String,
    /// The user, when the request had a valid token.
    pub user_id: Option<String>,
    /// The connector the user belongs to, when it is a connector's user.
    pub connector_id: Option<String>,
    /// When it was made.
    pub connected_at: DateTime<Utc>,
    /// The start position asked (`from`, `Last-Event-ID`), as sent.
    pub start_from: Option<String>,
    /// The recovery date asked (`recover`), as sent.
    pub recover: Option<String>,
    /// The flags as sent (`listen-delete`, `no-dependencies`, `with-inferences`).
    pub flags: Vec<(String, String)>,
    /// Data events sent (recovery and dependencies included).
    pub events_sent: u64,
    /// Ids of the data events sent, in order (the first 2,000).
    pub sent_ids: Vec<String>,
    /// Heartbeats sent.
    pub heartbeats: u64,
    /// The last id sent (data or heartbeat).
    pub last_event_id: Option<String>,
    /// How it ended (`None`: still open).
    pub end: Option<ConnectionEnd>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
}

/// Ids kept per connection in [`StreamConnection::sent_ids`] (the first ones: with
/// [`CONNECTIONS_KEPT`] connections kept, at most a few tens of MB whatever readers do).
pub const SENT_IDS_KEPT: usize = 2_000;

/// Connections kept (the oldest go first).
pub const CONNECTIONS_KEPT: usize = 1_000;

/// The collections of one platform and the connections to its stream.
#[derive(Debug, Default, Clone)]
pub struct StreamCollections {
    collections: Vec<StreamCollection>,
    connections: Vec<StreamConnection>,
}

impl StreamCollections {
    /// Adds (or replaces, same id) a collection.
    pub fn add(&mut self, collection: StreamCollection) {
        self.collections.retain(|c| c.id != collection.id);
        self.collections.push(collection);
    }

    /// A collection by id.
    pub fn get(&self, id: &str) -> Option<&StreamCollection> {
        self.collections.iter().find(|c| c.id == id)
    }

    /// A collection by id, to edit.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut StreamCollection> {
        self.collections.iter_mut().find(|c| c.id == id)
    }

    /// Deletes a collection; whether it existed.
    pub fn delete(&mut self, id: &str) -> bool {
        let before = self.collections.len();
        self.collections.retain(|c| c.id != id);
        before != self.collections.len()
    }

    /// Every collection, in creation order.
    pub fn all(&self) -> &[StreamCollection] {
        &self.collections
    }

    /// Records a connection.
    pub fn connect(&mut self, connection: StreamConnection) {
        if self.connections.len() >= CONNECTIONS_KEPT {
            self.connections.remove(0);
        }
        self.connections.push(connection);
    }

    /// A recorded connection, to update.
    pub fn connection_mut(&mut self, connection_id: &str) -> Option<&mut StreamConnection> {
        self.connections.iter_mut().rev().find(|c| c.connection_id == connection_id)
    }

    /// Every recorded connection, oldest first.
    pub fn connections(&self) -> &[StreamConnection] {
        &self.connections
    }

    /// Ends the open connections to `stream` (`None`: to every stream), as a platform
    /// restart does: each connection's task sees it and stops. Returns how many.
    pub fn close_open(&mut self, stream: Option<&str>, now: DateTime<Utc>) -> usize {
        let mut closed = 0;
        for c in self.connections.iter_mut().filter(|c| c.end.is_none() && stream.is_none_or(|id| c.stream == id)) {
            c.end = Some(ConnectionEnd::ServerClosed);
            c.ended_at = Some(now);
            closed += 1;
        }
        closed
    }

    /// Forgets the connections (the collections stay).
    pub fn clear_connections(&mut self) {
        self.connections.clear();
    }
}

impl StreamConnection {
    /// A connection to `stream` made now, nothing sent yet.
    pub(crate) fn new(stream: &str, user_id: Option<String>, now: DateTime<Utc>) -> Self {
        StreamConnection {
            connection_id: uuid::Uuid::new_v4().to_string(),
            stream: stream.to_string(),
            user_id,
            connector_id: None,
            connected_at: now,
            start_from: None,
            recover: None,
            flags: Vec::new(),
            events_sent: 0,
            sent_ids: Vec::new(),
            heartbeats: 0,
            last_event_id: None,
            end: None,
            ended_at: None,
        }
    }

    /// Counts a data event sent under `id`.
    pub(crate) fn sent(&mut self, id: EventId) {
        self.events_sent += 1;
        if self.sent_ids.len() < SENT_IDS_KEPT {
            self.sent_ids.push(id.to_string());
        }
        self.last_event_id = Some(id.to_string());
    }

    /// Counts a heartbeat sent under `id`.
    pub(crate) fn heartbeat(&mut self, id: EventId) {
        self.heartbeats += 1;
        self.last_event_id = Some(id.to_string());
    }
}
