//! Remote servers a local document stays in live sync with ("Open from
//! server", "Sync with server"). Each one runs a [`SyncClient::sync_live`]
//! task; the list is kept in the store's settings so connections come back
//! after a restart, and every state change is announced as an event.
//! A remote is an ndjson server (`https://host:7450/notes`) or an
//! automerge-repo sync server (`ws://host:3030/automerge:<id>`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use tokio::sync::{broadcast, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use url::Url;

mod info;

use info::{info, StoredRemote};
pub use info::{RemoteInfo, RemoteSpec, RemoteUpdate};

use super::{ServiceError, ServiceEvent};
use crate::client::{ClientConfig, ConnectionStatus, Problem, SyncClient};
use crate::doc_id::DocId;
use crate::hub::Hub;
use crate::tls::{Fingerprint, Trust};

const SETTINGS_KEY: &str = "remotes";

struct Running {
    stored: StoredRemote,
    /// Its traffic, counted by its client.
    traffic: Arc<crate::client::SyncProgress>,
    /// When it was last in sync.
    last_synced_ms: Option<u64>,
    /// Why its settings could not be saved, if they could not.
    save_error: Option<String>,
    cancel: CancellationToken,
    status: watch::Receiver<ConnectionStatus>,
    wake: Arc<tokio::sync::Notify>,
}

/// The set of running remotes.
pub(crate) struct Remotes {
    hub: Arc<Hub>,
    running: Mutex<BTreeMap<String, Running>>,
    events: broadcast::Sender<ServiceEvent>,
    shutdown: CancellationToken,
    tasks: TaskTracker,
}

impl Running {
    /// Its info with `status`, its traffic and when it was last in sync.
    fn info_with(&self, status: &ConnectionStatus) -> RemoteInfo {
        RemoteInfo {
            bytes_in: self.traffic.bytes_in(),
            bytes_out: self.traffic.bytes_out(),
            last_synced_ms: self.last_synced_ms,
            save_error: self.save_error.clone(),
            ..info(&self.stored, status)
        }
    }

    /// Its info now.
    fn info(&self) -> RemoteInfo {
        self.info_with(&self.status.borrow())
    }
}

impl Remotes {
    pub(crate) fn new(
        hub: Arc<Hub>,
        events: broadcast::Sender<ServiceEvent>,
        shutdown: CancellationToken,
        tasks: TaskTracker,
    ) -> Self {
        Self {
            hub,
            running: Mutex::new(BTreeMap::new()),
            events,
            shutdown,
            tasks,
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts every remote saved in the store.
    pub(crate) fn resume_saved(self: &Arc<Self>) -> Result<(), ServiceError> {
        let saved: Vec<StoredRemote> = match self.hub.store().get_setting(SETTINGS_KEY)? {
            Some(json) => serde_json::from_str(&json).unwrap_or_else(|e| {
                tracing::warn!(error = %e, "ignoring unreadable saved remotes");
                Vec::new()
            }),
            None => Vec::new(),
        };
        for stored in saved {
            if let Err(e) = self.start(stored.clone()) {
                tracing::warn!(url = %stored.url, error = %e, "could not resume a remote");
            }
        }
        Ok(())
    }

    fn persist(&self) -> Result<(), ServiceError> {
        let all: Vec<StoredRemote> = self.running().values().map(|r| r.stored.clone()).collect();
        let json =
            serde_json::to_string(&all).map_err(|e| ServiceError::BadInput(e.to_string()))?;
        self.hub.store().put_setting(SETTINGS_KEY, Some(&json))?;
        Ok(())
    }

    /// Adds a remote and starts syncing with it.
    pub(crate) fn add(self: &Arc<Self>, spec: RemoteSpec) -> Result<RemoteInfo, ServiceError> {
        let url = Url::parse(spec.url.trim())
            .map_err(|e| ServiceError::BadInput(format!("invalid URL {:?}: {e}", spec.url)))?;
        // An automerge-repo server: ws[s]://host:port/automerge:<id>; the
        // local copy keeps the document's automerge-repo id.
        let repo = match url.scheme() {
            "http" | "https" => None,
            "ws" | "wss" => Some(crate::client::repo_target(&url).ok_or_else(|| {
                ServiceError::BadInput(format!(
                    "{url} is not an automerge-repo document: use ws[s]://host:port/automerge:<id>"
                ))
            })?),
            _ => {
                return Err(ServiceError::BadInput(format!(
                    "{url} is neither an http(s) document URL nor an automerge-repo ws(s) URL"
                )))
            }
        };
        let doc_id = match (spec.doc_id, repo) {
            (Some(id), _) => id,
            (None, Some(target)) => target.doc,
            (None, None) => {
                let last = url
                    .path_segments()
                    .and_then(|mut s| s.next_back())
                    .unwrap_or("");
                DocId::parse(last).map_err(|e| {
                    ServiceError::BadInput(format!("{url} does not end in a document id: {e}"))
                })?
            }
        };
        let fingerprint = match spec
            .fingerprint
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(fp) => Some(
                Fingerprint::parse(fp)
                    .map_err(|e| ServiceError::BadInput(e.to_string()))?
                    .to_string(),
            ),
            None => None,
        };
        // The same document from the same URL again: that connection, not a second one.
        if let Some(existing) = self
            .running()
            .values()
            .find(|r| r.stored.url == url.as_str() && r.stored.doc_id == doc_id)
        {
            return Ok(existing.info());
        }
        let stored = StoredRemote {
            id: random_id(),
            doc_id,
            url: url.to_string(),
            token: spec.token.filter(|t| !t.is_empty()),
            fingerprint,
            trust_first_use: spec.trust,
            peer_id: spec.peer_id,
        };
        let info = self.start(stored)?;
        self.persist()?;
        Ok(info)
    }

    /// Adds a remote and waits (at most `limit`) for its first outcome: live,
    /// or the first failure. A remote that failed is not kept (no hidden
    /// connection retries behind the user's back); its info says why, with
    /// the [`Problem`] so the fix can be offered at once.
    pub(crate) async fn add_checked(
        self: &Arc<Self>,
        spec: RemoteSpec,
        limit: std::time::Duration,
    ) -> Result<RemoteInfo, ServiceError> {
        let added = self.add(spec)?;
        let Some(mut status) = self.running().get(&added.id).map(|r| r.status.clone()) else {
            return Ok(added);
        };
        let settled = tokio::time::timeout(limit, async {
            loop {
                let current = status.borrow_and_update().clone();
                match current {
                    ConnectionStatus::Connecting => {}
                    other => return other,
                }
                if status.changed().await.is_err() {
                    return ConnectionStatus::Stopped;
                }
            }
        })
        .await;
        let outcome = match settled {
            Ok(ConnectionStatus::Live { .. }) | Err(_) => None,
            Ok(ConnectionStatus::Reconnecting { error, .. }) => Some((error, Problem::Unreachable)),
            Ok(ConnectionStatus::Failed { error, problem }) => Some((error, problem)),
            Ok(ConnectionStatus::Stopped | ConnectionStatus::Connecting) => None,
        };
        let Some((error, problem)) = outcome else {
            return Ok(self.info_of(&added.id).unwrap_or(added));
        };
        let stored = self.running().get(&added.id).map(|r| r.stored.clone());
        self.remove(&added.id)?;
        let mut failed = info(
            stored.as_ref().unwrap_or(&StoredRemote {
                id: added.id.clone(),
                doc_id: added.doc_id.clone(),
                url: added.url.clone(),
                token: None,
                fingerprint: added.fingerprint.clone(),
                trust_first_use: false,
                peer_id: None,
            }),
            &ConnectionStatus::Failed { error, problem },
        );
        failed.state = "error";
        Ok(failed)
    }

    fn info_of(&self, id: &str) -> Option<RemoteInfo> {
        self.running().get(id).map(Running::info)
    }

    /// Tries a remote again now: wakes one that waits to reconnect, restarts
    /// one that stopped on an error.
    pub(crate) fn retry(self: &Arc<Self>, id: &str) -> Result<RemoteInfo, ServiceError> {
        self.update(id, RemoteUpdate::default())
    }

    /// Changes a remote's token or pinned certificate and connects again.
    pub(crate) fn update(
        self: &Arc<Self>,
        id: &str,
        update: RemoteUpdate,
    ) -> Result<RemoteInfo, ServiceError> {
        let fingerprint = match update.fingerprint.as_deref().map(str::trim) {
            Some("") | None => None,
            Some(fp) => Some(
                Fingerprint::parse(fp)
                    .map_err(|e| ServiceError::BadInput(e.to_string()))?
                    .to_string(),
            ),
        };
        let old = self
            .running()
            .remove(id)
            .ok_or_else(|| ServiceError::NotFound(format!("no remote {id}")))?;
        old.cancel.cancel();
        let mut stored = old.stored;
        if let Some(token) = update.token {
            stored.token = Some(token).filter(|t| !t.is_empty());
        }
        if fingerprint.is_some() {
            stored.fingerprint = fingerprint;
        }
        let info = self.start(stored)?;
        self.persist()?;
        Ok(info)
    }

    /// Stops and forgets a remote.
    pub(crate) fn remove(&self, id: &str) -> Result<bool, ServiceError> {
        let removed = self.running().remove(id);
        let Some(running) = removed else {
            return Ok(false);
        };
        running.cancel.cancel();
        self.persist()?;
        let mut gone = running.info_with(&ConnectionStatus::Stopped);
        gone.state = "removed";
        let _ = self.events.send(ServiceEvent::Remote {
            remote: Box::new(gone),
        });
        Ok(true)
    }

    /// Stops and forgets every remote of a document (it was deleted).
    pub(crate) fn remove_doc(&self, doc_id: &DocId) -> Result<(), ServiceError> {
        let ids: Vec<String> = self
            .running()
            .iter()
            .filter(|(_, r)| &r.stored.doc_id == doc_id)
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            self.remove(&id)?;
        }
        Ok(())
    }

    /// Re-pins every remote of a peer to `fingerprint` and restarts it (the
    /// user accepted the peer's new certificate).
    pub(crate) fn repin_peer(
        self: &Arc<Self>,
        peer_id: &str,
        fingerprint: &str,
    ) -> Result<(), ServiceError> {
        let stale: Vec<Running> = {
            let mut running = self.running();
            let ids: Vec<String> = running
                .iter()
                .filter(|(_, r)| r.stored.peer_id.as_deref() == Some(peer_id))
                .map(|(id, _)| id.clone())
                .collect();
            ids.into_iter()
                .filter_map(|id| running.remove(&id))
                .collect()
        };
        for old in stale {
            old.cancel.cancel();
            let mut stored = old.stored;
            stored.fingerprint = Some(fingerprint.to_owned());
            self.start(stored)?;
        }
        self.persist()
    }

    /// Retries now every waiting remote of a peer that just came back.
    pub(crate) fn nudge_peer(&self, peer_id: &str) {
        for running in self.running().values() {
            if running.stored.peer_id.as_deref() == Some(peer_id) {
                running.wake.notify_one();
            }
        }
    }

    /// Every remote and its state.
    pub(crate) fn list(&self) -> Vec<RemoteInfo> {
        self.running().values().map(Running::info).collect()
    }

    /// Asks every server a document is synced with to delete it too; each
    /// remote's URL with what happened there.
    pub(crate) async fn delete_upstream(
        &self,
        doc_id: &DocId,
    ) -> Vec<(String, Result<(), String>)> {
        let targets: Vec<StoredRemote> = self
            .running()
            .values()
            .filter(|r| &r.stored.doc_id == doc_id)
            .map(|r| r.stored.clone())
            .collect();
        let mut outcomes = Vec::new();
        for stored in targets {
            let result = async {
                let url = Url::parse(&stored.url).map_err(|e| e.to_string())?;
                let mut config = ClientConfig::new(url);
                config.token = stored.token.clone();
                config.trust = match &stored.fingerprint {
                    Some(fp) => Trust::Pinned(Fingerprint::parse(fp).map_err(|e| e.to_string())?),
                    None => Trust::System,
                };
                let client = SyncClient::new(config).map_err(|e| e.to_string())?;
                client.delete_upstream().await.map_err(|e| e.to_string())
            }
            .await;
            if let Err(e) = &result {
                tracing::warn!(remote = %stored.url, error = %e, "the remote copy was not deleted");
            }
            outcomes.push((stored.url.clone(), result));
        }
        outcomes
    }

    fn start(self: &Arc<Self>, stored: StoredRemote) -> Result<RemoteInfo, ServiceError> {
        let url = Url::parse(&stored.url).map_err(|e| ServiceError::BadInput(e.to_string()))?;
        let mut config = ClientConfig::new(url);
        config.token = stored.token.clone();
        let learned = Arc::new(Mutex::new(None));
        config.trust = match (&stored.fingerprint, stored.trust_first_use) {
            (Some(fp), _) => Trust::Pinned(
                Fingerprint::parse(fp).map_err(|e| ServiceError::BadInput(e.to_string()))?,
            ),
            (None, true) => Trust::FirstUse(Arc::clone(&learned)),
            (None, false) => Trust::System,
        };
        let traffic = Arc::new(crate::client::SyncProgress::default());
        config.progress = Some(Arc::clone(&traffic));
        let client = SyncClient::new(config)?;
        let doc = self.hub.open(&stored.doc_id)?;
        let cancel = self.shutdown.child_token();
        let (status_tx, status_rx) = watch::channel(ConnectionStatus::Connecting);
        let id = stored.id.clone();
        let first = info(&stored, &ConnectionStatus::Connecting);
        let wake = Arc::new(tokio::sync::Notify::new());
        self.running().insert(
            id.clone(),
            Running {
                stored,
                traffic,
                last_synced_ms: None,
                save_error: None,
                cancel: cancel.clone(),
                status: status_rx.clone(),
                wake: wake.clone(),
            },
        );
        let options = crate::client::LiveOptions {
            cancel: cancel.clone(),
            status: status_tx,
            store: Some(Arc::clone(self.hub.store())),
            wake: Some(wake),
        };
        // A server the user named: errors retrying cannot fix stop it and say
        // why. A LAN peer: it may share the document later, keep trying.
        let from_peer = self
            .running()
            .get(&id)
            .is_some_and(|r| r.stored.peer_id.is_some());
        self.tasks.spawn(async move {
            if from_peer {
                client.sync_live_with(&doc, options).await;
            } else {
                let _ = client.follow(&doc, options).await;
            }
        });
        // Announce every state change, and pin a first-use certificate once seen.
        let this = Arc::clone(self);
        self.tasks.spawn(async move {
            let mut status = status_rx;
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    changed = status.changed() => if changed.is_err() { break },
                }
                let current = status.borrow_and_update().clone();
                let learned_fp = *learned.lock().unwrap_or_else(|p| p.into_inner());
                let snapshot = {
                    let mut running = this.running();
                    let Some(entry) = running.get_mut(&id) else {
                        break;
                    };
                    let newly_pinned = entry.stored.fingerprint.is_none() && learned_fp.is_some();
                    if let (true, Some(fp)) = (newly_pinned, learned_fp) {
                        entry.stored.fingerprint = Some(fp.to_string());
                    }
                    if matches!(current, ConnectionStatus::Live { in_sync: true }) {
                        entry.last_synced_ms = Some(crate::store::now_ms().max(0) as u64);
                    }
                    (entry.info_with(&current), newly_pinned)
                };
                let mut info = snapshot.0;
                if snapshot.1 {
                    if let Err(e) = this.persist() {
                        // The pin holds for this run; it may not survive a
                        // restart: logged, and said in the remote's info.
                        tracing::error!(error = %e, remote = %id, "could not save the trusted certificate; it holds until the app quits");
                        let message = format!("could not save the trusted certificate ({e}); it holds until the app quits");
                        if let Some(entry) = this.running().get_mut(&id) {
                            entry.save_error = Some(message.clone());
                        }
                        info.save_error = Some(message);
                    }
                }
                let _ = this
                    .events
                    .send(ServiceEvent::Remote { remote: Box::new(info) });
            }
        });
        let _ = self.events.send(ServiceEvent::Remote {
            remote: Box::new(first.clone()),
        });
        Ok(first)
    }
}

fn random_id() -> String {
    DocId::random().as_str()[..12].to_owned()
}
