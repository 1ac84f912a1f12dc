//! The live stream from a Rust test: collections, connections, injected events.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::platform::MockPlatform;
use crate::store::events::{EventBody, EventId, EventKind};
use crate::store::streams::{StreamCollection, StreamConnection};

impl MockPlatform {
    /// Adds a live stream collection (readable at `/stream/<id>`); returns its id. Its
    /// filters are checked as the platform checks them.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, StreamCollection};
    /// let platform = MockPlatform::start().await;
    /// let bad = StreamCollection::new("by name").filters(serde_json::json!({"mode": "and", "filterGroups": [],
    ///     "filters": [{"key": ["name"], "values": ["x"]}]}));
    /// let refused = platform.add_stream(bad).expect_err("name has no stix tester");
    /// assert!(refused.to_string().contains("not compatible with the provided filter key"));
    /// let id = platform.add_stream(StreamCollection::new("everything")).unwrap();
    /// assert_eq!(platform.streams().len(), 1);
    /// # let _ = id;
    /// # }
    /// ```
    pub fn add_stream(&self, collection: StreamCollection) -> Result<String> {
        if let Some(filters) = &collection.filters {
            crate::stream::filter::validate(filters).map_err(|e| Error::Other(e.0))?;
        }
        let id = collection.id.clone();
        self.core().store.write(|s| s.streams.add(collection));
        Ok(id)
    }

    /// A collection by id.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.stream("no-such-stream").is_none());
    /// # }
    /// ```
    pub fn stream(&self, id: &str) -> Option<StreamCollection> {
        self.core().store.read(|s| s.streams.get(id).cloned())
    }

    /// Every collection.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert!(platform.streams().is_empty());
    /// # }
    /// ```
    pub fn streams(&self) -> Vec<StreamCollection> {
        self.core().store.read(|s| s.streams.all().to_vec())
    }

    /// Stops (`false`) or starts (`true`) a collection: a stopped stream answers 410
    /// `This live stream is stopped` to every new request, and — as on the platform — its
    /// open connections stay open but are sent nothing but heartbeats
    /// ([`MockPlatform::close_stream_connections`] ends them, as a platform restart would).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, StreamCollection};
    /// let platform = MockPlatform::start().await;
    /// let id = platform.add_stream(StreamCollection::new("feed")).unwrap();
    /// platform.set_stream_live(&id, false).unwrap();
    /// let answer = reqwest::Client::new().get(format!("{}/stream/{id}", platform.url())).bearer_auth(platform.token())
    ///     .send().await.unwrap();
    /// assert_eq!(answer.status(), 410);
    /// # }
    /// ```
    pub fn set_stream_live(&self, id: &str, live: bool) -> Result<()> {
        self.core().store.write(|s| match s.streams.get_mut(id) {
            Some(c) => {
                c.stream_live = live;
                Ok(())
            }
            None => Err(Error::NotFound(format!("no stream collection {id}"))),
        })
    }

    /// Ends the open connections to a stream (`None`: to every stream), as a platform
    /// restart does; returns how many. pycti reconnects after 3 s from the last id it
    /// received.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// assert_eq!(platform.close_stream_connections(None), 0);
    /// # }
    /// ```
    pub fn close_stream_connections(&self, stream: Option<&str>) -> usize {
        let now = self.core().store.clock().now();
        self.core().store.write(|s| s.streams.close_open(stream, now))
    }

    /// Every request made to the live stream (refused ones included), oldest first.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{ConnectionEnd, MockPlatform};
    /// let platform = MockPlatform::start().await;
    /// // a Connector-role token may not read the raw stream
    /// let answer = reqwest::Client::new().get(format!("{}/stream/live", platform.url())).send().await.unwrap();
    /// assert_eq!(answer.status(), 401);
    /// let refused = &platform.stream_connections()[0];
    /// assert_eq!(refused.stream, "live");
    /// assert!(matches!(&refused.end, Some(ConnectionEnd::Refused { status: 401, .. })));
    /// # }
    /// ```
    pub fn stream_connections(&self) -> Vec<StreamConnection> {
        self.core().store.read(|s| s.streams.connections().to_vec())
    }

    /// Sends an event of your own on the live stream, after every event so far: its SSE
    /// name and its data payload as they should read (the platform's keys are yours to
    /// give: `version`, `type`, `data`…). Collections filter it on its `data`. Returns its id.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::MockPlatform;
    /// let platform = MockPlatform::start().await;
    /// let first = platform.inject_event("merge", serde_json::json!({"version": "4", "type": "merge", "data": {}}));
    /// let second = platform.inject_event("update", serde_json::json!({"version": "4", "type": "update", "data": {}}));
    /// assert!(second > first);
    /// assert_eq!(platform.stream_position(), second);
    /// # }
    /// ```
    pub fn inject_event(&self, name: &str, payload: serde_json::Value) -> EventId {
        let kind = EventKind::from_name(name);
        let now = self.core().store.clock().now();
        let body = EventBody::Injected { name: name.into(), payload: Arc::new(payload) };
        self.core().store.write(|s| s.knowledge.event_log_mut().push(now, kind, None, body))
    }

    /// The id of the last event written (`0-0` before any).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::start().await;
    /// // the built-in markings were created at start: the stream is not empty
    /// assert!(platform.stream_position() > opencti_mock::EventId::ZERO);
    /// # }
    /// ```
    pub fn stream_position(&self) -> EventId {
        self.core().store.read(|s| s.knowledge.event_log().last_id())
    }
}
