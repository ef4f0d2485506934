//! The one error type commands return. The UI receives it as
//! `{"code": "...", "message": "..."}` (its `BackendError` reads `message`).

use serde::Serialize;
use tandem::doc_id::DocIdError;
use tandem::service::ServiceError;

/// A failed command, as the UI sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    /// A short machine-readable code: the core's (`not-found`, `bad-input`,
    /// `bad-document`, `storage`, `remote`) or the shell's own (`not-open`).
    pub code: &'static str,
    /// A one-line, human-readable explanation.
    pub message: String,
}

impl CommandError {
    /// An error with `code` and `message`.
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl From<ServiceError> for CommandError {
    fn from(e: ServiceError) -> Self {
        Self::new(e.code(), e.to_string())
    }
}

impl From<tandem::store::StoreError> for CommandError {
    fn from(e: tandem::store::StoreError) -> Self {
        Self::new("storage", e.to_string())
    }
}

impl From<DocIdError> for CommandError {
    fn from(e: DocIdError) -> Self {
        Self::new("bad-input", e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let e = CommandError::from(ServiceError::NotFound("no document x".into()));
        let json = serde_json::to_value(&e).expect("serializes");
        assert_eq!(
            json,
            serde_json::json!({"code": "not-found", "message": "no document x"})
        );
    }

    #[test]
    fn bad_doc_ids_are_bad_input() {
        let e: CommandError = tandem::DocId::parse("_x").expect_err("reserved").into();
        assert_eq!(e.code, "bad-input");
    }
}
