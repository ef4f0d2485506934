//! Listing, reading and deleting documents over HTTP (PROTOCOL.md §5):
//! `GET /_docs`, `GET /{doc_id}` and `DELETE /{doc_id}`.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::doc_id::DocId;
use crate::server::access::Caller;
use crate::server::offload;
use crate::server::{ApiError, AppState};
use crate::service::Service;

/// `GET /_docs`: every stored document for the owner; the shared ones for peers.
pub(crate) async fn list_docs(
    Extension(service): Extension<Arc<Service>>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let docs: Vec<_> = if caller.is_owner() {
        service.list_docs()?
    } else {
        service.list_shared_docs()?
    }
    .into_iter()
    .filter(|d| caller.may_list(&d.summary.id))
    .collect();
    Ok(Json(docs).into_response())
}

/// Query of `GET /{doc_id}`.
#[derive(Debug, serde::Deserialize, Default)]
pub(crate) struct GetQuery {
    /// A past version (`HASH,HASH,…`): the document as JSON as it was there.
    pub at: Option<String>,
}

/// `GET /{doc_id}`: `.automerge` bytes for `Accept: application/octet-stream`,
/// otherwise the document as JSON; with `?at=HEADS`, as JSON at those heads.
pub(crate) async fn get_doc(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<GetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.check_doc(&state, &id)?;
    if let Some(at) = query.at {
        let at_heads = service.off_runtime(move |s| s.doc_at(&id, &at)).await?;
        return Ok(Json(at_heads).into_response());
    }
    let doc = offload::open_existing(&state.hub, &id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no document {id}")))?;
    let wants_bytes = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    if wants_bytes {
        let bytes = service.off_runtime(move |_| Ok(doc.save())).await?;
        let disposition = format!("attachment; filename=\"{id}.automerge\"");
        Ok((
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&disposition)
                        .unwrap_or(HeaderValue::from_static("attachment")),
                ),
            ],
            bytes,
        )
            .into_response())
    } else {
        let json = service.off_runtime(move |_| Ok(doc.to_json())).await?;
        Ok(Json(json).into_response())
    }
}

/// Query of `DELETE /{doc_id}`.
#[derive(Debug, serde::Deserialize, Default)]
pub(crate) struct DeleteQuery {
    /// `true`: also delete it on every server it is synced with.
    #[serde(default)]
    pub everywhere: bool,
}

/// `DELETE /{doc_id}` (owner only): deleted here, with a tombstone; with
/// `?everywhere=true` also on every server it syncs with (the answer lists
/// each remote's outcome).
pub(crate) async fn delete_doc(
    Extension(service): Extension<Arc<Service>>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.require_owner()?;
    if !query.everywhere {
        service.delete_doc(&id)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let outcomes = service.delete_doc_everywhere(&id).await?;
    let remotes: Vec<_> = outcomes
        .into_iter()
        .map(|(url, result)| match result {
            Ok(()) => serde_json::json!({ "url": url, "deleted": true }),
            Err(e) => serde_json::json!({ "url": url, "deleted": false, "error": e }),
        })
        .collect();
    Ok(Json(serde_json::json!({ "id": id, "remotes": remotes })).into_response())
}
