//! Credentials the server accepts: named bearer tokens with a role and an
//! optional document scope, the owner's token, and browser sessions made by
//! signing in with a token.
//!
//! Token file format (`serve --token-file FILE`), one token per line, `#`
//! comments and blank lines ignored:
//!
//! ```text
//! # name   role    secret                         [doc,doc,…]
//! alice    write   3f9c0a…                        notes,plans
//! ci       read    91bd2e…
//! ```
//!
//! A line with the secret alone is an owner token (as `--token` values are).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rand::RngCore;

use crate::doc_id::DocId;
use crate::store::perms::write_private_file;

/// What a token holder may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read and sync documents, but send no changes.
    Read,
    /// Read, sync and change documents, and create new ones.
    Write,
    /// Everything, including share policies, deletes, remotes and peers.
    Owner,
}

impl std::str::FromStr for Role {
    type Err = TokenFileError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Self::Read),
            "write" => Ok(Self::Write),
            "owner" => Ok(Self::Owner),
            other => Err(TokenFileError::BadRole(other.to_owned())),
        }
    }
}

/// One accepted credential.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenGrant {
    /// Who holds it (shown in logs, never the secret).
    pub name: String,
    /// What it allows.
    pub role: Role,
    /// The documents it reaches; `None` for all.
    pub docs: Option<Vec<DocId>>,
    /// The SHA-256 digest of the secret (the secret itself is not kept).
    digest: [u8; 32],
    /// The secret's length, for the minimum-length check of token files.
    secret_len: usize,
}

impl std::fmt::Debug for TokenGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenGrant")
            .field("name", &self.name)
            .field("role", &self.role)
            .field("docs", &self.docs)
            .finish_non_exhaustive()
    }
}

impl TokenGrant {
    /// A grant for `secret` with `role`, reaching every document.
    pub fn new(name: impl Into<String>, role: Role, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        Self {
            name: name.into(),
            role,
            docs: None,
            digest: digest(&secret),
            secret_len: secret.len(),
        }
    }

    /// A grant known only by its secret's digest (a team token from the
    /// database).
    pub fn hashed(name: impl Into<String>, role: Role, digest: [u8; 32]) -> Self {
        Self {
            name: name.into(),
            role,
            docs: None,
            digest,
            secret_len: MIN_SECRET,
        }
    }

    /// An owner token (what `--token T` gives).
    pub fn owner(secret: impl Into<String>) -> Self {
        Self::new("owner", Role::Owner, secret)
    }

    /// Limits the grant to `docs`.
    pub fn scoped(mut self, docs: Vec<DocId>) -> Self {
        self.docs = Some(docs);
        self
    }

    /// Whether the grant reaches document `id`.
    pub fn reaches(&self, id: &DocId) -> bool {
        self.docs.as_ref().is_none_or(|docs| docs.contains(id))
    }

    /// Whether `presented_digest` is this grant's, compared in constant time.
    pub(crate) fn matches(&self, presented_digest: &[u8; 32]) -> bool {
        constant_time_eq(&self.digest, presented_digest)
    }
}

impl From<&str> for TokenGrant {
    /// An owner token, as `--token` gives.
    fn from(secret: &str) -> Self {
        Self::owner(secret)
    }
}

/// Why a token file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenFileError {
    /// Reading the file failed.
    #[error("cannot read token file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Others may read the file.
    #[error("token file {0} is readable by other users; run `chmod 600 {0}`")]
    TooOpen(String),
    /// A line is malformed.
    #[error("token file {path}, line {line}: {reason} (expected `NAME ROLE SECRET [DOC,…]` or a secret alone)")]
    BadLine {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A role other than read, write or owner.
    #[error("unknown role {0:?}: use read, write or owner")]
    BadRole(String),
    /// A secret too short to resist guessing.
    #[error("token {0:?} is shorter than 16 characters; use a long random secret (e.g. `openssl rand -hex 32`)")]
    TooShort(String),
}

/// The shortest secret accepted from a token file.
const MIN_SECRET: usize = 16;

/// Reads a token file (see the module docs).
pub fn read_token_file(path: &Path) -> Result<Vec<TokenGrant>, TokenFileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
        path: shown.clone(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|source| TokenFileError::Read {
                path: shown.clone(),
                source,
            })?
            .permissions()
            .mode();
        if mode & 0o044 != 0 {
            return Err(TokenFileError::TooOpen(shown));
        }
    }
    parse_token_lines(&text, &shown)
}

/// Parses token-file text; `path` names it in errors.
pub fn parse_token_lines(text: &str, path: &str) -> Result<Vec<TokenGrant>, TokenFileError> {
    let mut grants = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |reason: String| TokenFileError::BadLine {
            path: path.to_owned(),
            line: index + 1,
            reason,
        };
        let fields: Vec<&str> = line.split_whitespace().collect();
        let grant = match fields.as_slice() {
            [secret] => TokenGrant::new(format!("token-{}", index + 1), Role::Owner, *secret),
            [name, role, secret] => TokenGrant::new(*name, role.parse()?, *secret),
            [name, role, secret, docs] => {
                let docs = docs
                    .split(',')
                    .map(|d| DocId::parse(d).map_err(|e| bad(format!("document {d:?}: {e}"))))
                    .collect::<Result<Vec<_>, _>>()?;
                TokenGrant::new(*name, role.parse()?, *secret).scoped(docs)
            }
            _ => return Err(bad(format!("{} fields", fields.len()))),
        };
        if grant.secret_len < MIN_SECRET {
            return Err(TokenFileError::TooShort(grant.name));
        }
        grants.push(grant);
    }
    Ok(grants)
}

/// The SHA-256 digest under which a secret is kept and compared. Secrets are
/// long and random (see [`random_secret`]), so a fast hash is enough: there
/// is nothing to guess from the digest.
pub fn digest(secret: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(secret.as_bytes()).into()
}

/// A fresh random secret: 32 bytes, hex.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The owner token of a data directory: `DIR/owner-token` (mode 0600),
/// created with a random secret on first use.
pub fn owner_token_in(dir: &Path) -> std::io::Result<String> {
    let path = dir.join(OWNER_TOKEN_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => return Ok(text.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    std::fs::create_dir_all(dir)?;
    let secret = random_secret();
    write_private_file(&path, format!("{secret}\n").as_bytes())?;
    Ok(secret)
}

/// The owner token's file name inside a data directory.
pub const OWNER_TOKEN_FILE: &str = "owner-token";

/// The file in a data directory that says where its running server listens
/// (`{"urls": […], "pid": N}`, mode 0600), so the CLI sends the owner token
/// there and nowhere else.
pub const SERVER_FILE: &str = "server.json";

/// While alive, `DIR/server.json` says where this process's server listens;
/// the file is removed on drop.
#[derive(Debug)]
pub struct ListeningRecord(std::path::PathBuf);

impl ListeningRecord {
    /// Writes the record for `urls` into `dir`.
    pub fn write(dir: &Path, urls: &[String]) -> std::io::Result<Self> {
        let path = dir.join(SERVER_FILE);
        let record = serde_json::json!({ "urls": urls, "pid": std::process::id() });
        write_private_file(&path, record.to_string().as_bytes())?;
        Ok(Self(path))
    }
}

impl Drop for ListeningRecord {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Every credential a server accepts, and the browser sessions signed in with them.
#[derive(Debug)]
pub struct Credentials {
    grants: Vec<Arc<TokenGrant>>,
    /// Whether anyone without a credential is refused (a team server with tokens).
    gated: bool,
    /// The team's tokens in a shared database (a cluster), if any.
    team: Option<super::team_tokens::TeamTokens>,
    sessions: Mutex<Sessions>,
}

/// The most browser sessions kept at once; the oldest is dropped past it.
const MAX_SESSIONS: usize = 1024;

/// The most browser sessions one token may have at once; its own oldest is
/// dropped past it, so signing in over and over with one token cannot push
/// anyone else's session out.
pub const MAX_SESSIONS_PER_TOKEN: usize = 16;

/// Browser sessions by id, each with the order it started in.
#[derive(Debug, Default)]
struct Sessions {
    by_id: HashMap<String, (u64, Arc<TokenGrant>)>,
    started: u64,
}

impl Sessions {
    /// Drops the oldest session among those `which` picks, if any.
    fn drop_oldest(&mut self, which: impl Fn(&TokenGrant) -> bool) {
        let oldest = self
            .by_id
            .iter()
            .filter(|(_, (_, grant))| which(grant))
            .min_by_key(|(_, (started, _))| *started)
            .map(|(id, _)| id.clone());
        if let Some(id) = oldest {
            self.by_id.remove(&id);
        }
    }
}

impl Credentials {
    /// The owner's token plus the configured `tokens`. With any configured
    /// tokens, callers without a credential are refused.
    pub fn new(owner_secret: &str, tokens: Vec<TokenGrant>) -> Self {
        let gated = !tokens.is_empty();
        let mut grants: Vec<Arc<TokenGrant>> = tokens.into_iter().map(Arc::new).collect();
        grants.push(Arc::new(TokenGrant::owner(owner_secret)));
        Self {
            grants,
            gated,
            team: None,
            sessions: Mutex::new(Sessions::default()),
        }
    }

    /// Also accepts the team tokens of `directory` (read again every
    /// [`super::team_tokens::REFRESH`]); once the team has any, callers
    /// without a credential are refused.
    pub fn with_directory(
        mut self,
        directory: Arc<dyn super::team_tokens::TokenDirectory>,
    ) -> Self {
        self.team = Some(super::team_tokens::TeamTokens::new(directory));
        self
    }

    /// Brings the copy of the team's tokens up to date when it is older
    /// than [`super::team_tokens::REFRESH`] (before a request is checked).
    pub async fn refresh(&self) {
        if let Some(team) = &self.team {
            team.refresh_if_stale().await;
        }
    }

    /// Calls `f` whenever a team token is revoked.
    pub fn on_revoke(&self, f: Box<dyn Fn() + Send + Sync>) {
        if let Some(team) = &self.team {
            team.on_revoke(f);
        }
    }

    /// Whether the server reads team tokens from a directory.
    pub fn has_directory(&self) -> bool {
        self.team.is_some()
    }

    /// Whether `grant` is one of the team's tokens right now (a revoked one
    /// is not).
    pub fn is_team(&self, grant: &TokenGrant) -> bool {
        self.team.as_ref().is_some_and(|t| t.still_holds(grant))
    }

    /// Whether callers without a credential are refused.
    pub fn gated(&self) -> bool {
        self.gated || self.team.as_ref().is_some_and(|t| t.any())
    }

    /// The grant for a presented secret: its digest is compared in constant
    /// time against every token's (so timing tells nothing about which, or
    /// how much, matched).
    pub fn check(&self, presented: &str) -> Option<Arc<TokenGrant>> {
        let presented = digest(presented);
        let mut found = None;
        for grant in &self.grants {
            if grant.matches(&presented) {
                found = Some(grant.clone());
            }
        }
        if let Some(team) = &self.team {
            if let Some(grant) = team.check(&presented) {
                found = Some(grant);
            }
        }
        found
    }

    /// Starts a browser session for `grant`; returns its id (the cookie
    /// value). Past [`MAX_SESSIONS_PER_TOKEN`] sessions of the same token,
    /// that token's oldest session ends; past the server's limit, the
    /// oldest of all.
    pub fn start_session(&self, grant: Arc<TokenGrant>) -> String {
        let id = random_secret();
        let mut sessions = self.sessions();
        let of_this_token = sessions
            .by_id
            .values()
            .filter(|(_, g)| **g == *grant)
            .count();
        if of_this_token >= MAX_SESSIONS_PER_TOKEN {
            sessions.drop_oldest(|g| *g == *grant);
        }
        if sessions.by_id.len() >= MAX_SESSIONS {
            sessions.drop_oldest(|_| true);
        }
        sessions.started += 1;
        let started = sessions.started;
        sessions.by_id.insert(id.clone(), (started, grant));
        id
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, Sessions> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The grant behind a session cookie, while its token is still
    /// accepted (a session signed in with a revoked team token ends too).
    pub fn session(&self, id: &str) -> Option<Arc<TokenGrant>> {
        let grant = {
            let sessions = self.sessions();
            sessions
                .by_id
                .iter()
                .find(|(key, _)| constant_time_eq(key.as_bytes(), id.as_bytes()))
                .map(|(_, (_, grant))| grant.clone())?
        };
        // Sessions are started only with grants `check` returned: a
        // configured one, or a team one.
        let standing = self.grants.iter().any(|g| Arc::ptr_eq(g, &grant))
            || self.team.as_ref().is_some_and(|t| t.still_holds(&grant));
        standing.then_some(grant)
    }

    /// Ends a browser session.
    pub fn end_session(&self, id: &str) {
        self.sessions().by_id.remove(id);
    }
}

/// Compares without an early exit, so timing does not reveal a prefix.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = (a.len() ^ b.len()) as u8 | u8::from(a.len() != b.len());
    for (i, x) in a.iter().enumerate() {
        diff |= x ^ b.get(i).copied().unwrap_or(0);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lines() {
        let text = "# team\nalice write 0123456789abcdef0123 notes,plans\n\nci read ffffffffffffffffffff\n0000000000000000aaaa\n";
        let grants = parse_token_lines(text, "t").unwrap();
        assert_eq!(grants.len(), 3);
        assert_eq!(grants[0].name, "alice");
        assert_eq!(grants[0].role, Role::Write);
        assert!(grants[0].reaches(&DocId::parse("notes").unwrap()));
        assert!(!grants[0].reaches(&DocId::parse("other").unwrap()));
        assert_eq!(grants[1].role, Role::Read);
        assert_eq!(grants[2].role, Role::Owner);
        for bad in [
            "a b",
            "a admin 0123456789abcdef0123",
            "a read short",
            "a read 0123456789abcdef0123 _bad",
        ] {
            assert!(parse_token_lines(bad, "t").is_err(), "{bad}");
        }
        let err = parse_token_lines("a admin 0123456789abcdef0123", "t").unwrap_err();
        assert!(err.to_string().contains("read, write or owner"), "{err}");
    }

    #[test]
    fn check_finds_the_right_grant() {
        let creds = Credentials::new(
            "owner-secret-0123456789",
            vec![TokenGrant::new("r", Role::Read, "read-secret-0123456789")],
        );
        assert!(creds.gated());
        assert_eq!(
            creds.check("read-secret-0123456789").unwrap().role,
            Role::Read
        );
        assert_eq!(
            creds.check("owner-secret-0123456789").unwrap().role,
            Role::Owner
        );
        assert!(creds.check("read-secret-012345678").is_none());
        assert!(creds.check("").is_none());
        let session = creds.start_session(creds.check("read-secret-0123456789").unwrap());
        assert_eq!(creds.session(&session).unwrap().name, "r");
        creds.end_session(&session);
        assert!(creds.session(&session).is_none());
    }

    #[test]
    fn signing_in_again_and_again_with_one_token_ends_only_its_own_oldest_sessions() {
        let creds = Credentials::new(
            "owner-secret-0123456789",
            vec![TokenGrant::new("r", Role::Read, "read-secret-0123456789")],
        );
        let owner = creds.start_session(creds.check("owner-secret-0123456789").unwrap());
        let reader = || creds.start_session(creds.check("read-secret-0123456789").unwrap());
        let first = reader();
        let later: Vec<String> = (0..MAX_SESSIONS + 10).map(|_| reader()).collect();
        assert!(creds.session(&owner).is_some(), "the owner stays signed in");
        assert!(creds.session(&first).is_none(), "the reader's oldest ended");
        let kept = later.iter().filter(|s| creds.session(s).is_some()).count();
        assert_eq!(kept, MAX_SESSIONS_PER_TOKEN, "the reader keeps its newest");
        assert!(later[later.len() - MAX_SESSIONS_PER_TOKEN..]
            .iter()
            .all(|s| creds.session(s).is_some()));
    }

    #[test]
    fn owner_token_file_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let first = owner_token_in(dir.path()).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(owner_token_in(dir.path()).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(OWNER_TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
