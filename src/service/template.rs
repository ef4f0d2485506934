//! The note template new documents start from: `{ title: Text, body: Text }`.

use automerge::transaction::{Transactable, Transaction};
use automerge::{AutomergeError, ObjType, ROOT};

/// Fills an empty document with the note template.
pub(super) fn note(tx: &mut Transaction<'_>, title: &str) -> Result<(), AutomergeError> {
    let title_obj = tx.put_object(ROOT, "title", ObjType::Text)?;
    tx.splice_text(&title_obj, 0, 0, title)?;
    tx.put_object(ROOT, "body", ObjType::Text)?;
    Ok(())
}
