//! Several `tandem serve` nodes on one PostgreSQL database.
//!
//! Every document is served by one node at a time, its *owner*: the node
//! holding the document's lease row in `cluster_leases` (with an expiry, on
//! the database's clock). A request reaching another node is redirected
//! there (`307`, see [`crate::server::placement`]). A document nobody owns is
//! claimed by the node that rendezvous hashing over the live nodes picks
//! ([`rendezvous`]); other nodes send the client there.
//!
//! - [`leases`] — the SQL: claim, renew, hand over, list.
//! - [`rendezvous`] — the placement function.
//! - [`tokens`] — the team's tokens, shared by every node.
//! - [`heartbeat`] — the task that renews this node and its leases every
//!   third of the lease time, and lets go of documents nobody uses here.
//!
//! Failover: a node that dies stops renewing; its leases expire after
//! [`ClusterConfig::lease_ttl`] and the next request for one of its documents
//! is claimed by the node the hashing now picks, which loads everything
//! committed so far (every acknowledged change, by the durability rule). A
//! node stopping cleanly ([`Cluster::drain`]) expires its leases at once.
//! Writes are fenced: the store refuses to write a document whose live lease
//! another node holds ([`crate::store::PgStore::fence_as`]).

mod heartbeat;
pub(crate) mod leases;
pub mod rendezvous;
pub mod tokens;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::doc_id::DocId;
use crate::hub::Hub;
use crate::server::placement::{Location, Placement};
use crate::store::{PgStore, Store, StoreError};
use leases::Holder;
pub use rendezvous::Node;

/// How a node takes part in a cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// The base URL other nodes redirect clients to (`--advertise-url`).
    pub advertise_url: String,
    /// This node's TLS certificate fingerprint when it is self-signed (the
    /// pin other nodes vouch for it with; see [`crate::client::Hops`]).
    pub pin: Option<String>,
    /// How long a lease lasts without renewal: the longest a dead node's
    /// documents stay unavailable. Renewed every third of it.
    pub lease_ttl: Duration,
}

impl ClusterConfig {
    /// The default lease time: documents of a dead node move within 6 s.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(6);
}

/// What this node believes, refreshed by every heartbeat.
#[derive(Debug, Default)]
struct View {
    /// Documents whose leases this node holds.
    held: HashSet<String>,
    /// Live nodes, this one included.
    live: Vec<Node>,
    /// When the last successful heartbeat started.
    renewed: Option<Instant>,
}

/// This node's membership: answers "who serves this document" for the server.
pub struct Cluster {
    store: Arc<PgStore>,
    hub: Arc<Hub>,
    me: Node,
    ttl: Duration,
    view: Mutex<View>,
    draining: AtomicBool,
    stop: CancellationToken,
    task: Mutex<Option<JoinHandle<()>>>,
    /// Shared by every node (see [`Placement::cluster_secret`]).
    secret: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("me", &self.me)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Registers this node (a fresh random identity) in `store`'s database,
    /// fences the store's writes with it and starts the heartbeat.
    pub async fn join(
        store: Arc<PgStore>,
        hub: Arc<Hub>,
        config: ClusterConfig,
    ) -> Result<Arc<Self>, StoreError> {
        let id = format!("node-{}", hex::encode(rand::random::<[u8; 6]>()));
        store.fence_as(&id);
        let secret = {
            let store = Arc::clone(&store);
            tokio::task::spawn_blocking(move || leases::shared_secret(&store))
                .await
                .map_err(|e| {
                    StoreError::Unsupported(format!("reading the cluster's secret failed: {e}"))
                })??
        };
        let cluster = Arc::new(Self {
            store,
            hub,
            me: Node {
                id,
                url: config.advertise_url.trim_end_matches('/').to_owned(),
                pin: config.pin,
            },
            ttl: config.lease_ttl,
            view: Mutex::new(View::default()),
            draining: AtomicBool::new(false),
            stop: CancellationToken::new(),
            task: Mutex::new(None),
            secret,
        });
        let first = Arc::clone(&cluster);
        tokio::task::spawn_blocking(move || first.beat_once())
            .await
            .map_err(|e| StoreError::Unsupported(format!("the first heartbeat failed: {e}")))??;
        let task = tokio::spawn(heartbeat::run(Arc::clone(&cluster)));
        *cluster.task.lock().unwrap_or_else(|p| p.into_inner()) = Some(task);
        tracing::info!(node = %cluster.me.id, url = %cluster.me.url, "joined the cluster");
        Ok(cluster)
    }

    /// This node as the others see it.
    pub fn me(&self) -> &Node {
        &self.me
    }

    fn view(&self) -> std::sync::MutexGuard<'_, View> {
        self.view.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One heartbeat: renew, let go of idle documents, learn the live nodes.
    fn beat_once(&self) -> Result<(), StoreError> {
        let started = Instant::now();
        let open: Vec<_> = self.hub.open_docs();
        let connections: usize = open.iter().map(|d| d.subscriber_count()).sum();
        let open: HashSet<&str> = open.iter().map(|d| d.id().as_str()).collect();
        let idle: Vec<String> = self
            .view()
            .held
            .iter()
            .filter(|id| !open.contains(id.as_str()))
            .cloned()
            .collect();
        let result = leases::beat(
            &self.store,
            &self.me,
            connections as i64,
            idle.clone(),
            self.ttl,
        );
        let mut view = self.view();
        match result {
            Ok(beat) => {
                for lost in view.held.difference(&beat.held) {
                    if !idle.contains(lost) {
                        tracing::warn!(doc = %lost, "another node took this document over");
                    }
                }
                view.held = beat.held;
                view.live = beat.live;
                view.renewed = Some(started);
                Ok(())
            }
            Err(e) => {
                if view.renewed.is_none_or(|at| at.elapsed() >= self.ttl) {
                    // Our leases may have expired: stop claiming to own them.
                    view.held.clear();
                }
                Err(e)
            }
        }
    }

    /// Hands every document over at once (SIGTERM): marks this node as
    /// draining, stops the heartbeat and expires its leases. Requests from
    /// now on are sent to the other nodes.
    pub async fn drain(&self) {
        self.draining.store(true, Ordering::SeqCst);
        self.stop.cancel();
        let task = self.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            let _ = task.await;
        }
        let store = Arc::clone(&self.store);
        let me = self.me.id.clone();
        match tokio::task::spawn_blocking(move || leases::hand_over(&store, &me)).await {
            Ok(Ok(n)) => tracing::info!(documents = n, "handed the documents over"),
            Ok(Err(e)) => {
                tracing::error!(error = %e, "handing the documents over failed; they move when the leases expire")
            }
            Err(e) => tracing::error!(error = %e, "handing the documents over failed"),
        }
        self.view().held.clear();
    }

    /// Removes this node from the member list (after [`Cluster::drain`] and
    /// the server's shutdown).
    pub async fn leave(&self) {
        let store = Arc::clone(&self.store);
        let me = self.me.id.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || leases::leave(&store, &me)).await {
            tracing::warn!(error = %e, "could not remove this node from the member list");
        }
    }

    /// Brings a document that was open here before another node owned it up
    /// to date with everything stored since.
    fn refresh(&self, id: &DocId) {
        let Some(doc) = self.hub.get_open(id) else {
            return;
        };
        match self.store.load(id) {
            Ok(Some(bytes)) => {
                if let Err(e) = doc.load_bytes(&bytes) {
                    tracing::error!(doc = %id, error = %e, "could not merge the stored document");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::error!(doc = %id, error = %e, "could not reload the document"),
        }
    }
}

impl Cluster {
    /// The node `id` belongs on among `live` (this node counted unless draining).
    fn preferred(&self, id: &DocId, live: &[Node]) -> Option<Node> {
        let mut candidates: Vec<Node> = live
            .iter()
            .filter(|n| n.id != self.me.id)
            .cloned()
            .collect();
        if !self.draining.load(Ordering::SeqCst) {
            candidates.push(self.me.clone());
        }
        rendezvous::pick(id.as_str(), &candidates).cloned()
    }

    /// Claims `id` if `preferred` is this node, else finds its holder.
    fn claim_or_find(&self, id: &DocId, preferred: &Node) -> Result<Holder, String> {
        let claim = preferred.id == self.me.id;
        leases::claim_or_find(&self.store, id.as_str(), &self.me.id, claim, self.ttl)
            .map_err(|e| e.to_string())
    }
}

impl Placement for Cluster {
    fn locate(&self, id: &DocId) -> Result<Location, String> {
        let (preferred, held) = {
            let view = self.view();
            let held = view.held.contains(id.as_str())
                && view.renewed.is_some_and(|at| at.elapsed() < self.ttl);
            (self.preferred(id, &view.live), held)
        };
        if held {
            return Ok(Location::Here);
        }
        let Some(mut preferred) = preferred else {
            return Err("no live node".into());
        };
        let mut holder = self.claim_or_find(id, &preferred)?;
        if holder == Holder::Nobody && preferred.id != self.me.id {
            // Nobody holds it and another node should: our list of live
            // nodes may be a heartbeat old (that node may have just stopped),
            // so read it afresh before sending the client there.
            let live = leases::live_nodes(&self.store, self.ttl).map_err(|e| e.to_string())?;
            preferred = self
                .preferred(id, &live)
                .ok_or_else(|| "no live node".to_owned())?;
            self.view().live = live;
            holder = self.claim_or_find(id, &preferred)?;
        }
        match holder {
            Holder::Me => {
                let fresh = self.view().held.insert(id.as_str().to_owned());
                if fresh {
                    tracing::debug!(doc = %id, "claimed");
                    self.refresh(id);
                }
                Ok(Location::Here)
            }
            Holder::Other(node) => Ok(Location::At {
                url: node.url,
                pin: node.pin,
            }),
            Holder::Nobody if preferred.id != self.me.id => Ok(Location::At {
                url: preferred.url,
                pin: preferred.pin,
            }),
            Holder::Nobody => Err("the lease is held by a node that left".into()),
        }
    }

    fn cluster_secret(&self) -> &str {
        &self.secret
    }

    fn status(&self) -> Result<serde_json::Value, String> {
        let nodes = leases::status(&self.store, self.ttl).map_err(|e| e.to_string())?;
        let view: Vec<String> = self.view().live.iter().map(|n| n.id.clone()).collect();
        Ok(serde_json::json!({
            "me": self.me.id,
            "live_view": view,
            "lease_ttl_secs": self.ttl.as_secs_f64(),
            "nodes": nodes,
        }))
    }
}
