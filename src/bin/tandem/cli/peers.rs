//! `tandem peers`: the LAN peers a running Tandem has discovered.

use std::path::PathBuf;

use clap::Args;
use url::Url;

use super::credentials::TokenArgs;
use super::CliError;

/// Flags of `tandem peers`.
#[derive(Debug, Args)]
pub(crate) struct PeersArgs {
    /// The local Tandem's base URL.
    #[arg(long, default_value = "http://127.0.0.1:7450")]
    url: String,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// The local Tandem's data directory, where its owner token is found
    /// (default: the platform data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    #[command(flatten)]
    tokens: TokenArgs,
}

pub(crate) async fn run(args: PeersArgs) -> Result<(), CliError> {
    let base = Url::parse(&args.url).map_err(|e| format!("invalid --url {:?}: {e}", args.url))?;
    let credential = args.tokens.resolve(&base, args.data_dir.as_deref())?;
    let peers_url = format!("{}/_peers", credential.url.as_str().trim_end_matches('/'));
    let url = Url::parse(&peers_url).map_err(|e| format!("invalid --url {:?}: {e}", args.url))?;
    let peers = super::http_json(reqwest::Method::GET, &url, &credential, None).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&peers)?);
        return Ok(());
    }
    let list = peers.as_array().cloned().unwrap_or_default();
    if list.is_empty() {
        println!("no peers found (is the server running with --mdns?)");
        return Ok(());
    }
    println!(
        "{:<18} {:<24} {:<22} {:<8} {:<9} CODE",
        "ID", "NAME", "ADDRESS", "STATE", "VERIFIED"
    );
    for p in list {
        let addr = p["addresses"][0]
            .as_str()
            .map(|a| format!("{a}:{}", p["port"]))
            .unwrap_or_else(|| "-".into());
        let state = if p["certificate_changed"] == true {
            "CHANGED"
        } else if p["online"] == true {
            "online"
        } else {
            "offline"
        };
        println!(
            "{:<18} {:<24} {:<22} {:<8} {:<9} {}",
            p["id"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or(""),
            addr,
            state,
            if p["verified"] == true { "yes" } else { "no" },
            p["code"].as_str().unwrap_or("")
        );
    }
    Ok(())
}
