//! `tandem cat URL|FILE [--at HEADS]`: print a document (or a past version
//! of it) as pretty JSON.

use clap::Args;

use super::source::SourceArgs;
use super::CliError;
use tandem::history;

/// Flags of `tandem cat`.
#[derive(Debug, Args)]
pub(crate) struct CatArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Print the version at these heads (comma-separated change hashes, as
    /// `tandem log` prints them).
    #[arg(long, value_name = "HEADS")]
    at: Option<String>,
}

pub(crate) async fn run(args: CatArgs) -> Result<(), CliError> {
    let heads = args.at.as_deref().map(history::parse_heads).transpose()?;
    let doc = args.source.load().await?;
    let json = match heads {
        Some(heads) => history::json_at(&doc, &heads, &[])?,
        None => serde_json::to_value(automerge::AutoSerde::from(&doc))?,
    };
    println!("{}", serde_json::to_string_pretty(&json)?);
    Ok(())
}
