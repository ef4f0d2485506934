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

    /// Applies a message from the peer to `doc`.
    pub fn receive(&mut self, doc: &mut Automerge, message: Message) -> Result<(), AutomergeError> {
        doc.receive_sync_message(&mut self.state, message)
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
