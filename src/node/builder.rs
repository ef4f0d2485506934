//! [`NodeBuilder`]: what a running Tandem is made of, said once, then
//! [`start`](NodeBuilder::start)ed in one order (store, hub, cluster,
//! service, server, discovery).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::lan::Lan;
use super::listen::{self, Listen};
use super::{served_by, Advertised, Node, NodeError};
use crate::cluster::{Cluster, ClusterConfig};
use crate::discovery::lan::advertise;
use crate::discovery::peers::Peers;
use crate::hub::Hub;
use crate::protocol::guard::Limits;
use crate::server::tokens::{owner_token_in, ListeningRecord, OWNER_TOKEN_FILE};
use crate::server::{ServerConfig, ServerOptions};
use crate::service::{Service, ServiceOptions};
use crate::store::{Durability, MemoryStore, PgStore, SqliteStore, Store, StoreError};
use crate::tls::Identity;

/// The TLS identity of the node's server.
#[derive(Debug, Clone, Default)]
pub enum Tls {
    /// Plain HTTP.
    #[default]
    Off,
    /// A self-signed certificate made once and kept in the data directory.
    SelfSigned,
    /// This identity.
    Identity(Identity),
}

/// When the node is on the local network.
#[derive(Debug, Clone, Default)]
pub enum LanPolicy {
    /// Never: no peer list, no mDNS.
    #[default]
    Off,
    /// Always: the node's own (TLS) server is advertised by mDNS and peers
    /// are discovered (`tandem serve --mdns`); `name` replaces the stored
    /// display name when given.
    Advertise {
        /// The name other peers see.
        name: Option<String>,
    },
    /// On demand (the desktop app): a second, TLS listener on `listen`
    /// runs iff the user turned LAN presence on or a document is shared.
    OnDemand {
        /// Where that listener binds (e.g. `0.0.0.0:0`).
        listen: SocketAddr,
    },
}

/// Where the documents are.
enum StoreSource {
    /// SQLite in the data directory (or in memory without one).
    Default,
    /// This store.
    Store(Arc<dyn Store>),
    /// A cluster's PostgreSQL database, joined as a node.
    Cluster(Arc<PgStore>, ClusterConfig),
    /// This hub (tests that keep using it).
    Hub(Arc<Hub>),
}

/// Builds a [`Node`]: one place that says how a Tandem runs.
pub struct NodeBuilder {
    data_dir: Option<PathBuf>,
    store: StoreSource,
    durability: Durability,
    limits: Option<Limits>,
    listen: Listen,
    tls: Tls,
    options: ServerOptions,
    service: ServiceOptions,
    lan: LanPolicy,
    optional_server: bool,
    record: bool,
}

impl Default for NodeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl NodeBuilder {
    /// An in-memory node on a free loopback port, plain HTTP, off the LAN.
    pub fn new() -> Self {
        Self {
            data_dir: None,
            store: StoreSource::Default,
            durability: Durability::Process,
            limits: None,
            listen: Listen::Exactly(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            tls: Tls::Off,
            options: ServerOptions::default(),
            service: ServiceOptions::default(),
            lan: LanPolicy::Off,
            optional_server: false,
            record: false,
        }
    }

    /// The data directory: the SQLite store (unless another is given), the
    /// owner token (unless one is given), the self-signed certificate and
    /// `server.json` live there.
    pub fn data_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.data_dir = Some(dir.into());
        self
    }

    /// Stores documents in `store` instead of the data directory.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = StoreSource::Store(store);
        self
    }

    /// Serves `hub` (and its store) as it is.
    pub fn hub(mut self, hub: Arc<Hub>) -> Self {
        self.store = StoreSource::Hub(hub);
        self
    }

    /// Stores documents in a cluster's PostgreSQL database and joins the
    /// cluster as one of its nodes.
    pub fn cluster(mut self, store: Arc<PgStore>, config: ClusterConfig) -> Self {
        self.store = StoreSource::Cluster(store, config);
        self
    }

    /// How durable a commit of the data directory's store is.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// The hub's limits (document sizes, lines).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = Some(limits);
        self
    }

    /// Where the server listens.
    pub fn listen(mut self, listen: Listen) -> Self {
        self.listen = listen;
        self
    }

    /// Listens exactly on `addr`.
    pub fn listen_on(self, addr: SocketAddr) -> Self {
        self.listen(Listen::Exactly(addr))
    }

    /// The server's TLS.
    pub fn tls(mut self, tls: Tls) -> Self {
        self.tls = tls;
        self
    }

    /// The server's options (tokens, limits, UI directory, OIDC…).
    pub fn server_options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// The service's options (the default share policy).
    pub fn service_options(mut self, options: ServiceOptions) -> Self {
        self.service = options;
        self
    }

    /// When the node is on the local network.
    pub fn lan(mut self, lan: LanPolicy) -> Self {
        self.lan = lan;
        self
    }

    /// Keeps running locally (without a server) when the server cannot
    /// listen, instead of failing (the desktop app).
    pub fn server_optional(mut self, optional: bool) -> Self {
        self.optional_server = optional;
        self
    }

    /// Writes `server.json` in the data directory while running, so that
    /// the CLI finds this server for the owner token.
    pub fn record_in_data_dir(mut self, record: bool) -> Self {
        self.record = record;
        self
    }

    /// Starts every part, in order: store, hub, cluster membership, service
    /// (which resumes saved remotes), server, discovery. Must run inside a
    /// Tokio runtime. A part that fails stops those already started.
    pub async fn start(self) -> Result<Node, NodeError> {
        let data_dir = self.data_dir.clone();
        let (hub, cluster) = self.open_hub().await?;
        let mut options = self.options.clone();
        if options.owner_token.is_none() {
            if let Some(dir) = &data_dir {
                let token = owner_token_in(dir).map_err(|source| NodeError::OwnerToken {
                    path: dir.join(OWNER_TOKEN_FILE),
                    source,
                })?;
                options.owner_token = Some(token);
            }
        }
        if data_dir.is_some() && options.data_dir.is_none() {
            options.data_dir.clone_from(&data_dir);
        }
        if let Some(cluster) = &cluster {
            options.placement =
                Some(cluster.clone() as Arc<dyn crate::server::placement::Placement>);
        }
        let tls = match &self.tls {
            Tls::Off => None,
            Tls::Identity(identity) => Some(identity.clone()),
            Tls::SelfSigned => Some(Identity::self_signed_in(need_dir(&data_dir)?)?),
        };
        let service = Service::start_with(hub.clone(), self.service);
        let max_upload = options.max_upload;
        let bound = listen::bind(
            self.listen,
            hub.store().as_ref(),
            |listen| ServerConfig {
                listen,
                tls: tls.clone(),
                options: options.clone(),
            },
            || served_by(&service, max_upload),
        )
        .await;
        let (server, listen_error) = match bound {
            Ok(server) => (Some(server), None),
            Err(e) if self.optional_server => {
                tracing::error!(error = %e, "the sync server is not running; documents stay local");
                (None, Some(e.to_string()))
            }
            Err(e) => {
                service.shutdown().await;
                if let Some(cluster) = &cluster {
                    cluster.leave().await;
                }
                return Err(e.into());
            }
        };
        let mut node = Node::new(hub, service, server, listen_error, cluster);
        if let Err(e) = node
            .start_lan(&self.lan, data_dir.as_deref(), max_upload)
            .await
        {
            node.shutdown().await;
            return Err(e);
        }
        if self.record {
            if let (Some(dir), Some(urls)) = (&data_dir, node.server_urls()) {
                *super::lock(&node.record) = ListeningRecord::write(dir, &urls)
                    .inspect_err(|e| tracing::warn!(error = %e, "cannot record where this server listens; the CLI will need --token"))
                    .ok();
            }
        }
        Ok(node)
    }

    /// The hub over the chosen store, and the cluster when joining one.
    async fn open_hub(&self) -> Result<(Arc<Hub>, Option<Arc<Cluster>>), NodeError> {
        let with_limits = |store: Arc<dyn Store>| match self.limits {
            Some(limits) => Hub::with_limits(store, limits),
            None => Hub::new(store),
        };
        Ok(match &self.store {
            StoreSource::Hub(hub) => (hub.clone(), None),
            StoreSource::Store(store) => (with_limits(store.clone()), None),
            StoreSource::Default => match &self.data_dir {
                Some(dir) => {
                    let store = SqliteStore::open_dir(dir, self.durability).map_err(|source| {
                        NodeError::Store {
                            dir: dir.clone(),
                            source,
                        }
                    })?;
                    (with_limits(Arc::new(store)), None)
                }
                None => (with_limits(Arc::new(MemoryStore::new())), None),
            },
            StoreSource::Cluster(pg, config) => {
                let hub = with_limits(pg.clone());
                let cluster = Cluster::join(pg.clone(), hub.clone(), config.clone())
                    .await
                    .map_err(NodeError::Cluster)?;
                (hub, Some(cluster))
            }
        })
    }
}

fn need_dir(dir: &Option<PathBuf>) -> Result<&Path, NodeError> {
    dir.as_deref().ok_or(NodeError::NoDataDir)
}

impl Node {
    /// Puts the node on the LAN as `policy` says.
    async fn start_lan(
        &mut self,
        policy: &LanPolicy,
        data_dir: Option<&Path>,
        max_upload: usize,
    ) -> Result<(), NodeError> {
        let store = self.hub.store().clone();
        match policy {
            LanPolicy::Off => {}
            LanPolicy::Advertise { name } => {
                let (Some(fingerprint), Some(port)) =
                    (self.fingerprint(), self.local_addr().map(|a| a.port()))
                else {
                    return Err(NodeError::LanNeedsTls);
                };
                if crate::discovery::disabled_by_env() {
                    tracing::info!("mDNS is switched off (TANDEM_NO_MDNS)");
                    return Ok(());
                }
                let peers = Peers::new(fingerprint.to_string(), store.clone())
                    .map_err(NodeError::store_in(data_dir))?;
                let feed = CancellationToken::new();
                let (mdns, presence) = advertise(
                    &peers,
                    store.as_ref(),
                    name.as_deref(),
                    port,
                    fingerprint,
                    feed.clone(),
                )?;
                self.service.attach_peers(peers);
                *super::lock(&self.advertised) = Some(Advertised {
                    mdns,
                    presence,
                    feed,
                });
            }
            LanPolicy::OnDemand { listen } => {
                let identity = Identity::self_signed_in(need_dir(&data_dir.map(Path::to_owned))?)?;
                let peers = Peers::new(identity.fingerprint().to_string(), store)
                    .map_err(NodeError::store_in(data_dir))?;
                self.service.attach_peers(peers.clone());
                let lan = Lan::new(self.service.clone(), peers, identity, *listen, max_upload);
                lan.watch();
                self.lan = Some(lan);
            }
        }
        Ok(())
    }
}

impl NodeError {
    fn store_in(dir: Option<&Path>) -> impl FnOnce(StoreError) -> Self + '_ {
        move |source| NodeError::Store {
            dir: dir.map(Path::to_owned).unwrap_or_default(),
            source,
        }
    }
}
