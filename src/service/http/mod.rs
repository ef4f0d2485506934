//! The service over HTTP: the routes the browser UI (and `tandem` commands)
//! use besides syncing — documents, the UI's Automerge peer over a
//! WebSocket, events, remotes, history, LAN peers. The server mounts them
//! ([`crate::server::ServedApi`]) without knowing the service.

pub(crate) mod docs;
pub(crate) mod history;
pub(crate) mod ui_api;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::{Extension, Router};

use super::{Service, ServiceError};
use crate::server::{ApiError, AppState};

/// The service's routes, for the server to merge with its own; `max_upload`
/// bounds `POST /_import`.
pub fn routes(service: Arc<Service>, max_upload: usize) -> Router<AppState> {
    Router::new()
        .route("/_docs", get(docs::list_docs).post(ui_api::create_doc))
        .route(
            "/_import",
            post(ui_api::import_doc).layer(DefaultBodyLimit::max(max_upload)),
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
        .route("/_activity", get(ui_api::activity))
        .route("/_docs/{doc_id}/share", put(ui_api::set_share))
        .route("/_docs/{doc_id}/tombstone", delete(ui_api::allow_again))
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
        .route("/{doc_id}", get(docs::get_doc).delete(docs::delete_doc))
        .layer(Extension(service))
}

impl From<ServiceError> for ApiError {
    /// Keeps the service's code (so HTTP and IPC agree); document and store
    /// errors keep their HTTP wording.
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Doc(e) => e.into(),
            ServiceError::Store(e) => e.into(),
            e => ApiError::Coded(e.into()),
        }
    }
}
