//! One client connection: the handshake, then frames in and frames out.
//!
//! The handshake is sequential, as the protocol has it: the protocol header, `start` /
//! `start-ok` (PLAIN, against the broker's one user), `tune` / `tune-ok`, `open` /
//! `open-ok` (the broker's one vhost), all within ten seconds as RabbitMQ's
//! `handshake_timeout`. Then two tasks: this one reads frames, assembles published
//! content (method, header, body frames) and hands each method to the state; the writer
//! drains what the state queued for this connection, splits content into frames of the
//! negotiated size, and sends heartbeats when the connection is otherwise idle. A client
//! silent for two heartbeat intervals is dropped; a connection blocked by a memory alarm
//! is not read until the alarm clears, which is how RabbitMQ holds publishers back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use amq_protocol::frame::{AMQPContentHeader, AMQPFrame};
use amq_protocol::protocol::{AMQPClass, BasicProperties, basic, connection};
use amq_protocol::types::{AMQPValue, FieldTable, LongString, ShortString};
use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::reply::{Reply, code, ids_of};
use super::state::{Capabilities, ChannelState, Conn, Out};
use super::wire::{self, Decoded, Greeting};

/// RabbitMQ's `handshake_timeout`.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// How long a closing connection waits for the client's `close-ok`.
const CLOSE_WAIT: Duration = Duration::from_secs(1);
/// The most channels a connection may open (RabbitMQ's default).
const CHANNEL_MAX: u16 = 2047;
/// The smallest `frame_max` the protocol allows.
const FRAME_MIN: u32 = 4096;

/// Serves one accepted socket until it closes.
pub(super) async fn serve(shared: Arc<Shared>, socket: TcpStream, peer: SocketAddr) {
    let _ = socket.set_nodelay(true);
    let (read, write) = socket.into_split();
    let mut reader = Reader { read, buf: BytesMut::with_capacity(8192), frame_max: FRAME_MIN };
    let mut write = write;
    let opened = tokio::time::timeout(HANDSHAKE, handshake(&shared, &mut reader, &mut write, peer)).await;
    let Ok(Some(hello)) = opened else {
        let _ = write.shutdown().await;
        return;
    };
    let token = shared.token.child_token();
    let (tx, rx) = mpsc::unbounded_channel();
    let conn = Conn {
        out: tx,
        name: hello.name,
        peer,
        user: hello.user,
        capabilities: hello.capabilities,
        channels: HashMap::new(),
        published: false,
        blocked: false,
        closing: false,
    };
    let id = shared.state().open_connection(conn);
    reader.frame_max = hello.frame_max;
    let writer = tokio::spawn(write_loop(write, rx, hello.frame_max, hello.heartbeat, token.clone()));
    read_loop(&shared, id, &mut reader, hello.heartbeat, &token).await;
    // Ending the connection drops its writer's sender: the writer sends what is queued (a
    // `close-ok`, say) and stops; a client that does not read is cut after a second.
    shared.state().end_connection(id);
    let _ = tokio::time::timeout(CLOSE_WAIT, writer).await;
    token.cancel();
}

/// What the handshake settled.
struct Hello {
    name: Option<String>,
    user: String,
    capabilities: Capabilities,
    frame_max: u32,
    heartbeat: u16,
}

struct Reader {
    read: OwnedReadHalf,
    buf: BytesMut,
    frame_max: u32,
}

enum ReadError {
    Closed,
    Invalid(String),
}

impl Reader {
    async fn next(&mut self) -> Result<AMQPFrame, ReadError> {
        loop {
            match wire::decode(&self.buf, self.frame_max) {
                Decoded::Frame(frame, used) => {
                    let _ = self.buf.split_to(used);
                    return Ok(frame);
                }
                Decoded::Invalid(why) => return Err(ReadError::Invalid(why)),
                Decoded::Incomplete => {}
            }
            match self.read.read_buf(&mut self.buf).await {
                Ok(0) | Err(_) => return Err(ReadError::Closed),
                Ok(_) => {}
            }
        }
    }

    /// Reads and drops everything until the peer closes or the connection ends.
    async fn discard(&mut self, token: &CancellationToken) {
        loop {
            self.buf.clear();
            tokio::select! {
                read = self.read.read_buf(&mut self.buf) => if !matches!(read, Ok(n) if n > 0) { return },
                () = token.cancelled() => return,
            }
        }
    }

    /// The next method on channel 0 during the handshake (heartbeats are skipped).
    async fn method(&mut self) -> Option<connection::AMQPMethod> {
        loop {
            match self.next().await.ok()? {
                AMQPFrame::Heartbeat => {}
                AMQPFrame::Method(0, AMQPClass::Connection(m)) => return Some(m),
                _ => return None,
            }
        }
    }
}

async fn send(write: &mut OwnedWriteHalf, frame: AMQPFrame) -> Option<()> {
    let mut bytes = Vec::new();
    wire::encode(&frame, &mut bytes).ok()?;
    write.write_all(&bytes).await.ok()
}

fn connection_method(m: connection::AMQPMethod) -> AMQPFrame {
    AMQPFrame::Method(0, AMQPClass::Connection(m))
}

/// Refuses a connection during the handshake: `connection.close`, then the socket.
async fn refuse(write: &mut OwnedWriteHalf, reader: &mut Reader, reply: Reply) -> Option<Hello> {
    tracing::info!(text = %reply.text, "embedded broker: connection refused");
    let close = connection::Close {
        reply_code: reply.code,
        reply_text: reply.short_text(),
        class_id: reply.class_id,
        method_id: reply.method_id,
    };
    send(write, connection_method(connection::AMQPMethod::Close(close))).await;
    let _ = tokio::time::timeout(CLOSE_WAIT, reader.method()).await;
    None
}

async fn handshake(shared: &Shared, reader: &mut Reader, write: &mut OwnedWriteHalf, peer: SocketAddr) -> Option<Hello> {
    let mut header = [0u8; 8];
    reader.read.read_exact(&mut header).await.ok()?;
    if wire::greeting(&header) != Greeting::Amqp091 {
        // The specification: answer with the protocol the server speaks, then close.
        let _ = write.write_all(wire::PROTOCOL_HEADER).await;
        return None;
    }
    let start = connection::Start {
        version_major: 0,
        version_minor: 9,
        server_properties: server_properties(),
        mechanisms: LongString::from("PLAIN"),
        locales: LongString::from("en_US"),
    };
    send(write, connection_method(connection::AMQPMethod::Start(start))).await?;
    let connection::AMQPMethod::StartOk(ok) = reader.method().await? else { return None };
    let capabilities = capabilities(&ok.client_properties);
    let name = match ok.client_properties.inner().get("connection_name") {
        Some(AMQPValue::LongString(s)) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        Some(AMQPValue::ShortString(s)) => Some(s.as_str().to_string()),
        _ => None,
    };
    let ids = (10, 11);
    if ok.mechanism.as_str() != "PLAIN" {
        let reply = Reply::connection(code::ACCESS_REFUSED, format!("unsupported authentication mechanism '{}' (PLAIN only)", ok.mechanism), ids);
        return refuse(write, reader, reply).await;
    }
    // PLAIN: authzid NUL authcid NUL password.
    let parts: Vec<&[u8]> = ok.response.as_bytes().split(|b| *b == 0).collect();
    let (user, password) = match parts.as_slice() {
        [_, user, password] => (String::from_utf8_lossy(user).into_owned(), String::from_utf8_lossy(password).into_owned()),
        _ => (String::new(), String::new()),
    };
    if user != shared.options.username || password != shared.options.password {
        tracing::info!(%peer, %user, "embedded broker: login refused");
        if capabilities.auth_failure_close {
            let reply = Reply::connection(
                code::ACCESS_REFUSED,
                "Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
                ids,
            );
            return refuse(write, reader, reply).await;
        }
        return None;
    }
    let tune = connection::Tune { channel_max: CHANNEL_MAX, frame_max: shared.options.frame_max, heartbeat: shared.options.heartbeat };
    send(write, connection_method(connection::AMQPMethod::Tune(tune))).await?;
    let connection::AMQPMethod::TuneOk(tuned) = reader.method().await? else { return None };
    let frame_max = if tuned.frame_max == 0 { shared.options.frame_max } else { tuned.frame_max };
    if frame_max < FRAME_MIN || frame_max > shared.options.frame_max {
        let reply = Reply::connection(
            code::NOT_ALLOWED,
            format!("frame_max={frame_max} < {FRAME_MIN} min or > {} max", shared.options.frame_max),
            (10, 31),
        );
        return refuse(write, reader, reply).await;
    }
    let connection::AMQPMethod::Open(open) = reader.method().await? else { return None };
    if open.virtual_host.as_str() != shared.options.vhost {
        let reply = Reply::connection(code::NOT_ALLOWED, format!("vhost {} not found", open.virtual_host), (10, 40));
        return refuse(write, reader, reply).await;
    }
    send(write, connection_method(connection::AMQPMethod::OpenOk(connection::OpenOk {}))).await?;
    Some(Hello { name, user, capabilities: capabilities.into(), frame_max, heartbeat: tuned.heartbeat })
}

/// What `client_properties.capabilities` says, plus `authentication_failure_close`.
#[derive(Clone, Copy)]
struct ClientCapabilities {
    cancel_notify: bool,
    blocked_notify: bool,
    auth_failure_close: bool,
}

impl From<ClientCapabilities> for Capabilities {
    fn from(c: ClientCapabilities) -> Capabilities {
        Capabilities { cancel_notify: c.cancel_notify, blocked_notify: c.blocked_notify }
    }
}

fn capabilities(props: &FieldTable) -> ClientCapabilities {
    let caps = match props.inner().get("capabilities") {
        Some(AMQPValue::FieldTable(t)) => t.clone(),
        _ => FieldTable::default(),
    };
    let on = |k: &str| matches!(caps.inner().get(k), Some(AMQPValue::Boolean(true)));
    ClientCapabilities {
        cancel_notify: on("consumer_cancel_notify"),
        blocked_notify: on("connection.blocked"),
        auth_failure_close: on("authentication_failure_close"),
    }
}

fn server_properties() -> FieldTable {
    let mut caps = FieldTable::default();
    for cap in [
        "publisher_confirms",
        "basic.nack",
        "consumer_cancel_notify",
        "connection.blocked",
        "authentication_failure_close",
        "per_consumer_qos",
    ] {
        caps.insert(ShortString::from(cap), AMQPValue::Boolean(true));
    }
    for cap in ["exchange_exchange_bindings", "consumer_priorities", "direct_reply_to"] {
        caps.insert(ShortString::from(cap), AMQPValue::Boolean(false));
    }
    let mut props = FieldTable::default();
    props.insert(ShortString::from("capabilities"), AMQPValue::FieldTable(caps));
    let text = |s: &str| AMQPValue::LongString(LongString::from(s.to_string()));
    props.insert(ShortString::from("product"), text("opencti-mock embedded broker"));
    props.insert(ShortString::from("version"), text(env!("CARGO_PKG_VERSION")));
    props.insert(ShortString::from("platform"), text("Rust, amq-protocol"));
    props.insert(ShortString::from("cluster_name"), text("opencti-mock"));
    props.insert(
        ShortString::from("information"),
        text("An AMQP 0-9-1 broker inside opencti-mock, for connectors under test; not for production."),
    );
    props
}

/// Content being received on a channel: `basic.publish`, then its header, then its body.
struct Assembly {
    publish: basic::Publish,
    header: Option<(u64, BasicProperties)>,
    body: BytesMut,
    /// Larger than the broker accepts: the body is counted, not kept.
    oversize: bool,
    received: u64,
}

async fn read_loop(shared: &Shared, id: u64, reader: &mut Reader, heartbeat: u16, token: &CancellationToken) {
    let mut assembling: HashMap<u16, Assembly> = HashMap::new();
    let silence = (heartbeat > 0).then(|| Duration::from_secs(u64::from(heartbeat) * 2));
    let mut alarm = shared.alarm.subscribe();
    loop {
        // A blocked publisher is not read until the alarm clears.
        let blocked = shared.state().connections.get(&id).is_some_and(|c| c.blocked);
        if blocked {
            tokio::select! {
                _ = alarm.wait_for(|on| !*on) => {}
                () = token.cancelled() => return,
            }
            continue;
        }
        let next = async {
            match silence {
                Some(limit) => tokio::time::timeout(limit, reader.next()).await.unwrap_or_else(|_| {
                    tracing::info!(conn = id, "embedded broker: missed heartbeats from client, timeout: {limit:?}");
                    Err(ReadError::Closed)
                }),
                None => reader.next().await,
            }
        };
        let frame = tokio::select! {
            f = next => f,
            () = token.cancelled() => return,
        };
        let frame = match frame {
            Ok(f) => f,
            Err(ReadError::Closed) => return,
            Err(ReadError::Invalid(why)) => {
                // Nothing after bytes that are not a frame can be read as frames: the
                // connection is closed and what else arrives is discarded.
                let text = why.strip_prefix("FRAME_ERROR - ").unwrap_or(&why).to_string();
                shared.state().close_connection(id, Reply::connection(code::FRAME_ERROR, text, (0, 0)));
                reader.discard(token).await;
                return;
            }
        };
        if let Err(reply) = on_frame(shared, id, frame, &mut assembling) {
            match reply {
                Done::Closed => return,
                Done::Fail(ch, reply) => shared.state().fail(id, ch, reply),
            }
        }
    }
}

enum Done {
    /// The connection closed cleanly.
    Closed,
    /// An error on a channel (0: the connection).
    Fail(u16, Reply),
}

fn on_frame(shared: &Shared, id: u64, frame: AMQPFrame, assembling: &mut HashMap<u16, Assembly>) -> Result<(), Done> {
    let closing = shared.state().connections.get(&id).is_none_or(|c| c.closing);
    match frame {
        AMQPFrame::Heartbeat => Ok(()),
        AMQPFrame::Method(0, AMQPClass::Connection(m)) => match m {
            connection::AMQPMethod::Close(_) => {
                // As RabbitMQ: `close-ok`, then the client closes the socket (at most a second
                // is waited for it).
                let mut state = shared.state();
                state.release_connection(id);
                if let Some(c) = state.connections.get_mut(&id) {
                    c.closing = true;
                }
                state.send(id, Out::Close(connection_method(connection::AMQPMethod::CloseOk(connection::CloseOk {}))));
                Ok(())
            }
            connection::AMQPMethod::CloseOk(_) => Err(Done::Closed),
            _ if closing => Ok(()),
            connection::AMQPMethod::UpdateSecret(_) => {
                Err(Done::Fail(0, Reply::unsupported("connection.update-secret", (10, 70))))
            }
            other => {
                let ids = ids_of(&AMQPClass::Connection(other));
                Err(Done::Fail(0, Reply::connection(code::COMMAND_INVALID, "unexpected connection method after the handshake", ids)))
            }
        },
        _ if closing => Ok(()),
        AMQPFrame::Method(0, m) => {
            Err(Done::Fail(0, Reply::connection(code::COMMAND_INVALID, "a channel method on channel 0", ids_of(&m))))
        }
        AMQPFrame::Method(ch, m) => {
            if ch > CHANNEL_MAX {
                return Err(Done::Fail(0, Reply::connection(code::CHANNEL_ERROR, format!("channel {ch} > channel_max {CHANNEL_MAX}"), ids_of(&m))));
            }
            if assembling.remove(&ch).is_some() {
                return Err(Done::Fail(
                    0,
                    Reply::connection(code::UNEXPECTED_FRAME, "expected content header for class 60, got a method frame instead", ids_of(&m)),
                ));
            }
            let mut state = shared.state();
            match (state.channel_state(id, ch), m) {
                (ChannelState::Closing, AMQPClass::Channel(c @ amq_protocol::protocol::channel::AMQPMethod::CloseOk(_))) => {
                    state.channel_method(id, ch, c).map_err(|r| Done::Fail(ch, r))
                }
                (ChannelState::Closing, AMQPClass::Channel(amq_protocol::protocol::channel::AMQPMethod::Close(_))) => {
                    // Both sides closed at once: each answers the other's close.
                    state.channel_method(id, ch, amq_protocol::protocol::channel::AMQPMethod::CloseOk(Default::default()))
                        .map_err(|r| Done::Fail(ch, r))?;
                    state.method(id, ch, AMQPClass::Channel(amq_protocol::protocol::channel::AMQPMethod::CloseOk(Default::default())));
                    Ok(())
                }
                (ChannelState::Closing, _) => Ok(()),
                (ChannelState::Absent, AMQPClass::Channel(c @ amq_protocol::protocol::channel::AMQPMethod::Open(_))) => {
                    state.channel_method(id, ch, c).map_err(|r| Done::Fail(ch, r))
                }
                (ChannelState::Absent, m) => {
                    Err(Done::Fail(0, Reply::connection(code::CHANNEL_ERROR, "expected 'channel.open'", ids_of(&m))))
                }
                (ChannelState::Open, AMQPClass::Channel(c)) => state.channel_method(id, ch, c).map_err(|r| Done::Fail(ch, r)),
                (ChannelState::Open, AMQPClass::Basic(basic::AMQPMethod::Publish(p))) => {
                    if p.immediate {
                        return Err(Done::Fail(0, Reply::connection(code::NOT_IMPLEMENTED, "immediate=true", (60, 40))));
                    }
                    assembling.insert(ch, Assembly { publish: p, header: None, body: BytesMut::new(), oversize: false, received: 0 });
                    Ok(())
                }
                (ChannelState::Open, m) => state.handle(id, ch, m).map_err(|r| Done::Fail(ch, r)),
            }
        }
        AMQPFrame::Header(ch, header) => {
            let Some(a) = assembling.get_mut(&ch).filter(|a| a.header.is_none()) else {
                return Err(Done::Fail(0, Reply::connection(code::UNEXPECTED_FRAME, "a content header without basic.publish", (60, 40))));
            };
            let AMQPContentHeader { body_size, properties, .. } = header;
            let max = shared.state().max_message_size;
            a.oversize = body_size > max;
            if !a.oversize {
                // What is announced is reserved up to 1 MiB; the rest as it arrives.
                a.body.reserve(usize::try_from(body_size.min(1 << 20)).unwrap_or(0));
            }
            a.header = Some((body_size, properties));
            complete(shared, id, ch, assembling)
        }
        AMQPFrame::Body(ch, bytes) => {
            let Some(a) = assembling.get_mut(&ch).filter(|a| a.header.is_some()) else {
                return Err(Done::Fail(0, Reply::connection(code::UNEXPECTED_FRAME, "a content body without its header", (60, 40))));
            };
            a.received += bytes.len() as u64;
            if !a.oversize {
                a.body.extend_from_slice(&bytes);
            }
            complete(shared, id, ch, assembling)
        }
        AMQPFrame::InvalidHeartbeat(_) | AMQPFrame::ProtocolHeader(_) => {
            Err(Done::Fail(0, Reply::connection(code::FRAME_ERROR, "a heartbeat on a channel other than 0, or a protocol header", (0, 0))))
        }
    }
}

/// Publishes an assembled message once its body is whole.
fn complete(shared: &Shared, id: u64, ch: u16, assembling: &mut HashMap<u16, Assembly>) -> Result<(), Done> {
    let Some(a) = assembling.get(&ch) else { return Ok(()) };
    let Some((size, _)) = &a.header else { return Ok(()) };
    if a.received < *size {
        return Ok(());
    }
    if a.received > *size {
        assembling.remove(&ch);
        return Err(Done::Fail(0, Reply::connection(code::FRAME_ERROR, "a content body longer than its header said", (60, 40))));
    }
    let Some(a) = assembling.remove(&ch) else { return Ok(()) };
    let Some((size, properties)) = a.header else { return Ok(()) };
    let mut state = shared.state();
    if a.oversize {
        let max = state.max_message_size;
        return Err(Done::Fail(
            ch,
            Reply::channel(code::PRECONDITION_FAILED, format!("message size {size} is larger than configured max size {max}"), (60, 40)),
        ));
    }
    let body: Bytes = a.body.freeze();
    state.publish(id, ch, &a.publish, properties, body).map_err(|r| Done::Fail(ch, r))
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Out>,
    frame_max: u32,
    heartbeat: u16,
    token: CancellationToken,
) {
    let period = if heartbeat > 0 { Duration::from_secs(u64::from(heartbeat)) / 2 } else { Duration::from_secs(3600) };
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    let mut idle = true;
    let mut bytes = Vec::with_capacity(16 * 1024);
    let mut closing_since: Option<tokio::time::Instant> = None;
    loop {
        let deadline = closing_since.map(|t| t + CLOSE_WAIT);
        let out = tokio::select! {
            out = rx.recv() => out,
            _ = ticker.tick() => {
                if heartbeat > 0 && idle {
                    bytes.clear();
                    if wire::encode(&AMQPFrame::Heartbeat, &mut bytes).is_ok() && write.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                idle = true;
                continue;
            }
            () = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => break,
            () = token.cancelled() => break,
        };
        let Some(out) = out else { break };
        bytes.clear();
        let mut next = Some(out);
        // Write what is queued in one go (up to 256 KiB), not one frame per system call.
        while let Some(out) = next.take() {
            match out {
                Out::Frame(f) => {
                    let _ = wire::encode(&f, &mut bytes);
                }
                Out::Close(f) => {
                    let _ = wire::encode(&f, &mut bytes);
                    closing_since = Some(tokio::time::Instant::now());
                }
                Out::Content { channel, method, message } => encode_content(channel, method, &message, frame_max, &mut bytes),
            }
            if bytes.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        idle = false;
        if write.write_all(&bytes).await.is_err() {
            break;
        }
    }
    let _ = write.flush().await;
    let _ = write.shutdown().await;
    token.cancel();
}

/// A method with content: the method frame, the content header, the body in frames of at
/// most `frame_max`.
fn encode_content(channel: u16, method: AMQPClass, message: &super::queue::Message, frame_max: u32, bytes: &mut Vec<u8>) {
    let _ = wire::encode(&AMQPFrame::Method(channel, method), bytes);
    let header = AMQPContentHeader { class_id: 60, body_size: message.body.len() as u64, properties: message.properties.clone() };
    let _ = wire::encode(&AMQPFrame::Header(channel, header), bytes);
    let chunk = (frame_max as usize).saturating_sub(wire::FRAME_OVERHEAD).max(1);
    for part in message.body.chunks(chunk) {
        let _ = wire::encode(&AMQPFrame::Body(channel, part.to_vec()), bytes);
    }
}
