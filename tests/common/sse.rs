//! A minimal server-sent-events reader for the live stream tests: what is on the wire,
//! message by message, nothing interpreted.

use std::time::Duration;

use futures_util::StreamExt;

/// One message as sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: Option<String>,
    pub event: String,
    pub data: String,
}

impl Message {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("data is JSON ({e}): {}", self.data))
    }
}

/// An open stream.
pub struct Sse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    body: Option<futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>>,
    buffer: String,
}

impl Sse {
    /// `GET <url>` with a bearer token and extra headers.
    pub async fn open(url: &str, token: Option<&str>, headers: &[(&str, &str)]) -> Sse {
        let mut request = reqwest::Client::new().get(url);
        if let Some(t) = token {
            request = request.bearer_auth(t);
        }
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.expect("the stream answers");
        Sse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: Some(response.bytes_stream().boxed()),
            buffer: String::new(),
        }
    }

    /// The next message within `wait`; `None` when the stream ended or nothing came.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Message> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer[..end].to_string();
                self.buffer.drain(..end + 2);
                let mut m = Message { id: None, event: "message".into(), data: String::new() };
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("id:") {
                        m.id = Some(v.trim_start().to_string());
                    } else if let Some(v) = line.strip_prefix("event:") {
                        m.event = v.trim_start().to_string();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        if !m.data.is_empty() {
                            m.data.push('\n');
                        }
                        m.data.push_str(v.strip_prefix(' ').unwrap_or(v));
                    }
                }
                return Some(m);
            }
            let body = self.body.as_mut()?;
            match tokio::time::timeout_at(deadline, body.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(_) => {
                    self.body = None;
                    return None;
                }
                Err(_) => return None,
            }
        }
    }

    /// The next message, which must come within 10 s.
    pub async fn next(&mut self) -> Message {
        self.next_within(Duration::from_secs(10)).await.expect("a message within 10 s")
    }

    /// The next message that is not a heartbeat.
    pub async fn next_data(&mut self) -> Message {
        loop {
            let m = self.next().await;
            if m.event != "heartbeat" {
                return m;
            }
        }
    }

    /// Whether the server ended the stream within `wait`.
    pub async fn ended_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self.body.is_none() {
                return true;
            }
            let _ = self.next_within(Duration::from_millis(200)).await;
        }
        self.body.is_none()
    }
}

/// The status line of a raw `GET` (reqwest hides the reason phrase), and the body length.
pub async fn status_line(url: &str, path: &str, headers: &[(&str, &str)]) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = url.trim_start_matches("http://");
    let mut socket = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    socket.write_all(request.as_bytes()).await.expect("write");
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), socket.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).to_string();
    let status = text.lines().next().unwrap_or_default().to_string();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}
