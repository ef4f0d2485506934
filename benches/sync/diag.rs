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

/// The floor that Automerge alone puts under (c): the changes of `n` writers
/// making `m` changes each (the bench's change: one character spliced into a
/// shared text and one key put), then one replica applying all of them in
/// batches of different sizes. Every client of (c) must apply about that
/// many changes, so `n ×` the replica's time is the least CPU a round costs
/// with Automerge documents at the clients, whatever the server does.
///
/// Two shapes of history: writers that see nobody else until the end (each
/// change depends on one change), and writers in lockstep (every change
/// depends on all `n` changes of the step before — a busy live document).
pub(crate) fn diag_crowd() -> Vec<Row> {
    let mut rows = Vec::new();
    for (n, m) in [(10usize, 10usize), (100, 10)] {
        for lockstep in [false, true] {
            let mut base = Automerge::new();
            let text = base
                .transact::<_, _, AutomergeError>(|tx| tx.put_object(ROOT, "text", ObjType::Text))
                .expect("text")
                .result;
            let mut writers: Vec<Automerge> = (0..n).map(|_| base.fork()).collect();
            let mut changes: Vec<automerge::Change> = Vec::with_capacity(n * m);
            let mut make = Duration::ZERO;
            for j in 0..m {
                let step_start = changes.len();
                let t_step = Instant::now();
                for (i, w) in writers.iter_mut().enumerate() {
                    w.transact::<_, _, AutomergeError>(|tx| {
                        tx.splice_text(&text, 0, 0, "x")?;
                        tx.put(ROOT, format!("client{i}"), j as i64)
                    })
                    .expect("change");
                    changes.push(w.get_last_local_change().expect("made").clone());
                }
                make += t_step.elapsed();
                if lockstep {
                    let step = changes[step_start..].to_vec();
                    for w in writers.iter_mut() {
                        w.apply_changes(step.iter().cloned()).expect("apply step");
                    }
                }
            }
            if !lockstep {
                // Causal order for the replica: writer by writer.
                changes.sort_by_key(|c| (c.actor_id().clone(), c.seq()));
            }
            let mut per_batch = Vec::new();
            for batch in [n * m, 27, 1] {
                let mut replica = base.clone();
                let t = Instant::now();
                for part in changes.chunks(batch) {
                    replica
                        .apply_changes(part.iter().cloned())
                        .expect("apply batch");
                }
                per_batch.push((batch, t.elapsed()));
                assert_eq!(replica.get_changes(&[]).len(), n * m + 1, "all applied");
            }
            let shape = if lockstep {
                "in lockstep"
            } else {
                "unaware of each other"
            };
            rows.push(Row::new(
                format!(
                    "diag: (c) {n}×{m}, writers {shape}: making the changes / one replica applying all {} in batches of {}",
                    n * m,
                    per_batch
                        .iter()
                        .map(|(b, _)| b.to_string())
                        .collect::<Vec<_>>()
                        .join(" · ")
                ),
                format!(
                    "{} / {} (× {n} clients: {})",
                    fmt_ms(make),
                    per_batch
                        .iter()
                        .map(|(_, d)| fmt_ms(*d))
                        .collect::<Vec<_>>()
                        .join(" · "),
                    per_batch
                        .iter()
                        .map(|(_, d)| fmt_ms(*d * n as u32))
                        .collect::<Vec<_>>()
                        .join(" · ")
                ),
                "",
                None,
            ));
        }
    }
    rows
}
