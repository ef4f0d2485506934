//! The team's tokens in the cluster's database, as the server's
//! [`TokenDirectory`]: every node reads the same `team_tokens` table.

use std::sync::Arc;

use crate::doc_id::DocId;
use crate::server::team_tokens::TokenDirectory;
use crate::server::tokens::{Role, TokenGrant};
use crate::store::{PgStore, StoredToken};

/// The `team_tokens` table of a PostgreSQL store.
#[derive(Debug, Clone)]
pub struct TeamTokens(pub Arc<PgStore>);

/// A stored row as a grant; `None` (logged) when the row is malformed.
fn grant_of(row: StoredToken) -> Option<TokenGrant> {
    let role: Role = match row.role.parse() {
        Ok(role) => role,
        Err(e) => {
            tracing::warn!(token = %row.name, error = %e, "ignoring a team token");
            return None;
        }
    };
    let Ok(digest) = <[u8; 32]>::try_from(row.digest.as_slice()) else {
        tracing::warn!(token = %row.name, "ignoring a team token with a malformed digest");
        return None;
    };
    let grant = TokenGrant::hashed(row.name.clone(), role, digest);
    match row.docs {
        None => Some(grant),
        Some(docs) => {
            let docs: Result<Vec<DocId>, _> = docs.iter().map(|d| DocId::parse(d)).collect();
            match docs {
                Ok(docs) => Some(grant.scoped(docs)),
                Err(e) => {
                    tracing::warn!(token = %row.name, error = %e, "ignoring a team token");
                    None
                }
            }
        }
    }
}

impl TokenDirectory for TeamTokens {
    fn grants(&self) -> Result<Vec<TokenGrant>, String> {
        let rows = self.0.list_tokens().map_err(|e| e.to_string())?;
        Ok(rows.into_iter().filter_map(grant_of).collect())
    }
}
