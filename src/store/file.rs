//! One document in one `.automerge` file, for `tandem sync --file`.
//!
//! Chunks are appended to the file and fsynced (an `.automerge` file may hold
//! a saved document followed by change chunks); compaction rewrites it through
//! a temporary file and an atomic rename, so a crash leaves either the old or
//! the new file, never half of one.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{now_ms, Backlog, DocInfo, DocSummary, MemoryStore, Store, StoreError, Tombstone};
use crate::doc_id::DocId;

/// A [`Store`] holding a single document in a file. Sync states, settings
/// and tombstones live in memory only.
pub struct FileStore {
    path: PathBuf,
    backlog: Mutex<Backlog>,
    /// Sync states and settings are not worth a file of their own here.
    scratch: MemoryStore,
}

impl FileStore {
    /// A store for the file at `path` (which need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            backlog: Mutex::new(Backlog::default()),
            scratch: MemoryStore::new(),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, op: &'static str) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::io(op, &self.path, source)
    }

    /// Writes `bytes` as the whole file, atomically.
    pub fn write_atomically(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let tmp = self.path.with_extension("automerge.tmp");
        let mut f = fs::File::create(&tmp).map_err(self.io("create"))?;
        f.write_all(bytes).map_err(self.io("write"))?;
        f.sync_all().map_err(self.io("sync"))?;
        fs::rename(&tmp, &self.path).map_err(self.io("rename into place"))
    }
}

impl Store for FileStore {
    fn load(&self, _id: &DocId) -> Result<Option<Vec<u8>>, StoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => {
                let mut b = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
                b.snapshot_bytes = bytes.len() as u64;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io("read")(e)),
        }
    }

    fn append(&self, _id: &DocId, chunk: &[u8], _info: &DocInfo) -> Result<Backlog, StoreError> {
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(self.io("open"))?;
        f.write_all(chunk).map_err(self.io("append to"))?;
        f.sync_data().map_err(self.io("sync"))?;
        let mut b = self.backlog.lock().unwrap_or_else(|p| p.into_inner());
        b.chunks += 1;
        b.chunk_bytes += chunk.len() as u64;
        Ok(*b)
    }

    fn compact(&self, _id: &DocId, snapshot: &[u8], _info: &DocInfo) -> Result<(), StoreError> {
        self.write_atomically(snapshot)?;
        *self.backlog.lock().unwrap_or_else(|p| p.into_inner()) = Backlog {
            snapshot_bytes: snapshot.len() as u64,
            ..Backlog::default()
        };
        Ok(())
    }

    fn list(&self) -> Result<Vec<DocSummary>, StoreError> {
        let size = fs::metadata(&self.path).map(|m| m.len()).unwrap_or(0);
        let stem = self
            .path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| DocId::parse(s).ok());
        Ok(stem
            .map(|id| DocSummary {
                id,
                title: None,
                heads: vec![],
                size,
                updated: now_ms(),
            })
            .into_iter()
            .collect())
    }

    fn delete(&self, _id: &DocId) -> Result<bool, StoreError> {
        Err(StoreError::Unsupported(format!(
            "refusing to delete {} through a single-file store",
            self.path.display()
        )))
    }

    fn put_tombstone(&self, id: &DocId, tombstone: &Tombstone) -> Result<(), StoreError> {
        self.scratch.put_tombstone(id, tombstone)
    }

    fn tombstone(&self, id: &DocId) -> Result<Option<Tombstone>, StoreError> {
        self.scratch.tombstone(id)
    }

    fn remove_tombstone(&self, id: &DocId) -> Result<bool, StoreError> {
        self.scratch.remove_tombstone(id)
    }

    fn load_sync_state(&self, id: &DocId, peer: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.scratch.load_sync_state(id, peer)
    }

    fn save_sync_state(&self, id: &DocId, peer: &str, state: &[u8]) -> Result<(), StoreError> {
        self.scratch.save_sync_state(id, peer, state)
    }

    fn get_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.scratch.get_setting(key)
    }

    fn put_setting(&self, key: &str, value: Option<&str>) -> Result<(), StoreError> {
        self.scratch.put_setting(key, value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/dev/full` answers every write with ENOSPC, as a full disk does.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_write_to_a_full_disk_is_disk_full() {
        let store = FileStore::new("/dev/full");
        let id = DocId::parse("x").unwrap();
        let err = store
            .append(&id, b"change", &DocInfo::default())
            .unwrap_err();
        assert!(err.is_disk_full(), "{err:?}");
        assert_eq!(
            err.to_string(),
            "the disk holding /dev/full is full; free some space and try again"
        );
    }
}
