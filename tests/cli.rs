//! The binary: configuration sources (environment with the platform's `__` nesting, a
//! config file, flags), the default port, and clean shutdown on signals.

mod common;

use common::{Client, REGISTER, ServeProcess, registration};
use serde_json::json;

fn about(client: &Client, token: &str) -> serde_json::Value {
    client.graphql(Some(token), &json!({"query": "{ about { version } }"})).1
}

#[test]
fn environment_variables_configure_the_platform_with_double_underscore_nesting() {
    let serve = ServeProcess::start_raw(
        &[],
        &[
            ("APP__PORT", "0"),
            ("APP__ADMIN__TOKEN", "env-admin"),
            ("APP__MAX_PAYLOAD_BODY_SIZE", "1kb"),
            ("MOCK__PROFILE", "6.9"),
            ("RABBITMQ__HOSTNAME", "rabbitmq.internal"),
            ("RABBITMQ__QUEUE_PREFIX", "tenant1"),
            // No broker: registration hands out the `rabbitmq:*` settings as they are (with
            // one, the broker in use).
            ("MOCK__BROKER", "off"),
        ],
    );
    let client = Client::new(&serve.url);

    let version = about(&client, "env-admin");
    let (status, _) =
        client.graphql(Some("env-admin"), &json!({"query": "{ about { version } }", "variables": {"pad": "x".repeat(2000)}}));
    let id = uuid::Uuid::new_v4().to_string();
    let (_, reg) = client.graphql(Some("env-admin"), &json!({"query": REGISTER, "variables": registration(&id, "Env")}));

    assert_eq!(serve.admin_token, "env-admin");
    assert_eq!(version["data"]["about"]["version"], "6.9.17");
    assert_eq!(status, 500, "1kb body limit applied");
    assert_eq!(reg["data"]["registerConnector"]["config"]["connection"]["host"], "rabbitmq.internal");
    assert_eq!(reg["data"]["registerConnector"]["config"]["listen"], format!("tenant1_listen_{id}"));
}

#[test]
fn a_config_file_has_the_platform_structure_and_flags_override_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("config.json");
    std::fs::write(
        &file,
        json!({"app": {"port": 0, "admin": {"token": "file-admin"}}, "mock": {"profile": "6.9"},
        "minio": {"bucket_name": "from-file"}})
        .to_string(),
    )
    .unwrap();

    let serve =
        ServeProcess::start_raw(&["--config", file.to_str().unwrap(), "--profile", "7"], &[("APP__ADMIN__TOKEN", "env-admin")]);
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    let (_, reg) = client.graphql(Some("env-admin"), &json!({"query": REGISTER, "variables": registration(&id, "File")}));

    assert_eq!(serve.admin_token, "env-admin", "the environment overrides the file");
    assert_eq!(about(&client, "env-admin")["data"]["about"]["version"], "7.261026.0", "flags override both");
    assert_eq!(reg["data"]["registerConnector"]["config"]["s3"]["bucket_name"], "from-file");
}

#[test]
fn a_missing_config_file_or_a_bad_size_is_a_clear_error() {
    let bin = env!("CARGO_BIN_EXE_opencti-mock");
    let missing = std::process::Command::new(bin).args(["serve", "--config", "/nonexistent.json"]).output().unwrap();
    let bad_size =
        std::process::Command::new(bin).args(["serve", "--port", "0", "--max-payload-body-size", "lots"]).output().unwrap();

    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent.json does not exist"));
    assert!(!bad_size.status.success());
    assert!(String::from_utf8_lossy(&bad_size.stderr).contains("invalid size 'lots' for app:max_payload_body_size"));
}

#[test]
fn with_no_configuration_it_listens_on_the_platform_port_and_prints_its_admin_token() {
    let serve = ServeProcess::start_raw(&[], &[]);
    let client = Client::new(&serve.url);

    assert_eq!(serve.url, "http://127.0.0.1:4000");
    assert!(uuid::Uuid::parse_str(&serve.admin_token).is_ok(), "a random admin token is printed: {:?}", serve.banner);
    assert!(serve.banner.iter().any(|l| l.contains("CONNECTOR_QUEUE_PROTOCOL=api")), "{:?}", serve.banner);
    assert_eq!(about(&client, &serve.admin_token.clone())["data"]["about"]["version"], "7.261026.0");
    let status = serve.signal("-INT");
    assert!(status.success(), "Ctrl-C stops it cleanly: {status}");
}

#[test]
fn help_lists_the_environment_variables() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_opencti-mock")).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for var in ["APP__PORT", "APP__ADMIN__TOKEN", "APP__MAX_PAYLOAD_BODY_SIZE", "MOCK__PROFILE", "RABBITMQ__HOSTNAME"] {
        assert!(help.contains(var), "--help mentions {var}");
    }
}
