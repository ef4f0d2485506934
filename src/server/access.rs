//! Who is asking, and what they may do with a document.
//!
//! The owner is this machine (a loopback peer) or, on a server with tokens, a
//! token holder (the auth middleware has already refused everyone else). The
//! owner may do anything; other callers are peers, bound by each document's
//! share policy ([`crate::share`]).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::listener::ConnectionInfo;
use super::state::AppState;
use crate::doc_id::DocId;

/// The caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    /// Loopback, or holding a valid token.
    pub owner: bool,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let loopback = parts
            .extensions
            .get::<ConnectionInfo>()
            .is_some_and(|info| info.remote.ip().is_loopback());
        Ok(Caller {
            owner: loopback || !state.options.tokens.is_empty(),
        })
    }
}

impl Caller {
    /// Refuses a peer that may not sync or read `id`. Private and unknown
    /// documents look the same to a peer, so nothing leaks about which exist.
    pub fn check_doc(&self, state: &AppState, id: &DocId) -> Result<(), ApiError> {
        if self.owner || state.service.share_policy(id)?.allows_peers() {
            Ok(())
        } else {
            Err(ApiError::NotFound(format!("no shared document {id}")))
        }
    }

    /// Refuses anyone but the owner.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.owner {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the owner (this machine, or a token holder) may do this".into(),
            ))
        }
    }

    /// Refuses a peer creating documents on a server that keeps them private.
    pub fn check_create(&self, state: &AppState) -> Result<(), ApiError> {
        if self.owner || state.service.default_share().allows_peers() {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "this server does not accept new documents from peers".into(),
            ))
        }
    }
}
