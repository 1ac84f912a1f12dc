//! A pycti connector script (`fixtures/connectors/…`) run as a child process with the
//! pinned venv's Python, registered with an in-process platform, and waited on.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use opencti_mock::MockPlatform;
use opencti_mock::store::works::{Work, WorkStatus};

/// A connector process, killed when dropped.
pub struct Connector {
    child: Child,
    log: std::path::PathBuf,
}

impl Connector {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// How it ended, once it has.
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Connector {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free port for a connector's HTTP listener, below the kernel's ephemeral range: a port
/// of that range, released before the connector binds it, can meanwhile be handed to any
/// outgoing connection of the machine (see `free_port` in `src/conform/process.rs`).
pub fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..64)
        .map(|_| rng.gen_range(20_000..32_000))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below the ephemeral range")
}

/// The transport a test case names: `amqp-embedded` (the embedded broker) is `amqp` to
/// the connector.
pub fn wire(case: &str) -> &str {
    if case == "amqp-embedded" { "amqp" } else { case }
}

/// The platform a test case names: `amqp` on RabbitMQ, `amqp-embedded` on the embedded
/// broker, anything else HTTP-only.
pub fn with_case_broker(builder: opencti_mock::MockPlatformBuilder, case: &str) -> opencti_mock::MockPlatformBuilder {
    match case {
        "amqp" => builder.broker_mode(opencti_mock::BrokerMode::RabbitMq),
        "amqp-embedded" => builder.broker_mode(opencti_mock::BrokerMode::Embedded),
        _ => builder,
    }
}

/// The listen settings of a connector (HTTP on a free port, or AMQP — then it pushes over
/// AMQP too), and its scope.
pub fn listen_env(listen: &str, scope: &str) -> Vec<(String, String)> {
    let mut env = vec![
        ("CONNECTOR_LISTEN_PROTOCOL".to_string(), listen.to_uppercase()),
        ("CONNECTOR_SCOPE".to_string(), scope.to_string()),
        ("CONNECTOR_QUEUE_PROTOCOL".to_string(), if listen == "amqp" { "amqp" } else { "api" }.to_string()),
    ];
    if listen.eq_ignore_ascii_case("api") {
        let port = free_port();
        env.push(("CONNECTOR_LISTEN_PROTOCOL_API_PORT".into(), port.to_string()));
        env.push(("CONNECTOR_LISTEN_PROTOCOL_API_URI".into(), format!("http://127.0.0.1:{port}")));
    }
    env
}

/// Starts `fixtures/connectors/<script>` with the pinned pycti.
pub fn start_connector(
    script: &str,
    platform: &MockPlatform,
    token: &str,
    id: &str,
    kind: &str,
    extra: &[(String, String)],
) -> Connector {
    let python = super::pycti_python();
    let path = super::connector_script(script);
    let log = std::env::temp_dir().join(format!("opencti-mock-{}.log", uuid::Uuid::new_v4()));
    let file = std::fs::File::create(&log).expect("log file");
    let mut cmd = Command::new(python);
    cmd.arg(&path)
        .current_dir(path.parent().expect("the script's folder"))
        .env("OPENCTI_URL", platform.url())
        .env("OPENCTI_TOKEN", token)
        .env("CONNECTOR_ID", id)
        .env("CONNECTOR_NAME", format!("Jobs {kind}"))
        .env("CONNECTOR_TYPE", kind)
        .env("CONNECTOR_LOG_LEVEL", "info")
        .stdin(Stdio::null())
        .stdout(file.try_clone().expect("log file"))
        .stderr(file);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    Connector { child: cmd.spawn().expect("python starts"), log }
}

pub async fn wait_for(what: &str, timeout: Duration, connector: &Connector, mut check: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; connector output:\n{}",
            connector.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn registered(platform: &MockPlatform, connector: &Connector, id: &str) {
    wait_for("the connector to register", Duration::from_secs(60), connector, || platform.connector(id).is_some()).await;
}

/// Creates the connector's user, starts `script` under a new id and waits for its
/// registration; returns the connector, its id and its token.
pub async fn launch(platform: &MockPlatform, script: &str, kind: &str, env: &[(String, String)]) -> (Connector, String, String) {
    let user = match kind {
        "INTERNAL_ENRICHMENT" => "[C] enrichment",
        "INTERNAL_EXPORT_FILE" => "[C] export",
        _ => "[C] import",
    };
    let token = platform.add_connector_user(user);
    let id = uuid::Uuid::new_v4().to_string();
    let connector = start_connector(script, platform, &token, &id, kind, env);
    registered(platform, &connector, &id).await;
    (connector, id, token)
}

pub async fn processed(platform: &MockPlatform, connector: &Connector, work_id: &str) -> Work {
    wait_for("the work to be processed", Duration::from_secs(60), connector, || {
        platform.work(work_id).is_some_and(|w| w.processed_time.is_some() && w.status == WorkStatus::Complete)
    })
    .await;
    platform.work(work_id).expect("the work")
}
