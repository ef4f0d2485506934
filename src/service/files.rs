//! What an in-process UI (the desktop app) does with files and the
//! system: export names, writing an export and reading an import with clear
//! errors, and handing links and folders to the system's default app.

use std::path::Path;

use super::launch::EXTENSION;
use super::{Service, ServiceError};
use crate::doc_id::DocId;

/// A file name for an export: the title without characters file systems
/// refuse, then `.automerge`.
pub fn export_file_name(title: &str) -> String {
    let cleaned: String = title
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let stem = cleaned.trim().trim_matches('.');
    let stem = if stem.is_empty() { "document" } else { stem };
    format!("{stem}.{EXTENSION}")
}

/// Writes an export (`.automerge` bytes of document `id`) to `path`.
pub fn write_export(id: &DocId, bytes: &[u8], path: &Path) -> Result<(), ServiceError> {
    std::fs::write(path, bytes).map_err(|e| {
        ServiceError::Store(crate::store::StoreError::Io {
            op: "write the export",
            path: path.display().to_string(),
            source: e,
        })
    })?;
    tracing::info!(%id, path = %path.display(), "exported a document");
    Ok(())
}

/// Imports the `.automerge` file at `path` as a new document.
pub fn import_from(service: &Service, path: &Path) -> Result<DocId, ServiceError> {
    let bytes = std::fs::read(path).map_err(|e| {
        ServiceError::Store(crate::store::StoreError::Io {
            op: "read the file to import",
            path: path.display().to_string(),
            source: e,
        })
    })?;
    service.import_doc(&bytes)
}

/// Opens a link from a note in the system's default app: only `http`,
/// `https` and `mailto` links (never a file or a program).
pub fn open_external(url: &str) -> Result<(), ServiceError> {
    let parsed =
        url::Url::parse(url).map_err(|e| ServiceError::BadInput(format!("not a link: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https" | "mailto") {
        return Err(ServiceError::BadInput(format!(
            "only web and mail links are opened, not {}:",
            parsed.scheme()
        )));
    }
    open_with_system(parsed.as_str())
}

/// Hands `target` (a link or a folder) to the desktop's default app
/// (`xdg-open`, `open` on macOS) and reaps it when it exits.
pub fn open_with_system(target: impl AsRef<std::ffi::OsStr>) -> Result<(), ServiceError> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = std::process::Command::new(opener)
        .arg(target)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| ServiceError::Unreachable(format!("cannot start {opener}: {e}")))?;
    // No zombie for the app's lifetime.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// The OS user's name (the default display name of this install's profile).
pub fn os_user_name() -> Option<String> {
    ["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_are_safe_file_names() {
        assert_eq!(export_file_name("Shopping list"), "Shopping list.automerge");
        assert_eq!(export_file_name("a/b: c?"), "a_b_ c_.automerge");
        assert_eq!(export_file_name("  ..  "), "document.automerge");
        assert_eq!(export_file_name(""), "document.automerge");
    }

    #[test]
    fn only_web_and_mail_links_are_opened() {
        for bad in ["file:///etc/passwd", "javascript:alert(1)", "not a link"] {
            assert!(
                matches!(open_external(bad), Err(ServiceError::BadInput(_))),
                "{bad}"
            );
        }
    }
}
