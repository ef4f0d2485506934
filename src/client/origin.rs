//! Where credentials may go: loopback hosts, plain-HTTP token refusal, and
//! which redirect hops still belong to the configured origin or to the
//! cluster it vouches for ([`Hops`]).

use std::collections::HashMap;

use reqwest::header::HeaderMap;
use url::{Host, Url};

use super::{ClientConfig, ClientError};
use crate::protocol::CLUSTER_PEER_HEADER;
use crate::tls::Fingerprint;

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

/// What one hop of a request may be given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HopTrust {
    /// The configured origin: the token and the configured trust.
    Configured,
    /// A node of the configured origin's cluster, vouched for by it (or by
    /// a node it vouched for): the token; its certificate checked against
    /// the pin the vouching node gave, else as the configured origin's.
    Vouched(Option<Fingerprint>),
    /// Anywhere else: no token, the system's trust.
    Foreign,
}

/// The origins a request's credentials may reach while it follows
/// redirects. A cluster node answers a redirect to another node with
/// [`CLUSTER_PEER_HEADER`]; that vouch is believed only when
///
/// - the redirecting hop is trusted with the token itself (the configured
///   origin, or a node vouched for before): it could hand the token to
///   anyone already, so believing it exposes nothing new;
/// - the target keeps the scheme (no `https` → `http`) and the path and
///   query: a cluster redirect moves the same request to another node,
///   never elsewhere on it.
#[derive(Debug, Clone)]
pub struct Hops {
    configured: Url,
    vouched: HashMap<String, Option<Fingerprint>>,
}

impl Hops {
    /// No hop vouched for yet.
    pub fn new(configured: &Url) -> Self {
        Self {
            configured: configured.clone(),
            vouched: HashMap::new(),
        }
    }

    /// What `url` may be given.
    pub fn trust_of(&self, url: &Url) -> HopTrust {
        if same_origin(&self.configured, url) {
            return HopTrust::Configured;
        }
        match self.vouched.get(&url.origin().ascii_serialization()) {
            Some(pin) => HopTrust::Vouched(*pin),
            None => HopTrust::Foreign,
        }
    }

    /// Whether `url` may receive the token.
    pub fn carries_token(&self, url: &Url) -> bool {
        self.trust_of(url) != HopTrust::Foreign
    }

    /// Learns from `from`'s redirect to `to`, answered with `headers`;
    /// whether `to` is now vouched for (see the type's docs).
    pub fn follow(&mut self, from: &Url, to: &Url, headers: &HeaderMap) -> bool {
        let Some(value) = headers
            .get(CLUSTER_PEER_HEADER)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        if !self.carries_token(from)
            || from.scheme() != to.scheme()
            || from.path() != to.path()
            || from.query() != to.query()
        {
            tracing::info!(%from, %to, "not believing a cluster redirect's vouch");
            return false;
        }
        let Some(pin) = parse_vouch(value) else {
            tracing::info!(%from, value, "malformed cluster vouch");
            return false;
        };
        if same_origin(&self.configured, to) {
            return true;
        }
        self.vouched.insert(to.origin().ascii_serialization(), pin);
        true
    }
}

/// `peer` → no pin; `peer; pin=FP` → that pin; anything else → `None`.
fn parse_vouch(value: &str) -> Option<Option<Fingerprint>> {
    let mut parts = value.split(';').map(str::trim);
    if parts.next()? != "peer" {
        return None;
    }
    match parts.next() {
        None => Some(None),
        Some(pin) => {
            let fp = Fingerprint::parse(pin.strip_prefix("pin=")?).ok()?;
            parts.next().is_none().then_some(Some(fp))
        }
    }
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

    #[test]
    fn a_vouch_counts_only_from_a_trusted_hop_for_the_same_request() {
        let a = url("http://127.0.0.1:1/doc?x=1");
        let b = url("http://127.0.0.1:2/doc?x=1");
        let c = url("http://127.0.0.1:3/doc?x=1");
        let mut vouch = HeaderMap::new();
        vouch.insert(CLUSTER_PEER_HEADER, "peer".parse().unwrap());
        let mut hops = Hops::new(&a);
        assert_eq!(hops.trust_of(&b), HopTrust::Foreign);
        assert!(!hops.follow(&a, &b, &HeaderMap::new()), "no header");
        assert!(!hops.follow(&a, &url("http://127.0.0.1:2/other"), &vouch));
        assert!(!hops.follow(&a, &url("http://127.0.0.1:2/doc"), &vouch));
        assert!(!hops.follow(&b, &c, &vouch), "b is not trusted yet");
        assert!(!hops.carries_token(&c));
        assert!(hops.follow(&a, &b, &vouch));
        assert_eq!(hops.trust_of(&b), HopTrust::Vouched(None));
        assert!(hops.follow(&b, &c, &vouch), "a vouched node vouches on");
        assert!(hops.carries_token(&c));
        let mut https = Hops::new(&url("https://a.example/doc"));
        assert!(!https.follow(
            &url("https://a.example/doc"),
            &url("http://b.example/doc"),
            &vouch
        ));
        for bad in ["", "peers", "peer; pin=zz", "peer; pin"] {
            assert!(parse_vouch(bad).is_none(), "{bad:?}");
        }
        let fp = "sha256:".to_owned() + &"ab".repeat(32);
        assert!(parse_vouch(&crate::protocol::vouch_value(Some(&fp)))
            .unwrap()
            .is_some());
    }
}
