//! Configuration, taken the way the platform takes it.
//!
//! The structure mirrors the platform's `config/default.json` (`app:port`,
//! `app:admin:token`, `app:max_payload_body_size`, `rabbitmq:hostname`, `minio:*`…) plus a
//! `mock` section for what only the mock has. Sources, later ones winning:
//! defaults → a JSON config file → environment variables with the platform's `__` nesting
//! (`APP__PORT` → `app.port`, `APP__ADMIN__TOKEN`, `RABBITMQ__HOSTNAME`, `MOCK__PROFILE`) →
//! command-line flags.

use std::net::IpAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Json, Serialized};
use serde::{Deserialize, Serialize};

use crate::profile::Profile;

/// The platform's default HTTP port.
pub const DEFAULT_PORT: u16 = 4000;

/// All settings.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Settings};
/// let mut settings = Settings::default();
/// settings.mock.objects_max_refs = 1000;
/// // the defaults are the standalone server's: port 4000 and the broker if one answers;
/// // a test picks a free port and stays HTTP-only
/// settings.app.port = 0;
/// settings.mock.broker = opencti_mock::BrokerMode::Off;
/// let platform = MockPlatform::builder().settings(settings).start().await;
/// assert!(!platform.url().ends_with(":4000"));
/// # }
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Settings {
    /// `app:*`.
    pub app: App,
    /// `rabbitmq:*` (what registration hands to connectors as `config.connection`).
    pub rabbitmq: RabbitMq,
    /// `minio:*` (what registration hands to connectors as `config.s3`).
    pub minio: Minio,
    /// `worker:*`: the platform worker's settings for HTTP job dispatch.
    pub worker: Worker,
    /// Mock-only settings.
    pub mock: Mock,
}

/// `worker:*`: how the worker POSTs jobs to connectors in HTTP listen mode (its own names
/// `WORKER_LISTEN_API_SSL_VERIFY`, `WORKER_LISTEN_API_HTTP_PROXY`,
/// `WORKER_LISTEN_API_HTTPS_PROXY` are read too), plus the timing the mock makes
/// configurable.
///
/// ```
/// use opencti_mock::{Settings, settings::Worker};
/// let worker: Worker = Settings::default().worker;
/// // the worker's timing: a callback may take 300 s, a failed one is retried after 10 to 30 s
/// let timing = (worker.listen_api_timeout_ms, worker.listen_api_retry_min_ms, worker.listen_api_retry_max_ms);
/// assert_eq!(timing, (300_000, 10_000, 30_000));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Worker {
    /// Verify the connector's certificate on HTTPS callbacks (the worker's default: no).
    pub listen_api_ssl_verify: bool,
    /// Proxy for `http://` callbacks (empty: none).
    pub listen_api_http_proxy: String,
    /// Proxy for `https://` callbacks (empty: none).
    pub listen_api_https_proxy: String,
    /// How long a callback may take (the worker: 300 s; pycti answers once the job is done).
    pub listen_api_timeout_ms: u64,
    /// Shortest wait before a failed callback is retried (the worker: 10 s).
    pub listen_api_retry_min_ms: u64,
    /// Longest such wait (the worker: 30 s); each wait is drawn uniformly in between.
    pub listen_api_retry_max_ms: u64,
}

impl Default for Worker {
    fn default() -> Self {
        Worker {
            listen_api_ssl_verify: false,
            listen_api_http_proxy: String::new(),
            listen_api_https_proxy: String::new(),
            listen_api_timeout_ms: 300_000,
            listen_api_retry_min_ms: 10_000,
            listen_api_retry_max_ms: 30_000,
        }
    }
}

/// `app:*`.
///
/// ```
/// use opencti_mock::{Settings, settings::App};
/// let app: App = Settings::default().app;
/// // the platform's port and body limit (`MockPlatform::builder()` picks a free port instead)
/// assert_eq!((app.port, app.max_payload_body_size.as_str()), (4000, "50mb"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct App {
    /// Listening port (`APP__PORT`); 0 picks a free port.
    pub port: u16,
    /// Address to bind (`APP__BIND_ADDRESS`).
    pub bind_address: IpAddr,
    /// URL connectors should use (`APP__BASE_URL`), e.g. `http://host.docker.internal:4000`
    /// for connectors in containers; derived from the bound address when empty.
    pub base_url: Option<String>,
    /// `app:admin:*`.
    pub admin: Admin,
    /// Body limit of JSON requests (`APP__MAX_PAYLOAD_BODY_SIZE`, e.g. `50mb`).
    pub max_payload_body_size: String,
    /// `app:graphql:*`.
    pub graphql: Graphql,
    /// `app:health_access_key` for `GET /health`.
    pub health_access_key: Option<String>,
    /// `app:request_timeout`: milliseconds of silence (both directions) before a socket is
    /// closed (`APP__REQUEST_TIMEOUT`, the platform's 1 200 000).
    pub request_timeout: u64,
    /// `app:live_stream:*`.
    pub live_stream: LiveStream,
}

impl Default for App {
    fn default() -> Self {
        App {
            port: DEFAULT_PORT,
            bind_address: IpAddr::from([127, 0, 0, 1]),
            base_url: None,
            admin: Admin::default(),
            max_payload_body_size: "50mb".into(),
            graphql: Graphql::default(),
            health_access_key: None,
            request_timeout: 1_200_000,
            live_stream: LiveStream::default(),
        }
    }
}

/// `app:live_stream:*` and the stream's retention: how the live stream paces itself and how
/// much of it is kept.
///
/// ```
/// use opencti_mock::{Settings, settings::LiveStream};
/// let stream: LiveStream = Settings::default().app.live_stream;
/// // a heartbeat every 5 s and the documented 2,000,000 events kept, as on the platform
/// assert_eq!((stream.heartbeat_period, stream.retention), (5000, 2_000_000));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct LiveStream {
    /// Milliseconds between heartbeats (`APP__LIVE_STREAM__HEARTBEAT_PERIOD`; the
    /// platform's 5000). Tests shorten it.
    pub heartbeat_period: u64,
    /// Objects a connection remembers having sent, so it does not send them again as
    /// dependencies (`APP__LIVE_STREAM__CACHE_MAX_SIZE`; the platform's 5000).
    pub cache_max_size: usize,
    /// Events kept (`APP__LIVE_STREAM__RETENTION`; the platform's `redis:trimming`, 2,000,000
    /// in its documented configuration). A position older than the oldest kept event starts
    /// at the oldest, as on the platform.
    pub retention: usize,
    /// Milliseconds between the 7.x `consumer_metrics` events a connection is sent, with
    /// a heartbeat's id (`APP__LIVE_STREAM__CONSUMER_METRICS_PERIOD`; 0, the default: none).
    /// Their cadence on the platform is not documented; pycti takes them as heartbeats.
    pub consumer_metrics_period: u64,
}

impl Default for LiveStream {
    fn default() -> Self {
        LiveStream {
            heartbeat_period: 5000,
            cache_max_size: 5000,
            retention: crate::store::events::DEFAULT_RETENTION,
            consumer_metrics_period: 0,
        }
    }
}

/// `app:admin:*`.
///
/// ```
/// use opencti_mock::{Settings, settings::Admin};
/// let admin: Admin = Settings::default().app.admin;
/// // no token configured: each platform makes one up (`MockPlatformBuilder::admin_token` sets it)
/// assert!(admin.token.is_none());
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Admin {
    /// Admin API token (`APP__ADMIN__TOKEN`); a random UUID when absent.
    pub token: Option<String>,
    /// Admin e-mail.
    pub email: Option<String>,
}

/// `app:graphql:*`.
///
/// ```
/// use opencti_mock::{Settings, settings::Graphql};
/// let graphql: Graphql = Settings::default().app.graphql;
/// // a development platform: GraphiQL served, and one mutation field per document
/// assert!(graphql.playground.enabled && graphql.batching_protection.mutation_default == 1);
/// ```
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Graphql {
    /// `app:graphql:playground:*`.
    pub playground: Playground,
    /// `app:graphql:batching_protection:*`.
    pub batching_protection: BatchingProtection,
}

/// `app:graphql:batching_protection:*`: how often a root field may appear in one document
/// (the platform's `graphql-no-alias` rule; `APP__GRAPHQL__BATCHING_PROTECTION__QUERY_DEFAULT`…).
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Settings, settings::BatchingProtection};
/// let limits: BatchingProtection = Settings::default().app.graphql.batching_protection;
/// let platform = MockPlatform::start().await;
/// // a query field may appear twice in a document: a third `about` is refused
/// let answer: serde_json::Value = reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({"query": "{ a: about { version } b: about { version } c: about { version } }"}))
///     .send().await.unwrap().json().await.unwrap();
/// let refusal = format!("Allowed number of calls for Query->about has been exceeded (max: {})", limits.query_default);
/// assert_eq!((limits.query_default, answer["errors"][0]["message"].as_str()), (2, Some(refusal.as_str())));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct BatchingProtection {
    /// Any `Query` field.
    pub query_default: u32,
    /// `Query.subTypes`.
    pub query_subtypes: u32,
    /// Any `Mutation` field.
    pub mutation_default: u32,
}

impl Default for BatchingProtection {
    fn default() -> Self {
        BatchingProtection { query_default: 2, query_subtypes: 4, mutation_default: 1 }
    }
}

/// `app:graphql:playground:*`.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Settings, settings::Playground};
/// let playground: Playground = Settings::default().app.graphql.playground;
/// let platform = MockPlatform::start().await;
/// // GraphiQL is on by default: `GET /graphql` serves it
/// let answer = reqwest::get(format!("{}/graphql", platform.url())).await.unwrap();
/// assert!(playground.enabled && answer.status() == 200);
/// # }
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Playground {
    /// GraphiQL at `GET /graphql`.
    pub enabled: bool,
    /// Refuse introspection, as a production platform does by default.
    pub force_disabled_introspection: bool,
}

impl Default for Playground {
    fn default() -> Self {
        Playground { enabled: true, force_disabled_introspection: false }
    }
}

/// `rabbitmq:*`.
///
/// ```
/// use opencti_mock::{Settings, settings::RabbitMq};
/// let rabbitmq: RabbitMq = Settings::default().rabbitmq;
/// // a local broker with RabbitMQ's own defaults
/// assert_eq!((rabbitmq.hostname.as_str(), rabbitmq.port, rabbitmq.username.as_str()), ("localhost", 5672, "guest"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct RabbitMq {
    /// Broker host, as handed to connectors.
    pub hostname: String,
    /// AMQP port.
    pub port: u16,
    /// Management API port.
    pub port_management: u16,
    /// Management host, when it differs.
    pub hostname_management: Option<String>,
    /// Virtual host.
    pub vhost: String,
    /// TLS.
    pub use_ssl: bool,
    /// User.
    pub username: String,
    /// Password.
    pub password: String,
    /// Queue name prefix (`rabbitmq:queue_prefix`).
    pub queue_prefix: Option<String>,
}

impl RabbitMq {
    /// Applies an AMQP URL (`amqp://user:pass@host:port/vhost`, `amqps://…`): host, port,
    /// vhost, credentials and TLS, as `--amqp-url` does.
    pub(crate) fn apply_amqp_url(&mut self, url: &str) -> Result<(), ConfigError> {
        let uri: lapin::uri::AMQPUri = url.parse().map_err(|e| ConfigError::Invalid(format!("invalid AMQP URL '{url}': {e}")))?;
        self.use_ssl = matches!(uri.scheme, lapin::uri::AMQPScheme::AMQPS);
        self.hostname = uri.authority.host;
        self.port = uri.authority.port;
        self.username = uri.authority.userinfo.username;
        self.password = uri.authority.userinfo.password;
        self.vhost = uri.vhost;
        Ok(())
    }
}

impl Default for RabbitMq {
    fn default() -> Self {
        RabbitMq {
            hostname: "localhost".into(),
            port: 5672,
            port_management: 15672,
            hostname_management: None,
            vhost: "/".into(),
            use_ssl: false,
            username: "guest".into(),
            password: "guest".into(),
            queue_prefix: None,
        }
    }
}

/// `minio:*`.
///
/// ```
/// use opencti_mock::{Settings, settings::Minio};
/// let minio: Minio = Settings::default().minio;
/// // the platform's defaults, handed to connectors in `config.s3` (the mock serves files itself)
/// assert_eq!((minio.endpoint.as_str(), minio.port, minio.bucket_name.as_str()), ("localhost", 9000, "opencti-bucket"));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Minio {
    /// Endpoint.
    pub endpoint: String,
    /// Port.
    pub port: u16,
    /// TLS.
    pub use_ssl: bool,
    /// Bucket.
    pub bucket_name: String,
    /// Region.
    pub bucket_region: String,
    /// Access key.
    pub access_key: String,
    /// Secret key.
    pub secret_key: String,
}

impl Default for Minio {
    fn default() -> Self {
        Minio {
            endpoint: "localhost".into(),
            port: 9000,
            use_ssl: false,
            bucket_name: "opencti-bucket".into(),
            bucket_region: "us-east-1".into(),
            access_key: "ChangeMe".into(),
            secret_key: "ChangeMe".into(),
        }
    }
}

/// Mock-only settings (`MOCK__*`).
///
/// ```
/// use opencti_mock::{BrokerMode, Profile, Settings, settings::Mock};
/// let mock: Mock = Settings::default().mock;
/// // a 7.x platform using a broker when one is found (`MockPlatform::builder()` turns the broker off)
/// assert_eq!((mock.profile, mock.broker), (Profile::V7, BrokerMode::Auto));
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct Mock {
    /// Platform profile: `7` or `6.9`.
    pub profile: Profile,
    /// Delay before each queued message is ingested, in milliseconds.
    pub ingest_delay_ms: u64,
    /// Start with ingestion paused.
    pub ingest_paused: bool,
    /// Connector users to create: `name` or `name=token`.
    pub connector_users: Vec<String>,
    /// Bundles up to this size are kept whole in the transcript.
    pub transcript_bundle_cap: String,
    /// Transcript entries kept (`MOCK__TRANSCRIPT_MAX_ENTRIES`); older ones are dropped and
    /// counted.
    pub transcript_max_entries: usize,
    /// Bytes of whole bundle bodies the transcript keeps in all
    /// (`MOCK__TRANSCRIPT_BODY_BUDGET`); older bodies are dropped first and counted.
    pub transcript_body_budget: String,
    /// Shortest wait before the worker retries an object whose references are missing, in
    /// milliseconds (pycti's worker: 1000).
    pub missing_ref_retry_min_ms: u64,
    /// Longest such wait (pycti's worker: 3000); each wait is drawn uniformly in between.
    pub missing_ref_retry_max_ms: u64,
    /// Which broker the platform uses (`MOCK__BROKER`): `auto`, `rabbitmq`, `embedded`,
    /// `container` or `off`.
    pub broker: BrokerMode,
    /// Where the embedded broker listens (`MOCK__EMBEDDED_BROKER_ADDRESS`; default
    /// `127.0.0.1:0`: loopback, a free port). It takes the `rabbitmq:*` user, password and
    /// vhost.
    pub embedded_broker_address: String,
    /// Host handed to connectors in `config.connection` instead of the broker's own
    /// (`MOCK__AMQP_ADVERTISED_HOST`), e.g. a Docker-internal name that does not resolve
    /// from the connector's machine (connectors#972).
    pub amqp_advertised_host: Option<String>,
    /// Messages the worker takes from each push queue before acknowledging
    /// (`MOCK__AMQP_PREFETCH`; the platform's worker uses 1 per consumer thread).
    pub amqp_prefetch: u16,
    /// Keep the queues and exchanges this platform declared on the broker when it stops
    /// (`MOCK__KEEP_BROKER_OBJECTS`), for debugging.
    pub keep_broker_objects: bool,
    /// The worker's `WORKER_OBJECTS_MAX_REFS` (`MOCK__OBJECTS_MAX_REFS`): objects with at
    /// least this many references go to the dead-letter queue; 0 (the default) is off.
    pub objects_max_refs: u64,
    /// What the worker's job callbacks carry as bearer (`MOCK__CALLBACK_AUTH`).
    pub callback_auth: CallbackAuth,
    /// Milliseconds a client has to send a whole request head (`MOCK__HEADER_TIMEOUT_MS`;
    /// Node's `headersTimeout`, 60 000); also how long an idle keep-alive connection waits.
    pub header_timeout_ms: u64,
    /// Milliseconds a client has to send a whole request, body included, before the answer
    /// is 408 (`MOCK__REQUEST_TIMEOUT_MS`; Node's `requestTimeout`, 300 000).
    pub request_timeout_ms: u64,
    /// Limits on GraphQL documents the platform does not have but the mock's executor
    /// needs (`MOCK__GRAPHQL_LIMITS__MAX_FIELDS`…); see `graphql::limits`.
    pub graphql_limits: GraphqlLimits,
}

/// `mock:graphql_limits:*`: set far above any document pycti sends.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{MockPlatform, Settings, settings::GraphqlLimits};
/// let limits: GraphqlLimits = Settings::default().mock.graphql_limits;
/// let platform = MockPlatform::start().await;
/// // a document nested one bracket deeper than allowed is refused before it is parsed
/// let query = format!("{}{}", "{ a ".repeat(limits.max_nesting + 1), "}".repeat(limits.max_nesting + 1));
/// let answer: serde_json::Value = reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
///     .json(&serde_json::json!({"query": query})).send().await.unwrap().json().await.unwrap();
/// assert!(answer["errors"][0]["message"].as_str().is_some_and(|m| m.starts_with("Document is nested too deeply")), "{answer}");
/// # }
/// ```
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct GraphqlLimits {
    /// Deepest bracket nesting of a document's text.
    pub max_nesting: usize,
    /// Most fields one operation may resolve with its fragments expanded.
    pub max_fields: u64,
    /// Deepest field nesting of one operation with its fragments expanded.
    pub max_depth: u64,
}

impl Default for GraphqlLimits {
    fn default() -> Self {
        GraphqlLimits { max_nesting: 128, max_fields: 50_000, max_depth: 64 }
    }
}

/// The bearer of the worker's HTTP job callbacks.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{CallbackAuth, MockPlatform};
/// // job callbacks signed by a key the connector cannot verify
/// let platform = MockPlatform::builder().callback_auth(CallbackAuth::ForeignKey).start().await;
/// # drop(platform);
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CallbackAuth {
    /// What the profile's platform sends: a signed JWT on 7.x, the connector user's API
    /// token on 6.9.
    #[default]
    Profile,
    /// A JWT with the registration's `kid` but signed by another key (pycti refuses it).
    ForeignKey,
    /// The connector user's API token, whatever the profile (pycti 7 refuses it).
    UserToken,
}

impl std::str::FromStr for CallbackAuth {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "profile" => Ok(CallbackAuth::Profile),
            "foreign-key" => Ok(CallbackAuth::ForeignKey),
            "user-token" => Ok(CallbackAuth::UserToken),
            _ => Err(format!("unknown callback auth '{s}': expected profile, foreign-key or user-token")),
        }
    }
}

/// Which broker the platform uses.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use opencti_mock::{BrokerMode, MockPlatform};
/// // HTTP only: connectors push with stixBundlePush
/// let platform = MockPlatform::builder().broker_mode(BrokerMode::Off).start().await;
/// assert_eq!(platform.connector_env("EXTERNAL_IMPORT", platform.token()).get("CONNECTOR_QUEUE_PROTOCOL"), Some("api"));
/// // the broker inside the mock: connectors run in their default RabbitMQ mode
/// let platform = MockPlatform::builder().broker_mode(BrokerMode::Embedded).start().await;
/// assert_eq!(platform.connector_env("EXTERNAL_IMPORT", platform.token()).get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BrokerMode {
    /// The configured RabbitMQ (`rabbitmq:*`, default the local one) when it answers,
    /// otherwise the embedded broker; said at start-up, in `/_mock/health` and in the
    /// transcript.
    #[default]
    Auto,
    /// The configured RabbitMQ, or no start (`required` is accepted for it).
    #[serde(alias = "required")]
    RabbitMq,
    /// The broker inside the mock, whether or not a RabbitMQ answers.
    Embedded,
    /// A throwaway RabbitMQ container (needs a Docker engine).
    Container,
    /// HTTP-only: no broker is contacted (registration still hands out `rabbitmq:*`).
    Off,
}

impl std::str::FromStr for BrokerMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(BrokerMode::Auto),
            "rabbitmq" | "required" => Ok(BrokerMode::RabbitMq),
            "embedded" => Ok(BrokerMode::Embedded),
            "container" => Ok(BrokerMode::Container),
            "off" | "none" => Ok(BrokerMode::Off),
            _ => Err(format!("unknown broker '{s}': expected auto, rabbitmq, embedded, container or off")),
        }
    }
}

impl Default for Mock {
    fn default() -> Self {
        Mock {
            profile: Profile::V7,
            ingest_delay_ms: 0,
            ingest_paused: false,
            connector_users: Vec::new(),
            transcript_bundle_cap: "16mb".into(),
            transcript_max_entries: 20_000,
            transcript_body_budget: "64mb".into(),
            missing_ref_retry_min_ms: 1000,
            missing_ref_retry_max_ms: 3000,
            broker: BrokerMode::Auto,
            embedded_broker_address: "127.0.0.1:0".into(),
            amqp_advertised_host: None,
            amqp_prefetch: 64,
            keep_broker_objects: false,
            objects_max_refs: 0,
            callback_auth: CallbackAuth::Profile,
            header_timeout_ms: 60_000,
            request_timeout_ms: 300_000,
            graphql_limits: GraphqlLimits::default(),
        }
    }
}

/// A configuration problem.
///
/// ```
/// use opencti_mock::{ConfigError, Settings};
/// let mut settings = Settings::default();
/// settings.app.max_payload_body_size = "lots".into();
/// // a size that does not parse names its setting
/// assert!(matches!(settings.max_payload_bytes(), Err(ConfigError::Size { key: "app:max_payload_body_size", .. })));
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source could not be read or has the wrong shape.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A size does not parse.
    #[error("invalid size '{value}' for {key}: expected a number of bytes or a number followed by b, kb, mb, gb or tb")]
    Size {
        /// Setting name.
        key: &'static str,
        /// The value.
        value: String,
    },
}

impl Settings {
    /// Loads defaults, then `file` (JSON) if given, then the environment, then `overrides`
    /// (a partial `Settings` tree, e.g. from command-line flags).
    ///
    /// ```
    /// use opencti_mock::{Profile, Settings};
    /// // the overrides win over the defaults, the file and the environment
    /// let settings = Settings::load(None, serde_json::json!({"app": {"port": 4100}, "mock": {"profile": "6.9"}})).expect("valid");
    /// assert_eq!((settings.app.port, settings.mock.profile), (4100, Profile::V6_9));
    /// // sizes are checked as they are loaded
    /// assert!(Settings::load(None, serde_json::json!({"app": {"max_payload_body_size": "lots"}})).is_err());
    /// ```
    pub fn load(file: Option<&Path>, overrides: serde_json::Value) -> Result<Settings, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ConfigError::Invalid(format!("config file {} does not exist", f.display())));
            }
            fig = fig.merge(Json::file(f));
        }
        fig = fig.merge(platform_env()).merge(worker_env()).merge(Serialized::defaults(overrides));
        let settings: Settings = fig.extract().map_err(|e| ConfigError::Invalid(e.to_string()))?;
        settings.max_payload_bytes()?;
        settings.transcript_retention()?;
        Ok(settings)
    }

    /// The JSON body limit in bytes.
    ///
    /// ```
    /// use opencti_mock::Settings;
    /// let mut settings = Settings::default();
    /// // the platform's syntax: powers of 1024
    /// settings.app.max_payload_body_size = "10mb".into();
    /// assert_eq!(settings.max_payload_bytes().ok(), Some(10 * 1024 * 1024));
    /// ```
    pub fn max_payload_bytes(&self) -> Result<u64, ConfigError> {
        parse_size(&self.app.max_payload_body_size)
            .ok_or_else(|| ConfigError::Size { key: "app:max_payload_body_size", value: self.app.max_payload_body_size.clone() })
    }

    internal! {
        /// How much the transcript keeps (public with the `internals` feature, for the
        /// fuzz harness).
        fn transcript_retention(&self) -> Result<crate::store::transcript::Retention, ConfigError> {
            let size = |key: &'static str, value: &String| {
                parse_size(value).map(|n| n as usize).ok_or_else(|| ConfigError::Size { key, value: value.clone() })
            };
            Ok(crate::store::transcript::Retention {
                body_cap: size("mock:transcript_bundle_cap", &self.mock.transcript_bundle_cap)?,
                max_entries: self.mock.transcript_max_entries,
                body_budget: size("mock:transcript_body_budget", &self.mock.transcript_body_budget)?,
            })
        }
    }
}

/// Environment variables with the platform's nesting: `SECTION__KEY__SUBKEY`.
fn platform_env() -> Env {
    Env::raw()
        .filter(|k| {
            let k = k.as_str().to_ascii_lowercase();
            ["app__", "rabbitmq__", "minio__", "worker__", "mock__"].iter().any(|p| k.starts_with(p))
        })
        .split("__")
}

/// The worker's own variable names (`WORKER_LISTEN_API_SSL_VERIFY`…).
fn worker_env() -> Env {
    Env::prefixed("WORKER_")
        .only(&["listen_api_ssl_verify", "listen_api_http_proxy", "listen_api_https_proxy"])
        .map(|k| format!("worker.{}", k.as_str().to_ascii_lowercase()).into())
}

/// Parses a size the way the platform's body parser does (`bytes` npm package): a plain
/// number is bytes; units `b`, `kb`, `mb`, `gb`, `tb`, `pb` (case-insensitive, powers of
/// 1024, decimals allowed, optional space).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let num: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim() {
        "" | "b" => 1.0,
        "kb" => 1024.0,
        "mb" => 1024.0 * 1024.0,
        "gb" => 1024.0 * 1024.0 * 1024.0,
        "tb" => 1024f64.powi(4),
        "pb" => 1024f64.powi(5),
        _ => return None,
    };
    if !num.is_finite() || num < 0.0 {
        return None;
    }
    Some((num * mult).floor() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_like_the_platform_body_parser() {
        assert_eq!(parse_size("50mb"), Some(52_428_800));
        assert_eq!(parse_size("50MB"), Some(52_428_800));
        assert_eq!(parse_size("1.5kb"), Some(1536));
        assert_eq!(parse_size("100"), Some(100));
        assert_eq!(parse_size("10 mb"), Some(10_485_760));
        assert_eq!(parse_size("ten"), None);
        assert_eq!(parse_size("5xb"), None);
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail closure returns figment's own error
    fn the_workers_own_variable_names_are_read() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("WORKER_LISTEN_API_SSL_VERIFY", "true");
            jail.set_env("WORKER_LISTEN_API_HTTP_PROXY", "http://proxy.invalid:3128");
            jail.set_env("WORKER__LISTEN_API_RETRY_MIN_MS", "5");
            let s = Settings::load(None, serde_json::json!({})).map_err(|e| e.to_string())?;
            assert!(s.worker.listen_api_ssl_verify);
            assert_eq!(s.worker.listen_api_http_proxy, "http://proxy.invalid:3128");
            assert_eq!(s.worker.listen_api_retry_min_ms, 5);
            assert_eq!(s.worker.listen_api_timeout_ms, 300_000);
            Ok(())
        });
    }
}
