//! `tandem serve`: the headless sync server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::limits::LimitArgs;
use super::{default_data_dir, CliError};
use tandem::cluster::ClusterConfig;
use tandem::node::{LanPolicy, NodeBuilder, Tls};
use tandem::server::tokens::{read_token_file, TokenGrant, OWNER_TOKEN_FILE};
use tandem::server::ServerOptions;
use tandem::service::ServiceOptions;
use tandem::share::SharePolicy;
use tandem::store::{Durability, PgStore, SqliteStore};
use tandem::tls::Identity;

/// Flags of `tandem serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Address to listen on (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:7450")]
    listen: SocketAddr,
    /// Where documents are stored [default: the platform data dir, or $TANDEM_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Serve HTTPS (h2 and http/1.1); plain HTTP stays available from loopback.
    #[arg(long)]
    tls: bool,
    /// PEM certificate chain (default with --tls: a self-signed one kept in the data dir).
    #[arg(long, value_name = "PEM", requires_all = ["tls", "key"])]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, value_name = "PEM", requires = "cert")]
    key: Option<PathBuf>,
    /// Accept this owner token (repeatable) and refuse callers without a
    /// token. Visible in `ps`: prefer --token-file or TANDEM_TOKEN.
    #[arg(
        long = "token",
        value_name = "T",
        env = "TANDEM_TOKEN",
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// Accept the named tokens in FILE (`NAME ROLE SECRET [DOC,…]` per line,
    /// ROLE read|write|owner; mode 0600) and refuse callers without a token.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// A host name this server is reached by (repeatable), besides IP
    /// addresses, localhost and this machine's name; requests addressed to
    /// any other name are refused (DNS-rebinding protection).
    #[arg(long = "public-host", value_name = "NAME")]
    public_hosts: Vec<String>,
    /// Accept tokens over plain HTTP from other machines (they travel in clear).
    #[arg(long)]
    allow_plain_http_tokens: bool,
    /// Accept OpenID Connect JWTs from this issuer (https://, or http:// on
    /// loopback): its keys are fetched from its discovery document, and the
    /// token's `name` (else `sub`) becomes the user, with the write role.
    #[arg(long, value_name = "URL", requires = "oidc_audience")]
    oidc_issuer: Option<url::Url>,
    /// The audience (`aud`) OIDC tokens must be for.
    #[arg(long, value_name = "AUD", requires = "oidc_issuer")]
    oidc_audience: Option<String>,
    /// The most connections served at once.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    max_connections: usize,
    /// Longest accepted ndjson line, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = tandem::protocol::DEFAULT_MAX_LINE)]
    max_line: usize,
    /// fsync every commit (survives power loss), not just process death.
    #[arg(long)]
    fsync: bool,
    /// Advertise and discover peers on the LAN with mDNS (implies --tls;
    /// documents stay private until shared).
    #[arg(long)]
    mdns: bool,
    /// Never start mDNS, even with --mdns (also: TANDEM_NO_MDNS=1).
    #[arg(long)]
    no_mdns: bool,
    /// The name other peers see [default: the host name, or the last one set].
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Serve this built web UI under /_ui/ [default: $TANDEM_UI_DIR, or the
    /// repository's ui/dist next to the binary or in the current directory].
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
    /// Where documents are stored: `sqlite` (the data directory's database,
    /// the default) or a `postgres://user@host:port/db` URL shared by the
    /// nodes of a cluster (the data directory then keeps only the owner token
    /// and TLS identity).
    #[arg(
        long,
        value_name = "sqlite|URL",
        env = "TANDEM_STORE",
        default_value = "sqlite"
    )]
    store: String,
    /// With a PostgreSQL store: the base URL other nodes send clients to
    /// [default: the listen address].
    #[arg(long, value_name = "URL")]
    advertise_url: Option<String>,
    /// With a PostgreSQL store: how long a dead node's documents wait before
    /// another node takes them over (leases are renewed every third of it).
    #[arg(long, value_name = "SECS", default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=60))]
    lease_secs: u64,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Whether `--store` names a PostgreSQL database.
fn is_postgres_url(spec: &str) -> bool {
    let spec = spec.trim();
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// What `--store` chose.
enum StoreChoice {
    /// The data directory's SQLite database.
    Sqlite(SqliteStore),
    /// A cluster's PostgreSQL database.
    Postgres(Arc<PgStore>),
}

/// The store chosen by `--store`, opened (a second `serve` on the same
/// data directory is refused here, in one line).
fn open_store(
    args: &ServeArgs,
    data_dir: &std::path::Path,
    durability: Durability,
) -> Result<StoreChoice, CliError> {
    let spec = args.store.trim();
    if is_postgres_url(spec) {
        let pg = Arc::new(PgStore::connect(spec)?);
        tracing::info!(url = %pg.url(), "documents are stored in PostgreSQL");
        return Ok(StoreChoice::Postgres(pg));
    }
    if spec != "sqlite" {
        return Err(format!(
            "--store {spec:?} is not known: use sqlite or a postgres://user@host:port/db URL"
        )
        .into());
    }
    Ok(StoreChoice::Sqlite(SqliteStore::open_dir(
        data_dir, durability,
    )?))
}

/// The URL other nodes redirect to: `--advertise-url`, or the listen address.
fn advertise_url(args: &ServeArgs, tls: bool) -> Result<String, CliError> {
    if let Some(url) = &args.advertise_url {
        let parsed = url::Url::parse(url)
            .map_err(|e| format!("--advertise-url {url:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
            return Err(format!(
                "--advertise-url {url:?} must be an http:// or https:// URL with a host"
            )
            .into());
        }
        return Ok(url.trim_end_matches('/').to_owned());
    }
    if args.listen.port() == 0 || args.listen.ip().is_unspecified() {
        return Err(format!(
            "a cluster node must tell the others where it is: listening on {} needs --advertise-url",
            args.listen
        )
        .into());
    }
    let scheme = if tls { "https" } else { "http" };
    Ok(format!("{scheme}://{}", args.listen))
}

/// Where the built web UI is, if anywhere: `$TANDEM_UI_DIR`, the source
/// tree's `ui/dist` (for `cargo run`), or `./ui/dist`.
fn default_ui_dir() -> Option<PathBuf> {
    let candidates = [
        std::env::var_os("TANDEM_UI_DIR").map(PathBuf::from),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("ui/dist")),
        std::env::current_exe().ok().and_then(|exe| {
            exe.parent()?
                .parent()?
                .parent()
                .map(|root| root.join("ui/dist"))
        }),
        Some(PathBuf::from("ui/dist")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.join("index.html").is_file())
}

pub(crate) async fn run(args: ServeArgs) -> Result<(), CliError> {
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let durability = if args.fsync {
        Durability::Full
    } else {
        Durability::Process
    };
    // Checked before connecting: a wrong flag is said at once.
    let advertised = if is_postgres_url(&args.store) {
        let tls = args.tls || args.mdns || args.cert.is_some();
        Some(advertise_url(&args, tls)?)
    } else {
        None
    };
    let mdns = args.mdns && !args.no_mdns && !tandem::discovery::disabled_by_env();
    if args.mdns && !mdns {
        tracing::info!("mDNS is switched off (--no-mdns or TANDEM_NO_MDNS)");
    }
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Tls::Identity(Identity::from_pem_files(cert, key)?),
        _ if args.tls || args.mdns => Tls::SelfSigned,
        _ => Tls::Off,
    };
    let default_share = if args.mdns {
        SharePolicy::Private
    } else {
        SharePolicy::Lan
    };
    if std::env::args().any(|a| a == "--token" || a.starts_with("--token=")) {
        tracing::warn!("a token given with --token is visible to every user of this machine (ps); use --token-file or TANDEM_TOKEN");
    }
    let mut tokens: Vec<TokenGrant> = args.tokens.iter().map(TokenGrant::owner).collect();
    if let Some(file) = &args.token_file {
        tokens.extend(read_token_file(file)?);
    }
    if (!tokens.is_empty() || args.oidc_issuer.is_some())
        && matches!(tls, Tls::Off)
        && !tandem::host::is_loopback(args.listen.ip())
        && !args.allow_plain_http_tokens
    {
        return Err(format!(
            "tokens would travel in clear over plain HTTP on {}: add --tls, listen on 127.0.0.1, or pass --allow-plain-http-tokens",
            args.listen
        )
        .into());
    }
    let ui_dir = args.ui_dir.clone().or_else(default_ui_dir);
    let options = ServerOptions {
        tokens,
        public_hosts: args.public_hosts.clone(),
        allow_plain_http_tokens: args.allow_plain_http_tokens,
        max_connections: args.max_connections,
        max_line: args.max_line,
        ui_dir: ui_dir.clone(),
        oidc: match (&args.oidc_issuer, &args.oidc_audience) {
            (Some(issuer), Some(audience)) => Some(tandem::server::oidc::OidcConfig::new(
                issuer.clone(),
                audience.clone(),
            )),
            _ => None,
        },
        ..ServerOptions::default()
    };
    let mut builder = NodeBuilder::new()
        .data_dir(&data_dir)
        .limits(args.limits.limits())
        .listen_on(args.listen)
        .tls(tls)
        .server_options(options)
        .service_options(ServiceOptions { default_share })
        .record_in_data_dir(true);
    if mdns {
        builder = builder.lan(LanPolicy::Advertise {
            name: args.name.clone(),
        });
    }
    builder = match (open_store(&args, &data_dir, durability)?, advertised) {
        (StoreChoice::Postgres(pg), Some(advertise_url)) => builder.cluster(
            pg,
            ClusterConfig {
                advertise_url,
                lease_ttl: std::time::Duration::from_secs(args.lease_secs),
            },
        ),
        (StoreChoice::Postgres(pg), None) => builder.store(pg),
        (StoreChoice::Sqlite(sqlite), _) => builder.store(Arc::new(sqlite)),
    };
    let node = builder.start().await?;
    {
        // Scripts and tests read these lines to find the port and the pin.
        let mut out = std::io::stdout().lock();
        writeln!(out, "Tandem listening on {}", node.url())?;
        if let Some(fp) = node.fingerprint() {
            writeln!(out, "TLS certificate SHA-256 fingerprint: {fp}")?;
        }
        if ui_dir.is_some() {
            writeln!(
                out,
                "Web UI: {}/_ui/ (sign in with the owner token)",
                node.url()
            )?;
        }
        writeln!(
            out,
            "Owner token: {} (owner rights: keep it private)",
            data_dir.join(OWNER_TOKEN_FILE).display()
        )?;
        if let Some(cluster) = node.cluster() {
            writeln!(
                out,
                "Cluster node {} at {} (store {})",
                cluster.me().id,
                cluster.me().url,
                args.store_shown()
            )?;
        }
        if let Some(presence) = node.presence() {
            writeln!(
                out,
                "LAN discovery: on, as {:?} (peer id {})",
                presence.name, presence.id
            )?;
        }
        writeln!(out, "Data directory: {}", data_dir.display())?;
        out.flush()?;
    }
    wait_for_signal().await;
    tracing::info!("shutting down: saying goodbye, draining streams and flushing the store");
    node.shutdown().await;
    Ok(())
}

impl ServeArgs {
    /// `--store` without a password.
    fn store_shown(&self) -> String {
        match url::Url::parse(&self.store) {
            Ok(mut url) if url.password().is_some() => {
                let _ = url.set_password(Some("***"));
                url.to_string()
            }
            _ => self.store.clone(),
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
