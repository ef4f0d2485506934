//! The in-memory twin of the SQLite store: same contract, nothing on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::{now_ms, Backlog, DocInfo, DocSummary, Store, StoreError};
use crate::doc_id::DocId;

#[derive(Default)]
struct Entry {
    snapshot: Vec<u8>,
    chunks: Vec<Vec<u8>>,
    info: DocInfo,
    updated: i64,
}

#[derive(Default)]
struct Inner {
    docs: BTreeMap<DocId, Entry>,
    sync_states: HashMap<(DocId, String), Vec<u8>>,
    settings: HashMap<String, String>,
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
            e.chunks.iter().for_each(|c| bytes.extend_from_slice(c));
            bytes
        }))
    }

    fn append(&self, id: &DocId, chunk: &[u8], info: &DocInfo) -> Result<Backlog, StoreError> {
        let mut inner = self.inner();
        let entry = inner.docs.entry(id.clone()).or_default();
        entry.chunks.push(chunk.to_vec());
        entry.info = info.clone();
        entry.updated = now_ms();
        Ok(Backlog {
            chunks: entry.chunks.len() as u64,
            chunk_bytes: entry.chunks.iter().map(|c| c.len() as u64).sum(),
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
                size: (e.snapshot.len() + e.chunks.iter().map(Vec::len).sum::<usize>()) as u64,
                updated: e.updated,
            })
            .collect())
    }

    fn delete(&self, id: &DocId) -> Result<bool, StoreError> {
        let mut inner = self.inner();
        inner.sync_states.retain(|(doc, _), _| doc != id);
        Ok(inner.docs.remove(id).is_some())
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
