//! Sync activity (what Syncthing shows for folders and devices): every
//! connection in and out, and for each open document a short history of how
//! many changes and bytes it took in, sampled every few seconds for the last
//! minutes.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::doc_id::DocId;
use crate::hub::activity::ActivityTotals;
use crate::hub::{ConnectionInfo, Hub};

/// How often the totals are sampled.
pub(crate) const SAMPLE_EVERY: Duration = Duration::from_secs(5);
/// How many samples are kept per document (five minutes).
pub(crate) const SAMPLES_KEPT: usize = 60;

/// One interval of a document's activity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ts_rs::TS)]
pub struct Rate {
    /// End of the interval, ms since the Unix epoch.
    pub at_ms: u64,
    /// Changes per second over the interval.
    pub changes_per_s: f64,
    /// Bytes per second over the interval.
    pub bytes_per_s: f64,
}

/// One open document's activity.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DocActivity {
    /// The document.
    pub id: DocId,
    /// Its title, if any.
    pub title: Option<String>,
    /// Changes and bytes taken in since it was opened.
    pub totals: ActivityTotals,
    /// Rates over the last minutes, oldest first.
    pub rates: Vec<Rate>,
    /// Connections into this instance on it.
    pub incoming: Vec<ConnectionInfo>,
}

/// The samples of every document seen open.
#[derive(Debug, Default)]
pub(crate) struct ActivityLog {
    samples: Mutex<HashMap<DocId, VecDeque<(u64, ActivityTotals)>>>,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl ActivityLog {
    /// Samples `hub`'s open documents every [`SAMPLE_EVERY`] until `shutdown`.
    pub(crate) fn spawn(
        hub: Arc<Hub>,
        tasks: &TaskTracker,
        shutdown: CancellationToken,
    ) -> Arc<Self> {
        let log = Arc::new(Self::default());
        let sampler = Arc::clone(&log);
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(SAMPLE_EVERY);
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tick.tick() => sampler.sample(&hub, now_ms()),
                }
            }
        });
        log
    }

    /// Records the totals of every open document at `at_ms`; forgets
    /// documents no longer open.
    pub(crate) fn sample(&self, hub: &Hub, at_ms: u64) {
        let open = hub.open_docs();
        let mut samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        samples.retain(|id, _| open.iter().any(|d| d.id() == id));
        for doc in open {
            let series = samples.entry(doc.id().clone()).or_default();
            series.push_back((at_ms, doc.activity()));
            while series.len() > SAMPLES_KEPT + 1 {
                series.pop_front();
            }
        }
    }

    /// Every open document's activity.
    pub(crate) fn report(&self, hub: &Hub) -> Vec<DocActivity> {
        let samples = self.samples.lock().unwrap_or_else(|p| p.into_inner());
        let mut docs: Vec<DocActivity> = hub
            .open_docs()
            .into_iter()
            .map(|doc| DocActivity {
                id: doc.id().clone(),
                title: doc.read(crate::hub::title_of),
                totals: doc.activity(),
                rates: samples.get(doc.id()).map(rates).unwrap_or_default(),
                incoming: doc.connection_infos(),
            })
            .collect();
        docs.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
        docs
    }
}

/// Rates between consecutive samples.
fn rates(series: &VecDeque<(u64, ActivityTotals)>) -> Vec<Rate> {
    series
        .iter()
        .zip(series.iter().skip(1))
        .map(|((t0, a), (t1, b))| {
            let secs = (t1.saturating_sub(*t0) as f64 / 1000.0).max(0.001);
            Rate {
                at_ms: *t1,
                changes_per_s: b.changes.saturating_sub(a.changes) as f64 / secs,
                bytes_per_s: b.bytes.saturating_sub(a.bytes) as f64 / secs,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use automerge::transaction::Transactable;

    #[test]
    fn samples_become_rates_per_document_and_closed_documents_are_forgotten() {
        let hub = Hub::new(Arc::new(MemoryStore::new()));
        let log = ActivityLog::default();
        let doc = hub.open(&DocId::parse("notes").unwrap()).unwrap();
        log.sample(&hub, 10_000);
        for i in 0..10 {
            doc.change(|tx| tx.put(automerge::ROOT, "n", i as i64))
                .unwrap();
        }
        log.sample(&hub, 15_000);
        let report = log.report(&hub);
        assert_eq!(report.len(), 1);
        assert_eq!(report[0].totals.changes, 10);
        assert!(report[0].totals.bytes > 0);
        assert_eq!(report[0].rates.len(), 1);
        assert_eq!(report[0].rates[0].changes_per_s, 2.0, "10 changes in 5 s");
        assert_eq!(report[0].rates[0].at_ms, 15_000);
        drop(doc);
        log.sample(&hub, 20_000);
        assert!(log.report(&hub).is_empty());
        assert!(log.samples.lock().unwrap().is_empty());
    }
}
