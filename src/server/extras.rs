//! Tandem's own endpoints (PROTOCOL.md §5): health, listing, reading and
//! deleting documents.

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::doc_id::{DocId, DocIdError};

/// `GET /_docs`: every stored document for the owner; the shared ones for peers.
pub async fn list_docs(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let docs: Vec<_> = if caller.is_owner() {
        state.service.list_docs()?
    } else {
        state.service.list_shared_docs()?
    }
    .into_iter()
    .filter(|d| caller.may_list(&d.summary.id))
    .collect();
    Ok(Json(docs).into_response())
}

/// Query of `GET /{doc_id}`.
#[derive(Debug, serde::Deserialize, Default)]
pub struct GetQuery {
    /// A past version (`HASH,HASH,…`): the document as JSON as it was there.
    pub at: Option<String>,
}

/// `GET /{doc_id}`: `.automerge` bytes for `Accept: application/octet-stream`,
/// otherwise the document as JSON; with `?at=HEADS`, as JSON at those heads.
pub async fn get_doc(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<GetQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.check_doc(&state, &id)?;
    if let Some(at) = &query.at {
        return Ok(Json(state.service.doc_at(&id, at)?).into_response());
    }
    let doc = state
        .hub
        .open_existing(&id)?
        .ok_or_else(|| ApiError::NotFound(format!("no document {id}")))?;
    let wants_bytes = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/octet-stream"));
    if wants_bytes {
        let bytes = doc.save();
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
        Ok(Json(doc.to_json()).into_response())
    }
}

/// Query of `DELETE /{doc_id}`.
#[derive(Debug, serde::Deserialize, Default)]
pub struct DeleteQuery {
    /// `true`: also delete it on every server it is synced with.
    #[serde(default)]
    pub everywhere: bool,
}

/// `DELETE /{doc_id}` (owner only): deleted here, with a tombstone; with
/// `?everywhere=true` also on every server it syncs with (the answer lists
/// each remote's outcome).
pub async fn delete_doc(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    Query(query): Query<DeleteQuery>,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.require_owner()?;
    if !query.everywhere {
        state.service.delete_doc(&id)?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let outcomes = state.service.delete_doc_everywhere(&id).await?;
    let remotes: Vec<_> = outcomes
        .into_iter()
        .map(|(url, result)| match result {
            Ok(()) => serde_json::json!({ "url": url, "deleted": true }),
            Err(e) => serde_json::json!({ "url": url, "deleted": false, "error": e }),
        })
        .collect();
    Ok(Json(serde_json::json!({ "id": id, "remotes": remotes })).into_response())
}

/// Anything no route matched: a sync to a path that is not one valid ID is a
/// `400` (it names an invalid document); anything else is a `404`.
pub async fn fallback(request: Request) -> ApiError {
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
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
