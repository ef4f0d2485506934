//! (d) one change fanned out to 1,000 live clients; memory per idle connection.

use crate::*;

pub(crate) const D_CLIENTS: usize = 1000;
pub(crate) const D_ROUNDS: usize = 5;

pub(crate) async fn connect_all(peers: &mut [Peer], cancel: &CancellationToken) -> Duration {
    let t0 = Instant::now();
    for p in peers.iter_mut() {
        p.go_live(cancel);
    }
    for p in peers.iter_mut() {
        p.wait_in_sync().await;
    }
    t0.elapsed()
}

pub(crate) async fn scenario_d_fanout() -> Vec<Row> {
    let rss_start = rss_kib();
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let id = doc_id("fanout");
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc
        .change(|tx| tx.put(ROOT, "title", "fan-out"))
        .expect("first change");
    let cancel = CancellationToken::new();
    let base = server.url();
    let mut peers: Vec<Peer> = (0..D_CLIENTS)
        .map(|_| Peer::new(&base, &id, HttpVersion::Http1))
        .collect();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss_before = rss_kib();
    let connect = connect_all(&mut peers, &cancel).await;
    settle(&mut peers, &server_doc.heads()).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle = rss_kib();
    eprintln!(
        "   RSS: {} at start, {} with {D_CLIENTS} client docs + HTTP clients built, {} with {D_CLIENTS} idle connections (connecting took {})",
        mib(rss_start),
        mib(rss_before),
        mib(rss_idle),
        fmt_ms(connect)
    );
    let per_conn = (rss_idle.saturating_sub(rss_before)) as f64 / D_CLIENTS as f64;
    let per_client_all = (rss_idle.saturating_sub(rss_start)) as f64 / D_CLIENTS as f64;

    let mut times = Vec::new();
    for round in 0..D_ROUNDS {
        let (hash_tx, hash_rx) = watch::channel(None);
        let mut waiters = JoinSet::new();
        for p in &peers {
            spawn_holder_waiter(&mut waiters, Arc::clone(&p.doc), hash_rx.clone());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let t0 = Instant::now();
        server_doc
            .change(|tx| tx.put(ROOT, "round", round as i64))
            .expect("change");
        let hash = server_doc.heads();
        hash_tx.send_replace(Some(Arc::new(hash.clone())));
        let mut done = t0;
        let all = tokio::time::timeout(Duration::from_secs(60), async {
            while let Some(t) = waiters.join_next().await {
                done = done.max(t.expect("waiter"));
            }
        })
        .await;
        assert!(
            all.is_ok(),
            "fan-out round {round} did not finish within 60 s"
        );
        let dt = done - t0;
        eprintln!("   fan-out round {round}: {}", fmt_ms(dt));
        times.push(dt);
        settle(&mut peers, &hash).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let max = *times.iter().max().unwrap();
    let med = median(times);
    let rows = vec![
        Row::new(
            format!("(d) one server-side change → all {D_CLIENTS} live clients have it (median of {D_ROUNDS})"),
            format!("{} (max {})", fmt_ms(med), fmt_ms(max)),
            "≤ 200 ms",
            Some(ms(med) <= 200.0),
        ),
        Row::new(
            format!("(d) memory per idle connection, both ends in one process: (RSS with {D_CLIENTS} idle − RSS before connecting) / {D_CLIENTS}"),
            format!("{per_conn:.1} KiB"),
            "≤ 64 KiB",
            Some(per_conn <= 64.0),
        ),
        Row::new(
            format!("(d) same, also counting each client's hub, document and HTTP client: (RSS idle − RSS at start) / {D_CLIENTS}"),
            format!("{per_client_all:.1} KiB"),
            "",
            None,
        ),
    ];
    stop_peers(peers, cancel).await;
    drop(server_doc);
    server.shutdown().await;
    rows
}

/// A server alone in its own process, for `d-mem-split`: prints its URL, then
/// answers `rss` on stdin with its VmRSS; stops at end of input.
pub(crate) async fn server_helper() {
    let (server, _hub) = start_server(Arc::new(MemoryStore::new())).await;
    println!("URL {}", server.url());
    let _ = std::io::stdout().flush();
    let lines = tokio::task::spawn_blocking(|| {
        let stdin = std::io::stdin();
        for line in stdin.lock().lines() {
            let Ok(line) = line else { break };
            if line.trim() == "rss" {
                println!("RSS {}", rss_kib());
                let _ = std::io::stdout().flush();
            }
        }
    });
    let _ = lines.await;
    server.shutdown().await;
}

pub(crate) async fn scenario_d_mem_split() -> Vec<Row> {
    let mut server = ServerProcess::spawn("server-helper");
    let base = server.base.clone();
    let mut ask_rss = || server.ask("rss");

    let id = doc_id("fanout");
    let cancel = CancellationToken::new();
    let mut peers: Vec<Peer> = (0..D_CLIENTS)
        .map(|_| Peer::new(&base, &id, HttpVersion::Http1))
        .collect();
    // A first connection opens the server's document (and warms its allocator).
    peers[0].go_live(&cancel);
    peers[0].wait_in_sync().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server_before = tokio::task::block_in_place(&mut ask_rss);
    let client_before = rss_kib();
    connect_all(&mut peers[1..], &cancel).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let server_after = tokio::task::block_in_place(&mut ask_rss);
    let client_after = rss_kib();
    let conns = (D_CLIENTS - 1) as f64;
    let server_per = server_after.saturating_sub(server_before) as f64 / conns;
    let client_per = client_after.saturating_sub(client_before) as f64 / conns;
    eprintln!(
        "   server process RSS {} → {}; client process RSS {} → {}",
        mib(server_before),
        mib(server_after),
        mib(client_before),
        mib(client_after)
    );
    stop_peers(peers, cancel).await;
    server.finish();
    vec![
        Row::new(
            "(d) memory per idle connection, server process alone (server in its own process)",
            format!("{server_per:.1} KiB"),
            "≤ 64 KiB",
            Some(server_per <= 64.0),
        ),
        Row::new(
            "(d) memory per idle connection, client side (the reqwest stream of a live client)",
            format!("{client_per:.1} KiB"),
            "",
            None,
        ),
    ]
}
