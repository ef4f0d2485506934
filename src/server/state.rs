//! What every handler shares: the hub, the options, and the shutdown machinery.

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::gate::AllowedHosts;
use super::tokens::{Credentials, TokenGrant};
use crate::hub::Hub;
use crate::protocol::{ReadBudget, DEFAULT_MAX_LINE};
use crate::share::Shares;

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Team tokens (named, with a role and an optional document scope); when
    /// any are set, callers without a credential are refused.
    pub tokens: Vec<TokenGrant>,
    /// The owner's secret (the data directory's `owner-token`); a random one
    /// when `None` (tests read it back from the running server).
    pub owner_token: Option<String>,
    /// Host names, besides IP literals, `localhost` and this machine's own
    /// names, that requests may be addressed to (`--public-host`).
    pub public_hosts: Vec<String>,
    /// Accept tokens over plain HTTP from other machines (they travel in clear).
    pub allow_plain_http_tokens: bool,
    /// The most connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client may take to complete the TLS handshake, and to send
    /// the headers of a request.
    pub handshake_timeout: Duration,
    /// The longest accepted ndjson line, in bytes.
    pub max_line: usize,
    /// How long an idle stream waits before sending `{"event":"ping"}`.
    pub ping_interval: Duration,
    /// How long the server waits for the first request line before it answers
    /// `200` anyway (a bad first line gets a `400` instead of a stream).
    pub first_line_wait: Duration,
    /// How long one line may wait for a client that does not read, before the
    /// connection is dropped.
    pub write_timeout: Duration,
    /// The bytes of unfinished lines all connections together may hold.
    pub read_budget: usize,
    /// How long a started line may wait for its next byte.
    pub partial_line_timeout: Duration,
    /// The largest `.automerge` upload accepted by the import endpoint.
    pub max_upload: usize,
    /// A built web UI to serve under `/_ui/` (the `ui/dist` directory).
    pub ui_dir: Option<std::path::PathBuf>,
    /// Where the server's data lives, shown to its owner (`/_health`).
    pub data_dir: Option<std::path::PathBuf>,
    /// Accept OpenID Connect JWTs from this issuer and audience; callers
    /// without a credential are then refused.
    pub oidc: Option<super::oidc::OidcConfig>,
    /// Which node serves which document, when this server is one node of a
    /// cluster; `None` serves every document here.
    pub placement: Option<Arc<dyn super::placement::Placement>>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            owner_token: None,
            public_hosts: Vec::new(),
            allow_plain_http_tokens: false,
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(10),
            max_line: DEFAULT_MAX_LINE,
            ping_interval: Duration::from_secs(15),
            first_line_wait: Duration::from_secs(1),
            write_timeout: Duration::from_secs(30),
            max_upload: 256 * 1024 * 1024,
            read_budget: 512 * 1024 * 1024,
            partial_line_timeout: Duration::from_secs(60),
            ui_dir: None,
            data_dir: None,
            oidc: None,
            placement: None,
        }
    }
}

/// Shared state of the router.
#[derive(Clone)]
pub struct AppState {
    /// The open documents.
    pub hub: Arc<Hub>,
    /// Who may reach which document.
    pub shares: Arc<Shares>,
    /// The address the server listens on, as a URL.
    pub listen: String,
    /// Tunables.
    pub options: Arc<ServerOptions>,
    /// Cancelled when the server shuts down: every stream ends.
    pub shutdown: CancellationToken,
    /// Every per-connection task, so shutdown can wait for them.
    pub tasks: TaskTracker,
    /// The tokens and browser sessions accepted.
    pub credentials: Arc<Credentials>,
    /// The host names requests may be addressed to.
    pub allowed_hosts: AllowedHosts,
    /// The name of this server's session cookie.
    pub session_cookie: String,
    /// The owner's secret.
    pub(crate) owner_secret: Arc<str>,
    /// The memory all connections' unfinished lines share.
    pub read_budget: Arc<ReadBudget>,
    /// Ephemeral messages between automerge-repo sockets.
    pub ephemeral: super::repo_socket::EphemeralRelay,
    /// The validator of OIDC bearer JWTs, when configured.
    pub oidc: Option<Arc<super::oidc::Oidc>>,
}

impl AppState {
    /// State for a router over `hub` (judged by `shares`), listening at `listen`.
    pub fn new(hub: Arc<Hub>, shares: Arc<Shares>, listen: String, options: ServerOptions) -> Self {
        let owner = options
            .owner_token
            .clone()
            .unwrap_or_else(super::tokens::random_secret);
        let credentials = Arc::new(Credentials::new(&owner, options.tokens.clone()));
        let allowed_hosts = AllowedHosts::for_this_machine(&options.public_hosts);
        Self {
            read_budget: ReadBudget::new(options.read_budget),
            ephemeral: super::repo_socket::ephemeral_relay(),
            owner_secret: owner.into(),
            credentials,
            allowed_hosts,
            session_cookie: super::auth::session_cookie_name(listen_port(&listen)),
            hub,
            shares,
            listen,
            options: Arc::new(options),
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            oidc: None,
        }
    }
}

fn listen_port(url: &str) -> u16 {
    url.rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(0)
}
