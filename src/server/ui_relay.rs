//! The browser UI on any node of a cluster: a UI socket (`/_ws/{doc}`) for
//! a document another node serves is relayed there.
//!
//! Browsers cannot follow a redirect on a WebSocket, and the user's sign-in
//! session lives on the node the page came from; so that node opens the
//! socket to the serving node itself and passes the frames through both
//! ways. It authenticates with the cluster's shared secret
//! ([`super::placement::Placement::cluster_secret`]) and names the user in
//! [`FORWARDED_HEADER`]: the serving node grants exactly that user's role,
//! for that one document, and never relays such a socket again (no loops).
//! The user's own credential never leaves the node it was given to.

use std::sync::Arc;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as Upstream;

use super::access::Caller;
use super::error::ApiError;
use super::tokens::{Role, TokenGrant};
use crate::doc_id::DocId;
use crate::tls::{Fingerprint, Trust};

/// Names the user a relayed request is for: `ROLE NAME` (`read`, `write`
/// or `owner`), `ROLE NAME scoped` for a token limited to some documents,
/// or `anonymous`.
pub(crate) const FORWARDED_HEADER: &str = "tandem-forwarded-for";

/// Marks a request relayed by another node (a request extension).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Relayed;

/// How long connecting to the serving node may take.
const CONNECT_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The [`FORWARDED_HEADER`] value for `caller`.
fn forwarded_for(caller: &Caller) -> String {
    match (caller.role(), caller.name()) {
        (Some(role), name) => {
            let role = match role {
                Role::Read => "read",
                Role::Write => "write",
                Role::Owner => "owner",
            };
            // Names are one word in token files and the database; a name
            // from elsewhere (OIDC) may not be.
            let name: String = name
                .unwrap_or("user")
                .chars()
                .map(|c| if c.is_whitespace() { '_' } else { c })
                .collect();
            if caller.is_scoped() {
                format!("{role} {name} scoped")
            } else {
                format!("{role} {name}")
            }
        }
        (None, _) => "anonymous".to_owned(),
    }
}

/// The caller a relayed request stands for; `None` when the header is
/// missing or malformed, or the path is not about one document (a UI
/// socket `/_ws/{doc}`, `/{doc}`, `/_docs/{doc}/…`). Only an owner whose
/// token reaches every document keeps owner operations on it; anyone else
/// is limited to that document.
pub(crate) fn relayed_caller(path: &str, value: Option<&str>) -> Option<Caller> {
    let doc = match path.strip_prefix("/_ws/") {
        Some(id) => DocId::parse(id).ok()?,
        None => super::placement::addressed_doc(path)?,
    };
    let value = value?.trim();
    if value == "anonymous" {
        return Some(Caller::new(None));
    }
    let mut words = value.split(' ');
    let (role, name, scoped) = match (words.next(), words.next(), words.next(), words.next()) {
        (Some(role), Some(name), None, None) => (role, name, false),
        (Some(role), Some(name), Some("scoped"), None) => (role, name, true),
        _ => return None,
    };
    let role: Role = role.parse().ok()?;
    let mut grant = TokenGrant::hashed(name, role, [0; 32]);
    if scoped || role != Role::Owner {
        grant = grant.scoped(vec![doc]);
    }
    Some(Caller::new(Some(Arc::new(grant))))
}

/// Relays a UI request (not a sync, not a socket) to the node at `base`
/// for `caller`, and its answer back.
pub(crate) async fn forward(
    request: axum::extract::Request,
    base: &str,
    pin: Option<&str>,
    caller: &Caller,
    secret: &str,
    max_body: usize,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::BadGateway(format!(
            "the node serving this document ({base}) cannot be reached: {e}"
        ))
        .into_response()
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, max_body).await else {
        return ApiError::TooLarge(format!("the request exceeds {max_body} bytes")).into_response();
    };
    let tail = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let target = format!("{}{tail}", base.trim_end_matches('/'));
    let trust = match pin.map(Fingerprint::parse) {
        Some(Ok(fp)) => Trust::Pinned(fp),
        Some(Err(e)) => return unreachable(&e),
        None => Trust::System,
    };
    let client = match trust.client_config(&[b"http/1.1"]).map(|tls| {
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .connect_timeout(CONNECT_WAIT)
            .timeout(std::time::Duration::from_secs(60))
            .build()
    }) {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return unreachable(&e),
        Err(e) => return unreachable(&e),
    };
    let mut outgoing = client
        .request(parts.method.clone(), &target)
        .bearer_auth(secret)
        .header(FORWARDED_HEADER, forwarded_for(caller))
        .body(body);
    for name in [http::header::CONTENT_TYPE, http::header::ACCEPT] {
        if let Some(value) = parts.headers.get(&name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(e) => return unreachable(&e),
    };
    let status = answer.status();
    let mut headers = http::HeaderMap::new();
    for name in [
        http::header::CONTENT_TYPE,
        http::header::CONTENT_DISPOSITION,
        http::header::CACHE_CONTROL,
    ] {
        if let Some(value) = answer.headers().get(&name) {
            headers.insert(name, value.clone());
        }
    }
    match answer.bytes().await {
        Ok(bytes) => (status, headers, bytes).into_response(),
        Err(e) => unreachable(&e),
    }
}

/// The open socket to the serving node.
pub(crate) type UpstreamSocket = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// A byte stream (TCP or TLS over TCP).
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Opens `/_ws/{id}` on the node at `base` for `caller`, with `features`.
pub(crate) async fn connect(
    base: &str,
    pin: Option<&str>,
    id: &DocId,
    features: Option<&str>,
    caller: &Caller,
    secret: &str,
    max_line: usize,
) -> Result<UpstreamSocket, ApiError> {
    let unreachable = |e: &dyn std::fmt::Display| {
        ApiError::BadGateway(format!(
            "the node serving {id} ({base}) cannot be reached: {e}"
        ))
    };
    let mut url = url::Url::parse(base).map_err(|e| unreachable(&e))?;
    let tls = url.scheme() == "https";
    url.set_scheme(if tls { "wss" } else { "ws" })
        .map_err(|()| unreachable(&"not an http(s) URL"))?;
    url.set_path(&format!("/_ws/{id}"));
    url.set_query(None);
    if let Some(features) = features {
        url.query_pairs_mut().append_pair("features", features);
    }
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    let tcp = tokio::time::timeout(CONNECT_WAIT, TcpStream::connect((host.as_str(), port)))
        .await
        .map_err(|_| unreachable(&"timed out"))?
        .map_err(|e| unreachable(&e))?;
    let _ = tcp.set_nodelay(true);
    let stream: Box<dyn Io> = if tls {
        let trust = match pin {
            Some(pin) => Trust::Pinned(Fingerprint::parse(pin).map_err(|e| unreachable(&e))?),
            None => Trust::System,
        };
        let config = trust
            .client_config(&[b"http/1.1"])
            .map_err(|e| unreachable(&e))?;
        let name = rustls_pki_types::ServerName::try_from(host).map_err(|e| unreachable(&e))?;
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        Box::new(
            connector
                .connect(name, tcp)
                .await
                .map_err(|e| unreachable(&e))?,
        )
    } else {
        Box::new(tcp)
    };
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| unreachable(&e))?;
    let headers = request.headers_mut();
    let bearer = format!("Bearer {secret}");
    for (name, value) in [
        (http::header::AUTHORIZATION.as_str(), bearer.as_str()),
        (FORWARDED_HEADER, forwarded_for(caller).as_str()),
    ] {
        let value = value.parse().map_err(|_| unreachable(&"bad header"))?;
        headers.insert(name, value);
    }
    let limits = WebSocketConfig::default()
        .max_message_size(Some(max_line))
        .max_frame_size(Some(max_line));
    let (socket, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(limits))
        .await
        .map_err(|e| match e {
            tokio_tungstenite::tungstenite::Error::Http(response) => {
                let body = response
                    .body()
                    .as_ref()
                    .map(|b| String::from_utf8_lossy(b).into_owned())
                    .unwrap_or_default();
                let error = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned))
                    .unwrap_or(body);
                match response.status().as_u16() {
                    404 => ApiError::NotFound(error),
                    403 => ApiError::Forbidden(error),
                    status => unreachable(&format!("it answered {status}: {error}")),
                }
            }
            e => unreachable(&e),
        })?;
    Ok(socket)
}

/// Passes frames between the browser's socket and the serving node's until
/// either side closes, `stop` (the server's shutdown) is cancelled, or the
/// user's rights here are withdrawn (`check`: a revoked token, a document
/// made private).
pub(crate) async fn relay(
    browser: WebSocket,
    upstream: UpstreamSocket,
    stop: tokio_util::sync::CancellationToken,
    check: Option<crate::link::AccessCheck>,
) {
    let withdrawn = async {
        let Some(mut check) = check else {
            return std::future::pending().await;
        };
        while check.changes.changed().await.is_ok() {
            if !(check.allowed)() {
                tracing::info!("rights withdrawn: ending a relayed UI socket");
                return;
            }
        }
        std::future::pending().await
    };
    let (mut to_browser, mut from_browser) = browser.split();
    let (mut to_node, mut from_node) = upstream.split();
    let down = async {
        while let Some(Ok(message)) = from_node.next().await {
            let message = match message {
                Upstream::Text(t) => Message::Text(t.as_str().into()),
                Upstream::Binary(b) => Message::Binary(b),
                Upstream::Ping(p) => Message::Ping(p),
                Upstream::Pong(p) => Message::Pong(p),
                Upstream::Close(frame) => {
                    let frame = frame.map(|f| CloseFrame {
                        code: f.code.into(),
                        reason: f.reason.as_str().into(),
                    });
                    let _ = to_browser.send(Message::Close(frame)).await;
                    break;
                }
                Upstream::Frame(_) => continue,
            };
            if to_browser.send(message).await.is_err() {
                break;
            }
        }
        let _ = to_browser.close().await;
    };
    let up = async {
        while let Some(Ok(message)) = from_browser.next().await {
            let message = match message {
                Message::Text(t) => Upstream::Text(t.as_str().into()),
                Message::Binary(b) => Upstream::Binary(b),
                Message::Ping(p) => Upstream::Ping(p),
                Message::Pong(p) => Upstream::Pong(p),
                Message::Close(_) => break,
            };
            if to_node.send(message).await.is_err() {
                break;
            }
        }
        let _ = to_node.close().await;
    };
    // Either side ending ends the relay (the other half is dropped).
    tokio::select! {
        () = down => {}
        () = up => {}
        () = stop.cancelled() => {}
        () = withdrawn => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relayed_caller_reaches_only_its_socket_s_document() {
        let owner = relayed_caller("/_ws/notes", Some("owner alice")).unwrap();
        assert_eq!(owner.role(), Some(Role::Owner));
        assert_eq!(owner.name(), Some("alice"));
        let writer = relayed_caller("/_ws/notes", Some("write bob")).unwrap();
        assert!(writer.may_list(&DocId::parse("notes").unwrap()));
        assert!(!writer.may_list(&DocId::parse("other").unwrap()));
        assert_eq!(
            relayed_caller("/_ws/notes", Some("anonymous"))
                .unwrap()
                .role(),
            None
        );
        let doc_owner = relayed_caller("/notes", Some("owner alice")).unwrap();
        assert!(
            doc_owner.require_owner().is_ok(),
            "an unscoped owner stays one"
        );
        let scoped = relayed_caller("/_docs/notes/share", Some("owner alice scoped")).unwrap();
        assert!(scoped.require_owner().is_err());
        assert_eq!(forwarded_for(&scoped), "owner alice scoped");
        for (path, value) in [
            ("/_docs", Some("owner alice")),
            ("/_signin", Some("owner alice")),
            ("/notes", Some("owner alice extra")),
            ("/_ws/notes", None),
            ("/_ws/notes", Some("admin alice")),
            ("/_ws/notes", Some("owner")),
        ] {
            assert!(relayed_caller(path, value).is_none(), "{path} {value:?}");
        }
        assert_eq!(forwarded_for(&owner), "owner alice");
        assert_eq!(forwarded_for(&Caller::new(None)), "anonymous");
    }
}
