//! Per-document share policies, enforced by the server (issue: LAN peers).
//!
//! - `private`: only the owner (loopback, or a token holder) sees or syncs it.
//! - `lan`: listed in `GET /_docs` for peers and syncable by them.
//! - `link`: syncable by anyone who knows its ID, but not listed.
//!
//! A document without a policy of its own has the server's default: a plain
//! `tandem serve` is a team server (`lan`), the desktop app and
//! `tandem serve --mdns` keep documents `private` until shared.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::doc_id::DocId;
use crate::store::{Store, StoreError};

/// Who may see and sync a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "lowercase")]
pub enum SharePolicy {
    /// The owner only.
    Private,
    /// Listed for, and syncable by, peers on the network.
    Lan,
    /// Syncable by anyone with the link; not listed.
    Link,
}

impl SharePolicy {
    /// Whether peers may sync the document.
    pub fn allows_peers(self) -> bool {
        self != Self::Private
    }

    /// Whether peers see it in listings.
    pub fn is_listed(self) -> bool {
        self == Self::Lan
    }

    /// The policy's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Lan => "lan",
            Self::Link => "link",
        }
    }
}

impl std::fmt::Display for SharePolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for SharePolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "private" => Ok(Self::Private),
            "lan" => Ok(Self::Lan),
            "link" => Ok(Self::Link),
            other => Err(format!(
                "unknown share policy {other:?}; use private, lan or link"
            )),
        }
    }
}

fn key(id: &DocId) -> String {
    format!("share/{id}")
}

/// The document's own policy, if it has one.
pub fn load(store: &dyn Store, id: &DocId) -> Result<Option<SharePolicy>, StoreError> {
    Ok(store.get_setting(&key(id))?.and_then(|v| v.parse().ok()))
}

/// Sets (or with `None`, clears) the document's own policy.
pub fn save(store: &dyn Store, id: &DocId, policy: Option<SharePolicy>) -> Result<(), StoreError> {
    store.put_setting(&key(id), policy.map(SharePolicy::as_str))
}

/// The share policies of one store, with the default for documents that
/// have none and a signal that moves whenever one changes. The server judges
/// every caller against it; the service sets policies through it.
pub struct Shares {
    store: Arc<dyn Store>,
    default: SharePolicy,
    changes: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Shares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shares")
            .field("default", &self.default)
            .finish_non_exhaustive()
    }
}

impl Shares {
    /// The policies kept in `store`; `default` for documents without one.
    pub fn new(store: Arc<dyn Store>, default: SharePolicy) -> Arc<Self> {
        Arc::new(Self {
            store,
            default,
            changes: tokio::sync::watch::channel(0).0,
        })
    }

    /// The policy of documents without one of their own.
    pub fn default_policy(&self) -> SharePolicy {
        self.default
    }

    /// A document's effective policy.
    pub fn policy(&self, id: &DocId) -> Result<SharePolicy, StoreError> {
        Ok(load(self.store.as_ref(), id)?.unwrap_or(self.default))
    }

    /// Sets (or with `None`, clears) a document's own policy; live
    /// connections re-check their rights.
    pub fn set(&self, id: &DocId, policy: Option<SharePolicy>) -> Result<(), StoreError> {
        save(self.store.as_ref(), id, policy)?;
        self.changes.send_modify(|v| *v += 1);
        Ok(())
    }

    /// A receiver that moves whenever a policy changes: live connections of
    /// peers re-check their rights then.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    #[test]
    fn policies_round_trip_through_the_store() {
        let store = MemoryStore::new();
        let id = DocId::parse("d").unwrap();
        assert_eq!(load(&store, &id).unwrap(), None);
        save(&store, &id, Some(SharePolicy::Link)).unwrap();
        assert_eq!(load(&store, &id).unwrap(), Some(SharePolicy::Link));
        save(&store, &id, None).unwrap();
        assert_eq!(load(&store, &id).unwrap(), None);
        assert!("public".parse::<SharePolicy>().is_err());
        assert!(SharePolicy::Lan.is_listed() && !SharePolicy::Link.is_listed());
        assert!(!SharePolicy::Private.allows_peers());
    }
}
