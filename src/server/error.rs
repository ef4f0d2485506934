//! Errors before the `200`: one enum, one JSON shape `{"error":"…"}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::doc_id::DocIdError;
use crate::hub::DocError;
use crate::store::StoreError;

/// A request the server refuses, or could not serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// The document ID in the path is invalid.
    #[error("invalid document id: {0}")]
    BadDocId(#[from] DocIdError),
    /// The request body or a line in it is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// No or wrong bearer token.
    #[error("missing or invalid bearer token")]
    Unauthorized,
    /// A bearer JWT was refused (expired, wrong audience, unknown key, …).
    #[error("bearer token refused: {0}")]
    InvalidToken(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// No such document or route.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (e.g. a peer's certificate changed).
    #[error("{0}")]
    Conflict(String),
    /// Something needed is not there right now (e.g. a peer is offline).
    #[error("{0}")]
    Unavailable(String),
    /// An upstream peer or server failed.
    #[error("{0}")]
    BadGateway(String),
    /// The route exists but not with this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The `Accept` header excludes ndjson.
    #[error("not acceptable: this endpoint produces {0}")]
    NotAcceptable(&'static str),
    /// The body is larger than allowed.
    #[error("{0}")]
    TooLarge(String),
    /// The `Content-Type` is not ndjson (utf-8).
    #[error("unsupported content type {0:?}: send application/x-ndjson; charset=utf-8")]
    UnsupportedMediaType(String),
    /// The request body's `Content-Encoding` is not one Tandem reads.
    #[error("unsupported Content-Encoding {0:?}: send the body as zstd, gzip or without a Content-Encoding")]
    UnsupportedEncoding(String),
    /// The request names a host this server does not answer to (DNS rebinding).
    #[error("this server does not answer to the host name {0:?} (DNS-rebinding protection); if that is its public name, start it with --public-host {0}")]
    MisdirectedHost(String),
    /// A web page of another origin tried to reach the server.
    #[error("refused {0}: only this server's own UI may call it from a browser")]
    CrossOrigin(String),
    /// The document was deleted and is not to be re-created silently.
    #[error("{0}")]
    Gone(String),
    /// The disk holding the store is full.
    #[error("{0}")]
    InsufficientStorage(String),
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// Something failed inside the server; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadDocId(_) | Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BadGateway(_) => StatusCode::BAD_GATEWAY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) | Self::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::MisdirectedHost(_) => StatusCode::MISDIRECTED_REQUEST,
            Self::CrossOrigin(_) => StatusCode::FORBIDDEN,
            Self::Gone(_) => StatusCode::GONE,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_disk_full() {
            Self::InsufficientStorage(e.to_string())
        } else if e.is_not_owner() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        match e {
            DocError::Automerge(e) => Self::BadRequest(format!("automerge rejected the data: {e}")),
            DocError::Deleted(id) => Self::NotFound(format!("document {id} was deleted")),
            DocError::Tombstoned { id, .. } => Self::Gone(format!(
                "document {id} was deleted by its owner and is not re-created; the owner can allow its id again with DELETE /_docs/{id}/tombstone"
            )),
            DocError::Store(e) => e.into(),
            DocError::Refused(e) => Self::BadRequest(format!("refused before loading: {e}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let mut response = (
            self.status(),
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response();
        if matches!(self, Self::UnsupportedEncoding(_)) {
            // RFC 9110 §15.5.16: say which codings would do.
            response.headers_mut().insert(
                axum::http::header::ACCEPT_ENCODING,
                axum::http::HeaderValue::from_static(crate::protocol::compress::ACCEPTED),
            );
        }
        if matches!(self, Self::Unauthorized | Self::InvalidToken(_)) {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
