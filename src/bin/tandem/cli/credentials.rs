//! Which token a command sends, and where it may go.
//!
//! In order: `--token T`, `--token-file FILE` (its first line), the
//! `TANDEM_TOKEN` variable, and last the owner token of the local server:
//! when the URL's origin is one the server in the data directory says it is
//! listening on (`server.json`), its `owner-token` file. The owner token is
//! never sent anywhere else, and a redirect never carries it to another
//! origin (see [`tandem::client`]).

use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;
use url::{Host, Url};

use super::CliError;

/// The file in the data directory holding the owner's secret (one line).
pub(crate) use tandem::server::tokens::OWNER_TOKEN_FILE;
/// The file a running server writes into its data directory.
pub(crate) use tandem::server::tokens::SERVER_FILE;

/// The longest token file read (a token is one short line).
const MAX_TOKEN_FILE: u64 = 64 * 1024;

/// Token flags shared by every command that talks to a server.
#[derive(Debug, Args)]
pub(crate) struct TokenArgs {
    /// Bearer token for the server (else --token-file, else $TANDEM_TOKEN,
    /// else the local server's owner token when the URL is that server).
    #[arg(long, value_name = "T", conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the bearer token from the first line of this file (must not be
    /// readable by group or others: chmod 600).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Send the token even over plain http:// to a host that is not this
    /// machine (anyone on the network path can read it).
    #[arg(long)]
    allow_plain_http_tokens: bool,
}

/// Where to send a request, and with which token.
#[derive(Debug, Clone)]
pub(crate) struct Credential {
    /// The URL to use: the one given, except that `localhost` becomes the
    /// address the local server listens on when its owner token is used
    /// (`localhost` may also resolve to an address someone else listens on).
    pub(crate) url: Url,
    /// The bearer token, if any.
    pub(crate) token: Option<String>,
    /// `--allow-plain-http-tokens`.
    pub(crate) allow_plain_http_tokens: bool,
}

impl TokenArgs {
    /// The credential for `url`, looking for the owner token in `data_dir`
    /// (default: [`super::default_data_dir`]).
    pub(crate) fn resolve(
        &self,
        url: &Url,
        data_dir: Option<&Path>,
    ) -> Result<Credential, CliError> {
        let env = std::env::var("TANDEM_TOKEN").ok();
        let (url, token) = resolve_with(
            url,
            self.token.clone(),
            self.token_file.as_deref(),
            env,
            data_dir,
        )?;
        Ok(Credential {
            url,
            token,
            allow_plain_http_tokens: self.allow_plain_http_tokens,
        })
    }
}

/// The token to send to `url`: `explicit` (`--token`), else the first line
/// of `token_file`, else `TANDEM_TOKEN`, else the owner token of the server
/// running from `data_dir` (default [`super::default_data_dir`]) if `url` is
/// one of the origins it listens on; `None` when there is none.
///
/// Commands go through [`TokenArgs::resolve`], which also reports the URL to
/// connect to; this is the same rule for callers that only need the token.
#[cfg_attr(not(test), allow(dead_code))]
pub(crate) fn resolve_token(
    url: &Url,
    explicit: Option<String>,
    token_file: Option<&Path>,
    data_dir: Option<&Path>,
) -> Result<Option<String>, CliError> {
    let env = std::env::var("TANDEM_TOKEN").ok();
    Ok(resolve_with(url, explicit, token_file, env, data_dir)?.1)
}

/// [`resolve_token`] with the environment passed in; also returns the URL to
/// use (see [`Credential::url`]).
fn resolve_with(
    url: &Url,
    explicit: Option<String>,
    token_file: Option<&Path>,
    env: Option<String>,
    data_dir: Option<&Path>,
) -> Result<(Url, Option<String>), CliError> {
    if let Some(token) = explicit {
        return Ok((url.clone(), Some(token)));
    }
    if let Some(path) = token_file {
        return Ok((url.clone(), Some(read_token_file(path)?)));
    }
    if let Some(token) = env.filter(|t| !t.trim().is_empty()) {
        return Ok((url.clone(), Some(token.trim().to_owned())));
    }
    let dir = data_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(super::default_data_dir);
    match owner_token_for(url, &dir)? {
        Some((token, listed)) => {
            let mut url = url.clone();
            if is_localhost(&url) {
                // Connect where the server is, not wherever `localhost`
                // resolves first.
                if let Some(host) = listed.host_str() {
                    url.set_host(Some(host))
                        .map_err(|e| format!("cannot use {listed}: {e}"))?;
                }
            }
            tracing::debug!(%url, "using the local server's owner token");
            Ok((url, Some(token)))
        }
        None => Ok((url.clone(), None)),
    }
}

/// What a running server writes into its data directory.
#[derive(Debug, Deserialize)]
struct ServerFile {
    /// The base URLs it listens on.
    urls: Vec<String>,
    /// Its process ID.
    pid: Option<u32>,
}

/// The owner token and the listed URL it belongs to, when `url`'s origin is
/// one the server running from `dir` listens on.
fn owner_token_for(url: &Url, dir: &Path) -> Result<Option<(String, Url)>, CliError> {
    let server_path = dir.join(SERVER_FILE);
    let text = match std::fs::read_to_string(&server_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "cannot read {}: {e} (pass --token or --token-file instead)",
                server_path.display()
            )
            .into())
        }
    };
    let server: ServerFile = match serde_json::from_str(&text) {
        Ok(server) => server,
        Err(e) => {
            tracing::warn!(file = %server_path.display(), error = %e, "ignoring an unreadable server file");
            return Ok(None);
        }
    };
    if server.pid.is_some_and(|pid| !process_alive(pid)) {
        // A stale file: whoever listens on those ports now is not our server.
        tracing::debug!(file = %server_path.display(), "the server that wrote this file is gone");
        return Ok(None);
    }
    let Some(wanted) = origin_key(url) else {
        return Ok(None);
    };
    let Some(listed) = server
        .urls
        .iter()
        .filter_map(|u| Url::parse(u).ok())
        .find(|u| origin_key(u).as_ref() == Some(&wanted))
    else {
        return Ok(None);
    };
    let token_path = dir.join(OWNER_TOKEN_FILE);
    match read_secret(&token_path, false) {
        Ok(token) => Ok(Some((token, listed))),
        Err(e) => Err(format!(
            "{url} is the local server, but its owner token is unusable: {e} (pass --token or --token-file instead)"
        )
        .into()),
    }
}

/// Scheme, host and port, with `localhost` and IPv4-mapped addresses
/// written as the IPv4 address they stand for.
fn origin_key(url: &Url) -> Option<(String, String, u16)> {
    let host = match url.host()? {
        Host::Domain(name) if name.eq_ignore_ascii_case("localhost") => "127.0.0.1".to_owned(),
        Host::Domain(name) => name.to_ascii_lowercase(),
        Host::Ipv4(ip) => ip.to_string(),
        Host::Ipv6(ip) => IpAddr::V6(ip).to_canonical().to_string(),
    };
    Some((url.scheme().to_owned(), host, url.port_or_known_default()?))
}

fn is_localhost(url: &Url) -> bool {
    matches!(url.host(), Some(Host::Domain(name)) if name.eq_ignore_ascii_case("localhost"))
}

/// Whether the process that wrote the server file still runs (Linux: its
/// `/proc` entry; elsewhere assumed).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

/// The token in `path`: its first line, trimmed. Refused when the file can
/// be read by group or others.
pub(crate) fn read_token_file(path: &Path) -> Result<String, CliError> {
    read_secret(path, true).map_err(|e| format!("--token-file: {e}").into())
}

/// The first line of a secret file; `strict` refuses one that group or
/// others may read (else only a warning).
fn read_secret(path: &Path, strict: bool) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| format!("cannot read {shown}: {e}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            if strict {
                return Err(format!(
                    "{shown} can be read by other users (mode {:o}); run `chmod 600 {shown}`",
                    mode & 0o777
                ));
            }
            tracing::warn!(file = %shown, mode = format!("{:o}", mode & 0o777), "a secret file is readable by other users; run chmod 600 on it");
        }
    }
    let mut text = String::new();
    file.take(MAX_TOKEN_FILE)
        .read_to_string(&mut text)
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.is_empty() {
        return Err(format!("{shown} is empty; put the token on its first line"));
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn write_private(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
    }

    /// A data dir whose (live: this process) server listens on `urls`.
    fn data_dir(urls: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        write_private(&dir.path().join(OWNER_TOKEN_FILE), "owner-secret\n");
        let server = serde_json::json!({ "urls": urls, "pid": std::process::id() });
        write_private(&dir.path().join(SERVER_FILE), &server.to_string());
        dir
    }

    fn resolve(u: &str, dir: &Path) -> Option<String> {
        resolve_with(&url(u), None, None, None, Some(dir))
            .unwrap()
            .1
    }

    #[test]
    fn the_owner_token_goes_only_to_the_origins_the_server_listed() {
        let dir = data_dir(&["http://127.0.0.1:7450", "https://[::1]:7451/"]);
        let owner = Some("owner-secret".to_owned());
        assert_eq!(resolve("http://127.0.0.1:7450/doc", dir.path()), owner);
        assert_eq!(resolve("http://localhost:7450/doc", dir.path()), owner);
        assert_eq!(
            resolve("http://[::ffff:127.0.0.1]:7450/doc", dir.path()),
            owner
        );
        assert_eq!(resolve("https://[::1]:7451/doc", dir.path()), owner);
        for elsewhere in [
            "http://127.0.0.1:7451/doc",   // another port
            "https://127.0.0.1:7450/doc",  // another scheme
            "http://127.0.0.2:7450/doc",   // another loopback address
            "http://[::1]:7450/doc",       // another address family
            "http://example.com:7450/doc", // another host
            "http://192.168.1.2:7450/doc",
        ] {
            assert_eq!(resolve(elsewhere, dir.path()), None, "{elsewhere}");
        }
    }

    #[test]
    fn localhost_is_pinned_to_the_listed_address() {
        let dir = data_dir(&["http://127.0.0.1:7450"]);
        let (to, token) = resolve_with(
            &url("http://localhost:7450/doc"),
            None,
            None,
            None,
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(token.as_deref(), Some("owner-secret"));
        assert_eq!(to.as_str(), "http://127.0.0.1:7450/doc");
    }

    #[test]
    fn explicit_tokens_win_in_order_flag_file_environment() {
        let dir = data_dir(&["http://127.0.0.1:7450"]);
        let file = dir.path().join("tok");
        write_private(&file, "  from-file \nsecond line\n");
        let u = url("http://127.0.0.1:7450/doc");
        let pick = |explicit: Option<&str>, file: Option<&Path>, env: Option<&str>| {
            resolve_with(
                &u,
                explicit.map(str::to_owned),
                file,
                env.map(str::to_owned),
                Some(dir.path()),
            )
            .unwrap()
            .1
            .unwrap()
        };
        assert_eq!(pick(Some("flag"), Some(&file), Some("env")), "flag");
        assert_eq!(pick(None, Some(&file), Some("env")), "from-file");
        assert_eq!(pick(None, None, Some("env")), "env");
        assert_eq!(pick(None, None, Some("  ")), "owner-secret");
        assert_eq!(pick(None, None, None), "owner-secret");
    }

    #[test]
    fn no_server_file_a_stale_one_or_a_bad_one_means_no_owner_token() {
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(resolve("http://127.0.0.1:7450/d", empty.path()), None);

        let stale = data_dir(&[]);
        let server = serde_json::json!({ "urls": ["http://127.0.0.1:7450"], "pid": u32::MAX });
        write_private(&stale.path().join(SERVER_FILE), &server.to_string());
        if cfg!(target_os = "linux") {
            assert_eq!(resolve("http://127.0.0.1:7450/d", stale.path()), None);
        }

        let bad = data_dir(&[]);
        write_private(&bad.path().join(SERVER_FILE), "{not json");
        assert_eq!(resolve("http://127.0.0.1:7450/d", bad.path()), None);
    }

    #[test]
    fn the_public_resolver_uses_the_given_data_dir() {
        let dir = data_dir(&["http://127.0.0.1:7450"]);
        let token = resolve_token(
            &url("http://127.0.0.1:9/doc"),
            Some("x".into()),
            None,
            Some(dir.path()),
        )
        .unwrap();
        assert_eq!(token.as_deref(), Some("x"));
    }

    #[cfg(unix)]
    #[test]
    fn token_files_readable_by_others_or_empty_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tok");
        std::fs::write(&path, "secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = read_token_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("can be read by other users (mode 644)"),
            "{err}"
        );
        assert!(err.contains("chmod 600"), "{err}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(read_token_file(&path).is_err());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(read_token_file(&path).unwrap(), "secret");
        write_private(&path, "\n");
        let err = read_token_file(&path).unwrap_err().to_string();
        assert!(err.contains("is empty"), "{err}");
        let err = read_token_file(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot read"), "{err}");
    }
}
