//! The per-connection sync session, free of I/O.
//!
//! A [`SyncSession`] wraps one `automerge::sync::State` (one per connection,
//! PROTOCOL.md §3) and knows the client's termination checks (§4). It is
//! driven by whoever owns the document: feed it received messages, ask it for
//! messages to send, ask whether a check has passed. Nothing here touches a
//! socket or a clock, so multi-peer scenarios are plain deterministic tests.

use automerge::sync::{self, Message, SyncDoc};
use automerge::{Automerge, AutomergeError, ChangeHash};

use super::recent::{Mark, RecentChanges};

mod fast;

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
pub(crate) const MODERN_MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// The line that carries a [`MODERN_MAX_MESSAGE`]-byte message.
pub(crate) const MODERN_MAX_LINE: usize = sync_line_len(MODERN_MAX_MESSAGE);

/// The bytes of JSON around the base64 of a sync line, newline excluded:
/// `{"event":"sync","data":"` and `"}`.
const LINE_FRAME: usize = 26;

/// The length (without `\n`) of the line that carries a sync message of
/// `message_len` bytes.
pub(crate) const fn sync_line_len(message_len: usize) -> usize {
    LINE_FRAME + message_len.div_ceil(3) * 4
}

/// The longest sync message whose line is at most `max_line` bytes.
pub(crate) const fn max_message_len(max_line: usize) -> usize {
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
    /// Where in the document's log of recent changes the peer stands:
    /// everything before was offered to it (see `fast`).
    mark: Option<Mark>,
    /// The heads of received messages whose acknowledgements are still to
    /// be settled ([`SyncSession::settle_acknowledgements`]).
    unsettled: Vec<Vec<ChangeHash>>,
    /// How many messages were built from the log rather than by automerge.
    from_log: u64,
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
            ..Self::default()
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

    /// Like [`SyncSession::generate`], but for a live peer in time
    /// proportional to what it lacks rather than to the burst or the
    /// history: the message is built from `recent`, the document's log of
    /// recent changes, when the session knows where the peer stands in it
    /// (see `fast`); otherwise automerge builds it.
    pub fn generate_from(&mut self, doc: &Automerge, recent: &RecentChanges) -> Option<Message> {
        match fast::generate(doc, &mut self.state, self.mark, recent) {
            fast::Fast::Send(message) => {
                self.mark = Some(recent.end());
                self.from_log += 1;
                Some(message)
            }
            fast::Fast::Nothing => None,
            fast::Fast::Slow => {
                let message = self.generate(doc);
                let in_step = self
                    .state
                    .their_heads
                    .as_ref()
                    .is_some_and(|h| *h == doc.get_heads());
                if message.is_some() || in_step {
                    self.mark = Some(recent.end());
                }
                message
            }
        }
    }

    /// Like [`SyncSession::generate`], but cut into messages whose lines the
    /// peer can read: at most [`FOREIGN_MAX_LINE`] bytes for a peer that has
    /// not shown capability flags (the Go library; any peer before its first
    /// message), [`MODERN_MAX_LINE`] for one that has. See [`split_message`]
    /// for how. A foreign peer that cannot be given some change gets
    /// [`SplitError`] (the session then says the message went out: end the
    /// connection); for a modern peer an oversized change travels alone.
    pub fn generate_split(
        &mut self,
        doc: &Automerge,
        recent: &RecentChanges,
    ) -> Result<Vec<Message>, SplitError> {
        let Some(message) = self.generate_from(doc, recent) else {
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
        self.receive_deferring_acknowledgements(doc, message, false)?;
        self.settle(doc, None);
        Ok(())
    }

    /// [`SyncSession::receive`], except that the hashes the peer now
    /// acknowledges stay counted as unacknowledged until
    /// [`SyncSession::settle_acknowledgements`] — once the changes just
    /// applied are in the document's log of recent changes, which answers
    /// that without asking automerge.
    ///
    /// `applied`: every change the message carries is in `doc` already
    /// (applied together with other peers' changes), so it is not loaded
    /// again.
    pub fn receive_deferring_acknowledgements(
        &mut self,
        doc: &mut Automerge,
        message: Message,
        applied: bool,
    ) -> Result<(), AutomergeError> {
        if self.first_their_heads.is_none() {
            self.first_their_heads = Some(message.heads.clone());
        }
        if needs_automerge(&self.state, &message) {
            return doc.receive_sync_message(&mut self.state, message);
        }
        let known = receive_live(doc, &mut self.state, message, applied)?;
        if !known.is_empty() && !self.state.sent_hashes.is_empty() {
            self.unsettled.push(known);
        }
        Ok(())
    }

    /// How many messages this session built from the document's log of
    /// recent changes instead of asking automerge (diagnostics, tests).
    pub fn messages_from_log(&self) -> u64 {
        self.from_log
    }

    /// Whether received heads wait for [`SyncSession::settle_acknowledgements`].
    pub fn has_unsettled_acknowledgements(&self) -> bool {
        !self.unsettled.is_empty()
    }

    /// Forgets the sent hashes that the heads received since the last call
    /// include, from `recent` when it holds them all (time proportional to
    /// the changes since the oldest of them), else from automerge's clocks.
    pub fn settle_acknowledgements(&mut self, doc: &Automerge, recent: &RecentChanges) {
        self.settle(doc, Some(recent));
    }

    /// [`SyncSession::settle_acknowledgements`], from automerge's clocks
    /// alone when there is no log.
    fn settle(&mut self, doc: &Automerge, recent: Option<&RecentChanges>) {
        for heads in std::mem::take(&mut self.unsettled) {
            let sent = &mut self.state.sent_hashes;
            if sent.is_empty() {
                break;
            }
            sent.retain(|h| !heads.contains(h));
            match recent.and_then(|r| r.included_in(sent.iter().copied(), &heads)) {
                Some(held) => sent.retain(|h| !held.contains(h)),
                None => forget_acknowledged(doc, sent, &heads),
            }
        }
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
pub(crate) fn split_message(message: Message, max_line: usize) -> Result<Vec<Message>, SplitError> {
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
///
/// Returns the peer's heads that `doc` holds: the sent hashes they include
/// are acknowledged (the caller forgets them).
fn receive_live(
    doc: &mut Automerge,
    state: &mut sync::State,
    message: Message,
    applied: bool,
) -> Result<Vec<ChangeHash>, AutomergeError> {
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
        if !applied {
            let mut joined = Vec::with_capacity(message.changes.iter().map(<[u8]>::len).sum());
            for chunk in message.changes.iter() {
                joined.extend_from_slice(chunk);
            }
            doc.load_incremental(&joined)?;
        }
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
    if !carries_changes && message.heads == before {
        state.last_sent_heads.clone_from(&message.heads);
    }
    if known.len() == message.heads.len() {
        state.shared_heads.clone_from(&message.heads);
    } else {
        state.shared_heads.extend(known.iter().copied());
        state.shared_heads.sort();
        state.shared_heads.dedup();
    }
    state.their_have = Some(message.have);
    state.their_heads = Some(message.heads);
    state.their_need = Some(message.need);
    Ok(known)
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
    // Which sent changes the document no longer holds, in one pass over
    // the change graph: asking `has_change` for each builds each change's
    // metadata (half a second for the 260k changes of a pushed trace).
    use automerge::ReadDoc as _;
    let sent_hashes: Vec<ChangeHash> = sent.iter().copied().collect();
    let gone: std::collections::HashSet<ChangeHash> =
        doc.get_missing_deps(&sent_hashes).into_iter().collect();
    sent.retain(|h| newer.contains(h) || gone.contains(h));
}

fn same_set(a: &[ChangeHash], b: &[ChangeHash]) -> bool {
    a.len() == b.len() && a.iter().all(|h| b.contains(h))
}

#[cfg(test)]
mod tests;
