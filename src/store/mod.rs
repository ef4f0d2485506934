//! Where documents live between runs.
//!
//! A [`Store`] keeps, per document, a snapshot plus the incremental chunks
//! appended since; loading concatenates them (Automerge loads a saved document
//! followed by change chunks). [`SqliteStore`] is the embedded default,
//! [`MemoryStore`] its in-memory twin for tests and scratch use, and
//! [`FileStore`] keeps a single document in a `.automerge` file (the CLI's
//! `sync --file`). The durability contract (PROTOCOL.md §3) rests on
//! [`Store::append`] returning only once the chunk is written.

mod file;
mod memory;
mod sqlite;

pub use file::FileStore;
pub use memory::MemoryStore;
pub use sqlite::{Durability, SqliteStore};

use crate::doc_id::DocId;

/// What a listing shows of a stored document.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DocSummary {
    /// The document's ID.
    pub id: DocId,
    /// The root `title` value, if the document has a text or string one.
    pub title: Option<String>,
    /// The document's heads, hex-encoded.
    pub heads: Vec<String>,
    /// Bytes on disk (snapshot plus pending chunks).
    pub size: u64,
    /// When the document last changed, in milliseconds since the Unix epoch.
    pub updated: i64,
}

/// Facts about the document that the store keeps next to its bytes, so that
/// listing needs no document to be loaded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DocInfo {
    /// The root `title`, if any.
    pub title: Option<String>,
    /// Hex-encoded heads after the write.
    pub heads: Vec<String>,
}

/// How much has piled up since the last snapshot; the document layer uses it
/// to decide when to compact.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Chunks appended since the snapshot.
    pub chunks: u64,
    /// Their total size in bytes.
    pub chunk_bytes: u64,
    /// The snapshot's size in bytes.
    pub snapshot_bytes: u64,
}

impl Backlog {
    /// Whether the chunks are worth folding into a new snapshot: many of them,
    /// or more bytes than the snapshot itself.
    pub fn wants_compaction(&self) -> bool {
        self.chunks >= 1000
            || (self.chunks >= 16 && self.chunk_bytes > self.snapshot_bytes.max(64 * 1024))
    }
}

/// A storage failure, with the operation that hit it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error while trying to {op}: {source}")]
    Database {
        /// What the store was doing.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What the store was doing.
        op: &'static str,
        /// The file concerned.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The store cannot hold this document (a single-file store asked for another ID).
    #[error("{0}")]
    Unsupported(String),
}

/// Persistent storage for documents, per-peer sync states and settings.
///
/// Implementations are synchronous and fast for small writes; callers on an
/// async runtime keep them off hot loops or accept a short block.
pub trait Store: Send + Sync + 'static {
    /// The document's stored bytes (snapshot then chunks), or `None` if unknown.
    fn load(&self, id: &DocId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Durably appends an incremental chunk (as from `Automerge::save_after`),
    /// creating the document if needed. Returns the backlog since the snapshot.
    fn append(&self, id: &DocId, chunk: &[u8], info: &DocInfo) -> Result<Backlog, StoreError>;
    /// Replaces everything stored for the document with `snapshot`.
    fn compact(&self, id: &DocId, snapshot: &[u8], info: &DocInfo) -> Result<(), StoreError>;
    /// Every stored document.
    fn list(&self) -> Result<Vec<DocSummary>, StoreError>;
    /// Removes a document and its sync states; `false` if it was not there.
    fn delete(&self, id: &DocId) -> Result<bool, StoreError>;
    /// A saved sync state for `(id, peer)`.
    fn load_sync_state(&self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Saves a sync state for `(id, peer)`.
    fn save_sync_state(&self, id: &DocId, peer: &str, state: &[u8]) -> Result<(), StoreError>;
    /// A setting (JSON text) by key.
    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Stores a setting (JSON text); `None` removes it.
    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError>;
    /// Makes everything written so far durable and tidy (checkpoint); called at shutdown.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
