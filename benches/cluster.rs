//! PostgreSQL next to SQLite, and three cluster nodes next to one.
//!
//! Run with `cargo bench --bench cluster` (needs Debian's `postgresql`
//! package: the bench starts its own server in a temp dir, fsync on, like a
//! real deployment). Servers and clients share this process and machine; see
//! `docs/benchmarks.md` ("Cluster") for what each figure means.
//!
//! - (a) edit→peer latency between two live clients through one server.
//! - (b) cold one-shot sync of a 10k-change document (loaded from the store).
//! - (c) 10 clients × 20 changes on one document, first change → converged.
//! - (d) one server-side change → all 200 live clients have it.
//! - (t) acknowledged changes per second, 30 documents × 2 writers for 10 s,
//!   through 1 node and through 3 nodes on the same database.

#[path = "../tests/common/postgres.rs"]
#[allow(dead_code, unreachable_pub, missing_docs)]
mod pg;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use tandem::client::{ClientConfig, ConnectionStatus, SyncClient};
use tandem::cluster::{Cluster, ClusterConfig};
use tandem::node::{Node, NodeBuilder};
use tandem::protocol::Until;
use tandem::server::placement::Placement;
use tandem::server::ServerOptions;
use tandem::store::{Durability, MemoryStore, PgStore, SqliteStore, Store};
use tandem::{Document, Hub};
use tokio_util::sync::CancellationToken;
use url::Url;

use tandem::testing::{get, id, percentile, put};

const WAIT: Duration = Duration::from_secs(60);

fn local(doc_id: &str) -> Arc<Document> {
    Hub::new(Arc::new(MemoryStore::new()))
        .open(&id(doc_id))
        .unwrap()
}

fn client(base: &str, doc_id: &str) -> SyncClient {
    SyncClient::new(ClientConfig::new(
        Url::parse(&format!("{base}/{doc_id}")).unwrap(),
    ))
    .unwrap()
}

struct Live {
    cancel: CancellationToken,
    status: tokio::sync::watch::Receiver<ConnectionStatus>,
}

fn go_live(client: &SyncClient, doc: &Arc<Document>) -> Live {
    let cancel = CancellationToken::new();
    let (tx, rx) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
    let (client, doc2, c) = (client.clone(), doc.clone(), cancel.clone());
    tokio::spawn(async move { client.sync_live(&doc2, c, tx, None).await });
    Live { cancel, status: rx }
}

async fn until_live(live: &Live) {
    let mut status = live.status.clone();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| matches!(s, ConnectionStatus::Live { .. })),
    )
    .await
    .unwrap()
    .unwrap();
}

async fn wait_value(doc: &Document, key: &str, value: &str) {
    let mut changes = doc.subscribe();
    tokio::time::timeout(WAIT, async {
        while get(doc, key).as_deref() != Some(value) {
            changes.changed().await.unwrap();
        }
    })
    .await
    .expect("value arrives");
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn serve(
    store: Arc<dyn Store>,
    listen: SocketAddr,
    placement: Option<Arc<dyn Placement>>,
) -> Node {
    let options = ServerOptions {
        placement,
        ..ServerOptions::default()
    };
    NodeBuilder::new()
        .store(store)
        .listen_on(listen)
        .server_options(options)
        .start()
        .await
        .unwrap()
}

/// (a) edit→peer latency, 300 samples.
async fn latency(store: Arc<dyn Store>) -> String {
    let server = serve(store, "127.0.0.1:0".parse().unwrap(), None).await;
    let (a, b) = (local("lat"), local("lat"));
    let (la, lb) = (
        go_live(&client(&server.url(), "lat"), &a),
        go_live(&client(&server.url(), "lat"), &b),
    );
    until_live(&la).await;
    until_live(&lb).await;
    let mut samples = Vec::new();
    for n in 0..330 {
        let value = n.to_string();
        let started = Instant::now();
        put(&a, "k", &value);
        wait_value(&b, "k", &value).await;
        if n >= 30 {
            samples.push(started.elapsed());
        }
    }
    la.cancel.cancel();
    lb.cancel.cancel();
    server.shutdown().await;
    format!(
        "p50 {} · p99 {}",
        ms(percentile(&mut samples, 0.5)),
        ms(percentile(&mut samples, 0.99))
    )
}

/// (b) cold sync of a 10k-change document, median of 5.
async fn cold(store: Arc<dyn Store>) -> String {
    let mut big = Automerge::new();
    for n in 0..10_000 {
        let mut tx = big.transaction();
        tx.put(ROOT, "n", n as i64).unwrap();
        tx.commit();
    }
    let hub = Hub::new(store);
    hub.open(&id("big"))
        .unwrap()
        .load_bytes(&big.save())
        .unwrap();
    let server = NodeBuilder::new().hub(hub).start().await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..5 {
        let doc = local("big");
        let started = Instant::now();
        client(&server.url(), "big")
            .sync_once(&doc, Until::HeadsEqual, WAIT)
            .await
            .unwrap();
        samples.push(started.elapsed());
    }
    server.shutdown().await;
    ms(percentile(&mut samples, 0.5))
}

/// (c) 10 clients × 20 changes, first change → identical heads.
async fn concurrent(store: Arc<dyn Store>) -> String {
    let server = serve(store, "127.0.0.1:0".parse().unwrap(), None).await;
    let docs: Vec<_> = (0..10).map(|_| local("conc")).collect();
    let lives: Vec<_> = docs
        .iter()
        .map(|d| go_live(&client(&server.url(), "conc"), d))
        .collect();
    for l in &lives {
        until_live(l).await;
    }
    let started = Instant::now();
    for round in 0..20 {
        for (i, d) in docs.iter().enumerate() {
            put(d, &format!("c{i}"), &round.to_string());
        }
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(WAIT, async {
        loop {
            let heads = docs[0].heads();
            if docs
                .iter()
                .all(|d| d.heads() == heads && d.read(|r| r.get_changes(&[]).len()) == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("converges");
    let took = started.elapsed();
    for l in lives {
        l.cancel.cancel();
    }
    server.shutdown().await;
    ms(took)
}

/// (d) one server-side change → 200 live clients, median of 5.
async fn fanout(store: Arc<dyn Store>) -> String {
    let server = serve(store, "127.0.0.1:0".parse().unwrap(), None).await;
    let source = server.hub().open(&id("fan")).unwrap();
    put(&source, "v", "start");
    let docs: Vec<_> = (0..200).map(|_| local("fan")).collect();
    let lives: Vec<_> = docs
        .iter()
        .map(|d| go_live(&client(&server.url(), "fan"), d))
        .collect();
    for d in &docs {
        wait_value(d, "v", "start").await;
    }
    let mut samples = Vec::new();
    for n in 0..5 {
        let value = format!("v{n}");
        let started = Instant::now();
        put(&source, "v", &value);
        for d in &docs {
            wait_value(d, "v", &value).await;
        }
        samples.push(started.elapsed());
    }
    for l in lives {
        l.cancel.cancel();
    }
    drop(source);
    server.shutdown().await;
    ms(percentile(&mut samples, 0.5))
}

/// (t) through `nodes` cluster nodes: acknowledged write→ack cycles per
/// second, and sustained ingest (every writer writes a change every 5 ms
/// without waiting; changes per second until all are on both writers).
async fn throughput(pg_url: &str, nodes: usize) -> (String, String) {
    let mut servers = Vec::new();
    let mut clusters = Vec::new();
    for _ in 0..nodes {
        let store = Arc::new(PgStore::connect(pg_url).unwrap());
        let port = pg::free_port();
        let hub_store: Arc<dyn Store> = store.clone();
        let hub = Hub::new(hub_store);
        let cluster = Cluster::join(
            store,
            hub.clone(),
            ClusterConfig {
                advertise_url: format!("http://127.0.0.1:{port}"),
                lease_ttl: ClusterConfig::DEFAULT_LEASE_TTL,
                pin: None,
            },
        )
        .await
        .unwrap();
        let options = ServerOptions {
            placement: Some(cluster.clone() as Arc<dyn Placement>),
            ..ServerOptions::default()
        };
        let server = NodeBuilder::new()
            .hub(hub)
            .listen_on(format!("127.0.0.1:{port}").parse().unwrap())
            .server_options(options)
            .start()
            .await
            .unwrap();
        servers.push(server);
        clusters.push(cluster);
    }
    // Let every node see the others before placing documents.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let acked = Arc::new(AtomicU64::new(0));
    let running = Arc::new(AtomicBool::new(true));
    let mut tasks = Vec::new();
    for d in 0..30 {
        for w in 0..2 {
            let name = format!("t{nodes}-{d}");
            let doc = local(&name);
            let entry = servers[(d + w) % nodes].url();
            let live = go_live(&client(&entry, &name), &doc);
            let (acked, running) = (acked.clone(), running.clone());
            tasks.push(tokio::spawn(async move {
                until_live(&live).await;
                let mut status = live.status.clone();
                let mut n = 0u64;
                while running.load(Ordering::SeqCst) {
                    n += 1;
                    put(&doc, &format!("w{w}"), &n.to_string());
                    status.borrow_and_update();
                    let ok = tokio::time::timeout(Duration::from_secs(5), async {
                        while status.changed().await.is_ok() {
                            if *status.borrow_and_update()
                                == (ConnectionStatus::Live { in_sync: true })
                            {
                                return true;
                            }
                        }
                        false
                    })
                    .await;
                    if ok == Ok(true) {
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                }
                live.cancel.cancel();
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await; // warm-up
    let before = acked.load(Ordering::SeqCst);
    let started = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    let done = acked.load(Ordering::SeqCst) - before;
    let secs = started.elapsed().as_secs_f64();
    running.store(false, Ordering::SeqCst);
    for t in tasks {
        let _ = tokio::time::timeout(WAIT, t).await;
    }
    let cycles = format!("{:.0} changes/s", done as f64 / secs);
    let ingest = ingest(&servers, nodes).await;
    for c in &clusters {
        c.drain().await;
    }
    for s in servers {
        s.shutdown().await;
    }
    for c in &clusters {
        c.leave().await;
    }
    (cycles, ingest)
}

/// Sustained ingest: 30 documents × 2 writers, a change every 5 ms each for
/// 5 s, then until both writers of every document hold all changes.
async fn ingest(servers: &[Node], nodes: usize) -> String {
    let mut pairs = Vec::new();
    for d in 0..30 {
        let name = format!("i{nodes}-{d}");
        let pair: Vec<_> = (0..2)
            .map(|w| {
                let doc = local(&name);
                let live = go_live(&client(&servers[(d + w) % nodes].url(), &name), &doc);
                (doc, live)
            })
            .collect();
        pairs.push(pair);
    }
    for pair in &pairs {
        for (_, live) in pair {
            until_live(live).await;
        }
    }
    let started = Instant::now();
    let mut written = 0u64;
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    while started.elapsed() < Duration::from_secs(5) {
        tick.tick().await;
        for pair in &pairs {
            for (w, (doc, _)) in pair.iter().enumerate() {
                put(doc, &format!("w{w}"), &written.to_string());
            }
        }
        written += 1;
    }
    let total = written as usize * 2;
    tokio::time::timeout(WAIT, async {
        loop {
            let done = pairs.iter().all(|pair| {
                pair.iter()
                    .all(|(doc, _)| doc.read(|d| d.get_changes(&[]).len()) == total)
            });
            if done {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("ingest converges");
    let secs = started.elapsed().as_secs_f64();
    for pair in pairs {
        for (_, live) in pair {
            live.cancel.cancel();
        }
    }
    format!(
        "{:.0} changes/s ({} changes in {secs:.2} s)",
        (total * 30) as f64 / secs,
        total * 30
    )
}

fn main() {
    let Some(bin) = pg::TempPostgres::installed() else {
        eprintln!("SKIPPED: PostgreSQL is not installed (apt-get install postgresql)");
        return;
    };
    let postgres = pg::TempPostgres::start(bin, false);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let n = std::cell::Cell::new(0);
    let fresh_sqlite = |durability| -> Arc<dyn Store> {
        n.set(n.get() + 1);
        let path = dir.path().join(format!("s{}.sqlite3", n.get()));
        Arc::new(SqliteStore::open(&path, durability).unwrap())
    };
    let m = std::cell::Cell::new(0);
    let fresh_pg = || -> Arc<dyn Store> {
        m.set(m.get() + 1);
        let url = postgres.create_database(&format!("bench{}", m.get()));
        Arc::new(PgStore::connect(&url).unwrap())
    };
    let (plain, full) = (Durability::Process, Durability::Full);
    println!("| figure | SQLite | SQLite `--fsync` | PostgreSQL (fsync on) |");
    println!("| --- | --- | --- | --- |");
    runtime.block_on(async {
        let row = |name: &str, cells: [String; 3]| println!("| {name} | {} |", cells.join(" | "));
        row(
            "(a) edit→peer latency, HTTP/1.1, 300 samples",
            [
                latency(fresh_sqlite(plain)).await,
                latency(fresh_sqlite(full)).await,
                latency(fresh_pg()).await,
            ],
        );
        row(
            "(b) cold sync of a 10k-change document, median of 5",
            [
                cold(fresh_sqlite(plain)).await,
                cold(fresh_sqlite(full)).await,
                cold(fresh_pg()).await,
            ],
        );
        row(
            "(c) 10 clients × 20 changes, first change → converged",
            [
                concurrent(fresh_sqlite(plain)).await,
                concurrent(fresh_sqlite(full)).await,
                concurrent(fresh_pg()).await,
            ],
        );
        row(
            "(d) one change → 200 live clients, median of 5",
            [
                fanout(fresh_sqlite(plain)).await,
                fanout(fresh_sqlite(full)).await,
                fanout(fresh_pg()).await,
            ],
        );
        let url = postgres.create_database("throughput");
        println!();
        println!("| figure | 1 node | 3 nodes |");
        println!("| --- | --- | --- |");
        let row = |name: &str, one: String, three: String| println!("| {name} | {one} | {three} |");
        let one = throughput(&url, 1).await;
        let three = throughput(&url, 3).await;
        row(
            "(t) write→ack cycles/s, 30 documents × 2 writers, 10 s",
            one.0,
            three.0,
        );
        row(
            "(t) sustained ingest: 30 documents × 2 writers, a change every 5 ms each for 5 s, until all are on both writers",
            one.1,
            three.1,
        );
    });
}
