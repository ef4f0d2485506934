//! The per-connection sync session, free of I/O.
//!
//! A [`SyncSession`] wraps one `automerge::sync::State` (one per connection,
//! PROTOCOL.md §3) and knows the client's termination checks (§4). It is
//! driven by whoever owns the document: feed it received messages, ask it for
//! messages to send, ask whether a check has passed. Nothing here touches a
//! socket or a clock, so multi-peer scenarios are plain deterministic tests.

use automerge::sync::{self, Message, SyncDoc};
use automerge::{Automerge, AutomergeError, ChangeHash};

/// When a one-shot client considers its sync done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The server advertised exactly our heads: each side has all of the other's changes.
    HeadsEqual,
    /// We hold every head the server advertised (pull), and every change we sent
    /// has been acknowledged (so no push is lost by hanging up early).
    HasRemoteHeads,
}

impl std::str::FromStr for Until {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "heads-equal" => Ok(Self::HeadsEqual),
            "has-remote-heads" => Ok(Self::HasRemoteHeads),
            other => Err(format!(
                "unknown check {other:?}; use heads-equal or has-remote-heads"
            )),
        }
    }
}

impl std::fmt::Display for Until {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::HeadsEqual => "heads-equal",
            Self::HasRemoteHeads => "has-remote-heads",
        })
    }
}

/// The longest line (without its `\n`) sent to a *foreign* peer: one that
/// advertises no capability flags, which is how the Go library
/// (automerge-ndjson-sync, automerge 0.5) and automerge < 0.6 look. The Go
/// library reads lines with Go's `bufio.Scanner`, whose default 64 KiB buffer
/// must hold the line and its newline, so a longer line ends its stream
/// ("token too long"). Until a peer has shown capability flags it is assumed
/// to be foreign, so a first message is always this short.
pub const FOREIGN_MAX_LINE: usize = 65_535;

/// The longest sync message (before base64) sent to a peer that advertises
/// capabilities (Tandem, JavaScript Automerge); its line is
/// [`MODERN_MAX_LINE`] bytes, well under their line limits (Tandem's default
/// is [`crate::protocol::DEFAULT_MAX_LINE`]).
pub const MODERN_MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// The line that carries a [`MODERN_MAX_MESSAGE`]-byte message.
pub const MODERN_MAX_LINE: usize = sync_line_len(MODERN_MAX_MESSAGE);

/// The bytes of JSON around the base64 of a sync line, newline excluded:
/// `{"event":"sync","data":"` and `"}`.
const LINE_FRAME: usize = 26;

/// The length (without `\n`) of the line that carries a sync message of
/// `message_len` bytes.
pub const fn sync_line_len(message_len: usize) -> usize {
    LINE_FRAME + message_len.div_ceil(3) * 4
}

/// The longest sync message whose line is at most `max_line` bytes.
pub const fn max_message_len(max_line: usize) -> usize {
    max_line.saturating_sub(LINE_FRAME) / 4 * 3
}

/// Why a message cannot be cut into lines the peer can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SplitError {
    /// One change alone makes a line longer than the peer reads.
    #[error(
        "change {hash} is {bytes} bytes, so it needs a line of {line} bytes, but this peer \
         reads lines of at most {max_line} bytes (a peer without capability flags, such as \
         the Go library, stops at {FOREIGN_MAX_LINE}): the change cannot be sent to it; \
         sync this document through a peer that advertises capabilities (Tandem, JavaScript \
         Automerge), or make large edits in smaller changes"
    )]
    ChangeTooLarge {
        /// The change's hash.
        hash: String,
        /// The change's size in bytes.
        bytes: usize,
        /// The line it needs (without `\n`).
        line: usize,
        /// The peer's line limit.
        max_line: usize,
    },
    /// The heads and requested hashes alone make a line too long.
    #[error(
        "the message's {heads} heads and {need} requested changes alone need a line of \
         {line} bytes, but this peer reads lines of at most {max_line} bytes (a peer without \
         capability flags, such as the Go library, stops at {FOREIGN_MAX_LINE}); merge the \
         document's concurrent branches (any edit does) through a peer that advertises \
         capabilities, then sync again"
    )]
    HeadsTooLarge {
        /// How many heads the message advertises.
        heads: usize,
        /// How many hashes it requests.
        need: usize,
        /// The line they need (without `\n`).
        line: usize,
        /// The peer's line limit.
        max_line: usize,
    },
}

/// One side of one sync connection.
#[derive(Debug, Default)]
pub struct SyncSession {
    state: sync::State,
    /// The heads the peer advertised in its first message on this session.
    first_their_heads: Option<Vec<ChangeHash>>,
}

impl SyncSession {
    /// A session with no history with this peer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A session resumed from [`SyncSession::save`] output: reconnecting with a
    /// saved state skips most of the bloom-filter exchange.
    pub fn resume(saved: &[u8]) -> Result<Self, sync::DecodeStateError> {
        Ok(Self {
            state: sync::State::decode(saved)?,
            first_their_heads: None,
        })
    }

    /// The part of the state worth keeping across connections.
    pub fn save(&self) -> Vec<u8> {
        self.state.encode()
    }

    /// The next message the peer needs, if any. Returns `None` while a message
    /// is in flight and nothing changed, or when the peer is up to date.
    pub fn generate(&mut self, doc: &Automerge) -> Option<Message> {
        doc.generate_sync_message(&mut self.state)
    }

    /// Like [`SyncSession::generate`], but cut into messages whose lines the
    /// peer can read: at most [`FOREIGN_MAX_LINE`] bytes for a peer that has
    /// not shown capability flags (the Go library; any peer before its first
    /// message), [`MODERN_MAX_LINE`] for one that has. See [`split_message`]
    /// for how. A foreign peer that cannot be given some change gets
    /// [`SplitError`] (the session then says the message went out: end the
    /// connection); for a modern peer an oversized change travels alone.
    pub fn generate_split(&mut self, doc: &Automerge) -> Result<Vec<Message>, SplitError> {
        let Some(message) = self.generate(doc) else {
            return Ok(Vec::new());
        };
        if self.state.their_capabilities.is_some() {
            split(message, MODERN_MAX_LINE, false)
        } else {
            split_message(message, FOREIGN_MAX_LINE)
        }
    }

    /// Whether the peer has shown capability flags (it is not foreign).
    pub fn peer_is_modern(&self) -> bool {
        self.state.their_capabilities.is_some()
    }

    /// Applies a message from the peer to `doc`.
    ///
    /// Leaves the sync state exactly as `receive_sync_message` would, but
    /// without its cost that grows with the history: automerge 0.12 walks the
    /// document's whole change graph on every message to find which of the
    /// hashes it sent are now acknowledged (`ChangeGraph::remove_ancestors`;
    /// ~16 ms per message on a 260k-change document, even for a bare
    /// acknowledgement). Here that question is answered from the changes
    /// that are newer than the peer's heads, which for a live peer are a
    /// handful. Messages that take automerge's rarer paths (a reset, a peer
    /// that lost its data, a read-only state) are handed to automerge.
    pub fn receive(&mut self, doc: &mut Automerge, message: Message) -> Result<(), AutomergeError> {
        if self.first_their_heads.is_none() {
            self.first_their_heads = Some(message.heads.clone());
        }
        if needs_automerge(&self.state, &message) {
            return doc.receive_sync_message(&mut self.state, message);
        }
        receive_live(doc, &mut self.state, message)
    }

    /// Whether `message`'s changes are applied as they are, with
    /// `load_incremental` (not through automerge's own receive): then they
    /// may be applied earlier, together with other peers' changes, and this
    /// session's receive finds them present.
    pub fn applies_plainly(&self, message: &Message) -> bool {
        !needs_automerge(&self.state, message)
    }

    /// The heads the peer advertised in its first message on this session:
    /// what it held when the connection began.
    pub fn first_their_heads(&self) -> Option<&[ChangeHash]> {
        self.first_their_heads.as_deref()
    }

    /// How many changes we sent that the peer has not acknowledged yet.
    pub fn unacknowledged(&self) -> usize {
        self.state.sent_hashes.len()
    }

    /// The heads the peer last advertised, if it has sent anything yet.
    pub fn their_heads(&self) -> Option<&[ChangeHash]> {
        self.state.their_heads.as_deref()
    }

    /// Whether the termination check `until` holds now.
    pub fn is_satisfied(&self, doc: &Automerge, until: Until) -> bool {
        let Some(theirs) = self.their_heads() else {
            return false;
        };
        match until {
            Until::HeadsEqual => same_set(theirs, &doc.get_heads()),
            Until::HasRemoteHeads => {
                theirs
                    .iter()
                    .all(|h| doc.get_change_meta_by_hash(h).is_some())
                    && self.state.sent_hashes.is_empty()
            }
        }
    }
}

/// Cuts `message` into messages whose lines (without `\n`) are at most
/// `max_line` bytes, or says why it cannot be done.
///
/// A message that fits is returned as it is. Otherwise its changes go out in
/// order, in runs that fit, each part repeating the heads and needs (the
/// receiver applies the runs in order; a change whose dependencies are still
/// missing waits in its queue). The "have" Bloom filter goes only in the last
/// part, or in a part of its own after the changes: a receiver keeps the
/// filter of the last message it got, so one copy is enough. A filter too big
/// for any line is left out: parts then carry an empty "have", which the
/// protocol reads as "send me only what I ask for" (the same as a peer that
/// still needs something); once the peer has acknowledged our changes, the
/// filter only covers changes since the shared heads and fits again.
///
/// The sync state is not involved: it already counts every change as sent and
/// the message as in flight, which stays true as long as all parts are sent.
pub fn split_message(message: Message, max_line: usize) -> Result<Vec<Message>, SplitError> {
    split(message, max_line, true)
}

/// Bytes of a LEB128 unsigned number.
fn leb_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// [`split_message`]; when not `strict`, a part that cannot fit is sent
/// whole instead of failing.
fn split(message: Message, max_line: usize, strict: bool) -> Result<Vec<Message>, SplitError> {
    let max_message = max_message_len(max_line);
    let chunk_len = |c: &[u8]| leb_len(c.len()) + c.len();
    let changes_len: usize = message.changes.iter().map(chunk_len).sum();
    let part = |have: Vec<sync::Have>, changes: Vec<Vec<u8>>| Message {
        heads: message.heads.clone(),
        need: message.need.clone(),
        have,
        changes: changes.into(),
        flags: message.flags,
        version: message.version.clone(),
    };
    // Sizes with no changes (one byte for their count of zero).
    let bare_len = part(Vec::new(), Vec::new()).encode().len();
    let with_have_len = part(message.have.clone(), Vec::new()).encode().len();
    let have_len = with_have_len - bare_len;
    let whole_len = with_have_len - 1 + leb_len(message.changes.len()) + changes_len;
    if whole_len <= max_message {
        return Ok(vec![message]);
    }
    // Room a run's changes may take: the count takes at most 5 bytes.
    let room = max_message.checked_sub(bare_len - 1 + 5);
    let Some(room) = room.filter(|r| *r > 0) else {
        if !strict {
            return Ok(vec![message]);
        }
        return Err(SplitError::HeadsTooLarge {
            heads: message.heads.len(),
            need: message.need.len(),
            line: sync_line_len(bare_len),
            max_line,
        });
    };
    let mut runs: Vec<(Vec<Vec<u8>>, usize)> = Vec::new();
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    for chunk in message.changes.iter() {
        let len = chunk_len(chunk);
        if len > room && strict {
            let hash = automerge::Change::from_bytes(chunk.to_vec())
                .map(|c| c.hash().to_string())
                .unwrap_or_else(|_| "(undecodable)".into());
            return Err(SplitError::ChangeTooLarge {
                hash,
                bytes: chunk.len(),
                line: sync_line_len(bare_len - 1 + leb_len(1) + len),
                max_line,
            });
        }
        if !run.is_empty() && size + len > room {
            runs.push((std::mem::take(&mut run), size));
            size = 0;
        }
        size += len;
        run.push(chunk.to_vec());
    }
    if !run.is_empty() {
        runs.push((run, size));
    }
    let filter_fits = with_have_len <= max_message;
    let last_takes_filter = runs.last().is_some_and(|(_, size)| size + have_len <= room);
    let mut parts = Vec::with_capacity(runs.len() + 1);
    let count = runs.len();
    for (i, (changes, _)) in runs.into_iter().enumerate() {
        let have = if filter_fits && last_takes_filter && i + 1 == count {
            message.have.clone()
        } else {
            Vec::new()
        };
        parts.push(part(have, changes));
    }
    if parts.is_empty() || (filter_fits && !last_takes_filter) {
        let have = if filter_fits {
            message.have.clone()
        } else {
            Vec::new()
        };
        parts.push(part(have, Vec::new()));
    }
    Ok(parts)
}

/// Whether `message` takes a path of `receive_sync_message` that
/// [`receive_live`] leaves to automerge.
fn needs_automerge(state: &sync::State, message: &Message) -> bool {
    state.read_only
        || message.heads.is_empty()
        || message
            .flags
            .is_some_and(|f| f.contains(sync::MessageFlags::SYNC_RESET))
}

/// `receive_sync_message` for the common messages (see
/// [`SyncSession::receive`]): applies the changes, then updates the state the
/// way the sync protocol defines, finding acknowledged hashes without walking
/// the whole history.
fn receive_live(
    doc: &mut Automerge,
    state: &mut sync::State,
    message: Message,
) -> Result<(), AutomergeError> {
    state.in_flight = false;
    let before = doc.get_heads();
    if let Some(flags) = message.flags {
        // A peer that sends flags speaks the v2 message format.
        let mut capabilities = vec![sync::Capability::MessageV2];
        if flags.contains(sync::MessageFlags::SUPPORTS_SYNC_RESET) {
            capabilities.push(sync::Capability::SyncReset);
        }
        state.their_capabilities = Some(capabilities);
        state.peer_read_only = flags.contains(sync::MessageFlags::READ_ONLY);
    }
    let carries_changes = !message.changes.is_empty();
    if carries_changes {
        let mut joined = Vec::with_capacity(message.changes.iter().map(<[u8]>::len).sum());
        for chunk in message.changes.iter() {
            joined.extend_from_slice(chunk);
        }
        doc.load_incremental(&joined)?;
        // What both sides now have: our new heads (they came from the peer)
        // and the shared heads that are still heads.
        let after = doc.get_heads();
        let mut shared: Vec<ChangeHash> = after
            .iter()
            .filter(|h| !before.contains(h) || state.shared_heads.contains(h))
            .copied()
            .collect();
        shared.sort();
        state.shared_heads = shared;
    }
    let known: Vec<ChangeHash> = message
        .heads
        .iter()
        .filter(|h| has_change(doc, h))
        .copied()
        .collect();
    forget_acknowledged(doc, &mut state.sent_hashes, &known);
    if !carries_changes && message.heads == before {
        state.last_sent_heads.clone_from(&message.heads);
    }
    if known.len() == message.heads.len() {
        state.shared_heads.clone_from(&message.heads);
    } else {
        state.shared_heads.extend(known);
        state.shared_heads.sort();
        state.shared_heads.dedup();
    }
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
    Ok(())
}

fn has_change(doc: &Automerge, hash: &ChangeHash) -> bool {
    doc.get_change_meta_by_hash(hash).is_some()
}

/// Removes from `sent` every hash that `heads` (all in `doc`) include, i.e.
/// that is one of them or one of their ancestors. The changes that are *not*
/// ancestors of `heads` are found from automerge's vector clocks, in time
/// proportional to their number rather than to the history.
fn forget_acknowledged(
    doc: &Automerge,
    sent: &mut std::collections::BTreeSet<ChangeHash>,
    heads: &[ChangeHash],
) {
    if sent.is_empty() || heads.is_empty() {
        return;
    }
    sent.retain(|h| !heads.contains(h));
    if sent.is_empty() {
        return;
    }
    let newer: std::collections::HashSet<ChangeHash> = doc
        .get_changes_meta(heads)
        .into_iter()
        .map(|c| c.hash)
        .collect();
    sent.retain(|h| newer.contains(h) || !has_change(doc, h));
}

fn same_set(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    a.len() == b.len() && a.iter().all(|h| b.contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;

    fn doc_with(key: &str, value: &str) -> Automerge {
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(automerge::ROOT, key, value)?;
            Ok(())
        })
        .unwrap();
        doc
    }

    /// Runs messages back and forth until neither side has anything to say.
    fn converge(a: &mut Automerge, sa: &mut SyncSession, b: &mut Automerge, sb: &mut SyncSession) {
        for _ in 0..20 {
            let ab = sa.generate(a);
            if let Some(m) = ab.clone() {
                sb.receive(b, m).unwrap();
            }
            let ba = sb.generate(b);
            if let Some(m) = ba.clone() {
                sa.receive(a, m).unwrap();
            }
            if ab.is_none() && ba.is_none() {
                return;
            }
        }
        panic!("did not converge in 20 rounds");
    }

    #[test]
    fn concurrent_changes_converge_and_both_checks_pass() {
        let mut client = doc_with("client", "c");
        let mut server = doc_with("server", "s");
        let (mut sc, mut ss) = (SyncSession::new(), SyncSession::new());
        assert!(
            !sc.is_satisfied(&client, Until::HeadsEqual),
            "nothing heard yet"
        );
        converge(&mut client, &mut sc, &mut server, &mut ss);
        assert_eq!(client.get_heads(), server.get_heads());
        assert!(sc.is_satisfied(&client, Until::HeadsEqual));
        assert!(sc.is_satisfied(&client, Until::HasRemoteHeads));
    }

    #[test]
    fn has_remote_heads_waits_for_an_unacknowledged_push() {
        let mut client = doc_with("k", "v");
        let mut server = Automerge::new();
        let (mut sc, mut ss) = (SyncSession::new(), SyncSession::new());
        // Server speaks first (it sends its first message at once).
        let hello = ss.generate(&server).unwrap();
        let _c1 = sc.generate(&client).unwrap();
        sc.receive(&mut client, hello).unwrap();
        // We hold the server's (empty) heads; now our change goes out.
        let push = sc.generate(&client).expect("the change is pushed");
        assert!(
            !sc.is_satisfied(&client, Until::HasRemoteHeads),
            "the push is not acknowledged yet: ending now would lose it"
        );
        ss.receive(&mut server, push).unwrap();
        let ack = ss.generate(&server).unwrap();
        sc.receive(&mut client, ack).unwrap();
        assert!(sc.is_satisfied(&client, Until::HasRemoteHeads));
        assert!(sc.is_satisfied(&client, Until::HeadsEqual));
    }

    #[test]
    fn a_saved_session_resumes() {
        let mut a = doc_with("x", "1");
        let mut b = Automerge::new();
        let (mut sa, mut sb) = (SyncSession::new(), SyncSession::new());
        converge(&mut a, &mut sa, &mut b, &mut sb);
        let mut resumed = SyncSession::resume(&sa.save()).unwrap();
        let mut sb2 = SyncSession::new();
        converge(&mut a, &mut resumed, &mut b, &mut sb2);
        assert_eq!(a.get_heads(), b.get_heads());
    }

    /// A peer that strips the capability flags looks like the Go library.
    fn as_legacy(mut m: Message) -> Message {
        m.flags = None;
        m
    }

    #[test]
    fn messages_to_a_legacy_peer_are_split_under_64_kib_lines() {
        let mut big = Automerge::new();
        for i in 0..60 {
            big.transact::<_, _, AutomergeError>(|tx| {
                tx.put(automerge::ROOT, format!("k{i}"), "x".repeat(3000))?;
                Ok(())
            })
            .unwrap();
        }
        let mut legacy = Automerge::new();
        let (mut s_big, mut s_legacy) = (SyncSession::new(), SyncSession::new());
        let mut largest_line = 0;
        let mut parts_seen = 0;
        for _ in 0..20 {
            let to_legacy = s_big.generate_split(&big).unwrap();
            for m in &to_legacy {
                let line = crate::protocol::line::encode_sync(&m.clone().encode());
                largest_line = largest_line.max(line.len());
            }
            parts_seen = parts_seen.max(to_legacy.len());
            for m in to_legacy {
                s_legacy.receive(&mut legacy, m).unwrap();
            }
            let back: Vec<_> = std::iter::from_fn(|| s_legacy.generate(&legacy))
                .take(1)
                .collect();
            if back.is_empty() && legacy.get_heads() == big.get_heads() {
                break;
            }
            for m in back {
                s_big.receive(&mut big, as_legacy(m)).unwrap();
            }
        }
        assert_eq!(legacy.get_heads(), big.get_heads());
        assert!(parts_seen > 1, "the history was split");
        assert!(largest_line < 65_535, "largest line {largest_line}");
    }

    #[test]
    fn small_messages_and_single_changes_are_not_split() {
        let doc = doc_with("k", "v");
        let m = SyncSession::new().generate(&doc).unwrap();
        assert_eq!(split_message(m, 1000).unwrap().len(), 1);
    }

    /// A message as the Go library's automerge 0.5 would see or send it: no
    /// capability flags, so neither side ever uses v2 messages with it.
    fn foreign(mut m: Message) -> Message {
        m.flags = None;
        m.version = sync::MessageVersion::V1;
        m
    }

    fn doc_with_changes(n: usize) -> Automerge {
        let mut doc = Automerge::new();
        for i in 0..n {
            doc.transact::<_, _, AutomergeError>(|tx| {
                tx.put(automerge::ROOT, format!("k{}", i % 97), i as i64)?;
                Ok(())
            })
            .unwrap();
        }
        doc
    }

    /// Syncs `from` into an empty foreign peer that refuses lines over
    /// [`FOREIGN_MAX_LINE`] and answers every message (as the Go library does).
    /// Returns (lines, longest line, bytes) sent to the foreign peer.
    fn pull_into_foreign(from: &mut Automerge) -> (usize, usize, usize) {
        let mut peer = Automerge::new();
        let (mut ours, mut theirs) = (SyncSession::new(), SyncSession::new());
        let (mut lines, mut longest, mut bytes) = (0, 0, 0);
        for _ in 0..10_000 {
            let parts = ours.generate_split(from).unwrap();
            let mut answers = Vec::new();
            for (i, m) in parts.iter().enumerate() {
                assert!(
                    m.have.is_empty() || i + 1 == parts.len(),
                    "only the last part carries the filter"
                );
                let line = crate::protocol::line::encode_sync(&m.clone().encode());
                let len = line.len() - 1;
                assert!(len <= FOREIGN_MAX_LINE, "line of {len} bytes");
                (lines, longest, bytes) = (lines + 1, longest.max(len), bytes + line.len());
                theirs.receive(&mut peer, foreign(m.clone())).unwrap();
                answers.extend(theirs.generate(&peer).map(foreign));
            }
            if parts.is_empty() && answers.is_empty() {
                let answer = theirs.generate(&peer).map(foreign);
                if answer.is_none() {
                    break;
                }
                answers.extend(answer);
            }
            for m in answers {
                ours.receive(from, m).unwrap();
            }
        }
        assert_eq!(
            peer.get_heads(),
            from.get_heads(),
            "the foreign peer converged"
        );
        (lines, longest, bytes)
    }

    #[test]
    fn a_foreign_peer_pulls_10k_changes_in_lines_it_can_read() {
        let mut doc = doc_with_changes(10_000);
        let (lines, longest, _) = pull_into_foreign(&mut doc);
        assert!(lines > 1, "the history was split");
        assert!(longest <= FOREIGN_MAX_LINE);
    }

    fn big_filter(entries: usize) -> sync::Have {
        let hashes: Vec<ChangeHash> = (0..entries as u64)
            .map(|i| {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&i.to_le_bytes());
                bytes[8..16].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
                ChangeHash(bytes)
            })
            .collect();
        sync::Have {
            last_sync: Vec::new(),
            bloom: sync::BloomFilter::from_hashes(hashes.iter()),
        }
    }

    #[test]
    fn a_filter_too_big_for_any_line_is_left_out_and_a_small_one_goes_last() {
        let doc = doc_with_changes(3);
        let mut m = SyncSession::new().generate(&doc).unwrap();
        // A history of 60,000 changes: a filter of ~75 KB, over any 64 KiB line.
        m.have = vec![big_filter(60_000)];
        let parts = split_message(m.clone(), FOREIGN_MAX_LINE).unwrap();
        assert_eq!(parts.len(), 1);
        assert!(parts[0].have.is_empty(), "the filter is left out");
        assert_eq!(parts[0].heads, m.heads);
        // With changes that need two lines and a filter that fits: the filter
        // travels once, at the end.
        m.have = vec![big_filter(20_000)];
        m.changes = vec![vec![7u8; 30_000], vec![8u8; 30_000], vec![9u8; 30_000]].into();
        let parts = split_message(m.clone(), FOREIGN_MAX_LINE).unwrap();
        let with_filter: Vec<_> = parts.iter().filter(|p| !p.have.is_empty()).collect();
        assert_eq!(with_filter.len(), 1);
        assert!(!parts.last().unwrap().have.is_empty());
        let changes: Vec<Vec<u8>> = parts
            .iter()
            .flat_map(|p| p.changes.iter().map(<[u8]>::to_vec))
            .collect();
        assert_eq!(
            changes,
            m.changes.iter().map(<[u8]>::to_vec).collect::<Vec<_>>()
        );
        for p in parts {
            assert!(sync_line_len(p.encode().len()) <= FOREIGN_MAX_LINE);
        }
    }

    /// A change that compresses badly: `len` bytes of pseudo-random text.
    fn doc_with_one_big_change(len: usize) -> Automerge {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let text: String = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                char::from(b'!' + (x % 90) as u8)
            })
            .collect();
        let mut doc = Automerge::new();
        doc.transact::<_, _, AutomergeError>(|tx| {
            tx.put(automerge::ROOT, "blob", text)?;
            Ok(())
        })
        .unwrap();
        doc
    }

    #[test]
    fn a_change_too_big_for_a_foreign_line_is_a_clear_error() {
        let doc = doc_with_one_big_change(100_000);
        let mut session = SyncSession::new();
        // The peer asks for everything, without capability flags.
        let peer_hello = foreign(SyncSession::new().generate(&Automerge::new()).unwrap());
        let mut mine = doc.clone();
        session.receive(&mut mine, peer_hello).unwrap();
        let err = session.generate_split(&mine).unwrap_err();
        assert!(matches!(err, SplitError::ChangeTooLarge { .. }), "{err:?}");
        let text = err.to_string();
        assert!(
            text.contains("65535") && text.contains("Go library"),
            "{text}"
        );
    }

    #[test]
    fn a_modern_peer_gets_an_oversized_change_alone() {
        let mut doc = doc_with_one_big_change(100_000);
        let mut session = SyncSession::new();
        let peer_hello = SyncSession::new().generate(&Automerge::new()).unwrap();
        session.receive(&mut doc, peer_hello).unwrap();
        let m = session.generate(&doc).unwrap();
        assert_eq!(m.changes.len(), 1);
        let parts = split(m.clone(), 1_000, false).unwrap();
        assert!(
            parts.iter().any(|p| p.changes == m.changes),
            "the change travels whole"
        );
        assert!(
            split_message(m, 1_000).is_err(),
            "a foreign peer could not take it"
        );
    }

    /// Receives `m` through [`SyncSession::receive`] and, on copies, through
    /// automerge's own `receive_sync_message`: the sync states and the
    /// documents must come out identical. Returns whether the fast path ran.
    fn receive_checked(doc: &mut Automerge, session: &mut SyncSession, m: Message) -> bool {
        let mut their_doc = doc.clone();
        let mut their_state = session.state.clone();
        let fast = !needs_automerge(&session.state, &m);
        their_doc
            .receive_sync_message(&mut their_state, m.clone())
            .unwrap();
        session.receive(doc, m).unwrap();
        assert_eq!(
            session.state, their_state,
            "sync state differs from automerge's"
        );
        assert_eq!(doc.get_heads(), their_doc.get_heads());
        fast
    }

    /// A small deterministic generator, so failures reproduce.
    struct Lcg(u64);
    impl Lcg {
        fn below(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n
        }
    }

    #[test]
    fn receive_keeps_the_sync_state_exactly_as_automerge_does() {
        // A server and three clients editing concurrently; messages are
        // delivered late, in bursts, split for legacy peers, and one
        // client once loses its data and starts over.
        let mut rng = Lcg(7);
        let mut server = Automerge::new();
        let mut clients: Vec<Automerge> = (0..3).map(|_| Automerge::new()).collect();
        let mut at_server: Vec<SyncSession> = (0..3).map(|_| SyncSession::new()).collect();
        let mut at_client: Vec<SyncSession> = (0..3).map(|_| SyncSession::new()).collect();
        let mut to_server: Vec<Vec<Message>> = vec![Vec::new(); 3];
        let mut to_client: Vec<Vec<Message>> = vec![Vec::new(); 3];
        let (mut fast, mut total) = (0, 0);
        for step in 0..4000 {
            let c = rng.below(3) as usize;
            match rng.below(7) {
                0 => {
                    let doc = &mut clients[c];
                    doc.transact::<_, _, AutomergeError>(|tx| {
                        tx.put(automerge::ROOT, format!("k{c}"), step as i64)?;
                        Ok(())
                    })
                    .unwrap();
                }
                1 => {
                    server
                        .transact::<_, _, AutomergeError>(|tx| {
                            tx.put(automerge::ROOT, "s", step as i64)?;
                            Ok(())
                        })
                        .unwrap();
                }
                2 => {
                    if let Some(m) = at_client[c].generate(&clients[c]) {
                        to_server[c].push(m);
                    }
                }
                3 => {
                    // Now and then as small lines as the changes allow.
                    let limit = if rng.below(4) == 0 {
                        400
                    } else {
                        MODERN_MAX_LINE
                    };
                    if let Some(m) = at_server[c].generate(&server) {
                        let parts = split_message(m.clone(), limit).unwrap_or_else(|_| vec![m]);
                        to_client[c].extend(parts);
                    }
                }
                4 => {
                    for m in std::mem::take(&mut to_server[c]) {
                        fast += usize::from(receive_checked(&mut server, &mut at_server[c], m));
                        total += 1;
                    }
                }
                5 => {
                    for m in std::mem::take(&mut to_client[c]) {
                        fast += usize::from(receive_checked(&mut clients[c], &mut at_client[c], m));
                        total += 1;
                    }
                }
                _ if step == 2000 => {
                    // Client 0 loses everything and reconnects.
                    clients[0] = Automerge::new();
                    at_client[0] = SyncSession::new();
                    to_client[0].clear();
                }
                _ => {}
            }
        }
        assert!(total > 300, "{total} messages");
        assert!(
            fast * 10 > total * 9,
            "only {fast} of {total} took the fast path"
        );
    }

    #[test]
    fn live_messages_take_the_fast_path_and_resets_do_not() {
        let doc = doc_with("k", "v");
        let mut session = SyncSession::new();
        let live = session.generate(&doc).unwrap();
        assert!(!needs_automerge(&SyncSession::new().state, &live));
        let mut lost = live.clone();
        lost.heads.clear();
        assert!(needs_automerge(&SyncSession::new().state, &lost));
        let mut reset = live;
        let mut flags = sync::MessageFlags::new();
        flags.set(sync::MessageFlags::SYNC_RESET);
        reset.flags = Some(flags);
        assert!(needs_automerge(&SyncSession::new().state, &reset));
    }

    #[test]
    fn parses_check_names() {
        assert_eq!("heads-equal".parse::<Until>().unwrap(), Until::HeadsEqual);
        assert_eq!(
            "has-remote-heads".parse::<Until>().unwrap(),
            Until::HasRemoteHeads
        );
        assert!("soon".parse::<Until>().is_err());
    }
}

#[cfg(test)]
mod bounded_state {
    use super::*;
    use automerge::transaction::Transactable;

    /// A long-lived connection must not remember every change it ever sent:
    /// what the peer acknowledged is forgotten.
    #[test]
    fn sent_hashes_stay_bounded_on_a_long_live_connection() {
        let mut server = Automerge::new();
        let mut client = Automerge::new();
        let (mut at_server, mut at_client) = (SyncSession::new(), SyncSession::new());
        let mut largest = 0;
        for i in 0..300 {
            server
                .transact::<_, _, AutomergeError>(|tx| {
                    tx.put(automerge::ROOT, format!("k{}", i % 7), i as i64)?;
                    Ok(())
                })
                .unwrap();
            for _ in 0..10 {
                let to_client = at_server.generate(&server);
                if let Some(m) = to_client.clone() {
                    at_client.receive(&mut client, m).unwrap();
                }
                let to_server = at_client.generate(&client);
                if let Some(m) = to_server.clone() {
                    at_server.receive(&mut server, m).unwrap();
                }
                if to_client.is_none() && to_server.is_none() {
                    break;
                }
            }
            largest = largest.max(at_server.state.sent_hashes.len());
        }
        assert_eq!(client.get_heads(), server.get_heads());
        assert!(largest <= 4, "sent_hashes grew to {largest}");
    }
}
