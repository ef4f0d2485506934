//! The axum router: which path goes to which handler.

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::{middleware, Router};
use tower_http::services::ServeDir;

use super::auth::authenticate;
use super::extras::{delete_doc, fallback, get_doc, list_docs, method_not_allowed};
use super::gate::check_request;
use super::history;
use super::placement::{cluster_status, redirect_to_owner};
use super::repo_socket;
use super::signin;
use super::state::AppState;
use super::sync::sync_doc;
use super::ui_api;

/// Builds the router over `state`. Kept apart from the listener so tests can
/// drive it directly.
pub fn app(state: AppState) -> Router {
    let mut router = Router::new()
        .route("/", get(repo_socket::root).put(fallback).post(fallback))
        .route("/_health", get(ui_api::health))
        .route("/_cluster", get(cluster_status))
        .route("/_signin", get(signin::form).post(signin::sign_in))
        .route("/_signout", post(signin::sign_out))
        .route("/_session", get(signin::whoami))
        .route("/_docs", get(list_docs).post(ui_api::create_doc))
        .route(
            "/_import",
            post(ui_api::import_doc).layer(DefaultBodyLimit::max(state.options.max_upload)),
        )
        .route("/_ws/{doc_id}", get(ui_api::doc_socket))
        .route("/_events", get(ui_api::events_socket))
        .route(
            "/_remotes",
            get(ui_api::list_remotes).post(ui_api::add_remote),
        )
        .route(
            "/_remotes/{id}",
            delete(ui_api::remove_remote).patch(ui_api::update_remote),
        )
        .route("/_remotes/{id}/retry", post(ui_api::retry_remote))
        .route("/_search", get(ui_api::search))
        .route("/_docs/{doc_id}/share", put(ui_api::set_share))
        .route("/_docs/{doc_id}/tombstone", delete(ui_api::allow_again))
        .route(
            "/_docs/{doc_id}/connections",
            get(super::connections::list_connections),
        )
        .route(
            "/_docs/{doc_id}/presence",
            get(super::connections::list_presence),
        )
        .route("/_docs/{doc_id}/history", get(history::history))
        .route("/_docs/{doc_id}/diff", get(history::diff))
        .route("/_docs/{doc_id}/conflicts", get(history::conflicts))
        .route("/_docs/{doc_id}/restore", post(history::restore))
        .route("/_docs/{doc_id}/resolve", post(history::resolve))
        .route("/_peers", get(ui_api::list_peers))
        .route("/_peers/{id}", delete(ui_api::forget_peer))
        .route("/_peers/{id}/docs", get(ui_api::peer_docs))
        .route("/_peers/{id}/open", post(ui_api::open_peer_doc))
        .route("/_peers/{id}/verify", post(ui_api::verify_peer))
        .route(
            "/{doc_id}",
            put(sync_doc).post(sync_doc).get(get_doc).delete(delete_doc),
        )
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
