//! Tests of the sync session: against automerge's own receive, splits, limits.

use super::*;
use automerge::transaction::Transactable;

/// `tandem::testing::doc_with_changes`, which this layer may not import (the
/// testing kit sits above every layer; `tests/architecture.rs`).
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
        let to_legacy = s_big.generate_split(&big, &RecentChanges::new()).unwrap();
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

/// Syncs `from` into an empty foreign peer that refuses lines over
/// [`FOREIGN_MAX_LINE`] and answers every message (as the Go library does).
/// Returns (lines, longest line, bytes) sent to the foreign peer.
fn pull_into_foreign(from: &mut Automerge) -> (usize, usize, usize) {
    let mut peer = Automerge::new();
    let (mut ours, mut theirs) = (SyncSession::new(), SyncSession::new());
    let (mut lines, mut longest, mut bytes) = (0, 0, 0);
    for _ in 0..10_000 {
        let parts = ours.generate_split(from, &RecentChanges::new()).unwrap();
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
    let err = session
        .generate_split(&mine, &RecentChanges::new())
        .unwrap_err();
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
