//! Helpers for tests, benchmarks and embedders' own tests: real nodes on a
//! free loopback port, local documents, simple edits and bounded waits.
//!
//! Test support: these functions panic (with what they waited for) instead of
//! returning errors, so a failing test says at once what went wrong. The
//! integration tests (`tests/common`) and the benchmarks share them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc};
use url::Url;

use crate::client::{ClientConfig, HttpVersion, SyncClient};
use crate::doc_id::DocId;
use crate::hub::{Document, Hub};
use crate::node::{Node, NodeBuilder, Tls};
use crate::server::ServerOptions;
use crate::store::{MemoryStore, Store};
use crate::tls::{Identity, Trust};

/// The owner token of every server these helpers start (unless a test sets its own).
pub const OWNER_TOKEN: &str = "test-owner-token-0123456789abcdef";

/// The most any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// A document ID from a literal; panics when it is not a valid one.
pub fn id(s: &str) -> DocId {
    DocId::parse(s).unwrap()
}

/// A server over an in-memory store on a free loopback port.
pub async fn start_server() -> Node {
    start_server_with_options(ServerOptions::default()).await
}

/// A server over an in-memory store with `options`, without TLS, on a free
/// loopback port.
pub async fn start_server_with_options(options: ServerOptions) -> Node {
    start_server_with(Hub::new(Arc::new(MemoryStore::new())), None, options).await
}

/// A server over `hub`, with optional TLS and options, on a free loopback port.
pub async fn start_server_with(
    hub: Arc<Hub>,
    tls: Option<Identity>,
    options: ServerOptions,
) -> Node {
    start_server_at("127.0.0.1:0".parse().unwrap(), hub, tls, options).await
}

/// A server over `hub` listening on `listen`, with optional TLS and options;
/// its owner token is [`OWNER_TOKEN`] unless `options` names one.
pub async fn start_server_at(
    listen: SocketAddr,
    hub: Arc<Hub>,
    tls: Option<Identity>,
    mut options: ServerOptions,
) -> Node {
    options
        .owner_token
        .get_or_insert_with(|| OWNER_TOKEN.to_owned());
    NodeBuilder::new()
        .hub(hub)
        .listen_on(listen)
        .tls(tls.map_or(Tls::Off, Tls::Identity))
        .server_options(options)
        .start()
        .await
        .expect("node starts")
}

/// A bare Automerge document of `n` changes, each putting one of 97 keys
/// (the history grows, the document stays small).
pub fn doc_with_changes(n: usize) -> automerge::Automerge {
    let mut doc = automerge::Automerge::new();
    for i in 0..n {
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(automerge::ROOT, format!("k{}", i % 97), i as i64)?;
            Ok(())
        })
        .unwrap();
    }
    doc
}

/// A fresh local hub and an open document in it.
pub fn local_doc(doc_id: &str) -> (Arc<Hub>, Arc<Document>) {
    let hub = Hub::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>);
    let doc = hub.open(&id(doc_id)).unwrap();
    (hub, doc)
}

/// The sync URL of `doc_id` on the server at `base`.
pub fn doc_url(base: &str, doc_id: &str) -> Url {
    Url::parse(&format!("{base}/{doc_id}")).unwrap()
}

/// A sync client of `url` over `http`.
pub fn client(url: Url, http: HttpVersion) -> SyncClient {
    let mut config = ClientConfig::new(url);
    config.http = http;
    SyncClient::new(config).unwrap()
}

/// A sync client of `url`, its configuration adjusted by `f`.
pub fn client_with(url: Url, f: impl FnOnce(&mut ClientConfig)) -> SyncClient {
    let mut config = ClientConfig::new(url);
    f(&mut config);
    SyncClient::new(config).unwrap()
}

/// Trust that pins `server`'s certificate (a TLS server).
pub fn pinned(server: &Node) -> Trust {
    Trust::Pinned(server.fingerprint().expect("TLS server"))
}

/// Puts a string scalar at a root key (one change).
pub fn put(doc: &Document, key: &str, value: &str) {
    doc.change(|tx| tx.put(automerge::ROOT, key, value))
        .unwrap();
}

/// Reads a root string/text value.
pub fn get(doc: &Document, key: &str) -> Option<String> {
    doc.read(|d| {
        let (value, obj) = d.get(automerge::ROOT, key).ok()??;
        match value {
            automerge::Value::Object(ObjType::Text) => d.text(&obj).ok(),
            automerge::Value::Scalar(s) => s.as_str().map(str::to_owned),
            _ => None,
        }
    })
}

/// Waits (bounded by [`WAIT`]) until `check` holds, re-checking whenever `doc` changes.
pub async fn wait_for(doc: &Document, what: &str, mut check: impl FnMut(&Document) -> bool) {
    let mut changes = doc.subscribe();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check(doc) {
        if tokio::time::timeout_at(deadline, changes.changed())
            .await
            .is_err()
        {
            panic!("timed out waiting for {what}");
        }
    }
}

/// Waits until every document has the same heads as the first.
pub async fn wait_converged(docs: &[Arc<Document>]) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let heads = docs[0].heads();
        if docs.iter().all(|d| d.heads() == heads) {
            return;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("documents did not converge");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Awaits `work` while another task counts its own turns on the runtime;
/// returns `work`'s output and how many turns the other task got meanwhile.
/// On a one-thread runtime, 0 means `work` held the thread the whole time.
pub async fn others_ran_during<T>(work: impl Future<Output = T>) -> (T, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ticks = Arc::new(AtomicUsize::new(0));
    let ticker = tokio::spawn({
        let ticks = Arc::clone(&ticks);
        async move {
            loop {
                ticks.fetch_add(1, Ordering::Relaxed);
                tokio::task::yield_now().await;
            }
        }
    });
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::Relaxed);
    let output = work.await;
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    (output, during)
}

/// Polls an async condition until it holds (bounded by [`WAIT`]).
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f().await {
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A live sync task for `doc` with `client`; cancel the token to stop it.
pub struct Live {
    /// Stops the task.
    pub cancel: tokio_util::sync::CancellationToken,
    /// The connection's state as it changes.
    pub status: tokio::sync::watch::Receiver<crate::client::ConnectionStatus>,
    /// The task itself.
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts a live sync of `doc` through `client`.
pub fn go_live(client: &SyncClient, doc: &Arc<Document>) -> Live {
    go_live_with_store(client, doc, None)
}

/// Starts a live sync of `doc` through `client`, keeping its sync state in
/// `store` when given.
pub fn go_live_with_store(
    client: &SyncClient,
    doc: &Arc<Document>,
    store: Option<Arc<dyn Store>>,
) -> Live {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::watch::channel(crate::client::ConnectionStatus::Connecting);
    let task = {
        let (client, doc, cancel) = (client.clone(), doc.clone(), cancel.clone());
        tokio::spawn(async move { client.sync_live(&doc, cancel, tx, store).await })
    };
    Live {
        cancel,
        status: rx,
        task,
    }
}

impl Live {
    /// Cancels the task and waits (bounded by [`WAIT`]) until it ended.
    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("live sync stops")
            .unwrap();
    }
}

/// The `p`-th percentile (0.0–1.0) of `samples`, sorting them first.
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort_unstable();
    let last = samples.len().saturating_sub(1);
    samples[((last as f64) * p).round() as usize]
}
