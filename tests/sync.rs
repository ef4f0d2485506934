//! End-to-end syncs over real sockets: every transport, broadcast, several
//! servers, termination checks, redirects, reconnects and persistence.
//!
//! Over 500 lines on purpose: one suite for one subject; each test stands alone and shares only `common`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use common::*;
use tandem::client::{ClientError, ConnectionStatus, HttpVersion};
use tandem::hub::Hub;
use tandem::protocol::Until;
use tandem::server::ServerOptions;
use tandem::store::{Durability, MemoryStore, SqliteStore, Store};
use tandem::tls::{Identity, Trust};

async fn two_sided_sync(
    base: &str,
    http: HttpVersion,
    trust: Trust,
    server_hub: &Arc<Hub>,
    name: &str,
) {
    let server_doc = server_hub.open(&id(name)).unwrap();
    put(&server_doc, "from_server", name);
    let (_hub, local) = local_doc(name);
    put(&local, "from_client", name);
    let client = client_with(doc_url(base, name), |c| {
        c.http = http;
        c.trust = trust;
    });
    let report = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert!(report.changed);
    assert_eq!(get(&local, "from_server").as_deref(), Some(name));
    assert_eq!(get(&server_doc, "from_client").as_deref(), Some(name));
    assert_eq!(local.heads(), server_doc.heads());
}

#[tokio::test]
async fn syncs_over_http1_h2c_and_tls_h2_and_h1() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), Some(identity), ServerOptions::default()).await;
    let (tls, plain) = (server.url(), server.plain_url().unwrap());
    assert!(tls.starts_with("https://"));
    two_sided_sync(&plain, HttpVersion::Http1, Trust::System, &hub, "plain-h1").await;
    two_sided_sync(&plain, HttpVersion::Http2, Trust::System, &hub, "h2c").await;
    two_sided_sync(&tls, HttpVersion::Auto, pinned(&server), &hub, "tls-alpn").await;
    two_sided_sync(&tls, HttpVersion::Http2, pinned(&server), &hub, "tls-h2").await;
    two_sided_sync(&tls, HttpVersion::Http1, pinned(&server), &hub, "tls-h1").await;
    two_sided_sync(
        &tls,
        HttpVersion::Http1,
        Trust::Insecure,
        &hub,
        "tls-insecure",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_changed_certificate_is_refused_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let identity = Identity::self_signed_in(dir.path()).unwrap();
    let server_fp = identity.fingerprint().to_string();
    let server = start_server_with(
        Hub::new(Arc::new(MemoryStore::new())),
        Some(identity),
        ServerOptions::default(),
    )
    .await;
    let other = tempfile::tempdir().unwrap();
    let wrong = Identity::self_signed_in(other.path())
        .unwrap()
        .fingerprint();
    let (_h, local) = local_doc("pinned");
    let client = client_with(doc_url(&server.url(), "pinned"), |c| {
        c.trust = Trust::Pinned(wrong)
    });
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("fingerprint mismatch"), "{err}");
    assert!(
        matches!(&err, ClientError::Certificate { presented: Some(fp), .. } if *fp == server_fp),
        "{err:?}"
    );
    // Without any trust setting, a self-signed certificate is refused too,
    // saying which certificate it was.
    let client = client_with(doc_url(&server.url(), "pinned"), |_| {});
    let err = client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ClientError::Certificate { presented: Some(fp), .. } if *fp == server_fp),
        "{err:?}"
    );
    assert!(err.is_permanent());
    server.shutdown().await;
}

#[tokio::test]
async fn a_custom_ca_is_trusted() {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key, ca) = (
        dir.path().join("c.pem"),
        dir.path().join("k.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    std::fs::write(&ca, ca_cert.pem()).unwrap();
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(
        hub.clone(),
        Some(Identity::from_pem_files(&cert, &key).unwrap()),
        ServerOptions::default(),
    )
    .await;
    let base = format!("https://localhost:{}", server.local_addr().unwrap().port());
    two_sided_sync(
        &base,
        HttpVersion::Auto,
        Trust::custom_ca_file(&ca).unwrap(),
        &hub,
        "ca",
    )
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn bearer_tokens_gate_syncing() {
    let options = ServerOptions {
        tokens: vec!["s3cret".into()],
        ..ServerOptions::default()
    };
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, options).await;
    let (_h, local) = local_doc("gated");
    let anonymous = client(doc_url(&server.url(), "gated"), HttpVersion::Http1);
    match anonymous.sync_once(&local, Until::HeadsEqual, WAIT).await {
        Err(e @ ClientError::Status { status: 401, .. }) => assert!(e.is_permanent()),
        other => panic!("expected 401, got {other:?}"),
    }
    let wrong = client_with(doc_url(&server.url(), "gated"), |c| {
        c.token = Some("nope".into())
    });
    assert!(matches!(
        wrong.sync_once(&local, Until::HeadsEqual, WAIT).await,
        Err(ClientError::Status { status: 401, .. })
    ));
    two_sided_sync_with_token(&server.url(), &hub).await;
    server.shutdown().await;
}

async fn two_sided_sync_with_token(base: &str, hub: &Arc<Hub>) {
    let (_h, local) = local_doc("gated");
    put(&local, "k", "v");
    let ok = client_with(doc_url(base, "gated"), |c| c.token = Some("s3cret".into()));
    ok.sync_once(&local, Until::HeadsEqual, WAIT).await.unwrap();
    assert_eq!(
        get(&hub.open(&id("gated")).unwrap(), "k").as_deref(),
        Some("v")
    );
}

async fn clients_converge(n: usize, http: HttpVersion) {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, ServerOptions::default()).await;
    let mut docs = vec![];
    let mut lives = vec![];
    for _ in 0..n {
        let (_h, doc) = local_doc("shared");
        lives.push(go_live(
            &client(doc_url(&server.url(), "shared"), http),
            &doc,
        ));
        docs.push(doc);
    }
    // Every client writes its own key, concurrently.
    for (i, doc) in docs.iter().enumerate() {
        put(doc, &format!("client{i}"), &format!("hello from {i}"));
    }
    docs.push(hub.open(&id("shared")).unwrap());
    wait_converged(&docs).await;
    for doc in &docs {
        for i in 0..n {
            assert_eq!(
                get(doc, &format!("client{i}")),
                Some(format!("hello from {i}"))
            );
        }
    }
    // And a later change from one client reaches all others live.
    put(&docs[0], "late", "news");
    for doc in &docs {
        wait_for(doc, "the late change", |d| {
            get(d, "late").as_deref() == Some("news")
        })
        .await;
    }
    for live in &lives {
        let status = live.status.borrow().clone();
        assert!(
            matches!(status, ConnectionStatus::Live { .. }),
            "{status:?}"
        );
    }
    for live in lives {
        live.stop().await;
    }
    server.shutdown().await;
}

#[tokio::test]
async fn two_clients_converge_live_over_http1() {
    clients_converge(2, HttpVersion::Http1).await;
}

#[tokio::test]
async fn ten_clients_converge_live_over_h2c() {
    clients_converge(10, HttpVersion::Http2).await;
}

#[tokio::test]
async fn one_doc_synced_with_two_servers_relays_between_them() {
    let (hub_a, hub_b) = (
        Hub::new(Arc::new(MemoryStore::new())),
        Hub::new(Arc::new(MemoryStore::new())),
    );
    let a = start_server_with(hub_a.clone(), None, ServerOptions::default()).await;
    let b = start_server_with(hub_b.clone(), None, ServerOptions::default()).await;
    let (_h, bridge) = local_doc("relay");
    let to_a = go_live(
        &client(doc_url(&a.url(), "relay"), HttpVersion::Http2),
        &bridge,
    );
    let to_b = go_live(
        &client(doc_url(&b.url(), "relay"), HttpVersion::Http1),
        &bridge,
    );
    // A change made by a client of server A ...
    let (_h, alice) = local_doc("relay");
    put(&alice, "from", "alice");
    client(doc_url(&a.url(), "relay"), HttpVersion::Http1)
        .sync_once(&alice, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    // ... reaches server B through the doc that syncs with both.
    let on_b = hub_b.open(&id("relay")).unwrap();
    wait_for(&on_b, "alice's change on server B", |d| {
        get(d, "from").as_deref() == Some("alice")
    })
    .await;
    // And the other way round.
    let on_a = hub_a.open(&id("relay")).unwrap();
    put(&on_b, "reply", "bob");
    wait_for(&on_a, "bob's reply on server A", |d| {
        get(d, "reply").as_deref() == Some("bob")
    })
    .await;
    to_a.stop().await;
    to_b.stop().await;
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn termination_checks_with_concurrent_changes_on_both_sides() {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, ServerOptions::default()).await;
    let server_doc = hub.open(&id("both")).unwrap();
    for round in 0..5 {
        put(&server_doc, &format!("s{round}"), "server");
        let (_h, local) = local_doc("both");
        local.load_bytes(&server_doc.save()).unwrap();
        put(&local, &format!("c{round}"), "client");
        put(&server_doc, &format!("s{round}b"), "server again");
        let until = if round % 2 == 0 {
            Until::HeadsEqual
        } else {
            Until::HasRemoteHeads
        };
        let http = if round % 2 == 0 {
            HttpVersion::Http1
        } else {
            HttpVersion::Http2
        };
        client(doc_url(&server.url(), "both"), http)
            .sync_once(&local, until, WAIT)
            .await
            .unwrap();
        // Neither check may end the sync before the server has our change
        // (has-remote-heads must not lose the push) ...
        assert_eq!(
            get(&server_doc, &format!("c{round}")).as_deref(),
            Some("client"),
            "{until}"
        );
        // ... and both pull what the server had.
        assert_eq!(
            get(&local, &format!("s{round}b")).as_deref(),
            Some("server again"),
            "{until}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn has_remote_heads_on_an_empty_client_pulls_the_document() {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, ServerOptions::default()).await;
    let server_doc = hub.open(&id("pull")).unwrap();
    for i in 0..100 {
        put(&server_doc, &format!("k{i}"), "v");
    }
    let (_h, local) = local_doc("pull");
    client(doc_url(&server.url(), "pull"), HttpVersion::Http1)
        .sync_once(&local, Until::HasRemoteHeads, WAIT)
        .await
        .unwrap();
    assert_eq!(local.heads(), server_doc.heads());
    server.shutdown().await;
}

#[tokio::test]
async fn a_silent_server_times_out_with_a_clear_error() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    let (_h, local) = local_doc("silent");
    let err = client(
        doc_url(&format!("http://{addr}"), "silent"),
        HttpVersion::Http1,
    )
    .sync_once(&local, Until::HeadsEqual, Duration::from_millis(500))
    .await
    .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("timed out after 500ms waiting for heads-equal"),
        "{err}"
    );
    hold.abort();
}

/// A tiny server that answers every request with a redirect chosen by `route`.
async fn redirector(route: fn(&str) -> (StatusCode, String)) -> String {
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| async move {
        let (status, location) = route(uri.path());
        (status, [(header::LOCATION, location)]).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[tokio::test]
async fn redirects_are_followed_with_the_body_replayed() {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, ServerOptions::default()).await;
    // 307 with an absolute Location to the real server.
    let target = server.url();
    static TARGET: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    TARGET.set(target).unwrap();
    let front = redirector(|path| {
        (
            StatusCode::TEMPORARY_REDIRECT,
            format!("{}{path}", TARGET.get().unwrap()),
        )
    })
    .await;
    let (_h, local) = local_doc("moved");
    put(&local, "pushed", "through a redirect");
    let report = client(doc_url(&front, "moved"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert!(report.url.as_str().starts_with(TARGET.get().unwrap()));
    let on_server = hub.open(&id("moved")).unwrap();
    assert_eq!(
        get(&on_server, "pushed").as_deref(),
        Some("through a redirect")
    );
    // 308 with a relative Location, on the same redirector host, then on.
    let relative = redirector(|path| {
        if path.starts_with("/old/") {
            (
                StatusCode::PERMANENT_REDIRECT,
                path.replacen("/old/", "/new/", 1),
            )
        } else {
            (
                StatusCode::TEMPORARY_REDIRECT,
                format!(
                    "{}/{}",
                    TARGET.get().unwrap(),
                    path.trim_start_matches("/new/")
                ),
            )
        }
    })
    .await;
    let (_h, fresh) = local_doc("moved");
    client(
        doc_url(&format!("{relative}/old"), "moved"),
        HttpVersion::Http2,
    )
    .sync_once(&fresh, Until::HasRemoteHeads, WAIT)
    .await
    .unwrap();
    assert_eq!(get(&fresh, "pushed").as_deref(), Some("through a redirect"));
    server.shutdown().await;
}

#[tokio::test]
async fn redirect_loops_long_chains_and_method_changing_codes_are_errors() {
    let looping = redirector(|path| {
        let to = if path.ends_with("/a") { "/b" } else { "/a" };
        (StatusCode::TEMPORARY_REDIRECT, to.to_owned())
    })
    .await;
    let (_h, local) = local_doc("a");
    let err = client(doc_url(&looping, "a"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("redirect loop"), "{err}");

    let chain = redirector(|path| {
        let n: u32 = path.trim_start_matches("/d").parse().unwrap_or(0);
        (StatusCode::TEMPORARY_REDIRECT, format!("/d{}", n + 1))
    })
    .await;
    let err = client(doc_url(&chain, "d0"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("more than 10 redirects"), "{err}");

    let moved = redirector(|_| (StatusCode::MOVED_PERMANENTLY, "/elsewhere".into())).await;
    let err = client(doc_url(&moved, "x"), HttpVersion::Http1)
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("301 Moved Permanently would turn the PUT into a GET"),
        "{err}"
    );
    assert!(err.is_permanent());
}

#[tokio::test]
async fn live_sync_reconnects_after_a_server_restart_and_documents_persist() {
    let dir = tempfile::tempdir().unwrap();
    let open_hub = || {
        Hub::new(
            Arc::new(SqliteStore::open_dir(dir.path(), Durability::Process).unwrap())
                as Arc<dyn Store>,
        )
    };
    let server = start_server_with(open_hub(), None, ServerOptions::default()).await;
    let addr = server.local_addr().unwrap();
    let (_h, local) = local_doc("durable");
    let local_store = _h.store().clone();
    let live = go_live_with_store(
        &client(doc_url(&server.url(), "durable"), HttpVersion::Http1),
        &local,
        Some(local_store),
    );
    put(&local, "before", "restart");
    let on_server = server.hub().open(&id("durable")).unwrap();
    wait_for(&on_server, "the first change", |d| {
        get(d, "before").is_some()
    })
    .await;
    drop(on_server);
    server.shutdown().await;

    let mut status = live.status.clone();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| matches!(s, ConnectionStatus::Reconnecting { .. })),
    )
    .await
    .expect("the client notices the server went away")
    .unwrap();
    // Edited while the server is down: kept locally, pushed on reconnect.
    put(&local, "during", "outage");

    let server = start_server_at(addr, open_hub(), None, ServerOptions::default()).await;
    let on_server = server.hub().open(&id("durable")).unwrap();
    assert_eq!(
        get(&on_server, "before").as_deref(),
        Some("restart"),
        "persisted across the restart"
    );
    wait_for(&on_server, "the change made during the outage", |d| {
        get(d, "during").as_deref() == Some("outage")
    })
    .await;
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| *s == ConnectionStatus::Live { in_sync: true }),
    )
    .await
    .expect("back in sync")
    .unwrap();
    live.stop().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_sync_counts_what_it_moves_for_a_progress_display() {
    let server = start_server();
    let server = server.await;
    let theirs = server.hub().open(&id("big")).unwrap();
    // Not compressible: the change carries about as many bytes as the text.
    let noise: String = (0..200_000u32)
        .map(|i| char::from(b'a' + (i.wrapping_mul(2_654_435_761) >> 27) as u8 % 26))
        .collect();
    put(&theirs, "body", &noise);
    let (_h, local) = local_doc("big");
    put(&local, "mine", "1");
    let progress = Arc::new(tandem::client::SyncProgress::default());
    let client = client_with(doc_url(&server.url(), "big"), |c| {
        c.progress = Some(progress.clone())
    });
    client
        .sync_once(&local, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    // At least the server's document came in (its changes are in the messages).
    let theirs_bytes = theirs.save().len() as u64;
    assert!(
        progress.bytes_in() >= theirs_bytes,
        "{progress:?}, document {theirs_bytes} B"
    );
    assert!(
        progress.messages_in() >= 1 && progress.bytes_out() > 0,
        "{progress:?}"
    );
    server.shutdown().await;
}

/// A server whose store holds `long`, a 100,000-character text not loaded yet.
async fn server_with_a_long_document_on_disk(long: &tandem::DocId) -> tandem::node::Node {
    use automerge::transaction::Transactable as _;
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    {
        let doc = hub.open(long).unwrap();
        doc.change(|tx| {
            let text = tx.put_object(automerge::ROOT, "text", automerge::ObjType::Text)?;
            tx.splice_text(&text, 0, 0, &"a".repeat(100_000))
        })
        .unwrap();
    } // no longer open: the next request loads it from the store
    assert!(hub.get_open(long).is_none());
    start_server_with(hub, None, ServerOptions::default()).await
}

/// Sends `first` (which loads the long document), and 20 ms later a listing;
/// the order in which the first's answer began and the listing ended.
async fn answering_order(
    server: &tandem::node::Node,
    first: String,
    body: Vec<u8>,
) -> Vec<(&'static str, u16)> {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let auth = format!("Authorization: Bearer {OWNER_TOKEN}\r\n");
    let answered = std::sync::Mutex::new(Vec::new());
    let load = async {
        let mut s = tokio::net::TcpStream::connect(server.local_addr().unwrap())
            .await
            .unwrap();
        s.write_all(first.as_bytes()).await.unwrap();
        s.write_all(&body).await.unwrap();
        let mut head = [0u8; 64];
        let n = tokio::time::timeout(WAIT, s.read(&mut head))
            .await
            .expect("an answer")
            .unwrap();
        let status = String::from_utf8_lossy(&head[..n])
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        answered.lock().unwrap().push(("load", status));
    };
    let list = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (status, _) = raw(server, &request("GET", "/_docs", &auth, 0), b"").await;
        answered.lock().unwrap().push(("list", status));
    };
    tokio::join!(load, list);
    answered.into_inner().unwrap()
}

#[tokio::test]
async fn loading_a_long_document_does_not_hold_up_other_requests() {
    // The test's runtime has one thread, as if every worker were busy: a
    // load done in place would hold up everything until it ended.
    let long = id("long-history");
    let auth = format!("Authorization: Bearer {OWNER_TOKEN}\r\n");
    // Reading it as JSON …
    let server = server_with_a_long_document_on_disk(&long).await;
    let read = request("GET", &format!("/{long}"), &auth, 0);
    assert_eq!(
        answering_order(&server, read, Vec::new()).await,
        [("list", 200), ("load", 200)],
        "the listing waited for the long document to load for GET"
    );
    server.shutdown().await;
    // … or a peer starting to sync it.
    let server = server_with_a_long_document_on_disk(&long).await;
    let line = line_with_change("peer", "was here");
    let sync = request(
        "PUT",
        &format!("/{long}?follow=false"),
        &format!("{auth}Content-Type: application/x-ndjson\r\n"),
        line.len(),
    );
    assert_eq!(
        answering_order(&server, sync, line.into_bytes()).await,
        [("list", 200), ("load", 200)],
        "the listing waited for the long document to load for a sync"
    );
    server.shutdown().await;
}
