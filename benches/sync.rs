//! End-to-end sync benchmarks through real Tandem servers on 127.0.0.1.
//!
//! Run with `cargo bench --bench sync` (optionally followed by `-- NAME…` to
//! run only the scenarios whose names start with one of the NAMEs, e.g.
//! `-- a b-10k`). Every scenario runs in its own child process (this binary
//! re-executed with `TANDEM_BENCH_CHILD=<scenario>`), so the peak RSS printed
//! next to it (VmHWM, read at the end of the child) belongs to that scenario
//! alone. Server and clients share that process; see `docs/benchmarks.md`.
//!
//! Scenarios:
//! - `a-*`: edit→peer latency between two live clients through one server.
//! - `b-*`: cold one-shot sync of a big document vs. in-process `automerge::sync`.
//! - `c-*`: many clients editing one document concurrently until convergence.
//! - `d-*`: one change fanned out to 1,000 live clients; memory per idle connection.
//! - `h-*`: edit→peer latency and CPU per edit on long histories (50k changes, the editing trace).
//! - `diag-*` (only when named): Automerge-only timings that explain the misses.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::sync::{Message, State as AmSyncState, SyncDoc};
use automerge::transaction::Transactable;
use automerge::{Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ROOT};
use tandem::client::{ClientConfig, ConnectionStatus, HttpVersion, SyncClient};
use tandem::node::{Node, NodeBuilder};
use tandem::protocol::{SyncSession, Until};
use tandem::store::{Durability, MemoryStore, SqliteStore, Store};
use tandem::tls::Trust;
use tandem::{DocId, Document, Hub};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

const CHILD_ENV: &str = "TANDEM_BENCH_CHILD";

/// Every scenario, in the order they run.
const SCENARIOS: &[&str] = &[
    "a-h1",
    "a-h2c",
    "a-sqlite",
    "b-10k",
    "b-trace",
    "c-10x100",
    "c-100x10",
    "d-fanout",
    "d-mem-split",
    "h-50k",
    "h-trace",
];

/// Opt-in diagnostics (see the end of this file).
const DIAGNOSTICS: &[&str] = &["diag-cold", "diag-receive", "diag-history"];

/// One line of the results table.
struct Row {
    figure: String,
    result: String,
    target: String,
    verdict: String,
}

impl Row {
    fn new(
        figure: impl Into<String>,
        result: impl Into<String>,
        target: &str,
        met: Option<bool>,
    ) -> Self {
        Self {
            figure: figure.into(),
            result: result.into(),
            target: target.into(),
            verdict: match met {
                Some(true) => "met".into(),
                Some(false) => "**missed**".into(),
                None => "–".into(),
            },
        }
    }

    /// Emits the row for the parent process.
    fn emit(&self) {
        println!(
            "@row\t{}\t{}\t{}\t{}",
            self.figure, self.result, self.target, self.verdict
        );
    }
}

fn main() {
    if let Ok(scenario) = std::env::var(CHILD_ENV) {
        child_main(&scenario);
        return;
    }
    // `cargo bench` passes `--bench`; anything else not starting with `-` filters.
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // Diagnostics run only when asked for by name.
    let selected: Vec<&str> = SCENARIOS
        .iter()
        .copied()
        .filter(|s| filters.is_empty() || filters.iter().any(|f| s.starts_with(f.as_str())))
        .chain(
            DIAGNOSTICS
                .iter()
                .copied()
                .filter(|s| filters.iter().any(|f| s.starts_with(f.as_str()))),
        )
        .collect();
    let exe = std::env::current_exe().expect("own executable");
    let started = Instant::now();
    let mut table: Vec<(String, Row, String)> = Vec::new();
    for scenario in selected {
        eprintln!("== {scenario}");
        let t = Instant::now();
        let mut child = Command::new(&exe)
            .env(CHILD_ENV, scenario)
            .env("TANDEM_NO_MDNS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn scenario process");
        let out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut rows = Vec::new();
        let mut peak = String::from("?");
        for line in out.lines() {
            let line = line.expect("read child output");
            let fields: Vec<&str> = line.split('\t').collect();
            match fields.as_slice() {
                ["@row", figure, result, target, verdict] => rows.push(Row {
                    figure: figure.to_string(),
                    result: result.to_string(),
                    target: target.to_string(),
                    verdict: verdict.to_string(),
                }),
                ["@peak", kib] => peak = mib(kib.parse().unwrap_or(0)),
                _ => eprintln!("   {line}"),
            }
        }
        let status = child.wait().expect("wait for scenario");
        if !status.success() {
            rows.push(Row::new(
                "scenario process failed",
                format!("{status}"),
                "",
                Some(false),
            ));
        }
        eprintln!("   ({scenario} took {:.1} s)", t.elapsed().as_secs_f64());
        for row in rows {
            table.push((scenario.to_string(), row, peak.clone()));
        }
    }
    println!();
    println!("| scenario | figure | result | target | verdict | peak RSS (scenario process) |");
    println!("|---|---|---|---|---|---|");
    for (scenario, row, peak) in &table {
        println!(
            "| {scenario} | {} | {} | {} | {} | {peak} |",
            row.figure, row.result, row.target, row.verdict
        );
    }
    println!();
    println!(
        "{} CPU(s) available; whole run took {:.1} s",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
}

fn child_main(scenario: &str) {
    raise_fd_limit(8192);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if scenario == "server-helper" {
        rt.block_on(server_helper());
        return;
    }
    let rows = rt.block_on(async {
        match scenario {
            "a-h1" => scenario_a("HTTP/1.1, MemoryStore", HttpVersion::Http1, false).await,
            "a-h2c" => scenario_a("h2c, MemoryStore", HttpVersion::Http2, false).await,
            "a-sqlite" => scenario_a("HTTP/1.1, SqliteStore", HttpVersion::Http1, true).await,
            "b-10k" => scenario_b_10k().await,
            "b-trace" => scenario_b_trace().await,
            "c-10x100" => scenario_c(10, 100, 20.0).await,
            "c-100x10" => scenario_c(100, 10, 150.0).await,
            "d-fanout" => scenario_d_fanout().await,
            "d-mem-split" => scenario_d_mem_split().await,
            "h-50k" => scenario_h(0).await,
            "h-trace" => scenario_h(1).await,
            "diag-cold" => diag_cold(),
            "diag-receive" => diag_receive(),
            "diag-history" => diag_history(),
            other => panic!("unknown scenario {other}"),
        }
    });
    rt.shutdown_timeout(Duration::from_secs(5));
    for row in rows {
        row.emit();
    }
    println!("@peak\t{}", proc_status_kib("VmHWM:"));
}

// ---------------------------------------------------------------- helpers

/// A field of /proc/self/status, in KiB.
fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Raises the soft open-file limit to at least `want` (bounded by the hard limit).
fn raise_fd_limit(want: u64) {
    // SAFETY: plain syscalls on a stack value.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur >= want as libc::rlim_t {
            return;
        }
        lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            eprintln!("could not raise the open-file limit");
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn fmt_ms(d: Duration) -> String {
    let v = ms(d);
    if v < 10.0 {
        format!("{v:.3} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{:.2} s", v / 1000.0)
    }
}

/// The median (the upper one of an even count).
fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn doc_id(s: &str) -> DocId {
    DocId::parse(s).expect("valid doc id")
}

async fn start_server(store: Arc<dyn Store>) -> (Node, Arc<Hub>) {
    let hub = Hub::new(store);
    let server = NodeBuilder::new()
        .hub(Arc::clone(&hub))
        .start()
        .await
        .expect("node starts");
    (server, hub)
}

fn client_config(base: &str, id: &DocId, http: HttpVersion) -> ClientConfig {
    let mut config = ClientConfig::new(url::Url::parse(&format!("{base}/{id}")).unwrap());
    config.http = http;
    // Plain http:// never uses the trust settings, but `Trust::System` reads
    // the OS root store for every client built; `Insecure` is free.
    config.trust = Trust::Insecure;
    config
}

/// One client: its own hub and store, its own document, its own HTTP client.
struct Peer {
    doc: Arc<Document>,
    status: watch::Receiver<ConnectionStatus>,
    client: SyncClient,
    status_tx: Option<watch::Sender<ConnectionStatus>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _hub: Arc<Hub>,
}

impl Peer {
    fn new(base: &str, id: &DocId, http: HttpVersion) -> Self {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = hub.open(id).expect("open client doc");
        let client = SyncClient::new(client_config(base, id, http)).expect("client");
        let (status_tx, status) = watch::channel(ConnectionStatus::Connecting);
        Self {
            doc,
            status,
            client,
            status_tx: Some(status_tx),
            task: None,
            _hub: hub,
        }
    }

    /// Starts `sync_live` on a task.
    fn go_live(&mut self, cancel: &CancellationToken) {
        let client = self.client.clone();
        let doc = Arc::clone(&self.doc);
        let cancel = cancel.clone();
        let status = self.status_tx.take().expect("live once");
        self.task = Some(tokio::spawn(async move {
            client.sync_live(&doc, cancel, status, None).await;
        }));
    }

    async fn wait_in_sync(&mut self) {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.status
                .wait_for(|s| matches!(s, ConnectionStatus::Live { in_sync: true })),
        )
        .await
        .expect("client goes live within 60 s")
        .expect("status sender alive");
    }
}

/// Waits until `doc`'s heads equal `heads`.
async fn wait_heads(doc: &Document, heads: &[ChangeHash], within: Duration) -> bool {
    let mut rx = doc.subscribe();
    tokio::time::timeout(within, async {
        loop {
            rx.borrow_and_update();
            if doc.heads() == heads {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// Waits until every peer reports `Live { in_sync: true }` and has `heads`.
async fn settle(peers: &mut [Peer], heads: &[ChangeHash]) {
    for p in peers.iter_mut() {
        assert!(
            wait_heads(&p.doc, heads, Duration::from_secs(60)).await,
            "client did not converge within 60 s"
        );
        p.wait_in_sync().await;
    }
}

async fn stop_peers(peers: Vec<Peer>, cancel: CancellationToken) {
    cancel.cancel();
    for mut p in peers {
        if let Some(task) = p.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

// ------------------------------------------------------------ (a) latency

const A_WARMUP: usize = 200;
const A_SAMPLES: usize = 1000;

async fn scenario_a(label: &str, http: HttpVersion, sqlite: bool) -> Vec<Row> {
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

    let mut samples = Vec::with_capacity(A_SAMPLES);
    for i in 0..(A_WARMUP + A_SAMPLES) {
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
        if i >= A_WARMUP {
            samples.push(dt);
        }
        // Let the acknowledgements drain so samples do not overlap.
        assert!(wait_heads(&server_doc, &target, Duration::from_secs(10)).await);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
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

// ---------------------------------------------------------- (b) cold sync

const B_RUNS: usize = 5;

/// 10,000 changes: one creates a text and a map, then each of 9,999 splices
/// one character into the text and puts one key in the map.
fn build_10k() -> Automerge {
    let mut doc = Automerge::new();
    let (text, meta) = doc
        .transact::<_, _, AutomergeError>(|tx| {
            let text = tx.put_object(ROOT, "text", ObjType::Text)?;
            let meta = tx.put_object(ROOT, "meta", ObjType::Map)?;
            tx.put(ROOT, "title", "benchmark document")?;
            Ok((text, meta))
        })
        .expect("first change")
        .result;
    let alphabet: Vec<char> = "the quick brown fox jumps over the lazy dog "
        .chars()
        .collect();
    for i in 0..9_999usize {
        doc.transact::<_, _, AutomergeError>(|tx| {
            let c = alphabet[i % alphabet.len()].to_string();
            tx.splice_text(&text, i, 0, &c)?;
            tx.put(&meta, format!("k{}", i % 64), i as i64)?;
            Ok(())
        })
        .expect("change");
    }
    doc
}

/// Syncs an empty document from `server` in-process with `automerge::sync`,
/// encoding and decoding every message as any transport must; stops when the
/// client holds the server's heads (what `Until::HeadsEqual` waits for).
fn inproc_sync(server: &mut Automerge) -> Duration {
    let mut client = Automerge::new();
    let mut ss = AmSyncState::new();
    let mut cs = AmSyncState::new();
    let target = server.get_heads();
    let t0 = Instant::now();
    for _ in 0..100 {
        let mut quiet = true;
        if let Some(m) = client.generate_sync_message(&mut cs) {
            let m = Message::decode(&m.encode()).expect("decode");
            server
                .receive_sync_message(&mut ss, m)
                .expect("server receives");
            quiet = false;
        }
        if let Some(m) = server.generate_sync_message(&mut ss) {
            let m = Message::decode(&m.encode()).expect("decode");
            client
                .receive_sync_message(&mut cs, m)
                .expect("client receives");
            quiet = false;
        }
        if client.get_heads() == target || quiet {
            break;
        }
    }
    let dt = t0.elapsed();
    assert_eq!(client.get_heads(), target, "in-process sync converged");
    dt
}

async fn cold_sync_rows(label: &str, saved: &[u8], changes: usize) -> Vec<Row> {
    // The limit first, so the server's copy is not warmed by anything of ours.
    let mut limit_doc = Automerge::load(saved).expect("load document");
    let mut limit = Vec::new();
    for _ in 0..B_RUNS {
        limit.push(inproc_sync(&mut limit_doc));
    }
    drop(limit_doc);

    let (server, hub) = start_server(Arc::new(MemoryStore::new())).await;
    let id = doc_id("cold");
    let server_doc = hub.open(&id).expect("open server doc");
    server_doc.load_bytes(saved).expect("load into server");
    let target = server_doc.heads();
    let base = server.url();
    let mut tandem = Vec::new();
    let mut attempts = Vec::new();
    for _ in 0..B_RUNS {
        let client_hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = client_hub.open(&id).expect("open client doc");
        let client =
            SyncClient::new(client_config(&base, &id, HttpVersion::Http1)).expect("client");
        let t0 = Instant::now();
        let report = client
            .sync_once(&doc, Until::HeadsEqual, Duration::from_secs(120))
            .await
            .expect("cold sync succeeds");
        tandem.push(t0.elapsed());
        attempts.push(report.attempts);
        assert_eq!(doc.heads(), target, "client converged");
    }
    drop(server_doc);
    server.shutdown().await;

    let all = |v: &[Duration]| v.iter().map(|d| fmt_ms(*d)).collect::<Vec<_>>().join(", ");
    eprintln!(
        "   {label}: tandem runs [{}], attempts {attempts:?}",
        all(&tandem)
    );
    eprintln!("   {label}: in-process runs [{}]", all(&limit));
    let t = median(tandem);
    let l = median(limit);
    let ratio = t.as_secs_f64() / l.as_secs_f64();
    vec![
        Row::new(
            format!("(b) cold sync {label} ({changes} changes, {} KiB saved), Tandem HTTP/1.1, median of {B_RUNS}", saved.len() / 1024),
            fmt_ms(t),
            "",
            None,
        ),
        Row::new(
            format!("(b) same, in-process automerge::sync (the limit), median of {B_RUNS}"),
            fmt_ms(l),
            "",
            None,
        ),
        Row::new(
            format!("(b) ratio Tandem / limit, {label}"),
            format!("{ratio:.2}×"),
            "≤ 1.3×",
            Some(ratio <= 1.3),
        ),
    ]
}

async fn scenario_b_10k() -> Vec<Row> {
    let t = Instant::now();
    let doc = build_10k();
    let saved = doc.save();
    eprintln!(
        "   built the 10,000-change document in {} ({} bytes saved)",
        fmt_ms(t.elapsed()),
        saved.len()
    );
    drop(doc);
    cold_sync_rows("10k-change doc", &saved, 10_000).await
}

fn editing_trace_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/editing-trace.automerge")
}

async fn scenario_b_trace() -> Vec<Row> {
    let path = editing_trace_path();
    let Ok(saved) = std::fs::read(&path) else {
        eprintln!(
            "   NOTE: {} is absent; skipping the editing-trace cold sync",
            path.display()
        );
        return vec![Row::new(
            "(b) cold sync, editing trace",
            "skipped: data file absent",
            "≤ 1.3×",
            None,
        )];
    };
    cold_sync_rows("editing trace", &saved, 259_779).await
}

// ------------------------------------------------- (c) concurrent editors

/// Waits until `doc` holds every change in `hashes` (once published);
/// returns when that happened.
fn spawn_holder_waiter(
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
/// took longer than `limit`; plus the number of durable writes on the server
/// and on the clients during the round.
async fn crowd_round(
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

    let t0 = Instant::now();
    let mut writers = JoinSet::new();
    for (i, p) in peers.iter().enumerate() {
        let doc = Arc::clone(&p.doc);
        let text = text.clone();
        writers.spawn(async move {
            for j in 0..m {
                doc.change(|tx| {
                    tx.splice_text(&text, 0, 0, "x")?;
                    tx.put(ROOT, format!("client{i}"), j as i64)
                })
                .expect("change");
                tokio::task::yield_now().await;
            }
            doc.read(|d| d.get_last_local_change().expect("made changes").hash())
        });
    }
    let mut last = Vec::with_capacity(n);
    while let Some(h) = writers.join_next().await {
        last.push(h.expect("writer"));
    }
    hash_tx.send_replace(Some(Arc::new(last)));
    let mut done = t0;
    let all = tokio::time::timeout(limit.saturating_sub(t0.elapsed()), async {
        while let Some(t) = waiters.join_next().await {
            done = done.max(t.expect("waiter"));
        }
    })
    .await;
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
const C_ROUND_LIMIT: Duration = Duration::from_secs(30);
/// Rounds of (c): at most this many, and no new round after `C_BUDGET`.
const C_ROUNDS: usize = 3;
const C_BUDGET: Duration = Duration::from_secs(20);

async fn scenario_c(n: usize, m: usize, target_ms: f64) -> Vec<Row> {
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
            "   {n}×{m} round {round}: {shown} ({server_writes} durable writes on the server doc, {client_writes} on the client docs incl. their {} own changes)",
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
    let target = format!("≤ {target_ms:.0} ms");
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
        Some(ms(med) <= target_ms),
    )]
}

// ------------------------------------------------ (d) fan-out and memory

const D_CLIENTS: usize = 1000;
const D_ROUNDS: usize = 5;

async fn connect_all(peers: &mut [Peer], cancel: &CancellationToken) -> Duration {
    let t0 = Instant::now();
    for p in peers.iter_mut() {
        p.go_live(cancel);
    }
    for p in peers.iter_mut() {
        p.wait_in_sync().await;
    }
    t0.elapsed()
}

async fn scenario_d_fanout() -> Vec<Row> {
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
async fn server_helper() {
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

async fn scenario_d_mem_split() -> Vec<Row> {
    let exe = std::env::current_exe().expect("own executable");
    let mut helper = Command::new(exe)
        .env(CHILD_ENV, "server-helper")
        .env("TANDEM_NO_MDNS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn server helper");
    let mut to_helper = helper.stdin.take().expect("stdin");
    let mut from_helper = BufReader::new(helper.stdout.take().expect("stdout"));
    let mut read_line = move || {
        let mut line = String::new();
        from_helper.read_line(&mut line).expect("helper answers");
        line.trim().to_owned()
    };
    let base = read_line()
        .strip_prefix("URL ")
        .expect("URL line")
        .to_owned();
    let mut ask_rss = move || -> u64 {
        writeln!(to_helper, "rss").expect("ask helper");
        to_helper.flush().expect("flush");
        read_line()
            .strip_prefix("RSS ")
            .and_then(|v| v.parse().ok())
            .expect("RSS line")
    };

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
    drop(ask_rss);
    let _ = helper.wait();
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

// ------------------------------------------------------------ diagnostics
//
// Not part of the table (run them by name: `cargo bench --bench sync --
// diag`). They time the Automerge operations the figures above depend on, so
// a miss can be attributed to Tandem or to Automerge.

/// Where a cold sync's time goes: the in-process sync, then the extra work a
/// Tandem client does with the result (its durable write, and the message it
/// generates before checking that it is done).
fn diag_cold() -> Vec<Row> {
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
fn diag_receive() -> Vec<Row> {
    let mut rows = Vec::new();
    for history in [100usize, 1_000, 10_000, 50_000] {
        let mut a = Automerge::new();
        for i in 0..history {
            a.transact::<_, _, AutomergeError>(|tx| tx.put(ROOT, "k", i as i64))
                .expect("change");
        }
        let mut b = Automerge::load(&a.save()).expect("load");
        let (mut sa, mut sb) = (AmSyncState::new(), AmSyncState::new());
        let converge =
            |a: &mut Automerge, sa: &mut AmSyncState, b: &mut Automerge, sb: &mut AmSyncState| {
                for _ in 0..10 {
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
                        break;
                    }
                }
            };
        converge(&mut a, &mut sa, &mut b, &mut sb);
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
            converge(&mut a, &mut sa, &mut b, &mut sb);
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

/// A text object to type into: the root's `text` if it is one, else the
/// first text object at the root.
fn main_text(doc: &Automerge) -> Option<ObjId> {
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
fn history_doc(which: usize) -> Option<(String, Vec<u8>)> {
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

const HISTORY_PREFIX: usize = 50_000;

/// Runs sync messages between two in-sync-to-be peers until both are quiet.
fn converge_pair(a: &mut Automerge, sa: &mut AmSyncState, b: &mut Automerge, sb: &mut AmSyncState) {
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
fn diag_history() -> Vec<Row> {
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

const H_WARMUP: usize = 20;
const H_SAMPLES: usize = 200;

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
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
async fn scenario_h(which: usize) -> Vec<Row> {
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
