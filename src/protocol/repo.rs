//! automerge-repo's wire messages (the protocol `@automerge/automerge-repo`
//! and its WebSocket adapter speak, `docs/automerge-repo.md`): one CBOR map per
//! WebSocket binary frame, with a `type` and the sender's peer id.
//!
//! Only the shape is checked here; what a message means for a document is
//! the business of the drivers (`server::repo_socket`, `client::repo`).

use ciborium::Value;

/// The only protocol version automerge-repo's WebSocket adapter speaks.
pub const PROTOCOL_VERSION: &str = "1";

/// One automerge-repo message.
#[derive(Debug, Clone, PartialEq)]
pub enum RepoMessage {
    /// Client → server: the first message, naming the client's peer id.
    Join {
        /// The client's peer id.
        sender_id: String,
        /// Protocol versions the client speaks (absent means `"1"`).
        supported_versions: Option<Vec<String>>,
    },
    /// Server → client: the answer to `join`.
    Peer {
        /// The server's peer id.
        sender_id: String,
        /// The client's peer id.
        target_id: String,
        /// The version both speak.
        selected_version: String,
    },
    /// The peer is going away.
    Leave {
        /// The peer's id.
        sender_id: String,
    },
    /// Server → client: why the server is closing the connection.
    Error {
        /// The server's peer id.
        sender_id: String,
        /// The client's peer id, when known.
        target_id: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// An Automerge sync message for a document (`request` when the sender
    /// does not have the document yet and asks for it).
    Sync {
        /// `true` for a `request`, `false` for a `sync`.
        request: bool,
        /// The sender's peer id.
        sender_id: String,
        /// The receiver's peer id.
        target_id: String,
        /// The bs58check document id (no `automerge:` prefix).
        document_id: String,
        /// The encoded Automerge sync message.
        data: Vec<u8>,
    },
    /// The sender does not have the document (and knows nobody who has).
    DocUnavailable {
        /// The sender's peer id.
        sender_id: String,
        /// The receiver's peer id.
        target_id: String,
        /// The document asked for.
        document_id: String,
    },
    /// A message about a document that is never stored (presence, cursors).
    Ephemeral {
        /// The sender's peer id.
        sender_id: String,
        /// The receiver's peer id.
        target_id: String,
        /// The document it is about.
        document_id: String,
        /// The sending session (with `count`, stops gossip loops).
        session_id: String,
        /// A counter per session.
        count: u64,
        /// The application's payload (itself CBOR, opaque here).
        data: Vec<u8>,
    },
    /// Remote-heads gossip (`remote-subscription-change`,
    /// `remote-heads-changed`): understood, not acted upon (Tandem does not
    /// gossip other peers' heads).
    RemoteHeads {
        /// Which of the two it was.
        kind: String,
        /// The sender's peer id.
        sender_id: String,
    },
}

/// Why a frame is not an automerge-repo message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RepoDecodeError {
    /// The bytes are not CBOR.
    #[error("the message is not CBOR: {0}")]
    NotCbor(String),
    /// The CBOR is not a map.
    #[error("the message is not a CBOR map")]
    NotAMap,
    /// A field is missing or has the wrong type.
    #[error("the message has no valid {0:?} field")]
    Field(&'static str),
    /// The `type` is not one automerge-repo defines.
    #[error("unknown message type {0:?}")]
    UnknownType(String),
}

/// A decoded CBOR map, looked up by text key.
struct Fields(Vec<(Value, Value)>);

impl Fields {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0
            .iter()
            .find(|(k, _)| k.as_text() == Some(key))
            .map(|(_, v)| v)
    }

    fn text(&self, key: &'static str) -> Result<String, RepoDecodeError> {
        self.opt_text(key)?.ok_or(RepoDecodeError::Field(key))
    }

    fn opt_text(&self, key: &'static str) -> Result<Option<String>, RepoDecodeError> {
        match self.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Text(s)) => Ok(Some(s.clone())),
            Some(_) => Err(RepoDecodeError::Field(key)),
        }
    }

    fn bytes(&self, key: &'static str) -> Result<Vec<u8>, RepoDecodeError> {
        match self.get(key) {
            Some(Value::Bytes(b)) => Ok(b.clone()),
            // A typed-array tag (cbor-x's default when not told otherwise).
            Some(Value::Tag(64, inner)) => match inner.as_ref() {
                Value::Bytes(b) => Ok(b.clone()),
                _ => Err(RepoDecodeError::Field(key)),
            },
            _ => Err(RepoDecodeError::Field(key)),
        }
    }

    fn count(&self, key: &'static str) -> Result<u64, RepoDecodeError> {
        match self.get(key) {
            Some(Value::Integer(i)) => u64::try_from(*i).map_err(|_| RepoDecodeError::Field(key)),
            Some(Value::Float(f)) if *f >= 0.0 && f.fract() == 0.0 => Ok(*f as u64),
            _ => Err(RepoDecodeError::Field(key)),
        }
    }
}

impl RepoMessage {
    /// Decodes one frame.
    pub fn decode(bytes: &[u8]) -> Result<Self, RepoDecodeError> {
        let value: Value = ciborium::de::from_reader(bytes)
            .map_err(|e| RepoDecodeError::NotCbor(e.to_string()))?;
        let Value::Map(map) = value else {
            return Err(RepoDecodeError::NotAMap);
        };
        let f = Fields(map);
        let kind = f.text("type")?;
        let sender_id = f.text("senderId")?;
        Ok(match kind.as_str() {
            "join" => Self::Join {
                sender_id,
                supported_versions: match f.get("supportedProtocolVersions") {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) => Some(
                        items
                            .iter()
                            .filter_map(|v| v.as_text().map(str::to_owned))
                            .collect(),
                    ),
                    Some(_) => return Err(RepoDecodeError::Field("supportedProtocolVersions")),
                },
            },
            "peer" => Self::Peer {
                sender_id,
                target_id: f.opt_text("targetId")?.unwrap_or_default(),
                selected_version: f
                    .opt_text("selectedProtocolVersion")?
                    .unwrap_or_else(|| PROTOCOL_VERSION.to_owned()),
            },
            "leave" => Self::Leave { sender_id },
            "error" => Self::Error {
                sender_id,
                target_id: f.opt_text("targetId")?,
                message: f.opt_text("message")?.unwrap_or_default(),
            },
            "sync" | "request" => Self::Sync {
                request: kind == "request",
                sender_id,
                target_id: f.text("targetId")?,
                document_id: f.text("documentId")?,
                data: f.bytes("data")?,
            },
            "doc-unavailable" => Self::DocUnavailable {
                sender_id,
                target_id: f.text("targetId")?,
                document_id: f.text("documentId")?,
            },
            "ephemeral" => Self::Ephemeral {
                sender_id,
                target_id: f.text("targetId")?,
                document_id: f.text("documentId")?,
                session_id: f.text("sessionId")?,
                count: f.count("count")?,
                data: f.bytes("data")?,
            },
            "remote-subscription-change" | "remote-heads-changed" => {
                Self::RemoteHeads { kind, sender_id }
            }
            _ => return Err(RepoDecodeError::UnknownType(kind)),
        })
    }

    /// Encodes the message as automerge-repo does (a CBOR map with text keys,
    /// byte strings untagged).
    pub fn encode(&self) -> Vec<u8> {
        let text = |s: &str| Value::Text(s.to_owned());
        let mut map: Vec<(&str, Value)> = Vec::new();
        match self {
            Self::Join {
                sender_id,
                supported_versions,
            } => {
                map.push(("type", text("join")));
                map.push(("senderId", text(sender_id)));
                map.push((
                    "peerMetadata",
                    Value::Map(vec![(text("isEphemeral"), Value::Bool(true))]),
                ));
                let versions = supported_versions
                    .clone()
                    .unwrap_or_else(|| vec![PROTOCOL_VERSION.to_owned()]);
                map.push((
                    "supportedProtocolVersions",
                    Value::Array(versions.iter().map(|v| text(v)).collect()),
                ));
            }
            Self::Peer {
                sender_id,
                target_id,
                selected_version,
            } => {
                map.push(("type", text("peer")));
                map.push(("senderId", text(sender_id)));
                map.push((
                    "peerMetadata",
                    Value::Map(vec![(text("isEphemeral"), Value::Bool(false))]),
                ));
                map.push(("selectedProtocolVersion", text(selected_version)));
                map.push(("targetId", text(target_id)));
            }
            Self::Leave { sender_id } => {
                map.push(("type", text("leave")));
                map.push(("senderId", text(sender_id)));
            }
            Self::Error {
                sender_id,
                target_id,
                message,
            } => {
                map.push(("type", text("error")));
                map.push(("senderId", text(sender_id)));
                map.push(("message", text(message)));
                if let Some(target) = target_id {
                    map.push(("targetId", text(target)));
                }
            }
            Self::Sync {
                request,
                sender_id,
                target_id,
                document_id,
                data,
            } => {
                map.push(("type", text(if *request { "request" } else { "sync" })));
                map.push(("senderId", text(sender_id)));
                map.push(("targetId", text(target_id)));
                map.push(("documentId", text(document_id)));
                map.push(("data", Value::Bytes(data.clone())));
            }
            Self::DocUnavailable {
                sender_id,
                target_id,
                document_id,
            } => {
                map.push(("type", text("doc-unavailable")));
                map.push(("senderId", text(sender_id)));
                map.push(("targetId", text(target_id)));
                map.push(("documentId", text(document_id)));
            }
            Self::Ephemeral {
                sender_id,
                target_id,
                document_id,
                session_id,
                count,
                data,
            } => {
                map.push(("type", text("ephemeral")));
                map.push(("senderId", text(sender_id)));
                map.push(("targetId", text(target_id)));
                map.push(("documentId", text(document_id)));
                map.push(("sessionId", text(session_id)));
                map.push(("count", Value::Integer((*count).into())));
                map.push(("data", Value::Bytes(data.clone())));
            }
            Self::RemoteHeads { kind, sender_id } => {
                map.push(("type", text(kind)));
                map.push(("senderId", text(sender_id)));
            }
        }
        let value = Value::Map(map.into_iter().map(|(k, v)| (text(k), v)).collect());
        let mut out = Vec::new();
        // Writing into a Vec cannot fail.
        let _ = ciborium::ser::into_writer(&value, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_survives_a_round_trip() {
        let messages = [
            RepoMessage::Join {
                sender_id: "c".into(),
                supported_versions: Some(vec!["1".into()]),
            },
            RepoMessage::Peer {
                sender_id: "s".into(),
                target_id: "c".into(),
                selected_version: "1".into(),
            },
            RepoMessage::Leave {
                sender_id: "c".into(),
            },
            RepoMessage::Error {
                sender_id: "s".into(),
                target_id: Some("c".into()),
                message: "no".into(),
            },
            RepoMessage::Sync {
                request: true,
                sender_id: "c".into(),
                target_id: "s".into(),
                document_id: "4NMNnkMhL8jXrdJ9jamS58PAVdXu".into(),
                data: vec![0x42, 1, 2],
            },
            RepoMessage::DocUnavailable {
                sender_id: "s".into(),
                target_id: "c".into(),
                document_id: "d".into(),
            },
            RepoMessage::Ephemeral {
                sender_id: "c".into(),
                target_id: "s".into(),
                document_id: "d".into(),
                session_id: "x".into(),
                count: 7,
                data: vec![0xa0],
            },
        ];
        for m in messages {
            assert_eq!(RepoMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn bad_frames_say_what_is_wrong() {
        assert!(matches!(
            RepoMessage::decode(b"{\"type\":\"sync\"}"),
            Err(RepoDecodeError::NotCbor(_) | RepoDecodeError::NotAMap)
        ));
        let encode = |v: Value| {
            let mut out = Vec::new();
            ciborium::ser::into_writer(&v, &mut out).unwrap();
            out
        };
        assert_eq!(
            RepoMessage::decode(&encode(Value::Integer(3.into()))),
            Err(RepoDecodeError::NotAMap)
        );
        let map = |pairs: &[(&str, &str)]| {
            Value::Map(
                pairs
                    .iter()
                    .map(|(k, v)| (Value::Text((*k).into()), Value::Text((*v).into())))
                    .collect(),
            )
        };
        assert_eq!(
            RepoMessage::decode(&encode(map(&[("type", "shout"), ("senderId", "c")]))),
            Err(RepoDecodeError::UnknownType("shout".into()))
        );
        assert_eq!(
            RepoMessage::decode(&encode(map(&[
                ("type", "sync"),
                ("senderId", "c"),
                ("targetId", "s"),
                ("documentId", "d"),
                ("data", "not bytes"),
            ]))),
            Err(RepoDecodeError::Field("data"))
        );
    }
}
