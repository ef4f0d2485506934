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

/// The longest sync message (before base64) sent to a peer that may be the Go
/// library, whose line reader stops at 65,535 bytes: 46 KiB of message is at
/// most 62.8 KB of base64, plus the line's 28 bytes of JSON.
pub const LEGACY_MAX_MESSAGE: usize = 46 * 1024;

/// The longest sync message sent to a peer that advertises modern
/// capabilities (Tandem, JavaScript Automerge): well under their 16 MiB lines.
pub const MODERN_MAX_MESSAGE: usize = 8 * 1024 * 1024;

/// Room kept for heads, needs and bloom filters when splitting.
const SPLIT_OVERHEAD: usize = 4 * 1024;

/// One side of one sync connection.
#[derive(Debug, Default)]
pub struct SyncSession {
    state: sync::State,
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

    /// Like [`SyncSession::generate`], but splits a message whose changes would
    /// make a line too long for the peer into several messages, each carrying
    /// a run of the changes in order. Peers that have not advertised any
    /// capability (the Go library, automerge < 0.6) get lines under 64 KiB.
    /// A single change larger than the limit still travels alone.
    pub fn generate_split(&mut self, doc: &Automerge) -> Vec<Message> {
        let Some(message) = self.generate(doc) else {
            return Vec::new();
        };
        let limit = if self.state.their_capabilities.is_some() {
            MODERN_MAX_MESSAGE
        } else {
            LEGACY_MAX_MESSAGE
        };
        split_message(message, limit)
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
        if needs_automerge(&self.state, &message) {
            return doc.receive_sync_message(&mut self.state, message);
        }
        receive_live(doc, &mut self.state, message)
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

/// Splits `message` so each part's changes fit in `limit` bytes (with room for
/// the rest of the message). Every part repeats the heads, needs and haves;
/// the receiver applies the runs in order (changes whose dependencies are
/// still missing wait in its queue).
pub fn split_message(message: Message, limit: usize) -> Vec<Message> {
    let budget = limit.saturating_sub(SPLIT_OVERHEAD).max(1);
    let total: usize = message.changes.iter().map(<[u8]>::len).sum();
    if total <= budget || message.changes.len() < 2 {
        return vec![message];
    }
    let mut groups: Vec<Vec<Vec<u8>>> = vec![Vec::new()];
    let mut size = 0;
    for chunk in message.changes.iter() {
        let last = groups.last_mut().expect("never empty");
        if !last.is_empty() && size + chunk.len() > budget {
            groups.push(Vec::new());
            size = 0;
        }
        size += chunk.len();
        groups.last_mut().expect("never empty").push(chunk.to_vec());
    }
    groups
        .into_iter()
        .map(|changes| Message {
            heads: message.heads.clone(),
            need: message.need.clone(),
            have: message.have.clone(),
            changes: changes.into(),
            flags: message.flags,
            version: message.version.clone(),
        })
        .collect()
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
            let to_legacy = s_big.generate_split(&big);
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
        assert_eq!(split_message(m, 10).len(), 1);
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
                    let limit = if rng.below(4) == 0 {
                        10
                    } else {
                        MODERN_MAX_MESSAGE
                    };
                    if let Some(m) = at_server[c].generate(&server) {
                        to_client[c].extend(split_message(m, limit));
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
