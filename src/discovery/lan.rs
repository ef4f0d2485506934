//! Advertising this instance on the local network by mDNS, with what it
//! discovers fed into the peer list. Which listener is advertised, and when,
//! is the node's business (`crate::node`).

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::mdns::{Mdns, MdnsError};
use super::peers::Peers;
use super::{identity, Advertisement};
use crate::store::{Store, StoreError};
use crate::tls::Fingerprint;

/// Why advertising could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LanError {
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
/// feeds the peers it discovers into `peers` until `stop` is cancelled or
/// the mDNS actor stops. `name` replaces the stored display name when given.
pub(crate) fn advertise(
    peers: &Arc<Peers>,
    store: &dyn Store,
    name: Option<&str>,
    port: u16,
    fingerprint: Fingerprint,
    stop: CancellationToken,
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
    peers.run(events, stop);
    Ok((mdns, Presence { id, name }))
}
