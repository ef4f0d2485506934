//! Header checks for `PUT /{doc_id}` (PROTOCOL.md §1, "Server admission").

use axum::http::{header, HeaderMap};

use super::error::ApiError;

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
