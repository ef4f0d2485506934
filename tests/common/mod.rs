//! Shared helpers for the integration tests: real servers on 127.0.0.1:0,
//! local documents, and bounded waits.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod peer;
pub mod postgres;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc};
use tandem::client::{ClientConfig, HttpVersion, SyncClient};
use tandem::hub::{Document, Hub};
use tandem::node::{Node, NodeBuilder, Tls};
use tandem::server::ServerOptions;
use tandem::store::{MemoryStore, Store};
use tandem::tls::{Identity, Trust};
use tandem::DocId;
use url::Url;

/// The owner token of every server these helpers start (unless a test sets its own).
pub const OWNER_TOKEN: &str = "test-owner-token-0123456789abcdef";

/// The most any single wait in these tests may take.
pub const WAIT: Duration = Duration::from_secs(15);

pub fn id(s: &str) -> DocId {
    DocId::parse(s).unwrap()
}

/// A server over an in-memory store on a free loopback port.
pub async fn start_server() -> Node {
    start_server_with(
        Hub::new(Arc::new(MemoryStore::new())),
        None,
        ServerOptions::default(),
    )
    .await
}

/// A server over `hub`, with optional TLS and options, on a free loopback port.
pub async fn start_server_with(
    hub: Arc<Hub>,
    tls: Option<Identity>,
    options: ServerOptions,
) -> Node {
    start_server_at("127.0.0.1:0".parse().unwrap(), hub, tls, options).await
}

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

/// A fresh local hub and an open document in it.
pub fn local_doc(doc_id: &str) -> (Arc<Hub>, Arc<Document>) {
    let hub = Hub::new(Arc::new(MemoryStore::new()) as Arc<dyn Store>);
    let doc = hub.open(&id(doc_id)).unwrap();
    (hub, doc)
}

pub fn doc_url(base: &str, doc_id: &str) -> Url {
    Url::parse(&format!("{base}/{doc_id}")).unwrap()
}

pub fn client(url: Url, http: HttpVersion) -> SyncClient {
    let mut config = ClientConfig::new(url);
    config.http = http;
    SyncClient::new(config).unwrap()
}

pub fn client_with(url: Url, f: impl FnOnce(&mut ClientConfig)) -> SyncClient {
    let mut config = ClientConfig::new(url);
    f(&mut config);
    SyncClient::new(config).unwrap()
}

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
    pub cancel: tokio_util::sync::CancellationToken,
    pub status: tokio::sync::watch::Receiver<tandem::client::ConnectionStatus>,
    pub task: tokio::task::JoinHandle<()>,
}

pub fn go_live(client: &SyncClient, doc: &Arc<Document>) -> Live {
    go_live_with_store(client, doc, None)
}

pub fn go_live_with_store(
    client: &SyncClient,
    doc: &Arc<Document>,
    store: Option<Arc<dyn Store>>,
) -> Live {
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, rx) = tokio::sync::watch::channel(tandem::client::ConnectionStatus::Connecting);
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
    pub async fn stop(self) {
        self.cancel.cancel();
        tokio::time::timeout(WAIT, self.task)
            .await
            .expect("live sync stops")
            .unwrap();
    }
}

// ---- raw HTTP/1.1 helpers: exact bytes on the wire ----

use automerge::sync::SyncDoc;
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const NDJSON: &str = "application/x-ndjson";

/// A valid first sync line carrying one change (`key` = `value`).
pub fn line_with_change(key: &str, value: &str) -> String {
    let mut doc = automerge::Automerge::new();
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(automerge::ROOT, key, value).map(drop)
    })
    .unwrap();
    let mut state = automerge::sync::State::new();
    let mut msg = doc.generate_sync_message(&mut state).unwrap();
    // Send the change right away, as a peer that knows the server lacks it would.
    msg.changes = doc
        .get_changes(&[])
        .into_iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect::<Vec<_>>()
        .into();
    let data = base64::engine::general_purpose::STANDARD.encode(msg.encode());
    format!("{{\"event\":\"sync\",\"data\":\"{data}\"}}\n")
}

/// Sends one raw HTTP/1.1 request and returns (status, body).
pub async fn raw(server: &Node, head: &str, body: &[u8]) -> (u16, String) {
    let mut s = TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

pub fn request(method: &str, path: &str, headers: &str, body_len: usize) -> String {
    format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{headers}Content-Length: {body_len}\r\n\r\n")
}

pub fn error_of(response: &str) -> String {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let json: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error body in {response:?}"));
    json["error"].as_str().expect("an error string").to_owned()
}

/// Opens a chunked HTTP/1.1 sync and returns the stream after the 200 head.
pub async fn open_stream(server: &Node, path: &str, first: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    let head = format!("PUT {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {NDJSON}\r\nTransfer-Encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    write_chunk(&mut s, first.as_bytes()).await;
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    tokio::time::timeout(WAIT, reader.read_line(&mut status))
        .await
        .unwrap()
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            return reader;
        }
    }
}

pub async fn write_chunk(s: &mut TcpStream, data: &[u8]) {
    s.write_all(format!("{:x}\r\n", data.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(data).await.unwrap();
    s.write_all(b"\r\n").await.unwrap();
}

/// Reads the chunked response body until it ends; returns its text.
pub async fn read_rest(reader: &mut BufReader<TcpStream>) -> String {
    let mut out = Vec::new();
    let _ = tokio::time::timeout(WAIT, reader.read_to_end(&mut out))
        .await
        .expect("the stream ends");
    String::from_utf8_lossy(&out).to_string()
}
