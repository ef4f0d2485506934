//! `tandem serve`: the headless sync server.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use super::{default_data_dir, CliError};
use crate::hub::Hub;
use crate::server::{self, ServerConfig, ServerOptions};
use crate::store::{Durability, SqliteStore};
use crate::tls::Identity;

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
    /// Require this bearer token (repeatable) on everything but /_health.
    #[arg(long = "token", value_name = "T")]
    tokens: Vec<String>,
    /// Longest accepted ndjson line, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = crate::protocol::DEFAULT_MAX_LINE)]
    max_line: usize,
    /// fsync every commit (survives power loss), not just process death.
    #[arg(long)]
    fsync: bool,
    /// Serve this built web UI under /_ui/ [default: $TANDEM_UI_DIR, or the
    /// repository's ui/dist next to the binary or in the current directory].
    #[arg(long, value_name = "DIR")]
    ui_dir: Option<PathBuf>,
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
    let store = SqliteStore::open_dir(&data_dir, durability)?;
    let hub = Hub::new(Arc::new(store));
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(Identity::from_pem_files(cert, key)?),
        _ if args.tls => Some(Identity::self_signed_in(&data_dir)?),
        _ => None,
    };
    let ui_dir = args.ui_dir.clone().or_else(default_ui_dir);
    let options = ServerOptions {
        tokens: args.tokens.clone(),
        max_line: args.max_line,
        ui_dir: ui_dir.clone(),
        ..ServerOptions::default()
    };
    let running = server::start(
        ServerConfig {
            listen: args.listen,
            tls,
            options,
        },
        hub,
    )
    .await?;
    {
        // Scripts and tests read these lines to find the port and the pin.
        let mut out = std::io::stdout().lock();
        writeln!(out, "Tandem listening on {}", running.url())?;
        if let Some(fp) = running.fingerprint() {
            writeln!(out, "TLS certificate SHA-256 fingerprint: {fp}")?;
        }
        if ui_dir.is_some() {
            writeln!(out, "Web UI: {}/_ui/", running.url())?;
        }
        writeln!(out, "Data directory: {}", data_dir.display())?;
        out.flush()?;
    }
    wait_for_signal().await;
    tracing::info!("shutting down: draining streams and flushing the store");
    running.shutdown().await;
    Ok(())
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
