//! Tandem links: `tandem://open?url=<document URL>&fp=<certificate
//! fingerprint>`, what "Copy link" gives and what the OS hands the app
//! through the `tandem://` deep-link scheme. The UI builds and parses the
//! same format (`ui/src/model/tandemlink.ts`); [`parse`] is its Rust twin,
//! for links that reach the app from the command line.

use url::Url;

/// The deep-link scheme the app registers.
pub(crate) const SCHEME: &str = "tandem";

/// A parsed `tandem://open` link.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TandemLink {
    /// The document's URL on its server (`http(s)://host:port/<id>` or `ws(s)://…`).
    pub url: String,
    /// The server certificate's SHA-256 fingerprint to pin, when the link has one.
    pub fingerprint: Option<String>,
}

/// Why a string is not a usable Tandem link.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LinkError {
    /// Not a URL at all, or not the `tandem:` scheme.
    #[error("not a tandem:// link: {0}")]
    NotALink(String),
    /// A `tandem:` URL for something other than `open`.
    #[error("unknown tandem:// action {0:?} (only \"open\" exists)")]
    UnknownAction(String),
    /// No `url=` parameter.
    #[error("the link names no document (its url= parameter is missing)")]
    MissingUrl,
    /// The document URL is not http(s) or ws(s).
    #[error("the link's document URL {0:?} is not an http(s):// or ws(s):// URL")]
    BadDocumentUrl(String),
}

/// Parses a `tandem://open?url=…&fp=…` link.
pub(crate) fn parse(text: &str) -> Result<TandemLink, LinkError> {
    let text = text.trim();
    let link = Url::parse(text).map_err(|_| LinkError::NotALink(text.to_string()))?;
    if link.scheme() != SCHEME {
        return Err(LinkError::NotALink(text.to_string()));
    }
    // `tandem://open?…` has "open" as its host; `tandem:open?…` as its path.
    let action = link
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| link.path().trim_matches('/'));
    if !action.eq_ignore_ascii_case("open") {
        return Err(LinkError::UnknownAction(action.to_string()));
    }
    let mut url = None;
    let mut fingerprint = None;
    for (key, value) in link.query_pairs() {
        match key.as_ref() {
            "url" => url = Some(value.trim().to_string()),
            "fp" if !value.trim().is_empty() => fingerprint = Some(value.trim().to_string()),
            _ => {}
        }
    }
    let url = url.filter(|u| !u.is_empty()).ok_or(LinkError::MissingUrl)?;
    match Url::parse(&url) {
        Ok(u) if matches!(u.scheme(), "http" | "https" | "ws" | "wss") && u.has_host() => {}
        _ => return Err(LinkError::BadDocumentUrl(url)),
    }
    Ok(TandemLink { url, fingerprint })
}

/// Builds the link of `url` (and the fingerprint to pin, if any); the UI
/// builds the links users copy, this is the tests' mirror of it.
#[cfg(test)]
fn build(url: &str, fingerprint: Option<&str>) -> String {
    let mut link = Url::parse("tandem://open").expect("a constant, valid URL");
    {
        let mut query = link.query_pairs_mut();
        query.append_pair("url", url);
        if let Some(fp) = fingerprint.filter(|f| !f.is_empty()) {
            query.append_pair("fp", fp);
        }
    }
    link.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_url_and_fingerprint() {
        let l = parse("tandem://open?url=https%3A%2F%2Fhost%3A7450%2Fabc&fp=AB%3ACD").unwrap();
        assert_eq!(l.url, "https://host:7450/abc");
        assert_eq!(l.fingerprint.as_deref(), Some("AB:CD"));
        let l = parse("  tandem:open?url=http://127.0.0.1:7450/x  ").unwrap();
        assert_eq!(l.url, "http://127.0.0.1:7450/x");
        assert_eq!(l.fingerprint, None);
    }

    #[test]
    fn build_and_parse_round_trip() {
        let url = "https://192.168.1.2:7450/4Nf8aXq?x=1&y=2";
        let link = build(url, Some("AB:CD:EF"));
        assert!(
            link.starts_with("tandem://open?url=https%3A%2F%2F"),
            "{link}"
        );
        let back = parse(&link).unwrap();
        assert_eq!(back.url, url);
        assert_eq!(back.fingerprint.as_deref(), Some("AB:CD:EF"));
        assert_eq!(parse(&build(url, None)).unwrap().fingerprint, None);
    }

    #[test]
    fn rejects_what_is_not_a_document_link() {
        assert!(matches!(
            parse("http://host/x"),
            Err(LinkError::NotALink(_))
        ));
        assert!(matches!(parse("not a url"), Err(LinkError::NotALink(_))));
        assert!(matches!(
            parse("tandem://delete?url=http://h/x"),
            Err(LinkError::UnknownAction(_))
        ));
        assert_eq!(parse("tandem://open?fp=AB"), Err(LinkError::MissingUrl));
        assert_eq!(parse("tandem://open?url="), Err(LinkError::MissingUrl));
        assert!(matches!(
            parse("tandem://open?url=file%3A%2F%2F%2Fetc%2Fpasswd"),
            Err(LinkError::BadDocumentUrl(_))
        ));
    }
}
