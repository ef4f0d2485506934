//! The first checks every request meets, before any handler runs: is it
//! addressed to this server by a name it answers to (DNS-rebinding
//! protection), and does it come from a web page of another origin
//! (cross-site request and WebSocket protection)?
//!
//! - `Host` (or the HTTP/2 `:authority`) must be an IP literal, `localhost`
//!   (or `*.localhost`), this machine's host name (also as `NAME.local`) or a
//!   name given with `--public-host`; anything else is `421 Misdirected
//!   Request`. A page at `http://rebind.example:7450` whose name resolves to
//!   127.0.0.1 therefore reaches nothing.
//! - A request carrying `Origin` must come from this server's own origin (the
//!   served UI) or the desktop webview's; a request whose `Sec-Fetch-Site` is
//!   `cross-site` or `same-site` is refused unless it is a plain top-level
//!   navigation (a link to the UI). Both give `403`. WebSocket upgrades always
//!   carry `Origin`, so a foreign page cannot open `/_ws` or `/_events`.
//! - Programs (the Go library, `curl`, Tandem's own client) send neither
//!   header and are unaffected.
//!
//! A refused request's body, if small, is read before the refusal goes out:
//! a browser posting a form sends the body right behind the head, and a
//! connection closed with it unread is reset by the kernel, so the browser
//! could see a reset instead of the `403`.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::listener::ConnectionInfo;
use super::state::AppState;

/// The largest body a refused request may have for it to be read (and
/// dropped) before the refusal; a bigger one is refused unread.
const REFUSED_BODY_READ_LIMIT: usize = 64 * 1024;

/// How long reading a refused request's body may take.
const REFUSED_BODY_READ_WAIT: Duration = Duration::from_secs(1);

/// Origins of the desktop app's own webview (Tauri 2 on each platform).
const WEBVIEW_ORIGINS: [&str; 3] = [
    "tauri://localhost",
    "http://tauri.localhost",
    "https://tauri.localhost",
];

/// The host names a server answers to, besides IP literals and `localhost`.
#[derive(Debug, Clone, Default)]
pub struct AllowedHosts {
    names: HashSet<String>,
}

impl AllowedHosts {
    /// This machine's host name (and `NAME.local`, its mDNS name) plus `public`.
    pub fn for_this_machine(public: &[String]) -> Self {
        let host = crate::host::host_name().to_ascii_lowercase();
        let mut names: HashSet<String> = public.iter().map(|n| normalize(n)).collect();
        names.insert(format!("{host}.local"));
        names.insert(host);
        Self { names }
    }

    /// Whether a `Host` value (with or without a port) is acceptable.
    pub fn allows(&self, host_header: &str) -> bool {
        let host = strip_port(host_header);
        if host.starts_with('[') {
            return host
                .trim_matches(['[', ']'])
                .parse::<std::net::Ipv6Addr>()
                .is_ok();
        }
        if host.parse::<IpAddr>().is_ok() {
            return true;
        }
        let name = normalize(host);
        name == "localhost" || name.ends_with(".localhost") || self.names.contains(&name)
    }
}

fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// `host:port` → `host`; `[v6]:port` → `[v6]`.
fn strip_port(authority: &str) -> &str {
    if let Some(end) = authority.find(']') {
        return &authority[..=end];
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    }
}

/// The authority a request was sent to: `:authority` on HTTP/2, else `Host`.
fn request_authority(request: &Request) -> Option<String> {
    request
        .uri()
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
}

/// Whether a browser's `Origin` is the origin this request was addressed to.
fn same_origin(origin: &str, authority: &str, tls: bool) -> bool {
    let Ok(origin) = url::Url::parse(origin) else {
        return false;
    };
    let scheme = if tls { "https" } else { "http" };
    let Ok(target) = url::Url::parse(&format!("{scheme}://{authority}/")) else {
        return false;
    };
    origin.scheme() == target.scheme()
        && origin.host_str().map(str::to_ascii_lowercase)
            == target.host_str().map(str::to_ascii_lowercase)
        && origin.port_or_known_default() == target.port_or_known_default()
}

/// Why the gate refused a request; `None` lets it through.
pub(crate) fn refusal(
    hosts: &AllowedHosts,
    method: &Method,
    headers: &HeaderMap,
    authority: Option<&str>,
    tls: bool,
) -> Option<ApiError> {
    if let Some(authority) = authority {
        if !hosts.allows(authority) {
            let host = strip_port(authority);
            return Some(ApiError::MisdirectedHost(host.to_owned()));
        }
    }
    let text = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let navigation = headers
        .get("sec-fetch-mode")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|m| m == "navigate")
        && matches!(*method, Method::GET | Method::HEAD);
    if matches!(fetch_site, Some("cross-site" | "same-site")) && !navigation {
        return Some(ApiError::CrossOrigin(
            "a request from another site's page".into(),
        ));
    }
    if let Some(origin) = text(header::ORIGIN) {
        let own = authority.is_some_and(|a| same_origin(origin, a, tls));
        if !own && !WEBVIEW_ORIGINS.contains(&origin) {
            return Some(ApiError::CrossOrigin(format!(
                "a request from the page origin {origin:?}"
            )));
        }
    }
    None
}

/// Middleware applying [`refusal`] before any handler.
pub(crate) async fn check_request(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let tls = request
        .extensions()
        .get::<ConnectionInfo>()
        .is_some_and(|info| info.tls);
    let authority = request_authority(&request);
    let ui_page = request.uri().path().starts_with("/_ui")
        && !request.uri().path().starts_with("/_ui/assets/");
    match refusal(
        &state.allowed_hosts,
        request.method(),
        request.headers(),
        authority.as_deref(),
        tls,
    ) {
        None => {
            let mut response = next.run(request).await;
            let headers = response.headers_mut();
            // No page of ours may be framed by another site (clickjacking).
            headers.insert(
                header::X_FRAME_OPTIONS,
                header::HeaderValue::from_static("DENY"),
            );
            headers.insert(
                header::REFERRER_POLICY,
                header::HeaderValue::from_static("same-origin"),
            );
            if ui_page && !headers.contains_key(header::CACHE_CONTROL) {
                // The UI's page is re-checked every time, so signing out sticks.
                headers.insert(
                    header::CACHE_CONTROL,
                    header::HeaderValue::from_static("no-cache"),
                );
            }
            response
        }
        Some(error) => {
            tracing::warn!(
                method = %request.method(),
                path = %request.uri().path(),
                host = authority.as_deref().unwrap_or("-"),
                origin = request.headers().get(header::ORIGIN).and_then(|v| v.to_str().ok()).unwrap_or("-"),
                "refused: {error}"
            );
            read_and_drop_small_body(request).await;
            error.into_response()
        }
    }
}

/// Reads a refused request's body, when it is small and already on its way,
/// so the refusal does not close a connection with unread data in it.
/// Bounded in size and time; a client waiting for `100 Continue` has sent
/// nothing and is not asked for its body.
async fn read_and_drop_small_body(request: Request) {
    let headers = request.headers();
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if super::h2::expects_continue(headers)
        || declared.is_some_and(|len| len == 0 || len > REFUSED_BODY_READ_LIMIT)
    {
        return;
    }
    let body = axum::body::to_bytes(request.into_body(), REFUSED_BODY_READ_LIMIT);
    let _ = tokio::time::timeout(REFUSED_BODY_READ_WAIT, body).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn hosts() -> AllowedHosts {
        AllowedHosts::for_this_machine(&["notes.example.com".into()])
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hosts_answered() {
        let h = hosts();
        for ok in [
            "127.0.0.1:7450",
            "127.0.0.1",
            "[::1]:7450",
            "localhost:7450",
            "LocalHost",
            "app.localhost:1",
            "notes.example.com:443",
            "Notes.Example.Com.",
            "192.168.1.20:7450",
        ] {
            assert!(h.allows(ok), "{ok}");
        }
        for bad in [
            "rebind.example:7450",
            "localhost.evil.com",
            "notes.example.com.evil.com",
            "[not-ip]:80",
            "",
        ] {
            assert!(!h.allows(bad), "{bad}");
        }
        let own = crate::host::host_name();
        assert!(h.allows(&format!("{own}:7450")));
        assert!(h.allows(&format!("{own}.local:7450")));
    }

    #[test]
    fn origins() {
        let h = hosts();
        let at = Some("127.0.0.1:7450");
        let refused = |method: Method, pairs: &[(&'static str, &str)]| {
            refusal(&h, &method, &headers(pairs), at, false).is_some()
        };
        assert!(!refused(Method::PUT, &[]), "programs send no Origin");
        assert!(!refused(
            Method::POST,
            &[
                ("origin", "http://127.0.0.1:7450"),
                ("sec-fetch-site", "same-origin")
            ]
        ));
        assert!(!refused(Method::GET, &[("origin", "tauri://localhost")]));
        assert!(refused(
            Method::POST,
            &[("origin", "http://127.0.0.2:7450")]
        ));
        assert!(refused(
            Method::POST,
            &[("origin", "http://127.0.0.1:8000")]
        ));
        assert!(refused(
            Method::POST,
            &[("origin", "https://127.0.0.1:7450")]
        ));
        assert!(refused(Method::POST, &[("origin", "null")]));
        assert!(refused(Method::GET, &[("sec-fetch-site", "cross-site")]));
        assert!(refused(
            Method::GET,
            &[("sec-fetch-site", "same-site"), ("sec-fetch-mode", "cors")]
        ));
        assert!(!refused(
            Method::GET,
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate")
            ]
        ));
        assert!(refused(
            Method::POST,
            &[
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-mode", "navigate")
            ]
        ));
        assert!(refusal(
            &h,
            &Method::GET,
            &HeaderMap::new(),
            Some("evil.example:7450"),
            false
        )
        .is_some());
    }
}
