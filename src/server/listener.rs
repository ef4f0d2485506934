//! The socket side: accept TCP connections and serve each as HTTP/1.1, h2c,
//! or TLS (h2 or http/1.1 by ALPN) on the same port — a TLS ClientHello starts
//! with byte `0x16`, which no HTTP request does.

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

/// Accepts connections until `stop` is cancelled; each connection is served
/// on its own task in `tasks`, and told to finish gracefully on `stop`.
pub(crate) async fn accept_loop(
    listener: TcpListener,
    router: Router,
    tls: Option<TlsAcceptor>,
    stop: CancellationToken,
    tasks: TaskTracker,
) {
    loop {
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
            if let Err(e) = serve_connection(stream, remote, router, tls, stop).await {
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
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut first = [0u8; 1];
    let peeked = tokio::time::timeout(Duration::from_secs(10), stream.peek(&mut first)).await;
    if !matches!(peeked, Ok(Ok(1))) {
        return Ok(()); // closed or silent before sending anything
    }
    match tls {
        Some(acceptor) if first[0] == TLS_HANDSHAKE_RECORD => {
            let tls_stream = acceptor.accept(stream).await?;
            serve_http(
                TokioIo::new(tls_stream),
                ConnectionInfo { remote, tls: true },
                router,
                stop,
            )
            .await
        }
        Some(_) if !remote.ip().is_loopback() => {
            tracing::debug!(%remote, "refusing plaintext HTTP from a non-loopback peer on a TLS server");
            Ok(())
        }
        _ => {
            serve_http(
                TokioIo::new(stream),
                ConnectionInfo { remote, tls: false },
                router,
                stop,
            )
            .await
        }
    }
}

async fn serve_http<I>(
    io: TokioIo<I>,
    info: ConnectionInfo,
    router: Router,
    stop: CancellationToken,
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
        .header_read_timeout(Duration::from_secs(30));
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
