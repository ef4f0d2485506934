//! The sync link without sockets: two links joined by hand, a fake clock,
//! and the stories the drivers rely on — pacing, bursts, pings, stalls,
//! both termination checks, `?follow=false`, read-only peers, withdrawn
//! access and deletion.
//!
//! Over 500 lines on purpose: one suite for one subject; each test stands alone and shares only `common`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use bytes::Bytes;
use tandem::hub::{Document, Hub};
use tandem::link::{
    Ending, Input, Link, Output, Role, BURST_QUIET, IDLE_LOG_AFTER, IDLE_LOG_KEEP, PACE_WINDOW,
};
use tandem::protocol::{Event, SyncSession, Until};
use tandem::store::MemoryStore;
use tandem::DocId;

fn doc(name: &str) -> (Arc<Hub>, Arc<Document>) {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let doc = hub.open(&DocId::parse(name).unwrap()).unwrap();
    (hub, doc)
}

fn put(doc: &Document, key: &str, value: i64) {
    doc.change(|tx| tx.put(automerge::ROOT, key, value))
        .unwrap();
}

fn server(t0: Instant, follow: bool) -> Link {
    Link::new(
        Role::Server {
            follow,
            ping_interval: Duration::from_secs(15),
        },
        SyncSession::new(),
        t0,
    )
}

fn client(t0: Instant, until: Option<Until>, stall: Option<Duration>) -> Link {
    Link::new(
        Role::Client {
            until,
            stall_after: stall,
        },
        SyncSession::new(),
        t0,
    )
}

/// The sync payloads among `outputs` (pings and errors skipped).
fn payloads(outputs: &[Output]) -> Vec<Vec<u8>> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(lines) => Some(lines),
            _ => None,
        })
        .flatten()
        .filter_map(
            |line: &Bytes| match tandem::protocol::line::decode_line(line) {
                Ok(Some(Event::Sync(bytes))) => Some(bytes),
                _ => None,
            },
        )
        .collect()
}

fn lines_of(outputs: &[Output]) -> Vec<String> {
    outputs
        .iter()
        .filter_map(|o| match o {
            Output::Send(lines) => Some(lines),
            _ => None,
        })
        .flatten()
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect()
}

fn ending(outputs: &[Output]) -> Option<&Ending> {
    outputs.iter().find_map(|o| match o {
        Output::End(e) => Some(e),
        _ => None,
    })
}

/// Passes messages between two links until both are quiet (bounded).
fn settle(now: Instant, a: &mut Link, a_doc: &Document, b: &mut Link, b_doc: &Document) -> usize {
    let mut messages = 0;
    let mut to_b = payloads(&a.handle(now, Input::Poll, a_doc));
    let mut to_a = payloads(&b.handle(now, Input::Poll, b_doc));
    for _ in 0..50 {
        if to_a.is_empty() && to_b.is_empty() {
            return messages;
        }
        messages += to_a.len() + to_b.len();
        let next_b = if to_a.is_empty() {
            Vec::new()
        } else {
            payloads(&a.handle(now, Input::Received(std::mem::take(&mut to_a)), a_doc))
        };
        let next_a = if to_b.is_empty() {
            Vec::new()
        } else {
            payloads(&b.handle(now, Input::Received(std::mem::take(&mut to_b)), b_doc))
        };
        to_b = next_b;
        to_a = next_a;
    }
    panic!("the links did not settle");
}

/// Runs a one-shot client against a server until the client's check passes
/// (bounded); whether it did.
fn until_satisfied(
    now: Instant,
    c: &mut Link,
    c_doc: &Document,
    s: &mut Link,
    s_doc: &Document,
) -> bool {
    let mut to_server = payloads(&c.handle(now, Input::Poll, c_doc));
    for _ in 0..20 {
        let back = payloads(&s.handle(now, Input::Received(std::mem::take(&mut to_server)), s_doc));
        let out = c.handle(now, Input::Received(back), c_doc);
        if ending(&out) == Some(&Ending::Satisfied) {
            return true;
        }
        to_server = payloads(&out);
    }
    false
}

#[test]
fn alice_and_the_server_converge_and_a_one_shot_client_ends_satisfied() {
    let t0 = Instant::now();
    let (_h1, alice) = doc("notes");
    let (_h2, served) = doc("notes");
    put(&alice, "from_alice", 1);
    put(&served, "from_server", 2);
    let mut a = client(t0, Some(Until::HeadsEqual), None);
    let mut s = server(t0, true);
    assert!(
        until_satisfied(t0, &mut a, &alice, &mut s, &served),
        "converged in a few rounds"
    );
    assert_eq!(alice.heads(), served.heads());
}

#[test]
fn a_burst_of_changes_travels_in_one_message_while_one_is_in_flight() {
    let t0 = Instant::now();
    let (_h1, served) = doc("burst");
    let (_h2, bob) = doc("burst");
    let mut s = server(t0, true);
    let mut b = client(t0, None, None);
    settle(t0, &mut s, &served, &mut b, &bob);
    // One change goes out at once: the link was idle.
    put(&served, "k0", 0);
    let first = s.handle(t0, Input::DocChanged, &served);
    assert_eq!(payloads(&first).len(), 1, "an idle link answers at once");
    // 99 more changes while that message is in flight: nothing goes out…
    for i in 1..100 {
        put(&served, &format!("k{i}"), i);
        let out = s.handle(
            t0 + Duration::from_micros(i as u64),
            Input::DocChanged,
            &served,
        );
        assert!(
            payloads(&out).is_empty(),
            "paced while a message is in flight"
        );
    }
    // …until Bob answers: then one message carries everything he lacks.
    let answer = payloads(&b.handle(t0, Input::Received(payloads(&first)), &bob));
    let next = s.handle(
        t0 + Duration::from_millis(1),
        Input::Received(answer),
        &served,
    );
    let batch = payloads(&next);
    assert_eq!(batch.len(), 1, "one message for the whole burst");
    b.handle(t0, Input::Received(batch), &bob);
    settle(t0 + Duration::from_millis(2), &mut s, &served, &mut b, &bob);
    assert_eq!(bob.heads(), served.heads());
}

#[test]
fn a_silent_peer_does_not_block_sending_past_the_window() {
    let t0 = Instant::now();
    let (_h, served) = doc("slow");
    let mut s = server(t0, true);
    put(&served, "a", 1);
    assert_eq!(payloads(&s.handle(t0, Input::Poll, &served)).len(), 1);
    put(&served, "b", 2);
    assert!(payloads(&s.handle(t0, Input::DocChanged, &served)).is_empty());
    assert_eq!(
        s.deadline(),
        Some(t0 + PACE_WINDOW),
        "wakes when the window ends"
    );
    let later = s.handle(t0 + PACE_WINDOW, Input::Timer, &served);
    assert_eq!(
        payloads(&later).len(),
        1,
        "sends again once the window passed"
    );
}

#[test]
fn an_idle_server_stream_pings() {
    let t0 = Instant::now();
    let (_h, served) = doc("idle");
    let mut s = server(t0, true);
    // The first message (heads) goes out; then nothing is held back, and
    // the only deadline is the ping's.
    assert_eq!(payloads(&s.handle(t0, Input::Poll, &served)).len(), 1);
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(15)));
    let out = s.handle(t0 + Duration::from_secs(15), Input::Timer, &served);
    assert_eq!(lines_of(&out), vec!["{\"event\":\"ping\"}\n".to_owned()]);
    assert_eq!(s.deadline(), Some(t0 + Duration::from_secs(30)));
}

#[test]
fn a_one_shot_client_that_hears_nothing_stalls() {
    let t0 = Instant::now();
    let (_h, local) = doc("stall");
    put(&local, "a", 1);
    let mut c = client(t0, Some(Until::HeadsEqual), Some(Duration::from_secs(2)));
    assert_eq!(payloads(&c.handle(t0, Input::Poll, &local)).len(), 1);
    let out = c.handle(t0 + Duration::from_secs(1), Input::Timer, &local);
    assert_eq!(ending(&out), None);
    let out = c.handle(t0 + Duration::from_secs(2), Input::Timer, &local);
    assert_eq!(ending(&out), Some(&Ending::Stalled));
}

#[test]
fn has_remote_heads_waits_for_the_push_to_be_acknowledged() {
    let t0 = Instant::now();
    let (_h1, local) = doc("push");
    let (_h2, served) = doc("push");
    put(&served, "theirs", 1);
    put(&local, "mine", 2);
    let mut c = client(t0, Some(Until::HasRemoteHeads), None);
    let mut s = server(t0, true);
    assert!(
        until_satisfied(t0, &mut c, &local, &mut s, &served),
        "has-remote-heads passed"
    );
    // Done only once the server holds our change too.
    assert!(
        served.read(|d| automerge::ReadDoc::get(d, automerge::ROOT, "mine")
            .unwrap()
            .is_some())
    );
}

#[test]
fn follow_false_ends_once_the_body_ended_and_everything_was_sent() {
    let t0 = Instant::now();
    let (_h, served) = doc("once");
    put(&served, "a", 1);
    let mut s = server(t0, false);
    let out = s.handle(t0, Input::PeerEnded, &served);
    assert_eq!(
        payloads(&out).len(),
        1,
        "what the peer lacks goes out first"
    );
    assert_eq!(ending(&out), Some(&Ending::Complete));
}

#[test]
fn a_read_only_peer_that_sends_changes_is_refused() {
    let t0 = Instant::now();
    let (_h1, reader_doc) = doc("ro");
    let (_h2, served) = doc("ro");
    put(&reader_doc, "sneaky", 1);
    let mut c = client(t0, None, None);
    let mut s = server(t0, true).read_only(true);
    // First the exchange of heads (no changes yet)…
    let hello = payloads(&c.handle(t0, Input::Poll, &reader_doc));
    let answer = payloads(&s.handle(t0, Input::Received(hello), &served));
    // …then the reader's change.
    let push = payloads(&c.handle(t0, Input::Received(answer), &reader_doc));
    let out = s.handle(t0, Input::Received(push), &served);
    assert!(matches!(ending(&out), Some(Ending::Error(e)) if e.contains("read role")));
    assert!(lines_of(&out)
        .iter()
        .any(|l| l.contains("\"event\":\"error\"")));
    assert!(served.heads().is_empty(), "nothing was applied");
}

#[test]
fn withdrawn_access_and_deletion_end_the_link_with_an_error_line() {
    let t0 = Instant::now();
    let (_h, served) = doc("gone");
    let mut s = server(t0, true);
    assert!(ending(&s.handle(t0, Input::Access(true), &served)).is_none());
    let out = s.handle(t0, Input::Access(false), &served);
    assert!(matches!(ending(&out), Some(Ending::Error(e)) if e.contains("withdrawn")));
    assert!(lines_of(&out)[0].contains("withdrawn"));

    let (hub, other) = doc("deleted");
    let mut s = server(t0, true);
    hub.delete(other.id()).unwrap();
    let out = s.handle(t0, Input::DocChanged, &other);
    assert!(matches!(ending(&out), Some(Ending::Error(e)) if e.contains("deleted")));
    assert!(
        s.handle(t0, Input::Poll, &other).is_empty(),
        "an ended link stays quiet"
    );
}

#[test]
fn a_malformed_line_ends_the_link_and_the_peer_is_told() {
    let t0 = Instant::now();
    let (_h, served) = doc("bad");
    let mut s = server(t0, true);
    let out = s.handle(
        t0,
        Input::Malformed("line is not a JSON object".into()),
        &served,
    );
    assert!(lines_of(&out)[0].contains("not a JSON object"));
    let mut c = client(t0, None, None);
    let out = c.handle(t0, Input::PeerError("server says no".into()), &served);
    assert_eq!(
        ending(&out),
        Some(&Ending::PeerError("server says no".into()))
    );
}

#[test]
fn a_raw_link_sends_bare_messages_no_pings_and_no_error_lines() {
    let t0 = Instant::now();
    let (_h, ours_doc) = doc("raw");
    put(&ours_doc, "a", 1);
    let mut link = server(t0, true).raw_payloads(true).read_only(true);
    let out = link.handle(t0, Input::Poll, &ours_doc);
    let sent: Vec<&Bytes> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send(m) => Some(m),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(sent.len(), 1);
    automerge::sync::Message::decode(sent[0]).expect("a bare sync message, not a line");
    // No ping is scheduled: the only wake-up is the idle log's.
    assert_eq!(link.deadline(), Some(t0 + IDLE_LOG_AFTER));
    let idle = link.handle(t0 + Duration::from_secs(60), Input::Timer, &ours_doc);
    assert!(
        idle.iter().all(|o| !matches!(o, Output::Send(_))),
        "{idle:?}"
    );

    // A change from a read-only peer ends the link without an error line:
    // the driver reports it in its own protocol.
    let (_h2, theirs) = doc("raw");
    put(&theirs, "b", 2);
    let mut session = SyncSession::new();
    let ours = automerge::sync::Message::decode(sent[0]).unwrap();
    theirs.receive(&mut session, ours).unwrap();
    let change = theirs.read(|d| session.generate(d)).unwrap().encode();
    assert!(tandem::protocol::carries_changes(&change));
    let out = link.handle(t0, Input::Received(vec![change]), &ours_doc);
    assert!(
        matches!(out.as_slice(), [Output::End(Ending::Error(_))]),
        "{out:?}"
    );
}

/// Two live links whose documents both keep changing: each side makes a
/// change every 100 µs, every message takes 500 µs to arrive, and each link
/// is woken when it asked to be. Returns how many messages each side sent.
fn busy_exchange(
    t0: Instant,
    s: &mut Link,
    served: &Document,
    b: &mut Link,
    bob: &Document,
    steps: u64,
) -> (usize, usize) {
    const DELAY: u64 = 5;
    let (mut from_s, mut from_b) = (0, 0);
    // Messages on the way, by the step at which they arrive.
    let mut to_b: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    let mut to_s: Vec<(u64, Vec<Vec<u8>>)> = Vec::new();
    // After the last change, until nothing is on the way for a while.
    let mut i = 0;
    let mut quiet_since = 0;
    while i < steps || i < quiet_since + 1000 {
        i += 1;
        let now = t0 + Duration::from_micros(100 * i);
        let mut out_s = Vec::new();
        let mut out_b = Vec::new();
        if i < steps {
            put(served, &format!("s{i}"), i as i64);
            put(bob, &format!("b{i}"), i as i64);
            out_s.extend(payloads(&s.handle(now, Input::DocChanged, served)));
            out_b.extend(payloads(&b.handle(now, Input::DocChanged, bob)));
        }
        if s.deadline().is_some_and(|d| d <= now) {
            out_s.extend(payloads(&s.handle(now, Input::Timer, served)));
        }
        if b.deadline().is_some_and(|d| d <= now) {
            out_b.extend(payloads(&b.handle(now, Input::Timer, bob)));
        }
        for (at, lines) in std::mem::take(&mut to_s) {
            if at <= i {
                out_s.extend(payloads(&s.handle(now, Input::Received(lines), served)));
            } else {
                to_s.push((at, lines));
            }
        }
        for (at, lines) in std::mem::take(&mut to_b) {
            if at <= i {
                out_b.extend(payloads(&b.handle(now, Input::Received(lines), bob)));
            } else {
                to_b.push((at, lines));
            }
        }
        from_s += out_s.len();
        from_b += out_b.len();
        if !(out_s.is_empty() && out_b.is_empty() && to_b.is_empty() && to_s.is_empty()) {
            quiet_since = i;
        }
        if !out_s.is_empty() {
            to_b.push((i + DELAY, out_s));
        }
        if !out_b.is_empty() {
            to_s.push((i + DELAY, out_b));
        }
    }
    (from_s, from_b)
}

#[test]
fn during_a_burst_on_both_sides_each_link_sends_once_per_gap() {
    let t0 = Instant::now();
    let (_h1, served) = doc("both-busy");
    let (_h2, bob) = doc("both-busy");
    let mut s = server(t0, true);
    let mut b = client(t0, None, None);
    settle(t0, &mut s, &served, &mut b, &bob);
    // 400 changes on each side over 40 ms, then until all is delivered.
    // Answering every message at once ping-pongs one message per round trip
    // (80 each way); paced by a gap that starts at 1 ms and doubles up to
    // 20 ms, each side sends a few.
    let (from_s, from_b) = busy_exchange(t0, &mut s, &served, &mut b, &bob, 400);
    assert!(from_s <= 10, "the server sent {from_s} messages");
    assert!(from_b <= 10, "the client sent {from_b} messages");
    // Once the burst is over, everything arrived: the peers are in step.
    assert_eq!(served.heads(), bob.heads());
    // An in-step link answers a lone change at once.
    let quiet = t0 + Duration::from_secs(10);
    put(&served, "lone", 1);
    let out = s.handle(quiet, Input::DocChanged, &served);
    assert_eq!(payloads(&out).len(), 1, "a lone change goes out at once");
}

#[test]
fn the_end_of_a_burst_goes_out_once_the_document_is_quiet_not_a_whole_gap_later() {
    let t0 = Instant::now();
    let (_h1, served) = doc("burst-end");
    let (_h2, bob) = doc("burst-end");
    let mut s = server(t0, true);
    let mut b = client(t0, None, None);
    settle(t0, &mut s, &served, &mut b, &bob);
    // Others change the served document every 100 µs for 33 ms: the link to
    // bob paces him by a gap that has doubled to its longest by the end.
    // Each message takes 300 µs to reach bob, and his answer as long back.
    const STEP: Duration = Duration::from_micros(100);
    const CHANGES: u32 = 330;
    let mut to_b: Vec<(Instant, Vec<Vec<u8>>)> = Vec::new();
    let mut to_s: Vec<(Instant, Vec<Vec<u8>>)> = Vec::new();
    let mut last_sent = t0;
    for i in 1..=CHANGES + 400 {
        let now = t0 + STEP * i;
        let mut out = Vec::new();
        if i <= CHANGES {
            put(&served, &format!("k{i}"), i64::from(i));
            out.extend(payloads(&s.handle(now, Input::DocChanged, &served)));
        }
        if s.deadline().is_some_and(|d| d <= now) {
            out.extend(payloads(&s.handle(now, Input::Timer, &served)));
        }
        for (at, lines) in std::mem::take(&mut to_s) {
            if at <= now {
                out.extend(payloads(&s.handle(now, Input::Received(lines), &served)));
            } else {
                to_s.push((at, lines));
            }
        }
        if !out.is_empty() {
            last_sent = now;
            to_b.push((now + 3 * STEP, out));
        }
        for (at, lines) in std::mem::take(&mut to_b) {
            if at <= now {
                let answer = payloads(&b.handle(now, Input::Received(lines), &bob));
                if !answer.is_empty() {
                    to_s.push((now + 3 * STEP, answer));
                }
            } else {
                to_b.push((at, lines));
            }
        }
    }
    assert_eq!(served.heads(), bob.heads(), "bob got the whole burst");
    // The last message left within the quiet time (plus one round trip for
    // the answer it waited for) of the last change, not up to the longest
    // burst gap (20 ms) later.
    let last_change = t0 + STEP * CHANGES;
    let late = last_sent.saturating_duration_since(last_change);
    assert!(
        late <= BURST_QUIET + 6 * STEP,
        "the last message left {late:?} after the last change"
    );
}

#[test]
fn an_idle_document_lets_its_log_of_recent_changes_shrink_and_its_peers_stay_served_from_it() {
    let t0 = Instant::now();
    let (_h1, served) = doc("idle-log");
    let (_h2, bob) = doc("idle-log");
    let mut s = server(t0, true);
    let mut b = client(t0, None, None);
    settle(t0, &mut s, &served, &mut b, &bob);
    for i in 0..500 {
        put(&served, &format!("k{i}"), i);
    }
    settle(t0, &mut s, &served, &mut b, &bob);
    let (kept, bytes) = served.recent_changes_kept();
    // (The first change made the document and was stored as a snapshot.)
    assert!(kept >= 499, "the log holds the session's changes: {kept}");
    // Idle: the link asks to be woken once the document has been still for
    // a while, and then lets the log shrink.
    let wake = s.deadline().expect("a deadline");
    assert!(
        wake <= t0 + IDLE_LOG_AFTER,
        "wakes for the idle log: {wake:?}"
    );
    let later = t0 + IDLE_LOG_AFTER;
    let out = s.handle(later, Input::Timer, &served);
    assert!(ending(&out).is_none());
    let (kept_idle, bytes_idle) = served.recent_changes_kept();
    assert!(kept_idle <= IDLE_LOG_KEEP, "{kept_idle} changes kept");
    assert!(bytes_idle * 4 < bytes, "{bytes_idle} of {bytes} bytes kept");
    // Once idle, the deadline is the ping only (the log is not trimmed again
    // until the document moves).
    assert!(s.deadline().unwrap() > later);
    // A peer in step is still served from the log.
    let from_log = s.session().messages_from_log();
    put(&served, "after", 1);
    let sent = payloads(&s.handle(later, Input::DocChanged, &served));
    assert_eq!(sent.len(), 1, "a lone change goes out at once");
    assert_eq!(
        s.session().messages_from_log(),
        from_log + 1,
        "built from the log"
    );
    settle(later, &mut s, &served, &mut b, &bob);
    let out = b.handle(later, Input::Received(sent), &bob);
    assert!(ending(&out).is_none());
    assert_eq!(served.heads(), bob.heads());
}

#[test]
fn a_peer_that_stays_behind_is_dropped_and_one_that_makes_progress_is_not() {
    let t0 = Instant::now();
    let limit = Duration::from_secs(10);
    let (_h1, served) = doc("lagging");
    let (_h2, bob) = doc("lagging");
    let mut s = server(t0, true).with_lag_limit(limit);
    let mut b = client(t0, None, None);
    settle(t0, &mut s, &served, &mut b, &bob);
    // Bob stops taking what the server sends (his messages never arrive).
    put(&served, "x", 1);
    assert_eq!(payloads(&s.handle(t0, Input::DocChanged, &served)).len(), 1);
    let deadline = s.deadline().expect("a deadline while the peer is behind");
    assert!(deadline <= t0 + limit, "wakes up to check the lag");
    let almost = s.handle(t0 + limit - Duration::from_secs(1), Input::Timer, &served);
    assert!(ending(&almost).is_none(), "not dropped before the limit");
    let out = s.handle(t0 + limit, Input::Timer, &served);
    assert!(
        matches!(ending(&out), Some(Ending::Error(reason)) if reason.contains("stayed behind")),
        "dropped with a clear reason: {out:?}"
    );
    assert!(
        lines_of(&out).iter().any(|l| l.contains("stayed behind")),
        "the peer is told why in an error line"
    );

    // A peer that is always a step behind but keeps taking what it is sent
    // (a slow cold sync, a slow reader under steady typing) is not dropped:
    // each of its answers shows new heads. Here the server changes every
    // second and each answer arrives a second late, for three limits' time.
    let (_h3, busy) = doc("progress");
    let (_h4, carol) = doc("progress");
    let mut s = server(t0, true).with_lag_limit(limit);
    let mut c = client(t0, None, None);
    settle(t0, &mut s, &busy, &mut c, &carol);
    let mut late: Vec<Vec<u8>> = Vec::new();
    for step in 1..=30u64 {
        let now = t0 + Duration::from_secs(step);
        put(&busy, &format!("k{step}"), step as i64);
        let mut out = s.handle(now, Input::Received(std::mem::take(&mut late)), &busy);
        out.extend(s.handle(now, Input::DocChanged, &busy));
        assert!(ending(&out).is_none(), "dropped at step {step}: {out:?}");
        let sent = payloads(&out);
        if !sent.is_empty() {
            late = payloads(&c.handle(now, Input::Received(sent), &carol));
        }
    }
    assert!(carol.heads().len() == 1, "carol kept up, a step behind");
}

/// Types one character at the end of `doc`'s `text`.
fn type_char(doc: &Document) {
    doc.change(|tx| {
        let text = match tx.get(automerge::ROOT, "text")? {
            Some((_, id)) => id,
            None => tx.put_object(automerge::ROOT, "text", automerge::ObjType::Text)?,
        };
        let end = tx.length(&text);
        tx.splice_text(&text, end, 0, "x")
    })
    .unwrap();
}

#[test]
fn a_document_slow_to_change_is_worked_on_off_the_runtime() {
    // With automerge 0.12 a received change walks the whole text it
    // touches: on a long text that takes milliseconds, and done in place it
    // would stall every other task of the runtime meanwhile.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let t0 = Instant::now();
        let (_h1, served) = doc("long-text");
        let (_h2, bob) = doc("long-text");
        type_char(&served);
        served
            .change(|tx| {
                let (_, text) = tx.get(automerge::ROOT, "text")?.unwrap();
                tx.splice_text(&text, 0, 0, &"a".repeat(200_000))
            })
            .unwrap();
        let mut s = server(t0, true);
        let mut b = client(t0, None, None);
        settle(t0, &mut s, &served, &mut b, &bob);
        assert!(
            served.is_slow_to_change(),
            "writing a 200,000-character text takes ≥ {:?}",
            tandem::hub::SLOW_WRITE
        );

        // Bob types; the server applies his change off the runtime: another
        // task runs meanwhile.
        settle(t0, &mut s, &served, &mut b, &bob);
        type_char(&bob);
        let sent = payloads(&b.handle(t0, Input::DocChanged, &bob));
        let (out, during) =
            tandem::testing::others_ran_during(s.handle_now(Input::Received(sent), &served)).await;
        assert!(ending(&out).is_none());
        assert_eq!(served.heads(), bob.heads(), "the change was applied");
        assert!(
            during > 0,
            "the runtime ran nothing else while the slow document applied a change"
        );
    });
}
