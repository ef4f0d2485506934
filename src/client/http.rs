//! Opening a sync stream: the HTTP client, the request, and redirects.
//!
//! Slightly over 500 lines: one request path (redirects, credentials per origin, trust per hop) kept whole so its security rules are read in one place.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT, ACCEPT_ENCODING, AUTHORIZATION, CACHE_CONTROL,
    CONTENT_ENCODING, CONTENT_TYPE, EXPECT, LOCATION,
};
use reqwest::StatusCode;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use url::Url;

use super::origin::{HopTrust, Hops};
use super::{ClientConfig, ClientError, Compression, HttpVersion};
use crate::hub::Document;
use crate::protocol::compress::{self, encode_stream, Encoding};
use crate::protocol::{SyncSession, NDJSON, NDJSON_UTF8};
use crate::tls::Trust;

/// The most redirects followed for one sync (PROTOCOL.md §4).
pub const MAX_REDIRECTS: usize = 10;

/// How many encoded lines may queue for the request body.
const OUTBOX: usize = 16;

/// A sync stream that has been answered `200`.
pub(crate) struct Opened {
    /// The response, whose body streams the server's lines.
    pub response: reqwest::Response,
    /// Where our lines go (the request body); dropping it ends the body.
    pub body: mpsc::Sender<Bytes>,
    /// How the response body is compressed; `None`: plain.
    pub encoding: Option<Encoding>,
}

/// The HTTP clients of one [`SyncClient`](super::SyncClient): one with the
/// configured trust for the configured origin, and one with the system's
/// trust for any other origin a redirect leads to (a certificate pin, custom
/// CA or `--insecure` was given for one server, not for wherever it points).
pub(crate) struct Clients {
    own: reqwest::Client,
    /// The certificate the configured server last presented.
    witness: crate::tls::CertificateWitness,
    /// Built on the first redirect to another origin.
    foreign: Mutex<Option<reqwest::Client>>,
    /// Per certificate pin a cluster node was vouched for with, its client.
    pinned: Mutex<HashMap<crate::tls::Fingerprint, reqwest::Client>>,
    /// Per origin, the coding its server reads in a request body, as its
    /// last answer said (`None`: it reads only plain bodies).
    body_codings: Mutex<HashMap<String, Option<Encoding>>>,
}

impl Clients {
    /// The client for `config`'s origin; the other one waits until needed.
    pub(crate) fn new(config: &ClientConfig) -> Result<Self, ClientError> {
        let witness = crate::tls::CertificateWitness::default();
        let own = build_client(config, &config.trust, &witness)?;
        let foreign = matches!(config.trust, Trust::System).then(|| own.clone());
        Ok(Self {
            own,
            witness,
            foreign: Mutex::new(foreign),
            pinned: Mutex::default(),
            body_codings: Mutex::default(),
        })
    }

    /// How to compress a request body to `url`: as the origin's last answer
    /// said; with [`Compression::Eager`] and no answer yet, as its `/_health`
    /// says (asked once). Plain when nothing is known.
    async fn body_coding(
        &self,
        config: &ClientConfig,
        http: &reqwest::Client,
        url: &Url,
    ) -> Option<Encoding> {
        let origin = url.origin().ascii_serialization();
        if config.compression == Compression::Off {
            return None;
        }
        if let Some(known) = self.known(&origin) {
            return known;
        }
        if config.compression != Compression::Eager {
            return None;
        }
        let health = url.join("/_health").ok()?;
        let asked = tokio::time::timeout(config.connect_timeout, http.get(health).send()).await;
        match asked {
            Ok(Ok(answer)) => {
                let coding = answer
                    .status()
                    .is_success()
                    .then(|| read_codings(answer.headers()))
                    .flatten();
                self.learn(&origin, coding);
                coding
            }
            // Not learnt: the sync itself will say what is wrong, if anything.
            _ => None,
        }
    }

    fn known(&self, origin: &str) -> Option<Option<Encoding>> {
        let known = self
            .body_codings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        known.get(origin).copied()
    }

    fn learn(&self, origin: &str, coding: Option<Encoding>) {
        self.body_codings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(origin.to_owned(), coding);
    }

    /// The client for a hop: the configured one on the configured origin;
    /// on a vouched cluster node, one pinned to the pin it was vouched with,
    /// else the configured one if that trusts system or custom roots; the
    /// system-trust one elsewhere.
    pub(crate) fn for_hop(
        &self,
        config: &ClientConfig,
        hop: &HopTrust,
    ) -> Result<reqwest::Client, ClientError> {
        match hop {
            HopTrust::Configured => return Ok(self.own.clone()),
            HopTrust::Vouched(Some(pin)) => {
                let mut pinned = self.pinned.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(client) = pinned.get(pin) {
                    return Ok(client.clone());
                }
                let client = build_client(config, &Trust::Pinned(*pin), &Default::default())?;
                pinned.insert(*pin, client.clone());
                return Ok(client);
            }
            HopTrust::Vouched(None)
                if matches!(config.trust, Trust::System | Trust::CustomCa(_)) =>
            {
                return Ok(self.own.clone());
            }
            HopTrust::Vouched(None) | HopTrust::Foreign => {}
        }
        let mut foreign = self.foreign.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = foreign.as_ref() {
            return Ok(client.clone());
        }
        let client = build_client(config, &Trust::System, &Default::default())?;
        *foreign = Some(client.clone());
        Ok(client)
    }
}

/// Builds a reqwest client for `config` with `trust`: no automatic
/// redirects (a streamed body cannot be replayed by reqwest, and [`open`]
/// decides what follows a redirect), the HTTP version asked for.
fn build_client(
    config: &ClientConfig,
    trust: &Trust,
    witness: &crate::tls::CertificateWitness,
) -> Result<reqwest::Client, ClientError> {
    let alpn: &[&[u8]] = match config.http {
        HttpVersion::Http1 => &[b"http/1.1"],
        HttpVersion::Http2 => &[b"h2"],
        HttpVersion::Auto => &[b"h2", b"http/1.1"],
    };
    let tls = trust.client_config_witnessed(alpn, witness)?;
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(config.connect_timeout)
        .tcp_nodelay(true)
        .tcp_keepalive(Duration::from_secs(30))
        .http2_keep_alive_interval(Duration::from_secs(20))
        .http2_keep_alive_timeout(Duration::from_secs(20))
        .http2_keep_alive_while_idle(true)
        .user_agent(concat!("tandem/", env!("CARGO_PKG_VERSION")));
    builder = match config.http {
        HttpVersion::Http1 => builder.http1_only(),
        HttpVersion::Http2 => builder.http2_prior_knowledge(),
        HttpVersion::Auto => builder,
    };
    builder.build().map_err(|e| ClientError::BadUrl {
        url: config.url.to_string(),
        reason: format!("cannot build an HTTP client: {e}"),
    })
}

/// Opens the sync stream, following 307/308 redirects with a fresh sync
/// state each hop. Our first message is in the body before the request goes
/// out. Returns the final URL and the open stream.
///
/// The token and the configured trust go only to the configured origin
/// (scheme, host and port) and to the cluster nodes it vouches for
/// ([`Hops`]): a hop to any other origin gets no `Authorization` and is
/// checked against the system's roots. A redirect from `https://` to
/// `http://` is refused.
pub(crate) async fn open(
    clients: &Clients,
    config: &ClientConfig,
    doc: &Arc<Document>,
    session: &mut SyncSession,
) -> Result<(Url, Opened), ClientError> {
    let mut url = config.url.clone();
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ClientError::BadUrl {
            url: url.to_string(),
            reason: "only http:// and https:// URLs can be synced".into(),
        });
    }
    let mut visited = HashSet::new();
    let mut hops = Hops::new(&config.url);
    let mut plain_retry = false;
    loop {
        visited.insert(url.clone());
        let hop = hops.trust_of(&url);
        let own_origin = hop == HopTrust::Configured;
        let http = clients.for_hop(config, &hop)?;
        let body_coding = if plain_retry {
            None
        } else {
            clients.body_coding(config, &http, &url).await
        };
        // Our first message goes in before the request: the same lines as
        // later on (split for peers with short lines), in a channel with room for them.
        let first = doc
            .pending_lines(session)
            .map_err(|source| ClientError::Unsendable {
                url: url.to_string(),
                source,
            })?;
        let (tx, rx) = mpsc::channel::<Bytes>(OUTBOX.max(first.len()));
        for line in first {
            // Cannot fail: the channel is new and has room for every line.
            let _ = tx.try_send(line);
        }
        // Each line is compressed and flushed on its own (a zstd frame), so
        // a live edit leaves at once.
        let body = reqwest::Body::wrap_stream(encode_stream(ReceiverStream::new(rx), body_coding));
        let mut request = http
            .put(url.clone())
            .header(CONTENT_TYPE, NDJSON_UTF8)
            .header(ACCEPT, NDJSON)
            .header(CACHE_CONTROL, "no-store")
            .body(body);
        let features = match (config.compression != Compression::Off, config.ephemeral) {
            (true, true) => Some("compression, ephemeral"),
            (true, false) => Some(compress::FEATURE),
            (false, true) => Some(crate::protocol::EPHEMERAL_FEATURE),
            (false, false) => None,
        };
        if config.compression != Compression::Off {
            request = request.header(ACCEPT_ENCODING, compress::ACCEPTED);
        }
        if let Some(features) = features {
            request = request.header(compress::FEATURES_HEADER, features);
        }
        if let Some(coding) = body_coding {
            request = request.header(CONTENT_ENCODING, coding.as_str());
        }
        if config.http != HttpVersion::Http2 {
            // Go's server reads an HTTP/1.1 body only after 100-continue was
            // asked for; on HTTP/2 the header is harmless.
            request = request.header(EXPECT, HeaderValue::from_static("100-continue"));
        }
        if let (Some(token), true) = (&config.token, hop != HopTrust::Foreign) {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = request
            .send()
            .await
            .map_err(|e| match certificate_problem(&e) {
                Some(reason) if own_origin => ClientError::Certificate {
                    url: url.to_string(),
                    reason,
                    presented: clients.witness.last().map(|f| f.to_string()),
                },
                _ => ClientError::Transport {
                    url: url.to_string(),
                    reason: if own_origin
                        || url.scheme() != "https"
                        || matches!(config.trust, Trust::System)
                    {
                        describe_reqwest(&e)
                    } else {
                        format!(
                            "{} (reached through a redirect from {}: a certificate pin, --ca or \
                     --insecure given for that server does not apply here, the system's \
                     trust does; to trust this server, sync with {url} directly)",
                            describe_reqwest(&e),
                            config.url.origin().ascii_serialization(),
                        )
                    },
                },
            })?;
        let status = response.status();
        let origin = url.origin().ascii_serialization();
        if status == StatusCode::OK {
            if config.compression != Compression::Off {
                clients.learn(&origin, read_codings(response.headers()));
            }
            let encoding = response_coding(&url, response.headers())?;
            return Ok((
                url,
                Opened {
                    response,
                    body: tx,
                    encoding,
                },
            ));
        }
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && body_coding.is_some() && !plain_retry {
            // The server no longer reads what it said it did: once more, plain.
            tracing::info!(%url, "the server refused a compressed body; sending it plain");
            clients.learn(&origin, None);
            plain_retry = true;
            *session = SyncSession::new();
            continue;
        }
        plain_retry = false;
        if matches!(
            status,
            StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
        ) {
            let next = redirect_target(&url, &response)?;
            if visited.contains(&next) {
                return Err(ClientError::Redirect {
                    url: url.to_string(),
                    reason: format!("redirect loop back to {next}"),
                });
            }
            if visited.len() > MAX_REDIRECTS {
                return Err(ClientError::Redirect {
                    url: url.to_string(),
                    reason: format!("more than {MAX_REDIRECTS} redirects"),
                });
            }
            if hops.follow(&url, &next, response.headers()) {
                tracing::debug!(from = %url, to = %next, "following a redirect to a cluster node it vouches for");
            } else if !hops.carries_token(&next)
                && (config.token.is_some() || !matches!(config.trust, Trust::System))
            {
                tracing::info!(from = %url, to = %next, "following a redirect to another origin without the token and with the system's trust");
            } else {
                tracing::debug!(from = %url, to = %next, "following redirect");
            }
            url = next;
            *session = SyncSession::new();
            continue;
        }
        if status.is_redirection() {
            return Err(ClientError::Redirect {
                url: url.to_string(),
                reason: format!(
                    "{status} would turn the PUT into a GET; only 307 and 308 keep the body"
                ),
            });
        }
        return Err(status_error(&url, response).await);
    }
}

/// The coding a server's answer says it reads in request bodies
/// (`Accept-Encoding` in a response, RFC 9110 §12.5.3).
fn read_codings(headers: &HeaderMap) -> Option<Encoding> {
    let value = headers.get(ACCEPT_ENCODING)?.to_str().ok()?;
    compress::accepted(value).first().copied()
}

/// How the response body is compressed, refusing a coding Tandem cannot read.
fn response_coding(url: &Url, headers: &HeaderMap) -> Result<Option<Encoding>, ClientError> {
    let Some(value) = headers.get(CONTENT_ENCODING) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or("(not text)");
    Encoding::from_content_encoding(value).map_err(|coding| ClientError::Protocol {
        url: url.to_string(),
        reason: format!(
            "the server compressed its answer as {coding:?}, which Tandem cannot read; \
             sync with compression off or ask the server's owner to fix it"
        ),
    })
}

fn redirect_target(url: &Url, response: &reqwest::Response) -> Result<Url, ClientError> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ClientError::Redirect {
            url: url.to_string(),
            reason: "no Location header".into(),
        })?;
    let next = url.join(location).map_err(|e| ClientError::Redirect {
        url: url.to_string(),
        reason: format!("bad Location {location:?}: {e}"),
    })?;
    if !matches!(next.scheme(), "http" | "https") {
        return Err(ClientError::Redirect {
            url: url.to_string(),
            reason: format!("Location {next} is not http(s)"),
        });
    }
    if url.scheme() == "https" && next.scheme() == "http" {
        return Err(ClientError::Redirect {
            url: url.to_string(),
            reason: format!(
                "it points to plain http:// ({next}), which would send the document \
                 unencrypted; ask the server's owner to redirect to https://, or sync \
                 with that URL directly if you accept that"
            ),
        });
    }
    Ok(next)
}

/// Turns a non-200 answer into an error carrying the server's `{"error"}` text.
async fn status_error(url: &Url, response: reqwest::Response) -> ClientError {
    let status = response.status();
    let body = tokio::time::timeout(Duration::from_secs(2), response.bytes())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let text = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body[..body.len().min(300)])
                .trim()
                .to_owned();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_owned()
            } else {
                text
            }
        });
    let message = if status == StatusCode::GONE {
        // The server keeps a tombstone: the document was deleted there, and
        // syncing again would only resurrect it.
        if text.eq_ignore_ascii_case("gone") {
            DELETED.to_owned()
        } else {
            format!("{DELETED} ({text})")
        }
    } else {
        text
    };
    ClientError::Status {
        url: url.to_string(),
        status: status.as_u16(),
        message,
    }
}

/// What a `410 Gone` means for a sync.
const DELETED: &str = "the document was deleted on the server";

/// The certificate refusal behind a failed request, in words, if that is
/// what it was.
fn certificate_problem(e: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(why) = as_certificate_refusal(cause) {
            return Some(why);
        }
        // io::Error's `source` skips the error it wraps: look inside.
        let mut wrapped = cause.downcast_ref::<std::io::Error>();
        while let Some(inner) = wrapped.and_then(|io| io.get_ref()) {
            if let Some(why) = as_certificate_refusal(inner) {
                return Some(why);
            }
            wrapped = inner.downcast_ref::<std::io::Error>();
        }
        source = cause.source();
    }
    None
}

fn as_certificate_refusal(e: &(dyn std::error::Error + 'static)) -> Option<String> {
    match e.downcast_ref::<rustls::Error>()? {
        rustls::Error::InvalidCertificate(why) => Some(format!("{why:?}")),
        rustls::Error::General(why) if why.contains("certificate") => Some(why.clone()),
        _ => None,
    }
}

/// reqwest's Display hides the cause (e.g. a certificate mismatch); walk the chain.
pub(crate) fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let piece = cause.to_string();
        if !text.contains(&piece) {
            text.push_str(": ");
            text.push_str(&piece);
        }
        source = cause.source();
    }
    text
}
