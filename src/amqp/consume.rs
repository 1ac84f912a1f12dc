//! Consuming: the platform playing the worker on its push queues.
//!
//! One consumer per push queue (prefetch `mock.amqp_prefetch`). Each delivery is decoded
//! ([`crate::ingest::message`]), recorded in the transcript as an `amqp` bundle and put on
//! the same internal queue as `stixBundlePush`, carrying a one-shot [`Settle`]: the delivery
//! is acknowledged only once the worker has processed it, rejected without requeue when
//! invalid. A message the broker delivers again after a lost connection, already processed,
//! is acknowledged without being counted twice ([`super::dedup`]). This is the broker's
//! only door into the worker, hence a file of its own.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{FieldTable, ShortString};
use tokio::sync::oneshot;

use crate::store::queues::{Outcome, PushMessage, Settle};
use crate::store::transcript::{EntryKind, ReceivedBundle, Refusal, RefusalKind, WorkerEvent};

use super::Broker;
use super::broker::Session;
use super::dedup::Dedup;

/// A push-queue consumer: the connection generation it belongs to, its task, its channel.
pub(super) type Consumer = (u64, tokio::task::JoinHandle<()>, Channel);

impl Broker {
    /// Makes sure the worker consumes the connector's push queue on this session (a
    /// consumer of an older connection, or one that ended, is replaced).
    pub(super) async fn ensure_consumer(&self, session: &Session, connector_id: &str) -> Result<(), String> {
        {
            let consumers = self.inner.consumers.lock().expect("consumers lock");
            if let Some((generation, task, _)) = consumers.get(connector_id)
                && *generation == session.generation
                && !task.is_finished()
            {
                return Ok(());
            }
        }
        let q = self.inner.names.connector(connector_id);
        let channel = session.conn.create_channel().await.map_err(|e| format!("cannot open a channel: {e}"))?;
        channel
            .basic_qos(self.inner.prefetch, BasicQosOptions::default())
            .await
            .map_err(|e| format!("basic.qos refused: {e}"))?;
        let consumer = channel
            .basic_consume(
                ShortString::from(q.push.clone()),
                ShortString::from(format!("opencti-mock-worker-{connector_id}")),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(|e| format!("cannot consume {}: {e}", q.push))?;
        let task = self.inner.tasks.spawn(
            "amqp consumer",
            self.clone().consume(connector_id.to_string(), session.generation, channel.clone(), consumer),
        );
        if let Some((_, old, _)) = self
            .inner
            .consumers
            .lock()
            .expect("consumers lock")
            .insert(connector_id.to_string(), (session.generation, task, channel))
        {
            old.abort();
        }
        Ok(())
    }

    async fn consume(self, connector_id: String, generation: u64, channel: Channel, mut consumer: lapin::Consumer) {
        let tasks = self.inner.tasks.clone();
        loop {
            // Deliveries not handled yet stay unacknowledged: the broker keeps them.
            let next = tokio::select! {
                next = consumer.next() => next,
                () = tasks.cancelled() => break,
            };
            let Some(delivery) = next else { break };
            let delivery = match delivery {
                Ok(d) => d,
                Err(e) => {
                    tracing::debug!(connector_id, "push-queue consumer ended: {e}");
                    break;
                }
            };
            self.handle(&connector_id, generation, delivery).await;
        }
        drop(channel);
    }

    async fn handle(&self, connector_id: &str, generation: u64, delivery: lapin::message::Delivery) {
        let hash = {
            let mut h = rustc_hash::FxHasher::default();
            delivery.data.hash(&mut h);
            h.finish()
        };
        if self.inner.dedup.lock().expect("dedup lock").take_in_doubt(connector_id, hash) {
            let _ = delivery.acker.ack(BasicAckOptions::default()).await;
            self.worker_note(
                connector_id,
                None,
                "redelivered message already processed before the connection was lost: acknowledged, not counted twice".into(),
            );
            return;
        }
        let decoded = match crate::ingest::message::decode(&delivery.data) {
            Ok(d) => d,
            Err(reason) => {
                let _ = delivery.acker.reject(BasicRejectOptions { requeue: false }).await;
                let refusal = Refusal {
                    connector_id: connector_id.to_string(),
                    work_id: None,
                    kind: RefusalKind::Message,
                    reason,
                    source: None,
                };
                let store = self.inner.worker.store();
                let now = store.clock().now();
                store.write(|s| s.transcript.push(now, EntryKind::Refused(refusal)));
                return;
            }
        };
        let store = self.inner.worker.store();
        let now = store.clock().now();
        if let crate::store::queues::Content::Bundle { text, .. } = &decoded.content {
            let objects = crate::stix::BundleEnvelope::count_objects(text);
            store.write(|s| {
                s.transcript.push_bundle(
                    now,
                    ReceivedBundle {
                        connector_id: connector_id.to_string(),
                        work_id: decoded.meta.work_id.clone(),
                        transport: "amqp".into(),
                        bytes: decoded.content_bytes,
                        objects,
                        content: None,
                    },
                    text,
                )
            });
        }
        let (settle, done) = Settle::new(generation, self.inner.generation.clone());
        let mut push = PushMessage::new(Arc::new(decoded.meta), decoded.content);
        push.settle = Some(settle);
        self.inner.worker.enqueue(connector_id, push);
        let dedup = self.inner.dedup.clone();
        let connector_id = connector_id.to_string();
        let tasks = self.inner.tasks.clone();
        self.inner.tasks.spawn("amqp settle", async move {
            tokio::select! {
                () = settle_delivery(delivery.acker, done, dedup, connector_id, generation, hash) => {}
                // The message may stay queued in the store after the stop: the broker keeps it.
                () = tasks.cancelled() => {}
            }
        });
    }

    /// A worker entry in the transcript.
    fn worker_note(&self, connector_id: &str, work_id: Option<String>, message: String) {
        let store = self.inner.worker.store();
        let now = store.clock().now();
        let event = WorkerEvent::Redelivery;
        store.write(|s| {
            s.transcript.push(now, EntryKind::Worker { connector_id: connector_id.to_string(), work_id, event, message })
        });
    }
}

/// Acknowledges (or rejects) a delivery once the worker says how its message ended.
async fn settle_delivery(
    acker: lapin::Acker,
    done: oneshot::Receiver<Outcome>,
    dedup: Arc<Mutex<Dedup>>,
    connector_id: String,
    generation: u64,
    hash: u64,
) {
    // The platform stopped before processing it: the broker keeps it.
    let Ok(outcome) = done.await else { return };
    match outcome {
        Outcome::Ack => {
            let token = dedup.lock().expect("dedup lock").processed(&connector_id, generation, hash);
            if acker.ack(BasicAckOptions::default()).await.is_err() {
                dedup.lock().expect("dedup lock").ack_failed(token);
            }
        }
        Outcome::Reject(_) => {
            let _ = acker.reject(BasicRejectOptions { requeue: false }).await;
        }
    }
}
