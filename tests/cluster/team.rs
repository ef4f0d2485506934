//! A team on a cluster: tokens kept in the shared database (`tandem token`),
//! honoured and revoked on every node; a token client redirected to another
//! node keeps its token there; owner operations (`tandem delete`) through
//! any node; the browser UI's socket through a node that does not serve the
//! document.

use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::ReadDoc;
use futures_util::{SinkExt, StreamExt};
use tandem::client::{ClientConfig, ClientError, ConnectionStatus, SyncClient};
use tandem::cluster::rendezvous::Node;
use tandem::protocol::Until;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::common::postgres::{free_port, TempPostgres};
use crate::common::ui_socket::{apply_frame, sync_frame};
use crate::common::{doc_url, get, local_doc, put, WAIT};
use crate::nodes::{http, wait_live_count, Served};
use crate::writer::spread;

/// Runs the `tandem` CLI; (success, stdout, stderr).
async fn cli(args: &[&str]) -> (bool, String, String) {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        crate::common::run_tandem(&args)
    })
    .await
    .unwrap()
}

/// Adds a team token with `role` through the CLI; returns its secret.
pub(crate) async fn add_token(db: &str, name: &str, role: &str) -> String {
    let (ok, out, err) = cli(&["token", "add", name, "--role", role, "--store", db]).await;
    assert!(ok, "token add: {err}");
    let secret = out.trim().to_owned();
    assert_eq!(secret.len(), 64, "{out}");
    secret
}

/// `GET /_docs` on `node` with `token`: the status.
pub(crate) async fn docs_status(node: &Served, token: Option<&str>) -> u16 {
    let mut request = http().get(format!("{}/_docs", node.url()));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().status().as_u16()
}

/// Two nodes on a fresh database, and their live list.
async fn two_nodes(pg: &TempPostgres, db: &str) -> (tempfile::TempDir, Vec<Served>, Vec<Node>) {
    let url = pg.create_database(db);
    let root = tempfile::tempdir().unwrap();
    let nodes: Vec<Served> = (0..2)
        .map(|n| Served::start(&root.path().join(format!("n{n}")), free_port(), &url, 3))
        .collect();
    let members = wait_live_count(&nodes, 2).await;
    (root, nodes, members)
}

/// A document id placed on `nodes[1]` (so that `nodes[0]` must send it on).
fn doc_on(members: &[Node], node: &Served, prefix: &str) -> String {
    spread(members, 1, prefix)
        .into_iter()
        .find(|(_, owner)| owner.url == node.url())
        .unwrap()
        .0
}

fn db_url(pg: &TempPostgres, db: &str) -> String {
    pg.url(db)
}

/// The rows of `team_tokens` and the cluster's secret, read directly.
fn stored(pg: &TempPostgres, db: &str) -> (Vec<(String, String, Vec<u8>)>, String) {
    let url = db_url(pg, db);
    std::thread::spawn(move || {
        let mut c = ::postgres::Client::connect(&url, ::postgres::NoTls).unwrap();
        let rows = c
            .query(
                "SELECT name, role, digest FROM team_tokens ORDER BY name",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect();
        let secret = c
            .query_one(
                "SELECT value FROM settings WHERE key = 'cluster/secret'",
                &[],
            )
            .unwrap()
            .get(0);
        (rows, secret)
    })
    .join()
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_tokens_live_in_the_database_and_a_revoked_one_stops_on_every_node() {
    let Some(pg) = TempPostgres::start_or_skip("team tokens") else {
        return;
    };
    let (_root, nodes, _) = two_nodes(&pg, "team").await;
    let db = db_url(&pg, "team");
    for node in &nodes {
        assert_eq!(
            docs_status(node, None).await,
            200,
            "no team tokens yet: open"
        );
    }
    let alice = add_token(&db, "alice", "write").await;
    let reader = add_token(&db, "reader", "read").await;

    // Only digests are stored, never a secret.
    let (rows, _) = stored(&pg, "team");
    assert_eq!(rows.len(), 2);
    for (name, _, digest) in &rows {
        let secret = if name == "alice" { &alice } else { &reader };
        assert_eq!(digest.as_slice(), tandem::server::tokens::digest(secret));
        assert!(!String::from_utf8_lossy(digest).contains(secret.as_str()));
    }
    let (ok, listing, _) = cli(&["token", "list", "--store", &db]).await;
    assert!(
        ok && listing.contains("alice") && listing.contains("read"),
        "{listing}"
    );
    assert!(!listing.contains(&alice), "secrets are never listed");
    let (ok, _, err) = cli(&["token", "add", "alice", "--store", &db]).await;
    assert!(!ok && err.contains("exists already"), "{err}");
    let (ok, _, err) = cli(&["token", "add", "x", "--role", "admin", "--store", &db]).await;
    assert!(!ok && err.contains("read, write or owner"), "{err}");
    let (ok, _, err) = cli(&["token", "list", "--store", "sqlite"]).await;
    assert!(!ok && err.contains("PostgreSQL"), "{err}");

    // Every node honours them (within the 2 s refresh), and, now that the
    // team has tokens, refuses callers without one.
    crate::common::eventually("both nodes to honour the team's tokens", || async {
        let mut all = true;
        for node in &nodes {
            all &= docs_status(node, Some(&alice)).await == 200
                && docs_status(node, Some(&reader)).await == 200
                && docs_status(node, None).await == 401;
        }
        all
    })
    .await;
    for node in &nodes {
        assert_eq!(docs_status(node, Some(&"0".repeat(64))).await, 401);
    }

    // A live client of alice's, entering through node 0 (redirected to the
    // document's node, or not): revoking her token ends it too.
    let (_hub, doc) = local_doc("alices-doc");
    put(&doc, "by", "alice");
    let mut config = ClientConfig::new(doc_url(&nodes[0].url(), "alices-doc"));
    config.token = Some(alice.clone());
    let live = crate::common::go_live(&SyncClient::new(config).unwrap(), &doc);
    let mut status = live.status.clone();
    tokio::time::timeout(
        WAIT,
        status.wait_for(|s| *s == ConnectionStatus::Live { in_sync: true }),
    )
    .await
    .expect("alice's live client syncs")
    .unwrap();

    // Revoked: refused by every node within 5 s; the other token still works.
    let (ok, out, err) = cli(&["token", "revoke", "alice", "--store", &db]).await;
    assert!(ok, "{out}{err}");
    let revoked = Instant::now();
    loop {
        let mut refused = true;
        for node in &nodes {
            refused &= docs_status(node, Some(&alice)).await == 401;
        }
        if refused {
            break;
        }
        assert!(
            revoked.elapsed() < Duration::from_secs(5),
            "still accepted after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!(
        "revoked token refused by every node {:?} after the revoke",
        revoked.elapsed()
    );
    tokio::time::timeout(
        Duration::from_secs(5).saturating_sub(revoked.elapsed()),
        status.wait_for(|s| {
            !matches!(
                s,
                ConnectionStatus::Live { .. } | ConnectionStatus::Connecting
            )
        }),
    )
    .await
    .expect("the revoked token's live connection ends within 5 s")
    .unwrap();
    eprintln!(
        "its live connection ended {:?} after the revoke: {:?}",
        revoked.elapsed(),
        *status.borrow()
    );
    live.stop().await;
    for node in &nodes {
        assert_eq!(docs_status(node, Some(&reader)).await, 200);
    }
    let (ok, _, err) = cli(&["token", "revoke", "alice", "--store", &db]).await;
    assert!(!ok && err.contains("no token named"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_client_redirected_to_another_node_keeps_its_token_there() {
    let Some(pg) = TempPostgres::start_or_skip("cluster redirect credentials") else {
        return;
    };
    let (_root, nodes, members) = two_nodes(&pg, "vouch").await;
    let alice = add_token(&db_url(&pg, "vouch"), "alice", "write").await;
    crate::common::eventually("the token to be honoured", || async {
        docs_status(&nodes[0], Some(&alice)).await == 200
            && docs_status(&nodes[1], Some(&alice)).await == 200
    })
    .await;
    let doc_id = doc_on(&members, &nodes[1], "vouched");

    // The redirect names the target as a cluster peer.
    let response = http()
        .put(format!("{}/{doc_id}", nodes[0].url()))
        .bearer_auth(&alice)
        .header("content-type", "application/x-ndjson")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(response.headers()["tandem-cluster-peer"], "peer");

    let (_hub, doc) = local_doc(&doc_id);
    put(&doc, "written", "through node 0");
    let mut config = ClientConfig::new(doc_url(&nodes[0].url(), &doc_id));
    config.token = Some(alice.clone());
    let report = SyncClient::new(config)
        .unwrap()
        .sync_once(&doc, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(report.url.as_str(), format!("{}/{doc_id}", nodes[1].url()));

    // Without a token the serving node refuses (the team has tokens): the
    // token above really was carried to it.
    let (_hub, other) = local_doc(&doc_id);
    let err = SyncClient::new(ClientConfig::new(doc_url(&nodes[0].url(), &doc_id)))
        .unwrap()
        .sync_once(&other, Until::HeadsEqual, WAIT)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Status { status: 401, .. }),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_operations_through_any_node_follow_the_cluster_redirect() {
    let Some(pg) = TempPostgres::start_or_skip("owner operations through any node") else {
        return;
    };
    let (_root, nodes, members) = two_nodes(&pg, "owner").await;
    let boss = add_token(&db_url(&pg, "owner"), "boss", "owner").await;
    crate::common::eventually("the token to be honoured", || async {
        docs_status(&nodes[0], Some(&boss)).await == 200
            && docs_status(&nodes[1], Some(&boss)).await == 200
    })
    .await;
    let mut config = ClientConfig::new(url::Url::parse(&nodes[0].url()).unwrap());
    config.token = Some(boss.clone());
    let doomed = [
        doc_on(&members, &nodes[1], "cli-deleted"),
        doc_on(&members, &nodes[1], "lib-deleted"),
    ];
    for doc_id in &doomed {
        let (_hub, doc) = local_doc(doc_id);
        put(&doc, "k", "v");
        let mut config = config.clone();
        config.url = doc_url(&nodes[0].url(), doc_id);
        SyncClient::new(config)
            .unwrap()
            .sync_once(&doc, Until::HeadsEqual, WAIT)
            .await
            .unwrap();
    }
    let status_at_owner = |doc_id: String| {
        let (url, boss) = (nodes[1].url(), boss.clone());
        async move {
            http()
                .get(format!("{url}/{doc_id}"))
                .bearer_auth(boss)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(status_at_owner(doomed[0].clone()).await, 200);

    // The CLI, pointed at node 0, deletes on node 1; share goes through too.
    let at_node0 = format!("{}/{}", nodes[0].url(), doomed[0]);
    let (ok, out, err) = cli(&["share", &at_node0, "private", "--token", &boss]).await;
    assert!(ok, "share: {out}{err}");
    let (ok, out, err) = cli(&["delete", &at_node0, "--token", &boss]).await;
    assert!(ok, "delete: {out}{err}");
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(status_at_owner(doomed[0].clone()).await, 410);

    // The library's delete does the same.
    let mut config = config.clone();
    config.url = doc_url(&nodes[0].url(), &doomed[1]);
    SyncClient::new(config)
        .unwrap()
        .delete_upstream()
        .await
        .unwrap();
    assert_eq!(status_at_owner(doomed[1].clone()).await, 410);

    // A wrong token is still refused, by the serving node.
    let (ok, _, err) = cli(&[
        "delete",
        &format!("{}/{}", nodes[0].url(), doc_on(&members, &nodes[1], "kept")),
        "--token",
        &"0".repeat(64),
    ])
    .await;
    assert!(!ok && err.contains("401"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_socket_works_through_a_node_that_does_not_serve_the_document() {
    let Some(pg) = TempPostgres::start_or_skip("UI through any node") else {
        return;
    };
    let (_root, nodes, members) = two_nodes(&pg, "ui").await;
    let alice = add_token(&db_url(&pg, "ui"), "alice", "write").await;
    crate::common::eventually("the token to be honoured", || async {
        docs_status(&nodes[0], Some(&alice)).await == 200
            && docs_status(&nodes[1], Some(&alice)).await == 200
    })
    .await;
    let doc_id = doc_on(&members, &nodes[1], "ui-doc");

    // Alice signs in on node 0, as a browser does: a session cookie there.
    let signed_in = http()
        .post(format!("{}/_signin", nodes[0].url()))
        .header("origin", nodes[0].url())
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={alice}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    let ws = format!(
        "ws://127.0.0.1:{}/_ws/{doc_id}",
        nodes[0].url().rsplit(':').next().unwrap()
    );
    let mut request = ws.as_str().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    request
        .headers_mut()
        .insert("origin", nodes[0].url().parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();

    // The UI types; a client of the serving node writes too.
    let mut ui = automerge::Automerge::new();
    let mut state = automerge::sync::State::new();
    ui.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(automerge::ROOT, "typed", "in the UI of node 0")
            .map(drop)
    })
    .unwrap();
    if let Some(frame) = sync_frame(&ui, &mut state) {
        socket.send(frame).await.unwrap();
    }
    let (_hub, owner_side) = local_doc(&doc_id);
    put(&owner_side, "from", "a client of node 1");
    let mut config = ClientConfig::new(doc_url(&nodes[1].url(), &doc_id));
    config.token = Some(alice.clone());
    let client = SyncClient::new(config).unwrap();
    let live = crate::common::go_live(&client, &owner_side);

    // Checked after each frame and at least every 100 ms: the owner's side
    // may receive the UI's edit after the UI's last frame.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the UI and node 1 converge"
        );
        let next = tokio::time::timeout(Duration::from_millis(100), socket.next()).await;
        if let Ok(frame) = next {
            let frame = frame.unwrap().unwrap();
            if let Message::Text(text) = frame {
                apply_frame(&mut ui, &mut state, &text);
                while let Some(reply) = sync_frame(&ui, &mut state) {
                    socket.send(reply).await.unwrap();
                }
            }
        }
        let ui_sees = ui.get(automerge::ROOT, "from").unwrap().is_some();
        if ui_sees && get(&owner_side, "typed").as_deref() == Some("in the UI of node 0") {
            break;
        }
    }
    // The edit is on the serving node, not on node 0: node 1 lists alice's
    // relayed socket among the document's connections.
    let connections: serde_json::Value = http()
        .get(format!("{}/_docs/{doc_id}/connections", nodes[1].url()))
        .bearer_auth(nodes[1].owner_token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(connections.to_string().contains("alice"), "{connections}");

    // The UI's other calls about the document, from node 0's page, are
    // relayed too (a browser cannot take its session across a redirect).
    let page = |path: String| {
        http()
            .get(format!("{}{path}", nodes[0].url()))
            .header("cookie", &cookie)
            .header("sec-fetch-mode", "cors")
    };
    let history = page(format!("/_docs/{doc_id}/history"))
        .send()
        .await
        .unwrap();
    assert_eq!(history.status(), 200);
    let history: serde_json::Value = history.json().await.unwrap();
    assert!(history.to_string().contains("/typed"), "{history}");
    let exported = page(format!("/{doc_id}"))
        .header("accept", "application/octet-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(exported.status(), 200);
    let exported = automerge::Automerge::load(&exported.bytes().await.unwrap()).unwrap();
    assert!(exported.get(automerge::ROOT, "typed").unwrap().is_some());
    let refused = http()
        .delete(format!("{}/{doc_id}", nodes[0].url()))
        .header("cookie", &cookie)
        .header("origin", nodes[0].url())
        .send()
        .await
        .unwrap();
    assert_eq!(
        refused.status(),
        403,
        "a write token may not delete, on either node"
    );
    live.stop().await;

    // Revoking alice's token ends her relayed socket within 5 s (another
    // token keeps the team's nodes closed to callers without one).
    add_token(&db_url(&pg, "ui"), "keeper", "read").await;
    let (ok, out, err) = cli(&["token", "revoke", "alice", "--store", &db_url(&pg, "ui")]).await;
    assert!(ok, "{out}{err}");
    tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(Ok(frame)) = socket.next().await {
            if matches!(frame, Message::Close(_)) {
                break;
            }
        }
    })
    .await
    .expect("the relayed socket of a revoked token ends within 5 s");

    // The cluster's secret relays UI sockets only, for a named user.
    let (_, secret) = stored(&pg, "ui");
    for (path, forwarded) in [
        ("/_docs", Some("owner x")),
        (&*format!("/_ws/{doc_id}"), None),
    ] {
        let mut request = http()
            .get(format!("{}{path}", nodes[1].url()))
            .bearer_auth(&secret);
        if let Some(f) = forwarded {
            request = request.header("tandem-forwarded-for", f);
        }
        assert_eq!(request.send().await.unwrap().status(), 403, "{path}");
    }
    // Without a credential, node 0 relays nothing.
    drop(socket);
    let err = tokio_tungstenite::connect_async(ws.as_str())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
}
