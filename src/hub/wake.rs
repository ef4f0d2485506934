//! The coalescing wake-up of a document's subscribers.
//!
//! Every durable write moves a version counter that the document's
//! connections wait on. Moving it on every write makes a burst cost
//! O(connections × writes): each connection wakes, looks at the document and
//! may send, once per write. [`Waker`] moves it at once for a write after a
//! quiet spell (a lone edit reaches every peer without delay), but during a
//! burst — each write beginning less than [`QUIET`] after the previous one
//! ended — at most once per
//! [`BURST_WINDOW`]: the writes in between are announced together at the end
//! of the window, so each connection wakes once for all of them and sends
//! one message carrying everything its peer lacks.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

/// A write this long after the previous one wakes subscribers at once.
pub const QUIET: Duration = Duration::from_millis(1);

/// During a burst, subscribers wake at most once per this window.
pub const BURST_WINDOW: Duration = Duration::from_millis(3);

/// When the last writes and wake-ups happened.
#[derive(Debug)]
struct Times {
    last_write: Option<Instant>,
    last_wake: Option<Instant>,
    quiet: Duration,
    window: Duration,
}

/// What the waker and its scheduled wake-up share.
#[derive(Debug)]
struct Shared {
    version: watch::Sender<u64>,
    times: Mutex<Times>,
    /// A wake-up is scheduled for the end of the current window.
    pending: AtomicBool,
}

impl Shared {
    fn times(&self) -> std::sync::MutexGuard<'_, Times> {
        self.times.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The version counter behind `Document::subscribe`, moved by [`Waker::wrote`].
#[derive(Debug)]
pub(crate) struct Waker {
    shared: Arc<Shared>,
}

impl Default for Waker {
    fn default() -> Self {
        Self {
            shared: Arc::new(Shared {
                version: watch::channel(0).0,
                times: Mutex::new(Times {
                    last_write: None,
                    last_wake: None,
                    quiet: QUIET,
                    window: BURST_WINDOW,
                }),
                pending: AtomicBool::new(false),
            }),
        }
    }
}

impl Waker {
    /// A receiver that sees the version move (see the module docs for when).
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.version.subscribe()
    }

    /// How many receivers are watching.
    pub(crate) fn receiver_count(&self) -> usize {
        self.shared.version.receiver_count()
    }

    /// Wakes every subscriber now (deletion).
    pub(crate) fn wake_now(&self) {
        self.shared.version.send_modify(|v| *v += 1);
    }

    /// A durable write that began at `started` is done: wake subscribers
    /// now, or at the end of the current burst window.
    pub(crate) fn wrote(&self, started: Instant) {
        let shared = &self.shared;
        if shared.pending.load(Ordering::Acquire) {
            return; // The scheduled wake-up covers this write too.
        }
        let now = Instant::now();
        let wait = {
            let mut times = shared.times();
            let (quiet_for, window) = (times.quiet, times.window);
            // Quiet: the write began a while after the previous one ended
            // (a slow write alone is not a burst).
            let quiet = times.last_write.is_none_or(|t| started >= t + quiet_for);
            times.last_write = Some(now);
            let window_over = times.last_wake.is_none_or(|t| now >= t + window);
            if quiet || window_over {
                times.last_wake = Some(now);
                None
            } else {
                times.last_wake.map(|t| t + window)
            }
        };
        match wait {
            None => self.wake_now(),
            Some(at) => self.wake_at(at),
        }
    }

    /// One wake-up at `at`, however many writes ask for it.
    fn wake_at(&self, at: Instant) {
        let shared = &self.shared;
        if shared.pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            // No runtime (a plain thread): wake now rather than never.
            shared.pending.store(false, Ordering::Release);
            self.wake_now();
            return;
        };
        let shared = Arc::clone(shared);
        runtime.spawn(async move {
            tokio::time::sleep_until(at).await;
            shared.times().last_wake = Some(Instant::now());
            // Cleared before the version moves, so a write after this point
            // schedules (or makes) a wake-up of its own.
            shared.pending.store(false, Ordering::Release);
            shared.version.send_modify(|v| *v += 1);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use automerge::transaction::Transactable;

    fn open() -> Arc<crate::Document> {
        let hub = crate::Hub::new(Arc::new(MemoryStore::new()));
        let doc = hub
            .open(&crate::DocId::parse("wake").expect("id"))
            .expect("open");
        // The hub may go: the document keeps what it needs.
        doc
    }

    fn put(doc: &crate::Document, i: i64) {
        doc.change(|tx| tx.put(automerge::ROOT, "k", i))
            .expect("change");
    }

    #[tokio::test]
    async fn a_burst_of_writes_wakes_a_subscriber_a_bounded_number_of_times() {
        let doc = open();
        let rx = doc.subscribe();
        const WRITES: usize = 400;
        let started = std::time::Instant::now();
        for i in 0..WRITES {
            put(&doc, i as i64);
        }
        let elapsed = started.elapsed();
        // The last writes are announced at the end of the window.
        tokio::time::sleep(BURST_WINDOW * 3).await;
        let wakes = *rx.borrow() as usize;
        // Each wake-up is either the first after a quiet spell (which took
        // QUIET of the elapsed time) or the first of a window: at most this
        // many, however fast or slow the machine.
        let bound = 2 + 2 * (elapsed.as_micros() / QUIET.as_micros()) as usize;
        assert!(
            wakes <= bound.min(WRITES / 2),
            "{WRITES} writes in {elapsed:?} woke subscribers {wakes} times (bound {bound})"
        );
        assert!(wakes >= 1, "the burst was announced");
        // Every write was announced: the heads a woken subscriber reads
        // include the last one.
        assert_eq!(doc.read(|d| d.get_changes(&[]).len()), WRITES);
    }

    #[tokio::test]
    async fn a_write_after_a_quiet_spell_wakes_at_once_and_a_burst_is_announced_at_its_end() {
        let doc = open();
        let mut rx = doc.subscribe();
        put(&doc, 1);
        assert!(
            rx.has_changed().expect("open"),
            "a lone write wakes at once"
        );
        rx.borrow_and_update();
        // A second write right after: announced within the window, not lost.
        put(&doc, 2);
        put(&doc, 3);
        tokio::time::timeout(BURST_WINDOW * 20, rx.changed())
            .await
            .expect("announced at the end of the window")
            .expect("open");
        tokio::time::sleep(QUIET * 5).await;
        rx.borrow_and_update();
        put(&doc, 4);
        assert!(rx.has_changed().expect("open"), "quiet again: at once");
    }
}
