//! `tandem share`: set a document's share policy, through a running server
//! (`tandem share URL POLICY`) or directly in a data directory
//! (`tandem share --data-dir DIR DOC_ID POLICY`).

use std::path::PathBuf;

use clap::Args;

use super::remote::parse_doc_url;
use super::CliError;
use crate::share::SharePolicy;
use crate::store::{Durability, SqliteStore};

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
    /// Change the policy in this data directory instead of through a server.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Bearer token, if the server has one.
    #[arg(long, env = "TANDEM_TOKEN", value_name = "T")]
    token: Option<String>,
}

pub(crate) async fn run(args: ShareArgs) -> Result<(), CliError> {
    if let Some(dir) = &args.data_dir {
        let id =
            crate::DocId::parse(&args.target).map_err(|e| format!("{:?}: {e}", args.target))?;
        if !dir.join(SqliteStore::FILE_NAME).exists() {
            return Err(format!("no Tandem store in {}", dir.display()).into());
        }
        let store = SqliteStore::open_dir_unlocked(dir, Durability::Process)?;
        crate::share::save(&store, &id, Some(args.policy))?;
        println!("{id} is now {}", args.policy);
        return Ok(());
    }
    let (url, id) = parse_doc_url(&args.target)?;
    let mut base = url.clone();
    base.set_path("");
    let endpoint = format!("{}/_docs/{id}/share", base.as_str().trim_end_matches('/'));
    let body = serde_json::json!({ "policy": args.policy });
    super::http_json(
        reqwest::Method::PUT,
        &endpoint,
        args.token.as_deref(),
        Some(body),
    )
    .await?;
    println!("{id} is now {}", args.policy);
    Ok(())
}
