//! A document's history, as users walk it: the timeline of changes grouped
//! into edit bursts, the document as it was at any heads, what changed
//! between two points (Automerge's own `diff`), the keys that hold
//! concurrent values, and restoring an old version as a new change on top.
//!
//! Everything here works on an [`automerge::Automerge`] (read) or a
//! transaction (write) and knows nothing of the hub, HTTP or the UI:
//!
//! - [`timeline`] — every change (`hash`, actor, time, deps, ops) and the
//!   bursts (same author, close in time) with the paths they touched.
//! - [`view`] — the document as JSON at some heads, and the diff between two.
//! - [`conflicts`] — keys with concurrent values, and resolving one.
//! - [`restore`] — make the document (or one field) equal to an old version.
//!
//! Authors are looked up in one place, [`author_of`], so that a later
//! actor → user table plugs in there.

pub(crate) mod conflicts;
pub(crate) mod restore;
pub mod timeline;
pub(crate) mod view;

use automerge::{ActorId, ChangeHash, ObjId, ObjType, Prop, ReadDoc, Value};

pub use conflicts::{conflicts, resolve, Conflict, ConflictValue};
pub use restore::restore;
pub use timeline::{bursts, changes, touched_paths, Burst, BurstRules, ChangeInfo};
pub use view::{diff, json_at, DiffEntry};

/// Why a history query failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// A heads argument is not a list of 64-digit hex change hashes.
    #[error("bad heads {0:?}: expected comma-separated change hashes (64 hex digits each)")]
    BadHeads(String),
    /// A change hash is not in this document.
    #[error("change {0} is not in this document")]
    UnknownChange(String),
    /// A path does not lead to a value (at the heads asked for).
    #[error("no value at {0}")]
    NoSuchPath(String),
    /// The path names a key that holds no conflict, or a value that is not one of them.
    #[error("{0}")]
    BadChoice(String),
    /// Automerge refused the edit.
    #[error("automerge rejected the edit: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// Parses `HASH,HASH,…` (empty: the empty heads, before the first change).
pub fn parse_heads(text: &str) -> Result<Vec<ChangeHash>, HistoryError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Vec::new());
    }
    text.split(',')
        .map(|h| {
            h.trim()
                .parse::<ChangeHash>()
                .map_err(|_| HistoryError::BadHeads(text.to_owned()))
        })
        .collect()
}

/// The heads as `HASH,HASH,…`.
pub fn format_heads(heads: &[ChangeHash]) -> String {
    heads
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Checks that every hash of `heads` is a change of `doc`.
pub fn check_heads(doc: &impl ReadDoc, heads: &[ChangeHash]) -> Result<(), HistoryError> {
    match heads.iter().find(|h| doc.get_change_by_hash(h).is_none()) {
        Some(missing) => Err(HistoryError::UnknownChange(missing.to_string())),
        None => Ok(()),
    }
}

/// Now, in seconds since the epoch: the time local changes are stamped
/// with (seconds, as Automerge JS does), so the timeline can show it.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(0))
        .unwrap_or(0)
}

/// Who made changes as `actor`: for now the actor id, shortened to 8 hex
/// digits. The one place where a future actor → user table plugs in.
pub fn author_of(actor: &ActorId) -> String {
    let hex = actor.to_hex_string();
    hex.chars().take(8).collect()
}

/// A path from the root as JSON (`["notes", 0, "body"]`).
pub fn path_to_json(path: &[Prop]) -> serde_json::Value {
    serde_json::Value::Array(
        path.iter()
            .map(|p| match p {
                Prop::Map(k) => serde_json::Value::from(k.as_str()),
                Prop::Seq(i) => serde_json::Value::from(*i),
            })
            .collect(),
    )
}

/// A path as `/notes/0/body` (for messages and the CLI).
pub fn path_to_string(path: &[Prop]) -> String {
    if path.is_empty() {
        return "/".into();
    }
    path.iter()
        .map(|p| match p {
            Prop::Map(k) => format!("/{k}"),
            Prop::Seq(i) => format!("/{i}"),
        })
        .collect()
}

/// A path from JSON: an array of strings (map keys) and numbers (indexes).
pub fn path_from_json(value: &serde_json::Value) -> Result<Vec<Prop>, HistoryError> {
    let bad = || HistoryError::NoSuchPath(value.to_string());
    value
        .as_array()
        .ok_or_else(bad)?
        .iter()
        .map(|p| match p {
            serde_json::Value::String(k) => Ok(Prop::Map(k.clone())),
            serde_json::Value::Number(n) => n
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .map(Prop::Seq)
                .ok_or_else(bad),
            _ => Err(bad()),
        })
        .collect()
}

/// The object at `path` (at `heads`, or now), with its type. The root is `[]`.
pub fn resolve_obj(
    doc: &impl ReadDoc,
    path: &[Prop],
    heads: Option<&[ChangeHash]>,
) -> Result<(ObjId, ObjType), HistoryError> {
    let mut obj = (ObjId::Root, ObjType::Map);
    for prop in path {
        let value = match heads {
            Some(h) => doc.get_at(&obj.0, prop.clone(), h)?,
            None => doc.get(&obj.0, prop.clone())?,
        };
        match value {
            Some((Value::Object(kind), id)) => obj = (id, kind),
            _ => return Err(HistoryError::NoSuchPath(path_to_string(path))),
        }
    }
    Ok(obj)
}

#[cfg(test)]
mod tests;
