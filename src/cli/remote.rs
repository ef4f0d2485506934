//! Flags shared by the subcommands that talk to a server.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use url::Url;

use super::CliError;
use crate::client::{ClientConfig, HttpVersion};
use crate::tls::{Fingerprint, Trust};

/// How to reach and trust a server.
#[derive(Debug, Args)]
pub(crate) struct RemoteArgs {
    /// Trust exactly the certificate with this SHA-256 fingerprint (as printed by `tandem serve --tls`).
    #[arg(long, value_name = "FP", conflicts_with_all = ["insecure", "ca"])]
    fingerprint: Option<Fingerprint>,
    /// Trust certificates issued by the CA(s) in this PEM file.
    #[arg(long, value_name = "PEM", conflicts_with = "insecure")]
    ca: Option<PathBuf>,
    /// Do not check the server's certificate at all.
    #[arg(long, short = 'k')]
    insecure: bool,
    /// Bearer token for the server.
    #[arg(long, env = "TANDEM_TOKEN", value_name = "T")]
    token: Option<String>,
    /// Speak HTTP/1.1 only.
    #[arg(long = "http1.1", conflicts_with = "http2")]
    http1: bool,
    /// Speak HTTP/2 only (h2c over plain HTTP).
    #[arg(long)]
    http2: bool,
}

impl RemoteArgs {
    /// A client configuration for `url`.
    pub(crate) fn client_config(&self, url: &Url) -> Result<ClientConfig, CliError> {
        let mut config = ClientConfig::new(url.clone());
        config.token = self.token.clone();
        config.trust = match (&self.fingerprint, &self.ca, self.insecure) {
            (Some(fp), _, _) => Trust::Pinned(*fp),
            (_, Some(ca), _) => Trust::custom_ca_file(ca)?,
            (_, _, true) => Trust::Insecure,
            _ => Trust::System,
        };
        config.http = if self.http1 {
            HttpVersion::Http1
        } else if self.http2 {
            HttpVersion::Http2
        } else {
            HttpVersion::Auto
        };
        config.connect_timeout = Duration::from_secs(10);
        Ok(config)
    }
}

/// Parses a document URL and takes the document ID from its last path segment.
pub(crate) fn parse_doc_url(s: &str) -> Result<(Url, crate::DocId), CliError> {
    let url = Url::parse(s).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    let last = url
        .path_segments()
        .and_then(|mut segs| segs.next_back())
        .unwrap_or("");
    let id = crate::DocId::parse(last)
        .map_err(|e| format!("URL {s} does not end in a document id: {e}"))?;
    Ok((url, id))
}
