//! The history endpoints (read access as for `GET /{doc}`, write access for
//! the edits): the timeline, a diff, the open conflicts, restore and resolve.
//! The document at some heads is `GET /{doc}?at=HEADS` ([`super::extras`]).

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;

use crate::server::access::{Caller, DocAccess};
use crate::server::extract::JsonBody;
use crate::server::ApiError;
use crate::server::AppState;
use std::sync::Arc;

use crate::doc_id::DocId;
use crate::history::{path_from_json, HistoryError};
use crate::service::Service;

fn readable(state: &AppState, caller: &Caller, raw_id: &str) -> Result<DocId, ApiError> {
    let id = DocId::parse(raw_id)?;
    caller.check_doc(state, &id)?;
    Ok(id)
}

fn writable(state: &AppState, caller: &Caller, raw_id: &str) -> Result<DocId, ApiError> {
    let id = DocId::parse(raw_id)?;
    match caller.check_doc(state, &id)? {
        DocAccess::Write => Ok(id),
        DocAccess::Read => Err(ApiError::Forbidden(
            "this token may only read this document".into(),
        )),
    }
}

fn bad_path(e: HistoryError) -> ApiError {
    ApiError::BadRequest(format!(
        "bad path {e}: expected an array of keys (strings) and indexes (numbers)"
    ))
}

/// `GET /_docs/{doc}/history`: the timeline (bursts, authors, times, paths).
pub(crate) async fn history(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = readable(&state, &caller, &raw_id)?;
    let timeline = service.off_runtime(move |s| s.history(&id)).await?;
    Ok(Json(timeline).into_response())
}

/// Query of `GET /_docs/{doc}/diff`.
#[derive(Debug, Deserialize)]
pub(crate) struct DiffQuery {
    /// Heads (`HASH,HASH,…`; empty: the empty document).
    #[serde(default)]
    pub from: String,
    /// Heads; absent: the document's heads now.
    pub to: Option<String>,
}

/// `GET /_docs/{doc}/diff?from=HEADS&to=HEADS`: Automerge's patches between two versions.
pub(crate) async fn diff(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Result<Response, ApiError> {
    let id = readable(&state, &caller, &raw_id)?;
    let entries = service
        .off_runtime(move |s| s.diff(&id, &query.from, query.to.as_deref()))
        .await?;
    Ok(Json(entries).into_response())
}

/// `GET /_docs/{doc}/conflicts`: the keys holding concurrent values.
pub(crate) async fn conflicts(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
) -> Result<Response, ApiError> {
    let id = readable(&state, &caller, &raw_id)?;
    let conflicts = service.off_runtime(move |s| s.conflicts(&id)).await?;
    Ok(Json(conflicts).into_response())
}

/// Body of `POST /_docs/{doc}/restore`.
#[derive(Debug, Deserialize)]
pub(crate) struct RestoreRequest {
    /// The version to restore (`HASH,HASH,…`).
    pub heads: String,
    /// One field or text to restore (keys and indexes); absent: the whole document.
    #[serde(default)]
    pub path: Option<serde_json::Value>,
}

/// `POST /_docs/{doc}/restore`: the document (or one field) as it was at
/// `heads`, written as a new change; answers the heads before and after.
pub(crate) async fn restore(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    JsonBody(request): JsonBody<RestoreRequest>,
) -> Result<Response, ApiError> {
    let id = writable(&state, &caller, &raw_id)?;
    let path = match &request.path {
        Some(p) => path_from_json(p).map_err(bad_path)?,
        None => Vec::new(),
    };
    let edit = service
        .off_runtime(move |s| s.restore(&id, &request.heads, &path))
        .await?;
    Ok(Json(edit).into_response())
}

/// Body of `POST /_docs/{doc}/resolve`.
#[derive(Debug, Deserialize)]
pub(crate) struct ResolveRequest {
    /// The conflicted key or index (as `GET …/conflicts` lists it).
    pub path: serde_json::Value,
    /// The id of the chosen value.
    pub choice: String,
}

/// `POST /_docs/{doc}/resolve`: keeps one of a conflict's values, as a new change.
pub(crate) async fn resolve(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    JsonBody(request): JsonBody<ResolveRequest>,
) -> Result<Response, ApiError> {
    let id = writable(&state, &caller, &raw_id)?;
    let path = path_from_json(&request.path).map_err(bad_path)?;
    let edit = service
        .off_runtime(move |s| s.resolve(&id, &path, &request.choice))
        .await?;
    Ok(Json(edit).into_response())
}
