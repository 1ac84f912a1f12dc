//! The broker's management HTTP API, used as the platform uses it: queue figures
//! (`connector_queue_details`) and purges (`resetStateConnector`); plus what tests and fault
//! scenarios need (closing one platform's connections).

use reqwest::Url;
use serde::Deserialize;
use serde_json::Value as Json;

/// A client of `http://{host}:{port_management}/api/`.
#[derive(Debug, Clone)]
pub struct Management {
    client: reqwest::Client,
    base: Url,
    username: String,
    password: String,
    vhost: String,
}

/// What the management API says about a queue.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct QueueInfo {
    /// Queue name.
    pub name: String,
    /// Ready plus unacknowledged messages.
    #[serde(default)]
    pub messages: u64,
    /// Bytes of those messages' bodies.
    #[serde(default)]
    pub message_bytes: u64,
    /// Durable.
    #[serde(default)]
    pub durable: bool,
    /// Queue arguments.
    #[serde(default)]
    pub arguments: Json,
    /// Consumers attached.
    #[serde(default)]
    pub consumers: u64,
}

impl Management {
    /// A client for the broker at `host:port` (management port), with these credentials.
    pub fn new(host: &str, port: u16, username: &str, password: &str, vhost: &str) -> Result<Management, String> {
        let base = Url::parse(&format!("http://{host}:{port}/api/")).map_err(|e| format!("management URL: {e}"))?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("management client: {e}"))?;
        Ok(Management { client, base, username: username.into(), password: password.into(), vhost: vhost.into() })
    }

    /// The API's base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            // Each segment is percent-encoded: the default vhost `/` becomes `%2F`.
            path.extend(segments);
        }
        url
    }

    async fn send(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
        req.basic_auth(&self.username, Some(&self.password)).send().await.map_err(|e| format!("management API: {e}"))
    }

    /// Whether the API answers with these credentials.
    pub async fn check(&self) -> Result<(), String> {
        let resp = self.send(self.client.get(self.url(&["overview"]))).await?;
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(format!("management API answered {} (is the rabbitmq_management plugin enabled?)", resp.status()))
        }
    }

    /// A queue of the platform's vhost; `None` when it does not exist.
    pub async fn queue(&self, name: &str) -> Result<Option<QueueInfo>, String> {
        let resp = self.send(self.client.get(self.url(&["queues", &self.vhost, name]))).await?;
        match resp.status() {
            s if s.is_success() => resp.json().await.map(Some).map_err(|e| format!("management API: {e}")),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(format!("management API answered {s} for queue {name}")),
        }
    }

    /// Every queue of the platform's vhost whose name starts with `prefix`.
    pub async fn queues_with_prefix(&self, prefix: &str) -> Result<Vec<QueueInfo>, String> {
        let resp = self.send(self.client.get(self.url(&["queues", &self.vhost]))).await?;
        if !resp.status().is_success() {
            return Err(format!("management API answered {} listing queues", resp.status()));
        }
        let all: Vec<QueueInfo> = resp.json().await.map_err(|e| format!("management API: {e}"))?;
        Ok(all.into_iter().filter(|q| q.name.starts_with(prefix)).collect())
    }

    /// The bindings whose destination is `queue`.
    #[cfg(feature = "internals")]
    pub async fn queue_bindings(&self, queue: &str) -> Result<Vec<Json>, String> {
        let resp = self.send(self.client.get(self.url(&["queues", &self.vhost, queue, "bindings"]))).await?;
        if !resp.status().is_success() {
            return Err(format!("management API answered {} for the bindings of {queue}", resp.status()));
        }
        resp.json().await.map_err(|e| format!("management API: {e}"))
    }

    /// An exchange of the platform's vhost; `None` when it does not exist.
    #[cfg(feature = "internals")]
    pub async fn exchange(&self, name: &str) -> Result<Option<Json>, String> {
        let resp = self.send(self.client.get(self.url(&["exchanges", &self.vhost, name]))).await?;
        match resp.status() {
            s if s.is_success() => resp.json().await.map(Some).map_err(|e| format!("management API: {e}")),
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            s => Err(format!("management API answered {s} for exchange {name}")),
        }
    }

    /// Empties a queue, as the platform's reset does
    /// (`DELETE /api/queues/{vhost}/{queue}/contents`).
    pub async fn purge(&self, queue: &str) -> Result<(), String> {
        let resp = self.send(self.client.delete(self.url(&["queues", &self.vhost, queue, "contents"]))).await?;
        if resp.status().is_success() || resp.status() == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!("management API answered {} purging {queue}", resp.status()))
        }
    }

    /// Deletes a queue of the platform's vhost (absent is fine).
    pub async fn delete_queue(&self, name: &str) -> Result<(), String> {
        self.delete("queues", name).await
    }

    /// Deletes an exchange of the platform's vhost (absent is fine).
    pub async fn delete_exchange(&self, name: &str) -> Result<(), String> {
        self.delete("exchanges", name).await
    }

    async fn delete(&self, kind: &str, name: &str) -> Result<(), String> {
        let resp = self.send(self.client.delete(self.url(&[kind, &self.vhost, name]))).await?;
        if resp.status().is_success() || resp.status() == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(format!("management API answered {} deleting {kind} {name}", resp.status()))
        }
    }

    /// Closes the connections that consume from `queue` (a connector's `listen_<id>`: the
    /// connector's own connection drops, nothing else on the broker does); returns how many
    /// were closed.
    pub async fn close_consumers_of(&self, queue: &str) -> Result<usize, String> {
        let resp = self.send(self.client.get(self.url(&["queues", &self.vhost, queue]))).await?;
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(0);
        }
        if !resp.status().is_success() {
            return Err(format!("management API answered {} for queue {queue}", resp.status()));
        }
        let info: Json = resp.json().await.map_err(|e| format!("management API: {e}"))?;
        let mut names: Vec<String> = info
            .get("consumer_details")
            .and_then(Json::as_array)
            .into_iter()
            .flatten()
            .filter_map(|c| c.pointer("/channel_details/connection_name").and_then(Json::as_str).map(str::to_string))
            .collect();
        names.sort();
        names.dedup();
        let mut closed = 0;
        for conn in names {
            let resp = self
                .send(self.client.delete(self.url(&["connections", &conn])).header("X-Reason", "closed by an opencti-mock scenario"))
                .await?;
            if resp.status().is_success() {
                closed += 1;
            }
        }
        Ok(closed)
    }

    /// Closes every connection whose client-provided name is `name` (a dropped connection
    /// for one platform only); returns how many were closed.
    #[cfg_attr(not(feature = "internals"), allow(dead_code))]
    pub async fn close_connections_named(&self, name: &str) -> Result<usize, String> {
        let resp = self.send(self.client.get(self.url(&["connections"]))).await?;
        if !resp.status().is_success() {
            return Err(format!("management API answered {} listing connections", resp.status()));
        }
        let all: Vec<Json> = resp.json().await.map_err(|e| format!("management API: {e}"))?;
        let mut closed = 0;
        for c in all {
            let provided = c.pointer("/client_properties/connection_name").and_then(Json::as_str);
            let Some(conn) = c.get("name").and_then(Json::as_str) else { continue };
            if provided == Some(name) {
                let resp = self
                    .send(self.client.delete(self.url(&["connections", conn])).header("X-Reason", "closed by opencti-mock"))
                    .await?;
                if resp.status().is_success() {
                    closed += 1;
                }
            }
        }
        Ok(closed)
    }
}
