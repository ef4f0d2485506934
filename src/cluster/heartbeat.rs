//! The task that keeps this node and its leases alive.

use std::sync::Arc;

use super::Cluster;

/// Renews every third of the lease time until the cluster's stop token fires.
pub(super) async fn run(cluster: Arc<Cluster>) {
    let period = cluster.ttl / 3;
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
