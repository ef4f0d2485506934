//! The task that keeps this node and its leases alive.

use std::sync::Arc;
use std::time::Duration;

use super::Cluster;

/// The longest wait between heartbeats, whatever the lease time: the list
/// of live nodes that placement uses is refreshed at least this often.
const MAX_PERIOD: Duration = Duration::from_secs(2);

/// Renews every third of the lease time (at most [`MAX_PERIOD`]) until the
/// cluster's stop token fires.
pub(super) async fn run(cluster: Arc<Cluster>) {
    let period = (cluster.ttl / 3).min(MAX_PERIOD);
    loop {
        tokio::select! {
            _ = cluster.stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        let beat = Arc::clone(&cluster);
        match tokio::task::spawn_blocking(move || beat.beat_once()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cluster heartbeat failed; retrying"),
            Err(e) => tracing::error!(error = %e, "cluster heartbeat panicked"),
        }
    }
}
