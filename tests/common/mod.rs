//! Shared helpers for the integration tests: real servers on 127.0.0.1:0,
//! local documents, and bounded waits.
#![allow(dead_code, unreachable_pub, missing_docs)]

pub mod peer;
pub mod postgres;
pub mod ui_socket;

use automerge::transaction::Transactable;
use tandem::node::Node;
pub use tandem::testing::*;

// ---- raw HTTP/1.1 helpers: exact bytes on the wire ----

use automerge::sync::SyncDoc;
use base64::Engine as _;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub const NDJSON: &str = "application/x-ndjson";

/// The `tandem` binary built for these tests.
pub const TANDEM_BIN: &str = env!("CARGO_BIN_EXE_tandem");

/// Runs `tandem ARGS` with a clean environment (no mDNS, no store, token or
/// log level from the caller's shell): (success, stdout, stderr).
pub fn run_tandem(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(TANDEM_BIN)
        .args(args)
        .env("TANDEM_NO_MDNS", "1")
        .env_remove("TANDEM_STORE")
        .env_remove("TANDEM_TOKEN")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

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
