//! The broker's state: its exchanges, queues, connections and channels, under one lock.
//!
//! Every method a client sends is handled here, synchronously, under the broker's mutex:
//! what it changes and what it answers are decided together, so two connections never
//! see a half-made declaration, and the frames a method causes (its `-ok`, the deliveries
//! it frees) are queued to each connection's writer in the order they were decided. The
//! writer is a connection's own task ([`super::connection`]); nothing here awaits.
//!
//! This file holds the connection and channel bookkeeping — opening, failing, closing,
//! giving back what a closed channel held — and delivery, which needs both queues and
//! channels (a consumer's prefetch lives on its channel). The methods of the `exchange`,
//! `queue`, `basic` and `confirm` classes are in [`super::methods`].

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;

use amq_protocol::frame::AMQPFrame;
use amq_protocol::protocol::{AMQPClass, basic, channel, connection};
use tokio::sync::mpsc::UnboundedSender;

use super::exchange::{self, Exchange};
use super::queue::{Message, Queue, Queued};
use super::reply::{Reply, Scope, code, ids_of, short};

/// What a connection's writer is asked to send.
#[derive(Debug)]
pub enum Out {
    /// A frame as it is.
    Frame(AMQPFrame),
    /// A method with content (`basic.deliver`, `basic.get-ok`, `basic.return`): the
    /// method, a content header and as many body frames as `frame_max` asks.
    Content {
        /// The channel.
        channel: u16,
        /// The method.
        method: AMQPClass,
        /// The message.
        message: Arc<Message>,
    },
    /// The last frame of a connection (a `connection.close` the server starts, or the
    /// `close-ok` it answers): written, then the socket is closed once the client answers
    /// or closes it, or a second has passed.
    Close(AMQPFrame),
}

/// What a client said it understands (`client_properties.capabilities`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Capabilities {
    /// `consumer_cancel_notify`: a `basic.cancel` when its queue goes.
    pub cancel_notify: bool,
    /// `connection.blocked`: `connection.blocked`/`unblocked` under a resource alarm.
    pub blocked_notify: bool,
}

/// A connection, once open.
#[derive(Debug)]
pub struct Conn {
    /// Its writer.
    pub out: UnboundedSender<Out>,
    /// The client's `connection_name`, if it gave one.
    pub name: Option<String>,
    /// Where it comes from.
    pub peer: SocketAddr,
    /// The user it logged in as.
    pub user: String,
    /// What the client understands.
    pub capabilities: Capabilities,
    /// Its channels.
    pub channels: HashMap<u16, Chan>,
    /// Whether it ever published (a resource alarm blocks publishers).
    pub published: bool,
    /// Blocked by a resource alarm: its socket is not read until the alarm clears.
    pub blocked: bool,
    /// The server closed it and waits for `close-ok`.
    pub closing: bool,
}

/// A channel.
#[derive(Debug, Default)]
pub struct Chan {
    /// The server closed it and waits for `close-ok`; frames until then are dropped.
    pub closing: bool,
    /// `basic.qos` with `global=false`: the prefetch of consumers started after it.
    pub consumer_prefetch: u16,
    /// `basic.qos` with `global=true`: the channel's prefetch.
    pub channel_prefetch: u16,
    /// Publisher confirms are on.
    pub confirm: bool,
    /// The last confirmed publish's number.
    pub publish_seq: u64,
    /// The last delivery tag used.
    pub delivery_tag: u64,
    /// Delivered, not settled, by delivery tag.
    pub unacked: BTreeMap<u64, Unacked>,
    /// Its consumers' tags, with their queue.
    pub consumers: BTreeMap<String, String>,
}

/// A delivery not yet settled.
#[derive(Debug)]
pub struct Unacked {
    /// The queue it came from.
    pub queue: String,
    /// The consumer it went to (`None`: `basic.get`).
    pub consumer: Option<String>,
    /// The message, with its place in the queue.
    pub queued: Queued,
}

/// The state of one broker (one vhost).
#[derive(Debug)]
pub struct State {
    /// The vhost's name.
    pub vhost: String,
    /// Exchanges by name (the default exchange `""` is implicit).
    pub exchanges: BTreeMap<String, Exchange>,
    /// Queues by name.
    pub queues: BTreeMap<String, Queue>,
    /// Open connections by id.
    pub connections: HashMap<u64, Conn>,
    /// The largest message body accepted.
    pub max_message_size: u64,
    /// A memory alarm is raised: publishers are blocked.
    pub alarm: bool,
    next_connection: u64,
}

impl State {
    /// A broker with the predeclared exchanges.
    pub fn new(vhost: String, max_message_size: u64) -> State {
        State {
            vhost,
            exchanges: exchange::predeclared().into_iter().map(|x| (x.name.clone(), x)).collect(),
            queues: BTreeMap::new(),
            connections: HashMap::new(),
            max_message_size,
            alarm: false,
            next_connection: 0,
        }
    }

    /// Registers an open connection; returns its id.
    pub fn open_connection(&mut self, conn: Conn) -> u64 {
        // Under an alarm a new connection is blocked, as RabbitMQ does, once it publishes.
        self.next_connection += 1;
        self.connections.insert(self.next_connection, conn);
        self.next_connection
    }

    pub(super) fn send(&self, conn: u64, out: Out) {
        if let Some(c) = self.connections.get(&conn) {
            let _ = c.out.send(out);
        }
    }

    pub(super) fn method(&self, conn: u64, channel: u16, method: AMQPClass) {
        self.send(conn, Out::Frame(AMQPFrame::Method(channel, method)));
    }

    /// A method on a channel that is not open, or on a closing one.
    pub fn channel_state(&self, conn: u64, channel: u16) -> ChannelState {
        match self.connections.get(&conn).and_then(|c| c.channels.get(&channel)) {
            None => ChannelState::Absent,
            Some(c) if c.closing => ChannelState::Closing,
            Some(_) => ChannelState::Open,
        }
    }

    /// `channel.open`, `channel.close`, `channel.close-ok`, `channel.flow`.
    pub fn channel_method(&mut self, conn: u64, ch: u16, method: channel::AMQPMethod) -> Result<(), Reply> {
        let ids = ids_of(&AMQPClass::Channel(method.clone()));
        match method {
            channel::AMQPMethod::Open(_) => {
                let c = self.connections.get_mut(&conn).ok_or_else(|| gone(ids))?;
                if c.channels.contains_key(&ch) {
                    return Err(Reply::connection(code::CHANNEL_ERROR, "second 'channel.open' seen", ids));
                }
                c.channels.insert(ch, Chan::default());
                self.method(conn, ch, AMQPClass::Channel(channel::AMQPMethod::OpenOk(channel::OpenOk {})));
            }
            channel::AMQPMethod::Close(_) => {
                self.release_channel(conn, ch);
                self.method(conn, ch, AMQPClass::Channel(channel::AMQPMethod::CloseOk(channel::CloseOk {})));
            }
            channel::AMQPMethod::CloseOk(_) => {
                // The answer to a close the server sent: the channel number is free again.
                if let Some(c) = self.connections.get_mut(&conn) {
                    c.channels.remove(&ch);
                }
            }
            channel::AMQPMethod::Flow(f) if f.active => {
                self.method(conn, ch, AMQPClass::Channel(channel::AMQPMethod::FlowOk(channel::FlowOk { active: true })));
            }
            channel::AMQPMethod::Flow(_) => return Err(Reply::connection(code::NOT_IMPLEMENTED, "active=false", ids)),
            channel::AMQPMethod::OpenOk(_) | channel::AMQPMethod::FlowOk(_) => {
                return Err(Reply::connection(code::COMMAND_INVALID, "a server method sent by the client", ids));
            }
        }
        Ok(())
    }

    /// Answers an error: closes the channel (giving back what it held) or the connection.
    pub fn fail(&mut self, conn: u64, ch: u16, reply: Reply) {
        tracing::debug!(conn, ch, code = reply.code, text = %reply.text, "embedded broker: error");
        match reply.scope {
            Scope::Channel => {
                self.release_channel(conn, ch);
                if let Some(c) = self.connections.get_mut(&conn) {
                    c.channels.insert(ch, Chan { closing: true, ..Chan::default() });
                }
                let close = channel::Close {
                    reply_code: reply.code,
                    reply_text: reply.short_text(),
                    class_id: reply.class_id,
                    method_id: reply.method_id,
                };
                self.method(conn, ch, AMQPClass::Channel(channel::AMQPMethod::Close(close)));
            }
            Scope::Connection => self.close_connection(conn, reply),
        }
    }

    /// Closes a connection from the server's side: its channels are given back at once and
    /// `connection.close` is sent; the socket closes when the client answers.
    pub fn close_connection(&mut self, conn: u64, reply: Reply) {
        // A connection already closing (either side sent `connection.close`) gets no second
        // close: a client that has its `close-ok` takes another for a new error.
        if self.connections.get(&conn).is_none_or(|c| c.closing) {
            return;
        }
        self.release_connection(conn);
        if let Some(c) = self.connections.get_mut(&conn) {
            c.closing = true;
            let close = connection::Close {
                reply_code: reply.code,
                reply_text: reply.short_text(),
                class_id: reply.class_id,
                method_id: reply.method_id,
            };
            let _ = c.out.send(Out::Close(AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Close(close)))));
        }
    }

    /// Gives back everything a connection holds (its channels' deliveries and consumers,
    /// its exclusive queues); the connection stays registered until it ends.
    pub fn release_connection(&mut self, conn: u64) {
        let channels: Vec<u16> = self.connections.get(&conn).map(|c| c.channels.keys().copied().collect()).unwrap_or_default();
        for ch in channels {
            self.release_channel(conn, ch);
        }
        self.release_exclusive(conn);
    }

    /// Closes every connection as a node going down does (`CONNECTION_FORCED`).
    pub fn close_all(&mut self) {
        let ids: Vec<u64> = self.connections.keys().copied().collect();
        for id in ids {
            let reply = Reply::connection(code::CONNECTION_FORCED, "broker forced connection closure with reason 'shutdown'", (0, 0));
            self.close_connection(id, reply);
        }
    }

    /// A connection ended (closed, failed, lost): everything it held is given back.
    pub fn end_connection(&mut self, conn: u64) {
        self.release_connection(conn);
        self.connections.remove(&conn);
    }

    fn release_exclusive(&mut self, conn: u64) {
        let owned: Vec<String> = self.queues.values().filter(|q| q.owner == Some(conn)).map(|q| q.name.clone()).collect();
        for name in owned {
            self.remove_queue(&name);
        }
    }

    /// A channel closed: its unsettled deliveries go back to their queues, its consumers
    /// are removed (and an auto-delete queue left without one is deleted).
    pub fn release_channel(&mut self, conn: u64, ch: u16) {
        let Some(chan) = self.connections.get_mut(&conn).and_then(|c| c.channels.remove(&ch)) else { return };
        let mut touched = BTreeSet::new();
        for (_, u) in chan.unacked {
            if let Some(q) = self.queues.get_mut(&u.queue) {
                q.requeue(u.queued);
                touched.insert(u.queue);
            }
        }
        for (tag, queue) in chan.consumers {
            self.remove_consumer(&queue, conn, ch, &tag);
            touched.insert(queue);
        }
        for q in touched {
            self.deliver(&q);
        }
    }

    /// Removes a consumer from its queue; deletes the queue when it was auto-delete and
    /// this was its last consumer.
    pub(super) fn remove_consumer(&mut self, queue: &str, conn: u64, ch: u16, tag: &str) {
        let Some(q) = self.queues.get_mut(queue) else { return };
        q.consumers.retain(|c| !(c.connection == conn && c.channel == ch && c.tag == tag));
        if q.auto_delete && q.had_consumer && q.consumers.is_empty() {
            let name = q.name.clone();
            self.remove_queue(&name);
        }
    }

    /// Deletes a queue: its bindings go, its consumers are told (`basic.cancel`, when
    /// they understand it), its ready messages are dropped. Returns how many were ready.
    pub(super) fn remove_queue(&mut self, name: &str) -> usize {
        let Some(mut q) = self.queues.remove(name) else { return 0 };
        let mut emptied = Vec::new();
        for x in self.exchanges.values_mut() {
            let before = x.bindings.len();
            x.bindings.retain(|b| b.queue != name);
            if x.auto_delete && before > 0 && x.bindings.is_empty() {
                emptied.push(x.name.clone());
            }
        }
        for x in emptied {
            self.exchanges.remove(&x);
        }
        for c in q.consumers.drain(..) {
            if let Some(conn) = self.connections.get_mut(&c.connection) {
                if let Some(chan) = conn.channels.get_mut(&c.channel) {
                    chan.consumers.remove(&c.tag);
                }
                if conn.capabilities.cancel_notify {
                    let cancel = basic::Cancel { consumer_tag: short(&c.tag), nowait: true };
                    let _ = conn.out.send(Out::Frame(AMQPFrame::Method(c.channel, AMQPClass::Basic(basic::AMQPMethod::Cancel(cancel)))));
                }
            }
        }
        q.ready.len()
    }

    /// Delivers a queue's ready messages to its consumers, round-robin among those whose
    /// prefetch (their own, then their channel's) leaves room.
    pub(super) fn deliver(&mut self, queue: &str) {
        loop {
            let Some(q) = self.queues.get_mut(queue) else { return };
            if q.ready.is_empty() || q.consumers.is_empty() {
                return;
            }
            let n = q.consumers.len();
            let chosen = (0..n).map(|i| (q.cursor + i) % n).find(|&i| {
                let c = &q.consumers[i];
                let Some(chan) = self.connections.get(&c.connection).and_then(|conn| conn.channels.get(&c.channel)) else {
                    return false;
                };
                c.no_ack
                    || ((c.prefetch == 0 || c.unacked < usize::from(c.prefetch))
                        && (chan.channel_prefetch == 0 || chan.unacked.len() < usize::from(chan.channel_prefetch)))
            });
            let Some(i) = chosen else { return };
            q.cursor = (i + 1) % n;
            let no_ack = q.consumers[i].no_ack;
            let Some(queued) = q.take(no_ack) else { return };
            let consumer = &mut q.consumers[i];
            if !no_ack {
                consumer.unacked += 1;
            }
            let (conn, ch, tag) = (consumer.connection, consumer.channel, consumer.tag.clone());
            let Some(c) = self.connections.get_mut(&conn) else { return };
            let Some(chan) = c.channels.get_mut(&ch) else { return };
            chan.delivery_tag += 1;
            let delivery_tag = chan.delivery_tag;
            let deliver = basic::Deliver {
                consumer_tag: short(&tag),
                delivery_tag,
                redelivered: queued.redelivered,
                exchange: short(&queued.message.exchange),
                routing_key: short(&queued.message.routing_key),
            };
            let message = queued.message.clone();
            if !no_ack {
                chan.unacked.insert(delivery_tag, Unacked { queue: queue.to_string(), consumer: Some(tag), queued });
            }
            let _ = c.out.send(Out::Content { channel: ch, method: AMQPClass::Basic(basic::AMQPMethod::Deliver(deliver)), message });
        }
    }

    /// Raises or clears the memory alarm: connections that publish are blocked (told with
    /// `connection.blocked` when they understand it) until it clears.
    pub fn set_alarm(&mut self, on: bool) {
        self.alarm = on;
        for c in self.connections.values_mut() {
            if on && c.published && !c.blocked {
                block(c);
            } else if !on && c.blocked {
                c.blocked = false;
                if c.capabilities.blocked_notify {
                    let _ = c.out.send(Out::Frame(AMQPFrame::Method(
                        0,
                        AMQPClass::Connection(connection::AMQPMethod::Unblocked(connection::Unblocked {})),
                    )));
                }
            }
        }
    }

    /// A connection published: under an alarm it is blocked from now on.
    pub(super) fn published(&mut self, conn: u64) {
        let alarm = self.alarm;
        if let Some(c) = self.connections.get_mut(&conn) {
            c.published = true;
            if alarm && !c.blocked {
                block(c);
            }
        }
    }
}

fn block(c: &mut Conn) {
    c.blocked = true;
    if c.capabilities.blocked_notify {
        let blocked = connection::Blocked { reason: short("low on memory") };
        let _ = c.out.send(Out::Frame(AMQPFrame::Method(0, AMQPClass::Connection(connection::AMQPMethod::Blocked(blocked)))));
    }
}

/// Whether a channel can take a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelState {
    /// Never opened (or closed).
    Absent,
    /// Closed by the server, waiting for `close-ok`.
    Closing,
    /// Open.
    Open,
}

pub(super) fn gone(ids: (u16, u16)) -> Reply {
    Reply::connection(code::INTERNAL_ERROR, "the connection is gone", ids)
}
