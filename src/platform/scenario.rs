//! Running a scenario on a platform: its fault rules installed, and a task per fault that
//! acts on the running platform (the broker, the queues, the stream, the connectors'
//! state and tokens), waiting for its point.
//!
//! The request and callback faults are the store's fault rules, applied where the request
//! or the delivery is handled; what is here needs the platform's services. Every fault that
//! fires is written to the transcript, so a run's transcript says what was injected when.

use std::time::Duration;

use crate::core::Core;
use crate::scenario::{Action, Fault, QueueKind, Scenario, When};
use crate::store::transcript::EntryKind;

/// Installs `scenario` on a platform that has started: its rules, its streams, the broker's
/// `max_message_size` it asks for (set with `rabbitmqctl` before this returns, put back when
/// the platform stops), and its platform faults' tasks (on the platform's tracker: they end
/// with it).
pub async fn install(core: &Core, scenario: &Scenario) {
    let now = core.store.clock().now();
    let issue = scenario.issue.as_deref().map(|i| format!(" ({i})")).unwrap_or_default();
    core.store.write(|s| {
        for spec in scenario.graphql_faults() {
            s.faults.add(spec);
        }
        for spec in scenario.callback_faults() {
            s.faults.add_callback(spec);
        }
        for stream in &scenario.streams {
            let mut collection = crate::store::streams::StreamCollection::new(stream.name.clone()).with_id(stream.id.clone());
            collection.stream_live = stream.live;
            s.streams.add(collection);
        }
        let message = format!("scenario {}{issue}: {}", scenario.name, scenario.title);
        s.transcript.push(now, EntryKind::Note { message });
    });
    if let Some(bytes) = scenario.limits.broker_max_message_size {
        let message = match limit_message_size(core, bytes).await {
            Ok(before) => format!("the broker's max_message_size is {bytes} bytes until the platform stops (it was {before})"),
            Err(e) => {
                tracing::warn!("scenario {}: the broker's max_message_size could not be set: {e}", scenario.name);
                format!("the broker's max_message_size could not be set: {e}")
            }
        };
        let now = core.store.clock().now();
        core.store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
    }
    for (i, fault) in scenario.platform_faults().into_iter().enumerate() {
        let (core, fault, name) = (core.clone(), fault.clone(), scenario.name.clone());
        let started = tokio::time::Instant::now();
        let tasks = core.tasks.clone();
        tasks.spawn("scenario fault", async move {
            let reached = tokio::select! {
                _ = core.tasks.cancelled() => false,
                reached = reach(&core, &fault.when, started) => reached,
            };
            if reached {
                fire(&core, &name, i, &fault).await;
            }
        });
    }
}

/// Waits for the fault's point; false if it cannot be reached.
async fn reach(core: &Core, when: &When, started: tokio::time::Instant) -> bool {
    match when {
        When::At(after) => {
            tokio::time::sleep_until(started + *after).await;
            true
        }
        When::AfterPushes(n) => wait_for(core, |s| s.transcript.bundles_received() >= *n).await,
        // Once that call was answered: what the platform does then is seen from the next
        // request on, never by that call itself.
        When::Operation { name, call, .. } => wait_for(core, |s| s.transcript.answered(name) >= u64::from(*call)).await,
        When::Callback { .. } => false,
    }
}

async fn wait_for(core: &Core, mut predicate: impl FnMut(&crate::store::State) -> bool) -> bool {
    // A day: the point is reached, or the platform stops first (the caller's select).
    core.store.wait_until(Duration::from_secs(86_400), &mut predicate).await
}

async fn fire(core: &Core, scenario: &str, index: usize, fault: &Fault) {
    let outcome = act(core, &fault.action).await;
    let now = core.store.clock().now();
    let message =
        format!("scenario {scenario}: platform fault #{} ({:?}) at {:?}: {outcome}", index + 1, fault.action, fault.when);
    tracing::info!("{message}");
    core.store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
}

/// Does what the action says; answers what was done, for the transcript.
async fn act(core: &Core, action: &Action) -> String {
    let now = core.store.clock().now();
    let connectors: Vec<(String, String)> =
        core.store.read(|s| s.connectors.all().map(|c| (c.registration.id.clone(), c.connector_user_id.clone())).collect());
    match action {
        Action::RevokeToken { token } => {
            let tokens: Vec<String> = match token {
                Some(t) => vec![t.clone()],
                None => core.store.read(|s| {
                    connectors
                        .iter()
                        .filter_map(|(_, user)| s.users.by_id(user))
                        .flat_map(|u| u.api_tokens.iter().map(|t| t.token.clone()))
                        .collect()
                }),
            };
            let revoked = core.store.write(|s| tokens.iter().filter(|t| s.users.revoke_token(t)).count());
            format!("{revoked} token(s) revoked")
        }
        Action::StateReset => {
            let reset = core.store.write(|s| {
                let mut n = 0;
                for (id, _) in &connectors {
                    if s.connectors.reset_state(id, now).is_some() {
                        s.queues.purge(id);
                        n += 1;
                    }
                }
                n
            });
            format!("the state of {reset} connector(s) reset")
        }
        Action::Ingest { paused, delay_ms } => {
            core.store.write(|s| {
                if let Some(p) = paused {
                    s.queues.throttle.paused = *p;
                }
                if let Some(ms) = delay_ms {
                    s.queues.throttle.delay = Duration::from_millis(*ms);
                }
            });
            format!("ingest paused: {paused:?}, delay: {delay_ms:?} ms")
        }
        Action::StreamStop { stream } => {
            let stopped = core.store.write(|s| {
                let ids: Vec<String> = match stream {
                    Some(id) => vec![id.clone()],
                    None => s.streams.all().iter().map(|c| c.id.clone()).collect(),
                };
                let mut stopped = 0;
                for id in &ids {
                    if let Some(c) = s.streams.get_mut(id) {
                        c.stream_live = false;
                        stopped += 1;
                    }
                }
                stopped
            });
            format!("{stopped} stream collection(s) stopped")
        }
        Action::StreamError { status, count } => {
            core.store.write(|s| s.faults.refuse_streams(*status, *count));
            format!("the next {count} live stream request(s) answered {status}")
        }
        Action::StreamClose => {
            let closed = core.store.write(|s| s.streams.close_open(None, now));
            format!("{closed} stream connection(s) closed")
        }
        Action::StreamSilence { ms } => {
            core.store.write(|s| s.faults.set_stream_silent(true));
            tokio::select! {
                _ = core.tasks.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(*ms)) => {}
            }
            core.store.write(|s| s.faults.set_stream_silent(false));
            format!("the live stream kept silent for {ms} ms")
        }
        Action::BrokerDrop => {
            let Some(broker) = core.amqp.broker() else { return "no broker: nothing to drop".into() };
            // The management API lists a consumer only once its statistics were collected
            // (every 5 s by default): a drop right after a connector started consuming waits
            // for it, up to 10 s.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let mut closed = 0;
                for (id, _) in &connectors {
                    match broker.admin().close_consumers_of(&core.names.connector(id).listen).await {
                        Ok(n) => closed += n,
                        Err(e) => return format!("the broker's administration failed: {e}"),
                    }
                }
                if closed > 0 || tokio::time::Instant::now() >= deadline {
                    return format!("{closed} connector connection(s) closed by the broker");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Action::BrokerRestart { down_ms } => {
            if let Some(embedded) = core.amqp.broker().and_then(|b| b.embedded()) {
                embedded.restart(Duration::from_millis(*down_ms)).await;
                return format!("the embedded broker restarted after {down_ms} ms down");
            }
            if let Err(e) = rabbitmqctl(&["stop_app"]).await {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(*down_ms)).await;
            match rabbitmqctl(&["start_app"]).await {
                Ok(_) => format!("the broker restarted after {down_ms} ms down"),
                Err(e) => e,
            }
        }
        Action::BrokerAlarm { ms } => {
            if let Some(embedded) = core.amqp.broker().and_then(|b| b.embedded()).cloned() {
                embedded.set_memory_alarm(true);
                let now = core.store.clock().now();
                let message = format!("the embedded broker's memory alarm is raised for {ms} ms");
                core.store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
                tokio::select! {
                    _ = core.tasks.cancelled() => {}
                    _ = tokio::time::sleep(Duration::from_millis(*ms)) => {}
                }
                embedded.set_memory_alarm(false);
                return format!("the embedded broker's memory alarm held publishers for {ms} ms");
            }
            let before = match rabbitmqctl(&["eval", "vm_memory_monitor:get_vm_memory_high_watermark()."]).await {
                Ok(out) => out.trim().to_string(),
                Err(e) => return e,
            };
            // Our own alarm's value read back (a scenario that did not get to restore it):
            // RabbitMQ's default is what to put back.
            let before = if before == "{absolute,1}" { "0.4".to_string() } else { before };
            // A relative watermark reads back as a float; an absolute one as {absolute, N}.
            let restore: Vec<String> = match before.strip_prefix("{absolute,").and_then(|v| v.strip_suffix('}')) {
                Some(bytes) => vec!["set_vm_memory_high_watermark".into(), "absolute".into(), bytes.trim().into()],
                None => vec!["set_vm_memory_high_watermark".into(), before.clone()],
            };
            if let Err(e) = rabbitmqctl(&["set_vm_memory_high_watermark", "absolute", "1"]).await {
                return e;
            }
            let undo = Undo::new(restore);
            let now = core.store.clock().now();
            let message = format!("the broker's memory alarm is raised for {ms} ms (watermark {before})");
            core.store.write(|s| s.transcript.push(now, EntryKind::Note { message }));
            tokio::select! {
                _ = core.tasks.cancelled() => {}
                _ = tokio::time::sleep(Duration::from_millis(*ms)) => {}
            }
            match undo.run().await {
                Ok(_) => format!("the broker's memory alarm held publishers for {ms} ms (watermark {before} restored)"),
                Err(e) => e,
            }
        }
        Action::QueueDelete { queue } => {
            let Some(broker) = core.amqp.broker() else { return "no broker: no queue to delete".into() };
            let mut deleted = Vec::new();
            for (id, _) in &connectors {
                let names = core.names.connector(id);
                let name = match queue {
                    QueueKind::Listen => names.listen,
                    QueueKind::Push => names.push,
                };
                match broker.admin().delete_queue(&name).await {
                    Ok(()) => deleted.push(name),
                    Err(e) => return format!("the broker's administration failed: {e}"),
                }
            }
            format!("queue(s) deleted: {}", deleted.join(", "))
        }
        // Request and callback faults are rules, never platform faults (the file checks).
        other => format!("{other:?} is not a platform fault"),
    }
}

/// Sets the broker's `max_message_size` (RabbitMQ reads it when a channel opens) and spawns
/// the task that puts the old value back when the platform stops; the old value.
async fn limit_message_size(core: &Core, bytes: u64) -> Result<String, String> {
    if let Some(embedded) = core.amqp.broker().and_then(|b| b.embedded()) {
        // The embedded broker lives and dies with this platform: nothing to put back.
        let before = embedded.max_message_size();
        embedded.set_max_message_size(bytes);
        return Ok(before.to_string());
    }
    let read = rabbitmqctl(&["eval", "application:get_env(rabbit, max_message_size)."]).await?;
    let before = read.trim().strip_prefix("{ok,").and_then(|v| v.strip_suffix('}')).unwrap_or("134217728").to_string();
    let set = |value: &str| vec!["eval".to_string(), format!("application:set_env(rabbit, max_message_size, {value}).")];
    let args = set(&bytes.to_string());
    rabbitmqctl(&args.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    let (tasks, undo) = (core.tasks.clone(), Undo::new(set(&before)));
    core.tasks.spawn("scenario broker limit", async move {
        tasks.cancelled().await;
        if let Err(e) = undo.run().await {
            tracing::warn!("the broker's max_message_size could not be put back: {e}");
        }
    });
    Ok(before)
}

/// A whole-broker change to put back (a watermark, a message size limit): by the task that
/// made it, when its fault ends or the platform stops — or, when the runtime drops that task
/// first (an in-process platform dropped as its test's runtime ends), here, synchronously:
/// a broker left alarmed would block every publisher on it.
struct Undo {
    args: Vec<String>,
    done: bool,
}

impl Undo {
    fn new(args: Vec<String>) -> Undo {
        Undo { args, done: false }
    }

    async fn run(mut self) -> Result<String, String> {
        let out = rabbitmqctl(&self.args.iter().map(String::as_str).collect::<Vec<_>>()).await;
        self.done = true;
        out
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        if !self.done {
            let (program, words) = rabbitmqctl_command();
            let _ = std::process::Command::new(program).args(words).args(&self.args).output();
        }
    }
}

/// `rabbitmqctl`, or the command `OPENCTI_MOCK_RABBITMQCTL` names (e.g. `docker exec rabbit
/// rabbitmqctl`): the program and its first arguments.
fn rabbitmqctl_command() -> (String, Vec<String>) {
    let spec = std::env::var("OPENCTI_MOCK_RABBITMQCTL").unwrap_or_else(|_| "rabbitmqctl".into());
    let mut words = spec.split_whitespace().map(str::to_string);
    (words.next().unwrap_or_else(|| "rabbitmqctl".into()), words.collect())
}

/// Runs the broker's control command (see [`rabbitmqctl_command`]) with `args`; its output,
/// or why it failed.
async fn rabbitmqctl(args: &[&str]) -> Result<String, String> {
    let (program, words) = rabbitmqctl_command();
    let spec = std::iter::once(program.clone()).chain(words.iter().cloned()).collect::<Vec<_>>().join(" ");
    match tokio::process::Command::new(&program).args(&words).args(args).output().await {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(format!("{spec} {} failed: {}", args.join(" "), String::from_utf8_lossy(&o.stderr).trim())),
        Err(e) => Err(format!("cannot run {spec} {}: {e}", args.join(" "))),
    }
}
