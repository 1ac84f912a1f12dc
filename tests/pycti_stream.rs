//! Unchanged pycti 7.261026.0 STREAM connectors against the live stream
//! (`fixtures/connectors/stream/correct.py`, which writes every event it is given to the
//! file named by `STREAM_OUT`): consumption in order with the collection's filter applied,
//! the position saved through pings and the resume after a kill, the heartbeat watchdog,
//! a stopped stream (410) and a platform-side state reset. pycti's own intervals are hard
//! coded (a ping every 40 s, a 45 s watchdog), so most of these take about a minute: they
//! run in the `pycti-slow` nextest group, beside the rest.

mod common;

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::connector::{Connector, start_connector, wait_for};
use opencti_mock::{EventId, MockPlatform, StreamCollection};
use serde_json::{Value, json};

fn bundle(objects: Value) -> String {
    json!({"type": "bundle", "id": "bundle--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697881", "objects": objects}).to_string()
}

fn malware(n: usize, extra: Value) -> Value {
    let mut m = json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a69{n:04}"),
        "name": format!("Malware {n}"), "is_family": false,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z"});
    if let (Some(m), Some(extra)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(extra.clone());
    }
    m
}

fn malware_only() -> Value {
    json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["entity_type"], "values": ["Malware"], "operator": "eq", "mode": "or"}]})
}

/// A line the connector wrote for an event.
#[derive(Debug, Clone)]
struct Forwarded {
    id: String,
    event: String,
    data_id: String,
    referer: Option<String>,
    payload_type: Option<String>,
}

fn forwarded(path: &std::path::Path) -> Vec<Forwarded> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            Forwarded {
                id: v["id"].as_str().unwrap_or_default().to_string(),
                event: v["event"].as_str().unwrap_or_default().to_string(),
                data_id: v["data_id"].as_str().unwrap_or_default().to_string(),
                referer: v["referer"].as_str().map(str::to_string),
                payload_type: v["type"].as_str().map(str::to_string),
            }
        })
        .collect()
}

struct Setup {
    platform: MockPlatform,
    token: String,
    stream: String,
    id: String,
    out: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

async fn setup(platform: MockPlatform, filters: Option<Value>) -> Setup {
    let token = platform.add_connector_user("[C] stream");
    let mut collection = StreamCollection::new("forwarded");
    if let Some(f) = filters {
        collection = collection.filters(f);
    }
    let stream = platform.add_stream(collection).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("forwarded.ndjson");
    Setup { platform, token, stream, id: uuid::Uuid::new_v4().to_string(), out, _dir: dir }
}

fn start(s: &Setup, script: &str) -> Connector {
    let env = vec![
        ("CONNECTOR_LIVE_STREAM_ID".to_string(), s.stream.clone()),
        ("CONNECTOR_QUEUE_PROTOCOL".to_string(), "api".to_string()),
        ("STREAM_OUT".to_string(), s.out.display().to_string()),
    ];
    start_connector(&format!("stream/{script}"), &s.platform, &s.token, &s.id, "STREAM", &env)
}

/// Waits until the connector's n-th connection to the stream is open; returns its index.
async fn connected(s: &Setup, connector: &Connector, n: usize) -> usize {
    wait_for("the connector's stream connection", Duration::from_secs(60), connector, || {
        s.platform.stream_connections().iter().filter(|c| c.connector_id.as_deref() == Some(&s.id) && c.end.is_none()).count()
            >= 1
            && s.platform.stream_connections().iter().filter(|c| c.connector_id.as_deref() == Some(&s.id)).count() >= n
    })
    .await;
    n - 1
}

fn connection(s: &Setup, index: usize) -> opencti_mock::StreamConnection {
    s.platform
        .stream_connections()
        .into_iter()
        .filter(|c| c.connector_id.as_deref() == Some(s.id.as_str()))
        .nth(index)
        .expect("the connection")
}

/// The `start_from` of the state the connector saved through its pings.
fn saved_position(s: &Setup) -> Option<EventId> {
    let state = s.platform.connector(&s.id)?.connector_state?;
    let v: Value = serde_json::from_str(&state).ok()?;
    v["start_from"].as_str()?.parse().ok()
}

async fn exited(connector: &mut Connector, within: Duration) -> std::process::ExitStatus {
    let start = std::time::Instant::now();
    loop {
        if let Some(status) = connector.exit_status() {
            return status;
        }
        assert!(start.elapsed() < within, "still running after {within:?}; output:\n{}", connector.output());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn pycti_consumes_its_collection_in_order_and_stops_on_a_stopped_stream() {
    let s = setup(MockPlatform::start().await, Some(malware_only())).await;
    s.platform.seed(&bundle(json!([malware(1, json!({}))]))).unwrap();
    // pycti's recovery date has whole seconds: start in the next one, so the object is
    // recovered (an object changed within the same second is sent live instead).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut connector = start(&s, "correct.py");
    connected(&s, &connector, 1).await;
    let recovered = s.platform.object("malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a690001").unwrap().standard_id;
    wait_for("the recovery", Duration::from_secs(30), &connector, || forwarded(&s.out).iter().any(|f| f.data_id == recovered))
        .await;
    for n in 2..=11 {
        s.platform.seed(&bundle(json!([malware(n, json!({}))]))).unwrap();
    }
    let ip = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a697883", "value": "198.51.100.7"});
    s.platform.seed(&bundle(json!([ip]))).unwrap();
    s.platform.seed(&bundle(json!([malware(2, json!({"description": "updated"}))]))).unwrap();
    let (_, answer) = common::gql(
        s.platform.url(),
        Some(s.platform.token()),
        "mutation($id: ID!) { stixCoreObjectEdit(id: $id) { delete } }",
        json!({"id": "malware--0b5b6e4c-8e1c-4a7e-9f2d-3c4b5a690003"}),
    )
    .await;
    assert!(answer.get("errors").is_none(), "{answer}");
    wait_for("every event", Duration::from_secs(30), &connector, || forwarded(&s.out).iter().any(|f| f.event == "delete")).await;

    let lines = forwarded(&s.out);
    let live: Vec<&Forwarded> = lines.iter().filter(|f| f.referer.as_deref() != Some("init-create")).collect();
    assert!(
        lines.iter().take_while(|f| f.referer.as_deref() == Some("init-create")).any(|f| f.data_id == recovered),
        "recovered first"
    );
    let names: Vec<&str> = live.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(names, [vec!["create"; 10], vec!["update", "delete"]].concat(), "in order, the IPv4 address filtered out");
    let ids: Vec<EventId> = live.iter().map(|f| f.id.parse().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids increase: {ids:?}");
    assert_eq!(live[10].payload_type.as_deref(), Some("update"));
    assert!(
        lines.iter().all(|f| f.data_id.starts_with("malware--") || f.data_id.starts_with("marking-definition--")),
        "{lines:?}"
    );

    // The platform stops the stream and drops the connection: pycti reconnects (3 s), is
    // answered 410, logs the reason and sends itself SIGTERM.
    s.platform.set_stream_live(&s.stream, false).unwrap();
    assert_eq!(s.platform.close_stream_connections(Some(&s.stream)), 1);
    let status = exited(&mut connector, Duration::from_secs(30)).await;
    assert_eq!(status.signal(), Some(15), "pycti's killProgramHook: {status:?}");
    assert!(connector.output().contains("This live stream is stopped"), "{}", connector.output());
    let refused = connection(&s, 1);
    assert_eq!(
        refused.end,
        Some(opencti_mock::ConnectionEnd::Refused { status: 410, reason: "This live stream is stopped".into() })
    );
    assert_eq!(refused.start_from, connection(&s, 0).last_event_id, "it reconnected from the last id it was sent");
}

#[tokio::test]
async fn pycti_resumes_after_a_kill_from_the_position_its_ping_saved() {
    let s = setup(MockPlatform::start().await, Some(malware_only())).await;
    let mut connector = start(&s, "correct.py");
    connected(&s, &connector, 1).await;
    for n in 1..=5 {
        s.platform.seed(&bundle(json!([malware(n, json!({}))]))).unwrap();
    }
    let after_first = s.platform.stream_position();
    wait_for("the first events", Duration::from_secs(30), &connector, || {
        forwarded(&s.out).iter().filter(|f| f.referer.is_none()).count() == 5
    })
    .await;
    // pycti saves its position only with its ping, every 40 s.
    wait_for("a ping saving the position", Duration::from_secs(60), &connector, || {
        saved_position(&s).is_some_and(|p| p >= after_first)
    })
    .await;
    let saved = saved_position(&s).unwrap();
    for n in 6..=8 {
        s.platform.seed(&bundle(json!([malware(n, json!({}))]))).unwrap();
    }
    wait_for("the events after the save", Duration::from_secs(30), &connector, || {
        forwarded(&s.out).iter().filter(|f| f.referer.is_none()).count() == 8
    })
    .await;
    // Killed before its next ping: what it received since is not saved.
    connector.kill();
    assert_eq!(saved_position(&s), Some(saved), "no ping since");
    let first_run = forwarded(&s.out).len();
    for n in 9..=10 {
        s.platform.seed(&bundle(json!([malware(n, json!({}))]))).unwrap();
    }
    let connector = start(&s, "correct.py");
    connected(&s, &connector, 2).await;
    wait_for("the events of the restart", Duration::from_secs(30), &connector, || {
        forwarded(&s.out)[first_run..].iter().filter(|f| f.referer.is_none()).count() >= 5
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let second = connection(&s, 1);
    assert_eq!(second.start_from, Some(saved.to_string()), "Last-Event-ID: the position saved by the last ping");
    let replayed = &forwarded(&s.out)[first_run..];
    assert!(replayed.iter().all(|f| f.referer.is_none()), "no recovery on a restart: {replayed:?}");
    // Exactly the events after the saved position, each once: the three received but not
    // saved (delivered again, as pycti's 40 s save interval means), then the two new ones.
    let ids: Vec<String> = replayed.iter().map(|f| f.id.clone()).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "each once: {ids:?}");
    let expected: Vec<String> = s.platform.read(|st| {
        st.knowledge
            .events()
            .iter()
            .filter(|e| e.id > saved && e.object().is_some_and(|o| &*o.entity_type == "Malware"))
            .map(|e| e.id.to_string())
            .collect()
    });
    assert_eq!(ids, expected, "no gap, nothing else");
    assert_eq!(ids.len(), 5);
}

#[tokio::test]
async fn pycti_stops_itself_when_the_stream_falls_silent() {
    // No heartbeat for 10 minutes: only the recovered objects carry ids, then silence.
    let platform = MockPlatform::builder().stream_heartbeat(Duration::from_secs(600)).start().await;
    let s = setup(platform, None).await;
    let mut connector = start(&s, "correct.py");
    connected(&s, &connector, 1).await;
    let status = exited(&mut connector, Duration::from_secs(75)).await;
    assert_eq!(status.signal(), Some(15), "{status:?}");
    assert!(connector.output().contains("Time since last heartbeat exceeded 45s"), "{}", connector.output());
}

#[tokio::test]
async fn pycti_stops_when_the_platform_resets_its_state() {
    let s = setup(MockPlatform::start().await, Some(malware_only())).await;
    let mut connector = start(&s, "correct.py");
    connected(&s, &connector, 1).await;
    // A ping (every 40 s) saves the first-run state; the platform then resets it.
    wait_for("a saved state", Duration::from_secs(60), &connector, || saved_position(&s).is_some()).await;
    let reset = reqwest::Client::new()
        .post(format!("{}/_mock/connectors/{}/reset-state", s.platform.url(), s.id))
        .bearer_auth(s.platform.token())
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    // The next ping (within 40 s) hands pycti an empty state; the next id-bearing event
    // (a heartbeat, every 5 s) then stops its stream, and pycti the process.
    let status = exited(&mut connector, Duration::from_secs(70)).await;
    assert_eq!(status.signal(), Some(15), "{status:?}");
}

#[tokio::test]
async fn pycti_switches_to_live_only_on_a_collection_that_recovers_nothing() {
    let platform = MockPlatform::start().await;
    let token = platform.add_connector_user("[C] stream");
    // 7.x origin filters: the administrator's changes only (a seed is theirs), and no recovery.
    let by_admin = json!({"mode": "and", "filterGroups": [],
        "filters": [{"key": ["members_user"], "values": [opencti_mock::store::users::ADMIN_USER_ID], "operator": "eq", "mode": "or"}]});
    let stream = platform.add_stream(StreamCollection::new("origins").origin_filters(by_admin)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let s =
        Setup { platform, token, stream, id: uuid::Uuid::new_v4().to_string(), out: dir.path().join("out.ndjson"), _dir: dir };
    let connector = start(&s, "correct.py");
    connected(&s, &connector, 1).await;
    wait_for("pycti to take the no-recover", Duration::from_secs(30), &connector, || {
        connector.output().contains("Live stream recovery skipped by the platform; switching to live-only mode")
    })
    .await;
    s.platform.seed(&bundle(json!([malware(1, json!({}))]))).unwrap();
    wait_for("the live event", Duration::from_secs(30), &connector, || forwarded(&s.out).iter().any(|f| f.event == "create"))
        .await;
    assert!(forwarded(&s.out).iter().all(|f| f.referer.is_none()), "nothing recovered");
}
