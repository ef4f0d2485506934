//! Automerge-only timings that explain the misses (run only when named).

use crate::*;

//
// Not part of the table (run them by name: `cargo bench --bench sync --
// diag`). They time the Automerge operations the figures above depend on, so
// a miss can be attributed to Tandem or to Automerge.

/// Where a cold sync's time goes: the in-process sync, then the extra work a
/// Tandem client does with the result (its durable write, and the message it
/// generates before checking that it is done).
pub(crate) fn diag_cold() -> Vec<Row> {
    let mut rows = Vec::new();
    let mut docs = vec![("10k-change doc", build_10k().save())];
    if let Ok(trace) = std::fs::read(editing_trace_path()) {
        docs.push(("editing trace", trace));
    }
    for (label, saved) in docs {
        let mut server = Automerge::load(&saved).expect("load");
        let target = server.get_heads();
        let mut client = Automerge::new();
        let (mut ss, mut cs) = (AmSyncState::new(), AmSyncState::new());
        let t = Instant::now();
        while client.get_heads() != target {
            if let Some(m) = client.generate_sync_message(&mut cs) {
                server.receive_sync_message(&mut ss, m).expect("receive");
            }
            if let Some(m) = server.generate_sync_message(&mut ss) {
                client.receive_sync_message(&mut cs, m).expect("receive");
            }
        }
        let sync = t.elapsed();
        let t = Instant::now();
        let _ = client.generate_sync_message(&mut cs);
        let generate = t.elapsed();
        let t = Instant::now();
        let chunk = client.save_after(&[]);
        let save_after = t.elapsed();
        let t = Instant::now();
        let snapshot = client.save();
        let save = t.elapsed();
        rows.push(Row::new(
            format!("diag: {label}: in-process sync / client's next generate_sync_message / save_after(&[]) / save()"),
            format!(
                "{} / {} / {} ({} KiB) / {} ({} KiB)",
                fmt_ms(sync),
                fmt_ms(generate),
                fmt_ms(save_after),
                chunk.len() / 1024,
                fmt_ms(save),
                snapshot.len() / 1024
            ),
            "",
            None,
        ));
    }
    rows
}

/// What one small change costs to send and apply with `automerge::sync`, as
/// the document's history grows (two in-sync peers; all changes put one key).
pub(crate) fn diag_receive() -> Vec<Row> {
    let mut rows = Vec::new();
    for history in [100usize, 1_000, 10_000, 50_000] {
        let mut a = Automerge::new();
        for i in 0..history {
            a.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "k", i as i64))
                .expect("change");
        }
        let mut b = Automerge::load(&a.save()).expect("load");
        let (mut sa, mut sb) = (AmSyncState::new(), AmSyncState::new());
        converge_pair(&mut a, &mut sa, &mut b, &mut sb);
        let (mut apply, mut ack) = (Duration::ZERO, Duration::ZERO);
        let samples = 200;
        for i in 0..samples {
            a.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "k", i as i64))
                .expect("change");
            let m = a.generate_sync_message(&mut sa).expect("a message");
            let t = Instant::now();
            b.receive_sync_message(&mut sb, m).expect("receive");
            apply += t.elapsed();
            if let Some(m) = b.generate_sync_message(&mut sb) {
                let t = Instant::now();
                a.receive_sync_message(&mut sa, m).expect("receive");
                ack += t.elapsed();
            }
            converge_pair(&mut a, &mut sa, &mut b, &mut sb);
        }
        let per = |d: Duration| fmt_ms(d / samples);
        rows.push(Row::new(
            format!("diag: receive_sync_message with {history} changes of history: one-change message / its ack"),
            format!("{} / {}", per(apply), per(ack)),
            "",
            None,
        ));
    }
    rows
}
