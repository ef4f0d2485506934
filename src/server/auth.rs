//! Bearer tokens: when the server has any, every route but `/_health` needs one.

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use super::state::AppState;

/// Middleware refusing requests without a valid `Authorization: Bearer` token.
pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if state.options.tokens.is_empty() || request.uri().path() == "/_health" {
        return next.run(request).await;
    }
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .map(str::to_owned)
        // Browsers cannot set headers on a WebSocket: allow `?access_token=` (RFC 6750 §2.3).
        .or_else(|| query_token(request.uri().query()));
    match presented {
        Some(token)
            if state
                .options
                .tokens
                .iter()
                .any(|t| constant_time_eq(t.as_bytes(), token.as_bytes())) =>
        {
            next.run(request).await
        }
        _ => ApiError::Unauthorized.into_response(),
    }
}

/// Compares without an early exit, so timing does not reveal a prefix.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn query_token(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
}
