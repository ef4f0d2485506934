//! This instance on the local network: a TLS listener beyond loopback that
//! serves the same documents (under their share policies), advertised by
//! mDNS, with what it discovers fed into the peer list. The desktop app runs
//! one only while something is shared or the user turns it on.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::mdns::{Mdns, MdnsError};
use super::peers::Peers;
use super::{disabled_by_env, identity, Advertisement};
use crate::server::{self, RunningServer, ServerConfig, ServerError, ServerOptions};
use crate::service::Service;
use crate::store::{Store, StoreError};
use crate::tls::{Fingerprint, Identity};

/// Why the LAN presence could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LanError {
    /// The listener could not start.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// mDNS could not start.
    #[error(transparent)]
    Mdns(#[from] MdnsError),
    /// The identity could not be read or saved.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Who this instance is on the network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Presence {
    /// The stable peer ID.
    pub id: String,
    /// The display name.
    pub name: String,
}

/// Advertises this instance (sync port `port`, certificate `fingerprint`) and
/// feeds the peers it discovers into `peers`. `name` replaces the stored
/// display name when given.
pub fn advertise(
    peers: &Arc<Peers>,
    store: &dyn Store,
    name: Option<&str>,
    port: u16,
    fingerprint: Fingerprint,
) -> Result<(Mdns, Presence), LanError> {
    if let Some(name) = name {
        store.put_setting("peer/name", Some(name))?;
    }
    let (id, name) = identity(store)?;
    let (mdns, events) = Mdns::start(Advertisement {
        id: id.clone(),
        name: name.clone(),
        port,
        fingerprint: fingerprint.to_string(),
    })?;
    // The feed ends by itself when the mDNS actor stops.
    peers.run(events, CancellationToken::new());
    Ok((mdns, Presence { id, name }))
}

/// A running LAN listener, advertised unless mDNS is switched off.
pub struct LanNode {
    server: RunningServer,
    mdns: Option<Mdns>,
    presence: Option<Presence>,
}

impl LanNode {
    /// Starts listening on `listen` with TLS (`identity`) for `service`, and,
    /// with `discovery` (and unless `TANDEM_NO_MDNS` is set), advertises it
    /// and browses for peers by mDNS.
    pub async fn start(
        service: &Arc<Service>,
        peers: &Arc<Peers>,
        identity: &Identity,
        listen: SocketAddr,
        discovery: bool,
    ) -> Result<Self, LanError> {
        let server = server::start_with_service(
            ServerConfig {
                listen,
                tls: Some(identity.clone()),
                options: ServerOptions::default(),
            },
            service.clone(),
        )
        .await?;
        let (mdns, presence) = if !discovery || disabled_by_env() {
            (None, None)
        } else {
            let store = service.hub().store().clone();
            match advertise(
                peers,
                store.as_ref(),
                None,
                server.local_addr().port(),
                identity.fingerprint(),
            ) {
                Ok((mdns, presence)) => (Some(mdns), Some(presence)),
                Err(e) => {
                    server.shutdown().await;
                    return Err(e);
                }
            }
        };
        tracing::info!(url = %server.url(), advertised = mdns.is_some(), "listening on the LAN");
        Ok(Self {
            server,
            mdns,
            presence,
        })
    }

    /// The LAN URL (`https://0.0.0.0:port` for a wildcard listener).
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// Who we are on the network, when advertised.
    pub fn presence(&self) -> Option<&Presence> {
        self.presence.as_ref()
    }

    /// Says goodbye on mDNS and stops listening (draining streams).
    pub async fn stop(self) {
        if let Some(mdns) = self.mdns {
            mdns.shutdown().await;
        }
        self.server.shutdown().await;
    }
}
