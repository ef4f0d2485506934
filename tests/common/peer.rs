//! A raw HTTP/1.1 ndjson peer for the ephemeral and presence tests: exact
//! lines out, the chunked response decoded into lines.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use tandem::node::Node;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::{eventually, id, NDJSON, WAIT};

pub const FEATURE: &str = "Tandem-Features: ephemeral\r\n";

/// A raw HTTP/1.1 sync peer: exact lines out, the response's lines in.
pub struct Peer {
    write: OwnedWriteHalf,
    read: BufReader<OwnedReadHalf>,
    /// Decoded body bytes not yet returned as lines.
    pending: Vec<u8>,
    /// The response head.
    pub head: String,
}

impl Peer {
    /// Opens `PUT /{doc}` with `headers`, sending an empty first sync line.
    pub async fn open(server: &Node, doc: &str, headers: &str) -> Peer {
        let stream = TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        let (read, mut write) = stream.into_split();
        let head = format!(
            "PUT /{doc} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {NDJSON}\r\n{headers}Transfer-Encoding: chunked\r\n\r\n"
        );
        write.write_all(head.as_bytes()).await.unwrap();
        let mut peer = Peer {
            write,
            read: BufReader::new(read),
            pending: Vec::new(),
            head: String::new(),
        };
        peer.send(&empty_sync_line()).await;
        loop {
            let mut line = String::new();
            tokio::time::timeout(WAIT, peer.read.read_line(&mut line))
                .await
                .expect("a response head")
                .unwrap();
            if line == "\r\n" {
                break;
            }
            peer.head.push_str(&line);
        }
        assert!(peer.head.starts_with("HTTP/1.1 200"), "{}", peer.head);
        peer
    }

    /// Sends raw lines (one chunk).
    pub async fn send(&mut self, lines: &str) {
        let data = lines.as_bytes();
        let mut chunk = format!("{:x}\r\n", data.len()).into_bytes();
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(b"\r\n");
        self.write.write_all(&chunk).await.unwrap();
    }

    /// Sends one ephemeral payload.
    pub async fn say(&mut self, payload: &[u8]) {
        self.send(&ephemeral_line(payload)).await;
    }

    /// The next line of the response, `None` at its end or after `wait`.
    pub async fn line(&mut self, wait: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(at) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=at).collect();
                return Some(serde_json::from_slice(&line).expect("a JSON line"));
            }
            let mut size = String::new();
            match tokio::time::timeout_at(deadline, self.read.read_line(&mut size)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return None,
            }
            let size = usize::from_str_radix(size.trim(), 16).expect("a chunk size");
            if size == 0 {
                return None;
            }
            let mut chunk = vec![0; size + 2];
            self.read.read_exact(&mut chunk).await.unwrap();
            self.pending.extend_from_slice(&chunk[..size]);
        }
    }

    /// The next ephemeral line (skipping sync lines and pings), within `wait`.
    pub async fn heard(&mut self, wait: Duration) -> Option<serde_json::Value> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self.line(left).await?;
            if line["event"] == "ephemeral" {
                return Some(line);
            }
        }
    }

    /// Every ephemeral payload heard until `last` arrives (`last` excluded).
    pub async fn heard_until(&mut self, last: &[u8]) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        loop {
            let line = self.heard(WAIT).await.expect("the last message");
            let data = payload(&line);
            if data == last {
                return got;
            }
            got.push(data);
        }
    }
}

pub fn ephemeral_line(payload: &[u8]) -> String {
    format!(
        "{{\"event\":\"ephemeral\",\"data\":\"{}\"}}\n",
        BASE64.encode(payload)
    )
}

pub fn payload(line: &serde_json::Value) -> Vec<u8> {
    BASE64
        .decode(line["data"].as_str().expect("data"))
        .expect("base64")
}

pub fn empty_sync_line() -> String {
    use automerge::sync::SyncDoc;
    let doc = automerge::Automerge::new();
    let message = doc
        .generate_sync_message(&mut automerge::sync::State::new())
        .unwrap();
    format!(
        "{{\"event\":\"sync\",\"data\":\"{}\"}}\n",
        BASE64.encode(message.encode())
    )
}

/// Waits until the document has `n` live connections taking ephemeral
/// messages (each has subscribed to the bus by then).
pub async fn wait_listening(server: &Node, doc: &str, n: usize) {
    let hub = server.hub().clone();
    let doc = id(doc);
    eventually(&format!("{n} ephemeral connections"), || {
        let hub = hub.clone();
        let doc = doc.clone();
        async move {
            hub.get_open(&doc)
                .is_some_and(|d| d.connection_infos().iter().filter(|c| c.ephemeral).count() == n)
        }
    })
    .await;
}
