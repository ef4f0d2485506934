//! The UI-facing API over real sockets: documents, the UI peer's WebSocket,
//! events, and remote servers (with trust on first use), as the web UI and
//! the desktop app use them.
//!
//! Over 500 lines on purpose: one suite for one subject; each test stands alone and shares only `common`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use common::ui_socket::{apply_frame, sync_frame};
use common::*;
use futures_util::{SinkExt, StreamExt};
use tandem::hub::Hub;
use tandem::node::Node;
use tandem::server::ServerOptions;
use tandem::store::{Durability, MemoryStore, SqliteStore, Store};
use tandem::tls::Identity;
use tokio_tungstenite::tungstenite::Message;

async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

/// An HTTP client holding the owner token (as the CLI and the signed-in UI do).
fn http() -> reqwest::Client {
    let tls = tandem::tls::Trust::System
        .client_config(&[b"http/1.1"])
        .unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {OWNER_TOKEN}").parse().unwrap(),
    );
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .default_headers(headers)
        .no_proxy()
        .build()
        .unwrap()
}

/// A WebSocket URL on `server` carrying the owner token (browsers cannot set headers).
fn ws_url(server: &Node, path: &str) -> String {
    format!(
        "ws://{}{path}?access_token={OWNER_TOKEN}",
        server.local_addr().unwrap()
    )
}

#[tokio::test]
async fn documents_are_created_listed_exported_imported_and_deleted() {
    let server = start_server().await;
    let base = server.url();
    let created = http()
        .post(format!("{base}/_docs"))
        .json(&serde_json::json!({"title": "Groceries"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let id = json(created).await["id"].as_str().unwrap().to_owned();

    let listed = json(http().get(format!("{base}/_docs")).send().await.unwrap()).await;
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(listed[0]["title"], "Groceries");

    let doc = json(http().get(format!("{base}/{id}")).send().await.unwrap()).await;
    assert_eq!(
        doc,
        serde_json::json!({"title": "Groceries", "body": ""}),
        "the note template"
    );

    let bytes = http()
        .get(format!("{base}/{id}"))
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let imported = http()
        .post(format!("{base}/_import"))
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), 201);
    let copy = json(imported).await["id"].as_str().unwrap().to_owned();
    assert_ne!(copy, id);
    assert_eq!(
        json(http().get(format!("{base}/{copy}")).send().await.unwrap()).await["title"],
        "Groceries"
    );

    // An empty document (no change at all) is a document too: listed, readable.
    let empty = http()
        .post(format!("{base}/_import"))
        .body(automerge::Automerge::new().save())
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 201);
    let empty = json(empty).await["id"].as_str().unwrap().to_owned();
    let listed = json(http().get(format!("{base}/_docs")).send().await.unwrap()).await;
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["id"] == empty.as_str()),
        "{listed}"
    );
    assert_eq!(
        json(http().get(format!("{base}/{empty}")).send().await.unwrap()).await,
        serde_json::json!({})
    );

    let bad = http()
        .post(format!("{base}/_import"))
        .body("not automerge")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(json(bad).await["error"]
        .as_str()
        .unwrap()
        .contains("not an Automerge document"));

    assert_eq!(
        http()
            .delete(format!("{base}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(
        http()
            .delete(format!("{base}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        http()
            .get(format!("{base}/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        410,
        "a deleted document says so (tombstone)"
    );
    let listed = json(http().get(format!("{base}/_docs")).send().await.unwrap()).await;
    assert_eq!(
        listed.as_array().unwrap().len(),
        2,
        "the copy and the empty one"
    );
    let health = json(http().get(format!("{base}/_health")).send().await.unwrap()).await;
    assert_eq!(health["listen"], base.as_str());
    server.shutdown().await;
}

/// A UI peer on the WebSocket edits the document; an ndjson client sees it,
/// and the other way round.
#[tokio::test]
async fn a_ui_peer_over_the_websocket_syncs_both_ways() {
    let hub = Hub::new(Arc::new(MemoryStore::new()));
    let server = start_server_with(hub.clone(), None, ServerOptions::default()).await;
    let (mut socket, _) = tokio_tungstenite::connect_async(ws_url(&server, "/_ws/notes"))
        .await
        .unwrap();
    let mut ui = automerge::Automerge::new();
    let mut state = automerge::sync::State::new();
    ui.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(automerge::ROOT, "typed", "in the UI").map(drop)
    })
    .unwrap();
    if let Some(frame) = sync_frame(&ui, &mut state) {
        socket.send(frame).await.unwrap();
    }
    let server_doc = hub.open(&id("notes")).unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    // Pump frames until the server has the UI's change and the UI has a server-side one.
    put(&server_doc, "from", "the server");
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("frames keep coming")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = frame {
            apply_frame(&mut ui, &mut state, &text);
            while let Some(reply) = sync_frame(&ui, &mut state) {
                socket.send(reply).await.unwrap();
            }
        }
        let ui_has = ui.get(automerge::ROOT, "from").unwrap().is_some();
        if ui_has && get(&server_doc, "typed").as_deref() == Some("in the UI") {
            break;
        }
    }
    socket.close(None).await.unwrap();
    eventually("the UI peer to detach", || async {
        server_doc.subscriber_count() == 0
    })
    .await;
    server.shutdown().await;
}

#[tokio::test]
async fn events_announce_new_documents_and_remote_states() {
    let server = start_server().await;
    let (mut events, _) = tokio_tungstenite::connect_async(ws_url(&server, "/_events"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    http()
        .post(format!("{}/_docs", server.url()))
        .json(&serde_json::json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    let frame = tokio::time::timeout(WAIT, events.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.into_text().unwrap().as_str(),
        "{\"event\":\"docs-changed\"}"
    );
    server.shutdown().await;
}

async fn tls_server(dir: &std::path::Path) -> (Node, Arc<Hub>) {
    let hub = Hub::new(Arc::new(
        SqliteStore::open_dir(&dir.join("data"), Durability::Process).unwrap(),
    ) as Arc<dyn Store>);
    let identity = Identity::self_signed_in(dir).unwrap();
    (
        start_server_with(hub.clone(), Some(identity), ServerOptions::default()).await,
        hub,
    )
}

/// "Open from server" with "trust this certificate": a local copy stays in
/// live sync, the certificate is pinned, and the connection comes back after
/// a restart of the app side.
#[tokio::test]
async fn open_from_server_stays_live_pins_the_certificate_and_survives_a_restart() {
    let remote_dir = tempfile::tempdir().unwrap();
    let (remote, remote_hub) = tls_server(remote_dir.path()).await;
    let shared = remote_hub.open(&id("plans")).unwrap();
    put(&shared, "title", "Plans");

    let app_dir = tempfile::tempdir().unwrap();
    let open_app = || {
        Hub::new(
            Arc::new(SqliteStore::open_dir(app_dir.path(), Durability::Process).unwrap())
                as Arc<dyn Store>,
        )
    };
    let app = start_server_with(open_app(), None, ServerOptions::default()).await;
    let added = http()
        .post(format!("{}/_remotes", app.url()))
        .json(&serde_json::json!({"url": format!("{}/plans", remote.url()), "trust": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), 201);
    let added = json(added).await;
    assert_eq!(added["doc_id"], "plans");
    let local = app.hub().open(&id("plans")).unwrap();
    wait_for(&local, "the local copy", |d| {
        get(d, "title").as_deref() == Some("Plans")
    })
    .await;
    // Live both ways.
    put(&local, "note", "from the app");
    wait_for(&shared, "the app's edit on the server", |d| {
        get(d, "note").is_some()
    })
    .await;
    let remotes = json(
        http()
            .get(format!("{}/_remotes", app.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        remotes[0]["fingerprint"],
        remote.fingerprint().unwrap().to_string(),
        "pinned on first use"
    );
    eventually("the in-sync badge", || async {
        let r = json(
            http()
                .get(format!("{}/_remotes", app.url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        r[0]["state"] == "live" && r[0]["in_sync"] == true
    })
    .await;
    drop(local);
    app.shutdown().await;

    // The app restarts: the remote resumes by itself.
    let app = start_server_with(open_app(), None, ServerOptions::default()).await;
    put(&shared, "after", "restart");
    let local = app.hub().open(&id("plans")).unwrap();
    wait_for(&local, "a change made while the app was down", |d| {
        get(d, "after").is_some()
    })
    .await;

    // Removing it stops the sync.
    let remote_id = app.service().remotes()[0].id.clone();
    assert_eq!(
        http()
            .delete(format!("{}/_remotes/{remote_id}", app.url()))
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert!(app.service().remotes().is_empty());
    app.shutdown().await;
    remote.shutdown().await;
}

#[tokio::test]
async fn a_pinned_remote_whose_certificate_changes_is_refused_with_the_reason() {
    let remote_dir = tempfile::tempdir().unwrap();
    let (remote, _hub) = tls_server(remote_dir.path()).await;
    let app = start_server().await;
    let wrong = Identity::self_signed_in(tempfile::tempdir().unwrap().path())
        .unwrap()
        .fingerprint();
    http()
        .post(format!("{}/_remotes", app.url()))
        .json(&serde_json::json!({"url": format!("{}/x", remote.url()), "fingerprint": wrong.to_string()}))
        .send()
        .await
        .unwrap();
    eventually("the mismatch to be reported", || async {
        let r = json(
            http()
                .get(format!("{}/_remotes", app.url()))
                .send()
                .await
                .unwrap(),
        )
        .await;
        // Stopped (retrying cannot help), with the reason and the fix's data.
        r[0]["state"] == "error"
            && r[0]["retry_in_ms"].is_null()
            && r[0]["problem"]["kind"] == "certificate"
            && r[0]["problem"]["presented"].is_string()
            && r[0]["error"]
                .as_str()
                .unwrap_or("")
                .contains("fingerprint mismatch")
    })
    .await;
    app.shutdown().await;
    remote.shutdown().await;
}

#[tokio::test]
async fn only_the_owner_manages_remotes() {
    use tower::ServiceExt;
    let service = tandem::service::Service::start(Hub::new(Arc::new(MemoryStore::new())));
    let router = tandem::server::app(
        tandem::server::AppState::new(
            service.hub().clone(),
            service.shares().clone(),
            "http://x".into(),
            ServerOptions {
                owner_token: Some(OWNER_TOKEN.into()),
                ..ServerOptions::default()
            },
        ),
        Some(tandem::service::http::routes(service.clone(), 1 << 20)),
    );
    // Being on this machine grants nothing: only the owner token does.
    for (remote, token, expected) in [
        ("192.168.1.20:5000", None, 403),
        ("127.0.0.1:5000", None, 403),
        ("127.0.0.1:5000", Some(OWNER_TOKEN), 200),
    ] {
        let mut request = axum::http::Request::get("/_remotes").header("host", "127.0.0.1:7450");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let mut request = request.body(axum::body::Body::empty()).unwrap();
        request
            .extensions_mut()
            .insert(tandem::server::listener::ConnectionInfo {
                remote: remote.parse().unwrap(),
                tls: false,
            });
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), expected, "from {remote}");
    }
}

#[tokio::test]
async fn bad_remote_specs_are_refused() {
    let app = start_server().await;
    let bad = http()
        .post(format!("{}/_remotes", app.url()))
        .json(&serde_json::json!({"url": "ftp://x/y"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    let bad = http()
        .post(format!("{}/_remotes", app.url()))
        .json(&serde_json::json!({"url": "http://h/"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(json(bad).await["error"]
        .as_str()
        .unwrap()
        .contains("does not end in a document id"));
    assert_eq!(
        http()
            .delete(format!("{}/_remotes/nope", app.url()))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    app.shutdown().await;
}

#[tokio::test]
async fn health_shows_the_data_folder_to_the_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_server_with_options(ServerOptions {
        data_dir: Some(dir.path().to_owned()),
        ..ServerOptions::default()
    })
    .await;
    let owner = json(
        http()
            .get(format!("{}/_health", server.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(owner["data_dir"], dir.path().display().to_string().as_str());
    let no_token = reqwest::Client::builder()
        .tls_backend_preconfigured(
            tandem::tls::Trust::System
                .client_config(&[b"http/1.1"])
                .unwrap(),
        )
        .build()
        .unwrap();
    let anonymous = json(
        no_token
            .get(format!("{}/_health", server.url()))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(anonymous.get("data_dir").is_none(), "{anonymous}");
    assert_eq!(anonymous["ok"], true);
    server.shutdown().await;
}
