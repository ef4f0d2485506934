//! One ndjson line ⇄ one protocol event (PROTOCOL.md §2).
//!
//! Lines are `{"event":"sync","data":"<standard base64>"}`; Tandem also writes
//! `{"event":"error","message":…}` before ending a stream on error and
//! `{"event":"ping"}` on idle streams, and — only with peers that asked for
//! the `ephemeral` feature (docs/protocol-extensions.md) —
//! `{"event":"ephemeral","data":…,"from":…,"name":…}`. Readers skip blank
//! lines and unknown events, and turn anything else malformed into a
//! [`LineError`]; a malformed ephemeral line is [`Event::BadEphemeral`], so
//! the sync stream it came in carries on.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use std::borrow::Cow;

/// A decoded protocol line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An Automerge sync message (still encoded).
    Sync(Vec<u8>),
    /// The peer reports an error and is about to end the stream.
    Error(String),
    /// A heartbeat; carries nothing.
    Ping,
    /// A message that is relayed, never stored (the `ephemeral` extension).
    Ephemeral(EphemeralLine),
    /// An `ephemeral` line that could not be decoded (why): dropped, the
    /// stream carries on.
    BadEphemeral(String),
    /// Any other event name: skipped by readers, kept for logging.
    Other(String),
}

/// The fields of an `ephemeral` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EphemeralLine {
    /// The payload, opaque to Tandem.
    pub data: Vec<u8>,
    /// Who sent it, as the previous hop names them (absent from a first sender).
    pub from: Option<String>,
    /// The sender's display name, where known.
    pub name: Option<String>,
}

/// The `Tandem-Features` token that asks for ephemeral lines.
pub const EPHEMERAL_FEATURE: &str = "ephemeral";

/// Why a line could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// The line is not a JSON object (this includes `null`).
    #[error("line is not a JSON object: {0}")]
    NotJson(String),
    /// A `sync` line without a string `data` field.
    #[error("sync line has no \"data\" string")]
    MissingData,
    /// `data` is not standard padded base64.
    #[error("sync line data is not valid base64: {0}")]
    BadBase64(String),
    /// The line is longer than the reader's limit.
    #[error("line exceeds the {limit}-byte limit")]
    TooLong {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    from: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    name: Option<Cow<'a, str>>,
}

/// Just the event name of a line (the rest is ignored).
#[derive(Deserialize)]
struct EventName<'a> {
    #[serde(borrow, default)]
    event: Option<Cow<'a, str>>,
}

/// Decodes one line (without its terminator). Blank lines give `Ok(None)`.
pub fn decode_line(line: &[u8]) -> Result<Option<Event>, LineError> {
    let line = trim_ascii(line);
    if line.is_empty() {
        return Ok(None);
    }
    if line[0] != b'{' {
        // Serde would read a JSON array into the struct's fields in order;
        // PROTOCOL.md §2 wants an object.
        let shown = String::from_utf8_lossy(&line[..line.len().min(40)]).into_owned();
        return Err(LineError::NotJson(format!(
            "expected an object, got {shown:?}"
        )));
    }
    let raw: RawLine<'_> = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        // A malformed ephemeral line (say, a number as its data) is dropped;
        // it must not end the sync stream it came in.
        Err(e) => match serde_json::from_slice::<EventName<'_>>(line) {
            Ok(EventName { event: Some(name) }) if name == "ephemeral" => {
                return Ok(Some(Event::BadEphemeral(format!(
                    "bad ephemeral line: {e}"
                ))));
            }
            _ => return Err(LineError::NotJson(e.to_string())),
        },
    };
    let event = match raw.event.as_deref() {
        Some("sync") => {
            let data = raw.data.ok_or(LineError::MissingData)?;
            let bytes = BASE64
                .decode(data.as_bytes())
                .map_err(|e| LineError::BadBase64(e.to_string()))?;
            Event::Sync(bytes)
        }
        Some("error") => Event::Error(raw.message.map(Cow::into_owned).unwrap_or_default()),
        Some("ping") => Event::Ping,
        Some("ephemeral") => match raw.data.map(|d| BASE64.decode(d.as_bytes())) {
            None => Event::BadEphemeral("ephemeral line has no \"data\" string".into()),
            Some(Err(e)) => Event::BadEphemeral(format!("ephemeral data is not valid base64: {e}")),
            Some(Ok(data)) => Event::Ephemeral(EphemeralLine {
                data,
                from: raw.from.map(Cow::into_owned),
                name: raw.name.map(Cow::into_owned),
            }),
        },
        other => Event::Other(other.unwrap_or_default().to_owned()),
    };
    Ok(Some(event))
}

fn trim_ascii(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if first.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if last.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    s
}

#[cfg(test)]
mod array_tests {
    use super::*;

    #[test]
    fn a_json_array_is_not_a_line() {
        let err = decode_line(br#"["sync","QgAAAQAAAA=="]"#).unwrap_err();
        assert!(matches!(err, LineError::NotJson(_)), "{err}");
        assert!(decode_line(br#"  {"event":"sync","data":"QgAAAQAAAA=="}"#).is_ok());
    }
}

/// Encodes a sync message as one line, newline included.
pub fn encode_sync(message: &[u8]) -> Bytes {
    let mut out = String::with_capacity(28 + message.len().div_ceil(3) * 4);
    out.push_str(r#"{"event":"sync","data":""#);
    BASE64.encode_string(message, &mut out);
    out.push_str("\"}\n");
    Bytes::from(out)
}

/// Encodes an error line, newline included.
pub fn encode_error(message: &str) -> Bytes {
    let mut out = serde_json::json!({ "event": "error", "message": message }).to_string();
    out.push('\n');
    Bytes::from(out)
}

/// Encodes an ephemeral line (`from` and `name` only when given), newline
/// included.
pub fn encode_ephemeral(data: &[u8], from: Option<&str>, name: Option<&str>) -> Bytes {
    let mut out = String::with_capacity(64 + data.len().div_ceil(3) * 4);
    out.push_str(r#"{"event":"ephemeral","data":""#);
    BASE64.encode_string(data, &mut out);
    out.push('"');
    for (key, value) in [("from", from), ("name", name)] {
        if let Some(value) = value {
            out.push_str(&format!(",\"{key}\":"));
            // Serialising a &str cannot fail.
            out.push_str(&serde_json::to_string(value).unwrap_or_default());
        }
    }
    out.push_str("}\n");
    Bytes::from(out)
}

/// The heartbeat line, newline included.
pub fn encode_ping() -> Bytes {
    Bytes::from_static(b"{\"event\":\"ping\"}\n")
}

/// `{"event":"ready","heads":[…]}\n`: the first line a UI peer gets, with the
/// document's heads as it opened, so the UI can tell an empty document (no
/// sync message ever comes) from one still on its way. Not part of the ndjson
/// sync protocol (the UI's `/_ws` and the desktop's document channel only).
pub fn encode_ready(heads: &[automerge::ChangeHash]) -> Bytes {
    let heads: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    let line = serde_json::json!({ "event": "ready", "heads": heads });
    Bytes::from(format!("{line}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_lines_round_trip() {
        let line = encode_sync(&[0x42, 0, 0, 1, 0, 0, 0]);
        assert_eq!(
            &line[..],
            b"{\"event\":\"sync\",\"data\":\"QgAAAQAAAA==\"}\n"
        );
        assert_eq!(
            decode_line(&line).unwrap(),
            Some(Event::Sync(vec![0x42, 0, 0, 1, 0, 0, 0]))
        );
    }

    #[test]
    fn tolerates_crlf_blank_lines_extra_fields_and_unknown_events() {
        assert_eq!(decode_line(b"\r").unwrap(), None);
        assert_eq!(decode_line(b"").unwrap(), None);
        assert_eq!(
            decode_line(b"{\"event\":\"sync\",\"data\":\"QgAAAQAAAA==\",\"x\":1}\r").unwrap(),
            Some(Event::Sync(vec![0x42, 0, 0, 1, 0, 0, 0]))
        );
        assert_eq!(
            decode_line(b"{\"event\":\"ping\"}").unwrap(),
            Some(Event::Ping)
        );
        assert_eq!(
            decode_line(b"{\"event\":\"presence\"}").unwrap(),
            Some(Event::Other("presence".into()))
        );
        assert_eq!(
            decode_line(&encode_error("boom")).unwrap(),
            Some(Event::Error("boom".into()))
        );
    }

    #[test]
    fn ephemeral_lines_round_trip_and_bad_ones_do_not_end_the_stream() {
        let line = encode_ephemeral(b"hi", Some("c1"), Some("Ada"));
        assert_eq!(
            decode_line(&line).unwrap(),
            Some(Event::Ephemeral(EphemeralLine {
                data: b"hi".to_vec(),
                from: Some("c1".into()),
                name: Some("Ada".into()),
            }))
        );
        assert_eq!(
            &encode_ephemeral(b"hi", None, None)[..],
            b"{\"event\":\"ephemeral\",\"data\":\"aGk=\"}\n"
        );
        assert!(matches!(
            decode_line(b"{\"event\":\"ephemeral\"}"),
            Ok(Some(Event::BadEphemeral(_)))
        ));
        assert!(matches!(
            decode_line(b"{\"event\":\"ephemeral\",\"data\":\"%%\"}"),
            Ok(Some(Event::BadEphemeral(_)))
        ));
        assert!(matches!(
            decode_line(b"{\"event\":\"ephemeral\",\"data\":42}"),
            Ok(Some(Event::BadEphemeral(_)))
        ));
        assert!(matches!(
            decode_line(b"{\"event\":\"sync\",\"data\":42}"),
            Err(LineError::NotJson(_))
        ));
    }

    #[test]
    fn malformed_lines_are_errors_not_panics() {
        assert!(matches!(decode_line(b"null"), Err(LineError::NotJson(_))));
        assert!(matches!(decode_line(b"[1,2]"), Err(LineError::NotJson(_))));
        assert!(matches!(
            decode_line(b"{not json"),
            Err(LineError::NotJson(_))
        ));
        assert_eq!(
            decode_line(b"{\"event\":\"sync\"}"),
            Err(LineError::MissingData)
        );
        assert!(matches!(
            decode_line(b"{\"event\":\"sync\",\"data\":\"***\"}"),
            Err(LineError::BadBase64(_))
        ));
    }
}
