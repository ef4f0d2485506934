//! Compressed sync streams (docs/protocol-extensions.md, "Compression") over
//! real sockets, seen through a byte-counting TCP relay: both directions over
//! HTTP/1.1 and h2c, the live path, peers that do not ask, bombs, curl.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use automerge::transaction::Transactable;
use common::*;
use tandem::client::{Compression, ConnectionStatus, HttpVersion};
use tandem::hub::{Document, Hub};
use tandem::protocol::Until;
use tandem::server::ServerOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP relay to a server that counts the bytes each way, the connections,
/// and keeps the HTTP/1.1 heads that pass.
struct Relay {
    addr: SocketAddr,
    up: Arc<AtomicUsize>,
    down: Arc<AtomicUsize>,
    connections: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<String>>>,
}

const KEPT: usize = 1024;

impl Relay {
    async fn to(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Self {
            addr: listener.local_addr().unwrap(),
            up: Arc::default(),
            down: Arc::default(),
            connections: Arc::default(),
            starts: Arc::default(),
        };
        let (up, down, connections, starts) = (
            relay.up.clone(),
            relay.down.clone(),
            relay.connections.clone(),
            relay.starts.clone(),
        );
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                connections.fetch_add(1, Ordering::SeqCst);
                let Ok(server) = TcpStream::connect(target).await else {
                    return;
                };
                let (client_read, client_write) = client.into_split();
                let (server_read, server_write) = server.into_split();
                tokio::spawn(pump(client_read, server_write, up.clone(), starts.clone()));
                tokio::spawn(pump(
                    server_read,
                    client_write,
                    down.clone(),
                    starts.clone(),
                ));
            }
        });
        relay
    }

    fn url(&self, doc: &str) -> url::Url {
        doc_url(&format!("http://{}", self.addr), doc)
    }

    fn bytes(&self) -> (usize, usize) {
        (
            self.up.load(Ordering::SeqCst),
            self.down.load(Ordering::SeqCst),
        )
    }

    fn reset(&self) {
        self.up.store(0, Ordering::SeqCst);
        self.down.store(0, Ordering::SeqCst);
        self.starts.lock().unwrap().clear();
    }

    /// The heads seen, lower-cased, joined.
    fn heads(&self) -> String {
        self.starts.lock().unwrap().join("\n").to_ascii_lowercase()
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    count: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<String>>>,
) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        count.fetch_add(n, Ordering::SeqCst);
        // HTTP/1.1 heads (a 100 Continue may come first in the same read).
        let chunk = &buf[..n.min(KEPT)];
        if chunk
            .windows(9)
            .any(|w| w == b"HTTP/1.1 " || w == b" HTTP/1.1")
        {
            starts
                .lock()
                .unwrap()
                .push(String::from_utf8_lossy(chunk).into_owned());
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

/// `n` changes of text and keys, so the sync carries real Automerge data.
fn fill(doc: &Document, tag: &str, n: usize) {
    for i in 0..n {
        doc.change(|tx| {
            tx.put(
                automerge::ROOT,
                format!("{tag}-{i}"),
                format!("value {i} from {tag}"),
            )
            .map(drop)
        })
        .unwrap();
    }
}

/// A one-shot two-sided sync through `relay` with `compression`; returns
/// the bytes (up, down) it took.
async fn measured_sync(
    relay: &Relay,
    server_hub: &Arc<Hub>,
    name: &str,
    http: HttpVersion,
    compression: Compression,
) -> (usize, usize) {
    let server_doc = server_hub.open(&id(name)).unwrap();
    fill(&server_doc, "server", 400);
    let (_hub, local) = local_doc(name);
    fill(&local, "client", 400);
    let client = client_with(relay.url(name), |c| {
        c.http = http;
        c.compression = compression;
    });
    relay.reset();
    client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(local.heads(), server_doc.heads(), "{name} converged");
    assert_eq!(
        get(&server_doc, "client-399").as_deref(),
        Some("value 399 from client")
    );
    assert_eq!(
        get(&local, "server-399").as_deref(),
        Some("value 399 from server")
    );
    relay.bytes()
}

#[tokio::test]
async fn a_compressed_sync_converges_both_ways_over_http1_and_h2c_in_fewer_bytes() {
    let server = start_server().await;
    let relay = Relay::to(server.local_addr().unwrap()).await;
    let hub = server.hub().clone();
    for (http, label) in [(HttpVersion::Http1, "h1"), (HttpVersion::Http2, "h2c")] {
        let plain = measured_sync(
            &relay,
            &hub,
            &format!("plain-{label}"),
            http,
            Compression::Off,
        )
        .await;
        let heads = relay.heads();
        assert!(!heads.contains("content-encoding"), "{label}: {heads}");
        let packed = measured_sync(
            &relay,
            &hub,
            &format!("packed-{label}"),
            http,
            Compression::Eager,
        )
        .await;
        if http == HttpVersion::Http1 {
            let heads = relay.heads();
            assert!(heads.contains("get /_health"), "{heads}");
            assert_eq!(
                heads.matches("content-encoding: zstd").count(),
                2,
                "both ways: {heads}"
            );
        }
        assert!(
            packed.0 * 10 < plain.0 * 8 && packed.1 * 10 < plain.1 * 8,
            "{label}: compressed (up, down) {packed:?} vs plain {plain:?}"
        );
    }
}

#[tokio::test]
async fn negotiate_compresses_the_answer_at_once_and_the_body_once_the_server_said_it_reads_it() {
    let server = start_server().await;
    let relay = Relay::to(server.local_addr().unwrap()).await;
    let server_doc = server.hub().open(&id("learn")).unwrap();
    put(&server_doc, "a", "1");
    let (_hub, local) = local_doc("learn");
    let client = client(relay.url("learn"), HttpVersion::Http1);
    client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    let first = relay.heads();
    let (request, response) = first.split_once("http/1.1 200").expect("a 200");
    assert!(request.contains("accept-encoding: zstd, gzip"), "{request}");
    assert!(
        !request.contains("content-encoding"),
        "nothing known yet: {request}"
    );
    assert!(
        !request.contains("get /_health"),
        "negotiate asks nothing extra"
    );
    assert!(response.contains("content-encoding: zstd"), "{response}");
    relay.reset();
    put(&local, "b", "2");
    client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert!(
        relay.heads().contains("content-encoding: zstd"),
        "learnt from the first answer"
    );
    assert_eq!(get(&server_doc, "b").as_deref(), Some("2"));
}

#[tokio::test]
async fn an_edit_reaches_a_compressed_live_peer_while_the_stream_stays_open() {
    let server = start_server().await;
    let relay = Relay::to(server.local_addr().unwrap()).await;
    let (_a_hub, a) = local_doc("live");
    let (_b_hub, b) = local_doc("live");
    let a_live = go_live(&client(relay.url("live"), HttpVersion::Http1), &a);
    let b_live = go_live(&client(relay.url("live"), HttpVersion::Http2), &b);
    for live in [&a_live, &b_live] {
        let mut status = live.status.clone();
        tokio::time::timeout(
            WAIT,
            status.wait_for(|s| matches!(s, ConnectionStatus::Live { .. })),
        )
        .await
        .expect("live")
        .unwrap();
    }
    let connections = relay.connections.load(Ordering::SeqCst);
    assert!(
        relay.heads().contains("content-encoding: zstd"),
        "{}",
        relay.heads()
    );
    for i in 0..5 {
        put(&a, "typed", &format!("edit {i}"));
        wait_for(&b, "the edit over h1 → server → h2c, compressed", |d| {
            get(d, "typed").as_deref() == Some(&format!("edit {i}"))
        })
        .await;
        put(&b, "back", &format!("reply {i}"));
        wait_for(&a, "the reply", |d| {
            get(d, "back").as_deref() == Some(&format!("reply {i}"))
        })
        .await;
    }
    assert_eq!(
        relay.connections.load(Ordering::SeqCst),
        connections,
        "the edits went over the open streams (no reconnect)"
    );
    a_live.stop().await;
    b_live.stop().await;
}

#[tokio::test]
async fn a_peer_that_does_not_ask_gets_exactly_the_plain_stream() {
    let server = start_server().await;
    let line = line_with_change("k", "v");
    // Go's transport adds `Accept-Encoding: gzip` by itself; curl sends nothing.
    for extra in ["Accept-Encoding: gzip\r\n", ""] {
        let head = request(
            "PUT",
            "/plain?follow=false",
            &format!("Content-Type: {NDJSON}\r\n{extra}"),
            line.len(),
        );
        let (status, text) = raw(&server, &head, line.as_bytes()).await;
        assert_eq!(status, 200, "{text}");
        let lower = text.to_ascii_lowercase();
        for absent in [
            "content-encoding",
            "accept-encoding",
            "tandem-features",
            "vary",
        ] {
            assert!(!lower.contains(absent), "{absent} in {text}");
        }
        assert!(text.contains("{\"event\":\"sync\",\"data\":\""), "{text}");
    }
    // Naming zstd is asking: the same request then gets zstd frames.
    let head = request(
        "PUT",
        "/plain?follow=false",
        &format!("Content-Type: {NDJSON}\r\nAccept-Encoding: zstd\r\n"),
        line.len(),
    );
    let (status, text) = raw(&server, &head, line.as_bytes()).await;
    assert_eq!(status, 200);
    assert!(
        text.to_ascii_lowercase().contains("content-encoding: zstd"),
        "{text}"
    );
}

#[tokio::test]
async fn a_compressed_body_that_inflates_past_the_line_limit_is_refused() {
    let options = ServerOptions {
        max_line: 1 << 20,
        ..ServerOptions::default()
    };
    let server = start_server_with_options(options).await;
    // 256 MiB of one line, a few KiB on the wire.
    let bomb = zstd::bulk::compress(&vec![b'x'; 256 << 20], 3).unwrap();
    assert!(bomb.len() < 64 * 1024);
    let head = request(
        "PUT",
        "/bomb",
        &format!("Content-Type: {NDJSON}\r\nContent-Encoding: zstd\r\n"),
        bomb.len(),
    );
    let (status, text) = raw(&server, &head, &bomb).await;
    assert_eq!(status, 400, "{text}");
    let error = error_of(&text);
    assert!(
        error.contains("zstd-compressed body inflates to a line longer than 1048576 bytes"),
        "{error}"
    );
    // A coding the server cannot read is refused, saying which it can.
    let line = line_with_change("k", "v");
    let head = request(
        "PUT",
        "/bomb",
        &format!("Content-Type: {NDJSON}\r\nContent-Encoding: br\r\n"),
        line.len(),
    );
    let (status, text) = raw(&server, &head, line.as_bytes()).await;
    assert_eq!(status, 415, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("accept-encoding: zstd, gzip"),
        "{text}"
    );
    assert!(
        error_of(&text).contains("unsupported Content-Encoding \"br\""),
        "{text}"
    );
}

#[tokio::test]
async fn curl_compressed_reads_the_stream() {
    let Ok(version) = std::process::Command::new("curl").arg("--version").output() else {
        eprintln!("no curl here: skipped");
        return;
    };
    let features = String::from_utf8_lossy(&version.stdout).to_ascii_lowercase();
    if !features.contains("zstd") {
        eprintln!("this curl has no zstd: skipped");
        return;
    }
    let server = start_server().await;
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("line.ndjson");
    std::fs::write(&body, line_with_change("from_curl", "yes")).unwrap();
    let url = format!(
        "http://{}/curled?follow=false",
        server.local_addr().unwrap()
    );
    let output = tokio::time::timeout(
        WAIT,
        tokio::process::Command::new("curl")
            .args([
                "-sS",
                "--compressed",
                "-D",
                "-",
                "-X",
                "PUT",
                "--max-time",
                "10",
            ])
            .args(["-H", &format!("Content-Type: {NDJSON}")])
            .arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .arg(&url)
            .output(),
    )
    .await
    .expect("curl ends")
    .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        text.to_ascii_lowercase().contains("content-encoding: zstd"),
        "{text}"
    );
    assert!(
        text.contains("{\"event\":\"sync\",\"data\":\""),
        "decoded by curl: {text}"
    );
    let doc = server.hub().open(&id("curled")).unwrap();
    assert_eq!(get(&doc, "from_curl").as_deref(), Some("yes"));
    tokio::time::sleep(Duration::ZERO).await;
}
