//! The live stream: reading a collection's events from where the connector stopped.
//!
//! As pycti's `ListenStream`: the position is the state's `start_from` (`0-0`, or
//! `CONNECTOR_LIVE_STREAM_START_TIMESTAMP-0`, on the first run) and goes as `Last-Event-ID`;
//! the first run recovers what exists (`?recover=` until now, or the configured date) and
//! saves that at once. Every event with an id moves the position — heartbeats too, which
//! say "nothing happened up to here" — after the handler has taken it. Events without an
//! id (`connected`) are not positions. `no-recover` turns recovery off for the next starts.
//!
//! A dropped connection is resumed from the last id; a refusal (`401`, `410 This live
//! stream is stopped`) ends the stream with the platform's reason. Nothing at all for the
//! watchdog period (45 s by default, heartbeats come every 5 s) ends it too: a stream that
//! says nothing is a dead one.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::connector::Connector;
use crate::error::{Error, Result};

/// One event of the stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamEvent {
    /// Its position (`<ms>-<seq>`).
    pub id: String,
    /// `create`, `update`, `delete`, `merge`, `heartbeat`…
    pub event: String,
    /// Its data (JSON text).
    pub data: String,
}

impl StreamEvent {
    /// The data, parsed.
    pub fn payload(&self) -> Value {
        serde_json::from_str(&self.data).unwrap_or(Value::Null)
    }
}

/// How to read the stream.
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamOptions {
    /// Hand heartbeats to the handler too (`event` `heartbeat`, the position as `id`, the
    /// platform's time as `data`): for a connector that reports its own liveness.
    pub heartbeats: bool,
}

/// An SSE parser fed with chunks.
#[derive(Debug, Default)]
pub struct SseParser {
    buffer: String,
    current: Option<(Option<String>, String, Vec<String>)>,
    /// The `retry:` the server asked for, in milliseconds.
    pub retry: Option<u64>,
}

impl SseParser {
    /// Feeds a chunk; returns the events it completed as (id, name, data).
    pub fn feed(&mut self, chunk: &str) -> Vec<(Option<String>, String, String)> {
        self.buffer.push_str(&chunk.replace("\r\n", "\n").replace('\r', "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buffer.find('\n') {
            let line: String = self.buffer.drain(..=end).collect();
            let line = &line[..line.len() - 1];
            if line.is_empty() {
                // A block without data is not an event (the SSE specification).
                if let Some((id, event, data)) = self.current.take().filter(|c| !c.2.is_empty()) {
                    out.push((id, if event.is_empty() { "message".into() } else { event }, data.join("\n")));
                }
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
            let current = self.current.get_or_insert_with(Default::default);
            match field {
                "id" => current.0 = Some(value.to_string()),
                "event" => current.1 = value.to_string(),
                "data" => current.2.push(value.to_string()),
                "retry" => self.retry = value.parse().ok(),
                _ => {}
            }
        }
        out
    }
}

impl Connector {
    /// Reads the configured live stream (`CONNECTOR_LIVE_STREAM_ID`) until the connector
    /// stops (`Ok`), the platform refuses it or it goes silent (`Err`), or the handler fails
    /// (its error, the position left before the event). The handler gets the knowledge's
    /// events (`create`, `update`, `delete`, `merge`…); heartbeats only move the position.
    pub async fn listen_stream<F>(&self, handler: F) -> Result<()>
    where
        F: AsyncFnMut(&StreamEvent) -> std::result::Result<(), String>,
    {
        self.listen_stream_with(StreamOptions::default(), handler).await
    }

    /// [`Connector::listen_stream`], with options.
    pub async fn listen_stream_with<F>(&self, options: StreamOptions, mut handler: F) -> Result<()>
    where
        F: AsyncFnMut(&StreamEvent) -> std::result::Result<(), String>,
    {
        let settings = self.settings().clone();
        let (mut start_from, recover_until) = self.stream_position();
        let mut url = format!("{}/stream", settings.url);
        if let Some(id) = &settings.live_stream_id {
            url.push('/');
            url.push_str(id);
        }
        if let Some(until) = &recover_until {
            url.push_str(&format!("?recover={until}"));
        }
        let stop = self.stopping();
        let mut retry = Duration::from_secs(3);
        loop {
            let request = self
                .api()
                .http()
                .get(&url)
                .header("authorization", format!("Bearer {}", settings.token))
                .header("listen-delete", settings.live_stream_listen_delete.to_string())
                .header("no-dependencies", settings.live_stream_no_dependencies.to_string())
                .header("with-inferences", settings.live_stream_with_inferences.to_string())
                .header("Cache-Control", "no-cache")
                .header("Accept", "text/event-stream")
                .header("Last-Event-ID", &start_from);
            let response = tokio::select! {
                r = request.send() => r?,
                () = stop.cancelled() => return Ok(()),
            };
            let status = response.status();
            if !status.is_success() {
                let reason = response
                    .extensions()
                    .get::<hyper::ext::ReasonPhrase>()
                    .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
                    .or_else(|| status.canonical_reason().map(str::to_string))
                    .unwrap_or_default();
                return Err(Error::Stream(format!("{url} answered {} {reason}", status.as_u16())));
            }
            let mut body = response.bytes_stream();
            let mut parser = SseParser::default();
            loop {
                let chunk = tokio::select! {
                    c = tokio::time::timeout(settings.stream_watchdog, body.next()) => c,
                    () = stop.cancelled() => return Ok(()),
                };
                let chunk = match chunk {
                    Err(_) => {
                        return Err(Error::Stream(format!(
                            "nothing received for {:?} (not even a heartbeat): the stream is dead",
                            settings.stream_watchdog
                        )));
                    }
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        tracing::warn!("the stream connection failed: {e}");
                        break;
                    }
                    Ok(Some(Ok(bytes))) => bytes,
                };
                for (id, event, data) in parser.feed(&String::from_utf8_lossy(&chunk)) {
                    let Some(id) = id else { continue };
                    match event.as_str() {
                        "no-recover" => {
                            tracing::warn!("the platform cannot recover this stream: starting without recovery");
                            self.save_position(None, Some(Value::Bool(false)));
                        }
                        "heartbeat" if options.heartbeats => {
                            handler(&StreamEvent { id: id.clone(), event, data }).await.map_err(Error::Other)?
                        }
                        "heartbeat" | "consumer_metrics" | "connected" => {}
                        _ => handler(&StreamEvent { id: id.clone(), event, data }).await.map_err(Error::Other)?,
                    }
                    self.save_position(Some(&id), None);
                    start_from = id;
                }
            }
            if let Some(ms) = parser.retry {
                retry = Duration::from_millis(ms);
            }
            tracing::info!("the stream connection ended; resuming from {start_from} in {retry:?}");
            tokio::select! {
                () = tokio::time::sleep(retry) => {}
                () = stop.cancelled() => return Ok(()),
            }
        }
    }

    /// The saved position and recovery date; on the first run, the configured ones, saved.
    fn stream_position(&self) -> (String, Option<String>) {
        let settings = self.settings();
        let no = |v: &str| ["no", "none", "No", "None", "false", "False"].contains(&v);
        if let Some(state) = self.state().filter(|s| s.get("start_from").is_some()) {
            let start = state["start_from"].as_str().unwrap_or("0-0").to_string();
            let until = state["recover_until"].as_str().filter(|v| !no(v)).map(str::to_string);
            return (start, until);
        }
        let start = settings.live_stream_start_timestamp.as_ref().map_or_else(|| "0-0".to_string(), |ts| format!("{ts}-0"));
        let until = match settings.live_stream_recover_iso_date.as_deref() {
            Some(v) if no(v) => None,
            Some(v) => Some(v.to_string()),
            None => Some(chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        };
        self.set_state(json!({ "start_from": start, "recover_until": until.clone().map_or(Value::Bool(false), Value::String) }));
        (start, until)
    }

    fn save_position(&self, start_from: Option<&str>, recover_until: Option<Value>) {
        let mut state = self.state().unwrap_or_else(|| json!({}));
        if let Some(id) = start_from {
            state["start_from"] = json!(id);
        }
        if let Some(until) = recover_until {
            state["recover_until"] = until;
        }
        self.set_state(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_across_chunks_and_line_endings() {
        let mut p = SseParser::default();
        assert!(p.feed("event: connected\ndata: {\"a\"").is_empty());
        let events = p.feed(":1}\n\nid: 1-0\r\nevent: create\r\ndata: x\r\ndata: y\r\n\r\nretry: 100\n\n");
        assert_eq!(
            events,
            vec![(None, "connected".into(), "{\"a\":1}".into()), (Some("1-0".into()), "create".into(), "x\ny".into())]
        );
        assert_eq!(p.retry, Some(100));
    }
}
