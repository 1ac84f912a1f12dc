//! [`MockPlatformBuilder`]: options for an in-process platform.

use std::time::Duration;

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::platform::{MockPlatform, Platform, local_url};
use crate::profile::Profile;
use crate::store::Clock;
use crate::store::faults::FaultSpec;

/// Options for [`MockPlatform`]. Defaults: a random port on 127.0.0.1, a random admin
/// token, the 7.x profile, the platform's 50 MB payload limit.
///
/// ```
/// # #[tokio::main] async fn main() {
/// use std::time::Duration;
/// use opencti_mock::{MockPlatform, Profile};
/// let platform = MockPlatform::builder()
///     .connector_user("importer", "tok-1")
///     .profile(Profile::V6_9)
///     .ingest_delay(Duration::from_millis(5))
///     .max_payload_body_size("10mb")
///     .start()
///     .await;
/// assert!(platform.url().starts_with("http://127.0.0.1:"));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MockPlatformBuilder {
    settings: Settings,
    clock: Clock,
    faults: Vec<FaultSpec>,
    seeds: Vec<String>,
    scenario: Option<crate::scenario::Scenario>,
}

impl Default for MockPlatformBuilder {
    fn default() -> Self {
        let mut settings = Settings::default();
        settings.app.port = 0;
        // In-process platforms are HTTP-only unless a test asks for the broker.
        settings.mock.broker = crate::config::BrokerMode::Off;
        MockPlatformBuilder { settings, clock: Clock::system(), faults: Vec::new(), seeds: Vec::new(), scenario: None }
    }
}

impl MockPlatformBuilder {
    /// Starts from complete settings (their port is used as is; 0 picks one).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::*;
    /// let mut settings = Settings::default();
    /// // the defaults are the standalone server's (port 4000, the broker if one answers)
    /// settings.app.port = 0;
    /// settings.mock.broker = BrokerMode::Off;
    /// let platform = MockPlatform::builder().settings(settings).start().await;
    /// assert!(!platform.url().ends_with(":4000"));
    /// # }
    /// ```
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// Port to bind (0, the default, picks a free one).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().port(0).start().await;
    /// assert!(!platform.url().ends_with(":0"));
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn port(mut self, port: u16) -> Self {
        self.settings.app.port = port;
        self
    }

    /// The admin token (random by default).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().admin_token("admin-token").start().await;
    /// assert_eq!(platform.token(), "admin-token");
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn admin_token(mut self, token: impl Into<String>) -> Self {
        self.settings.app.admin.token = Some(token.into());
        self
    }

    /// A connector user (Connectors group, Connector role) with a fixed token.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().connector_user("importer", "tok-1").start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn connector_user(mut self, name: &str, token: &str) -> Self {
        self.settings.mock.connector_users.push(format!("{name}={token}"));
        self
    }

    /// The JSON payload limit, in the platform's syntax (`50mb`, `1kb`, `1048576`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().max_payload_body_size("1mb").start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn max_payload_body_size(mut self, size: impl Into<String>) -> Self {
        self.settings.app.max_payload_body_size = size.into();
        self
    }

    /// Gives the platform a broker, so connectors run in their default RabbitMQ mode: the
    /// local RabbitMQ (guest/guest) when it answers, otherwise the broker embedded in the
    /// mock. Off by default. [`MockPlatformBuilder::amqp_url`] insists on a given RabbitMQ,
    /// [`MockPlatformBuilder::broker_mode`] chooses exactly.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::builder().with_broker().start().await;
    /// // a RabbitMQ or the embedded broker: either way connectors are told to use it
    /// assert_eq!(platform.connector_env("EXTERNAL_IMPORT", platform.token()).get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
    /// # }
    /// ```
    pub fn with_broker(mut self) -> Self {
        self.settings.mock.broker = crate::config::BrokerMode::Auto;
        self
    }

    /// How the broker is found (see [`crate::config::BrokerMode`]).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().broker_mode(BrokerMode::Off).start().await;
    /// // no broker: a connector is told to push over HTTP
    /// assert_eq!(platform.connector_env("EXTERNAL_IMPORT", platform.token()).get("CONNECTOR_QUEUE_PROTOCOL"), Some("api"));
    /// # }
    /// ```
    pub fn broker_mode(mut self, mode: crate::config::BrokerMode) -> Self {
        self.settings.mock.broker = mode;
        self
    }

    /// The RabbitMQ to use (`amqp://user:pass@host:port/vhost`); starting fails when it does
    /// not answer ([`BrokerMode::RabbitMq`](crate::BrokerMode::RabbitMq)).
    ///
    /// ```
    /// # fn main() -> opencti_mock::Result<()> {
    /// let builder = opencti_mock::MockPlatform::builder().amqp_url("amqp://guest:guest@127.0.0.1:5672/%2F")?;
    /// assert!(opencti_mock::MockPlatform::builder().amqp_url("http://not-amqp").is_err());
    /// # let _ = builder; Ok(()) }
    /// ```
    pub fn amqp_url(mut self, url: &str) -> Result<Self> {
        self.settings.rabbitmq.apply_amqp_url(url).map_err(|e| Error::Config(e.to_string()))?;
        self.settings.mock.broker = crate::config::BrokerMode::RabbitMq;
        Ok(self)
    }

    /// Host handed to connectors in `config.connection` instead of the broker's.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().amqp_advertised_host("rabbitmq").start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn amqp_advertised_host(mut self, host: impl Into<String>) -> Self {
        self.settings.mock.amqp_advertised_host = Some(host.into());
        self
    }

    /// Messages each push-queue consumer takes before acknowledging.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().amqp_prefetch(1).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn amqp_prefetch(mut self, prefetch: u16) -> Self {
        self.settings.mock.amqp_prefetch = prefetch;
        self
    }

    /// What the worker's job callbacks carry as bearer (default: what the profile's
    /// platform sends).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().callback_auth(CallbackAuth::UserToken).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn callback_auth(mut self, auth: crate::config::CallbackAuth) -> Self {
        self.settings.mock.callback_auth = auth;
        self
    }

    /// Bounds of the worker's wait before it retries a job callback that was not
    /// acknowledged (the worker waits 10 to 30 s; tests shorten it).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().callback_retry_delay(Duration::from_millis(10), Duration::from_millis(50)).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn callback_retry_delay(mut self, min: Duration, max: Duration) -> Self {
        self.settings.worker.listen_api_retry_min_ms = min.as_millis() as u64;
        self.settings.worker.listen_api_retry_max_ms = max.as_millis() as u64;
        self
    }

    /// Verify the connector's certificate on HTTPS job callbacks (the worker's
    /// `WORKER_LISTEN_API_SSL_VERIFY`, off by default).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().callback_ssl_verify(true).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn callback_ssl_verify(mut self, verify: bool) -> Self {
        self.settings.worker.listen_api_ssl_verify = verify;
        self
    }

    /// How long a job callback may take before it counts as failed (the worker: 300 s).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().callback_timeout(Duration::from_secs(5)).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn callback_timeout(mut self, timeout: Duration) -> Self {
        self.settings.worker.listen_api_timeout_ms = timeout.as_millis() as u64;
        self
    }

    /// The worker's `objects_max_refs`: objects with at least this many references go to
    /// the dead-letter queue (0, the default, is off).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().objects_max_refs(1000).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn objects_max_refs(mut self, max: u64) -> Self {
        self.settings.mock.objects_max_refs = max;
        self
    }

    /// The platform version profile.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().profile(Profile::V6_9).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn profile(mut self, profile: Profile) -> Self {
        self.settings.mock.profile = profile;
        self
    }

    /// Delay before each queued message is ingested.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().ingest_delay(Duration::from_millis(20)).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn ingest_delay(mut self, delay: Duration) -> Self {
        self.settings.mock.ingest_delay_ms = delay.as_millis() as u64;
        self
    }

    /// Bounds of the worker's wait before it retries an object whose references are missing
    /// (pycti's worker waits 1 to 3 s; tests shorten it).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().missing_ref_retry_delay(Duration::ZERO, Duration::from_millis(10)).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn missing_ref_retry_delay(mut self, min: Duration, max: Duration) -> Self {
        self.settings.mock.missing_ref_retry_min_ms = min.as_millis() as u64;
        self.settings.mock.missing_ref_retry_max_ms = max.as_millis() as u64;
        self
    }

    /// How often the live stream sends a heartbeat (the platform's 5 s); a test shortens it
    /// to see the idle position move, or lengthens it to starve pycti's 45-second watchdog.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// let platform = opencti_mock::MockPlatform::builder().stream_heartbeat(Duration::from_millis(200)).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn stream_heartbeat(mut self, period: Duration) -> Self {
        self.settings.app.live_stream.heartbeat_period = period.as_millis().max(1) as u64;
        self
    }

    /// How many events the live stream keeps (the platform's `redis:trimming`, 2,000,000 by
    /// default); a reader asking for an older position starts at the oldest kept.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::builder().stream_retention(1000).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn stream_retention(mut self, events: usize) -> Self {
        self.settings.app.live_stream.retention = events;
        self
    }

    /// Start with ingestion paused (messages accumulate until resumed).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().ingest_paused(true).start().await;
    /// // … the connector pushes; nothing is ingested until …
    /// platform.set_ingest_paused(false);
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn ingest_paused(mut self, paused: bool) -> Self {
        self.settings.mock.ingest_paused = paused;
        self
    }

    /// Refuse introspection, as a production platform does.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().introspection(false).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn introspection(mut self, enabled: bool) -> Self {
        self.settings.app.graphql.playground.force_disabled_introspection = !enabled;
        self
    }

    /// A STIX bundle (JSON text) stored before the platform answers its first request, as
    /// the administrator, through the ingest path (objects the platform would refuse are
    /// left out and logged; see [`MockPlatform::seed`] for the report).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let bundle = r#"{"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": [
    ///   {"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"}]}"#;
    /// let platform = opencti_mock::MockPlatform::builder().seed(bundle).start().await;
    /// assert_eq!(platform.objects().len(), 1);
    /// # }
    /// ```
    pub fn seed(mut self, bundle: impl Into<String>) -> Self {
        self.seeds.push(bundle.into());
        self
    }

    /// A fault rule active from the start.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().fault(FaultSpec::always("PingConnector", FaultAction::Delay { ms: 100 })).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn fault(mut self, spec: FaultSpec) -> Self {
        self.faults.push(spec);
        self
    }

    /// Runs a scenario: its profile and limits are set now (options set later override
    /// them), its faults from the start (see [`Scenario`](crate::Scenario)). What it changes
    /// on the whole broker (its `max_message_size`, a memory alarm) is put back when the
    /// platform stops — at the latest when its runtime drops it.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use opencti_mock::{MockPlatform, Profile, Scenario};
    /// let scenario = Scenario::from_yaml("name: old\ntitle: a 6.9 platform\nprofile: \"6.9\"\n", "old.yaml").unwrap();
    /// let platform = MockPlatform::builder().scenario(scenario).start().await;
    /// let about: serde_json::Value = reqwest::Client::new().post(format!("{}/graphql", platform.url())).bearer_auth(platform.token())
    ///     .json(&serde_json::json!({"query": "{ about { version } }"})).send().await.unwrap().json().await.unwrap();
    /// assert_eq!(about["data"]["about"]["version"], Profile::V6_9.version());
    /// # }
    /// ```
    pub fn scenario(mut self, scenario: crate::scenario::Scenario) -> Self {
        scenario.apply(&mut self.settings);
        self.scenario = Some(scenario);
        self
    }

    /// The clock (a manual one lets tests cross the 5-minute liveness boundary).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use std::time::Duration;
    /// use opencti_mock::*;
    /// let platform = MockPlatform::builder().clock(Clock::manual("2026-01-01T00:00:00Z".parse().unwrap())).start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Starts the platform; panics with the reason if it cannot (tests want that).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let platform = opencti_mock::MockPlatform::builder().start().await;
    /// # let _ = platform;
    /// # }
    /// ```
    pub async fn start(self) -> MockPlatform {
        match self.try_start().await {
            Ok(p) => p,
            Err(e) => panic!("the mock platform could not start: {e}"),
        }
    }

    /// Starts the platform.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// // a token held by two users is refused
    /// let refused = opencti_mock::MockPlatform::builder().admin_token("t").connector_user("importer", "t").try_start().await;
    /// assert!(refused.is_err());
    /// # }
    /// ```
    pub async fn try_start(self) -> Result<MockPlatform> {
        self.settings.max_payload_bytes().map_err(|e| Error::Config(e.to_string()))?;
        let addr = std::net::SocketAddr::new(self.settings.app.bind_address, self.settings.app.port);
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::Io(format!("cannot bind {addr}: {e}")))?;
        let bound = listener.local_addr().map_err(|e| Error::Io(e.to_string()))?;
        let url = self.settings.app.base_url.clone().unwrap_or_else(|| local_url(bound));
        let platform = Platform::new(self.settings, self.clock, url.clone())?;
        platform.connect_broker().await?;
        for spec in self.faults {
            platform.core().store.write(|s| s.faults.add(spec));
        }
        if let Some(scenario) = &self.scenario {
            crate::platform::scenario::install(platform.core(), scenario).await;
        }
        for bundle in &self.seeds {
            let report = crate::ingest::seed::seed_bundle(&platform.core().store, bundle)
                .map_err(|e| Error::Config(format!("seed: {e}")))?;
            for r in &report.refused {
                tracing::warn!(id = r.id.as_deref().unwrap_or("?"), error = %r.error, "seeded object refused");
            }
        }
        Ok(MockPlatform::launch(platform, listener, url))
    }
}
