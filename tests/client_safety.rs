//! Where the client's credentials go (issue #7, rows 7, 12 and 14): tokens
//! and certificate pins never follow a redirect to another origin, `https`
//! never downgrades to `http`, a token never travels in clear off loopback,
//! every non-200 answer reaches the user at once, and the CLI finds the
//! local server's owner token only for that server.
//!
//! The servers here are tiny raw HTTP/1.1 listeners on loopback that record
//! each request head and answer a canned response (a redirect, a status).
//!
//! Over 500 lines on purpose: one suite for one subject; each test stands alone and shares only `common`.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use tandem::client::{ClientError, ConnectionStatus, HttpVersion, LiveOptions};
use tandem::protocol::Until;
use tandem::tls::{Identity, Trust};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// A loopback server that records request heads and answers `respond(head)`.
struct Recorder {
    addr: SocketAddr,
    heads: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn base(&self, scheme: &str) -> String {
        format!("{scheme}://{}", self.addr)
    }

    fn heads(&self) -> Vec<String> {
        self.heads.lock().unwrap().clone()
    }
}

type Respond = Arc<dyn Fn(&str) -> String + Send + Sync>;

async fn recorder(
    bind: &str,
    tls: Option<&Identity>,
    respond: impl Fn(&str) -> String + Send + Sync + 'static,
) -> Recorder {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let heads = Arc::new(Mutex::new(Vec::new()));
    let acceptor = tls.map(|identity| {
        let mut config = identity.server_config().unwrap();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        TlsAcceptor::from(Arc::new(config))
    });
    let respond: Respond = Arc::new(respond);
    let recorded = heads.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (heads, respond, acceptor) = (recorded.clone(), respond.clone(), acceptor.clone());
            tokio::spawn(async move {
                match acceptor {
                    Some(acceptor) => {
                        // A failed handshake records nothing: no request was sent.
                        if let Ok(stream) = acceptor.accept(tcp).await {
                            answer(stream, heads, respond).await;
                        }
                    }
                    None => answer(tcp, heads, respond).await,
                }
            });
        }
    });
    Recorder { addr, heads }
}

/// Reads one request head (and the start of its body, as Tandem's server
/// reads the first line before answering), records it, answers, then drains
/// so that closing does not reset the connection under the response.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    heads: Arc<Mutex<Vec<String>>>,
    respond: Respond,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    heads.lock().unwrap().push(head.clone());
    if buf.len() == head_end + 4 && head.to_ascii_lowercase().contains("transfer-encoding") {
        let _ = tokio::time::timeout(Duration::from_secs(1), stream.read(&mut chunk)).await;
    }
    let _ = stream.write_all(respond(&head).as_bytes()).await;
    let _ = stream.flush().await;
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while matches!(stream.read(&mut chunk).await, Ok(n) if n > 0) {}
    })
    .await;
}

fn redirect(location: &str) -> String {
    format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn json_status(status: u16, reason: &str, error: &str) -> String {
    let body = serde_json::json!({ "error": error }).to_string();
    format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn path_of(head: &str) -> &str {
    head.split_whitespace().nth(1).unwrap_or("")
}

fn authorization(head: &str) -> Option<String> {
    head.lines()
        .find_map(|l| {
            l.strip_prefix("authorization: ")
                .or_else(|| l.strip_prefix("Authorization: "))
        })
        .map(str::to_owned)
}

// Row 7: redirects.

#[tokio::test]
async fn a_pinned_https_server_cannot_redirect_the_token_to_plain_http() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let target = recorder("127.0.0.1:0", None, |_| json_status(200, "OK", "")).await;
    let location = format!("{}/doc", target.base("http"));
    let front = recorder("127.0.0.1:0", Some(&identity), move |_| redirect(&location)).await;

    let (_h, local) = local_doc("doc");
    let client = client_with(doc_url(&front.base("https"), "doc"), |c| {
        c.trust = Trust::Pinned(identity.fingerprint());
        c.token = Some("secret".into());
        c.http = HttpVersion::Http1;
    });
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Redirect { .. }), "{err:?}");
    assert!(err.is_permanent());
    let text = err.to_string();
    assert!(text.contains("points to plain http://"), "{text}");
    assert!(text.contains("redirect to https://"), "{text}");
    assert_eq!(
        authorization(&front.heads()[0]).as_deref(),
        Some("Bearer secret")
    );
    assert!(
        target.heads().is_empty(),
        "the http:// target got a request"
    );
}

#[tokio::test]
async fn a_redirect_to_another_origin_carries_no_token() {
    // 127.0.0.2 is loopback on Linux, yet another origin than 127.0.0.1.
    let target = recorder("127.0.0.2:0", None, |_| {
        json_status(403, "Forbidden", "not yours")
    })
    .await;
    let location = format!("{}/doc", target.base("http"));
    let front = recorder("127.0.0.1:0", None, move |_| redirect(&location)).await;

    let (_h, local) = local_doc("doc");
    let client = client_with(doc_url(&front.base("http"), "doc"), |c| {
        c.token = Some("secret".into());
        c.http = HttpVersion::Http1;
    });
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(
        authorization(&front.heads()[0]).as_deref(),
        Some("Bearer secret")
    );
    let at_target = target.heads();
    assert_eq!(at_target.len(), 1);
    assert_eq!(authorization(&at_target[0]), None, "{}", at_target[0]);
}

#[tokio::test]
async fn a_same_origin_redirect_keeps_the_token() {
    let server = recorder("127.0.0.1:0", None, |head| {
        if path_of(head) == "/old/doc" {
            redirect("/new/doc")
        } else {
            json_status(404, "Not Found", "no such document")
        }
    })
    .await;
    let (_h, local) = local_doc("doc");
    let client = client_with(
        doc_url(&format!("{}/old", server.base("http")), "doc"),
        |c| {
            c.token = Some("secret".into());
            c.http = HttpVersion::Http1;
        },
    );
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 404, .. }),
        "{err:?}"
    );
    let heads = server.heads();
    assert_eq!(heads.len(), 2);
    assert_eq!(path_of(&heads[1]), "/new/doc");
    for head in &heads {
        assert_eq!(authorization(head).as_deref(), Some("Bearer secret"));
    }
}

#[tokio::test]
async fn a_pin_does_not_vouch_for_the_origin_a_redirect_leads_to() {
    // Both servers use the same self-signed certificate: the pin would
    // accept the second one, but it was given for the first only.
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let target = recorder("127.0.0.2:0", Some(&identity), |_| {
        json_status(200, "OK", "")
    })
    .await;
    let location = format!("{}/doc", target.base("https"));
    let front = recorder("127.0.0.1:0", Some(&identity), move |_| redirect(&location)).await;
    let (_h, local) = local_doc("doc");
    let client = client_with(doc_url(&front.base("https"), "doc"), |c| {
        c.trust = Trust::Pinned(identity.fingerprint());
        c.token = Some("secret".into());
        c.http = HttpVersion::Http1;
    });
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert!(text.contains("does not apply here"), "{text}");
    assert!(text.contains("sync with https://127.0.0.2:"), "{text}");
    assert_eq!(front.heads().len(), 1);
    assert!(
        target.heads().is_empty(),
        "the handshake should have failed"
    );
}

// Cluster redirects: a server trusted with the token may vouch for its peer.

fn vouched_redirect(location: &str, vouch: &str) -> String {
    format!(
        "HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nTandem-Cluster-Peer: {vouch}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

/// Syncs `doc` at `url` with token `secret` (and `trust`); the error.
async fn sync_err(url: String, trust: Trust) -> ClientError {
    let (_h, local) = local_doc("doc");
    let client = client_with(doc_url(&url, "doc"), |c| {
        c.trust = trust;
        c.token = Some("secret".into());
        c.http = HttpVersion::Http1;
    });
    client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn a_cluster_node_vouched_for_with_its_pin_gets_the_token() {
    // Two nodes, two self-signed certificates; the client pins the first,
    // which vouches for the second with the second's pin.
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let front_id = Identity::self_signed_in(d1.path()).unwrap();
    let node_id = Identity::self_signed_in(d2.path()).unwrap();
    let node = recorder("127.0.0.2:0", Some(&node_id), |_| {
        json_status(403, "Forbidden", "reached")
    })
    .await;
    let location = format!("{}/doc", node.base("https"));
    let vouch = format!("peer; pin={}", node_id.fingerprint());
    let front = recorder("127.0.0.1:0", Some(&front_id), move |_| {
        vouched_redirect(&location, &vouch)
    })
    .await;
    let err = sync_err(front.base("https"), Trust::Pinned(front_id.fingerprint())).await;
    assert!(
        matches!(err, ClientError::Status { status: 403, .. }),
        "{err:?}"
    );
    let heads = node.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(authorization(&heads[0]).as_deref(), Some("Bearer secret"));

    // A vouch with the wrong pin: the handshake fails, nothing is sent.
    let other = recorder("127.0.0.2:0", Some(&node_id), |_| {
        json_status(200, "OK", "")
    })
    .await;
    let location = format!("{}/doc", other.base("https"));
    let wrong = format!("peer; pin={}", front_id.fingerprint());
    let front = recorder("127.0.0.1:0", Some(&front_id), move |_| {
        vouched_redirect(&location, &wrong)
    })
    .await;
    let err = sync_err(front.base("https"), Trust::Pinned(front_id.fingerprint())).await;
    assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
    assert!(other.heads().is_empty(), "the handshake should have failed");
}

#[tokio::test]
async fn vouches_that_are_not_believed_carry_no_token() {
    // A vouch that moves the request elsewhere on the target (another path).
    let moved = recorder("127.0.0.2:0", None, |_| json_status(403, "Forbidden", "no")).await;
    let location = format!("{}/elsewhere/doc", moved.base("http"));
    let front = recorder("127.0.0.1:0", None, move |_| {
        vouched_redirect(&location, "peer")
    })
    .await;
    let err = sync_err(front.base("http"), Trust::System).await;
    assert!(
        matches!(err, ClientError::Status { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(
        authorization(&front.heads()[0]).as_deref(),
        Some("Bearer secret")
    );
    assert_eq!(
        authorization(&moved.heads()[0]),
        None,
        "{}",
        moved.heads()[0]
    );

    // A vouch from a hop that was not trusted with the token itself.
    let target = recorder("127.0.0.3:0", None, |_| json_status(403, "Forbidden", "no")).await;
    let location = format!("{}/doc", target.base("http"));
    let middle = recorder("127.0.0.2:0", None, move |_| {
        vouched_redirect(&location, "peer")
    })
    .await;
    let location = format!("{}/doc", middle.base("http"));
    let front = recorder("127.0.0.1:0", None, move |_| redirect(&location)).await;
    let err = sync_err(front.base("http"), Trust::System).await;
    assert!(
        matches!(err, ClientError::Status { status: 403, .. }),
        "{err:?}"
    );
    assert_eq!(authorization(&middle.heads()[0]), None);
    assert_eq!(
        authorization(&target.heads()[0]),
        None,
        "{}",
        target.heads()[0]
    );

    // A malformed vouch is no vouch.
    let target = recorder("127.0.0.2:0", None, |_| json_status(403, "Forbidden", "no")).await;
    let location = format!("{}/doc", target.base("http"));
    let front = recorder("127.0.0.1:0", None, move |_| {
        vouched_redirect(&location, "peer; pin=not-a-fingerprint")
    })
    .await;
    sync_err(front.base("http"), Trust::System).await;
    assert_eq!(authorization(&target.heads()[0]), None);
}

// Row 14: every non-200 answer reaches the user at once.

#[tokio::test]
async fn error_statuses_are_reported_with_the_servers_text_not_as_a_timeout() {
    let full = recorder("127.0.0.1:0", None, |_| {
        json_status(507, "Insufficient Storage", "the store is full")
    })
    .await;
    let gone = recorder("127.0.0.1:0", None, |_| json_status(410, "Gone", "Gone")).await;
    let (_h, local) = local_doc("doc");
    put(&local, "k", "v");
    // A generous timeout: the error must come from the answer, not from it.
    let long = Duration::from_secs(600);
    let err = client(doc_url(&full.base("http"), "doc"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, long)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}/doc answered 507: the store is full", full.base("http"))
    );
    assert!(!err.is_permanent(), "space may be freed later");
    let err = client(doc_url(&gone.base("http"), "doc"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, long)
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}/doc answered 410: the document was deleted on the server",
            gone.base("http")
        )
    );
    assert!(err.is_permanent());
}

#[tokio::test]
async fn following_stops_on_permanent_answers_and_retries_the_others() {
    for (status, reason) in [
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (410, "Gone"),
        (413, "Payload Too Large"),
        (421, "Misdirected Request"),
    ] {
        let server = recorder("127.0.0.1:0", None, move |_| {
            json_status(status, reason, "said the server")
        })
        .await;
        let (_h, local) = local_doc("doc");
        let (tx, _rx) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
        let options = LiveOptions {
            cancel: tokio_util::sync::CancellationToken::new(),
            status: tx,
            store: None,
            wake: None,
        };
        let err = tokio::time::timeout(
            WAIT,
            client(doc_url(&server.base("http"), "doc"), HttpVersion::Http1)
                .follow(&local, options),
        )
        .await
        .unwrap_or_else(|_| panic!("{status} did not stop the follow"))
        .unwrap_err();
        assert!(
            matches!(&err, ClientError::Status { status: s, .. } if *s == status),
            "{err:?}"
        );
        assert!(err.to_string().contains(&format!("answered {status}: ")));
    }

    // 507: reported on the status channel, retried until cancelled.
    let full = recorder("127.0.0.1:0", None, |_| {
        json_status(507, "Insufficient Storage", "the store is full")
    })
    .await;
    let (_h, local) = local_doc("doc");
    let cancel = tokio_util::sync::CancellationToken::new();
    let (tx, mut rx) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
    let options = LiveOptions {
        cancel: cancel.clone(),
        status: tx,
        store: None,
        wake: None,
    };
    let following = {
        let client = client(doc_url(&full.base("http"), "doc"), HttpVersion::Http1);
        tokio::spawn(async move { client.follow(&local, options).await })
    };
    let expected = format!("{}/doc answered 507: the store is full", full.base("http"));
    tokio::time::timeout(
        WAIT,
        rx.wait_for(
            |s| matches!(s, ConnectionStatus::Reconnecting { error, .. } if *error == expected),
        ),
    )
    .await
    .expect("the 507 is reported")
    .unwrap();
    eventually("a second attempt", || async { full.heads().len() >= 2 }).await;
    cancel.cancel();
    let ended = tokio::time::timeout(WAIT, following)
        .await
        .unwrap()
        .unwrap();
    assert!(ended.is_ok(), "{ended:?}");
}

// The CLI: flags, tokens in clear, the owner token.

fn tandem(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let mut command = Command::new(TANDEM);
    command
        .args(args)
        .env("TANDEM_NO_MDNS", "1")
        .env_remove("TANDEM_TOKEN")
        .env_remove("TANDEM_DATA_DIR")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    // Bounded: a command that hangs is killed and fails the test.
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("tandem {args:?} did not finish in {WAIT:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.success(), reader.join().unwrap())
}

/// Runs the CLI off the async runtime's threads.
async fn tandem_async(args: Vec<String>, env: Vec<(String, String)>) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        tandem(&args, &env)
    })
    .await
    .unwrap()
}

#[test]
fn certificate_flags_with_an_http_url_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.automerge");
    let file = file.to_str().unwrap();
    let fp = "AA:".repeat(31) + "AA";
    let (ok, err) = tandem(
        &[
            "sync",
            "http://127.0.0.1:9/doc",
            "--file",
            file,
            "--fingerprint",
            &fp,
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("--fingerprint pins a TLS certificate, but URL is http://; use https:// or drop --fingerprint"),
        "{err}"
    );
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "").unwrap();
    let (ok, err) = tandem(
        &[
            "cat",
            "http://127.0.0.1:9/doc",
            "--ca",
            ca.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("but URL is http://; use https:// or drop --ca"),
        "{err}"
    );
}

#[test]
fn tokens_are_not_sent_in_clear_off_loopback() {
    // 192.0.2.0/24 is reserved for documentation: nothing is contacted,
    // the refusal comes first.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("f.automerge");
    let expected = "refusing to send a token in clear to 192.0.2.1; use https:// or pass --allow-plain-http-tokens";
    let (ok, err) = tandem(
        &[
            "sync",
            "http://192.0.2.1:7450/doc",
            "--file",
            file.to_str().unwrap(),
            "--token",
            "t",
        ],
        &[],
    );
    assert!(!ok);
    assert!(err.contains(expected), "{err}");
    let (ok, err) = tandem(
        &["cat", "http://192.0.2.1:7450/doc"],
        &[("TANDEM_TOKEN", "t")],
    );
    assert!(!ok);
    assert!(err.contains(expected), "{err}");
    let (ok, err) = tandem(
        &["peers", "--url", "http://192.0.2.1:7450", "--token", "t"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains(expected), "{err}");
    let (ok, err) = tandem(
        &["share", "http://192.0.2.1:7450/doc", "lan", "--token", "t"],
        &[],
    );
    assert!(!ok);
    assert!(err.contains(expected), "{err}");
}

#[cfg(unix)]
#[test]
fn a_token_file_readable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("token");
    std::fs::write(&path, "t\n").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (ok, err) = tandem(
        &[
            "cat",
            "http://127.0.0.1:9/doc",
            "--token-file",
            path.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!ok);
    assert!(
        err.contains("can be read by other users (mode 644)"),
        "{err}"
    );
    assert!(err.contains("chmod 600"), "{err}");
}

/// A data directory as a running server leaves it: `owner-token` and a
/// `server.json` listing `urls` (with this test's PID, which is alive).
fn owner_data_dir(urls: &[String]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    };
    write("owner-token", "owner-secret\n");
    let server = serde_json::json!({ "urls": urls, "pid": std::process::id() });
    write("server.json", &server.to_string());
    dir
}

fn s(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|p| (*p).to_owned()).collect()
}

async fn every_command(base: &str, data_dir: &Path, work: &Path) {
    let dir = data_dir.to_str().unwrap().to_owned();
    let file = work.join("f.automerge").to_str().unwrap().to_owned();
    let doc = format!("{base}/doc");
    for args in [
        s(&[
            "sync",
            &doc,
            "--file",
            &file,
            "--timeout",
            "10",
            "--data-dir",
            &dir,
        ]),
        s(&["cat", &doc, "--timeout", "10", "--data-dir", &dir]),
        s(&["share", &doc, "lan", "--data-dir", &dir]),
        s(&["peers", "--url", base, "--data-dir", &dir]),
    ] {
        let (ok, err) = tandem_async(args.clone(), vec![]).await;
        // The recorder answers 404 to everything.
        assert!(!ok, "{args:?}");
        assert!(err.contains("answered 404"), "{args:?}: {err}");
    }
}

#[tokio::test]
async fn the_cli_sends_the_owner_token_only_to_the_local_server() {
    let not_found = |_: &str| json_status(404, "Not Found", "nothing here");
    let local = recorder("127.0.0.1:0", None, not_found).await;
    let other = recorder("127.0.0.1:0", None, not_found).await;
    let data_dir = owner_data_dir(&[local.base("http")]);
    let work = tempfile::tempdir().unwrap();

    every_command(&local.base("http"), data_dir.path(), work.path()).await;
    let heads = local.heads();
    assert_eq!(heads.len(), 4);
    for head in &heads {
        assert_eq!(
            authorization(head).as_deref(),
            Some("Bearer owner-secret"),
            "{head}"
        );
    }

    every_command(&other.base("http"), data_dir.path(), work.path()).await;
    let heads = other.heads();
    assert_eq!(heads.len(), 4);
    for head in &heads {
        assert_eq!(authorization(head), None, "{head}");
    }

    // `localhost` is the listed 127.0.0.1 origin; an explicit token wins.
    let doc = format!("http://localhost:{}/doc", local.addr.port());
    let dir = data_dir.path().to_str().unwrap().to_owned();
    let (ok, _) = tandem_async(s(&["cat", &doc, "--data-dir", &dir]), vec![]).await;
    assert!(!ok);
    let (ok, _) = tandem_async(
        s(&["cat", &doc, "--data-dir", &dir]),
        vec![("TANDEM_TOKEN".into(), "from-env".into())],
    )
    .await;
    assert!(!ok);
    let heads = local.heads();
    assert_eq!(
        authorization(&heads[4]).as_deref(),
        Some("Bearer owner-secret")
    );
    assert_eq!(authorization(&heads[5]).as_deref(), Some("Bearer from-env"));
}

#[tokio::test]
async fn following_a_deleted_document_ends_with_that_message() {
    let gone = recorder("127.0.0.1:0", None, |_| {
        json_status(410, "Gone", "document deleted")
    })
    .await;
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("f.automerge").to_str().unwrap().to_owned();
    let doc = format!("{}/doc", gone.base("http"));
    let (ok, err) = tandem_async(s(&["sync", &doc, "--file", &file, "--follow"]), vec![]).await;
    assert!(!ok);
    assert!(
        err.contains(&format!(
            "{doc} answered 410: the document was deleted on the server (document deleted)"
        )),
        "{err}"
    );
}
