//! The running core that the commands share: a [`Node`] started by the
//! core's builder (store, service, embedded server, LAN on demand), and the
//! open sync sessions of the UI.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tandem::node::{desktop, Listen, Node, NodeError};
use tandem::service::sessions::Sessions;
use tandem::service::Service;
use tauri::async_runtime::JoinHandle;

/// The longest the app waits at exit for [`Desktop::shutdown`] (server
/// drain ≤ 10 s, then remotes and UI sessions ≤ 5 s, then the flush).
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

/// The core as the desktop app runs it (managed Tauri state).
pub struct Desktop {
    /// Every task of the running core.
    pub node: Node,
    /// The UI-facing operations.
    pub service: Arc<Service>,
    /// The UI's sync sessions.
    pub sessions: Arc<Sessions>,
    /// Where the documents are kept.
    pub data_dir: std::path::PathBuf,
    relay: Mutex<Option<JoinHandle<()>>>,
}

impl Desktop {
    /// Starts the core over `data_dir` as [`desktop::builder`] says. Must
    /// run inside the Tokio runtime.
    pub async fn start(data_dir: &Path, listen: Listen) -> Result<Self, NodeError> {
        let node = desktop::builder(data_dir, listen).start().await?;
        tracing::info!(data_dir = %data_dir.display(), listen = %node.url(), "Tandem core started");
        Ok(Self {
            service: node.service().clone(),
            node,
            sessions: Arc::default(),
            data_dir: data_dir.to_owned(),
            relay: Mutex::new(None),
        })
    }

    /// Keeps the task relaying service events to the UI, to stop it at shutdown.
    pub fn set_event_relay(&self, relay: JoinHandle<()>) {
        let old = self
            .relay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(relay);
        if let Some(old) = old {
            old.abort();
        }
    }

    /// Ends the UI's sessions and the event relay, then stops the core in
    /// its one order. Safe to call more than once.
    pub async fn shutdown(&self) {
        self.sessions.close_all();
        let relay = self
            .relay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(relay) = relay {
            relay.abort();
        }
        self.node.stop().await;
        tracing::info!("Tandem core stopped");
    }
}
