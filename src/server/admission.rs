//! Header checks for `PUT /{doc_id}` (PROTOCOL.md §1, "Server admission").

use axum::http::{header, HeaderMap};

use super::error::ApiError;
use crate::protocol::compress::{self, Encoding};

/// The codings of one sync stream (docs/protocol-extensions.md, "Compression").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Codings {
    /// How the response is compressed; `None`: identity.
    pub response: Option<Encoding>,
    /// How the request body is compressed; `None`: identity.
    pub request: Option<Encoding>,
    /// Whether the client asked about compression at all, so the `200`
    /// tells it what the server reads (a peer that did not ask sees no new header).
    pub advertise: bool,
}

/// Reads `Accept-Encoding`, `Tandem-Features` and `Content-Encoding`: a
/// response coding only for a client that asked (see
/// [`compress::response_encoding`]); a request body in a coding Tandem
/// cannot read is refused (415).
pub fn negotiate_codings(headers: &HeaderMap) -> Result<Codings, ApiError> {
    let joined = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",")
    };
    let feature = compress::names_feature(&joined(compress::FEATURES_HEADER), compress::FEATURE);
    let response = compress::response_encoding(&joined(header::ACCEPT_ENCODING.as_str()), feature);
    let content_encoding = joined(header::CONTENT_ENCODING.as_str());
    let request = Encoding::from_content_encoding(&content_encoding)
        .map_err(|_| ApiError::UnsupportedEncoding(content_encoding.clone()))?;
    Ok(Codings {
        response,
        request,
        advertise: feature || response.is_some() || request.is_some(),
    })
}

/// Whether an `Accept` header admits an ndjson response: absent,
/// `application/x-ndjson` (any parameters), `application/*` or `*/*`.
pub fn accepts_ndjson(headers: &HeaderMap) -> bool {
    let values: Vec<_> = headers.get_all(header::ACCEPT).iter().collect();
    if values.is_empty() {
        return true;
    }
    values.iter().any(|v| {
        v.to_str().unwrap_or("").split(',').any(|range| {
            let (media, params) = split_media(range);
            let q_zero = params
                .iter()
                .any(|(k, v)| k == "q" && v.parse::<f32>().map(|q| q == 0.0).unwrap_or(false));
            !q_zero
                && matches!(
                    media.as_str(),
                    "application/x-ndjson" | "application/*" | "*/*"
                )
        })
    })
}

/// Checks `Content-Type`: absent, or `application/x-ndjson` with no charset
/// or utf-8.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let text = value.to_str().unwrap_or("");
    let (media, params) = split_media(text);
    let charset_ok = params
        .iter()
        .filter(|(k, _)| k == "charset")
        .all(|(_, v)| v.eq_ignore_ascii_case("utf-8") || v.eq_ignore_ascii_case("utf8"));
    if media == "application/x-ndjson" && charset_ok {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(text.to_owned()))
    }
}

/// Splits `type/subtype; k=v; …` into a lower-cased media type and its parameters.
fn split_media(s: &str) -> (String, Vec<(String, String)>) {
    let mut parts = s.split(';');
    let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let params = parts
        .filter_map(|p| {
            let (k, v) = p.split_once('=')?;
            Some((
                k.trim().to_ascii_lowercase(),
                v.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect();
    (media, params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(name, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn accept_rules() {
        assert!(accepts_ndjson(&HeaderMap::new()));
        for ok in [
            "*/*",
            "application/*",
            "application/x-ndjson",
            "text/html, application/x-ndjson;q=0.5",
            "Application/X-NDJSON; charset=utf-8",
        ] {
            assert!(accepts_ndjson(&with(header::ACCEPT, ok)), "{ok}");
        }
        for bad in ["text/html", "application/json", "application/x-ndjson;q=0"] {
            assert!(!accepts_ndjson(&with(header::ACCEPT, bad)), "{bad}");
        }
    }

    #[test]
    fn codings_are_off_unless_asked_and_unknown_body_codings_are_refused() {
        // Go's transport sends this on its own.
        let go = negotiate_codings(&with(header::ACCEPT_ENCODING, "gzip")).unwrap();
        assert_eq!(go, Codings::default());
        let mut tandem = with(header::ACCEPT_ENCODING, "zstd, gzip");
        tandem.insert(
            compress::FEATURES_HEADER,
            HeaderValue::from_static("compression"),
        );
        tandem.insert(header::CONTENT_ENCODING, HeaderValue::from_static("zstd"));
        let got = negotiate_codings(&tandem).unwrap();
        assert_eq!(got.response, Some(Encoding::Zstd));
        assert_eq!(got.request, Some(Encoding::Zstd));
        assert!(got.advertise);
        let err = negotiate_codings(&with(header::CONTENT_ENCODING, "br")).unwrap_err();
        assert!(matches!(err, ApiError::UnsupportedEncoding(_)), "{err}");
    }

    #[test]
    fn content_type_rules() {
        assert!(check_content_type(&HeaderMap::new()).is_ok());
        for ok in [
            "application/x-ndjson",
            "application/x-ndjson; charset=utf-8",
            "application/x-ndjson;charset=UTF-8",
        ] {
            assert!(
                check_content_type(&with(header::CONTENT_TYPE, ok)).is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "application/json",
            "application/x-ndjson; charset=latin1",
        ] {
            assert!(
                check_content_type(&with(header::CONTENT_TYPE, bad)).is_err(),
                "{bad}"
            );
        }
    }
}
