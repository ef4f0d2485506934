//! The embedded store: one SQLite database (bundled library) in WAL mode.
//!
//! Why SQLite: a single file per data directory, atomic transactions, crash
//! safety that is decades old, and readers (`tandem docs`) that never block the
//! server. Each appended chunk is its own row committed in its own
//! transaction; with WAL and `synchronous=NORMAL` a commit survives the process
//! being killed (the WAL is written before `append` returns) but not a power
//! cut; `Durability::Full` fsyncs every commit for that.
//!
//! A server holds the data directory's [`DirLock`] for the store's lifetime
//! (two servers would compact each other's changes away); the directory is
//! `0700` and the database files `0600` (see [`super::perms`]). A chunk that
//! Automerge rejects is moved to the `quarantine` table rather than deleted,
//! and a full disk is reported as [`StoreError::DiskFull`].
//!
//! Slightly over 500 lines: one store over one SQLite file; its tests live in sqlite/tests.rs.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use super::{
    now_ms, perms, Backlog, DirLock, DocInfo, DocSummary, QuarantinedRow, Store, StoreError,
    StoredChunk, StoredDoc, Tombstone,
};
use crate::doc_id::DocId;

/// How hard each commit works to stay on disk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// Survives the process being killed (WAL, `synchronous=NORMAL`).
    #[default]
    Process,
    /// Also survives a power cut: fsync on every commit (`synchronous=FULL`).
    Full,
}

/// The SQLite-backed [`Store`].
pub struct SqliteStore {
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Held (not read) for as long as the store is open.
    _lock: Option<DirLock>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS docs (
    id TEXT PRIMARY KEY,
    title TEXT,
    heads TEXT NOT NULL DEFAULT '[]',
    snapshot BLOB,
    snapshot_size INTEGER NOT NULL DEFAULT 0,
    chunk_count INTEGER NOT NULL DEFAULT 0,
    chunk_size INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    doc_id TEXT NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_doc ON chunks(doc_id, seq);
CREATE TABLE IF NOT EXISTS sync_states (
    doc_id TEXT NOT NULL,
    peer TEXT NOT NULL,
    state BLOB NOT NULL,
    PRIMARY KEY (doc_id, peer)
);
CREATE TABLE IF NOT EXISTS settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    doc_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    error TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    PRIMARY KEY (doc_id, seq)
);
CREATE TABLE IF NOT EXISTS tombstones (
    doc_id TEXT PRIMARY KEY,
    deleted_ms INTEGER NOT NULL,
    heads TEXT NOT NULL,
    everywhere INTEGER NOT NULL
);
";

/// Turns a SQLite error into a [`StoreError`]: a full disk (or a database at
/// its size limit) becomes [`StoreError::DiskFull`] naming `path`.
fn db<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + 'a {
    move |source| match &source {
        rusqlite::Error::SqliteFailure(e, _) if e.code == rusqlite::ErrorCode::DiskFull => {
            StoreError::DiskFull {
                path: path.display().to_string(),
            }
        }
        _ => StoreError::Database { op, source },
    }
}

impl SqliteStore {
    /// The database file name inside a data directory.
    pub const FILE_NAME: &'static str = "tandem.sqlite3";

    /// Opens (creating if needed) the store in `data_dir` for a server: takes
    /// the directory's lock for the store's lifetime, so a second one fails
    /// with [`StoreError::Locked`]. The directory is made `0700`.
    pub fn open_dir(data_dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::open_in(data_dir, durability, true)
    }

    /// Opens the store in `data_dir` without the lock, for short-lived tools
    /// that may run next to a server (`tandem docs`, `tandem doctor`,
    /// `tandem share --data-dir`): SQLite keeps their reads and small writes
    /// consistent with the server's.
    pub fn open_dir_unlocked(data_dir: &Path, durability: Durability) -> Result<Self, StoreError> {
        Self::open_in(data_dir, durability, false)
    }

    fn open_in(data_dir: &Path, durability: Durability, lock: bool) -> Result<Self, StoreError> {
        perms::ensure_private_dir(data_dir)
            .map_err(|source| StoreError::io("create data directory", data_dir, source))?;
        let held = lock.then(|| DirLock::acquire(data_dir)).transpose()?;
        let mut store = Self::open(&data_dir.join(Self::FILE_NAME), durability)?;
        if lock {
            // Said at every start, not only when the rows were set aside.
            let quarantined = store.quarantined()?;
            if !quarantined.is_empty() {
                tracing::error!(
                    dir = %data_dir.display(),
                    count = quarantined.len(),
                    "some stored changes are damaged and quarantined; run `tandem doctor` for details"
                );
            }
        }
        store._lock = held;
        Ok(store)
    }

    /// Opens (creating if needed) the database file at `path`, with mode
    /// `0600` for it and its `-wal`/`-shm` files. Takes no lock.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StoreError> {
        // Created by us, not by SQLite, so its mode does not depend on the
        // umask; SQLite gives the -wal and -shm files the database's mode.
        perms::open_private_file(path)
            .map_err(|source| StoreError::io("create the database", path, source))?;
        let conn = Connection::open(path).map_err(db(path, "open the database"))?;
        let sync = match durability {
            Durability::Process => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON;"
        ))
        .map_err(db(path, "configure the database"))?;
        conn.execute_batch(SCHEMA)
            .map_err(db(path, "create the schema"))?;
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = PathBuf::from(name);
            perms::tighten(&file, perms::FILE_MODE)
                .map_err(|source| StoreError::io("set the mode of", &file, source))?;
        }
        Ok(Self {
            conn: Mutex::new(conn),
            path: path.to_owned(),
            _lock: None,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn err(&self, op: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError + '_ {
        db(&self.path, op)
    }

    /// Caps the database at `pages` pages (SQLite's `max_page_count`), so
    /// tests can fill the "disk".
    #[cfg(test)]
    pub(crate) fn set_max_page_count(&self, pages: u64) {
        let conn = self.conn();
        let current: u64 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap_or(0);
        conn.query_row(
            &format!("PRAGMA max_page_count = {}", pages.max(current)),
            [],
            |_| Ok(()),
        )
        .unwrap_or(());
    }

    /// The database's size in pages now (for tests that fill it).
    #[cfg(test)]
    pub(crate) fn page_count(&self) -> u64 {
        self.conn()
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap_or(0)
    }
}

fn heads_json(info: &DocInfo) -> String {
    serde_json::to_string(&info.heads).unwrap_or_else(|_| "[]".into())
}

impl Store for SqliteStore {
    fn load(&self, id: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.load_parts(id)?.map(|parts| {
            let mut bytes = parts.snapshot;
            for chunk in parts.chunks {
                bytes.extend_from_slice(&chunk.data);
            }
            bytes
        }))
    }

    fn append(&self, id: &DocId, chunk: &[u8], info: &DocInfo) -> Result<Backlog, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("append a change"))?;
        let now = now_ms();
        // One cached statement updates the listing and answers the backlog.
        let backlog = tx
            .prepare_cached(
                "INSERT INTO docs (id, title, heads, created_ms, updated_ms, chunk_count, chunk_size)
                 VALUES (?1, ?2, ?3, ?4, ?4, 1, ?5)
                 ON CONFLICT(id) DO UPDATE SET title = ?2, heads = ?3, updated_ms = ?4,
                    chunk_count = chunk_count + 1, chunk_size = chunk_size + ?5
                 RETURNING chunk_count, chunk_size, snapshot_size",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![
                        id.as_str(),
                        info.title,
                        heads_json(info),
                        now,
                        chunk.len() as i64
                    ],
                    |r| {
                        Ok(Backlog {
                            chunks: r.get::<_, i64>(0)? as u64,
                            chunk_bytes: r.get::<_, i64>(1)? as u64,
                            snapshot_bytes: r.get::<_, i64>(2)? as u64,
                        })
                    },
                )
            })
            .map_err(self.err("append a change"))?;
        tx.prepare_cached("INSERT INTO chunks (doc_id, data) VALUES (?1, ?2)")
            .and_then(|mut s| s.execute(params![id.as_str(), chunk]))
            .map_err(self.err("append a change"))?;
        tx.commit().map_err(self.err("commit a change"))?;
        Ok(backlog)
    }

    fn compact(&self, id: &DocId, snapshot: &[u8], info: &DocInfo) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("compact a document"))?;
        let now = now_ms();
        tx.execute(
            "INSERT INTO docs (id, title, heads, snapshot, snapshot_size, created_ms, updated_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6)
             ON CONFLICT(id) DO UPDATE SET title = ?2, heads = ?3, snapshot = ?4,
                snapshot_size = ?5, chunk_count = 0, chunk_size = 0",
            params![
                id.as_str(),
                info.title,
                heads_json(info),
                snapshot,
                snapshot.len() as i64,
                now
            ],
        )
        .map_err(self.err("compact a document"))?;
        tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [id.as_str()])
            .map_err(self.err("compact a document"))?;
        tx.commit().map_err(self.err("compact a document"))
    }

    fn list(&self) -> Result<Vec<DocSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, title, heads, snapshot_size + chunk_size, updated_ms FROM docs ORDER BY id",
            )
            .map_err(self.err("list documents"))?;
        let rows = stmt
            .query_map([], |r| {
                let id: String = r.get(0)?;
                let heads: String = r.get(2)?;
                Ok((id, r.get(1)?, heads, r.get::<_, i64>(3)?, r.get(4)?))
            })
            .map_err(self.err("list documents"))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, title, heads, size, updated) = row.map_err(self.err("list documents"))?;
            // IDs were validated on the way in; skip anything foreign rather than fail the list.
            let Ok(id) = DocId::parse(&id) else { continue };
            out.push(DocSummary {
                id,
                title,
                heads: serde_json::from_str(&heads).unwrap_or_default(),
                size: size as u64,
                updated,
            });
        }
        Ok(out)
    }

    fn delete(&self, id: &DocId) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err("delete a document"))?;
        let n = tx
            .execute("DELETE FROM docs WHERE id = ?1", [id.as_str()])
            .map_err(self.err("delete a document"))?;
        tx.execute("DELETE FROM chunks WHERE doc_id = ?1", [id.as_str()])
            .map_err(self.err("delete a document"))?;
        tx.execute("DELETE FROM sync_states WHERE doc_id = ?1", [id.as_str()])
            .map_err(self.err("delete a document"))?;
        tx.execute("DELETE FROM quarantine WHERE doc_id = ?1", [id.as_str()])
            .map_err(self.err("delete a document"))?;
        tx.commit().map_err(self.err("delete a document"))?;
        Ok(n > 0)
    }

    fn load_sync_state(&self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .query_row(
                "SELECT state FROM sync_states WHERE doc_id = ?1 AND peer = ?2",
                [id.as_str(), peer],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("load a sync state"))
    }

    fn save_sync_state(&self, id: &DocId, peer: &str, state: &[u8]) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO sync_states (doc_id, peer, state) VALUES (?1, ?2, ?3)
                 ON CONFLICT(doc_id, peer) DO UPDATE SET state = ?3",
                params![id.as_str(), peer, state],
            )
            .map(drop)
            .map_err(self.err("save a sync state"))
    }

    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .query_row("SELECT value FROM settings WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .map_err(self.err("read a setting"))
    }

    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let conn = self.conn();
        match value {
            Some(v) => conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT(key) DO UPDATE SET value = ?2",
                [key, v],
            ),
            None => conn.execute("DELETE FROM settings WHERE key = ?1", [key]),
        }
        .map(drop)
        .map_err(self.err("write a setting"))
    }

    fn load_parts(&self, id: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        let conn = self.conn();
        let snapshot: Option<Option<Vec<u8>>> = conn
            .query_row(
                "SELECT snapshot FROM docs WHERE id = ?1",
                [id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.err("load a document"))?;
        let Some(snapshot) = snapshot else {
            return Ok(None);
        };
        let mut stmt = conn
            .prepare_cached("SELECT seq, data FROM chunks WHERE doc_id = ?1 ORDER BY seq")
            .map_err(self.err("load a document"))?;
        let chunks = stmt
            .query_map([id.as_str()], |r| {
                Ok(StoredChunk {
                    seq: r.get(0)?,
                    data: r.get(1)?,
                })
            })
            .map_err(self.err("load a document"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("load a document"))?;
        Ok(Some(StoredDoc {
            snapshot: snapshot.unwrap_or_default(),
            chunks,
        }))
    }

    fn quarantine(&self, id: &DocId, seq: i64, error: &str) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn
            .transaction()
            .map_err(self.err("quarantine a change"))?;
        let moved = tx
            .execute(
                "INSERT OR REPLACE INTO quarantine (doc_id, seq, bytes, error, time_ms)
                 SELECT doc_id, seq, data, ?3, ?4 FROM chunks WHERE doc_id = ?1 AND seq = ?2",
                params![id.as_str(), seq, error, now_ms()],
            )
            .map_err(self.err("quarantine a change"))?;
        if moved > 0 {
            tx.execute(
                "UPDATE docs SET chunk_count = chunk_count - 1,
                    chunk_size = chunk_size - (SELECT length(data) FROM chunks WHERE seq = ?2)
                 WHERE id = ?1",
                params![id.as_str(), seq],
            )
            .map_err(self.err("quarantine a change"))?;
            tx.execute(
                "DELETE FROM chunks WHERE doc_id = ?1 AND seq = ?2",
                params![id.as_str(), seq],
            )
            .map_err(self.err("quarantine a change"))?;
        }
        tx.commit().map_err(self.err("quarantine a change"))
    }

    fn quarantined(&self) -> Result<Vec<QuarantinedRow>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT doc_id, seq, length(bytes), error, time_ms FROM quarantine
                 ORDER BY doc_id, seq",
            )
            .map_err(self.err("list quarantined changes"))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(QuarantinedRow {
                    doc_id: r.get(0)?,
                    seq: r.get(1)?,
                    size: r.get::<_, i64>(2)? as u64,
                    error: r.get(3)?,
                    quarantined_ms: r.get(4)?,
                })
            })
            .map_err(self.err("list quarantined changes"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.err("list quarantined changes"))?;
        Ok(rows)
    }

    fn put_tombstone(&self, id: &DocId, tombstone: &Tombstone) -> Result<(), StoreError> {
        let heads = serde_json::to_string(&tombstone.heads).unwrap_or_else(|_| "[]".into());
        self.conn()
            .execute(
                "INSERT INTO tombstones (doc_id, deleted_ms, heads, everywhere)
                 VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(doc_id) DO UPDATE SET deleted_ms = ?2, heads = ?3, everywhere = ?4",
                params![
                    id.as_str(),
                    tombstone.deleted_at_ms,
                    heads,
                    tombstone.everywhere
                ],
            )
            .map(drop)
            .map_err(self.err("write a tombstone"))
    }

    fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError> {
        self.conn()
            .query_row(
                "SELECT deleted_ms, heads, everywhere FROM tombstones WHERE doc_id = ?1",
                [id.as_str()],
                |r| {
                    let heads: String = r.get(1)?;
                    Ok(Tombstone {
                        deleted_at_ms: r.get(0)?,
                        heads: serde_json::from_str(&heads).unwrap_or_default(),
                        everywhere: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(self.err("read a tombstone"))
    }

    fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError> {
        self.conn()
            .execute("DELETE FROM tombstones WHERE doc_id = ?1", [id.as_str()])
            .map(|n| n > 0)
            .map_err(self.err("remove a tombstone"))
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
            .map_err(self.err("checkpoint the database"))
    }
}

#[cfg(test)]
mod tests;
