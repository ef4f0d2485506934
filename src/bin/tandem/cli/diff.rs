//! `tandem diff URL|FILE --from HEADS [--to HEADS]`: what changed between two
//! versions, as Automerge's patches (one JSON object per line).

use clap::Args;

use super::source::SourceArgs;
use super::CliError;
use tandem::history;

/// Flags of `tandem diff`.
#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// The older version (comma-separated change hashes; "" for the empty document).
    #[arg(long, value_name = "HEADS")]
    from: String,
    /// The newer version (default: the document's heads now).
    #[arg(long, value_name = "HEADS")]
    to: Option<String>,
}

pub(crate) async fn run(args: DiffArgs) -> Result<(), CliError> {
    let from = history::parse_heads(&args.from)?;
    let to = args.to.as_deref().map(history::parse_heads).transpose()?;
    let doc = args.source.load().await?;
    let to = to.unwrap_or_else(|| doc.get_heads());
    let mut out = std::io::stdout().lock();
    for entry in history::diff(&doc, &from, &to)? {
        if !super::print_line(&mut out, &serde_json::to_string(&entry)?)? {
            break;
        }
    }
    Ok(())
}
