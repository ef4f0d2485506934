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
            "synced {} with {} ({}; heads {})",
            args.file.display(),
            report.url,
            if report.changed {
                "changed"
            } else {
                "unchanged"
            },
            heads.join(",")
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
