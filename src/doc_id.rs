//! Document identifiers: the `{doc_id}` of `PUT /{doc_id}`.
//!
//! An ID is 1–256 bytes of `A–Z a–z 0–9 - _ . ~ :` and may not start with `_` or
//! `.` (PROTOCOL.md §1). Validation happens once, when the newtype is built, so
//! nothing that holds a [`DocId`] can reach the disk with a path-traversal name.
//!
//! Documents made here get ids in automerge-repo's form (the bs58check
//! encoding of 16 random bytes), so each of them also has an `automerge:` URL
//! ([`DocId::automerge_url`]) and is reachable by automerge-repo clients
//! (`docs/automerge-repo.md`). Other ids stay valid for ndjson sync only.

use std::fmt;
use std::str::FromStr;

/// The longest document ID accepted, in bytes.
pub const MAX_DOC_ID_LEN: usize = 256;

/// A validated document ID.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ts_rs::TS)]
#[ts(type = "string")]
pub struct DocId(String);

/// Why a string is not a valid [`DocId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DocIdError {
    /// The ID is empty.
    #[error("document id is empty")]
    Empty,
    /// The ID is longer than [`MAX_DOC_ID_LEN`] bytes.
    #[error("document id is {0} bytes long; the limit is {MAX_DOC_ID_LEN}")]
    TooLong(usize),
    /// The ID starts with `_` or `.` (reserved for the server's own paths and hidden names).
    #[error("document id may not start with {0:?}")]
    ReservedPrefix(char),
    /// The ID contains a character outside `A–Z a–z 0–9 - _ . ~ :`.
    #[error("document id contains {0:?}; allowed are A-Z a-z 0-9 - _ . ~ :")]
    BadChar(char),
}

impl DocId {
    /// Checks `s` and wraps it.
    pub fn parse(s: &str) -> Result<Self, DocIdError> {
        if s.is_empty() {
            return Err(DocIdError::Empty);
        }
        if s.len() > MAX_DOC_ID_LEN {
            return Err(DocIdError::TooLong(s.len()));
        }
        if let Some(c @ ('_' | '.')) = s.chars().next() {
            return Err(DocIdError::ReservedPrefix(c));
        }
        if let Some(c) = s.chars().find(|c| !is_id_char(*c)) {
            return Err(DocIdError::BadChar(c));
        }
        Ok(Self(s.to_owned()))
    }

    /// A fresh random ID for documents made here: 16 random bytes in
    /// automerge-repo's bs58check form, so the document also has an
    /// `automerge:` URL.
    pub fn random() -> Self {
        let bytes: [u8; REPO_ID_BYTES] = rand::random();
        Self(bs58::encode(bytes).with_check().into_string())
    }

    /// Whether automerge-repo accepts this ID as a document id (bs58check of
    /// 16 bytes). Other IDs are reachable over ndjson only.
    pub fn is_repo_id(&self) -> bool {
        is_repo_id(&self.0)
    }

    /// The document's automerge-repo URL (`automerge:<id>`), when the ID is
    /// one automerge-repo accepts.
    pub fn automerge_url(&self) -> Option<String> {
        self.is_repo_id()
            .then(|| format!("{AUTOMERGE_URL_PREFIX}{}", self.0))
    }

    /// The ID as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The prefix of an automerge-repo document URL.
pub const AUTOMERGE_URL_PREFIX: &str = "automerge:";

/// How many bytes an automerge-repo document id encodes.
const REPO_ID_BYTES: usize = 16;

/// Whether `s` is an automerge-repo document id: the bs58check encoding of
/// 16 bytes.
pub fn is_repo_id(s: &str) -> bool {
    bs58::decode(s)
        .with_check(None)
        .into_vec()
        .is_ok_and(|bytes| bytes.len() == REPO_ID_BYTES)
}

fn is_id_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~' | ':')
}

impl FromStr for DocId {
    type Err = DocIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl serde::Serialize for DocId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for DocId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl AsRef<str> for DocId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_alphabet() {
        for ok in ["example", "a", "A-Z_a.z~0:9", &"x".repeat(256)] {
            assert_eq!(DocId::parse(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_traversal_reserved_and_odd_names() {
        assert_eq!(DocId::parse(""), Err(DocIdError::Empty));
        assert_eq!(DocId::parse(".."), Err(DocIdError::ReservedPrefix('.')));
        assert_eq!(DocId::parse("_docs"), Err(DocIdError::ReservedPrefix('_')));
        assert_eq!(DocId::parse("a/b"), Err(DocIdError::BadChar('/')));
        assert_eq!(DocId::parse("a\\b"), Err(DocIdError::BadChar('\\')));
        assert_eq!(DocId::parse("a\nb"), Err(DocIdError::BadChar('\n')));
        assert_eq!(DocId::parse("a\0"), Err(DocIdError::BadChar('\0')));
        assert_eq!(DocId::parse("é"), Err(DocIdError::BadChar('é')));
        assert_eq!(
            DocId::parse(&"x".repeat(257)),
            Err(DocIdError::TooLong(257))
        );
        assert!(
            DocId::parse("a..b").is_ok(),
            "dots inside are harmless: no slash"
        );
    }

    #[test]
    fn random_ids_are_valid_and_distinct() {
        let a = DocId::random();
        let b = DocId::random();
        assert_ne!(a, b);
        assert_eq!(DocId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn new_ids_have_an_automerge_url_and_old_ones_do_not() {
        let id = DocId::random();
        assert!(id.is_repo_id());
        assert_eq!(
            id.automerge_url().unwrap(),
            format!("automerge:{}", id.as_str())
        );
        // An id minted by automerge-repo itself (its README's example form).
        assert!(is_repo_id("4NMNnkMhL8jXrdJ9jamS58PAVdXu"));
        for other in ["notes", "4NMNnkMhL8jXrdJ9jamS58PAVdXv", "2j9knpCs"] {
            assert!(!DocId::parse(other).unwrap().is_repo_id(), "{other}");
            assert_eq!(DocId::parse(other).unwrap().automerge_url(), None);
        }
    }
}
