//! Soak test (not run by CI): a real `tandem serve` process holds 1,000 live
//! sync connections on 10 documents for a while, with edits flowing all the
//! time, then one quiet minute with the connections still open; its resident
//! memory is sampled every 10 s.
//!
//! An Automerge document keeps every change, so memory may grow with the
//! history itself; a leak per connection grows with history × fan-out. It
//! passes when, after a warm-up minute, (1) memory grew by at most 10 % plus
//! 2 KiB per change stored (the history: about 1 KiB per change measured
//! here), and (2) the quiet minute grew it by less than 2 %.
//!
//! ```sh
//! scripts/soak.sh              # 10 minutes, 1,000 connections
//! SOAK_SECONDS=120 SOAK_CLIENTS=200 scripts/soak.sh
//! ```
//!
//! Everything stays on 127.0.0.1; the loops are bounded in count and time.

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use tandem::client::{ClientConfig, ConnectionStatus, SyncClient};
use tandem::hub::Hub;
use tandem::store::MemoryStore;
use tokio_util::sync::CancellationToken;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident set size of `pid`, in KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let seconds = env_number("SOAK_SECONDS", 600);
    let clients = env_number("SOAK_CLIENTS", 1000) as usize;
    let docs = env_number("SOAK_DOCS", 10) as usize;
    let edits_per_second = env_number("SOAK_EDITS_PER_SECOND", 20);
    let bin = std::env::var("TANDEM_BIN").unwrap_or_else(|_| {
        let release = concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/tandem");
        if std::path::Path::new(release).exists() {
            release.to_owned()
        } else {
            concat!(env!("CARGO_MANIFEST_DIR"), "/target/debug/tandem").to_owned()
        }
    });
    let data = tempfile::tempdir().expect("a temp dir");
    let mut server = Command::new(&bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("TANDEM_NO_MDNS", "1")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("tandem serve starts");
    let pid = server.id();
    let mut url = String::new();
    let mut out = std::io::BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(u) = line.trim().strip_prefix("Tandem listening on ") {
            url = u.to_owned();
            break;
        }
        line.clear();
    }
    assert!(!url.is_empty(), "the server printed its URL");
    println!("soak: {clients} live connections on {docs} documents, {edits_per_second} edits/s, {seconds} s, server {bin} (pid {pid})");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let samples = runtime.block_on(async move {
        let cancel = CancellationToken::new();
        let mut locals = Vec::with_capacity(clients);
        for i in 0..clients {
            let doc_url = url::Url::parse(&format!("{url}/soak-{}", i % docs)).expect("url");
            let client = SyncClient::new(ClientConfig::new(doc_url)).expect("client");
            let hub = Hub::new(Arc::new(MemoryStore::new()));
            let doc = hub
                .open(&tandem::DocId::parse(&format!("soak-{}", i % docs)).expect("id"))
                .expect("doc");
            let (status, _) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
            let (task_doc, task_cancel) = (doc.clone(), cancel.clone());
            tokio::spawn(
                async move { client.sync_live(&task_doc, task_cancel, status, None).await },
            );
            locals.push((hub, doc));
            if i % 100 == 99 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let editing = CancellationToken::new();
        let editor = {
            let (cancel, docs) = (
                editing.clone(),
                locals.iter().map(|(_, d)| d.clone()).collect::<Vec<_>>(),
            );
            tokio::spawn(async move {
                let mut tick =
                    tokio::time::interval(Duration::from_millis(1000 / edits_per_second.max(1)));
                let mut n: u64 = 0;
                while !cancel.is_cancelled() {
                    tick.tick().await;
                    let doc = &docs[(n as usize * 7919) % docs.len()];
                    let _ =
                        doc.change(|tx| tx.put(automerge::ROOT, format!("k{}", n % 50), n as i64));
                    n += 1;
                }
                n
            })
        };
        let started = Instant::now();
        let mut samples = Vec::new();
        while started.elapsed() < Duration::from_secs(seconds) {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let rss = rss_kib(pid);
            println!(
                "soak: t={:>4} s  server RSS {:>7} KiB",
                started.elapsed().as_secs(),
                rss
            );
            samples.push((started.elapsed().as_secs(), rss));
        }
        // The quiet minute: no edits, every connection still open.
        editing.cancel();
        let edits = editor.await.unwrap_or(0);
        println!("soak: {edits} edits made; now a quiet minute");
        let quiet_from = rss_kib(pid);
        for _ in 0..6 {
            tokio::time::sleep(Duration::from_secs(10)).await;
            let rss = rss_kib(pid);
            println!(
                "soak: quiet t={:>4} s  server RSS {:>7} KiB",
                started.elapsed().as_secs(),
                rss
            );
        }
        let quiet_to = rss_kib(pid);
        cancel.cancel();
        (samples, edits, quiet_from, quiet_to)
    });
    let (samples, edits, quiet_from, quiet_to) = samples;
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = server.wait();

    let steady: Vec<u64> = samples
        .iter()
        .filter(|(t, _)| *t >= 60)
        .map(|(_, r)| *r)
        .collect();
    let Some(&first) = steady.first() else {
        println!("soak: too short to judge (needs > 60 s)");
        return;
    };
    let max = steady.iter().copied().max().unwrap_or(first);
    let min = steady.iter().copied().min().unwrap_or(first);
    let growth = (max as f64 - first as f64) / first as f64 * 100.0;
    let per_change = (max.saturating_sub(first)) as f64 / edits.max(1) as f64;
    let allowed = first as f64 * 0.10 + 2.0 * edits as f64;
    let quiet = (quiet_to as f64 - quiet_from as f64) / quiet_from.max(1) as f64 * 100.0;
    println!(
        "soak: after warm-up RSS first {first} KiB, min {min} KiB, max {max} KiB ({growth:+.1} % over the first, {per_change:.2} KiB per change stored); quiet minute {quiet:+.1} %"
    );
    if (max - first) as f64 > allowed {
        println!("soak: FAIL: memory grew by more than 10 % plus 2 KiB per change (a leak per connection?)");
        std::process::exit(1);
    }
    if quiet > 2.0 {
        println!("soak: FAIL: memory grew while nothing happened");
        std::process::exit(1);
    }
    println!("soak: ok: flat but for the history itself, and flat while quiet");
}
