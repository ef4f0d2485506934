//! Why a service operation failed, and its side of the error contract: each
//! failure's [`Code`], and the `{code, message}` body the desktop app's
//! commands answer with.

use crate::client::ClientError;
use crate::discovery::peers::PeerError;
use crate::error_code::{Code, ErrorBody};
use crate::hub::DocError;
use crate::store::StoreError;

/// Why a service operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// No such document or remote.
    #[error("{0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadInput(String),
    /// A document operation failed.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A client could not be set up.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// A LAN peer cannot be used.
    #[error(transparent)]
    Peer(#[from] PeerError),
    /// A peer or server did not answer as expected.
    #[error("{0}")]
    Unreachable(String),
}

impl ServiceError {
    /// What kind of failure, the same over HTTP and IPC (`not-found`,
    /// `offline`, …).
    pub fn code(&self) -> Code {
        match self {
            Self::NotFound(_) => Code::NotFound,
            Self::BadInput(_) => Code::BadInput,
            Self::Doc(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Client(ClientError::BadUrl { .. } | ClientError::PlainHttpToken { .. }) => {
                Code::BadInput
            }
            Self::Client(_) | Self::Unreachable(_) => Code::Remote,
            Self::Peer(e) => e.code(),
        }
    }
}

/// The IPC side of the contract (the desktop app's commands): the code and
/// the message. HTTP answers the same code (`ApiError::from(ServiceError)`).
impl From<ServiceError> for ErrorBody {
    fn from(e: ServiceError) -> Self {
        ErrorBody::new(e.code(), e.to_string())
    }
}

impl From<StoreError> for ErrorBody {
    fn from(e: StoreError) -> Self {
        ServiceError::Store(e).into()
    }
}

impl From<crate::doc_id::DocIdError> for ErrorBody {
    fn from(e: crate::doc_id::DocIdError) -> Self {
        ErrorBody::new(Code::BadInput, e.to_string())
    }
}

impl From<crate::history::HistoryError> for ErrorBody {
    fn from(e: crate::history::HistoryError) -> Self {
        ServiceError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_error_is_code_and_message_over_ipc() {
        let e = ErrorBody::from(ServiceError::NotFound("no document x".into()));
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"code": "not-found", "message": "no document x"})
        );
    }

    #[test]
    fn bad_doc_ids_are_bad_input() {
        let e: ErrorBody = crate::DocId::parse("_x").expect_err("reserved").into();
        assert_eq!(e.code, Code::BadInput);
    }
}
