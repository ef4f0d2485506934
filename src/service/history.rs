//! History queries over the service's documents (see [`crate::history`]):
//! the timeline, a version, a diff, the open conflicts, and the two edits
//! (restore, resolve), each made as one new change on top.

use automerge::Prop;
use serde::Serialize;

use super::{Service, ServiceError};
use crate::doc_id::DocId;
use crate::history::{self, Burst, BurstRules, Conflict, DiffEntry, HistoryError};
use crate::hub::{DocError, Document};

/// A document's timeline, for the UI.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Timeline {
    /// How many changes the document holds.
    pub changes: usize,
    /// Its heads now.
    pub heads: Vec<String>,
    /// Its edit bursts, oldest first.
    pub bursts: Vec<Burst>,
    /// Whether the bursts name the paths they touched (not for documents of
    /// more than 50,000 changes: the UI asks for a burst's diff).
    pub paths: bool,
}

/// Up to this many changes, the timeline lists each burst's paths (reading
/// every change costs about 3 µs per change).
const PATHS_UP_TO: usize = 50_000;

/// The heads around one history edit, so that a UI can offer to undo it
/// (restore `before`).
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct HistoryEdit {
    /// The document's heads before the edit.
    pub before: Vec<String>,
    /// Its heads after it.
    pub after: Vec<String>,
}

impl From<HistoryError> for ServiceError {
    fn from(e: HistoryError) -> Self {
        match e {
            HistoryError::UnknownChange(_) | HistoryError::NoSuchPath(_) => {
                ServiceError::NotFound(e.to_string())
            }
            HistoryError::Automerge(e) => ServiceError::Doc(DocError::Automerge(e)),
            e => ServiceError::BadInput(e.to_string()),
        }
    }
}

fn hex(heads: &[automerge::ChangeHash]) -> Vec<String> {
    heads.iter().map(|h| h.to_string()).collect()
}

impl Service {
    fn existing(&self, id: &DocId) -> Result<std::sync::Arc<Document>, ServiceError> {
        self.hub
            .open_existing(id)?
            .ok_or_else(|| ServiceError::NotFound(format!("no document {id}")))
    }

    /// The timeline of `id`: its changes grouped into bursts, with the paths
    /// each touched.
    pub fn history(&self, id: &DocId) -> Result<Timeline, ServiceError> {
        let doc = self.existing(id)?;
        Ok(doc.read(|doc| {
            let (count, bursts) = if doc.get_heads().is_empty() {
                (0, Vec::new())
            } else {
                history::timeline::timeline(doc, BurstRules::default())
            };
            let mut bursts = bursts;
            let paths = count <= PATHS_UP_TO;
            if paths {
                history::touched_paths(doc, &mut bursts);
            }
            Timeline {
                changes: count,
                heads: hex(&doc.get_heads()),
                bursts,
                paths,
            }
        }))
    }

    /// The document `id` as JSON as it was at `heads` (`HASH,HASH,…`).
    pub fn doc_at(&self, id: &DocId, heads: &str) -> Result<serde_json::Value, ServiceError> {
        let heads = history::parse_heads(heads)?;
        let doc = self.existing(id)?;
        Ok(doc.read(|doc| history::json_at(doc, &heads, &[]))?)
    }

    /// What changed in `id` from the heads `from` to `to` (`None`: its heads now).
    pub fn diff(
        &self,
        id: &DocId,
        from: &str,
        to: Option<&str>,
    ) -> Result<Vec<DiffEntry>, ServiceError> {
        let from = history::parse_heads(from)?;
        let to = to.map(history::parse_heads).transpose()?;
        let doc = self.existing(id)?;
        Ok(doc.read(|doc| {
            let to = to.unwrap_or_else(|| doc.get_heads());
            history::diff(doc, &from, &to)
        })?)
    }

    /// The open conflicts of `id`.
    pub fn conflicts(&self, id: &DocId) -> Result<Vec<Conflict>, ServiceError> {
        let doc = self.existing(id)?;
        Ok(doc.read(history::conflicts)?)
    }

    /// Makes `id` (or the field at `path`) what it was at `heads`, as one new
    /// change that syncs like any edit.
    pub fn restore(
        &self,
        id: &DocId,
        heads: &str,
        path: &[Prop],
    ) -> Result<HistoryEdit, ServiceError> {
        let heads = history::parse_heads(heads)?;
        self.history_edit(id, |tx| history::restore(tx, &heads, path))
    }

    /// Resolves the conflict at `path` with the value whose operation id is `choice`.
    pub fn resolve(
        &self,
        id: &DocId,
        path: &[Prop],
        choice: &str,
    ) -> Result<HistoryEdit, ServiceError> {
        self.history_edit(id, |tx| history::resolve(tx, path, choice))
    }

    fn history_edit(
        &self,
        id: &DocId,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<(), HistoryError>,
    ) -> Result<HistoryEdit, ServiceError> {
        let doc = self.existing(id)?;
        let before = hex(&doc.heads());
        // The transaction is rolled back on any error; keep the real one.
        let mut failure = None;
        let result = doc.change(|tx| {
            f(tx).map_err(|e| {
                failure = Some(e);
                automerge::AutomergeError::Fail
            })
        });
        if let Some(e) = failure {
            return Err(e.into());
        }
        result?;
        Ok(HistoryEdit {
            before,
            after: hex(&doc.heads()),
        })
    }
}
