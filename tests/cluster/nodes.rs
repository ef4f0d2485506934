//! Cluster nodes as real `tandem serve` processes, and what `/_cluster` says.
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tandem::cluster::rendezvous::Node;
use tandem::server::tokens::OWNER_TOKEN_FILE;

use crate::common::WAIT;

pub const TANDEM: &str = env!("CARGO_BIN_EXE_tandem");

/// One `tandem serve` process, killed on drop.
pub struct Served {
    pub child: Option<Child>,
    port: u16,
    dir: PathBuf,
    db: String,
    lease_secs: u64,
}

impl Served {
    pub fn start(dir: &Path, port: u16, db: &str, lease_secs: u64) -> Self {
        let mut this = Self {
            child: None,
            port,
            dir: dir.to_owned(),
            db: db.to_owned(),
            lease_secs,
        };
        this.spawn();
        this
    }

    pub fn spawn(&mut self) {
        std::fs::create_dir_all(&self.dir).unwrap();
        let log = std::fs::File::create(self.dir.join("stderr.log")).unwrap();
        let mut child = Command::new(TANDEM)
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data-dir")
            .arg(&self.dir)
            .args(["--store", &self.db, "--lease-secs"])
            .arg(self.lease_secs.to_string())
            .args(["--advertise-url", &self.url()])
            .env("TANDEM_NO_MDNS", "1")
            .env("RUST_LOG", "tandem=info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        let mut seen = String::new();
        while out.read_line(&mut line).unwrap() > 0 {
            seen.push_str(&line);
            if line.starts_with("Data directory:") {
                break;
            }
            line.clear();
        }
        assert!(
            seen.contains("Cluster node node-"),
            "the node did not join: {seen}\n{}",
            std::fs::read_to_string(self.dir.join("stderr.log")).unwrap_or_default()
        );
        self.child = Some(child);
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
        }
    }

    pub fn sigterm(&mut self) -> Child {
        let child = self.child.take().unwrap();
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        child
    }

    pub fn owner_token(&self) -> String {
        std::fs::read_to_string(self.dir.join(OWNER_TOKEN_FILE))
            .unwrap()
            .trim()
            .to_owned()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A plain HTTP client (no redirects followed, no proxy).
pub fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

/// `GET /_cluster` of `node`, with its owner token.
pub async fn cluster(node: &Served) -> serde_json::Value {
    let response = http()
        .get(format!("{}/_cluster", node.url()))
        .bearer_auth(node.owner_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// The live nodes `node` lists, as placement sees them.
pub async fn live_nodes(node: &Served) -> Vec<Node> {
    cluster(node).await["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["live"] == true && n["draining"] == false)
        .map(|n| Node {
            id: n["id"].as_str().unwrap().to_owned(),
            url: n["url"].as_str().unwrap().to_owned(),
            pin: None,
        })
        .collect()
}

/// Waits until `nodes[0]` lists `count` live nodes and every running node's
/// own view (what its placement uses) has them too.
pub async fn wait_live_count(nodes: &[Served], count: usize) -> Vec<Node> {
    let deadline = Instant::now() + WAIT;
    loop {
        let live = live_nodes(&nodes[0]).await;
        let mut agreed = live.len() == count;
        for node in nodes.iter().filter(|n| n.child.is_some()) {
            let view = cluster(node).await["live_view"].as_array().unwrap().len();
            agreed &= view == count;
        }
        if agreed {
            return live;
        }
        assert!(
            Instant::now() < deadline,
            "expected {count} live nodes, got {live:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The document ids whose lease `url`'s node holds, per `/_cluster`.
pub async fn docs_held(asker: &Served, url: &str) -> Vec<String> {
    cluster(asker).await["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["url"] == url && n["live"] == true)
        .flat_map(|n| n["docs"].as_array().unwrap().clone())
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}
