//! Settings, read as pycti's helper reads them.
//!
//! Every setting has an environment variable and a `config.yml` path (`section` → `key`);
//! the environment wins, then the file, then the default. The variable is the path in upper
//! case joined by `_` (`connector.live_stream_id` → `CONNECTOR_LIVE_STREAM_ID`), with
//! pycti's exceptions kept: the listener's TLS files are `LISTEN_PROTOCOL_API_SSL_KEY`,
//! `…_CERT` and `…_PASSPHRASE` (no `CONNECTOR_` prefix), and `CONNECTOR_QUEUE_PROTOCOL` falls
//! back to the deprecated `QUEUE_PROTOCOL`. An empty value counts as unset. Booleans are
//! pycti's: `true`/`True`/`yes` and `false`/`False`/`no`; any other spelling is refused here
//! (pycti would keep it as a string and fail later, or worse, treat it as true).
//!
//! A connector's own settings (its API key, its max TLP) are read the same way with
//! [`Settings::get`].

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// Where settings come from: the process environment and an optional `config.yml`.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    env: BTreeMap<String, String>,
    file: serde_json::Value,
}

/// The connector's identity and behaviour, from the settings.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    /// `OPENCTI_URL`, without a trailing `/`.
    pub url: String,
    /// `OPENCTI_TOKEN`.
    pub token: String,
    /// `CONNECTOR_ID`.
    pub id: String,
    /// `CONNECTOR_NAME`.
    pub name: String,
    /// `CONNECTOR_TYPE`.
    pub connector_type: String,
    /// `CONNECTOR_SCOPE`, split on commas (`["not-applicable"]` when unset, as pycti).
    pub scope: Vec<String>,
    /// `CONNECTOR_AUTO`.
    pub auto: bool,
    /// `CONNECTOR_QUEUE_PROTOCOL`: how bundles are sent.
    pub queue_protocol: QueueProtocol,
    /// `CONNECTOR_LISTEN_PROTOCOL`: how jobs arrive.
    pub listen_protocol: ListenProtocol,
    /// `CONNECTOR_LISTEN_PROTOCOL_API_PORT` (7070).
    pub listen_port: u16,
    /// `CONNECTOR_LISTEN_PROTOCOL_API_PATH` (`/api/callback`).
    pub listen_path: String,
    /// `CONNECTOR_LISTEN_PROTOCOL_API_URI` (`http://127.0.0.1:7070`); pycti ignores the
    /// port setting here, so does the kit.
    pub listen_uri: String,
    /// `CONNECTOR_RUN_AND_TERMINATE`.
    pub run_and_terminate: bool,
    /// `CONNECTOR_DURATION_PERIOD` (an ISO 8601 duration such as `PT1H`).
    pub duration_period: Option<Duration>,
    /// `CONNECTOR_VALIDATE_BEFORE_IMPORT`.
    pub validate_before_import: bool,
    /// `CONNECTOR_LIVE_STREAM_ID`.
    pub live_stream_id: Option<String>,
    /// `CONNECTOR_LIVE_STREAM_LISTEN_DELETE` (true).
    pub live_stream_listen_delete: bool,
    /// `CONNECTOR_LIVE_STREAM_NO_DEPENDENCIES` (true).
    pub live_stream_no_dependencies: bool,
    /// `CONNECTOR_LIVE_STREAM_WITH_INFERENCES` (false).
    pub live_stream_with_inferences: bool,
    /// `CONNECTOR_LIVE_STREAM_RECOVER_ISO_DATE`: `None` recovers until now; `Some("false")`
    /// and pycti's other "no" spellings recover nothing.
    pub live_stream_recover_iso_date: Option<String>,
    /// `CONNECTOR_LIVE_STREAM_START_TIMESTAMP` (epoch milliseconds).
    pub live_stream_start_timestamp: Option<String>,
    /// `MQ_HOST`, `MQ_PORT`, `MQ_VHOST`, `MQ_USER`, `MQ_PASS`: override what the
    /// registration answers.
    pub mq: MqOverrides,
    /// Kit only (pycti hard-codes 40 s): `CONNECTOR_KIT_PING_PERIOD`, seconds.
    pub ping_period: Duration,
    /// Kit only (pycti hard-codes 45 s): `CONNECTOR_KIT_STREAM_WATCHDOG`, seconds without
    /// an event (heartbeats included) before the stream is deemed dead.
    pub stream_watchdog: Duration,
}

/// `CONNECTOR_QUEUE_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueProtocol {
    /// RabbitMQ, the push exchange (pycti's default).
    Amqp,
    /// `stixBundlePush` over GraphQL.
    Api,
}

/// `CONNECTOR_LISTEN_PROTOCOL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenProtocol {
    /// The connector's `listen_<id>` queue (pycti's default).
    Amqp,
    /// An HTTP listener the platform's worker POSTs jobs to.
    Api,
}

/// Broker settings that override the registration's.
#[derive(Debug, Clone, Default)]
pub struct MqOverrides {
    /// `MQ_HOST`.
    pub host: Option<String>,
    /// `MQ_PORT`.
    pub port: Option<u16>,
    /// `MQ_VHOST`.
    pub vhost: Option<String>,
    /// `MQ_USER`.
    pub user: Option<String>,
    /// `MQ_PASS`.
    pub pass: Option<String>,
}

impl Settings {
    /// The process environment and `config.yml` in the working directory, when there is one.
    pub fn load() -> Result<Settings> {
        let settings = Settings::from_env(std::env::vars());
        let path = Path::new("config.yml");
        if path.exists() { settings.with_file(path) } else { Ok(settings) }
    }

    /// Settings from these variables only (no file).
    pub fn from_env(vars: impl IntoIterator<Item = (String, String)>) -> Settings {
        Settings { env: vars.into_iter().collect(), file: serde_json::Value::Null }
    }

    /// Adds a `config.yml` (sections of keys, as pycti's connectors ship it).
    pub fn with_file(mut self, path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        self.file = serde_norway::from_str(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))?;
        Ok(self)
    }

    /// A setting by its `config.yml` path (`["connector", "scope"]`), from its environment
    /// variable first (the path in upper case, joined by `_`).
    pub fn get(&self, path: &[&str]) -> Option<String> {
        let var = path.join("_").to_uppercase();
        self.get_as(&var, path)
    }

    /// A setting whose variable is not the upper-cased path (pycti's exceptions).
    pub fn get_as(&self, var: &str, path: &[&str]) -> Option<String> {
        if let Some(v) = self.env.get(var).filter(|v| !v.is_empty()) {
            return Some(v.clone());
        }
        if path.is_empty() {
            return None;
        }
        let mut node = &self.file;
        for key in path {
            node = node.get(key)?;
        }
        match node {
            serde_json::Value::Null => None,
            serde_json::Value::String(s) if s.is_empty() => None,
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        }
    }

    /// A boolean setting, pycti's spellings.
    pub fn get_bool(&self, path: &[&str], default: bool) -> Result<bool> {
        self.get(path).map_or(Ok(default), |v| parse_bool(&path.join("_").to_uppercase(), &v))
    }

    /// A required setting.
    pub fn require(&self, path: &[&str]) -> Result<String> {
        self.get(path).ok_or_else(|| {
            Error::Config(format!("{} is not set (environment variable {})", path.join("."), path.join("_").to_uppercase()))
        })
    }

    /// The connector's settings.
    pub fn connector(&self) -> Result<ConnectorSettings> {
        let url = self.require(&["opencti", "url"])?.trim_end_matches('/').to_string();
        let token = self.require(&["opencti", "token"])?;
        let connector_type = self.require(&["connector", "type"])?;
        const TYPES: [&str; 6] = [
            "EXTERNAL_IMPORT",
            "INTERNAL_IMPORT_FILE",
            "INTERNAL_ENRICHMENT",
            "INTERNAL_ANALYSIS",
            "INTERNAL_EXPORT_FILE",
            "STREAM",
        ];
        if !TYPES.contains(&connector_type.as_str()) {
            return Err(Error::Config(format!("CONNECTOR_TYPE {connector_type} is not one of {}", TYPES.join(", "))));
        }
        let scope = match self.get(&["connector", "scope"]) {
            None => vec!["not-applicable".to_string()],
            Some(s) => s.split(',').map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect(),
        };
        let queue = self
            .get_as("CONNECTOR_QUEUE_PROTOCOL", &["connector", "queue_protocol"])
            .or_else(|| self.get_as("QUEUE_PROTOCOL", &[]));
        let queue_protocol = match queue.as_deref() {
            None | Some("amqp") => QueueProtocol::Amqp,
            Some("api") => QueueProtocol::Api,
            Some(other) => return Err(Error::Config(format!("CONNECTOR_QUEUE_PROTOCOL {other} is neither amqp nor api"))),
        };
        let listen_protocol = match self.get(&["connector", "listen_protocol"]).map(|s| s.to_uppercase()).as_deref() {
            None | Some("AMQP") => ListenProtocol::Amqp,
            Some("API") => ListenProtocol::Api,
            Some(other) => return Err(Error::Config(format!("CONNECTOR_LISTEN_PROTOCOL {other} is neither AMQP nor API"))),
        };
        let listen_port = match self.get(&["connector", "listen_protocol_api_port"]) {
            None => 7070,
            Some(p) => p.parse().map_err(|_| Error::Config(format!("CONNECTOR_LISTEN_PROTOCOL_API_PORT {p} is not a port")))?,
        };
        let mq_port = match self.get(&["mq", "port"]) {
            None => None,
            Some(p) => Some(p.parse().map_err(|_| Error::Config(format!("MQ_PORT {p} is not a port")))?),
        };
        let duration_period = match self.get(&["connector", "duration_period"]) {
            None => None,
            Some(p) => Some(
                parse_iso_duration(&p)
                    .ok_or_else(|| Error::Config(format!("CONNECTOR_DURATION_PERIOD {p} is not an ISO 8601 duration")))?,
            ),
        };
        Ok(ConnectorSettings {
            url,
            token,
            id: self.require(&["connector", "id"])?,
            name: self.require(&["connector", "name"])?,
            connector_type,
            scope,
            auto: self.get_bool(&["connector", "auto"], false)?,
            queue_protocol,
            listen_protocol,
            listen_port,
            listen_path: self.get(&["connector", "listen_protocol_api_path"]).unwrap_or_else(|| "/api/callback".into()),
            listen_uri: self.get(&["connector", "listen_protocol_api_uri"]).unwrap_or_else(|| "http://127.0.0.1:7070".into()),
            run_and_terminate: self.get_bool(&["connector", "run_and_terminate"], false)?,
            duration_period,
            validate_before_import: self.get_bool(&["connector", "validate_before_import"], false)?,
            live_stream_id: self.get(&["connector", "live_stream_id"]),
            live_stream_listen_delete: self.get_bool(&["connector", "live_stream_listen_delete"], true)?,
            live_stream_no_dependencies: self.get_bool(&["connector", "live_stream_no_dependencies"], true)?,
            live_stream_with_inferences: self.get_bool(&["connector", "live_stream_with_inferences"], false)?,
            live_stream_recover_iso_date: self.get(&["connector", "live_stream_recover_iso_date"]),
            live_stream_start_timestamp: self.get(&["connector", "live_stream_start_timestamp"]),
            mq: MqOverrides {
                host: self.get(&["mq", "host"]),
                port: mq_port,
                vhost: self.get(&["mq", "vhost"]),
                user: self.get(&["mq", "user"]),
                pass: self.get(&["mq", "pass"]),
            },
            ping_period: self.seconds(&["connector", "kit_ping_period"], 40.0)?,
            stream_watchdog: self.seconds(&["connector", "kit_stream_watchdog"], 45.0)?,
        })
    }

    fn seconds(&self, path: &[&str], default: f64) -> Result<Duration> {
        let Some(v) = self.get(path) else { return Ok(Duration::from_secs_f64(default)) };
        v.parse::<f64>()
            .ok()
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| Error::Config(format!("{} {v} is not a number of seconds", path.join("_").to_uppercase())))
    }
}

impl ConnectorSettings {
    /// The callback address registered in HTTP listen mode: the URI, then the path.
    pub fn listen_callback_uri(&self) -> Option<String> {
        (self.listen_protocol == ListenProtocol::Api)
            .then(|| format!("{}{}", self.listen_uri.trim_end_matches('/'), self.listen_path))
    }

    /// Whether the connector pings at all: not in run-and-terminate mode, nor with a zero
    /// duration period (pycti's rule for its ping thread).
    pub fn pings_in_background(&self) -> bool {
        !self.run_and_terminate && self.duration_period != Some(Duration::ZERO)
    }
}

fn parse_bool(var: &str, v: &str) -> Result<bool> {
    match v {
        "true" | "True" | "yes" => Ok(true),
        "false" | "False" | "no" => Ok(false),
        other => Err(Error::Config(format!("{var} {other} is not a boolean pycti reads (true/True/yes, false/False/no)"))),
    }
}

/// An ISO 8601 duration (`PT1H`, `P1D`, `PT30M`, `PT0S`); also a bare `0`. Years and months
/// are not durations of fixed length and are refused.
pub fn parse_iso_duration(s: &str) -> Option<Duration> {
    if s == "0" {
        return Some(Duration::ZERO);
    }
    let rest = s.strip_prefix('P')?;
    let (date, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut total = 0.0;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
            } else {
                let (_, secs) = units.iter().find(|(u, _)| *u == c)?;
                total += number.parse::<f64>().ok()? * secs;
                number.clear();
            }
        }
        number.is_empty().then_some(())
    };
    add(date, &[('W', 604_800.0), ('D', 86_400.0)])?;
    add(time, &[('H', 3_600.0), ('M', 60.0), ('S', 1.0)])?;
    Some(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        Settings::from_env(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    const BASE: [(&str, &str); 5] = [
        ("OPENCTI_URL", "http://localhost:4000/"),
        ("OPENCTI_TOKEN", "t"),
        ("CONNECTOR_ID", "c0ffee00-0000-4000-8000-000000000000"),
        ("CONNECTOR_NAME", "n"),
        ("CONNECTOR_TYPE", "STREAM"),
    ];

    #[test]
    fn environment_wins_over_the_file_and_pycti_defaults_apply() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.yml");
        std::fs::write(&file, "connector:\n  scope: 'a, b'\n  live_stream_id: from-file\n  auto: true\n").unwrap();
        let mut vars = BASE.to_vec();
        vars.push(("CONNECTOR_LIVE_STREAM_ID", "from-env"));
        let c = settings(&vars).with_file(&file).unwrap().connector().unwrap();
        assert_eq!(c.url, "http://localhost:4000");
        assert_eq!(c.scope, ["a", "b"]);
        assert_eq!(c.live_stream_id.as_deref(), Some("from-env"));
        assert!(c.auto && c.live_stream_listen_delete && c.live_stream_no_dependencies && !c.live_stream_with_inferences);
        assert_eq!(c.queue_protocol, QueueProtocol::Amqp);
        assert_eq!(c.listen_callback_uri(), None);
        assert_eq!(c.ping_period, Duration::from_secs(40));
    }

    #[test]
    fn pycti_exceptions_and_refusals() {
        let mut vars = BASE.to_vec();
        vars.push(("QUEUE_PROTOCOL", "api"));
        vars.push(("CONNECTOR_LISTEN_PROTOCOL", "api"));
        vars.push(("CONNECTOR_LISTEN_PROTOCOL_API_URI", "http://h:9"));
        vars.push(("LISTEN_PROTOCOL_API_SSL_KEY", "k"));
        let s = settings(&vars);
        let c = s.connector().unwrap();
        assert_eq!(c.queue_protocol, QueueProtocol::Api);
        assert_eq!(c.listen_callback_uri().as_deref(), Some("http://h:9/api/callback"));
        assert_eq!(s.get_as("LISTEN_PROTOCOL_API_SSL_KEY", &["connector", "listen_protocol_api_ssl_key"]).as_deref(), Some("k"));
        let mut bad = BASE.to_vec();
        bad.push(("CONNECTOR_AUTO", "TRUE"));
        assert!(settings(&bad).connector().unwrap_err().to_string().contains("CONNECTOR_AUTO TRUE"));
        let mut bad = BASE.to_vec();
        bad.push(("CONNECTOR_QUEUE_PROTOCOL", "AMQP"));
        assert!(settings(&bad).connector().is_err(), "pycti's queue protocol is case-sensitive");
    }

    #[test]
    fn iso_durations() {
        assert_eq!(parse_iso_duration("PT1H"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_iso_duration("P1DT30M"), Some(Duration::from_secs(86_400 + 1_800)));
        assert_eq!(parse_iso_duration("PT0S"), Some(Duration::ZERO));
        assert_eq!(parse_iso_duration("P1M"), None);
        assert_eq!(parse_iso_duration("1h"), None);
    }
}
