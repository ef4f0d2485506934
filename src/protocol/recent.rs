//! The changes a document took most recently, kept as they arrived, so a
//! live peer can be sent what it lacks without asking automerge.
//!
//! automerge 0.12 answers "what does this peer lack" (`generate_sync_message`)
//! by walking the change graph to vector clocks for the peer's heads and for
//! the shared heads, then re-encoding each change from the operation set.
//! With many concurrent editors that walk dominates (`docs/benchmarks.md`,
//! issue 8): 100 clients × 10 changes spent most of its 11–16 s there. A live
//! peer only ever lacks a few of the newest changes, so [`RecentChanges`]
//! keeps the newest ones in the order the document applied them (every
//! change after its dependencies) with their encoded bytes; a session that
//! knows which part of this log its peer has already been offered
//! (`protocol::session`) finds the rest by walking back from the peer's heads
//! through this log only.
//!
//! The log is bounded ([`MAX_ENTRIES`], [`MAX_BYTES`]); a peer whose place
//! fell out of it, or that does anything unusual, is served by automerge's
//! own sync instead.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};

use automerge::ChangeHash;
use bytes::Bytes;

/// Hashes change hashes by their first bytes: they are SHA-256 digests, so
/// any eight of their bytes are already evenly spread (SipHash over all 32
/// was a tenth of a burst's CPU).
#[derive(Debug, Default, Clone, Copy)]
pub struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut word = [0u8; 8];
        let n = bytes.len().min(8);
        word[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(7) ^ u64::from_le_bytes(word);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = self.0.rotate_left(7) ^ n as u64;
    }
}

/// A set of change hashes with [`DigestHasher`].
pub type HashSetOfChanges = HashSet<ChangeHash, BuildHasherDefault<DigestHasher>>;
type ChangeMap<V> = HashMap<ChangeHash, V, BuildHasherDefault<DigestHasher>>;

/// The most changes a log keeps.
pub const MAX_ENTRIES: usize = 4_096;
/// The most memory a log's changes may take (their bytes and bookkeeping).
pub const MAX_BYTES: usize = 4 * 1024 * 1024;

/// Bookkeeping memory counted per change, besides its bytes and dependencies.
const ENTRY_OVERHEAD: usize = 96;

/// One change in the log.
#[derive(Debug, Clone)]
pub struct Recent {
    /// The change's hash.
    pub hash: ChangeHash,
    /// The sequence numbers of the dependencies that were in the log when
    /// it was added (older ones cannot lead back into the log).
    deps: Box<[u64]>,
    /// Its encoded bytes (one change chunk).
    pub bytes: Bytes,
}

impl Recent {
    fn footprint(&self) -> usize {
        self.bytes.len() + self.deps.len() * 8 + ENTRY_OVERHEAD
    }
}

/// A place in a log: everything before it was offered to the peer (or came
/// from it, or it acknowledged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark {
    log: u64,
    seq: u64,
}

/// The newest changes of one document, in the order it applied them.
#[derive(Debug)]
pub struct RecentChanges {
    /// Tells logs apart, so a mark from another log is never trusted.
    id: u64,
    /// The sequence number of `entries[0]`.
    start: u64,
    entries: VecDeque<Recent>,
    index: ChangeMap<u64>,
    bytes: usize,
}

impl Default for RecentChanges {
    fn default() -> Self {
        Self::new()
    }
}

static NEXT_LOG: AtomicU64 = AtomicU64::new(1);

impl RecentChanges {
    /// An empty log.
    pub fn new() -> Self {
        Self {
            id: NEXT_LOG.fetch_add(1, Ordering::Relaxed),
            start: 0,
            entries: VecDeque::new(),
            index: ChangeMap::default(),
            bytes: 0,
        }
    }

    /// The place after the newest change.
    pub fn end(&self) -> Mark {
        Mark {
            log: self.id,
            seq: self.start + self.entries.len() as u64,
        }
    }

    /// How many changes the log holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the log holds no change.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `mark` is a place in this log that is still kept.
    pub fn covers(&self, mark: Mark) -> bool {
        mark.log == self.id && mark.seq >= self.start && mark.seq <= self.end().seq
    }

    /// Whether the log holds the change `hash`.
    pub fn contains(&self, hash: &ChangeHash) -> bool {
        self.index.contains_key(hash)
    }

    /// Adds a change the document just applied; its dependencies must be
    /// in the document already. The oldest changes leave once the log is
    /// over its bounds.
    pub fn push(&mut self, hash: ChangeHash, deps: &[ChangeHash], bytes: Bytes) {
        if self.index.contains_key(&hash) {
            return;
        }
        let seq = self.end().seq;
        let deps = deps.iter().filter_map(|d| self.seq_of(d)).collect();
        let entry = Recent { hash, deps, bytes };
        self.bytes += entry.footprint();
        self.index.insert(hash, seq);
        self.entries.push_back(entry);
        while self.entries.len() > MAX_ENTRIES || (self.bytes > MAX_BYTES && self.entries.len() > 1)
        {
            self.drop_oldest();
        }
    }

    /// Forgets every change: marks taken before no longer count (used when
    /// the document took changes the log cannot follow, such as a whole
    /// document at once).
    pub fn forget_all(&mut self) {
        self.start = self.end().seq;
        self.entries.clear();
        self.index.clear();
        self.bytes = 0;
    }

    /// Lets all but the newest `keep` changes go (an idle document's log
    /// need only hold the places of peers that are in step).
    pub fn keep_newest(&mut self, keep: usize) {
        while self.entries.len() > keep {
            self.drop_oldest();
        }
    }

    /// The memory the kept changes take (their bytes and bookkeeping).
    pub fn footprint(&self) -> usize {
        self.bytes
    }

    fn drop_oldest(&mut self) {
        if let Some(old) = self.entries.pop_front() {
            self.index.remove(&old.hash);
            self.bytes -= old.footprint();
            self.start += 1;
        }
    }

    fn seq_of(&self, hash: &ChangeHash) -> Option<u64> {
        self.index.get(hash).copied()
    }

    fn at(&self, seq: u64) -> &Recent {
        &self.entries[(seq - self.start) as usize]
    }

    /// The changes from `mark` on that are not `heads` or an ancestor of
    /// them, in order. `None` when `mark` is not kept in this log.
    ///
    /// Every change depends only on changes applied before it, so the
    /// ancestors of `heads` that are at or after `mark` are found by walking
    /// back from `heads` through that part of the log alone.
    pub fn missing_from(&self, mark: Mark, heads: &[ChangeHash]) -> Option<Vec<&Recent>> {
        if !self.covers(mark) {
            return None;
        }
        let held = self.ancestors_from(mark.seq, heads);
        Some(
            (mark.seq..self.end().seq)
                .map(|seq| self.at(seq))
                .filter(|r| !held.contains(&r.hash))
                .collect(),
        )
    }

    /// Which of `hashes` are `heads` or ancestors of them; `None` when some
    /// of `hashes` is not in the log (then the log cannot tell).
    pub fn included_in(
        &self,
        hashes: impl IntoIterator<Item = ChangeHash>,
        heads: &[ChangeHash],
    ) -> Option<HashSetOfChanges> {
        let mut lowest = u64::MAX;
        let mut wanted = Vec::new();
        for hash in hashes {
            lowest = lowest.min(self.seq_of(&hash)?);
            wanted.push(hash);
        }
        if wanted.is_empty() {
            return Some(HashSetOfChanges::default());
        }
        let held = self.ancestors_from(lowest, heads);
        Some(wanted.into_iter().filter(|h| held.contains(h)).collect())
    }

    /// The hashes of the changes from `from` on (by sequence number) that
    /// are `heads` or their ancestors.
    fn ancestors_from(&self, from: u64, heads: &[ChangeHash]) -> HashSetOfChanges {
        let from = from.max(self.start);
        let end = self.end().seq;
        let mut seen = vec![false; (end - from) as usize];
        let mut held = HashSetOfChanges::default();
        let mut stack: Vec<u64> = heads.iter().filter_map(|h| self.seq_of(h)).collect();
        while let Some(seq) = stack.pop() {
            // Dependencies that left the log since are below `start`.
            if seq < from || std::mem::replace(&mut seen[(seq - from) as usize], true) {
                continue;
            }
            let entry = self.at(seq);
            held.insert(entry.hash);
            stack.extend(entry.deps.iter().copied());
        }
        held
    }

    /// The hashes from the oldest of `heads` kept in the log to the newest
    /// change (all of them when none of `heads` is kept): a superset of what
    /// the log knows to be newer than `heads`, for a Bloom filter.
    pub fn since_oldest_of(&self, heads: &[ChangeHash]) -> Vec<ChangeHash> {
        let from = heads
            .iter()
            .filter_map(|h| self.seq_of(h))
            .min()
            .unwrap_or(self.start);
        (from..self.end().seq)
            .map(|seq| self.at(seq).hash)
            .collect()
    }
}

/// Splits concatenated Automerge chunks (a v2 sync message carries its
/// changes as one such run) into single chunks; `None` when the bytes are not
/// a clean run of chunks.
pub fn split_chunks(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
    let mut chunks = Vec::new();
    while !bytes.is_empty() {
        if bytes.len() < 9 || bytes[..4] != MAGIC {
            return None;
        }
        // magic (4), checksum (4), chunk type (1), length (LEB128), data.
        let mut len: u64 = 0;
        let mut at = 9;
        let mut shift = 0;
        loop {
            let byte = *bytes.get(at)?;
            at += 1;
            len |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                break;
            }
            shift += 7;
            if shift > 63 {
                return None;
            }
        }
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        if end > bytes.len() {
            return None;
        }
        chunks.push(&bytes[..end]);
        bytes = &bytes[end..];
    }
    Some(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    fn log_of(edges: &[(u8, &[u8])]) -> RecentChanges {
        let mut log = RecentChanges::new();
        for (h, deps) in edges {
            let deps: Vec<ChangeHash> = deps.iter().map(|d| hash(*d)).collect();
            log.push(hash(*h), &deps, Bytes::from(vec![*h]));
        }
        log
    }

    #[test]
    fn a_peer_lacks_what_is_not_an_ancestor_of_its_heads() {
        // 1 ← 2 ← 4, 1 ← 3 (concurrent with 2), 5 depends on 3 and 4.
        let log = log_of(&[(1, &[]), (2, &[1]), (3, &[1]), (4, &[2]), (5, &[3, 4])]);
        // The one-byte names of the changes a peer at `heads` lacks from `seq` on.
        let missing = |seq: u64, heads: &[ChangeHash]| -> Vec<u8> {
            let mark = Mark { log: log.id, seq };
            let lacks = log.missing_from(mark, heads).unwrap();
            lacks.iter().map(|r| r.bytes[0]).collect()
        };
        assert_eq!(missing(0, &[hash(4)]), vec![3, 5]);
        assert_eq!(
            missing(2, &[hash(3)]),
            vec![4, 5],
            "3 is held; 1 and 2 are before the mark"
        );
        let other = RecentChanges::new();
        assert!(
            log.missing_from(other.end(), &[]).is_none(),
            "a mark of another log"
        );
    }

    #[test]
    fn inclusion_is_answered_only_for_changes_in_the_log() {
        let log = log_of(&[(1, &[]), (2, &[1]), (3, &[1])]);
        let held = log.included_in([hash(1), hash(3)], &[hash(2)]).unwrap();
        assert_eq!(held, HashSetOfChanges::from_iter([hash(1)]));
        assert!(log.included_in([hash(9)], &[hash(2)]).is_none());
    }

    #[test]
    fn the_log_is_bounded_and_old_marks_expire() {
        let mut log = RecentChanges::new();
        let first = log.end();
        for n in 0..(MAX_ENTRIES + 10) {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&(n as u64).to_le_bytes());
            log.push(ChangeHash(h), &[], Bytes::from_static(b"x"));
        }
        assert_eq!(log.len(), MAX_ENTRIES);
        assert!(!log.covers(first), "the mark's place left the log");
        assert!(log.covers(log.end()));
        log.forget_all();
        assert!(log.is_empty());
        assert_eq!(log.since_oldest_of(&[]), Vec::<ChangeHash>::new());
    }

    #[test]
    fn concatenated_chunks_split_and_garbage_does_not() {
        let mut doc = automerge::AutoCommit::new();
        use automerge::transaction::Transactable;
        doc.put(automerge::ROOT, "a", 1).unwrap();
        doc.commit();
        doc.put(automerge::ROOT, "b", 2).unwrap();
        doc.commit();
        let changes: Vec<Vec<u8>> = doc
            .get_changes(&[])
            .iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect();
        let joined = changes.concat();
        let parts = split_chunks(&joined).unwrap();
        assert_eq!(parts, vec![&changes[0][..], &changes[1][..]]);
        assert!(split_chunks(&joined[..joined.len() - 1]).is_none());
        assert!(split_chunks(b"not a chunk at all").is_none());
        assert_eq!(split_chunks(&[]).unwrap().len(), 0);
    }
}
