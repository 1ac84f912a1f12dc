//! A machine where no RabbitMQ answers: `opencti-mock serve` and `opencti-mock conform
//! --queue-protocol amqp` serve unchanged pycti connectors in their default AMQP mode, on
//! the embedded broker, with no option given.
//!
//! The real broker of this machine is made unreachable for these tests only: each runs
//! itself again inside a network namespace of its own (`unshare -n`, loopback up), where
//! 127.0.0.1:5672 answers nothing, while the other tests keep using RabbitMQ. Where
//! namespaces cannot be made (no privilege), the test says so and points the platform's
//! RabbitMQ settings at a port where nothing listens instead.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Client, ServeProcess, connector_script, import_env, pycti_python, root, run_connector};

/// Set in the namespace: the test body runs.
const INSIDE: &str = "OPENCTI_MOCK_TEST_WITHOUT_RABBITMQ";

/// Runs `body` where no RabbitMQ answers: in a network namespace of its own when one can
/// be made (this test binary runs `test` again in it), else with `fallback_env` set.
fn without_rabbitmq(test: &str, body: impl FnOnce(&[(&str, &str)])) {
    if std::env::var_os(INSIDE).is_some() {
        assert!(
            std::net::TcpStream::connect_timeout(&"127.0.0.1:5672".parse().expect("address"), Duration::from_secs(1)).is_err(),
            "RabbitMQ must not answer in the namespace"
        );
        body(&[]);
        return;
    }
    let namespaces = Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success());
    if !namespaces {
        eprintln!("no network namespace can be made here (unshare -n): RabbitMQ is made unreachable by its settings instead");
        // Nothing listens on port 1.
        body(&[("RABBITMQ__PORT", "1")]);
        return;
    }
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new("unshare")
        .args(["-n", "--", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(exe)
        .args([test, "--exact", "--nocapture", "--test-threads", "1"])
        .env(INSIDE, "1")
        .output()
        .expect("unshare runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    eprintln!("{stderr}");
    assert!(out.status.success(), "{test} without RabbitMQ failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("1 passed"), "the test ran in the namespace:\n{stdout}");
}

fn wait_for(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn serve_runs_pycti_connectors_in_their_default_amqp_mode_on_the_embedded_broker() {
    without_rabbitmq("serve_runs_pycti_connectors_in_their_default_amqp_mode_on_the_embedded_broker", |env| {
        // Arrange: `serve` as a new user runs it, with no broker option.
        let serve = ServeProcess::start(&["--connector-user", "importer=tok-importer"], env);
        let transport = serve.banner.iter().find(|l| l.trim_start().starts_with("transport:")).expect("a transport line");
        assert!(transport.contains("embedded broker"), "{transport}");
        let client = Client::new(&serve.url);
        let admin = &serve.admin_token;
        let health = client.control(admin, "health");
        assert_eq!(health["transports"]["broker"]["broker"], "embedded", "{health}");

        // Act: an EXTERNAL_IMPORT connector pushes over AMQP (pycti's default).
        let id = uuid::Uuid::new_v4().to_string();
        let out = run_connector(
            &connector_script("external_import.py"),
            &import_env(&serve.url, "tok-importer", &id, "Import Without RabbitMQ", "amqp", &[("TEST_OBJECTS", "5")]),
            Duration::from_secs(120),
        );

        // Assert: its work completes with every object, each bundle through the broker.
        assert!(out.status.success(), "connector failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let connector = client.control(admin, &format!("connectors/{id}"));
        let work_id = connector["work_list"][0]["id"].as_str().expect("a work").to_string();
        wait_for("the work to complete", Duration::from_secs(30), || {
            client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
        });
        let work = client.control(admin, &format!("works/{work_id}"));
        assert_eq!((work["import_expected_number"].as_i64(), work["import_processed_number"].as_i64()), (Some(11), Some(11)));
        let transcript = client.control(admin, "transcript");
        let over_amqp =
            transcript.as_array().expect("entries").iter().filter(|e| e["kind"] == "bundle" && e["transport"] == "amqp").count();
        assert_eq!(over_amqp, 11, "every bundle came over the embedded broker");

        // And an enrichment connector gets its job from `listen_<id>` (AMQP listen, the default).
        let enrich_id = uuid::Uuid::new_v4().to_string();
        let seeded = client.post(admin, "seed", IPV4);
        assert!(seeded.0 < 300, "seeded: {seeded:?}");
        let mut connector = std::process::Command::new(pycti_python())
            .arg(root().join("fixtures/connectors/enrichment/correct.py"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PYTHONUNBUFFERED", "1")
            .env("OPENCTI_URL", &serve.url)
            .env("OPENCTI_TOKEN", admin)
            .env("CONNECTOR_ID", &enrich_id)
            .env("CONNECTOR_NAME", "Enrichment Without RabbitMQ")
            .env("CONNECTOR_TYPE", "INTERNAL_ENRICHMENT")
            .env("CONNECTOR_SCOPE", "IPv4-Addr")
            .env("CONNECTOR_AUTO", "false")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("the enrichment connector starts");
        wait_for("the enrichment connector to register", Duration::from_secs(60), || {
            client.control(admin, "connectors").as_array().is_some_and(|all| all.iter().any(|c| c["id"] == enrich_id.as_str()))
        });
        let (status, works) =
            client.post(admin, "enrichments", &serde_json::json!({"connector_id": enrich_id, "entity_id": IPV4_ID}).to_string());
        assert!(status < 300, "enrichment asked: {works}");
        let work_id = works[0]["id"].as_str().expect("a work").to_string();
        wait_for("the enrichment to complete", Duration::from_secs(60), || {
            client.control(admin, &format!("works/{work_id}"))["status"] == "complete"
        });
        let jobs = client.control(admin, "jobs");
        assert_eq!(jobs[0]["transport"], "amqp", "the job went through listen_<id>: {jobs}");
        let _ = connector.kill();
        let _ = connector.wait();
        let status = serve.terminate();
        assert!(status.success(), "serve stops cleanly: {status}");
    });
}

#[test]
fn conform_over_amqp_runs_on_the_embedded_broker() {
    without_rabbitmq("conform_over_amqp_runs_on_the_embedded_broker", |env| {
        let script = root().join("fixtures/connectors/conformance/correct.py");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_opencti-mock"));
        cmd.args(["conform", "--type", "EXTERNAL_IMPORT", "--queue-protocol", "amqp"])
            .args(["--scope", "ipv4-addr,ipv6-addr,domain-name,url,indicator,identity,malware,relationship"])
            .args(["--env", "CONNECTOR_RUN_AND_TERMINATE=true", "--"])
            .arg(pycti_python())
            .arg(&script);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("conform runs");
        let console = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "the correct connector passes over AMQP:\n{console}");
        assert!(console.contains("embedded broker"), "the gate says which broker:\n{console}");
    });
}

const IPV4_ID: &str = "ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10";
const IPV4: &str = r#"{"type":"bundle","id":"bundle--5d0092c5-5f74-4b0b-9b1e-0a1d1d6b4c11","objects":[
 {"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff7a8a3c-0df5-5ad3-a3b8-0d3a1e4c7a10","value":"198.51.100.7"}]}"#;
