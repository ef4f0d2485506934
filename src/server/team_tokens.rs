//! Team tokens kept outside the server, in a database shared by every node
//! of a cluster ([`TokenDirectory`]; the cluster module's reads PostgreSQL).
//!
//! The server keeps a copy and reads the directory again when a request
//! arrives and the copy is older than [`REFRESH`]: a token added or revoked
//! anywhere is honoured or refused by every node within that time, at the
//! cost of at most one small query per node per [`REFRESH`]. When the
//! directory cannot be read, the last copy is used for [`STALE_LIMIT`], then
//! no team token is accepted until it can be read again (a revoked token
//! must not live on because the database is unreachable).

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use super::tokens::TokenGrant;

/// How old the copy of the team's tokens may get before a request reads
/// them again: the longest a revoked token still works.
pub const REFRESH: Duration = Duration::from_secs(2);

/// How long the last copy is used while the directory cannot be read.
pub const STALE_LIMIT: Duration = Duration::from_secs(30);

/// Where a team's tokens live. Calls may block on a database.
pub trait TokenDirectory: Send + Sync + std::fmt::Debug + 'static {
    /// Every team token, as grants known by their secrets' digests.
    fn grants(&self) -> Result<Vec<TokenGrant>, String>;
}

#[derive(Debug, Default)]
struct Copy {
    grants: Vec<Arc<TokenGrant>>,
    /// When the directory was last asked (successfully or not).
    asked: Option<Instant>,
    /// When it last answered.
    answered: Option<Instant>,
}

/// The server's copy of a [`TokenDirectory`].
pub(crate) struct TeamTokens {
    directory: Arc<dyn TokenDirectory>,
    copy: RwLock<Copy>,
    /// One reader of the directory at a time; the others wait for its answer.
    reading: tokio::sync::Mutex<()>,
    /// Called when a token the copy had is gone (live connections re-check).
    on_revoke: RwLock<Option<Box<dyn Fn() + Send + Sync>>>,
}

impl std::fmt::Debug for TeamTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamTokens")
            .field("directory", &self.directory)
            .finish_non_exhaustive()
    }
}

impl TeamTokens {
    pub(crate) fn new(directory: Arc<dyn TokenDirectory>) -> Self {
        Self {
            directory,
            copy: RwLock::new(Copy::default()),
            reading: tokio::sync::Mutex::new(()),
            on_revoke: RwLock::new(None),
        }
    }

    /// Calls `f` whenever a token disappears from the directory.
    pub(crate) fn on_revoke(&self, f: Box<dyn Fn() + Send + Sync>) {
        *self.on_revoke.write().unwrap_or_else(|p| p.into_inner()) = Some(f);
    }

    fn copy(&self) -> std::sync::RwLockReadGuard<'_, Copy> {
        self.copy.read().unwrap_or_else(|p| p.into_inner())
    }

    fn is_fresh(&self) -> bool {
        self.copy().asked.is_some_and(|at| at.elapsed() < REFRESH)
    }

    /// Reads the directory again if the copy is older than [`REFRESH`].
    pub(crate) async fn refresh_if_stale(&self) {
        if self.is_fresh() {
            return;
        }
        let _reading = self.reading.lock().await;
        if self.is_fresh() {
            return; // another request just read it
        }
        let directory = Arc::clone(&self.directory);
        let answer = tokio::task::spawn_blocking(move || directory.grants())
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
        let revoked = {
            let mut copy = self.copy.write().unwrap_or_else(|p| p.into_inner());
            copy.asked = Some(Instant::now());
            let before = std::mem::take(&mut copy.grants);
            match answer {
                Ok(grants) => {
                    copy.grants = grants.into_iter().map(Arc::new).collect();
                    copy.answered = copy.asked;
                }
                Err(e) => {
                    let too_old = copy.answered.is_none_or(|at| at.elapsed() > STALE_LIMIT);
                    tracing::warn!(error = %e, dropped = too_old, "cannot read the team's tokens");
                    if !too_old {
                        copy.grants = before.clone();
                    }
                }
            }
            before.iter().any(|old| !copy.grants.contains(old))
        };
        if revoked {
            tracing::info!("a team token was revoked: live connections re-check their rights");
            if let Some(f) = &*self.on_revoke.read().unwrap_or_else(|p| p.into_inner()) {
                f();
            }
        }
    }

    /// The grant whose digest is `digest`, comparing against every one in
    /// constant time.
    pub(crate) fn check(&self, digest: &[u8; 32]) -> Option<Arc<TokenGrant>> {
        let mut found = None;
        for grant in &self.copy().grants {
            if grant.matches(digest) {
                found = Some(Arc::clone(grant));
            }
        }
        found
    }

    /// Whether `grant` (held by a browser session) is still a team token.
    pub(crate) fn still_holds(&self, grant: &TokenGrant) -> bool {
        self.copy().grants.iter().any(|g| **g == *grant)
    }

    /// Whether the team has any token (then callers without one are refused).
    pub(crate) fn any(&self) -> bool {
        !self.copy().grants.is_empty()
    }
}
