//! What a user interface needs from Tandem, in one place: list, create,
//! delete, import and export documents; attach a UI's own Automerge peer to a
//! document; manage remote servers; hear about changes. The browser UI reaches
//! it over HTTP/WebSocket ([`crate::server`]), the desktop app through Tauri
//! commands — both are thin layers over this.

pub(crate) mod activity;
pub mod answers;
mod error;
pub mod files;
mod history;
pub mod http;
pub mod launch;
mod remotes;
pub mod search;
pub mod sessions;
mod template;
mod ui_peer;

pub use error::ServiceError;
pub use history::{HistoryEdit, Timeline};
pub use remotes::{RemoteInfo, RemoteSpec, RemoteUpdate};
pub use ui_peer::UiPeer;

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::discovery::peers::{PeerInfo, Peers};
use crate::doc_id::DocId;
use crate::hub::{Hub, HubEvent};
use crate::share::{self, SharePolicy};
use crate::store::DocSummary;
use remotes::Remotes;

/// Something a UI should react to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ServiceEvent {
    /// The document list changed (created, deleted, retitled).
    DocsChanged,
    /// A remote connection changed state.
    Remote {
        /// Its new state (boxed: the other events are small).
        remote: Box<RemoteInfo>,
    },
    /// The LAN peer list changed (refetch `/_peers`).
    PeersChanged,
}

/// A document as listed: its stored summary and its effective share policy.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct DocListing {
    /// ID, title, heads, size, updated.
    #[serde(flatten)]
    pub summary: DocSummary,
    /// Who may see and sync it.
    pub share: SharePolicy,
    /// Sync streams connected into this instance on it now (other devices,
    /// programs, automerge-repo clients; not the UI's own editors).
    pub incoming: usize,
}

/// Service-wide settings.
#[derive(Debug, Clone, Copy)]
pub struct ServiceOptions {
    /// The share policy of documents that have none of their own.
    pub default_share: SharePolicy,
}

impl Default for ServiceOptions {
    /// A team server: documents are shared with whoever may connect.
    fn default() -> Self {
        Self {
            default_share: SharePolicy::Lan,
        }
    }
}

/// The UI-facing service over a hub.
pub struct Service {
    hub: Arc<Hub>,
    options: ServiceOptions,
    remotes: Arc<Remotes>,
    events: broadcast::Sender<ServiceEvent>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
    peers: std::sync::OnceLock<Arc<Peers>>,
    /// The share policies (and the signal that moves when one changes).
    shares: Arc<share::Shares>,
    /// Samples of every open document's activity.
    activity: Arc<activity::ActivityLog>,
}

/// Everything syncing now, in and out (the sync activity view).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct ActivityReport {
    /// Every open document: its rates and the connections into it.
    pub docs: Vec<activity::DocActivity>,
    /// Every outgoing connection (remote) with its state and traffic.
    pub remotes: Vec<RemoteInfo>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

impl Service {
    /// Starts a team-server service (documents shared by default).
    /// Must be called inside a Tokio runtime.
    pub fn start(hub: Arc<Hub>) -> Arc<Self> {
        Self::start_with(hub, ServiceOptions::default())
    }

    /// Starts the service: forwards hub events and resumes saved remotes.
    /// Must be called inside a Tokio runtime.
    pub fn start_with(hub: Arc<Hub>, options: ServiceOptions) -> Arc<Self> {
        let (events, _) = broadcast::channel(256);
        let shutdown = CancellationToken::new();
        let tasks = TaskTracker::new();
        let remotes = Arc::new(Remotes::new(
            hub.clone(),
            events.clone(),
            shutdown.clone(),
            tasks.clone(),
        ));
        let service = Arc::new(Self {
            hub: hub.clone(),
            options,
            remotes,
            events: events.clone(),
            shutdown: shutdown.clone(),
            tasks: tasks.clone(),
            peers: std::sync::OnceLock::new(),
            shares: share::Shares::new(hub.store().clone(), options.default_share),
            activity: activity::ActivityLog::spawn(hub.clone(), &tasks, shutdown.clone()),
        });
        let mut hub_events = hub.subscribe();
        tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    event = hub_events.recv() => match event {
                        Ok(HubEvent::DocsChanged) | Err(broadcast::error::RecvError::Lagged(_)) => {
                            let _ = events.send(ServiceEvent::DocsChanged);
                        }
                        Err(broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        });
        if let Err(e) = service.remotes.resume_saved() {
            tracing::warn!(error = %e, "could not resume saved remotes");
        }
        service
    }

    /// The hub underneath.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Runs `work` on the blocking pool: for operations that can take long
    /// on a big document (loading it, its history, a past version, an
    /// import or export), so the caller's runtime keeps serving the
    /// connections of every other document meanwhile. A panic in `work`
    /// carries on in the caller.
    pub async fn off_runtime<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&Service) -> Result<T, ServiceError> + Send + 'static,
    ) -> Result<T, ServiceError> {
        let service = Arc::clone(self);
        match tokio::task::spawn_blocking(move || work(&service)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(ServiceError::Unreachable(format!(
                "the operation was stopped (shutting down): {e}"
            ))),
        }
    }

    /// Listens for [`ServiceEvent`]s.
    pub fn subscribe(&self) -> broadcast::Receiver<ServiceEvent> {
        self.events.subscribe()
    }

    /// Every stored document with its share policy.
    pub fn list_docs(&self) -> Result<Vec<DocListing>, ServiceError> {
        self.hub
            .list()?
            .into_iter()
            .map(|summary| {
                let share = self.share_policy(&summary.id)?;
                let incoming = self
                    .hub
                    .get_open(&summary.id)
                    .map(|doc| {
                        doc.connection_infos()
                            .iter()
                            .filter(|c| c.protocol != "WebSocket")
                            .count()
                    })
                    .unwrap_or(0);
                Ok(DocListing {
                    summary,
                    share,
                    incoming,
                })
            })
            .collect()
    }

    /// The documents a peer may see: those shared with the LAN.
    pub fn list_shared_docs(&self) -> Result<Vec<DocListing>, ServiceError> {
        Ok(self
            .list_docs()?
            .into_iter()
            .filter(|d| d.share.is_listed())
            .collect())
    }

    /// The policy of documents without one of their own.
    pub fn default_share(&self) -> SharePolicy {
        self.options.default_share
    }

    /// A document's effective share policy.
    pub fn share_policy(&self, id: &DocId) -> Result<SharePolicy, ServiceError> {
        Ok(self.shares.policy(id)?)
    }

    /// Sets a document's share policy (the document must exist).
    pub fn set_share_policy(&self, id: &DocId, policy: SharePolicy) -> Result<(), ServiceError> {
        if self.hub.open_existing(id)?.is_none() {
            return Err(ServiceError::NotFound(format!("no document {id}")));
        }
        // Live connections re-check their rights: a peer that lost them is cut off now.
        self.shares.set(id, Some(policy))?;
        self.hub.notify_docs_changed();
        Ok(())
    }

    /// Creates a document from the note template, with `title`.
    pub fn create_doc(&self, title: &str) -> Result<DocId, ServiceError> {
        let id = DocId::random();
        let doc = self.hub.open(&id)?;
        doc.change(|tx| template::note(tx, title))?;
        Ok(id)
    }

    /// Deletes a document here ("delete here"): stops its remotes and leaves
    /// a tombstone, so that no peer or client that still has a copy brings it
    /// back silently (they are told it was deleted: `410 Gone`).
    pub fn delete_doc(&self, id: &DocId) -> Result<(), ServiceError> {
        self.delete_locally(id, false)
    }

    /// Deletes a document here and asks every server it syncs with to delete
    /// it too ("delete everywhere"); peers following it there learn it was
    /// deleted. Returns each remote's URL with the outcome there; the local
    /// delete stands even if a remote refused.
    pub async fn delete_doc_everywhere(
        &self,
        id: &DocId,
    ) -> Result<Vec<(String, Result<(), String>)>, ServiceError> {
        if self.hub.open_existing(id)?.is_none() {
            return Err(ServiceError::NotFound(format!("no document {id}")));
        }
        let outcomes = self.remotes.delete_upstream(id).await;
        self.delete_locally(id, true)?;
        Ok(outcomes)
    }

    fn delete_locally(&self, id: &DocId, everywhere: bool) -> Result<(), ServiceError> {
        self.remotes.remove_doc(id)?;
        self.shares.set(id, None)?;
        match self.hub.delete_with_tombstone(id, everywhere)? {
            Some(_) => Ok(()),
            None => Err(ServiceError::NotFound(format!("no document {id}"))),
        }
    }

    /// Lets a deleted document's id be used again (removes its tombstone).
    pub fn allow_again(&self, id: &DocId) -> Result<(), ServiceError> {
        if self.hub.remove_tombstone(id)? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!(
                "document {id} was not deleted"
            )))
        }
    }

    /// The document as `.automerge` bytes.
    pub fn export_doc(&self, id: &DocId) -> Result<Vec<u8>, ServiceError> {
        let doc = self
            .hub
            .open_existing(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("no document {id}")))?;
        Ok(doc.save())
    }

    /// Imports `.automerge` bytes as a new document.
    pub fn import_doc(&self, bytes: &[u8]) -> Result<DocId, ServiceError> {
        // Bounded before Automerge inflates anything (issue #7).
        crate::protocol::guard::check_saved(bytes, &self.hub.limits())
            .map_err(|e| ServiceError::BadInput(format!("not imported: {e}")))?;
        automerge::Automerge::load(bytes)
            .map_err(|e| ServiceError::BadInput(format!("not an Automerge document: {e}")))?;
        let id = DocId::random();
        let doc = self.hub.open(&id)?;
        doc.load_bytes(bytes)?;
        doc.store_if_new()?;
        Ok(id)
    }

    /// A receiver that moves whenever access rules change (a share policy
    /// was set): live connections of peers re-check their rights then.
    pub fn access_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.shares.changes()
    }

    /// The share policies the server judges callers against.
    pub fn shares(&self) -> &Arc<share::Shares> {
        &self.shares
    }

    /// Every remote and its state.
    pub fn remotes(&self) -> Vec<RemoteInfo> {
        self.remotes.list()
    }

    /// Starts syncing a document with a remote server (and keeps doing so across restarts).
    pub fn add_remote(&self, spec: RemoteSpec) -> Result<RemoteInfo, ServiceError> {
        self.remotes.add(spec)
    }

    /// The longest [`Service::add_remote_checked`] waits for a first outcome.
    pub const FIRST_CONNECT_LIMIT: Duration = Duration::from_secs(20);

    /// Adds a remote and waits for its first outcome (live, or the first
    /// failure — then it is not kept, and the info says why with a
    /// [`crate::client::Problem`]): what "Open from server" and "Sync with
    /// server" use, so a wrong URL, token or certificate is reported in the
    /// dialog rather than retried forever out of sight.
    pub async fn add_remote_checked(&self, spec: RemoteSpec) -> Result<RemoteInfo, ServiceError> {
        self.remotes
            .add_checked(spec, Self::FIRST_CONNECT_LIMIT)
            .await
    }

    /// Every connection in and out, and each open document's recent activity.
    pub fn activity(&self) -> ActivityReport {
        ActivityReport {
            docs: self.activity.report(&self.hub),
            remotes: self.remotes(),
        }
    }

    /// Searches the text of every stored document (see [`search::search`]).
    pub fn search(&self, query: &str) -> Result<search::SearchResults, ServiceError> {
        Ok(search::search(&self.hub, query)?)
    }

    /// Connects a remote again now (after fixing what stopped it, or to skip
    /// the wait before the next attempt).
    pub fn retry_remote(&self, id: &str) -> Result<RemoteInfo, ServiceError> {
        self.remotes.retry(id)
    }

    /// Changes a remote's token or pinned certificate, and connects again.
    pub fn update_remote(
        &self,
        id: &str,
        update: RemoteUpdate,
    ) -> Result<RemoteInfo, ServiceError> {
        self.remotes.update(id, update)
    }

    /// Stops and forgets a remote.
    pub fn remove_remote(&self, id: &str) -> Result<(), ServiceError> {
        if self.remotes.remove(id)? {
            Ok(())
        } else {
            Err(ServiceError::NotFound(format!("no remote {id}")))
        }
    }

    /// Connects the LAN peer list: its changes become events, and a peer
    /// coming back online makes its remotes retry at once.
    pub fn attach_peers(&self, peers: Arc<Peers>) {
        if self.peers.set(peers.clone()).is_err() {
            return;
        }
        let (events, shutdown, remotes) = (
            self.events.clone(),
            self.shutdown.clone(),
            self.remotes.clone(),
        );
        let mut changes = peers.subscribe();
        let mut online = peers.subscribe_online();
        self.tasks.spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    changed = changes.changed() => {
                        if changed.is_err() { break }
                        let _ = events.send(ServiceEvent::PeersChanged);
                    }
                    id = online.recv() => match id {
                        Ok(id) => remotes.nudge_peer(&id),
                        Err(broadcast::error::RecvError::Lagged(_)) => {}
                        Err(_) => break,
                    },
                }
            }
        });
    }

    fn peer_registry(&self) -> Result<&Arc<Peers>, ServiceError> {
        self.peers
            .get()
            .ok_or_else(|| ServiceError::NotFound("LAN discovery is off on this instance".into()))
    }

    /// Discovered and remembered LAN peers (empty when discovery is off).
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.peers.get().map(|p| p.list()).unwrap_or_default()
    }

    /// The documents a peer shares with the LAN, fetched from it over TLS
    /// with its pinned certificate.
    pub async fn peer_docs(&self, peer_id: &str) -> Result<serde_json::Value, ServiceError> {
        let (base, fingerprint) = self.peer_registry()?.endpoint(peer_id)?;
        let tls = crate::tls::Trust::Pinned(fingerprint)
            .client_config(&[b"h2", b"http/1.1"])
            .map_err(crate::client::ClientError::from)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .no_proxy()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ServiceError::Unreachable(e.to_string()))?;
        let url = format!("{base}/_docs");
        let response = http.get(&url).send().await.map_err(|e| {
            ServiceError::Unreachable(format!(
                "cannot reach {url}: {}",
                crate::client::describe_error(&e)
            ))
        })?;
        if !response.status().is_success() {
            return Err(ServiceError::Unreachable(format!(
                "{url} answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| ServiceError::Unreachable(format!("{url} sent a bad listing: {e}")))
    }

    /// Opens a peer's shared document: a local copy that stays in live sync,
    /// pinned to the peer's certificate.
    pub fn open_peer_doc(&self, peer_id: &str, doc_id: &DocId) -> Result<RemoteInfo, ServiceError> {
        let (base, fingerprint) = self.peer_registry()?.endpoint(peer_id)?;
        if let Some(existing) = self
            .remotes()
            .into_iter()
            .find(|r| r.peer_id.as_deref() == Some(peer_id) && &r.doc_id == doc_id)
        {
            return Ok(existing);
        }
        self.remotes.add(RemoteSpec {
            url: format!("{base}/{doc_id}"),
            doc_id: Some(doc_id.clone()),
            token: None,
            fingerprint: Some(fingerprint.to_string()),
            trust: false,
            peer_id: Some(peer_id.to_owned()),
        })
    }

    /// Records that the user confirmed a peer's verification code.
    pub fn verify_peer(&self, peer_id: &str) -> Result<PeerInfo, ServiceError> {
        Ok(self.peer_registry()?.mark_verified(peer_id)?)
    }

    /// Forgets a peer's pinned certificate (after a legitimate change): its
    /// current certificate is pinned, and documents opened from it reconnect
    /// with the new pin.
    pub fn forget_peer(&self, peer_id: &str) -> Result<(), ServiceError> {
        let peers = self.peer_registry()?;
        peers.forget(peer_id)?;
        if let Some(peer) = peers.get(peer_id) {
            self.remotes.repin_peer(peer_id, &peer.fingerprint)?;
        }
        Ok(())
    }

    /// Stops remotes and UI peers, waiting up to 5 s for them.
    pub async fn shutdown(&self) {
        self.shutdown.cancel();
        self.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tasks.wait()).await;
    }
}
