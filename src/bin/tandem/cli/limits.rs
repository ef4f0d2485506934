//! The `--max-change-bytes`, `--max-inflated-bytes` and `--max-chunks` flags
//! shared by the commands that take Automerge data from elsewhere.

use clap::Args;

use tandem::protocol::guard::{self, Limits};

/// What one sync message (or `.automerge` file) may hold; see [`Limits`].
#[derive(Debug, Clone, Args)]
pub(crate) struct LimitArgs {
    /// Largest single change or snapshot accepted, in bytes (as sent, compressed).
    #[arg(long, value_name = "BYTES", default_value_t = guard::DEFAULT_MAX_CHUNK_BYTES)]
    max_change_bytes: u64,
    /// Most bytes the compressed data of one sync message or file may inflate to.
    #[arg(long, value_name = "BYTES", default_value_t = guard::DEFAULT_MAX_INFLATED_BYTES)]
    max_inflated_bytes: u64,
    /// Most changes (chunks) in one sync message or file.
    #[arg(long, value_name = "N", default_value_t = guard::DEFAULT_MAX_CHUNKS)]
    max_chunks: usize,
}

impl LimitArgs {
    /// The limits these flags describe.
    pub(crate) fn limits(&self) -> Limits {
        Limits {
            max_chunk_bytes: self.max_change_bytes,
            max_inflated_bytes: self.max_inflated_bytes,
            max_chunks: self.max_chunks,
        }
    }
}
