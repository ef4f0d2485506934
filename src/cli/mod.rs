//! The `tandem` command line: flag parsing and the subcommands. Each
//! subcommand is a thin layer over the library; errors surface as one line.

mod cat;
mod docs;
mod edit;
mod remote;
mod serve;
mod sync;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Live, collaborative Automerge documents over ndjson-over-HTTP.
#[derive(Debug, Parser)]
#[command(name = "tandem", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the sync server (headless).
    Serve(serve::ServeArgs),
    /// Sync a local .automerge file with a server (one-shot, or --follow).
    Sync(sync::SyncArgs),
    /// Print a document (from a server URL or a .automerge file) as JSON.
    Cat(cat::CatArgs),
    /// Make small scripted edits to a .automerge file.
    Edit(edit::EditArgs),
    /// List the documents in a data directory.
    Docs(docs::DocsArgs),
}

/// A boxed error whose `Display` is the one line shown to the user.
pub type CliError = Box<dyn std::error::Error + Send + Sync>;

/// The platform data directory (`~/.local/share/tandem` on Linux), unless
/// `TANDEM_DATA_DIR` says otherwise.
pub fn default_data_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("TANDEM_DATA_DIR") {
        return PathBuf::from(dir);
    }
    directories::ProjectDirs::from("", "", "tandem")
        .map(|d| d.data_dir().to_owned())
        .unwrap_or_else(|| PathBuf::from(".tandem"))
}

/// Parses arguments, sets up logging, runs the subcommand; one line on failure.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let default_level = match cli.command {
        Command::Serve(_) => "info",
        _ => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
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
            Command::Edit(args) => edit::run(args),
            Command::Docs(args) => docs::run(args),
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
