//! `tandem docs`: list stored documents.

use std::path::PathBuf;

use clap::Args;

use super::{default_data_dir, CliError};
use tandem::store::{Durability, SqliteStore, Store};

/// Flags of `tandem docs`.
#[derive(Debug, Args)]
pub(crate) struct DocsArgs {
    /// The data directory [default: the platform data dir, or $TANDEM_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: DocsArgs) -> Result<(), CliError> {
    let dir = args.data_dir.unwrap_or_else(default_data_dir);
    if !dir.join(SqliteStore::FILE_NAME).exists() {
        return Err(format!("no Tandem store in {}", dir.display()).into());
    }
    let docs = SqliteStore::open_dir_unlocked(&dir, Durability::Process)?.list()?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&docs)?);
        return Ok(());
    }
    println!("{:<24} {:>9}  {:<16} TITLE", "ID", "BYTES", "HEADS");
    for d in docs {
        let heads: Vec<&str> = d.heads.iter().map(|h| &h[..h.len().min(7)]).collect();
        println!(
            "{:<24} {:>9}  {:<16} {}",
            d.id.as_str(),
            d.size,
            heads.join(","),
            d.title.unwrap_or_default()
        );
    }
    Ok(())
}
