//! The running core that the commands share: a [`Node`] started by the
//! core's builder (store, service, embedded server, LAN on demand), and the
//! open sync sessions of the UI.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tandem::node::{LanPolicy, Listen, Node, NodeBuilder, NodeError};
use tandem::service::{Service, ServiceOptions};
use tandem::share::SharePolicy;
use tauri::async_runtime::JoinHandle;

use crate::sessions::Sessions;

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
    /// Starts the core over `data_dir`: documents private until shared, the
    /// embedded server on loopback (the app still works locally without a
    /// free port), on the LAN on demand (`TANDEM_LAN_LISTEN`, else any free
    /// port of all interfaces). Must run inside the Tokio runtime.
    pub async fn start(data_dir: &Path, listen: Listen) -> Result<Self, NodeError> {
        let lan_listen = std::env::var("TANDEM_LAN_LISTEN")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
        let node = NodeBuilder::new()
            .data_dir(data_dir)
            .service_options(ServiceOptions {
                default_share: SharePolicy::Private,
            })
            .listen(listen)
            .server_optional(true)
            .record_in_data_dir(true)
            .lan(LanPolicy::OnDemand { listen: lan_listen })
            .start()
            .await?;
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tandem::node::{DEFAULT_PORT, PORT_ATTEMPTS, PORT_SETTING};

    /// Binds the first free port of the default range, so the app has to
    /// take another one.
    fn hold_first_free_default_port() -> std::net::TcpListener {
        (DEFAULT_PORT..DEFAULT_PORT + PORT_ATTEMPTS)
            .find_map(|port| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok())
            .expect("a free port in the default range")
    }

    #[tokio::test]
    async fn the_embedded_server_keeps_its_port_across_launches() {
        std::env::set_var("TANDEM_NO_MDNS", "1");
        let dir = tempfile::tempdir().unwrap();
        let held = hold_first_free_default_port();
        let first = Desktop::start(dir.path(), Listen::Remembered)
            .await
            .unwrap();
        let port = first.node.local_addr().unwrap().port();
        assert_ne!(port, held.local_addr().unwrap().port());
        let store = first.service.hub().store().clone();
        assert_eq!(
            store.get_setting(PORT_SETTING).unwrap(),
            Some(port.to_string())
        );
        first.shutdown().await;
        drop(first);
        // The next launch: the port the first one could not have is free
        // now, yet the server comes back where it was.
        drop(held);
        drop(store);
        let second = Desktop::start(dir.path(), Listen::Remembered)
            .await
            .unwrap();
        assert_eq!(second.node.local_addr().unwrap().port(), port);
        second.shutdown().await;
    }
}
