//! Syncing a local document with a remote server (PROTOCOL.md §4).
//!
//! A [`SyncClient`] is configured once (URL, trust, token, HTTP version) and
//! then either runs a one-shot sync that ends when a termination check passes
//! ([`SyncClient::sync_once`]), or stays live until cancelled, reconnecting
//! with backoff ([`SyncClient::sync_live`]). Several clients may sync one
//! [`Document`](crate::hub::Document) with several servers at once: they all
//! watch the same document, so a change arriving from one reaches the others.
//!
//! A `ws[s]://host:port/automerge:<id>` URL is an automerge-repo sync server
//! instead ([`repo`]): same one-shot and live behaviour, over its WebSocket.

mod backoff;
mod exchange;
mod http;
mod origin;
mod progress;
mod repo;
mod status;

pub use backoff::Backoff;
pub use origin::is_loopback;
pub use progress::SyncProgress;
pub use repo::{repo_target, RepoTarget};
pub use status::ConnectionStatus;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::hub::Document;
use crate::protocol::{SyncSession, Until, DEFAULT_MAX_LINE};
use crate::tls::{TlsError, Trust};
use exchange::{Exchange, ExchangeEnd};
use repo::RepoExchange;

/// Which HTTP version to speak.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HttpVersion {
    /// HTTP/2 over TLS when the server offers it (ALPN), else HTTP/1.1;
    /// plain `http://` URLs use HTTP/1.1.
    #[default]
    Auto,
    /// HTTP/1.1 only (`Expect: 100-continue`, chunked both ways).
    Http1,
    /// HTTP/2 only: ALPN `h2` over TLS, prior-knowledge h2c over plain HTTP.
    Http2,
}

/// Whether a sync stream is compressed (docs/protocol-extensions.md,
/// "Compression"). The server compresses only for a client that asks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    /// Ask for nothing: plain ndjson both ways, as the Go library.
    Off,
    /// Ask for a zstd (or gzip) response; compress the request body too
    /// once an earlier answer from the same origin said the server reads
    /// it (later syncs and reconnects of the same client). No extra request.
    #[default]
    Negotiate,
    /// As `Negotiate`, and ask the origin's `/_health` once before its first
    /// sync, so that the first request body (a cold push) is compressed too.
    Eager,
}

/// Everything a client needs to reach one server.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The document's URL, e.g. `https://host:7450/notes`.
    pub url: Url,
    /// A bearer token, if the server wants one. It is sent only to this
    /// URL's origin, never across a redirect to another one.
    pub token: Option<String>,
    /// Send the token over plain `http://` to a host that is not loopback
    /// (refused by default: anyone on the path could read it).
    pub allow_plain_http_tokens: bool,
    /// How to trust the server's certificate.
    pub trust: Trust,
    /// The HTTP version to use.
    pub http: HttpVersion,
    /// The longest accepted response line.
    pub max_line: usize,
    /// How long to wait for a TCP/TLS connection.
    pub connect_timeout: Duration,
    /// One-shot only: how long without a line before the exchange is restarted
    /// with a fresh sync state (doubles each time).
    pub stall_after: Duration,
    /// Whether to compress the stream.
    pub compression: Compression,
    /// Where to count the traffic as it goes (for a progress display).
    pub progress: Option<std::sync::Arc<SyncProgress>>,
    /// Ask for ephemeral messages (`Tandem-Features: ephemeral`) and relay
    /// them between the server and the local document's other connections.
    pub ephemeral: bool,
}

impl ClientConfig {
    /// Defaults for `url`.
    pub fn new(url: Url) -> Self {
        Self {
            url,
            token: None,
            allow_plain_http_tokens: false,
            trust: Trust::System,
            http: HttpVersion::Auto,
            max_line: DEFAULT_MAX_LINE,
            connect_timeout: Duration::from_secs(10),
            stall_after: Duration::from_secs(2),
            compression: Compression::default(),
            progress: None,
            ephemeral: true,
        }
    }
}

/// Why a sync failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL cannot be synced with.
    #[error("invalid URL {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// Connecting or talking to the server failed.
    #[error("cannot reach {url}: {reason}")]
    Transport {
        /// The URL.
        url: String,
        /// Why (including certificate problems).
        reason: String,
    },
    /// The server's certificate was refused (unknown issuer, expired, a
    /// pin that does not match, …).
    #[error("{url}: the server's certificate is not trusted ({reason})")]
    Certificate {
        /// The URL.
        url: String,
        /// Why it was refused.
        reason: String,
        /// The fingerprint of the certificate it presented, to pin it if
        /// the user trusts it.
        presented: Option<String>,
    },
    /// The server answered with an error status.
    #[error("{url} answered {status}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The server's `{"error"}` text, or the body.
        message: String,
    },
    /// A token would have travelled unencrypted to another machine.
    #[error("refusing to send a token in clear to {host}; use https:// or pass --allow-plain-http-tokens")]
    PlainHttpToken {
        /// The host it would have gone to.
        host: String,
    },
    /// A redirect could not be followed.
    #[error("redirect from {url} not followed: {reason}")]
    Redirect {
        /// The URL that redirected.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server sent an `{"event":"error"}` line.
    #[error("{url} reported an error: {message}")]
    Remote {
        /// The URL.
        url: String,
        /// The server's message.
        message: String,
    },
    /// The server ended the stream before the check passed.
    #[error("{url} closed the stream before {until} was reached")]
    Closed {
        /// The URL.
        url: String,
        /// The check that had not passed.
        until: Until,
    },
    /// A line from the server was malformed, or a message rejected.
    #[error("bad data from {url}: {reason}")]
    Protocol {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Something we hold cannot be put in lines the server reads (a change
    /// too large for a peer without capability flags, such as a Go server).
    #[error("cannot send to {url}: {source}")]
    Unsendable {
        /// The URL.
        url: String,
        /// What does not fit.
        source: crate::protocol::SplitError,
    },
    /// The one-shot sync did not finish in time.
    #[error("timed out after {after:?} waiting for {until} with {url} (our heads {ours}, server's {theirs})")]
    Timeout {
        /// The URL.
        url: String,
        /// The check that had not passed.
        until: Until,
        /// The time allowed.
        after: Duration,
        /// Our heads, short.
        ours: String,
        /// The server's last advertised heads, short.
        theirs: String,
    },
    /// The sync was cancelled.
    #[error("cancelled")]
    Cancelled,
}

impl ClientError {
    /// Whether trying again cannot help (bad URL, refused token, TLS setup,
    /// a deleted document, a request the server will never accept).
    ///
    /// `507 Insufficient Storage` is not permanent: space may be freed, so a
    /// live sync reports it and retries later; `5xx` and `429` likewise.
    /// Whether the server said the document was deleted there (`410 Gone`):
    /// no retry will bring it back.
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Status { status: 410, .. })
    }

    /// Whether retrying cannot help (the request itself is refused).
    pub fn is_permanent(&self) -> bool {
        match self {
            Self::BadUrl { .. } | Self::Tls(_) | Self::Redirect { .. } => true,
            Self::Certificate { .. } => true,
            Self::PlainHttpToken { .. } | Self::Unsendable { .. } => true,
            Self::Status { status, .. } => {
                matches!(
                    status,
                    400 | 401 | 403 | 404 | 405 | 406 | 410 | 413 | 415 | 421
                )
            }
            _ => false,
        }
    }
}

impl ClientError {
    /// What kind of failure this is, so a UI can offer the fix in place.
    pub fn problem(&self) -> Problem {
        match self {
            Self::Certificate { presented, .. } => Problem::Certificate {
                presented: presented.clone(),
            },
            Self::Status { status: 401, .. } => Problem::Unauthorized,
            Self::Status { status: 403, .. } => Problem::Forbidden,
            Self::Status { status: 404, .. } => Problem::NotFound,
            Self::Status { status: 410, .. } => Problem::Gone,
            Self::Transport { .. } => Problem::Unreachable,
            _ => Problem::Other,
        }
    }
}

/// What kind of failure stopped a sync, with what a fix needs.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Problem {
    /// The certificate is not trusted; `presented` is its fingerprint.
    Certificate {
        /// The fingerprint of the certificate the server presented.
        presented: Option<String>,
    },
    /// The token is missing or wrong (`401`).
    Unauthorized,
    /// The token may not use this document (`403`).
    Forbidden,
    /// No such document on the server, or not shared with us (`404`).
    NotFound,
    /// The document was deleted on the server (`410`).
    Gone,
    /// The server could not be reached.
    Unreachable,
    /// Anything else.
    Other,
}

/// What a finished one-shot sync did.
#[derive(Debug, Clone)]
pub struct SyncReport {
    /// The URL finally synced with (after redirects).
    pub url: Url,
    /// Whether the local document changed.
    pub changed: bool,
    /// How many changes came from the server.
    pub pulled: usize,
    /// How many local changes the server lacked when the sync began (and
    /// was sent), if the server said what it held.
    pub pushed: Option<usize>,
    /// How many changes the local document holds now.
    pub total: usize,
    /// How many exchanges were needed (stalls restart one).
    pub attempts: u32,
}

/// After a sync: how many changes arrived (not ancestors of `before`, our
/// heads when it began), how many of ours the server lacked (ancestors of
/// `before` that were not ancestors of `server_began_with`), and how many the
/// document holds.
fn change_counts(
    doc: &automerge::Automerge,
    before: &[automerge::ChangeHash],
    server_began_with: Option<&[automerge::ChangeHash]>,
) -> (usize, Option<usize>, usize) {
    let hashes = |heads: &[automerge::ChangeHash]| -> std::collections::HashSet<_> {
        doc.get_changes_meta(heads)
            .into_iter()
            .map(|m| m.hash)
            .collect()
    };
    let arrived = hashes(before);
    let pushed = server_began_with.map(|theirs| {
        hashes(theirs)
            .iter()
            .filter(|h| !arrived.contains(h))
            .count()
    });
    (arrived.len(), pushed, doc.get_changes_meta(&[]).len())
}

/// A configured client for one server.
#[derive(Clone)]
pub struct SyncClient {
    config: Arc<ClientConfig>,
    http: Arc<http::Clients>,
    /// Set when the URL is an automerge-repo server's.
    repo: Option<Arc<RepoTarget>>,
}

impl std::fmt::Debug for SyncClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncClient")
            .field("url", &self.config.url.as_str())
            .finish()
    }
}

impl SyncClient {
    /// Builds the HTTP client for `config`; refuses a token that would go
    /// over plain `http://` to another machine
    /// ([`ClientConfig::allow_plain_http_tokens`]).
    pub fn new(config: ClientConfig) -> Result<Self, ClientError> {
        origin::check_token_transport(&config)?;
        let repo = match config.url.scheme() {
            "ws" | "wss" => Some(Arc::new(
                repo_target(&config.url).ok_or_else(|| repo::not_a_target(&config.url))?,
            )),
            _ => None,
        };
        let http = http::Clients::new(&config)?;
        Ok(Self {
            config: Arc::new(config),
            http: Arc::new(http),
            repo,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// Asks the server to delete the document (`DELETE URL`, with this
    /// client's token and trust; redirects are not followed). Needs owner
    /// rights there.
    pub async fn delete_upstream(&self) -> Result<(), ClientError> {
        let url = self.config.url.clone();
        if self.repo.is_some() {
            return Err(ClientError::BadUrl {
                url: url.to_string(),
                reason: "automerge-repo servers have no way to delete a document".into(),
            });
        }
        let mut request = self.http.own().delete(url.clone());
        if let Some(token) = &self.config.token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| ClientError::Transport {
            url: url.to_string(),
            reason: describe_error(&e),
        })?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::GONE {
            return Ok(());
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        Err(ClientError::Remote {
            url: url.to_string(),
            message: format!(
                "answered {}: {}",
                status.as_u16(),
                body["error"]
                    .as_str()
                    .unwrap_or("the document was not deleted")
            ),
        })
    }

    /// Syncs until `until` holds, or fails after `timeout`.
    pub async fn sync_once(
        &self,
        doc: &Arc<Document>,
        until: Until,
        timeout: Duration,
    ) -> Result<SyncReport, ClientError> {
        let before = doc.heads();
        let mut server_began_with: Option<Vec<automerge::ChangeHash>> = None;
        let mut attempts = 0;
        let mut stall = self.config.stall_after;
        let mut last_theirs = String::from("none yet");
        let run = async {
            loop {
                attempts += 1;
                let mut session = SyncSession::new();
                let (url, end, began) = match &self.repo {
                    Some(target) => {
                        let mut exchange = RepoExchange::new(&self.config, target, doc, session);
                        let end = exchange.run(Some(until), Some(stall), None).await;
                        let began = exchange.session().first_their_heads().map(<[_]>::to_vec);
                        (self.config.url.clone(), end, began)
                    }
                    None => {
                        let (url, opened) =
                            http::open(&self.http, &self.config, doc, &mut session).await?;
                        let mut exchange = Exchange::new(&self.config, doc, session, url.clone());
                        let end = exchange.run(opened, Some(until), Some(stall), None).await;
                        let began = exchange.session().first_their_heads().map(<[_]>::to_vec);
                        (url, end, began)
                    }
                };
                if server_began_with.is_none() {
                    server_began_with = began;
                }
                match end {
                    ExchangeEnd::Satisfied => {
                        let (pulled, pushed, total) =
                            doc.read(|d| change_counts(d, &before, server_began_with.as_deref()));
                        return Ok(SyncReport {
                            url,
                            changed: doc.heads() != before,
                            pulled,
                            pushed,
                            total,
                            attempts,
                        });
                    }
                    ExchangeEnd::Stalled { their_heads } => {
                        // The sync state believes the peer is up to date but
                        // the check has not passed (PROTOCOL.md §4): start over
                        // with a fresh state, which makes both sides restate
                        // their heads.
                        tracing::debug!(%url, "sync stalled; restarting with a fresh state");
                        last_theirs = their_heads;
                        stall = stall.saturating_mul(2);
                    }
                    ExchangeEnd::Closed => {
                        return Err(ClientError::Closed {
                            url: url.to_string(),
                            until,
                        })
                    }
                    ExchangeEnd::Failed(e) => return Err(e),
                    ExchangeEnd::Cancelled => return Err(ClientError::Cancelled),
                }
            }
        };
        match tokio::time::timeout(timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(ClientError::Timeout {
                url: self.config.url.to_string(),
                until,
                after: timeout,
                ours: short_heads(&doc.heads()),
                theirs: last_theirs,
            }),
        }
    }

    /// Syncs live until `cancel` fires, reconnecting with backoff; reports the
    /// connection's state on `status`. The sync state is saved in `store`
    /// between connections, so a reconnect is cheap.
    pub async fn sync_live(
        &self,
        doc: &Arc<Document>,
        cancel: CancellationToken,
        status: watch::Sender<ConnectionStatus>,
        store: Option<Arc<dyn crate::store::Store>>,
    ) {
        self.sync_live_with(
            doc,
            LiveOptions {
                cancel,
                status,
                store,
                wake: None,
            },
        )
        .await
    }

    /// [`SyncClient::sync_live`] with every option. Retries every failure,
    /// permanent ones too (a peer may start sharing the document later).
    pub async fn sync_live_with(&self, doc: &Arc<Document>, options: LiveOptions) {
        // Cannot fail: only `follow` stops on an error.
        let _ = self.live(doc, options, false).await;
    }

    /// Like [`SyncClient::sync_live_with`], but gives up at once when the
    /// server's answer means retrying cannot help ([`ClientError::is_permanent`]:
    /// a refused token, a deleted document, …) and returns that error.
    /// Other failures (unreachable, `5xx` such as `507` for a full disk) are
    /// reported on the status channel and retried with backoff.
    pub async fn follow(
        &self,
        doc: &Arc<Document>,
        options: LiveOptions,
    ) -> Result<(), ClientError> {
        self.live(doc, options, true).await
    }

    async fn live(
        &self,
        doc: &Arc<Document>,
        options: LiveOptions,
        stop_on_permanent: bool,
    ) -> Result<(), ClientError> {
        let LiveOptions {
            cancel,
            status,
            store,
            wake,
        } = options;
        let peer_key = format!("client:{}", self.config.url);
        let mut backoff = Backoff::default();
        loop {
            status.send_replace(ConnectionStatus::Connecting);
            let mut session = store
                .as_ref()
                .and_then(|s| s.load_sync_state(doc.id(), &peer_key).ok().flatten())
                .and_then(|bytes| SyncSession::resume(&bytes).ok())
                .unwrap_or_default();
            if let Some(target) = &self.repo {
                let mut exchange = RepoExchange::new(&self.config, target, doc, session);
                let end = exchange.run(None, None, Some((&cancel, &status))).await;
                if exchange.was_live() {
                    backoff.reset();
                }
                if let Some(store) = &store {
                    let _ = store.save_sync_state(doc.id(), &peer_key, &exchange.session().save());
                }
                let error = match end {
                    ExchangeEnd::Cancelled => break,
                    ExchangeEnd::Failed(e) if stop_on_permanent && e.is_permanent() => {
                        status.send_replace(ConnectionStatus::Failed {
                            error: e.to_string(),
                            problem: e.problem(),
                        });
                        return Err(e);
                    }
                    ExchangeEnd::Failed(e) => e.to_string(),
                    ExchangeEnd::Closed => "server closed the connection".to_owned(),
                    ExchangeEnd::Satisfied | ExchangeEnd::Stalled { .. } => {
                        "connection ended".to_owned()
                    }
                };
                let delay = backoff.next_delay();
                tracing::info!(url = %self.config.url, %error, retry_in = ?delay, "sync connection lost");
                status.send_replace(ConnectionStatus::Reconnecting {
                    retry_in_ms: delay.as_millis() as u64,
                    error,
                });
                tokio::select! {
                    _ = cancel.cancelled() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
                continue;
            }
            let opened = tokio::select! {
                _ = cancel.cancelled() => break,
                opened = http::open(&self.http, &self.config, doc, &mut session) => opened,
            };
            let error = match opened {
                Ok((url, opened)) => {
                    let mut exchange = Exchange::new(&self.config, doc, session, url);
                    let end = exchange
                        .run(opened, None, None, Some((&cancel, &status)))
                        .await;
                    if exchange.was_live() {
                        backoff.reset();
                    }
                    if let Some(store) = &store {
                        let _ =
                            store.save_sync_state(doc.id(), &peer_key, &exchange.session().save());
                    }
                    match end {
                        ExchangeEnd::Cancelled => break,
                        ExchangeEnd::Failed(e) => e.to_string(),
                        ExchangeEnd::Closed => "server closed the stream".to_owned(),
                        ExchangeEnd::Satisfied | ExchangeEnd::Stalled { .. } => {
                            "stream ended".to_owned()
                        }
                    }
                }
                // A deleted document never comes back: stop even a sync that
                // otherwise retries everything, and say why.
                Err(e) if (stop_on_permanent && e.is_permanent()) || e.is_gone() => {
                    tracing::warn!(url = %self.config.url, error = %e, "sync cannot continue");
                    status.send_replace(ConnectionStatus::Failed {
                        error: e.to_string(),
                        problem: e.problem(),
                    });
                    return Err(e);
                }
                Err(e) => e.to_string(),
            };
            let delay = backoff.next_delay();
            tracing::info!(url = %self.config.url, %error, retry_in = ?delay, "sync connection lost");
            status.send_replace(ConnectionStatus::Reconnecting {
                retry_in_ms: delay.as_millis() as u64,
                error,
            });
            let woken = async {
                match &wake {
                    Some(wake) => wake.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(delay) => {}
                _ = woken => backoff.reset(),
            }
        }
        status.send_replace(ConnectionStatus::Stopped);
        Ok(())
    }
}

/// How a live sync runs (see [`SyncClient::sync_live_with`]).
pub struct LiveOptions {
    /// Stops the sync.
    pub cancel: CancellationToken,
    /// Receives every state change.
    pub status: watch::Sender<ConnectionStatus>,
    /// Where the sync state is kept between connections.
    pub store: Option<Arc<dyn crate::store::Store>>,
    /// Notified when the server is likely back (e.g. its peer reappeared on
    /// the network): retry now instead of waiting out the backoff.
    pub wake: Option<Arc<tokio::sync::Notify>>,
}

/// A reqwest error with its causes (reqwest's own text hides e.g. a
/// certificate mismatch).
pub fn describe_error(e: &reqwest::Error) -> String {
    http::describe_reqwest(e)
}

/// Heads as short hex prefixes, for messages.
pub(crate) fn short_heads(heads: &[automerge::ChangeHash]) -> String {
    let parts: Vec<String> = heads
        .iter()
        .map(|h| h.to_string()[..8].to_owned())
        .collect();
    format!("[{}]", parts.join(","))
}
