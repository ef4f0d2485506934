//! (h) edit→peer latency and CPU per edit on long histories, and the
//! Automerge-only breakdown of one typed character (`diag-history`).

use crate::*;

/// A text object to type into: the root's `text` if it is one, else the
/// first text object at the root.
pub(crate) fn main_text(doc: &Automerge) -> Option<ObjId> {
    if let Ok(Some((automerge::Value::Object(ObjType::Text), id))) = doc.get(ROOT, "text") {
        return Some(id);
    }
    doc.map_range(ROOT, ..).find_map(|item| match item.value {
        automerge::ValueRef::Object(ObjType::Text) => Some(item.id()),
        _ => None,
    })
}

/// A document with a long history, saved: `0` is a 50,000-change prefix of
/// the editing trace, `1` the whole trace. `None` when the trace is absent.
pub(crate) fn history_doc(which: usize) -> Option<(String, Vec<u8>)> {
    let path = editing_trace_path();
    let Ok(trace) = std::fs::read(&path) else {
        eprintln!("   NOTE: {} is absent; skipping", path.display());
        return None;
    };
    if which == 1 {
        return Some(("editing trace (259,779 changes)".into(), trace));
    }
    let t = Instant::now();
    let changes = Automerge::load(&trace)
        .expect("load the editing trace")
        .get_changes(&[]);
    let mut prefix = Automerge::new();
    prefix
        .apply_changes(changes.into_iter().take(HISTORY_PREFIX))
        .expect("apply the prefix");
    eprintln!(
        "   built the {HISTORY_PREFIX}-change prefix in {}",
        fmt_ms(t.elapsed())
    );
    Some((
        format!(
            "{}k-change prefix of the editing trace",
            HISTORY_PREFIX / 1000
        ),
        prefix.save(),
    ))
}

pub(crate) const HISTORY_PREFIX: usize = 50_000;

/// Runs sync messages between two in-sync-to-be peers until both are quiet.
pub(crate) fn converge_pair(
    a: &mut Automerge,
    sa: &mut AmSyncState,
    b: &mut Automerge,
    sb: &mut AmSyncState,
) {
    for _ in 0..20 {
        let ab = a.generate_sync_message(sa);
        let quiet_a = ab.is_none();
        if let Some(m) = ab {
            b.receive_sync_message(sb, m).expect("receive");
        }
        let ba = b.generate_sync_message(sb);
        let quiet_b = ba.is_none();
        if let Some(m) = ba {
            a.receive_sync_message(sa, m).expect("receive");
        }
        if quiet_a && quiet_b {
            return;
        }
    }
    panic!("peers did not converge in 20 rounds");
}

/// Where one typed character spends its time on a long history, Automerge
/// alone and Tandem's per-write work (what `Document::mutate` and
/// `Document::pending_lines` do), per step: the sender's
/// `generate_sync_message`, the receiver's `get_heads` (before/after),
/// `receive_sync_message`, `save_after`, `doc_info`, the receiver's
/// acknowledgement (`generate_sync_message`) and the sender receiving it.
/// Then the same receive split in two: `load_incremental` of the change
/// alone, then `receive_sync_message` of the message that carries it (which
/// now only updates the sync state).
pub(crate) fn diag_history() -> Vec<Row> {
    const SAMPLES: u32 = 40;
    let mut rows = Vec::new();
    for (label, saved) in (0..2).filter_map(history_doc) {
        let mut a = Automerge::load(&saved).expect("load");
        let mut b = Automerge::load(&saved).expect("load");
        let text = main_text(&a).expect("a text object");
        let (mut sa, mut sb) = (AmSyncState::new(), AmSyncState::new());
        converge_pair(&mut a, &mut sa, &mut b, &mut sb);
        let mut t = [Duration::ZERO; 8];
        let type_one = |a: &mut Automerge, i: u32| {
            let len = a.length(&text);
            a.transact::<_, _, AutomergeError>(|tx| {
                tx.splice_text(
                    &text,
                    len / 2,
                    0,
                    if i.is_multiple_of(2) { "x" } else { "y" },
                )
            })
            .expect("type");
        };
        for i in 0..SAMPLES {
            type_one(&mut a, i);
            let s = Instant::now();
            let m = a.generate_sync_message(&mut sa).expect("a message");
            t[0] += s.elapsed();
            let m = Message::decode(&m.encode()).expect("decode");
            let s = Instant::now();
            let before = b.get_heads();
            t[1] += s.elapsed();
            let s = Instant::now();
            b.receive_sync_message(&mut sb, m).expect("receive");
            t[2] += s.elapsed();
            let s = Instant::now();
            let after = b.get_heads();
            t[1] += s.elapsed();
            assert_ne!(before, after);
            let s = Instant::now();
            let chunk = b.save_after(&before);
            t[3] += s.elapsed();
            assert!(!chunk.is_empty());
            let s = Instant::now();
            let _info = tandem::hub::doc_info(&b);
            t[4] += s.elapsed();
            let s = Instant::now();
            let ack = b.generate_sync_message(&mut sb).expect("an ack");
            t[5] += s.elapsed();
            let ack = Message::decode(&ack.encode()).expect("decode");
            let s = Instant::now();
            a.receive_sync_message(&mut sa, ack).expect("receive ack");
            t[6] += s.elapsed();
            let s = Instant::now();
            let next = a.generate_sync_message(&mut sa);
            t[7] += s.elapsed();
            if let Some(m) = next {
                b.receive_sync_message(&mut sb, m).expect("receive");
            }
            converge_pair(&mut a, &mut sa, &mut b, &mut sb);
        }
        let per = |d: Duration| fmt_ms(d / SAMPLES);
        rows.push(Row::new(
            format!("diag: {label}: one typed character, sender generate / receiver get_heads ×2 / receive_sync_message / save_after / doc_info / ack generate / sender receives ack / sender's next generate (mean of {SAMPLES})"),
            t.iter().map(|d| per(*d)).collect::<Vec<_>>().join(" / "),
            "",
            None,
        ));
        let (mut load, mut rest) = (Duration::ZERO, Duration::ZERO);
        for i in 0..SAMPLES {
            type_one(&mut a, i);
            let m = a.generate_sync_message(&mut sa).expect("a message");
            let m = Message::decode(&m.encode()).expect("decode");
            let s = Instant::now();
            for chunk in m.changes.iter() {
                b.load_incremental(chunk).expect("load the change");
            }
            load += s.elapsed();
            let s = Instant::now();
            b.receive_sync_message(&mut sb, m).expect("receive");
            rest += s.elapsed();
            converge_pair(&mut a, &mut sa, &mut b, &mut sb);
        }
        rows.push(Row::new(
            format!("diag: {label}: the receive split: load_incremental of the change / then receive_sync_message (sync-state bookkeeping only) (mean of {SAMPLES})"),
            format!("{} / {}", per(load), per(rest)),
            "",
            None,
        ));
        // The same two receives through Tandem's `SyncSession::receive`.
        let (mut ta, mut tb) = (SyncSession::new(), SyncSession::new());
        let converge_sessions =
            |a: &mut Automerge, ta: &mut SyncSession, b: &mut Automerge, tb: &mut SyncSession| {
                for _ in 0..20 {
                    let ab = ta.generate(a);
                    let ab_quiet = ab.is_none();
                    if let Some(m) = ab {
                        tb.receive(b, m).expect("receive");
                    }
                    let ba = tb.generate(b);
                    let ba_quiet = ba.is_none();
                    if let Some(m) = ba {
                        ta.receive(a, m).expect("receive");
                    }
                    if ab_quiet && ba_quiet {
                        return;
                    }
                }
                panic!("sessions did not converge");
            };
        converge_sessions(&mut a, &mut ta, &mut b, &mut tb);
        let (mut recv, mut ack) = (Duration::ZERO, Duration::ZERO);
        for i in 0..SAMPLES {
            type_one(&mut a, i);
            let m = ta.generate(&a).expect("a message");
            let m = Message::decode(&m.encode()).expect("decode");
            let s = Instant::now();
            tb.receive(&mut b, m).expect("receive");
            recv += s.elapsed();
            let m = tb.generate(&b).expect("an ack");
            let m = Message::decode(&m.encode()).expect("decode");
            let s = Instant::now();
            ta.receive(&mut a, m).expect("receive ack");
            ack += s.elapsed();
            converge_sessions(&mut a, &mut ta, &mut b, &mut tb);
        }
        rows.push(Row::new(
            format!("diag: {label}: through tandem::protocol::SyncSession::receive: one-change message / its ack (mean of {SAMPLES})"),
            format!("{} / {}", per(recv), per(ack)),
            "",
            None,
        ));
    }
    rows
}

// ---------------------------------------------------- (h) long histories

pub(crate) const H_WARMUP: usize = 20;
pub(crate) const H_SAMPLES: usize = 200;

/// CPU time (user + system) this process has used so far.
pub(crate) fn cpu_time() -> Duration {
    // SAFETY: plain syscall on a stack value.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// (h) edit→peer latency on documents with long histories: a server and two
/// live clients all hold the same long document (a 50k-change prefix of the
/// editing trace, or the whole trace); A types one character into its text
/// per sample, timed until B holds it. Also reports the CPU time the whole
/// process (both clients and the server, every acknowledgement included)
/// spent per character.
pub(crate) async fn scenario_h(which: usize) -> Vec<Row> {
    let Some((label, saved)) = history_doc(which) else {
        return vec![Row::new(
            "(h) edit→peer on a long history",
            "skipped: editing trace absent",
            "",
            None,
        )];
    };
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let id = doc_id("history");
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc.load_bytes(&saved).expect("load into server");
    let cancel = CancellationToken::new();
    let base = server.url();
    let mut a = Peer::new(&base, &id, HttpVersion::Http1);
    let mut b = Peer::new(&base, &id, HttpVersion::Http1);
    a.doc.load_bytes(&saved).expect("load into A");
    b.doc.load_bytes(&saved).expect("load into B");
    let text = a.doc.read(main_text).expect("a text object");
    let t = Instant::now();
    a.go_live(&cancel);
    b.go_live(&cancel);
    a.wait_in_sync().await;
    b.wait_in_sync().await;
    eprintln!("   both clients in sync after {}", fmt_ms(t.elapsed()));

    let mut samples = Vec::with_capacity(H_SAMPLES);
    let mut cpu = Duration::ZERO;
    let mut wall = Duration::ZERO;
    for i in 0..(H_WARMUP + H_SAMPLES) {
        let cpu0 = cpu_time();
        let t0 = Instant::now();
        a.doc
            .change(|tx| {
                let len = tx.length(&text);
                tx.splice_text(
                    &text,
                    len / 2,
                    0,
                    if i.is_multiple_of(2) { "x" } else { "y" },
                )
            })
            .expect("change");
        let target = a.doc.heads();
        let arrived = wait_heads(&b.doc, &target, Duration::from_secs(30)).await;
        let dt = t0.elapsed();
        assert!(arrived, "change {i} did not reach B within 30 s");
        // Let the acknowledgements drain so samples do not overlap (and are
        // counted in the CPU time).
        assert!(wait_heads(&server_doc, &target, Duration::from_secs(30)).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
        if i >= H_WARMUP {
            samples.push(dt);
            cpu += cpu_time() - cpu0;
            wall += t0.elapsed();
        }
    }
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    let max = *samples.last().expect("samples");
    let n = H_SAMPLES as u32;
    let rows = vec![
        Row::new(
            format!("(h) edit→peer latency, {label}, HTTP/1.1, MemoryStore ({H_SAMPLES} samples)"),
            format!(
                "p50 {} · p99 {} · max {}",
                fmt_ms(p50),
                fmt_ms(p99),
                fmt_ms(max)
            ),
            "p50 ≤ 2 ms, p99 ≤ 10 ms",
            Some(ms(p50) <= 2.0 && ms(p99) <= 10.0),
        ),
        Row::new(
            format!("(h) CPU per typed character, {label}: both clients and the server, acknowledgements included (wall time per sample incl. a 5 ms pause)"),
            format!("{} ({})", fmt_ms(cpu / n), fmt_ms(wall / n)),
            "",
            None,
        ),
    ];
    stop_peers(vec![a, b], cancel).await;
    drop(server_doc);
    server.shutdown().await;
    rows
}
