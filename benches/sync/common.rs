//! What every scenario shares: the result rows, measurement helpers, a
//! server on 127.0.0.1, and live client peers.

#[allow(unused_imports)]
pub(crate) use std::io::{BufRead, BufReader, Write};
#[allow(unused_imports)]
pub(crate) use std::path::PathBuf;
#[allow(unused_imports)]
pub(crate) use std::process::{Command, Stdio};
#[allow(unused_imports)]
pub(crate) use std::sync::Arc;
#[allow(unused_imports)]
pub(crate) use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub(crate) use automerge::sync::{Message, State as AmSyncState, SyncDoc};
#[allow(unused_imports)]
pub(crate) use automerge::transaction::Transactable;
#[allow(unused_imports)]
pub(crate) use automerge::{Automerge, AutomergeError, ChangeHash, ObjId, ObjType, ReadDoc, ROOT};
#[allow(unused_imports)]
pub(crate) use tandem::client::{ClientConfig, ConnectionStatus, HttpVersion, SyncClient};
#[allow(unused_imports)]
pub(crate) use tandem::node::{Node, NodeBuilder};
#[allow(unused_imports)]
pub(crate) use tandem::protocol::{SyncSession, Until};
#[allow(unused_imports)]
pub(crate) use tandem::store::{Durability, MemoryStore, SqliteStore, Store};
#[allow(unused_imports)]
pub(crate) use tandem::tls::Trust;
#[allow(unused_imports)]
pub(crate) use tandem::{DocId, Document, Hub};
#[allow(unused_imports)]
pub(crate) use tokio::sync::watch;
#[allow(unused_imports)]
pub(crate) use tokio::task::JoinSet;
#[allow(unused_imports)]
pub(crate) use tokio_util::sync::CancellationToken;

pub(crate) const CHILD_ENV: &str = "TANDEM_BENCH_CHILD";

/// This bench binary run again as a server in its own process (`role` names
/// which), so its CPU and memory are its own. It prints `URL <base>` first,
/// then answers each question line (`rss`, `cpu`) with `WORD <number>`.
pub(crate) struct ServerProcess {
    child: std::process::Child,
    questions: std::process::ChildStdin,
    answers: std::io::BufReader<std::process::ChildStdout>,
    /// The server's base URL.
    pub(crate) base: String,
}

impl ServerProcess {
    pub(crate) fn spawn(role: &str) -> Self {
        use std::io::BufRead as _;
        use std::process::{Command, Stdio};
        let exe = std::env::current_exe().expect("own executable");
        let mut child = Command::new(exe)
            .env(CHILD_ENV, role)
            .env("TANDEM_NO_MDNS", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn the server process");
        let questions = child.stdin.take().expect("stdin");
        let mut answers = std::io::BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        answers.read_line(&mut line).expect("the server answers");
        let base = line
            .trim()
            .strip_prefix("URL ")
            .expect("URL line")
            .to_owned();
        Self {
            child,
            questions,
            answers,
            base,
        }
    }

    /// Asks `what` (`rss` in KiB, `cpu` in µs) and returns the number answered.
    pub(crate) fn ask(&mut self, what: &str) -> u64 {
        use std::io::{BufRead as _, Write as _};
        writeln!(self.questions, "{what}").expect("ask the server");
        self.questions.flush().expect("flush");
        let mut line = String::new();
        self.answers
            .read_line(&mut line)
            .expect("the server answers");
        line.split_whitespace()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .expect("a number")
    }

    /// Closes its input (the server then stops) and waits for it.
    pub(crate) fn finish(self) {
        let Self {
            mut child,
            questions,
            ..
        } = self;
        drop(questions);
        let _ = child.wait();
    }
}

/// One line of the results table.
pub(crate) struct Row {
    pub(crate) figure: String,
    pub(crate) result: String,
    pub(crate) target: String,
    pub(crate) verdict: String,
}

impl Row {
    pub(crate) fn new(
        figure: impl Into<String>,
        result: impl Into<String>,
        target: &str,
        met: Option<bool>,
    ) -> Self {
        Self {
            figure: figure.into(),
            result: result.into(),
            target: target.into(),
            verdict: match met {
                Some(true) => "met".into(),
                Some(false) => "**missed**".into(),
                None => "–".into(),
            },
        }
    }

    /// Emits the row for the parent process.
    pub(crate) fn emit(&self) {
        println!(
            "@row\t{}\t{}\t{}\t{}",
            self.figure, self.result, self.target, self.verdict
        );
    }
}

/// A field of /proc/self/status, in KiB.
pub(crate) fn proc_status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

pub(crate) fn rss_kib() -> u64 {
    proc_status_kib("VmRSS:")
}

pub(crate) fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// Raises the soft open-file limit to at least `want` (bounded by the hard limit).
pub(crate) fn raise_fd_limit(want: u64) {
    // SAFETY: plain syscalls on a stack value.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur >= want as libc::rlim_t {
            return;
        }
        lim.rlim_cur = (want as libc::rlim_t).min(lim.rlim_max);
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
            eprintln!("could not raise the open-file limit");
        }
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(crate) fn fmt_ms(d: Duration) -> String {
    let v = ms(d);
    if v < 10.0 {
        format!("{v:.3} ms")
    } else if v < 1000.0 {
        format!("{v:.1} ms")
    } else {
        format!("{:.2} s", v / 1000.0)
    }
}

/// The median (the upper one of an even count).
pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// Document IDs come from the shared test kit.
pub(crate) use tandem::testing::id as doc_id;

pub(crate) async fn start_server(store: Arc<dyn Store>) -> (Node, Arc<Hub>) {
    let hub = Hub::new(store);
    let server = NodeBuilder::new()
        .hub(Arc::clone(&hub))
        .start()
        .await
        .expect("node starts");
    (server, hub)
}

pub(crate) fn client_config(base: &str, id: &DocId, http: HttpVersion) -> ClientConfig {
    let mut config = ClientConfig::new(url::Url::parse(&format!("{base}/{id}")).unwrap());
    config.http = http;
    // Plain http:// never uses the trust settings, but `Trust::System` reads
    // the OS root store for every client built; `Insecure` is free.
    config.trust = Trust::Insecure;
    config
}

/// One client: its own hub and store, its own document, its own HTTP client.
pub(crate) struct Peer {
    pub(crate) doc: Arc<Document>,
    pub(crate) status: watch::Receiver<ConnectionStatus>,
    pub(crate) client: SyncClient,
    pub(crate) status_tx: Option<watch::Sender<ConnectionStatus>>,
    pub(crate) task: Option<tokio::task::JoinHandle<()>>,
    pub(crate) _hub: Arc<Hub>,
}

impl Peer {
    pub(crate) fn new(base: &str, id: &DocId, http: HttpVersion) -> Self {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let doc = hub.open(id).expect("open client doc");
        let client = SyncClient::new(client_config(base, id, http)).expect("client");
        let (status_tx, status) = watch::channel(ConnectionStatus::Connecting);
        Self {
            doc,
            status,
            client,
            status_tx: Some(status_tx),
            task: None,
            _hub: hub,
        }
    }

    /// Starts `sync_live` on a task.
    pub(crate) fn go_live(&mut self, cancel: &CancellationToken) {
        let client = self.client.clone();
        let doc = Arc::clone(&self.doc);
        let cancel = cancel.clone();
        let status = self.status_tx.take().expect("live once");
        self.task = Some(tokio::spawn(async move {
            client.sync_live(&doc, cancel, status, None).await;
        }));
    }

    pub(crate) async fn wait_in_sync(&mut self) {
        tokio::time::timeout(
            Duration::from_secs(60),
            self.status
                .wait_for(|s| matches!(s, ConnectionStatus::Live { in_sync: true })),
        )
        .await
        .expect("client goes live within 60 s")
        .expect("status sender alive");
    }
}

/// Waits until `doc`'s heads equal `heads`.
pub(crate) async fn wait_heads(doc: &Document, heads: &[ChangeHash], within: Duration) -> bool {
    let mut rx = doc.subscribe();
    tokio::time::timeout(within, async {
        loop {
            rx.borrow_and_update();
            if doc.heads() == heads {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await
    .is_ok()
}

/// Waits until every peer reports `Live { in_sync: true }` and has `heads`.
pub(crate) async fn settle(peers: &mut [Peer], heads: &[ChangeHash]) {
    for p in peers.iter_mut() {
        assert!(
            wait_heads(&p.doc, heads, Duration::from_secs(60)).await,
            "client did not converge within 60 s"
        );
        p.wait_in_sync().await;
    }
}

pub(crate) async fn stop_peers(peers: Vec<Peer>, cancel: CancellationToken) {
    cancel.cancel();
    // One bound for all of them: a hundred peers stuck applying a burst
    // must not take a hundred bounds to stop.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for mut p in peers {
        if let Some(task) = p.task.take() {
            let abort = task.abort_handle();
            if tokio::time::timeout_at(deadline, task).await.is_err() {
                abort.abort();
            }
        }
    }
}
