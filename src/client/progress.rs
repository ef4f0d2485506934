//! What a running sync has moved so far, readable from another task while it
//! runs (the CLI's progress line, a UI's progress bar).

use std::sync::atomic::{AtomicU64, Ordering};

/// Counters of one client's sync traffic (sync message bytes, before any
/// transfer compression).
#[derive(Debug, Default)]
pub struct SyncProgress {
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    messages_in: AtomicU64,
}

impl SyncProgress {
    /// Bytes of sync messages received.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in.load(Ordering::Relaxed)
    }

    /// Bytes of lines sent.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out.load(Ordering::Relaxed)
    }

    /// Sync messages received.
    pub fn messages_in(&self) -> u64 {
        self.messages_in.load(Ordering::Relaxed)
    }

    pub(crate) fn received(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
        self.messages_in.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn sent(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }
}
