//! The axum router: which path goes to which handler.

use axum::routing::{get, put};
use axum::{middleware, Router};

use super::auth::require_token;
use super::extras::{delete_doc, fallback, get_doc, health, list_docs, method_not_allowed};
use super::state::AppState;
use super::sync::sync_doc;

/// Builds the router over `state`. Kept apart from the listener so tests can
/// drive it directly.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/_health", get(health))
        .route("/_docs", get(list_docs))
        .route(
            "/{doc_id}",
            put(sync_doc).post(sync_doc).get(get_doc).delete(delete_doc),
        )
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}
