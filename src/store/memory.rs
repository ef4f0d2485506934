//! The in-memory twin of the SQLite store: same contract, nothing on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{
    now_ms, Backlog, DocInfo, DocSummary, QuarantinedRow, Store, StoreError, StoredChunk,
    StoredDoc, Tombstone,
};
use crate::doc_id::DocId;

#[derive(Default)]
struct Entry {
    snapshot: Vec<u8>,
    chunks: Vec<StoredChunk>,
    info: DocInfo,
    updated: i64,
}

#[derive(Default)]
struct Inner {
    docs: BTreeMap<DocId, Entry>,
    sync_states: HashMap<(DocId, String), Vec<u8>>,
    settings: HashMap<String, String>,
    tombstones: HashMap<DocId, Tombstone>,
    quarantine: Vec<QuarantinedRow>,
    next_seq: i64,
}

/// A [`Store`] that keeps everything in memory.
#[derive(Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn load(&self, id: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.inner().docs.get(id).map(|e| {
            let mut bytes = e.snapshot.clone();
            e.chunks
                .iter()
                .for_each(|c| bytes.extend_from_slice(&c.data));
            bytes
        }))
    }

    fn append(&self, id: &DocId, chunk: &[u8], info: &DocInfo) -> Result<Backlog, StoreError> {
        let mut inner = self.inner();
        inner.next_seq += 1;
        let seq = inner.next_seq;
        let entry = inner.docs.entry(id.clone()).or_default();
        entry.chunks.push(StoredChunk {
            seq,
            data: chunk.to_vec(),
        });
        entry.info = info.clone();
        entry.updated = now_ms();
        Ok(Backlog {
            chunks: entry.chunks.len() as u64,
            chunk_bytes: entry.chunks.iter().map(|c| c.data.len() as u64).sum(),
            snapshot_bytes: entry.snapshot.len() as u64,
        })
    }

    fn compact(&self, id: &DocId, snapshot: &[u8], info: &DocInfo) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let entry = inner.docs.entry(id.clone()).or_default();
        entry.snapshot = snapshot.to_vec();
        entry.chunks.clear();
        entry.info = info.clone();
        entry.updated = now_ms();
        Ok(())
    }

    fn list(&self) -> Result<Vec<DocSummary>, StoreError> {
        Ok(self
            .inner()
            .docs
            .iter()
            .map(|(id, e)| DocSummary {
                id: id.clone(),
                title: e.info.title.clone(),
                heads: e.info.heads.clone(),
                size: (e.snapshot.len() + e.chunks.iter().map(|c| c.data.len()).sum::<usize>())
                    as u64,
                updated: e.updated,
            })
            .collect())
    }

    fn delete(&self, id: &DocId) -> Result<bool, StoreError> {
        let mut inner = self.inner();
        inner.sync_states.retain(|(doc, _), _| doc != id);
        inner.quarantine.retain(|row| row.doc_id != id.as_str());
        Ok(inner.docs.remove(id).is_some())
    }

    fn load_parts(&self, id: &DocId) -> Result<Option<StoredDoc>, StoreError> {
        Ok(self.inner().docs.get(id).map(|e| StoredDoc {
            snapshot: e.snapshot.clone(),
            chunks: e.chunks.clone(),
        }))
    }

    fn quarantine(&self, id: &DocId, seq: i64, error: &str) -> Result<(), StoreError> {
        let mut inner = self.inner();
        let Some(entry) = inner.docs.get_mut(id) else {
            return Ok(());
        };
        let Some(at) = entry.chunks.iter().position(|c| c.seq == seq) else {
            return Ok(());
        };
        let chunk = entry.chunks.remove(at);
        inner.quarantine.push(QuarantinedRow {
            doc_id: id.as_str().to_owned(),
            seq,
            size: chunk.data.len() as u64,
            error: error.to_owned(),
            quarantined_ms: now_ms(),
        });
        Ok(())
    }

    fn quarantined(&self) -> Result<Vec<QuarantinedRow>, StoreError> {
        let mut rows = self.inner().quarantine.clone();
        rows.sort_by(|a, b| (&a.doc_id, a.seq).cmp(&(&b.doc_id, b.seq)));
        Ok(rows)
    }

    fn put_tombstone(&self, id: &DocId, tombstone: &Tombstone) -> Result<(), StoreError> {
        self.inner()
            .tombstones
            .insert(id.clone(), tombstone.clone());
        Ok(())
    }

    fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError> {
        Ok(self.inner().tombstones.get(id).cloned())
    }

    fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError> {
        Ok(self.inner().tombstones.remove(id).is_some())
    }

    fn load_sync_state(&self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self
            .inner()
            .sync_states
            .get(&(id.clone(), peer.to_owned()))
            .cloned())
    }

    fn save_sync_state(&self, id: &DocId, peer: &str, state: &[u8]) -> Result<(), StoreError> {
        self.inner()
            .sync_states
            .insert((id.clone(), peer.to_owned()), state.to_vec());
        Ok(())
    }

    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.inner().settings.get(key).cloned())
    }

    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        let mut inner = self.inner();
        match value {
            Some(v) => inner.settings.insert(key.to_owned(), v.to_owned()),
            None => inner.settings.remove(key),
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_quarantine_and_tombstones_behave_like_the_sqlite_store() {
        let store = MemoryStore::new();
        let id = DocId::parse("m").unwrap();
        for chunk in [b"a", b"b", b"c"] {
            store.append(&id, chunk, &DocInfo::default()).unwrap();
        }
        let seqs: Vec<i64> = store
            .load_parts(&id)
            .unwrap()
            .unwrap()
            .chunks
            .iter()
            .map(|c| c.seq)
            .collect();
        store.quarantine(&id, seqs[1], "bad").unwrap();
        assert_eq!(store.load(&id).unwrap().unwrap(), b"ac");
        assert_eq!(store.quarantined().unwrap()[0].seq, seqs[1]);
        let tombstone = Tombstone {
            deleted_at_ms: 1,
            heads: vec![],
            everywhere: false,
        };
        store.put_tombstone(&id, &tombstone).unwrap();
        assert_eq!(store.tombstone(&id).unwrap(), Some(tombstone));
        assert!(store.remove_tombstone(&id).unwrap());
        assert!(store.delete(&id).unwrap());
        assert!(store.quarantined().unwrap().is_empty());
    }
}
