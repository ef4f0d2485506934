//! How an automerge-repo socket closes: the close code and the reason a
//! client reads, for bad input, errors of a document's link and shutdown.

use crate::doc_id::DocId;
use crate::link::{Ending, READ_ONLY_REFUSAL};

/// Close codes (RFC 6455 §7.4.1).
pub(super) mod code {
    pub(in crate::server::repo_socket) const NORMAL: u16 = 1000;
    pub(in crate::server::repo_socket) const GOING_AWAY: u16 = 1001;
    pub(in crate::server::repo_socket) const UNSUPPORTED: u16 = 1003;
    pub(in crate::server::repo_socket) const INVALID: u16 = 1007;
    pub(in crate::server::repo_socket) const POLICY: u16 = 1008;
    pub(in crate::server::repo_socket) const TOO_BIG: u16 = 1009;
    pub(in crate::server::repo_socket) const INTERNAL: u16 = 1011;
}

/// Why a socket closes: a close code and a reason for the client.
#[derive(Debug)]
pub(super) struct Close {
    pub(super) code: u16,
    pub(super) reason: String,
}

impl Close {
    pub(super) fn new(code: u16, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// The close for a link that ended with an error.
pub(super) fn ending_close(id: &DocId, ending: Ending) -> Close {
    match ending {
        Ending::Error(reason) if reason == READ_ONLY_REFUSAL => Close::new(code::POLICY, reason),
        Ending::Error(reason) => Close::new(code::INVALID, format!("document {id}: {reason}")),
        Ending::Failed(reason) => Close::new(code::INTERNAL, format!("document {id}: {reason}")),
        other => Close::new(
            code::INTERNAL,
            format!("document {id}: sync ended ({other:?})"),
        ),
    }
}

/// The close for a failed read: an oversized frame says so.
pub(super) fn too_big_or(e: axum::Error) -> Close {
    let text = e.to_string();
    if text.contains("too long") || text.contains("too big") || text.contains("Space limit") {
        Close::new(code::TOO_BIG, format!("message too big: {text}"))
    } else {
        Close::new(code::INVALID, format!("unreadable frame: {text}"))
    }
}

/// A close reason must fit in a control frame (123 bytes).
pub(super) fn truncate(reason: &str) -> String {
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}
