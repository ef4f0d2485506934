//! What a live sync reports about its connection, for UIs and logs.

use serde::Serialize;

/// The state of one client connection to one server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum ConnectionStatus {
    /// Opening the connection (first time or after a failure).
    Connecting,
    /// Streaming; `in_sync` when the server's heads equal ours.
    Live {
        /// Whether both sides have the same heads right now.
        in_sync: bool,
    },
    /// Waiting before the next attempt.
    Reconnecting {
        /// Milliseconds until the next attempt.
        retry_in_ms: u64,
        /// Why the last attempt ended.
        error: String,
    },
    /// Stopped on request.
    Stopped,
    /// Stopped for good: retrying cannot help (e.g. the document was deleted
    /// on the server); says why.
    Failed {
        /// What happened, in words.
        error: String,
        /// What kind of failure, for a fix offered in place.
        problem: super::Problem,
    },
}
