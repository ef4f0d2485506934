//! What a remote is: what the user asks for, what is stored, and what a UI
//! is shown.

use serde::{Deserialize, Serialize};

use crate::client::{ConnectionStatus, Problem};
use crate::doc_id::DocId;

/// What the user asks for when adding a remote.
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
pub struct RemoteSpec {
    /// The document's URL on the server, e.g. `https://host:7450/notes`.
    pub url: String,
    /// The local document to sync; `None` makes a local copy named after the URL's last segment.
    #[serde(default)]
    pub doc_id: Option<DocId>,
    /// A bearer token for the server.
    #[serde(default)]
    pub token: Option<String>,
    /// The server certificate's SHA-256 fingerprint, to pin.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Trust the certificate the server presents now (and only that one from then on).
    #[serde(default)]
    pub trust: bool,
    /// The LAN peer this remote belongs to (set by the service, not by users).
    #[serde(skip)]
    pub peer_id: Option<String>,
}

/// What may change on an existing remote (`None`: keep).
#[derive(Debug, Clone, Default, Deserialize, ts_rs::TS)]
pub struct RemoteUpdate {
    /// A new bearer token (empty: none).
    #[serde(default)]
    #[ts(optional = nullable)]
    pub token: Option<String>,
    /// A certificate fingerprint to pin from now on.
    #[serde(default)]
    #[ts(optional = nullable)]
    pub fingerprint: Option<String>,
}

/// A remote as stored (and re-started after a restart).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredRemote {
    pub(super) id: String,
    pub(super) doc_id: DocId,
    pub(super) url: String,
    pub(super) token: Option<String>,
    pub(super) fingerprint: Option<String>,
    pub(super) trust_first_use: bool,
    /// The LAN peer this remote belongs to, if it was opened from the peers list.
    #[serde(default)]
    pub(super) peer_id: Option<String>,
}

/// A remote as shown to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct RemoteInfo {
    /// The remote's ID (for removing it).
    pub id: String,
    /// The local document.
    pub doc_id: DocId,
    /// The server URL.
    pub url: String,
    /// `connecting`, `live`, `reconnecting`, `error` (stopped for good:
    /// retrying cannot help until something is fixed), `stopped`, or
    /// `removed` (last event of a removed remote).
    #[ts(type = r#""connecting" | "live" | "reconnecting" | "error" | "stopped" | "removed""#)]
    pub state: &'static str,
    /// Milliseconds until the next attempt, when reconnecting.
    pub retry_in_ms: Option<u64>,
    /// Why the last attempt failed, when reconnecting or in error.
    pub error: Option<String>,
    /// In `error`: what kind of failure, so the fix can be offered in place
    /// (trust the presented certificate, edit the token, …).
    pub problem: Option<Problem>,
    /// Bytes of sync messages received from the server since this run began.
    pub bytes_in: u64,
    /// Bytes sent to the server since this run began.
    pub bytes_out: u64,
    /// When both sides last held the same changes (ms since the Unix epoch).
    pub last_synced_ms: Option<u64>,
    /// Whether the server has exactly our heads.
    pub in_sync: bool,
    /// The pinned certificate fingerprint, if any.
    pub fingerprint: Option<String>,
    /// The LAN peer it belongs to, if any.
    pub peer_id: Option<String>,
    /// Its settings (a certificate pinned on first use) could not be saved:
    /// they hold until the app quits. Never swallowed: the UI shows it.
    pub save_error: Option<String>,
}

pub(super) fn info(stored: &StoredRemote, status: &ConnectionStatus) -> RemoteInfo {
    let (state, retry_in_ms, error, in_sync) = match status {
        ConnectionStatus::Connecting => ("connecting", None, None, false),
        ConnectionStatus::Live { in_sync } => ("live", None, None, *in_sync),
        ConnectionStatus::Reconnecting { retry_in_ms, error } => (
            "reconnecting",
            Some(*retry_in_ms),
            Some(error.clone()),
            false,
        ),
        ConnectionStatus::Stopped => ("stopped", None, None, false),
        ConnectionStatus::Failed { error, .. } => ("error", None, Some(error.clone()), false),
    };
    let problem = match status {
        ConnectionStatus::Failed { problem, .. } => Some(problem.clone()),
        _ => None,
    };
    RemoteInfo {
        id: stored.id.clone(),
        doc_id: stored.doc_id.clone(),
        url: stored.url.clone(),
        state,
        retry_in_ms,
        error,
        problem,
        bytes_in: 0,
        bytes_out: 0,
        last_synced_ms: None,
        in_sync,
        fingerprint: stored.fingerprint.clone(),
        peer_id: stored.peer_id.clone(),
        save_error: None,
    }
}
