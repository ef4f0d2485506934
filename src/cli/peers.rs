//! `tandem peers`: the LAN peers a running Tandem has discovered.

use clap::Args;

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
    /// Bearer token, if the server has one.
    #[arg(long, env = "TANDEM_TOKEN", value_name = "T")]
    token: Option<String>,
}

pub(crate) async fn run(args: PeersArgs) -> Result<(), CliError> {
    let url = format!("{}/_peers", args.url.trim_end_matches('/'));
    let peers = super::http_json(reqwest::Method::GET, &url, args.token.as_deref(), None).await?;
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
