//! The one place where domain events become UI events: [`forward`] relays
//! [`ServiceEvent`]s to every webview as the `docs-changed`, `remote` and
//! `peers-changed` events that the UI listens for.

use tandem::service::ServiceEvent;
use tauri::{AppHandle, Emitter, Runtime};
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::task::AbortHandle;

/// The event carrying no payload: the document list changed.
pub const DOCS_CHANGED: &str = "docs-changed";
/// The event carrying a `RemoteInfo`: a remote connection changed state.
pub const REMOTE: &str = "remote";
/// The event carrying no payload: the LAN peer list changed.
pub const PEERS_CHANGED: &str = "peers-changed";

/// Relays `events` to the UI until the service goes away (or the task is aborted).
pub fn forward<R: Runtime>(
    app: AppHandle<R>,
    mut events: broadcast::Receiver<ServiceEvent>,
) -> AbortHandle {
    let relay = tauri::async_runtime::spawn(async move {
        loop {
            let emitted = match events.recv().await {
                Ok(ServiceEvent::DocsChanged) => app.emit(DOCS_CHANGED, ()),
                Ok(ServiceEvent::Remote { remote }) => app.emit(REMOTE, remote),
                Ok(ServiceEvent::PeersChanged) => app.emit(PEERS_CHANGED, ()),
                // Missed some: a refresh of the list makes up for them.
                Err(RecvError::Lagged(n)) => {
                    tracing::debug!(missed = n, "UI event relay lagged");
                    app.emit(DOCS_CHANGED, ())
                }
                Err(RecvError::Closed) => break,
            };
            if let Err(e) = emitted {
                tracing::warn!(error = %e, "could not emit a UI event");
            }
        }
    });
    relay.inner().abort_handle()
}
