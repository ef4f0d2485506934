//! Who is asking, and what they may do with a document.
//!
//! The owner is whoever holds an owner credential (the owner token of the
//! data directory, an owner token from `--token`/`--token-file`, or a browser
//! session signed in with one). Being on this machine grants nothing: other
//! local users and web pages are strangers. Other callers are bound by each
//! document's share policy ([`crate::share`]), and token holders also by
//! their token's role and document scope:
//!
//! | caller | private doc | lan / link doc | owner operations |
//! |---|---|---|---|
//! | owner token | read, write | read, write | yes |
//! | write token | — | read, write | no |
//! | read token | — | read | no |
//! | anonymous (no tokens configured) | — | read, write | no |
//!
//! "—" answers exactly like a missing document, so nothing leaks about which exist.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::error::ApiError;
use super::state::AppState;
use super::tokens::{Role, TokenGrant};
use crate::doc_id::DocId;
use crate::link::{AccessCheck, PeerRights};
use crate::share::Shares;

/// The caller of a request (set by [`super::auth::authenticate`]).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    grant: Option<Arc<TokenGrant>>,
}

/// What a caller may do with one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocAccess {
    /// Read and sync, sending no changes.
    Read,
    /// Read, sync and change.
    Write,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Caller>()
            .cloned()
            .unwrap_or_default())
    }
}

impl Caller {
    /// A caller holding `grant`, or anonymous.
    pub fn new(grant: Option<Arc<TokenGrant>>) -> Self {
        Self { grant }
    }

    /// Whether the caller has owner rights.
    pub fn is_owner(&self) -> bool {
        self.role() == Some(Role::Owner)
    }

    /// The caller's role, `None` when anonymous.
    pub fn role(&self) -> Option<Role> {
        self.grant.as_ref().map(|g| g.role)
    }

    /// The token's name, for logs and presence.
    pub fn name(&self) -> Option<&str> {
        self.grant.as_ref().map(|g| g.name.as_str())
    }

    fn reaches(&self, id: &DocId) -> bool {
        self.grant.as_ref().is_none_or(|g| g.reaches(id))
    }

    /// What the caller may do with `id`, judged against the share
    /// policies. Refusals look exactly like a missing document.
    pub fn access_to(&self, shares: &Shares, id: &DocId) -> Result<DocAccess, ApiError> {
        let hidden = || ApiError::NotFound(format!("no shared document {id}"));
        if !self.reaches(id) {
            return Err(hidden());
        }
        if self.is_owner() {
            return Ok(DocAccess::Write);
        }
        if !shares.policy(id)?.allows_peers() {
            return Err(hidden());
        }
        Ok(match self.role() {
            Some(Role::Read) => DocAccess::Read,
            _ => DocAccess::Write,
        })
    }

    /// The rights a live connection of this caller on `id` runs with: read
    /// only for read tokens, and (for anyone but the owner) a re-check
    /// whenever share policies change, so that making a document private
    /// cuts its peers off at once.
    pub fn rights(&self, shares: &Arc<Shares>, id: &DocId, access: DocAccess) -> PeerRights {
        let check = (!self.is_owner()).then(|| {
            let (caller, shares, id) = (self.clone(), shares.clone(), id.clone());
            AccessCheck {
                changes: shares.changes(),
                allowed: Box::new(move || caller.access_to(&shares, &id).is_ok()),
            }
        });
        PeerRights {
            read_only: access == DocAccess::Read,
            check,
        }
    }

    /// What the caller may do with `id` on this server.
    pub fn check_doc(&self, state: &AppState, id: &DocId) -> Result<DocAccess, ApiError> {
        self.access_to(&state.shares, id)
    }

    /// Whether a listing may show `id` to this caller (listed docs for
    /// non-owners, within the token's scope).
    pub fn may_list(&self, id: &DocId) -> bool {
        self.reaches(id)
    }

    /// Refuses anyone but the owner.
    pub fn require_owner(&self) -> Result<(), ApiError> {
        if self.is_owner() && self.grant.as_ref().is_some_and(|g| g.docs.is_none()) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(
                "only the owner may do this: use the owner token (the file owner-token in the server's data directory) or sign in with it".into(),
            ))
        }
    }

    /// Refuses callers who may not create documents: read tokens, scoped
    /// tokens, and anonymous peers on a server that keeps documents private.
    pub fn check_create(&self, state: &AppState) -> Result<(), ApiError> {
        let scoped = self.grant.as_ref().is_some_and(|g| g.docs.is_some());
        match self.role() {
            Some(Role::Owner | Role::Write) if !scoped => Ok(()),
            Some(_) => Err(ApiError::Forbidden(
                "this token may not create documents (it is read-only or limited to some documents)".into(),
            )),
            None if state.shares.default_policy().allows_peers() => Ok(()),
            None => Err(ApiError::Forbidden(
                "this server does not accept new documents from peers".into(),
            )),
        }
    }
}
