//! The browser UI's endpoints: documents, the UI's Automerge peer over a
//! WebSocket (browsers cannot stream a request body and a response at once),
//! events, remotes, and the built UI itself under `/_ui/`.

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::doc_id::DocId;
use crate::service::{RemoteSpec, ServiceError};

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::Peer(crate::discovery::peers::PeerError::Offline(m)) => {
                ApiError::Unavailable(format!("{m} is offline"))
            }
            ServiceError::NotFound(m) => ApiError::NotFound(m),
            ServiceError::BadInput(m) => ApiError::BadRequest(m),
            ServiceError::Doc(e) => e.into(),
            ServiceError::Store(e) => e.into(),
            ServiceError::Client(e) => ApiError::BadRequest(e.to_string()),
            e @ ServiceError::Peer(crate::discovery::peers::PeerError::Unknown(_)) => {
                ApiError::NotFound(e.to_string())
            }
            e @ ServiceError::Peer(_) => ApiError::Conflict(e.to_string()),
            ServiceError::Unreachable(m) => ApiError::BadGateway(m),
        }
    }
}

/// A JSON request body whose rejections are `{"error":…}` like every other error.
pub struct JsonBody<T>(pub T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;
    async fn from_request(
        request: axum::extract::Request,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(JsonBody(value)),
            Err(rejection) => Err(ApiError::BadRequest(rejection.body_text())),
        }
    }
}

/// Proof that the caller is the owner (see [`Caller`]).
pub struct Owner;

impl FromRequestParts<AppState> for Owner {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Caller::from_request_parts(parts, state)
            .await?
            .require_owner()?;
        Ok(Owner)
    }
}

/// `GET /_health`: liveness, version, where the server listens (and, for
/// its owner, where its data lives), and the
/// codings a sync request body may use (also as `Accept-Encoding`, so a
/// client can learn them before its first sync).
pub async fn health(State(state): State<AppState>, caller: Caller) -> Response {
    let mut body = serde_json::json!({
        "ok": true,
        "version": crate::VERSION,
        "listen": state.listen,
        "encodings": ["zstd", "gzip"],
    });
    // Where the data lives is the owner's business only.
    if let (true, Some(dir)) = (caller.is_owner(), &state.options.data_dir) {
        body["data_dir"] = dir.display().to_string().into();
    }
    let mut response = Json(body).into_response();
    response.headers_mut().insert(
        axum::http::header::ACCEPT_ENCODING,
        axum::http::HeaderValue::from_static(crate::protocol::compress::ACCEPTED),
    );
    response
}

/// The body of `POST /_docs`.
#[derive(Debug, Deserialize)]
pub struct NewDoc {
    /// The new document's title.
    #[serde(default)]
    pub title: String,
}

/// `POST /_docs`: a new document from the note template.
pub async fn create_doc(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(new): JsonBody<NewDoc>,
) -> Result<Response, ApiError> {
    caller.check_create(&state)?;
    let id = state.service.create_doc(&new.title)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// `POST /_import`: `.automerge` bytes become a new document.
pub async fn import_doc(
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
    let id = state.service.import_doc(&body)?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response())
}

/// Query parameters of `GET /_ws/{doc_id}` (a browser cannot set headers
/// on a WebSocket).
#[derive(Debug, Deserialize, Default)]
pub struct SocketQuery {
    /// Like `Tandem-Features`: `ephemeral` asks for ephemeral messages.
    #[serde(default)]
    pub features: Option<String>,
}

/// `GET /_ws/{doc_id}`: the UI's Automerge peer, one `{"event":…}` line per
/// text frame; `?features=ephemeral` adds ephemeral messages.
pub async fn doc_socket(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    axum::extract::Query(query): axum::extract::Query<SocketQuery>,
    info: Option<axum::Extension<super::listener::ConnectionInfo>>,
    relayed: Option<axum::Extension<super::ui_relay::Relayed>>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let id = DocId::parse(&raw_id)?;
    let access = caller.check_doc(&state, &id)?;
    // In a cluster, a document served by another node is relayed there
    // (browsers cannot follow a redirect on a WebSocket).
    if let (Some(placement), None) = (state.options.placement.clone(), relayed) {
        let location = super::placement::locate(placement.clone(), &id).await?;
        if let super::placement::Location::At { url, pin } = location {
            let upstream = super::ui_relay::connect(
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
            let check = caller.rights(&state.service, &id, access).check;
            return Ok(upgrade
                .max_message_size(state.options.max_line)
                .on_upgrade(move |socket| super::ui_relay::relay(socket, upstream, stop, check)));
        }
    }
    let rights = caller.rights(&state.service, &id, access);
    let service = state.service.clone();
    let peer = crate::service::UiPeer {
        peer: info.map_or_else(|| "ui".into(), |i| i.remote.to_string()),
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
pub async fn events_socket(
    State(state): State<AppState>,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Response {
    let mut events = state.service.subscribe();
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
pub async fn list_remotes(
    _: Owner,
    State(state): State<AppState>,
) -> Json<Vec<crate::service::RemoteInfo>> {
    Json(state.service.remotes())
}

/// Query of `POST /_remotes`.
#[derive(Debug, Default, Deserialize)]
pub struct AddRemoteQuery {
    /// `true`: answer once the first connection is live or has failed (a
    /// failed remote is not kept; the answer's `state` is `error`, with
    /// `error` and `problem`).
    #[serde(default)]
    pub wait: bool,
}

/// `POST /_remotes[?wait=true]`: start syncing a document with a server.
pub async fn add_remote(
    _: Owner,
    State(state): State<AppState>,
    Query(query): Query<AddRemoteQuery>,
    JsonBody(spec): JsonBody<RemoteSpec>,
) -> Result<Response, ApiError> {
    if query.wait {
        let info = state.service.add_remote_checked(spec).await?;
        let status = if info.state == "error" {
            StatusCode::OK
        } else {
            StatusCode::CREATED
        };
        return Ok((status, Json(info)).into_response());
    }
    let info = state.service.add_remote(spec)?;
    Ok((StatusCode::CREATED, Json(info)).into_response())
}

/// `GET /_activity`: every connection in and out, and each open
/// document's recent activity (owner only).
pub async fn activity(
    _: Owner,
    State(state): State<AppState>,
) -> Json<crate::service::ActivityReport> {
    Json(state.service.activity())
}

/// Query of `GET /_search`.
#[derive(Debug, Default, Deserialize)]
pub struct SearchQuery {
    /// What to look for.
    #[serde(default)]
    pub q: String,
}

/// `GET /_search?q=…`: the text of every document, searched (owner only).
pub async fn search(
    _: Owner,
    State(state): State<AppState>,
    Query(query): Query<SearchQuery>,
) -> Result<Json<crate::service::search::SearchResults>, ApiError> {
    let service = state.service.clone();
    let results = tokio::task::spawn_blocking(move || service.search(&query.q))
        .await
        .map_err(|e| ServiceError::Unreachable(format!("the search stopped: {e}")))??;
    Ok(Json(results))
}

/// `POST /_remotes/{id}/retry`: connect again now.
pub async fn retry_remote(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<crate::service::RemoteInfo>, ApiError> {
    Ok(Json(state.service.retry_remote(&id)?))
}

/// `PATCH /_remotes/{id}`: a new token or pinned certificate (`{"token"?, "fingerprint"?}`).
pub async fn update_remote(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(update): JsonBody<crate::service::RemoteUpdate>,
) -> Result<Json<crate::service::RemoteInfo>, ApiError> {
    Ok(Json(state.service.update_remote(&id, update)?))
}

/// `DELETE /_remotes/{id}`.
pub async fn remove_remote(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.remove_remote(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /`: the UI, when one is served.
pub async fn root(State(state): State<AppState>) -> Result<Redirect, ApiError> {
    match state.options.ui_dir {
        Some(_) => Ok(Redirect::temporary("/_ui/")),
        None => Err(ApiError::NotFound(
            "no UI is served here; see /_health".into(),
        )),
    }
}

/// The body of `PUT /_docs/{doc_id}/share`.
#[derive(Debug, Deserialize)]
pub struct ShareRequest {
    /// `private`, `lan` or `link`.
    pub policy: crate::share::SharePolicy,
}

/// `PUT /_docs/{doc_id}/share` (owner only): set a document's share policy.
pub async fn set_share(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
    JsonBody(request): JsonBody<ShareRequest>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.require_owner()?;
    state.service.set_share_policy(&id, request.policy)?;
    Ok(Json(
        serde_json::json!({ "id": id, "policy": request.policy }),
    ))
}

/// `DELETE /_docs/{doc_id}/tombstone` (owner): a deleted document's id may be used again.
pub async fn allow_again(
    _: Owner,
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = DocId::parse(&raw_id)?;
    state.service.allow_again(&id)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /_peers` (owner): discovered and remembered LAN peers.
pub async fn list_peers(
    _: Owner,
    State(state): State<AppState>,
) -> Json<Vec<crate::discovery::peers::PeerInfo>> {
    Json(state.service.peers())
}

/// `GET /_peers/{id}/docs` (owner): the documents a peer shares.
pub async fn peer_docs(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(state.service.peer_docs(&id).await?))
}

/// The body of `POST /_peers/{id}/open`.
#[derive(Debug, Deserialize)]
pub struct OpenPeerDoc {
    /// The peer's document to open.
    pub doc_id: DocId,
}

/// `POST /_peers/{id}/open` (owner): a live local copy of a peer's shared document.
pub async fn open_peer_doc(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<OpenPeerDoc>,
) -> Result<Response, ApiError> {
    let remote = state.service.open_peer_doc(&id, &body.doc_id)?;
    Ok((StatusCode::CREATED, Json(remote)).into_response())
}

/// `POST /_peers/{id}/verify` (owner): the user confirmed the verification code.
pub async fn verify_peer(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(state.service.verify_peer(&id)?).into_response())
}

/// `DELETE /_peers/{id}` (owner): forget a peer's pinned certificate.
pub async fn forget_peer(
    _: Owner,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service.forget_peer(&id)?;
    Ok(StatusCode::NO_CONTENT)
}
