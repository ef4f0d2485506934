//! Signing a browser in: `GET /_signin` shows a form that takes a token,
//! `POST /_signin` checks it and sets a session cookie (`HttpOnly`,
//! `SameSite=Strict`, no expiry: it lasts while the browser stays open, and
//! until the server restarts), `POST /_signout` ends the session, and
//! `GET /_session` tells the UI who it is signed in as.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::access::Caller;
use super::auth::cookie;
use super::state::AppState;

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
pub(crate) struct SignInForm {
    /// The token the user pasted.
    pub token: String,
}

const PAGE_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'";

fn page(status: StatusCode, message: &str) -> Response {
    let escaped = message
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Sign in · Tandem</title>
<style>
body{{font:15px/1.5 system-ui,sans-serif;display:grid;place-items:center;min-height:90vh;margin:0;background:#f6f7f9;color:#1d2330}}
@media (prefers-color-scheme:dark){{body{{background:#16181d;color:#e6e8ee}}input{{background:#22252c;color:inherit;border-color:#444}}}}
form{{width:min(26rem,90vw);display:grid;gap:.75rem}}
input{{font:inherit;padding:.55rem .7rem;border:1px solid #c5cad3;border-radius:6px}}
button{{font:inherit;padding:.55rem;border:0;border-radius:6px;background:#3b6ef5;color:#fff;cursor:pointer}}
.error{{color:#c0392b}} code{{font-size:.9em}}
</style></head>
<body><form method="post" action="/_signin">
<h1>Sign in to Tandem</h1>
<p>Paste a token for this server. The owner's token is in the file
<code>owner-token</code> in the server's data directory
(<code>tandem serve</code> prints where that is).</p>
<p class="error" role="alert">{escaped}</p>
<label>Token <input name="token" type="password" autocomplete="current-password" required autofocus></label>
<button type="submit">Sign in</button>
</form></body></html>"#
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(PAGE_POLICY),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /_signin`: the form.
pub(crate) async fn form() -> Response {
    page(StatusCode::OK, "")
}

/// `POST /_signin`: a valid token starts a session and goes to the UI.
pub(crate) async fn sign_in(
    State(state): State<AppState>,
    Form(form): Form<SignInForm>,
) -> Response {
    let Some(grant) = state.credentials.check(form.token.trim()) else {
        return page(
            StatusCode::UNAUTHORIZED,
            "That token is not valid on this server.",
        );
    };
    tracing::info!(token = %grant.name, "browser signed in");
    let session = state.credentials.start_session(grant);
    let secure = if state.listen.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={session}; Path=/; HttpOnly; SameSite=Strict{secure}",
        state.session_cookie
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/_ui/")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /_signout`: ends the session and clears the cookie.
pub(crate) async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, &state.session_cookie) {
        state.credentials.end_session(&id);
    }
    let clear = format!(
        "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
        state.session_cookie
    );
    let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, "/_signin")]).into_response();
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `GET /_session`: who the caller is (`{"name", "role"}`; both null when anonymous).
pub(crate) async fn whoami(caller: Caller) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "name": caller.name(), "role": caller.role() }))
}
