//! Where a command reads a document from: a URL (fetched by a one-shot
//! sync into memory) or a `.automerge` file.

use std::sync::Arc;
use std::time::Duration;

use automerge::Automerge;
use clap::Args;

use super::limits::LimitArgs;
use super::remote::{parse_doc_url, RemoteArgs};
use super::CliError;
use tandem::client::SyncClient;
use tandem::hub::Hub;
use tandem::protocol::Until;
use tandem::store::MemoryStore;

/// A document URL or file, with what fetching it needs.
#[derive(Debug, Args)]
pub(crate) struct SourceArgs {
    /// A document URL (fetched by a one-shot sync) or a .automerge file.
    pub(crate) source: String,
    /// Give up after this many seconds (URLs only).
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    timeout: f64,
    #[command(flatten)]
    remote: RemoteArgs,
    #[command(flatten)]
    limits: LimitArgs,
}

impl SourceArgs {
    /// The document, whole (with its history).
    pub(crate) async fn load(&self) -> Result<Automerge, CliError> {
        if self.source.starts_with("http://") || self.source.starts_with("https://") {
            let (url, id) = parse_doc_url(&self.source)?;
            let hub = Hub::with_limits(Arc::new(MemoryStore::new()), self.limits.limits());
            let doc = hub.open(&id)?;
            let client = SyncClient::new(self.remote.client_config(&url)?)?;
            let timeout = Duration::try_from_secs_f64(self.timeout)
                .map_err(|e| format!("bad --timeout: {e}"))?;
            client
                .sync_once(&doc, Until::HasRemoteHeads, timeout)
                .await?;
            Ok(doc.read(|d| d.clone()))
        } else {
            let bytes = std::fs::read(&self.source)
                .map_err(|e| format!("cannot read {}: {e}", self.source))?;
            tandem::protocol::guard::check_saved(&bytes, &self.limits.limits())
                .map_err(|e| format!("{} was not loaded: {e}", self.source))?;
            Ok(Automerge::load(&bytes)
                .map_err(|e| format!("{} is not an Automerge document: {e}", self.source))?)
        }
    }
}
