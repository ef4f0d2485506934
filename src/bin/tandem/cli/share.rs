//! `tandem share`: set a document's share policy, through a running server
//! (`tandem share URL POLICY`) or directly in a data directory
//! (`tandem share --data-dir DIR DOC_ID POLICY`).

use std::path::PathBuf;

use clap::Args;

use super::credentials::TokenArgs;
use super::remote::parse_doc_url;
use super::CliError;
use tandem::share::SharePolicy;
use tandem::store::{Durability, SqliteStore};

/// Flags of `tandem share`.
#[derive(Debug, Args)]
#[command(
    override_usage = "tandem share URL POLICY\n       tandem share --data-dir DIR DOC_ID POLICY"
)]
pub(crate) struct ShareArgs {
    /// The document: its URL (e.g. http://127.0.0.1:7450/notes), or its ID with --data-dir.
    target: String,
    /// private (owner only), lan (listed for and syncable by peers) or link (syncable, not listed).
    policy: SharePolicy,
    /// With a document ID: change the policy in this data directory instead
    /// of through a server. With a URL: where the running server's owner
    /// token is found (default: the platform data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    tokens: TokenArgs,
}

pub(crate) async fn run(args: ShareArgs) -> Result<(), CliError> {
    let is_url = args.target.starts_with("http://") || args.target.starts_with("https://");
    if let (Some(dir), false) = (&args.data_dir, is_url) {
        let id =
            tandem::DocId::parse(&args.target).map_err(|e| format!("{:?}: {e}", args.target))?;
        if !dir.join(SqliteStore::FILE_NAME).exists() {
            return Err(format!("no Tandem store in {}", dir.display()).into());
        }
        let store = SqliteStore::open_dir_unlocked(dir, Durability::Process)?;
        tandem::share::save(&store, &id, Some(args.policy))?;
        println!("{id} is now {}", args.policy);
        return Ok(());
    }
    let (url, id) = parse_doc_url(&args.target)?;
    let credential = args.tokens.resolve(&url, args.data_dir.as_deref())?;
    let mut endpoint = credential.url.clone();
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    endpoint.set_path(&format!("/_docs/{id}/share"));
    let body = serde_json::json!({ "policy": args.policy });
    super::http_json(reqwest::Method::PUT, &endpoint, &credential, Some(body)).await?;
    println!("{id} is now {}", args.policy);
    Ok(())
}
