//! The socket side: accept TCP connections and serve each as HTTP/1.1, h2c,
//! or TLS (h2 or http/1.1 by ALPN) on the same port — a TLS ClientHello starts
//! with byte `0x16`, which no HTTP request does. HTTP/2 (the h2c preface, or
//! ALPN `h2`) goes to [`super::h2`], which can send `100 Continue`; HTTP/1.1
//! to hyper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// How a connection reached the server (inserted into each request's extensions).
#[derive(Debug, Clone, Copy)]
pub struct ConnectionInfo {
    /// The peer's address.
    pub remote: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
}

const TLS_HANDSHAKE_RECORD: u8 = 0x16;

/// Limits that protect the server from clients that connect and then stall.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// The most connections served at once.
    pub max_connections: usize,
    /// How long the first byte, the TLS handshake and each request's headers may take.
    pub handshake_timeout: Duration,
}

/// The soft limit on open files, from `/proc/self/limits` (Linux), if known.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// The connection cap actually applied: the configured one, but never so
/// many that the process runs out of file descriptors for its store and logs.
pub(crate) fn effective_cap(configured: usize) -> usize {
    match open_files_limit() {
        Some(files) => configured.min(files.saturating_sub(64).max(16)),
        None => configured,
    }
}

/// Accepts connections until `stop` is cancelled; each connection is served
/// on its own task in `tasks`, and told to finish gracefully on `stop`.
/// At most `limits.max_connections` are served at once: past that, new ones
/// wait in the kernel's backlog until one ends (logged once per episode).
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
    tasks: TaskTracker,
    limits: ConnectionLimits,
) {
    let cap = effective_cap(limits.max_connections);
    let slots = Arc::new(tokio::sync::Semaphore::new(cap));
    loop {
        let permit = match slots.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                tracing::warn!(
                    limit = cap,
                    "connection limit reached: new connections wait until others end (raise it with --max-connections, or the open-files limit: ulimit -n)"
                );
                tokio::select! {
                    _ = stop.cancelled() => return,
                    permit = slots.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => return,
                    },
                }
            }
        };
        let accepted = tokio::select! {
            _ = stop.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let (stream, remote) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Usually EMFILE or a connection reset before accept: back off briefly.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let tls = tls.clone();
        let stop = stop.clone();
        tasks.spawn(async move {
            let _slot = permit;
            if let Err(e) = serve_connection(stream, remote, router, tls, stop, limits).await {
                tracing::debug!(%remote, error = %e, "connection ended with an error");
            }
        });
    }
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
    limits: ConnectionLimits,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(limits.handshake_timeout, stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return Ok(()); // closed or silent before sending anything
    }
    match tls {
        Some(acceptor) if first[0] == TLS_HANDSHAKE_RECORD => {
            let tls_stream =
                match tokio::time::timeout(limits.handshake_timeout, acceptor.accept(stream)).await
                {
                    Ok(handshake) => handshake?,
                    Err(_) => {
                        tracing::debug!(%remote, "TLS handshake timed out");
                        return Ok(());
                    }
                };
            let info = ConnectionInfo { remote, tls: true };
            if tls_stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                return super::h2::serve(tls_stream, info, router, stop, limits.handshake_timeout)
                    .await;
            }
            serve_http(TokioIo::new(tls_stream), info, router, stop, limits).await
        }
        Some(_) if !crate::host::is_loopback(remote.ip()) => {
            tracing::debug!(%remote, "refusing plaintext HTTP from a non-loopback peer on a TLS server");
            Ok(())
        }
        _ => {
            let info = ConnectionInfo { remote, tls: false };
            if starts_with_h2_preface(&stream, limits.handshake_timeout).await {
                return super::h2::serve(stream, info, router, stop, limits.handshake_timeout)
                    .await;
            }
            serve_http(TokioIo::new(stream), info, router, stop, limits).await
        }
    }
}

/// Whether a plaintext connection opens with the HTTP/2 preface (h2c with
/// prior knowledge), by peeking: the bytes stay for whoever serves it. An
/// HTTP/1.1 request differs from the preface within its first bytes (`PUT`,
/// `POST` and `PATCH` at the second); a preface split over several segments is
/// waited for, within `wait`.
async fn starts_with_h2_preface(stream: &TcpStream, wait: Duration) -> bool {
    let preface = super::h2::PREFACE;
    let mut seen = vec![0u8; preface.len()];
    let peeking = async {
        loop {
            match stream.peek(&mut seen).await {
                Ok(0) | Err(_) => return false,
                Ok(n) if !preface.starts_with(&seen[..n]) => return false,
                Ok(n) if n == preface.len() => return true,
                // A prefix of the preface so far: wait for the rest.
                Ok(_) => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        }
    };
    tokio::time::timeout(wait, peeking).await.unwrap_or(false)
}

async fn serve_http<I>(
    io: TokioIo<I>,
    info: ConnectionInfo,
    router: Router,
    stop: CancellationToken,
    limits: ConnectionLimits,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(info);
        request
            .extensions_mut()
            .insert(axum::extract::ConnectInfo(info.remote));
        router.clone().oneshot(request)
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.handshake_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .keep_alive_interval(Duration::from_secs(20))
        .keep_alive_timeout(Duration::from_secs(20));
    let connection = builder.serve_connection_with_upgrades(io, service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => result,
        _ = stop.cancelled() => {
            connection.as_mut().graceful_shutdown();
            match tokio::time::timeout(Duration::from_secs(5), connection).await {
                Ok(result) => result,
                Err(_) => Ok(()),
            }
        }
    }
}

/// A TLS acceptor for `config`.
pub(crate) fn acceptor(config: rustls::ServerConfig) -> TlsAcceptor {
    TlsAcceptor::from(Arc::new(config))
}
