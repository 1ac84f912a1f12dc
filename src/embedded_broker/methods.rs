//! The methods clients send on an open channel, answered as RabbitMQ answers them.
//!
//! Declarations follow RabbitMQ's equivalence rules (a queue or exchange declared again
//! must match what exists, else `PRECONDITION_FAILED`; `passive` only checks), names
//! starting with `amq.` are reserved, the default exchange cannot be bound or deleted,
//! and an exclusive queue belongs to its connection. Publishing routes, returns what is
//! unroutable when `mandatory`, confirms when the channel asked, and refuses a body over
//! the broker's `max_message_size`. Consuming follows `basic.qos`; settling with
//! `ack`/`nack`/`reject` (requeue puts a message back where it was, `redelivered`).
//! `tx.*`, `exchange.bind` and the like, which no connector uses, are a
//! `NOT_IMPLEMENTED` that names them.

use std::collections::BTreeSet;
use std::sync::Arc;

use amq_protocol::protocol::{AMQPClass, BasicProperties, access, basic, confirm, exchange as xm, queue as qm};
use bytes::Bytes;

use super::exchange::{Binding, Exchange, Kind};
use super::queue::{self, Consumer, Message, Queue};
use super::reply::{Reply, code, ids_of, short};
use super::state::{Out, State, Unacked, gone};

impl State {
    /// Handles a method on an open channel (not `channel.*`, not `basic.publish`, which
    /// comes with content: [`State::publish`]).
    pub fn handle(&mut self, conn: u64, ch: u16, method: AMQPClass) -> Result<(), Reply> {
        let ids = ids_of(&method);
        match method {
            AMQPClass::Exchange(m) => self.exchange_method(conn, ch, m, ids),
            AMQPClass::Queue(m) => self.queue_method(conn, ch, m, ids),
            AMQPClass::Basic(m) => self.basic_method(conn, ch, m, ids),
            AMQPClass::Confirm(confirm::AMQPMethod::Select(s)) => {
                let chan = self.chan(conn, ch, ids)?;
                chan.confirm = true;
                if !s.nowait {
                    self.method(conn, ch, AMQPClass::Confirm(confirm::AMQPMethod::SelectOk(confirm::SelectOk {})));
                }
                Ok(())
            }
            AMQPClass::Access(access::AMQPMethod::Request(_)) => {
                // Deprecated, and answered by RabbitMQ as a no-op.
                self.method(conn, ch, AMQPClass::Access(access::AMQPMethod::RequestOk(access::RequestOk {})));
                Ok(())
            }
            AMQPClass::Tx(m) => Err(Reply::unsupported(format!("tx.{}", tx_name(&m)), ids)),
            other => Err(Reply::connection(code::COMMAND_INVALID, format!("unexpected method {}", method_name(&other)), ids)),
        }
    }

    pub(super) fn chan(&mut self, conn: u64, ch: u16, ids: (u16, u16)) -> Result<&mut super::state::Chan, Reply> {
        self.connections
            .get_mut(&conn)
            .and_then(|c| c.channels.get_mut(&ch))
            .ok_or_else(|| Reply::connection(code::CHANNEL_ERROR, "expected 'channel.open'", ids))
    }

    fn no_queue(&self, name: &str, ids: (u16, u16)) -> Reply {
        Reply::channel(code::NOT_FOUND, format!("no queue '{name}' in vhost '{}'", self.vhost), ids)
    }

    fn no_exchange(&self, name: &str, ids: (u16, u16)) -> Reply {
        Reply::channel(code::NOT_FOUND, format!("no exchange '{name}' in vhost '{}'", self.vhost), ids)
    }

    /// The queue `name` for connection `conn`: it exists and, when exclusive, is its own.
    fn usable_queue(&self, conn: u64, name: &str, ids: (u16, u16)) -> Result<&Queue, Reply> {
        let q = self.queues.get(name).ok_or_else(|| self.no_queue(name, ids))?;
        match q.owner {
            Some(owner) if owner != conn => Err(self.locked(name, ids)),
            _ => Ok(q),
        }
    }

    fn locked(&self, name: &str, ids: (u16, u16)) -> Reply {
        Reply::channel(
            code::RESOURCE_LOCKED,
            format!(
                "cannot obtain exclusive access to locked queue '{name}' in vhost '{}'. It could be originally declared on \
                 another connection or the exclusive property value does not match that of the original declaration.",
                self.vhost
            ),
            ids,
        )
    }

    fn exchange_method(&mut self, conn: u64, ch: u16, m: xm::AMQPMethod, ids: (u16, u16)) -> Result<(), Reply> {
        let vhost = self.vhost.clone();
        match m {
            xm::AMQPMethod::Declare(d) => {
                let name = d.exchange.as_str().to_string();
                if name.is_empty() {
                    return Err(Reply::channel(code::ACCESS_REFUSED, "operation not permitted on the default exchange", ids));
                }
                let kind = match Kind::parse(d.kind.as_str()) {
                    Ok(k) => Some(k),
                    Err(_) if d.passive => None,
                    Err(true) => return Err(Reply::unsupported(format!("exchange type '{}'", d.kind), ids)),
                    Err(false) => return Err(Reply::connection(code::COMMAND_INVALID, format!("unknown exchange type '{}'", d.kind), ids)),
                };
                match (self.exchanges.get(&name), d.passive) {
                    (None, true) => return Err(self.no_exchange(&name, ids)),
                    (Some(_), true) => {}
                    (None, false) => {
                        if name.starts_with("amq.") {
                            return Err(Reply::channel(
                                code::ACCESS_REFUSED,
                                format!("exchange name '{name}' contains reserved prefix 'amq.*'"),
                                ids,
                            ));
                        }
                        if let Some((k, _)) = d.arguments.inner().iter().find(|(k, _)| k.as_str().starts_with("x-")) {
                            return Err(Reply::unsupported(format!("exchange argument '{k}'"), ids));
                        }
                        let kind = kind.unwrap_or(Kind::Direct);
                        self.exchanges.insert(
                            name.clone(),
                            Exchange {
                                name,
                                kind,
                                durable: d.durable,
                                auto_delete: d.auto_delete,
                                internal: d.internal,
                                bindings: Vec::new(),
                            },
                        );
                    }
                    (Some(x), false) => {
                        let kind = kind.unwrap_or(x.kind);
                        let differs = if x.kind != kind {
                            Some(("type", kind.name().to_string(), x.kind.name().to_string()))
                        } else if x.durable != d.durable {
                            Some(("durable", d.durable.to_string(), x.durable.to_string()))
                        } else if x.auto_delete != d.auto_delete {
                            Some(("auto_delete", d.auto_delete.to_string(), x.auto_delete.to_string()))
                        } else if x.internal != d.internal {
                            Some(("internal", d.internal.to_string(), x.internal.to_string()))
                        } else {
                            None
                        };
                        if let Some((arg, got, have)) = differs {
                            return Err(Reply::channel(
                                code::PRECONDITION_FAILED,
                                format!("inequivalent arg '{arg}' for exchange '{name}' in vhost '{vhost}': received '{got}' but current is '{have}'"),
                                ids,
                            ));
                        }
                    }
                }
                if !d.nowait {
                    self.method(conn, ch, AMQPClass::Exchange(xm::AMQPMethod::DeclareOk(xm::DeclareOk {})));
                }
                Ok(())
            }
            xm::AMQPMethod::Delete(d) => {
                let name = d.exchange.as_str().to_string();
                if name.is_empty() {
                    return Err(Reply::channel(code::ACCESS_REFUSED, "operation not permitted on the default exchange", ids));
                }
                if name.starts_with("amq.") {
                    return Err(Reply::channel(code::ACCESS_REFUSED, format!("cannot delete predeclared exchange '{name}'"), ids));
                }
                if let Some(x) = self.exchanges.get(&name) {
                    if d.if_unused && !x.bindings.is_empty() {
                        return Err(Reply::channel(code::PRECONDITION_FAILED, format!("exchange '{name}' in vhost '{vhost}' in use"), ids));
                    }
                    self.exchanges.remove(&name);
                }
                if !d.nowait {
                    self.method(conn, ch, AMQPClass::Exchange(xm::AMQPMethod::DeleteOk(xm::DeleteOk {})));
                }
                Ok(())
            }
            xm::AMQPMethod::Bind(_) => Err(Reply::unsupported("exchange.bind (exchange-to-exchange bindings)", ids)),
            xm::AMQPMethod::Unbind(_) => Err(Reply::unsupported("exchange.unbind (exchange-to-exchange bindings)", ids)),
            other => Err(Reply::connection(code::COMMAND_INVALID, format!("a server method sent by the client ({other:?})"), ids)),
        }
    }

    fn queue_method(&mut self, conn: u64, ch: u16, m: qm::AMQPMethod, ids: (u16, u16)) -> Result<(), Reply> {
        let vhost = self.vhost.clone();
        match m {
            qm::AMQPMethod::Declare(d) => {
                let mut name = d.queue.as_str().to_string();
                if name.is_empty() && !d.passive {
                    name = generated("amq.gen-");
                }
                let reply = match self.queues.get(&name) {
                    None if d.passive => return Err(self.no_queue(&name, ids)),
                    None => {
                        if name.starts_with("amq.") && !d.queue.as_str().is_empty() {
                            return Err(Reply::channel(
                                code::ACCESS_REFUSED,
                                format!("queue name '{name}' contains reserved prefix 'amq.*'"),
                                ids,
                            ));
                        }
                        queue::check_arguments(&d.arguments).map_err(|what| Reply::unsupported(what, ids))?;
                        let owner = d.exclusive.then_some(conn);
                        self.queues.insert(name.clone(), Queue::new(name.clone(), d.durable, owner, d.auto_delete, d.arguments));
                        (0, 0)
                    }
                    Some(q) => {
                        if q.owner.is_some_and(|o| o != conn) {
                            return Err(self.locked(&name, ids));
                        }
                        if !d.passive {
                            let differs = if q.durable != d.durable {
                                Some(("durable", d.durable, q.durable))
                            } else if q.auto_delete != d.auto_delete {
                                Some(("auto_delete", d.auto_delete, q.auto_delete))
                            } else {
                                None
                            };
                            if let Some((arg, got, have)) = differs {
                                return Err(Reply::channel(
                                    code::PRECONDITION_FAILED,
                                    format!("inequivalent arg '{arg}' for queue '{name}' in vhost '{vhost}': received '{got}' but current is '{have}'"),
                                    ids,
                                ));
                            }
                            if q.owner.is_none() && d.exclusive {
                                return Err(self.locked(&name, ids));
                            }
                            if let Some(text) = queue::inequivalent_argument(q, &d.arguments, &vhost) {
                                return Err(Reply::channel(code::PRECONDITION_FAILED, text, ids));
                            }
                        }
                        (q.ready.len(), q.consumers.len())
                    }
                };
                if !d.nowait {
                    let ok = qm::DeclareOk { queue: short(&name), message_count: count(reply.0), consumer_count: count(reply.1) };
                    self.method(conn, ch, AMQPClass::Queue(qm::AMQPMethod::DeclareOk(ok)));
                }
                Ok(())
            }
            qm::AMQPMethod::Bind(b) => {
                let (queue, exchange) = (b.queue.as_str().to_string(), b.exchange.as_str().to_string());
                self.binding_target(conn, &queue, &exchange, ids)?;
                let x = self.exchanges.get_mut(&exchange).ok_or_else(|| gone(ids))?;
                let binding = Binding { queue, key: b.routing_key.as_str().to_string(), arguments: b.arguments };
                if !x.bindings.contains(&binding) {
                    x.bindings.push(binding);
                }
                if !b.nowait {
                    self.method(conn, ch, AMQPClass::Queue(qm::AMQPMethod::BindOk(qm::BindOk {})));
                }
                Ok(())
            }
            qm::AMQPMethod::Unbind(u) => {
                let (queue, exchange) = (u.queue.as_str().to_string(), u.exchange.as_str().to_string());
                self.binding_target(conn, &queue, &exchange, ids)?;
                let x = self.exchanges.get_mut(&exchange).ok_or_else(|| gone(ids))?;
                let before = x.bindings.len();
                x.bindings.retain(|b| !(b.queue == queue && b.key == u.routing_key.as_str() && b.arguments == u.arguments));
                if x.auto_delete && before > 0 && x.bindings.is_empty() {
                    self.exchanges.remove(&exchange);
                }
                self.method(conn, ch, AMQPClass::Queue(qm::AMQPMethod::UnbindOk(qm::UnbindOk {})));
                Ok(())
            }
            qm::AMQPMethod::Purge(p) => {
                let name = p.queue.as_str().to_string();
                self.usable_queue(conn, &name, ids)?;
                let n = self.queues.get_mut(&name).map_or(0, Queue::purge);
                if !p.nowait {
                    self.method(conn, ch, AMQPClass::Queue(qm::AMQPMethod::PurgeOk(qm::PurgeOk { message_count: count(n) })));
                }
                Ok(())
            }
            qm::AMQPMethod::Delete(d) => {
                let name = d.queue.as_str().to_string();
                let n = match self.queues.get(&name) {
                    None => 0,
                    Some(q) => {
                        self.usable_queue(conn, &name, ids)?;
                        if d.if_unused && !q.consumers.is_empty() {
                            return Err(Reply::channel(code::PRECONDITION_FAILED, format!("queue '{name}' in vhost '{vhost}' in use"), ids));
                        }
                        if d.if_empty && !q.ready.is_empty() {
                            return Err(Reply::channel(code::PRECONDITION_FAILED, format!("queue '{name}' in vhost '{vhost}' not empty"), ids));
                        }
                        self.remove_queue(&name)
                    }
                };
                if !d.nowait {
                    self.method(conn, ch, AMQPClass::Queue(qm::AMQPMethod::DeleteOk(qm::DeleteOk { message_count: count(n) })));
                }
                Ok(())
            }
            other => Err(Reply::connection(code::COMMAND_INVALID, format!("a server method sent by the client ({other:?})"), ids)),
        }
    }

    /// Checks both ends of a binding: the queue (usable by this connection) and the
    /// exchange (not the default one).
    fn binding_target(&self, conn: u64, queue: &str, exchange: &str, ids: (u16, u16)) -> Result<(), Reply> {
        if exchange.is_empty() {
            return Err(Reply::channel(code::ACCESS_REFUSED, "operation not permitted on the default exchange", ids));
        }
        self.usable_queue(conn, queue, ids)?;
        if !self.exchanges.contains_key(exchange) {
            return Err(self.no_exchange(exchange, ids));
        }
        Ok(())
    }

    fn basic_method(&mut self, conn: u64, ch: u16, m: basic::AMQPMethod, ids: (u16, u16)) -> Result<(), Reply> {
        match m {
            basic::AMQPMethod::Qos(q) => {
                let chan = self.chan(conn, ch, ids)?;
                if q.global {
                    chan.channel_prefetch = q.prefetch_count;
                } else {
                    chan.consumer_prefetch = q.prefetch_count;
                }
                self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::QosOk(basic::QosOk {})));
                let queues: BTreeSet<String> = self.chan(conn, ch, ids)?.consumers.values().cloned().collect();
                for q in queues {
                    self.deliver(&q);
                }
                Ok(())
            }
            basic::AMQPMethod::Consume(c) => self.consume(conn, ch, c, ids),
            basic::AMQPMethod::Cancel(c) => {
                let tag = c.consumer_tag.as_str().to_string();
                if let Some(queue) = self.chan(conn, ch, ids)?.consumers.remove(&tag) {
                    self.remove_consumer(&queue, conn, ch, &tag);
                }
                if !c.nowait {
                    self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::CancelOk(basic::CancelOk { consumer_tag: c.consumer_tag })));
                }
                Ok(())
            }
            basic::AMQPMethod::Get(g) => {
                let name = g.queue.as_str().to_string();
                self.usable_queue(conn, &name, ids)?;
                let q = self.queues.get_mut(&name).ok_or_else(|| gone(ids))?;
                let Some(queued) = q.take(g.no_ack) else {
                    self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::GetEmpty(basic::GetEmpty {})));
                    return Ok(());
                };
                let remaining = q.ready.len();
                let chan = self.chan(conn, ch, ids)?;
                chan.delivery_tag += 1;
                let ok = basic::GetOk {
                    delivery_tag: chan.delivery_tag,
                    redelivered: queued.redelivered,
                    exchange: short(&queued.message.exchange),
                    routing_key: short(&queued.message.routing_key),
                    message_count: count(remaining),
                };
                let message = queued.message.clone();
                if !g.no_ack {
                    let tag = chan.delivery_tag;
                    chan.unacked.insert(tag, Unacked { queue: name, consumer: None, queued });
                }
                self.send(conn, Out::Content { channel: ch, method: AMQPClass::Basic(basic::AMQPMethod::GetOk(ok)), message });
                Ok(())
            }
            basic::AMQPMethod::Ack(a) => self.settle(conn, ch, a.delivery_tag, a.multiple, None, ids),
            basic::AMQPMethod::Nack(n) => self.settle(conn, ch, n.delivery_tag, n.multiple, Some(n.requeue), ids),
            basic::AMQPMethod::Reject(r) => self.settle(conn, ch, r.delivery_tag, false, Some(r.requeue), ids),
            basic::AMQPMethod::Recover(basic::Recover { requeue: false }) | basic::AMQPMethod::RecoverAsync(basic::RecoverAsync { requeue: false }) => {
                Err(Reply::connection(code::NOT_IMPLEMENTED, "requeue=false", ids))
            }
            basic::AMQPMethod::Recover(_) | basic::AMQPMethod::RecoverAsync(_) => {
                let last = self.chan(conn, ch, ids)?.delivery_tag;
                if last > 0 {
                    self.settle_all(conn, ch, Some(true));
                }
                if matches!(ids, (60, 110)) {
                    self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::RecoverOk(basic::RecoverOk {})));
                }
                Ok(())
            }
            basic::AMQPMethod::Publish(_) => Err(Reply::connection(code::UNEXPECTED_FRAME, "basic.publish without its content", ids)),
            other => Err(Reply::connection(code::COMMAND_INVALID, format!("a server method sent by the client ({other:?})"), ids)),
        }
    }

    fn consume(&mut self, conn: u64, ch: u16, c: basic::Consume, ids: (u16, u16)) -> Result<(), Reply> {
        let name = c.queue.as_str().to_string();
        let vhost = self.vhost.clone();
        let q = self.usable_queue(conn, &name, ids)?;
        if q.consumers.iter().any(|c| c.exclusive) || (c.exclusive && !q.consumers.is_empty()) {
            return Err(Reply::channel(code::ACCESS_REFUSED, format!("queue '{name}' in vhost '{vhost}' in exclusive use"), ids));
        }
        if let Some((k, _)) = c.arguments.inner().iter().find(|(k, _)| k.as_str().starts_with("x-")) {
            return Err(Reply::unsupported(format!("consumer argument '{k}'"), ids));
        }
        let tag = if c.consumer_tag.as_str().is_empty() { generated("amq.ctag-") } else { c.consumer_tag.as_str().to_string() };
        let chan = self.chan(conn, ch, ids)?;
        if chan.consumers.contains_key(&tag) {
            return Err(Reply::connection(code::NOT_ALLOWED, format!("attempt to reuse consumer tag '{tag}'"), ids));
        }
        chan.consumers.insert(tag.clone(), name.clone());
        let prefetch = chan.consumer_prefetch;
        let q = self.queues.get_mut(&name).ok_or_else(|| gone(ids))?;
        q.had_consumer = true;
        q.consumers.push(Consumer {
            tag: tag.clone(),
            connection: conn,
            channel: ch,
            no_ack: c.no_ack,
            exclusive: c.exclusive,
            prefetch,
            unacked: 0,
        });
        if !c.nowait {
            self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::ConsumeOk(basic::ConsumeOk { consumer_tag: short(&tag) })));
        }
        self.deliver(&name);
        Ok(())
    }

    /// `ack` (`requeue` `None`), `nack`/`reject` (`Some(requeue)`) of one delivery tag, or of
    /// every tag up to it when `multiple` (0 with `multiple`: all).
    fn settle(&mut self, conn: u64, ch: u16, tag: u64, multiple: bool, requeue: Option<bool>, ids: (u16, u16)) -> Result<(), Reply> {
        let chan = self.chan(conn, ch, ids)?;
        let tags: Vec<u64> = if multiple {
            if tag == 0 { chan.unacked.keys().copied().collect() } else { chan.unacked.range(..=tag).map(|(t, _)| *t).collect() }
        } else if chan.unacked.contains_key(&tag) {
            vec![tag]
        } else {
            vec![]
        };
        if tags.is_empty() && !(multiple && tag == 0) {
            return Err(Reply::channel(code::PRECONDITION_FAILED, format!("unknown delivery tag {tag}"), ids));
        }
        let settled: Vec<Unacked> = tags.iter().filter_map(|t| chan.unacked.remove(t)).collect();
        self.settled(conn, ch, settled, requeue);
        Ok(())
    }

    /// Gives back or settles every unsettled delivery of a channel (`basic.recover`).
    fn settle_all(&mut self, conn: u64, ch: u16, requeue: Option<bool>) {
        let Some(chan) = self.connections.get_mut(&conn).and_then(|c| c.channels.get_mut(&ch)) else { return };
        let settled: Vec<Unacked> = std::mem::take(&mut chan.unacked).into_values().collect();
        self.settled(conn, ch, settled, requeue);
    }

    fn settled(&mut self, conn: u64, ch: u16, settled: Vec<Unacked>, requeue: Option<bool>) {
        let mut touched = BTreeSet::new();
        for u in settled {
            let Some(q) = self.queues.get_mut(&u.queue) else { continue };
            if let Some(tag) = &u.consumer
                && let Some(c) = q.consumers.iter_mut().find(|c| c.connection == conn && c.channel == ch && &c.tag == tag)
            {
                c.unacked = c.unacked.saturating_sub(1);
            }
            if requeue == Some(true) {
                q.requeue(u.queued);
            } else {
                q.settled(&u.queued);
            }
            touched.insert(u.queue);
        }
        if let Some(chan) = self.connections.get(&conn).and_then(|c| c.channels.get(&ch)) {
            touched.extend(chan.consumers.values().cloned());
        }
        for q in touched {
            self.deliver(&q);
        }
    }

    /// `basic.publish` with its content: routed to the queues its exchange binds, returned
    /// when unroutable and `mandatory`, confirmed when the channel asked.
    pub fn publish(&mut self, conn: u64, ch: u16, p: &basic::Publish, properties: BasicProperties, body: Bytes) -> Result<(), Reply> {
        let ids = (60, 40);
        if body.len() as u64 > self.max_message_size {
            return Err(Reply::channel(
                code::PRECONDITION_FAILED,
                format!("message size {} is larger than configured max size {}", body.len(), self.max_message_size),
                ids,
            ));
        }
        let exchange = p.exchange.as_str();
        let routing_key = p.routing_key.as_str();
        let queues: BTreeSet<String> = if exchange.is_empty() {
            self.queues.contains_key(routing_key).then(|| routing_key.to_string()).into_iter().collect()
        } else {
            let x = self.exchanges.get(exchange).ok_or_else(|| self.no_exchange(exchange, ids))?;
            if x.internal {
                return Err(Reply::channel(
                    code::ACCESS_REFUSED,
                    format!("cannot publish to internal exchange '{exchange}' in vhost '{}'", self.vhost),
                    ids,
                ));
            }
            x.route(routing_key)
        };
        let message = Arc::new(Message { exchange: exchange.to_string(), routing_key: routing_key.to_string(), properties, body });
        for q in &queues {
            if let Some(queue) = self.queues.get_mut(q) {
                queue.push(message.clone());
            }
        }
        if queues.is_empty() && p.mandatory {
            let ret = basic::Return {
                reply_code: code::NO_ROUTE,
                reply_text: short("NO_ROUTE"),
                exchange: p.exchange.clone(),
                routing_key: p.routing_key.clone(),
            };
            self.send(conn, Out::Content { channel: ch, method: AMQPClass::Basic(basic::AMQPMethod::Return(ret)), message });
        }
        let chan = self.chan(conn, ch, ids)?;
        if chan.confirm {
            chan.publish_seq += 1;
            let ack = basic::Ack { delivery_tag: chan.publish_seq, multiple: false };
            self.method(conn, ch, AMQPClass::Basic(basic::AMQPMethod::Ack(ack)));
        }
        self.published(conn);
        for q in queues {
            self.deliver(&q);
        }
        Ok(())
    }
}

/// A server-generated name: the prefix and 22 random characters, as RabbitMQ makes them.
fn generated(prefix: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let tail: String = (0..22).map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char).collect();
    format!("{prefix}{tail}")
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn tx_name(m: &amq_protocol::protocol::tx::AMQPMethod) -> &'static str {
    use amq_protocol::protocol::tx::AMQPMethod as T;
    match m {
        T::Select(_) | T::SelectOk(_) => "select",
        T::Commit(_) | T::CommitOk(_) => "commit",
        T::Rollback(_) | T::RollbackOk(_) => "rollback",
    }
}

/// A method's name for an error text (`connection.tune`, …).
pub fn method_name(m: &AMQPClass) -> String {
    let debug = format!("{m:?}");
    let class = debug.split('(').next().unwrap_or("").to_ascii_lowercase();
    let method = debug.split('(').nth(1).unwrap_or("").to_ascii_lowercase();
    format!("{class}.{method}")
}
