//! The worker's loops: one per connector queue, from a queued message to its settlement.
//!
//! A [`Worker`] owns nothing but its wakers: the messages wait in the store's queues
//! (`crate::store::queues`), so their figures are the platform's. [`Worker::enqueue`]
//! starts a connector's loop on first use; the loop pops messages (honouring the ingest
//! [`Throttle`](crate::store::queues::Throttle): paused, or one message per delay, else in
//! batches), has each decided (`decide.rs`, in parallel: it needs no state), applies
//! the decisions (`apply.rs`, under one write), puts split pieces back on the queue,
//! sends dead letters, and settles RabbitMQ deliveries. The loops are spawned through the
//! platform's [`Tasks`] and end when its token is cancelled. Kept apart from what is decided and applied
//! because this part is about tasks, wake-ups and locks, not about knowledge.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use tokio::sync::Notify;

use super::dead_letters::DeadLetters;
use super::message;
use super::{Decision, apply, decide_with};
use crate::store::Store;
use crate::store::queues::{MessageMeta, PushMessage, Settle};
use crate::store::transcript::{EntryKind, Refusal, RefusalKind, WorkerEvent};
use crate::tasks::Tasks;

/// Messages taken from a queue at once when ingestion is not throttled.
const BATCH: usize = 256;

/// The worker of one platform: a loop per connector queue.
#[derive(Clone)]
pub struct Worker {
    store: Store,
    wakers: Arc<Mutex<HashMap<String, Arc<Notify>>>>,
    tasks: Tasks,
    dead_letters: Arc<dyn DeadLetters>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

impl Worker {
    /// A worker over `store`; its loops run under `tasks` and end when its token is
    /// cancelled; objects with too many references go to `dead_letters`.
    pub fn new(store: Store, tasks: Tasks, dead_letters: Arc<dyn DeadLetters>) -> Self {
        Worker { store, wakers: Arc::default(), tasks, dead_letters }
    }

    /// The store this worker feeds.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Puts a message on a connector's queue and makes sure a loop consumes it.
    pub fn enqueue(&self, connector_id: &str, message: PushMessage) {
        self.enqueue_all(connector_id, vec![message]);
    }

    /// Puts messages on a connector's queue, in order, under one lock.
    pub fn enqueue_all(&self, connector_id: &str, messages: Vec<PushMessage>) {
        if messages.is_empty() {
            return;
        }
        let now = self.store.clock().now();
        self.store.write(|s| s.queues.push_all(connector_id, messages, now));
        self.wake(connector_id);
    }

    fn wake(&self, connector_id: &str) {
        let notify = {
            let mut wakers = self.wakers.lock().expect("worker wakers lock poisoned");
            if let Some(n) = wakers.get(connector_id) {
                n.clone()
            } else {
                let n = Arc::new(Notify::new());
                wakers.insert(connector_id.to_string(), n.clone());
                let this = self.clone();
                let id = connector_id.to_string();
                let waker = n.clone();
                self.tasks.spawn("worker queue loop", async move { this.run_queue(id, waker).await });
                n
            }
        };
        notify.notify_one();
    }

    async fn run_queue(self, connector_id: String, notify: Arc<Notify>) {
        let mut changes = self.store.subscribe();
        loop {
            if self.tasks.is_cancelled() {
                return;
            }
            let (throttle, (ready, next_due)) = self.store.read(|s| (s.queues.throttle, s.queues.readiness(&connector_id)));
            if throttle.paused || ready == 0 {
                // A retry waiting for its due time wakes the loop then.
                let due = next_due.filter(|_| !throttle.paused);
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = changes.changed() => {}
                    () = self.tasks.cancelled() => return,
                    _ = async { if let Some(at) = due { tokio::time::sleep_until(at).await } else { std::future::pending().await } } => {}
                }
                continue;
            }
            if !throttle.delay.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(throttle.delay) => {}
                    () = self.tasks.cancelled() => return,
                }
                // The throttle may have changed (paused) while sleeping.
                if self.store.read(|s| s.queues.throttle.paused) {
                    continue;
                }
            }
            // Without a delay, messages are taken in batches: each is still processed as
            // the worker does, but the state lock is taken twice per batch, not per object.
            let max = if throttle.delay.is_zero() { BATCH } else { 1 };
            let popped_at = self.store.clock().now();
            let (batch, max_refs): (Vec<(PushMessage, bool)>, u64) = self.store.write(|s| {
                let mut batch = Vec::new();
                let mut orphaned = 0;
                while batch.len() < max {
                    let Some(q) = s.queues.pop(&connector_id) else { break };
                    if q.message.settle.as_ref().is_some_and(Settle::is_orphaned) {
                        orphaned += 1;
                        continue;
                    }
                    let alive = q.message.meta.work_id.as_deref().is_none_or(|w| s.works.is_alive(w));
                    batch.push((q.message, alive));
                }
                // Until applied, requeued and settled, these count as in flight: a test
                // waiting for the platform to be idle must not see an empty queue yet.
                s.queues.take_in_flight(batch.len() as u64);
                if orphaned > 0 {
                    s.transcript.push(
                        popped_at,
                        EntryKind::Worker {
                            connector_id: connector_id.clone(),
                            work_id: None,
                            event: WorkerEvent::Redelivery,
                            message: format!(
                                "{orphaned} message(s) received on a lost broker connection left to the broker, which delivers them again"
                            ),
                        },
                    );
                }
                (batch, s.queues.objects_max_refs)
            });
            // Deciding is pure (parsing, checks, identity, findings): it runs on every core.
            let decisions: Vec<(Arc<MessageMeta>, Decision)> =
                batch.par_iter().map(|(m, alive)| (m.meta.clone(), decide_with(m, *alive, max_refs))).collect();
            let taken = batch.len() as u64;
            let settles: Vec<Option<Settle>> = batch.into_iter().map(|(m, _)| m.settle).collect();
            let now = self.store.clock().now();
            let mut dead_letters = Vec::new();
            let mut outcomes = Vec::with_capacity(decisions.len());
            let requeue: Vec<PushMessage> = self.store.write(|s| {
                let mut requeue = Vec::new();
                for (meta, mut d) in decisions {
                    dead_letters.extend(std::mem::take(&mut d.dead_letters).into_iter().map(|o| (meta.clone(), o)));
                    let (outcome, pieces) = apply(s, &connector_id, meta.work_id.as_deref(), d, now);
                    outcomes.push(outcome);
                    requeue.extend(pieces);
                }
                requeue
            });
            self.enqueue_all(&connector_id, requeue);
            self.send_dead_letters(&connector_id, dead_letters, max_refs).await;
            for (settle, outcome) in settles.into_iter().zip(outcomes) {
                if let Some(settle) = settle {
                    settle.settle(outcome);
                }
            }
            self.store.write(|s| s.queues.finish_in_flight(taken));
            // Let other tasks (HTTP handlers) run between batches of a long backlog.
            tokio::task::yield_now().await;
        }
    }
}

impl Worker {
    /// Objects with too many references go to the dead-letter queue, as the worker sends
    /// them: over RabbitMQ when there is a broker; always into the platform's own list.
    async fn send_dead_letters(&self, connector_id: &str, letters: Vec<(Arc<MessageMeta>, serde_json::Value)>, max_refs: u64) {
        for (meta, object) in letters {
            let body = message::dead_letter_message(&meta, &object, max_refs, connector_id);
            let id = object.get("id").and_then(serde_json::Value::as_str).unwrap_or("?").to_string();
            let sent = self.dead_letters.send(connector_id, &body).await;
            let now = self.store.clock().now();
            self.store.write(|s| {
                s.dead_letters.push(crate::store::DeadLetter {
                    at: now,
                    connector_id: connector_id.to_string(),
                    object_id: id.clone(),
                    body,
                });
                s.transcript.push(
                    now,
                    EntryKind::Refused(Refusal {
                        connector_id: connector_id.to_string(),
                        work_id: meta.work_id.clone(),
                        kind: RefusalKind::DeadLetter,
                        reason: format!("{max_refs} references or more: sent to the dead-letter queue, {sent}"),
                        source: Some(id.clone()),
                    }),
                );
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ingest::dead_letters::Kept;
    use crate::profile::Profile;
    use crate::store::Clock;
    use crate::store::queues::{Content, MessageType, Origin};

    /// Runs one queue loop on a runtime and a thread of their own, cancels the platform's
    /// token once the loop waits, and says whether the loop ended and left no task behind.
    /// A loop that never yields would hang its runtime, so it is watched from outside: the
    /// timeout only bounds a failure, the loop ends as soon as it sees the cancellation.
    fn ends_when_the_token_is_cancelled(setup: impl FnOnce(&Store) + Send + 'static) -> bool {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            rt.block_on(async {
                let retention = crate::config::Settings::default().transcript_retention().expect("default retention parses");
                let store = Store::new(Profile::V7, "admin", Clock::system(), retention);
                setup(&store);
                let tasks = Tasks::new();
                let worker = Worker::new(store, tasks.clone(), Arc::new(Kept));
                // `wake` starts the loop the way `enqueue` does: through the tracker.
                worker.wake("c");
                // The loop runs up to its wait.
                tokio::task::yield_now().await;
                assert_eq!(tasks.live(), vec![("worker queue loop", 1)], "the loop waits while the token is not cancelled");
                tasks.close_and_wait(Duration::from_secs(10)).await.expect("the loop ends");
                assert!(tasks.is_empty());
            });
            let _ = done_tx.send(());
        });
        done_rx.recv_timeout(Duration::from_secs(10)).is_ok()
    }

    #[test]
    fn an_idle_loop_stops_when_the_token_is_cancelled() {
        assert!(ends_when_the_token_is_cancelled(|_| {}), "the loop still runs");
    }

    #[test]
    fn a_paused_loop_with_a_queued_message_stops_when_the_token_is_cancelled() {
        assert!(
            ends_when_the_token_is_cancelled(|store| {
                let now = store.clock().now();
                store.write(|s| {
                    s.queues.throttle.paused = true;
                    s.queues.push("c", PushMessage::new(meta(), Content::Object("{}".into())), now);
                });
            }),
            "the loop still runs"
        );
    }

    #[test]
    fn a_throttled_loop_stops_when_the_token_is_cancelled() {
        assert!(
            ends_when_the_token_is_cancelled(|store| {
                let now = store.clock().now();
                store.write(|s| {
                    // One message ready, one an hour apart: the loop waits in the throttle's delay.
                    s.queues.throttle.delay = Duration::from_secs(3600);
                    s.queues.push("c", PushMessage::new(meta(), Content::Object("{}".into())), now);
                });
            }),
            "the loop still runs"
        );
    }

    fn meta() -> Arc<MessageMeta> {
        Arc::new(MessageMeta {
            kind: MessageType::Bundle,
            applicant_id: None,
            work_id: None,
            update: false,
            draft_id: None,
            entities_types: Default::default(),
            origin: Origin::ApiPush,
        })
    }
}
