//! How costly a document is to change, so that work on a costly one leaves
//! the async runtime.
//!
//! With automerge 0.12, applying even one received change walks the whole
//! object it touches (automerge #1042): 12 ms on a 50,000-change text, 35–50
//! ms on the editing trace. Done on a runtime worker, that stalls every other
//! connection and document the worker serves (a 2-core machine has two).
//! A document remembers when a write (or its load) last took [`SLOW_WRITE`]
//! or more; for [`SLOW_FOR`] after that, the drivers of its links hand their
//! work to the blocking pool (`spawn_blocking`) instead of doing it in
//! place. Cheap documents keep the in-place path, which is a few
//! microseconds faster.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A write that takes this long marks its document as slow to change.
pub const SLOW_WRITE: Duration = Duration::from_millis(1);

/// How long one slow write keeps its document marked slow.
pub const SLOW_FOR: Duration = Duration::from_secs(10);

/// When a document's writes were last slow.
#[derive(Debug)]
pub(crate) struct WriteCost {
    /// The clock's origin: when the document was opened.
    origin: Instant,
    /// Microseconds after `origin` until which the document counts as slow;
    /// 0 if no write was ever slow.
    slow_until_us: AtomicU64,
}

impl Default for WriteCost {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
            slow_until_us: AtomicU64::new(0),
        }
    }
}

impl WriteCost {
    /// Notes that a write that ended just now took `took`.
    pub(crate) fn wrote(&self, took: Duration) {
        if took >= SLOW_WRITE {
            let until = self.origin.elapsed() + SLOW_FOR;
            let until_us = u64::try_from(until.as_micros()).unwrap_or(u64::MAX);
            self.slow_until_us.store(until_us, Ordering::Relaxed);
        }
    }

    /// Whether a write took [`SLOW_WRITE`] or more in the last [`SLOW_FOR`].
    pub(crate) fn is_slow(&self) -> bool {
        let until = self.slow_until_us.load(Ordering::Relaxed);
        until > 0 && u128::from(until) > self.origin.elapsed().as_micros()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_write_marks_the_document_slow_and_quick_ones_do_not() {
        let cost = WriteCost::default();
        assert!(!cost.is_slow());
        cost.wrote(Duration::from_micros(200));
        assert!(!cost.is_slow(), "a quick write");
        cost.wrote(SLOW_WRITE);
        assert!(cost.is_slow());
        cost.wrote(Duration::from_micros(10));
        assert!(
            cost.is_slow(),
            "a quick write does not clear it: the next may be slow again"
        );
    }
}
