//! Tandem with a peer that behaves like the Go library (automerge-ndjson-sync,
//! automerge 0.5): it refuses lines over 65,535 bytes (Go's `bufio.Scanner`)
//! and its sync messages carry no capability flags, so it never sends or
//! receives v2 messages. Both directions: a foreign client pulls from
//! `tandem serve`, and Tandem's client pushes to a foreign server.
//!
//! The editing trace runs the same way when `TANDEM_TRACE` names the file
//! (`scripts/foreign-trace.sh`); it prints lines, longest line, bytes and time.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::sync::{Message, MessageVersion, State, SyncDoc};
use automerge::transaction::Transactable;
use automerge::Automerge;
use axum::body::Body;
use axum::extract::State as AxumState;
use axum::routing::put;
use bytes::Bytes;
use common::*;
use futures_util::StreamExt;
use tandem::client::{ClientError, HttpVersion};
use tandem::protocol::line::encode_sync;
use tandem::protocol::{Event, EventReader, Until, FOREIGN_MAX_LINE};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// The Go library's line limit, as its reader enforces it.
const GO_MAX_LINE: usize = 65_535;

/// The length (without `\n`) of the line that carries `payload_len` bytes.
fn line_len(payload_len: usize) -> usize {
    r#"{"event":"sync","data":""}"#.len() + payload_len.div_ceil(3) * 4
}

/// What one side of a foreign peer saw on the wire.
#[derive(Debug, Default, Clone, Copy)]
struct Wire {
    lines: usize,
    longest: usize,
    bytes: usize,
}

impl Wire {
    fn count(&mut self, payload_len: usize) {
        let line = line_len(payload_len);
        self.lines += 1;
        self.longest = self.longest.max(line);
        self.bytes += line + 1;
    }
}

/// The sync logic of a Go peer: a v1 sync state that never hears of
/// capabilities and never advertises any.
struct GoSync {
    doc: Automerge,
    state: State,
}

fn strip(mut m: Message) -> Message {
    m.flags = None;
    m.version = MessageVersion::V1;
    m
}

impl GoSync {
    fn new(doc: Automerge) -> Self {
        Self {
            doc,
            state: State::new(),
        }
    }

    fn receive(&mut self, payload: &[u8]) {
        let m = Message::decode(payload).expect("a sync message");
        assert_eq!(
            m.version,
            MessageVersion::V1,
            "a foreign peer only reads v1"
        );
        self.doc
            .receive_sync_message(&mut self.state, strip(m))
            .expect("applies");
    }

    /// Every message it has to send now, as lines (Go's writer loops
    /// `GenerateMessage` until it returns nothing).
    fn lines(&mut self) -> Vec<Bytes> {
        std::iter::from_fn(|| self.doc.generate_sync_message(&mut self.state))
            .map(|m| encode_sync(&strip(m).encode()))
            .collect()
    }

    /// Go's heads-equal check: the peer advertised exactly our heads.
    fn in_sync(&self) -> bool {
        let ours = self.doc.get_heads();
        self.state.their_heads.as_deref() == Some(&ours[..])
    }
}

/// The largest line the foreign peer accepts: its own limit, or (with
/// `TANDEM_FOREIGN_LIMIT=off`, to measure a sender that does not fit) none.
fn foreign_limit() -> usize {
    match std::env::var("TANDEM_FOREIGN_LIMIT").as_deref() {
        Ok("off") => usize::MAX,
        _ => GO_MAX_LINE,
    }
}

/// A foreign client pulls `server`'s `doc_id` into an empty document over
/// HTTP/1.1 until heads are equal. Returns its document and what it received.
async fn foreign_pull(base: &str, doc_id: &str, within: Duration) -> (Automerge, Wire) {
    let (tx, rx) = mpsc::channel::<Bytes>(1024);
    let mut peer = GoSync::new(Automerge::new());
    for line in peer.lines() {
        tx.send(line).await.unwrap();
    }
    // reqwest is built without a default crypto provider (plain HTTP here).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::builder()
        .http1_only()
        .build()
        .unwrap()
        .put(format!("{base}/{doc_id}"))
        .header("content-type", "application/x-ndjson; charset=utf-8")
        .header("accept", "application/x-ndjson")
        .header("authorization", format!("Bearer {OWNER_TOKEN}"))
        .body(reqwest::Body::wrap_stream(
            ReceiverStream::new(rx).map(Ok::<_, std::io::Error>),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = EventReader::new(Box::pin(response.bytes_stream()), foreign_limit());
    let mut wire = Wire::default();
    let progress = std::env::var_os("TANDEM_TRACE").is_some();
    let work = async {
        loop {
            match reader.next_event().await {
                Ok(Some(Event::Sync(payload))) => {
                    wire.count(payload.len());
                    if progress && wire.lines % 100 == 0 {
                        eprintln!("  {wire:?}, {} changes", peer.doc.get_changes(&[]).len());
                    }
                    peer.receive(&payload);
                    if peer.in_sync() {
                        return;
                    }
                    for line in peer.lines() {
                        tx.send(line).await.unwrap();
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("the server ended the stream"),
                Err(e) => panic!("the foreign client could not read a line: {e}"),
            }
        }
    };
    tokio::time::timeout(within, work)
        .await
        .expect("the foreign client converged in time");
    (peer.doc, wire)
}

#[tokio::test]
async fn a_foreign_client_pulls_a_10k_change_document() {
    let (server, hub) = server_with_hub().await;
    let source = doc_with_changes(10_000);
    hub.open(&id("big"))
        .unwrap()
        .load_bytes(&source.save())
        .unwrap();
    let t = Instant::now();
    let (pulled, wire) = foreign_pull(&server.url(), "big", WAIT).await;
    eprintln!("10k pull: {wire:?} in {:?}", t.elapsed());
    assert_eq!(pulled.get_heads(), source.get_heads());
    assert!(wire.longest <= GO_MAX_LINE, "{wire:?}");
    assert!(wire.lines > 1, "{wire:?}");
    server.shutdown().await;
}

/// A server over an in-memory hub that the test can put documents in.
async fn server_with_hub() -> (tandem::node::Node, Arc<tandem::hub::Hub>) {
    let hub = tandem::hub::Hub::new(Arc::new(tandem::store::MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, Default::default()).await;
    (server, hub)
}

/// A server that behaves like the Go library's: one document, lines over
/// 65,535 bytes end the stream (as Go's scanner does), no capability flags.
#[derive(Clone, Default)]
struct GoServer {
    doc: Arc<Mutex<Automerge>>,
    longest: Arc<Mutex<usize>>,
    refused: Arc<Mutex<Option<String>>>,
}

async fn go_put(AxumState(server): AxumState<GoServer>, body: Body) -> Body {
    let (tx, rx) = mpsc::channel::<Result<Bytes, std::io::Error>>(1024);
    let mut state = State::new();
    let first = {
        let doc = server.doc.lock().unwrap();
        std::iter::from_fn(|| doc.generate_sync_message(&mut state))
            .map(|m| encode_sync(&strip(m).encode()))
            .collect::<Vec<_>>()
    };
    tokio::spawn(async move {
        for line in first {
            let _ = tx.send(Ok(line)).await;
        }
        let mut reader = EventReader::new(body.into_data_stream(), foreign_limit());
        loop {
            match reader.next_event().await {
                Ok(Some(Event::Sync(payload))) => {
                    let line = line_len(payload.len());
                    {
                        let mut longest = server.longest.lock().unwrap();
                        *longest = (*longest).max(line);
                    }
                    let lines = {
                        let mut doc = server.doc.lock().unwrap();
                        let m = strip(Message::decode(&payload).unwrap());
                        doc.receive_sync_message(&mut state, m).unwrap();
                        std::iter::from_fn(|| doc.generate_sync_message(&mut state))
                            .map(|m| encode_sync(&strip(m).encode()))
                            .collect::<Vec<_>>()
                    };
                    for line in lines {
                        let _ = tx.send(Ok(line)).await;
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(e) => {
                    *server.refused.lock().unwrap() = Some(e.to_string());
                    return;
                }
            }
        }
    });
    Body::from_stream(ReceiverStream::new(rx))
}

async fn start_go_server() -> (String, GoServer, tokio::task::JoinHandle<()>) {
    let go = GoServer::default();
    let app = axum::Router::new()
        .route("/{doc}", put(go_put))
        .with_state(go.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (base, go, task)
}

#[tokio::test]
async fn tandem_pushes_10k_changes_to_a_server_with_64_kib_lines() {
    let (base, go, task) = start_go_server().await;
    let (_hub, doc) = local_doc("big");
    let source = doc_with_changes(10_000);
    doc.load_bytes(&source.save()).unwrap();
    let client = client(doc_url(&base, "big"), HttpVersion::Http1);
    let t = Instant::now();
    client
        .sync_once(&doc, Until::HeadsEqual, WAIT)
        .await
        .expect("the push completes");
    eprintln!(
        "10k push: longest line {} in {:?}",
        go.longest.lock().unwrap(),
        t.elapsed()
    );
    assert_eq!(go.doc.lock().unwrap().get_heads(), source.get_heads());
    assert_eq!(*go.refused.lock().unwrap(), None);
    assert!(*go.longest.lock().unwrap() <= GO_MAX_LINE);
    task.abort();
}

/// Text that compresses badly: `len` pseudo-random printable bytes.
fn noise(len: usize) -> String {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            char::from(b'!' + (x % 90) as u8)
        })
        .collect()
}

#[tokio::test]
async fn a_change_no_foreign_line_can_hold_fails_with_a_clear_error() {
    let (base, go, task) = start_go_server().await;
    let (_hub, doc) = local_doc("blob");
    doc.change(|tx| tx.put(automerge::ROOT, "blob", noise(120_000)))
        .unwrap();
    let client = client(doc_url(&base, "blob"), HttpVersion::Http1);
    let err = client
        .sync_once(&doc, Until::HeadsEqual, WAIT)
        .await
        .expect_err("the change cannot be sent");
    assert!(matches!(err, ClientError::Unsendable { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&FOREIGN_MAX_LINE.to_string()) && text.contains("Go library"),
        "{text}"
    );
    assert!(err.is_permanent());
    assert_eq!(*go.refused.lock().unwrap(), None, "no line was too long");
    task.abort();
}

/// The editing trace, both ways; run by `scripts/foreign-trace.sh`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_trace_with_a_foreign_peer() {
    let Ok(path) = std::env::var("TANDEM_TRACE") else {
        eprintln!("TANDEM_TRACE is not set; skipping");
        return;
    };
    let saved = std::fs::read(&path).expect("the trace file");
    let within = Duration::from_secs(1800);

    // Pull: a foreign client from `tandem serve`.
    let (server, hub) = server_with_hub().await;
    let source = Automerge::load(&saved).unwrap();
    let changes = source.get_changes(&[]).len();
    let raw: usize = source
        .get_changes(&[])
        .iter()
        .map(|c| c.raw_bytes().len())
        .sum();
    hub.open(&id("trace")).unwrap().load_bytes(&saved).unwrap();
    let t = Instant::now();
    let (pulled, wire) = foreign_pull(&server.url(), "trace", within).await;
    let took = t.elapsed();
    assert_eq!(pulled.get_heads(), source.get_heads());
    println!(
        "pull {changes} changes ({raw} bytes of changes): {} lines, longest {} bytes, {} bytes on the wire, {:.1} s",
        wire.lines,
        wire.longest,
        wire.bytes,
        took.as_secs_f64()
    );
    server.shutdown().await;

    // Push: Tandem's client to a foreign server.
    let (base, go, task) = start_go_server().await;
    let (_hub, doc) = local_doc("trace");
    doc.load_bytes(&saved).unwrap();
    let t = Instant::now();
    client(doc_url(&base, "trace"), HttpVersion::Http1)
        .sync_once(&doc, Until::HeadsEqual, within)
        .await
        .expect("the push completes");
    println!(
        "push: longest line {} bytes, {:.1} s",
        go.longest.lock().unwrap(),
        t.elapsed().as_secs_f64()
    );
    assert_eq!(go.doc.lock().unwrap().get_heads(), source.get_heads());
    task.abort();
}

/// What a Go client's read loop makes of a pull it cannot complete: it skips
/// `{"event":"error"}` lines and takes a clean end of the response for a
/// finished sync (`HttpPushPullChanges` returns nil), so only a broken
/// response tells it something went wrong.
async fn foreign_pull_outcome(base: &str, doc_id: &str, http2: bool) -> Result<usize, String> {
    let (tx, rx) = mpsc::channel::<Bytes>(64);
    let mut peer = GoSync::new(Automerge::new());
    for line in peer.lines() {
        tx.send(line).await.unwrap();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let builder = reqwest::Client::builder();
    let builder = if http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    let response = builder
        .build()
        .unwrap()
        .put(format!("{base}/{doc_id}"))
        .header("content-type", "application/x-ndjson; charset=utf-8")
        .header("authorization", format!("Bearer {OWNER_TOKEN}"))
        .body(reqwest::Body::wrap_stream(
            ReceiverStream::new(rx).map(Ok::<_, std::io::Error>),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut reader = EventReader::new(Box::pin(response.bytes_stream()), GO_MAX_LINE);
    let mut error_lines = 0;
    let work = async {
        loop {
            match reader.next_event().await {
                Ok(Some(Event::Sync(payload))) => {
                    peer.receive(&payload);
                    for line in peer.lines() {
                        let _ = tx.send(line).await;
                    }
                }
                Ok(Some(Event::Error(_))) => error_lines += 1, // Go skips it
                Ok(Some(_)) => {}
                Ok(None) => return Ok(error_lines),
                Err(e) => return Err(format!("{e} (after {error_lines} error line(s))")),
            }
        }
    };
    tokio::time::timeout(WAIT, work)
        .await
        .expect("the stream ends one way or the other")
}

#[tokio::test]
async fn a_foreign_client_that_cannot_get_a_change_sees_its_response_fail_not_end() {
    let (server, hub) = server_with_hub().await;
    hub.open(&id("blob"))
        .unwrap()
        .change(|tx| tx.put(automerge::ROOT, "blob", noise(120_000)))
        .unwrap();
    for http2 in [false, true] {
        let outcome = foreign_pull_outcome(&server.url(), "blob", http2).await;
        let failure = outcome
            .expect_err("a clean end after the error line reads as a finished sync to a Go client");
        assert!(
            failure.contains("after 1 error line"),
            "http2={http2}: {failure}"
        );
    }
    server.shutdown().await;
}
