//! Reading request bodies under the platform's payload limit.
//!
//! The platform's body parser refuses a JSON body larger than `app:max_payload_body_size`
//! — up front when `Content-Length` says so, otherwise as soon as the count passes the
//! limit — and then *reads off the rest of the request* before answering, so the client
//! (which, like `requests`, sends its whole body before reading) receives the answer
//! instead of a broken pipe. This does the same: bytes past the limit are counted and
//! discarded, never buffered, so memory never grows by more than the limit.

use axum::body::Body;
use http_body_util::BodyExt;

use crate::buffer::BodyBuf;

/// Why a body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the limit; `received` bytes were read and discarded.
    TooLarge {
        /// Bytes received in total.
        received: u64,
    },
    /// The connection failed while reading.
    Io(String),
}

/// Reads a whole body of at most `limit` bytes, draining (not buffering) what exceeds it.
/// The buffer never holds more than the limit; large bodies are memory-mapped
/// (`crate::buffer`).
pub async fn read_limited(body: Body, limit: u64, content_length: Option<u64>) -> Result<BodyBuf, BodyError> {
    let mut body = body;
    let limit_usize = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut received: u64 = 0;
    let mut over = content_length.is_some_and(|n| n > limit);
    let expected = if over { 0 } else { content_length.unwrap_or(0).min(limit) as usize };
    let mut buf = BodyBuf::with_capacity(expected).map_err(|e| BodyError::Io(e.to_string()))?;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Io(e.to_string()))?;
        let Ok(data) = frame.into_data() else { continue };
        received += data.len() as u64;
        if !over && received > limit {
            over = true;
            buf = BodyBuf::from_vec(Vec::new());
        }
        if !over {
            buf.extend(&data, limit_usize).map_err(|e| BodyError::Io(e.to_string()))?;
        }
    }
    if over { Err(BodyError::TooLarge { received }) } else { Ok(buf) }
}
