//! Frames on the wire: the protocol crate's codec, and the two checks a server adds.
//!
//! Decoding and encoding are `amq-protocol`'s (the codec lapin is built on); this file
//! only feeds it a byte buffer and drains what it decodes. A server must check two things
//! the codec does not: a frame's declared size against the negotiated `frame_max` *before*
//! waiting for its payload (else a peer announcing 4 GiB makes the server buffer it), and
//! the protocol header a connection starts with. Both are answered as RabbitMQ answers
//! them. [`decode`] is what the fuzz target drives.

use amq_protocol::frame::{AMQPFrame, GenError, ParserError, WriteContext, gen_frame, parse_frame};

/// The size of a frame's header (type, channel, size) and its end octet.
pub const FRAME_OVERHEAD: usize = 8;

/// The protocol header a 0-9-1 client sends first.
pub const PROTOCOL_HEADER: &[u8; 8] = b"AMQP\x00\x00\x09\x01";

/// What [`decode`] found at the start of a buffer.
// A decoded frame is moved once, to its handler: boxing it would cost an allocation a frame.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq)]
pub enum Decoded {
    /// A whole frame, and how many bytes it took.
    Frame(AMQPFrame, usize),
    /// More bytes are needed.
    Incomplete,
    /// The bytes cannot be a frame: the connection must be closed with `FRAME_ERROR` (501)
    /// and this text.
    Invalid(String),
}

/// Decodes the frame at the start of `buf`, refusing one larger than `frame_max` as soon
/// as its header is read.
///
/// ```
/// use opencti_mock::embedded_broker::wire::{Decoded, decode, encode};
/// use amq_protocol::frame::AMQPFrame;
/// let mut bytes = Vec::new();
/// encode(&AMQPFrame::Heartbeat, &mut bytes).unwrap();
/// assert_eq!(decode(&bytes, 4096), Decoded::Frame(AMQPFrame::Heartbeat, 8));
/// assert_eq!(decode(&bytes[..3], 4096), Decoded::Incomplete);
/// ```
pub fn decode(buf: &[u8], frame_max: u32) -> Decoded {
    if buf.len() < 7 {
        return Decoded::Incomplete;
    }
    if buf[0] == b'A' {
        return Decoded::Invalid("a protocol header in the middle of a connection".into());
    }
    let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]);
    if frame_max > 0 && size as usize + FRAME_OVERHEAD > frame_max as usize {
        return Decoded::Invalid(format!(
            "FRAME_ERROR - type {}, frame of {} octets is larger than the negotiated frame_max {frame_max}",
            buf[0],
            size as usize + FRAME_OVERHEAD
        ));
    }
    match parse_frame(buf) {
        Ok((rest, frame)) => Decoded::Frame(frame, buf.len() - rest.len()),
        Err(ParserError::Incomplete(_)) => Decoded::Incomplete,
        Err(e) => Decoded::Invalid(format!("FRAME_ERROR - cannot decode a frame of type {}: {e}", buf[0])),
    }
}

/// Appends `frame`'s bytes to `out`.
///
/// ```
/// use opencti_mock::embedded_broker::wire::encode;
/// use amq_protocol::frame::AMQPFrame;
/// let mut bytes = Vec::new();
/// encode(&AMQPFrame::Heartbeat, &mut bytes).unwrap();
/// assert_eq!(bytes, [8, 0, 0, 0, 0, 0, 0, 0xCE]);
/// ```
pub fn encode(frame: &AMQPFrame, out: &mut Vec<u8>) -> Result<(), GenError> {
    let buf = std::mem::take(out);
    let ctx = gen_frame(frame)(WriteContext::from(buf))?;
    *out = ctx.write;
    Ok(())
}

/// What a connection's first eight bytes say.
#[derive(Debug, PartialEq, Eq)]
pub enum Greeting {
    /// AMQP 0-9-1.
    Amqp091,
    /// Anything else: the server answers with its own header and closes, as the
    /// specification says.
    Other,
}

/// Reads a protocol header.
///
/// ```
/// use opencti_mock::embedded_broker::wire::{Greeting, PROTOCOL_HEADER, greeting};
/// assert_eq!(greeting(PROTOCOL_HEADER), Greeting::Amqp091);
/// assert_eq!(greeting(b"GET / HT"), Greeting::Other);
/// ```
pub fn greeting(first: &[u8; 8]) -> Greeting {
    if first == PROTOCOL_HEADER { Greeting::Amqp091 } else { Greeting::Other }
}

#[cfg(test)]
mod tests {
    use super::*;
    use amq_protocol::protocol::{AMQPClass, basic};

    #[test]
    fn a_frame_larger_than_frame_max_is_refused_before_its_payload_arrives() {
        // type 3 (body), channel 1, a declared size of 1 MiB, no payload yet
        let header = [3u8, 0, 1, 0, 0x10, 0, 0];
        assert!(matches!(decode(&header, 131_072), Decoded::Invalid(t) if t.starts_with("FRAME_ERROR")));
        assert_eq!(decode(&header, 0), Decoded::Incomplete);
    }

    #[test]
    fn methods_round_trip_through_the_codec() {
        let frame = AMQPFrame::Method(3, AMQPClass::Basic(basic::AMQPMethod::Qos(basic::Qos { prefetch_count: 1, global: false })));
        let mut bytes = Vec::new();
        encode(&frame, &mut bytes).expect("encodes");
        bytes.extend_from_slice(&[8, 0, 0]);
        assert_eq!(decode(&bytes, 4096), Decoded::Frame(frame, bytes.len() - 3));
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        let bytes = [1u8, 0, 1, 0, 0, 0, 2, 0xff, 0xff, 0xCE];
        assert!(matches!(decode(&bytes, 4096), Decoded::Invalid(_)));
    }
}
