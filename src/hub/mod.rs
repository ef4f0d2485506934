//! Open documents and the store behind them.
//!
//! The [`Hub`] hands out one shared [`Document`] per ID, loading it from the
//! store on first use and letting it go when the last user drops it. Everything
//! that syncs or edits a document — server connections, clients of remote
//! servers, the UI — goes through that one `Document`, which is how a change
//! from any of them reaches all the others.

mod document;

pub use document::{apply_sync, doc_info, title_of, DocError, Document};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use automerge::{Automerge, LoadOptions, OnPartialLoad};
use tokio::sync::broadcast;

use crate::doc_id::DocId;
use crate::protocol::guard::{self, Limits};
use crate::store::{DocSummary, Store, StoreError};

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
    pub fn open(&self, id: &DocId) -> Result<Arc<Document>, DocError> {
        if let Some(doc) = self.get_open(id) {
            return Ok(doc);
        }
        // Load outside the map lock: a big document takes a while, and other
        // documents should not wait for it.
        let (loaded, stored) = match self.store.load(id)? {
            Some(bytes) => {
                guard::check_saved(&bytes, &self.limits)?;
                (load_tolerant(id, &bytes)?, true)
            }
            None => (Automerge::new(), false),
        };
        let mut open = self.open_map();
        if let Some(doc) = open.get(id).and_then(Weak::upgrade) {
            return Ok(doc); // someone else won the race; use theirs
        }
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
        Ok(doc)
    }

    /// Opens a document only if it exists (stored, or open in memory).
    pub fn open_existing(&self, id: &DocId) -> Result<Option<Arc<Document>>, DocError> {
        if let Some(doc) = self.get_open(id) {
            return Ok(Some(doc));
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

    /// Saves every open document's snapshot and checkpoints the store.
    pub fn flush(&self) -> Result<(), StoreError> {
        let docs: Vec<_> = self.open_map().values().filter_map(Weak::upgrade).collect();
        for doc in docs {
            doc.compact_now();
        }
        self.store.flush()
    }
}

/// Loads stored bytes, keeping whatever valid prefix there is if the tail is
/// damaged (a single-file store whose process died mid-append).
fn load_tolerant(id: &DocId, bytes: &[u8]) -> Result<Automerge, DocError> {
    match Automerge::load(bytes) {
        Ok(doc) => Ok(doc),
        Err(strict) => {
            let doc = Automerge::load_with_options(
                bytes,
                LoadOptions::new().on_partial_load(OnPartialLoad::Ignore),
            )
            .map_err(|_| DocError::Automerge(strict))?;
            tracing::warn!(doc = %id, "stored document had a damaged tail; loaded the valid part");
            Ok(doc)
        }
    }
}
