//! The node as the desktop app runs it, configured from its environment:
//! `TANDEM_DATA_DIR` (else the folder the CLI uses too, adopting the app's
//! data folder of earlier versions once), `TANDEM_LISTEN` (an exact
//! address instead of the remembered port), `TANDEM_LAN_LISTEN` (where the
//! on-demand LAN listener binds). Documents stay private until shared.
//! [`Desktop`] is the running core that the app's commands share.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::task::AbortHandle;

use super::{LanPolicy, Listen, Node, NodeBuilder, NodeError};
use crate::service::answers::RemoteDeletion;
use crate::service::sessions::Sessions;
use crate::service::{Service, ServiceError, ServiceOptions};
use crate::share::SharePolicy;
use crate::store::location::{self, Adoption, DATA_DIR_ENV};
use crate::DocId;

/// The application's identifier (its D-Bus name without a data folder).
pub const APP_ID: &str = "dev.tandem.app";

/// A bad setting in the environment.
#[derive(Debug, thiserror::Error)]
#[error("bad {name} {value:?}: {reason}")]
pub struct EnvError {
    /// The variable.
    pub name: &'static str,
    /// Its value.
    pub value: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// `TANDEM_LISTEN` as an exact address, or the remembered port.
pub fn listen_from_env() -> Result<Listen, EnvError> {
    match std::env::var("TANDEM_LISTEN") {
        Ok(value) if !value.is_empty() => match value.parse() {
            Ok(addr) => Ok(Listen::Exactly(addr)),
            Err(e) => Err(EnvError {
                name: "TANDEM_LISTEN",
                value,
                reason: format!("{e}"),
            }),
        },
        _ => Ok(Listen::Remembered),
    }
}

/// `TANDEM_DATA_DIR`, or the folder the CLI uses too (`tandem docs` lists
/// the app's documents); the app's own folder of earlier versions
/// (`legacy`, e.g. `~/.local/share/dev.tandem.app`) is moved there once.
pub fn data_dir(legacy: Option<&Path>) -> PathBuf {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let dir = crate::store::default_data_dir();
    if let Some(legacy) = legacy {
        match location::adopt_legacy_dir(&dir, legacy) {
            Ok(Adoption::Moved { from }) => {
                tracing::info!(from = %from.display(), to = %dir.display(), "moved the app's documents to the shared data folder");
            }
            Ok(Adoption::Nothing) => {}
            Err(e) => {
                tracing::warn!(error = %e, legacy = %legacy.display(), "could not move the older data folder; its documents stay there")
            }
        }
    }
    dir
}

/// The D-Bus name that makes the app single-instance: [`APP_ID`], plus a
/// hash of `TANDEM_DATA_DIR` when that is set, so that apps on different
/// data folders (tests, a second profile) run side by side.
pub fn instance_id() -> String {
    match std::env::var_os(DATA_DIR_ENV) {
        Some(dir) if !dir.is_empty() => {
            // FNV-1a: stable across builds, unlike std's hasher.
            let hash = dir
                .as_encoded_bytes()
                .iter()
                .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                    (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
                });
            format!("{APP_ID}.data{hash:016x}")
        }
        _ => APP_ID.to_string(),
    }
}

/// The desktop app's node over `data_dir`: documents private until shared,
/// the server on loopback (`listen`; the app still works locally without a
/// free port), `server.json` written, on the LAN on demand
/// (`TANDEM_LAN_LISTEN`, else any free port of all interfaces).
pub fn builder(data_dir: &Path, listen: Listen) -> NodeBuilder {
    let lan_listen = std::env::var("TANDEM_LAN_LISTEN")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    NodeBuilder::new()
        .data_dir(data_dir)
        .service_options(ServiceOptions {
            default_share: SharePolicy::Private,
        })
        .listen(listen)
        .server_optional(true)
        .record_in_data_dir(true)
        .lan(LanPolicy::OnDemand { listen: lan_listen })
}

/// Resolves on SIGINT or SIGTERM (Ctrl-C on other platforms).
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// The longest the app waits at exit for [`Desktop::shutdown`] (server
/// drain ≤ 10 s, then remotes and UI sessions ≤ 5 s, then the flush).
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

/// The core as the desktop app runs it: a [`Node`] started by [`builder`]
/// (store, service, embedded server, LAN on demand), the UI's open sync
/// sessions, and the task relaying service events to the UI.
pub struct Desktop {
    /// Every task of the running core.
    pub node: Node,
    /// The UI-facing operations.
    pub service: Arc<Service>,
    /// The UI's sync sessions.
    pub sessions: Arc<Sessions>,
    /// Where the documents are kept.
    pub data_dir: PathBuf,
    relay: Mutex<Option<AbortHandle>>,
}

/// The answer to the app's `health` command, as `GET /_health` gives it.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `true`.
    pub ok: bool,
    /// Tandem's version.
    pub version: &'static str,
    /// The embedded sync server's URL (or why it is not running).
    pub listen: String,
    /// Where the documents are kept.
    pub data_dir: String,
}

impl Desktop {
    /// Starts the core over `data_dir` as [`builder`] says. Must run inside
    /// the Tokio runtime.
    pub async fn start(data_dir: &Path, listen: Listen) -> Result<Self, NodeError> {
        let node = builder(data_dir, listen).start().await?;
        tracing::info!(data_dir = %data_dir.display(), listen = %node.url(), "Tandem core started");
        Ok(Self {
            service: node.service().clone(),
            node,
            sessions: Arc::default(),
            data_dir: data_dir.to_owned(),
            relay: Mutex::new(None),
        })
    }

    /// Keeps the task relaying service events to the UI, to stop it at
    /// shutdown (an earlier one is stopped now).
    pub fn set_event_relay(&self, relay: AbortHandle) {
        if let Some(old) = self.take_relay() {
            old.abort();
        }
        *self.relay.lock().unwrap_or_else(PoisonError::into_inner) = Some(relay);
    }

    fn take_relay(&self) -> Option<AbortHandle> {
        self.relay
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// Liveness, version and where the embedded server listens.
    pub fn health(&self) -> Health {
        Health {
            ok: true,
            version: crate::VERSION,
            listen: self.node.url(),
            data_dir: self.data_dir.display().to_string(),
        }
    }

    /// Deletes a document here (leaving a tombstone so no peer brings it
    /// back); with `everywhere`, also on every server it syncs with.
    pub async fn delete_doc(
        &self,
        id: &DocId,
        everywhere: bool,
    ) -> Result<Vec<RemoteDeletion>, ServiceError> {
        if !everywhere {
            self.service.delete_doc(id)?;
            return Ok(Vec::new());
        }
        let outcomes = self.service.delete_doc_everywhere(id).await?;
        let outcomes = outcomes.into_iter();
        Ok(outcomes
            .map(|(url, r)| RemoteDeletion::new(url, r))
            .collect())
    }

    /// Ends the UI's sessions and the event relay, then stops the core in
    /// its one order. Safe to call more than once.
    pub async fn shutdown(&self) {
        self.sessions.close_all();
        if let Some(relay) = self.take_relay() {
            relay.abort();
        }
        self.node.stop().await;
        tracing::info!("Tandem core stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{DEFAULT_PORT, PORT_ATTEMPTS, PORT_SETTING};

    /// Binds the first free port of the default range, so the node has to
    /// take another one.
    fn hold_first_free_default_port() -> std::net::TcpListener {
        (DEFAULT_PORT..DEFAULT_PORT + PORT_ATTEMPTS)
            .find_map(|port| std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port)).ok())
            .expect("a free port in the default range")
    }

    #[tokio::test]
    async fn the_desktop_server_keeps_its_port_across_launches() {
        std::env::set_var("TANDEM_NO_MDNS", "1");
        let dir = tempfile::tempdir().unwrap();
        let held = hold_first_free_default_port();
        let first = builder(dir.path(), Listen::Remembered)
            .start()
            .await
            .unwrap();
        let port = first.local_addr().unwrap().port();
        assert_ne!(port, held.local_addr().unwrap().port());
        assert_eq!(
            first.hub().store().get_setting(PORT_SETTING).unwrap(),
            Some(port.to_string())
        );
        first.shutdown().await;
        // The next launch: the port the first one could not have is free
        // now, yet the server comes back where it was.
        drop(held);
        let second = builder(dir.path(), Listen::Remembered)
            .start()
            .await
            .unwrap();
        assert_eq!(second.local_addr().unwrap().port(), port);
        second.shutdown().await;
    }
}
