//! Ephemeral messages of one document: relayed to every other connection on
//! it that asked for them, never stored (docs/protocol-extensions.md,
//! "Ephemeral messages").
//!
//! Each open [`super::Document`] has one [`EphemeralBus`], a broadcast channel
//! apart from its durable changes. Whoever carries messages for a peer —
//! the server side of a sync stream, a UI's WebSocket, the client side of a
//! sync with a remote server — publishes what its peer sends with
//! [`EphemeralBus::publish`] under its own [`Ephemeral::source`], and
//! forwards to its peer everything from [`EphemeralBus::subscribe`] whose
//! source is not its own. A bridge (e.g. automerge-repo's ephemeral
//! messages) does the same with a source from [`next_source`].
//!
//! The bus drops a payload it relayed in the last [`DEDUPE_WINDOW`]: a
//! message that comes back around a cycle of servers is not relayed again.
//! Senders make payloads unique (a counter, a timestamp).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::broadcast;

use super::presence::{Member, Presence};
use super::Document;

/// How many messages a slow subscriber may fall behind before it skips some.
const CAPACITY: usize = 256;

/// How long a payload is remembered to drop its copies.
pub const DEDUPE_WINDOW: Duration = Duration::from_secs(5);

/// The most payloads remembered at once.
const DEDUPE_MAX: usize = 4096;

/// One ephemeral message on a document's bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ephemeral {
    /// The local carrier that published it (a connection): it is not sent
    /// back there.
    pub source: u64,
    /// Who sent it, opaque and stable per sending connection; a multi-hop
    /// path reads like `c3/c7`.
    pub from: Arc<str>,
    /// The sender's display name, where known.
    pub name: Option<Arc<str>>,
    /// The payload, opaque to Tandem.
    pub data: Bytes,
}

/// A new local source id (connections, bridges), unique in this process.
pub fn next_source() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The ephemeral channel of one document.
#[derive(Debug)]
pub struct EphemeralBus {
    sender: broadcast::Sender<Ephemeral>,
    recent: Mutex<Recent>,
    /// Who is here, from the presence messages that crossed the bus.
    presence: Mutex<Presence>,
}

#[derive(Debug, Default)]
struct Recent {
    hasher: RandomState,
    seen: HashMap<u64, Instant>,
    order: VecDeque<(u64, Instant)>,
}

impl Recent {
    /// Whether `data` is new (and remembers it).
    fn fresh(&mut self, data: &[u8], now: Instant) -> bool {
        while let Some(&(hash, at)) = self.order.front() {
            if now.duration_since(at) < DEDUPE_WINDOW && self.order.len() < DEDUPE_MAX {
                break;
            }
            self.order.pop_front();
            if self.seen.get(&hash) == Some(&at) {
                self.seen.remove(&hash);
            }
        }
        let hash = self.hasher.hash_one(data);
        if self.seen.contains_key(&hash) {
            return false;
        }
        self.seen.insert(hash, now);
        self.order.push_back((hash, now));
        true
    }
}

impl Default for EphemeralBus {
    fn default() -> Self {
        Self {
            sender: broadcast::channel(CAPACITY).0,
            recent: Mutex::new(Recent::default()),
            presence: Mutex::new(Presence::default()),
        }
    }
}

impl EphemeralBus {
    /// Relays `message` to every subscriber (its own source skips it when
    /// forwarding). Returns `false` when it was a copy of a payload relayed
    /// within [`DEDUPE_WINDOW`] and was dropped.
    pub fn publish(&self, message: Ephemeral) -> bool {
        let fresh = self
            .recent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .fresh(&message.data, Instant::now());
        if fresh {
            self.presence
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .receive(&message.data, &message.from, Instant::now());
            // No subscriber is not an error: nobody else is here.
            let _ = self.sender.send(message);
        }
        fresh
    }

    /// Who is in the document now (docs/presence.md).
    pub fn members(&self) -> Vec<Member> {
        self.presence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .list(Instant::now())
    }

    /// The connection `from` (local carrier `source`) ended: says goodbye
    /// for the presence sessions that came through it.
    pub fn connection_ended(&self, from: &str, source: u64) {
        let goodbyes = self
            .presence
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .gone_with(from);
        for data in goodbyes {
            self.publish(Ephemeral {
                source,
                from: from.into(),
                name: None,
                data: Bytes::from(data),
            });
        }
    }

    /// Everything published from now on. A subscriber that falls more than
    /// a few hundred messages behind skips the oldest (`Lagged`): they were
    /// ephemeral.
    pub fn subscribe(&self) -> broadcast::Receiver<Ephemeral> {
        self.sender.subscribe()
    }
}

/// Says goodbye for a carrier's presence sessions when dropped (a
/// connection's driver holds one for as long as it runs).
#[derive(Debug)]
pub struct Farewell {
    doc: Arc<Document>,
    from: String,
    source: u64,
}

impl Farewell {
    /// For the carrier `source` whose messages carry `from`.
    pub fn new(doc: Arc<Document>, from: &str, source: u64) -> Self {
        Self {
            doc,
            from: from.to_owned(),
            source,
        }
    }
}

impl Drop for Farewell {
    fn drop(&mut self) {
        self.doc
            .ephemeral()
            .connection_ended(&self.from, self.source);
    }
}

/// The next message from `bus`, forever when there is none (the peer does
/// not take ephemeral messages); `None` when the bus is gone. A receiver
/// that fell behind skips what it missed: it was ephemeral.
pub async fn next(bus: &mut Option<broadcast::Receiver<Ephemeral>>) -> Option<Ephemeral> {
    use broadcast::error::RecvError;
    let Some(bus) = bus else {
        return std::future::pending().await;
    };
    loop {
        match bus.recv().await {
            Ok(message) => return Some(message),
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(source: u64, data: &'static [u8]) -> Ephemeral {
        Ephemeral {
            source,
            from: "c1".into(),
            name: None,
            data: Bytes::from_static(data),
        }
    }

    #[test]
    fn subscribers_get_each_payload_once() {
        let bus = EphemeralBus::default();
        let mut rx = bus.subscribe();
        assert!(bus.publish(message(1, b"a")));
        assert!(!bus.publish(message(2, b"a")), "a copy from a cycle");
        assert!(bus.publish(message(1, b"b")));
        assert_eq!(rx.try_recv().unwrap().data, &b"a"[..]);
        assert_eq!(rx.try_recv().unwrap().data, &b"b"[..]);
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn payloads_are_forgotten_after_the_window() {
        let mut recent = Recent::default();
        let t0 = Instant::now();
        assert!(recent.fresh(b"x", t0));
        assert!(!recent.fresh(b"x", t0 + Duration::from_secs(1)));
        assert!(recent.fresh(b"x", t0 + DEDUPE_WINDOW + Duration::from_secs(1)));
    }
}
