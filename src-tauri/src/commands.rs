//! The commands the UI invokes (see `ui/src/backend/tauri.ts`). Each one
//! parses its arguments and delegates to the core; errors reach the UI as
//! [`CommandError`]s. Tauri maps the snake_case arguments to camelCase keys.

use serde::Serialize;
use tandem::discovery::peers::PeerInfo;
use tandem::history::{self, Conflict};
use tandem::service::{DocListing, HistoryEdit, RemoteInfo, RemoteSpec, ServiceError, Timeline};
use tandem::share::SharePolicy;
use tandem::DocId;
use tauri::ipc::{Channel, Response};
use tauri::State;

use crate::error::{Code, CommandError};
use crate::sessions::Handle;
use crate::state::Desktop;

type Result<T> = std::result::Result<T, CommandError>;

/// The answer to `create_doc` and `import_doc`.
#[derive(Debug, Serialize)]
pub struct Created {
    /// The new document's ID.
    pub id: DocId,
}

/// The answer to `health`, as `GET /_health` gives it.
#[derive(Debug, Serialize)]
pub struct Health {
    /// Always `true`.
    pub ok: bool,
    /// Tandem's version.
    pub version: &'static str,
    /// The embedded sync server's URL (or why it is not running).
    pub listen: String,
    /// Where the documents are kept.
    pub data_dir: String,
}

/// Every stored document, with its share policy.
#[tauri::command]
pub async fn list_docs(app: State<'_, Desktop>) -> Result<Vec<DocListing>> {
    Ok(app.service.list_docs()?)
}

/// A new document from the note template.
#[tauri::command]
pub async fn create_doc(app: State<'_, Desktop>, title: String) -> Result<Created> {
    let id = app.service.create_doc(&title)?;
    Ok(Created { id })
}

/// What happened to each remote copy when a document was deleted everywhere.
#[derive(Debug, serde::Serialize)]
pub struct RemoteDeletion {
    /// The remote document's URL.
    pub url: String,
    /// Whether the server deleted it.
    pub deleted: bool,
    /// Why not, when it did not.
    pub error: Option<String>,
}

/// Deletes a document here (leaving a tombstone so no peer brings it back);
/// with `everywhere`, also on every server it syncs with.
#[tauri::command]
pub async fn delete_doc(
    app: State<'_, Desktop>,
    id: String,
    everywhere: Option<bool>,
) -> Result<Vec<RemoteDeletion>> {
    let id = DocId::parse(&id)?;
    if !everywhere.unwrap_or(false) {
        app.service.delete_doc(&id)?;
        return Ok(Vec::new());
    }
    let outcomes = app.service.delete_doc_everywhere(&id).await?;
    Ok(outcomes
        .into_iter()
        .map(|(url, result)| RemoteDeletion {
            url,
            deleted: result.is_ok(),
            error: result.err(),
        })
        .collect())
}

/// Sets who may see and sync a document over the embedded server
/// (`private`, `lan` or `link`), like `PUT /_docs/{id}/share`.
#[tauri::command]
pub async fn set_share(app: State<'_, Desktop>, id: String, policy: String) -> Result<()> {
    let policy: SharePolicy = policy
        .parse()
        .map_err(|e: String| CommandError::new(Code::BadInput, e))?;
    Ok(app.service.set_share_policy(&DocId::parse(&id)?, policy)?)
}

/// The document as `.automerge` bytes (an `ArrayBuffer` in the UI).
#[tauri::command]
pub async fn export_doc(app: State<'_, Desktop>, id: String) -> Result<Response> {
    let bytes = app.service.export_doc(&DocId::parse(&id)?)?;
    Ok(Response::new(bytes))
}

/// `.automerge` bytes become a new document.
#[tauri::command]
pub async fn import_doc(app: State<'_, Desktop>, bytes: Vec<u8>) -> Result<Created> {
    let id = app.service.import_doc(&bytes)?;
    Ok(Created { id })
}

/// Starts the UI peer's sync session for a document: the document's
/// protocol lines arrive on `channel`, one per message, and the UI's go
/// through [`send_sync`]. Replaces an earlier session for the same document.
/// Returns the session's handle, for [`close_doc_channel`].
#[tauri::command]
pub async fn open_doc_channel(
    app: State<'_, Desktop>,
    id: String,
    channel: Channel<String>,
) -> Result<Handle> {
    app.sessions.open(&app.service, DocId::parse(&id)?, channel)
}

/// One of the UI peer's protocol lines, for the document's open session.
/// Synchronous on purpose: such commands run in the order they are invoked.
#[tauri::command]
pub fn send_sync(app: State<'_, Desktop>, id: String, line: String) -> Result<()> {
    app.sessions.send(&DocId::parse(&id)?, line)
}

/// Ends a document's sync session (only session `handle`, when given, so a
/// late close cannot end a newer session). Closing nothing is not an error.
#[tauri::command]
pub fn close_doc_channel(
    app: State<'_, Desktop>,
    id: String,
    handle: Option<Handle>,
) -> Result<()> {
    app.sessions.close(&DocId::parse(&id)?, handle);
    Ok(())
}

/// Every remote and its state.
#[tauri::command]
pub async fn list_remotes(app: State<'_, Desktop>) -> Result<Vec<RemoteInfo>> {
    Ok(app.service.remotes())
}

/// Starts syncing a document with a remote server (`doc_id: null` makes a
/// local copy of the server's document). The answer carries `id` and `doc_id`.
#[tauri::command]
pub async fn add_remote(
    app: State<'_, Desktop>,
    url: String,
    doc_id: Option<String>,
    token: Option<String>,
    fingerprint: Option<String>,
    trust: Option<bool>,
    wait: Option<bool>,
) -> Result<RemoteInfo> {
    let spec = RemoteSpec {
        url,
        doc_id: doc_id.as_deref().map(DocId::parse).transpose()?,
        token,
        fingerprint,
        trust: trust.unwrap_or(false),
        ..RemoteSpec::default()
    };
    if wait.unwrap_or(false) {
        return Ok(app.service.add_remote_checked(spec).await?);
    }
    Ok(app.service.add_remote(spec)?)
}

/// Opens a link from a note in the system's default app: only `http`,
/// `https` and `mailto` links (never a file or a program).
#[tauri::command]
pub async fn open_external(url: String) -> Result<()> {
    let parsed = url::Url::parse(&url)
        .map_err(|e| tandem::service::ServiceError::BadInput(format!("not a link: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https" | "mailto") {
        return Err(tandem::service::ServiceError::BadInput(format!(
            "only web and mail links are opened, not {}:",
            parsed.scheme()
        ))
        .into());
    }
    open_with_system(parsed.as_str())
}

/// Hands `target` (a link or a folder) to the desktop's default app
/// (`xdg-open`, `open` on macOS) and reaps it when it exits.
fn open_with_system(target: impl AsRef<std::ffi::OsStr>) -> Result<()> {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else {
        "xdg-open"
    };
    let mut child = std::process::Command::new(opener)
        .arg(target)
        .stdin(std::process::Stdio::null())
        .spawn()
        .map_err(|e| {
            tandem::service::ServiceError::Unreachable(format!("cannot start {opener}: {e}"))
        })?;
    // No zombie for the app's lifetime.
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Every connection in and out, and each open document's recent activity.
#[tauri::command]
pub async fn activity(app: State<'_, Desktop>) -> Result<tandem::service::ActivityReport> {
    Ok(app.service.activity())
}

/// Searches the text of every document.
#[tauri::command]
pub async fn search_docs(
    app: State<'_, Desktop>,
    query: String,
) -> Result<tandem::service::search::SearchResults> {
    let service = app.service.clone();
    let found = tauri::async_runtime::spawn_blocking(move || service.search(&query))
        .await
        .map_err(|e| {
            tandem::service::ServiceError::Unreachable(format!("the search stopped: {e}"))
        })??;
    Ok(found)
}

/// Connects a remote again now.
#[tauri::command]
pub async fn retry_remote(app: State<'_, Desktop>, id: String) -> Result<RemoteInfo> {
    Ok(app.service.retry_remote(&id)?)
}

/// Gives a remote a new token or pinned certificate, and connects again.
#[tauri::command]
pub async fn update_remote(
    app: State<'_, Desktop>,
    id: String,
    token: Option<String>,
    fingerprint: Option<String>,
) -> Result<RemoteInfo> {
    let update = tandem::service::RemoteUpdate { token, fingerprint };
    Ok(app.service.update_remote(&id, update)?)
}

/// Stops and forgets a remote.
#[tauri::command]
pub async fn remove_remote(app: State<'_, Desktop>, id: String) -> Result<()> {
    Ok(app.service.remove_remote(&id)?)
}

/// Whether the app is on the LAN now, and who it is there.
#[tauri::command]
pub async fn lan_status(app: State<'_, Desktop>) -> Result<crate::lan::LanStatus> {
    Ok(app.lan.status().await)
}

/// Changes LAN settings: presence even with nothing shared, mDNS discovery,
/// the name peers see.
#[tauri::command]
pub async fn set_lan_settings(
    app: State<'_, Desktop>,
    settings: crate::lan::LanSettings,
) -> Result<crate::lan::LanStatus> {
    Ok(app.lan.configure(settings).await?)
}

/// LAN peers, discovered now or remembered (none while discovery is off).
#[tauri::command]
pub async fn list_peers(app: State<'_, Desktop>) -> Result<Vec<PeerInfo>> {
    Ok(app.service.peers())
}

/// The documents a LAN peer shares, fetched from it (its `GET /_docs`).
#[tauri::command]
pub async fn peer_docs(app: State<'_, Desktop>, id: String) -> Result<serde_json::Value> {
    Ok(app.service.peer_docs(&id).await?)
}

/// Opens a LAN peer's shared document: a local copy kept in live sync.
#[tauri::command]
pub async fn open_peer_doc(
    app: State<'_, Desktop>,
    id: String,
    doc_id: String,
) -> Result<RemoteInfo> {
    Ok(app.service.open_peer_doc(&id, &DocId::parse(&doc_id)?)?)
}

/// Records that the user compared and confirmed a peer's verification code.
#[tauri::command]
pub async fn verify_peer(app: State<'_, Desktop>, id: String) -> Result<PeerInfo> {
    Ok(app.service.verify_peer(&id)?)
}

/// Forgets a peer's pinned certificate (after a legitimate change).
#[tauri::command]
pub async fn forget_peer(app: State<'_, Desktop>, id: String) -> Result<()> {
    Ok(app.service.forget_peer(&id)?)
}

/// Liveness, version and where the embedded server listens.
#[tauri::command]
pub async fn health(app: State<'_, Desktop>) -> Result<Health> {
    Ok(Health {
        ok: true,
        version: tandem::VERSION,
        listen: app.listen.clone(),
        data_dir: app.data_dir.display().to_string(),
    })
}

/// The OS user's name (the default display name of this install's profile).
#[tauri::command]
pub async fn os_user_name() -> Result<Option<String>> {
    Ok(["USER", "USERNAME", "LOGNAME"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty())))
}

/// Opens the data folder in the system's file manager.
#[tauri::command]
pub async fn open_data_folder(app: State<'_, Desktop>) -> Result<()> {
    open_with_system(&app.data_dir)
}

/// The timeline of a document (edit bursts, authors, times, paths).
#[tauri::command]
pub async fn doc_history(app: State<'_, Desktop>, id: String) -> Result<Timeline> {
    Ok(app.service.history(&DocId::parse(&id)?)?)
}

/// The keys of a document holding concurrent values.
#[tauri::command]
pub async fn doc_conflicts(app: State<'_, Desktop>, id: String) -> Result<Vec<Conflict>> {
    Ok(app.service.conflicts(&DocId::parse(&id)?)?)
}

/// Restores the document (or the field at `path`) as it was at `heads`, as a new change.
#[tauri::command]
pub async fn restore_version(
    app: State<'_, Desktop>,
    id: String,
    heads: String,
    path: Option<serde_json::Value>,
) -> Result<HistoryEdit> {
    let path = match path {
        Some(p) => history::path_from_json(&p).map_err(ServiceError::from)?,
        None => Vec::new(),
    };
    Ok(app.service.restore(&DocId::parse(&id)?, &heads, &path)?)
}

/// Keeps one value of the conflict at `path` (its operation id `choice`), as a new change.
#[tauri::command]
pub async fn resolve_conflict(
    app: State<'_, Desktop>,
    id: String,
    path: serde_json::Value,
    choice: String,
) -> Result<HistoryEdit> {
    let path = history::path_from_json(&path).map_err(ServiceError::from)?;
    Ok(app.service.resolve(&DocId::parse(&id)?, &path, &choice)?)
}

/// The document as JSON as it was at `heads` (comma-separated change hashes).
#[tauri::command]
pub async fn doc_at(
    app: State<'_, Desktop>,
    id: String,
    heads: String,
) -> Result<serde_json::Value> {
    Ok(app.service.doc_at(&DocId::parse(&id)?, &heads)?)
}

/// What changed between two versions (Automerge's patches).
#[tauri::command]
pub async fn doc_diff(
    app: State<'_, Desktop>,
    id: String,
    from: String,
    to: String,
) -> Result<Vec<history::DiffEntry>> {
    Ok(app.service.diff(&DocId::parse(&id)?, &from, Some(&to))?)
}
