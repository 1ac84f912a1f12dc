//! Sending bundles to the platform, over the transport the settings choose.
//!
//! - `api`: one `stixBundlePush` per bundle, the whole bundle as a string; the platform
//!   counts the expectation itself.
//! - `amqp`: as pycti, the bundle is split into one bundle per object; `addExpectations`
//!   tells the work how many are coming (the worker reports one per bundle it ingests, and
//!   a work with pending expectations is not complete), then each goes as a persistent
//!   message on the push exchange with the push routing key the registration gave, in
//!   pycti's envelope (`bundle_type: QUEUE_BUNDLE`, the bundle base64 in `content`). The
//!   messages are published back to back and their confirmations awaited together; a
//!   message the broker refuses (`basic.nack`) is an error. The connection is opened on the
//!   first push and kept.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::ShortString;
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::connector::{Connector, Registration};
use crate::error::{Error, Result};
use crate::settings::{ConnectorSettings, QueueProtocol};

/// Where and how a bundle goes.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The work the bundle belongs to.
    pub work_id: Option<String>,
    /// Whose knowledge it is (`applicant_id`): a job's applicant; the connector's user when
    /// `None`.
    pub applicant_id: Option<String>,
    /// The draft to write into (`draft_id`).
    pub draft_id: Option<String>,
}

/// The bundle sender of a connector.
#[derive(Debug)]
pub(crate) struct Pusher {
    protocol: QueueProtocol,
    uri: String,
    exchange: String,
    routing: String,
    default_applicant: Option<String>,
    amqp: Mutex<Option<(Connection, Channel)>>,
}

/// The broker address from a registration's `config.connection` and the `MQ_*` overrides.
pub(crate) fn broker_uri(settings: &ConnectorSettings, registration: &Registration) -> String {
    let c = &registration.config["connection"];
    let text = |key: &str| c[key].as_str().unwrap_or("").to_string();
    let host = settings.mq.host.clone().unwrap_or_else(|| text("host"));
    let port = settings.mq.port.or_else(|| c["port"].as_u64().and_then(|p| u16::try_from(p).ok())).unwrap_or(5672);
    let vhost = settings.mq.vhost.clone().unwrap_or_else(|| text("vhost"));
    let user = settings.mq.user.clone().unwrap_or_else(|| text("user"));
    let pass = settings.mq.pass.clone().unwrap_or_else(|| text("pass"));
    let scheme = if c["use_ssl"].as_bool() == Some(true) { "amqps" } else { "amqp" };
    format!("{scheme}://{}:{}@{host}:{port}/{}", encode(&user), encode(&pass), encode(&vhost))
}

/// Percent-encodes what a URI's user, password or vhost may not hold verbatim.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

/// Opens a broker connection and a channel.
pub(crate) async fn open_channel(uri: &str) -> Result<(Connection, Channel)> {
    let conn = Connection::connect_uri(
        uri.parse().map_err(|e| Error::Amqp(format!("broker address: {e}")))?,
        ConnectionProperties::default(),
    )
    .await?;
    let channel = conn.create_channel().await?;
    Ok((conn, channel))
}

impl Pusher {
    pub(crate) fn new(settings: &ConnectorSettings, registration: &Registration) -> Pusher {
        let config = &registration.config;
        Pusher {
            protocol: settings.queue_protocol,
            uri: broker_uri(settings, registration),
            exchange: config["push_exchange"].as_str().unwrap_or("amqp.worker.exchange").to_string(),
            routing: config["push_routing"].as_str().unwrap_or_default().to_string(),
            default_applicant: registration.connector_user_id.clone(),
            amqp: Mutex::new(None),
        }
    }

    pub(crate) async fn close(&self) {
        if let Some((conn, _)) = self.amqp.lock().await.take() {
            let _ = conn.close(200, "connector stopping".into()).await;
        }
    }

    async fn publish(&self, bodies: &[Vec<u8>]) -> Result<()> {
        let mut guard = self.amqp.lock().await;
        if guard.as_ref().is_none_or(|(conn, _)| !conn.status().connected()) {
            let (conn, channel) = open_channel(&self.uri).await?;
            channel.confirm_select(ConfirmSelectOptions::default()).await?;
            *guard = Some((conn, channel));
        }
        let (_, channel) = guard.as_ref().expect("opened above");
        let mut confirms = Vec::with_capacity(bodies.len());
        for body in bodies {
            confirms.push(
                channel
                    .basic_publish(
                        ShortString::from(self.exchange.clone()),
                        ShortString::from(self.routing.clone()),
                        BasicPublishOptions::default(),
                        body,
                        BasicProperties::default().with_delivery_mode(2).with_content_encoding("utf-8".into()),
                    )
                    .await?,
            );
        }
        for confirm in confirms {
            if confirm.await?.is_nack() {
                return Err(Error::Amqp(format!(
                    "the broker refused a message for {}/{} (basic.nack)",
                    self.exchange, self.routing
                )));
            }
        }
        Ok(())
    }
}

impl Connector {
    /// Sends a STIX bundle (a JSON object with `objects`) to the platform.
    pub async fn push(&self, bundle: &Value, options: &PushOptions) -> Result<()> {
        match self.pusher().protocol {
            QueueProtocol::Api => self.push_to_api(&bundle.to_string(), options).await,
            QueueProtocol::Amqp => self.publish_split(bundle, options).await,
        }
    }

    /// One bundle per object, as pycti's splitter makes them, published.
    async fn publish_split(&self, bundle: &Value, options: &PushOptions) -> Result<()> {
        let objects = bundle["objects"].as_array().map(Vec::as_slice).unwrap_or_default();
        let parts: Vec<String> = objects
            .iter()
            .map(|o| {
                let id = format!("bundle--{}", uuid::Uuid::new_v4());
                json!({ "type": "bundle", "id": id, "spec_version": "2.1", "objects": [o] }).to_string()
            })
            .collect();
        self.publish_parts(&parts, options).await
    }

    /// Sends a bundle already serialized (split as [`Connector::push`] does over RabbitMQ;
    /// a text that is not a bundle goes as it is, and the worker refuses it).
    pub async fn push_text(&self, bundle: &str, options: &PushOptions) -> Result<()> {
        match self.pusher().protocol {
            QueueProtocol::Api => self.push_to_api(bundle, options).await,
            QueueProtocol::Amqp => match serde_json::from_str::<Value>(bundle) {
                Ok(parsed) if parsed["type"] == "bundle" && parsed["objects"].is_array() => {
                    self.publish_split(&parsed, options).await
                }
                _ => self.publish_parts(&[bundle.to_string()], options).await,
            },
        }
    }

    /// `stixBundlePush`: the whole bundle in one call.
    async fn push_to_api(&self, bundle: &str, options: &PushOptions) -> Result<()> {
        self.api()
            .in_draft(options.draft_id.as_deref())
            .query(
                "mutation StixBundlePush($connectorId: String!, $bundle: String!, $work_id: String) {
                  stixBundlePush(connectorId: $connectorId, bundle: $bundle, work_id: $work_id)
                }",
                json!({ "connectorId": self.id(), "bundle": bundle, "work_id": options.work_id }),
            )
            .await
            .map(drop)
    }

    /// Publishes bundles to the push queue, their expectations first.
    async fn publish_parts(&self, parts: &[String], options: &PushOptions) -> Result<()> {
        if parts.is_empty() {
            return Ok(());
        }
        let pusher = self.pusher();
        if let Some(work) = &options.work_id {
            self.add_expectations(work, parts.len() as u64).await?;
        }
        let bodies: Vec<Vec<u8>> = parts
            .iter()
            .enumerate()
            .map(|(i, bundle)| {
                let mut message = json!({
                    "bundle_type": "QUEUE_BUNDLE",
                    "applicant_id": options.applicant_id.clone().or_else(|| pusher.default_applicant.clone()),
                    "action_sequence": i + 1,
                    "entities_types": [],
                    "content": STANDARD.encode(bundle.as_bytes()),
                    "update": false,
                    "draft_id": options.draft_id,
                    "no_split": false,
                });
                if let Some(work) = &options.work_id {
                    message["work_id"] = json!(work);
                }
                message.to_string().into_bytes()
            })
            .collect();
        pusher.publish(&bodies).await
    }
}
