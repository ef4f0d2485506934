//! `tandem cat URL|FILE`: print a document as pretty JSON.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::limits::LimitArgs;
use super::remote::{parse_doc_url, RemoteArgs};
use super::CliError;
use crate::client::SyncClient;
use crate::hub::Hub;
use crate::protocol::Until;
use crate::store::MemoryStore;

/// Flags of `tandem cat`.
#[derive(Debug, Args)]
pub(crate) struct CatArgs {
    /// A document URL (fetched by a one-shot sync) or a .automerge file.
    source: String,
    /// Give up after this many seconds (URLs only).
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    timeout: f64,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

pub(crate) async fn run(args: CatArgs) -> Result<(), CliError> {
    let json = if args.source.starts_with("http://") || args.source.starts_with("https://") {
        let (url, id) = parse_doc_url(&args.source)?;
        let hub = Hub::with_limits(Arc::new(MemoryStore::new()), args.limits.limits());
        let doc = hub.open(&id)?;
        let client = SyncClient::new(args.remote.client_config(&url)?)?;
        let timeout =
            Duration::try_from_secs_f64(args.timeout).map_err(|e| format!("bad --timeout: {e}"))?;
        client
            .sync_once(&doc, Until::HasRemoteHeads, timeout)
            .await?;
        doc.to_json()
    } else {
        let bytes =
            std::fs::read(&args.source).map_err(|e| format!("cannot read {}: {e}", args.source))?;
        crate::protocol::guard::check_saved(&bytes, &args.limits.limits())
            .map_err(|e| format!("{} was not loaded: {e}", args.source))?;
        let doc = automerge::Automerge::load(&bytes)
            .map_err(|e| format!("{} is not an Automerge document: {e}", args.source))?;
        serde_json::to_value(automerge::AutoSerde::from(&doc))?
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
