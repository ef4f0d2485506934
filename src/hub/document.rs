//! One open document, shared by every connection that syncs it.
//!
//! All access goes through a mutex around the `Automerge` value. Every change —
//! from a sync message or a local edit — is written to the store *inside* that
//! lock, before any waiter is woken, so no sync message can ever advertise a
//! head that is not yet on disk (PROTOCOL.md §3, durability rule). Subscribers
//! wait on a version counter (`tokio::sync::watch`) and generate what their
//! peer still needs when it moves.
//!
//! Over 500 lines on purpose: every path that writes to the document (sync
//! messages, batched receives, local edits, imports, compaction) sits here,
//! so the durability rule above can be checked by reading one file.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::sync::Message;
use automerge::transaction::{CommitOptions, Transaction};
use automerge::{Automerge, AutomergeError, ChangeHash, ObjType, ReadDoc, Value};
use tokio::sync::watch;

use crate::doc_id::DocId;
use crate::protocol::guard::{self, GuardError, Limits};
use crate::protocol::recent::{split_chunks, RecentChanges};
use crate::protocol::session::SplitError;
use crate::protocol::SyncSession;
use crate::store::{DocInfo, Store, StoreError, Tombstone};

/// Why an operation on a document failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocError {
    /// Automerge refused the input (a corrupt sync message or change).
    #[error("automerge rejected the data: {0}")]
    Automerge(#[from] AutomergeError),
    /// The change could not be stored; it was rolled back.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The document was deleted while in use.
    #[error("document {0} was deleted")]
    Deleted(DocId),
    /// The document was deleted earlier and its tombstone forbids bringing
    /// it back; the owner can remove the tombstone to create it again.
    #[error("document {id} was deleted; it is not recreated unless its owner allows it again")]
    Tombstoned {
        /// The document.
        id: DocId,
        /// When and how it was deleted.
        tombstone: Tombstone,
    },
    /// The data is over a limit (or malformed) and was not given to Automerge.
    #[error("refused before loading: {0}")]
    Refused(#[from] GuardError),
}

/// An open document.
pub struct Document {
    id: DocId,
    doc: Mutex<Automerge>,
    version: super::wake::Waker,
    store: Arc<dyn Store>,
    compacting: AtomicBool,
    deleted: AtomicBool,
    /// A handle on ourselves, for background work that must outlive `&self`.
    this: std::sync::Weak<Document>,
    /// Where listing changes (first write, new title) are announced.
    events: tokio::sync::broadcast::Sender<super::HubEvent>,
    /// The title as last listed, `None` inside until first stored.
    listed_title: Mutex<Option<Option<String>>>,
    /// When a listing change (size, time) was last announced.
    announced_at: Mutex<Option<std::time::Instant>>,
    /// Whether an announcement is already scheduled for the end of the
    /// current [`LISTING_REFRESH`] window.
    announcement_pending: AtomicBool,
    /// What a sync message or import may hold before Automerge sees it.
    limits: Limits,
    /// Messages relayed between connections, never stored.
    ephemeral: super::EphemeralBus,
    /// The live connections syncing this document.
    connections: super::Connections,
    /// Changes and bytes written since the document was opened.
    activity: super::activity::Activity,
    /// Changes received from peers and not applied yet: whoever takes the
    /// lock next applies all of them in one batch (see [`Document::receive_many`]).
    inbox: Mutex<Vec<Offer>>,
    /// The newest changes with their bytes, from which live peers are sent
    /// what they lack (`protocol::recent`). Locked only while `doc` is.
    recent: Mutex<RecentChanges>,
    /// When a write last took long (see `hub::cost`).
    write_cost: super::cost::WriteCost,
}

/// Changes one peer offered to the inbox, parsed.
struct Offer {
    changes: Vec<automerge::Change>,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Document")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// The most often a document's size and update time are announced to
/// listings (the UI's document list), per document.
pub(crate) const LISTING_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl Document {
    /// Wraps an already loaded document.
    pub(crate) fn new(
        id: DocId,
        doc: Automerge,
        store: Arc<dyn Store>,
        events: tokio::sync::broadcast::Sender<super::HubEvent>,
        stored: bool,
        limits: Limits,
    ) -> Arc<Self> {
        let listed_title = stored.then(|| title_of(&doc));
        Arc::new_cyclic(|this| Self {
            id,
            doc: Mutex::new(doc),
            version: super::wake::Waker::default(),
            store,
            compacting: AtomicBool::new(false),
            deleted: AtomicBool::new(false),
            this: this.clone(),
            connections: super::Connections::announcing(events.clone()),
            events,
            listed_title: Mutex::new(listed_title),
            announced_at: Mutex::new(None),
            announcement_pending: AtomicBool::new(false),
            limits,
            ephemeral: super::EphemeralBus::default(),
            activity: super::activity::Activity::default(),
            inbox: Mutex::new(Vec::new()),
            recent: Mutex::new(RecentChanges::new()),
            write_cost: super::cost::WriteCost::default(),
        })
    }

    /// The document's ephemeral channel (relayed, never stored).
    pub fn ephemeral(&self) -> &super::EphemeralBus {
        &self.ephemeral
    }

    /// The live connections syncing this document.
    pub fn connections(&self) -> &super::Connections {
        &self.connections
    }

    /// Relays an ephemeral payload to the document's other connections
    /// ([`super::EphemeralBus::publish`]); `false` when it was a copy and
    /// was dropped.
    pub fn publish_ephemeral(&self, message: super::Ephemeral) -> bool {
        self.ephemeral.publish(message)
    }

    /// Every ephemeral message published from now on.
    pub fn subscribe_ephemeral(&self) -> tokio::sync::broadcast::Receiver<super::Ephemeral> {
        self.ephemeral.subscribe()
    }

    /// Changes and bytes written since the document was opened.
    pub fn activity(&self) -> super::activity::ActivityTotals {
        self.activity.totals()
    }

    /// The live connections, each with its lag measured now.
    pub fn connection_infos(&self) -> Vec<super::ConnectionInfo> {
        let live = self.connections.live();
        self.read(|d| live.iter().map(|c| c.info(d)).collect())
    }

    /// The limits sync messages and imports are checked against.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The document's ID.
    pub fn id(&self) -> &DocId {
        &self.id
    }

    /// A receiver that sees the version move after durable changes: at once
    /// after a quiet spell, at most once per burst window during a burst
    /// (see [`super::wake`]).
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }

    /// How many subscribers are watching (for tests and diagnostics).
    pub fn subscriber_count(&self) -> usize {
        self.version.receiver_count()
    }

    /// Whether the document was deleted; connections end when it is.
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// Whether a write to this document (or its load) took
    /// [`super::SLOW_WRITE`] or more lately: then its drivers work on the
    /// blocking pool, not the runtime (see `hub::cost`).
    pub fn is_slow_to_change(&self) -> bool {
        self.write_cost.is_slow()
    }

    /// Notes work on this document that took `took` outside a write (its
    /// load), for [`Document::is_slow_to_change`].
    pub(crate) fn note_work(&self, took: std::time::Duration) {
        self.write_cost.wrote(took);
    }

    pub(crate) fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
        self.version.wake_now();
    }

    fn lock(&self) -> MutexGuard<'_, Automerge> {
        // Every write path leaves the document consistent before it can panic
        // (Automerge applies changes atomically), so poisoning is recoverable.
        self.doc.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the document.
    pub fn read<T>(&self, f: impl FnOnce(&Automerge) -> T) -> T {
        f(&self.lock())
    }

    /// The current heads.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.lock().get_heads()
    }

    /// How many recent changes the document keeps for its live peers, and
    /// the memory they take (see [`RecentChanges`]).
    pub fn recent_changes_kept(&self) -> (usize, usize) {
        let recent = self.recent();
        (recent.len(), recent.footprint())
    }

    /// Lets the log of recent changes shrink to its newest `keep` changes:
    /// called once the document has been idle a while, so an open document
    /// nobody edits holds a few kilobytes for its peers, not megabytes.
    pub fn trim_recent_changes(&self, keep: usize) {
        self.recent().keep_newest(keep);
    }

    /// The whole document, saved (compressed `.automerge` bytes).
    pub fn save(&self) -> Vec<u8> {
        self.lock().save()
    }

    /// The document as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        let doc = self.lock();
        serde_json::to_value(automerge::AutoSerde::from(&*doc)).unwrap_or(serde_json::Value::Null)
    }

    /// Everything the peer behind `session` needs now, as encoded lines the
    /// peer can read (split for peers with short lines, see
    /// [`SyncSession::generate_split`]). Empty when the peer is up to date or
    /// a message is still in flight. An error means a change cannot reach
    /// this peer at all; the connection should end with it.
    pub fn pending_lines(
        &self,
        session: &mut SyncSession,
    ) -> Result<Vec<bytes::Bytes>, SplitError> {
        let doc = self.lock();
        let recent = self.recent();
        let mut lines = Vec::new();
        loop {
            let messages = session.generate_split(&doc, &recent)?;
            if messages.is_empty() {
                return Ok(lines);
            }
            lines.extend(
                messages
                    .into_iter()
                    .map(|m| crate::protocol::line::encode_sync(&m.encode())),
            );
        }
    }

    /// Everything the peer behind `session` needs now, as encoded Automerge
    /// sync messages (for transports that frame messages themselves, like
    /// automerge-repo's WebSocket). Empty when the peer is up to date or a
    /// message is still in flight.
    pub fn pending_messages(&self, session: &mut SyncSession) -> Vec<bytes::Bytes> {
        let doc = self.lock();
        let recent = self.recent();
        let mut messages = Vec::new();
        while let Some(message) = session.generate_from(&doc, &recent) {
            messages.push(bytes::Bytes::from(message.encode()));
        }
        messages
    }

    /// Runs `f` with the document and the session locked together (for checks
    /// that must see a consistent pair).
    pub fn with_session<T>(
        &self,
        session: &mut SyncSession,
        f: impl FnOnce(&Automerge, &mut SyncSession) -> T,
    ) -> T {
        f(&self.lock(), session)
    }

    /// Applies a message from the peer behind `session`. Any new changes are
    /// stored before anyone is woken. Returns whether the document changed.
    pub fn receive(&self, session: &mut SyncSession, message: Message) -> Result<bool, DocError> {
        self.receive_many(session, vec![message])
    }

    /// Applies several messages from the same peer as one write (one store
    /// append, one wake-up). Those before a rejected one are kept.
    pub fn receive_many(
        &self,
        session: &mut SyncSession,
        messages: Vec<Message>,
    ) -> Result<bool, DocError> {
        // The changes as they arrived: applied without parsing them twice,
        // stored as they are (cheaper than re-encoding them with
        // `save_after`) and kept in the log of recent changes. Only for
        // messages up to a size (live editing): a cold sync goes to
        // automerge whole.
        let bytes: usize = messages
            .iter()
            .flat_map(|m| m.changes.iter())
            .map(<[u8]>::len)
            .sum();
        let parsed: Vec<Option<Vec<automerge::Change>>> = messages
            .iter()
            .map(|m| {
                (bytes < PARSE_ARRIVED_UP_TO)
                    .then(|| parse_all(&m.changes))
                    .flatten()
            })
            .collect();
        // A burst from many peers is applied once: the changes are offered
        // to the inbox, and whoever holds the lock next applies everything
        // offered so far in one batch (one pass of automerge over the
        // document, one store write, one wake-up). Each session's own receive
        // then finds its changes present.
        //
        // Only what parsed as changes is offered. A message that carries a
        // whole saved document (automerge's answer to a peer that has
        // nothing) goes to this session's own receive, which loads it once;
        // offered, it was loaded twice (by the inbox, then by the receive,
        // which could not tell it was present).
        if bytes > 0 && bytes < BIG_MESSAGE {
            let offered = (0..messages.len())
                .filter(|i| session.applies_plainly(&messages[*i]))
                .map(|i| parsed[i].clone())
                .collect::<Option<Vec<_>>>()
                .map(|runs| runs.concat());
            if let Some(changes) = offered.filter(|changes| !changes.is_empty()) {
                self.inbox().push(Offer { changes });
            }
        }
        let hashes: Vec<Option<Vec<ChangeHash>>> = parsed
            .iter()
            .map(|p| {
                p.as_ref()
                    .map(|cs| cs.iter().map(automerge::Change::hash).collect())
            })
            .collect();
        let arrived: Vec<automerge::Change> = parsed.into_iter().flatten().flatten().collect();
        let changed = self
            .mutate_with(arrived, |doc, arrived| {
                arrived.extend(self.apply_inbox(doc));
                for (message, hashes) in messages.into_iter().zip(hashes) {
                    // Applied already (from the inbox): automerge need not
                    // parse them again only to find them present.
                    let present =
                        hashes.is_some_and(|hs| !hs.is_empty() && hs.iter().all(|h| holds(doc, h)));
                    session.receive_deferring_acknowledgements(doc, message, present)?;
                }
                Ok(())
            })
            .map(|(changed, ())| changed);
        if session.has_unsettled_acknowledgements() {
            let doc = self.lock();
            session.settle_acknowledgements(&doc, &self.recent());
        }
        changed
    }

    fn recent(&self) -> MutexGuard<'_, RecentChanges> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn inbox(&self) -> MutexGuard<'_, Vec<Offer>> {
        self.inbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies every change offered to the inbox in one batch. When a batch
    /// of several offers fails, none is applied: each owner applies its own
    /// again in its own receive, and the one at fault gets the error.
    /// Returns the changes that were applied.
    fn apply_inbox(&self, doc: &mut Automerge) -> Vec<automerge::Change> {
        let mut offered = std::mem::take(&mut *self.inbox());
        // Only changes new to the document count as added by this write.
        for offer in offered.iter_mut() {
            offer.changes.retain(|c| !holds(doc, &c.hash()));
        }
        if offered.len() > 1 {
            let all: Vec<automerge::Change> = offered
                .iter_mut()
                .flat_map(|o| std::mem::take(&mut o.changes))
                .collect();
            if doc.apply_changes(all.iter().cloned()).is_ok() {
                return all;
            }
            return Vec::new();
        }
        let mut applied = Vec::new();
        for offer in offered {
            if doc.apply_changes(offer.changes.iter().cloned()).is_ok() {
                applied.extend(offer.changes);
            }
        }
        applied
    }

    /// Makes a local change in one transaction (one Automerge change).
    pub fn change<T>(
        &self,
        f: impl FnOnce(&mut Transaction<'_>) -> Result<T, AutomergeError>,
    ) -> Result<T, DocError> {
        self.mutate_with(Vec::new(), |doc, arrived| {
            let now = crate::history::now_secs();
            let ok = doc
                .transact_with(|_| CommitOptions::default().with_time(now), f)
                .map_err(|failure| DocError::Automerge(failure.error))?;
            // The new change, so the write need not look for what it added.
            if let Some(change) = ok.hash.and_then(|h| doc.get_change_by_hash(&h)) {
                arrived.push(change);
            }
            Ok(ok.result)
        })
        .map(|(_, t)| t)
    }

    /// Merges saved bytes (a `.automerge` file or chunks) into the document,
    /// once they passed [`guard::check_saved`].
    pub fn load_bytes(&self, bytes: &[u8]) -> Result<bool, DocError> {
        guard::check_saved(bytes, &self.limits)?;
        self.mutate(|doc| {
            doc.load_incremental(bytes)
                .map(drop)
                .map_err(DocError::from)
        })
        .map(|(changed, ())| changed)
    }

    /// Makes sure the document exists in the store (and so in listings)
    /// even while it holds no change: an imported empty document is a
    /// document, not nothing. No effect once anything was stored.
    pub fn store_if_new(&self) -> Result<(), DocError> {
        if self.is_deleted() {
            return Err(DocError::Deleted(self.id.clone()));
        }
        let already = self
            .listed_title
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if already {
            return Ok(());
        }
        let doc = self.lock();
        if !doc.get_heads().is_empty() {
            return Ok(());
        }
        let info = doc_info(&doc);
        self.store.compact(&self.id, &doc.save(), &info)?;
        drop(doc);
        self.announce_if_listing_changed(info.title);
        Ok(())
    }

    /// The one write path: run `f`, store whatever it added, then wake subscribers.
    fn mutate<T>(
        &self,
        f: impl FnOnce(&mut Automerge) -> Result<T, DocError>,
    ) -> Result<(bool, T), DocError> {
        self.mutate_with(Vec::new(), |doc, _| f(doc))
    }

    /// [`Document::mutate`], told which changes `f` is expected to add
    /// (`arrived`, to which `f` may add more): when they are exactly what it
    /// added, they are stored as they are instead of being encoded again
    /// from the document.
    fn mutate_with<T>(
        &self,
        mut arrived: Vec<automerge::Change>,
        f: impl FnOnce(&mut Automerge, &mut Vec<automerge::Change>) -> Result<T, DocError>,
    ) -> Result<(bool, T), DocError> {
        if self.is_deleted() {
            return Err(DocError::Deleted(self.id.clone()));
        }
        let started = tokio::time::Instant::now();
        let mut doc = self.lock();
        let before = doc.get_heads();
        let count_before = doc.stats().num_changes;
        arrived.retain(|c| !holds(&doc, &c.hash()));
        let applying = std::time::Instant::now();
        let result = f(&mut doc, &mut arrived);
        self.write_cost.wrote(applying.elapsed());
        let after = doc.get_heads();
        if after == before {
            return result.map(|t| (false, t));
        }
        // Whatever `f` added is kept only once stored — even if `f` then failed
        // part-way, what it applied is consistent and worth keeping.
        let info = doc_info(&doc);
        // A document that was empty is stored as one compressed snapshot:
        // `save_after(&[])` would encode every change on its own, which for a
        // long history is as slow as the sync and up to 200× larger.
        let (stored, written, added) = if before.is_empty() {
            let snapshot = doc.save();
            let written = snapshot.len();
            let stored = self
                .store
                .compact(&self.id, &snapshot, &info)
                .map(|()| crate::store::Backlog::default());
            // Counting a big first load's changes means listing them all
            // (0.18 s on the editing trace, 130 KB saved): not worth it there.
            let added = if written <= COUNT_FIRST_WRITE_UP_TO {
                added_since(&doc, &before).len()
            } else {
                arrived.len()
            };
            // The log follows changes, not whole documents.
            self.recent().forget_all();
            (stored, written, added)
        } else {
            let added = added_by(&doc, &before, count_before, &arrived);
            // What `save_after` would store, kept parsed for the log.
            let (chunk, encoded) = match added_as_arrived(&added, &arrived) {
                Some(chunk) => (chunk, None),
                None => {
                    let changes = doc.get_changes(&before);
                    let chunk = changes
                        .iter()
                        .flat_map(|c| c.raw_bytes().to_vec())
                        .collect();
                    (chunk, Some(changes))
                }
            };
            let stored = self.store.append(&self.id, &chunk, &info);
            if stored.is_ok() {
                self.remember(&added, encoded.as_deref().unwrap_or(&arrived));
            }
            (stored, chunk.len(), added.len())
        };
        match stored {
            Ok(backlog) => {
                self.activity.wrote(added, written);
                drop(doc);
                self.version.wrote(started);
                self.announce_if_listing_changed(info.title);
                if backlog.wants_compaction() {
                    self.compact_in_background();
                }
                result.map(|t| (true, t))
            }
            Err(e) => {
                tracing::error!(doc = %self.id, error = %e, "could not store a change; rolling it back");
                if let Ok(rolled_back) = doc.fork_at(&before) {
                    *doc = rolled_back;
                }
                Err(e.into())
            }
        }
    }

    /// Tells the hub's listeners when this document's listing changed: at
    /// once when it first appears or its title changes; for its size and
    /// last-update time at most once per [`LISTING_REFRESH`], the last write
    /// of a burst always announced (at the end of the window).
    fn announce_if_listing_changed(&self, title: Option<String>) {
        let title_changed = {
            let mut listed = self.listed_title.lock().unwrap_or_else(|p| p.into_inner());
            let changed = listed.as_ref() != Some(&title);
            *listed = Some(title);
            changed
        };
        let since_last = self
            .announced_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map(|at| at.elapsed());
        match since_last {
            Some(elapsed) if !title_changed && elapsed < LISTING_REFRESH => {
                self.announce_later(LISTING_REFRESH - elapsed)
            }
            _ => self.announce_listing(),
        }
    }

    fn announce_listing(&self) {
        *self.announced_at.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(std::time::Instant::now());
        let _ = self.events.send(super::HubEvent::DocsChanged);
    }

    /// One announcement after `wait`, however many writes ask for it.
    fn announce_later(&self, wait: std::time::Duration) {
        if self.announcement_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a plain thread): announce now rather than never.
            self.announcement_pending.store(false, Ordering::Release);
            self.announce_listing();
            return;
        };
        let this = self.this.clone();
        runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(doc) = this.upgrade() {
                doc.announcement_pending.store(false, Ordering::Release);
                doc.announce_listing();
            }
        });
    }

    /// Folds the stored chunks into a fresh snapshot on a blocking thread.
    ///
    /// The save and the store's replace happen under the document lock, so no
    /// chunk can be appended between them and lost by the replace.
    fn compact_in_background(&self) {
        if self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        let Some(this) = self.this.upgrade() else {
            return;
        };
        let work = move || {
            this.compact_now();
            this.compacting.store(false, Ordering::Release);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(work)),
            Err(_) => work(),
        }
    }

    /// Folds the stored chunks into a fresh snapshot now.
    pub fn compact_now(&self) {
        if self.is_deleted() {
            return;
        }
        let doc = self.lock();
        let snapshot = doc.save();
        if let Err(e) = self.store.compact(&self.id, &snapshot, &doc_info(&doc)) {
            tracing::warn!(doc = %self.id, error = %e, "compaction failed; chunks kept");
        }
    }
}

/// Messages whose changes take up to this many bytes have them parsed, to
/// be stored as they arrived and kept in the log of recent changes; bigger
/// ones (a cold sync) are encoded again from the document.
const PARSE_ARRIVED_UP_TO: usize = 1024 * 1024;

/// A first write whose snapshot is at most this big has its changes counted
/// for the activity view (larger ones: only the bytes).
const COUNT_FIRST_WRITE_UP_TO: usize = 16 * 1024;

/// The changes `doc` holds that `before` did not, with their dependencies,
/// in the order `doc` applied them: time proportional to the new changes.
fn added_since(doc: &Automerge, before: &[ChangeHash]) -> Added {
    let order: Vec<(ChangeHash, Vec<ChangeHash>)> = doc
        .get_changes_meta(before)
        .into_iter()
        .map(|c| (c.hash, c.deps))
        .collect();
    let hashes = order.iter().map(|(h, _)| *h).collect();
    Added { order, hashes }
}

/// Whether `doc` holds the change `hash`.
pub(crate) fn holds(doc: &Automerge, hash: &ChangeHash) -> bool {
    doc.get_change_meta_by_hash(hash).is_some()
}

/// How many changes of `doc` are not ancestors of `heads` (all of them when
/// `heads` is empty). Listing changes takes time in proportion to how many
/// are listed (about 0.1 s per 100,000), so the whole history is answered
/// from the change graph's count instead.
pub(crate) fn count_changes_after(doc: &Automerge, heads: &[ChangeHash]) -> usize {
    if heads.is_empty() {
        usize::try_from(doc.stats().num_changes).unwrap_or(usize::MAX)
    } else {
        doc.get_changes_meta(heads).len()
    }
}

/// What a write added to `doc` (which held `count_before` changes at
/// `before`), found from `arrived` — changes the write was given that `doc`
/// did not hold before — when exactly those are new, in an order where every
/// change follows its dependencies; otherwise from automerge
/// ([`added_since`], which walks the change graph).
fn added_by(
    doc: &Automerge,
    before: &[ChangeHash],
    count_before: u64,
    arrived: &[automerge::Change],
) -> Added {
    let count = doc.stats().num_changes.saturating_sub(count_before);
    let mut hashes = std::collections::HashSet::with_capacity(arrived.len());
    let candidates: Vec<&automerge::Change> = arrived
        .iter()
        .filter(|c| hashes.insert(c.hash()))
        .filter(|c| holds(doc, &c.hash()))
        .collect();
    if candidates.len() as u64 != count {
        return added_since(doc, before);
    }
    let hashes: std::collections::HashSet<ChangeHash> =
        candidates.iter().map(|c| c.hash()).collect();
    let mut order = Vec::with_capacity(candidates.len());
    let mut placed = std::collections::HashSet::with_capacity(candidates.len());
    let mut waiting = candidates;
    while !waiting.is_empty() {
        let left = waiting.len();
        waiting.retain(|c| {
            let ready = c
                .deps()
                .iter()
                .all(|d| !hashes.contains(d) || placed.contains(d));
            if ready {
                placed.insert(c.hash());
                order.push((c.hash(), c.deps().to_vec()));
            }
            !ready
        });
        if waiting.len() == left {
            return added_since(doc, before);
        }
    }
    Added { order, hashes }
}

/// What one write added to a document (see [`added_since`]).
struct Added {
    order: Vec<(ChangeHash, Vec<ChangeHash>)>,
    hashes: std::collections::HashSet<ChangeHash>,
}

impl Added {
    fn len(&self) -> usize {
        self.order.len()
    }
}

/// Every change in a message's `chunks` (each one change, or several joined
/// as in a v2 sync message), parsed; `None` when any chunk is not a clean
/// run of changes (automerge then reads the bytes itself and says why).
fn parse_all(chunks: &automerge::sync::ChunkList) -> Option<Vec<automerge::Change>> {
    let mut changes = Vec::new();
    for chunk in chunks.iter() {
        for one in split_chunks(chunk)? {
            changes.push(automerge::Change::from_bytes(one.to_vec()).ok()?);
        }
    }
    Some(changes)
}

impl Document {
    /// Adds what a write added to the log of recent changes, with their
    /// bytes from `changes` (as they arrived, or as stored); a change
    /// missing there empties the log (its peers are then served by
    /// automerge until the log has their place again).
    fn remember(&self, added: &Added, changes: &[automerge::Change]) {
        let mut recent = self.recent();
        if added.len() > crate::protocol::recent::MAX_ENTRIES {
            recent.forget_all();
            return;
        }
        let by_hash: std::collections::HashMap<ChangeHash, &automerge::Change> =
            changes.iter().map(|c| (c.hash(), c)).collect();
        for (hash, deps) in &added.order {
            let Some(change) = by_hash.get(hash) else {
                recent.forget_all();
                return;
            };
            let bytes = bytes::Bytes::copy_from_slice(change.raw_bytes());
            recent.push(*hash, deps, bytes);
        }
    }
}

/// The `added` changes (see [`added_since`]), encoded from `arrived` when
/// that holds every one of them; `None` when it does not (some came from an
/// earlier message, or arrived as a whole document).
///
/// This avoids `save_after`, which also scans the document's operations
/// (0.44 ms per change on the editing trace, 0.04 ms on a 50k-change prefix).
fn added_as_arrived(added: &Added, arrived: &[automerge::Change]) -> Option<Vec<u8>> {
    if arrived.is_empty() {
        return None;
    }
    let mut stored = std::collections::HashSet::with_capacity(added.len());
    let mut bytes = Vec::new();
    for change in arrived {
        let hash = change.hash();
        if added.hashes.contains(&hash) && stored.insert(hash) {
            bytes.extend_from_slice(change.raw_bytes());
        }
    }
    (stored.len() == added.len()).then_some(bytes)
}

/// The listing facts of a document: its root `title` and heads.
pub fn doc_info(doc: &Automerge) -> DocInfo {
    DocInfo {
        title: title_of(doc),
        heads: doc.get_heads().iter().map(|h| h.to_string()).collect(),
    }
}

/// The root `title` value's first non-empty line, if it is text or a string
/// (at most 200 characters).
pub fn title_of(doc: &Automerge) -> Option<String> {
    let (value, obj) = doc.get(automerge::ROOT, "title").ok()??;
    let text = match value {
        Value::Object(ObjType::Text) => doc.text(&obj).ok()?,
        Value::Scalar(s) => s.as_str()?.to_owned(),
        _ => return None,
    };
    // The first non-empty line, trimmed: what a sidebar can show.
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(line.chars().take(200).collect())
}

/// Messages bigger than this are applied on a blocking thread, so a huge
/// first sync does not stall the runtime's other connections.
const BIG_MESSAGE: usize = 64 * 1024;

/// Applies sync messages (the payloads of consecutive lines) from the peer
/// behind `session`, in one write: one store append and one wake-up of the
/// other connections for the whole batch. Every message is checked against
/// the document's [`Limits`] before Automerge inflates anything in it.
/// Messages before a malformed or refused one are kept.
pub async fn apply_sync(
    doc: &Arc<Document>,
    session: &mut SyncSession,
    payloads: Vec<Vec<u8>>,
) -> Result<bool, SyncError> {
    let total: usize = payloads.iter().map(Vec::len).sum();
    if total < BIG_MESSAGE && !doc.is_slow_to_change() {
        return doc.apply_payloads(session, payloads);
    }
    // Checking a big message can mean inflating hundreds of MiB to measure
    // it, and a document slow to change takes long for any message: do
    // that off the runtime.
    let doc = Arc::clone(doc);
    let mut owned = std::mem::take(session);
    let (owned, result) = tokio::task::spawn_blocking(move || {
        let result = doc.apply_payloads(&mut owned, payloads);
        (owned, result)
    })
    .await
    .map_err(|e| SyncError::Internal(e.to_string()))?;
    *session = owned;
    result
}

impl Document {
    /// Applies sync payloads from the peer behind `session` as one write
    /// (see [`apply_sync`]), on the calling thread.
    pub fn apply_payloads(
        &self,
        session: &mut SyncSession,
        payloads: Vec<Vec<u8>>,
    ) -> Result<bool, SyncError> {
        let (messages, refused) = decode_checked(&payloads, self.limits());
        let changed = if messages.is_empty() {
            false
        } else {
            self.receive_many(session, messages).map_err(|e| match e {
                DocError::Automerge(e) => SyncError::Rejected(e.to_string()),
                other => SyncError::Doc(other),
            })?
        };
        match refused {
            Some(e) => Err(SyncError::Invalid(e)),
            None => Ok(changed),
        }
    }
}

/// Why a peer's sync messages were not (all) applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// A message could not be decoded or is over a limit (the peer's fault).
    #[error("{0}")]
    Invalid(String),
    /// Automerge refused a message's content (the peer's fault).
    #[error("sync message rejected: {0}")]
    Rejected(String),
    /// The document could not take the change (deleted, disk full, …).
    #[error(transparent)]
    Doc(DocError),
    /// Applying failed inside this process.
    #[error("internal error applying a message: {0}")]
    Internal(String),
}

/// Decodes and checks payloads up to the first bad one; returns the good
/// messages and why the bad one was refused.
fn decode_checked(payloads: &[Vec<u8>], limits: &Limits) -> (Vec<Message>, Option<String>) {
    let mut messages = Vec::with_capacity(payloads.len());
    for bytes in payloads {
        // Decoding copies the chunks but inflates nothing; the guard runs
        // before `receive_sync_message`, which is where Automerge inflates.
        let checked = Message::decode(bytes)
            .map_err(|e| e.to_string())
            .and_then(|m| {
                guard::check_message(&m, limits)
                    .map(|()| m)
                    .map_err(|e| e.to_string())
            });
        match checked {
            Ok(message) => messages.push(message),
            Err(e) => return (messages, Some(format!("invalid sync message: {e}"))),
        }
    }
    (messages, None)
}

#[cfg(test)]
mod tests;
