//! `generate_sync_message` for a live peer, from the document's log of
//! recent changes ([`RecentChanges`]) instead of automerge's change graph.
//!
//! automerge builds every message from scratch: a vector clock for the
//! shared heads (for the "have" Bloom filter), another for the peer's last
//! sync point (for the changes to send), a map of dependents over every
//! change since then, and the changes re-encoded from the operation set.
//! During a burst that is most of the CPU (issue 8). Here the session keeps a
//! [`Mark`] in the log: everything before it was offered to the peer already
//! (or came from it). The changes to send are then the log's changes after
//! the mark that are not the peer's heads or their ancestors, and the Bloom
//! filter covers the log from the oldest shared head on.
//!
//! The message says what automerge's would: our heads, an empty "need" (the
//! fast path is only taken when we hold every head the peer advertised), a
//! "have" for the shared heads, the changes, the same flags and version, and
//! the state is updated the same way. It may carry a change automerge's
//! Bloom filter would have held back (a false positive there), never fewer
//! than the peer lacks from the log; anything the peer lacks from before the
//! mark it asks for by hash (our heads are in every message), which goes
//! through automerge again.
//!
//! Anything unusual — no mark yet, a peer that needs something, a reset, a
//! read-only side, a peer with no heads — is left to automerge ([`Fast::Slow`]).

use automerge::sync::{self, BloomFilter, Have, Message, MessageFlags, MessageVersion};
use automerge::{Automerge, ChangeHash};

use crate::protocol::recent::{Mark, RecentChanges};

/// What the fast path decided.
pub(super) enum Fast {
    /// Send this message (the state already counts it as sent).
    Send(Message),
    /// Nothing to send now (in flight, or the peer is up to date).
    Nothing,
    /// Not a case for the fast path: ask automerge.
    Slow,
}

/// Generates the next message for the peer behind `state` from `recent`,
/// starting at `mark`; see the module docs.
pub(super) fn generate(
    doc: &Automerge,
    state: &mut sync::State,
    mark: Option<Mark>,
    recent: &RecentChanges,
) -> Fast {
    let Some(mark) = mark.filter(|m| recent.covers(*m)) else {
        return Fast::Slow;
    };
    if state.read_only || state.needs_reset || !state.have_responded || state.peer_read_only {
        return Fast::Slow;
    }
    let has = |h: &ChangeHash| recent.contains(h) || doc.get_change_meta_by_hash(h).is_some();
    // automerge answers a peer whose last sync point we do not know with a reset.
    if let Some(first) = state.their_have.as_ref().and_then(|h| h.first()) {
        if !first.last_sync.iter().all(has) {
            return Fast::Slow;
        }
    }
    let our_heads = doc.get_heads();
    let heads_unchanged = state.last_sent_heads == our_heads;
    if heads_unchanged && state.in_flight {
        return Fast::Nothing;
    }
    let (Some(their_heads), Some(their_need), Some(_)) = (
        state.their_heads.as_ref(),
        state.their_need.as_ref(),
        state.their_have.as_ref(),
    ) else {
        return Fast::Slow;
    };
    if their_heads.is_empty() || !their_need.is_empty() || !their_heads.iter().all(has) {
        return Fast::Slow;
    }
    let Some(missing) = recent.missing_from(mark, their_heads) else {
        return Fast::Slow;
    };
    let to_send: Vec<_> = missing
        .into_iter()
        .filter(|r| !state.sent_hashes.contains(&r.hash))
        .collect();
    let heads_equal = *their_heads == our_heads;
    if heads_unchanged && heads_equal && to_send.is_empty() {
        return Fast::Nothing;
    }
    let bloom_hashes = recent.since_oldest_of(&state.shared_heads);
    let have = vec![Have {
        last_sync: state.shared_heads.clone(),
        bloom: BloomFilter::from_hashes(bloom_hashes.iter()),
    }];
    let v2 = state
        .their_capabilities
        .as_ref()
        .is_some_and(|c| c.contains(&sync::Capability::MessageV2));
    let changes: Vec<Vec<u8>> = if v2 {
        if to_send.is_empty() {
            Vec::new()
        } else {
            vec![to_send
                .iter()
                .flat_map(|r| r.bytes.iter().copied())
                .collect()]
        }
    } else {
        to_send.iter().map(|r| r.bytes.to_vec()).collect()
    };
    let mut flags = MessageFlags::new();
    flags.set(MessageFlags::SUPPORTS_SYNC_RESET);
    state.have_responded = true;
    state.last_sent_heads.clone_from(&our_heads);
    state.sent_hashes.extend(to_send.iter().map(|r| r.hash));
    state.in_flight = true;
    Fast::Send(Message {
        heads: our_heads,
        need: Vec::new(),
        have,
        changes: changes.into(),
        flags: Some(flags),
        version: if v2 {
            MessageVersion::V2
        } else {
            MessageVersion::V1
        },
    })
}
