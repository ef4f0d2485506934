//! Small answers of the UI's operations that are not domain types of their
//! own: what the desktop commands (and their TypeScript callers) receive.

use serde::Serialize;

use crate::DocId;

/// The answer to creating or importing a document.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The new document's ID.
    pub id: DocId,
}

/// The answer to importing a document from a file the user picked.
#[derive(Debug, Serialize)]
pub struct ImportedFile {
    /// The new document's ID.
    pub id: DocId,
    /// The file it came from.
    pub path: String,
}

/// What happened to one remote copy when a document was deleted everywhere.
#[derive(Debug, Serialize)]
pub struct RemoteDeletion {
    /// The remote document's URL.
    pub url: String,
    /// Whether the server deleted it.
    pub deleted: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
}

impl RemoteDeletion {
    /// One outcome of [`super::Service::delete_doc_everywhere`].
    pub fn new(url: String, result: Result<(), String>) -> Self {
        Self {
            url,
            deleted: result.is_ok(),
            error: result.err(),
        }
    }
}
