//! The running core that the commands share: the service, its embedded sync
//! server, and the open sync sessions of the UI.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tandem::hub::Hub;
use tandem::server::tokens::{owner_token_in, ListeningRecord};
use tandem::server::{self, RunningServer, ServerConfig, ServerError};
use tandem::service::{Service, ServiceOptions};
use tandem::share::SharePolicy;
use tandem::store::{Durability, SqliteStore, StoreError};
use tauri::async_runtime::JoinHandle;

use crate::lan::Lan;
use crate::sessions::Sessions;
use tandem::discovery::peers::Peers;
use tandem::tls::Identity;

/// The port the embedded server tries first, so that other Tandem instances
/// and tools find it; the next ones are tried when it is taken.
pub const DEFAULT_PORT: u16 = 7450;
/// How many ports from [`DEFAULT_PORT`] on are tried.
pub const PORT_ATTEMPTS: u16 = 20;
/// The setting that keeps the port the embedded server had, so it keeps it
/// across launches (peers and scripts rely on it).
const PORT_SETTING: &str = "desktop.port";
/// The longest the app waits at exit for [`Desktop::shutdown`] (server
/// drain ≤ 10 s, then remotes and UI sessions ≤ 5 s, then the flush).
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

/// Where the embedded sync server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listen {
    /// The first free port of `127.0.0.1:7450..7470`.
    Default,
    /// Exactly this address (`TANDEM_LISTEN`; port 0 picks a free one).
    Exactly(SocketAddr),
}

/// Why the core could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The document store could not be opened.
    #[error("cannot open the document store in {dir}: {source}")]
    Store {
        /// The data directory.
        dir: String,
        /// Why.
        #[source]
        source: StoreError,
    },
    /// The TLS identity for LAN peers could not be made or read.
    #[error("cannot set up the TLS certificate for LAN peers: {0}")]
    Identity(#[from] tandem::tls::TlsError),
}

/// The core as the desktop app runs it (managed Tauri state).
pub struct Desktop {
    /// The UI-facing operations.
    pub service: Arc<Service>,
    /// The UI's sync sessions.
    pub sessions: Arc<Sessions>,
    /// The embedded server's URL, or why there is none.
    pub listen: String,
    /// Where the documents are kept.
    pub data_dir: std::path::PathBuf,
    /// Presence on the local network (while something is shared).
    pub lan: Arc<Lan>,
    server: Mutex<Option<RunningServer>>,
    /// `server.json` in the data dir, so the CLI finds the owner token's server.
    record: Mutex<Option<ListeningRecord>>,
    relay: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Desktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desktop")
            .field("listen", &self.listen)
            .finish_non_exhaustive()
    }
}

impl Desktop {
    /// Opens the store in `data_dir`, starts the service and the embedded
    /// server. Without a free port the app still works locally (and says so
    /// in `listen`). Must run inside the Tokio runtime.
    pub async fn start(data_dir: &Path, listen: Listen) -> Result<Self, StartError> {
        let store = SqliteStore::open_dir(data_dir, Durability::Process).map_err(|source| {
            StartError::Store {
                dir: data_dir.display().to_string(),
                source,
            }
        })?;
        // A personal app: documents stay private until the user shares them.
        let options = ServiceOptions {
            default_share: SharePolicy::Private,
        };
        let store: Arc<dyn tandem::store::Store> = Arc::new(store);
        let service = Service::start_with(Hub::new(store.clone()), options);
        // LAN peers: our certificate (made once, kept) and the peer list.
        let identity = Identity::self_signed_in(data_dir)?;
        let peers = Peers::new(identity.fingerprint().to_string(), store).map_err(|source| {
            StartError::Store {
                dir: data_dir.display().to_string(),
                source,
            }
        })?;
        service.attach_peers(peers.clone());
        let lan = Lan::new(service.clone(), peers, identity);
        lan.watch();
        // Owner rights on the embedded server need the owner token (the app
        // itself uses IPC; the CLI finds the token through server.json).
        let owner_token = owner_token_in(data_dir).map_err(|source| StartError::Store {
            dir: data_dir.display().to_string(),
            source: StoreError::Io {
                op: "create the owner token",
                path: data_dir
                    .join(tandem::server::tokens::OWNER_TOKEN_FILE)
                    .display()
                    .to_string(),
                source,
            },
        })?;
        let mut record = None;
        let store = service.hub().store();
        let kept_port = store
            .get_setting(PORT_SETTING)
            .ok()
            .flatten()
            .and_then(|p| p.parse::<u16>().ok());
        let (server, listen) = match serve(&service, listen, kept_port, &owner_token).await {
            Ok(running) => {
                if let Listen::Default = listen {
                    let port = running.local_addr().port().to_string();
                    if let Err(e) = store.put_setting(PORT_SETTING, Some(&port)) {
                        tracing::warn!(error = %e, "cannot keep the server's port for the next launch");
                    }
                }
                let url = running.url();
                record = ListeningRecord::write(data_dir, std::slice::from_ref(&url))
                    .inspect_err(|e| tracing::warn!(error = %e, "cannot write server.json"))
                    .ok();
                (Some(running), url)
            }
            Err(e) => {
                tracing::error!(error = %e, "the embedded sync server is not running");
                (None, format!("not listening ({e})"))
            }
        };
        tracing::info!(data_dir = %data_dir.display(), %listen, "Tandem core started");
        Ok(Self {
            service,
            sessions: Arc::default(),
            listen,
            data_dir: data_dir.to_owned(),
            lan,
            server: Mutex::new(server),
            record: Mutex::new(record),
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

    /// Ends the UI's sessions, stops the server (draining its streams), stops
    /// remotes and flushes the store. Safe to call more than once.
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
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.lan.stop().await;
        if let Some(server) = server {
            server.shutdown().await;
        }
        drop(
            self.record
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(),
        );
        self.service.shutdown().await;
        // Remotes may have written after the server's flush.
        if let Err(e) = self.service.hub().flush() {
            tracing::error!(error = %e, "flushing the store at exit failed");
        }
        tracing::info!("Tandem core stopped");
    }
}

/// Starts the embedded server on `listen`; by default on the port it had
/// last time (`kept_port`), else the first free default port.
async fn serve(
    service: &Arc<Service>,
    listen: Listen,
    kept_port: Option<u16>,
    owner_token: &str,
) -> Result<RunningServer, ServerError> {
    let start = |addr| {
        let mut config = ServerConfig::plain(addr);
        config.options.owner_token = Some(owner_token.to_owned());
        server::start_with_service(config, service.clone())
    };
    if let Listen::Exactly(addr) = listen {
        return start(addr).await;
    }
    if let Some(port) = kept_port {
        match start(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(running) => return Ok(running),
            Err(e) => {
                tracing::warn!(port, error = %e, "the port of the last launch is taken; trying the default ports")
            }
        }
    }
    let mut port = DEFAULT_PORT;
    loop {
        match start(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
            Ok(running) => return Ok(running),
            Err(e) if port + 1 < DEFAULT_PORT + PORT_ATTEMPTS => {
                tracing::debug!(error = %e, "port taken, trying the next one");
                port += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let first = Desktop::start(dir.path(), Listen::Default).await.unwrap();
        let port: u16 = first.listen.rsplit(':').next().unwrap().parse().unwrap();
        assert_ne!(port, held.local_addr().unwrap().port());
        let store = first.service.hub().store();
        assert_eq!(
            store.get_setting(PORT_SETTING).unwrap(),
            Some(port.to_string())
        );
        let service = first.service.clone();
        first.shutdown().await;
        // The next launch: the port the first one could not have is free
        // now, yet the server comes back where it was.
        drop(held);
        let kept = store
            .get_setting(PORT_SETTING)
            .unwrap()
            .map(|p| p.parse().unwrap());
        let second = serve(&service, Listen::Default, kept, "owner")
            .await
            .unwrap();
        assert_eq!(second.local_addr().port(), port);
        second.shutdown().await;
    }
}
