//! The PostgreSQL store, for several `tandem serve` nodes sharing one database.
//!
//! Same tables and the same rules as [`SqliteStore`](super::SqliteStore):
//! each chunk is one row committed before [`Store::append`] returns (the
//! durability rule), a snapshot replaces the chunks in one transaction,
//! damaged rows move to `quarantine`, tombstones and settings (share
//! policies) live next to the documents. The schema is versioned
//! ([`super::pg_schema`]).
//!
//! In a cluster each document has one owning node (`cluster_leases`). When a
//! node identity is set ([`PgStore::fence_as`]), writes to a document whose
//! live lease is held by another node are refused with
//! [`StoreError::NotOwner`] in the same transaction: a node that lost a
//! document (it stalled past its lease) cannot write over the new owner's
//! compaction.

use std::sync::{Arc, OnceLock};

use postgres::{Client, Transaction};

use super::pg_pool::Pool;
use super::pg_schema;
use super::{
    now_ms, Backlog, DocInfo, DocSummary, QuarantinedRow, Store, StoreError, StoredChunk,
    StoredDoc, Tombstone,
};
use crate::doc_id::DocId;

/// How many connections one store keeps.
const CONNECTIONS: usize = 4;

/// The PostgreSQL-backed [`Store`].
pub struct PgStore {
    pool: Pool,
    /// The URL without its password, for messages.
    shown: String,
    /// This node's identity, once it takes part in a cluster.
    node: Arc<OnceLock<String>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.shown)
            .finish_non_exhaustive()
    }
}

fn heads_json(heads: &[String]) -> String {
    serde_json::to_string(heads).unwrap_or_else(|_| "[]".into())
}

/// Hides the password of a `postgres://user:password@host/db` URL.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), brings the schema up
    /// to date and returns the store.
    pub fn connect(url: &str) -> Result<Self, StoreError> {
        let shown = redact(url);
        let config: postgres::Config = url.parse().map_err(|e: postgres::Error| {
            StoreError::Unsupported(format!("invalid PostgreSQL URL {shown}: {e}"))
        })?;
        let store = Self {
            pool: Pool::start(config, CONNECTIONS),
            shown,
            node: Arc::new(OnceLock::new()),
        };
        let before = store.run("prepare the schema", pg_schema::migrate)?;
        if before > pg_schema::LATEST {
            return Err(StoreError::Unsupported(format!(
                "the database {} has schema version {before}, newer than this Tandem knows ({}); upgrade Tandem",
                store.shown,
                pg_schema::LATEST
            )));
        }
        Ok(store)
    }

    /// The database URL, without its password.
    pub fn url(&self) -> &str {
        &self.shown
    }

    /// From now on, refuse writes to documents whose live lease another node
    /// holds (see the module doc). Set once; later calls are ignored.
    pub fn fence_as(&self, node_id: &str) {
        let _ = self.node.set(node_id.to_owned());
    }

    /// Runs `f` on one of the store's connections (for the cluster module,
    /// which keeps its tables in the same database).
    pub fn run<R, F>(&self, op: &'static str, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Client) -> Result<R, postgres::Error> + Send + 'static,
    {
        self.pool.run(op, f)
    }

    fn fenced_write<R, F>(&self, op: &'static str, id: &DocId, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Transaction<'_>) -> Result<R, postgres::Error> + Send + 'static,
    {
        let node = Arc::clone(&self.node);
        let doc = id.as_str().to_owned();
        let fence = PgFence { node };
        let result = self.run(op, move |c| {
            let mut tx = c.transaction()?;
            if let Some(holder) = fence.holder(&mut tx, &doc)? {
                return Ok(Err(holder));
            }
            let out = f(&mut tx)?;
            tx.commit()?;
            Ok(Ok(out))
        })?;
        result.map_err(|holder| StoreError::NotOwner {
            doc: id.as_str().to_owned(),
            holder,
        })
    }
}

/// The fencing check, movable into a connection thread.
struct PgFence {
    node: Arc<OnceLock<String>>,
}

impl PgFence {
    fn holder(
        &self,
        tx: &mut Transaction<'_>,
        id: &str,
    ) -> Result<Option<String>, postgres::Error> {
        let Some(node) = self.node.get() else {
            return Ok(None);
        };
        // FOR SHARE, whoever holds it: a node claiming the document at the
        // same time waits for this write to commit (and then loads it), or
        // this write waits for the claim and sees the new holder.
        let row = tx.query_opt(
            "SELECT node_id, expires > now() FROM cluster_leases WHERE doc_id = $1 FOR SHARE",
            &[&id],
        )?;
        Ok(row.and_then(|r| {
            let (holder, live): (String, bool) = (r.get(0), r.get(1));
            (live && holder != *node).then_some(holder)
        }))
    }
}

fn summary(row: &postgres::Row) -> Option<DocSummary> {
    let id: String = row.get(0);
    let heads: String = row.get(2);
    Some(DocSummary {
        id: DocId::parse(&id).ok()?,
        title: row.get(1),
        heads: serde_json::from_str(&heads).unwrap_or_default(),
        size: row.get::<_, i64>(3) as u64,
        updated: row.get(4),
    })
}

impl Store for PgStore {
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
        let (doc, chunk) = (id.as_str().to_owned(), chunk.to_vec());
        let (title, heads) = (info.title.clone(), heads_json(&info.heads));
        self.fenced_write("append a change", id, move |tx| {
            let size = chunk.len() as i64;
            let row = tx.query_one(
                "INSERT INTO docs (id, title, heads, created_ms, updated_ms, chunk_count, chunk_size)
                 VALUES ($1, $2, $3, $4, $4, 1, $5)
                 ON CONFLICT (id) DO UPDATE SET title = $2, heads = $3, updated_ms = $4,
                    chunk_count = docs.chunk_count + 1, chunk_size = docs.chunk_size + $5
                 RETURNING chunk_count, chunk_size, snapshot_size",
                &[&doc, &title, &heads, &now_ms(), &size],
            )?;
            tx.execute(
                "INSERT INTO chunks (doc_id, data) VALUES ($1, $2)",
                &[&doc, &chunk],
            )?;
            Ok(Backlog {
                chunks: row.get::<_, i64>(0) as u64,
                chunk_bytes: row.get::<_, i64>(1) as u64,
                snapshot_bytes: row.get::<_, i64>(2) as u64,
            })
        })
    }

    fn compact(&self, id: &DocId, snapshot: &[u8], info: &DocInfo) -> Result<(), StoreError> {
        let (doc, snapshot) = (id.as_str().to_owned(), snapshot.to_vec());
        let (title, heads) = (info.title.clone(), heads_json(&info.heads));
        self.fenced_write("compact a document", id, move |tx| {
            let size = snapshot.len() as i64;
            tx.execute(
                "INSERT INTO docs (id, title, heads, snapshot, snapshot_size, created_ms, updated_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $6)
                 ON CONFLICT (id) DO UPDATE SET title = $2, heads = $3, snapshot = $4,
                    snapshot_size = $5, chunk_count = 0, chunk_size = 0",
                &[&doc, &title, &heads, &snapshot, &size, &now_ms()],
            )?;
            tx.execute("DELETE FROM chunks WHERE doc_id = $1", &[&doc])?;
            Ok(())
        })
    }

    fn list(&self) -> Result<Vec<DocSummary>, StoreError> {
        self.run("list documents", |c| {
            let rows = c.query(
                "SELECT id, title, heads, snapshot_size + chunk_size, updated_ms FROM docs ORDER BY id COLLATE \"C\"",
                &[],
            )?;
            Ok(rows.iter().filter_map(summary).collect())
        })
    }

    fn delete(&self, id: &DocId) -> Result<bool, StoreError> {
        let doc = id.as_str().to_owned();
        self.run("delete a document", move |c| {
            let mut tx = c.transaction()?;
            let n = tx.execute("DELETE FROM docs WHERE id = $1", &[&doc])?;
            for table in ["chunks", "sync_states", "quarantine"] {
                tx.execute(&format!("DELETE FROM {table} WHERE doc_id = $1"), &[&doc])?;
            }
            tx.commit()?;
            Ok(n > 0)
        })
    }

    fn load_sync_state(&self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (doc, peer) = (id.as_str().to_owned(), peer.to_owned());
        self.run("load a sync state", move |c| {
            Ok(c.query_opt(
                "SELECT state FROM sync_states WHERE doc_id = $1 AND peer = $2",
                &[&doc, &peer],
            )?
            .map(|r| r.get(0)))
        })
    }

    fn save_sync_state(&self, id: &DocId, peer: &str, state: &[u8]) -> Result<(), StoreError> {
        let (doc, peer, state) = (id.as_str().to_owned(), peer.to_owned(), state.to_vec());
        self.run("save a sync state", move |c| {
            c.execute(
                "INSERT INTO sync_states (doc_id, peer, state) VALUES ($1, $2, $3)
                 ON CONFLICT (doc_id, peer) DO UPDATE SET state = $3",
                &[&doc, &peer, &state],
            )
            .map(drop)
        })
    }

    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let key = key.to_owned();
        self.run("read a setting", move |c| {
            Ok(
                c.query_opt("SELECT value FROM settings WHERE key = $1", &[&key])?
                    .map(|r| r.get(0)),
            )
        })
    }

    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let (key, value) = (key.to_owned(), value.map(str::to_owned));
        self.run("write a setting", move |c| {
            match value {
                Some(v) => c.execute(
                    "INSERT INTO settings (key, value) VALUES ($1, $2)
                     ON CONFLICT (key) DO UPDATE SET value = $2",
                    &[&key, &v],
                ),
                None => c.execute("DELETE FROM settings WHERE key = $1", &[&key]),
            }
            .map(drop)
        })
    }

    fn load_parts(&self, id: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        let doc = id.as_str().to_owned();
        self.run("load a document", move |c| {
            // One snapshot of the database for both reads.
            let mut tx = c
                .build_transaction()
                .isolation_level(postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            let Some(row) = tx.query_opt("SELECT snapshot FROM docs WHERE id = $1", &[&doc])?
            else {
                return Ok(None);
            };
            let snapshot: Option<Vec<u8>> = row.get(0);
            let chunks = tx
                .query(
                    "SELECT seq, data FROM chunks WHERE doc_id = $1 ORDER BY seq",
                    &[&doc],
                )?
                .iter()
                .map(|r| StoredChunk {
                    seq: r.get(0),
                    data: r.get(1),
                })
                .collect();
            tx.commit()?;
            Ok(Some(StoredDoc {
                snapshot: snapshot.unwrap_or_default(),
                chunks,
            }))
        })
    }

    fn quarantine(&self, id: &DocId, seq: i64, error: &str) -> Result<(), StoreError> {
        let (doc, error) = (id.as_str().to_owned(), error.to_owned());
        self.run("quarantine a change", move |c| {
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "DELETE FROM chunks WHERE doc_id = $1 AND seq = $2 RETURNING data",
                &[&doc, &seq],
            )?
            else {
                return tx.commit();
            };
            let data: Vec<u8> = row.get(0);
            tx.execute(
                "INSERT INTO quarantine (doc_id, seq, bytes, error, time_ms)
                 VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (doc_id, seq) DO UPDATE SET bytes = $3, error = $4, time_ms = $5",
                &[&doc, &seq, &data, &error, &now_ms()],
            )?;
            tx.execute(
                "UPDATE docs SET chunk_count = chunk_count - 1, chunk_size = chunk_size - $2
                 WHERE id = $1",
                &[&doc, &(data.len() as i64)],
            )?;
            tx.commit()
        })
    }

    fn quarantined(&self) -> Result<Vec<QuarantinedRow>, StoreError> {
        self.run("list quarantined changes", |c| {
            Ok(c.query(
                "SELECT doc_id, seq, length(bytes)::BIGINT, error, time_ms FROM quarantine
                 ORDER BY doc_id, seq",
                &[],
            )?
            .iter()
            .map(|r| QuarantinedRow {
                doc_id: r.get(0),
                seq: r.get(1),
                size: r.get::<_, i64>(2) as u64,
                error: r.get(3),
                quarantined_ms: r.get(4),
            })
            .collect())
        })
    }

    fn put_tombstone(&self, id: &DocId, tombstone: &Tombstone) -> Result<(), StoreError> {
        let doc = id.as_str().to_owned();
        let (at, heads, everywhere) = (
            tombstone.deleted_at_ms,
            heads_json(&tombstone.heads),
            tombstone.everywhere,
        );
        self.run("write a tombstone", move |c| {
            c.execute(
                "INSERT INTO tombstones (doc_id, deleted_ms, heads, everywhere)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (doc_id) DO UPDATE SET deleted_ms = $2, heads = $3, everywhere = $4",
                &[&doc, &at, &heads, &everywhere],
            )
            .map(drop)
        })
    }

    fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError> {
        let doc = id.as_str().to_owned();
        self.run("read a tombstone", move |c| {
            Ok(c.query_opt(
                "SELECT deleted_ms, heads, everywhere FROM tombstones WHERE doc_id = $1",
                &[&doc],
            )?
            .map(|r| Tombstone {
                deleted_at_ms: r.get(0),
                heads: serde_json::from_str(r.get::<_, &str>(1)).unwrap_or_default(),
                everywhere: r.get(2),
            }))
        })
    }

    fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError> {
        let doc = id.as_str().to_owned();
        self.run("remove a tombstone", move |c| {
            Ok(c.execute("DELETE FROM tombstones WHERE doc_id = $1", &[&doc])? > 0)
        })
    }
}
