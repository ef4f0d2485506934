//! The `tandem` command line: flag parsing and the subcommands. Each
//! subcommand is a thin layer over the library; errors surface as one line.

mod cat;
mod credentials;
mod delete;
mod diff;
mod docs;
mod doctor;
mod edit;
mod limits;
mod log;
mod peers;
mod remote;
mod serve;
mod share;
mod source;
mod sync;
mod token;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Live, collaborative Automerge documents over ndjson-over-HTTP.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about, propagate_version = true)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server (headless).
    Serve(serve::ServeArgs),
    /// Sync a local .automerge file with a server (one-shot, or --follow).
    Sync(sync::SyncArgs),
    /// Print a document (from a server URL or a .automerge file) as JSON; --at for a past version.
    Cat(cat::CatArgs),
    /// A document's history: edit bursts with authors and times (--json: every change).
    Log(log::LogArgs),
    /// What changed between two versions of a document (Automerge patches, JSON lines).
    Diff(diff::DiffArgs),
    /// Make small scripted edits to a .automerge file.
    Edit(edit::EditArgs),
    /// List the documents in a data directory.
    Docs(docs::DocsArgs),
    /// Check a data directory: lock, permissions, damaged or quarantined changes.
    Doctor(doctor::DoctorArgs),
    /// List the LAN peers a running Tandem has discovered.
    Peers(peers::PeersArgs),
    /// Set a document's share policy (private, lan, link).
    Share(share::ShareArgs),
    /// Delete a document on a server (owner rights there; any node of a cluster).
    Delete(delete::DeleteArgs),
    /// A cluster's team tokens in its PostgreSQL database (add, list, revoke).
    Token(token::TokenArgs),
}

/// A boxed error whose `Display` is the one line shown to the user.
pub(crate) type CliError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) use tandem::store::default_data_dir;

/// Parses arguments, sets up logging, runs the subcommand; one line on failure.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(tandem::logging::filter_from_env(default_level))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("tandem: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => serve::run(args).await,
            Command::Sync(args) => sync::run(args).await,
            Command::Cat(args) => cat::run(args).await,
            Command::Log(args) => log::run(args).await,
            Command::Diff(args) => diff::run(args).await,
            Command::Edit(args) => edit::run(args),
            Command::Docs(args) => docs::run(args),
            Command::Doctor(args) => doctor::run(args),
            Command::Peers(args) => peers::run(args).await,
            Command::Share(args) => share::run(args).await,
            Command::Token(args) => token::run(args),
            Command::Delete(args) => delete::run(args).await,
        }
    });
    // Live streams may still be winding down; do not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tandem: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Writes one line; `false` when the reader went away (`tandem log | head`).
pub(crate) fn print_line(out: &mut impl std::io::Write, line: &str) -> Result<bool, CliError> {
    match writeln!(out, "{line}") {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(format!("cannot write the output: {e}").into()),
    }
}

/// One JSON request to a Tandem server with `credential`'s token; the
/// server's `{"error"}` text becomes the error. Only cluster redirects are
/// followed (`307`/`308` to a node the server vouches for, same path: see
/// [`tandem::client::Hops`]), with the token; any other redirect is an error
/// (the token must not go anywhere else). A token is not sent over plain
/// `http://` off loopback unless allowed.
pub(crate) async fn http_json(
    method: reqwest::Method,
    url: &url::Url,
    credential: &credentials::Credential,
    body: Option<serde_json::Value>,
) -> Result<serde_json::Value, CliError> {
    let mut hops = tandem::client::Hops::new(url);
    let mut at = url.clone();
    for _ in 0..=tandem::client::MAX_REDIRECTS {
        let response = http_once(&method, &at, &hops, credential, body.as_ref()).await?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("nowhere");
            let next = at.join(to).ok();
            let keeps_body = matches!(status.as_u16(), 307 | 308);
            match next {
                Some(next) if keeps_body && hops.follow(&at, &next, response.headers()) => {
                    tracing::debug!(from = %at, to = %next, "following a cluster redirect");
                    at = next;
                    continue;
                }
                _ => {
                    return Err(format!(
                        "{at} answered {} (to {to}); only redirects to the nodes of its cluster are followed here, use the server's own URL",
                        status.as_u16()
                    )
                    .into())
                }
            }
        }
        let value: serde_json::Value = response.json().await.unwrap_or(serde_json::Value::Null);
        if !status.is_success() {
            let message = value["error"]
                .as_str()
                .unwrap_or(status.canonical_reason().unwrap_or("error"));
            return Err(format!("{at} answered {}: {message}", status.as_u16()).into());
        }
        return Ok(value);
    }
    Err(format!(
        "{url}: more than {} redirects",
        tandem::client::MAX_REDIRECTS
    )
    .into())
}

/// One hop of [`http_json`]: the token only where `hops` allow it.
async fn http_once(
    method: &reqwest::Method,
    url: &url::Url,
    hops: &tandem::client::Hops,
    credential: &credentials::Credential,
    body: Option<&serde_json::Value>,
) -> Result<reqwest::Response, CliError> {
    let loopback = tandem::client::is_loopback(url);
    let token = credential
        .token
        .as_ref()
        .filter(|_| hops.carries_token(url));
    if token.is_some() && url.scheme() == "http" && !loopback && !credential.allow_plain_http_tokens
    {
        return Err(tandem::client::ClientError::PlainHttpToken {
            host: url.host_str().unwrap_or_default().to_owned(),
        }
        .into());
    }
    // Owner operations go to this machine's own server, whose certificate is
    // self-signed: skip the check only for loopback hosts. A cluster node is
    // checked against the pin the redirecting node vouched for it with.
    let trust = match hops.trust_of(url) {
        tandem::client::HopTrust::Vouched(Some(pin)) => tandem::tls::Trust::Pinned(pin),
        _ if loopback => tandem::tls::Trust::Insecure,
        _ => tandem::tls::Trust::System,
    };
    let tls = trust.client_config(&[b"http/1.1"])?;
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(std::time::Duration::from_secs(10))
        .build()?;
    let mut request = client.request(method.clone(), url.clone());
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request
        .send()
        .await
        .map_err(|e| format!("cannot reach {url}: {}", tandem::client::describe_error(&e)).into())
}
