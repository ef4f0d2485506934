//! Several `tandem serve` nodes on one PostgreSQL (started by the test, see
//! `common/postgres.rs`): documents spread by rendezvous hashing, requests
//! redirected to a document's owner, failover after `kill -9` without losing
//! an acknowledged change, hand-over on SIGTERM, and a restarted node
//! rejoining; a team's tokens, the UI and owner operations through any node
//! (`team.rs`). Real processes on loopback ports; every wait is bounded.

#[path = "../common/mod.rs"]
mod common;
mod nodes;
mod team;
mod writer;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::{ChangeHash, ReadDoc};
use common::postgres::{free_port, TempPostgres};
use common::{doc_url, local_doc, put, WAIT};
use nodes::{docs_held, http, live_nodes, wait_live_count, Served, TANDEM};
use tandem::client::{ClientConfig, SyncClient};
use tandem::cluster::rendezvous::pick;
use tandem::protocol::Until;
use writer::{groups, read_fresh, spread, wait_converged, Writer};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_thirty_clients_survive_a_kill_9_and_take_the_node_back() {
    let Some(pg) = TempPostgres::start_or_skip("cluster failover") else {
        return;
    };
    let db = pg.create_database("cluster");
    let root = tempfile::tempdir().unwrap();
    let mut nodes: Vec<Served> = (0..3)
        .map(|n| Served::start(&root.path().join(format!("node{n}")), free_port(), &db, 3))
        .collect();
    let members = wait_live_count(&nodes, 3).await;
    // A team cluster: every client holds a team token (from the database),
    // which follows each redirect to the serving node (it vouches for it).
    let token = team::add_token(&db, "team", "write").await;
    let token = Some(token.as_str());
    common::eventually("the team token on every node", || async {
        let mut all = true;
        for node in &nodes {
            all &= team::docs_status(node, token).await == 200
                && team::docs_status(node, None).await == 401;
        }
        all
    })
    .await;

    // Ten documents, at least three placed on each node (the victim is node 2).
    let mut docs = spread(&members, 3, "doc");
    docs.push((
        "doc-extra".to_owned(),
        pick("doc-extra", &members).unwrap().clone(),
    ));
    assert_eq!(docs.len(), 10);

    // Thirty live clients, three per document, entering through nodes 0 and 1
    // (a load balancer would stop sending to a dead node; nothing here does).
    let writing = Arc::new(AtomicBool::new(true));
    let mut writers = Vec::new();
    for (i, (doc_id, _)) in docs.iter().enumerate() {
        for c in 0..3 {
            let entry = nodes[(i + c) % 2].url();
            writers.push((
                doc_id.clone(),
                Writer::start(&format!("c{c}"), doc_id, &entry, token, writing.clone()),
            ));
        }
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    writing.store(false, Ordering::SeqCst);
    let first = wait_converged(&groups(&writers), WAIT).await;
    eprintln!("30 clients on 10 documents converged {first:?} after the writes stopped");

    // Each node serves the documents placed on it.
    for member in &members {
        let held = docs_held(&nodes[0], &member.url).await;
        let placed: Vec<_> = docs
            .iter()
            .filter(|(_, n)| n == member)
            .map(|(d, _)| d.clone())
            .collect();
        for doc_id in &placed {
            assert!(
                held.contains(doc_id),
                "{doc_id} not served by {}: {held:?}",
                member.url
            );
        }
    }
    // The listing is the same from every node (the shared database).
    for node in &nodes {
        let listing = http()
            .get(format!("{}/_docs", node.url()))
            .bearer_auth(node.owner_token())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for (doc_id, _) in &docs {
            assert!(
                listing.contains(&format!("\"{doc_id}\"")),
                "{doc_id} missing from {}'s /_docs: {listing}",
                node.url()
            );
        }
    }
    let victim_docs = docs_held(&nodes[0], &nodes[2].url()).await;
    assert!(victim_docs.len() >= 3, "{victim_docs:?}");

    // Write again, then kill -9 node 2 while one client per document leaves
    // for good: its acknowledged changes must come back from the database.
    writing.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut departed = Vec::new();
    let mut staying = Vec::new();
    for (i, (doc_id, w)) in writers.into_iter().enumerate() {
        if i % 3 == 2 {
            departed.push((doc_id, w));
        } else {
            staying.push((doc_id, w));
        }
    }
    nodes[2].kill9();
    let killed = Instant::now();
    let mut departed_acked = Vec::new();
    for (doc_id, w) in departed {
        departed_acked.push((doc_id, w.acked()));
        w.stop().await;
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    writing.store(false, Ordering::SeqCst);
    let staying_groups = groups(&staying);
    wait_converged(&staying_groups, Duration::from_secs(15)).await;
    let failover = killed.elapsed();
    eprintln!("after kill -9: converged again {failover:?} after the kill");
    assert!(failover < Duration::from_secs(15));
    let survivors: Vec<String> = live_nodes(&nodes[0])
        .await
        .into_iter()
        .map(|n| n.url)
        .collect();
    assert!(!survivors.contains(&nodes[2].url()), "{survivors:?}");
    for doc_id in &victim_docs {
        let held = docs_held(&nodes[0], &nodes[0].url()).await;
        let held1 = docs_held(&nodes[0], &nodes[1].url()).await;
        assert!(
            held.contains(doc_id) || held1.contains(doc_id),
            "{doc_id} was not taken over"
        );
    }

    // No acknowledged change is lost: a fresh reader finds every one.
    let mut total = 0;
    for (doc_id, _) in &docs {
        let fresh = read_fresh(&nodes[0].url(), doc_id, token).await;
        let mut acked: Vec<ChangeHash> = staying
            .iter()
            .filter(|(d, _)| d == doc_id)
            .flat_map(|(_, w)| w.acked())
            .collect();
        acked.extend(
            departed_acked
                .iter()
                .filter(|(d, _)| d == doc_id)
                .flat_map(|(_, a)| a.clone()),
        );
        assert!(
            acked.len() >= 2,
            "too few acknowledged writes on {doc_id}: {}",
            acked.len()
        );
        for hash in &acked {
            assert!(
                fresh.read(|d| d.get_change_by_hash(hash).is_some()),
                "acknowledged change {hash} of {doc_id} is lost"
            );
        }
        total += acked.len();
    }
    eprintln!("{total} acknowledged changes checked, none lost");

    // The killed node restarts and rejoins: it is live again and takes new
    // documents placed on it.
    nodes[2].spawn();
    let members = wait_live_count(&nodes, 3).await;
    let newcomer = members
        .iter()
        .find(|n| n.url == nodes[2].url())
        .unwrap()
        .clone();
    let (fresh_doc, _) = spread(&members, 1, "after")
        .into_iter()
        .find(|(_, owner)| *owner == newcomer)
        .unwrap();
    let (_hub, doc) = local_doc(&fresh_doc);
    put(&doc, "hello", "again");
    let mut config = ClientConfig::new(doc_url(&nodes[0].url(), &fresh_doc));
    config.token = token.map(str::to_owned);
    let client = SyncClient::new(config).unwrap();
    let report = client
        .sync_once(&doc, Until::HeadsEqual, WAIT)
        .await
        .unwrap();
    assert_eq!(
        report.url.as_str(),
        format!("{}/{fresh_doc}", nodes[2].url()),
        "redirected to the rejoined node"
    );
    assert!(docs_held(&nodes[0], &nodes[2].url())
        .await
        .contains(&fresh_doc));

    for (_, w) in staying {
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_with_sigterm_hands_its_documents_over_at_once() {
    let Some(pg) = TempPostgres::start_or_skip("cluster hand-over") else {
        return;
    };
    let db = pg.create_database("handover");
    let root = tempfile::tempdir().unwrap();
    // Leases of 60 s: only a hand-over lets the document move within the test's waits.
    let mut nodes: Vec<Served> = (0..2)
        .map(|n| Served::start(&root.path().join(format!("n{n}")), free_port(), &db, 60))
        .collect();
    let members = wait_live_count(&nodes, 2).await;
    let leaving = members
        .iter()
        .find(|n| n.url == nodes[1].url())
        .unwrap()
        .clone();
    let (doc_id, _) = spread(&members, 1, "handed")
        .into_iter()
        .find(|(_, owner)| *owner == leaving)
        .unwrap();

    // Raw HTTP: the other node answers 307 to the owner, same path and query.
    let response = http()
        .put(format!("{}/{doc_id}?follow=false", nodes[0].url()))
        .header("content-type", "application/x-ndjson")
        .body("")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 307);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        format!("{}/{doc_id}?follow=false", nodes[1].url())
    );
    // Anyone may sync, but only the owner sees the cluster.
    let anonymous = http()
        .get(format!("{}/_cluster", nodes[0].url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 403);

    let writing = Arc::new(AtomicBool::new(true));
    let writer = Writer::start("w", &doc_id, &nodes[0].url(), None, writing.clone());
    common::eventually("the writer's first acknowledged change", || async {
        !writer.acked().is_empty()
    })
    .await;
    assert_eq!(
        docs_held(&nodes[0], &nodes[1].url()).await,
        std::slice::from_ref(&doc_id)
    );

    let stopped = Instant::now();
    let mut child = nodes[1].sigterm();
    let deadline = Instant::now() + WAIT;
    loop {
        if docs_held(&nodes[0], &nodes[0].url())
            .await
            .contains(&doc_id)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the document was not handed over"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let moved = stopped.elapsed();
    eprintln!("handed over {moved:?} after SIGTERM (lease time 60 s)");
    assert!(moved < Duration::from_secs(10), "{moved:?}");
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    writing.store(false, Ordering::SeqCst);
    let acked = writer.acked();
    let fresh = read_fresh(&nodes[0].url(), &doc_id, None).await;
    for hash in &acked {
        assert!(
            fresh.read(|d| d.get_change_by_hash(hash).is_some()),
            "{hash} lost"
        );
    }
    assert_eq!(
        live_nodes(&nodes[0]).await.len(),
        1,
        "the stopped node left"
    );
    writer.stop().await;
}

/// `tandem serve` with `args`: it must exit at once, unsuccessfully, saying `expected`.
fn serve_refuses(args: &[&str], expected: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(TANDEM)
        .args(["serve", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env("TANDEM_NO_MDNS", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve {args:?} did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(!status.success(), "serve {args:?} succeeded");
    assert!(stderr.contains(expected), "serve {args:?}: {stderr}");
    stderr
}

#[test]
fn bad_cluster_flags_are_clear_errors() {
    serve_refuses(
        &["--store", "mysql://db/tandem"],
        "--store \"mysql://db/tandem\" is not known: use sqlite or a postgres://user@host:port/db URL",
    );
    serve_refuses(
        &["--store", "postgres://tandem@127.0.0.1:1/db", "--listen", "127.0.0.1:0"],
        "a cluster node must tell the others where it is: listening on 127.0.0.1:0 needs --advertise-url",
    );
    serve_refuses(
        &[
            "--store",
            "postgres://tandem@127.0.0.1:1/db",
            "--advertise-url",
            "ftp://node-a",
        ],
        "must be an http:// or https:// URL with a host",
    );
    let port = free_port();
    let said = serve_refuses(
        &[
            "--store",
            &format!("postgres://tandem:hunter2@127.0.0.1:{port}/db"),
            "--advertise-url",
            "http://127.0.0.1:1",
        ],
        "PostgreSQL error while trying to prepare the schema",
    );
    assert!(
        !said.contains("hunter2"),
        "the password is not shown: {said}"
    );
}
