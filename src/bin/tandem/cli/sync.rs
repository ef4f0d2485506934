//! `tandem sync URL --file F`: one-shot or live sync of a local file.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::limits::LimitArgs;
use super::remote::{parse_doc_url, RemoteArgs};
use super::serve::wait_for_signal;
use super::CliError;
use tandem::client::{ConnectionStatus, LiveOptions, SyncClient};
use tandem::hub::Hub;
use tandem::protocol::Until;
use tandem::store::FileStore;

/// Flags of `tandem sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The document URL, e.g. https://localhost:7450/notes.
    url: String,
    /// The local .automerge file (created if missing).
    #[arg(long, value_name = "F")]
    file: PathBuf,
    /// Stay connected and keep syncing until interrupted.
    #[arg(long, conflicts_with = "until")]
    follow: bool,
    /// When a one-shot sync is done.
    #[arg(
        long,
        default_value = "heads-equal",
        value_name = "heads-equal|has-remote-heads"
    )]
    until: Until,
    /// Give up a one-shot sync after this many seconds.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    timeout: f64,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) async fn run(args: SyncArgs) -> Result<(), CliError> {
    let (url, id) = parse_doc_url(&args.url)?;
    let store = Arc::new(FileStore::new(&args.file));
    let hub = Hub::with_limits(store.clone(), args.limits.limits());
    let doc = hub.open(&id)?;
    let mut config = args.remote.client_config(&url)?;
    // A progress line on a terminal (a long first sync takes a while).
    let progress = (!args.follow && std::io::stderr().is_terminal())
        .then(|| Arc::new(tandem::client::SyncProgress::default()));
    config.progress = progress.clone();
    let client = SyncClient::new(config)?;
    if !args.follow {
        let timeout =
            Duration::try_from_secs_f64(args.timeout).map_err(|e| format!("bad --timeout: {e}"))?;
        let shown = progress.map(|p| tokio::spawn(show_progress(p)));
        let report = client.sync_once(&doc, args.until, timeout).await;
        if let Some(shown) = shown {
            shown.abort();
            eprint!("\r\x1b[2K");
        }
        let report = report?;
        // Make sure a file exists even when nothing changed (an empty doc).
        if !args.file.exists() {
            store.write_atomically(&doc.save())?;
        }
        let heads: Vec<String> = doc
            .heads()
            .iter()
            .map(|h| h.to_string()[..12].to_owned())
            .collect();
        println!(
            "{}",
            describe_report(&args.file, &report, args.until, &heads)
        );
        return Ok(());
    }
    let cancel = CancellationToken::new();
    let (status_tx, mut status_rx) = tokio::sync::watch::channel(ConnectionStatus::Connecting);
    let mut task = {
        let (doc, cancel, client) = (doc.clone(), cancel.clone(), client.clone());
        let options = LiveOptions {
            cancel,
            status: status_tx,
            store: None,
            wake: None,
        };
        // Stops by itself when retrying cannot help (refused token, deleted
        // document, …); other failures are reported below and retried.
        tokio::spawn(async move { client.follow(&doc, options).await })
    };
    let reporter = tokio::spawn(async move {
        while status_rx.changed().await.is_ok() {
            let status = status_rx.borrow_and_update().clone();
            eprintln!(
                "tandem: {}",
                serde_json::to_string(&status).unwrap_or_default()
            );
        }
    });
    let ended = tokio::select! {
        _ = wait_for_signal() => None,
        ended = &mut task => Some(ended),
    };
    cancel.cancel();
    let ended = match ended {
        Some(ended) => ended,
        None => task.await,
    };
    reporter.abort();
    doc.compact_now();
    ended.map_err(|e| format!("the sync task failed: {e}"))??;
    Ok(())
}

/// The one line a one-shot sync prints: what moved each way, and what the
/// termination check established.
fn describe_report(
    file: &std::path::Path,
    report: &tandem::client::SyncReport,
    until: Until,
    heads: &[String],
) -> String {
    let plural = |n: usize| if n == 1 { "change" } else { "changes" };
    let pushed = match report.pushed {
        Some(n) => format!("pushed {n} {}", plural(n)),
        None => "pushed what the server lacked".to_owned(),
    };
    let pulled = format!("pulled {} {}", report.pulled, plural(report.pulled));
    let file_state = if report.changed {
        "file updated"
    } else {
        "file unchanged"
    };
    let agreement = match until {
        Until::HeadsEqual => "the server holds the same",
        Until::HasRemoteHeads => "the file holds all the server had; it holds",
    };
    format!(
        "synced {} with {}: {pushed}, {pulled} ({file_state}); {agreement} {} {} (heads {})",
        file.display(),
        report.url,
        report.total,
        plural(report.total),
        heads.join(",")
    )
}

/// Rewrites one terminal line with what the sync has moved so far, five
/// times a second, until aborted.
async fn show_progress(progress: Arc<tandem::client::SyncProgress>) {
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        eprint!("\r\x1b[2K{}", progress_line(&progress, started.elapsed()));
    }
}

/// `syncing… ↓ 12.4 MB in 40 messages · ↑ 1.2 KB · 3 s`
fn progress_line(progress: &tandem::client::SyncProgress, elapsed: Duration) -> String {
    format!(
        "syncing… ↓ {} in {} message{} · ↑ {} · {} s",
        human_bytes(progress.bytes_in()),
        progress.messages_in(),
        if progress.messages_in() == 1 { "" } else { "s" },
        human_bytes(progress.bytes_out()),
        elapsed.as_secs()
    )
}

/// 1234567 → "1.2 MB".
fn human_bytes(n: u64) -> String {
    match n {
        0..1_000 => format!("{n} B"),
        1_000..1_000_000 => format!("{:.1} KB", n as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", n as f64 / 1e6),
        _ => format!("{:.2} GB", n as f64 / 1e9),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_says_what_moved() {
        let progress = tandem::client::SyncProgress::default();
        assert_eq!(
            progress_line(&progress, Duration::from_secs(0)),
            "syncing… ↓ 0 B in 0 messages · ↑ 0 B · 0 s"
        );
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(12_345), "12.3 KB");
        assert_eq!(human_bytes(29_400_000), "29.4 MB");
        assert_eq!(human_bytes(3_000_000_000), "3.00 GB");
    }
}
