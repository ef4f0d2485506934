//! (a) edit→peer latency between two live clients through one server.

use crate::*;

pub(crate) const A_WARMUP: usize = 200;
pub(crate) const A_SAMPLES: usize = 1000;

pub(crate) async fn scenario_a(label: &str, http: HttpVersion, sqlite: bool) -> Vec<Row> {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = if sqlite {
        Arc::new(SqliteStore::open_dir(dir.path(), Durability::Process).expect("sqlite store"))
    } else {
        Arc::new(MemoryStore::new())
    };
    let (server, hub) = start_server(store).await;
    let id = doc_id("latency");
    let server_doc = hub.open(&id).expect("open server doc");
    let cancel = CancellationToken::new();
    let base = server.url();
    let mut a = Peer::new(&base, &id, http);
    let mut b = Peer::new(&base, &id, http);
    a.go_live(&cancel);
    b.go_live(&cancel);
    a.wait_in_sync().await;
    b.wait_in_sync().await;

    let mut samples = edit_to_peer_samples(&a, &b, &server_doc, A_WARMUP, A_SAMPLES).await;
    samples.sort();
    let p50 = percentile(&samples, 0.50);
    let p99 = percentile(&samples, 0.99);
    let max = *samples.last().unwrap();
    let rows = vec![Row::new(
        format!("(a) edit→peer latency, {label} ({A_SAMPLES} samples)"),
        format!(
            "p50 {} · p99 {} · max {}",
            fmt_ms(p50),
            fmt_ms(p99),
            fmt_ms(max)
        ),
        "p50 ≤ 1 ms",
        Some(ms(p50) <= 1.0),
    )];
    stop_peers(vec![a, b], cancel).await;
    drop(server_doc);
    server.shutdown().await;
    rows
}

/// Times `warmup + n` edits at `a` until `b` holds each (one at a time, the
/// server's acknowledgements drained between them) and returns the last `n`.
pub(crate) async fn edit_to_peer_samples(
    a: &Peer,
    b: &Peer,
    server_doc: &Document,
    warmup: usize,
    n: usize,
) -> Vec<Duration> {
    let mut samples = Vec::with_capacity(n);
    for i in 0..(warmup + n) {
        let mut rx = b.doc.subscribe();
        rx.borrow_and_update();
        let t0 = Instant::now();
        a.doc
            .change(|tx| tx.put(ROOT, "counter", i as i64))
            .expect("change");
        let target = a.doc.heads();
        let arrived = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if rx.changed().await.is_err() {
                    return false;
                }
                if b.doc.heads() == target {
                    return true;
                }
            }
        })
        .await;
        let dt = t0.elapsed();
        assert!(
            matches!(arrived, Ok(true)),
            "change {i} did not reach B within 10 s"
        );
        if i >= warmup {
            samples.push(dt);
        }
        // Let the acknowledgements drain so samples do not overlap.
        assert!(wait_heads(server_doc, &target, Duration::from_secs(10)).await);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    samples
}
