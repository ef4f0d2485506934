//! The `tandem` binary as a user runs it: `serve` with the seed's curl
//! commands verbatim, `edit`/`cat`/`sync`/`docs`, one-line errors, SIGTERM
//! draining, and a SIGKILL in the middle of writes losing nothing acknowledged.

mod common;
use common::run_tandem as tandem;

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// A `tandem serve` child process, killed on drop.
struct Served {
    child: Child,
    url: String,
    fingerprint: Option<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data_dir: &Path, extra: &[&str]) -> Served {
    serve_on("127.0.0.1:0", data_dir, extra)
}

fn serve_on(listen: &str, data_dir: &Path, extra: &[&str]) -> Served {
    let mut child = Command::new(TANDEM)
        .args(["serve", "--listen", listen, "--data-dir"])
        .arg(data_dir)
        .args(extra)
        .env("TANDEM_NO_MDNS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let (mut url, mut fingerprint) = (None, None);
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some(u) = line.trim().strip_prefix("Tandem listening on ") {
            url = Some(u.to_owned());
        }
        if let Some(f) = line
            .trim()
            .strip_prefix("TLS certificate SHA-256 fingerprint: ")
        {
            fingerprint = Some(f.to_owned());
        }
        if line.starts_with("Data directory:") {
            break;
        }
        line.clear();
    }
    Served {
        child,
        url: url.expect("serve prints its URL"),
        fingerprint,
    }
}

fn ok(args: &[&str]) -> String {
    let (success, stdout, stderr) = tandem(args);
    assert!(success, "tandem {args:?} failed: {stderr}");
    stdout
}

/// Runs a shell command under a pseudo-terminal (as a person would type it),
/// collecting its output as it streams.
struct Terminal {
    child: Child,
    output: Arc<Mutex<String>>,
}

impl Terminal {
    fn run(command: &str) -> Self {
        let mut child = Command::new("script")
            .args(["-qfec", command, "/dev/null"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let output = Arc::new(Mutex::new(String::new()));
        let mut stdout = child.stdout.take().unwrap();
        let sink = output.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Self { child, output }
    }

    /// The output so far, without terminal escape sequences (curl bolds header names on a tty).
    fn text(&self) -> String {
        let raw = self.output.lock().unwrap().clone();
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for d in chars.by_ref() {
                    if d.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    fn sync_lines(&self) -> usize {
        self.output
            .lock()
            .unwrap()
            .matches("{\"event\":\"sync\",\"data\":\"")
            .count()
    }

    fn wait_for_lines(&self, n: usize, what: &str) {
        let deadline = Instant::now() + common::WAIT;
        while self.sync_lines() < n {
            assert!(
                Instant::now() < deadline,
                "{what}: only {} sync lines in {:?}",
                self.sync_lines(),
                self.output.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seed's two curl commands, verbatim but for the port: they follow the
/// stream over HTTPS on HTTP/2 and HTTP/1.1, and new lines arrive as the
/// document changes.
#[test]
fn the_seeds_curl_commands_follow_the_stream_on_http2_and_http1() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &["--tls"]);
    let port = server.url.rsplit(':').next().unwrap().to_owned();
    let file = dir.path().join("example.automerge");
    let file = file.to_str().unwrap();
    ok(&["edit", file, "--set", "title=\"Hello\""]);
    let fp = server.fingerprint.clone().unwrap();
    let url = format!("{}/example", server.url);
    ok(&["sync", &url, "--file", file, "--fingerprint", &fp]);

    let h2 = Terminal::run(&format!(
        "curl -k -v -X PUT https://localhost:{port}/example -d '{{\"event\":\"sync\",\"data\":\"QgAAAQAAAA==\"}}' -H 'Content-Type: application/x-ndjson'"
    ));
    let h1 = Terminal::run(&format!(
        "curl -k -i -X PUT https://localhost:{port}/example -d '{{\"event\":\"sync\",\"data\":\"QgAAAQAAAA==\"}}' -H 'Content-Type: application/x-ndjson' --http1.1"
    ));
    h2.wait_for_lines(1, "curl --http2 gets the document");
    h1.wait_for_lines(1, "curl --http1.1 gets the document");
    let (h2_text, h1_text) = (h2.text(), h1.text());
    assert!(h2_text.contains("< HTTP/2 200"), "{h2_text}");
    assert!(
        h2_text.contains("content-type: application/x-ndjson; charset=utf-8"),
        "{h2_text}"
    );
    assert!(h1_text.contains("HTTP/1.1 200 OK"), "{h1_text}");
    assert!(
        h1_text
            .to_lowercase()
            .contains("transfer-encoding: chunked"),
        "{h1_text}"
    );
    let (before2, before1) = (h2.sync_lines(), h1.sync_lines());

    // Change the document elsewhere: both curls see new lines, without asking.
    for i in 0..3 {
        ok(&["edit", file, "--set", &format!("count={i}")]);
        ok(&["sync", &url, "--file", file, "--fingerprint", &fp]);
        h2.wait_for_lines(before2 + i + 1, "curl --http2 follows the change");
        h1.wait_for_lines(before1 + i + 1, "curl --http1.1 follows the change");
    }
}

#[test]
fn edit_cat_sync_and_docs_work_together() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let a = dir.path().join("a.automerge");
    let b = dir.path().join("b.automerge");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    ok(&[
        "edit",
        a,
        "--set",
        "title=\"Notes\"",
        "--set",
        "tags=[\"x\",1]",
        "--incr",
        "views",
        "2",
    ]);
    ok(&[
        "edit", a, "--splice", "title", "0", "0", "My ", "--incr", "views", "-1",
    ]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["cat", a])).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"title": "My Notes", "tags": ["x", 1], "views": 1})
    );

    let url = format!("{}/notes", server.url);
    // Pushing says so (it once said "unchanged": the local file was).
    let out = ok(&["sync", &url, "--file", a]);
    assert!(
        out.contains("pushed 2 changes, pulled 0 changes (file unchanged)")
            && out.contains("the server holds the same 2 changes"),
        "{out}"
    );
    // A second file pulls it with the other check and over HTTP/2.
    let out = ok(&[
        "sync",
        &url,
        "--file",
        b,
        "--until",
        "has-remote-heads",
        "--http2",
    ]);
    assert!(
        out.contains("pushed 0 changes, pulled 2 changes (file updated)"),
        "{out}"
    );
    // Both ways at once: a change on each side.
    ok(&["edit", a, "--set", "a=1"]);
    ok(&["edit", b, "--set", "b=2"]);
    ok(&["sync", &url, "--file", b]);
    let out = ok(&["sync", &url, "--file", a]);
    assert!(
        out.contains("pushed 1 change, pulled 1 change (file updated)")
            && out.contains("same 4 changes"),
        "{out}"
    );
    ok(&["sync", &url, "--file", b]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["cat", a])).unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(&["cat", b])).unwrap(),
        json
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&ok(&["cat", &url])).unwrap(),
        json
    );
    drop(server);
    let listing = ok(&["docs", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(
        listing.contains("notes") && listing.contains("My Notes"),
        "{listing}"
    );
    let listing: serde_json::Value = serde_json::from_str(&ok(&[
        "docs",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(listing[0]["id"], "notes");
}

#[test]
fn sync_and_cat_take_max_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let a = dir.path().join("a.automerge");
    let a = a.to_str().unwrap();
    ok(&["edit", a, "--set", "title=\"Notes\""]);
    let url = format!("{}/notes", server.url);
    ok(&["sync", &url, "--file", a, "--max-line", "1000000"]);
    // The server's first line is longer than 40 bytes.
    for args in [
        vec!["cat", url.as_str(), "--max-line", "40"],
        vec!["sync", url.as_str(), "--file", a, "--max-line", "40"],
    ] {
        let (success, _, stderr) = tandem(&args);
        assert!(!success, "{args:?} passed");
        assert!(stderr.contains("40-byte limit"), "{args:?}: {stderr}");
    }
}

#[test]
fn failures_are_one_line_with_a_non_zero_exit() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("x.automerge");
    let f = f.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["edit", f, "--set", "title=Hello"], "is not JSON"),
        (vec!["edit", f], "nothing to do"),
        (
            vec!["edit", f, "--splice", "nope", "0", "0", "x"],
            "nope: does not exist",
        ),
        (
            vec![
                "sync",
                "http://127.0.0.1:9/doc",
                "--file",
                f,
                "--timeout",
                "5",
            ],
            "cannot reach http://127.0.0.1:9/doc",
        ),
        (
            vec!["sync", "http://127.0.0.1:9/", "--file", f],
            "does not end in a document id",
        ),
        (vec!["cat", "/nonexistent/file.automerge"], "cannot read"),
        (
            vec!["docs", "--data-dir", "/nonexistent"],
            "no Tandem store",
        ),
        (vec!["serve", "--listen", "256.0.0.1:1"], "invalid value"),
    ];
    for (args, needle) in cases {
        let (success, _, stderr) = tandem(&args);
        assert!(!success, "{args:?} should fail");
        assert!(stderr.contains(needle), "{args:?}: {stderr:?}");
        if args[0] != "serve" {
            assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr:?}");
            assert!(stderr.starts_with("tandem: error: "), "{stderr:?}");
        }
    }
    for sub in ["serve", "sync", "cat", "edit", "docs"] {
        let (success, stdout, _) = tandem(&[sub, "--help"]);
        assert!(success && stdout.contains("Usage: tandem"), "{sub} --help");
    }
}

#[test]
fn sigterm_drains_streams_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = serve(dir.path(), &[]);
    let f = dir.path().join("t.automerge");
    let f = f.to_str().unwrap();
    ok(&["edit", f, "--set", "k=\"v\""]);
    let url = format!("{}/t", server.url);
    ok(&["sync", &url, "--file", f]);
    let follower = Terminal::run(&format!(
        "curl -sN -X PUT {url} -d '' -H 'Content-Type: application/x-ndjson'"
    ));
    follower.wait_for_lines(1, "follower connected");
    let started = Instant::now();
    unsafe_kill(server.child.id(), "TERM");
    let status = wait_exit(&mut server.child, common::WAIT).expect("serve exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // The follower's stream ended with the server.
    let mut follower = follower;
    assert!(
        wait_exit(&mut follower.child, common::WAIT).is_some(),
        "curl's stream ended"
    );
    let listing = ok(&["docs", "--data-dir", dir.path().to_str().unwrap()]);
    assert!(listing.contains("t "), "{listing}");
}

/// Changes are acknowledged when a one-shot sync with `heads-equal` passes;
/// the server is killed with SIGKILL while a writer is busy. After a restart
/// every acknowledged change must be there.
#[test]
fn a_sigkill_mid_write_loses_no_acknowledged_change() {
    let dir = tempfile::tempdir().unwrap();
    let server = serve(dir.path(), &[]);
    let listen = server.url.trim_start_matches("http://").to_owned();
    let url = format!("{}/crash", server.url);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let acked = Arc::new(Mutex::new(Vec::<u32>::new()));
    let writer = {
        let (acked, url) = (acked.clone(), url.clone());
        rt.spawn(async move {
            let (_hub, doc) = common::local_doc("crash");
            let client = common::client(
                url::Url::parse(&url).unwrap(),
                tandem::client::HttpVersion::Http1,
            );
            for i in 0u32.. {
                common::put(&doc, &format!("k{i}"), &"x".repeat(2000));
                match client
                    .sync_once(
                        &doc,
                        tandem::protocol::Until::HeadsEqual,
                        Duration::from_secs(5),
                    )
                    .await
                {
                    Ok(_) => acked.lock().unwrap().push(i),
                    Err(_) => break,
                }
            }
        })
    };
    // Let it write for a while, then pull the plug.
    let deadline = Instant::now() + common::WAIT;
    while acked.lock().unwrap().len() < 50 {
        assert!(Instant::now() < deadline, "writer made no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL
    server.child.wait().unwrap();
    rt.block_on(async {
        let _ = tokio::time::timeout(common::WAIT, writer).await;
    });
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 50);

    let restarted = serve_on(&listen, dir.path(), &[]);
    let out = dir.path().join("after.automerge");
    let out = out.to_str().unwrap();
    ok(&[
        "sync",
        &format!("{}/crash", restarted.url),
        "--file",
        out,
        "--until",
        "has-remote-heads",
    ]);
    let json: serde_json::Value = serde_json::from_str(&ok(&["cat", out])).unwrap();
    for i in &acked {
        assert!(
            json.get(format!("k{i}")).is_some(),
            "acknowledged change k{i} was lost ({} acked)",
            acked.len()
        );
    }
}

fn unsafe_kill(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}
