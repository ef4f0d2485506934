//! Issue #7 row 3, the compressed-change bomb: a ~1 MB sync line whose change
//! inflates to 1 GiB. The server answers with the usual bad-line error and
//! keeps serving, a client refuses it from a hostile server, and neither
//! process's peak memory moves by more than a few MB.

mod common;

use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use common::{local_doc, start_server, WAIT};
use tandem::client::{ClientConfig, HttpVersion, SyncClient};
use tandem::protocol::Until;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

/// Memory measurements are process-wide: one bomb at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// How much the peak RSS may grow while a bomb is handled. Inflating the bomb
/// would take 1 GiB.
const MAX_GROWTH_KB: u64 = 100 * 1024;

fn uleb(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// `{"event":"sync",…}` carrying a V1 sync message with one compressed-change
/// chunk (type 2) whose deflate stream inflates to 1 GiB of zeros. Built once,
/// compressing as it streams (never holding the GiB).
fn bomb_line() -> &'static str {
    static LINE: OnceLock<String> = OnceLock::new();
    LINE.get_or_init(|| {
        let zeros = std::io::repeat(0).take(1 << 30);
        let mut stream = Vec::new();
        flate2::read::DeflateEncoder::new(zeros, flate2::Compression::default())
            .read_to_end(&mut stream)
            .unwrap();
        let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        uleb(&mut chunk, stream.len() as u64);
        chunk.extend(&stream);
        let mut message = vec![0x42, 0, 0, 0, 1];
        uleb(&mut message, chunk.len() as u64);
        message.extend(&chunk);
        let data = base64::engine::general_purpose::STANDARD.encode(&message);
        assert!(data.len() < 2 << 20, "a ~1.4 MB line, not {}", data.len());
        format!("{{\"event\":\"sync\",\"data\":\"{data}\"}}\n")
    })
}

/// A harmless first line: one small change.
fn good_line() -> String {
    common::line_with_change("k", "v")
}

/// This process's (resident, peak resident) memory in KiB.
fn memory_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/self/status"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Runs `f` and fails if the peak RSS grew by more than [`MAX_GROWTH_KB`].
async fn with_flat_memory<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    let (rss_before, peak_before) = memory_kb();
    let out = f.await;
    let (rss_after, peak_after) = memory_kb();
    eprintln!(
        "{what}: RSS {rss_before} -> {rss_after} KiB, peak {peak_before} -> {peak_after} KiB"
    );
    assert!(
        peak_after.saturating_sub(peak_before) < MAX_GROWTH_KB,
        "{what}: peak RSS grew from {peak_before} to {peak_after} KiB"
    );
    assert!(rss_after.saturating_sub(rss_before) < MAX_GROWTH_KB);
    out
}

/// Sends a raw HTTP/1.1 request and reads the whole answer.
async fn raw(addr: std::net::SocketAddr, method: &str, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\
         Content-Type: application/x-ndjson\r\nContent-Length: {}\r\n\r\n",
        addr.port(),
        body.len()
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(body.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("answered")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn the_server_refuses_a_bomb_line_and_keeps_serving() {
    let _serial = SERIAL.lock().await;
    let bomb = bomb_line();
    let server = start_server().await;
    let addr = server.local_addr().unwrap();

    // As the first line: 400 before any 200.
    let answer = with_flat_memory("first line", raw(addr, "PUT", "/bombed", bomb)).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer:.300}");
    assert!(
        answer.contains("invalid sync message")
            && answer.contains("256 MiB")
            && answer.contains("--max-inflated-bytes"),
        "{answer:.600}"
    );

    // After a good first line: the usual error line ends the stream.
    let body = format!("{}{bomb}", good_line());
    let answer = with_flat_memory("later line", raw(addr, "PUT", "/later", &body)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
    let error_line = answer
        .lines()
        .find(|l| l.contains("\"event\":\"error\""))
        .unwrap_or_else(|| panic!("no error line in {answer:.600}"));
    assert!(error_line.contains("--max-inflated-bytes"), "{error_line}");

    let health = raw(addr, "GET", "/_health", "").await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health:.300}");
    server.shutdown().await;
}

/// A hostile server: answers any request with `200` and `line`, then waits.
async fn hostile_server(line: &'static str) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut read = BufReader::new(read);
                // Skip the request head, then answer without waiting for a body.
                let mut header = String::new();
                loop {
                    header.clear();
                    match read.read_line(&mut header).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) if header == "\r\n" => break,
                        Ok(_) => {}
                    }
                }
                let head =
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson; charset=utf-8\r\n\
                            Transfer-Encoding: chunked\r\n\r\n";
                let chunk = format!("{:x}\r\n{line}\r\n", line.len());
                if write.write_all(head.as_bytes()).await.is_err()
                    || write.write_all(chunk.as_bytes()).await.is_err()
                {
                    return;
                }
                // Keep the connection open and drain whatever the client sends.
                let mut sink = Vec::new();
                let _ = tokio::time::timeout(WAIT, read.read_to_end(&mut sink)).await;
            });
        }
    });
    addr
}

#[tokio::test]
async fn a_client_refuses_a_bomb_from_a_hostile_server() {
    let _serial = SERIAL.lock().await;
    let bomb = bomb_line();
    let addr = hostile_server(bomb).await;
    let (_hub, doc) = local_doc("victim");
    let mut config = ClientConfig::new(Url::parse(&format!("http://{addr}/victim")).unwrap());
    config.http = HttpVersion::Http1;
    let client = SyncClient::new(config).unwrap();
    let result = with_flat_memory(
        "client",
        client.sync_once(&doc, Until::HeadsEqual, Duration::from_secs(10)),
    )
    .await;
    let err = result.expect_err("the bomb is refused").to_string();
    assert!(
        err.contains("256 MiB") && err.contains("--max-inflated-bytes"),
        "{err}"
    );
    assert!(doc.heads().is_empty(), "nothing applied");
}

/// A saved-document chunk whose one ops column is a deflate stream of 1 GiB
/// of zeros (about 1 MB): the same bomb in a `.automerge` file.
fn bomb_file() -> Vec<u8> {
    let zeros = std::io::repeat(0).take(1 << 30);
    let mut stream = Vec::new();
    flate2::read::DeflateEncoder::new(zeros, flate2::Compression::default())
        .read_to_end(&mut stream)
        .unwrap();
    // No actors, heads or change columns; one deflated integer ops column.
    let mut body = vec![0, 0, 0, 1];
    uleb(&mut body, (7 << 4) | 0b1000 | 2);
    uleb(&mut body, stream.len() as u64);
    body.extend(&stream);
    let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 0];
    uleb(&mut chunk, body.len() as u64);
    chunk.extend(&body);
    chunk
}

#[tokio::test]
async fn imports_and_stored_documents_are_guarded_too() {
    use std::sync::Arc;
    use tandem::hub::{DocError, Hub};
    use tandem::store::{DocInfo, MemoryStore, Store};
    let _serial = SERIAL.lock().await;
    let bomb = bomb_file();
    with_flat_memory("saved bombs", async {
        // An import through the service (what `POST /_import` and the app call).
        let service = tandem::service::Service::start(Hub::new(Arc::new(MemoryStore::new())));
        let err = service.import_doc(&bomb).expect_err("refused").to_string();
        assert!(err.contains("--max-inflated-bytes"), "{err}");
        // Merging saved bytes into an open document.
        let (_hub, doc) = local_doc("merge");
        assert!(matches!(doc.load_bytes(&bomb), Err(DocError::Refused(_))));
        // A store holding a bomb (say, a planted .automerge file).
        let store = Arc::new(MemoryStore::new());
        let id = common::id("planted");
        store.compact(&id, &bomb, &DocInfo::default()).unwrap();
        let err = Hub::new(store).open(&id).expect_err("refused").to_string();
        assert!(err.contains("--max-inflated-bytes"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_hub_applies_the_limits_it_was_given() {
    use std::sync::Arc;
    use tandem::hub::{DocError, Hub};
    use tandem::protocol::Limits;
    use tandem::store::MemoryStore;
    // A real document whose save has compressed columns.
    let (_hub, source) = local_doc("source");
    source
        .change(|tx| {
            let text = automerge::transaction::Transactable::put_object(
                tx,
                automerge::ROOT,
                "text",
                automerge::ObjType::Text,
            )?;
            automerge::transaction::Transactable::splice_text(
                tx,
                &text,
                0,
                0,
                &"la la la ".repeat(5000),
            )
        })
        .unwrap();
    let saved = source.save();
    let strict = Hub::with_limits(
        Arc::new(MemoryStore::new()),
        Limits {
            max_inflated_bytes: 4096,
            ..Limits::default()
        },
    );
    assert_eq!(strict.limits().max_inflated_bytes, 4096);
    let doc = strict.open(&common::id("strict")).unwrap();
    assert_eq!(doc.limits().max_inflated_bytes, 4096);
    let err = doc.load_bytes(&saved).expect_err("over 4 KiB inflated");
    assert!(matches!(err, DocError::Refused(_)), "{err}");
    let (_hub, relaxed) = local_doc("relaxed");
    assert!(
        relaxed.load_bytes(&saved).unwrap(),
        "the default limits take it"
    );
}
