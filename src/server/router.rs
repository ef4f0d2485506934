//! The axum router: which path goes to which handler.

use axum::routing::{get, post, put};
use axum::{middleware, Router};
use tower_http::services::ServeDir;

use super::auth::authenticate;
use super::extras::{fallback, health, method_not_allowed};
use super::gate::check_request;
use super::placement::{cluster_status, redirect_to_owner};
use super::repo_socket;
use super::signin;
use super::state::AppState;
use super::sync::sync_doc;

/// Builds the router over `state`, with `api` (the service's routes, when
/// one is served) merged in. Kept apart from the listener so tests can drive
/// it directly.
pub fn app(state: AppState, api: Option<Router<AppState>>) -> Router {
    let mut router = Router::new()
        .route("/", get(repo_socket::root).put(fallback).post(fallback))
        .route("/_health", get(health))
        .route("/_cluster", get(cluster_status))
        .route("/_signin", get(signin::form).post(signin::sign_in))
        .route("/_signout", post(signin::sign_out))
        .route("/_session", get(signin::whoami))
        .route(
            "/_docs/{doc_id}/connections",
            get(super::connections::list_connections),
        )
        .route(
            "/_docs/{doc_id}/presence",
            get(super::connections::list_presence),
        )
        .route("/{doc_id}", put(sync_doc).post(sync_doc));
    if let Some(api) = api {
        router = router.merge(api);
    }
    let mut router = router
        .fallback(fallback)
        .method_not_allowed_fallback(method_not_allowed);
    if let Some(dir) = &state.options.ui_dir {
        router = router.nest_service(
            "/_ui",
            ServeDir::new(dir).append_index_html_on_directories(true),
        );
    }
    // Layers run outside-in: the gate (Host, Origin) first, then
    // credentials, then (in a cluster) the redirect to a document's owner.
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            redirect_to_owner,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), check_request))
        .with_state(state)
}
