//! Typing load: live clients each typing a few characters a second into one
//! long text (a 50,000-change prefix of the editing trace), through a server
//! in its own process so its CPU time is its own. Reports the server's CPU
//! (% of one core), keystroke → every other peer p50/p99, and the backlog
//! (keystrokes not yet at every peer) over time.

use crate::*;
use std::sync::Mutex;

/// One keystroke: its change, when it was typed, who typed it.
struct Keystroke {
    hash: ChangeHash,
    typed: Instant,
    author: usize,
    /// When each other peer got it.
    arrived: Vec<Option<Instant>>,
}

/// Every keystroke so far, shared by the typists and the watchers.
type Log = Arc<Mutex<Vec<Keystroke>>>;

/// The server of `typing`: loads the document, prints its URL, then answers
/// `cpu` (its CPU time in µs) and `rss` (KiB) on stdin; stops at end of input.
pub(crate) async fn typing_server() {
    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let Some((_, saved)) = history_doc(0) else {
        println!("URL none");
        return;
    };
    let doc = hub.open(&doc_id("typing")).expect("open");
    doc.load_bytes(&saved).expect("load");
    println!("URL {}", server.url());
    let _ = std::io::stdout().flush();
    let lines = tokio::task::spawn_blocking(|| {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            match line.trim() {
                "cpu" => println!("CPU {}", cpu_time().as_micros()),
                "rss" => println!("RSS {}", proc_status_kib("VmHWM:")),
                _ => continue,
            }
            let _ = std::io::stdout().flush();
        }
    });
    let _ = lines.await;
    drop(doc);
    server.shutdown().await;
}

/// Knobs: `TANDEM_BENCH_TYPING_CLIENTS` (20), `TANDEM_BENCH_TYPING_S` (60),
/// `TANDEM_BENCH_TYPING_RATE` (characters per second per client, 8).
pub(crate) async fn scenario_typing() -> Vec<Row> {
    let env = |k: &str, d: u64| {
        std::env::var(k)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let clients = env("TANDEM_BENCH_TYPING_CLIENTS", 20) as usize;
    let seconds = env("TANDEM_BENCH_TYPING_S", 60);
    let rate = env("TANDEM_BENCH_TYPING_RATE", 8);
    let Some((label, saved)) = history_doc(0) else {
        return vec![Row::new(
            "typing load",
            "skipped: editing trace absent",
            "",
            None,
        )];
    };
    let mut server = ServerProcess::spawn("typing-server");
    let base = server.base.clone();
    let mut ask = |what: &str| server.ask(what);

    let id = doc_id("typing");
    let cancel = CancellationToken::new();
    let mut peers: Vec<Peer> = (0..clients)
        .map(|_| Peer::new(&base, &id, HttpVersion::Http1))
        .collect();
    for p in &peers {
        p.doc.load_bytes(&saved).expect("load into a client");
    }
    let text = peers[0].doc.read(main_text).expect("a text object");
    for p in peers.iter_mut() {
        p.go_live(&cancel);
    }
    for p in peers.iter_mut() {
        p.wait_in_sync().await;
    }
    eprintln!("   {clients} clients in sync on the {label}");

    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let stop = CancellationToken::new();
    let mut tasks = JoinSet::new();
    for (i, p) in peers.iter().enumerate() {
        tasks.spawn(watch_arrivals(
            i,
            Arc::clone(&p.doc),
            Arc::clone(&log),
            stop.clone(),
        ));
    }
    let cpu0 = tokio::task::block_in_place(|| ask("cpu"));
    let t0 = Instant::now();
    let period = Duration::from_micros(1_000_000 / rate);
    for (i, p) in peers.iter().enumerate() {
        let doc = Arc::clone(&p.doc);
        let (text, log) = (text.clone(), Arc::clone(&log));
        let offset = period * i as u32 / clients as u32;
        let until = t0 + Duration::from_secs(seconds);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval_at((t0 + offset).into(), period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if Instant::now() >= until {
                    return;
                }
                let mut log = log.lock().expect("log");
                let typed = Instant::now();
                doc.change(|tx| {
                    let len = tx.length(&text);
                    tx.splice_text(&text, (len / clients) * i, 0, "k")
                })
                .expect("type");
                let hash = doc.read(|d| d.get_last_local_change().expect("typed").hash());
                log.push(Keystroke {
                    hash,
                    typed,
                    author: i,
                    arrived: vec![None; clients],
                });
            }
        });
    }
    // The backlog every 10 s: keystrokes typed but not yet at every peer.
    let mut backlog = Vec::new();
    let end = t0 + Duration::from_secs(seconds);
    while Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(10).min(end - Instant::now())).await;
        backlog.push(undelivered(&log));
    }
    let cpu1 = tokio::task::block_in_place(|| ask("cpu"));
    let typing_wall = t0.elapsed();
    let behind_at_end = undelivered(&log);
    let drained = tokio::time::timeout(Duration::from_secs(120), async {
        while undelivered(&log) > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok();
    let drain = t0.elapsed() - typing_wall;
    stop.cancel();
    tasks.abort_all();
    let server_peak = tokio::task::block_in_place(|| ask("rss"));
    stop_peers(peers, cancel).await;
    server.finish();

    let log = log.lock().expect("log");
    let mut latencies: Vec<Duration> = log
        .iter()
        .filter_map(|k| {
            let times: Option<Vec<Instant>> = k
                .arrived
                .iter()
                .enumerate()
                .filter(|(p, _)| *p != k.author)
                .map(|(_, t)| *t)
                .collect();
            times.and_then(|t| t.into_iter().max()).map(|t| t - k.typed)
        })
        .collect();
    latencies.sort();
    let cpu_pct = (cpu1 - cpu0) as f64 / 1e6 / typing_wall.as_secs_f64() * 100.0;
    let (p50, p99) = if latencies.is_empty() {
        (Duration::ZERO, Duration::ZERO)
    } else {
        (percentile(&latencies, 0.5), percentile(&latencies, 0.99))
    };
    let shape = format!("{clients} clients × {rate} chars/s × {seconds} s, {label}");
    vec![
        Row::new(
            format!("typing: server CPU, % of one core ({shape}; server in its own process)"),
            format!("{cpu_pct:.1} %"),
            "≤ 25 %",
            Some(cpu_pct <= 25.0),
        ),
        Row::new(
            format!("typing: keystroke → every other peer ({} keystrokes)", log.len()),
            format!("p50 {} · p99 {}", fmt_ms(p50), fmt_ms(p99)),
            "p99 ≤ 50 ms",
            Some(drained && ms(p99) <= 50.0),
        ),
        Row::new(
            "typing: backlog (keystrokes not yet at every peer) every 10 s, at the end, and the time to drain it",
            format!(
                "{backlog:?}, {behind_at_end} at the end, drained {}",
                if drained { format!("in {}", fmt_ms(drain)) } else { "not within 120 s".into() }
            ),
            "no growth",
            Some(drained && backlog.windows(2).all(|w| w[1] <= w[0].max(clients * 2))),
        ),
        Row::new("typing: server peak RSS", mib(server_peak), "", None),
    ]
}

/// Keystrokes some peer other than their author does not hold yet.
fn undelivered(log: &Log) -> usize {
    let log = log.lock().expect("log");
    log.iter()
        .filter(|k| {
            k.arrived
                .iter()
                .enumerate()
                .any(|(p, t)| p != k.author && t.is_none())
        })
        .count()
}

/// Notes when peer `me` gets each keystroke of the others.
async fn watch_arrivals(me: usize, doc: Arc<Document>, log: Log, stop: CancellationToken) {
    let mut changes = doc.subscribe();
    loop {
        changes.borrow_and_update();
        let now = Instant::now();
        {
            let mut log = log.lock().expect("log");
            doc.read(|d| {
                for k in log.iter_mut() {
                    if k.author == me || k.arrived[me].is_some() {
                        continue;
                    }
                    if d.get_change_meta_by_hash(&k.hash).is_some() {
                        k.arrived[me] = Some(now);
                    }
                }
            });
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            changed = changes.changed() => if changed.is_err() { return },
        }
    }
}
