//! `GET /` with a WebSocket upgrade: automerge-repo clients
//! (`@automerge/automerge-repo` with its WebSocket adapter, samod, …) sync
//! here as they would with automerge-repo's sync server
//! (`docs/automerge-repo.md`).
//!
//! One socket carries any number of documents. After the `join`/`peer`
//! handshake each document the client names gets its own [`Link`] (the same
//! state machine as every ndjson connection, in raw mode: bare sync messages,
//! framed here as CBOR), on the same [`crate::hub::Document`] as ndjson peers
//! and the UI, so edits from either side reach the other live. The caller's
//! credential (bearer header, session cookie or `?access_token=`) and the
//! share policies decide which documents it reaches, exactly as for `PUT
//! /{doc}`; a document it may not reach looks missing (`doc-unavailable`).
//!
//! Bad input (text frames, non-CBOR, unknown message types, ids that are not
//! automerge-repo ids, oversized frames, changes from a read-only token) ends
//! the socket with an `error` message and a close frame that says why; no
//! document is touched by the bad frame.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::broadcast;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamMap;

mod close;

use close::{code, ending_close, too_big_or, truncate, Close};

use super::access::Caller;
use super::state::AppState;
use crate::doc_id::{is_repo_id, DocId};
use crate::hub::{DocError, Document};
use crate::link::{Input, Link, Output, Role};
use crate::protocol::repo::{RepoMessage, PROTOCOL_VERSION};

/// How long a client has to send `join`.
const JOIN_WAIT: Duration = Duration::from_secs(10);

/// An ephemeral message on its way to the other repo peers of a document.
#[derive(Debug, Clone)]
pub struct Ephemeral {
    /// The connection it came from (not sent back there).
    from: u64,
    /// The document it is about.
    doc: DocId,
    /// The sending session and its counter.
    session_id: String,
    /// The sender's counter.
    count: u64,
    /// The payload.
    data: Vec<u8>,
}

/// Ephemeral messages between the repo sockets of one server. The hook for
/// presence: whatever else shows presence may publish and listen here.
pub(crate) type EphemeralRelay = broadcast::Sender<Ephemeral>;

/// A new relay.
pub(crate) fn ephemeral_relay() -> EphemeralRelay {
    broadcast::channel(256).0
}

/// This server's automerge-repo peer id (one per process).
fn server_peer_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| format!("tandem-{}", &DocId::random().as_str()[..12]))
}

/// Handles the upgrade of `GET /`.
pub(crate) async fn repo_socket(
    state: AppState,
    caller: Caller,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .max_message_size(state.options.max_line)
        .on_upgrade(move |socket| async move {
            let peer = RepoPeer::new(state, caller);
            let why = peer.run(socket).await;
            tracing::debug!(?why, "automerge-repo socket ended");
        })
}

/// `GET /`: a WebSocket upgrade is an automerge-repo client, anything else
/// the UI's entry point.
pub(crate) async fn root(
    State(state): State<AppState>,
    caller: Caller,
    request: axum::extract::Request,
) -> Result<Response, super::error::ApiError> {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    if !is_websocket_upgrade(request.headers()) {
        return super::extras::root(State(state))
            .await
            .map(IntoResponse::into_response);
    }
    let (mut parts, _) = request.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => Ok(repo_socket(state, caller, upgrade).await),
        Err(rejection) => Ok(rejection.into_response()),
    }
}

/// Whether a request asks for a WebSocket (`Upgrade: websocket`).
pub(crate) fn is_websocket_upgrade(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// One document synced over the socket.
struct DocLink {
    doc: Arc<Document>,
    link: Link,
}

/// The server side of one automerge-repo socket.
struct RepoPeer {
    state: AppState,
    caller: Caller,
    conn: u64,
    them: Option<String>,
    links: HashMap<DocId, DocLink>,
    changes: StreamMap<DocId, WatchStream<u64>>,
}

impl RepoPeer {
    fn new(state: AppState, caller: Caller) -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        Self {
            state,
            caller,
            conn: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            them: None,
            links: HashMap::new(),
            changes: StreamMap::new(),
        }
    }

    /// Runs the socket until the client leaves, bad input, or shutdown.
    async fn run(mut self, socket: WebSocket) -> Close {
        let (mut sink, mut stream) = socket.split();
        let mut access = self.state.shares.changes();
        let mut relay = self.state.ephemeral.subscribe();
        let shutdown = self.state.shutdown.clone();
        let joined_by = tokio::time::Instant::now() + JOIN_WAIT;
        let close = loop {
            let deadline = self.next_deadline();
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let join_timer = async {
                if self.them.is_none() {
                    tokio::time::sleep_until(joined_by).await
                } else {
                    std::future::pending().await
                }
            };
            let sent = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break Close::new(code::GOING_AWAY, "the server is shutting down"),
                frame = stream.next() => match frame {
                    None | Some(Ok(Message::Close(_))) => break Close::new(code::NORMAL, ""),
                    Some(Ok(frame)) => self.frame(frame).await,
                    Some(Err(e)) => break too_big_or(e),
                },
                Some((id, _)) = self.changes.next() => self.step(&id, Input::DocChanged).await,
                _ = access.changed() => self.recheck_access().await,
                Ok(ephemeral) = relay.recv() => Ok(self.forward(ephemeral)),
                _ = timer => self.timers().await,
                _ = join_timer => break Close::new(code::POLICY, "no join message arrived: an automerge-repo client starts with join"),
            };
            match sent {
                Ok(messages) => {
                    for message in messages {
                        let timeout = self.state.options.write_timeout;
                        let send = sink.send(Message::Binary(message.encode().into()));
                        match tokio::time::timeout(timeout, send).await {
                            Ok(Ok(())) => {}
                            _ => return Close::new(code::GOING_AWAY, "the client stopped reading"),
                        }
                    }
                }
                Err(close) => break close,
            }
        };
        if close.code != code::NORMAL {
            tracing::info!(code = close.code, reason = %close.reason, "closing an automerge-repo socket");
            let error = RepoMessage::Error {
                sender_id: server_peer_id().to_owned(),
                target_id: self.them.clone(),
                message: close.reason.clone(),
            };
            let _ = sink.send(Message::Binary(error.encode().into())).await;
        }
        let frame = CloseFrame {
            code: close.code,
            reason: truncate(&close.reason).into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
        close
    }

    /// What one frame from the client asks for.
    async fn frame(&mut self, frame: Message) -> Result<Vec<RepoMessage>, Close> {
        let bytes = match frame {
            Message::Binary(bytes) => bytes,
            Message::Text(_) => {
                return Err(Close::new(
                    code::UNSUPPORTED,
                    "automerge-repo messages are binary CBOR frames, not text",
                ))
            }
            Message::Ping(_) | Message::Pong(_) | Message::Close(_) => return Ok(Vec::new()),
        };
        let message =
            RepoMessage::decode(&bytes).map_err(|e| Close::new(code::INVALID, e.to_string()))?;
        let Some(them) = self.them.clone() else {
            return self.join(message);
        };
        match message {
            RepoMessage::Join { .. } => self.join(message),
            RepoMessage::Leave { .. } => Err(Close::new(code::NORMAL, "")),
            RepoMessage::Sync {
                request,
                document_id,
                data,
                ..
            } => self.sync(&them, request, document_id, data).await,
            RepoMessage::Ephemeral {
                document_id,
                session_id,
                count,
                data,
                ..
            } => {
                if let Ok(doc) = DocId::parse(&document_id) {
                    if self.links.contains_key(&doc) {
                        let _ = self.state.ephemeral.send(Ephemeral {
                            from: self.conn,
                            doc,
                            session_id,
                            count,
                            data,
                        });
                    }
                }
                Ok(Vec::new())
            }
            RepoMessage::DocUnavailable { .. } | RepoMessage::RemoteHeads { .. } => Ok(Vec::new()),
            RepoMessage::Error { message, .. } => {
                tracing::info!(%message, "an automerge-repo client reported an error");
                Ok(Vec::new())
            }
            RepoMessage::Peer { .. } => Err(Close::new(
                code::POLICY,
                "a peer message goes from server to client, not to the server",
            )),
        }
    }

    /// The handshake: `join` names the client, `peer` answers.
    fn join(&mut self, message: RepoMessage) -> Result<Vec<RepoMessage>, Close> {
        let RepoMessage::Join {
            sender_id,
            supported_versions,
        } = message
        else {
            return Err(Close::new(
                code::POLICY,
                "the first message must be join (automerge-repo handshake)",
            ));
        };
        if supported_versions.is_some_and(|v| !v.iter().any(|v| v == PROTOCOL_VERSION)) {
            return Err(Close::new(
                code::POLICY,
                format!("unsupported protocol version: this server speaks {PROTOCOL_VERSION:?}"),
            ));
        }
        if sender_id.is_empty() {
            return Err(Close::new(code::POLICY, "join without a senderId"));
        }
        self.them = Some(sender_id.clone());
        Ok(vec![RepoMessage::Peer {
            sender_id: server_peer_id().to_owned(),
            target_id: sender_id,
            selected_version: PROTOCOL_VERSION.to_owned(),
        }])
    }

    /// A `sync` or `request` for a document.
    async fn sync(
        &mut self,
        them: &str,
        request: bool,
        document_id: String,
        data: Vec<u8>,
    ) -> Result<Vec<RepoMessage>, Close> {
        if !is_repo_id(&document_id) {
            return Err(Close::new(
                code::POLICY,
                format!(
                    "{document_id:?} is not an automerge-repo document id (bs58check of 16 bytes)"
                ),
            ));
        }
        let id = DocId::parse(&document_id).map_err(|e| Close::new(code::POLICY, e.to_string()))?;
        if !self.links.contains_key(&id) {
            // Loading from the store can take long: done off the runtime
            // (for callers who may see it) and held here so `open` finds it
            // in memory. `open` decides what the caller is told.
            let _loaded = if self.caller.access_to(&self.state.shares, &id).is_ok() {
                crate::server::offload::open_existing(&self.state.hub, &id)
                    .await
                    .ok()
                    .flatten()
            } else {
                None
            };
            match self.open(&id, request)? {
                Some(link) => {
                    let changes = WatchStream::from_changes(link.doc.subscribe());
                    self.changes.insert(id.clone(), changes);
                    self.links.insert(id.clone(), link);
                }
                None => {
                    return Ok(vec![RepoMessage::DocUnavailable {
                        sender_id: server_peer_id().to_owned(),
                        target_id: them.to_owned(),
                        document_id,
                    }])
                }
            }
        }
        self.step(&id, Input::Received(vec![data])).await
    }

    /// Opens `id` for this caller; `None` when it is missing or out of reach
    /// (the two look the same to the client).
    fn open(&self, id: &DocId, request: bool) -> Result<Option<DocLink>, Close> {
        let Ok(access) = self.caller.access_to(&self.state.shares, id) else {
            return Ok(None);
        };
        let internal = |e: DocError| Close::new(code::INTERNAL, format!("cannot open {id}: {e}"));
        let doc = match self.state.hub.open_existing(id) {
            Ok(Some(doc)) => doc,
            Ok(None) if request => return Ok(None),
            // A `sync` for a document we do not have creates it, like a first
            // `PUT /{doc}` does — for callers allowed to create documents.
            Ok(None) => match self.caller.check_create(&self.state) {
                Ok(()) => self.state.hub.open(id).map_err(internal)?,
                Err(_) => return Ok(None),
            },
            Err(DocError::Tombstoned { .. }) => return Ok(None),
            Err(e) => return Err(internal(e)),
        };
        let rights = self.caller.rights(&self.state.shares, id, access);
        let role = Role::Server {
            follow: true,
            ping_interval: self.state.options.ping_interval,
        };
        let now = tokio::time::Instant::now().into_std();
        let link = Link::new(role, crate::protocol::SyncSession::new(), now)
            .read_only(rights.read_only)
            .raw_payloads(true);
        Ok(Some(DocLink { doc, link }))
    }

    /// Feeds `input` to the link of `id` and frames what it sends.
    async fn step(&mut self, id: &DocId, input: Input) -> Result<Vec<RepoMessage>, Close> {
        let Some(them) = self.them.clone() else {
            return Ok(Vec::new());
        };
        let Some(entry) = self.links.get_mut(id) else {
            return Ok(Vec::new());
        };
        let withdrawn = matches!(input, Input::Access(false));
        let outputs = entry.link.handle_now(input, &entry.doc).await;
        let mut out = Vec::new();
        for output in outputs {
            match output {
                Output::Send(messages) => {
                    out.extend(messages.into_iter().map(|data| RepoMessage::Sync {
                        request: false,
                        sender_id: server_peer_id().to_owned(),
                        target_id: them.clone(),
                        document_id: id.to_string(),
                        data: data.to_vec(),
                    }))
                }
                Output::Live { .. } => {}
                Output::End(ending) => {
                    let deleted = entry.doc.is_deleted();
                    self.links.remove(id);
                    self.changes.remove(id);
                    if withdrawn || deleted {
                        // Like a document that was never there.
                        out.push(RepoMessage::DocUnavailable {
                            sender_id: server_peer_id().to_owned(),
                            target_id: them.clone(),
                            document_id: id.to_string(),
                        });
                        return Ok(out);
                    }
                    return Err(ending_close(id, ending));
                }
            }
        }
        Ok(out)
    }

    /// Access rules changed: every document is checked again.
    async fn recheck_access(&mut self) -> Result<Vec<RepoMessage>, Close> {
        let ids: Vec<DocId> = self.links.keys().cloned().collect();
        let mut out = Vec::new();
        for id in ids {
            let allowed = self.caller.access_to(&self.state.shares, &id).is_ok();
            out.extend(self.step(&id, Input::Access(allowed)).await?);
        }
        Ok(out)
    }

    /// The earliest deadline of any link.
    fn next_deadline(&self) -> Option<tokio::time::Instant> {
        self.links
            .values()
            .filter_map(|l| l.link.deadline())
            .min()
            .map(tokio::time::Instant::from_std)
    }

    /// Gives [`Input::Timer`] to every link whose deadline passed.
    async fn timers(&mut self) -> Result<Vec<RepoMessage>, Close> {
        let now = tokio::time::Instant::now().into_std();
        let due: Vec<DocId> = self
            .links
            .iter()
            .filter(|(_, l)| l.link.deadline().is_some_and(|d| d <= now))
            .map(|(id, _)| id.clone())
            .collect();
        let mut out = Vec::new();
        for id in due {
            out.extend(self.step(&id, Input::Timer).await?);
        }
        Ok(out)
    }

    /// Passes another socket's ephemeral message on, if this client syncs
    /// that document.
    fn forward(&self, ephemeral: Ephemeral) -> Vec<RepoMessage> {
        match &self.them {
            Some(them)
                if ephemeral.from != self.conn && self.links.contains_key(&ephemeral.doc) =>
            {
                vec![RepoMessage::Ephemeral {
                    sender_id: server_peer_id().to_owned(),
                    target_id: them.clone(),
                    document_id: ephemeral.doc.to_string(),
                    session_id: ephemeral.session_id,
                    count: ephemeral.count,
                    data: ephemeral.data,
                }]
            }
            _ => Vec::new(),
        }
    }
}
