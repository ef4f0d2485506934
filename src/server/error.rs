//! Errors before the `200`: one enum, one JSON shape
//! `{"code":"…","message":"…","error":"…"}` (`error` repeats the message: it
//! is the field of the sync protocol). The status comes from the
//! [`Code`]; [`Code::status`] is the only table of statuses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::doc_id::DocIdError;
use crate::error_code::{Code, ErrorBody};
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
    /// The server is shutting down.
    #[error("server is shutting down")]
    ShuttingDown,
    /// Something failed inside the server; details are logged, not sent.
    #[error("internal error")]
    Internal(String),
    /// An error of a layer below (service, document, store) that says its
    /// own code, so HTTP and IPC agree on it.
    #[error("{0}")]
    Coded(ErrorBody),
}

impl ApiError {
    /// What kind of failure this is (the UI switches on it).
    pub fn code(&self) -> Code {
        match self {
            Self::BadDocId(_) | Self::BadRequest(_) => Code::BadInput,
            Self::Unauthorized | Self::InvalidToken(_) => Code::Unauthorized,
            Self::Forbidden(_) => Code::Forbidden,
            Self::CrossOrigin(_) => Code::CrossOrigin,
            Self::NotFound(_) => Code::NotFound,
            Self::Conflict(_) => Code::Conflict,
            Self::BadGateway(_) => Code::Remote,
            Self::Unavailable(_) => Code::Unavailable,
            Self::ShuttingDown => Code::ShuttingDown,
            Self::MethodNotAllowed => Code::MethodNotAllowed,
            Self::NotAcceptable(_) => Code::NotAcceptable,
            Self::TooLarge(_) => Code::TooLarge,
            Self::UnsupportedMediaType(_) | Self::UnsupportedEncoding(_) => {
                Code::UnsupportedMediaType
            }
            Self::MisdirectedHost(_) => Code::MisdirectedHost,
            Self::Internal(_) => Code::Internal,
            Self::Coded(body) => body.code,
        }
    }

    /// The HTTP status for this error (that of its [`Code`]).
    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.code().status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The body sent: the code and the message, internal details left out
    /// (they are logged).
    pub fn body(&self) -> ErrorBody {
        let code = self.code();
        let message = match self {
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                "internal error".to_owned()
            }
            Self::Coded(body) if code == Code::Internal => {
                tracing::error!(detail = %body.message, "internal error");
                "internal error".to_owned()
            }
            other => other.to_string(),
        };
        ErrorBody { code, message }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        Self::Coded(ErrorBody::new(e.code(), e.to_string()))
    }
}

impl From<DocError> for ApiError {
    fn from(e: DocError) -> Self {
        let code = e.code();
        match e {
            DocError::Tombstoned { id, .. } => Self::Coded(ErrorBody::new(code, format!(
                "document {id} was deleted by its owner and is not re-created; the owner can allow its id again with DELETE /_docs/{id}/tombstone"
            ))),
            DocError::Store(e) => e.into(),
            e => Self::Coded(ErrorBody::new(code, e.to_string())),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.body();
        let mut response = (
            self.status(),
            Json(serde_json::json!({
                "code": body.code,
                "message": body.message,
                "error": body.message,
            })),
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
