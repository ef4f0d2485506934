//! Compressed vs plain sync streams, in one run: bytes on the wire (counted
//! by a TCP relay between client and server) for the cold sync of the
//! editing trace, pull and push, and live edit→peer latency.
//!
//! `cargo bench --bench compression` (see docs/benchmarks.md, "Compression").

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ROOT;
use tandem::client::{ClientConfig, Compression, ConnectionStatus, HttpVersion, SyncClient};
use tandem::hub::{Document, Hub};
use tandem::node::{Node, NodeBuilder};
use tandem::protocol::Until;
use tandem::store::MemoryStore;
use tandem::tls::Trust;
use tandem::DocId;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// Counts the bytes each way between clients and a server.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicUsize>,
    down: Arc<AtomicUsize>,
}

impl Relay {
    async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let relay = Self {
            addr: listener.local_addr().expect("addr"),
            up: Arc::default(),
            down: Arc::default(),
        };
        let (up, down) = (relay.up.clone(), relay.down.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::spawn(pump(cr, sw, up.clone()));
                tokio::spawn(pump(sr, cw, down.clone()));
            }
        });
        relay
    }

    fn take(&self) -> (usize, usize) {
        (
            self.up.swap(0, Ordering::SeqCst),
            self.down.swap(0, Ordering::SeqCst),
        )
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        count.fetch_add(n, Ordering::SeqCst);
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

fn config(
    addr: SocketAddr,
    id: &DocId,
    http: HttpVersion,
    compression: Compression,
) -> ClientConfig {
    let mut config =
        ClientConfig::new(url::Url::parse(&format!("http://{addr}/{id}")).expect("url"));
    config.http = http;
    config.trust = Trust::Insecure;
    config.compression = compression;
    config
}

fn mode_name(c: Compression) -> &'static str {
    match c {
        Compression::Off => "plain",
        Compression::Negotiate => "zstd (negotiate)",
        Compression::Eager => "zstd (eager)",
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

async fn start_server() -> (Node, Arc<Hub>) {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = NodeBuilder::new()
        .hub(Arc::clone(&hub))
        .start()
        .await
        .expect("node starts");
    (server, hub)
}

/// Cold sync of `saved` through a relay; `push`: the client holds the
/// document and the server nothing, else the other way round.
async fn cold(
    saved: &[u8],
    push: bool,
    compression: Compression,
    run: usize,
) -> (usize, usize, Duration) {
    let (server, hub) = start_server().await;
    let relay = Relay::to(server.local_addr().expect("listening")).await;
    let id = tandem::testing::id(&format!("cold-{run}"));
    let server_doc = hub.open(&id).expect("open");
    let client_hub = Hub::new(Arc::new(MemoryStore::new()));
    let doc = client_hub.open(&id).expect("open");
    let holder = if push { &doc } else { &server_doc };
    holder.load_bytes(saved).expect("load");
    let target = holder.heads();
    let client =
        SyncClient::new(config(relay.addr, &id, HttpVersion::Http1, compression)).expect("client");
    relay.take();
    let t0 = Instant::now();
    client
        .sync_once(&doc, Until::HeadsEqual, Duration::from_secs(300))
        .await
        .expect("cold sync");
    let took = t0.elapsed();
    assert_eq!(doc.heads(), target);
    assert_eq!(server_doc.heads(), target);
    let (up, down) = relay.take();
    drop((server_doc, doc));
    server.shutdown().await;
    (up, down, took)
}

async fn wait_live(status: &mut watch::Receiver<ConnectionStatus>) {
    tokio::time::timeout(
        Duration::from_secs(60),
        status.wait_for(|s| matches!(s, ConnectionStatus::Live { in_sync: true })),
    )
    .await
    .expect("live within 60 s")
    .expect("status");
}

/// Edit→peer latency samples (two live clients through a relay), and the
/// bytes per edit.
async fn latency(
    http: HttpVersion,
    compression: Compression,
    samples: usize,
) -> (Vec<Duration>, usize) {
    let (server, _hub) = start_server().await;
    let relay = Relay::to(server.local_addr().expect("listening")).await;
    let id = tandem::testing::id("latency");
    let cancel = CancellationToken::new();
    let mut docs: Vec<Arc<Document>> = Vec::new();
    let mut hubs = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..2 {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = hub.open(&id).expect("open");
        let client = SyncClient::new(config(relay.addr, &id, http, compression)).expect("client");
        let (tx, mut rx) = watch::channel(ConnectionStatus::Connecting);
        let (d, c) = (doc.clone(), cancel.clone());
        tasks.push(tokio::spawn(async move {
            client.sync_live(&d, c, tx, None).await
        }));
        wait_live(&mut rx).await;
        docs.push(doc);
        hubs.push(hub);
    }
    let (a, b) = (&docs[0], &docs[1]);
    let mut out = Vec::new();
    let warmup = 20;
    relay.take();
    for i in 0..(warmup + samples) {
        let mut rx = b.subscribe();
        rx.borrow_and_update();
        let t0 = Instant::now();
        a.change(|tx| tx.put(ROOT, "counter", i as i64))
            .expect("change");
        let target = a.heads();
        tokio::time::timeout(Duration::from_secs(10), async {
            while b.heads() != target {
                rx.changed().await.expect("doc open");
            }
        })
        .await
        .expect("edit arrives");
        if i >= warmup {
            out.push(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (up, down) = relay.take();
    cancel.cancel();
    for t in tasks {
        let _ = t.await;
    }
    server.shutdown().await;
    out.sort();
    (out, (up + down) / (warmup + samples))
}

fn pct(sorted: &[Duration], p: f64) -> String {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    format!("{:.3} ms", sorted[i].as_secs_f64() * 1000.0)
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../shared/data/editing-trace.automerge");
        match std::fs::read(&path) {
            Err(_) => println!("{} is absent: cold-sync rows skipped", path.display()),
            Ok(saved) => {
                println!("editing trace: {} saved", mib(saved.len()));
                for (push, label, on) in [
                    (false, "pull (server → empty client)", Compression::Negotiate),
                    (true, "push (client → empty server)", Compression::Eager),
                ] {
                    for run in 0..2 {
                        for mode in [Compression::Off, on] {
                            let (up, down, took) = cold(&saved, push, mode, run).await;
                            println!(
                                "cold {label}, {:<17} run {run}: up {:>10} down {:>10} total {:>10} in {:.2} s",
                                mode_name(mode),
                                mib(up),
                                mib(down),
                                mib(up + down),
                                took.as_secs_f64()
                            );
                        }
                    }
                }
            }
        }
        for (http, label) in [(HttpVersion::Http1, "h1"), (HttpVersion::Http2, "h2c")] {
            for round in 0..2 {
                for mode in [Compression::Off, Compression::Eager] {
                    let (samples, per_edit) = latency(http, mode, 300).await;
                    println!(
                        "live edit→peer {label}, {:<17} round {round}: p50 {} p99 {} ({} B on the wire per edit, all connections)",
                        mode_name(mode),
                        pct(&samples, 0.5),
                        pct(&samples, 0.99),
                        per_edit
                    );
                }
            }
        }
    });
}
