//! Where documents live between runs.
//!
//! A [`Store`] keeps, per document, a snapshot plus the incremental chunks
//! appended since; loading concatenates them (Automerge loads a saved document
//! followed by change chunks). [`SqliteStore`] is the embedded default,
//! [`MemoryStore`] its in-memory twin for tests and scratch use,
//! [`PgStore`] the shared PostgreSQL database of a cluster of servers, and
//! [`FileStore`] keeps a single document in a `.automerge` file (the CLI's
//! `sync --file`). The durability contract (PROTOCOL.md §3) rests on
//! [`Store::append`] returning only once the chunk is written.

mod file;
pub(crate) mod location;
mod lock;
mod memory;
pub mod perms;
mod pg_pool;
mod pg_schema;
mod pg_store;
mod pg_tokens;
mod sqlite;

pub use file::FileStore;
pub use location::default_data_dir;
pub use lock::DirLock;
pub use memory::MemoryStore;
pub use pg_store::PgStore;
pub use pg_tokens::{AddTokenError, StoredToken};
pub use sqlite::{Durability, SqliteStore};

use crate::doc_id::DocId;

/// What a listing shows of a stored document.
#[derive(Debug, Clone, PartialEq, serde::Serialize, ts_rs::TS)]
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
    /// PostgreSQL reported an error, or could not be reached.
    #[error("PostgreSQL error while trying to {op}: {source}")]
    Postgres {
        /// What the store was doing.
        op: &'static str,
        /// The underlying error.
        #[source]
        source: postgres::Error,
    },
    /// Another node of the cluster owns the document now: the write was refused.
    #[error("document {doc} is now served by another node ({holder}); reconnect to be redirected")]
    NotOwner {
        /// The document.
        doc: String,
        /// The node holding its lease.
        holder: String,
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
    /// Another process holds the data directory's lock.
    #[error("another Tandem is already using {dir} ({}); stop it or pass another --data-dir", pid_text(.pid))]
    Locked {
        /// The data directory.
        dir: String,
        /// The process holding it, as it wrote into the lock file.
        pid: Option<u32>,
    },
    /// A write failed because the disk (or the database's size limit) is full;
    /// nothing of the failed write was kept.
    #[error("the disk holding {path} is full; free some space and try again")]
    DiskFull {
        /// The file that could not grow.
        path: String,
    },
}

fn pid_text(pid: &Option<u32>) -> String {
    pid.map_or_else(|| "pid unknown".to_owned(), |pid| format!("pid {pid}"))
}

impl StoreError {
    /// Its [`Code`](crate::error_code::Code): a full disk, a document another
    /// cluster node owns, or an internal failure.
    pub fn code(&self) -> crate::error_code::Code {
        use crate::error_code::Code;
        match self {
            Self::DiskFull { .. } => Code::DiskFull,
            Self::NotOwner { .. } => Code::Unavailable,
            _ => Code::Internal,
        }
    }

    /// Whether the failure was a full disk (HTTP 507 at the edge).
    pub fn is_disk_full(&self) -> bool {
        matches!(self, Self::DiskFull { .. })
    }

    /// A PostgreSQL failure, as [`StoreError::DiskFull`] when the database's
    /// disk is full (SQLSTATE 53100).
    pub(crate) fn postgres(op: &'static str, source: postgres::Error) -> Self {
        if source.code() == Some(&postgres::error::SqlState::DISK_FULL) {
            return Self::DiskFull {
                path: "the PostgreSQL database".into(),
            };
        }
        Self::Postgres { op, source }
    }

    /// Whether another cluster node owns the document (HTTP 503: reconnect).
    pub fn is_not_owner(&self) -> bool {
        matches!(self, Self::NotOwner { .. })
    }

    /// An I/O failure on `path`, as [`StoreError::DiskFull`] when the disk is full.
    pub(crate) fn io(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        let path = path.display().to_string();
        if source.kind() == std::io::ErrorKind::StorageFull {
            Self::DiskFull { path }
        } else {
            Self::Io { op, path, source }
        }
    }
}

/// The record left behind by a deleted document, so that a peer or a client
/// still holding a copy does not silently bring it back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tombstone {
    /// When the document was deleted, in milliseconds since the Unix epoch.
    pub deleted_at_ms: i64,
    /// The document's heads (hex) when it was deleted.
    pub heads: Vec<String>,
    /// Whether the owner asked for it to be deleted on peers too ("delete
    /// everywhere") rather than only here.
    pub everywhere: bool,
}

/// A document's stored bytes, row by row, so that one damaged row can be set
/// aside without losing the others.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoredDoc {
    /// The snapshot (a saved document), empty if none.
    pub snapshot: Vec<u8>,
    /// The chunks appended since, in order.
    pub chunks: Vec<StoredChunk>,
}

/// One appended chunk.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChunk {
    /// Its position in the store (increasing with every append).
    pub seq: i64,
    /// Change chunks, as from `Automerge::save_after`.
    pub data: Vec<u8>,
}

/// A chunk that Automerge rejected on load, moved aside instead of deleted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct QuarantinedRow {
    /// The document it belonged to.
    pub doc_id: String,
    /// Its position among the document's chunks.
    pub seq: i64,
    /// Its size in bytes.
    pub size: u64,
    /// Why it was rejected.
    pub error: String,
    /// When it was quarantined, in milliseconds since the Unix epoch.
    pub quarantined_ms: i64,
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
    /// The document's stored rows (snapshot, then each chunk on its own), or
    /// `None` if unknown. Stores without rows return everything as the snapshot.
    fn load_parts(&self, id: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        Ok(self.load(id)?.map(|snapshot| StoredDoc {
            snapshot,
            chunks: Vec::new(),
        }))
    }
    /// Moves the chunk `seq` of `id` out of the document into quarantine,
    /// recording `error`. A chunk already gone is not an error.
    fn quarantine(&self, id: &DocId, seq: i64, error: &str) -> Result<(), StoreError> {
        let _ = (seq, error);
        Err(StoreError::Unsupported(format!(
            "this store keeps no separate rows to quarantine for {id}"
        )))
    }
    /// Every quarantined chunk, by document then position.
    fn quarantined(&self) -> Result<Vec<QuarantinedRow>, StoreError> {
        Ok(Vec::new())
    }
    /// Records that `id` was deleted (replacing any earlier tombstone).
    fn put_tombstone(&self, id: &DocId, tombstone: &Tombstone) -> Result<(), StoreError>;
    /// The tombstone of `id`, if it was deleted and not brought back since.
    fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError>;
    /// Forgets the tombstone of `id` (the owner recreates the document);
    /// `false` if there was none.
    fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError>;
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
