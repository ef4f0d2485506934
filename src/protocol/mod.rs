//! The ndjson sync protocol, without I/O: the line codec ([`line`]), a
//! streaming line reader with a size limit ([`reader`]), the per-connection
//! sync session with the client's termination checks ([`session`]), the
//! bounds checked on Automerge data before Automerge inflates it
//! ([`guard`]) and the negotiated compression of whole streams
//! ([`compress`]), and automerge-repo's CBOR messages ([`repo`]). Pacing,
//! pings and termination live in [`crate::link`].

pub(crate) mod compress;
pub mod guard;
pub mod line;
pub(crate) mod reader;
pub mod recent;
pub mod repo;
pub(crate) mod session;

pub use compress::{Encoding, Inflate, InflateError};
pub use guard::{GuardError, Limits};
pub use line::{EphemeralLine, Event, LineError, EPHEMERAL_FEATURE};
pub use reader::{EventReader, ReadBudget, ReadError, DEFAULT_MAX_LINE};
pub use session::{SplitError, SyncSession, Until, FOREIGN_MAX_LINE};

/// Whether a sync message carries changes (a read-only peer's may not).
/// Undecodable messages are left for the apply step to refuse.
pub fn carries_changes(payload: &[u8]) -> bool {
    automerge::sync::Message::decode(payload).is_ok_and(|m| !m.changes.is_empty())
}

/// The media type of request and response bodies.
pub const NDJSON: &str = "application/x-ndjson";
/// The full `Content-Type` value Tandem sends.
pub const NDJSON_UTF8: &str = "application/x-ndjson; charset=utf-8";

/// On a `307`/`308` from a cluster node: the target is another node of the
/// same cluster, which the redirecting node vouches for. Value `peer`, or
/// `peer; pin=FINGERPRINT` when that node's TLS certificate is self-signed.
/// A client that trusted the redirecting node with its token carries the
/// token on (see docs/SECURITY.md, "Cluster redirects").
pub const CLUSTER_PEER_HEADER: &str = "tandem-cluster-peer";

/// The [`CLUSTER_PEER_HEADER`] value vouching for a node with `pin`.
pub fn vouch_value(pin: Option<&str>) -> String {
    match pin {
        Some(pin) => format!("peer; pin={pin}"),
        None => "peer".to_owned(),
    }
}
