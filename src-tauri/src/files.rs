//! Export and import through the system's save and open dialogs. The
//! dialogs run here, not in the UI, so the webview can only ever write or
//! read a file the user picked (it never sends a path). The commands answer
//! the path used, for the UI to say where the file went, or nothing when the
//! user cancelled.
//!
//! Tests cannot click native dialogs: debug builds take the path from
//! `TANDEM_E2E_SAVE_PATH` / `TANDEM_E2E_OPEN_PATH` instead when set (release
//! builds ignore both).

use std::path::PathBuf;

use tandem::error_code::{Code, ErrorBody as CommandError};
use tandem::node::desktop::Desktop;
use tandem::service::answers::ImportedFile;
use tandem::service::files::{export_file_name, import_from, write_export};
use tandem::service::launch::EXTENSION;
use tandem::DocId;
use tauri::{AppHandle, Runtime, State};
use tauri_plugin_dialog::{DialogExt, FilePath};

/// Debug builds: export here instead of asking.
pub const E2E_SAVE_PATH_ENV: &str = "TANDEM_E2E_SAVE_PATH";
/// Debug builds: import this file instead of asking.
pub const E2E_OPEN_PATH_ENV: &str = "TANDEM_E2E_OPEN_PATH";

type Result<T> = std::result::Result<T, CommandError>;

/// Which dialog to show.
#[derive(Debug, Clone, Copy)]
enum Ask {
    Save,
    Open,
}

/// The test override of a dialog, in debug builds only.
fn injected(ask: Ask) -> Option<PathBuf> {
    if !cfg!(debug_assertions) {
        return None;
    }
    let var = match ask {
        Ask::Save => E2E_SAVE_PATH_ENV,
        Ask::Open => E2E_OPEN_PATH_ENV,
    };
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// Shows the dialog and waits for the user's choice (`None`: cancelled).
async fn choose<R: Runtime>(
    app: &AppHandle<R>,
    ask: Ask,
    file_name: &str,
) -> Result<Option<PathBuf>> {
    if let Some(path) = injected(ask) {
        return Ok(Some(path));
    }
    let (tx, rx) = tokio::sync::oneshot::channel::<Option<FilePath>>();
    let dialog = app
        .dialog()
        .file()
        .add_filter("Automerge document", &[EXTENSION]);
    let reply = move |p: Option<FilePath>| {
        let _ = tx.send(p);
    };
    match ask {
        Ask::Save => dialog
            .set_title("Export document")
            .set_file_name(file_name)
            .save_file(reply),
        Ask::Open => dialog.set_title("Import a document").pick_file(reply),
    }
    let chosen = rx
        .await
        .map_err(|_| CommandError::new(Code::Dialog, "the file dialog closed without an answer"))?;
    chosen
        .map(|p| {
            p.into_path()
                .map_err(|e| CommandError::new(Code::Dialog, format!("not a local file: {e}")))
        })
        .transpose()
}

/// Asks where to save document `id` (suggesting `title`.automerge) and
/// writes it there; the path written, or `None` when the user cancelled.
#[tauri::command]
pub async fn export_doc_to_file<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
    id: String,
    title: String,
) -> Result<Option<String>> {
    let id = DocId::parse(&id)?;
    let bytes = desktop.service.export_doc(&id)?;
    let Some(path) = choose(&app, Ask::Save, &export_file_name(&title)).await? else {
        return Ok(None);
    };
    write_export(&id, &bytes, &path)?;
    Ok(Some(path.display().to_string()))
}

/// Asks which `.automerge` file to import and imports it as a new
/// document; `None` when the user cancelled.
#[tauri::command]
pub async fn import_doc_from_file<R: Runtime>(
    app: AppHandle<R>,
    desktop: State<'_, Desktop>,
) -> Result<Option<ImportedFile>> {
    let Some(path) = choose(&app, Ask::Open, "").await? else {
        return Ok(None);
    };
    let id = import_from(&desktop.service, &path)?;
    Ok(Some(ImportedFile {
        id,
        path: path.display().to_string(),
    }))
}
