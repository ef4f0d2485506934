//! The peer list: discovery events folded into what the UI shows, plus the
//! trust store — each peer's certificate is pinned the first time it is seen
//! and remembered; a later announcement with another certificate is flagged
//! and refused, never silently accepted.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::{DiscoveryEvent, Sighting};
use crate::store::{now_ms, Store, StoreError};
use crate::tls::Fingerprint;

const KNOWN_KEY: &str = "peers/known";

/// A peer as shown to the user and `GET /_peers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct PeerInfo {
    /// Its stable peer ID.
    pub id: String,
    /// Its display name.
    pub name: String,
    /// Where it was last seen.
    pub addresses: Vec<IpAddr>,
    /// Its sync port.
    pub port: u16,
    /// The certificate fingerprint we trust for it (pinned on first use).
    pub fingerprint: String,
    /// Whether the user confirmed the verification code.
    pub verified: bool,
    /// Whether it is on the network now.
    pub online: bool,
    /// When it was last seen, in milliseconds since the Unix epoch.
    pub last_seen: i64,
    /// It now announces a different certificate than the pinned one: refused.
    pub certificate_changed: bool,
    /// The certificate it announces now, when that differs from the pinned one.
    pub announced_fingerprint: Option<String>,
    /// A short code derived from both fingerprints; both sides show the same.
    pub code: String,
    /// Its protocol version.
    pub version: String,
    /// Its pin or verification could not be saved: it holds until the app
    /// quits. Reported, never swallowed.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub save_error: Option<String>,
}

/// Why a peer cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PeerError {
    /// No such peer.
    #[error("no peer {0}")]
    Unknown(String),
    /// The peer is not on the network now.
    #[error("peer {0} is offline")]
    Offline(String),
    /// What the user asked for holds now but could not be saved.
    #[error("could not save the peer trust store ({message}); it holds until the app quits")]
    NotSaved {
        /// The store failure's code.
        code: crate::error_code::Code,
        /// What failed.
        message: String,
    },
    /// The peer's certificate differs from the pinned one.
    #[error("peer {name} ({id}) now presents a different certificate than the one pinned on first use ({pinned}); refusing to connect until you forget the peer and verify it again")]
    CertificateChanged {
        /// Peer ID.
        id: String,
        /// Display name.
        name: String,
        /// The pinned fingerprint.
        pinned: String,
    },
}

impl PeerError {
    /// Its [`Code`](crate::error_code::Code), the same over HTTP and IPC.
    pub fn code(&self) -> crate::error_code::Code {
        use crate::error_code::Code;
        match self {
            PeerError::Unknown(_) => Code::NotFound,
            PeerError::Offline(_) => Code::Offline,
            PeerError::CertificateChanged { .. } => Code::CertificateChanged,
            PeerError::NotSaved { code, .. } => *code,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Known {
    fingerprint: String,
    verified: bool,
    name: String,
}

/// The registry of peers.
pub struct Peers {
    own_fingerprint: String,
    store: Arc<dyn Store>,
    state: Mutex<BTreeMap<String, PeerInfo>>,
    changes: watch::Sender<u64>,
    online: tokio::sync::broadcast::Sender<String>,
}

impl std::fmt::Debug for Peers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peers").finish_non_exhaustive()
    }
}

/// The code two people compare to confirm they see each other: six digits
/// from SHA-256 over both fingerprints (sorted, so both sides agree).
pub fn verification_code(a: &str, b: &str) -> String {
    let (a, b) = (normalize(a), normalize(b));
    let (first, second) = if a <= b { (a, b) } else { (b, a) };
    let digest = Sha256::digest(format!("{first}|{second}").as_bytes());
    let n = u32::from_be_bytes([0, digest[0], digest[1], digest[2]]) % 1_000_000;
    format!("{:03} {:03}", n / 1000, n % 1000)
}

fn normalize(fp: &str) -> String {
    Fingerprint::parse(fp)
        .map(|f| f.to_string())
        .unwrap_or_else(|_| fp.to_owned())
}

impl Peers {
    /// A registry for an instance whose certificate is `own_fingerprint`;
    /// remembered peers are listed (offline) until seen.
    pub fn new(own_fingerprint: String, store: Arc<dyn Store>) -> Result<Arc<Self>, StoreError> {
        let known = load_known(store.as_ref())?;
        let state = known
            .into_iter()
            .map(|(id, k)| {
                let info = PeerInfo {
                    id: id.clone(),
                    name: k.name,
                    addresses: vec![],
                    port: 0,
                    code: verification_code(&own_fingerprint, &k.fingerprint),
                    fingerprint: k.fingerprint,
                    verified: k.verified,
                    online: false,
                    last_seen: 0,
                    certificate_changed: false,
                    announced_fingerprint: None,
                    version: String::new(),
                    save_error: None,
                };
                (id, info)
            })
            .collect();
        Ok(Arc::new(Self {
            own_fingerprint,
            store,
            state: Mutex::new(state),
            changes: watch::channel(0).0,
            online: tokio::sync::broadcast::channel(16).0,
        }))
    }

    fn state(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, PeerInfo>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Applies discovery events until `stop` or the sender goes away.
    pub fn run(
        self: &Arc<Self>,
        mut events: mpsc::UnboundedReceiver<DiscoveryEvent>,
        stop: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    event = events.recv() => match event {
                        Some(event) => this.apply(event),
                        None => break,
                    },
                }
            }
        })
    }

    /// Folds one event into the list.
    pub fn apply(&self, event: DiscoveryEvent) {
        let came_online = match event {
            DiscoveryEvent::Seen(s) => self.seen(s),
            DiscoveryEvent::Gone { id } => {
                let mut state = self.state();
                match state.get_mut(&id) {
                    Some(p) if p.online => {
                        p.online = false;
                        p.last_seen = now_ms();
                        tracing::info!(peer = %id, name = %p.name, "peer left");
                    }
                    _ => return,
                }
                None
            }
        };
        self.changes.send_modify(|v| *v += 1);
        if let Some(id) = came_online {
            let _ = self.online.send(id);
        }
    }

    /// Returns the peer's ID if it just came online.
    fn seen(&self, s: Sighting) -> Option<String> {
        let mut state = self.state();
        let entry = state.entry(s.id.clone()).or_insert_with(|| PeerInfo {
            id: s.id.clone(),
            name: s.name.clone(),
            addresses: vec![],
            port: 0,
            fingerprint: normalize(&s.fingerprint),
            verified: false,
            online: false,
            last_seen: 0,
            certificate_changed: false,
            announced_fingerprint: None,
            code: verification_code(&self.own_fingerprint, &s.fingerprint),
            version: String::new(),
            save_error: None,
        });
        let was_online = entry.online;
        let announced = normalize(&s.fingerprint);
        entry.certificate_changed = announced != entry.fingerprint;
        entry.announced_fingerprint = entry.certificate_changed.then(|| announced.clone());
        if entry.certificate_changed && !was_online {
            tracing::warn!(peer = %s.id, name = %s.name, "peer presents a different certificate than the pinned one");
        }
        entry.name = s.name;
        entry.addresses = s.addresses;
        entry.port = s.port;
        entry.version = s.version;
        entry.online = true;
        entry.last_seen = now_ms();
        let pin = (!entry.certificate_changed).then(|| Known {
            fingerprint: entry.fingerprint.clone(),
            verified: entry.verified,
            name: entry.name.clone(),
        });
        let id = entry.id.clone();
        drop(state);
        if let Some(pin) = pin {
            // A failure is kept in the peer's `save_error` for the UI.
            let _reported = self.remember(&id, Some(pin));
        }
        if !was_online {
            tracing::info!(peer = %id, "peer online");
        }
        (!was_online).then_some(id)
    }

    /// Saves (or drops) a peer's pin. A failure is logged and kept in the
    /// peer's `save_error` (the UI shows it), and returned.
    fn remember(&self, id: &str, known: Option<Known>) -> Result<(), PeerError> {
        let result = load_known(self.store.as_ref()).and_then(|mut all| {
            match known {
                Some(k) => {
                    all.insert(id.to_owned(), k);
                }
                None => {
                    all.remove(id);
                }
            }
            let json = serde_json::to_string(&all).unwrap_or_else(|_| "{}".into());
            self.store.put_setting(KNOWN_KEY, Some(&json))
        });
        let error = result.err().map(|e| {
            tracing::error!(peer = %id, error = %e, "could not save the peer trust store; it holds until the app quits");
            PeerError::NotSaved {
                code: e.code(),
                message: e.to_string(),
            }
        });
        if let Some(peer) = self.state().get_mut(id) {
            peer.save_error = error.as_ref().map(ToString::to_string);
        }
        error.map_or(Ok(()), Err)
    }

    /// Every peer, online or remembered.
    pub fn list(&self) -> Vec<PeerInfo> {
        self.state().values().cloned().collect()
    }

    /// One peer.
    pub fn get(&self, id: &str) -> Option<PeerInfo> {
        self.state().get(id).cloned()
    }

    /// Moves on every change to the list.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Yields a peer's ID whenever it comes (back) online.
    pub fn subscribe_online(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.online.subscribe()
    }

    /// Records that the user confirmed the peer's verification code.
    pub fn mark_verified(&self, id: &str) -> Result<PeerInfo, PeerError> {
        let mut state = self.state();
        let peer = state
            .get_mut(id)
            .ok_or_else(|| PeerError::Unknown(id.to_owned()))?;
        if peer.certificate_changed {
            return Err(changed(peer));
        }
        peer.verified = true;
        let (info, known) = (
            peer.clone(),
            Known {
                fingerprint: peer.fingerprint.clone(),
                verified: true,
                name: peer.name.clone(),
            },
        );
        drop(state);
        let saved = self.remember(id, Some(known));
        self.changes.send_modify(|v| *v += 1);
        saved.map(|()| info)
    }

    /// Forgets a peer's pinned certificate, so its current one is pinned next
    /// time it is seen (after the user checked the new code).
    pub fn forget(&self, id: &str) -> Result<(), PeerError> {
        let mut state = self.state();
        let peer = state
            .get_mut(id)
            .ok_or_else(|| PeerError::Unknown(id.to_owned()))?;
        if let Some(announced) = peer.announced_fingerprint.take() {
            peer.code = verification_code(&self.own_fingerprint, &announced);
            peer.fingerprint = announced;
        }
        peer.certificate_changed = false;
        peer.verified = false;
        let pin = peer.online.then(|| Known {
            fingerprint: peer.fingerprint.clone(),
            verified: false,
            name: peer.name.clone(),
        });
        if !peer.online {
            state.remove(id);
        }
        drop(state);
        let saved = self.remember(id, pin);
        self.changes.send_modify(|v| *v += 1);
        saved
    }

    /// Where to reach a peer and which certificate to accept.
    pub fn endpoint(&self, id: &str) -> Result<(String, Fingerprint), PeerError> {
        let state = self.state();
        let peer = state
            .get(id)
            .ok_or_else(|| PeerError::Unknown(id.to_owned()))?;
        if peer.certificate_changed {
            return Err(changed(peer));
        }
        let addr = peer
            .addresses
            .first()
            .filter(|_| peer.online)
            .ok_or_else(|| PeerError::Offline(id.to_owned()))?;
        let host = match addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        };
        let fp = Fingerprint::parse(&peer.fingerprint).map_err(|_| changed(peer))?;
        Ok((format!("https://{host}:{}", peer.port), fp))
    }
}

fn changed(peer: &PeerInfo) -> PeerError {
    PeerError::CertificateChanged {
        id: peer.id.clone(),
        name: peer.name.clone(),
        pinned: peer.fingerprint.clone(),
    }
}

fn load_known(store: &dyn Store) -> Result<BTreeMap<String, Known>, StoreError> {
    Ok(store
        .get_setting(KNOWN_KEY)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn fp(byte: u8) -> String {
        Fingerprint([byte; 32]).to_string()
    }

    fn sighting(id: &str, fingerprint: &str) -> DiscoveryEvent {
        DiscoveryEvent::Seen(Sighting {
            id: id.into(),
            name: format!("{id}'s laptop"),
            addresses: vec!["10.0.0.2".parse().unwrap()],
            port: 7450,
            fingerprint: fingerprint.into(),
            version: "1".into(),
        })
    }

    #[test]
    fn both_sides_compute_the_same_code() {
        assert_eq!(
            verification_code(&fp(1), &fp(2)),
            verification_code(&fp(2), &fp(1))
        );
        assert_ne!(
            verification_code(&fp(1), &fp(2)),
            verification_code(&fp(1), &fp(3))
        );
        assert_eq!(verification_code(&fp(1), &fp(2)).len(), 7);
    }

    #[test]
    fn peers_come_and_go_and_repeated_sightings_are_one_peer() {
        let peers = Peers::new(fp(9), Arc::new(MemoryStore::new())).unwrap();
        peers.apply(sighting("bob", &fp(1)));
        peers.apply(sighting("bob", &fp(1)));
        assert_eq!(peers.list().len(), 1);
        let bob = peers.get("bob").unwrap();
        assert!(bob.online && !bob.verified && !bob.certificate_changed);
        assert_eq!(peers.endpoint("bob").unwrap().0, "https://10.0.0.2:7450");
        peers.apply(DiscoveryEvent::Gone { id: "bob".into() });
        assert!(!peers.get("bob").unwrap().online);
        assert_eq!(peers.endpoint("bob"), Err(PeerError::Offline("bob".into())));
    }

    #[test]
    fn a_changed_certificate_is_flagged_refused_and_remembered_across_restarts() {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let peers = Peers::new(fp(9), store.clone()).unwrap();
        peers.apply(sighting("bob", &fp(1)));
        peers.mark_verified("bob").unwrap();
        // Restart: the pin and the verification are remembered.
        let peers = Peers::new(fp(9), store.clone()).unwrap();
        assert!(peers.get("bob").unwrap().verified);
        peers.apply(sighting("bob", &fp(2)));
        let bob = peers.get("bob").unwrap();
        assert!(bob.certificate_changed);
        assert_eq!(bob.fingerprint, fp(1), "the pin is kept");
        assert!(matches!(
            peers.endpoint("bob"),
            Err(PeerError::CertificateChanged { .. })
        ));
        assert!(peers.mark_verified("bob").is_err());
        // The user forgets the old pin: the new certificate is pinned, unverified.
        peers.forget("bob").unwrap();
        let bob = peers.get("bob").unwrap();
        assert!(!bob.certificate_changed && !bob.verified);
        assert_eq!(bob.fingerprint, fp(2));
        assert!(peers.endpoint("bob").is_ok());
    }
}
