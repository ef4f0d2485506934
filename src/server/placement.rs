//! Serving one document from one node: the redirect layer and `GET /_cluster`.
//!
//! The server knows nothing of how owners are chosen; it asks a
//! [`Placement`] (the cluster module's, over PostgreSQL) where a document
//! lives. A request for a document owned by another node is answered
//! `307 Temporary Redirect` to the same path and query on that node's public
//! URL — the protocol's own mechanism (PROTOCOL.md §4): clients replay the
//! body there. Without a placement (a single server) nothing changes.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::doc_id::DocId;
use crate::protocol::{vouch_value, CLUSTER_PEER_HEADER};

/// Where a document is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// By this node.
    Here,
    /// By another node.
    At {
        /// Its base URL (`http://host:port`).
        url: String,
        /// Its certificate's fingerprint when self-signed (clients pin it).
        pin: Option<String>,
    },
}

/// Decides which node serves a document. Calls may block on a database.
pub trait Placement: Send + Sync + std::fmt::Debug + 'static {
    /// Where `id` is served; an error means the decision cannot be made now.
    fn locate(&self, id: &DocId) -> Result<Location, String>;
    /// The cluster's members, their documents and connections, as JSON.
    fn status(&self) -> Result<serde_json::Value, String>;
    /// The secret all nodes share: a node relaying a user's UI socket to
    /// the node serving the document presents it, and says who the user is
    /// ([`super::ui_relay`]). Never sent to clients.
    fn cluster_secret(&self) -> &str;
}

/// The document a request path is about (`/{doc_id}`, or one of its
/// endpoints `/_docs/{doc_id}/…`), if any.
pub(crate) fn addressed_doc(path: &str) -> Option<DocId> {
    let rest = path.strip_prefix('/')?;
    if let Some(endpoint) = rest.strip_prefix("_docs/") {
        let (id, tail) = endpoint.split_once('/')?;
        if tail.is_empty() || tail.contains('/') {
            return None;
        }
        return DocId::parse(id).ok();
    }
    if rest.is_empty() || rest.starts_with('_') || rest.contains('/') {
        return None;
    }
    DocId::parse(rest).ok()
}

/// Whether a request comes from a browser page (the UI): browsers send
/// `Sec-Fetch-Mode` or `Origin`, or the UI's session cookie. Sync clients
/// and the CLI send none of them.
fn from_browser(state: &AppState, headers: &axum::http::HeaderMap) -> bool {
    headers.contains_key("sec-fetch-mode")
        || headers.contains_key(header::ORIGIN)
        || super::auth::cookie(headers, &state.session_cookie).is_some()
}

/// Whether the request is a sync (`PUT`/`POST /{doc_id}`), which is always
/// redirected (the protocol's way; the body is replayed by the client).
fn is_sync(request: &Request) -> bool {
    matches!(
        *request.method(),
        axum::http::Method::PUT | axum::http::Method::POST
    ) && !request.uri().path().starts_with("/_")
}

/// Where `id` is served, asked of `placement` off the async workers.
pub(crate) async fn locate(
    placement: Arc<dyn Placement>,
    id: &DocId,
) -> Result<Location, ApiError> {
    let lookup = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || placement.locate(&id)).await
    };
    match lookup {
        Ok(Ok(location)) => Ok(location),
        Ok(Err(reason)) => Err(ApiError::Unavailable(format!(
            "cannot tell which node serves {id} right now ({reason}); try again"
        ))),
        Err(e) => Err(ApiError::Internal(e.to_string())),
    }
}

/// Middleware: for a document served elsewhere, `307` to its node (sync
/// clients, the CLI), or — for the browser UI, which cannot carry its
/// session across origins — the request relayed there
/// ([`super::ui_relay::forward`]). A request relayed here by another node is
/// served here.
pub async fn redirect_to_owner(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (Some(placement), Some(id)) = (
        state.options.placement.clone(),
        addressed_doc(request.uri().path()),
    ) else {
        return next.run(request).await;
    };
    if request
        .extensions()
        .get::<super::ui_relay::Relayed>()
        .is_some()
    {
        return next.run(request).await;
    }
    match locate(placement.clone(), &id).await {
        Ok(Location::Here) => next.run(request).await,
        Ok(Location::At { url, pin })
            if from_browser(&state, request.headers()) && !is_sync(&request) =>
        {
            let caller = request
                .extensions()
                .get::<Caller>()
                .cloned()
                .unwrap_or_default();
            tracing::debug!(doc = %id, to = %url, "relaying a UI request to the serving node");
            super::ui_relay::forward(
                request,
                &url,
                pin.as_deref(),
                &caller,
                placement.cluster_secret(),
                state.options.max_upload,
            )
            .await
        }
        Ok(Location::At { url: base, pin }) => {
            let tail = request
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            let target = format!("{}{tail}", base.trim_end_matches('/'));
            tracing::debug!(doc = %id, to = %target, "redirecting to the owning node");
            match HeaderValue::from_str(&target) {
                Ok(location) => {
                    // The client trusted this node with its credentials;
                    // this node vouches for its peer (client::Hops).
                    let vouch = vouch_value(pin.as_deref());
                    let mut response = (
                        StatusCode::TEMPORARY_REDIRECT,
                        [(header::LOCATION, location)],
                    )
                        .into_response();
                    if let Ok(vouch) = HeaderValue::from_str(&vouch) {
                        response.headers_mut().insert(CLUSTER_PEER_HEADER, vouch);
                    }
                    response
                }
                Err(_) => ApiError::Internal(format!("bad owner URL {target:?}")).into_response(),
            }
        }
        Err(e) => e.into_response(),
    }
}

/// `GET /_cluster` (owner only): the nodes, their documents and connections.
pub async fn cluster_status(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    if !caller.is_owner() {
        return Err(ApiError::Forbidden(
            "only the owner may see the cluster".into(),
        ));
    }
    let Some(placement) = state.options.placement.clone() else {
        return Err(ApiError::NotFound(
            "this server is not part of a cluster (start it with --store postgres://…)".into(),
        ));
    };
    let status: Arc<dyn Placement> = placement;
    let value = tokio::task::spawn_blocking(move || status.status())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(ApiError::Unavailable)?;
    Ok(Json(value).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_document_paths_are_placed() {
        assert_eq!(
            addressed_doc("/notes").map(|d| d.to_string()),
            Some("notes".into())
        );
        assert_eq!(
            addressed_doc("/_docs/notes/history").map(|d| d.to_string()),
            Some("notes".into())
        );
        for path in [
            "/",
            "/_docs",
            "/_docs/notes",
            "/_docs/notes/",
            "/_docs/notes/a/b",
            "/_cluster",
            "/_ws/notes",
            "/notes/share",
            "",
        ] {
            assert_eq!(addressed_doc(path), None, "{path}");
        }
    }
}
