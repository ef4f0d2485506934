//! The sync server: an axum [`router::app`] served by [`listener`] on one port
//! for HTTP/1.1, h2c and TLS.
//!
//! [`start`] binds and returns a [`RunningServer`] over what it is given to
//! serve ([`Served`]: the hub, its share policies, optionally the service's
//! routes); it dials nobody. Its [`shutdown`](RunningServer::shutdown) stops
//! accepting, ends every stream and waits for the connection tasks; the
//! node (`crate::node`) that owns it flushes the store afterwards.

pub(crate) mod access;
pub mod admission;
pub(crate) mod auth;
pub(crate) mod connections;
pub(crate) mod error;
pub(crate) mod extract;
pub(crate) mod extras;
pub(crate) mod gate;
mod h2;
pub mod listener;
pub(crate) mod offload;
pub mod oidc;
pub mod placement;
pub(crate) mod repo_socket;
pub(crate) mod router;
pub(crate) mod signin;
pub(crate) mod state;
pub(crate) mod sync;
pub mod team_tokens;
pub mod tokens;
pub(crate) mod ui_relay;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use error::ApiError;
pub use router::app;
pub use state::{AppState, ServerOptions};

use crate::hub::Hub;
use crate::share::Shares;
use crate::tls::{Fingerprint, Identity, TlsError};

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where to listen (`127.0.0.1:0` picks a free port).
    pub listen: SocketAddr,
    /// The TLS identity, if TLS is on. Plain HTTP is then still accepted on
    /// the same port, but only from loopback.
    pub tls: Option<Identity>,
    /// HTTP-level tunables.
    pub options: ServerOptions,
}

impl ServerConfig {
    /// Plain HTTP on `listen` with default options.
    pub fn plain(listen: SocketAddr) -> Self {
        Self {
            listen,
            tls: None,
            options: ServerOptions::default(),
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// Binding the socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS setup failed.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The OIDC issuer cannot be used.
    #[error(transparent)]
    Oidc(#[from] oidc::OidcError),
}

/// What a server serves: the documents, who may reach them, and the
/// routes of whatever serves a UI over the same port.
pub struct Served {
    /// The open documents.
    pub hub: Arc<Hub>,
    /// The share policies callers are judged against.
    pub shares: Arc<Shares>,
    /// More routes merged into the router (the service's HTTP API), judged
    /// by the same gate and credentials.
    pub api: Option<axum::Router<AppState>>,
}

impl Served {
    /// `hub` alone, with `shares` and no API besides syncing.
    pub fn sync_only(hub: Arc<Hub>, shares: Arc<Shares>) -> Self {
        Self {
            hub,
            shares,
            api: None,
        }
    }
}

/// A server that is accepting connections.
pub struct RunningServer {
    local_addr: SocketAddr,
    fingerprint: Option<Fingerprint>,
    state: AppState,
    stop_accepting: CancellationToken,
    accept_task: JoinHandle<()>,
}

/// Binds `config.listen` and starts serving `served`.
pub async fn start(config: ServerConfig, served: Served) -> Result<RunningServer, ServerError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let (acceptor, fingerprint) = match &config.tls {
        Some(identity) => (
            Some(listener::acceptor(identity.server_config()?)),
            Some(identity.fingerprint()),
        ),
        None => (None, None),
    };
    let scheme = if fingerprint.is_some() {
        "https"
    } else {
        "http"
    };
    let limits = listener::ConnectionLimits {
        max_connections: config.options.max_connections,
        handshake_timeout: config.options.handshake_timeout,
    };
    let oidc = match &config.options.oidc {
        Some(oidc) => Some(Arc::new(oidc::Oidc::new(oidc.clone())?)),
        None => None,
    };
    let mut state = AppState::new(
        served.hub,
        served.shares,
        format!("{scheme}://{local_addr}"),
        config.options,
    );
    state.oidc = oidc;
    let router = app(state.clone(), served.api);
    let stop_accepting = state.shutdown.child_token();
    let accept_task = tokio::spawn(listener::accept_loop(
        listener,
        router,
        acceptor,
        stop_accepting.clone(),
        state.tasks.clone(),
        limits,
    ));
    tracing::info!(%local_addr, tls = fingerprint.is_some(), "listening");
    Ok(RunningServer {
        local_addr,
        fingerprint,
        state,
        stop_accepting,
        accept_task,
    })
}

impl RunningServer {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The base URL, `https://…` when TLS is on.
    pub fn url(&self) -> String {
        let scheme = if self.fingerprint.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.local_addr)
    }

    /// The plain-HTTP base URL (always accepted from loopback).
    pub fn plain_url(&self) -> String {
        format!("http://{}", self.local_addr)
    }

    /// The TLS certificate's fingerprint, when TLS is on.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// The hub being served.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.state.hub
    }

    /// The owner's secret: a bearer token with every right on this server.
    pub fn owner_token(&self) -> &str {
        &self.state.owner_secret
    }

    /// Stops accepting, ends every stream and waits (up to 10 s) for the
    /// connection tasks.
    pub async fn shutdown(self) {
        self.stop_accepting.cancel();
        let _ = self.accept_task.await;
        self.state.shutdown.cancel();
        self.state.tasks.close();
        if tokio::time::timeout(Duration::from_secs(10), self.state.tasks.wait())
            .await
            .is_err()
        {
            tracing::warn!("some connections did not finish within 10 s");
        }
        tracing::info!("server stopped");
    }
}
