//! The client side of automerge-repo's WebSocket protocol: Tandem syncing a
//! local document with an automerge-repo sync server (the JS
//! `automerge-repo-sync-server`, samod, another Tandem's `/`).
//!
//! The remote is one string, `ws[s]://host:port[/path]/automerge:<id>`: the
//! server's socket URL and the document's automerge-repo URL. After the
//! `join`/`peer` handshake the document is synced by a client [`Link`] in
//! raw mode (bare sync messages, framed here as CBOR `request`/`sync`), so
//! one-shot checks, live status and in-sync badges work as for ndjson remotes.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;
use url::Url;

use super::exchange::{cancelled, report_live, ExchangeEnd, LiveHooks};
use super::{short_heads, ClientConfig, ClientError};
use crate::doc_id::{is_repo_id, DocId, AUTOMERGE_URL_PREFIX};
use crate::hub::Document;
use crate::link::{Ending, Input, Link, Output, Role};
use crate::protocol::repo::RepoMessage;
use crate::protocol::{SyncSession, Until};

/// How long the server has to answer `join`.
const HANDSHAKE_WAIT: Duration = Duration::from_secs(10);

/// Where an automerge-repo remote is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepoTarget {
    /// The server's WebSocket URL (the remote's URL without the document).
    pub socket: Url,
    /// The document.
    pub doc: DocId,
}

/// The automerge-repo target named by `url`, if it is one:
/// `ws[s]://host:port[/path]/automerge:<id>` with a valid automerge-repo id.
pub fn repo_target(url: &Url) -> Option<RepoTarget> {
    if !matches!(url.scheme(), "ws" | "wss") {
        return None;
    }
    let last = url.path_segments()?.next_back()?;
    let id = last.strip_prefix(AUTOMERGE_URL_PREFIX)?;
    if !is_repo_id(id) {
        return None;
    }
    let doc = DocId::parse(id).ok()?;
    let mut socket = url.clone();
    socket.path_segments_mut().ok()?.pop();
    if socket.path().is_empty() {
        socket.set_path("/");
    }
    Some(RepoTarget { socket, doc })
}

/// Why a `ws://` URL is not an automerge-repo remote, for the error message.
pub(crate) fn not_a_target(url: &Url) -> ClientError {
    ClientError::BadUrl {
        url: url.to_string(),
        reason: "an automerge-repo remote is ws[s]://host:port/automerge:<id> (the server's \
                 socket and the document's automerge URL, whose id is bs58check)"
            .into(),
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

type Socket = WebSocketStream<Box<dyn Io>>;

/// A random peer id for this connection.
fn client_peer_id() -> String {
    format!("tandem-client-{}", &DocId::random().as_str()[..12])
}

/// One connection to an automerge-repo server for one document.
pub(crate) struct RepoExchange<'a> {
    config: &'a ClientConfig,
    target: &'a RepoTarget,
    doc: &'a Arc<Document>,
    session: SyncSession,
    was_live: bool,
}

impl<'a> RepoExchange<'a> {
    pub(crate) fn new(
        config: &'a ClientConfig,
        target: &'a RepoTarget,
        doc: &'a Arc<Document>,
        session: SyncSession,
    ) -> Self {
        Self {
            config,
            target,
            doc,
            session,
            was_live: false,
        }
    }

    /// The sync state, for saving.
    pub(crate) fn session(&self) -> &SyncSession {
        &self.session
    }

    /// Whether at least one message came through.
    pub(crate) fn was_live(&self) -> bool {
        self.was_live
    }

    fn url(&self) -> String {
        self.config.url.to_string()
    }

    fn transport(&self, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Transport {
            url: self.url(),
            reason: reason.to_string(),
        }
    }

    /// Connects and does the handshake; returns the socket and the server's peer id.
    async fn connect(&self, me: &str) -> Result<(Socket, String), ClientError> {
        let url = &self.target.socket;
        let host = url.host_str().unwrap_or_default().to_owned();
        let port = url.port_or_known_default().unwrap_or(80);
        let tcp = tokio::time::timeout(
            self.config.connect_timeout,
            TcpStream::connect((host.trim_matches(['[', ']']), port)),
        )
        .await
        .map_err(|_| self.transport("timed out connecting"))?
        .map_err(|e| self.transport(e))?;
        let _ = tcp.set_nodelay(true);
        let stream: Box<dyn Io> = if url.scheme() == "wss" {
            let tls = self.config.trust.client_config(&[b"http/1.1"])?;
            let name =
                rustls_pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_owned())
                    .map_err(|e| self.transport(e))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::new(tls));
            Box::new(
                connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| self.transport(e))?,
            )
        } else {
            Box::new(tcp)
        };
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| self.transport(e))?;
        if let Some(token) = &self.config.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| self.transport("the token is not a valid header value"))?;
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        let limits = WebSocketConfig::default()
            .max_message_size(Some(self.config.max_line))
            .max_frame_size(Some(self.config.max_line));
        let (mut socket, _) =
            tokio_tungstenite::client_async_with_config(request, stream, Some(limits))
                .await
                .map_err(|e| match e {
                    tokio_tungstenite::tungstenite::Error::Http(response) => ClientError::Status {
                        url: self.url(),
                        status: response.status().as_u16(),
                        message: response
                            .body()
                            .as_ref()
                            .map(|b| String::from_utf8_lossy(b).into_owned())
                            .unwrap_or_default(),
                    },
                    e => self.transport(e),
                })?;
        let join = RepoMessage::Join {
            sender_id: me.to_owned(),
            supported_versions: None,
        };
        socket
            .send(Message::Binary(join.encode().into()))
            .await
            .map_err(|e| self.transport(e))?;
        let answer = tokio::time::timeout(HANDSHAKE_WAIT, async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Binary(bytes))) => return Ok(bytes),
                    Some(Ok(Message::Close(frame))) => {
                        return Err(self.remote(frame.map(|f| f.reason.to_string())))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => return Err(self.transport(e)),
                    None => return Err(self.remote(None)),
                }
            }
        })
        .await
        .map_err(|_| self.transport("the server did not answer join"))??;
        match RepoMessage::decode(&answer) {
            Ok(RepoMessage::Peer { sender_id, .. }) => Ok((socket, sender_id)),
            Ok(RepoMessage::Error { message, .. }) => Err(self.remote(Some(message))),
            Ok(other) => Err(self.protocol(format!("expected peer, got {other:?}"))),
            Err(e) => Err(self.protocol(e)),
        }
    }

    fn remote(&self, message: Option<String>) -> ClientError {
        ClientError::Remote {
            url: self.url(),
            message: message
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "the server closed the connection".into()),
        }
    }

    fn protocol(&self, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Protocol {
            url: self.url(),
            reason: reason.to_string(),
        }
    }

    /// Runs one connection until the link ends, the server leaves, or cancel.
    pub(crate) async fn run(
        &mut self,
        until: Option<Until>,
        stall_after: Option<Duration>,
        live: Option<LiveHooks<'_>>,
    ) -> ExchangeEnd {
        let me = client_peer_id();
        let cancelled = cancelled(live);
        let connected = tokio::select! {
            _ = cancelled => return ExchangeEnd::Cancelled,
            connected = self.connect(&me) => connected,
        };
        let (socket, them) = match connected {
            Ok(pair) => pair,
            Err(e) => return ExchangeEnd::Failed(e),
        };
        let now = tokio::time::Instant::now().into_std();
        let session = std::mem::take(&mut self.session);
        let mut link =
            Link::new(Role::Client { until, stall_after }, session, now).raw_payloads(true);
        let end = self.drive(&mut link, socket, &me, &them, live).await;
        self.was_live |= link.heard_from();
        self.session = link.into_session();
        end
    }

    async fn drive(
        &mut self,
        link: &mut Link,
        mut socket: Socket,
        me: &str,
        them: &str,
        live: Option<LiveHooks<'_>>,
    ) -> ExchangeEnd {
        let mut changes = self.doc.subscribe();
        changes.borrow_and_update();
        let cancelled = cancelled(live);
        tokio::pin!(cancelled);
        let mut input = Input::Poll;
        loop {
            let outputs = link.handle_now(input, self.doc).await;
            self.was_live |= link.heard_from();
            for output in outputs {
                match output {
                    Output::Send(messages) => {
                        for data in messages {
                            // Ask for the document while we have nothing of it.
                            let request = !link.heard_from() && self.doc.heads().is_empty();
                            let message = RepoMessage::Sync {
                                request,
                                sender_id: me.to_owned(),
                                target_id: them.to_owned(),
                                document_id: self.target.doc.to_string(),
                                data: data.to_vec(),
                            };
                            if let Err(e) =
                                socket.send(Message::Binary(message.encode().into())).await
                            {
                                return ExchangeEnd::Failed(self.transport(e));
                            }
                        }
                    }
                    Output::Live { in_sync } => report_live(live, in_sync),
                    Output::End(ending) => return self.ended(ending, link, &mut socket).await,
                }
            }
            let deadline = link.deadline().map(tokio::time::Instant::from_std);
            let timer = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            input = tokio::select! {
                _ = &mut cancelled => {
                    let _ = socket.close(None).await;
                    return ExchangeEnd::Cancelled;
                }
                frame = socket.next() => match frame {
                    Some(Ok(Message::Binary(bytes))) => match self.message(&bytes) {
                        Ok(Some(input)) => input,
                        Ok(None) => Input::Poll,
                        Err(end) => return end,
                    },
                    Some(Ok(Message::Close(frame))) => match frame {
                        Some(f) if !f.reason.is_empty() => Input::PeerError(f.reason.to_string()),
                        _ => Input::PeerEnded,
                    },
                    Some(Ok(_)) => Input::Poll,
                    Some(Err(e)) => return ExchangeEnd::Failed(self.transport(e)),
                    None => Input::PeerEnded,
                },
                changed = changes.changed() => {
                    changes.borrow_and_update();
                    if changed.is_err() {
                        return ExchangeEnd::Failed(self.transport("the local document was closed"));
                    }
                    Input::DocChanged
                }
                _ = timer => Input::Timer,
            };
        }
    }

    /// What one message from the server means for the link.
    fn message(&self, bytes: &[u8]) -> Result<Option<Input>, ExchangeEnd> {
        let message =
            RepoMessage::decode(bytes).map_err(|e| ExchangeEnd::Failed(self.protocol(e)))?;
        Ok(match message {
            RepoMessage::Sync {
                document_id, data, ..
            } if document_id == self.target.doc.as_str() => Some(Input::Received(vec![data])),
            RepoMessage::DocUnavailable { document_id, .. }
                if document_id == self.target.doc.as_str() =>
            {
                return Err(ExchangeEnd::Failed(self.remote(Some(format!(
                    "the server does not have document {AUTOMERGE_URL_PREFIX}{document_id} \
                     (doc-unavailable)"
                )))))
            }
            RepoMessage::Error { message, .. } => Some(Input::PeerError(message)),
            RepoMessage::Leave { .. } => Some(Input::PeerEnded),
            // Other documents, ephemeral messages, remote-heads gossip.
            _ => None,
        })
    }

    /// What the caller hears of a link's ending.
    async fn ended(&self, ending: Ending, link: &Link, socket: &mut Socket) -> ExchangeEnd {
        let _ = socket.close(None).await;
        let url = self.url();
        match ending {
            Ending::Satisfied => ExchangeEnd::Satisfied,
            Ending::Stalled => ExchangeEnd::Stalled {
                their_heads: link
                    .session()
                    .their_heads()
                    .map(short_heads)
                    .unwrap_or_else(|| "none yet".into()),
            },
            Ending::PeerClosed | Ending::Complete => ExchangeEnd::Closed,
            Ending::PeerError(message) => ExchangeEnd::Failed(ClientError::Remote { url, message }),
            Ending::Error(reason) | Ending::Failed(reason) => {
                ExchangeEnd::Failed(ClientError::Protocol { url, reason })
            }
            Ending::Unsendable(source) => {
                ExchangeEnd::Failed(ClientError::Unsendable { url, source })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repo_url_names_the_socket_and_the_document() {
        let url = Url::parse("ws://127.0.0.1:3030/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu").unwrap();
        let target = repo_target(&url).unwrap();
        assert_eq!(target.socket.as_str(), "ws://127.0.0.1:3030/");
        assert_eq!(target.doc.as_str(), "4NMNnkMhL8jXrdJ9jamS58PAVdXu");
        let nested =
            Url::parse("wss://h/sync/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu?access_token=t")
                .unwrap();
        assert_eq!(
            repo_target(&nested).unwrap().socket.as_str(),
            "wss://h/sync?access_token=t"
        );
        for not in [
            "http://127.0.0.1:3030/automerge:4NMNnkMhL8jXrdJ9jamS58PAVdXu",
            "ws://127.0.0.1:3030/4NMNnkMhL8jXrdJ9jamS58PAVdXu",
            "ws://127.0.0.1:3030/automerge:notes",
        ] {
            assert_eq!(repo_target(&Url::parse(not).unwrap()), None, "{not}");
        }
    }
}
