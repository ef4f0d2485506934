//! The live connections of one document, as the server side sees them
//! (`GET /_docs/{id}/connections`): who, over what, since when, how much
//! went each way, what they hold and how far behind they are.
//!
//! A driver registers its connection with [`Connections::register`] and
//! keeps the returned [`ConnectionStats`] up to date; the entry disappears
//! when the driver drops it, so a listing never shows a connection that
//! ended.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use automerge::{Automerge, ChangeHash};
use serde::Serialize;

use crate::store::now_ms;

/// Now, in ms since the Unix epoch.
fn now() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// What is known of a connection when it starts.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMeta {
    /// The peer's address (`ip:port`), or what else names it (`ui`).
    pub peer: String,
    /// The user, from the credential (a token's name), where known.
    pub user: Option<String>,
    /// `HTTP/1.1`, `HTTP/2`, `WebSocket`, … (with `+tls` when encrypted).
    pub protocol: String,
}

/// The counters of one live connection, updated by its driver.
#[derive(Debug)]
pub struct ConnectionStats {
    /// The opaque id its ephemeral messages carry as `from`.
    pub id: String,
    meta: ConnectionMeta,
    since_ms: u64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    last_message_ms: AtomicU64,
    ephemeral: AtomicBool,
    their_heads: Mutex<Vec<ChangeHash>>,
    /// Where its end is announced (see [`Connections::announcing`]).
    listings: Option<tokio::sync::broadcast::Sender<super::HubEvent>>,
}

impl Drop for ConnectionStats {
    fn drop(&mut self) {
        if let Some(listings) = &self.listings {
            let _ = listings.send(super::HubEvent::DocsChanged);
        }
    }
}

impl ConnectionStats {
    /// Counts bytes that arrived from the peer.
    pub fn add_in(&self, bytes: usize) {
        self.bytes_in.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts bytes sent to the peer.
    pub fn add_out(&self, bytes: usize) {
        self.bytes_out.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Notes that a message (of any kind) arrived now.
    pub fn heard(&self) {
        self.last_message_ms.store(now(), Ordering::Relaxed);
    }

    /// Notes whether the peer takes ephemeral messages.
    pub fn set_ephemeral(&self, on: bool) {
        self.ephemeral.store(on, Ordering::Relaxed);
    }

    /// The heads the peer last told us it has.
    pub fn set_heads(&self, heads: &[ChangeHash]) {
        let mut held = self.their_heads.lock().unwrap_or_else(|p| p.into_inner());
        if held.as_slice() != heads {
            *held = heads.to_vec();
        }
    }

    /// A snapshot, with the lag measured against `doc`.
    pub fn info(&self, doc: &Automerge) -> ConnectionInfo {
        let heads = self
            .their_heads
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Heads we do not have yet cannot be a base for the count.
        let known: Vec<ChangeHash> = heads
            .iter()
            .copied()
            .filter(|h| super::holds(doc, h))
            .collect();
        let last = self.last_message_ms.load(Ordering::Relaxed);
        ConnectionInfo {
            id: self.id.clone(),
            peer: self.meta.peer.clone(),
            user: self.meta.user.clone(),
            protocol: self.meta.protocol.clone(),
            since_ms: self.since_ms,
            bytes_in: self.bytes_in.load(Ordering::Relaxed),
            bytes_out: self.bytes_out.load(Ordering::Relaxed),
            heads: heads.iter().map(ToString::to_string).collect(),
            lag_changes: super::count_changes_after(doc, &known),
            last_message_ms: (last > 0).then_some(last),
            ephemeral: self.ephemeral.load(Ordering::Relaxed),
        }
    }
}

/// One live connection, as listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, ts_rs::TS)]
pub struct ConnectionInfo {
    /// The opaque id its ephemeral messages carry as `from`.
    pub id: String,
    /// The peer's address, or what names it.
    pub peer: String,
    /// The user, where known.
    pub user: Option<String>,
    /// The transport.
    pub protocol: String,
    /// When it started (ms since the Unix epoch).
    pub since_ms: u64,
    /// Bytes of ndjson received.
    pub bytes_in: u64,
    /// Bytes of ndjson sent.
    pub bytes_out: u64,
    /// The peer's heads, as it last advertised them.
    pub heads: Vec<String>,
    /// Changes we hold that the peer lacks, by its advertised heads.
    pub lag_changes: usize,
    /// When the last line came in (ms since the Unix epoch).
    pub last_message_ms: Option<u64>,
    /// Whether the peer takes ephemeral messages.
    pub ephemeral: bool,
}

/// The registry of one document's live connections.
#[derive(Debug, Default)]
pub struct Connections {
    live: Mutex<Vec<Weak<ConnectionStats>>>,
    /// Told when a connection comes or goes (listings show who syncs).
    listings: Option<tokio::sync::broadcast::Sender<super::HubEvent>>,
}

impl Connections {
    /// A registry that announces each connection that comes or goes on
    /// `listings` (as [`super::HubEvent::DocsChanged`]).
    pub(crate) fn announcing(listings: tokio::sync::broadcast::Sender<super::HubEvent>) -> Self {
        Self {
            live: Mutex::default(),
            listings: Some(listings),
        }
    }

    /// Registers a connection; it is listed until the returned value is dropped.
    pub fn register(&self, meta: ConnectionMeta) -> Arc<ConnectionStats> {
        let stats = Arc::new(ConnectionStats {
            id: new_connection_id(),
            meta,
            since_ms: now(),
            bytes_in: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            last_message_ms: AtomicU64::new(0),
            ephemeral: AtomicBool::new(false),
            their_heads: Mutex::new(Vec::new()),
            listings: self.listings.clone(),
        });
        if let Some(listings) = &self.listings {
            let _ = listings.send(super::HubEvent::DocsChanged);
        }
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.push(Arc::downgrade(&stats));
        stats
    }

    /// The connections alive now, oldest first.
    pub fn live(&self) -> Vec<Arc<ConnectionStats>> {
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.retain(|w| w.strong_count() > 0);
        live.iter().filter_map(Weak::upgrade).collect()
    }
}

/// A fresh opaque connection id: random, so it says nothing about how many
/// connections there were and does not collide across servers.
pub(crate) fn new_connection_id() -> String {
    use rand::Rng;
    let n: u64 = rand::rng().random();
    format!("c{:012x}", n & 0xffff_ffff_ffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_connection_is_no_longer_listed() {
        let connections = Connections::default();
        let a = connections.register(ConnectionMeta::default());
        let b = connections.register(ConnectionMeta::default());
        assert_ne!(a.id, b.id);
        assert_eq!(connections.live().len(), 2);
        drop(a);
        let live = connections.live();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].id, b.id);
    }

    #[test]
    fn lag_counts_the_changes_the_peer_lacks() {
        use automerge::transaction::Transactable;
        let mut doc = Automerge::new();
        let connections = Connections::default();
        let peer = connections.register(ConnectionMeta::default());
        let mut tx = doc.transaction();
        tx.put(automerge::ROOT, "a", 1).unwrap();
        tx.commit();
        let first = doc.get_heads();
        for i in 0..3 {
            let mut tx = doc.transaction();
            tx.put(automerge::ROOT, "a", i).unwrap();
            tx.commit();
        }
        assert_eq!(peer.info(&doc).lag_changes, 4, "no heads yet: everything");
        peer.set_heads(&first);
        peer.add_in(10);
        peer.heard();
        let info = peer.info(&doc);
        assert_eq!((info.lag_changes, info.bytes_in), (3, 10));
        assert!(info.last_message_ms.is_some());
        peer.set_heads(&doc.get_heads());
        assert_eq!(peer.info(&doc).lag_changes, 0);
    }
}
