//! Finding other Tandem instances on the local network.
//!
//! A [`Sighting`] is what one announcement says about a peer; backends turn
//! the network into a stream of [`DiscoveryEvent`]s: [`mdns`] (multicast DNS,
//! `_tandem._tcp.local.`) for real networks, and a plain channel for tests.
//! The [`peers::Peers`] registry folds those events into the peer list the UI
//! shows, and remembers (pins) each peer's certificate on first use.
//!
//! mDNS joins multicast groups on every interface the moment its daemon
//! starts, so it is only ever started on request (`tandem serve --mdns`, the
//! desktop app) and never when `TANDEM_NO_MDNS=1`.

pub(crate) mod lan;
pub(crate) mod mdns;
pub mod peers;

use std::net::IpAddr;

/// The DNS-SD service type Tandem advertises and browses.
pub const SERVICE_TYPE: &str = "_tandem._tcp.local.";

/// The protocol version carried in the TXT record.
pub const PROTOCOL_VERSION: &str = "1";

/// Whether mDNS is switched off for this process (`TANDEM_NO_MDNS=1`).
pub fn disabled_by_env() -> bool {
    std::env::var("TANDEM_NO_MDNS").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// What one instance says about itself (the TXT record, plus where it is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sighting {
    /// The stable peer ID.
    pub id: String,
    /// The display name.
    pub name: String,
    /// Where it can be reached.
    pub addresses: Vec<IpAddr>,
    /// Its sync port.
    pub port: u16,
    /// Its TLS certificate's SHA-256 fingerprint.
    pub fingerprint: String,
    /// Its protocol version.
    pub version: String,
}

/// A change seen on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DiscoveryEvent {
    /// A peer announced itself (again, perhaps with new details).
    Seen(Sighting),
    /// A peer left (goodbye packet) or stopped answering.
    Gone {
        /// The peer ID.
        id: String,
    },
}

/// What this instance advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advertisement {
    /// The stable peer ID.
    pub id: String,
    /// The display name.
    pub name: String,
    /// The sync port (TLS).
    pub port: u16,
    /// The TLS certificate's fingerprint.
    pub fingerprint: String,
}

/// This instance's stable peer ID (kept in the store) and display name
/// (kept if set, else the host name).
pub fn identity(
    store: &dyn crate::store::Store,
) -> Result<(String, String), crate::store::StoreError> {
    let id = match store.get_setting("peer/id")? {
        Some(id) => id,
        None => {
            let id = crate::DocId::random().as_str()[..16].to_owned();
            store.put_setting("peer/id", Some(&id))?;
            id
        }
    };
    let name = store.get_setting("peer/name")?.unwrap_or_else(host_name);
    Ok((id, name))
}

pub use crate::host::host_name;
