//! Serving connections as the platform's Node server does, so a client that stalls cannot
//! keep a connection (and its buffers) for ever.
//!
//! Node 18–24, which the platform runs, closes a connection whose request head is not
//! complete after 60 s (`headersTimeout`), answers 408 and closes one whose request is not
//! complete after 300 s (`requestTimeout`), and the platform sets a 20-minute inactivity
//! timeout on every socket (`app:request_timeout`). `axum::serve` has none of these, so
//! this is the accept loop: hyper's HTTP/1 connection with its header-read timeout (which
//! also bounds how long an idle keep-alive connection waits for its next request),
//! [`Inactivity`] around each socket, and [`request_deadline`] around each request body.
//! The durations are [`Timeouts`] (settings `mock.header_timeout_ms`,
//! `mock.request_timeout_ms`, `app.request_timeout`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::time::{Instant, Sleep};

use crate::tasks::Tasks;

/// How long a client may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a whole request head (Node's `headersTimeout`: 60 s); also the longest an
    /// idle keep-alive connection waits for its next request.
    pub header: Duration,
    /// To send a whole request, body included (Node's `requestTimeout`: 300 s); past it the
    /// answer is 408 and the connection closes.
    pub request: Duration,
    /// Of silence in both directions before a socket is closed (`app:request_timeout`:
    /// 20 minutes).
    pub idle: Duration,
}

impl Timeouts {
    /// The timeouts of a platform's settings.
    pub fn of(settings: &crate::config::Settings) -> Self {
        Timeouts {
            header: Duration::from_millis(settings.mock.header_timeout_ms),
            request: Duration::from_millis(settings.mock.request_timeout_ms),
            idle: Duration::from_millis(settings.app.request_timeout),
        }
    }
}

/// Accepts connections on `listener` and serves `app` on each until `shutdown` resolves,
/// then lets the connections in flight finish (the caller bounds how long). Each
/// connection is a task of `tasks`, dropped when its token is cancelled.
pub async fn serve(listener: TcpListener, app: Router, timeouts: Timeouts, tasks: &Tasks, shutdown: impl Future<Output = ()>) {
    let app = app.layer(axum::middleware::from_fn_with_state(timeouts.request, request_deadline));
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(timeouts.header).keep_alive(true);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait, as axum::serve does.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let io = TokioIo::new(Inactivity::new(stream, timeouts.idle));
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let connection = graceful.watch(builder.serve_connection(io, service));
        let stop = tasks.clone();
        tasks.spawn("http connection", async move {
            // A client that goes away or times out is not an error of the platform; one
            // still open when the platform stops (past the grace) is dropped.
            tokio::select! {
                _ = connection => {}
                () = stop.cancelled() => {}
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Answers 408 and closes the connection when a request's body is not complete within
/// `limit` of its head (the handler reading it sees the body fail and is dropped).
pub async fn request_deadline(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = request.into_parts();
    let body = Body::new(Deadline { inner: body, sleep: Box::pin(tokio::time::sleep(limit)), expired: expired.clone() });
    let response = next.run(Request::from_parts(parts, body)).await;
    if expired.load(Ordering::Acquire) {
        let mut timeout = (StatusCode::REQUEST_TIMEOUT, "Request Timeout").into_response();
        timeout.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return timeout;
    }
    response
}

/// A request body that fails once its deadline passes before its end.
struct Deadline {
    inner: Body,
    sleep: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request was not complete within the request timeout",
            )))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// A socket that fails a read or write pending after `limit` without any traffic in
/// either direction (the platform's socket timeout).
pub struct Inactivity<S> {
    inner: S,
    limit: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl<S> Inactivity<S> {
    /// Wraps a socket.
    pub fn new(inner: S, limit: Duration) -> Self {
        Inactivity { inner, limit, sleep: Box::pin(tokio::time::sleep(limit)) }
    }

    fn active(&mut self) {
        let deadline = Instant::now() + self.limit;
        self.sleep.as_mut().reset(deadline);
    }

    /// After a pending operation: an error once the socket has been silent too long.
    fn check(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the connection was inactive too long")),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Inactivity<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.inner).poll_read(cx, buf) {
            Poll::Ready(result) => {
                self.active();
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Inactivity<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write(cx, data) {
            Poll::Ready(result) => {
                self.active();
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(mut self: Pin<&mut Self>, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.inner).poll_write_vectored(cx, bufs) {
            Poll::Ready(result) => {
                self.active();
                Poll::Ready(result)
            }
            Poll::Pending => self.check(cx).map(Err),
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_silent_socket_fails_after_the_limit_and_traffic_keeps_it_open() {
        let (client, server) = tokio::io::duplex(64);
        let mut server = Inactivity::new(server, Duration::from_secs(10));
        let mut client = client;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        tokio::time::advance(Duration::from_secs(8)).await;
        client.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).await.unwrap();
        // 8 s of silence again: still open (the read above restarted the clock).
        let pending = tokio::time::timeout(Duration::from_secs(8), server.read(&mut buf)).await;
        assert!(pending.is_err(), "the read is still waiting");
        let err = server.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_past_its_deadline_fails_and_marks_the_request() {
        let (mut sender, body) = {
            let (tx, rx) = tokio::sync::mpsc::channel::<Result<http_body::Frame<Bytes>, std::convert::Infallible>>(1);
            (tx, Body::new(http_body_util::StreamBody::new(tokio_stream_from(rx))))
        };
        let expired = Arc::new(AtomicBool::new(false));
        let mut body =
            Deadline { inner: body, sleep: Box::pin(tokio::time::sleep(Duration::from_secs(300))), expired: expired.clone() };
        sender.send(Ok(http_body::Frame::data(Bytes::from_static(b"half")))).await.unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"half"));
        let stalled = body.frame().await.unwrap();
        assert!(stalled.is_err());
        assert!(expired.load(Ordering::Acquire));
        let _ = &mut sender;
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
    }
}
