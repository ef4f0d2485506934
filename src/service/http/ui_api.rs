//! The browser UI's endpoints: new documents, the UI's Automerge peer over a
//! WebSocket (browsers cannot stream a request body and a response at once),
//! events, remotes, search, activity, share policies and LAN peers.

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use crate::doc_id::DocId;
use crate::server::access::Caller;
use crate::server::extract::{JsonBody, Owner};
use crate::server::{ApiError, AppState};
use crate::service::{RemoteSpec, Service, ServiceError};

/// The body of `POST /_docs`.
#[derive(Debug, Deserialize)]
pub(crate) struct NewDoc {
    /// The new document's title.
    #[serde(default)]
    pub title: String,
}

/// `POST /_docs`: a new document from the note template.
pub(crate) async fn create_doc(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(new): JsonBody<NewDoc>,
) -> Result<Response, ApiError> {
    caller.check_create(&state)?;
    let id = service.create_doc(&new.title)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// `POST /_import`: `.automerge` bytes become a new document.
pub(crate) async fn import_doc(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.check_create(&state)?;
    if body.len() > state.options.max_upload {
        return Err(ApiError::TooLarge(format!(
            "upload exceeds {} bytes",
            state.options.max_upload
        )));
    }
    // Loading and checking a big file takes long: off the runtime.
    let id = service.off_runtime(move |s| s.import_doc(&body)).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// Query parameters of `GET /_ws/{doc_id}` (a browser cannot set headers
/// on a WebSocket).
#[derive(Debug, Deserialize, Default)]
pub(crate) struct SocketQuery {
    /// Like `Tandem-Features`: `ephemeral` asks for ephemeral messages.
    #[serde(default)]
    pub features: Option<String>,
}

/// Where a UI socket comes from: its connection (named in presence), and
/// whether another node of a cluster relayed it here.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SocketOrigin {
    info: Option<crate::server::listener::ConnectionInfo>,
    relayed: bool,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SocketOrigin {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            info: parts.extensions.get().copied(),
            relayed: parts
                .extensions
                .get::<crate::server::ui_relay::Relayed>()
                .is_some(),
        })
    }
}

/// `GET /_ws/{doc_id}`: the UI's Automerge peer, one `{"event":…}` line per
/// text frame; `?features=ephemeral` adds ephemeral messages.
pub(crate) async fn doc_socket(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SocketQuery>,
    origin: SocketOrigin,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    let access = caller.check_doc(&state, &id)?;
    // In a cluster, a document served by another node is relayed there
    // (browsers cannot follow a redirect on a WebSocket).
    if let (Some(placement), false) = (state.options.placement.clone(), origin.relayed) {
        let location = crate::server::placement::locate(placement.clone(), &id).await?;
        if let crate::server::placement::Location::At { url, pin } = location {
            let upstream = crate::server::ui_relay::connect(
                &url,
                pin.as_deref(),
                &id,
                query.features.as_deref(),
                &caller,
                placement.cluster_secret(),
                state.options.max_line,
            )
            .await?;
            tracing::debug!(doc = %id, to = %url, "relaying a UI socket to the serving node");
            let stop = state.shutdown.clone();
            let check = caller.rights(&state.shares, &id, access).check;
            return Ok(upgrade.max_message_size(state.options.max_line).on_upgrade(
                move |socket| crate::server::ui_relay::relay(socket, upstream, stop, check),
            ));
        }
    }
    let rights = caller.rights(&state.shares, &id, access);
    let peer = crate::service::UiPeer {
        peer: origin
            .info
            .map_or_else(|| "ui".into(), |i| i.remote.to_string()),
        user: caller.name().map(str::to_owned),
        ephemeral: query.features.as_deref().is_some_and(|f| {
            crate::protocol::compress::names_feature(f, crate::protocol::EPHEMERAL_FEATURE)
        }),
    };
    Ok(upgrade
        .max_message_size(state.options.max_line)
        .on_upgrade(move |socket| async move {
            if let Err(e) = bridge(socket, service, id, rights, peer).await {
                tracing::debug!(error = %e, "UI socket ended");
            }
        }))
}

async fn bridge(
    socket: WebSocket,
    service: std::sync::Arc<crate::service::Service>,
    id: DocId,
    rights: crate::link::PeerRights,
    peer: crate::service::UiPeer,
) -> Result<(), ServiceError> {
    let (mut sink, stream) = socket.split();
    let incoming = stream
        .take_while(|m| std::future::ready(!matches!(m, Ok(Message::Close(_)))))
        .filter_map(|m| async move {
            match m {
                Ok(Message::Text(text)) => Some(Ok(line(text.as_bytes()))),
                Ok(Message::Binary(bytes)) => Some(Ok(line(&bytes))),
                Ok(_) => None,
                Err(e) => Some(Err(e)),
            }
        })
        .boxed();
    // Loaded off the runtime if it is not in memory, and held until
    // attached (on failure, attaching says why).
    let _loaded = crate::server::offload::open(service.hub(), &id).await.ok();
    let mut outgoing = service.attach_peer_as(&id, incoming, rights, peer)?;
    while let Some(bytes) = outgoing.recv().await {
        let text =
            String::from_utf8_lossy(bytes.strip_suffix(b"\n").unwrap_or(&bytes)).into_owned();
        if sink.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    let _ = sink.close().await;
    Ok(())
}

fn line(bytes: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(bytes.len() + 1);
    v.extend_from_slice(bytes);
    v.push(b'\n');
    Bytes::from(v)
}

/// `GET /_events`: [`crate::service::ServiceEvent`]s as JSON text frames
/// (peers hear only that listings changed).
pub(crate) async fn events_socket(
    Extension(service): Extension<Arc<Service>>,
    State(state): State<AppState>,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut events = service.subscribe();
    let shutdown = state.shutdown.clone();
    upgrade.on_upgrade(move |socket| async move {
        let (mut sink, mut stream) = socket.split();
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                incoming = stream.next() => if !matches!(incoming, Some(Ok(_))) { break },
                event = events.recv() => {
                    let json = match event {
                        Ok(crate::service::ServiceEvent::Remote { .. } | crate::service::ServiceEvent::PeersChanged)
                            if !caller.is_owner() =>
                        {
                            continue
                        }
                        Ok(event) => serde_json::to_string(&event).unwrap_or_default(),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => "{\"event\":\"docs-changed\"}".to_owned(),
                        Err(_) => break,
                    };
                    if sink.send(Message::Text(json.into())).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    })
}

/// `GET /_remotes`.
pub(crate) async fn list_remotes(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
) -> Json<Vec<crate::service::RemoteInfo>> {
    Json(service.remotes())
}

/// Query of `POST /_remotes`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AddRemoteQuery {
    /// `true`: answer once the first connection is live or has failed (a
    /// failed remote is not kept; the answer's `state` is `error`, with
    /// `error` and `problem`).
    #[serde(default)]
    pub wait: bool,
}

/// `POST /_remotes[?wait=true]`: start syncing a document with a server.
pub(crate) async fn add_remote(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Query(query): Query<AddRemoteQuery>,
    JsonBody(spec): JsonBody<RemoteSpec>,
) -> Result<Response, ApiError> {
    if query.wait {
        let info = service.add_remote_checked(spec).await?;
        let status = if info.state == "error" {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        return Ok((status, Json(info)).into_response());
    }
    let info = service.add_remote(spec)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /_activity`: every connection in and out, and each open
/// document's recent activity (owner only).
pub(crate) async fn activity(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
) -> Json<crate::service::ActivityReport> {
    Json(service.activity())
}

/// Query of `GET /_search`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    pub q: String,
}

/// `GET /_search?q=…`: the text of every document, searched (owner only).
pub(crate) async fn search(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Query(query): Query<SearchQuery>,
) -> Result<Json<crate::service::search::SearchResults>, ApiError> {
    let results = crate::service::search::search_blocking(service, query.q).await?;
    Ok(Json(results))
}

/// `POST /_remotes/{id}/retry`: connect again now.
pub(crate) async fn retry_remote(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
) -> Result<Json<crate::service::RemoteInfo>, ApiError> {
    Ok(Json(service.retry_remote(&id)?))
}

/// `PATCH /_remotes/{id}`: a new token or pinned certificate (`{"token"?, "fingerprint"?}`).
pub(crate) async fn update_remote(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<crate::service::RemoteUpdate>,
) -> Result<Json<crate::service::RemoteInfo>, ApiError> {
    Ok(Json(service.update_remote(&id, update)?))
}

/// `DELETE /_remotes/{id}`.
pub(crate) async fn remove_remote(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.remove_remote(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The body of `PUT /_docs/{doc_id}/share`.
#[derive(Debug, Deserialize)]
pub(crate) struct ShareRequest {
    /// `private`, `lan` or `link`.
    pub policy: crate::share::SharePolicy,
}

/// `PUT /_docs/{doc_id}/share` (owner only): set a document's share policy.
pub(crate) async fn set_share(
    Extension(service): Extension<Arc<Service>>,
    caller: Caller,
    Path(raw_id): Path<String>,
    JsonBody(request): JsonBody<ShareRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.require_owner()?;
    service.set_share_policy(&id, request.policy)?;
    Ok(Json(
        serde_json::json!({ "id": id, "policy": request.policy }),
    ))
}

/// `DELETE /_docs/{doc_id}/tombstone` (owner): a deleted document's id may be used again.
pub(crate) async fn allow_again(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = DocId::parse(&raw_id)?;
    service.allow_again(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_peers` (owner): discovered and remembered LAN peers.
pub(crate) async fn list_peers(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
) -> Json<Vec<crate::discovery::peers::PeerInfo>> {
    Json(service.peers())
}

/// `GET /_peers/{id}/docs` (owner): the documents a peer shares.
pub(crate) async fn peer_docs(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(service.peer_docs(&id).await?))
}

/// The body of `POST /_peers/{id}/open`.
#[derive(Debug, Deserialize)]
pub(crate) struct OpenPeerDoc {
    /// The peer's document to open.
    pub doc_id: DocId,
}

/// `POST /_peers/{id}/open` (owner): a live local copy of a peer's shared document.
pub(crate) async fn open_peer_doc(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OpenPeerDoc>,
) -> Result<Response, ApiError> {
    let remote = service.open_peer_doc(&id, &body.doc_id)?;
    Ok((StatusCode::CREATED, Json(remote)).into_response())
}

/// `POST /_peers/{id}/verify` (owner): the user confirmed the verification code.
pub(crate) async fn verify_peer(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(service.verify_peer(&id)?).into_response())
}

/// `DELETE /_peers/{id}` (owner): forget a peer's pinned certificate.
pub(crate) async fn forget_peer(
    Extension(service): Extension<Arc<Service>>,
    _: Owner,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    service.forget_peer(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
