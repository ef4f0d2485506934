//! `tandem sync URL --file F`: one-shot or live sync of a local file.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio_util::sync::CancellationToken;

use super::limits::LimitArgs;
use super::remote::{parse_doc_url, RemoteArgs};
use super::serve::wait_for_signal;
use super::CliError;
use crate::client::{ConnectionStatus, LiveOptions, SyncClient};
use crate::hub::Hub;
use crate::protocol::Until;
use crate::store::FileStore;

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
    let client = SyncClient::new(args.remote.client_config(&url)?)?;
    if !args.follow {
        let timeout =
            Duration::try_from_secs_f64(args.timeout).map_err(|e| format!("bad --timeout: {e}"))?;
        let report = client.sync_once(&doc, args.until, timeout).await?;
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
    report: &crate::client::SyncReport,
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
