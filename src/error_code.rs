//! The one error contract every user interface sees: a machine-readable
//! [`Code`] and a one-line message, as `{"code": "...", "message": "..."}`
//! ([`ErrorBody`]), over HTTP and over the desktop app's IPC alike.
//!
//! Each error type says its own code (`StoreError::code`, `DocError::code`,
//! `PeerError::code`, `ServiceError::code`, `ApiError::code`); the HTTP
//! status of a code is written once, here ([`Code::status`]). A UI switches
//! on the code, never on a status or on the text.

use serde::{Deserialize, Serialize};

/// What kind of failure an error is. Serialized in kebab-case
/// (`"not-found"`, `"offline"`, …); the TypeScript union of these strings is
/// generated into `ui/src/generated/Code.ts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Code {
    /// The request or an argument is malformed (a bad document id, bad JSON, …).
    BadInput,
    /// Automerge refused the data, or it is over a limit.
    BadDocument,
    /// No or a wrong credential for this server (sign in again).
    Unauthorized,
    /// The caller may not do this.
    Forbidden,
    /// A page of another origin tried to call the server.
    CrossOrigin,
    /// No such document, remote, peer or route.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The caller does not accept what the endpoint produces.
    NotAcceptable,
    /// The request conflicts with the current state.
    Conflict,
    /// A LAN peer now presents another certificate than the pinned one.
    CertificateChanged,
    /// The document was deleted by its owner and is not re-created.
    Deleted,
    /// The body is larger than allowed.
    TooLarge,
    /// The body's type or encoding is not one Tandem reads.
    UnsupportedMediaType,
    /// The request names a host this server does not answer to.
    MisdirectedHost,
    /// Something failed inside; details are in the log.
    Internal,
    /// A peer or server this one called failed or could not be reached.
    Remote,
    /// A LAN peer is not on the network now.
    Offline,
    /// Something needed is not there right now (e.g. another node owns the
    /// document); try again.
    Unavailable,
    /// The server is shutting down.
    ShuttingDown,
    /// The disk holding the documents is full.
    DiskFull,
    /// The desktop app has no such document open (its own code).
    NotOpen,
    /// A native file dialog failed (the desktop app's own code).
    Dialog,
    /// A file the user chose could not be read or written (the desktop app's
    /// own code).
    File,
}

impl Code {
    /// Every code (for tests and docs).
    pub const ALL: [Code; 23] = [
        Code::BadInput,
        Code::BadDocument,
        Code::Unauthorized,
        Code::Forbidden,
        Code::CrossOrigin,
        Code::NotFound,
        Code::MethodNotAllowed,
        Code::NotAcceptable,
        Code::Conflict,
        Code::CertificateChanged,
        Code::Deleted,
        Code::TooLarge,
        Code::UnsupportedMediaType,
        Code::MisdirectedHost,
        Code::Internal,
        Code::Remote,
        Code::Offline,
        Code::Unavailable,
        Code::ShuttingDown,
        Code::DiskFull,
        Code::NotOpen,
        Code::Dialog,
        Code::File,
    ];

    /// The HTTP status an error with this code is answered with — the only
    /// place that says so.
    pub fn status(self) -> u16 {
        match self {
            Code::BadInput | Code::BadDocument => 400,
            Code::Unauthorized => 401,
            Code::Forbidden | Code::CrossOrigin => 403,
            Code::NotFound | Code::NotOpen => 404,
            Code::MethodNotAllowed => 405,
            Code::NotAcceptable => 406,
            Code::Conflict | Code::CertificateChanged => 409,
            Code::Deleted => 410,
            Code::TooLarge => 413,
            Code::UnsupportedMediaType => 415,
            Code::MisdirectedHost => 421,
            Code::Internal | Code::Dialog | Code::File => 500,
            Code::Remote => 502,
            Code::Offline | Code::Unavailable | Code::ShuttingDown => 503,
            Code::DiskFull => 507,
        }
    }

    /// The code as it is written on the wire (`"not-found"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Code::BadInput => "bad-input",
            Code::BadDocument => "bad-document",
            Code::Unauthorized => "unauthorized",
            Code::Forbidden => "forbidden",
            Code::CrossOrigin => "cross-origin",
            Code::NotFound => "not-found",
            Code::MethodNotAllowed => "method-not-allowed",
            Code::NotAcceptable => "not-acceptable",
            Code::Conflict => "conflict",
            Code::CertificateChanged => "certificate-changed",
            Code::Deleted => "deleted",
            Code::TooLarge => "too-large",
            Code::UnsupportedMediaType => "unsupported-media-type",
            Code::MisdirectedHost => "misdirected-host",
            Code::Internal => "internal",
            Code::Remote => "remote",
            Code::Offline => "offline",
            Code::Unavailable => "unavailable",
            Code::ShuttingDown => "shutting-down",
            Code::DiskFull => "disk-full",
            Code::NotOpen => "not-open",
            Code::Dialog => "dialog",
            Code::File => "file",
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error a UI receives: `{"code": "...", "message": "..."}`.
/// (HTTP answers carry the message once more as `error`, the field the sync
/// protocol has always had; see `docs/protocol-extensions.md`.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct ErrorBody {
    /// What kind of failure.
    pub code: Code,
    /// One human-readable line: what is wrong and how to fix it.
    pub message: String,
}

impl ErrorBody {
    /// An error with `code` and `message`.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_wire_names() {
        for code in Code::ALL {
            let json = serde_json::to_value(code).expect("serializes");
            assert_eq!(json, serde_json::Value::from(code.as_str()));
            let back: Code = serde_json::from_value(json).expect("parses");
            assert_eq!(back, code);
        }
    }

    #[test]
    fn every_status_is_an_error_status() {
        for code in Code::ALL {
            assert!((400..600).contains(&code.status()), "{code}");
        }
    }

    #[test]
    fn a_body_is_code_and_message() {
        let body = ErrorBody::new(Code::Offline, "bob is offline");
        assert_eq!(
            serde_json::to_value(&body).expect("serializes"),
            serde_json::json!({"code": "offline", "message": "bob is offline"})
        );
    }
}
