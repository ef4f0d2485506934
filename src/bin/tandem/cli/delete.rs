//! `tandem delete URL`: delete a document on a server (owner rights there).
//! In a cluster any node's URL works: the request follows the cluster's
//! redirect to the document's node, with the token.

use std::path::PathBuf;

use clap::Args;

use super::credentials::TokenArgs;
use super::remote::parse_doc_url;
use super::CliError;

/// Flags of `tandem delete`.
#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    /// The document's URL (e.g. http://127.0.0.1:7450/notes).
    url: String,
    /// Where the running server's owner token is found (default: the
    /// platform data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    tokens: TokenArgs,
}

pub(crate) async fn run(args: DeleteArgs) -> Result<(), CliError> {
    let (url, id) = parse_doc_url(&args.url)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("{url}: only http:// and https:// documents can be deleted").into());
    }
    let credential = args.tokens.resolve(&url, args.data_dir.as_deref())?;
    let mut endpoint = credential.url.clone();
    endpoint.set_fragment(None);
    super::http_json(reqwest::Method::DELETE, &endpoint, &credential, None).await?;
    println!("{id} deleted");
    Ok(())
}
