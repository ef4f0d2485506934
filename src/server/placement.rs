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

/// Where a document is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// By this node.
    Here,
    /// By the node at this base URL (`http://host:port`).
    At(String),
}

/// Decides which node serves a document. Calls may block on a database.
pub trait Placement: Send + Sync + std::fmt::Debug + 'static {
    /// Where `id` is served; an error means the decision cannot be made now.
    fn locate(&self, id: &DocId) -> Result<Location, String>;
    /// The cluster's members, their documents and connections, as JSON.
    fn status(&self) -> Result<serde_json::Value, String>;
}

/// The document a request path addresses directly (`/{doc_id}`), if any.
fn addressed_doc(path: &str) -> Option<DocId> {
    let rest = path.strip_prefix('/')?;
    if rest.is_empty() || rest.starts_with('_') || rest.contains('/') {
        return None;
    }
    DocId::parse(rest).ok()
}

/// Middleware: `307` to the owning node for `/{doc_id}` requests of documents
/// served elsewhere.
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
    let lookup = {
        let id = id.clone();
        tokio::task::spawn_blocking(move || placement.locate(&id)).await
    };
    match lookup {
        Ok(Ok(Location::Here)) => next.run(request).await,
        Ok(Ok(Location::At(base))) => {
            let tail = request
                .uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned();
            let target = format!("{}{tail}", base.trim_end_matches('/'));
            tracing::debug!(doc = %id, to = %target, "redirecting to the owning node");
            match HeaderValue::from_str(&target) {
                Ok(location) => (
                    StatusCode::TEMPORARY_REDIRECT,
                    [(header::LOCATION, location)],
                )
                    .into_response(),
                Err(_) => ApiError::Internal(format!("bad owner URL {target:?}")).into_response(),
            }
        }
        Ok(Err(reason)) => ApiError::Unavailable(format!(
            "cannot tell which node serves {id} right now ({reason}); try again"
        ))
        .into_response(),
        Err(e) => ApiError::Internal(e.to_string()).into_response(),
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
        for path in ["/", "/_docs", "/_cluster", "/_ws/notes", "/notes/share", ""] {
            assert_eq!(addressed_doc(path), None, "{path}");
        }
    }
}
