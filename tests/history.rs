//! History over real servers and the real binary: the timeline, a past
//! version (`GET /{doc}?at=`), diffs, restore and its undo, a conflict made
//! by three servers editing concurrently and resolved over HTTP, and
//! `tandem log`/`cat --at`/`diff`, each with its bad-input errors.

mod common;
use common::run_tandem as tandem;

use automerge::transaction::Transactable;
use automerge::ObjType;
use common::*;
use serde_json::{json, Value};
use tandem::node::Node;
use tandem::protocol::Until;

fn builder() -> reqwest::ClientBuilder {
    let tls = tandem::tls::Trust::System
        .client_config(&[b"http/1.1"])
        .unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .no_proxy()
}

/// A client holding the owner token.
fn http() -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {OWNER_TOKEN}").parse().unwrap(),
    );
    builder().default_headers(headers).build().unwrap()
}

async fn get(server: &Node, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}{path}", server.url()))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn post(server: &Node, path: &str, body: Value) -> (u16, Value) {
    let r = http()
        .post(format!("{}{path}", server.url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// A note edited in three bursts on `server`; returns the heads after each.
fn three_versions(server: &Node, doc_id: &str) -> Vec<String> {
    let doc = server.hub().open(&id(doc_id)).unwrap();
    let mut versions = Vec::new();
    doc.change(|tx| {
        tx.put(automerge::ROOT, "title", "Plans")?;
        let body = tx.put_object(automerge::ROOT, "body", ObjType::Text)?;
        tx.splice_text(&body, 0, 0, "hello")
    })
    .unwrap();
    versions.push(tandem::history::format_heads(&doc.heads()));
    doc.change(|tx| {
        let (_, body) = automerge::ReadDoc::get(tx, automerge::ROOT, "body")?.unwrap();
        tx.splice_text(&body, 5, 0, " world")?;
        tx.put(automerge::ROOT, "title", "Later")
    })
    .unwrap();
    versions.push(tandem::history::format_heads(&doc.heads()));
    versions
}

#[tokio::test]
async fn timeline_version_diff_restore_and_undo_over_http() {
    let server = start_server().await;
    let v = three_versions(&server, "plans");

    let (status, timeline) = get(&server, "/_docs/plans/history").await;
    assert_eq!(status, 200, "{timeline}");
    assert_eq!(timeline["changes"], 2);
    let bursts = timeline["bursts"].as_array().unwrap();
    assert_eq!(bursts.len(), 1, "one author, close in time: {timeline}");
    assert_eq!(bursts[0]["heads_after"], json!([v[1]]));
    assert_eq!(bursts[0]["paths"], json!(["/body", "/title"]));

    let (status, old) = get(&server, &format!("/plans?at={}", v[0])).await;
    assert_eq!(status, 200);
    assert_eq!(old, json!({"title": "Plans", "body": "hello"}));

    let (status, diff) = get(&server, &format!("/_docs/plans/diff?from={}", v[0])).await;
    assert_eq!(status, 200);
    let actions: Vec<&str> = diff
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"splice") && actions.contains(&"put"),
        "{diff}"
    );

    let (status, edit) = post(&server, "/_docs/plans/restore", json!({"heads": v[0]})).await;
    assert_eq!(status, 200, "{edit}");
    assert_eq!(edit["before"], json!([v[1]]));
    let (_, now) = get(&server, "/plans").await;
    assert_eq!(now, json!({"title": "Plans", "body": "hello"}));
    let (_, timeline) = get(&server, "/_docs/plans/history").await;
    assert_eq!(timeline["changes"], 3, "the restore is one new change");

    // Undo the restore: restore the heads before it.
    let before = edit["before"].as_array().unwrap()[0]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _) = post(&server, "/_docs/plans/restore", json!({"heads": before})).await;
    assert_eq!(status, 200);
    let (_, now) = get(&server, "/plans").await;
    assert_eq!(now, json!({"title": "Later", "body": "hello world"}));

    // One field only.
    let (status, _) = post(
        &server,
        "/_docs/plans/restore",
        json!({"heads": v[0], "path": ["title"]}),
    )
    .await;
    assert_eq!(status, 200);
    let (_, now) = get(&server, "/plans").await;
    assert_eq!(now, json!({"title": "Plans", "body": "hello world"}));
    server.shutdown().await;
}

#[tokio::test]
async fn bad_history_requests_get_clear_errors_and_change_nothing() {
    let server = start_server().await;
    let v = three_versions(&server, "plans");
    let heads_before = server.hub().open(&id("plans")).unwrap().heads();
    let unknown = "ab".repeat(32);
    for (path, want, says) in [
        ("/plans?at=nothex".to_owned(), 400, "bad heads"),
        (
            format!("/plans?at={unknown}"),
            404,
            "is not in this document",
        ),
        ("/_docs/plans/diff?from=x".to_owned(), 400, "bad heads"),
        ("/_docs/nope/history".to_owned(), 404, "no document nope"),
        ("/_docs/bad%20id/history".to_owned(), 400, "document"),
    ] {
        let (status, body) = get(&server, &path).await;
        assert_eq!(status, want, "{path}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{path}: {error}");
    }
    for (body, want, says) in [
        (json!({"heads": "zz"}), 400, "bad heads"),
        (json!({"heads": unknown}), 404, "is not in this document"),
        (
            json!({"heads": v[0], "path": ["never"]}),
            404,
            "no value at /never",
        ),
        (json!({"heads": v[0], "path": [true]}), 400, "bad path"),
        (json!({"path": []}), 400, "heads"),
    ] {
        let (status, answer) = post(&server, "/_docs/plans/restore", body.clone()).await;
        assert_eq!(status, want, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_default();
        assert!(error.contains(says), "{body}: {error}");
    }
    let (status, answer) = post(
        &server,
        "/_docs/plans/resolve",
        json!({"path": ["title"], "choice": "1@ab"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"], "/title holds no conflict (any more)");
    let heads_after = server.hub().open(&id("plans")).unwrap().heads();
    assert_eq!(heads_before, heads_after, "nothing was written");
    server.shutdown().await;
}

#[tokio::test]
async fn a_conflict_made_by_three_servers_is_listed_and_resolved() {
    let servers = [
        start_server().await,
        start_server().await,
        start_server().await,
    ];
    // Everyone starts from the same note, synced through the first server.
    let first = servers[0].hub().open(&id("shared")).unwrap();
    put(&first, "title", "Draft");
    let docs: Vec<_> = servers
        .iter()
        .map(|s| s.hub().open(&id("shared")).unwrap())
        .collect();
    let to_first = || client(doc_url(&servers[0].url(), "shared"), Default::default());
    for doc in &docs[1..] {
        to_first()
            .sync_once(doc, Until::HeadsEqual, WAIT)
            .await
            .unwrap();
    }
    // Concurrently, each server's user retitles it.
    for (doc, title) in docs.iter().zip(["Ada's", "Bob's", "Cy's"]) {
        put(doc, "title", title);
    }
    for doc in &docs[1..] {
        to_first()
            .sync_once(doc, Until::HeadsEqual, WAIT)
            .await
            .unwrap();
    }
    let (status, conflicts) = get(&servers[0], "/_docs/shared/conflicts").await;
    assert_eq!(status, 200);
    let list = conflicts.as_array().unwrap();
    assert_eq!(list.len(), 1, "{conflicts}");
    assert_eq!(list[0]["path"], json!(["title"]));
    let values = list[0]["values"].as_array().unwrap();
    let mut titles: Vec<&str> = values
        .iter()
        .map(|v| v["value"].as_str().unwrap())
        .collect();
    titles.sort();
    assert_eq!(titles, ["Ada's", "Bob's", "Cy's"]);
    let authors: std::collections::HashSet<&str> = values
        .iter()
        .map(|v| v["author"].as_str().unwrap())
        .collect();
    assert_eq!(authors.len(), 3, "three authors: {conflicts}");
    let winner = values[0]["value"].as_str().unwrap();
    let (_, now) = get(&servers[0], "/shared").await;
    assert_eq!(now["title"], winner, "the winner is listed first");

    // Keep one that is not the winner; the others see it alone after a sync.
    let chosen = values.iter().find(|v| v["winner"] == false).unwrap();
    let (status, _) = post(
        &servers[0],
        "/_docs/shared/resolve",
        json!({"path": ["title"], "choice": chosen["id"]}),
    )
    .await;
    assert_eq!(status, 200);
    for (server, doc) in servers.iter().zip(&docs).skip(1) {
        to_first()
            .sync_once(doc, Until::HeadsEqual, WAIT)
            .await
            .unwrap();
        let (_, conflicts) = get(server, "/_docs/shared/conflicts").await;
        assert_eq!(conflicts, json!([]));
        let (_, now) = get(server, "/shared").await;
        assert_eq!(now["title"], chosen["value"]);
    }
    for server in servers {
        server.shutdown().await;
    }
}

// The CLI runs as a child process while this runtime serves it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_logs_cats_and_diffs_files_and_urls() {
    let server = start_server().await;
    let v = three_versions(&server, "plans");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plans.automerge");
    std::fs::write(&file, server.hub().open(&id("plans")).unwrap().save()).unwrap();
    let file = file.to_str().unwrap();
    let url = format!("{}/plans", server.url());

    for source in [file, url.as_str()] {
        let (ok, out, err) = tandem(&["log", "--json", source]);
        assert!(ok, "{err}");
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["hash"], v[0].as_str());
        assert_eq!(lines[1]["deps"], json!([v[0]]));
        assert!(
            lines[0]["time"].as_i64().unwrap() > 1_600_000_000,
            "stamped: {out}"
        );
        assert_eq!(lines[0]["actor"].as_str().unwrap().len(), 32);

        let (ok, out, err) = tandem(&["log", source]);
        assert!(ok, "{err}");
        assert!(
            out.contains("2 changes") && out.contains("/body /title"),
            "{out}"
        );
        assert!(out.contains(&format!("at {}", v[1])), "{out}");

        let (ok, out, err) = tandem(&["cat", source, "--at", &v[0]]);
        assert!(ok, "{err}");
        let old: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(old, json!({"title": "Plans", "body": "hello"}));
    }

    let (ok, out, err) = tandem(&["diff", file, "--from", &v[0], "--to", &v[1]]);
    assert!(ok, "{err}");
    assert!(
        out.lines()
            .any(|l| l.contains(r#""action":"splice""#) && l.contains("world")),
        "{out}"
    );
    let (ok, out, _) = tandem(&["diff", file, "--from", "", "--to", &v[0]]);
    assert!(ok && out.contains("hello"), "{out}");

    let (ok, _, err) = tandem(&["cat", file, "--at", "nothex"]);
    assert!(!ok);
    assert!(
        err.contains("bad heads") && err.lines().count() == 1,
        "{err}"
    );
    let (ok, _, err) = tandem(&["diff", file, "--from", &"ab".repeat(32)]);
    assert!(!ok);
    assert!(err.contains("is not in this document"), "{err}");
    let (ok, _, err) = tandem(&["log", "/nonexistent/x.automerge"]);
    assert!(!ok && err.contains("cannot read"), "{err}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_read_token_reads_the_history_but_may_not_restore() {
    use tandem::server::tokens::{Role, TokenGrant};
    let server = start_server_with(
        tandem::hub::Hub::new(std::sync::Arc::new(tandem::store::MemoryStore::new())),
        None,
        tandem::server::ServerOptions {
            tokens: vec![TokenGrant::new(
                "reader",
                Role::Read,
                "reader-secret-0123456789",
            )],
            ..Default::default()
        },
    )
    .await;
    let v = three_versions(&server, "plans");
    server
        .service()
        .set_share_policy(&id("plans"), tandem::share::SharePolicy::Lan)
        .unwrap();
    let reader = |method: reqwest::Method, path: &str| {
        builder()
            .build()
            .unwrap()
            .request(method, format!("{}{path}", server.url()))
            .bearer_auth("reader-secret-0123456789")
    };
    let r = reader(reqwest::Method::GET, "/_docs/plans/history")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reader(reqwest::Method::GET, &format!("/plans?at={}", v[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = reader(reqwest::Method::POST, "/_docs/plans/restore")
        .json(&json!({"heads": v[0]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let error: Value = r.json().await.unwrap();
    assert_eq!(error["error"], "this token may only read this document");
    // Anyone without a token sees nothing.
    let r = builder()
        .build()
        .unwrap()
        .get(format!("{}/_docs/plans/history", server.url()))
        .send()
        .await
        .unwrap();
    assert!(r.status() == 401 || r.status() == 404, "{}", r.status());
    server.shutdown().await;
}

#[tokio::test]
async fn a_long_history_is_read_off_the_runtime_by_the_service() {
    // The desktop app's commands and the HTTP API read histories through
    // `Service::off_runtime`: on this one-thread runtime, another task must
    // run while a long timeline is built.
    let server = start_server().await;
    let id = server.service().create_doc("Long").unwrap();
    let doc = server.hub().open(&id).unwrap();
    for i in 0..2_000 {
        doc.change(|tx| tx.put(automerge::ROOT, "n", i as i64))
            .unwrap();
    }
    let (timeline, during) =
        tandem::testing::others_ran_during(server.service().off_runtime(move |s| s.history(&id)))
            .await;
    let timeline = timeline.unwrap();
    assert!(timeline.changes > 2_000, "{} changes", timeline.changes);
    assert!(
        during > 0,
        "the runtime ran nothing else while the history was read"
    );
    server.shutdown().await;
}
