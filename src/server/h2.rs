//! HTTP/2 connections (h2c with prior knowledge, and TLS with ALPN `h2`),
//! served with the `h2` crate and bridged to the axum `Router`.
//!
//! hyper's HTTP/2 server never sends `100 Continue` and keeps the handle that
//! could (h2's `SendResponse::send_informational`) to itself
//! (hyperium/hyper#2743, open; checked against hyper 1.12). Go's client sends
//! `Expect: 100-continue` on HTTP/2 too and then holds its body back for a
//! second, so every sync from a Go client over h2 started a second late.
//! Here each stream keeps its `SendResponse`, and the `100` goes out when the
//! handler first polls the request body — the rule hyper follows on HTTP/1.1:
//! a request refused from its headers alone (401, 404, 406, 415, …) gets its
//! final status without a `100`, so the client never uploads a body that
//! nobody reads.
//!
//! The connection settings are hyper's server defaults (1 MiB stream and
//! connection windows, 16 KiB frames and header lists, 200 streams, a
//! 400 KiB send buffer), with a keep-alive ping as the listener set it up
//! for hyper.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use axum::Router;
use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Ping, PingPong, Reason, RecvStream, SendStream};
use http_body::{Body, Frame};
use http_body_util::BodyExt as _;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt as _;

use super::listener::ConnectionInfo;

/// The client connection preface that starts every HTTP/2 connection (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How often an HTTP/2 connection is pinged, and how long the pong may take.
const KEEP_ALIVE: Duration = Duration::from_secs(20);

/// How long a shutting-down connection may take to finish its streams.
const GRACE: Duration = Duration::from_secs(5);

/// An error that ends an HTTP/2 connection.
type ConnectionError = Box<dyn std::error::Error + Send + Sync>;

/// Serves one HTTP/2 connection until the peer closes it, a keep-alive ping
/// goes unanswered, or `stop` (then gracefully: GOAWAY, and up to 5 s for
/// open streams).
pub(crate) async fn serve<I>(
    io: I,
    info: ConnectionInfo,
    router: Router,
    stop: CancellationToken,
    handshake_timeout: Duration,
) -> Result<(), ConnectionError>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = h2::server::Builder::new();
    builder
        .initial_window_size(1024 * 1024)
        .initial_connection_window_size(1024 * 1024)
        .max_frame_size(16 * 1024)
        .max_header_list_size(16 * 1024)
        .max_concurrent_streams(200)
        .max_local_error_reset_streams(Some(1024))
        .max_send_buffer_size(400 * 1024);
    let handshake = builder.handshake::<_, Bytes>(io);
    let mut connection = match tokio::time::timeout(handshake_timeout, handshake).await {
        Ok(connection) => connection?,
        Err(_) => {
            tracing::debug!(remote = %info.remote, "HTTP/2 handshake timed out");
            return Ok(());
        }
    };
    let keep_alive = keep_alive(connection.ping_pong());
    tokio::pin!(keep_alive);
    let mut deadline = None;
    loop {
        let grace_over = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            next = connection.accept() => match next {
                Some(Ok((request, respond))) => {
                    tokio::spawn(serve_stream(request, respond, info, router.clone()));
                }
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = stop.cancelled(), if deadline.is_none() => {
                connection.graceful_shutdown();
                deadline = Some(tokio::time::Instant::now() + GRACE);
            }
            _ = grace_over => return Ok(()),
            result = &mut keep_alive => return result,
        }
    }
}

/// Pings every [`KEEP_ALIVE`] and fails when a pong takes longer than that:
/// a peer that vanished without closing its socket.
async fn keep_alive(ping_pong: Option<PingPong>) -> Result<(), ConnectionError> {
    let Some(mut ping_pong) = ping_pong else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(KEEP_ALIVE).await;
        match tokio::time::timeout(KEEP_ALIVE, ping_pong.ping(Ping::opaque())).await {
            Ok(Ok(_pong)) => {}
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => return Err("the HTTP/2 keep-alive ping was not answered".into()),
        }
    }
}

/// One request: calls the router, sends `100 Continue` if the request asked
/// for it and the handler starts reading its body, then the response.
async fn serve_stream(
    request: Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    info: ConnectionInfo,
    router: Router,
) {
    let (mut parts, recv) = request.into_parts();
    let (polled, mut first_poll) = oneshot::channel();
    let wants_continue = expects_continue(&parts.headers) && !recv.is_end_stream();
    parts.extensions.insert(info);
    parts
        .extensions
        .insert(axum::extract::ConnectInfo(info.remote));
    let body = RequestBody {
        recv,
        first_poll: wants_continue.then_some(polled),
        data_done: false,
    };
    let call = router.oneshot(Request::from_parts(parts, body));
    tokio::pin!(call);
    let mut waiting_for_poll = wants_continue;
    let response: Response<axum::body::Body> = loop {
        tokio::select! {
            biased;
            polled = &mut first_poll, if waiting_for_poll => {
                waiting_for_poll = false;
                if polled.is_err() {
                    continue; // the body was dropped unread
                }
                let mut head = Response::new(());
                *head.status_mut() = StatusCode::CONTINUE;
                if let Err(e) = respond.send_informational(head) {
                    tracing::debug!(error = %e, "could not send 100 Continue");
                }
            }
            response = &mut call => {
                let Ok(response) = response; // the router's error is `Infallible`
                break response;
            }
            reset = poll_fn(|cx| respond.poll_reset(cx)) => {
                tracing::debug!(?reset, "the peer reset the stream before the response");
                return;
            }
        }
    };
    let (mut head, body) = response.into_parts();
    strip_connection_headers(&mut head.headers);
    add_date(&mut head.headers);
    let head = Response::from_parts(head, ());
    if body.is_end_stream() {
        if let Err(e) = respond.send_response(head, true) {
            tracing::debug!(error = %e, "could not send the response");
        }
        return;
    }
    match respond.send_response(head, false) {
        Ok(send) => {
            if let Err(e) = pipe(body, send).await {
                tracing::debug!(error = %e, "response body ended early");
            }
        }
        Err(e) => tracing::debug!(error = %e, "could not send the response"),
    }
}

/// Whether the request carries `Expect: 100-continue` (RFC 9110 §10.1.1).
pub(crate) fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::EXPECT)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Adds the `Date` header an origin server with a clock must send (RFC 9110
/// §6.6.1); hyper does it on HTTP/1.1, `h2` does not.
fn add_date(headers: &mut HeaderMap) {
    if headers.contains_key(header::DATE) {
        return;
    }
    let now = httpdate::fmt_http_date(std::time::SystemTime::now());
    if let Ok(value) = header::HeaderValue::from_str(&now) {
        headers.insert(header::DATE, value);
    }
}

/// Removes headers that HTTP/2 forbids (RFC 9113 §8.2.2); `h2` refuses a
/// response that carries them.
fn strip_connection_headers(headers: &mut HeaderMap) {
    for name in [
        header::CONNECTION,
        header::TRANSFER_ENCODING,
        header::UPGRADE,
        header::HeaderName::from_static("keep-alive"),
        header::HeaderName::from_static("proxy-connection"),
    ] {
        headers.remove(name);
    }
    if headers
        .get(header::TE)
        .is_some_and(|te| te.as_bytes() != b"trailers")
    {
        headers.remove(header::TE);
    }
}

/// Sends the response body as DATA frames, each chunk as soon as the stream
/// has window for it, until the body ends or the peer resets the stream.
async fn pipe(body: axum::body::Body, mut send: SendStream<Bytes>) -> Result<(), ConnectionError> {
    tokio::pin!(body);
    loop {
        let frame = tokio::select! {
            frame = body.frame() => frame,
            reset = poll_fn(|cx| send.poll_reset(cx)) => {
                tracing::debug!(?reset, "the peer reset the stream");
                return Ok(());
            }
        };
        let frame = match frame {
            None => {
                send.send_data(Bytes::new(), true)?;
                return Ok(());
            }
            Some(Err(e)) => {
                send.send_reset(Reason::INTERNAL_ERROR);
                return Err(e.into());
            }
            Some(Ok(frame)) => frame,
        };
        match frame.into_data() {
            Ok(data) => send_data(&mut send, data).await?,
            Err(frame) => {
                if let Ok(trailers) = frame.into_trailers() {
                    send.send_trailers(trailers)?;
                    return Ok(());
                }
            }
        }
    }
}

/// Queues one chunk once the stream has some send window; h2 splits it into
/// frames as the window allows (the chunk is in memory already).
async fn send_data(send: &mut SendStream<Bytes>, data: Bytes) -> Result<(), ConnectionError> {
    if data.is_empty() {
        return Ok(());
    }
    send.reserve_capacity(data.len());
    while send.capacity() == 0 {
        match poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(e.into()),
            None => return Err("the stream closed while sending".into()),
        }
    }
    send.send_data(data, false)?;
    Ok(())
}

/// A request body read from an h2 stream; its first poll tells the stream
/// task to send `100 Continue`.
struct RequestBody {
    recv: RecvStream,
    first_poll: Option<oneshot::Sender<()>>,
    data_done: bool,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = h2::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, h2::Error>>> {
        if let Some(first_poll) = self.first_poll.take() {
            let _ = first_poll.send(());
        }
        if !self.data_done {
            match ready!(self.recv.poll_data(cx)) {
                Some(Ok(data)) => {
                    // The handler has it now: open the window again.
                    let _ = self.recv.flow_control().release_capacity(data.len());
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Some(Err(e)) => return Poll::Ready(Some(Err(e))),
                None => self.data_done = true,
            }
        }
        match ready!(self.recv.poll_trailers(cx)) {
            Ok(Some(trailers)) => Poll::Ready(Some(Ok(Frame::trailers(trailers)))),
            Ok(None) => Poll::Ready(None),
            Err(e) => Poll::Ready(Some(Err(e))),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.recv.is_end_stream()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn continue_is_asked_case_insensitively() {
        let mut headers = HeaderMap::new();
        assert!(!expects_continue(&headers));
        headers.insert(header::EXPECT, HeaderValue::from_static("100-Continue"));
        assert!(expects_continue(&headers));
    }

    #[test]
    fn connection_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        headers.insert(header::TE, HeaderValue::from_static("gzip"));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        strip_connection_headers(&mut headers);
        assert_eq!(headers.len(), 1);
        let mut trailers = HeaderMap::new();
        trailers.insert(header::TE, HeaderValue::from_static("trailers"));
        strip_connection_headers(&mut trailers);
        assert_eq!(trailers.len(), 1);
    }
}
