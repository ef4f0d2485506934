//! (c) many clients editing one document concurrently until convergence.

use crate::*;

/// Waits until `doc` holds every change in `hashes` (once published);
/// returns when that happened.
pub(crate) fn spawn_holder_waiter(
    set: &mut JoinSet<Instant>,
    doc: Arc<Document>,
    mut hashes: watch::Receiver<Option<Arc<Vec<ChangeHash>>>>,
) {
    let mut changes = doc.subscribe();
    set.spawn(async move {
        let wanted = hashes
            .wait_for(Option::is_some)
            .await
            .expect("hashes published")
            .clone()
            .expect("some");
        // Changes never disappear, so each hash needs checking only until found.
        let mut next = 0;
        loop {
            changes.borrow_and_update();
            next += doc.read(|d| {
                wanted[next..]
                    .iter()
                    .take_while(|h| d.get_change_meta_by_hash(h).is_some())
                    .count()
            });
            if next == wanted.len() {
                return Instant::now();
            }
            if changes.changed().await.is_err() {
                panic!("document closed");
            }
        }
    });
}

/// One round of (c): a fresh document, `n` fresh live clients, `m` changes
/// each. Returns the time from the first change until the server and every
/// client hold every change (and so have identical heads), or `None` if that
/// took longer than `limit`; plus how often the server's and the clients'
/// documents woke their subscribers (coalesced writes, `hub::wake`).
pub(crate) async fn crowd_round(
    base: &str,
    hub: &Arc<Hub>,
    round: usize,
    n: usize,
    m: usize,
    limit: Duration,
) -> (Option<Duration>, u64, u64) {
    let id = doc_id(&format!("crowd-{n}x{m}-{round}"));
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc
        .change(|tx| tx.put_object(ROOT, "text", ObjType::Text))
        .expect("create text");
    let cancel = CancellationToken::new();
    let mut peers: Vec<Peer> = (0..n)
        .map(|_| Peer::new(base, &id, HttpVersion::Http1))
        .collect();
    for p in peers.iter_mut() {
        p.go_live(&cancel);
    }
    settle(&mut peers, &server_doc.heads()).await;
    let text: ObjId = server_doc.read(|d| d.get(ROOT, "text").unwrap().unwrap().1);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let server_v0 = *server_doc.subscribe().borrow();
    let clients_v0: u64 = peers.iter().map(|p| *p.doc.subscribe().borrow()).sum();

    let (hash_tx, hash_rx) = watch::channel(None);
    let mut waiters = JoinSet::new();
    for p in &peers {
        spawn_holder_waiter(&mut waiters, Arc::clone(&p.doc), hash_rx.clone());
    }
    spawn_holder_waiter(&mut waiters, Arc::clone(&server_doc), hash_rx.clone());
    tokio::task::yield_now().await;

    let cpu0 = crate::history::cpu_time();
    let t0 = Instant::now();
    let mut writers = JoinSet::new();
    let made_so_far = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for (i, p) in peers.iter().enumerate() {
        let doc = Arc::clone(&p.doc);
        let text = text.clone();
        let made_so_far = Arc::clone(&made_so_far);
        writers.spawn(async move {
            for j in 0..m {
                doc.change(|tx| {
                    tx.splice_text(&text, 0, 0, "x")?;
                    tx.put(ROOT, format!("client{i}"), j as i64)
                })
                .expect("change");
                made_so_far.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
            doc.read(|d| d.get_last_local_change().expect("made changes").hash())
        });
    }
    // The round's limit covers making the changes too: writers starved by
    // a sync that cannot keep up are stopped with the round, not waited for.
    let mut last = Vec::with_capacity(n);
    let made = tokio::time::timeout(limit, async {
        while let Some(h) = writers.join_next().await {
            last.push(h.expect("writer"));
        }
    })
    .await;
    if made.is_err() {
        writers.abort_all();
        waiters.abort_all();
        eprintln!(
            "   {n}×{m}: after {} the writers had made {} of their {} changes",
            fmt_ms(limit),
            made_so_far.load(std::sync::atomic::Ordering::Relaxed),
            n * m
        );
        stop_peers(peers, cancel).await;
        return (None, 0, 0);
    }
    let written = t0.elapsed();
    hash_tx.send_replace(Some(Arc::new(last)));
    let mut done = t0;
    let mut first_done: Option<Instant> = None;
    let all = tokio::time::timeout(limit.saturating_sub(t0.elapsed()), async {
        while let Some(t) = waiters.join_next().await {
            let t = t.expect("waiter");
            done = done.max(t);
            first_done = Some(first_done.map_or(t, |f| f.min(t)));
        }
    })
    .await;
    if std::env::var_os("TANDEM_BENCH_C_PHASES").is_some() {
        eprintln!(
            "   phases: every change made after {}, the first holder complete after {}, cpu {}",
            fmt_ms(written),
            first_done.map_or_else(|| "–".into(), |f| fmt_ms(f - t0)),
            fmt_ms(crate::history::cpu_time() - cpu0)
        );
    }
    let server_writes = *server_doc.subscribe().borrow() - server_v0;
    let client_writes = peers
        .iter()
        .map(|p| *p.doc.subscribe().borrow())
        .sum::<u64>()
        - clients_v0;
    let result = if all.is_ok() {
        let heads = server_doc.heads();
        for p in &peers {
            assert_eq!(p.doc.heads(), heads, "identical heads everywhere");
        }
        Some(done - t0)
    } else {
        waiters.abort_all();
        None
    };
    stop_peers(peers, cancel).await;
    (result, server_writes, client_writes)
}

/// How long one round of (c) may take before it is reported as a miss.
pub(crate) const C_ROUND_LIMIT: Duration = Duration::from_secs(30);
/// Rounds of (c): at most this many, and no new round after `C_BUDGET`.
pub(crate) const C_ROUNDS: usize = 3;
pub(crate) const C_BUDGET: Duration = Duration::from_secs(20);

pub(crate) async fn scenario_c(n: usize, m: usize, target_ms: Option<f64>) -> Vec<Row> {
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let rounds = env("TANDEM_BENCH_C_ROUNDS").map_or(C_ROUNDS, |v| v as usize);
    let limit = env("TANDEM_BENCH_C_LIMIT_S").map_or(C_ROUND_LIMIT, Duration::from_secs);
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let base = server.url();
    let started = Instant::now();
    let mut times = Vec::new();
    let mut timed_out = false;
    for round in 0..rounds {
        if round > 0 && started.elapsed() > C_BUDGET {
            break;
        }
        let (dt, server_writes, client_writes) = crowd_round(&base, &hub, round, n, m, limit).await;
        let shown = dt.map_or_else(|| format!("> {} (gave up)", fmt_ms(limit)), fmt_ms);
        eprintln!(
            "   {n}×{m} round {round}: {shown} ({server_writes} wake-ups of the server doc, {client_writes} of the client docs, for {} changes)",
            n * m
        );
        match dt {
            Some(dt) => times.push(dt),
            None => {
                timed_out = true;
                break;
            }
        }
    }
    server.shutdown().await;
    let figure =
        format!("(c) {n} clients × {m} changes, first change → identical heads everywhere");
    let target = target_ms.map_or_else(|| "reported".to_owned(), |t| format!("≤ {t:.0} ms"));
    if timed_out {
        return vec![Row::new(
            figure,
            format!(
                "did not converge within {} (rounds before: {})",
                fmt_ms(limit),
                times.len()
            ),
            &target,
            Some(false),
        )];
    }
    let count = times.len();
    let each = times
        .iter()
        .map(|d| fmt_ms(*d))
        .collect::<Vec<_>>()
        .join(", ");
    let med = median(times);
    vec![Row::new(
        format!("{figure} (median of {count} round(s), a fresh doc and fresh clients each)"),
        format!("{} (rounds: {each})", fmt_ms(med)),
        &target,
        target_ms.map(|t| ms(med) <= t),
    )]
}
