//! Launching the connector under test and deciding when a run is over.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opencti_conformance::evidence::RunEnd;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::Command;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::MockPlatform;
use crate::conform::Session;
use crate::conform::jobs::Driven;
use crate::store::transcript::EntryKind;

/// Output kept per run (the end of it).
const OUTPUT_TAIL_LINES: usize = 200;

/// How a run went.
pub struct Outcome {
    pub end: RunEnd,
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    pub output_tail: String,
    /// What the driver did (job connectors).
    pub driven: Driven,
}

/// What drives a job connector while it runs: ends when the session has nothing more to
/// send it (see [`crate::conform::jobs::drive`]).
pub type Driver<'a> = Pin<Box<dyn Future<Output = Driven> + Send + 'a>>;

/// The connector's environment: the platform, its token, its id, type and name, the queue
/// protocol — and nothing that changes how the connector behaves: its own run mode, scope
/// and settings stay its own (`--env` and `--scope` add to them). A job connector also gets
/// what the platform's jobs need: no automatic jobs, the listen protocol, and the settings
/// the user mapped (its max TLP, in its own variable).
pub fn environment(session: &Session, url: &str, token: &str, connector_id: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("OPENCTI_URL".into(), url.into()),
        ("OPENCTI_TOKEN".into(), token.into()),
        ("CONNECTOR_ID".into(), connector_id.into()),
        ("CONNECTOR_NAME".into(), format!("Conformance {}", session.connector_type)),
        ("CONNECTOR_TYPE".into(), session.connector_type.clone()),
        ("CONNECTOR_QUEUE_PROTOCOL".into(), session.queue_protocol.clone()),
        ("CONNECTOR_LOG_LEVEL".into(), "info".into()),
    ];
    if let Some(scope) = &session.scope {
        env.push(("CONNECTOR_SCOPE".into(), scope.clone()));
    }
    if crate::conform::jobs::is_job_type(&session.connector_type) {
        env.push(("CONNECTOR_AUTO".into(), "false".into()));
        env.push(("CONNECTOR_LISTEN_PROTOCOL".into(), session.listen_protocol.to_uppercase()));
        if session.listen_protocol == "api" {
            let port = free_port();
            env.push(("CONNECTOR_LISTEN_PROTOCOL_API_PORT".into(), port.to_string()));
            env.push(("CONNECTOR_LISTEN_PROTOCOL_API_URI".into(), format!("http://127.0.0.1:{port}")));
        }
        env.extend(session.job.environment(&session.connector_type));
    }
    for (k, v) in &session.env {
        env.retain(|(key, _)| key != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Where the connector's HTTP listener port is drawn from: below Linux's ephemeral range
/// (32768–60999, `net.ipv4.ip_local_port_range`).
const LISTENER_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// A port nothing listens on now, for the connector's HTTP listener to bind.
///
/// Not one the kernel hands out (binding port 0): the port is released before the connector
/// binds it, and in between any outgoing connection of the machine (this process's own, the
/// other tests') can be given that very ephemeral port — the connector then fails to listen
/// and the gate would blame it. A port below the ephemeral range is only taken by a
/// listener that chose it, which is checked here by binding it.
fn free_port() -> u16 {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..64)
        .map(|_| rng.gen_range(LISTENER_PORTS))
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_or(7070, |a| a.port()))
}

/// Keeps the last lines of a stream.
fn tail_of(stream: impl AsyncRead + Unpin + Send + 'static, lines: Arc<Mutex<VecDeque<String>>>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut reader = BufReader::new(stream).lines();
        while let Ok(Some(line)) = reader.next_line().await {
            let mut l = lines.lock().expect("output lock");
            if l.len() == OUTPUT_TAIL_LINES {
                l.pop_front();
            }
            l.push_back(line);
        }
    })
}

/// What the connector has been doing: the last transcript entry that is not a ping, the
/// last ping, and whether its queue still holds messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Activity {
    last_call: u64,
    last_ping: u64,
    busy: bool,
}

fn activity(platform: &MockPlatform, connector_id: &str) -> Activity {
    platform.read(|s| {
        let is_ping = |e: &&crate::store::transcript::Entry| {
            matches!(&e.kind, EntryKind::Operation(op) if op.root_fields.iter().all(|f| f == "pingConnector"))
        };
        let entries = s.transcript.entries();
        Activity {
            last_call: entries.iter().rev().find(|e| !is_ping(e)).map_or(0, |e| e.seq),
            last_ping: entries.iter().rev().find(is_ping).map_or(0, |e| e.seq),
            busy: s.queues.figures(connector_id).0 > 0,
        }
    })
}

/// Runs the connector once: until it exits, or until it has settled (then stopped), or
/// until the run timeout (then stopped too). A connector has settled when it has made calls,
/// then none but pings for the settle period, and has pinged since its last call — the
/// platform only learns a connector's state from its pings (pycti sends one every 40 s), so
/// stopping it before would lose the state as a crash would.
///
/// With a `driver` (job connectors), the run is over when the driver has sent its last job;
/// `alive` turns false as soon as the connector exits, which the driver watches.
pub async fn launch(
    session: &Session,
    env: &[(String, String)],
    platform: &MockPlatform,
    connector_id: &str,
    mut driver: Option<Driver<'_>>,
    alive: Arc<AtomicBool>,
) -> Outcome {
    let mut cmd = Command::new(&session.command[0]);
    cmd.args(&session.command[1..]).envs(env.iter().cloned()).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Outcome {
                end: RunEnd::NotStarted,
                exit_code: None,
                signal: None,
                output_tail: format!("could not start {:?}: {e}", session.command),
                driven: Driven::default(),
            };
        }
    };
    let lines = Arc::new(Mutex::new(VecDeque::new()));
    let readers: Vec<_> =
        [child.stdout.take().map(|s| tail_of(s, lines.clone())), child.stderr.take().map(|s| tail_of(s, lines.clone()))]
            .into_iter()
            .flatten()
            .collect();
    let started = Instant::now();
    let at_start = activity(platform, connector_id);
    let mut seen = at_start;
    let mut quiet_since = Instant::now();
    let mut sent: Option<Driven> = None;
    let end = loop {
        tokio::select! {
            status = child.wait() => break (RunEnd::Exited, status.ok()),
            out = async { driver.as_mut().expect("guarded").await }, if driver.is_some() && sent.is_none() => {
                sent = Some(out);
            }
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        let timed_out = started.elapsed() >= session.run_timeout;
        if driver.is_some() {
            if sent.is_some() || timed_out {
                let end = if timed_out { RunEnd::TimedOut } else { RunEnd::Stopped };
                break stop(&mut child, session.stop_grace, end).await;
            }
            continue;
        }
        let now = activity(platform, connector_id);
        if now.last_call != seen.last_call || now.busy {
            quiet_since = Instant::now();
        }
        seen = now;
        let active = now.last_call != at_start.last_call;
        let settled = active && quiet_since.elapsed() >= session.settle && now.last_ping > now.last_call;
        if settled || timed_out {
            let end = if timed_out { RunEnd::TimedOut } else { RunEnd::Stopped };
            break stop(&mut child, session.stop_grace, end).await;
        }
    };
    alive.store(false, Ordering::SeqCst);
    if let (Some(d), None) = (driver.as_mut(), &sent) {
        // The connector exited first: the driver notices and reports what it sent.
        sent = Some(d.await);
    }
    for r in readers {
        let _ = tokio::time::timeout(Duration::from_secs(2), r).await;
    }
    let output_tail = lines.lock().expect("output lock").iter().cloned().collect::<Vec<_>>().join("\n");
    use std::os::unix::process::ExitStatusExt;
    let (exit_code, signal) = (end.1.and_then(|s| s.code()), end.1.and_then(|s| s.signal()));
    Outcome { end: end.0, exit_code, signal, output_tail, driven: sent.unwrap_or_default() }
}

/// SIGTERM, then SIGKILL after the grace period.
async fn stop(child: &mut tokio::process::Child, grace: Duration, end: RunEnd) -> (RunEnd, Option<std::process::ExitStatus>) {
    if let Some(pid) = child.id() {
        // The standard library only sends SIGKILL; SIGTERM lets the connector stop cleanly.
        // A failure means it already exited.
        let _ = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status();
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(status) => (end, status.ok()),
        Err(_) => {
            let _ = child.kill().await;
            (RunEnd::Killed, None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listener_ports_are_free_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..20).map(|_| free_port()).collect();

        assert!(ports.iter().all(|p| LISTENER_PORTS.contains(p)), "{ports:?}");
        assert!(ports.iter().all(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok()), "{ports:?}");
    }
}
