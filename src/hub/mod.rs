//! Open documents and the store behind them.
//!
//! The [`Hub`] hands out one shared [`Document`] per ID, loading it from the
//! store on first use and letting it go when the last user drops it. Everything
//! that syncs or edits a document — server connections, clients of remote
//! servers, the UI — goes through that one `Document`, which is how a change
//! from any of them reaches all the others. Each document also carries its
//! [`EphemeralBus`] (messages relayed between its connections, never stored)
//! and the registry of its live [`Connections`].

pub(crate) mod activity;
pub(crate) mod connections;
mod cost;
mod document;
pub mod ephemeral;
mod load;
pub mod presence;
mod wake;

pub use connections::{ConnectionInfo, ConnectionMeta, ConnectionStats, Connections};
pub use cost::{SLOW_FOR, SLOW_WRITE};
pub use document::{apply_sync, doc_info, title_of, DocError, Document, SyncError};
pub(crate) use document::{count_changes_after, holds};
pub use ephemeral::{Ephemeral, EphemeralBus};
pub use load::{check, Rejected};
pub use wake::{BURST_WINDOW, QUIET};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use automerge::Automerge;
use tokio::sync::broadcast;

use crate::doc_id::DocId;
use crate::protocol::guard::{self, Limits};
use crate::store::{now_ms, DocSummary, Store, StoreError, Tombstone};

/// Something that happened to the set of documents (for UIs and listings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubEvent {
    /// A document was created, changed title or was deleted: listings are stale.
    DocsChanged,
}

/// The registry of open documents.
pub struct Hub {
    store: Arc<dyn Store>,
    open: Mutex<HashMap<DocId, Weak<Document>>>,
    events: broadcast::Sender<HubEvent>,
    /// What one sync message or stored document may hold (see [`Limits`]).
    limits: Limits,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

impl Hub {
    /// A hub over `store`, with the default [`Limits`].
    pub fn new(store: Arc<dyn Store>) -> Arc<Self> {
        Self::with_limits(store, Limits::default())
    }

    /// A hub over `store` whose documents refuse sync messages, imports and
    /// stored data over `limits` before Automerge inflates them.
    pub fn with_limits(store: Arc<dyn Store>, limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            store,
            open: Mutex::new(HashMap::new()),
            events: broadcast::channel(64).0,
            limits,
        })
    }

    /// The limits every document of this hub checks its input against.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The store behind the hub.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Listens for [`HubEvent`]s.
    pub fn subscribe(&self) -> broadcast::Receiver<HubEvent> {
        self.events.subscribe()
    }

    /// Tells listeners that listings are stale.
    pub fn notify_docs_changed(&self) {
        let _ = self.events.send(HubEvent::DocsChanged);
    }

    fn open_map(&self) -> std::sync::MutexGuard<'_, HashMap<DocId, Weak<Document>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The document if it is open in memory right now.
    pub fn get_open(&self, id: &DocId) -> Option<Arc<Document>> {
        self.open_map().get(id).and_then(Weak::upgrade)
    }

    /// Opens a document, loading it from the store or starting it empty.
    /// An empty document is only written to the store once it changes.
    ///
    /// A deleted document (one with a tombstone) is not brought back:
    /// [`DocError::Tombstoned`]; [`Hub::remove_tombstone`] allows it again.
    /// Stored chunks that Automerge rejects are quarantined (the `load`
    /// module explains why), reported with an error log, and
    /// the document is saved afresh, so what is in memory is what a reload
    /// gives and no later write depends on a rejected row.
    pub fn open(&self, id: &DocId) -> Result<Arc<Document>, DocError> {
        if let Some(doc) = self.get_open(id) {
            return Ok(doc);
        }
        if let Some(tombstone) = self.store.tombstone(id)? {
            return Err(DocError::Tombstoned {
                id: id.clone(),
                tombstone,
            });
        }
        // Load outside the map lock: a big document takes a while, and other
        // documents should not wait for it.
        let (loaded, stored, load_took) = match self.store.load_parts(id)? {
            Some(parts) => {
                guard::check_saved(&parts.snapshot, &self.limits)?;
                for chunk in &parts.chunks {
                    guard::check_saved(&chunk.data, &self.limits)?;
                }
                let loading = std::time::Instant::now();
                let loaded = load::load(&parts)?;
                if !loaded.rejected.is_empty() {
                    return self.open_repairing(id);
                }
                (loaded.doc, true, loading.elapsed())
            }
            None => (Automerge::new(), false, std::time::Duration::ZERO),
        };
        let mut open = self.open_map();
        if let Some(doc) = open.get(id).and_then(Weak::upgrade) {
            return Ok(doc); // someone else won the race; use theirs
        }
        let doc = self.insert(&mut open, id, loaded, stored);
        // A document slow to load is slow to change: its first received
        // change already goes off the runtime (`hub::cost`).
        doc.note_work(load_took);
        Ok(doc)
    }

    fn insert(
        &self,
        open: &mut HashMap<DocId, Weak<Document>>,
        id: &DocId,
        loaded: Automerge,
        stored: bool,
    ) -> Arc<Document> {
        open.retain(|_, weak| weak.strong_count() > 0);
        let doc = Document::new(
            id.clone(),
            loaded,
            Arc::clone(&self.store),
            self.events.clone(),
            stored,
            self.limits,
        );
        open.insert(id.clone(), Arc::downgrade(&doc));
        doc
    }

    /// Opens a document some of whose chunks Automerge rejects: moves them to
    /// quarantine and saves what loads as a fresh snapshot.
    ///
    /// All of it happens under the map lock, after loading again: with no
    /// open `Document` for `id` nobody can append to it meanwhile, so the
    /// snapshot cannot replace a chunk it does not contain.
    fn open_repairing(&self, id: &DocId) -> Result<Arc<Document>, DocError> {
        let mut open = self.open_map();
        if let Some(doc) = open.get(id).and_then(Weak::upgrade) {
            return Ok(doc);
        }
        let Some(parts) = self.store.load_parts(id)? else {
            return Ok(self.insert(&mut open, id, Automerge::new(), false));
        };
        let loaded = load::load(&parts)?;
        for rejected in &loaded.rejected {
            tracing::error!(
                doc = %id,
                seq = rejected.seq,
                error = %rejected.error,
                "a stored change of this document is damaged; it was moved to quarantine and \
                 the document loaded without it. Run `tandem doctor` for details"
            );
            self.store.quarantine(id, rejected.seq, &rejected.error)?;
        }
        if !loaded.rejected.is_empty() {
            self.store
                .compact(id, &loaded.doc.save(), &doc_info(&loaded.doc))?;
        }
        Ok(self.insert(&mut open, id, loaded.doc, true))
    }

    /// The tombstone of `id`, if it was deleted.
    pub fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError> {
        self.store.tombstone(id)
    }

    /// Forgets the tombstone of `id`, so it can be created again; `false` if
    /// there was none.
    pub fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError> {
        self.store.remove_tombstone(id)
    }

    /// Every document open in memory right now.
    pub fn open_docs(&self) -> Vec<Arc<Document>> {
        self.open_map().values().filter_map(Weak::upgrade).collect()
    }

    /// Opens a document only if it exists (stored, or open in memory).
    /// A deleted one is [`DocError::Tombstoned`].
    pub fn open_existing(&self, id: &DocId) -> Result<Option<Arc<Document>>, DocError> {
        if let Some(doc) = self.get_open(id) {
            return Ok(Some(doc));
        }
        if let Some(tombstone) = self.store.tombstone(id)? {
            return Err(DocError::Tombstoned {
                id: id.clone(),
                tombstone,
            });
        }
        if self.store.load(id)?.is_none() {
            return Ok(None);
        }
        self.open(id).map(Some)
    }

    /// Every stored document. Documents open in memory but never written
    /// (nothing in them yet) are not listed.
    pub fn list(&self) -> Result<Vec<DocSummary>, StoreError> {
        self.store.list()
    }

    /// Deletes a document: removes it from the store and ends every
    /// connection on it. Returns whether it existed.
    pub fn delete(&self, id: &DocId) -> Result<bool, DocError> {
        let open = self.open_map().remove(id).and_then(|w| w.upgrade());
        if let Some(doc) = &open {
            doc.mark_deleted();
        }
        let existed = self.store.delete(id)? || open.is_some();
        self.notify_docs_changed();
        Ok(existed)
    }

    /// Deletes a document and leaves a tombstone, so that it is not brought
    /// back by a peer or client that still has a copy ([`Hub::open`] answers
    /// [`DocError::Tombstoned`] from now on). `everywhere` records whether the
    /// owner asked for peers to delete it too. Returns the tombstone, or
    /// `None` (and writes nothing) if there was no such document.
    pub fn delete_with_tombstone(
        &self,
        id: &DocId,
        everywhere: bool,
    ) -> Result<Option<Tombstone>, DocError> {
        let heads = match self.get_open(id) {
            Some(doc) => doc.heads().iter().map(|h| h.to_string()).collect(),
            None => match self.store.list()?.into_iter().find(|d| &d.id == id) {
                Some(summary) => summary.heads,
                None => return Ok(None),
            },
        };
        let tombstone = Tombstone {
            deleted_at_ms: now_ms(),
            heads,
            everywhere,
        };
        // The tombstone first: an open racing with the delete then finds it.
        self.store.put_tombstone(id, &tombstone)?;
        self.delete(id)?;
        Ok(Some(tombstone))
    }

    /// Saves every open document's snapshot and checkpoints the store.
    pub fn flush(&self) -> Result<(), StoreError> {
        let docs: Vec<_> = self.open_map().values().filter_map(Weak::upgrade).collect();
        for doc in docs {
            doc.compact_now();
        }
        self.store.flush()
    }
}

impl DocError {
    /// Its [`Code`](crate::error_code::Code), the same over HTTP and IPC.
    pub fn code(&self) -> crate::error_code::Code {
        use crate::error_code::Code;
        match self {
            DocError::Automerge(_) | DocError::Refused(_) => Code::BadDocument,
            DocError::Deleted(_) => Code::NotFound,
            DocError::Tombstoned { .. } => Code::Deleted,
            DocError::Store(e) => e.code(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{DocInfo, Durability, MemoryStore, SqliteStore};
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;

    fn id(s: &str) -> DocId {
        DocId::parse(s).unwrap()
    }

    fn put(doc: &Document, key: &str, value: &str) -> Result<(), DocError> {
        doc.change(|tx| tx.put(automerge::ROOT, key, value))
    }

    fn keys(doc: &Document) -> Vec<String> {
        doc.read(|d| d.keys(automerge::ROOT).collect())
    }

    #[tokio::test]
    async fn listings_hear_of_size_changes_promptly_and_at_most_once_a_second() {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let mut events = hub.subscribe();
        let doc = hub.open(&id("notes")).unwrap();
        let began = std::time::Instant::now();
        for i in 0..20 {
            put(&doc, "n", &i.to_string()).unwrap();
        }
        // The first write is listed at once; the rest of the burst once, at
        // the end of the window, so the list shows the final size.
        let first = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await;
        assert!(matches!(first, Ok(Ok(HubEvent::DocsChanged))), "{first:?}");
        let trailing = tokio::time::timeout(std::time::Duration::from_secs(5), events.recv()).await;
        assert!(
            matches!(trailing, Ok(Ok(HubEvent::DocsChanged))),
            "{trailing:?}"
        );
        assert!(began.elapsed() >= document::LISTING_REFRESH / 2);
        let more =
            tokio::time::timeout(std::time::Duration::from_millis(1500), events.recv()).await;
        assert!(
            more.is_err(),
            "a burst of 20 writes announced more than twice: {more:?}"
        );
    }

    #[test]
    fn a_damaged_row_is_quarantined_and_later_writes_survive_a_reload() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let notes = id("notes");
        {
            let doc = Hub::new(store.clone()).open(&notes).unwrap();
            put(&doc, "a", "1").unwrap();
            put(&doc, "b", "2").unwrap();
        }
        store
            .append(&notes, b"\x85\x6f\x4a\x83garbage", &DocInfo::default())
            .unwrap();
        let doc = Hub::new(store.clone()).open(&notes).unwrap();
        assert_eq!(keys(&doc), ["a", "b"]);
        let quarantined = store.quarantined().unwrap();
        assert_eq!(quarantined.len(), 1, "{quarantined:?}");
        put(&doc, "c", "3").unwrap();
        drop(doc);
        let doc = Hub::new(store.clone()).open(&notes).unwrap();
        assert_eq!(
            keys(&doc),
            ["a", "b", "c"],
            "the write after the repair stuck"
        );
        assert_eq!(store.quarantined().unwrap().len(), 1);
    }

    #[test]
    fn a_tombstoned_document_is_not_reopened_until_its_tombstone_is_removed() {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let gone = id("gone");
        let doc = hub.open(&gone).unwrap();
        put(&doc, "k", "v").unwrap();
        let heads: Vec<String> = doc.heads().iter().map(|h| h.to_string()).collect();
        let tombstone = hub.delete_with_tombstone(&gone, true).unwrap().unwrap();
        assert_eq!((tombstone.heads, tombstone.everywhere), (heads, true));
        assert!(doc.is_deleted());
        assert!(put(&doc, "k", "again").is_err());
        drop(doc);
        assert!(matches!(hub.open(&gone), Err(DocError::Tombstoned { .. })));
        assert!(matches!(
            hub.open_existing(&gone),
            Err(DocError::Tombstoned { .. })
        ));
        assert!(hub.tombstone(&gone).unwrap().is_some());
        assert!(hub.list().unwrap().is_empty());
        assert_eq!(
            hub.delete_with_tombstone(&id("never"), false).unwrap(),
            None
        );
        assert!(hub.remove_tombstone(&gone).unwrap());
        assert!(
            keys(&hub.open(&gone).unwrap()).is_empty(),
            "a new, empty document"
        );
    }

    #[test]
    fn a_change_that_does_not_fit_on_disk_is_disk_full_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let notes = id("notes");
        {
            let store = Arc::new(SqliteStore::open_dir(dir.path(), Durability::Process).unwrap());
            let hub = Hub::new(store.clone());
            let doc = hub.open(&notes).unwrap();
            put(&doc, "a", "1").unwrap();
            put(&doc, "b", "2").unwrap();
            let heads = doc.heads();
            store.set_max_page_count(store.page_count());
            // Random text does not compress, so it needs new pages.
            let big: String = (0..200_000)
                .map(|i| char::from(b'a' + ((i * 7919 + i / 13) % 26) as u8))
                .collect();
            let err = put(&doc, "big", &big).unwrap_err();
            assert!(
                matches!(&err, DocError::Store(e) if e.is_disk_full()),
                "{err:?}"
            );
            assert_eq!(doc.heads(), heads, "the failed change is rolled back");
            assert_eq!(keys(&doc), ["a", "b"]);
        }
        let hub = Hub::new(Arc::new(
            SqliteStore::open_dir(dir.path(), Durability::Process).unwrap(),
        ));
        assert_eq!(keys(&hub.open(&notes).unwrap()), ["a", "b"]);
    }

    #[test]
    fn a_document_slow_to_load_counts_as_slow_to_change_from_the_start() {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let long = id("long");
        {
            let doc = hub.open(&long).unwrap();
            doc.change(|tx| {
                let text = tx.put_object(automerge::ROOT, "text", automerge::ObjType::Text)?;
                tx.splice_text(&text, 0, 0, &"a".repeat(100_000))
            })
            .unwrap();
        } // closed: the next open loads it from the store
        assert!(hub.get_open(&long).is_none());
        let doc = hub.open(&long).unwrap();
        assert!(
            doc.is_slow_to_change(),
            "loading 100,000 characters took over {SLOW_WRITE:?}: the first received change \
             must already go off the runtime"
        );
    }
}
