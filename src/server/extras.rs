//! Tandem's own endpoints that need nothing but the server (PROTOCOL.md §5):
//! health, the UI's entry point, and the answers for unknown routes. Listing,
//! reading and deleting documents are the service's (`service::http`).

use axum::extract::{Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::doc_id::DocIdError;

/// `GET /_health`: liveness, version, where the server listens (and, for
/// its owner, where its data lives), and the
/// codings a sync request body may use (also as `Accept-Encoding`, so a
/// client can learn them before its first sync).
pub(crate) async fn health(State(state): State<AppState>, caller: Caller) -> Response {
    let mut body = serde_json::json!({
        "ok": true,
        "version": crate::VERSION,
        "listen": state.listen,
        "encodings": ["zstd", "gzip"],
    });
    // Where the data lives is the owner's business only.
    if let (true, Some(dir)) = (caller.is_owner(), &state.options.data_dir) {
        body["data_dir"] = dir.display().to_string().into();
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        axum::http::header::ACCEPT_ENCODING,
        axum::http::HeaderValue::from_static(crate::protocol::compress::ACCEPTED),
    );
    response
}

/// `GET /`: the UI, when one is served.
pub(crate) async fn root(State(state): State<AppState>) -> Result<Redirect, ApiError> {
    match state.options.ui_dir {
        Some(_) => Ok(Redirect::temporary("/_ui/")),
        None => Err(ApiError::NotFound(
            "no UI is served here; see /_health".into(),
        )),
    }
}

/// Anything no route matched: a sync to a path that is not one valid ID is a
/// `400` (it names an invalid document); anything else is a `404`.
pub(crate) async fn fallback(request: Request) -> ApiError {
    let path = request.uri().path();
    let is_sync = matches!(*request.method(), Method::PUT | Method::POST);
    if is_sync && !path.starts_with("/_") {
        let rest = path.trim_start_matches('/');
        return match rest {
            "" => ApiError::BadDocId(DocIdError::Empty),
            _ => ApiError::BadDocId(DocIdError::BadChar('/')),
        };
    }
    ApiError::NotFound(format!("no route for {} {}", request.method(), path))
}

/// A route that exists, asked with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
