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
//!
//! Slightly over 500 lines: the one-shot and the live sync share their setup (trust, redirects, sessions) and read best together.

mod backoff;
mod error;
mod exchange;
mod http;
mod origin;
mod progress;
mod repo;
mod status;

pub use backoff::Backoff;
pub use error::{ClientError, Problem};
pub use http::MAX_REDIRECTS;
pub use origin::{is_loopback, HopTrust, Hops};
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
use crate::tls::Trust;
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
///
/// The cases where a set is the whole history are answered from the count
/// ([`crate::hub::count_changes_after`]): a cold pull (`before` empty)
/// pulled everything and pushed nothing; a push to an empty server pushed
/// all it did not pull.
fn change_counts(
    doc: &automerge::Automerge,
    before: &[automerge::ChangeHash],
    server_began_with: Option<&[automerge::ChangeHash]>,
) -> (usize, Option<usize>, usize) {
    let total = crate::hub::count_changes_after(doc, &[]);
    if before.is_empty() {
        return (total, server_began_with.map(|_| 0), total);
    }
    let not_ancestors_of = |heads: &[automerge::ChangeHash]| -> std::collections::HashSet<_> {
        doc.get_changes_meta(heads)
            .into_iter()
            .map(|m| m.hash)
            .collect()
    };
    let arrived = not_ancestors_of(before);
    let pushed = server_began_with.map(|theirs| {
        if theirs.is_empty() {
            total.saturating_sub(arrived.len())
        } else {
            not_ancestors_of(theirs)
                .iter()
                .filter(|h| !arrived.contains(h))
                .count()
        }
    });
    (arrived.len(), pushed, total)
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
    /// client's token and trust). Follows only cluster redirects (to a node
    /// the server vouches for, see [`Hops`]), carrying the token there.
    /// Needs owner rights there.
    pub async fn delete_upstream(&self) -> Result<(), ClientError> {
        let mut url = self.config.url.clone();
        if self.repo.is_some() {
            return Err(ClientError::BadUrl {
                url: url.to_string(),
                reason: "automerge-repo servers have no way to delete a document".into(),
            });
        }
        let mut hops = Hops::new(&url);
        for _ in 0..=MAX_REDIRECTS {
            let hop = hops.trust_of(&url);
            let mut request = self.http.for_hop(&self.config, &hop)?.delete(url.clone());
            if let (Some(token), true) = (&self.config.token, hop != HopTrust::Foreign) {
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
            if matches!(status.as_u16(), 307 | 308) {
                let next = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|l| url.join(l).ok());
                match next {
                    Some(next) if hops.follow(&url, &next, response.headers()) => {
                        url = next;
                        continue;
                    }
                    _ => return Err(ClientError::Redirect {
                        url: url.to_string(),
                        reason:
                            "a delete follows only redirects to the nodes of the server's cluster"
                                .into(),
                    }),
                }
            }
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            return Err(ClientError::Remote {
                url: url.to_string(),
                message: format!(
                    "answered {}: {}",
                    status.as_u16(),
                    body["error"]
                        .as_str()
                        .unwrap_or("the document was not deleted")
                ),
            });
        }
        Err(ClientError::Redirect {
            url: url.to_string(),
            reason: format!("more than {MAX_REDIRECTS} redirects"),
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

#[cfg(test)]
mod tests {
    use super::change_counts;
    use automerge::{transaction::Transactable, AutoCommit, ChangeHash, ROOT};
    use std::collections::HashSet;

    /// The counts by their definition, listing every set in full.
    fn counted_in_full(
        doc: &automerge::Automerge,
        before: &[ChangeHash],
        theirs: Option<&[ChangeHash]>,
    ) -> (usize, Option<usize>, usize) {
        let set = |heads: &[ChangeHash]| -> HashSet<ChangeHash> {
            doc.get_changes_meta(heads)
                .into_iter()
                .map(|m| m.hash)
                .collect()
        };
        let arrived = set(before);
        let pushed = theirs.map(|t| set(t).difference(&arrived).count());
        (arrived.len(), pushed, set(&[]).len())
    }

    fn edits(doc: &mut AutoCommit, key: &str, n: usize) {
        for i in 0..n {
            doc.put(ROOT, key, i as i64).unwrap();
            doc.commit();
        }
    }

    #[test]
    fn counts_agree_with_their_definition_in_every_shape_of_sync() {
        // Ours: 3 changes; the server's: 5 changes, 2 of them shared.
        let mut shared = AutoCommit::new();
        edits(&mut shared, "shared", 2);
        let mut ours = shared.fork();
        edits(&mut ours, "ours", 1);
        let mut server = shared.fork();
        edits(&mut server, "theirs", 3);
        let our_heads = ours.get_heads();
        let server_heads = server.get_heads();
        let mut merged = ours.fork();
        merged.merge(&mut server).unwrap();
        let merged = merged.document().clone();

        // (shape, our heads before the sync, the server's first heads)
        type Case = (&'static str, Vec<ChangeHash>, Option<Vec<ChangeHash>>);
        let cases: [Case; 6] = [
            (
                "both sides had changes",
                our_heads.clone(),
                Some(server_heads.clone()),
            ),
            ("cold pull", vec![], Some(server_heads.clone())),
            ("cold pull, server silent on its heads", vec![], None),
            ("push to an empty server", our_heads.clone(), Some(vec![])),
            ("server silent on its heads", our_heads.clone(), None),
            (
                "nothing moved",
                merged.get_heads(),
                Some(merged.get_heads()),
            ),
        ];
        for (shape, before, theirs) in cases {
            assert_eq!(
                change_counts(&merged, &before, theirs.as_deref()),
                counted_in_full(&merged, &before, theirs.as_deref()),
                "{shape}"
            );
        }
        assert_eq!(
            change_counts(&merged, &our_heads, Some(&server_heads)),
            (3, Some(1), 6),
            "pulled the server's 3, pushed our 1, 6 in all"
        );
    }
}
