//! A team's tokens in the PostgreSQL database (`team_tokens`), so that every
//! node of a cluster honours the same ones and a revoked token stops working
//! on all of them.
//!
//! Only a digest of each secret is stored (the caller hashes it; see
//! `server::tokens::digest`): reading the table gives no usable token. The
//! role is kept as its name (`read`, `write`, `owner`); the store does not
//! interpret it.

use super::{PgStore, StoreError};

/// One team token as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoredToken {
    /// Its unique name (shown in logs and presence).
    pub name: String,
    /// `read`, `write` or `owner`.
    pub role: String,
    /// The documents it reaches; `None` for all.
    pub docs: Option<Vec<String>>,
    /// The SHA-256 digest of the secret.
    #[serde(skip)]
    pub digest: Vec<u8>,
    /// When it was added (Unix milliseconds).
    pub created_ms: i64,
}

/// Why a token could not be added.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AddTokenError {
    /// The name is taken.
    #[error("a token named {0:?} exists already; revoke it first or pick another name")]
    NameTaken(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AddTokenError {
    /// Its [`Code`](crate::error_code::Code): a taken name conflicts; a
    /// database failure says its own.
    pub fn code(&self) -> crate::error_code::Code {
        match self {
            Self::NameTaken(_) => crate::error_code::Code::Conflict,
            Self::Store(e) => e.code(),
        }
    }
}

impl PgStore {
    /// Adds a team token. Names are unique.
    pub fn add_token(
        &self,
        name: &str,
        role: &str,
        docs: Option<Vec<String>>,
        digest: &[u8],
    ) -> Result<(), AddTokenError> {
        let (owned, role, digest) = (name.to_owned(), role.to_owned(), digest.to_vec());
        let added = self.run("add a team token", move |c| {
            c.execute(
                "INSERT INTO team_tokens (name, role, docs, digest) VALUES ($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&owned, &role, &docs, &digest],
            )
        })?;
        if added == 0 {
            return Err(AddTokenError::NameTaken(name.to_owned()));
        }
        Ok(())
    }

    /// Every team token, by name.
    pub fn list_tokens(&self) -> Result<Vec<StoredToken>, StoreError> {
        self.run("list the team tokens", |c| {
            let rows = c.query(
                "SELECT name, role, docs, digest,
                        (EXTRACT(EPOCH FROM created) * 1000)::BIGINT
                 FROM team_tokens ORDER BY name",
                &[],
            )?;
            Ok(rows
                .iter()
                .map(|r| StoredToken {
                    name: r.get(0),
                    role: r.get(1),
                    docs: r.get(2),
                    digest: r.get(3),
                    created_ms: r.get(4),
                })
                .collect())
        })
    }

    /// Removes the token named `name`; whether there was one.
    pub fn revoke_token(&self, name: &str) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.run("revoke a team token", move |c| {
            c.execute("DELETE FROM team_tokens WHERE name = $1", &[&name])
                .map(|n| n > 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error_code::Code;

    #[test]
    fn a_taken_name_is_a_conflict_and_a_database_failure_keeps_its_code() {
        assert_eq!(
            AddTokenError::NameTaken("ada".into()).code(),
            Code::Conflict
        );
        let full = AddTokenError::from(StoreError::DiskFull {
            path: "the PostgreSQL database".into(),
        });
        assert_eq!(full.code(), Code::DiskFull);
    }
}
