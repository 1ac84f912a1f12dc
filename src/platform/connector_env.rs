//! The environment a connector process needs to run against a platform.
//!
//! A test that spawns a real connector (pycti, or any language) has to hand it the
//! platform's URL, a token, and the `CONNECTOR_*` variables pycti's helper reads; getting
//! one wrong (an id that is not a UUID, `api` when the platform has a broker, a missing
//! listen port for an HTTP-callback connector) fails the connector before it does what
//! the test is about. [`ConnectorEnv`] holds what the platform knows and the connector
//! needs, with pycti's own variable names; the broker's address is not among them: pycti
//! takes it from the platform's answer to `registerConnector`.

/// Environment variables for one connector process, from
/// [`MockPlatform::connector_env`](crate::MockPlatform::connector_env); iterate it into
/// `Command::envs`.
///
/// ```
/// # #[tokio::main] async fn main() {
/// let platform = opencti_mock::MockPlatform::start().await;
/// let token = platform.add_connector_user("importer");
/// let env = platform.connector_env("EXTERNAL_IMPORT", &token).name("My feed").var("CONNECTOR_DURATION_PERIOD", "PT1H");
/// assert_eq!(env.get("OPENCTI_URL"), Some(platform.url()));
/// let mut connector = std::process::Command::new("python3");
/// connector.arg("main.py").envs(env);
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use = "a ConnectorEnv does nothing until given to a process (`Command::envs`)"]
pub struct ConnectorEnv {
    vars: Vec<(String, String)>,
}

impl ConnectorEnv {
    /// `OPENCTI_URL`, `OPENCTI_TOKEN`, a fresh `CONNECTOR_ID`, `CONNECTOR_NAME` (the type,
    /// until [`name`](Self::name)), `CONNECTOR_TYPE` and `CONNECTOR_QUEUE_PROTOCOL`
    /// (`amqp` when the platform has a broker, else `api`); an enrichment or import
    /// connector also gets `CONNECTOR_AUTO=false`, so jobs come only when a test asks.
    pub(crate) fn new(url: &str, token: &str, connector_type: &str, has_broker: bool) -> ConnectorEnv {
        let mut env = ConnectorEnv { vars: Vec::new() };
        env = env
            .var("OPENCTI_URL", url)
            .var("OPENCTI_TOKEN", token)
            .var("CONNECTOR_ID", uuid::Uuid::new_v4().to_string())
            .var("CONNECTOR_NAME", connector_type)
            .var("CONNECTOR_TYPE", connector_type)
            .var("CONNECTOR_QUEUE_PROTOCOL", if has_broker { "amqp" } else { "api" });
        if matches!(connector_type, "INTERNAL_ENRICHMENT" | "INTERNAL_IMPORT_FILE" | "INTERNAL_EXPORT_FILE" | "INTERNAL_ANALYSIS")
        {
            env = env.var("CONNECTOR_AUTO", "false");
        }
        env
    }

    /// Sets a variable (replacing it if set).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token").var("CONNECTOR_LOG_LEVEL", "debug").var("CONNECTOR_LOG_LEVEL", "info");
    /// assert_eq!(env.get("CONNECTOR_LOG_LEVEL"), Some("info"));
    /// # }
    /// ```
    pub fn var(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        self.vars.retain(|(k, _)| *k != key);
        self.vars.push((key, value.into()));
        self
    }

    /// `CONNECTOR_ID` (a UUID; the platform refuses any other id).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token").id("0c41ab2f-7f3a-4b1e-9d43-6a3b8a1f1a01");
    /// assert_eq!(env.connector_id(), "0c41ab2f-7f3a-4b1e-9d43-6a3b8a1f1a01");
    /// # }
    /// ```
    pub fn id(self, id: impl Into<String>) -> Self {
        self.var("CONNECTOR_ID", id)
    }

    /// `CONNECTOR_NAME`.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token");
    /// assert_eq!(env.get("CONNECTOR_NAME"), Some("EXTERNAL_IMPORT"), "the type until named");
    /// assert_eq!(env.name("My feed").get("CONNECTOR_NAME"), Some("My feed"));
    /// # }
    /// ```
    pub fn name(self, name: impl Into<String>) -> Self {
        self.var("CONNECTOR_NAME", name)
    }

    /// `CONNECTOR_SCOPE` (entity types or MIME types, comma-separated).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("INTERNAL_ENRICHMENT", "token").scope("IPv4-Addr,Domain-Name");
    /// assert_eq!(env.get("CONNECTOR_SCOPE"), Some("IPv4-Addr,Domain-Name"));
    /// assert_eq!(env.get("CONNECTOR_AUTO"), Some("false"), "jobs only when a test asks");
    /// # }
    /// ```
    pub fn scope(self, scope: impl Into<String>) -> Self {
        self.var("CONNECTOR_SCOPE", scope)
    }

    /// `CONNECTOR_QUEUE_PROTOCOL`: `amqp` or `api`.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// // an in-process platform has no broker unless given one: pycti pushes over HTTP
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token");
    /// assert_eq!(env.get("CONNECTOR_QUEUE_PROTOCOL"), Some("api"));
    /// assert_eq!(env.queue_protocol("amqp").get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
    /// # }
    /// ```
    pub fn queue_protocol(self, protocol: impl Into<String>) -> Self {
        self.var("CONNECTOR_QUEUE_PROTOCOL", protocol)
    }

    /// Jobs over HTTP callbacks: `CONNECTOR_LISTEN_PROTOCOL=API` with the connector's
    /// listener on `port` (`CONNECTOR_LISTEN_PROTOCOL_API_PORT` and `…_URI`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("INTERNAL_ENRICHMENT", "token").listen_api(7070);
    /// assert_eq!(env.get("CONNECTOR_LISTEN_PROTOCOL"), Some("API"));
    /// assert_eq!(env.get("CONNECTOR_LISTEN_PROTOCOL_API_URI"), Some("http://127.0.0.1:7070"));
    /// # }
    /// ```
    pub fn listen_api(self, port: u16) -> Self {
        self.var("CONNECTOR_LISTEN_PROTOCOL", "API")
            .var("CONNECTOR_LISTEN_PROTOCOL_API_PORT", port.to_string())
            .var("CONNECTOR_LISTEN_PROTOCOL_API_URI", format!("http://127.0.0.1:{port}"))
    }

    /// A variable's value.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token");
    /// assert_eq!(env.get("OPENCTI_TOKEN"), Some("token"));
    /// assert_eq!(env.get("CONNECTOR_SCOPE"), None);
    /// # }
    /// ```
    pub fn get(&self, key: &str) -> Option<&str> {
        self.vars.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The connector's id (`CONNECTOR_ID`).
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token");
    /// assert!(uuid::Uuid::parse_str(env.connector_id()).is_ok(), "a fresh UUID");
    /// # }
    /// ```
    pub fn connector_id(&self) -> &str {
        self.get("CONNECTOR_ID").unwrap_or_default()
    }

    /// Every variable, in the order set.
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// # let platform = opencti_mock::MockPlatform::start().await;
    /// let env = platform.connector_env("EXTERNAL_IMPORT", "token");
    /// assert_eq!(env.vars()[0], ("OPENCTI_URL".to_string(), platform.url().to_string()));
    /// # }
    /// ```
    pub fn vars(&self) -> &[(String, String)] {
        &self.vars
    }
}

impl IntoIterator for ConnectorEnv {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.vars.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_connectors_get_no_automatic_jobs_and_setters_replace() {
        let env =
            ConnectorEnv::new("http://127.0.0.1:1", "tok", "INTERNAL_ENRICHMENT", false).scope("IPv4-Addr").scope("Domain-Name");
        assert_eq!(env.get("CONNECTOR_AUTO"), Some("false"));
        assert_eq!(env.get("CONNECTOR_QUEUE_PROTOCOL"), Some("api"));
        assert_eq!(env.get("CONNECTOR_SCOPE"), Some("Domain-Name"));
        assert_eq!(env.vars().iter().filter(|(k, _)| k == "CONNECTOR_SCOPE").count(), 1);
        assert!(uuid::Uuid::parse_str(env.connector_id()).is_ok());
    }

    #[test]
    fn import_connectors_follow_the_broker() {
        let env = ConnectorEnv::new("http://127.0.0.1:1", "tok", "EXTERNAL_IMPORT", true).listen_api(7071);
        assert_eq!(env.get("CONNECTOR_QUEUE_PROTOCOL"), Some("amqp"));
        assert_eq!(env.get("CONNECTOR_AUTO"), None);
        assert_eq!(env.get("CONNECTOR_LISTEN_PROTOCOL_API_URI"), Some("http://127.0.0.1:7071"));
    }
}
