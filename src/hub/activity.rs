//! How much a document has taken in: changes added and bytes stored, counted
//! as they are written (a sync activity view turns them into rates).

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Running totals of one document's writes since it was opened.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    changes: AtomicU64,
    bytes: AtomicU64,
}

/// A reading of [`Activity`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct ActivityTotals {
    /// Changes added (local edits and received ones).
    pub changes: u64,
    /// Bytes written to the store for them.
    pub bytes: u64,
}

impl Activity {
    /// Counts one stored write.
    pub(crate) fn wrote(&self, changes: usize, bytes: usize) {
        self.changes.fetch_add(changes as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// The totals now.
    pub(crate) fn totals(&self) -> ActivityTotals {
        ActivityTotals {
            changes: self.changes.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
        }
    }
}
