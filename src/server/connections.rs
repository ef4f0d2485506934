//! Who is on a document: `GET /_docs/{doc_id}/connections` (owner only),
//! the live incoming connections — sync streams and UI peers — with their
//! user, transport, age, traffic, heads and lag; and
//! `GET /_docs/{doc_id}/presence`, the people in it (docs/presence.md).

use axum::extract::{Path, State};
use axum::Json;
use serde::Serialize;

use super::access::Caller;
use super::error::ApiError;
use super::state::AppState;
use crate::doc_id::DocId;
use crate::hub::ConnectionInfo;

/// The answer of the connections endpoint.
#[derive(Debug, Serialize)]
pub(crate) struct ConnectionList {
    /// The document.
    pub doc: String,
    /// Its live connections, oldest first (empty when it is not open).
    pub connections: Vec<ConnectionInfo>,
}

/// Lists the live connections of a document.
pub(crate) async fn list_connections(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
) -> Result<Json<ConnectionList>, ApiError> {
    caller.require_owner()?;
    let id = DocId::parse(&raw_id)?;
    let connections = state
        .hub
        .get_open(&id)
        .map(|doc| doc.connection_infos())
        .unwrap_or_default();
    Ok(Json(ConnectionList {
        doc: id.to_string(),
        connections,
    }))
}

/// The answer of the presence endpoint.
#[derive(Debug, Serialize)]
pub(crate) struct PresenceList {
    /// The document.
    pub doc: String,
    /// Who is in it now, oldest first (docs/presence.md).
    pub members: Vec<crate::hub::presence::Member>,
}

/// `GET /_docs/{doc_id}/presence`: who is in a document now, for anyone
/// who may sync it (they would see the same over the stream).
pub(crate) async fn list_presence(
    State(state): State<AppState>,
    caller: Caller,
    Path(raw_id): Path<String>,
) -> Result<Json<PresenceList>, ApiError> {
    let id = DocId::parse(&raw_id)?;
    caller.check_doc(&state, &id)?;
    let members = state
        .hub
        .get_open(&id)
        .map(|doc| doc.ephemeral().members())
        .unwrap_or_default();
    Ok(Json(PresenceList {
        doc: id.to_string(),
        members,
    }))
}
