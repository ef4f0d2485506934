//! Why a sync failed ([`ClientError`]) and what kind of failure it was, with
//! what a fix needs ([`Problem`], shown by the UI).

use std::time::Duration;

use crate::protocol::Until;

use crate::tls::TlsError;

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be synced with.
    #[error("invalid URL {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Connecting or talking to the server failed.
    #[error("cannot reach {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why (including certificate problems).
        reason: String,
    },
    /// The server's certificate was refused (unknown issuer, expired, a
    /// pin that does not match, …).
    #[error("{url}: the server's certificate is not trusted ({reason})")]
    Certificate {
        /// The URL.
        url: String,
        /// Why it was refused.
        reason: String,
        /// The fingerprint of the certificate it presented, to pin it if
        /// the user trusts it.
        presented: Option<String>,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's `{"error"}` text, or the body.
        message: String,
    },
    /// A token would have travelled unencrypted to another machine.
    #[error("refusing to send a token in clear to {host}; use https:// or pass --allow-plain-http-tokens")]
    PlainHttpToken {
        /// The host it would have gone to.
        host: String,
    },
    /// A redirect could not be followed.
    #[error("redirect from {url} not followed: {reason}")]
    Redirect {
        /// The URL that redirected.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server sent an `{"event":"error"}` line.
    #[error("{url} reported an error: {message}")]
    Remote {
        /// The URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The server ended the stream before the check passed.
    #[error("{url} closed the stream before {until} was reached")]
    Closed {
        /// The URL.
        url: String,
        /// The check that had not passed.
        until: Until,
    },
    /// A line from the server was malformed, or a message rejected.
    #[error("bad data from {url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Something we hold cannot be put in lines the server reads (a change
    /// too large for a peer without capability flags, such as a Go server).
    #[error("cannot send to {url}: {source}")]
    Unsendable {
        /// The URL.
        url: String,
        /// What does not fit.
        source: crate::protocol::SplitError,
    },
    /// The one-shot sync did not finish in time.
    #[error("timed out after {after:?} waiting for {until} with {url} (our heads {ours}, server's {theirs})")]
    Timeout {
        /// The URL.
        url: String,
        /// The check that had not passed.
        until: Until,
        /// The time allowed.
        after: Duration,
        /// Our heads, short.
        ours: String,
        /// The server's last advertised heads, short.
        theirs: String,
    },
    /// The sync was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl ClientError {
    /// Whether trying again cannot help (bad URL, refused token, TLS setup,
    /// a deleted document, a request the server will never accept).
    ///
    /// `507 Insufficient Storage` is not permanent: space may be freed, so a
    /// live sync reports it and retries later; `5xx` and `429` likewise.
    /// Whether the server said the document was deleted there (`410 Gone`):
    /// no retry will bring it back.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Status { status: 410, .. })
    }

    /// Whether retrying cannot help (the request itself is refused).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::BadUrl { .. } | Self::Tls(_) | Self::Redirect { .. } => true,
            Self::Certificate { .. } => true,
            Self::PlainHttpToken { .. } | Self::Unsendable { .. } => true,
            Self::Status { status, .. } => {
                matches!(
                    status,
                    400 | 401 | 403 | 404 | 405 | 406 | 410 | 413 | 415 | 421
                )
            }
            _ => false,
        }
    }
}

impl ClientError {
    /// What kind of failure this is, so a UI can offer the fix in place.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Certificate { presented, .. } => Problem::Certificate {
                presented: presented.clone(),
            },
            Self::Status { status: 401, .. } => Problem::Unauthorized,
            Self::Status { status: 403, .. } => Problem::Forbidden,
            Self::Status { status: 404, .. } => Problem::NotFound,
            Self::Status { status: 410, .. } => Problem::Gone,
            Self::Transport { .. } => Problem::Unreachable,
            _ => Problem::Other,
        }
    }
}

/// What kind of failure stopped a sync, with what a fix needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// The certificate is not trusted; `presented` is its fingerprint.
    Certificate {
        /// The fingerprint of the certificate the server presented.
        presented: Option<String>,
    },
    /// The token is missing or wrong (`401`).
    Unauthorized,
    /// The token may not use this document (`403`).
    Forbidden,
    /// No such document on the server, or not shared with us (`404`).
    NotFound,
    /// The document was deleted on the server (`410`).
    Gone,
    /// The server could not be reached.
    Unreachable,
    /// Anything else.
    Other,
}
