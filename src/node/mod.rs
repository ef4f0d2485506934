//! A running Tandem: one [`NodeBuilder`] says what it is made of (store,
//! hub, cluster membership, service, server, LAN presence), and one [`Node`]
//! owns every task of it, with one shutdown order
//! ([`Node::shutdown`]). `tandem serve`, the desktop app and the tests all
//! start Tandem this way.
//!
//! The parts stay ignorant of each other: the server serves what it is
//! given ([`crate::server::Served`]) and dials nobody; the service resumes
//! remotes; discovery advertises and browses. Only the node wires them.

mod builder;
pub mod desktop;
mod lan;
mod listen;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio_util::sync::CancellationToken;

pub use builder::{LanPolicy, NodeBuilder, Tls};
pub use lan::{reachable_url, LanSettings, LanStatus};
pub use listen::{listening_urls, Listen, DEFAULT_PORT, PORT_ATTEMPTS, PORT_SETTING};

use crate::cluster::Cluster;
use crate::discovery::lan::{LanError, Presence};
use crate::discovery::mdns::Mdns;
use crate::hub::Hub;
use crate::server::tokens::ListeningRecord;
use crate::server::{RunningServer, Served, ServerError};
use crate::service::Service;
use crate::share::Shares;
use crate::store::StoreError;
use crate::tls::{Fingerprint, TlsError};

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NodeError {
    /// The document store could not be opened.
    #[error("cannot open the document store in {}: {source}", dir.display())]
    Store {
        /// The data directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The owner token could not be read or made.
    #[error("cannot create the owner token {}: {source}", path.display())]
    OwnerToken {
        /// The token file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The TLS identity could not be made or read.
    #[error("cannot set up the TLS certificate: {0}")]
    Tls(#[from] TlsError),
    /// The server could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// Joining the cluster failed.
    #[error("cannot join the cluster: {0}")]
    Cluster(#[source] StoreError),
    /// Advertising on the LAN failed.
    #[error(transparent)]
    Lan(#[from] LanError),
    /// Being on the LAN needs the server to run with TLS.
    #[error("LAN discovery needs TLS: the server must be running with a certificate")]
    LanNeedsTls,
    /// A part needs the data directory, and none was given.
    #[error("a data directory is needed (for the TLS certificate)")]
    NoDataDir,
}

/// The node's own server advertised by mDNS (`LanPolicy::Advertise`).
struct Advertised {
    mdns: Mdns,
    presence: Presence,
    feed: CancellationToken,
}

/// A running Tandem. Every task it started is stopped by
/// [`shutdown`](Self::shutdown), in one order.
pub struct Node {
    hub: Arc<Hub>,
    service: Arc<Service>,
    cluster: Option<Arc<Cluster>>,
    url: String,
    local_addr: Option<SocketAddr>,
    fingerprint: Option<Fingerprint>,
    owner_token: Option<String>,
    server: Mutex<Option<RunningServer>>,
    advertised: Mutex<Option<Advertised>>,
    lan: Option<Arc<lan::Lan>>,
    record: Mutex<Option<ListeningRecord>>,
    stopped: AtomicBool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What a server serves for `service`: its hub, its share policies and the
/// service's HTTP API.
pub(crate) fn served_by(service: &Arc<Service>, max_upload: usize) -> Served {
    Served {
        hub: service.hub().clone(),
        shares: Arc::clone(service.shares()),
        api: Some(crate::service::http::routes(service.clone(), max_upload)),
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Node {
    /// A builder with the defaults of [`NodeBuilder::new`].
    pub fn builder() -> NodeBuilder {
        NodeBuilder::new()
    }

    fn new(
        hub: Arc<Hub>,
        service: Arc<Service>,
        server: Option<RunningServer>,
        listen_error: Option<String>,
        cluster: Option<Arc<Cluster>>,
    ) -> Self {
        let url = match (&server, listen_error) {
            (Some(server), _) => server.url(),
            (None, Some(e)) => format!("not listening ({e})"),
            (None, None) => "not listening".to_owned(),
        };
        Self {
            local_addr: server.as_ref().map(RunningServer::local_addr),
            fingerprint: server.as_ref().and_then(RunningServer::fingerprint),
            owner_token: server.as_ref().map(|s| s.owner_token().to_owned()),
            url,
            hub,
            service,
            cluster,
            server: Mutex::new(server),
            advertised: Mutex::new(None),
            lan: None,
            record: Mutex::new(None),
            stopped: AtomicBool::new(false),
        }
    }

    /// The open documents.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The UI-facing service.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// The share policies the server judges callers against.
    pub fn shares(&self) -> &Arc<Shares> {
        self.service.shares()
    }

    /// The server's base URL (`https://…` with TLS), or why it is not
    /// listening (a node whose server is optional).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// The plain-HTTP base URL (always accepted from loopback).
    pub fn plain_url(&self) -> Option<String> {
        self.local_addr.map(|addr| format!("http://{addr}"))
    }

    /// The server's bound address, when it listens.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local_addr
    }

    /// The server's certificate fingerprint, when TLS is on.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        self.fingerprint
    }

    /// The owner's secret (a bearer token with every right), when listening.
    pub fn owner_token(&self) -> Option<&str> {
        self.owner_token.as_deref()
    }

    /// The cluster this node belongs to, if any.
    pub fn cluster(&self) -> Option<&Arc<Cluster>> {
        self.cluster.as_ref()
    }

    /// Who this node is on the LAN, when its server is advertised.
    pub fn presence(&self) -> Option<Presence> {
        lock(&self.advertised).as_ref().map(|a| a.presence.clone())
    }

    /// The URLs this machine's CLI reaches the server by.
    fn server_urls(&self) -> Option<Vec<String>> {
        lock(&self.server).as_ref().map(listening_urls)
    }

    /// The LAN presence (`LanPolicy::OnDemand`), or `None` for other policies.
    pub async fn lan_status(&self) -> Option<LanStatus> {
        match &self.lan {
            Some(lan) => Some(lan.status().await),
            None => None,
        }
    }

    /// Changes the LAN settings (`LanPolicy::OnDemand`); `None` for other
    /// policies.
    pub async fn configure_lan(
        &self,
        change: LanSettings,
    ) -> Option<Result<LanStatus, StoreError>> {
        match &self.lan {
            Some(lan) => Some(lan.configure(change).await),
            None => None,
        }
    }

    /// Stops everything (see [`stop`](Self::stop)), then lets the store go:
    /// its lock is released once no other handle holds the hub.
    pub async fn shutdown(self) {
        self.stop().await;
    }

    /// Stops everything, in this order: a cluster node hands its documents
    /// over; the node leaves the LAN (mDNS goodbye, the LAN listener
    /// drains); the server stops accepting and drains its connections
    /// (≤ 10 s); remotes and UI peers stop (≤ 5 s); a cluster node leaves;
    /// the store is flushed; `server.json` is removed. The store stays open
    /// (for a shell that holds the node behind a shared reference) until the
    /// node is dropped. Safe to call more than once.
    pub async fn stop(&self) {
        if self.stopped.swap(true, Ordering::SeqCst) {
            return;
        }
        if let Some(cluster) = &self.cluster {
            cluster.drain().await;
        }
        if let Some(lan) = &self.lan {
            lan.stop().await;
        }
        let advertised = lock(&self.advertised).take();
        if let Some(advertised) = advertised {
            advertised.mdns.shutdown().await;
            advertised.feed.cancel();
        }
        let server = lock(&self.server).take();
        if let Some(server) = server {
            server.shutdown().await;
        }
        self.service.shutdown().await;
        if let Some(cluster) = &self.cluster {
            cluster.leave().await;
        }
        if let Err(e) = self.hub.flush() {
            tracing::error!(error = %e, "flushing the store at shutdown failed");
        }
        drop(lock(&self.record).take());
        tracing::info!("Tandem stopped");
    }
}
