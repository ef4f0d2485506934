//! Live writers that record what the server acknowledged, and placement helpers.
#![allow(unreachable_pub)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use automerge::ChangeHash;
use tandem::client::{ClientConfig, ConnectionStatus, SyncClient};
use tandem::cluster::rendezvous::{pick, Node};
use tandem::hub::Document;
use tandem::protocol::Until;

use crate::common::{self, doc_url, local_doc, put, WAIT};

/// A live client writing to its document, recording the heads the server
/// acknowledged (the link reported `in_sync` after the write).
pub struct Writer {
    pub doc: Arc<Document>,
    acked: Arc<Mutex<Vec<ChangeHash>>>,
    live: common::Live,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Writer {
    /// Starts writing through `entry`, with the team `token` if given.
    pub fn start(
        name: &str,
        doc_id: &str,
        entry: &str,
        token: Option<&str>,
        writing: Arc<AtomicBool>,
    ) -> Self {
        let (_hub, doc) = local_doc(doc_id);
        let mut config = ClientConfig::new(doc_url(entry, doc_id));
        config.token = token.map(str::to_owned);
        let client = SyncClient::new(config).unwrap();
        let live = common::go_live(&client, &doc);
        let acked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let (doc, acked, stop, name) =
                (doc.clone(), acked.clone(), stop.clone(), name.to_owned());
            let mut status = live.status.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    if !writing.load(Ordering::SeqCst) {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                    n += 1;
                    put(&doc, &name, &n.to_string());
                    let written = doc.heads();
                    status.borrow_and_update();
                    let acknowledged = tokio::time::timeout(Duration::from_secs(3), async {
                        while status.changed().await.is_ok() {
                            if *status.borrow_and_update()
                                == (ConnectionStatus::Live { in_sync: true })
                            {
                                return true;
                            }
                        }
                        false
                    })
                    .await;
                    if acknowledged == Ok(true) {
                        acked.lock().unwrap().extend(written);
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        Self {
            doc,
            acked,
            live,
            stop,
            task,
        }
    }

    pub async fn stop(self) {
        self.stop.store(true, Ordering::SeqCst);
        tokio::time::timeout(WAIT, self.task)
            .await
            .unwrap()
            .unwrap();
        self.live.stop().await;
    }

    pub fn acked(&self) -> Vec<ChangeHash> {
        self.acked.lock().unwrap().clone()
    }
}

/// Waits until the writers of each document share the same heads; returns
/// how long it took.
pub async fn wait_converged(groups: &BTreeMap<String, Vec<&Writer>>, within: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let done = groups.values().all(|writers| {
            let heads = writers[0].doc.heads();
            writers.iter().all(|w| w.doc.heads() == heads)
        });
        if done {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < within,
            "documents did not converge within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fresh reader pulls `doc_id` through `entry` (one-shot, following the
/// redirect, with `token` if given) and returns its copy.
pub async fn read_fresh(entry: &str, doc_id: &str, token: Option<&str>) -> Arc<Document> {
    let (_hub, doc) = local_doc(doc_id);
    let mut config = ClientConfig::new(doc_url(entry, doc_id));
    config.token = token.map(str::to_owned);
    let client = SyncClient::new(config).unwrap();
    client
        .sync_once(&doc, Until::HasRemoteHeads, WAIT)
        .await
        .unwrap();
    doc
}

/// The writers by document.
pub fn groups(writers: &[(String, Writer)]) -> BTreeMap<String, Vec<&Writer>> {
    let mut groups: BTreeMap<String, Vec<&Writer>> = BTreeMap::new();
    for (doc_id, w) in writers {
        groups.entry(doc_id.clone()).or_default().push(w);
    }
    groups
}

/// Document names that rendezvous hashing places `per_node` on each of `nodes`.
pub fn spread(nodes: &[Node], per_node: usize, prefix: &str) -> Vec<(String, Node)> {
    let mut chosen = Vec::new();
    let mut counts = BTreeMap::new();
    for n in 0.. {
        let name = format!("{prefix}-{n}");
        let owner = pick(&name, nodes).unwrap().clone();
        let count = counts.entry(owner.id.clone()).or_insert(0);
        if *count < per_node {
            *count += 1;
            chosen.push((name, owner));
        }
        if chosen.len() == per_node * nodes.len() {
            return chosen;
        }
    }
    unreachable!()
}
