//! Where credentials may go: loopback hosts, plain-HTTP token refusal, and
//! which redirect hops still belong to the configured origin.

use url::{Host, Url};

use super::{ClientConfig, ClientError};

/// Whether `url` names this machine: `localhost`, `127.0.0.0/8`, `::1`, or
/// an IPv4-mapped `::ffff:127.x.y.z`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.to_canonical().is_loopback(),
        None => false,
    }
}

/// Refuses a configuration that would send its token unencrypted to another
/// machine (`http://` or `ws://` off loopback), unless explicitly allowed.
pub(crate) fn check_token_transport(config: &ClientConfig) -> Result<(), ClientError> {
    let url = &config.url;
    if config.token.is_none()
        || !matches!(url.scheme(), "http" | "ws")
        || is_loopback(url)
        || config.allow_plain_http_tokens
    {
        return Ok(());
    }
    Err(ClientError::PlainHttpToken {
        host: url.host_str().unwrap_or_default().to_owned(),
    })
}

/// Whether `hop` has the same scheme, host and port as `configured`: only
/// then may it receive the token and be checked with the configured trust.
pub(crate) fn same_origin(configured: &Url, hop: &Url) -> bool {
    configured.origin() == hop.origin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn loopback_hosts_are_recognised_and_others_are_not() {
        for s in [
            "http://localhost:7450/a",
            "http://LOCALHOST/a",
            "http://127.0.0.1/a",
            "http://127.3.2.1:9/a",
            "http://[::1]:7450/a",
            "http://[::ffff:127.0.0.1]:7450/a",
        ] {
            assert!(is_loopback(&url(s)), "{s}");
        }
        for s in [
            "http://10.0.0.1/a",
            "http://[::ffff:10.0.0.1]/a",
            "http://[fe80::1]/a",
            "http://localhost.example.com/a",
            "http://example.com/a",
            "http://0.0.0.0/a",
        ] {
            assert!(!is_loopback(&url(s)), "{s}");
        }
    }

    #[test]
    fn tokens_over_plain_http_off_loopback_are_refused_unless_allowed() {
        let mut config = ClientConfig::new(url("http://10.0.0.1:7450/doc"));
        assert!(
            check_token_transport(&config).is_ok(),
            "no token, no problem"
        );
        config.token = Some("t".into());
        let err = check_token_transport(&config).unwrap_err();
        assert_eq!(
            err.to_string(),
            "refusing to send a token in clear to 10.0.0.1; use https:// or pass --allow-plain-http-tokens"
        );
        assert!(err.is_permanent());
        config.allow_plain_http_tokens = true;
        assert!(check_token_transport(&config).is_ok());
        for ok in [
            "https://10.0.0.1:7450/doc",
            "http://127.0.0.1:7450/doc",
            "http://[::ffff:127.0.0.1]:7450/doc",
            "http://localhost:7450/doc",
        ] {
            let mut config = ClientConfig::new(url(ok));
            config.token = Some("t".into());
            assert!(check_token_transport(&config).is_ok(), "{ok}");
        }
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        let base = url("https://a.example:7450/x");
        assert!(same_origin(&base, &url("https://a.example:7450/y")));
        assert!(!same_origin(&base, &url("http://a.example:7450/x")));
        assert!(!same_origin(&base, &url("https://b.example:7450/x")));
        assert!(!same_origin(&base, &url("https://a.example:7451/x")));
        assert!(same_origin(
            &url("https://a.example/x"),
            &url("https://a.example:443/y")
        ));
    }
}
