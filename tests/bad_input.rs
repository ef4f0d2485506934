//! Bad input gets a clear error and loses nothing: refused requests, malformed
//! lines before and after the `200`, oversized lines, and peers that stall,
//! vanish or hang up mid-line.

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use common::*;
use tandem::hub::Hub;
use tandem::node::Node;
use tandem::server::ServerOptions;
use tandem::store::{Durability, SqliteStore, Store};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

async fn sqlite_server(options: ServerOptions) -> (Node, Arc<Hub>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let hub = Hub::new(
        Arc::new(SqliteStore::open_dir(dir.path(), Durability::Process).unwrap()) as Arc<dyn Store>,
    );
    (
        start_server_with(hub.clone(), None, options).await,
        hub,
        dir,
    )
}

#[tokio::test]
async fn refused_requests_get_the_right_status_and_a_json_error() {
    let (server, hub, _dir) = sqlite_server(ServerOptions::default()).await;
    let line = line_with_change("k", "v");
    let ct = "Content-Type: application/x-ndjson\r\n";
    let cases: Vec<(String, u16, &str)> = vec![
        (
            request(
                "PUT",
                "/doc",
                "Content-Type: application/x-www-form-urlencoded\r\n",
                line.len(),
            ),
            415,
            "unsupported content type",
        ),
        (
            request(
                "PUT",
                "/doc",
                "Content-Type: application/x-ndjson; charset=latin1\r\n",
                line.len(),
            ),
            415,
            "unsupported content type",
        ),
        (
            request(
                "PUT",
                "/doc",
                &format!("{ct}Accept: text/html\r\n"),
                line.len(),
            ),
            406,
            "not acceptable",
        ),
        (
            request("PATCH", "/doc", ct, line.len()),
            405,
            "method not allowed",
        ),
        (
            request("PUT", "/_health", ct, line.len()),
            405,
            "method not allowed",
        ),
        (
            request("PUT", "/", ct, line.len()),
            400,
            "document id is empty",
        ),
        (
            request("PUT", "/..", ct, line.len()),
            400,
            "may not start with '.'",
        ),
        (
            request("PUT", "/.hidden", ct, line.len()),
            400,
            "may not start with '.'",
        ),
        (
            request("PUT", "/_reserved", ct, line.len()),
            400,
            "may not start with '_'",
        ),
        (
            request("PUT", "/a/b", ct, line.len()),
            400,
            "invalid document id",
        ),
        (
            request("PUT", "/..%2Fetc%2Fpasswd", ct, line.len()),
            400,
            "may not start with '.'",
        ),
        (
            request("PUT", "/a%2F..%2Fb", ct, line.len()),
            400,
            "contains '/'",
        ),
        (
            request("PUT", "/a%0Ab", ct, line.len()),
            400,
            "contains '\\n'",
        ),
        (
            request("PUT", "/a%00", ct, line.len()),
            400,
            "contains '\\0'",
        ),
        (
            request("PUT", &format!("/{}", "x".repeat(257)), ct, line.len()),
            400,
            "257 bytes long",
        ),
    ];
    for (head, status, needle) in cases {
        let (got, response) = raw(&server, &head, line.as_bytes()).await;
        assert_eq!(got, status, "{head}");
        let error = error_of(&response);
        assert!(error.contains(needle), "{head}: {error:?} lacks {needle:?}");
    }
    // Nothing touched the disk.
    assert!(hub.list().unwrap().is_empty());
    // curl's default Accept: */* and a missing Content-Type are fine.
    let (got, _) = raw(
        &server,
        &request("PUT", "/doc?follow=false", "Accept: */*\r\n", line.len()),
        line.as_bytes(),
    )
    .await;
    assert_eq!(got, 200);
    assert_eq!(hub.list().unwrap().len(), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn tokens_protect_everything_but_health() {
    let options = ServerOptions {
        tokens: vec!["t1".into(), "t2".into()],
        ..ServerOptions::default()
    };
    let (server, _hub, _dir) = sqlite_server(options).await;
    let (status, _) = raw(&server, &request("GET", "/_health", "", 0), b"").await;
    assert_eq!(status, 200);
    for (path, method) in [
        ("/_docs", "GET"),
        ("/doc", "GET"),
        ("/doc", "DELETE"),
        ("/doc", "PUT"),
    ] {
        let (status, response) = raw(&server, &request(method, path, "", 0), b"").await;
        assert_eq!(status, 401, "{method} {path}");
        assert!(response.to_lowercase().contains("www-authenticate: bearer"));
        assert_eq!(error_of(&response), "missing or invalid bearer token");
        let (status, _) = raw(
            &server,
            &request(method, path, "Authorization: Bearer wrong\r\n", 0),
            b"",
        )
        .await;
        assert_eq!(status, 401);
    }
    let (status, _) = raw(
        &server,
        &request("GET", "/_docs", "Authorization: Bearer t2\r\n", 0),
        b"",
    )
    .await;
    assert_eq!(status, 200);
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_first_line_is_a_400_and_changes_nothing() {
    let (server, hub, _dir) = sqlite_server(ServerOptions::default()).await;
    let ct = "Content-Type: application/x-ndjson\r\n";
    let garbage =
        base64::engine::general_purpose::STANDARD.encode(b"\x42not a sync message at all");
    let cases = [
        ("not json\n".to_owned(), "not a JSON object"),
        ("null\n".to_owned(), "not a JSON object"),
        ("[1,2,3]\n".to_owned(), "not a JSON object"),
        ("{\"event\":\"sync\"}\n".to_owned(), "no \"data\""),
        (
            "{\"event\":\"sync\",\"data\":\"%%%\"}\n".to_owned(),
            "not valid base64",
        ),
        (
            format!("{{\"event\":\"sync\",\"data\":\"{garbage}\"}}\n"),
            "invalid sync message",
        ),
        (
            "{\"event\":\"sync\",\"data\":\"AAAA\"}\n".to_owned(),
            "invalid sync message",
        ),
    ];
    for (body, needle) in cases {
        let (status, response) = raw(
            &server,
            &request("PUT", "/doc", ct, body.len()),
            body.as_bytes(),
        )
        .await;
        assert_eq!(status, 400, "{body}");
        let error = error_of(&response);
        assert!(error.contains(needle), "{body}: {error:?}");
    }
    assert!(hub.list().unwrap().is_empty(), "nothing stored");
    server.shutdown().await;
}

#[tokio::test]
async fn a_bad_line_mid_stream_ends_it_with_an_error_line_and_keeps_what_came_before() {
    let (server, hub, _dir) = sqlite_server(ServerOptions::default()).await;
    for (bad, needle) in [
        ("null\n", "not a JSON object"),
        ("{\"event\":\"sync\",\"data\":\"!!\"}\n", "not valid base64"),
        (
            "{\"event\":\"sync\",\"data\":\"QUJD\"}\n",
            "invalid sync message",
        ),
    ] {
        let mut reader = open_stream(&server, "/kept", &line_with_change("before", "error")).await;
        write_chunk(reader.get_mut(), bad.as_bytes()).await;
        let rest = read_rest(&mut reader).await;
        let error_line = rest
            .lines()
            .find(|l| l.contains("\"event\":\"error\""))
            .unwrap_or_else(|| panic!("no error line in {rest:?}"));
        let json: serde_json::Value = serde_json::from_str(error_line).unwrap();
        assert!(
            json["message"].as_str().unwrap().contains(needle),
            "{error_line}"
        );
        assert!(
            rest.ends_with("0\r\n\r\n"),
            "the response ends properly: {rest:?}"
        );
    }
    let kept = hub.open(&id("kept")).unwrap();
    assert_eq!(get(&kept, "before").as_deref(), Some("error"));
    // And it is on disk, not just in memory.
    let stored = hub.store().load(&id("kept")).unwrap().unwrap();
    let reloaded = automerge::Automerge::load(&stored).unwrap();
    assert_eq!(reloaded.get_heads(), kept.heads());
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversized_line_is_refused_without_waiting_for_its_end() {
    let options = ServerOptions {
        max_line: 1024,
        ..ServerOptions::default()
    };
    let (server, hub, _dir) = sqlite_server(options).await;
    // First line: 4 KiB with no newline, and the body never ends.
    let mut s = TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    let head = format!("PUT /big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {NDJSON}\r\nTransfer-Encoding: chunked\r\n\r\n");
    s.write_all(head.as_bytes()).await.unwrap();
    write_chunk(&mut s, &[b'x'; 4096]).await;
    let mut reader = BufReader::new(s);
    let mut status = String::new();
    tokio::time::timeout(WAIT, reader.read_line(&mut status))
        .await
        .expect("refused before the line ends")
        .unwrap();
    assert!(status.starts_with("HTTP/1.1 400"), "{status}");

    // Mid-stream: a good line, then an endless one.
    let mut reader = open_stream(&server, "/big", &line_with_change("small", "ok")).await;
    write_chunk(reader.get_mut(), &[b'y'; 4096]).await;
    let rest = read_rest(&mut reader).await;
    assert!(rest.contains("line exceeds the 1024-byte limit"), "{rest}");
    assert_eq!(
        get(&hub.open(&id("big")).unwrap(), "small").as_deref(),
        Some("ok")
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_vanished_client_and_a_half_sent_line_leave_nothing_behind() {
    let (server, hub, _dir) = sqlite_server(ServerOptions::default()).await;
    let doc = hub.open(&id("gone")).unwrap();
    put(&doc, "base", "line");
    let heads = doc.heads();
    let mut reader = open_stream(&server, "/gone", &line_with_change("first", "line")).await;
    wait_for(&doc, "the first line applied", |d| {
        get(d, "first").is_some()
    })
    .await;
    assert_eq!(doc.subscriber_count(), 1);
    // Half a line, then the connection drops.
    write_chunk(reader.get_mut(), b"{\"event\":\"sync\",\"data\":\"QgAA").await;
    drop(reader);
    eventually("the connection task to end", || async {
        doc.subscriber_count() == 0
    })
    .await;
    assert_ne!(doc.heads(), heads, "the complete first line was kept");
    assert_eq!(get(&doc, "base").as_deref(), Some("line"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_dropped() {
    let options = ServerOptions {
        write_timeout: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    let (server, hub, _dir) = sqlite_server(options).await;
    let doc = hub.open(&id("stall")).unwrap();
    let reader = open_stream(&server, "/stall", &line_with_change("k", "v")).await;
    eventually("the connection to subscribe", || async {
        doc.subscriber_count() == 1
    })
    .await;
    // The client never reads again; keep the server producing big messages
    // until the socket buffers fill and the write times out.
    let big = "z".repeat(64 * 1024);
    for i in 0..1000 {
        if doc.subscriber_count() == 0 {
            break;
        }
        // A new value each time (putting an identical value is no change at all).
        put(&doc, &format!("blob{}", i % 8), &format!("{i}{big}"));
        // Let the connection send each change as its own message.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eventually("the stalled connection to be dropped", || async {
        doc.subscriber_count() == 0
    })
    .await;
    drop(reader);
    server.shutdown().await;
}

#[tokio::test]
async fn follow_false_closes_once_the_body_ends_and_follow_true_keeps_streaming() {
    let (server, hub, _dir) = sqlite_server(ServerOptions::default()).await;
    let line = line_with_change("a", "b");
    let (status, response) = raw(
        &server,
        &request(
            "PUT",
            "/f?follow=false",
            "Content-Type: application/x-ndjson\r\n",
            line.len(),
        ),
        line.as_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(response.contains("{\"event\":\"sync\""));
    let (status, response) = raw(&server, &request("PUT", "/f?follow=maybe", "", 0), b"").await;
    assert_eq!(status, 400, "{response}");
    // Default: the body ends but the response keeps streaming new changes.
    let mut s = TcpStream::connect(server.local_addr().unwrap())
        .await
        .unwrap();
    s.write_all(request("PUT", "/f", "", line.len()).as_bytes())
        .await
        .unwrap();
    s.write_all(line.as_bytes()).await.unwrap();
    let mut reader = BufReader::new(s);
    let mut first = String::new();
    reader.read_line(&mut first).await.unwrap();
    assert!(first.starts_with("HTTP/1.1 200"));
    let doc = hub.open(&id("f")).unwrap();
    eventually("the follower to subscribe", || async {
        doc.subscriber_count() == 1
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    put(&doc, "later", "change");
    // The follower receives a sync line carrying the new change.
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut lines_after = 0;
    while tokio::time::Instant::now() < deadline {
        let mut line = String::new();
        if tokio::time::timeout(Duration::from_millis(500), reader.read_line(&mut line))
            .await
            .is_err()
        {
            break;
        }
        if line.contains("\"event\":\"sync\"") {
            lines_after += 1;
            seen = line;
        }
        if lines_after >= 2 {
            break;
        }
    }
    assert!(
        lines_after >= 2,
        "the response kept streaming after the body ended: {seen}"
    );
    server.shutdown().await;
}
