//! Stored rows into one Automerge document, one row at a time.
//!
//! Loading the snapshot and every chunk as one byte string lets a single
//! damaged chunk hide every change stored after it (Automerge stops at the
//! first bad chunk), while new writes keep being appended behind it and are
//! lost on the next load. Here each chunk row is parsed and checked on its
//! own; a row that fails, or whose changes depend on one that failed, is
//! *rejected*, and the document is built from the snapshot and the other
//! rows. This is pure: the hub decides what to do with rejected rows
//! (quarantine them), `tandem doctor` only reports them.

use automerge::{Automerge, Change, LoadOptions, OnPartialLoad, ReadDoc};

use crate::store::StoredDoc;

use super::DocError;

/// A chunk row that could not be part of the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// The row's position in the store.
    pub seq: i64,
    /// Why, in words.
    pub error: String,
}

/// The document built from the rows that load, and the rows that do not.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) doc: Automerge,
    pub(crate) rejected: Vec<Rejected>,
}

/// Loads `stored` the way opening it would, without opening it (for
/// `tandem doctor`): the rows a load would quarantine, or why the document
/// does not load at all.
pub fn check(stored: &StoredDoc) -> Result<Vec<Rejected>, DocError> {
    load(stored).map(|loaded| loaded.rejected)
}

/// Builds the document from `stored`. Fails only if the snapshot itself is
/// unreadable; bad chunk rows end up in [`Loaded::rejected`].
pub(crate) fn load(stored: &StoredDoc) -> Result<Loaded, DocError> {
    let mut rejected = Vec::new();
    let mut good: Vec<(i64, Vec<Change>)> = Vec::with_capacity(stored.chunks.len());
    for chunk in &stored.chunks {
        match changes_of(&chunk.data) {
            Ok(changes) => good.push((chunk.seq, changes)),
            Err(error) => rejected.push(Rejected {
                seq: chunk.seq,
                error,
            }),
        }
    }
    // The usual case: every row applies, in one batch.
    let mut doc = snapshot(&stored.snapshot)?;
    let all = good
        .iter()
        .flat_map(|(_, c)| c.iter().cloned())
        .collect::<Vec<_>>();
    if doc.apply_changes(all).is_err() {
        // Find the rows Automerge refuses, one at a time, from a clean start
        // each time (a failed apply may leave part of a row behind).
        'retry: loop {
            doc = snapshot(&stored.snapshot)?;
            for (i, (seq, changes)) in good.iter().enumerate() {
                if let Err(e) = doc.apply_changes(changes.clone()) {
                    rejected.push(Rejected {
                        seq: *seq,
                        error: format!("automerge rejected its changes: {e}"),
                    });
                    good.remove(i);
                    continue 'retry;
                }
            }
            break;
        }
    }
    // Changes whose dependencies are missing wait in Automerge's queue, are
    // never saved, and would vanish at the next compaction: reject their rows
    // too (they are kept in quarantine, and a peer holding the missing
    // changes brings everything back by syncing).
    if !doc.get_missing_deps(&[]).is_empty() {
        good.retain(|(seq, changes)| {
            let missing = changes
                .iter()
                .any(|c| doc.get_change_by_hash(&c.hash()).is_none());
            if missing {
                rejected.push(Rejected {
                    seq: *seq,
                    error: "its changes depend on changes that are not stored (probably in a \
                            rejected row)"
                        .into(),
                });
            }
            !missing
        });
        doc = snapshot(&stored.snapshot)?;
        doc.apply_changes(good.into_iter().flat_map(|(_, c)| c).collect::<Vec<_>>())?;
    }
    rejected.sort_by_key(|r| r.seq);
    Ok(Loaded { doc, rejected })
}

/// The snapshot as a document, keeping the valid part of a damaged tail
/// (a single-file store whose process died mid-append).
fn snapshot(bytes: &[u8]) -> Result<Automerge, DocError> {
    match Automerge::load(bytes) {
        Ok(doc) => Ok(doc),
        Err(strict) => {
            let doc = Automerge::load_with_options(
                bytes,
                LoadOptions::new().on_partial_load(OnPartialLoad::Ignore),
            )
            .map_err(|_| DocError::Automerge(strict))?;
            tracing::warn!("stored document had a damaged tail; loaded the valid part");
            Ok(doc)
        }
    }
}

/// Automerge's chunk header starts with these bytes.
const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];

/// The changes in one row (one or more change chunks, as written by
/// `save_after`), each checked against its checksum.
fn changes_of(row: &[u8]) -> Result<Vec<Change>, String> {
    if row.is_empty() {
        return Err("the row is empty".into());
    }
    let mut changes = Vec::new();
    let mut rest = row;
    while !rest.is_empty() {
        let len = chunk_len(rest)?;
        let (chunk, tail) = rest.split_at(len);
        match chunk[8] {
            // A whole saved document (not written by Tandem, but valid).
            0 => {
                let doc = Automerge::load(chunk).map_err(|e| format!("bad document chunk: {e}"))?;
                changes.extend(doc.get_changes(&[]));
            }
            _ => {
                let change =
                    Change::try_from(chunk).map_err(|e| format!("bad change chunk: {e}"))?;
                // The header's checksum is the first bytes of the change's hash.
                if change.hash().0[..4] != chunk[4..8] {
                    return Err("bad change chunk: checksum mismatch".into());
                }
                changes.push(change);
            }
        }
        rest = tail;
    }
    Ok(changes)
}

/// The length of the chunk `bytes` starts with (header included).
fn chunk_len(bytes: &[u8]) -> Result<usize, String> {
    if bytes.len() < 10 || bytes[..4] != MAGIC {
        return Err("not an Automerge chunk (bad magic bytes)".into());
    }
    if bytes[8] > 2 {
        return Err(format!("unknown chunk type {}", bytes[8]));
    }
    let mut body: u64 = 0;
    let mut at = 9;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(at).ok_or("truncated chunk header")?;
        at += 1;
        body |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
    }
    usize::try_from(body)
        .ok()
        .and_then(|body| body.checked_add(at))
        .filter(|&len| len <= bytes.len())
        .ok_or_else(|| {
            format!(
                "truncated chunk: the header announces {body} bytes, {} are there",
                bytes.len() - at
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoredChunk;
    use automerge::transaction::Transactable;
    use automerge::ReadDoc;

    /// A base document and three rows: each a change by a different actor on
    /// the base, so none depends on another.
    fn independent_rows() -> (Vec<u8>, Vec<StoredChunk>) {
        let mut base = Automerge::new();
        base.transact(|tx| tx.put(automerge::ROOT, "base", 1))
            .unwrap();
        let heads = base.get_heads();
        let rows = (1..=3)
            .map(|i| {
                let mut fork = base.fork();
                fork.transact(|tx| tx.put(automerge::ROOT, format!("k{i}"), "x".repeat(300 * i)))
                    .unwrap();
                StoredChunk {
                    seq: i as i64,
                    data: fork.save_after(&heads),
                }
            })
            .collect();
        (base.save(), rows)
    }

    fn keys(doc: &Automerge) -> Vec<String> {
        doc.keys(automerge::ROOT).collect()
    }

    #[test]
    fn good_rows_load_as_one_document() {
        let (snapshot, chunks) = independent_rows();
        let loaded = load(&StoredDoc { snapshot, chunks }).unwrap();
        assert!(loaded.rejected.is_empty());
        assert_eq!(keys(&loaded.doc), ["base", "k1", "k2", "k3"]);
    }

    #[test]
    fn a_damaged_row_is_rejected_and_the_rows_after_it_still_load() {
        for flip in [12, 20, 40] {
            let (snapshot, mut chunks) = independent_rows();
            chunks[1].data[flip] ^= 0x55;
            let loaded = load(&StoredDoc { snapshot, chunks }).unwrap();
            assert_eq!(
                loaded.rejected.len(),
                1,
                "byte {flip}: {:?}",
                loaded.rejected
            );
            assert_eq!(loaded.rejected[0].seq, 2);
            assert_eq!(keys(&loaded.doc), ["base", "k1", "k3"], "byte {flip}");
        }
        let (snapshot, mut chunks) = independent_rows();
        chunks[0].data.truncate(20);
        chunks[2].data = b"garbage".to_vec();
        let loaded = load(&StoredDoc { snapshot, chunks }).unwrap();
        let seqs: Vec<i64> = loaded.rejected.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [1, 3]);
        assert_eq!(keys(&loaded.doc), ["base", "k2"]);
    }

    #[test]
    fn rows_that_depend_on_a_rejected_row_are_rejected_too_and_nothing_is_left_queued() {
        let mut doc = Automerge::new();
        doc.transact(|tx| tx.put(automerge::ROOT, "a", 1)).unwrap();
        let snapshot = doc.save();
        let mut chunks = Vec::new();
        for (seq, key) in [(1, "b"), (2, "c"), (3, "d")] {
            let before = doc.get_heads();
            doc.transact(|tx| tx.put(automerge::ROOT, key, 1)).unwrap();
            chunks.push(StoredChunk {
                seq,
                data: doc.save_after(&before),
            });
        }
        chunks[1].data = b"not a chunk".to_vec();
        let mut loaded = load(&StoredDoc { snapshot, chunks }).unwrap();
        let seqs: Vec<i64> = loaded.rejected.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [2, 3]);
        assert_eq!(keys(&loaded.doc), ["a", "b"]);
        assert!(loaded.doc.get_missing_deps(&[]).is_empty());
        // What is in memory is exactly what a save and reload gives.
        let reloaded = Automerge::load(&loaded.doc.save()).unwrap();
        assert_eq!(reloaded.get_heads(), loaded.doc.get_heads());
        loaded
            .doc
            .transact(|tx| tx.put(automerge::ROOT, "e", 1))
            .unwrap();
    }
}
