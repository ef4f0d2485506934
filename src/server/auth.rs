//! Who is calling: the credential a request carries becomes its [`Caller`].
//!
//! A credential is a bearer token (`Authorization: Bearer …`), a browser
//! session cookie made by signing in with a token ([`super::signin`]), or —
//! only on the WebSocket routes (`/_ws/…`, `/_events`, and automerge-repo's
//! socket at `/`), where a browser cannot set headers — `?access_token=`. The owner's token (created 0600 in the data directory)
//! is always accepted. A wrong credential is refused outright (`401`), never
//! silently treated as none. Without a credential a caller is anonymous: on a
//! server with configured tokens it is refused except for `/_health` and the
//! sign-in page; elsewhere it is a peer bound by share policies. With
//! `--oidc-issuer`, a bearer JWT from that issuer is a user too
//! ([`super::oidc`]).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use super::access::Caller;
use super::error::ApiError;
use super::listener::ConnectionInfo;
use super::state::AppState;
use super::tokens::{Role, TokenGrant};

/// The session cookie's name on a server listening on `port` (cookies are
/// not separated by port, so two local servers must not share one name).
pub(crate) fn session_cookie_name(port: u16) -> String {
    format!("tandem_session_{port}")
}

/// Paths anyone may reach, even on a token-gated server.
fn is_public(method: &Method, path: &str) -> bool {
    path == "/_health"
        || path == "/_signin"
        || path == "/_signout"
        || (method == Method::GET && path == "/")
        || (method == Method::GET && path.starts_with("/_ui/assets/"))
        || (method == Method::GET && (path == "/_ui/favicon.svg" || path == "/_ui/favicon.ico"))
}

/// Whether the path is the UI's page itself (sent to sign-in when anonymous).
fn is_ui_page(path: &str) -> bool {
    path == "/_ui" || path == "/_ui/" || path == "/_ui/index.html"
}

/// The bearer token of an `Authorization` header.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// A cookie's value from the `Cookie` headers.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}

/// Whether a bearer value has the shape of a JWT (three base64url parts).
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// What a request presented, before it is checked.
enum Presented {
    Nothing,
    Token(String),
    Session(String),
}

fn presented(state: &AppState, request: &Request) -> Presented {
    if let Some(token) = bearer(request.headers()) {
        return Presented::Token(token);
    }
    let path = request.uri().path();
    let repo_socket = path == "/" && super::repo_socket::is_websocket_upgrade(request.headers());
    if path.starts_with("/_ws/") || path == "/_events" || repo_socket {
        if let Some(token) = query_token(request.uri().query()) {
            return Presented::Token(token);
        }
    }
    match cookie(request.headers(), &state.session_cookie) {
        Some(id) => Presented::Session(id),
        None => Presented::Nothing,
    }
}

/// Middleware: resolves the [`Caller`] and refuses what it may not reach at all.
pub(crate) async fn authenticate(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let info = request.extensions().get::<ConnectionInfo>().copied();
    let path = request.uri().path().to_owned();
    state.credentials.refresh().await;
    let grant: Option<Arc<TokenGrant>> = match presented(&state, &request) {
        Presented::Token(token) => {
            if let Some(info) = info {
                if !info.tls
                    && !crate::host::is_loopback(info.remote.ip())
                    && !state.options.allow_plain_http_tokens
                {
                    tracing::warn!(remote = %info.remote, "a token arrived over plain HTTP from another machine; refused");
                    return ApiError::Forbidden(
                        "tokens are refused over plain HTTP from other machines: connect with https:// (serve --tls), or start the server with --allow-plain-http-tokens".into(),
                    )
                    .into_response();
                }
            }
            if let Some(placement) = &state.options.placement {
                let secret = placement.cluster_secret().as_bytes();
                if super::tokens::constant_time_eq(secret, token.as_bytes()) {
                    let forwarded = request
                        .headers()
                        .get(super::ui_relay::FORWARDED_HEADER)
                        .and_then(|v| v.to_str().ok());
                    let Some(caller) = super::ui_relay::relayed_caller(&path, forwarded) else {
                        return ApiError::Forbidden(
                            "the cluster's secret only relays UI requests about one document between nodes".into(),
                        )
                        .into_response();
                    };
                    request.extensions_mut().insert(caller);
                    request.extensions_mut().insert(super::ui_relay::Relayed);
                    return next.run(request).await;
                }
            }
            match state.credentials.check(&token) {
                Some(grant) => Some(grant),
                None => match (&state.oidc, looks_like_jwt(&token)) {
                    (Some(oidc), true) => match oidc.validate(&token).await {
                        Ok(user) => {
                            tracing::debug!(sub = %user.subject, name = %user.name, "OIDC user");
                            Some(Arc::new(TokenGrant::new(user.name, Role::Write, "")))
                        }
                        Err(e) => {
                            tracing::info!(error = %e, "refused a bearer JWT");
                            return ApiError::InvalidToken(e.to_string()).into_response();
                        }
                    },
                    _ => return ApiError::Unauthorized.into_response(),
                },
            }
        }
        // A stale session (e.g. after a restart) is like none: sign in again.
        Presented::Session(id) => state.credentials.session(&id),
        Presented::Nothing => None,
    };
    // `GET /` is public as the UI's entry point, not as automerge-repo's socket.
    let public = is_public(request.method(), &path)
        && !(path == "/" && super::repo_socket::is_websocket_upgrade(request.headers()));
    if grant.is_none() && !public {
        if is_ui_page(&path) {
            return Redirect::to("/_signin").into_response();
        }
        if state.credentials.gated() || state.oidc.is_some() {
            return ApiError::Unauthorized.into_response();
        }
    }
    let mut caller = Caller::new(grant.clone());
    if grant.is_some_and(|g| state.credentials.is_team(&g)) {
        caller = caller.revocable(state.credentials.clone());
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}
