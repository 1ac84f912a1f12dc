//! Interop over RabbitMQ (and, where marked, the embedded broker): the official Python client, unchanged, in AMQP mode
//! (`CONNECTOR_QUEUE_PROTOCOL=amqp`) against `opencti-mock serve` on the real broker; the
//! advertised-host failure (connectors#972) and pycti's `MQ_*` override; pycti's
//! buffering decision on the queue figures, in both transports.

mod common;

use std::time::{Duration, Instant};

use base64::Engine;
use common::{Client, REGISTER, ServeProcess, connector_script, registration, run_connector};
use opencti_mock::amqp::management::Management;
use rstest::rstest;
use serde_json::{Value, json};

fn broker_url() -> String {
    std::env::var("OPENCTI_MOCK_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2F".into())
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn import_env(url: &str, id: &str, extra: &[(&str, &str)]) -> Vec<(&'static str, String)> {
    common::import_env(url, "tok-importer", id, "AMQP Import", "amqp", extra)
}

fn serve(extra: &[&str], env: &[(&str, &str)]) -> ServeProcess {
    serve_on("rabbitmq", extra, env)
}

/// `serve` on RabbitMQ (`rabbitmq`: the test command's broker) or on its embedded broker.
fn serve_on(broker: &str, extra: &[&str], env: &[(&str, &str)]) -> ServeProcess {
    let url = broker_url();
    let mut args = vec!["--connector-user", "importer=tok-importer", "--broker", broker];
    if broker == "rabbitmq" {
        args.extend(["--amqp-url", url.as_str()]);
    }
    args.extend_from_slice(extra);
    ServeProcess::start(&args, env)
}

/// The AMQP URL of `config.connection` (what registration hands to connectors).
fn connection_url(config: &Value) -> String {
    let c = &config["connection"];
    let vhost = match c["vhost"].as_str().unwrap_or("/") {
        "/" => "%2F".to_string(),
        v => v.to_string(),
    };
    format!(
        "amqp://{}:{}@{}:{}/{vhost}",
        c["user"].as_str().unwrap_or_default(),
        c["pass"].as_str().unwrap_or_default(),
        c["host"].as_str().unwrap_or_default(),
        c["port"]
    )
}

/// The management API of the broker the platform uses, and its queue prefix.
fn broker_of(client: &Client, admin: &str) -> (Management, String) {
    let broker = client.control(admin, "health")["transports"]["broker"].clone();
    assert_eq!(broker["mode"], "amqp", "the platform uses the broker: {broker}");
    assert_eq!(broker["admin"]["kind"], "management-api", "RabbitMQ's management API: {broker}");
    let base = reqwest::Url::parse(broker["admin"]["url"].as_str().expect("management URL")).expect("a URL");
    let url = reqwest::Url::parse(&broker_url()).expect("broker URL");
    let vhost = match url.path().trim_start_matches('/') {
        "" | "%2F" | "%2f" => "/".to_string(),
        v => v.to_string(),
    };
    let m = Management::new(
        base.host_str().expect("host"),
        base.port().unwrap_or(15672),
        if url.username().is_empty() { "guest" } else { url.username() },
        url.password().unwrap_or("guest"),
        &vhost,
    )
    .expect("management client");
    (m, broker["queue_prefix"].as_str().unwrap_or_default().to_string())
}

fn transcript(client: &Client, admin: &str) -> Vec<Value> {
    client.control(admin, "transcript").as_array().expect("entries").clone()
}

#[test]
fn pycti_external_import_over_amqp_is_provisioned_ingested_and_completes_its_work() {
    // Arrange
    let serve = serve(&[], &[]);
    let client = Client::new(&serve.url);
    let admin = &serve.admin_token;
    let id = uuid::Uuid::new_v4().to_string();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");

    // Act
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, &id, &[("TEST_OBJECTS", "5")]),
        Duration::from_secs(120),
    );

    // Assert: the run.
    assert!(out.status.success(), "connector failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    let connector = client.control(admin, &format!("connectors/{id}"));
    let work_id = connector["work_list"][0]["id"].as_str().expect("a work").to_string();
    wait_for("the work to complete", Duration::from_secs(30), || {
        client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
    });
    let work = client.control(admin, &format!("works/{work_id}"));
    assert_eq!(work["import_expected_number"], 11, "1 identity + 5 observables + 5 relationships");
    assert_eq!(work["import_processed_number"], 11);
    assert!(work["errors"].as_array().expect("errors").is_empty(), "{work}");
    assert_eq!(client.control(admin, "objects").as_array().expect("objects").len(), 11);

    // Every message came over the broker, after pycti added the expectations.
    let entries = transcript(&client, admin);
    let amqp: Vec<u64> = entries
        .iter()
        .filter(|e| e["kind"] == "bundle" && e["transport"] == "amqp")
        .map(|e| e["seq"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(amqp.len(), 11, "one message per split bundle");
    let ops: Vec<(u64, String)> = entries
        .iter()
        .filter(|e| e["kind"] == "operation")
        .map(|e| (e["seq"].as_u64().unwrap_or(0), e["operation_name"].as_str().unwrap_or("").to_string()))
        .collect();
    let add = ops.iter().find(|(_, n)| n == "addExpectations").expect("pycti added expectations").0;
    assert!(amqp.iter().all(|s| *s > add), "expectations added before the pushes");
    assert!(!ops.iter().any(|(_, n)| n == "StixBundlePush"), "nothing over HTTP: {ops:?}");

    // The queues as the platform declares them.
    let (m, prefix) = broker_of(&client, admin);
    let push = rt.block_on(m.queue(&format!("{prefix}push_{id}"))).expect("management API").expect("push queue declared");
    assert_eq!(
        push.arguments,
        json!({"name": "AMQP Import", "config": {"id": id, "type": "EXTERNAL_IMPORT", "scope": ["ipv4-addr", "identity"]}, "x-queue-type": "classic"})
    );
    assert!(rt.block_on(m.queue(&format!("{prefix}listen_{id}"))).expect("management API").is_some());
    let bindings = rt.block_on(m.queue_bindings(&format!("{prefix}push_{id}"))).expect("bindings");
    assert!(
        bindings.iter().any(|b| b["source"] == format!("{prefix}amqp.worker.exchange")
            && b["routing_key"] == format!("{prefix}push_routing_{id}")),
        "{bindings:?}"
    );

    // Stopping removes what the platform declared.
    let status = serve.terminate();
    assert!(status.success(), "opencti-mock exits cleanly: {status}");
    assert!(rt.block_on(m.queue(&format!("{prefix}push_{id}"))).expect("management API").is_none(), "removed at shutdown");
}

#[rstest]
#[case::rabbitmq("rabbitmq")]
#[case::embedded("embedded")]
fn an_advertised_host_the_connector_cannot_reach_fails_its_pushes_until_mq_host_overrides_it(#[case] broker: &str) {
    // Arrange: the platform hands out a Docker-internal name (connectors#972).
    let serve = serve_on(broker, &["--amqp-advertised-host", "rabbitmq.invalid"], &[]);
    let client = Client::new(&serve.url);
    let admin = &serve.admin_token;
    let id = uuid::Uuid::new_v4().to_string();
    let host = reqwest::Url::parse(&broker_url()).expect("URL").host_str().expect("host").to_string();

    // Act 1: unchanged connector.
    let out = run_connector(&connector_script("external_import.py"), &import_env(&serve.url, &id, &[]), Duration::from_secs(120));

    // Assert 1: the push failed, the work is closed in error, nothing was ingested.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RUN FAILED"), "the send failed:\n{stderr}");
    let connector = client.control(admin, &format!("connectors/{id}"));
    let work = &connector["work_list"][0];
    let errors = work["errors"].as_array().expect("errors");
    assert!(!errors.is_empty(), "the work carries the connection failure: {work}");
    assert!(client.control(admin, "objects").as_array().expect("objects").is_empty());

    // Act 2: pycti's documented override.
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, &id, &[("MQ_HOST", host.as_str())]),
        Duration::from_secs(120),
    );

    // Assert 2
    assert!(out.status.success(), "connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let connector = client.control(admin, &format!("connectors/{id}"));
    let second =
        connector["work_list"].as_array().expect("works").iter().find(|w| w["id"] != work["id"]).cloned().expect("a second work");
    let work_id = second["id"].as_str().expect("id").to_string();
    wait_for("the second work to complete", Duration::from_secs(30), || {
        client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
    });
    assert_eq!(client.control(admin, "objects").as_array().expect("objects").len(), 7);
}

/// Runs a run-and-terminate connector with a 1 kB queue threshold and says whether pycti
/// reported buffering (and skipped its run).
fn buffering_run(serve: &ServeProcess, id: &str, protocol: &str) -> (bool, usize) {
    let client = Client::new(&serve.url);
    let out = run_connector(
        &connector_script("external_import.py"),
        &import_env(&serve.url, id, &[("CONNECTOR_QUEUE_THRESHOLD", "0.001"), ("CONNECTOR_QUEUE_PROTOCOL", protocol)]),
        Duration::from_secs(120),
    );
    assert!(out.status.success(), "connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let connector = client.control(&serve.admin_token, &format!("connectors/{id}"));
    let buffering = connector["connector_info"]["buffering"].as_bool().unwrap_or(false);
    let ops = transcript(&client, &serve.admin_token)
        .iter()
        .filter(|e| e["kind"] == "operation" && e["operation_name"] == "workAdd")
        .count();
    (buffering, ops)
}

const QUEUE_DETAILS: &str =
    "query GetConnector($id: String!) { connector(id: $id) { id connector_queue_details { messages_number messages_size } } }";

fn queue_bytes(client: &Client, id: &str) -> f64 {
    let (_, body) = client.graphql(Some("tok-importer"), &json!({"query": QUEUE_DETAILS, "variables": {"id": id}}));
    body["data"]["connector"]["connector_queue_details"]["messages_size"].as_f64().unwrap_or(0.0)
}

#[test]
fn pycti_buffers_on_the_backlog_of_the_http_worker_queue() {
    // Arrange: HTTP-only, ingestion paused, a backlog pushed through stixBundlePush.
    let serve = ServeProcess::start(
        &["--connector-user", "importer=tok-importer", "--broker", "off"],
        &[("MOCK__INGEST_PAUSED", "true")],
    );
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    client.graphql(Some("tok-importer"), &json!({"query": REGISTER, "variables": registration(&id, "AMQP Import")}));
    let (_, body) = client.graphql(
        Some("tok-importer"),
        &json!({"query": common::BUNDLE_PUSH, "variables": {"connectorId": id, "bundle": common::ipv4_bundle(20), "work_id": null}}),
    );
    assert!(body["errors"].is_null(), "{body}");
    assert!(queue_bytes(&client, &id) > 1000.0, "the backlog is reported");

    // Act
    let (buffering, work_adds) = buffering_run(&serve, &id, "api");

    // Assert
    assert!(buffering, "pycti reported buffering in its ping");
    assert_eq!(work_adds, 0, "pycti skipped its run");
}

#[rstest]
#[case::rabbitmq("rabbitmq")]
#[case::embedded("embedded")]
fn pycti_buffers_on_the_backlog_of_its_push_queue_on_the_broker(#[case] broker: &str) {
    // Arrange: ingestion paused, messages waiting in push_<id> on the broker.
    let serve = serve_on(broker, &[], &[("MOCK__INGEST_PAUSED", "true")]);
    let client = Client::new(&serve.url);
    let id = uuid::Uuid::new_v4().to_string();
    let (_, reg) =
        client.graphql(Some("tok-importer"), &json!({"query": REGISTER, "variables": registration(&id, "AMQP Import")}));
    let config = reg["data"]["registerConnector"]["config"].clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(async {
        let conn = lapin::Connection::connect(&connection_url(&config), lapin::ConnectionProperties::default()).await.expect("broker");
        let channel = conn.create_channel().await.expect("channel");
        channel.confirm_select(Default::default()).await.expect("confirms");
        let bundle = common::ipv4_bundle(1);
        let body = json!({"bundle_type": "QUEUE_BUNDLE", "applicant_id": null, "action_sequence": 1, "entities_types": [],
            "content": base64::engine::general_purpose::STANDARD.encode(&bundle), "update": false, "draft_id": null, "no_split": false});
        for _ in 0..10 {
            let confirm = channel
                .basic_publish(
                    config["push_exchange"].as_str().expect("exchange").into(),
                    config["push_routing"].as_str().expect("routing").into(),
                    Default::default(),
                    body.to_string().as_bytes(),
                    lapin::BasicProperties::default().with_delivery_mode(2),
                )
                .await
                .expect("published");
            assert!(confirm.await.expect("confirmed").is_ack());
        }
    });
    // On RabbitMQ the management API's figures lag by a few seconds, as on the platform;
    // the embedded broker's are exact.
    wait_for("the broker to report the backlog", Duration::from_secs(30), || queue_bytes(&client, &id) > 1000.0);

    // Act
    let (buffering, work_adds) = buffering_run(&serve, &id, "amqp");

    // Assert
    assert!(buffering, "pycti reported buffering in its ping");
    assert_eq!(work_adds, 0, "pycti skipped its run");
}

#[test]
fn entities_types_sent_as_the_connectors_scope_filter_as_the_worker_does() {
    // Real connectors pass `entities_types=helper.connect_scope`: a comma-separated string,
    // which the worker's importer tests as a substring; a list is a membership test.
    for mode in ["scope", "list"] {
        // Arrange
        let serve = serve(&[], &[]);
        let client = Client::new(&serve.url);
        let admin = &serve.admin_token;
        let id = uuid::Uuid::new_v4().to_string();
        let env = import_env(&serve.url, &id, &[("TEST_OBJECTS", "5"), ("TEST_EXTRA", "malware"), ("TEST_ENTITIES_TYPES", mode)]);

        // Act
        let out = run_connector(&connector_script("external_import.py"), &env, Duration::from_secs(120));

        // Assert: every expectation processed; the malware, outside the scope, not stored.
        assert!(out.status.success(), "{mode}: connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let connector = client.control(admin, &format!("connectors/{id}"));
        let work_id = connector["work_list"][0]["id"].as_str().expect("a work").to_string();
        wait_for("the work to complete", Duration::from_secs(30), || {
            client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
        });
        let work = client.control(admin, &format!("works/{work_id}"));
        assert_eq!(
            (work["import_expected_number"].as_i64(), work["import_processed_number"].as_i64()),
            (Some(12), Some(12)),
            "{mode}: {work}"
        );
        assert!(work["errors"].as_array().expect("errors").is_empty(), "{mode}: {work}");
        let objects = client.control(admin, "objects");
        assert_eq!(objects.as_array().expect("objects").len(), 11, "{mode}: {objects}");
        assert!(client.control(admin, "objects?type=malware").as_array().expect("list").is_empty(), "{mode}");
    }
}
