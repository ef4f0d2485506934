//! Flags shared by the subcommands that talk to a server.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use url::Url;

use super::credentials::TokenArgs;
use super::CliError;
use tandem::client::{ClientConfig, Compression, HttpVersion};
use tandem::tls::{Fingerprint, Trust};

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
    #[command(flatten)]
    tokens: TokenArgs,
    /// The local Tandem's data directory, where the owner token of the
    /// server running from it is found (default: the platform data directory).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Speak HTTP/1.1 only.
    #[arg(long = "http1.1", conflicts_with = "http2")]
    http1: bool,
    /// Speak HTTP/2 only (h2c over plain HTTP).
    #[arg(long)]
    http2: bool,
    /// Longest accepted ndjson line from the server, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = tandem::protocol::DEFAULT_MAX_LINE)]
    max_line: usize,
    /// Compress the sync stream: off (plain, as the Go library), negotiate
    /// (ask for a compressed answer; compress what we send once the server
    /// said it reads it), eager (also ask the server's /_health first, so a
    /// first push is compressed too).
    #[arg(long, value_enum, default_value_t = CompressionArg::Negotiate)]
    compression: CompressionArg,
}

/// `--compression`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum CompressionArg {
    Off,
    Negotiate,
    Eager,
}

impl RemoteArgs {
    /// A client configuration for `url`: trust, token (see
    /// [`TokenArgs::resolve`]) and HTTP version. Certificate options with an
    /// `http://` URL are an error (`--insecure` only a warning): they would
    /// be silently ignored.
    pub(crate) fn client_config(&self, url: &Url) -> Result<ClientConfig, CliError> {
        if url.scheme() == "http" {
            let flag = if self.fingerprint.is_some() {
                Some(("--fingerprint", "pins a TLS certificate"))
            } else if self.ca.is_some() {
                Some(("--ca", "trusts a TLS certificate authority"))
            } else {
                None
            };
            if let Some((flag, what)) = flag {
                return Err(format!(
                    "{flag} {what}, but URL is http://; use https:// or drop {flag}"
                )
                .into());
            }
            if self.insecure {
                tracing::warn!(%url, "--insecure has no effect on an http:// URL (there is no certificate to check)");
            }
        }
        let credential = self.tokens.resolve(url, self.data_dir.as_deref())?;
        let mut config = ClientConfig::new(credential.url);
        config.token = credential.token;
        config.allow_plain_http_tokens = credential.allow_plain_http_tokens;
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
        config.compression = match self.compression {
            CompressionArg::Off => Compression::Off,
            CompressionArg::Negotiate => Compression::Negotiate,
            CompressionArg::Eager => Compression::Eager,
        };
        config.max_line = self.max_line;
        Ok(config)
    }
}

/// Parses a document URL and takes the document ID from its last path segment.
pub(crate) fn parse_doc_url(s: &str) -> Result<(Url, tandem::DocId), CliError> {
    let url = Url::parse(s).map_err(|e| format!("invalid URL {s:?}: {e}"))?;
    if matches!(url.scheme(), "ws" | "wss") {
        // An automerge-repo server: ws[s]://host:port/automerge:<id>.
        let target = tandem::client::repo_target(&url).ok_or_else(|| {
            format!(
                "{s} is not an automerge-repo document: use ws[s]://host:port/automerge:<id> \
                 (the id is bs58check, as in automerge-repo URLs)"
            )
        })?;
        return Ok((url, target.doc));
    }
    let last = url
        .path_segments()
        .and_then(|mut segs| segs.next_back())
        .unwrap_or("");
    let id = tandem::DocId::parse(last)
        .map_err(|e| format!("URL {s} does not end in a document id: {e}"))?;
    Ok((url, id))
}
