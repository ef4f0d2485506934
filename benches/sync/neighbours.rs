//! (n) A small document's edit→peer latency while, on the same server, a
//! neighbour with a long history (the 50k-change prefix of the editing
//! trace) is being typed into. Every change to the neighbour costs automerge
//! milliseconds (it walks the whole text); this shows whether that cost
//! stays with the neighbour or stalls everything else the server does.

use crate::*;

/// Samples of the small document, quiet and then with the neighbour typed into.
const N_SAMPLES: usize = 300;

/// How often the neighbour's typist types a character, in ms
/// (`TANDEM_BENCH_N_TYPE_EVERY_MS`, default 10: faster than the server and
/// the reader apply on that history, so the neighbour keeps them busy).
fn typing_every() -> Duration {
    let ms = std::env::var("TANDEM_BENCH_N_TYPE_EVERY_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    Duration::from_millis(ms)
}

pub(crate) async fn scenario_neighbours() -> Vec<Row> {
    let Some((label, saved)) = history_doc(0) else {
        return vec![Row::new(
            "(n) small document next to a long one",
            "skipped: editing trace absent",
            "",
            None,
        )];
    };
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let base = server.url();
    let cancel = CancellationToken::new();

    let long_id = doc_id("neighbour-long");
    let long_doc = hub.open(&long_id).expect("open the long document");
    long_doc.load_bytes(&saved).expect("load into server");
    let mut typist = Peer::new(&base, &long_id, HttpVersion::Http1);
    let mut reader = Peer::new(&base, &long_id, HttpVersion::Http1);
    for p in [&typist, &reader] {
        p.doc.load_bytes(&saved).expect("load into a client");
    }
    typist.go_live(&cancel);
    reader.go_live(&cancel);
    typist.wait_in_sync().await;
    reader.wait_in_sync().await;

    let small_id = doc_id("neighbour-small");
    let small_doc = hub.open(&small_id).expect("open the small document");
    let mut a = Peer::new(&base, &small_id, HttpVersion::Http1);
    let mut b = Peer::new(&base, &small_id, HttpVersion::Http1);
    a.go_live(&cancel);
    b.go_live(&cancel);
    a.wait_in_sync().await;
    b.wait_in_sync().await;

    let quiet = edit_to_peer_samples(&a, &b, &small_doc, A_WARMUP, N_SAMPLES).await;

    let typing = CancellationToken::new();
    let typed = {
        let doc = Arc::clone(&typist.doc);
        let typing = typing.clone();
        tokio::spawn(async move {
            let text = doc.read(main_text).expect("a text object");
            let mut tick = tokio::time::interval(typing_every());
            let mut typed = 0usize;
            while tokio::select! {
                _ = typing.cancelled() => false,
                _ = tick.tick() => true,
            } {
                doc.change(|tx| {
                    let len = tx.length(&text);
                    tx.splice_text(&text, len / 2, 0, "x")
                })
                .expect("type");
                typed += 1;
            }
            typed
        })
    };
    let cpu0 = cpu_time();
    let t0 = Instant::now();
    let busy = edit_to_peer_samples(&a, &b, &small_doc, 0, N_SAMPLES).await;
    typing.cancel();
    let typed = typed.await.expect("the typist");
    let cpu = cpu_time() - cpu0;
    let wall = t0.elapsed();
    let caught_up = wait_heads(&reader.doc, &typist.doc.heads(), Duration::from_secs(60)).await;

    let summary = |mut samples: Vec<Duration>| {
        samples.sort();
        format!(
            "p50 {} · p99 {} · max {}",
            fmt_ms(percentile(&samples, 0.50)),
            fmt_ms(percentile(&samples, 0.99)),
            fmt_ms(*samples.last().unwrap())
        )
    };
    let rows = vec![
        Row::new(
            format!("(n) small document edit→peer, neighbour quiet ({N_SAMPLES} samples)"),
            summary(quiet),
            "",
            None,
        ),
        Row::new(
            format!(
                "(n) … while the neighbour ({label}) is typed into ({typed} characters, \
                 reader caught up: {caught_up})"
            ),
            format!(
                "{} · process CPU {:.0} % of one core",
                summary(busy),
                100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
            ),
            "",
            None,
        ),
    ];
    stop_peers(vec![typist, reader, a, b], cancel).await;
    drop((long_doc, small_doc));
    server.shutdown().await;
    rows
}
