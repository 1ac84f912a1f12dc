//! Queues: the messages they hold, in order, and the consumers they deliver to.
//!
//! A queue keeps its ready messages sorted by the sequence number each got when it was
//! enqueued, so a message given back (a `nack` with requeue, a closed channel) goes back
//! to its original place, as a RabbitMQ classic queue does, and comes out `redelivered`.
//! Which consumer gets the next message — round-robin among those whose prefetch leaves
//! room — is decided by the broker's state, which knows the channels; the queue only keeps
//! its consumers in order and the counts RabbitMQ's management API shows.

use std::collections::VecDeque;
use std::sync::Arc;

use amq_protocol::protocol::BasicProperties;
use amq_protocol::types::{AMQPValue, FieldTable};
use bytes::Bytes;

/// A published message, shared by every queue it was routed to.
#[derive(Debug)]
pub struct Message {
    /// The exchange it was published to.
    pub exchange: String,
    /// Its routing key.
    pub routing_key: String,
    /// Its properties.
    pub properties: BasicProperties,
    /// Its body.
    pub body: Bytes,
}

impl Message {
    /// Whether the publisher asked for it to survive a broker restart (`delivery_mode` 2).
    pub fn persistent(&self) -> bool {
        self.properties.delivery_mode() == &Some(2)
    }
}

/// A message in a queue.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Its place in the queue.
    pub seq: u64,
    /// Whether it was delivered before.
    pub redelivered: bool,
    /// The message.
    pub message: Arc<Message>,
}

/// A consumer attached to a queue.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Its tag.
    pub tag: String,
    /// The connection and channel it belongs to.
    pub connection: u64,
    /// The channel.
    pub channel: u16,
    /// Deliveries are settled on sending (`no_ack`).
    pub no_ack: bool,
    /// Exclusive consumer.
    pub exclusive: bool,
    /// Its own prefetch (`basic.qos` with `global=false` before it consumed; 0: none).
    pub prefetch: u16,
    /// Deliveries not yet settled.
    pub unacked: usize,
}

/// A queue.
#[derive(Debug, Clone)]
pub struct Queue {
    /// Name.
    pub name: String,
    /// Survives a broker restart.
    pub durable: bool,
    /// The connection that owns it, when exclusive.
    pub owner: Option<u64>,
    /// Deleted when its last consumer goes.
    pub auto_delete: bool,
    /// Declared arguments.
    pub arguments: FieldTable,
    /// Ready messages, by sequence number.
    pub ready: VecDeque<Queued>,
    /// Bytes of the ready messages' bodies.
    pub ready_bytes: u64,
    /// Delivered, not yet settled.
    pub unacked: usize,
    /// Bytes of those.
    pub unacked_bytes: u64,
    /// Consumers, in the order they came.
    pub consumers: Vec<Consumer>,
    /// Where round-robin resumes.
    pub cursor: usize,
    /// Whether it ever had a consumer (an auto-delete queue goes when its last one does).
    pub had_consumer: bool,
    next_seq: u64,
}

impl Queue {
    /// An empty queue.
    pub fn new(name: String, durable: bool, owner: Option<u64>, auto_delete: bool, arguments: FieldTable) -> Queue {
        Queue {
            name,
            durable,
            owner,
            auto_delete,
            arguments,
            ready: VecDeque::new(),
            ready_bytes: 0,
            unacked: 0,
            unacked_bytes: 0,
            consumers: Vec::new(),
            cursor: 0,
            had_consumer: false,
            next_seq: 0,
        }
    }

    /// Appends a newly routed message.
    pub fn push(&mut self, message: Arc<Message>) {
        self.ready_bytes += message.body.len() as u64;
        self.ready.push_back(Queued { seq: self.next_seq, redelivered: false, message });
        self.next_seq += 1;
    }

    /// Takes the next ready message out (it becomes unacknowledged unless `settled`).
    pub fn take(&mut self, settled: bool) -> Option<Queued> {
        let q = self.ready.pop_front()?;
        self.ready_bytes -= q.message.body.len() as u64;
        if !settled {
            self.unacked += 1;
            self.unacked_bytes += q.message.body.len() as u64;
        }
        Some(q)
    }

    /// An unacknowledged message was acknowledged (or dropped).
    pub fn settled(&mut self, q: &Queued) {
        self.unacked = self.unacked.saturating_sub(1);
        self.unacked_bytes = self.unacked_bytes.saturating_sub(q.message.body.len() as u64);
    }

    /// An unacknowledged message comes back, to its original place, marked redelivered.
    pub fn requeue(&mut self, mut q: Queued) {
        self.settled(&q);
        q.redelivered = true;
        self.ready_bytes += q.message.body.len() as u64;
        let at = self.ready.partition_point(|r| r.seq < q.seq);
        self.ready.insert(at, q);
    }

    /// Empties the ready messages; returns how many there were.
    pub fn purge(&mut self) -> usize {
        let n = self.ready.len();
        self.ready.clear();
        self.ready_bytes = 0;
        n
    }

    /// Keeps only persistent messages (a restart of a durable queue).
    pub fn keep_persistent(&mut self) {
        self.ready.retain(|q| q.message.persistent());
        self.ready_bytes = self.ready.iter().map(|q| q.message.body.len() as u64).sum();
    }
}

/// The queue arguments this broker implements: `x-queue-type` `classic` only. Arguments not
/// starting with `x-` are the application's (the platform puts the connector's `name` and
/// `config` there) and are kept without meaning, as RabbitMQ keeps them.
pub fn check_arguments(arguments: &FieldTable) -> Result<(), String> {
    for (key, value) in arguments {
        let key = key.as_str();
        match key {
            "x-queue-type" => match value {
                AMQPValue::LongString(s) if s.as_bytes() == b"classic" => {}
                AMQPValue::ShortString(s) if s.as_str() == "classic" => {}
                other => return Err(format!("queue argument 'x-queue-type' = {} (only classic queues)", display(other))),
            },
            k if k.starts_with("x-") => return Err(format!("queue argument '{k}'")),
            _ => {}
        }
    }
    Ok(())
}

/// The arguments RabbitMQ compares when a queue is declared again (the `x-` ones it
/// knows); any other argument may differ.
const COMPARED: &[&str] = &[
    "x-expires",
    "x-message-ttl",
    "x-dead-letter-exchange",
    "x-dead-letter-routing-key",
    "x-max-length",
    "x-max-length-bytes",
    "x-max-in-memory-length",
    "x-max-in-memory-bytes",
    "x-max-priority",
    "x-overflow",
    "x-queue-mode",
    "x-queue-version",
    "x-single-active-consumer",
    "x-queue-master-locator",
    "x-queue-leader-locator",
    "x-queue-type",
];

/// The first compared argument whose declared value differs from the queue's, worded as
/// RabbitMQ words it (`inequivalent arg 'x' for queue 'q' in vhost '/': received … but
/// current is …`).
pub fn inequivalent_argument(queue: &Queue, declared: &FieldTable, vhost: &str) -> Option<String> {
    for key in COMPARED {
        let have = queue.arguments.inner().get(*key);
        let got = declared.inner().get(*key);
        if *key == "x-queue-type" {
            // The queue type is compared as a type, and worded without value types.
            if !(is_classic(have) && is_classic(got)) && have != got {
                let name = |v: Option<&AMQPValue>| v.map_or_else(|| "classic".to_string(), display);
                return Some(format!(
                    "inequivalent arg 'x-queue-type' for queue '{}' in vhost '{vhost}': received '{}' but current is '{}'",
                    queue.name,
                    name(got),
                    name(have)
                ));
            }
            continue;
        }
        if have != got {
            return Some(format!(
                "inequivalent arg '{key}' for queue '{}' in vhost '{vhost}': received {} but current is {}",
                queue.name,
                described(got),
                described(have)
            ));
        }
    }
    None
}

fn is_classic(v: Option<&AMQPValue>) -> bool {
    match v {
        None => true,
        Some(AMQPValue::LongString(s)) => s.as_bytes() == b"classic",
        Some(AMQPValue::ShortString(s)) => s.as_str() == "classic",
        Some(_) => false,
    }
}

fn described(v: Option<&AMQPValue>) -> String {
    match v {
        None => "none".into(),
        Some(v) => format!("the value '{}' of type '{}'", display(v), type_name(v)),
    }
}

/// An argument's value as RabbitMQ prints it.
pub fn display(v: &AMQPValue) -> String {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned(),
        AMQPValue::ShortString(s) => s.as_str().to_string(),
        AMQPValue::Boolean(b) => b.to_string(),
        AMQPValue::ShortShortInt(n) => n.to_string(),
        AMQPValue::ShortShortUInt(n) => n.to_string(),
        AMQPValue::ShortInt(n) => n.to_string(),
        AMQPValue::ShortUInt(n) => n.to_string(),
        AMQPValue::LongInt(n) => n.to_string(),
        AMQPValue::LongUInt(n) => n.to_string(),
        AMQPValue::LongLongInt(n) => n.to_string(),
        other => format!("{other:?}"),
    }
}

fn type_name(v: &AMQPValue) -> &'static str {
    match v {
        AMQPValue::LongString(_) | AMQPValue::ShortString(_) => "longstr",
        AMQPValue::Boolean(_) => "bool",
        AMQPValue::LongLongInt(_) => "long",
        AMQPValue::LongInt(_) | AMQPValue::LongUInt(_) => "signedint",
        AMQPValue::ShortInt(_) | AMQPValue::ShortUInt(_) => "short",
        AMQPValue::FieldTable(_) => "table",
        AMQPValue::FieldArray(_) => "array",
        _ => "unknown",
    }
}

/// An argument table as JSON (the management view of a queue).
pub fn arguments_json(t: &FieldTable) -> serde_json::Value {
    fn value(v: &AMQPValue) -> serde_json::Value {
        match v {
            AMQPValue::FieldTable(t) => arguments_json(t),
            AMQPValue::FieldArray(a) => serde_json::Value::Array(a.as_slice().iter().map(value).collect()),
            AMQPValue::Boolean(b) => serde_json::Value::Bool(*b),
            AMQPValue::LongLongInt(n) => (*n).into(),
            AMQPValue::LongInt(n) => (*n).into(),
            AMQPValue::LongUInt(n) => (*n).into(),
            AMQPValue::ShortInt(n) => (*n).into(),
            AMQPValue::ShortUInt(n) => (*n).into(),
            AMQPValue::Void => serde_json::Value::Null,
            other => display(other).into(),
        }
    }
    serde_json::Value::Object(t.inner().iter().map(|(k, v)| (k.as_str().to_string(), value(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::types::{LongString, ShortString};

    fn message(body: &str) -> Arc<Message> {
        Arc::new(Message {
            exchange: String::new(),
            routing_key: "q".into(),
            properties: BasicProperties::default(),
            body: Bytes::from(body.to_string()),
        })
    }

    #[test]
    fn a_requeued_message_goes_back_to_its_place_redelivered() {
        let mut q = Queue::new("q".into(), true, None, false, FieldTable::default());
        for b in ["a", "b", "c"] {
            q.push(message(b));
        }
        let a = q.take(false).expect("a");
        let b = q.take(false).expect("b");
        q.requeue(b);
        q.requeue(a);
        let order: Vec<(String, bool)> =
            q.ready.iter().map(|m| (String::from_utf8_lossy(&m.message.body).into_owned(), m.redelivered)).collect();
        assert_eq!(order, [("a".into(), true), ("b".into(), true), ("c".into(), false)]);
        assert_eq!((q.unacked, q.ready_bytes), (0, 3));
    }

    #[test]
    fn only_classic_queues_and_application_arguments_are_accepted() {
        let mut t = FieldTable::default();
        t.insert(ShortString::from("name"), AMQPValue::LongString(LongString::from("anything")));
        t.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("classic")));
        assert!(check_arguments(&t).is_ok());
        t.insert(ShortString::from("x-message-ttl"), AMQPValue::LongInt(5));
        assert_eq!(check_arguments(&t).unwrap_err(), "queue argument 'x-message-ttl'");
    }

    #[test]
    fn equivalence_compares_the_queue_type_only() {
        let mut declared = FieldTable::default();
        declared.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("classic")));
        let q = Queue::new("q".into(), true, None, false, declared.clone());
        assert_eq!(inequivalent_argument(&q, &FieldTable::default(), "/"), None);
        let mut other = FieldTable::default();
        other.insert(ShortString::from("name"), AMQPValue::LongString(LongString::from("renamed")));
        assert_eq!(inequivalent_argument(&q, &other, "/"), None);
        other.insert(ShortString::from("x-queue-type"), AMQPValue::LongString(LongString::from("quorum")));
        assert!(inequivalent_argument(&q, &other, "/").expect("differs").contains("received 'quorum' but current is 'classic'"));
        let mut ttl = FieldTable::default();
        ttl.insert(ShortString::from("x-message-ttl"), AMQPValue::LongInt(2000));
        let text = inequivalent_argument(&q, &ttl, "/").expect("differs");
        assert!(text.ends_with("received the value '2000' of type 'signedint' but current is none"), "{text}");
    }
}
